"""Compiled limb optics of (star, time) pairs: the bent ray (earth/atmosphere.py eq. 2, solved as
``ray_tangent_altitude`` does), its transmission and the refracted, aberrated, projected track, one pair per
loop iteration (Numba, parallel over pairs).

The arithmetic follows the numpy functions of earth/atmosphere.py step by step (same splines, same bracketed
Newton iteration), so results agree with them to rounding, but for the iteration's end: the compiled solver
stops one step earlier, where quadratic convergence already holds the ray to a tenth of the tolerance
(NEWTON_CURVATURE_BOUND_PER_KM; tests/test_limb_render.py).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..earth.occultation import tangent_altitude

_NAN = np.nan


@njit(cache=True, inline="always")
def _cubic(c, x0, dx, n, h):
    """Value and slope of the uniform cubic spline with coefficients c [4, n] at h (atmosphere._UniformCubic)."""
    i = int((h - x0) / dx)
    if i < 0:
        i = 0
    elif i > n - 1:
        i = n - 1
    t = h - (x0 + i * dx)
    c0, c1, c2, c3 = c[0, i], c[1, i], c[2, i], c[3, i]
    return ((c0 * t + c1) * t + c2) * t + c3, (3.0 * c0 * t + 2.0 * c1) * t + c2


@njit(cache=True, inline="always")
def _rho_and_slope(eps, deps_db, b, d):
    """Eq. 2 (atmosphere._rho) and its slope in b (atmosphere._drho_db) from one tangent: tan(ε/2) =
    tan ε / (1 + sec ε) (|ε| < π/2), a square root instead of two more tangents."""
    te = math.tan(eps)
    sec2 = 1.0 + te * te
    th = te / (1.0 + math.sqrt(sec2))
    sec2h = 1.0 + th * th
    rho = b - (d - b * th) * te
    return rho, 1.0 + te * (th + b * sec2h * 0.5 * deps_db) - (d - b * th) * sec2 * deps_db


@njit(cache=True, inline="always")
def _eps_and_slope(cb, ce, x0, dx, n, h):
    ln_e, dln_e = _cubic(ce, x0, dx, n, h)
    eps = math.exp(ln_e)
    b, dbdh = _cubic(cb, x0, dx, n, h)
    return eps, eps * dln_e, b, dbdh


# Newton's iteration for the bent ray converges quadratically: after a step s the error is about c s^2, with
# c = |f''/2f'| below ~0.1 /km here (f: eq. 2 minus its target, in h_ray; largest at the ground, where the bending
# grows fastest: f' ~ 1 + D dε/dh ~ 8, f'' ~ D d²ε/dh² ~ 1 /km). The compiled solver stops after a step below
# sqrt(tol / NEWTON_CURVATURE_BOUND_PER_KM), 10x that bound, so its error stays below tol / 10 (measured on the
# Pettit scenario's 1.7 million rays x 4 wavelengths: within 4e-11 km of the numpy solver's, which stops after a
# step below tol; ε within 2e-14 rad, the tracks within 6e-11 px)
NEWTON_CURVATURE_BOUND_PER_KM = 1.0


@njit(cache=True, error_model="numpy")
def lowest_ray_terms(cb, ce, x0, dx, n, lo_h):
    """(b, tan ε, tan ε/2) of the lowest allowed ray (tangent altitude lo_h): the hidden test of solve_ray."""
    eps, _, b, _ = _eps_and_slope(cb, ce, x0, dx, n, lo_h)
    return b, math.tan(eps), math.tan(0.5 * eps)


@njit(cache=True, error_model="numpy")
def solve_ray(hg, d, cb, ce, x0, dx, n, lo_h, top, radius, tol, x_start):
    """(h_ray, ε) of the bent ray for a straight line of tangent altitude hg <= top at distance d
    (atmosphere.ray_tangent_altitude for one pair, started at x_start (hg there); NaN, NaN where hidden)."""
    b_lo, te_lo, th_lo = lowest_ray_terms(cb, ce, x0, dx, n, lo_h)
    return solve_ray_from(hg, d, cb, ce, x0, dx, n, lo_h, top, radius, tol, x_start, b_lo, te_lo, th_lo)


@njit(cache=True, error_model="numpy")
def solve_ray_from(hg, d, cb, ce, x0, dx, n, lo_h, top, radius, tol, x_start, b_lo, te_lo, th_lo):
    """solve_ray with the lowest ray's terms given (lowest_ray_terms: the same for every ray of a table)."""
    target = radius + hg
    if b_lo - (d - b_lo * th_lo) * te_lo - target > 0.0:  # even the lowest ray passes above the observer
        return _NAN, _NAN
    step_tol = math.sqrt(tol / NEWTON_CURVATURE_BOUND_PER_KM)
    lo, hi = lo_h, top
    x = min(max(x_start, lo_h), top)
    for _ in range(100):
        eps, deps, b, dbdh = _eps_and_slope(cb, ce, x0, dx, n, x)
        rho, drho = _rho_and_slope(eps, deps / dbdh, b, d)
        f = rho - target
        df = drho * dbdh
        if f < 0.0:
            lo = x
        else:
            hi = x
        step = f / df
        x_new = x - step
        bad = not np.isfinite(x_new) or x_new < lo or x_new > hi
        if bad:
            x_new = 0.5 * (lo + hi)
        elif abs(step) < step_tol:
            # converged: ε at the last step's end to first order (the rest, ε'' s² / 2, is below 1e-12 of ε)
            return x_new, eps - deps * step
        x = x_new
    return x, math.exp(_cubic(ce, x0, dx, n, x)[0])


