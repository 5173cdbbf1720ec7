"""The WGS84 ellipsoid, geodetic altitude, and the Earth's rotation pole in GCRS."""
from __future__ import annotations

import math

import erfa
import numpy as np
from astropy.time import Time
from numba import njit

# WGS84 defining constants (NIMA TR8350.2): semi-major axis and flattening.
WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563
WGS84_B_KM = WGS84_A_KM * (1.0 - WGS84_F)
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)


def earth_pole_gcrs(epoch: Time) -> np.ndarray:
    """Unit vector [3] of the Earth's rotation pole (the CIP, IAU 2006/2000A) in GCRS at ``epoch``.

    Polar motion (< 0.5", i.e. < 15 m at the limb) is neglected, so no IERS table is needed.
    """
    tt = epoch.tt
    k = np.asarray(erfa.c2i06a(tt.jd1, tt.jd2))[2]  # GCRS -> CIRS matrix; its third row is the CIP
    return k / np.linalg.norm(k)


def pole_frame(pole: np.ndarray) -> np.ndarray:
    """Rotation matrix [3, 3] from GCRS to a frame whose +z is ``pole`` (the ellipsoid is symmetric about z)."""
    z = pole / np.linalg.norm(pole)
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = helper - z * (helper @ z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


@njit(cache=True)
def geodetic_altitude(x, y, z):
    """Geodetic altitude (km) above WGS84 of a point in an Earth-fixed-axes frame with +z the pole."""
    r = math.sqrt(x * x + y * y)
    lat = math.atan2(z, r * (1.0 - WGS84_E2))
    for _ in range(4):  # converges to < 1 mm in 3 iterations below 1000 km altitude
        s = math.sin(lat)
        n = WGS84_A_KM / math.sqrt(1.0 - WGS84_E2 * s * s)
        h = r * math.cos(lat) + z * s - WGS84_A_KM * WGS84_A_KM / n
        lat = math.atan2(z, r * (1.0 - WGS84_E2 * n / (n + h)))
    s = math.sin(lat)
    n = WGS84_A_KM / math.sqrt(1.0 - WGS84_E2 * s * s)
    return r * math.cos(lat) + z * s - WGS84_A_KM * WGS84_A_KM / n
