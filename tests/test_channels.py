"""Colour channels: a star's trail in channel c is its all-channel trail times the channel's share."""
from __future__ import annotations

import numpy as np
import pytest

from simulator.render.trails import render_trails


def test_channels_split_each_star_by_its_weights():
    rng = np.random.default_rng(7)
    n, k = 12, 9
    t = np.linspace(0.0, 8.0, k)
    x = rng.uniform(10, 90, n)[:, None] + np.outer(rng.uniform(-5, 5, n), t)
    y = rng.uniform(10, 60, n)[:, None] + np.outer(rng.uniform(-5, 5, n), t)
    rate = rng.uniform(10, 1000, n)
    weights = rng.uniform(0.1, 1.0, (n, 3))
    weights /= weights.sum(axis=1, keepdims=True)
    ptr, start, stop = np.arange(n + 1), np.zeros(n), np.full(n, 8.0)
    colour = render_trails((70, 100), t, x, y, rate, ptr, start, stop, 0.9, channel_weights=weights)
    assert colour.image.shape == (70, 100, 3)
    mono = render_trails((70, 100), t, x, y, rate, ptr, start, stop, 0.9)
    assert np.allclose(colour.image.sum(axis=2), mono.image, rtol=1e-12, atol=1e-9)
    assert np.array_equal(colour.electrons, mono.electrons)
    for c in range(3):  # channel c holds the sum of each star's image times its weight
        ref = sum(render_trails((70, 100), t, x[j:j + 1], y[j:j + 1], rate[j:j + 1], np.array([0, 1]),
                                start[:1], stop[:1], 0.9).image * weights[j, c] for j in range(n))
        assert np.allclose(colour.image[:, :, c], ref, rtol=1e-12, atol=1e-9)


def test_psf_grows_over_the_field_and_keeps_the_flux():
    """Two static stars, at the centre and near the corner: each image's second moment is the sigma the
    field law gives there, sigma0 (1 + g rho^2), plus the pixel box (1/12 px^2), and each keeps its flux."""
    h, w = 201, 301
    cx, cy = (w - 1) / 2, (h - 1) / 2
    radius = float(np.hypot(cx, cy))
    sigma0, growth = 1.2, 1.0
    t = np.array([0.0, 10.0])
    for x0, y0 in [(cx + 0.3, cy - 0.2), (275.4, 180.7)]:
        r = render_trails((h, w), t, np.array([[x0, x0]]), np.array([[y0, y0]]), np.array([100.0]),
                          np.array([0, 1]), np.array([0.0]), np.array([10.0]), sigma0, extent_sigma=8.0,
                          psf_field_growth=growth, field_centre=(cx, cy), field_radius=radius)
        img = r.image
        assert img.sum() == pytest.approx(1000.0, rel=1e-5)
        yy, xx = np.indices(img.shape)
        var_x = (img * (xx - x0) ** 2).sum() / img.sum()
        rho2 = ((x0 - cx) ** 2 + (y0 - cy) ** 2) / radius**2
        expected = (sigma0 * (1 + growth * rho2)) ** 2 + 1 / 12
        assert var_x == pytest.approx(expected, rel=1e-3)