@njit(cache=True, error_model="numpy")
def dilution(h, d, cb, ce, x0, dx, n, bottom, top):
    """atmosphere.dilution_factor (focusing on) for one ray; 0 for NaN / below the table, 1 above it."""
    if h > top:
        return 1.0
    if not (h >= bottom and h <= top):
        return 0.0
    eps, deps, b, dbdh = _eps_and_slope(cb, ce, x0, dx, n, h)
    rho, drho = _rho_and_slope(eps, deps / dbdh, b, d)
    return (1.0 / drho) * b / rho


@njit(cache=True, error_model="numpy")
def grey_transmission(h, d, cb, ce, cla, tau, x0, dx, n, bottom, top):
    """atmosphere.transmission (with the dilution) at the table's wavelength; tau [3] its vertical depths."""
    if h > top:
        return 1.0
    if not (h >= bottom and h <= top):
        return 0.0
    s = 0.0
    for k in range(3):
        s += math.exp(_cubic(cla[k], x0, dx, n, h)[0]) * tau[k]
    t = math.exp(-s) * dilution(h, d, cb, ce, x0, dx, n, bottom, top)
    return 0.0 if np.isnan(t) else t


@njit(cache=True)
def channel_extinction(table, h0, dh, top, h, node, frac):
    """Lagrange-cubic interpolation of table[:, node] and table[:, node + 1] at h, mixed by frac (NaN: 0;
    above ``top``: 1) — limb_stars._interp_extinction for one ray."""
    n = table.shape[0]
    if not np.isfinite(h) or h < h0:
        return 0.0
    if h > top:
        return 1.0
    u = (h - h0) / dh
    i = min(max(int(np.floor(u)), 1), n - 3)
    s = u - i
    wa = -s * (s - 1.0) * (s - 2.0) / 6.0
    wb = (s + 1.0) * (s - 1.0) * (s - 2.0) / 2.0
    wc = -(s + 1.0) * s * (s - 2.0) / 2.0
    wd = (s + 1.0) * s * (s - 1.0) / 6.0
    v = 0.0
    for k in range(2):
        col = node + k
        w = (1.0 - frac) if k == 0 else frac
        v += w * (wa * table[i - 1, col] + wb * table[i, col] + wc * table[i + 1, col] + wd * table[i + 2, col])
    return v


