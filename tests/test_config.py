"""Scenario parsing: valid files give SI numbers, every bad input names its field and a fix."""
from __future__ import annotations

import math
import re
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import attitude as att
from simulator import orbit as orb
from simulator.camera.projection import Camera
from simulator.config import (
    EarthSpec,
    RenderSpec,
    Scenario,
    SkySpec,
    WcsAttitudeSpec,
    load_scenario,
    parse_scenario,
)
from simulator.errors import ScenarioError

TLE = (
    "1 25544U 98067A   12085.20387446  .00017924  00000-0  22587-3 0  2432\n"
    "2 25544  51.6423 183.0335 0016084 193.8608 250.6436 15.59550052764921\n"
)

SECTIONS = {
    "scenario": 'name = "pettit-2012-cupola"\ndescription = "limb, 15 min"\nseed = 2012',
    "time": 'start = "2012-03-25T05:00:00"',
    "orbit": f'tle = """\n{TLE}"""',
    "attitude": 'mode = "lvlh"\nazimuth = "0 deg"\nelevation = "-12 deg"\nroll = "0 deg"',
    "camera": (
        "width = 4256\nheight = 2832\n"
        'pixel_pitch = "8.45 um"\nfocal_length = "14 mm"\nf_number = 2.8\n'
        "distortion = [0.0, 0.0, 0.0, 0.0, 0.0]\n"
        'psf_sigma = "0.8 pix"'
    ),
    "exposure": 'duration = "15 min"',
    "sky": 'catalog = "hipparcos"\nmag_limit = 9.0',
}


def scenario_text(replace: dict[str, str | None] | None = None, extra: str = "") -> str:
    """The valid scenario with some sections replaced (None: dropped), plus extra text at the end."""
    sections = dict(SECTIONS)
    for name, body in (replace or {}).items():
        if body is None:
            sections.pop(name, None)
        else:
            sections[name] = body
    return "\n\n".join(f"[{name}]\n{body}" for name, body in sections.items()) + "\n" + extra


def with_key(section: str, line: str, drop: str | None = None) -> str:
    """The valid scenario with ``line`` added to ``section`` (after removing key ``drop``)."""
    lines = [ln for ln in SECTIONS[section].splitlines() if drop is None or not ln.startswith(f"{drop} =")]
    return scenario_text({section: "\n".join(lines + [line])})


def error_of(text: str, **kwargs) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, **kwargs)
    message = str(info.value)
    assert "\n" not in message, message
    return info.value


# ---------------------------------------------------------------------------------------------
# Valid scenarios
# ---------------------------------------------------------------------------------------------


def test_full_scenario_si_values():
    text = scenario_text()
    s = parse_scenario(text)
    assert isinstance(s, Scenario)
    assert s.name == "pettit-2012-cupola" and s.description == "limb, 15 min" and s.seed == 2012
    assert s.start.scale == "utc" and s.start.isot == "2012-03-25T05:00:00.000"
    assert s.duration_s == pytest.approx(900.0, rel=1e-15)
    cam = s.camera
    assert isinstance(cam, Camera)
    assert (cam.width, cam.height) == (4256, 2832)
    assert cam.focal_length_m == pytest.approx(0.014, rel=1e-12)
    assert cam.pixel_pitch_m == pytest.approx(8.45e-6, rel=1e-12)
    assert cam.f_number == 2.8 and cam.dist_coeffs == (0.0,) * 5
    assert cam.psf_sigma_px == pytest.approx(0.8) and cam.throughput == pytest.approx(0.35)
    assert isinstance(s.attitude, att.LvlhAttitude)
    expected = att.mount_matrix(0.0, math.radians(-12.0), 0.0)
    np.testing.assert_allclose(s.attitude.R_lvlh_to_cam, expected, atol=1e-14)
    assert isinstance(s.orbit, orb.TleOrbit)
    assert s.sky == SkySpec(catalog="hipparcos", mag_limit=9.0)
    assert s.earth == EarthSpec(occultation_altitude_km=15.0)
    assert s.render == RenderSpec(knot_tolerance_px=0.005, psf_extent_sigma=5.0)
    assert s.text == text and s.source_path is None


