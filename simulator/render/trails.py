"""Render star trails: stream blocks of stars through run building and the band-parallel trail kernel."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..thread_order import round_robin
from .runs import build_runs, chord_curvatures
from .trail_kernel import (PROFILE_TABLE_COARSE_STEP, PROFILE_TABLE_FINE_STEP, PROFILE_TABLE_TOL,
                           fill_profile_tables, render_runs, table_layouts)

PIXEL_BOX_VARIANCE = 1.0 / 12.0  # variance of a unit-width pixel box (px^2), added to the optical PSF
# rows per band of the parallel kernel: a shaped column (near a change of the line density) is computed in
# full by every band it crosses, so bands narrower than a wide PSF's column repeat it; 32 was fastest on the
# Pettit bench (limb windows 1.2x, stars-only trails 1.1x faster than 16; 64 and 128 no better)
BAND_ROWS = 32
# chords per piece (the unit of work of a band): each piece gathers the density changes within ~4 reach of
# it, so pieces of a few short chords (the limb windows': 0.3-1.5 px) repeat that work; 16 made the Pettit
# limb windows 1.2x faster than 4 (64: no better), the stars' trails unchanged
CHORDS_PER_PIECE = 16
# a run whose line density changes along some chord by more than this fraction (a city light's brightness,
# the limb's transmission) takes the kernel whose flux is exact for any piecewise-linear density
# (trail_kernel._deposit_run); the others keep the previous, cheaper kernel, whose flux error grows with the
# change: ~1.2e-3 x the largest change per chord at psf 0.8, ~3e-3 x at psf 5 (1 + a sin(t / 5 s) at 9 knots),
# i.e. up to ~1.2e-4 / 3e-4 just below this threshold. A trade of speed: at 0.01 every vignetted or limb run
# of the Pettit bench takes the exact kernel, ~2.5x the trail time (its events on finely sampled tracks)
EXACT_DENSITY_CHANGE = 0.1


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


def split_pieces(run_first, run_last, chords_per_piece=CHORDS_PER_PIECE):
    """Cut runs into pieces of at most ``chords_per_piece`` chords: (piece_run, piece_lo, piece_hi)."""
    n_chords = run_last - run_first
    n_pieces = (n_chords + chords_per_piece - 1) // chords_per_piece
    piece_run = np.repeat(np.arange(run_first.size), n_pieces)
    k = np.arange(n_pieces.sum()) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
    piece_lo = run_first[piece_run] + k * chords_per_piece
    piece_hi = np.minimum(piece_lo + chords_per_piece, run_last[piece_run])
    return piece_run.astype(np.int64), piece_lo.astype(np.int64), piece_hi.astype(np.int64)


def _bands_for_pieces(vy, piece_lo, piece_hi, height, reach, band_rows):
    """CSR lists of the pieces touching each band of rows."""
    n_bands = (height + band_rows - 1) // band_rows
    edges = np.minimum(np.arange(n_bands + 1) * band_rows, height).astype(np.int64)
    if piece_lo.size == 0:
        return edges, np.zeros(n_bands + 1, np.int64), np.zeros(0, np.int64)
    # pieces tile the vertex array in order; reduceat over [lo, next lo) misses only the end vertex
    ymin = np.minimum(np.minimum.reduceat(vy, piece_lo), vy[piece_hi])
    ymax = np.maximum(np.maximum.reduceat(vy, piece_lo), vy[piece_hi])
    # rows a piece can touch: across-track reach / cos (<= 1.6 reach with the axis hysteresis) plus
    # the extension of (reach + 1) beyond a run's ends at slope <= 1.25
    pad = 3.0 * reach + 4.0
    b0 = np.clip(np.floor((ymin - pad) / band_rows), 0, n_bands - 1).astype(np.int64)
    b1 = np.clip(np.floor((ymax + pad) / band_rows), 0, n_bands - 1).astype(np.int64)
    counts = b1 - b0 + 1
    piece_ids = np.repeat(np.arange(piece_lo.size), counts)
    bands = np.repeat(b0, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    # a stable sort of small integers: numpy sorts 16-bit keys by radix (linear), int64 by merge sort
    order = np.argsort(bands.astype(np.int16) if n_bands < 2**15 else bands, kind="stable")
    ptr = np.zeros(n_bands + 1, np.int64)
    np.add.at(ptr, bands + 1, 1)
    return edges, np.cumsum(ptr), piece_ids[order].astype(np.int64)


def _chord_sigmas(vx, vy, psf_sigma_px, growth, centre, radius):
    """Sigma (px, with the pixel box) of the chord starting at each vertex, at the chord's middle."""
    if growth == 0.0 or vx.size == 0:
        return np.full(vx.size, effective_sigma(psf_sigma_px))
    mx = 0.5 * (vx + np.append(vx[1:], vx[-1]))
    my = 0.5 * (vy + np.append(vy[1:], vy[-1]))
    rho2 = ((mx - centre[0]) ** 2 + (my - centre[1]) ** 2) / radius**2
    return np.sqrt((psf_sigma_px * (1.0 + growth * rho2)) ** 2 + PIXEL_BOX_VARIANCE)


