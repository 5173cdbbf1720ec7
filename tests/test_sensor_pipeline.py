"""The sensor model inside a render: raw frames, stacks, masks and reproducibility, end to end."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from simulator.config import parse_scenario
from simulator.errors import ScenarioError
from simulator.io.hdf5 import write_product
from simulator.render.exposure import render_exposure

from .conftest import small_scenario_text


def sensor_text(extra="", exposure=None):
    text = small_scenario_text(mag_limit=4.0).replace("[camera]", '[camera]\npreset = "nikon-d3s"')
    if exposure:
        text = text.replace('duration = "60 s"\n', exposure)
    return text + "\n[sensor]\niso = 800\n" + extra


def test_raw_is_the_mosaic_of_the_signal_plus_noise_and_saturates_at_the_white_level():
    r = render_exposure(parse_scenario(sensor_text('disable = ["cosmic", "hot"]\n')))
    raw = r.sensor["raw"]
    assert raw.dtype == np.uint16 and raw.shape == r.signal.shape[:2]
    spec = r.sensor["spec"]
    white = min(2**spec.bit_depth - 1, spec.black_level_dn + spec.full_well_e / spec.gain_e_per_dn)
    assert raw.max() <= np.ceil(white)
    # far from stars (signal < 0.01 e-), mean and variance are those of dark current (shot noise and its
    # pixel-to-pixel non-uniformity, DSNU) + read noise + ADC rounding (1/12 DN^2)
    dark_pixels = r.signal.sum(axis=2) < 0.01
    mean_e = spec.dark_current_e_s * 60.0
    dn = raw[dark_pixels].astype(np.float64)
    var_expected = (mean_e + spec.read_noise_e**2 + (spec.dsnu_e_s * 60.0) ** 2) / spec.gain_e_per_dn**2 + 1 / 12
    assert dn.mean() == pytest.approx(spec.black_level_dn + mean_e / spec.gain_e_per_dn, abs=0.1)
    assert dn.var() == pytest.approx(var_expected, rel=0.1)
    assert r.sensor["rgb"].shape == r.signal.shape


def test_same_seed_same_raw_and_cosmic_rays_only_change_masked_pixels():
    a = render_exposure(parse_scenario(sensor_text()))
    b = render_exposure(parse_scenario(sensor_text()))
    assert np.array_equal(a.sensor["raw"], b.sensor["raw"])
    no_cr = render_exposure(parse_scenario(sensor_text('disable = ["cosmic"]\n')))
    changed = a.sensor["raw"] != no_cr.sensor["raw"]
    assert changed.any()
    assert np.all(a.sensor["defect_mask"][changed] & 1)


def test_burst_raw_lighten_stack_is_the_max_of_the_raw_frames(tmp_path):
    burst = 'mode = "burst"\nframes = 3\nframe_duration = "10 s"\ngap = "2 s"\nsave_frames = true\n'
    scenario = parse_scenario(sensor_text(exposure=burst))
    r = render_exposure(scenario)
    frames = r.sensor["raw_frames"]
    assert frames.shape[0] == 3
    assert np.array_equal(r.sensor["raw"], frames.max(axis=0))
    # cosmic rays differ from frame to frame, the hot pixels do not
    assert not np.array_equal(frames[0], frames[1])
    path = tmp_path / "s.h5"
    write_product(path, scenario, r)
    with h5py.File(path) as f:
        assert f["image/raw"].dtype == np.uint16 and f["image/raw"].attrs["units"] == "adu"
        assert f["image/raw_frames"].shape == frames.shape
        assert f["truth/sensor/defect_mask"].dtype == np.uint8
        assert set(np.unique(f["truth/sensor/cosmic_rays/frame"][...])) <= {0, 1, 2}
        assert f["sensor"].attrs["effect_cosmic"]
        def units(name, obj):
            if isinstance(obj, h5py.Dataset):
                assert "units" in obj.attrs, name
        f.visititems(units)


@pytest.mark.parametrize("extra, field", [
    ('disable = ["cosmics"]\n', "sensor.disable"),
    ('iso = 0\n', "sensor.iso"),
    ('temperature = "22 km"\n', "sensor.temperature"),
    ('colour = 1\n', "sensor.colour"),
])
def test_bad_sensor_settings(extra, field):
    text = sensor_text(extra).replace("[sensor]\niso = 800\n", "[sensor]\n") if "iso" in extra else sensor_text(extra)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text)
    assert str(err.value).startswith(field + ":")


def test_sensor_without_preset_needs_its_figures():
    text = small_scenario_text() + "\n[sensor]\niso = 800\n"
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text)
    assert str(err.value).startswith("sensor.read_noise:")