def test_optional_values_and_other_units():
    text = scenario_text(
        {
            "scenario": 'name = "x"',
            "camera": (
                'width = 640\nheight = 480\npixel_pitch = "0.0058 mm"\nfocal_length = "0.05 m"\n'
                'f_number = 4\ndistortion = [-0.1, 0.01, 0, 0, 0.001]\npsf_sigma = "24 arcsec"\nthroughput = 0.5'
            ),
            "exposure": 'duration = "0.5 s"',
            "attitude": 'mode = "lvlh"\nazimuth = "-0.5 rad"\nelevation = "30 arcmin"\nroll = "90 deg"',
        },
        extra='[earth]\noccultation_altitude = "20000 m"\n[render]\nknot_tolerance = "0.01 pix"\npsf_extent = 6\n',
    )
    s = parse_scenario(text)
    assert s.description == "" and s.seed == 0
    assert s.duration_s == 0.5
    assert s.camera.pixel_pitch_m == pytest.approx(5.8e-6) and s.camera.focal_length_m == pytest.approx(0.05)
    assert s.camera.f_number == 4.0 and s.camera.throughput == 0.5
    assert s.camera.dist_coeffs == (-0.1, 0.01, 0.0, 0.0, 0.001)
    # 24 arcsec at the pixel scale of 5.8 um / 50 mm (23.93 arcsec/px)
    assert s.camera.psf_sigma_px == pytest.approx(24.0 / s.camera.pixel_scale_arcsec)
    np.testing.assert_allclose(
        s.attitude.R_lvlh_to_cam, att.mount_matrix(-0.5, math.radians(0.5), math.radians(90.0)), atol=1e-14
    )
    assert s.earth.occultation_altitude_km == pytest.approx(20.0)
    assert s.render == RenderSpec(knot_tolerance_px=0.01, psf_extent_sigma=6.0)


def test_inertial_angles_and_sexagesimal_ra():
    s = parse_scenario(scenario_text({"attitude": 'mode = "inertial"\nra = "05h35m17s"\ndec = "-5d23m28s"'}))
    assert isinstance(s.attitude, att.InertialAttitude)
    ra = math.radians(15.0 * (5 + 35 / 60 + 17 / 3600))
    dec = -math.radians(5 + 23 / 60 + 28 / 3600)
    np.testing.assert_allclose(s.attitude.R_icrs_to_cam, att.inertial_matrix(ra, dec, 0.0), atol=1e-12)


@pytest.mark.parametrize("mode, cls", [("lvlh", "LvlhAttitude"), ("inertial", "InertialAttitude")])
def test_quaternion_attitude_is_normalised(mode, cls):
    q = np.array([0.9, 0.1, -0.3, 0.2])
    q /= np.linalg.norm(q)
    nearly = q * (1 + 5e-4)  # within the tolerance: normalised silently
    s = parse_scenario(scenario_text({"attitude": f'mode = "{mode}"\nquaternion = {list(map(float, nearly))}'}))
    assert type(s.attitude).__name__ == cls
    R = s.attitude.R_lvlh_to_cam if mode == "lvlh" else s.attitude.R_icrs_to_cam
    np.testing.assert_allclose(R, att.matrix_from_quaternion(q), atol=1e-12)


def iss_states(times: Time) -> tuple[np.ndarray, np.ndarray]:
    """GCRS position (km) and velocity (km/s) of the test TLE at ``times``."""
    return orb.parse_tle(TLE).gcrs_states(times)


def test_state_vector_orbit():
    epoch = Time("2012-03-25T04:00:00", scale="utc")
    pos, vel = (a.reshape(3) for a in iss_states(Time([epoch])))
    state = (
        f'state = {{ epoch = "{epoch.isot}", position_km = [{", ".join(map(repr, pos.tolist()))}], '
        f'velocity_km_s = [{", ".join(map(repr, vel.tolist()))}] }}'
    )
    s = parse_scenario(scenario_text({"orbit": state}))
    assert isinstance(s.orbit, orb.StateVectorOrbit)
    np.testing.assert_array_equal(s.orbit.position_km, pos)
    np.testing.assert_array_equal(s.orbit.velocity_km_s, vel)
    assert abs((s.orbit.epoch - epoch).sec) < 1e-6