def exact_runs(vlam0, vlam1, run_first):
    """Runs whose line density changes along some chord by more than EXACT_DENSITY_CHANGE (bool [R])."""
    if run_first.size == 0:
        return np.zeros(0, dtype=np.bool_)
    mean = 0.5 * (vlam0 + vlam1)
    change = np.abs(vlam1 - vlam0) > EXACT_DENSITY_CHANGE * np.abs(mean)
    return np.maximum.reduceat(change, run_first).astype(np.bool_)


# a run gets a table of its blurred line density when it holds at most this many nodes per pixel of track and
# pixel of reach (the pixels it serves: ~2 reach per pixel of track; a node costs about what a shaped pixel does)
PROFILE_TABLE_NODES_PER_PX = 1.0


def profile_tables(run_first, run_last, run_cuts, exact, vs, vlam0, vlam1, vsig, extent):
    """The blurred line density of exact runs, tabulated with its slope along the track over
    [-reach, length + reach] and a node beyond (trail_kernel.fill_profile_tables): fine within reach of tapered
    ends, coarse between where its check passes (PROFILE_TABLE_TOL), else fine throughout; for the runs whose
    table holds at most PROFILE_TABLE_NODES_PER_PX nodes per pixel of track and pixel of reach.
    Returns (tab_start [R], tab_meta [R, 9], table) as trail_kernel.render_runs takes them."""
    n_runs = run_first.size
    if n_runs == 0:
        return np.zeros(0, np.int64), np.zeros((0, 9)), np.zeros(0)
    has_chord = run_last > run_first
    chord_sig = vsig.copy()
    chord_sig[run_last[has_chord]] = vsig[run_last[has_chord] - 1]  # (no chord starts at a run's last vertex)
    reach = extent * np.maximum.reduceat(chord_sig, run_first)
    span = vs[run_last] - vs[run_first] + 2.0 * reach
    extent = float(extent)
    meta, nodes = table_layouts(run_first, run_last, run_cuts, exact & has_chord, vs, vsig, extent,
                                PROFILE_TABLE_COARSE_STEP)
    use = (nodes > 0) & (nodes <= PROFILE_TABLE_NODES_PER_PX * reach * span)
    meta[~use] = 0.0
    nodes = np.where(use, nodes, 0)
    tab_start = np.concatenate([[0], np.cumsum(2 * nodes)[:-1]]).astype(np.int64)  # (value, slope) per node
    table = np.empty(2 * int(nodes.sum()))
    err = fill_profile_tables(run_first, run_last, run_cuts, tab_start, meta, vs, vlam0, vlam1, vsig, extent, table,
                              True)
    redo = err > PROFILE_TABLE_TOL
    if redo.any():  # fine throughout, appended (their coarse tables stay unread)
        meta_f, nodes_f = table_layouts(run_first, run_last, run_cuts, redo, vs, vsig, extent, PROFILE_TABLE_FINE_STEP)
        start_f = table.size + np.concatenate([[0], np.cumsum(2 * nodes_f)[:-1]]).astype(np.int64)
        table = np.concatenate([table, np.empty(2 * int(nodes_f.sum()))])
        meta[redo], tab_start[redo] = meta_f[redo], start_f[redo]
        fill_profile_tables(run_first, run_last, run_cuts, np.where(redo, tab_start, 0),
                            np.where(redo[:, None], meta, 0.0), vs, vlam0, vlam1, vsig, extent, table, False)
    return tab_start, meta, table


