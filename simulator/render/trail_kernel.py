"""Numba kernel: deposit moving point sources (polyline "runs") into an image with a Gaussian PSF.

Model. A star moving along a track deposits, at pixel centre q, the time integral of its PSF:
``I(q) = ∫ F G(q − p(t)) dt``. Along a straight piece of track with constant speed, with λ = F / speed
(electrons per pixel of track length), this is exactly

    I(q) = λ · g(c) · [Φ((S − s)/σ) − Φ((0 − s)/σ)]

where c is q's perpendicular distance from the line, s the arc-length coordinate of q's projection,
S the run length, g the 1-D Gaussian density and Φ the normal CDF (erf along the chord, Gaussian across
it). Inside a run, far from its ends, the bracket is 1 and only g(c) is needed, so the kernel steps along
the run's dominant axis (one column, or one row, at a time), finds the local chord, and deposits the
across-track profile, evaluating the along-track profile only within ``extent`` sigma of the run's ends.
Neighbouring runs meet at a shared vertex where their brackets sum to one, so a trail is continuous.
With a line density that varies (speed, illumination), λ is linear along each chord and the bracket
generalises to (λ 1[0,S] * N(0, σ²))(s), in closed form (see _deposit_run).

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
# a change of the line density (J + Δm σ, per pixel of track) above this fraction of the density shapes the
# pixels near it: interior columns within its reach take the blurred density per pixel (scaled to the
# column's exact total) instead of the chord's linear profile, whose pixels are off by up to ~0.24 × this of
# the peak next to an unmarked change (hypothesis found a slope change of 0.99e-3 left at 1e-3: 1.76e-4 of the
# peak; at 3e-4, 3.7e-6; the Pettit renders no slower)
SHAPE_TOL = 3e-4


# Runs of the exact kernel get a table of their line density blurred along the track, B(s) = (λ * N(0, σ²))(s),
# and its slope; the pixels that need it (near a marked change of the density, a tapered end or a cut) read it
# by cubic Hermite interpolation instead of summing every change within reach (~2 reach / chord length of
# them, each an exp: the limb windows' chords are 0.3-1.5 px). Interpolation error <= h^4 / 384 × max |B''''|,
# largest mid-way between nodes. A table has up to three segments: within reach of a tapered end (a jump of the
# whole density, where |B''''| reaches 0.55 J / σ^4) nodes PROFILE_TABLE_FINE_STEP × σ apart (5.6e-6 of the
# jump); between them, where the density changes by the small steps of a finely sampled smooth curve,
# PROFILE_TABLE_COARSE_STEP × σ, kept where the error it estimates at every interval's midpoint is within
# PROFILE_TABLE_TOL of the run's largest density: the interpolation over twice the step, mid-way, is off the
# node there by ~16 times that error (Richardson's estimate, h^4; on the Pettit limb windows within 20 % of the
# error measured against the exact sum at the midpoints, median). Runs that fail are tabulated at the fine step
# throughout (trails.profile_tables, which also decides which runs get a table). On the Pettit scenario's limb
# windows 0.7 σ was the fastest coarse step (at σ more runs fail: ~35 % of the wide component's).
PROFILE_TABLE_FINE_STEP = 0.25
PROFILE_TABLE_COARSE_STEP = 0.7
PROFILE_TABLE_TOL = 1e-5


@njit(cache=True, inline="always")
def _table_value(table, a, n, s_lo, inv_step, s):
    """Cubic Hermite interpolation at arc length s of the n nodes at s_lo + i / inv_step stored from table[a]
    as (value, slope × step) pairs."""
    u = (s - s_lo) * inv_step
    i = int(math.floor(u))
    if i < 0:
        i = 0
    elif i > n - 2:
        i = n - 2
    f = u - i
    f2 = f * f
    f3 = f2 * f
    k = a + 2 * i
    return ((2.0 * f3 - 3.0 * f2 + 1.0) * table[k] + (f3 - 2.0 * f2 + f) * table[k + 1]
            + (3.0 * f2 - 2.0 * f3) * table[k + 2] + (f3 - f2) * table[k + 3])


@njit(cache=True, inline="always")
def _segmented_value(table, a, meta, s):
    """A run's table at arc length s: meta = (s_g, 1 / step_g, n_g) for its segments g = 0, 1, 2 (n_g nodes
    from s_g, stored one after the other from table[a]; n_0 = n_2 = 0 where a segment is absent)."""
    n0 = int(meta[2])
    n1 = int(meta[5])
    n2 = int(meta[8])
    if n0 > 0 and s < meta[3]:
        return _table_value(table, a, n0, meta[0], meta[1], s)
    if n2 > 0 and s >= meta[6]:
        return _table_value(table, a + 2 * (n0 + n1), n2, meta[6], meta[7], s)
    return _table_value(table, a + 2 * n0, n1, meta[3], meta[4], s)


@njit(cache=True)
def _table_layout(first, last, cuts, vs, vsig, extent, coarse, meta):
    """meta (9) of run first..last's table (see _segmented_value); returns its node count. Fine segments
    (PROFILE_TABLE_FINE_STEP × its narrowest sigma) cover [-reach, reach] around a tapered start and end, a
    segment at ``coarse`` × that sigma the rest; the table spans [-reach, length + reach] and a node beyond
    either way."""
    sig_min = math.inf
    sig_max = 0.0
    for k in range(first, last):
        sig_min = min(sig_min, vsig[k])
        sig_max = max(sig_max, vsig[k])
    h_f = PROFILE_TABLE_FINE_STEP * sig_min
    h_c = max(coarse, PROFILE_TABLE_FINE_STEP) * sig_min
    reach = extent * sig_max
    length = vs[last] - vs[first]
    taper_start = not (cuts[0] != 0.0 or cuts[1] != 0.0)
    taper_end = not (cuts[2] != 0.0 or cuts[3] != 0.0)
    lo = -reach - (h_f if taper_start else h_c)
    hi = length + reach + (h_f if taper_end else h_c)
    # the coarse segment from the start zone's end (or lo) to the end zone's start (or hi)
    c_lo = lo + math.ceil((2.0 * reach + 2.0 * h_f) / h_f) * h_f if taper_start else lo
    c_hi = length - reach - h_f if taper_end else hi
    if h_c < 1.5 * h_f or c_hi - c_lo < 4.0 * h_c:
        # one segment: fine where the run tapers, else coarse
        h = h_f if (taper_start or taper_end) else h_c
        n = int(math.ceil((hi - lo) / h)) + 2
        meta[0], meta[1], meta[2] = lo, 1.0 / h, 0.0
        meta[3], meta[4], meta[5] = lo, 1.0 / h, float(n)
        meta[6], meta[7], meta[8] = hi, 1.0 / h, 0.0
        return n
    n0 = int(round((c_lo - lo) / h_f)) + 1 if taper_start else 0
    n1 = int(math.ceil((c_hi - c_lo) / h_c)) + 1
    s2 = c_lo + (n1 - 1) * h_c
    n2 = int(math.ceil((hi - s2) / h_f)) + 2 if taper_end else 0
    if not taper_end:
        n1 += 1  # a node beyond
    meta[0], meta[1], meta[2] = lo, 1.0 / h_f, float(n0)
    meta[3], meta[4], meta[5] = c_lo, 1.0 / h_c, float(n1)
    meta[6], meta[7], meta[8] = s2, 1.0 / h_f, float(n2)
    return n0 + n1 + n2


@njit(parallel=True, cache=True)
def table_layouts(run_first, run_last, run_cuts, use, vs, vsig, extent, coarse):
    """_table_layout of the runs where ``use`` (meta [R, 9], node counts [R]; 0 nodes for the others)."""
    meta = np.zeros((run_first.shape[0], 9))
    nodes = np.zeros(run_first.shape[0], dtype=np.int64)
    for r in prange(run_first.shape[0]):
        if use[r] and run_last[r] > run_first[r]:
            nodes[r] = _table_layout(run_first[r], run_last[r], run_cuts[r], vs, vsig, extent, coarse, meta[r])
    return meta, nodes


@njit(cache=True)
def _fill_profile_table(first, last, cuts, vs, vlam0, vlam1, vsig, extent, meta, out, check):
    """out[2i], out[2i + 1] = the line density of the run (vertices first..last) blurred along the track, and
    its slope × the segment's step, at the nodes of meta's segments (_segmented_value; arc length from the
    run's start), with the sigma of the chord there: _profile's sum written from the run's start (each change
    of the density adds J Φ(z) + Δm σ ψ(z), z = (s − s_k) / σ, and to the slope J φ(z) / σ + Δm Φ(z)), the
    changes farther than ``extent`` sigma behind folded into a straight line (Φ = 1, ψ = z), those as far
    ahead left out (as _profile leaves them). With ``check``, returns the largest error of segment 1's
    interpolation that Richardson's estimate finds (see PROFILE_TABLE_TOL), over the run's largest density
    (else 0)."""
    s0 = vs[first]
    n_vert = last - first + 1
    ev_s = np.empty(n_vert)
    ev_j = np.empty(n_vert)
    ev_dm = np.empty(n_vert)
    base_a = 0.0  # the line every settled change adds up to: base_a + base_b s
    base_b = 0.0
    n_ev = 0
    for k in range(first, last + 1):
        if k == first:
            slope = (vlam1[k] - vlam0[k]) / (vs[k + 1] - vs[k])
            if cuts[0] != 0.0 or cuts[1] != 0.0:  # the track goes on before the cut: the first chord's line
                base_a = vlam0[k]
                base_b = slope
                continue
            ej, edm = vlam0[k], slope
        elif k == last:
            if cuts[2] != 0.0 or cuts[3] != 0.0:  # ... and after it: the last chord's line goes on
                continue
            ej, edm = -vlam1[k - 1], -(vlam1[k - 1] - vlam0[k - 1]) / (vs[k] - vs[k - 1])
        else:
            ej = vlam0[k] - vlam1[k - 1]
            edm = (vlam1[k] - vlam0[k]) / (vs[k + 1] - vs[k]) - (vlam1[k - 1] - vlam0[k - 1]) / (vs[k] - vs[k - 1])
        if ej == 0.0 and edm == 0.0:
            continue
        ev_s[n_ev] = vs[k] - s0
        ev_j[n_ev] = ej
        ev_dm[n_ev] = edm
        n_ev += 1
    lo = 0  # changes before lo are settled (in the base line)
    hi = 0  # changes from hi on are beyond reach ahead
    c = first  # the chord at the node
    i = 0  # the node (in order of arc length over the segments)
    err = 0.0
    v1 = d1 = v2 = d2 = 0.0  # the last two nodes' values and slopes × step
    for g in range(3):
        step = 1.0 / meta[3 * g + 1]
        n_g = int(meta[3 * g + 2])
        for m in range(n_g):
            s = meta[3 * g] + m * step
            while c < last - 1 and vs[c + 1] - s0 <= s:
                c += 1
            sigma = vsig[c]
            reach = extent * sigma
            inv_sigma = 1.0 / sigma
            while lo < n_ev and ev_s[lo] <= s - reach:
                base_a += ev_j[lo] - ev_dm[lo] * ev_s[lo]
                base_b += ev_dm[lo]
                lo += 1
            if hi < lo:
                hi = lo
            while hi < n_ev and ev_s[hi] < s + reach:
                hi += 1
            dens = base_a + base_b * s
            slope = base_b
            for e in range(lo, hi):
                z = (s - ev_s[e]) * inv_sigma
                cdf, pdf = _normal_cdf_pdf(z)
                dens += ev_j[e] * cdf + ev_dm[e] * sigma * (z * cdf + pdf)
                slope += ev_j[e] * pdf * inv_sigma + ev_dm[e] * cdf
            d = slope * step
            out[2 * i] = dens
            out[2 * i + 1] = d
            if check and g == 1 and m >= 2:
                # the table at twice the step, mid-way between nodes m - 2 and m (its slopes × 2 step: 2 d), off
                # node m - 1 by 16 times this step's error there (h^4): the check's estimate of it
                err = max(err, abs(0.5 * (v2 + dens) + 0.25 * (d2 - d) - v1) / 16.0)
            v2, d2, v1, d1 = v1, d1, dens, d
            i += 1
    if err > 0.0:
        peak = 0.0
        for k in range(first, last):
            peak = max(peak, abs(vlam0[k]), abs(vlam1[k]))
        err = err / peak if peak > 0.0 else math.inf
    return err


@njit(parallel=True, cache=True)
def fill_profile_tables(run_first, run_last, run_cuts, tab_start, tab_meta, vs, vlam0, vlam1, vsig, extent, table,
                        check):
    """Fill each run's table (from table[tab_start[r]], its nodes as tab_meta[r] lays them out; none: no table)
    by _fill_profile_table; returns each run's check (0 without ``check``, or for runs without a table)."""
    err = np.zeros(run_first.shape[0])
    for r in prange(run_first.shape[0]):
        n = int(tab_meta[r, 2] + tab_meta[r, 5] + tab_meta[r, 8])
        if n > 0:
            a = tab_start[r]
            err[r] = _fill_profile_table(run_first[r], run_last[r], run_cuts[r], vs, vlam0, vlam1, vsig, extent,
                                         tab_meta[r], table[a:a + 2 * n], check)
    return err


