"""Camera and lens presets: every value present, with units, a source, and in a sane range."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from simulator.camera import bandpass, presets
from simulator.camera.projection import Camera
from simulator.errors import ScenarioError

REQUIRED_CAMERAS = ("nikon-d3s", "nikon-d4", "nikon-d5", "nikon-z9", "sony-a7s3", "star-tracker-mono")
REQUIRED_LENSES = ("14-24mm-f2.8@14mm", "14-24mm-f2.8@24mm", "24mm-f1.4", "28mm-f1.4", "50mm-f1.4", "85mm-f1.4",
                   "400mm-f2.8")
TAG = re.compile(r"\[(W|M|U|C)( for [^\]]*)?\]|estimate|not applicable|zeros|convention|monochrome|reference temp")
NOT_SOURCED = {"name", "description", "sources"}


def test_list_presets_has_the_required_names():
    names = presets.list_presets()
    assert set(REQUIRED_CAMERAS) <= set(names["cameras"])
    assert set(REQUIRED_LENSES) <= set(names["lenses"])


@pytest.mark.parametrize("name", REQUIRED_CAMERAS)
def test_camera_preset_values_have_units_sources_and_sane_ranges(name):
    cam = presets.camera_preset(name)
    assert set(cam) == set(presets.CAMERA_UNITS)  # every value has a documented unit
    for key in set(cam) - NOT_SOURCED:
        assert TAG.search(cam["sources"][key]), f"{name}.{key}: source without a reliability tag"
    assert 16 <= cam["width"] <= 20000 and 16 <= cam["height"] <= 20000
    assert 1e-6 <= cam["pixel_pitch_m"] <= 20e-6
    assert cam["bit_depth"] in (12, 14, 16)
    assert cam["white_level_dn"] == 2 ** cam["bit_depth"] - 1
    assert 0 <= cam["black_level_dn"] < cam["white_level_dn"] / 8
    lo, hi = cam["iso_range"]
    assert cam["base_iso"] == lo <= hi
    for table in (cam["gain_e_per_dn"], cam["read_noise_e"]):
        assert min(table) == lo and max(table) <= hi and set(table) == set(cam["gain_e_per_dn"])
    isos = sorted(cam["gain_e_per_dn"])
    gains = [cam["gain_e_per_dn"][i] for i in isos]
    noise = [cam["read_noise_e"][i] for i in isos]
    assert all(0.001 < g < 20 for g in gains) and all(np.diff(gains) < 0)
    assert all(0.5 <= r <= 30 for r in noise) and all(np.diff(noise) <= 1e-9)  # input-referred: falls with ISO
    assert 5e3 <= cam["full_well_e"] <= 3e5
    # the ADC range at base ISO holds the full well (within 10 %)
    adc_e = (cam["white_level_dn"] - cam["black_level_dn"]) * cam["gain_e_per_dn"][lo]
    assert adc_e == pytest.approx(cam["full_well_e"], rel=0.10)
    assert 9.0 <= math.log2(cam["full_well_e"] / cam["read_noise_e"][lo]) <= 15.0  # base-ISO dynamic range, EV
    assert 0 < cam["dark_current_e_per_s"] <= 100 and -10 <= cam["dark_current_temp_c"] <= 40
    assert 4 <= cam["dark_current_doubling_c"] <= 10
    curve = bandpass.load_curve(cam["qe_curve"])
    assert curve.channels == cam["channels"]
    assert (cam["cfa"] is None) == (cam["channels"] == ("mono",))
    if cam["cfa"]:
        assert sorted(cam["cfa"]) == sorted("RGGB")
    if cam["peak_qe"] is None:
        assert curve.response_type == "qe"
    else:
        assert 0.2 <= cam["peak_qe"] <= 0.9


def test_d3s_matches_references_section_8():
    cam = presets.camera_preset("nikon-d3s")
    assert (cam["width"], cam["height"]) == (4256, 2832)
    assert cam["pixel_pitch_m"] == pytest.approx(8.45e-6)
    assert cam["bit_depth"] == 14
    assert cam["gain_e_per_dn"][200] == 3.88 and cam["gain_e_per_dn"][1600] == 0.46  # Claff, D3 14-bit
    assert cam["black_level_dn"] == 0
    assert 53_400 <= cam["full_well_e"] <= 65_600
    assert presets.read_noise_at_iso(cam, 200) == pytest.approx(18.4, abs=0.1)


def test_interpolation_helpers():
    cam = presets.camera_preset("nikon-d3s")
    assert presets.gain_at_iso(cam, 800) == 0.91
    assert presets.gain_at_iso(cam, 1131) == pytest.approx(math.sqrt(0.91 * 0.46), rel=1e-3)  # half stop
    assert presets.gain_at_iso(cam, 50) == 3.88 and presets.gain_at_iso(cam, 1e6) == 0.06  # clamped
    assert presets.dark_current_at(cam, cam["dark_current_temp_c"] + 13.0) == pytest.approx(
        4 * cam["dark_current_e_per_s"])
    z9 = presets.camera_preset("nikon-z9")
    assert presets.read_noise_at_iso(z9, 500) < presets.read_noise_at_iso(z9, 400)  # dual conversion gain


@pytest.mark.parametrize("name", REQUIRED_LENSES)
def test_lens_preset_values_have_units_and_sane_ranges(name):
    lens = presets.lens_preset(name)
    assert set(lens) == set(presets.LENS_UNITS)
    for key in set(lens) - NOT_SOURCED:
        assert TAG.search(lens["sources"][key]), f"{name}.{key}"
    assert 0.005 <= lens["focal_length_m"] <= 1.0 and 1.0 <= lens["f_number"] <= 8.0
    assert name.split("@")[-1].startswith(f"{lens['focal_length_m'] * 1e3:g}mm")
    assert 1.0 <= lens["vignetting_cos_power"] <= 4.0 and 0.0 <= lens["vignetting_mechanical"] < 1.0
    comps = lens["psf_components"]
    assert sum(c["weight"] for c in comps) == pytest.approx(1.0)
    assert all(0 < c["weight"] <= 1 and 0.3 <= c["sigma_um"] <= 50 for c in comps)
    diffraction_sigma_um = 0.42 * 0.55 * lens["f_number"]
    assert min(c["sigma_um"] for c in comps) >= diffraction_sigma_um
    assert 0.0 <= lens["psf_field_growth"] <= 3.0
    assert lens["dist_coeffs"] == (0.0, 0.0, 0.0, 0.0, 0.0)


def test_lens_helpers_vignetting_and_psf_in_pixels():
    lens = presets.lens_preset("14-24mm-f2.8", pixel_pitch_m=8.45e-6)
    assert lens["focal_length_m"] == 0.014  # the zoom's alias is its 14 mm end
    assert lens["psf_components_px"][0]["sigma_px"] == pytest.approx(4.0 / 8.45)
    corner = presets.psf_components_px(lens, 8.45e-6, rho=1.0)
    assert corner[0]["sigma_px"] == pytest.approx(4.0 / 8.45 * (1 + lens["psf_field_growth"]))
    theta = np.linspace(0, math.atan(21.63 / 14.0), 20)
    illum = presets.relative_illumination(lens, theta, theta / theta[-1])
    assert illum[0] == 1.0 and np.all(np.diff(illum) < 0) and 0.05 < illum[-1] < 0.5
    assert presets.aperture_area_m2(lens) == pytest.approx(math.pi / 4 * (0.014 / 2.8) ** 2)


def test_unknown_names_raise_scenario_errors_listing_the_presets():
    with pytest.raises(ScenarioError) as err:
        presets.camera_preset("nikon-d3x")
    assert err.value.field == "camera.preset"
    assert all(n in str(err.value) for n in REQUIRED_CAMERAS)
    with pytest.raises(ScenarioError) as err:
        presets.lens_preset("16mm-fisheye")
    assert err.value.field == "camera.lens" and "85mm-f1.4" in str(err.value)


def test_presets_are_fresh_copies():
    a = presets.camera_preset("nikon-d3s")
    a["gain_e_per_dn"][200] = 99.0
    a["width"] = 1
    b = presets.camera_preset("nikon-d3s")
    assert b["gain_e_per_dn"][200] == 3.88 and b["width"] == 4256


@pytest.mark.parametrize("cam_name, lens_name", [("nikon-d3s", "14-24mm-f2.8@14mm"), ("nikon-z9", "24mm-f1.4"),
                                                 ("sony-a7s3", "50mm-f1.4"), ("star-tracker-mono", "85mm-f1.4"),
                                                 ("nikon-d5", "400mm-f2.8"), ("nikon-d4", "28mm-f1.4")])
def test_presets_build_a_camera_and_give_plausible_star_rates(cam_name, lens_name):
    cam, lens = presets.camera_preset(cam_name), presets.lens_preset(lens_name)
    camera = Camera(width=cam["width"], height=cam["height"], pixel_pitch_m=cam["pixel_pitch_m"],
                    focal_length_m=lens["focal_length_m"], f_number=lens["f_number"],
                    dist_coeffs=lens["dist_coeffs"], channels=cam["channels"])
    spectral = bandpass.camera_spectral(cam["qe_curve"], camera.aperture_area_m2, cam["peak_qe"])
    rates = bandpass.channel_electron_rates([0.0, 6.0], [0.65, 0.65], spectral)
    assert rates.shape == (2, len(cam["channels"]))
    # a V = 0 Sun-like star sends 8.8e9 V-band photons s^-1 m^-2; a colour channel turns ~0.1-0.6 of that many
    # into electrons, a bare monochrome sensor (350-1100 nm, 5x the V bandwidth) ~2x
    per_v_photon = rates[0] / camera.aperture_area_m2 / 8.77e9
    assert np.all((0.1 < per_v_photon) & (per_v_photon < (3.0 if cam["cfa"] is None else 0.6)))
    assert rates[1].sum() == pytest.approx(rates[0].sum() * 10 ** -2.4, rel=1e-9)


def test_camera_vignetting_matches_the_lens_formula():
    """Camera.relative_illumination (compiled for a pinhole camera) against presets.relative_illumination
    with the field angle from atan and rho from the half-diagonal, at random pixels of the Pettit D3S + 14 mm
    camera: within 1e-14 (measured 1 ulp); NaN stays NaN; scalars and broadcasting as numpy."""
    from simulator.config import load_scenario

    cam = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "pettit_2012_cupola.toml").camera
    lens = {"vignetting_cos_power": cam.vignetting_cos_power, "vignetting_mechanical": cam.vignetting_mechanical}
    rng = np.random.default_rng(7)
    x, y = rng.uniform(-200.0, cam.width + 200.0, (40, 50)), rng.uniform(-200.0, cam.height + 200.0, (40, 50))
    x[3, 4] = np.nan
    theta = np.arctan(np.hypot((x - cam.cx) / cam.fx, (y - cam.cy) / cam.fy))
    rho = np.hypot(x - cam.cx, y - cam.cy) / np.hypot(cam.cx, cam.cy)
    want = presets.relative_illumination(lens, theta, rho)
    got = cam.relative_illumination(x, y)
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(got[3, 4])
    assert np.nanmax(np.abs(got - want)) < 1e-14
    assert cam.relative_illumination(cam.cx, cam.cy) == 1.0
    assert cam.relative_illumination(np.array([cam.cx, 0.0]), cam.cy).shape == (2,)
