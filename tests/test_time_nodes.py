"""time_nodes.splined: slow functions of time splined between nodes 10 min apart, against ERFA at every instant.

Each use is compared with the same function evaluated instant by instant (no spline) over a 2-hour span
with irregular instants (more than four per node, so the spline path is taken).
"""
import numpy as np
import pytest
from astropy import units as u
from astropy.time import Time

from simulator.orbit.eclipse import sun_gcrs_km, sun_gcrs_km_splined
from simulator.orbit.tle import _c2i, teme_to_gcrs
from simulator.sky.apparent import observer_barycentric
from simulator.time_nodes import splined

START = Time("2012-03-25T01:15:00", scale="utc")


@pytest.fixture(scope="module")
def times():
    rng = np.random.default_rng(4)
    return START + np.sort(rng.uniform(0.0, 7200.0, 200)) * u.s


def _one_by_one(times, fn):
    return np.stack([np.asarray(fn(times[i:i + 1]))[0] for i in range(len(times))])


def test_precession_nutation_matrix(times):
    """The GCRS -> CIRS matrix splined matches erfa.c2i06a to 1e-14 (2 microarcsec)."""
    assert np.max(np.abs(splined(times, _c2i) - _one_by_one(times, _c2i))) < 1e-14


def test_teme_to_gcrs_states(times):
    """ISS-like TEME states rotated with the splined matrices: within 1 mm and 1e-9 km/s of the direct ones."""
    r = np.tile([6778.0, 100.0, -50.0], (len(times), 1))
    v = np.tile([0.1, 7.6, 0.5], (len(times), 1))
    rg, vg = teme_to_gcrs(times, r, v)
    direct = [teme_to_gcrs(times[i:i + 1], r[i:i + 1], v[i:i + 1]) for i in range(len(times))]
    assert np.max(np.abs(rg - np.concatenate([d[0] for d in direct]))) < 1e-6
    assert np.max(np.abs(vg - np.concatenate([d[1] for d in direct]))) < 1e-9


def test_earth_barycentric(times):
    """The Earth's barycentric position (au) and velocity (km/s): 1e-12 au (0.15 m) and 1e-10 km/s."""
    zeros = np.zeros((len(times), 3))
    p, v = observer_barycentric(times, zeros, zeros)
    direct = [observer_barycentric(times[i:i + 1], zeros[:1], zeros[:1]) for i in range(len(times))]
    assert np.max(np.abs(p - np.concatenate([d[0] for d in direct]))) < 1e-12
    assert np.max(np.abs(v - np.concatenate([d[1] for d in direct]))) < 1e-10


def test_sun(times):
    """The geocentric Sun (astropy get_body, light time included): within 1e-4 km."""
    assert np.max(np.abs(sun_gcrs_km_splined(times) - sun_gcrs_km(times))) < 1e-4


@pytest.mark.parametrize("body", ["moon", "venus", "jupiter", "sun"])
def test_solar_system_bodies(times, body):
    """The Moon, planets and Sun (astropy builtin ephemeris, sky/solar_system.py's _barycentric) splined:
    within 1 m of astropy at every instant (measured 0.35-8.8 mm)."""
    from astropy.coordinates import get_body_barycentric

    from simulator.sky.solar_system import _barycentric

    direct = get_body_barycentric(body, times, ephemeris="builtin").xyz.to_value(u.km).T
    assert np.max(np.abs(_barycentric(body, times) - direct)) < 1e-3


def test_few_instants_are_evaluated_directly():
    """Fewer than four instants per node: no spline, the function itself."""
    t = START + np.array([0.0, 1.0, 2.0]) * u.s
    assert np.array_equal(splined(t, _c2i), _c2i(t))


def test_itrs_to_gcrs_matrices_splined(times):
    """The Earth-fixed to GCRS rotation splined between nodes 30 s apart (rotation.itrs_to_gcrs_matrices_splined)
    matches ERFA's c2t06a at every instant to 2e-12 (measured 5.9e-13, 1.2e-7 arcsec: a ground point moves by
    < 0.01 mm), over 1,000 instants 0.2-6 s apart, as a flash list's are."""
    from simulator.earth.rotation import itrs_to_gcrs_matrices, itrs_to_gcrs_matrices_splined

    t = START + np.cumsum(np.random.default_rng(5).uniform(0.2, 6.0, 1000)) * u.s  # (> 4 per node: splined)
    assert np.max(np.abs(itrs_to_gcrs_matrices_splined(t) - itrs_to_gcrs_matrices(t))) < 2e-12
