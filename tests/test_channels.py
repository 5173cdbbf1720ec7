"""Colour channels: a star's trail in channel c is its all-channel trail times the channel's share."""
from __future__ import annotations

import numpy as np

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
