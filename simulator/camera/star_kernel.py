"""Numba kernel: aberrate natural star directions and project them through the camera at every knot."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def project_stars(directions, beta, rotations, fx, fy, cx, cy, dist, r2_max):
    """Pixel positions [N, K] of stars at K knots.

    directions [N, 3]: natural (unaberrated) unit directions, ICRS axes. beta [K, 3]: observer barycentric
    velocity / c. rotations [K, 3, 3]: R_icrs_to_cam. dist: (k1, k2, p1, p2, k3). r2_max: squared normalised
    radius beyond which the distortion polynomial is not monotonic. NaN where the star is behind the
    camera or beyond r2_max. Aberration is the relativistic formula of ``sky.apparent.aberrate``.
    """
    n = directions.shape[0]
    k_n = beta.shape[0]
    xs = np.empty((n, k_n))
    ys = np.empty((n, k_n))
    k1, k2, p1, p2, k3 = dist[0], dist[1], dist[2], dist[3], dist[4]
    for j in prange(n):
        px, py, pz = directions[j, 0], directions[j, 1], directions[j, 2]
        for k in range(k_n):
            bx, by, bz = beta[k, 0], beta[k, 1], beta[k, 2]
            pdv = px * bx + py * by + pz * bz
            bm1 = math.sqrt(1.0 - (bx * bx + by * by + bz * bz))
            w1 = 1.0 + pdv / (1.0 + bm1)
            ax = bm1 * px + w1 * bx
            ay = bm1 * py + w1 * by
            az = bm1 * pz + w1 * bz
            # normalisation is irrelevant for the projection (ratios), so it is skipped
            R = rotations[k]
            X = R[0, 0] * ax + R[0, 1] * ay + R[0, 2] * az
            Y = R[1, 0] * ax + R[1, 1] * ay + R[1, 2] * az
            Z = R[2, 0] * ax + R[2, 1] * ay + R[2, 2] * az
            if Z <= 0.0:
                xs[j, k] = np.nan
                ys[j, k] = np.nan
                continue
            xn = X / Z
            yn = Y / Z
            r2 = xn * xn + yn * yn
            if r2 > r2_max:
                xs[j, k] = np.nan
                ys[j, k] = np.nan
                continue
            radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
            xd = xn * radial + 2.0 * p1 * xn * yn + p2 * (r2 + 2.0 * xn * xn)
            yd = yn * radial + p1 * (r2 + 2.0 * yn * yn) + 2.0 * p2 * xn * yn
            xs[j, k] = fx * xd + cx
            ys[j, k] = fy * yd + cy
    return xs, ys


@njit(parallel=True, cache=True)
def max_angle_cos(directions, boresights):
    """For each star [N, 3], the largest cos(angle) to any boresight [M, 3] (closest approach)."""
    n = directions.shape[0]
    out = np.empty(n)
    for j in prange(n):
        best = -2.0
        for m in range(boresights.shape[0]):
            c = (directions[j, 0] * boresights[m, 0] + directions[j, 1] * boresights[m, 1]
                 + directions[j, 2] * boresights[m, 2])
            if c > best:
                best = c
        out[j] = best
    return out


@njit(parallel=True, cache=True)
def max_chord_error(x, y, xm, ym, width, height):
    """Largest distance (px) between exact mid-knot positions (xm, ym [N, K-1]) and the midpoints of the
    chords between knots (x, y [N, K]), over mid-knot positions inside the frame."""
    n, k_n = xm.shape
    worst = np.zeros(n)
    for j in prange(n):
        w = 0.0
        for k in range(k_n):
            px, py = xm[j, k], ym[j, k]
            if not (px >= -0.5 and px <= width - 0.5 and py >= -0.5 and py <= height - 0.5):
                continue
            cx = 0.5 * (x[j, k] + x[j, k + 1])
            cy = 0.5 * (y[j, k] + y[j, k + 1])
            if not (math.isfinite(cx) and math.isfinite(cy)):
                continue
            d = math.hypot(cx - px, cy - py)
            if d > w:
                w = d
        worst[j] = w
    return worst.max() if n else 0.0