@njit(cache=True, inline="always")
def _gentle_curve_terms(c, d, kappa, inv_two_var):
    """On a gently curved track (kappa < TAYLOR_KAPPA_MAX), a pixel at offset c from the chord's line, the track
    shifted by d from it: exp((2 c d - d^2) / 2 sigma^2) and the wrap-around (1 - kappa (c - d))^-1/2, each by its
    Taylor series to the third order (both arguments < 0.05 where the Gaussian exceeds 1e-4 of its peak)."""
    x = (2.0 * c * d - d * d) * inv_two_var
    y = kappa * (c - d)
    return (1.0 + x * (1.0 + x * (0.5 + x * (1.0 / 6.0)))), (1.0 + y * (0.5 + y * (0.375 + y * 0.3125)))


@njit(cache=True, inline="always")
def _curvature_factor(kc):
    """1 / sqrt(1 - κ c_n), bounded for tracks curling within the PSF (κ c_n -> 1)."""
    return 1.0 / math.sqrt(max(1.0 - kc, 0.25))


@njit(cache=True, inline="always")
def _chord_line(c, U, vlam0, vlam1):
    """Chord c's line density (electrons per pixel of track), linear along it: (value at its start, at its
    end, slope per pixel of travel along the stepping axis)."""
    a = vlam0[c]
    b = vlam1[c]
    return a, b, (b - a) / abs(U[c + 1] - U[c])


