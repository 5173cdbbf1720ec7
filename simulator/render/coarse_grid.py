"""Wide sources on a coarser pixel grid, then bilinear upsampling that keeps every electron.

A source whose image is a Gaussian many pixels wide (a city-light cell is tens of pixels across) costs the
trail kernel ~ width x length pixel updates. Rendered on a grid of s x s-pixel blocks it costs s^2 less.
Upsampling: each fine pixel takes the bilinear interpolation, at its centre, of the coarse image's
electrons per fine pixel (coarse value / s^2), clamped to the edge value beyond the outermost block
centres. The interpolation weights of one block sum to exactly s^2 over the fine pixels (the linear
B-spline's partition of unity, with the clamped edges folding the outer half back), so upsampling keeps
every electron; only a frame whose size is not a multiple of s loses, at its right and bottom edges, the
part of the last blocks that lies beyond the frame (light that did fall outside it, but spread evenly over
the block instead of where it fell).

Widths: the fine image of a Gaussian of variance V (px^2, optics and the pixel box together) is matched when
the coarse grid renders variance V / s^2 - 1/4 (coarse px^2): the kernel adds the coarse pixel box (1/12)
and the interpolation's hat adds 1/6 (its variance, s^2/6 fine px^2, per axis).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .trails import PIXEL_BOX_VARIANCE

#: the block grid is used when the source's sigma is at least this many blocks (bilinear upsampling then
#: matches the full-resolution image to ~1.5 % of its peak; 2 blocks: 4 %)
MIN_SIGMA_BLOCKS = 3.0


def block_size(fine_variance_px2: float) -> int:
    """Largest power of two s with sqrt(V) >= MIN_SIGMA_BLOCKS * s (1: render at full resolution)."""
    s = 1
    while math.sqrt(fine_variance_px2) >= MIN_SIGMA_BLOCKS * (2 * s):
        s *= 2
    return s


def coarse_shape(shape, s: int) -> tuple[int, int]:
    """Rows and columns of the block grid covering a frame of ``shape`` (H, W)."""
    return (-(-shape[0] // s), -(-shape[1] // s))


def to_coarse(coord_px, s: int):
    """Fine pixel coordinates (0 = centre of the first pixel) to block coordinates."""
    return (np.asarray(coord_px) + 0.5) / s - 0.5


def coarse_optical_sigma(fine_variance_px2: float, s: int) -> float:
    """The optical sigma (block px) to give the trail kernel (which adds the box) on the grid of s-blocks."""
    if s == 1:
        return math.sqrt(max(fine_variance_px2 - PIXEL_BOX_VARIANCE, 0.0))
    return math.sqrt(fine_variance_px2 / s**2 - 0.25 - PIXEL_BOX_VARIANCE)


@njit(cache=True)
def _bracket(i, s, n):
    """Blocks (lo, hi) and weight of hi for fine pixel i's centre, clamped to the outermost block centres."""
    u = min(max((i + 0.5) / s - 0.5, 0.0), n - 1.0)
    if n == 1:
        return 0, 0, 0.0
    lo = min(int(u), n - 2)
    return lo, lo + 1, u - lo


@njit(parallel=True, cache=True)
def add_upsampled(fine, coarse, s):
    """fine[H, W, C] += bilinear upsampling of coarse[h, w, C] (electrons per block) by the block size s.
    Fine pixels whose four blocks are all zero are left as they are (city lights fill part of the frame)."""
    height, width, n_ch = fine.shape
    h_c, w_c = coarse.shape[0], coarse.shape[1]
    scale = 1.0 / (s * s)
    # each block row's first and last column holding light (first > last: none)
    col_lo = np.full(h_c, w_c, dtype=np.int64)
    col_hi = np.full(h_c, -1, dtype=np.int64)
    for r in range(h_c):
        for q in range(w_c):
            for c in range(n_ch):
                if coarse[r, q, c] != 0.0:
                    col_lo[r] = min(col_lo[r], q)
                    col_hi[r] = max(col_hi[r], q)
    for i in prange(height):
        i0, i1, fv = _bracket(i, s, h_c)
        q_lo = min(col_lo[i0], col_lo[i1])
        q_hi = max(col_hi[i0], col_hi[i1])
        if q_lo > q_hi:
            continue
        # the fine columns whose blocks (j0, j1) can reach [q_lo, q_hi]: centres within one block of it
        j_start = max(int((q_lo - 1 + 0.5) * s) - 1, 0)
        j_stop = min(int((q_hi + 1 + 0.5) * s) + 1, width)
        for j in range(j_start, j_stop):
            j0, j1, fu = _bracket(j, s, w_c)
            w00 = (1.0 - fv) * (1.0 - fu) * scale
            w01 = (1.0 - fv) * fu * scale
            w10 = fv * (1.0 - fu) * scale
            w11 = fv * fu * scale
            for c in range(n_ch):
                fine[i, j, c] += (w00 * coarse[i0, j0, c] + w01 * coarse[i0, j1, c]
                                  + w10 * coarse[i1, j0, c] + w11 * coarse[i1, j1, c])
