"""City-lights grid: bright where the big cities are, lookups, photon-rate radiometry, cap selection."""

import numpy as np
import pytest
import astropy.units as u
from astropy.constants import c, h

from simulator.earth import city_lights as cl_mod
from simulator.earth.city_lights import (ground_point_photon_rate, lit_points, load_city_lights,
                                         radiance_at)

CITIES = {  # (lat, lon) of city centres, degrees
    "Tokyo": (35.68, 139.69),
    "New York": (40.71, -74.01),
    "Cairo": (30.04, 31.24),
    "Paris": (48.86, 2.35),
}
DARK = {"central Sahara": (23.0, 13.0), "mid-Pacific": (0.0, -150.0), "central Pacific S": (-30.0, -130.0)}


def _haversine_deg(lat1, lon1, lat2, lon2):
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(x, dtype=float)) for x in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(a)))


def test_grid_layout_and_metadata():
    cl = load_city_lights()
    assert cl.radiance.shape == (1024, 2048) and cl.radiance.dtype == np.float32
    assert cl.cell_deg == pytest.approx(180 / 1024)
    assert cl.lat_deg[0] == pytest.approx(90 - cl.cell_deg / 2)
    assert cl.lon_deg[0] == pytest.approx(-180 + cl.cell_deg / 2)
    assert len(str(cl.meta["source_sha256"])) == 64
    assert cl.meta["radiance_unit"] == "nW cm^-2 sr^-1"
    # cell areas tile the sphere
    total = cl.cell_area_m2(np.arange(cl.lat_deg.size)).sum() * cl.lon_deg.size
    assert total == pytest.approx(4 * np.pi * cl_mod.EARTH_MEAN_RADIUS_M**2, rel=1e-9)


@pytest.mark.parametrize("name", sorted(CITIES))
def test_major_cities_are_among_brightest_cells(name):
    rad = load_city_lights().radiance
    v = radiance_at(*CITIES[name])
    assert v > 30.0
    assert (rad > v).mean() < 0.01  # in the top 1 % of all cells
    assert (rad > v).sum() / (rad > 0).sum() < 0.02  # and the top 2 % of lit cells


@pytest.mark.parametrize("name", sorted(DARK))
def test_dark_regions(name):
    assert radiance_at(*DARK[name]) < 0.5


def test_lookup_round_trip_cell_centres():
    cl = load_city_lights()
    rng = np.random.default_rng(4)
    r = rng.integers(0, cl.lat_deg.size, 500)
    c = rng.integers(0, cl.lon_deg.size, 500)
    # include bright cells too
    br, bc = np.unravel_index(np.argsort(cl.radiance, axis=None)[-50:], cl.radiance.shape)
    r, c = np.concatenate([r, br]), np.concatenate([c, bc])
    got = radiance_at(cl.lat_deg[r], cl.lon_deg[c])
    np.testing.assert_array_equal(got, cl.radiance[r, c])
    # longitude wraps
    assert radiance_at(cl.lat_deg[br[0]], cl.lon_deg[bc[0]] + 360.0) == cl.radiance[br[0], bc[0]]


def test_photon_rate_matches_hand_computation():
    L = 80.0 * u.nW / u.cm**2 / u.sr
    area = 3.0e8 * u.m**2
    d = 600.0 * u.km
    ap = np.pi * (12.5 * u.mm) ** 2
    lam = 700 * u.nm
    power = (L * area * (ap / d**2) * u.sr).to(u.W)
    expected = (power / (h * c / lam)).to(1 / u.s).value
    got = ground_point_photon_rate(80.0, 3.0e8, 600e3, ap.to(u.m**2).value)
    assert got == pytest.approx(expected, rel=1e-9)
    # cosines and transmittance scale linearly
    got2 = ground_point_photon_rate(80.0, 3.0e8, 600e3, ap.to(u.m**2).value,
                                    cos_emission=0.5, cos_incidence=0.8, transmittance=0.7)
    assert got2 == pytest.approx(expected * 0.5 * 0.8 * 0.7, rel=1e-9)


@pytest.mark.parametrize("cap", [(35.68, 139.69, 3.0), (51.5, -0.1, 5.0), (70.0, 179.0, 6.0)])
def test_lit_points_cap(cap):
    lat, lon, rad, area = lit_points(1.0, cap=cap)
    assert lat.size == lon.size == rad.size == area.size
    assert np.all(rad >= 1.0) and np.all(area > 0)
    assert np.all(_haversine_deg(cap[0], cap[1], lat, lon) <= cap[2] + 1e-9)
    # completeness: every lit cell of the whole map inside the cap is returned
    glat, glon, grad, _ = lit_points(1.0)
    inside = _haversine_deg(cap[0], cap[1], glat, glon) <= cap[2]
    assert inside.sum() == lat.size


