"""Earth occultation of stars: the line of sight from the ISS grazing the WGS84 ellipsoid.

A star is hidden while the half-line from the observer toward it passes below ``altitude_km`` above
the WGS84 ellipsoid. The minimum geodetic altitude along the half-line (the tangent altitude) is found
in closed form on the ellipsoid scaled to a sphere (its closest approach), then converted to an exact
geodetic altitude at that point; the two minima differ by ~1 mm in altitude for tangent altitudes below
100 km. Hiding and reappearing times are solved by bisection to 1e-9 s on the observer position
interpolated with cubic Hermite polynomials through the knot states (error < 1 mm over 10 s knots).

The ray direction used is the star's geocentric apparent direction (aberrated by the Earth's barycentric
velocity only): the light ray is straight in the geocentric frame; the ISS's own velocity changes the
direction in which the camera sees it, not where the ray passes the Earth.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .ellipsoid import WGS84_A_KM, WGS84_B_KM, geodetic_altitude, pole_frame

# Farther than this many km from the hiding altitude the cheap scaled-sphere altitude is returned instead
# of the exact geodetic one: the two differ by less than a - b = 21.4 km, so the sign test is unaffected.
EXACT_MARGIN_KM = 50.0


@njit(cache=True)
def tangent_altitude(ox, oy, oz, dx, dy, dz, exact_near=0.0, margin=1e300):
    """Minimum geodetic altitude (km) along the half-line o + s d, s >= 0 (pole-frame coordinates, km).

    Exact within ``margin`` km of ``exact_near``; farther away, an approximation good to ~21 km (the
    altitude of the closest point on the ellipsoid scaled to a sphere), used only for speed.
    """
    k = WGS84_A_KM / WGS84_B_KM  # scale z so the ellipsoid becomes a sphere
    sx, sy, sz = ox, oy, oz * k
    ex, ey, ez = dx, dy, dz * k
    s = -(sx * ex + sy * ey + sz * ez) / (ex * ex + ey * ey + ez * ez)
    if s <= 0.0:
        s = 0.0
    px, py, pz = sx + s * ex, sy + s * ey, sz + s * ez
    approx = math.sqrt(px * px + py * py + pz * pz) - WGS84_A_KM
    if abs(approx - exact_near) > margin:
        return approx
    return geodetic_altitude(ox + s * dx, oy + s * dy, oz + s * dz)


@njit(cache=True)
def _hermite(t0, t1, p0, v0, p1, v1, t):
    """Cubic Hermite interpolation of a position (km) between two states (km, km/s)."""
    h = t1 - t0
    f = (t - t0) / h
    f2 = f * f
    f3 = f2 * f
    h00 = 2 * f3 - 3 * f2 + 1
    h10 = f3 - 2 * f2 + f
    h01 = -2 * f3 + 3 * f2
    h11 = f3 - f2
    return h00 * p0 + h10 * h * v0 + h01 * p1 + h11 * h * v1


@njit(cache=True)
def _excess_at(t0, t1, pos, vel, k, d, altitude_km, t):
    """Tangent altitude (km) above altitude_km of direction d seen from the Hermite orbit at time t."""
    px = _hermite(t0, t1, pos[k, 0], vel[k, 0], pos[k + 1, 0], vel[k + 1, 0], t)
    py = _hermite(t0, t1, pos[k, 1], vel[k, 1], pos[k + 1, 1], vel[k + 1, 1], t)
    pz = _hermite(t0, t1, pos[k, 2], vel[k, 2], pos[k + 1, 2], vel[k + 1, 2], t)
    return tangent_altitude(px, py, pz, d[0], d[1], d[2]) - altitude_km


# the crossing is bracketed to this (s) before its middle is returned
CROSSING_TOLERANCE_S = 1e-9


@njit(cache=True)
def _crossing_time(t0, t1, pos, vel, k, d, altitude_km):
    """Time in [t0, t1] where the tangent altitude crosses altitude_km on the Hermite orbit: the middle of a
    bracket narrower than CROSSING_TOLERANCE_S, found by the Illinois variant of regula falsi (the end that
    stays is given half its weight, so both ends close in: ~10 evaluations instead of bisection's ~31), with a
    bisection step wherever the secant would leave the bracket."""
    lo, hi = t0, t1
    g_lo = _excess_at(t0, t1, pos, vel, k, d, altitude_km, lo)  # (the Hermite orbit is the knots' states there)
    g_hi = _excess_at(t0, t1, pos, vel, k, d, altitude_km, hi)
    if (g_lo > 0.0) == (g_hi > 0.0):  # (no sign change at the ends: bisection on the sign at t0, as before)
        g_hi = -g_lo
    kept = 0  # the end kept by the last step: -1 lo, +1 hi
    for it in range(200):
        tm = (lo * g_hi - hi * g_lo) / (g_hi - g_lo)
        if not (lo < tm < hi) or it >= 60:
            tm = 0.5 * (lo + hi)
        gm = _excess_at(t0, t1, pos, vel, k, d, altitude_km, tm)
        if gm == 0.0:
            return tm
        if (gm > 0.0) == (g_lo > 0.0):
            lo, g_lo = tm, gm
            if kept == 1:
                g_hi *= 0.5
            kept = 1
        else:
            hi, g_hi = tm, gm
            if kept == -1:
                g_lo *= 0.5
            kept = -1
        if hi - lo < CROSSING_TOLERANCE_S:
            break
    return 0.5 * (lo + hi)


@njit(parallel=True, cache=True)
def tangent_altitudes(pos, directions, exact_near=0.0, margin=1e300):
    """Tangent altitudes [N, K] (km) of star directions [N, 3] seen from observer positions [K, 3] (pole frame).

    Exact within ``margin`` km of ``exact_near`` km, approximate (to ~21 km) farther away.
    """
    n, k_n = directions.shape[0], pos.shape[0]
    out = np.empty((n, k_n))
    for j in prange(n):
        for k in range(k_n):
            out[j, k] = tangent_altitude(pos[k, 0], pos[k, 1], pos[k, 2],
                                         directions[j, 0], directions[j, 1], directions[j, 2], exact_near, margin)
    return out


@njit(cache=True, inline="always")
def _count_intervals(h_row, altitude_km):
    """How many visible intervals a source's tangent altitudes at the knots (h_row [K], km) give: one per rise
    above altitude_km, and one if it starts above."""
    up = h_row[0] > altitude_km
    c = 1 if up else 0
    for k in range(h_row.shape[0] - 1):
        up_next = h_row[k + 1] > altitude_km
        if up_next and not up:
            c += 1
        up = up_next
    return c


@njit(cache=True, inline="always")
def _fill_intervals(t, h_row, altitude_km, pos, vel, d, exact, starts, stops, m):
    """Write a source's visible intervals (s) into starts, stops from slot m on; returns the next free slot.
    Each crossing of altitude_km between two knots is solved on the Hermite orbit for the fixed direction d
    (exact: _crossing_time), or else placed by linear interpolation of h_row."""
    k_n = t.shape[0]
    up = h_row[0] > altitude_km
    t_open = t[0]
    for k in range(k_n - 1):
        up_next = h_row[k + 1] > altitude_km
        if up_next != up:
            if exact:
                tc = _crossing_time(t[k], t[k + 1], pos, vel, k, d, altitude_km)
            else:
                a, b = h_row[k] - altitude_km, h_row[k + 1] - altitude_km
                tc = t[k] + (t[k + 1] - t[k]) * a / (a - b)
            if up:
                starts[m] = t_open
                stops[m] = tc
                m += 1
            else:
                t_open = tc
            up = up_next
    if up:
        starts[m] = t_open
        stops[m] = t[k_n - 1]
        m += 1
    return m


@njit(parallel=True, cache=True)
def _intervals_csr(t, pos, vel, directions, h_tan, altitude_km, exact):
    """Visible (un-occulted) time intervals per source as CSR arrays (sources in parallel: each one's intervals
    are counted from the signs at the knots, then solved into its own slots). directions [N, 3] (fixed; unused
    unless exact)."""
    n = h_tan.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    for j in prange(n):
        counts[j] = _count_intervals(h_tan[j], altitude_km)
    ptr = np.zeros(n + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(counts)
    starts = np.empty(ptr[n])
    stops = np.empty(ptr[n])
    for j in prange(n):
        _fill_intervals(t, h_tan[j], altitude_km, pos, vel, directions[j], exact, starts, stops, ptr[j])
    return ptr, starts, stops


def visibility_intervals(t, pos_gcrs_km, vel_gcrs_km_s, directions_gcrs, pole_gcrs, altitude_km, exact_near=None,
                         margin=EXACT_MARGIN_KM):
    """Un-occulted intervals of each star during the knots' span.

    t [K] s; observer GCRS states [K, 3] (km, km/s); geocentric apparent star directions [N, 3] (GCRS);
    pole_gcrs: Earth rotation axis; altitude_km: hiding altitude above WGS84.
    Returns (iv_ptr [N+1], iv_start, iv_stop) in s, and the tangent altitudes [N, K] in km, exact within
    ``margin`` km of ``exact_near`` (default: EXACT_MARGIN_KM of ``altitude_km``), approximate farther away
    (to 21.4 km: the window must hold altitude_km ± 21.4 km for the intervals to be the same).
    """
    exact_near = float(altitude_km) if exact_near is None else float(exact_near)
    if abs(altitude_km - exact_near) + (WGS84_A_KM - WGS84_B_KM) > margin:
        raise ValueError(f"the exact window {exact_near} +- {margin} km must hold {altitude_km} +- 21.4 km")
    rot = pole_frame(np.asarray(pole_gcrs, dtype=np.float64))
    pos = np.ascontiguousarray(pos_gcrs_km @ rot.T)
    vel = np.ascontiguousarray(vel_gcrs_km_s @ rot.T)
    dirs = np.ascontiguousarray(directions_gcrs @ rot.T)
    h_tan = tangent_altitudes(pos, dirs, exact_near, float(margin))
    # (each crossing solved on the orbit for the star's fixed direction)
    ptr, starts, stops = _intervals_csr(np.ascontiguousarray(t, dtype=np.float64), pos, vel, dirs, h_tan,
                                        float(altitude_km), True)
    return ptr, starts, stops, h_tan


@njit(cache=True)
def unocculted_at_knots(t, iv_ptr, iv_start, iv_stop):
    """Bool [N, K]: the knot time lies inside one of the star's un-occulted intervals."""
    n = iv_ptr.shape[0] - 1
    out = np.zeros((n, t.shape[0]), dtype=np.bool_)
    for j in range(n):
        for iv in range(iv_ptr[j], iv_ptr[j + 1]):
            for k in range(t.shape[0]):
                if iv_start[iv] <= t[k] <= iv_stop[iv]:
                    out[j, k] = True
    return out


def _moving_intervals(t, h_tan, altitude_km):
    """Visible intervals per source from tangent altitudes [M, K] of moving directions.

    Crossings are placed by linear interpolation of the tangent altitude between knots, which changes
    smoothly (~2.6 km/s at the limb): with 2 s knots the times agree with the exact bisection of
    :func:`visibility_intervals` to 2 ms (tests/test_solar_system_render.py).
    """
    none = np.zeros((h_tan.shape[0], 3))  # (no fixed directions: the crossings are interpolated)
    return _intervals_csr(t, np.zeros((1, 3)), np.zeros((1, 3)), none, np.ascontiguousarray(h_tan), altitude_km,
                          False)


@njit(parallel=True, cache=True)
def _moving_tangent_altitudes(pos, directions):
    m_n, k_n = directions.shape[0], directions.shape[1]
    out = np.empty((m_n, k_n))
    for j in prange(m_n):
        for k in range(k_n):
            out[j, k] = tangent_altitude(pos[k, 0], pos[k, 1], pos[k, 2],
                                         directions[j, k, 0], directions[j, k, 1], directions[j, k, 2])
    return out


def moving_visibility_intervals(t, pos_gcrs_km, directions_gcrs, pole_gcrs, altitude_km):
    """Un-occulted intervals of sources whose direction changes from knot to knot.

    directions_gcrs [M, K, 3]: the ray's direction at each knot (for the Moon, whose parallax from the ISS
    changes during an exposure, and planets). Returns (iv_ptr, iv_start, iv_stop) like
    :func:`visibility_intervals`.
    """
    rot = pole_frame(np.asarray(pole_gcrs, dtype=np.float64))
    pos = np.ascontiguousarray(pos_gcrs_km @ rot.T)
    dirs = np.ascontiguousarray(np.asarray(directions_gcrs, dtype=np.float64) @ rot.T)
    h_tan = _moving_tangent_altitudes(pos, dirs)
    return _moving_intervals(np.ascontiguousarray(t, dtype=np.float64), h_tan, float(altitude_km))
