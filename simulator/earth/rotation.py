"""The Earth's orientation: ITRS (Earth-fixed) to GCRS rotation at given times, and WGS84 ground points in GCRS.

ITRS -> GCRS is the transpose of ERFA's celestial-to-terrestrial matrix ``c2t06a`` (IAU 2006/2000A
precession-nutation, Earth rotation angle from UT1, polar motion; IERS Conventions 2010, ch. 5). UT1 - UTC
and the pole coordinates come from the IERS tables bundled with astropy (astropy-iers-data: IERS-B final
values, then the IERS-A rapid/predicted values), never from a download. Outside the bundled tables the last
tabulated values are held and a warning says so: |UT1 - UTC| < 0.9 s, so the ground may then be off by up
to ~0.4 km along the equator.

Ground points here are on (or at ``height_km`` above) the WGS84 ellipsoid, whose axes are the ITRS axes.
"""
from __future__ import annotations

import functools
import warnings

import erfa
import numpy as np
from astropy.time import Time
from astropy.utils import iers

from .ellipsoid import WGS84_A_KM, WGS84_E2

ARCSEC_RAD = np.pi / (180.0 * 3600.0)


@functools.lru_cache(maxsize=1)
def _bundled_table():
    """The IERS-A table shipped with astropy-iers-data (it also holds the IERS-B values it was built from)."""
    return iers.IERS_A.open(iers.IERS_A_FILE)


def earth_orientation(times: Time) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UT1 - UTC (s) and the pole coordinates x_p, y_p (rad) at ``times`` from the bundled IERS table."""
    times = Time(times)
    table = _bundled_table()
    jd1, jd2 = times.utc.jd1, times.utc.jd2
    dut1, status = table.ut1_utc(jd1, jd2, return_status=True)
    xp, yp, pm_status = table.pm_xy(jd1, jd2, return_status=True)
    outside = (np.asarray(status) < 0) | (np.asarray(pm_status) < 0)
    if np.any(outside):
        warnings.warn("Earth orientation: the exposure lies outside astropy's bundled IERS table; the last tabulated "
                      "UT1-UTC and polar motion are used, so ground positions may be off by up to ~0.4 km",
                      stacklevel=2)
    return (np.asarray(dut1.to_value("s"), dtype=np.float64),
            np.asarray(xp.to_value("arcsec"), dtype=np.float64) * ARCSEC_RAD,
            np.asarray(yp.to_value("arcsec"), dtype=np.float64) * ARCSEC_RAD)


def itrs_to_gcrs_matrices(times: Time) -> np.ndarray:
    """Rotation matrices [..., 3, 3] with v_gcrs = M @ v_itrs at ``times`` (UTC ``Time``, scalar or array)."""
    times = Time(times)
    dut1, xp, yp = earth_orientation(times)
    tt = times.tt
    utc = times.utc
    # UT1 as a two-part Julian date: UTC + (UT1 - UTC)
    ut1_1, ut1_2 = utc.jd1, utc.jd2 + dut1 / 86400.0
    c2t = erfa.c2t06a(tt.jd1, tt.jd2, ut1_1, ut1_2, xp, yp)
    return np.swapaxes(np.asarray(c2t), -1, -2)


# node spacing of itrs_to_gcrs_matrices_splined: a cubic spline through nodes h apart misses a rotation at the
# Earth's rate w = 7.29e-5 rad/s by ~(5/384) h^4 w^4 = 3e-13 rad at h = 30 s (6e-8 arcsec; time_nodes)
ITRS_NODE_SPACING_S = 30.0


def itrs_to_gcrs_matrices_splined(times: Time) -> np.ndarray:
    """itrs_to_gcrs_matrices at many instants [K]: exact at nodes ITRS_NODE_SPACING_S apart, a cubic spline of
    the matrix elements between them (within 1e-12 of ERFA at every instant; ERFA's c2t06a costs ~26 us per
    instant: 0.16 s for the ~6,000 flashes of the Pettit scenario)."""
    from ..time_nodes import splined

    return splined(Time(times), itrs_to_gcrs_matrices, node_spacing_s=ITRS_NODE_SPACING_S)


def geodetic_to_itrs_km(lat_deg, lon_deg, height_km=0.0) -> np.ndarray:
    """Earth-fixed (ITRS) positions [..., 3] in km of WGS84 geodetic latitude, longitude (deg) and height (km)."""
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    h = np.asarray(height_km, dtype=np.float64)
    n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
    return np.stack([(n + h) * np.cos(lat) * np.cos(lon), (n + h) * np.cos(lat) * np.sin(lon),
                     (n * (1.0 - WGS84_E2) + h) * np.sin(lat)], axis=-1)


def geodetic_normal_itrs(lat_deg, lon_deg) -> np.ndarray:
    """Outward unit normals [..., 3] of the WGS84 ellipsoid (the local vertical) in ITRS axes."""
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def ground_points_gcrs_km(lat_deg, lon_deg, matrices: np.ndarray, height_km=0.0) -> tuple[np.ndarray, np.ndarray]:
    """GCRS positions [M, K, 3] (km) and outward normals [M, K, 3] of ground points at K epochs.

    ``matrices`` are ITRS -> GCRS rotations [K, 3, 3] (``itrs_to_gcrs_matrices``).
    """
    p = geodetic_to_itrs_km(lat_deg, lon_deg, height_km)
    n = geodetic_normal_itrs(lat_deg, lon_deg)
    return np.einsum("kij,mj->mki", matrices, p), np.einsum("kij,mj->mki", matrices, n)