def test_oem_orbit_relative_to_scenario_folder(tmp_path):
    times = Time("2012-03-25T04:00:00", scale="utc") + np.arange(0, 3600, 240) * u.s
    pos, vel = iss_states(times)
    M = orb.eme2000_to_gcrs_matrix().T  # GCRS -> EME2000
    (tmp_path / "data").mkdir()
    orb.write_oem(tmp_path / "data" / "iss.oem", times, pos @ M.T, vel @ M.T)
    path = tmp_path / "s.toml"
    path.write_text(scenario_text({"orbit": 'oem = "data/iss.oem"'}), encoding="utf-8")
    s = load_scenario(path)
    assert isinstance(s.orbit, orb.OemOrbit)
    p2, _ = s.orbit.gcrs_states(times[3:4])
    np.testing.assert_allclose(p2[0], pos[3], atol=1e-3)
    err = error_of(scenario_text({"orbit": 'oem = "data/none.oem"'}), base_dir=tmp_path)
    assert str(err).startswith("orbit.oem: ")


def test_load_scenario_records_path_and_text(tmp_path):
    text = scenario_text()
    path = tmp_path / "pettit.toml"
    path.write_text(text, encoding="utf-8")
    s = load_scenario(path)
    assert s.source_path == path and s.text == text


def test_time_start_accepts_toml_datetime_and_space_separator():
    for value in ("2012-03-25T05:00:00Z", '"2012-03-25 05:00:00"', "2012-03-25T07:00:00+02:00"):
        s = parse_scenario(scenario_text({"time": f"start = {value}"}))
        assert s.start.isot == "2012-03-25T05:00:00.000", value


def write_wcs(path: Path, ra_deg: float, dec_deg: float, date_obs: str | None) -> None:
    """A solved-photo WCS header (TAN, 4256x2832, the camera's pixel scale) as a FITS file."""
    from astropy.io import fits
    from astropy.wcs import WCS

    scale_deg = math.degrees(8.45e-6 / 0.014)
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra_deg, dec_deg]
    w.wcs.crpix = [(4256 - 1) / 2 + 1, (2832 - 1) / 2 + 1]  # FITS pixels are 1-based
    w.wcs.cdelt = [-scale_deg, -scale_deg]
    header = w.to_header()
    header["IMAGEW"], header["IMAGEH"] = 4256, 2832
    if date_obs is not None:
        header["DATE-OBS"] = date_obs
    fits.PrimaryHDU(header=header).writeto(path)


def test_wcs_attitude_takes_start_from_date_obs(tmp_path):
    write_wcs(tmp_path / "photo.wcs", 83.82, -5.39, "2012-03-25T05:10:00")
    path = tmp_path / "s.toml"
    path.write_text(scenario_text({"time": None, "attitude": 'wcs = "photo.wcs"'}), encoding="utf-8")
    s = load_scenario(path)
    assert isinstance(s.attitude, WcsAttitudeSpec)
    assert s.attitude.hold == "inertial" and s.attitude.path == tmp_path / "photo.wcs"
    assert s.start.isot == "2012-03-25T05:10:00.000"
    ra, dec = math.radians(83.82), math.radians(-5.39)
    boresight = [math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra), math.sin(dec)]
    np.testing.assert_allclose(s.attitude.pointing.R_icrs_to_cam[2], boresight, atol=1e-9)


