"""Wide sources on a block grid (render/coarse_grid.py) against the same trails rendered at full resolution."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.render.coarse_grid import (add_upsampled, block_size, coarse_optical_sigma, coarse_shape,
                                          to_coarse)
from simulator.render.intervals import intersect_intervals
from simulator.render.trails import PIXEL_BOX_VARIANCE, render_trails


def _render_both(shape, x, y, sigma_optical, s):
    t = np.array([0.0, 1.0])
    ptr, start, stop = np.array([0, 1]), np.array([0.0]), np.array([1.0])
    rate = np.array([1000.0])
    fine = render_trails(shape, t, x, y, rate, ptr, start, stop, sigma_optical, 6.0)
    variance = sigma_optical**2 + PIXEL_BOX_VARIANCE
    blocks = render_trails(coarse_shape(shape, s), t, to_coarse(x, s), to_coarse(y, s), rate, ptr, start, stop,
                           coarse_optical_sigma(variance, s), 6.0)
    up = np.zeros(shape + (1,))
    add_upsampled(up, blocks.image[:, :, None], s)
    return fine, blocks, up[:, :, 0]


@settings(max_examples=25, deadline=None)
@given(x0=st.floats(100, 156), y0=st.floats(100, 156), dx=st.floats(-30, 30), dy=st.floats(-30, 30),
       sigma=st.floats(6.0, 14.0))
def test_upsampling_keeps_every_electron_and_the_shape(x0, y0, dx, dy, sigma):
    """A trail well inside a 256 x 256 frame: upsampling keeps the blocks' electrons (1e-12), the blocks hold the
    full-resolution render's (1e-5), and the image matches it to 2 % of its peak."""
    shape = (256, 256)
    s = block_size(sigma**2 + PIXEL_BOX_VARIANCE)
    assert s >= 2 or sigma < 6.0
    x = np.array([[x0, x0 + dx]])
    y = np.array([[y0, y0 + dy]])
    fine, blocks, up = _render_both(shape, x, y, sigma, s)
    assert abs(up.sum() / blocks.image.sum() - 1.0) < 1e-12
    assert abs(blocks.electrons[0] / fine.electrons[0] - 1.0) < 1e-5
    assert np.max(np.abs(up - fine.image)) < 0.02 * fine.image.max()
    # second moments across the frame agree (the widths were matched): 1 % of the variance
    yy, xx = np.mgrid[0:256, 0:256]
    for img in (fine.image, up):
        img_sum = img.sum()
        cx = (img * xx).sum() / img_sum
        assert abs(cx - (x0 + 0.5 * dx)) < 0.05
    var_f = (fine.image * (yy - (fine.image * yy).sum() / fine.image.sum()) ** 2).sum() / fine.image.sum()
    var_u = (up * (yy - (up * yy).sum() / up.sum()) ** 2).sum() / up.sum()
    assert abs(var_u / var_f - 1.0) < 0.01


def test_edge_blocks_fold_back_their_weight():
    """A frame that is a multiple of the block size: upsampling a unit block anywhere, edges included, sums to 1."""
    s = 4
    coarse = np.zeros((5, 7, 1))
    for i, j in [(0, 0), (0, 3), (4, 6), (2, 0), (2, 3)]:
        coarse[:] = 0.0
        coarse[i, j, 0] = 1.0
        fine = np.zeros((20, 28, 1))
        add_upsampled(fine, coarse, s)
        assert abs(fine.sum() - 1.0) < 1e-12


def test_upsampling_skips_only_pixels_without_light():
    """Mostly empty block grids (city lights fill part of the frame): the upsampled frame equals scipy's
    bilinear zoom of the blocks (edge blocks' centres clamped as add_upsampled clamps them), bit for bit
    where no light reaches and to rounding elsewhere."""
    from scipy.ndimage import map_coordinates

    rng = np.random.default_rng(11)
    for s, (h_c, w_c) in [(4, (9, 13)), (8, (5, 6)), (2, (1, 7))]:
        coarse = np.zeros((h_c, w_c, 2))
        for _ in range(3):
            i, j = rng.integers(0, h_c), rng.integers(0, w_c)
            coarse[i, j, rng.integers(0, 2)] = rng.uniform(1.0, 5.0)
        fine = np.full((h_c * s - 1, w_c * s - 2, 2), 7.0)
        add_upsampled(fine, coarse, s)
        v = np.clip((np.arange(fine.shape[0]) + 0.5) / s - 0.5, 0.0, h_c - 1.0)
        u = np.clip((np.arange(fine.shape[1]) + 0.5) / s - 0.5, 0.0, w_c - 1.0)
        vv, uu = np.meshgrid(v, u, indexing="ij")
        for c in range(2):
            ref = 7.0 + map_coordinates(coarse[:, :, c], [vv, uu], order=1, mode="nearest") / s**2
            np.testing.assert_allclose(fine[:, :, c], ref, rtol=1e-14, atol=1e-14)
            dark = map_coordinates((coarse[:, :, c] != 0).astype(float), [vv, uu], order=1, mode="nearest") == 0
            assert np.all(fine[:, :, c][dark] == 7.0)


def test_block_size_keeps_two_blocks_per_sigma():
    for sigma in (0.8, 3.9, 4.0, 7.9, 8.1, 40.0):
        s = block_size(sigma**2)
        assert sigma >= 3 * s or s == 1
        assert sigma < 6 * s  # the next power of two would break it


def test_intersect_intervals_matches_sampling():
    rng = np.random.default_rng(3)
    rows = 50

    def random_csr():
        counts = rng.integers(0, 4, rows)
        ptr = np.concatenate([[0], np.cumsum(counts)])
        start, stop = [], []
        for c in counts:
            edges = np.sort(rng.uniform(0, 10, 2 * c))
            start += list(edges[0::2])
            stop += list(edges[1::2])
        return ptr, np.array(start), np.array(stop)

    a, b = random_csr(), random_csr()
    ptr, start, stop = intersect_intervals(*a, *b)
    grid = np.linspace(0, 10, 20001)

    def inside(csr, j):
        p, s0, s1 = csr
        return np.any((grid[:, None] > s0[p[j]:p[j + 1]]) & (grid[:, None] < s1[p[j]:p[j + 1]]), axis=1)

    for j in range(rows):
        assert np.array_equal(inside((ptr, start, stop), j), inside(a, j) & inside(b, j))
