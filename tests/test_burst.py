"""Burst exposures: frames, gaps and stacking (lighten / mean / sum) against the per-frame images."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from simulator.config import parse_scenario
from simulator.errors import ScenarioError
from simulator.io.hdf5 import write_product
from simulator.render.exposure import render_exposure

from .conftest import small_scenario_text


def burst_text(stack="lighten", frames=4, frame="10 s", gap="10 s", save="true"):
    text = small_scenario_text(mag_limit=6.5, focal_length="100 mm")
    block = (f'mode = "burst"\nframes = {frames}\nframe_duration = "{frame}"\ngap = "{gap}"\n'
             f'stack = "{stack}"\nsave_frames = {save}\n')
    return text.replace('duration = "60 s"\n', block)


@pytest.fixture(scope="module")
def lighten():
    return render_exposure(parse_scenario(burst_text()))


def test_frame_windows_and_truth(lighten):
    r = lighten
    assert np.allclose(r.frame_start, [0, 20, 40, 60]) and np.allclose(r.frame_stop, [10, 30, 50, 70])
    assert r.t[0] == 0.0 and r.t[-1] == pytest.approx(70.0)
    assert r.frames.shape == (4,) + r.signal.shape
    # every frame holds rate x 10 s for a star wholly inside and never occulted
    h, w = r.signal.shape
    margin = 6.0  # > 5 sigma of the PSF: no flux falls off the frame
    inside = (r.visible.all(axis=1) & (r.x.min(axis=1) > margin) & (r.x.max(axis=1) < w - 1 - margin)
              & (r.y.min(axis=1) > margin) & (r.y.max(axis=1) < h - 1 - margin))
    assert inside.sum() >= 3
    j = np.flatnonzero(inside)
    assert np.allclose(r.electrons_per_frame[j], (r.rate[j] * 10.0)[:, None], rtol=1e-3)
    assert np.allclose(r.electrons, r.electrons_per_frame.sum(axis=1))


def test_lighten_stack_is_the_max_of_the_frames(lighten):
    assert np.array_equal(lighten.signal, lighten.frames.max(axis=0))


@pytest.mark.parametrize("stack, reduce", [("mean", np.mean), ("sum", np.sum)])
def test_mean_and_sum_stacks(stack, reduce):
    r = render_exposure(parse_scenario(burst_text(stack=stack, frames=3)))
    assert np.allclose(r.signal, reduce(r.frames.astype(np.float64), axis=0), rtol=1e-6, atol=1e-3)


def test_trails_are_dashed_exactly_where_the_gaps_are(lighten):
    """Along a bright trail, the stack is bright at mid-frame times and dark at mid-gap times."""
    r = lighten
    j = int(np.argmax(np.where(r.visible.all(axis=1), r.rate, 0)))
    def value_at(tq):
        x = np.interp(tq, r.t, r.x[j])
        y = np.interp(tq, r.t, r.y[j])
        return r.signal[int(round(y)), int(round(x))], np.hypot(np.interp(tq + 1, r.t, r.x[j]) - x,
                                                               np.interp(tq + 1, r.t, r.y[j]) - y)
    frame_mid = [value_at(0.5 * (a + b))[0] for a, b in zip(r.frame_start, r.frame_stop)]
    gap_mid = [value_at(b + 5.0) for b in r.frame_stop[:-1]]
    speed = gap_mid[0][1]  # px per second
    assert speed * 5.0 > 4.0, "the test needs gaps longer than the PSF"
    assert min(frame_mid) > 0
    # the nearest frame end is 5 s x speed away, > 4 sigma: essentially nothing at mid-gap
    assert max(v for v, _ in gap_mid) < 1e-3 * min(frame_mid)


def test_product_holds_frames(tmp_path, lighten):
    scenario = parse_scenario(burst_text())
    path = tmp_path / "burst.h5"
    write_product(path, scenario, lighten)
    with h5py.File(path) as f:
        assert f.attrs["format_version"] == "1.4"
        assert f["image/frames"].shape == (4,) + lighten.signal.shape
        assert f["image/signal"].attrs["stack"] == "lighten"
        assert np.allclose(f["truth/frames/start"][...], [0, 20, 40, 60])
        assert f["truth/stars/electrons_per_frame"].shape == (lighten.hip.size, 4)


@pytest.mark.parametrize("text, field", [
    (burst_text().replace('frames = 4\n', ''), "exposure.frames"),
    (burst_text().replace('stack = "lighten"', 'stack = "median"'), "exposure.stack"),
    (burst_text().replace('mode = "burst"', 'mode = "movie"'), "exposure.mode"),
    (burst_text().replace('gap = "10 s"', 'gap = "-1 s"'), "exposure.gap"),
    (burst_text().replace('frames = 4', 'frames = 0'), "exposure.frames"),
    (burst_text().replace('mode = "burst"', 'mode = "burst"\nduration = "1 min"'), "exposure.duration"),
    (small_scenario_text().replace('duration = "60 s"', 'duration = "60 s"\nframes = 3'), "exposure.frames"),
])
def test_bad_burst_settings(text, field):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text)
    assert str(err.value).startswith(field + ":")