def test_wcs_with_explicit_start_and_lvlh_hold(tmp_path):
    write_wcs(tmp_path / "photo.wcs", 10.0, 20.0, None)
    text = scenario_text({"attitude": 'wcs = "photo.wcs"\nhold = "lvlh"'})
    s = parse_scenario(text, base_dir=tmp_path)
    assert s.attitude.hold == "lvlh" and s.start.isot == "2012-03-25T05:00:00.000"
    err = error_of(scenario_text({"time": None, "attitude": 'wcs = "photo.wcs"'}), base_dir=tmp_path)
    assert str(err).startswith("time.start: is missing") and "DATE-OBS" in str(err)
    err = error_of(scenario_text({"attitude": 'wcs = "photo.wcs"\nhold = "body"'}), base_dir=tmp_path)
    assert str(err).startswith("attitude.hold: ")


# ---------------------------------------------------------------------------------------------
# Bad inputs: each error starts with the dotted field
# ---------------------------------------------------------------------------------------------


def test_malformed_toml_reports_line_and_column():
    err = error_of(scenario_text() + "focal_length = 14 mm\n")
    assert str(err).startswith("scenario: ")
    assert re.search(r"line \d+, column \d+", str(err))


def test_malformed_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[camera\nwidth = 1\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"^broken\.toml: .*line 1"):
        load_scenario(path)


def test_missing_scenario_file(tmp_path):
    with pytest.raises(ScenarioError, match=r"^scenario: .*does not exist"):
        load_scenario(tmp_path / "nope.toml")


def test_unknown_section():
    err = error_of(scenario_text(extra="[camra]\nwidth = 3\n"))
    assert str(err).startswith("camra: unknown section")
    assert 'did you mean "camera"' in str(err)


def test_unknown_key_with_suggestion():
    err = error_of(with_key("camera", 'focal_lenght = "14 mm"', drop="focal_length"))
    assert str(err).startswith("camera.focal_lenght: unknown key")
    assert 'did you mean "focal_length"' in str(err)
    assert "pixel_pitch" in str(err)  # lists the allowed keys


def test_wrong_unit_type():
    err = error_of(with_key("camera", 'focal_length = "14 s"', drop="focal_length"))
    assert str(err).startswith("camera.focal_length: ")
    assert "time" in str(err) and "length" in str(err) and '"14 mm"' in str(err)


def test_unknown_unit():
    err = error_of(with_key("camera", 'focal_length = "14 mmm"', drop="focal_length"))
    assert str(err).startswith('camera.focal_length: "14 mmm" is not a length')


@pytest.mark.parametrize("value", ["14", '"14"'])
def test_missing_unit(value):
    err = error_of(with_key("camera", f"focal_length = {value}", drop="focal_length"))
    assert str(err).startswith("camera.focal_length: ")
    assert "no unit" in str(err) and '"14 mm"' in str(err)


def test_bad_tle_checksum():
    bad = TLE.replace("0  2432", "0  2433")
    err = error_of(scenario_text({"orbit": f'tle = """\n{bad}"""'}))
    assert str(err).startswith("orbit.tle")


@pytest.mark.parametrize("duration", ['"0 s"', '"-5 min"'])
def test_zero_and_negative_duration(duration):
    err = error_of(scenario_text({"exposure": f"duration = {duration}"}))
    assert str(err).startswith("exposure.duration: ")


def test_too_long_duration():
    err = error_of(scenario_text({"exposure": 'duration = "6.01 h"'}))
    assert str(err).startswith("exposure.duration: ") and "21600" in str(err)


@pytest.mark.parametrize("mag", ["14.5", "-3", '"9"', "true", "nan"])
def test_mag_limit_out_of_range_or_wrong_type(mag):
    err = error_of(scenario_text({"sky": f"mag_limit = {mag}"}))
    assert str(err).startswith("sky.mag_limit: ")


def test_unknown_catalog():
    err = error_of(scenario_text({"sky": 'catalog = "tycho-99"'}))
    assert str(err).startswith("sky.catalog: ")


def test_two_orbit_sources():
    err = error_of(scenario_text({"orbit": f'oem = "x.oem"\ntle = """\n{TLE}"""'}))
    assert str(err).startswith("orbit: ") and "exactly one" in str(err)