def render_trails(shape, t, x, y, rate, iv_ptr, iv_start, iv_stop, psf_sigma_px, extent_sigma=5.0,
                  block_stars=4096, progress=None, channel_weights=None, illumination=None,
                  psf_field_growth=0.0, field_centre=(0.0, 0.0), field_radius=1.0, out=None) -> TrailRender:
    """Render every star's visible track into an image of electrons.

    shape (H, W); t [K] s, the knot times of every star, or [N, K] each star's own (increasing per row; the
    knots beyond a star's visible intervals are never read); x, y [N, K] pixels; rate [N] electrons/s (all channels); visible intervals as
    CSR (iv_ptr [N+1], iv_start, iv_stop in s). psf_sigma_px is the optical sigma; the pixel box is added.
    channel_weights [N, C] (rows summing to 1) splits each star among C channels: the image is then
    [H, W, C]; without it the image is [H, W]. ``electrons`` is per star, all channels together.
    illumination [N, K]: relative illumination (vignetting, 0..1) at each knot, or None for 1.
    psf_field_growth g: the optical sigma grows as psf_sigma_px (1 + g rho^2), rho the distance of the
    chord's middle from field_centre (x, y) over field_radius (the half-diagonal), px.
    out: a float64 C-contiguous [H, W, C] image to add into (C as channel_weights gives, 1 without them); it
    is then the result's image, as given (no copy, no full-frame temporaries).
    """
    height, width = shape
    weights = (np.ones((x.shape[0], 1)) if channel_weights is None
               else np.ascontiguousarray(channel_weights, dtype=np.float64))
    if out is None:
        image = np.zeros((height, width, weights.shape[1]), dtype=np.float64)
    else:
        if (out.shape != (height, width, weights.shape[1]) or out.dtype != np.float64
                or not out.flags.c_contiguous):
            raise ValueError(f"out must be float64 C-contiguous {(height, width, weights.shape[1])}, "
                             f"got {out.dtype} {out.shape}")
        image = out
    sigma = effective_sigma(psf_sigma_px * (1.0 + max(psf_field_growth, 0.0)))  # the largest, for margins
    reach = extent_sigma * sigma
    n_stars = x.shape[0]
    electrons = np.zeros(n_stars)
    updates = 0
    n_runs = 0
    t = np.ascontiguousarray(np.atleast_2d(t), dtype=np.float64)
    if t.shape not in ((1, x.shape[1]), x.shape):
        raise ValueError(f"t must be [K] or [N, K] like x {x.shape}, got {t.shape}")
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    rate = np.ascontiguousarray(rate, dtype=np.float64)
    iv_ptr = np.ascontiguousarray(iv_ptr, dtype=np.int64)
    iv_start = np.ascontiguousarray(iv_start, dtype=np.float64)
    iv_stop = np.ascontiguousarray(iv_stop, dtype=np.float64)
    illum = (np.zeros((0, 0)) if illumination is None
             else np.ascontiguousarray(illumination, dtype=np.float64))
    for lo in range(0, n_stars, block_stars):
        hi = min(lo + block_stars, n_stars)
        vx, vy, vs, vlam0, vlam1, first, last, axis, star, cuts = build_runs(
            t, x, y, rate, iv_ptr, iv_start, iv_stop, width, height, reach + 2.0, lo, hi, illum)
        piece_run, piece_lo, piece_hi = split_pieces(first, last)
        edges, bptr, bpieces = _bands_for_pieces(vy, piece_lo, piece_hi, height, reach, BAND_ROWS)
        entry = np.zeros(bpieces.size)
        exact = exact_runs(vlam0, vlam1, first)
        vsig = _chord_sigmas(vx, vy, psf_sigma_px, psf_field_growth, field_centre, field_radius)
        updates += int(render_runs(image, edges, bptr, bpieces, round_robin(edges.size - 1), piece_run,
                                   piece_lo, piece_hi, first, last, axis, cuts,
                                   np.ascontiguousarray(weights[lo + star]), exact,
                                   vx, vy, vs, vlam0, vlam1, chord_curvatures(vx, vy, vs, first, last), vsig,
                                   extent_sigma, entry,
                                   *profile_tables(first, last, cuts, exact, vs, vlam0, vlam1, vsig, extent_sigma)))
        piece_electrons = np.bincount(bpieces, weights=entry, minlength=piece_lo.size)
        run_electrons = np.bincount(piece_run, weights=piece_electrons, minlength=first.size)
        np.add.at(electrons, lo + star, run_electrons)
        n_runs += first.size
        if progress is not None:
            progress(hi - lo)
    if channel_weights is None and out is None:
        image = image[:, :, 0]
    return TrailRender(image=image, electrons=electrons, pixel_updates=updates, runs=n_runs)