# The standard normal's Φ and φ by cubic Hermite interpolation between nodes NORMAL_TABLE_STEP apart on
# [-NORMAL_TABLE_Z, NORMAL_TABLE_Z] (values and slopes from scipy.special.ndtr and the pdf; beyond: 0 or 1, and 0;
# φ(8.5) = 2e-16): within 3.2e-9 of both (the bound h^4 / 384 max |f^(4)|; measured 1.4e-9 and 3.0e-9), a few
# multiplications where Abramowitz & Stegun 7.1.26 (before; Φ to 7.5e-8) took an exp and a division.
NORMAL_TABLE_Z = 8.5
NORMAL_TABLE_STEP = 1.0 / 32.0


def _normal_table():
    """[n, 4] per node z_i: Φ(z_i), h φ(z_i), φ(z_i), h φ'(z_i) (h the step; φ' = -z φ)."""
    from scipy.special import ndtr

    z = np.linspace(-NORMAL_TABLE_Z, NORMAL_TABLE_Z, int(round(2 * NORMAL_TABLE_Z / NORMAL_TABLE_STEP)) + 1)
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * z * z)
    return np.ascontiguousarray(np.stack([ndtr(z), NORMAL_TABLE_STEP * pdf, pdf, NORMAL_TABLE_STEP * (-z * pdf)],
                                         axis=1))