def test_no_orbit_source():
    err = error_of(scenario_text({"orbit": ""}))
    assert str(err).startswith("orbit: ")


@pytest.mark.parametrize("value", ["true", "4256.0", '"4256"', "8", "100001"])
def test_bad_width(value):
    err = error_of(with_key("camera", f"width = {value}", drop="width"))
    assert str(err).startswith("camera.width: ")


@pytest.mark.parametrize(
    "section, key",
    [
        ("scenario", "name"),
        ("camera", "focal_length"),
        ("camera", "height"),
        ("exposure", "duration"),
        ("attitude", "elevation"),
        ("time", "start"),
    ],
)
def test_missing_required_field(section, key):
    body = "\n".join(ln for ln in SECTIONS[section].splitlines() if not ln.startswith(f"{key} ="))
    err = error_of(scenario_text({section: body}))
    assert str(err).startswith(f"{section}.{key}: is missing")


def test_missing_required_section():
    err = error_of(scenario_text({"camera": None}))
    assert str(err).startswith("camera: ")


@pytest.mark.parametrize(
    "body, field",
    [
        ('mode = "lvlh"\nazimuth = "0 deg"\nelevation = "-95 deg"', "attitude.elevation"),
        ('mode = "lvlh"\nazimuth = "0 deg"\nelevation = "-12"', "attitude.elevation"),
        ('mode = "sideways"', "attitude.mode"),
        ('mode = "lvlh"\nra = "10 deg"\ndec = "0 deg"', "attitude.ra"),
        ('mode = "inertial"\nra = "10 deg"\ndec = "91 deg"', "attitude.dec"),
        ('mode = "lvlh"\nquaternion = [1.0, 0.0, 0.0, 0.01]\nroll = "0 deg"', "attitude.roll"),
        ('mode = "lvlh"\nquaternion = [1.0, 0.0, 0.1, 0.0]', "attitude.quaternion"),
        ('mode = "lvlh"\nquaternion = [1.0, 0.0, 0.0]', "attitude.quaternion"),
        ('wcs = "photo.wcs"\nmode = "lvlh"', "attitude.mode"),
        ('wcs = "missing.wcs"', "attitude.wcs"),
        ('mode = "lvlh"\nazimuth = "0 deg"\nelevation = "0 deg"\nhold = "lvlh"', "attitude.hold"),
    ],
)
def test_bad_attitude(body, field):
    err = error_of(scenario_text({"attitude": body}))
    assert str(err).startswith(f"{field}: ")


@pytest.mark.parametrize(
    "line, drop, field",
    [
        ('pixel_pitch = "0.1 um"', "pixel_pitch", "camera.pixel_pitch"),
        ('focal_length = "6 m"', "focal_length", "camera.focal_length"),
        ("f_number = 0.2", "f_number", "camera.f_number"),
        ("distortion = [0.0, 0.0]", "distortion", "camera.distortion"),
        ('distortion = [0.0, "a", 0.0, 0.0, 0.0]', "distortion", "camera.distortion[1]"),
        ('psf_sigma = "0.1 pix"', "psf_sigma", "camera.psf_sigma"),
        ("psf_sigma = 0.8", "psf_sigma", "camera.psf_sigma"),
        ('psf_sigma = "0.8 mm"', "psf_sigma", "camera.psf_sigma"),
        ("throughput = 0", None, "camera.throughput"),
        ("throughput = 1.5", None, "camera.throughput"),
    ],
)
def test_bad_camera_values(line, drop, field):
    err = error_of(with_key("camera", line, drop=drop))
    assert str(err).startswith(f"{field}: ")


@pytest.mark.parametrize(
    "extra, field",
    [
        ('[earth]\noccultation_altitude = "300 km"\n', "earth.occultation_altitude"),
        ("[render]\nknot_tolerance = 0.01\n", "render.knot_tolerance"),
        ('[render]\nknot_tolerance = "2 pix"\n', "render.knot_tolerance"),
        ("[render]\npsf_extent = 2\n", "render.psf_extent"),
        ("[sky.extra]\nx = 1\n", "sky.extra"),
    ],
)
def test_bad_optional_sections(extra, field):
    err = error_of(scenario_text(extra=extra))
    assert str(err).startswith(f"{field}: ")


