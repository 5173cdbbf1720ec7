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