_NORMAL_TABLE = _normal_table()
_NORMAL_INV_STEP = 1.0 / NORMAL_TABLE_STEP
_NORMAL_LAST = _NORMAL_TABLE.shape[0] - 1


@njit(cache=True, inline="always")
def _normal_cdf_pdf(z):
    """(Φ(z), φ(z)) of the standard normal, each within 3.2e-9 (cubic Hermite on _NORMAL_TABLE)."""
    u = (z + NORMAL_TABLE_Z) * _NORMAL_INV_STEP
    if not u > 0.0:  # (NaN too)
        return 0.0, 0.0
    i = int(u)
    if i >= _NORMAL_LAST:
        return 1.0, 0.0
    t = u - i
    t2 = t * t
    h01 = t2 * (3.0 - 2.0 * t)
    h00 = 1.0 - h01
    h10 = t * (1.0 - t) * (1.0 - t)
    h11 = t2 * (t - 1.0)
    a = _NORMAL_TABLE[i]
    b = _NORMAL_TABLE[i + 1]
    return (h00 * a[0] + h10 * a[1] + h01 * b[0] + h11 * b[1]), (h00 * a[2] + h10 * a[3] + h01 * b[2] + h11 * b[3])


@njit(cache=True, inline="always")
def _first_at_or_above(values, lo, hi, x):
    """The first index i in [lo, hi) with values[i] >= x (hi if none); values ascending there."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, inline="always")
def _profile(s, chord, s_c, s_c1, lam0, lam_ds, e_a, e_b, ev_k, ev_s, ev_j, ev_dms, sigma, inv_sigma, reach):
    """The line density blurred along the track by the PSF, (λ * N(0, σ²))(s), at arc length s of the run:
    the owning chord's line (from arc length s_c to s_c1) plus the density changes (ev_*) within reach (see
    _deposit_run). (Runs with a table read it instead, _table_value, chosen at the call site: folding that
    choice into this function made the Pettit limb windows' kernel 1.25-2.1x slower.)"""
    dens = lam0 + lam_ds * (s - s_c)
    # the changes in order along the run: those farther than reach beyond both s and the chord (either way)
    # add nothing (the tests below skip them); find the rest by bisection rather than visit them all
    pad = reach * (1.0 + 1e-9)
    lo = _first_at_or_above(ev_s, e_a, e_b, min(s, s_c) - pad)
    hi = _first_at_or_above(ev_s, lo, e_b, max(s, s_c1) + pad)
    for e in range(lo, hi):
        d = s - ev_s[e]
        if ev_k[e] > chord:
            if d <= -reach:
                continue
            z = d * inv_sigma
            sign = 1.0
        else:
            if d >= reach:
                continue
            z = -d * inv_sigma
            sign = -1.0
        cdf, pdf = _normal_cdf_pdf(z)
        dens += sign * ev_j[e] * cdf + ev_dms[e] * sigma * (z * cdf + pdf)
    return dens


@njit(cache=True, error_model="numpy")
def _deposit_run(image, row_lo, row_hi, first, last, chord_lo, chord_hi, axis, cuts, weights, vx, vy, vs, vlam0,
                 vlam1, vkappa, vsig, extent, table, tab_a, tab_meta):
    """Add chords chord_lo..chord_hi-1 of the run with vertices first..last to rows [row_lo, row_hi).

    table from tab_a: the run's blurred line density and its slope at the nodes of tab_meta's segments
    (fill_profile_tables, _segmented_value), read where a pixel needs it; no nodes: summed per pixel
    (_profile).

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

    Line density. Each chord's λ is linear along it (vlam0 at its start, vlam1 at its end: the illumination
    interpolated linearly in time). A column's electrons are then known in closed form: projected on the
    stepping axis u, the run is a piecewise-linear density Λ(u) (electrons per pixel of u) that starts and
    ends at the run's ends, and the column at u holds (Λ * N(0, σ²))(u), the projection of the blurred
    trail (a column sums the Gaussian across the track; along u it is blurred by σ). Relative to the owning
    chord's line, every change of Λ within reach (a jump J and a change of slope Δm at a chord joint, the
    run's ends) adds J Φ(d/σ) + Δm σ ψ(d/σ) (d the signed distance past it, ψ(z) = z Φ(z) + φ(z)). Sampled
    at the columns this sums to the run's electrons (Poisson summation of a smooth function), whatever the
    chords' lengths, speeds or illumination. Inside the run each column deposits exactly that total,
    spread along the track by the chord's slope of λ. Near a tapered end, and near a change of λ above
    SHAPE_TOL, each pixel takes the line density blurred along the track, (λ * N(0, σ²))(s) at its arc
    length s (the same closed form in arc length; at a run's end it is the erf bracket with λ's slope),
    and the column is scaled to its exact total. Near a cut the pixels take that profile unscaled. (On a
    curving track the column totals near a tapered end hold the change of 1 / cos along the arc; elsewhere
    the pixels' curvature terms hold it, and the smoothing is of λ alone.)
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
    tabulated = tab_meta[2] + tab_meta[5] + tab_meta[8] > 0.0
    # the band's limits along the stepping axis (axis 1 steps rows) and across it (axis 0)
    if axis == 0:
        u_band_lo, u_band_hi = 0, u_size - 1
        w_band_lo, w_band_hi = row_lo, row_hi - 1
    else:
        u_band_lo, u_band_hi = max(row_lo, 0), min(row_hi, u_size) - 1
        w_band_lo, w_band_hi = 0, width - 1
    # changes of the density near the chords (joints and tapered ends): vertex, position along travel, J, Δm
    n_vert = last - first + 1
    ev_k = np.empty(n_vert, dtype=np.int64)
    ev_tau = np.empty(n_vert)
    ev_j = np.empty(n_vert)
    ev_dm = np.empty(n_vert)
    ev_s = np.empty(n_vert)
    ev_dms = np.empty(n_vert)
    ev_shape = np.empty(n_vert, dtype=np.bool_)
    buf = np.empty(0)
    # the density changes near the piece, once: every joint where the density changes (J, Δm per pixel of the
    # axis, Δm per pixel of track) and the run's tapered ends, in order along the run. (Leaving out changes
    # below 1e-3 of the density, as an earlier version did, left the curvature of a finely sampled, smoothly
    # varying density out of the column totals: 1.1e-3 of the peak for a setting star's transmission on 80
    # chords of 0.5 px, 2e-6 with every change; no slower on the Pettit scenario.)
    sig_max = 0.0
    for c in range(chord_lo, chord_hi):
        sig_max = max(sig_max, vsig[c])
    s_win = 2.0 * extent * sig_max + 1.7 * extent * sig_max + 8.0
    k_lo = chord_lo
    while k_lo > first and vs[k_lo] > vs[chord_lo] - s_win:
        k_lo -= 1
    k_hi = chord_hi
    while k_hi < last and vs[k_hi] < vs[chord_hi] + s_win:
        k_hi += 1
    n_ev = 0
    for k in range(k_lo, k_hi + 1):
        ej = 0.0
        edm = 0.0
        edms = 0.0
        keep = False
        if k == first:
            if not cut_start:
                ej, _, edm = _chord_line(k, U, vlam0, vlam1)
                edms = (vlam1[k] - vlam0[k]) / (vs[k + 1] - vs[k])
                keep = True
        elif k == last:
            if not cut_end:
                _, ej, edm = _chord_line(k - 1, U, vlam0, vlam1)
                edms = -(vlam1[k - 1] - vlam0[k - 1]) / (vs[k] - vs[k - 1])
                ej = -ej
                edm = -edm
                keep = True
        else:
            pa, pb, pm = _chord_line(k - 1, U, vlam0, vlam1)
            na, nb, nm = _chord_line(k, U, vlam0, vlam1)
            ej = na - pb
            edm = nm - pm
            edms = (nb - na) / (vs[k + 1] - vs[k]) - (pb - pa) / (vs[k] - vs[k - 1])
            keep = ej != 0.0 or edm != 0.0 or edms != 0.0
        if keep:
            ev_k[n_ev] = k
            ev_tau[n_ev] = step * U[k]
            ev_j[n_ev] = ej
            ev_dm[n_ev] = edm
            ev_s[n_ev] = vs[k] - s0
            ev_dms[n_ev] = edms
            ev_shape[n_ev] = (k == first or k == last
                              or abs(ej) + abs(edms) * sig_max > SHAPE_TOL * max(abs(vlam1[k - 1]), abs(vlam0[k])))
            n_ev += 1
    e_a = 0
    e_b = 0
    total = 0.0
    updates = 0
    for chord in range(chord_lo, chord_hi):
        # the PSF may vary over the field: each chord has its own sigma (px, pixel box included)
        sigma = vsig[chord]
        reach = extent * sigma
        inv_two_var = 1.0 / (2.0 * sigma * sigma)
        inv_sigma = 1.0 / sigma
        norm = _INV_SQRT_2PI / sigma
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
        # the chord's line density along the track (electrons per px of track), and along the axis
        lam0 = vlam0[chord]
        lam_ds = (vlam1[chord] - lam0) / length
        line_a, _, line_m = _chord_line(chord, U, vlam0, vlam1)
        s_c = vs[chord] - s0
        s_c1 = vs[chord + 1] - s0
        # 1 / cos of the chord (ds / du), and its slope along the axis on a curving track: with the tangent's
        # angle phi to the axis turning at kappa per pixel of track (in the (u, w) frame: -kappa for axis 1),
        # d(1 / |cos phi|) / dtau = step sin_f kappa_uw / cos_f^3
        inv_cos = (vs[chord + 1] - vs[chord]) / abs(du)
        kappa_uw = vkappa[chord] if axis == 0 else -vkappa[chord]
        inv_cos_slope = step * sin_f * kappa_uw / (cos_f * cos_f * cos_f)
        tau_c = step * U[chord]
        tau_c1 = step * U[chord + 1]
        static_norm = 1.0
        if run_length < STATIC_RUN_PX:
            # a (nearly) static star: its column totals are point samples of a Gaussian along the axis too
            along1 = math.exp(-2.0 * math.pi * math.pi * sigma * sigma)
            if along1 > 1e-7:
                phase = 2.0 * math.pi * 0.5 * (U[first] + U[last])
                static_norm = 1.0 / (1.0 + 2.0 * along1 * math.cos(phase) + 2.0 * along1**4 * math.cos(2.0 * phase))
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
        # PSFs (for sigma >= 0.8 px it is below 1e-6 and skipped). The along-track slope of the density
        # is applied about the samples' mean offset, which aliasing moves off the line by
        # -4 pi tau^2 sum_k k e_k sin(2 pi k w_line) / (that sum), tau = sigma / cos_f.
        alias1 = math.exp(-2.0 * math.pi * math.pi * sigma * sigma / (cos_f * cos_f))
        alias2 = alias1 * alias1 * alias1 * alias1
        aliased = alias1 > 1e-7
        tau2 = sigma * sigma / (cos_f * cos_f)
        # the density changes that can reach this chord's columns and pixels (within reach of the farthest
        # pixel's arc length; the columns extend reach + 1 beyond the run's ends): a window of the list
        s_margin = 2.0 * reach + half * abs(sin_f) + 3.0
        while e_a < n_ev and ev_s[e_a] < vs[chord] - s0 - s_margin:
            e_a += 1
        if e_b < e_a:
            e_b = e_a
        while e_b < n_ev and ev_s[e_b] <= vs[chord + 1] - s0 + s_margin:
            e_b += 1
        n_full = int(2.0 * half) + 3
        shape_reach = reach + half * abs(sin_f) + 1.0
        if n_full > buf.shape[0]:
            buf = np.empty(n_full + 8)
        for u_c in range(u0, u1 + 1):
            frac = (u_c - U[chord]) / du
            w_line = Wc[chord] + frac * dw
            s_line = vs[chord] - s0 + frac * length
            w_full_lo = math.ceil(w_line - half)
            w_full_hi = math.floor(w_line + half)
            w_lo = max(w_full_lo, w_band_lo)
            w_hi = min(w_full_hi, w_band_hi)
            if w_lo > w_hi:
                continue
            interior = end_zone <= s_line <= run_length - end_zone
            near_taper = not interior and ((not cut_start and s_line < end_zone)
                                           or (not cut_end and s_line > run_length - end_zone))
            near_cut = not interior and ((cut_start and s_line < end_zone)
                                         or (cut_end and s_line > run_length - end_zone))
            renorm = near_taper and not near_cut
            # a marked change of the density (or a tapered end) within reach of the column's pixels
            # (the changes are in order along the run, in arc length ev_s and in travel along the axis ev_tau:
            # bisection finds the few that can matter, the tests below still decide, as over the whole window)
            shaped = False
            e = _first_at_or_above(ev_s, e_a, e_b, s_line - shape_reach)
            while e < e_b and ev_s[e] < s_line + shape_reach:
                if ev_shape[e] and abs(ev_s[e] - s_line) < shape_reach:
                    shaped = True
                    break
                e += 1
            if interior and shaped:
                renorm = True
            # the column's line density smoothed along the axis as the column sums smooth it, in closed form,
            # and its slope along the axis
            tau = step * u_c
            col_t = line_a + line_m * (tau - tau_c)
            col_tp = line_m
            pad = reach * (1.0 + 1e-9)
            e_lo = _first_at_or_above(ev_tau, e_a, e_b, min(tau, tau_c) - pad)
            e_hi = _first_at_or_above(ev_tau, e_lo, e_b, max(tau, tau_c1) + pad)
            for e in range(e_lo, e_hi):
                d = tau - ev_tau[e]
                if ev_k[e] > chord:
                    if d <= -reach:
                        continue
                    z = d * inv_sigma
                    sign = 1.0
                else:
                    if d >= reach:
                        continue
                    z = -d * inv_sigma
                    sign = -1.0
                cdf, pdf = _normal_cdf_pdf(z)
                col_t += sign * ev_j[e] * cdf + ev_dm[e] * sigma * (z * cdf + pdf)
                col_tp += ev_j[e] * pdf * inv_sigma + sign * ev_dm[e] * cdf
            if renorm:
                # the column's total per pixel of the axis: λ r smoothed, r = 1 / cos = ds / du of the chord,
                # changing by r' along a curving track: (r λ) * N = r (λ * N) + σ² r' (λ * N)' for r linear
                col_t = inv_cos * col_t + sigma * sigma * inv_cos_slope * col_tp
            col_t *= static_norm
            if not (col_t > 0.0 or near_cut):
                continue
            if renorm:
                # a column near a tapered end, or near a marked change of the density: the pixels take the
                # blurred line density at their arc length (which tapers at the end), then the column is
                # scaled to its exact total (all its rows, in the band or not)
                col_sum = 0.0
                # exp(-c^2 / 2 sigma^2) of the chord line's offset c down the column by the interior's recurrence;
                # a gently curved track's terms by its Taylor series (the interior's "gently curved" case)
                gentle = not curved or abs(kappa) < TAYLOR_KAPPA_MAX
                gauss_w = ratio_w = 0.0
                if gentle:
                    c_w = (w_full_lo - w_line) * cn_step
                    gauss_w = math.exp(-c_w * c_w * inv_two_var)
                    ratio_w = math.exp(-(2.0 * c_w * cn_step + cn_step * cn_step) * inv_two_var)
                for w in range(w_full_lo, w_full_hi + 1):
                    delta = w - w_line
                    along = delta * sin_f
                    c_n = delta * cn_step
                    d_arc = 0.0
                    if curved:
                        a_m = (frac - 0.5) * length + along
                        d_arc = 0.5 * kappa * (a_m * a_m - 0.25 * length * length)
                        c_n -= d_arc
                    value = 0.0
                    if abs(c_n) <= reach:
                        s = s_line + along
                        y_k = kappa * c_n
                        if curved:
                            if gentle:
                                s += a_m * y_k * (1.0 + y_k * (1.0 + y_k))  # 1 / (1 - y) - 1 to y^3
                            else:
                                s += a_m * (1.0 / max(1.0 - y_k, 0.25) - 1.0)
                        if -reach <= s <= run_length + reach:
                            if tabulated:
                                dens = _segmented_value(table, tab_a, tab_meta, s)
                            else:
                                dens = _profile(s, chord, s_c, s_c1, lam0, lam_ds, e_a, e_b, ev_k, ev_s, ev_j, ev_dms,
                                                sigma, inv_sigma, reach)
                            if dens > 0.0:
                                if not curved:
                                    value = dens * gauss_w
                                elif gentle:
                                    shift, wrap = _gentle_curve_terms(delta * cn_step, d_arc, kappa, inv_two_var)
                                    value = dens * gauss_w * shift * wrap
                                else:
                                    value = dens * math.exp(-c_n * c_n * inv_two_var) * _curvature_factor(y_k)
                    if gentle:
                        gauss_w *= ratio_w
                        ratio_w *= q
                    buf[w - w_full_lo] = value
                    col_sum += value
                if not col_sum > 0.0:
                    continue
                scale = col_t / col_sum
                col_total = 0.0
                for w in range(w_lo, w_hi + 1):
                    value = buf[w - w_full_lo] * scale
                    if value == 0.0:
                        continue
                    if axis == 0:
                        for ch in range(n_ch):
                            image[w, u_c, ch] += value * weights[ch]
                    else:
                        for ch in range(n_ch):
                            image[u_c, w, ch] += value * weights[ch]
                    col_total += value
                    updates += 1
                total += col_total
                continue
            # per pixel: the column's line density, spread along the track by the chord's own slope of it;
            # the slope is bounded so that no pixel goes negative
            col_norm = norm * col_t
            col_slope = norm * lam_ds  # per pixel of along-track offset
            along_max = (half + 1.0) * abs(sin_f) + 1e-300
            if abs(col_slope) * along_max > col_norm:
                col_slope = math.copysign(col_norm / along_max, col_slope)
            mean_delta = 0.0
            alias_sum = 1.0
            if aliased:
                phase = 2.0 * math.pi * w_line
                alias_sum = 1.0 + 2.0 * alias1 * math.cos(phase) + 2.0 * alias2 * math.cos(2.0 * phase)
                col_norm /= alias_sum
                col_slope /= alias_sum
                mean_delta = -4.0 * math.pi * tau2 * (alias1 * math.sin(phase) + 2.0 * alias2 * math.sin(2.0 * phase)) \
                    / alias_sum
            # exp(-c^2 / 2 sigma^2) down the column by recurrence: c steps by cos_f per pixel, so
            # g[n+1] = g[n] r[n] and r[n+1] = r[n] q (two exp calls per column instead of one per pixel)
            c0 = (w_lo - w_line) * cos_f
            gauss = math.exp(-c0 * c0 * inv_two_var)
            ratio = math.exp(-(2.0 * c0 * cos_f + cos_f * cos_f) * inv_two_var)
            n_w = w_hi - w_lo + 1
            # the density at row w_lo and its step per row (the along-track offset steps by sin_f per row)
            dens = col_norm + col_slope * sin_f * (w_lo - w_line - mean_delta)
            dens_step = col_slope * sin_f
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
                    shift, wrap = _gentle_curve_terms(c, d, kappa, inv_two_var)
                    value = gauss * dens * shift * wrap
                    if axis == 0:
                        for ch in range(n_ch):
                            image[w, u_c, ch] += value * weights[ch]
                    else:
                        for ch in range(n_ch):
                            image[u_c, w, ch] += value * weights[ch]
                    col_total += value
                    gauss *= ratio
                    ratio *= q
                    dens += dens_step
                total += col_total
                updates += n_w
                continue
            if not curved and interior:
                # straight interior of the run: the erf bracket is 1 for every pixel of the column
                col_total = 0.0
                if dens_step == 0.0:
                    gauss *= dens
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
                elif axis == 0:
                    for w in range(w_lo, w_hi + 1):
                        value = gauss * dens
                        for ch in range(n_ch):
                            image[w, u_c, ch] += value * weights[ch]
                        col_total += value
                        gauss *= ratio
                        ratio *= q
                        dens += dens_step
                else:
                    for w in range(w_lo, w_hi + 1):
                        value = gauss * dens
                        for ch in range(n_ch):
                            image[u_c, w, ch] += value * weights[ch]
                        col_total += value
                        gauss *= ratio
                        ratio *= q
                        dens += dens_step
                total += col_total
                updates += n_w
                continue
            pix_norm = norm
            if aliased:
                pix_norm /= alias_sum
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
                # within reach of a cut (where the neighbouring run, stepping along the other axis, takes
                # over; the column's total would count the track beyond the cut as the last chord's line)
                # or on a sharp bend: the blurred line density at the pixel's arc length
                if shaped:
                    if tabulated:
                        pix = pix_norm * _segmented_value(table, tab_a, tab_meta, s)
                    else:
                        pix = pix_norm * _profile(s, chord, s_c, s_c1, lam0, lam_ds, e_a, e_b, ev_k, ev_s, ev_j, ev_dms,
                                                  sigma, inv_sigma, reach)
                else:  # (nothing marked within reach: the chord's line)
                    pix = pix_norm * (lam0 + lam_ds * (s - s_c))
                if pix <= 0.0:
                    continue
                value = pix * math.exp(-c_n * c_n * inv_two_var)
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
                if axis == 0:
                    for ch in range(n_ch):
                        image[w, u_c, ch] += value * weights[ch]
                else:
                    for ch in range(n_ch):
                        image[u_c, w, ch] += value * weights[ch]
                total += value
                updates += 1
    return total, updates


@njit(cache=True, error_model="numpy")
def _deposit_run_legacy(image, row_lo, row_hi, first, last, chord_lo, chord_hi, axis, cuts, weights, vx, vy, vs, vlam0,
                        vlam1, vkappa, vsig, extent):
    """The kernel for runs whose line density hardly changes (see render_runs): each chord's mean density
    λ = (vlam0 + vlam1) / 2, a linear profile through it with the centred slope of its neighbours' means,
    and the erf bracket at the run's ends.

    Add chords chord_lo..chord_hi-1 of the run with vertices first..last to rows [row_lo, row_hi).

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
        lam_norm = (0.5 * (vlam0[chord] + vlam1[chord])) * norm
        # The line density λ (electrons per pixel of track) varies from chord to chord (speed, vignetting,
        # the atmosphere at the limb). Held constant per chord, the column sampling would miss up to one
        # column's worth of every change; a linear profile through the chord's mean with the centred slope
        # of its neighbours (a finite-volume reconstruction) follows the trail smoothly and keeps each
        # chord's electrons exactly; the slope is clipped so the profile never goes negative.
        lam_prev = (0.5 * (vlam0[chord - 1] + vlam1[chord - 1])) if chord > first else (0.5 * (vlam0[chord] + vlam1[chord]))
        lam_next = (0.5 * (vlam0[chord + 1] + vlam1[chord + 1])) if chord < last - 1 else (0.5 * (vlam0[chord] + vlam1[chord]))
        lam_slope = 0.5 * (lam_next - lam_prev)
        if abs(lam_slope) > 2.0 * (0.5 * (vlam0[chord] + vlam1[chord])):
            lam_slope = math.copysign(2.0 * (0.5 * (vlam0[chord] + vlam1[chord])), lam_slope)
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
                    shift, wrap = _gentle_curve_terms(c, d, kappa, inv_two_var)
                    value = gauss * shift * wrap
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
                run_first, run_last, run_axis, run_cuts, run_weights, run_exact, vx, vy, vs, vlam0, vlam1, vkappa, vsig,
                extent, entry_electrons, tab_start, tab_meta, table):
    """Deposit all runs into ``image`` (float64 [H, W], electrons), band by band in parallel.

    band_edges [B+1]: row boundaries of the bands. band_ptr [B+1] / band_pieces [E]: CSR list of the
    pieces touching each band; a piece is chords piece_lo..piece_hi-1 of run piece_run. Runs: vertex
    index ranges run_first[r]..run_last[r] (inclusive) into the vertex arrays vx, vy (pixels), vs
    (cumulative arc length, pixels), vlam0 / vlam1 (electrons per pixel of track length at the start / end
    of the chord starting at that vertex, linear along it), vkappa (signed curvature of that chord, 1/px), vsig (that chord's PSF sigma, px).
    run_axis[r]: 0 steps columns, 1 steps rows.
    run_cuts [R, 4]: tangents of the cuts where a run meets its neighbour (see _deposit_run).
    run_exact [R]: True where the run's line density changes markedly (trails.EXACT_DENSITY_CHANGE): those
    take _deposit_run, whose flux is exact for any piecewise-linear density; the others take
    _deposit_run_legacy (cheaper; a density that hardly changes loses at most a few 1e-5 of its flux there).
    image is [H, W, C]; run_weights [R, C] splits each run's electrons among the channels. entry_electrons [E] receives what each
    (band, piece) entry deposited. Returns the number of pixel updates.
    band_order: a permutation of the bands that interleaves them across threads (prange hands out
    contiguous chunks, and trails crowd into part of the frame); it does not change the result.
    tab_start [R], tab_meta [R, 9], table: the exact runs' blurred line densities (fill_profile_tables; no
    nodes in tab_meta: none).
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
            if run_exact[r]:
                total, updates = _deposit_run(image, row_lo, row_hi, run_first[r], run_last[r], piece_lo[p],
                                              piece_hi[p], run_axis[r], run_cuts[r], run_weights[r], vx, vy, vs,
                                              vlam0, vlam1, vkappa, vsig, extent, table, tab_start[r], tab_meta[r])
            else:
                total, updates = _deposit_run_legacy(image, row_lo, row_hi, run_first[r], run_last[r], piece_lo[p],
                                                     piece_hi[p], run_axis[r], run_cuts[r], run_weights[r], vx, vy,
                                                     vs, vlam0, vlam1, vkappa, vsig, extent)
            entry_electrons[e] = total
            n += updates
        counts[b] = n
    return counts.sum()
