"""Numba kernel: deposit moving point sources (polyline "runs") into an image with a Gaussian PSF.

Model. A star moving along a track deposits, at pixel centre q, the time integral of its PSF:
``I(q) = ∫ F G(q − p(t)) dt``. Along a straight piece of track with constant speed, with λ = F / speed
(electrons per pixel of track length), this is exactly

    I(q) = λ · g(c) · [Φ((S − s)/σ) − Φ((0 − s)/σ)]

where c is q's perpendicular distance from the line, s the arc-length coordinate of q's projection,
S the run length, g the 1-D Gaussian density and Φ the normal CDF (erf along the chord, Gaussian across
it). Inside a run, far from its ends, the bracket is 1 and only g(c) is needed, so the kernel steps along
the run's dominant axis (one column, or one row, at a time), finds the local chord, and deposits the
across-track profile, evaluating the erf bracket only within ``extent`` sigma of the run's ends.
Neighbouring runs meet at a shared vertex where their brackets sum to one, so a trail is continuous.

The pixel response is included by adding the variance of a unit box, 1/12 px², to the optical PSF
(a Gaussian approximation of the pixel integral); the caller passes the combined sigma.

Parallelism without races: the image is cut into horizontal bands of rows, each band is filled by one
thread with the runs that touch it (in a fixed order), so the result is bit-identical for any number
of threads.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_SQRT2 = math.sqrt(2.0)
# Below this curvature (1/px; radius above 50 px) the interior of a curved run uses Taylor series for the
# curvature terms; sharper bends take the exact per-pixel expressions.
TAYLOR_KAPPA_MAX = 0.02
# runs shorter than this (px) are treated as static stars by the along-track sampling normalisation
STATIC_RUN_PX = 0.25
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True, inline="always")
def _curvature_factor(kc):
    """1 / sqrt(1 - κ c_n), bounded for tracks curling within the PSF (κ c_n -> 1)."""
    return 1.0 / math.sqrt(max(1.0 - kc, 0.25))


@njit(cache=True, error_model="numpy")
def _deposit_run(image, row_lo, row_hi, first, last, chord_lo, chord_hi, axis, cuts, weights, vx, vy, vs, vlam,
                 vkappa, vsig, extent):
    """Add chords chord_lo..chord_hi-1 of the run with vertices first..last to rows [row_lo, row_hi).

    image is [H, W, C]; ``weights`` [C] splits the run's electrons among the channels (electrons and
    λ are the total over channels). Returns (electrons, updates). The erf taper uses the whole run's ends, so splitting a run into
    pieces of chords leaves no seam. Curvature: a pixel at signed distance c_n on the inner side of a
    track of curvature κ sees the track wrap around it, and the time integral becomes
    λ g(c) / sqrt(1 − κ c_n) (second-order expansion of the distance to a circular arc).
    Where the track continues into the neighbouring run (``cuts``: tangent at the start (0:2) and end
    (2:4), zero where the run really starts/ends), the two runs split the pixels by the line through
    the shared vertex perpendicular to that tangent, with no taper, so a curved trail has no seam.

    Columns (or rows, for axis 1) belong to the chord whose dominant-axis span contains them; the first
    and last chords also take the ``extent`` sigma beyond the run's ends, where the erf bracket tapers.
    Chords that cannot reach the band are skipped in O(1).
    """
    height, width, n_ch = image.shape
    if axis == 0:
        U, Wc, u_size = vx, vy, width
    else:
        U, Wc, u_size = vy, vx, height
    run_length = vs[last] - vs[first]
    s0 = vs[first]
    step = 1 if U[last] >= U[first] else -1
    cut_start = cuts[0] != 0.0 or cuts[1] != 0.0
    cut_end = cuts[2] != 0.0 or cuts[3] != 0.0
    # the band's limits along the stepping axis (axis 1 steps rows) and across it (axis 0)
    if axis == 0:
        u_band_lo, u_band_hi = 0, u_size - 1
        w_band_lo, w_band_hi = row_lo, row_hi - 1
    else:
        u_band_lo, u_band_hi = max(row_lo, 0), min(row_hi, u_size) - 1
        w_band_lo, w_band_hi = 0, width - 1
    total = 0.0
    updates = 0
    for chord in range(chord_lo, chord_hi):
        # the PSF may vary over the field: each chord has its own sigma (px, pixel box included)
        sigma = vsig[chord]
        reach = extent * sigma
        inv_two_var = 1.0 / (2.0 * sigma * sigma)
        norm = _INV_SQRT_2PI / sigma
        inv_sig_sqrt2 = 1.0 / (sigma * _SQRT2)
        du = U[chord + 1] - U[chord]
        dw = Wc[chord + 1] - Wc[chord]
        length = math.sqrt(du * du + dw * dw)
        cos_f = abs(du) / length
        sin_f = dw / length
        half = reach / cos_f  # rows within `extent` sigma of the line, across the track
        # dominant-axis span owned by this chord: [a, b) in travel order, extended at the run's ends
        a = U[chord]
        b = U[chord + 1]
        if chord == first:
            a -= step * (reach + 1.0)
        if chord == last - 1:
            b += step * (reach + 1.0)
        if step > 0:
            u0 = math.ceil(a)
            u1 = math.ceil(b) - 1
            if chord == last - 1:
                u1 = math.floor(b)
        else:
            u0 = math.floor(b) + 1
            u1 = math.floor(a)
            if chord == last - 1:
                u0 = math.ceil(b)
        if u0 < u_band_lo:
            u0 = u_band_lo
        if u1 > u_band_hi:
            u1 = u_band_hi
        if u0 > u1:
            continue
        # skip chords whose across-track footprint misses the band
        w_ext = abs(dw / du) * (reach + 1.0) + half + 1.0
        if (min(Wc[chord], Wc[chord + 1]) - w_ext > w_band_hi
                or max(Wc[chord], Wc[chord + 1]) + w_ext < w_band_lo):
            continue
        lam_norm = vlam[chord] * norm
        # The line density λ (electrons per pixel of track) varies from chord to chord (speed, vignetting,
        # the atmosphere at the limb). Held constant per chord, the column sampling would miss up to one
        # column's worth of every change; a linear profile through the chord's mean with the centred slope
        # of its neighbours (a finite-volume reconstruction) follows the trail smoothly and keeps each
        # chord's electrons exactly; the slope is clipped so the profile never goes negative.
        lam_prev = vlam[chord - 1] if chord > first else vlam[chord]
        lam_next = vlam[chord + 1] if chord < last - 1 else vlam[chord]
        lam_slope = 0.5 * (lam_next - lam_prev)
        if abs(lam_slope) > 2.0 * vlam[chord]:
            lam_slope = math.copysign(2.0 * vlam[chord], lam_slope)
        lam_slope *= norm
        if run_length < STATIC_RUN_PX:
            # a (nearly) static star: its erf bracket is sampled along the columns too
            along1 = math.exp(-2.0 * math.pi * math.pi * sigma * sigma)
            if along1 > 1e-7:
                phase = 2.0 * math.pi * 0.5 * (U[first] + U[last])
                lam_norm /= 1.0 + 2.0 * along1 * math.cos(phase) + 2.0 * along1**4 * math.cos(2.0 * phase)
        q = math.exp(-2.0 * cos_f * cos_f * inv_two_var)
        # signed offset along the left normal (-dy, dx)/L per pixel step across the track
        kappa = vkappa[chord]
        # curvature matters when the track bends by more than 1e-4 px within the across-track reach
        # and the polyline resolves the curve (sagitta kappa L^2 / 8 below 0.01 px; the knots guarantee
        # 0.005 px); coarser polylines are rendered as the straight chords they are
        curved = abs(kappa) * reach * reach > 2e-4 and abs(kappa) * length * length < 0.08
        if curved:
            half += 1.0  # the curving track may bring pixels one row beyond the straight line's reach
        cn_step = (du / length) if axis == 0 else (-du / length)
        # along-track distance beyond which a column's pixels are all far from the run's ends
        end_zone = reach + half * abs(sin_f)
        # Point-sampling the across-track Gaussian at rows spaced cos_f apart (in c) sums, by Poisson's
        # formula, to (1 + 2 sum_k e_k cos(2 pi k w_line)) times the line density, e_k =
        # exp(-2 pi^2 k^2 sigma^2 / cos_f^2). Dividing by it keeps every column's flux exact for small
        # PSFs (for sigma >= 0.8 px it is below 1e-6 and skipped).
        alias1 = math.exp(-2.0 * math.pi * math.pi * sigma * sigma / (cos_f * cos_f))
        alias2 = alias1 * alias1 * alias1 * alias1
        aliased = alias1 > 1e-7
        for u_c in range(u0, u1 + 1):
            frac = (u_c - U[chord]) / du
            w_line = Wc[chord] + frac * dw
            s_line = vs[chord] - s0 + frac * length
            w_lo = math.ceil(w_line - half)
            w_hi = math.floor(w_line + half)
            if w_lo < w_band_lo:
                w_lo = w_band_lo
            if w_hi > w_band_hi:
                w_hi = w_band_hi
            if w_lo > w_hi:
                continue
            # exp(-c^2 / 2 sigma^2) down the column by recurrence: c steps by cos_f per pixel, so
            # g[n+1] = g[n] r[n] and r[n+1] = r[n] q (two exp calls per column instead of one per pixel)
            c0 = (w_lo - w_line) * cos_f
            col_norm = lam_norm
            if lam_slope != 0.0:
                col_norm = lam_norm + (min(max(frac, 0.0), 1.0) - 0.5) * lam_slope
            if aliased:
                phase = 2.0 * math.pi * w_line
                col_norm /= 1.0 + 2.0 * alias1 * math.cos(phase) + 2.0 * alias2 * math.cos(2.0 * phase)
            gauss = col_norm * math.exp(-c0 * c0 * inv_two_var)
            ratio = math.exp(-(2.0 * c0 * cos_f + cos_f * cos_f) * inv_two_var)
            n_w = w_hi - w_lo + 1
            interior = end_zone <= s_line <= run_length - end_zone
            if interior and curved and abs(kappa) < TAYLOR_KAPPA_MAX:
                # gently curved interior: Gaussian recurrence in the chord-line offset c, times the
                # curvature terms by Taylor series (exp(x) to x^3 with x = (2 c d - d^2) / 2 sigma^2 for
                # the shift d of the track from the chord line, and (1 - y)^-1/2 to y^3 with
                # y = kappa c_eff; both |x|, |y| < 0.05 where the Gaussian exceeds 1e-4 of its peak)
                col_total = 0.0
                a0 = (frac - 0.5) * length
                quarter_l2 = 0.25 * length * length
                for w in range(w_lo, w_hi + 1):
                    delta = w - w_line
                    a_m = a0 + delta * sin_f
                    d = 0.5 * kappa * (a_m * a_m - quarter_l2)
                    c = delta * cn_step
                    x = (2.0 * c * d - d * d) * inv_two_var
                    y = kappa * (c - d)
                    value = gauss * (1.0 + x * (1.0 + x * (0.5 + x * (1.0 / 6.0)))) \
                        * (1.0 + y * (0.5 + y * (0.375 + y * 0.3125)))
                    if axis == 0:
                        for ch in range(n_ch):
                            image[w, u_c, ch] += value * weights[ch]
                    else:
                        for ch in range(n_ch):
                            image[u_c, w, ch] += value * weights[ch]
                    col_total += value
                    gauss *= ratio
                    ratio *= q
                total += col_total
                updates += n_w
                continue
            if not curved and interior:
                # straight interior of the run: the erf bracket is 1 for every pixel of the column
                col_total = 0.0
                if axis == 0:
                    for w in range(w_lo, w_hi + 1):
                        for ch in range(n_ch):
                            image[w, u_c, ch] += gauss * weights[ch]
                        col_total += gauss
                        gauss *= ratio
                        ratio *= q
                else:
                    for w in range(w_lo, w_hi + 1):
                        for ch in range(n_ch):
                            image[u_c, w, ch] += gauss * weights[ch]
                        col_total += gauss
                        gauss *= ratio
                        ratio *= q
                total += col_total
                updates += n_w
                continue
            for w in range(w_lo, w_hi + 1):
                delta = w - w_line
                along = delta * sin_f  # along-track offset of the pixel from the column's track point
                c_n = delta * cn_step  # and across it, along the left normal
                if curved:
                    # distance to the curving track rather than to the chord's straight line: relative
                    # to the chord's midpoint (offset a_m along it), the arc through the chord's ends
                    # lies at kappa (a_m^2 - L^2/4) / 2 along the normal (second order in kappa)
                    a_m = (frac - 0.5) * length + along
                    c_n -= 0.5 * kappa * (a_m * a_m - 0.25 * length * length)
                if abs(c_n) > reach:
                    continue
                s = s_line + along
                if curved:
                    # arc length of the pixel's foot on the curve: the offset a_m from the chord's middle
                    # along its tangent spans a_m / (1 - kappa c_n) of arc (more on the inner side)
                    s = s_line + along + a_m * (1.0 / max(1.0 - kappa * c_n, 0.25) - 1.0)
                if s < -reach or s > run_length + reach:
                    continue
                value = col_norm * math.exp(-c_n * c_n * inv_two_var)
                if curved:
                    value *= _curvature_factor(kappa * c_n)
                if s < reach or s > run_length - reach:
                    if axis == 0:
                        qx, qy = float(u_c), float(w)
                    else:
                        qx, qy = float(w), float(u_c)
                    if cut_start and s < reach:
                        if (qx - vx[first]) * cuts[0] + (qy - vy[first]) * cuts[1] < 0.0:
                            continue
                    if cut_end and s > run_length - reach:
                        if (qx - vx[last]) * cuts[2] + (qy - vy[last]) * cuts[3] >= 0.0:
                            continue
                    # the erf bracket Phi((S - s)/sigma) - Phi(-s/sigma) of the exact chord integral, with
                    # a cut end contributing no tail (the neighbouring run takes over there)
                    if not cut_start and not cut_end:
                        value *= 0.5 * (math.erfc((s - run_length) * inv_sig_sqrt2) - math.erfc(s * inv_sig_sqrt2))
                    elif not cut_start:
                        value *= 1.0 - 0.5 * math.erfc(s * inv_sig_sqrt2)
                    elif not cut_end:
                        value *= 1.0 - 0.5 * math.erfc((run_length - s) * inv_sig_sqrt2)
                if axis == 0:
                    for ch in range(n_ch):
                        image[w, u_c, ch] += value * weights[ch]
                else:
                    for ch in range(n_ch):
                        image[u_c, w, ch] += value * weights[ch]
                total += value
                updates += 1
    return total, updates


@njit(parallel=True, cache=True)
def render_runs(image, band_edges, band_ptr, band_pieces, band_order, piece_run, piece_lo, piece_hi,
                run_first, run_last, run_axis, run_cuts, run_weights, vx, vy, vs, vlam, vkappa, vsig, extent,
                entry_electrons):
    """Deposit all runs into ``image`` (float64 [H, W], electrons), band by band in parallel.

    band_edges [B+1]: row boundaries of the bands. band_ptr [B+1] / band_pieces [E]: CSR list of the
    pieces touching each band; a piece is chords piece_lo..piece_hi-1 of run piece_run. Runs: vertex
    index ranges run_first[r]..run_last[r] (inclusive) into the vertex arrays vx, vy (pixels), vs
    (cumulative arc length, pixels), vlam (electrons per pixel of track length of the chord starting at
    that vertex), vkappa (signed curvature of that chord, 1/px), vsig (that chord's PSF sigma, px).
    run_axis[r]: 0 steps columns, 1 steps rows.
    run_cuts [R, 4]: tangents of the cuts where a run meets its neighbour (see _deposit_run).
    image is [H, W, C]; run_weights [R, C] splits each run's electrons among the channels. entry_electrons [E] receives what each
    (band, piece) entry deposited. Returns the number of pixel updates.
    band_order: a permutation of the bands that interleaves them across threads (prange hands out
    contiguous chunks, and trails crowd into part of the frame); it does not change the result.
    """
    n_bands = band_edges.shape[0] - 1
    counts = np.zeros(n_bands, dtype=np.int64)
    for i in prange(n_bands):
        b = band_order[i]
        row_lo = band_edges[b]
        row_hi = band_edges[b + 1]
        n = 0
        for e in range(band_ptr[b], band_ptr[b + 1]):
            p = band_pieces[e]
            r = piece_run[p]
            total, updates = _deposit_run(image, row_lo, row_hi, run_first[r], run_last[r], piece_lo[p],
                                          piece_hi[p], run_axis[r], run_cuts[r], run_weights[r], vx, vy, vs, vlam,
                                          vkappa,
                                          vsig, extent)
            entry_electrons[e] = total
            n += updates
        counts[b] = n
    return counts.sum()
