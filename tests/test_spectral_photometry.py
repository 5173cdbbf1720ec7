"""Photometry v2: B−V → T_eff → blackbody normalised to V → electrons per channel.

The reference integration below is written independently of simulator.sky.spectra and
simulator.camera.bandpass: it reads the raw CSV files with numpy, uses its own Planck function, a 0.1 nm grid
and Simpson's rule (the code under test: 1 nm / 0.5 nm grids, trapezoid rule, a temperature table).
"""
from __future__ import annotations

import pathlib
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import simpson

from simulator.camera import bandpass
from simulator.errors import ScenarioError
from simulator.sky import spectra

CURVES = pathlib.Path(__file__).resolve().parents[1] / "catalogs" / "bandpasses"

# SI constants, typed in independently of the module.
H, C, K = 6.62607015e-34, 2.99792458e8, 1.380649e-23
APERTURE_14MM_F28 = np.pi / 4 * (0.014 / 2.8) ** 2  # m^2


def _read_csv(name):
    lines = [ln for ln in (CURVES / name).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    header = lines[0].split(",")
    rows = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])
    return header, rows


def _planck_photons(lam, t):
    return 2 * C / lam**4 / (np.exp(H * C / (lam * K * t)) - 1)


def _reference_electrons(vmag, bv, qe_file, peak_qe, lens_t=0.9, surface_r=0.02, panes=4, area=APERTURE_14MM_F28):
    """Independent: V normalisation against the Bessell 1998 zero point, then A ∫ F T QE dλ (Simpson, 0.1 nm)."""
    lam = np.arange(380.0, 780.0 + 1e-9, 0.1) * 1e-9
    teff = 4600 * (1 / (0.92 * bv + 1.7) + 1 / (0.92 * bv + 0.62))
    t_ref = 4600 * (1 / 1.7 + 1 / 0.62)
    # V = 0 reference: blackbody of t_ref with 363.1e-11 erg/s/cm2/A at 5450 A, as photons s^-1 m^-2 m^-1
    lam0 = 545e-9
    ph0 = 363.1e-11 * 1e-7 / 1e-4 / 1e-10 * lam0 / (H * C)
    f_ref = ph0 * _planck_photons(lam, t_ref) / _planck_photons(lam0, t_ref)
    # photon-counting V response from the energy response in the CSV: S_V / lambda
    _, vtab = _read_csv("bessell_V.csv")
    p_v = np.interp(lam, vtab[:, 0] * 1e-9, vtab[:, 1], left=0, right=0) / lam
    k = simpson(f_ref * p_v, x=lam) / simpson(_planck_photons(lam, teff) * p_v, x=lam) * 10 ** (-0.4 * vmag)
    flux = k * _planck_photons(lam, teff)
    header, qtab = _read_csv(qe_file)
    qe = np.stack([np.interp(lam, qtab[:, 0] * 1e-9, qtab[:, c], left=0, right=0) for c in range(1, qtab.shape[1])])
    qe = qe / lam
    qe *= peak_qe / qe.max()
    throughput = lens_t * (1 - surface_r) ** (2 * panes)
    return np.array([area * simpson(flux * throughput * q, x=lam) for q in qe]), tuple(header[1:])


@pytest.fixture(scope="module")
def d3s_spectral():
    return bandpass.camera_spectral("nikon_d700", APERTURE_14MM_F28, peak_qe=0.45)


# --- colour -> temperature --------------------------------------------------------------------------------
@pytest.mark.parametrize("bv, teff", [(0.00, 10125), (0.30, 7462), (0.65, 5778), (1.00, 4743), (1.50, 3794),
                                      (-0.30, 16602), (2.00, 3169)])
def test_ballesteros_reference_values(bv, teff):
    assert abs(spectra.teff_from_bv(bv) - teff) <= 5.0  # REFERENCES §6 / §10.6


def test_missing_colour_uses_documented_default_and_range_is_clipped():
    t = spectra.teff_from_bv([np.nan, 0.65, -2.0, -0.40, 9.0, 2.5])
    assert t[0] == t[1] == pytest.approx(5778.4, abs=0.1)  # DEFAULT_BV = 0.65, solar
    assert t[2] == t[3] and t[4] == t[5]  # clipped to [-0.40, 2.50]
    assert np.all(np.isfinite(t)) and np.all(np.diff(spectra.teff_from_bv(np.linspace(-0.4, 2.5, 50))) < 0)


