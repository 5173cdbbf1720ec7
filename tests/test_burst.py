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
        assert f.attrs["format_version"] == "1.5"
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


def test_hard_limb_truth_at_each_frame_middle(tmp_path):
    """/truth/limb/frame_x, frame_y: the horizon at each frame's middle. An inertial 100 mm burst on the limb
    (it sweeps ~1 px/s): the light every in-frame point's pixel sees at its frame's middle (the ray un-aberrated by
    the ISS's velocity) grazes WGS84 (exact geodetic minimum along the ray, occultation.tangent_altitude, within
    1e-3 km), and the frames' curves differ."""
    import dataclasses

    from astropy import units as u

    from simulator.attitude import InertialAttitude
    from simulator.earth.airglow import pixel_tangent_altitudes
    from simulator.earth.ellipsoid import earth_pole_gcrs
    from simulator.render.observer import Observer

    text = small_scenario_text(mag_limit=2.0, focal_length="100 mm",
                               attitude='mode = "lvlh"\nazimuth = "0 deg"\nelevation = "-20 deg"\nroll = "0 deg"')
    text = text.replace('duration = "60 s"\n', 'mode = "burst"\nframes = 3\nframe_duration = "4 s"\ngap = "2 s"\n'
                        'stack = "lighten"\n')
    lvlh = parse_scenario(text)
    _, _, rot_mid, _, _ = Observer(lvlh).states(np.array([8.0]))
    scenario = dataclasses.replace(lvlh, attitude=InertialAttitude(rot_mid[0]))
    result = render_exposure(scenario)
    fx, fy, ft = result.frame_limb_curves
    assert np.allclose(ft, [2.0, 8.0, 14.0]) and fx.shape == fy.shape == (3, 2048)
    pos, vel, rot, _, _ = Observer(scenario).states(ft)
    pole = earth_pole_gcrs(scenario.start + 0.5 * scenario.duration_s * u.s)
    for f in range(3):
        ok = np.isfinite(fx[f])
        assert ok.sum() > 20
        # the light each pixel sees (its ray un-aberrated by the ISS's velocity) grazes WGS84; the ray itself
        # passes ~15-20 m lower (the 5" aberration over the ~2300 km to the limb): the test sees it
        h = pixel_tangent_altitudes(scenario.camera, rot[f], pos[f], pole, fx[f, ok], fy[f, ok], vel[f])
        assert np.max(np.abs(h)) < 1e-3
        h_ray = pixel_tangent_altitudes(scenario.camera, rot[f], pos[f], pole, fx[f, ok], fy[f, ok])
        assert np.median(np.abs(h_ray)) > 5e-3
    both = np.isfinite(fy[0]) & np.isfinite(fy[2])
    assert np.median(np.abs(fy[2, both] - fy[0, both])) > 1.0  # the horizon moved between the frames (px)
    path = tmp_path / "limb.h5"
    write_product(path, scenario, result)
    with h5py.File(path) as f:
        assert f["truth/limb/frame_x"].shape == (3, 2048) and f["truth/limb/frame_t"].attrs["units"] == "s"
        np.testing.assert_array_equal(f["truth/limb/frame_y"][...], fy)
