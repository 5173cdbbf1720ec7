"""``startrail check``: the independent recomputation of a product's truth (simulator/validate/) passes on what
the renderer writes and fails on truth moved by a fraction of its tolerance's size beyond it."""
from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from simulator.cli import main
from simulator.config import parse_scenario
from simulator.io.hdf5 import write_product
from simulator.render.exposure import render_exposure
from simulator.validate.check import run_checks

from .conftest import small_scenario_text

# the small Pettit-like frame with the Earth at night on (lightning and city lights near the limb, the airglow's
# peak curves; Saturn and Mars are in this field; the atmosphere's refracted knots are left out of the star check)
EARTH = '\n[earth]\nlimb = "atmosphere"\nairglow = true\ncity_lights = true\nlightning = true\n'


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    scenario = parse_scenario(small_scenario_text(duration="120 s", mag_limit=4.0, extra=EARTH))
    path = tmp_path_factory.mktemp("check") / "p.h5"
    write_product(path, scenario, render_exposure(scenario))
    return path


def _by_name(checks):
    return {c.name: c for c in checks}


def test_every_check_passes_on_a_rendered_product(product, capsys):
    checks = _by_name(run_checks(product))
    for name in ("attitude", "observer pos", "observer vel", "stars", "planets", "city lights", "lightning", "limb",
                 "airglow 97 km", "airglow 270 km"):
        assert checks[name].compared > 0, f"{name}: nothing compared ({checks[name].note})"
        assert checks[name].passed, checks[name].line()
    # far inside the tolerances: the same models evaluated by different code
    assert checks["stars"].max_error < 1e-4 and checks["observer pos"].max_error < 0.01
    assert main(["check", str(product)]) == 0
    assert "ok    stars" in capsys.readouterr().out


@pytest.mark.parametrize("dataset,shift,failing", [
    ("truth/stars/x", 0.02, "stars"),                      # 2x the 0.01 px tolerance
    ("truth/observer_pos_gcrs_km", 0.003, "observer pos"),  # 3 m
    ("truth/q_icrs_to_cam", 1e-7, "attitude"),             # the quaternion no longer the matrix's rotation
    ("truth/city_lights/y", 0.1, "city lights"),
    ("truth/lightning/x", 0.1, "lightning"),
    ("truth/limb/y", 0.1, "limb"),  # 0.8 mrad at 8 mrad pixels: ~2 km of tangent altitude
])
def test_a_check_fails_when_its_truth_is_moved(product, tmp_path, capsys, dataset, shift, failing):
    bad = tmp_path / "bad.h5"
    shutil.copy(product, bad)
    with h5py.File(bad, "r+") as f:
        data = f[dataset][()]
        if dataset.endswith("q_icrs_to_cam"):
            data[:, 1] += shift
            data /= np.linalg.norm(data, axis=1, keepdims=True)
        else:
            data += shift
        f[dataset][...] = data
    checks = _by_name(run_checks(bad))
    failed = [c.name for c in checks.values() if not c.passed]
    assert failing in failed
    if dataset.endswith("pos_gcrs_km"):  # the curves' tangent altitudes are measured from the moved observer too
        assert set(failed) == {failing, "limb", "airglow 97 km", "airglow 92 km", "airglow 87 km", "airglow 270 km"}
    else:
        assert failed == [failing]
    assert main(["check", str(bad)]) == 1
    assert f"check failed: {failing}" in capsys.readouterr().err


def test_bad_input_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing.h5")]) == 2
    assert main(["check", str(tmp_path / "missing.h5"), "--samples", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("startrail: error:") for line in err)


def test_moon_check_on_a_product_pointed_at_the_moon(tmp_path):
    """The Moon 14 deg above the limb on 2012-03-26 18:43 UTC (ISS in the Earth's shadow; found with astropy's
    get_body from the TLE's orbit): an inertial frame centred on it has /truth/moon, and the check passes."""
    text = small_scenario_text(duration="20 s", mag_limit=3.0,
                               attitude='mode = "inertial"\nra = "48.48 deg"\ndec = "20.16 deg"')
    scenario = parse_scenario(text.replace('start = "2012-03-25T01:15:00"', 'start = "2012-03-26T18:43:12"'))
    path = tmp_path / "moon.h5"
    write_product(path, scenario, render_exposure(scenario))
    moon = _by_name(run_checks(path))["moon"]
    assert moon.compared == 3 and moon.passed, moon.line()
    assert moon.max_error < 1e-3


def test_curves_of_every_frame_of_a_burst(tmp_path):
    """A burst (3 x 10 s frames, 10 s gaps): the limb and airglow curves of each frame's middle (the ISS
    interpolated there between knots) pass; frame 2's limb moved by 0.1 px fails the limb check."""
    text = small_scenario_text(mag_limit=3.0, extra='\n[earth]\nairglow = true\n').replace(
        'duration = "60 s"\n', 'mode = "burst"\nframes = 3\nframe_duration = "10 s"\ngap = "10 s"\n')
    scenario = parse_scenario(text)
    path = tmp_path / "burst.h5"
    write_product(path, scenario, render_exposure(scenario))
    checks = _by_name(run_checks(path))
    assert checks["limb"].compared > 8 * 3 and checks["limb"].passed, checks["limb"].line()
    assert checks["airglow 97 km"].passed and checks["limb"].max_error < 0.05  # m
    with h5py.File(path, "r+") as f:
        f["truth/limb/frame_y"][2] += 0.1
    assert not _by_name(run_checks(path))["limb"].passed


def test_flux_bookkeeping(tmp_path):
    """Without airglow the image's total is the sources' electrons in the truth (stars, planets, city lights,
    flashes: measured 2.9e-6 relative, float32 pixels); 0.1 % more electrons in the stars' truth fails."""
    scenario = parse_scenario(small_scenario_text(duration="60 s", mag_limit=4.0, extra=EARTH.replace(
        "airglow = true\n", "")))
    path = tmp_path / "flux.h5"
    write_product(path, scenario, render_exposure(scenario))
    flux = _by_name(run_checks(path))["flux"]
    assert flux.compared == 1 and flux.passed and flux.max_error < 1e-5, flux.line()
    with h5py.File(path, "r+") as f:
        f["truth/stars/electrons"][...] *= 1.001
    assert not _by_name(run_checks(path))["flux"].passed


def test_start_time_is_stored_to_the_nanosecond(tmp_path):
    """A start with sub-millisecond digits (as the eclipse search finds them): /truth/t's start_utc holds it to
    1 ns, and the observer check passes. (The ISO string stopped at the millisecond before: the burst scenario's
    start lost 0.41 ms and the file's times were 3.1 m off its ISS positions.)"""
    from astropy.time import Time

    text = small_scenario_text(duration="20 s", mag_limit=3.0).replace(
        'start = "2012-03-25T01:15:00"', 'start = "2012-03-25T01:15:00.019407714"')
    scenario = parse_scenario(text)
    path = tmp_path / "t.h5"
    write_product(path, scenario, render_exposure(scenario))
    with h5py.File(path) as f:
        stored = Time(f["truth/t"].attrs["start_utc"], scale="utc")
    assert abs((stored - scenario.start).to_value("s")) < 1e-9
    checks = _by_name(run_checks(path))
    assert checks["observer pos"].passed and checks["observer pos"].max_error < 0.01, checks["observer pos"].line()
