"""Turn star tracks sampled at knots into render "runs" for the trail kernel.

A run is a polyline along which the star moves monotonically along one image axis (its dominant axis).
Runs start and stop where the star becomes visible or hidden (sub-knot times from the occultation
solver), where its motion turns from mostly horizontal to mostly vertical (or back), where the track
leaves the frame by more than the PSF reach, and where the projection is undefined (behind the camera).
Each chord carries its line density λ (electrons per pixel of track length) at both ends, λ0 and λ1: with the
illumination f linear in time between knots and the star moving uniformly along the chord, λ is linear
along it, λ0,1 = rate × f0,1 × Δt / length, and its mean (λ0 + λ1) / 2 is rate × the trapezoid of f / length.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# Chords shorter than this (pixels) are merged with the next (numerical safety only: the kernel's chord
# integral is exact for any length); a whole visible track this short is a static star, given this
# length along +x so the kernel's erf bracket stays well conditioned.
MIN_CHORD_PX = 1e-6
STATIC_LENGTH_PX = 1e-6
# Switch the stepping axis only when the other axis dominates by this factor (avoids flip-flopping
# between axes on tracks near 45°, which would only cost speed, not accuracy).
AXIS_HYSTERESIS = 1.25
# Consecutive chords turning by more than this (rad) are a kink, not a bend: on a smooth track the knots
# turn by the attitude's rotation per knot step (~0.002 rad for a station in LVLH attitude).
KINK_RAD = 0.05
# Arc length (px) over which the curvature is measured (chord_curvatures)
CURVATURE_BASELINE_PX = 2.0


@njit(cache=True)
def _interp_point(t, x, y, k, tq):
    """Linear interpolation of the track between knots k and k+1 at time tq."""
    f = (tq - t[k]) / (t[k + 1] - t[k])
    return x[k] + f * (x[k + 1] - x[k]), y[k] + f * (y[k + 1] - y[k])


@njit(cache=True)
def _emit_polyline(px, py, pt, pe, pf, n, rate, width, height, margin, star,
                   vx, vy, vs, vlam0, vlam1, run_first, run_last, run_axis, run_star, run_cuts, nv, nr):
    """Split one visible polyline (n points) into runs appended at vertex index nv / run index nr.

    pt: time, pe: cumulative exposure (the integral of the illumination, = pt without one), pf: the
    illumination at each point (1 without)."""
    # 1) merge tiny chords. A kept point has the illumination at which the chord before it ends (mf_in) and
    # the one at which the chord after it starts (mf_out): they differ where points closer than MIN_CHORD_PX
    # were merged into it and the illumination changed across them (a jump in time at one place)
    mx = np.empty(n)
    my = np.empty(n)
    mt = np.empty(n)
    me = np.empty(n)
    mf_in = np.empty(n)
    mf_out = np.empty(n)
    m = 0
    for i in range(n):
        if not (math.isfinite(px[i]) and math.isfinite(py[i])):
            continue
        if m == 0 or i == n - 1 or math.hypot(px[i] - mx[m - 1], py[i] - my[m - 1]) >= MIN_CHORD_PX:
            if m >= 1 and i == n - 1 and math.hypot(px[i] - mx[m - 1], py[i] - my[m - 1]) < MIN_CHORD_PX and m >= 2:
                m -= 1  # replace the last kept point by the final one, keeping the end time exact
            mx[m] = px[i]
            my[m] = py[i]
            mt[m] = pt[i]
            me[m] = pe[i]
            mf_in[m] = pf[i]
            mf_out[m] = pf[i]
            m += 1
        else:
            mf_out[m - 1] = pf[i]  # merged into the previous point: the next chord starts from here
    if m == 0:
        return nv, nr
    if m == 1:
        mx[1] = mx[0]
        my[1] = my[0]
        mt[1] = mt[0]
        me[1] = me[0]
        mf_in[1] = mf_out[0]
        mf_out[1] = mf_out[0]
        m = 2
    # a nearly static star: one chord of the whole duration
    total_len = 0.0
    for i in range(m - 1):
        total_len += math.hypot(mx[i + 1] - mx[i], my[i + 1] - my[i])
    if total_len < MIN_CHORD_PX:
        electrons = rate * (me[m - 1] - me[0])
        if electrons <= 0.0:
            return nv, nr
        cx = 0.5 * (mx[0] + mx[m - 1])
        cy = 0.5 * (my[0] + my[m - 1])
        if cx < -margin or cx > width - 1 + margin or cy < -margin or cy > height - 1 + margin:
            return nv, nr
        length = STATIC_LENGTH_PX
        vx[nv] = cx - 0.5 * length
        vy[nv] = cy
        vs[nv] = 0.0
        vlam0[nv] = electrons / length
        vlam1[nv] = electrons / length
        vx[nv + 1] = cx + 0.5 * length
        vy[nv + 1] = cy
        vs[nv + 1] = length
        vlam0[nv + 1] = 0.0
        vlam1[nv + 1] = 0.0
        run_first[nr] = nv
        run_last[nr] = nv + 1
        run_axis[nr] = 0
        run_star[nr] = star
        run_cuts[nr, :] = 0.0
        return nv + 2, nr + 1
    # 2) walk chords, opening a new run on axis/direction change or off-frame gaps
    open_run = False
    pending_cut = False
    cut_x = 0.0
    cut_y = 0.0
    axis = 0
    direction = 0
    for i in range(m - 1):
        dx = mx[i + 1] - mx[i]
        dy = my[i + 1] - my[i]
        length = math.hypot(dx, dy)
        dt = mt[i + 1] - mt[i]
        off = (max(mx[i], mx[i + 1]) < -margin or min(mx[i], mx[i + 1]) > width - 1 + margin
               or max(my[i], my[i + 1]) < -margin or min(my[i], my[i + 1]) > height - 1 + margin)
        if off or length <= 0.0 or dt <= 0.0 or me[i + 1] <= me[i]:  # (no light: the illumination is zero)
            pending_cut = False
            if open_run:
                run_last[nr] = nv - 1
                nr += 1
                open_run = False
            continue
        if open_run:
            # a kink (a turn the knots would never produce on a smooth track) ends the run with an
            # erf taper and starts a new one: the curvature model only holds for smooth bends
            px0, py0 = vx[nv - 1] - vx[nv - 2], vy[nv - 1] - vy[nv - 2]
            turn = abs(math.atan2(px0 * dy - py0 * dx, px0 * dx + py0 * dy))
            if turn > KINK_RAD:
                run_last[nr] = nv - 1
                nr += 1
                open_run = False
                pending_cut = False
        if open_run:
            keep = axis
            if axis == 0 and abs(dy) > AXIS_HYSTERESIS * abs(dx):
                keep = 1
            elif axis == 1 and abs(dx) > AXIS_HYSTERESIS * abs(dy):
                keep = 0
            du = dx if keep == 0 else dy
            d = 1 if du > 0 else -1
            if keep != axis or d != direction or du == 0.0:
                # the track goes on: the two runs meet at a cut through the shared vertex,
                # perpendicular to the mean direction of the chords on either side
                px0, py0 = vx[nv - 1] - vx[nv - 2], vy[nv - 1] - vy[nv - 2]
                l0 = math.hypot(px0, py0)
                tx = px0 / l0 + dx / length
                ty = py0 / l0 + dy / length
                tl = math.hypot(tx, ty)
                if tl > 1e-9:
                    cut_x, cut_y = tx / tl, ty / tl
                else:  # a full reversal: cut along the previous direction
                    cut_x, cut_y = px0 / l0, py0 / l0
                run_cuts[nr, 2] = cut_x
                run_cuts[nr, 3] = cut_y
                run_last[nr] = nv - 1
                nr += 1
                open_run = False
                pending_cut = True
        if not open_run:
            if pending_cut:
                run_cuts[nr, 0] = cut_x
                run_cuts[nr, 1] = cut_y
                pending_cut = False
            else:
                run_cuts[nr, 0] = 0.0
                run_cuts[nr, 1] = 0.0
            run_cuts[nr, 2] = 0.0
            run_cuts[nr, 3] = 0.0
            axis = 0 if abs(dx) >= abs(dy) else 1
            du = dx if axis == 0 else dy
            direction = 1 if du > 0 else -1
            vx[nv] = mx[i]
            vy[nv] = my[i]
            vs[nv] = 0.0
            run_first[nr] = nv
            run_axis[nr] = axis
            run_star[nr] = star
            nv += 1
            open_run = True
        # the chord's line density, linear from lam0 to lam1 along it, with the mean rate x (its integral of
        # the illumination) / length; the ends follow the illumination at the chord's ends (a merged chord
        # keeps its exact mean, its ends' difference bounded so that neither goes negative)
        lam_mean = rate * (me[i + 1] - me[i]) / length
        lam_half = 0.5 * rate * (mf_in[i + 1] - mf_out[i]) * dt / length
        if abs(lam_half) > lam_mean:
            lam_half = math.copysign(lam_mean, lam_half)
        vlam0[nv - 1] = lam_mean - lam_half
        vlam1[nv - 1] = lam_mean + lam_half
        vx[nv] = mx[i + 1]
        vy[nv] = my[i + 1]
        vs[nv] = vs[nv - 1] + length
        vlam0[nv] = 0.0
        vlam1[nv] = 0.0
        nv += 1
    if open_run:
        run_last[nr] = nv - 1
        nr += 1
    return nv, nr


@njit(cache=True)
def _block_points(times, iv_ptr, iv_start, iv_stop, j0, j1):
    """Polyline points of stars j0..j1-1 (each interval's inner knots plus its two end points): the block's
    capacity in build_runs (a point becomes at most two vertices, where one run ends and the next begins)."""
    shared = times.shape[0] == 1
    n_points = 0
    for j in range(j0, j1):
        t = times[0] if shared else times[j]
        for iv in range(iv_ptr[j], iv_ptr[j + 1]):
            ka = np.searchsorted(t, iv_start[iv], side="right")
            kb = np.searchsorted(t, iv_stop[iv], side="left")
            n_points += max(kb - ka, 0) + 2
    return n_points


@njit(cache=True)
def _emit_block(times, x, y, rate, iv_ptr, iv_start, iv_stop, width, height, margin, j0, j1, star0, illum,
                vx, vy, vs, vlam0, vlam1, run_first, run_last, run_axis, run_star, run_cuts, nv, nr):
    """The runs of stars j0..j1-1, written from vertex index nv and run index nr on (run_star counts from star0);
    returns the new (nv, nr)."""
    n_knots = x.shape[1]
    shared = times.shape[0] == 1
    px = np.empty(n_knots + 2)
    py = np.empty(n_knots + 2)
    pt = np.empty(n_knots + 2)
    pf = np.empty(n_knots + 2)
    pe = np.empty(n_knots + 2)
    vignetted = illum.shape[0] > 0
    for j in range(j0, j1):
        t = times[0] if shared else times[j]
        for iv in range(iv_ptr[j], iv_ptr[j + 1]):
            ta = iv_start[iv]
            tb = iv_stop[iv]
            if tb <= ta:
                continue
            ka = np.searchsorted(t, ta, side="right") - 1
            ka = min(max(ka, 0), n_knots - 2)
            n = 0
            xa, ya = _interp_point(t, x[j], y[j], ka, ta)
            px[n] = xa
            py[n] = ya
            pt[n] = ta
            if vignetted:
                pf[n], _ = _interp_point(t, illum[j], illum[j], ka, ta)
            n += 1
            k = ka + 1
            while k < n_knots and t[k] < tb:
                if t[k] > ta:
                    px[n] = x[j, k]
                    py[n] = y[j, k]
                    pt[n] = t[k]
                    if vignetted:
                        pf[n] = illum[j, k]
                    n += 1
                k += 1
            kb = np.searchsorted(t, tb, side="left") - 1
            kb = min(max(kb, 0), n_knots - 2)
            xb, yb = _interp_point(t, x[j], y[j], kb, tb)
            px[n] = xb
            py[n] = yb
            pt[n] = tb
            if vignetted:
                pf[n], _ = _interp_point(t, illum[j], illum[j], kb, tb)
            n += 1
            # the polyline's exposure: the integral of the illumination (plain time when there is no
            # vignetting), so each chord carries rate x its integral of illumination dt
            if vignetted:
                pe[0] = pt[0]
                for i in range(1, n):
                    pe[i] = pe[i - 1] + 0.5 * (pf[i] + pf[i - 1]) * (pt[i] - pt[i - 1])
            else:
                pe[:n] = pt[:n]
                pf[:n] = 1.0
            # NaN points split the polyline into separate pieces
            start = 0
            for i in range(n + 1):
                if i == n or not (math.isfinite(px[i]) and math.isfinite(py[i])):
                    if i - start >= 1:
                        nv, nr = _emit_polyline(px[start:i], py[start:i], pt[start:i], pe[start:i], pf[start:i],
                                                i - start, rate[j], width, height, margin, j - star0, vx, vy, vs,
                                                vlam0, vlam1,
                                                run_first, run_last, run_axis, run_star, run_cuts, nv, nr)
                    start = i + 1
    return nv, nr


# stars per block of build_runs' parallel loop (blocks are emitted independently, then packed in star order)
BUILD_BLOCK_STARS = 64


@njit(parallel=True, cache=True)
def build_runs(times, x, y, rate, iv_ptr, iv_start, iv_stop, width, height, margin, j0, j1, illum):
    """Build runs for stars j0..j1-1.

    times [T, K] knot times (s): one row shared by every star (T = 1) or each star's own (T = N, increasing in
    each row); x, y [N, K] pixel positions (NaN where undefined); rate [N] electrons/s;
    visible time intervals of star j: iv_start/iv_stop[iv_ptr[j]:iv_ptr[j+1]] (s). illum [N, K]: the
    lens's relative illumination (vignetting) at each knot, or an empty [0, 0] array for none; a chord
    carries rate x the time integral of the (linearly interpolated) illumination over it (the trapezoid),
    its line density linear along it between vlam0 (at its start) and vlam1 (at its end).
    Returns vertex arrays (vx, vy, vs, vlam0, vlam1) and run arrays (run_first, run_last, run_axis, run_star,
    run_cuts); run_star counts from j0. run_cuts [R, 4]: unit tangent (tx, ty) of the cut at the run's
    start and at its end where the track continues into a neighbouring run (zeros where the run really
    starts or ends, which the kernel tapers with the erf of the exact chord integral).
    Blocks of BUILD_BLOCK_STARS stars are emitted in parallel, each into its own room (its capacity), and
    packed in star order: the same arrays as one pass over the stars.
    """
    n_blocks = (j1 - j0 + BUILD_BLOCK_STARS - 1) // BUILD_BLOCK_STARS
    cap_v = np.zeros(n_blocks + 1, dtype=np.int64)  # each block's room, then its offset
    cap_r = np.zeros(n_blocks + 1, dtype=np.int64)
    for b in prange(n_blocks):
        a = j0 + b * BUILD_BLOCK_STARS
        n_points = _block_points(times, iv_ptr, iv_start, iv_stop, a, min(a + BUILD_BLOCK_STARS, j1))
        cap_v[b + 1] = 2 * n_points + 16
        cap_r[b + 1] = n_points + 16
    for b in range(n_blocks):
        cap_v[b + 1] += cap_v[b]
        cap_r[b + 1] += cap_r[b]
    vx = np.empty(cap_v[n_blocks])
    vy = np.empty(cap_v[n_blocks])
    vs = np.empty(cap_v[n_blocks])
    vlam0 = np.empty(cap_v[n_blocks])
    vlam1 = np.empty(cap_v[n_blocks])
    run_first = np.empty(cap_r[n_blocks], dtype=np.int64)
    run_last = np.empty(cap_r[n_blocks], dtype=np.int64)
    run_axis = np.empty(cap_r[n_blocks], dtype=np.int64)
    run_star = np.empty(cap_r[n_blocks], dtype=np.int64)
    run_cuts = np.empty((cap_r[n_blocks], 4))
    used_v = np.zeros(n_blocks + 1, dtype=np.int64)  # each block's vertices and runs, then their packed offsets
    used_r = np.zeros(n_blocks + 1, dtype=np.int64)
    for b in prange(n_blocks):
        a = j0 + b * BUILD_BLOCK_STARS
        nv, nr = _emit_block(times, x, y, rate, iv_ptr, iv_start, iv_stop, width, height, margin, a,
                             min(a + BUILD_BLOCK_STARS, j1), j0, illum, vx, vy, vs, vlam0, vlam1, run_first,
                             run_last, run_axis, run_star, run_cuts, cap_v[b], cap_r[b])
        used_v[b + 1] = nv - cap_v[b]
        used_r[b + 1] = nr - cap_r[b]
    for b in range(n_blocks):
        used_v[b + 1] += used_v[b]
        used_r[b + 1] += used_r[b]
    n_v, n_r = used_v[n_blocks], used_r[n_blocks]
    out_vx, out_vy, out_vs = np.empty(n_v), np.empty(n_v), np.empty(n_v)
    out_lam0, out_lam1 = np.empty(n_v), np.empty(n_v)
    out_first, out_last = np.empty(n_r, dtype=np.int64), np.empty(n_r, dtype=np.int64)
    out_axis, out_star = np.empty(n_r, dtype=np.int64), np.empty(n_r, dtype=np.int64)
    out_cuts = np.empty((n_r, 4))
    for b in prange(n_blocks):
        src, dst, count = cap_v[b], used_v[b], used_v[b + 1] - used_v[b]
        out_vx[dst:dst + count] = vx[src:src + count]
        out_vy[dst:dst + count] = vy[src:src + count]
        out_vs[dst:dst + count] = vs[src:src + count]
        out_lam0[dst:dst + count] = vlam0[src:src + count]
        out_lam1[dst:dst + count] = vlam1[src:src + count]
        shift = dst - src  # the block's vertex indices move with it
        r_src, r_dst = cap_r[b], used_r[b]
        for i in range(used_r[b + 1] - used_r[b]):
            out_first[r_dst + i] = run_first[r_src + i] + shift
            out_last[r_dst + i] = run_last[r_src + i] + shift
            out_axis[r_dst + i] = run_axis[r_src + i]
            out_star[r_dst + i] = run_star[r_src + i]
            for c in range(4):
                out_cuts[r_dst + i, c] = run_cuts[r_src + i, c]
    return out_vx, out_vy, out_vs, out_lam0, out_lam1, out_first, out_last, out_axis, out_star, out_cuts


@njit(cache=True)
def _menger(ax, ay, bx, by, cx, cy):
    """Signed curvature (1/px) of the circle through three points (positive turning left)."""
    abx, aby = bx - ax, by - ay
    bcx, bcy = cx - bx, cy - by
    acx, acy = cx - ax, cy - ay
    denom = math.hypot(abx, aby) * math.hypot(bcx, bcy) * math.hypot(acx, acy)
    if denom <= 0.0:
        return 0.0
    return 2.0 * (abx * bcy - aby * bcx) / denom


@njit(cache=True)
def chord_curvatures(vx, vy, vs, run_first, run_last):
    """Signed curvature (1/px) of the track along each chord, for the kernel's curvature correction.

    The curvature is that of the circle through three track points about CURVATURE_BASELINE_PX of arc
    apart around the chord (the Menger curvature): over such a baseline it is the track's, not the
    rounding noise of short chords. Runs shorter than the baseline get zero. Positive when the track
    turns toward its left normal (-dy, dx) in image coordinates.
    """
    kappa = np.zeros(vx.shape[0])
    base = CURVATURE_BASELINE_PX
    for r in range(run_first.shape[0]):
        a, b = run_first[r], run_last[r]
        if b - a < 2 or vs[b] - vs[a] < base:
            continue
        ia = a
        ib = a + 1
        for c in range(a, b):
            s_mid = 0.5 * (vs[c] + vs[c + 1])
            while ia + 1 <= c and vs[ia + 1] <= s_mid - 0.5 * base:
                ia += 1
            if ib < c + 1:
                ib = c + 1
            while ib < b and vs[ib] < s_mid + 0.5 * base:
                ib += 1
            # near a run's end the baseline is completed on the other side
            lo = ia
            while vs[ib] - vs[lo] < base and (ib < b or lo > a):
                if ib < b:
                    ib += 1
                else:
                    lo -= 1
            if vs[ib] - vs[lo] < base:
                continue
            ia_c = lo
            s_centre = 0.5 * (vs[ia_c] + vs[ib])
            im = ia_c + 1
            best = abs(vs[im] - s_centre)
            for v in range(ia_c + 2, ib):
                d = abs(vs[v] - s_centre)
                if d < best:
                    best = d
                    im = v
            if im <= ia_c or im >= ib:
                continue
            kappa[c] = _menger(vx[ia_c], vy[ia_c], vx[im], vy[im], vx[ib], vy[ib])
    return kappa