@njit(cache=True, inline="always")
def aberrate_rotate(px, py, pz, beta, rot):
    """sky.apparent.aberrate of the unit direction p for observer velocity beta, then rot @ it."""
    pdv = px * beta[0] + py * beta[1] + pz * beta[2]
    bm1 = math.sqrt(1.0 - (beta[0] * beta[0] + beta[1] * beta[1] + beta[2] * beta[2]))
    w1 = 1.0 + pdv / (1.0 + bm1)
    qx, qy, qz = bm1 * px + w1 * beta[0], bm1 * py + w1 * beta[1], bm1 * pz + w1 * beta[2]
    nq = math.sqrt(qx * qx + qy * qy + qz * qz)
    qx, qy, qz = qx / nq, qy / nq, qz / nq
    return (rot[0, 0] * qx + rot[0, 1] * qy + rot[0, 2] * qz, rot[1, 0] * qx + rot[1, 1] * qy + rot[1, 2] * qz,
            rot[2, 0] * qx + rot[2, 1] * qy + rot[2, 2] * qz)


@njit(cache=True, inline="always", error_model="numpy")
def project_direction(cx_, cy_, cz_, cam):
    """camera.projection.project_camera_points for one camera-frame direction; cam = (fx, fy, cx, cy, k1, k2,
    p1, p2, k3, max_valid_radius)."""
    fx, fy, ccx, ccy, k1, k2, p1, p2, k3, rmax = (cam[0], cam[1], cam[2], cam[3], cam[4], cam[5], cam[6], cam[7],
                                                  cam[8], cam[9])
    xn = cx_ / cz_
    yn = cy_ / cz_
    r2 = xn * xn + yn * yn
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = xn * radial + 2.0 * p1 * xn * yn + p2 * (r2 + 2.0 * xn * xn)
    yd = yn * radial + p1 * (r2 + 2.0 * yn * yn) + 2.0 * p2 * xn * yn
    if not (cz_ > 0.0) or r2 > rmax * rmax:
        return _NAN, _NAN
    return fx * xd + ccx, fy * yd + ccy


def camera_array(camera) -> np.ndarray:
    """(fx, fy, cx, cy, k1, k2, p1, p2, k3, max_valid_radius) of a camera, as project_direction takes them."""
    k1, k2, p1, p2, k3 = camera.dist_coeffs
    return np.array([camera.fx, camera.fy, camera.cx, camera.cy, k1, k2, p1, p2, k3, camera.max_valid_radius],
                    dtype=np.float64)


