"""Slow functions of time at many instants: evaluated at nodes minutes apart and splined between them.

The Sun's geocentric position, the Earth's barycentric position and velocity and the precession-nutation
matrix change on scales of days to years (the shortest: the Earth's monthly wobble about the Earth-Moon
barycentre, 27.3 d, and the 13.66 d nutation term of 0.2" amplitude; Kaplan 2005, USNO Circular 179). A cubic
spline through nodes h apart misses a term of amplitude A and angular frequency w by ~(5/384) h^4 A w^4: for
h = 10 min that is < 1e-9 km for the Earth's barycentric position, < 1e-13 km/s for its velocity and
< 1e-12 arcsec for the nutation, far below any effect on an image, while ERFA's series (epv00, c2i06a) cost
~50 us per instant, i.e. seconds over the knots of a long exposure. ``tests/test_time_nodes.py`` compares
each use with ERFA evaluated at every instant.
"""
from __future__ import annotations

import math

import numpy as np
from astropy.time import Time, TimeDelta
from scipy.interpolate import CubicSpline

NODE_SPACING_S = 600.0


def splined(times: Time, evaluate, node_spacing_s: float = NODE_SPACING_S) -> np.ndarray:
    """``evaluate(times)`` (an array [K, ...] of a slow function of time) at every instant of ``times`` [K].

    Evaluated exactly at nodes at most ``node_spacing_s`` apart spanning the instants, and by a cubic spline
    through them in between; when there are not at least four times as many instants as nodes, ``evaluate``
    is called on the instants themselves.
    """
    if not times.shape or len(times) < 2:
        return np.asarray(evaluate(times))
    t = times
    offsets = np.asarray((t - t[0]).to_value("s"), dtype=np.float64)
    lo, hi = float(offsets.min()), float(offsets.max())
    n_nodes = max(int(math.ceil((hi - lo) / node_spacing_s)) + 1, 4)
    if len(t) <= 4 * n_nodes:
        return np.asarray(evaluate(t))
    nodes = np.linspace(lo, hi, n_nodes)
    values = np.asarray(evaluate(t[0] + TimeDelta(nodes, format="sec")))
    return CubicSpline(nodes, values, axis=0)(offsets)
