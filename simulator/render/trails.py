"""Render star trails: stream blocks of stars through run building and the band-parallel trail kernel."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .runs import build_runs
from .trail_kernel import render_runs

PIXEL_BOX_VARIANCE = 1.0 / 12.0  # variance of a unit-width pixel box (px^2), added to the optical PSF
BAND_ROWS = 16


@dataclass
class TrailRender:
    """Result of rendering trails: image (electrons), electrons deposited per star, kernel statistics."""

    image: np.ndarray
    electrons: np.ndarray
    pixel_updates: int
    runs: int


def effective_sigma(psf_sigma_px: float) -> float:
    """Optical PSF sigma combined with the pixel box (Gaussian approximation), pixels."""
    return float(np.sqrt(psf_sigma_px**2 + PIXEL_BOX_VARIANCE))


def _bands_for_runs(vx, vy, run_first, run_last, height, reach, band_rows):
    """CSR lists of the runs touching each band of rows."""
    n_bands = (height + band_rows - 1) // band_rows
    edges = np.minimum(np.arange(n_bands + 1) * band_rows, height).astype(np.int64)
    if run_first.size == 0:
        return edges, np.zeros(n_bands + 1, np.int64), np.zeros(0, np.int64)
    ymin = np.minimum.reduceat(vy, run_first)
    ymax = np.maximum.reduceat(vy, run_first)
    # reduceat runs to the next run's first vertex; runs are contiguous and ordered, so this is exact
    pad = 1.5 * reach + 2.0
    b0 = np.clip(np.floor((ymin - pad) / band_rows), 0, n_bands - 1).astype(np.int64)
    b1 = np.clip(np.floor((ymax + pad) / band_rows), 0, n_bands - 1).astype(np.int64)
    counts = b1 - b0 + 1
    run_ids = np.repeat(np.arange(run_first.size), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    bands = np.repeat(b0, counts) + offsets
    order = np.lexsort((run_ids, bands))
    band_runs = run_ids[order]
    ptr = np.zeros(n_bands + 1, np.int64)
    np.add.at(ptr, bands + 1, 1)
    return edges, np.cumsum(ptr), band_runs.astype(np.int64)


def render_trails(shape, t, x, y, rate, iv_ptr, iv_start, iv_stop, psf_sigma_px, extent_sigma=5.0,
                  block_stars=4096, image=None, progress=None) -> TrailRender:
    """Render every star's visible track into an image of electrons.

    shape (H, W); t [K] s; x, y [N, K] pixels; rate [N] electrons/s; visible intervals as CSR
    (iv_ptr [N+1], iv_start, iv_stop in s). psf_sigma_px is the optical sigma; the pixel box is added.
    """
    height, width = shape
    if image is None:
        image = np.zeros((height, width), dtype=np.float64)
    sigma = effective_sigma(psf_sigma_px)
    reach = extent_sigma * sigma
    n_stars = x.shape[0]
    electrons = np.zeros(n_stars)
    updates = 0
    n_runs = 0
    t = np.ascontiguousarray(t, dtype=np.float64)
    for lo in range(0, n_stars, block_stars):
        hi = min(lo + block_stars, n_stars)
        ptr = iv_ptr[lo:hi + 1] - iv_ptr[lo]
        sl = slice(iv_ptr[lo], iv_ptr[hi])
        vx, vy, vs, vlam, first, last, axis, star = build_runs(
            t, np.ascontiguousarray(x[lo:hi]), np.ascontiguousarray(y[lo:hi]),
            np.ascontiguousarray(rate[lo:hi], dtype=np.float64), ptr.astype(np.int64),
            np.ascontiguousarray(iv_start[sl], dtype=np.float64), np.ascontiguousarray(iv_stop[sl], dtype=np.float64),
            width, height, reach + 2.0)
        edges, bptr, bruns = _bands_for_runs(vx, vy, first, last, height, reach, BAND_ROWS)
        entry = np.zeros(bruns.size)
        updates += int(render_runs(image, edges, bptr, bruns, first, last, axis, vx, vy, vs, vlam,
                                   sigma, extent_sigma, entry))
        run_electrons = np.zeros(first.size)
        np.add.at(run_electrons, bruns, entry)
        np.add.at(electrons, lo + star, run_electrons)
        n_runs += first.size
        if progress is not None:
            progress(hi - lo)
    return TrailRender(image=image, electrons=electrons, pixel_updates=updates, runs=n_runs)