def test_lit_points_bbox_and_wrap():
    lat, lon, rad, _ = lit_points(5.0, bbox=(30, 45, 125, 150))
    assert lat.size > 0 and np.all((lat >= 30) & (lat <= 45) & (lon >= 125) & (lon <= 150))
    lat, lon, _, _ = lit_points(0.0, bbox=(-20, -10, 175, -175))
    assert np.all((lon >= 175) | (lon <= -175))
    with pytest.raises(ValueError):
        lit_points(1.0, bbox=(0, 1, 0, 1), cap=(0, 0, 1))


# --- lamp spectra through a camera -------------------------------------------------------------------------

def _d3s_camera():
    from simulator.config import parse_scenario

    from .conftest import small_scenario_text
    text = small_scenario_text().replace('width = 320\nheight = 214\npixel_pitch = "100 um"\nfocal_length = "12.5 mm"\n'
                                         'f_number = 2.8\npsf_sigma = "0.8 pix"', 'preset = "nikon-d3s"\nlens = "14-24mm-f2.8@14mm"')
    return parse_scenario(text).camera


def test_lamp_spectra_are_the_cie_tables():
    """HP1 peaks in the self-reversed sodium D wings (~595 nm, CIE 15:2004); LED-B3 has its blue pump near 450 nm."""
    lam, p = cl_mod.lamp_spectrum("hps")
    assert lam[0] == pytest.approx(380e-9) and lam[-1] == pytest.approx(780e-9) and lam.size == 81
    assert 585e-9 <= lam[np.argmax(p)] <= 600e-9
    lam, p = cl_mod.lamp_spectrum("led")
    blue = (lam >= 430e-9) & (lam <= 470e-9)
    assert p[blue].max() > 0.5 and 440e-9 <= lam[blue][np.argmax(p[blue])] <= 465e-9


def test_electrons_per_joule_matches_an_independent_riemann_sum():
    """K_c = sum P(l) l/(hc) R_c(l) / sum_{500..780} P(l) on a 0.1 nm grid, and the slant factor exp(-tau (m-1))."""
    from simulator.camera.bandpass import spectral_response
    from simulator.earth.atmosphere import vertical_optical_depths

    cam = _d3s_camera()
    resp = spectral_response(cam)
    lam_s, p_s = cl_mod.lamp_spectrum("hps")
    grid = np.arange(380e-9, 780e-9, 0.1e-9)
    p = np.interp(grid, lam_s, p_s)
    in_band = p[grid >= 500e-9].sum()
    for excess in (0.0, 5.0):
        tau = sum(vertical_optical_depths(grid).values())
        ref = np.array([(p * grid / (h.value * c.value) * np.interp(grid, resp.wavelength_m, resp.response[ch], left=0, right=0)
                         * np.exp(-tau * excess)).sum() / in_band for ch in range(3)])
        got = cl_mod.electrons_per_joule(cam, "hps", excess)
        assert np.allclose(got, ref, rtol=2e-3)


def test_sodium_light_is_redder_than_led_light():
    cam = _d3s_camera()
    hps, led = cl_mod.electrons_per_joule(cam, "hps"), cl_mod.electrons_per_joule(cam, "led")
    assert hps[0] / hps[2] > 3.0 * led[0] / led[2]  # R/B: sodium orange, LED bluish white
    # more extinction reddens: the slant path takes more blue than red
    slant = cl_mod.electrons_per_joule(cam, "hps", 10.0)
    assert slant[0] / slant[2] > hps[0] / hps[2]


def test_relative_airmass_is_kasten_young():
    """Airmass 1 at the zenith, close to the plane-parallel sec z = 2 at 30 deg elevation (0.5 %), and ~38 at the
    horizon (the commonly quoted value for the real atmosphere, which Kasten & Young fitted)."""
    assert cl_mod.relative_airmass(90.0) == pytest.approx(1.0, abs=5e-4)
    assert cl_mod.relative_airmass(30.0) == pytest.approx(2.0, rel=5e-3)
    assert cl_mod.relative_airmass(0.0) == pytest.approx(38.0, abs=0.5)
    assert np.all(np.diff(cl_mod.relative_airmass(np.linspace(0.0, 90.0, 91))) < 0)