def test_top_level_key_is_an_unknown_section():
    err = error_of(scenario_text().replace("[scenario]", "seed = 3\n[scenario]", 1))
    assert str(err).startswith("seed: unknown section")


@pytest.mark.parametrize(
    "value, field",
    [
        ('"March 15 2012"', "time.start"),
        ("12", "time.start"),
        ('"2012-13-01T00:00:00"', "time.start"),
    ],
)
def test_bad_start(value, field):
    err = error_of(scenario_text({"time": f"start = {value}"}))
    assert str(err).startswith(f"{field}: ")


@pytest.mark.parametrize(
    "state, field",
    [
        ('{ epoch = "2012-03-25T04:00:00", position_km = [1, 2, 3], velocity_km_s = [1, 2, 3] }', "orbit.state.position_km"),
        ('{ epoch = "2012-03-25T04:00:00", position_km = [7000, 0], velocity_km_s = [0, 7.5, 0] }', "orbit.state.position_km"),
        ('{ epoch = "2012-03-25T04:00:00", position_km = [7000, 0, 0] }', "orbit.state.velocity_km_s"),
        ('{ epoch = "2012-03-25T04:00:00", position_km = [7000, 0, 0], velocity_km_s = [0, 7.5, 0], v = 1 }', "orbit.state.v"),
        ('"7000 0 0"', "orbit.state"),
    ],
)
def test_bad_state_vector(state, field):
    err = error_of(scenario_text({"orbit": f"state = {state}"}))
    assert str(err).startswith(f"{field}: ")


def test_section_that_is_not_a_table():
    err = error_of(scenario_text({"exposure": None}).replace("[scenario]", 'exposure = "15 min"\n[scenario]', 1))
    assert str(err).startswith("exposure: ")


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

_BASE = scenario_text({"exposure": 'duration = "__D__"'})


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0.0, max_value=21600.0, exclude_min=True, allow_nan=False, allow_infinity=False))
def test_duration_round_trips(x):
    s = parse_scenario(_BASE.replace("__D__", f"{x!r} s"))
    assert s.duration_s == x


SCENARIO_FILES = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.name for p in SCENARIO_FILES])
def test_shipped_scenarios_are_valid(path):
    s = load_scenario(path)
    assert s.text == path.read_text(encoding="utf-8") and s.duration_s > 0


# ---------------------------------------------------------------------------------------------
# [earth]: city lights and lightning switches
# ---------------------------------------------------------------------------------------------


def test_earth_sources_parse_with_defaults():
    s = parse_scenario(scenario_text(extra="[earth]\ncity_lights = true\nlightning = true\n"))
    assert s.earth.city_lights and s.earth.lightning and not s.earth.airglow
    assert s.earth.city_lights_min_radiance == 2.0 and s.earth.city_lights_lamp == "hps"
    s = parse_scenario(scenario_text(extra='[earth]\ncity_lights_lamp = "led"\ncity_lights_min_radiance = 10\n'))
    assert s.earth.city_lights_lamp == "led" and s.earth.city_lights_min_radiance == 10.0


@pytest.mark.parametrize("line, field, hint", [
    ('city_lights = "yes"', "earth.city_lights", "city_lights = true"),
    ("lightning = 1", "earth.lightning", "lightning = true"),
    ('city_lights_lamp = "sodium"', "earth.city_lights_lamp", '"hps"'),
    ("city_lights_min_radiance = -1", "earth.city_lights_min_radiance", "city_lights_min_radiance = 2.0"),
    ("city_lights_min_radiance = true", "earth.city_lights_min_radiance", "city_lights_min_radiance = 2.0"),
])
def test_earth_source_keys_bad_values_name_the_field(line, field, hint):
    err = error_of(scenario_text(extra=f"[earth]\n{line}\n"))
    assert str(err).startswith(f"{field}:") and hint in str(err)