# --- V normalisation --------------------------------------------------------------------------------------
def test_v0_a0v_photon_density_at_5450_angstrom():
    f = spectra.photon_flux_density_for_v(0.0, spectra.teff_from_bv(0.0), [545e-9])
    per_cm2_per_angstrom = f[0, 0] * 1e-4 * 1e-10
    assert per_cm2_per_angstrom == pytest.approx(996.0, rel=2e-3)  # REFERENCES §10.5: 996 ph s^-1 cm^-2 A^-1


def test_planck_photon_radiance_matches_energy_planck():
    lam, t = np.array([400e-9, 550e-9, 900e-9]), 5778.0
    b_energy = 2 * H * C**2 / lam**5 / np.expm1(H * C / (lam * K * t))  # W m^-2 m^-1 sr^-1
    assert np.allclose(spectra.planck_photon_radiance(lam, t) * H * C / lam, b_energy, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(vmag=st.floats(-1.5, 12.0), teff=st.floats(2500.0, 30000.0))
def test_synthetic_v_magnitude_equals_requested_v(vmag, teff):
    lam = bandpass.WAVELENGTH_GRID_M
    flux = spectra.photon_flux_density_for_v(vmag, teff, lam)
    assert spectra.synthetic_v_magnitude(lam, flux)[0] == pytest.approx(vmag, abs=2e-4)


def test_v_zero_flux_is_close_to_photometry_v1():
    # v1: 996 ph s^-1 cm^-2 A^-1 flat over the 893.1 A equivalent width = 8.90e9 ph s^-1 m^-2
    assert spectra.v_zero_photon_flux() == pytest.approx(8.90e9, rel=0.03)


# --- electrons per channel --------------------------------------------------------------------------------
@pytest.mark.parametrize("qe_file, name, peak_qe", [("nikon_d700.csv", "nikon_d700", 0.45),
                                                     ("sony_ilce7sm2.csv", "sony_ilce7sm2", 0.55)])
@pytest.mark.parametrize("bv", [0.0, 1.0, -0.3])
def test_channel_rates_match_independent_integration(qe_file, name, peak_qe, bv):
    cs = bandpass.camera_spectral(name, APERTURE_14MM_F28, peak_qe=peak_qe)
    expected, channels = _reference_electrons(0.0, bv, qe_file, peak_qe)
    got = bandpass.channel_electron_rates(0.0, bv, cs)[0]
    assert cs.channels == channels == ("R", "G", "B")
    np.testing.assert_allclose(got, expected, rtol=0.01)  # issue 3: to 1 %
    np.testing.assert_allclose(got, expected, rtol=2e-5)  # and in fact much closer (3e-6)


def test_mono_star_tracker_matches_independent_integration():
    _, tab = _read_csv("mono_fsi_cmos_estimate.csv")
    area = np.pi / 4 * (0.085 / 1.4) ** 2
    cs = bandpass.camera_spectral("mono_fsi_cmos_estimate", area, window_panes=0)
    lam = np.arange(350.0, 1100.0 + 1e-9, 0.1) * 1e-9
    t0 = 4600 * (1 / 1.7 + 1 / 0.62)
    ph0 = 3.631e-2 * 545e-9 / (H * C)
    flux = ph0 * _planck_photons(lam, t0) / _planck_photons(545e-9, t0)  # V = 0, B-V = 0: the reference itself
    qe = np.interp(lam, tab[:, 0] * 1e-9, tab[:, 1])
    expected = area * 0.9 * simpson(flux * qe, x=lam)
    got = bandpass.channel_electron_rates(0.0, 0.0, cs)[0, 0]
    assert got == pytest.approx(expected, rel=1e-4)


def test_magnitude_steps_scale_by_pogson_ratio(d3s_spectral):
    v = np.array([0.0, 1.0, 2.5, 5.0, 10.0, 15.0])
    bv = np.full(v.shape, 0.8)
    rates = bandpass.channel_electron_rates(v, bv, d3s_spectral)
    ratio = rates / rates[0]
    np.testing.assert_allclose(ratio, np.broadcast_to(10 ** (-0.4 * v)[:, None], ratio.shape), rtol=1e-9, atol=0)
    flux = spectra.photon_flux_density_for_v(v, 5000.0, bandpass.WAVELENGTH_GRID_M)
    np.testing.assert_allclose(flux / flux[0], np.broadcast_to(10 ** (-0.4 * v)[:, None], flux.shape), rtol=1e-9)


def test_a_camera_with_the_v_response_sees_no_colour():
    # QE ∝ the photon-counting V response, no lens or window losses: electrons depend on V only, not on B−V.
    cs = bandpass.camera_spectral("bessell_V", 1.0, peak_qe=1.0, lens_transmission_value=1.0, window_panes=0)
    rates = bandpass.channel_electron_rates(np.zeros(6), [-0.3, 0.0, 0.4, 0.9, 1.5, 2.2], cs)[:, 0]
    assert np.ptp(rates) / rates.mean() < 1e-5  # the two integrals use 1 nm and 0.5 nm grids


@pytest.mark.parametrize("curve", ["nikon_d700", "sony_ilce7sm2"])
def test_red_stars_are_redder_in_the_camera(curve):
    cs = bandpass.camera_spectral(curve, APERTURE_14MM_F28, peak_qe=0.5)
    bv = np.array([-0.3, 0.0, 0.3, 0.65, 1.0, 1.5, 2.0])
    rates = bandpass.channel_electron_rates(np.zeros(bv.size), bv, cs)
    r_over_b = rates[:, 0] / rates[:, 2]
    assert np.all(np.diff(r_over_b) > 0)
    assert r_over_b[-1] > 3 * r_over_b[0]
    hot, cool = rates[0], rates[-1]
    assert hot[2] > hot[0] and cool[0] > cool[2]  # blue star: B > R; red star: R > B


def test_temperature_table_accuracy_and_speed(d3s_spectral):
    rng = np.random.default_rng(3)
    teff = rng.uniform(2700.0, 22000.0, 2000)
    rel = d3s_spectral.ratio(teff) / d3s_spectral.ratio_exact(teff) - 1
    assert np.abs(rel).max() < 1e-5
    n = 100_000
    v, bv = rng.uniform(-1, 9, n), rng.uniform(-0.4, 2.5, n)
    bv[::50] = np.nan
    t0 = time.perf_counter()
    rates = bandpass.channel_electron_rates(v, bv, d3s_spectral)
    assert time.perf_counter() - t0 < 1.0
    assert rates.shape == (n, 3) and np.all(np.isfinite(rates)) and np.all(rates > 0)
    exact = bandpass.channel_electron_rates_exact(v[:200], spectra.teff_from_bv(bv[:200]), d3s_spectral)
    np.testing.assert_allclose(rates[:200], exact, rtol=1e-5)


def test_window_and_lens_transmission():
    lam = np.array([587.6e-9])
    assert bandpass.fused_silica_index(lam)[0] == pytest.approx(1.4585, abs=2e-4)  # n_d of fused silica
    assert bandpass.window_transmission(lam)[0] == pytest.approx(0.98**8, rel=1e-12)
    uncoated = bandpass.window_transmission(lam, surface_reflectance="uncoated")[0]
    assert 0.74 < uncoated < 0.77  # 8 uncoated fused-silica surfaces
    assert bandpass.window_transmission(lam, panes=0)[0] == 1.0
    assert np.all(bandpass.lens_transmission() == 0.9)


def test_curves_load_with_provenance_and_unknown_names_fail():
    for name in bandpass.curve_names():
        curve = bandpass.load_curve(name)
        assert "licen" in curve.header.lower() or "bsd" in curve.header.lower()
        assert curve.values.shape[0] == curve.wavelength_m.size and np.all(curve.values >= 0)
    qe = bandpass.quantum_efficiency("nikon_d700", 0.45)
    assert qe.max() == pytest.approx(0.45) and np.all(qe[:, bandpass.WAVELENGTH_GRID_NM > 780] == 0)
    with pytest.raises(ScenarioError) as err:
        bandpass.load_curve("canon_5d")
    assert err.value.field == "camera.qe_curve" and "nikon_d700" in str(err.value)
    with pytest.raises(ValueError):
        bandpass.quantum_efficiency("nikon_d700")  # a relative curve needs peak_qe