@njit(parallel=True, cache=True, error_model="numpy")
def pair_optics_kernel(obs_i, star_i, pos, rot, beta, geo, natural, node, frac, rot_pole, exact_near, optics_below,
                       hidden_below, cb, ce, x0, dx, n, bottom, top, radius, lo_h, tol, cbp, cep, clap, tau_p, ext, h0e,
                       dhe, cam, h_g, dist, x, y, eps, trans, h_ray):
    """Limb optics of P pairs (limb_stars.pair_optics): fills h_g, dist [P] and x, y, eps, trans, h_ray [P, B].

    Pair p is observer state obs_i[p] (pos, rot, beta) and star star_i[p] (geo, natural, node, frac).
    cb, ce [B, 4, n]: each wavelength's ray table (b and ln ε); cbp, cep, clap, tau_p: the path (550 nm) table
    for the dilution and the grey transmission (wavelength 0); ext [B − 1, H, T]: the channels' extinction
    tables (limb_stars._extinction_table), node, frac: each star's T_eff node and fraction."""
    nb = x.shape[1]
    lowest = np.empty((nb, 3))
    # each wavelength's bending relative to the first one's, less 1 (at 5 km; within 10 % of it from 0 to 60 km):
    # the rays' tangent altitudes move apart in proportion, so the third and later wavelengths start from the
    # first two's solutions extrapolated (Pettit: within 3e-5 km at 533 nm, 5e-4 km at 467 nm, against 0.012
    # and 0.07 km from the first one's: a Newton step or two fewer)
    disp = np.zeros(nb)
    for b in range(nb):
        lowest[b, 0], lowest[b, 1], lowest[b, 2] = lowest_ray_terms(cb[b], ce[b], x0, dx, n, lo_h)
        disp[b] = math.exp(_cubic(ce[b], x0, dx, n, 5.0)[0] - _cubic(ce[0], x0, dx, n, 5.0)[0]) - 1.0
    for p in prange(obs_i.shape[0]):
        o, s = obs_i[p], star_i[p]
        ox, oy, oz = pos[o, 0], pos[o, 1], pos[o, 2]
        gx, gy, gz = geo[s, 0], geo[s, 1], geo[s, 2]
        pp0 = rot_pole[0, 0] * ox + rot_pole[0, 1] * oy + rot_pole[0, 2] * oz
        pp1 = rot_pole[1, 0] * ox + rot_pole[1, 1] * oy + rot_pole[1, 2] * oz
        pp2 = rot_pole[2, 0] * ox + rot_pole[2, 1] * oy + rot_pole[2, 2] * oz
        gp0 = rot_pole[0, 0] * gx + rot_pole[0, 1] * gy + rot_pole[0, 2] * gz
        gp1 = rot_pole[1, 0] * gx + rot_pole[1, 1] * gy + rot_pole[1, 2] * gz
        gp2 = rot_pole[2, 0] * gx + rot_pole[2, 1] * gy + rot_pole[2, 2] * gz
        hg = tangent_altitude(pp0, pp1, pp2, gp0, gp1, gp2, exact_near, optics_below)
        d = -(gx * ox + gy * oy + gz * oz)
        h_g[p] = hg
        dist[p] = d
        in_band = hg < optics_below and hg > hidden_below and d > 0.0
        if not in_band:
            hidden = hg <= hidden_below
            sx, sy, sz = aberrate_rotate(natural[s, 0], natural[s, 1], natural[s, 2], beta[o], rot[o])
            u, v = project_direction(sx, sy, sz, cam)
            for b in range(nb):
                x[p, b], y[p, b] = u, v
                eps[p, b] = 0.0
                trans[p, b] = 0.0 if hidden else 1.0
                h_ray[p, b] = _NAN if hidden else hg
            continue
        # unit vector from the centre toward the straight line's tangent point (atmosphere.refracted_direction)
        od = ox * gx + oy * gy + oz * gz
        ux, uy, uz = ox - od * gx, oy - od * gy, oz - od * gz
        nu = math.sqrt(ux * ux + uy * uy + uz * uz)
        ux, uy, uz = ux / nu, uy / nu, uz / nu
        for b in range(nb):
            # the other wavelengths start from the first one's ray (a few iterations fewer), or from the first
            # two's extrapolated in their bending
            start = hg
            if b > 0 and np.isfinite(h_ray[p, 0]):
                start = h_ray[p, 0]
                if b > 1 and np.isfinite(h_ray[p, 1]) and disp[1] != 0.0:
                    start = h_ray[p, 0] + (h_ray[p, 1] - h_ray[p, 0]) * (disp[b] / disp[1])
            hr, ep = solve_ray_from(hg, d, cb[b], ce[b], x0, dx, n, lo_h, top, radius, tol, start, lowest[b, 0],
                                    lowest[b, 1], lowest[b, 2])
            h_ray[p, b] = hr
            if b == 0:
                trans[p, b] = grey_transmission(hr, d, cbp, cep, clap, tau_p, x0, dx, n, bottom, top)
            else:
                phi = dilution(hr, d, cbp, cep, x0, dx, n, bottom, top)
                if np.isnan(phi):
                    phi = 0.0
                trans[p, b] = channel_extinction(ext[b - 1], h0e, dhe, top, hr, node[s], frac[s]) * phi
            if np.isnan(ep):
                ep = 0.0
            eps[p, b] = ep
            ce_, se_ = math.cos(ep), math.sin(ep)
            rx, ry, rz = gx * ce_ + ux * se_, gy * ce_ + uy * se_, gz * ce_ + uz * se_
            nx, ny, nz = natural[s, 0] + (rx - gx), natural[s, 1] + (ry - gy), natural[s, 2] + (rz - gz)
            nn = math.sqrt(nx * nx + ny * ny + nz * nz)
            sx, sy, sz = aberrate_rotate(nx / nn, ny / nn, nz / nn, beta[o], rot[o])
            x[p, b], y[p, b] = project_direction(sx, sy, sz, cam)
