"""Stars at the limb (limb = "atmosphere", the default): refracted tracks and transmission per colour channel,
their own knots, their truth, and the hard limb curve.

A star whose straight line of sight passes below ``LIMB_OPTICS_BELOW_KM`` is seen through the bent ray that
reaches the ISS (earth/atmosphere.py: ``ray_tangent_altitude``): raised by the bending ε and dimmed by
exp(−τ) × the refractive dilution. Both depend on the wavelength:

* **Reddening.** For a camera with a spectral response (``camera.qe_curve``) each channel's transmission is
  the star's own photon spectrum (blackbody of its T_eff from B−V, sky/spectra.py) through the channel's
  response (camera/bandpass.py), extinguished along the ray (``atmosphere.channel_transmission``). The
  spectra are taken at ``TEFF_NODES_K`` and the result interpolated linearly in ln T_eff (< 1e-4). A camera
  without a spectral response (photometry v1, one "mono" channel) uses the grey 550 nm transmission.
* **Dispersion.** Each channel's track is refracted at the channel's effective wavelength (photon-weighted
  mean wavelength of the response for a B−V = 0.65 star), and its transmission is taken along that channel's
  ray. Blue is raised more: (n−1) differs by ≈ 1.8 % between 470 and 610 nm (Ciddor 1996), i.e. ≈ 0.6″ at
  ε = 35″ and ≈ 40″ at ε = 35′ (tangent altitude ≈ 5 km), 0.3 px for a 14 mm lens on 8.45 µm pixels; the
  blue channel's ray also passes ≈ 0.4 km lower there, which dims it further. Within a channel a single ray
  is used (the ray's spread over the channel's width is neglected).

**Knots.** The exposure's knots (render/exposure.py) are refined for the straight-line tracks only. Each star
that passes through the atmosphere near the frame gets its own knots over its *limb window* (the global knot
intervals where its line of sight is in the atmosphere): every window interval is halved (bisection,
``LIMB_MAX_LEVELS`` at most) until, at the interval's midpoint, every channel's transmission is within
``LIMB_TRANSMISSION_TOLERANCE`` of the chord's mean and, where the star is in the frame and at least
``LIMB_VISIBLE_TRANSMISSION`` of its light arrives, every channel's track is within ``render.knot_tolerance``
of the chord. The star's *rendered range* (its window less the flat and dark ends below) is one source of
the trail renderer on these knots, one per channel (render_trails takes each source's own knot times).
Outside its window the star is rendered with the other stars
on the exposure's knots (transmission 1 there, or hidden), and so are the window's flat ends (every channel
≥ 1 − LIMB_FLAT_TRANSMISSION); own-knot intervals darker than LIMB_DARK_TRANSMISSION are not rendered.
The channels' extinction is tabulated in the ray's tangent altitude (EXTINCTION_TABLE_STEP_KM).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ..earth.occultation import tangent_altitude
from ..sky.apparent import C_KM_S, aberrate
from .limb_rays import channel_extinction

# the straight line toward a star whose bent ray just grazes the ground passes ~41 km below it (observer at
# 400 km; earth/atmosphere.py); hiding intervals use a little below that, and the atmosphere's transmission
# (0 for rays into the ground) does the rest
LIMB_FLOOR_GEOMETRIC_KM = -45.0
LIMB_OPTICS_BELOW_KM = 145.0  # straight-line tangent altitudes above this pass unrefracted (atmosphere.py)
LIMB_VISIBLE_TRANSMISSION = 0.01  # the truth's "visible" flag needs at least this much of the light (550 nm)
LIMB_WAVELENGTH_M = 550e-9  # the grey transmission, the truth's x, y and a mono camera's optics
LIMB_TRANSMISSION_TOLERANCE = 1e-3  # midpoint transmission vs the chord's mean (of the unit peak)
LIMB_MAX_LEVELS = 10  # a knot interval of the exposure is halved at most this often for a limb star
# from the second halving on, the halves of an interval whose midpoint test failed by at most this factor (its
# largest deviation over its tolerance) are leaves without their own midpoint test: the deviations scale as the
# interval's length squared, ~1/4 (measured on the Pettit scenario, halving 0.9-1.8 s intervals: the halves of
# those that failed by <= 2x deviate by <= 0.66 of the tolerance, by <= 3x: 0.93). The first halving is always
# tested: across a whole exposure knot interval the optics are not yet that smooth (halves up to 1.5x there)
LIMB_SURE_HALVES_RATIO = 2.0
# the rendered ranges are batched by knot count (render_trails pads each batch to its longest)
WINDOW_BATCH_KNOTS = ((2, 8), (9, 32), (33, 128), (129, 512), (513, 2**62))
# a knot interval of the exposure whose transmission (every channel, both ends) is at least 1 − this is
# rendered with the other stars on the exposure's knots (transmission 1, the 550 nm track): the channels'
# tracks are within 1e-5 px of it there (Pettit: < 3e-6 px)
LIMB_FLAT_TRANSMISSION = 1e-4
LIMB_DARK_TRANSMISSION = 1e-6  # own-knot intervals below this at both ends (every channel) are not rendered
# stars within this angle (plus the PSF's reach) of the frame count as near it: more than the bending at
# zero tangent altitude (≈ 72′ from 400 km)
LIMB_MAX_REFRACTION_RAD = np.radians(1.5)
TEFF_NODES_K = np.geomspace(2000.0, 50000.0, 65)  # star spectra for the channel transmissions (ln step 0.05)
_HIDDEN_BELOW_KM = LIMB_FLOOR_GEOMETRIC_KM - 5.0  # no bent ray reaches the ISS from below this


@dataclass(frozen=True, eq=False)
class LimbSpectrum:
    """The wavelengths of the tracks and the spectral weights of the channel transmissions.

    wavelengths [B]: 550 nm first (grey transmission, truth), then each channel's effective wavelength
    (spectral cameras only). grid [L], weights [C, T, L]: photons detected per grid step in channel c for a
    blackbody of temperature TEFF_NODES_K[T] (quadrature weights included); None for a grey camera.
    """

    wavelengths: tuple
    grid: np.ndarray | None = None
    weights: np.ndarray | None = None

    @property
    def spectral(self) -> bool:
        return self.weights is not None


@functools.lru_cache(maxsize=8)
def _spectrum_cached(qe_curve, aperture, peak_qe, lens, panes, reflectance) -> LimbSpectrum:
    from ..camera.bandpass import camera_spectral
    from ..sky.spectra import DEFAULT_BV, planck_photon_radiance, teff_from_bv

    cs = camera_spectral(qe_curve, aperture, peak_qe, lens_transmission_value=lens, window_panes=panes,
                         window_surface_reflectance=reflectance)
    lam = cs.wavelength_m
    dl = np.diff(lam)
    quad = 0.5 * (np.concatenate([dl, [0.0]]) + np.concatenate([[0.0], dl]))  # trapezoid weights
    bb = planck_photon_radiance(lam[None, :], TEFF_NODES_K[:, None])  # [T, L]
    weights = bb[None, :, :] * cs.response[:, None, :] * quad[None, None, :]  # [C, T, L]
    ref = planck_photon_radiance(lam, float(teff_from_bv(DEFAULT_BV))) * quad
    eff = [float(np.sum(lam * ref * r) / np.sum(ref * r)) for r in cs.response]
    return LimbSpectrum(wavelengths=(LIMB_WAVELENGTH_M, *eff), grid=lam, weights=weights)


def limb_spectrum(camera) -> LimbSpectrum:
    """Grey (550 nm) for a camera without a spectral response; else per-channel wavelengths and weights."""
    if camera.qe_curve is None:
        return LimbSpectrum(wavelengths=(LIMB_WAVELENGTH_M,))
    return _spectrum_cached(camera.qe_curve, camera.aperture_area_m2, camera.peak_qe, camera.lens_transmission,
                            camera.window_panes, camera.window_surface_reflectance)


# the channels' extinction Σ w e^{−τ(h)} / Σ w is tabulated per (channel, T_eff node) at this step in the ray's
# tangent altitude and interpolated with 4-point Lagrange cubics: < 1e-9 from atmosphere.channel_transmission
# (measured over the table, 65 spectra, three D3S channels); the dilution Φ(h, D) is evaluated exactly
EXTINCTION_TABLE_STEP_KM = 0.05


@functools.lru_cache(maxsize=8)
def _extinction_table(spectrum: LimbSpectrum, channel: int):
    """Extinction of channel ``channel`` [H, T] on the grid h0 + i·dh covering atmosphere's table (no Φ)."""
    from ..earth.atmosphere import TABLE_BOTTOM_KM, TABLE_TOP_KM, channel_transmission

    h = np.arange(TABLE_BOTTOM_KM, TABLE_TOP_KM + 0.5 * EXTINCTION_TABLE_STEP_KM, EXTINCTION_TABLE_STEP_KM)
    return np.ascontiguousarray(channel_transmission(h, spectrum.grid, spectrum.weights[channel])), float(h[0])


@njit(parallel=True, cache=True)
def _interp_extinction(table, h0, dh, top, h, node, frac):
    """Lagrange-cubic interpolation of table[:, node] and table[:, node + 1] at h, mixed by frac (NaN: 0;
    above ``top``: 1): limb_rays.channel_extinction for every ray."""
    out = np.empty(h.size)
    for p in prange(h.size):
        out[p] = channel_extinction(table, h0, dh, top, h[p], node[p], frac[p])
    return out


def channel_transmissions(h_ray_km, distance_km, teff, spectrum: LimbSpectrum, channel: int):
    """Transmission [P] of channel ``channel`` for stars of T_eff [P] seen through rays h_ray_km [P] (NaN: 0).

    atmosphere.channel_transmission at the TEFF_NODES_K spectra (tabulated in h, EXTINCTION_TABLE_STEP_KM),
    interpolated linearly in ln T_eff, times the dilution Φ(h, D)."""
    from ..earth.atmosphere import TABLE_TOP_KM, dilution_factor

    h = np.ascontiguousarray(h_ray_km, dtype=np.float64)
    if h.size == 0:
        return np.zeros(0)
    table, h0 = _extinction_table(spectrum, channel)
    lt = np.log(np.clip(teff, TEFF_NODES_K[0], TEFF_NODES_K[-1]))
    nodes = np.log(TEFF_NODES_K)
    i = np.clip(np.searchsorted(nodes, lt) - 1, 0, nodes.size - 2)
    f = (lt - nodes[i]) / (nodes[i + 1] - nodes[i])
    ext = _interp_extinction(table, h0, EXTINCTION_TABLE_STEP_KM, TABLE_TOP_KM, h, i.astype(np.int64),
                             np.ascontiguousarray(f, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        return ext * np.nan_to_num(dilution_factor(h, distance_km), nan=0.0)


@njit(parallel=True, cache=True)
def _indexed_tangent_altitudes(pos, obs_index, directions, star_index, exact_near, margin):
    """Tangent altitude (km) of directions[star_index[p]] seen from pos[obs_index[p]] (pole frame)."""
    out = np.empty(obs_index.shape[0])
    for p in prange(obs_index.shape[0]):
        o, j = obs_index[p], star_index[p]
        out[p] = tangent_altitude(pos[o, 0], pos[o, 1], pos[o, 2], directions[j, 0], directions[j, 1],
                                  directions[j, 2], exact_near, margin)
    return out


@functools.lru_cache(maxsize=8)
def _kernel_tables(spectrum: LimbSpectrum):
    """The arrays pair_optics_kernel takes: each wavelength's ray table, the path (550 nm) table and its
    vertical optical depths, the channels' extinction tables [C, H, T] and their grid origin."""
    from ..earth.atmosphere import PATH_WAVELENGTH_M, table_arrays, vertical_optical_depths

    tabs = [table_arrays(lam) for lam in spectrum.wavelengths]
    x0, dx, _, _, _ = tabs[0]
    if any(tb[0] != x0 or tb[1] != dx or tb[2].shape != tabs[0][2].shape for tb in tabs):
        raise ValueError("ray tables on different grids")
    cb = np.ascontiguousarray(np.stack([tb[2] for tb in tabs]))
    ce = np.ascontiguousarray(np.stack([tb[3] for tb in tabs]))
    _, _, cbp, cep, clap = table_arrays(PATH_WAVELENGTH_M)
    v = vertical_optical_depths(LIMB_WAVELENGTH_M)
    tau = np.array([float(v["rayleigh"]), float(v["ozone"]), float(v["aerosol"])])
    if spectrum.spectral:
        ext = [_extinction_table(spectrum, c) for c in range(len(spectrum.wavelengths) - 1)]
        h0e = ext[0][1]
        ext = np.ascontiguousarray(np.stack([e[0] for e in ext]))
    else:
        ext, h0e = np.zeros((1, 4, 2)), 0.0
    return (cb, ce, float(x0), float(dx), int(cb.shape[2]), np.ascontiguousarray(cbp), np.ascontiguousarray(cep),
            np.ascontiguousarray(clap), tau, ext, float(h0e))


def _teff_nodes(teff):
    """Each star's T_eff node (TEFF_NODES_K, ln-spaced) and the fraction toward the next one."""
    lt = np.log(np.clip(teff, TEFF_NODES_K[0], TEFF_NODES_K[-1]))
    nodes = np.log(TEFF_NODES_K)
    i = np.clip(np.searchsorted(nodes, lt) - 1, 0, nodes.size - 2)
    f = (lt - nodes[i]) / (nodes[i + 1] - nodes[i])
    return i.astype(np.int64), np.ascontiguousarray(f, dtype=np.float64)


def pair_optics(camera, spectrum: LimbSpectrum, pos, rot, beta, geo, natural, teff, rot_pole, obs_index=None,
                star_index=None, out=None):
    """Limb optics of P (star, time) pairs.

    pos [P, 3] observer GCRS km, rot [P, 3, 3] R_icrs_to_cam, beta [P, 3] observer barycentric v/c, geo [P, 3]
    geocentric apparent and natural [P, 3] natural star directions, teff [P] K. With obs_index and star_index
    [P] (int), pair p is instead observer state obs_index[p] of pos, rot, beta and star star_index[p] of geo,
    natural, teff (no copies). Returns h_g [P] (straight-line
    tangent altitude, km), distance [P] (km, observer to its tangent point) and, for each wavelength b of
    ``spectrum`` (550 nm first): x, y [P, B] pixels, eps [P, B] bending (rad; 0 where hidden), T [P, B]
    transmission (b = 0: grey at 550 nm; b ≥ 1: channel b − 1 along its own ray), h_ray [P, B] the bent
    ray's tangent altitude (km; NaN where it meets the ground; h_g above the atmosphere). Compiled
    (render/limb_rays.py); :func:`pair_optics_numpy` is the same with earth/atmosphere.py's numpy functions.
    out [P, 4B + 1]: x, y, T, h_ray (B columns each) and distance are written into its columns and returned
    as views of it.
    """
    from ..earth.atmosphere import DEFAULT, TABLE_BOTTOM_KM, TABLE_TOP_KM
    from .limb_rays import camera_array, pair_optics_kernel

    c = np.ascontiguousarray
    if obs_index is None:
        obs_index = np.arange(pos.shape[0])
    if star_index is None:
        star_index = np.arange(geo.shape[0])
    obs_index, star_index = c(obs_index, dtype=np.int64), c(star_index, dtype=np.int64)
    n = obs_index.size
    nb = len(spectrum.wavelengths)
    cb, ce, x0, dx, nt, cbp, cep, clap, tau, ext, h0e = _kernel_tables(spectrum)
    node, frac = _teff_nodes(np.asarray(teff, dtype=np.float64))
    cam = camera_array(camera)
    h_g, eps = np.empty(n), np.empty((n, nb))
    if out is None:
        dist = np.empty(n)
        x, y, trans, h_ray = (np.empty((n, nb)) for _ in range(4))
    else:
        x, y, trans, h_ray = (out[:, i * nb:(i + 1) * nb] for i in range(4))
        dist = out[:, 4 * nb]
    pair_optics_kernel(obs_index, star_index, c(pos, dtype=np.float64), c(rot, dtype=np.float64),
                       c(beta, dtype=np.float64), c(geo, dtype=np.float64), c(natural, dtype=np.float64), node, frac,
                       c(rot_pole, dtype=np.float64), LIMB_OPTICS_BELOW_KM / 2.0, LIMB_OPTICS_BELOW_KM,
                       _HIDDEN_BELOW_KM, cb, ce, x0, dx, nt, TABLE_BOTTOM_KM, TABLE_TOP_KM, DEFAULT.earth_radius_km,
                       max(TABLE_BOTTOM_KM, 0.0), 1e-9, cbp, cep, clap, tau, ext, h0e, EXTINCTION_TABLE_STEP_KM, cam,
                       h_g, dist, x, y, eps, trans, h_ray)
    return dict(h_g=h_g, x=x, y=y, eps=eps, T=trans, h_ray=h_ray, distance=dist)


def pair_optics_numpy(camera, spectrum: LimbSpectrum, pos, rot, beta, geo, natural, teff, rot_pole):
    """pair_optics with earth/atmosphere.py's numpy functions (the reference for the compiled kernel)."""
    from ..camera.projection import project_camera_points
    from ..earth.atmosphere import ray_tangent_altitude, refracted_direction, transmission

    n = pos.shape[0]
    nb = len(spectrum.wavelengths)
    pairs = np.arange(n)
    h_g = _indexed_tangent_altitudes(np.ascontiguousarray(pos @ rot_pole.T), pairs,
                                     np.ascontiguousarray(geo @ rot_pole.T), pairs, LIMB_OPTICS_BELOW_KM / 2.0,
                                     LIMB_OPTICS_BELOW_KM)
    dist = -np.sum(geo * pos, axis=1)
    band = np.flatnonzero(_in_band(h_g) & (dist > 0))
    trans = np.where(h_g <= _HIDDEN_BELOW_KM, 0.0, 1.0)[:, None].repeat(nb, axis=1)
    eps = np.zeros((n, nb))
    h_ray = np.where(h_g <= _HIDDEN_BELOW_KM, np.nan, h_g)[:, None].repeat(nb, axis=1)
    straight = aberrate(natural, beta)
    cam = np.einsum("pij,pj->pi", rot, straight)
    x0, y0 = project_camera_points(camera, cam)
    x = np.repeat(x0[:, None], nb, axis=1)
    y = np.repeat(y0[:, None], nb, axis=1)
    if band.size:
        hg, d, g = h_g[band], dist[band], geo[band]
        for b, lam in enumerate(spectrum.wavelengths):
            hr, ep = ray_tangent_altitude(hg, d, lam)
            h_ray[band, b] = hr
            if b == 0:
                trans[band, 0] = transmission(hr, lam, distance_km=d)
            else:
                trans[band, b] = channel_transmissions(hr, d, teff[band], spectrum, b - 1)
            ep = np.nan_to_num(ep)
            eps[band, b] = ep
            raised = refracted_direction(g, pos[band], ep)
            nat = natural[band] + (raised - g)
            apparent = aberrate(nat / np.linalg.norm(nat, axis=-1, keepdims=True), beta[band])
            x[band, b], y[band, b] = project_camera_points(camera, np.einsum("pij,pj->pi", rot[band], apparent))
    return dict(h_g=h_g, x=x, y=y, eps=eps, T=trans, h_ray=h_ray, distance=dist)


def limb_optics(observer, t, pos, rot, beta, geo_dirs, directions, teff, pole, camera, x, y, tol_px, reach_px,
                h_tan=None):
    """Limb optics of every candidate star: truth at the exposure's knots and each limb star's own knots.

    t [K], pos [K, 3], rot [K, 3, 3], beta [K, 3]: the exposure's knots; geo_dirs / directions [N, 3];
    teff [N] K; x, y [N, K] straight-line pixel tracks. h_tan [N, K]: the straight lines' tangent altitudes
    (occultation.tangent_altitudes in the pole frame, exact within LIMB_OPTICS_BELOW_KM of its half), if the
    caller has them (it is overwritten); else computed here. Returns a dict:

    * at the exposure's knots, [N, K]: transmission (550 nm grey); at the (star, knot) pairs pair_star,
      pair_knot [P] where the straight line of sight is in the atmosphere (or the knot in a limb window):
      pair_x, pair_y [P] (refracted at 550 nm; elsewhere the straight-line x, y), pair_refraction_arcsec [P]
      (550 nm; 0 elsewhere) and the channels' pair_transmission_per_channel [P, C] (the grey one elsewhere;
      C = 0 for a grey camera);
    * the limb windows: rows (candidate indices), win_start, win_stop [M] (s);
    * each row's own knots as CSR: ptr [M+1], kt [P] (s), kx, ky, kT, kh (ray tangent altitude) [P, B] (B as in
      pair_optics), kd [P] (distance to the tangent point, km); the rendered ranges: range_row (index into
      rows), range_first, range_last (indices into kt); cut_start, cut_stop [M] (s, the part of the window
      taken from the exposure's knots: inf for none);
    * spectrum (LimbSpectrum), levels (deepest bisection level used), capped (intervals that hit it).
    """
    from ..earth.ellipsoid import pole_frame
    from ..earth.occultation import tangent_altitudes

    spectrum = limb_spectrum(camera)
    nb = len(spectrum.wavelengths)
    rot_p = pole_frame(pole)
    n, k_n = x.shape
    exposure_step = float(t[1] - t[0]) if k_n > 1 else 0.0
    geo_p = np.ascontiguousarray(geo_dirs @ rot_p.T)
    h_g = h_tan if h_tan is not None else tangent_altitudes(np.ascontiguousarray(pos @ rot_p.T), geo_p,
                                                             LIMB_OPTICS_BELOW_KM / 2.0, LIMB_OPTICS_BELOW_KM)
    margin = max(camera.fx, camera.fy) * np.tan(LIMB_MAX_REFRACTION_RAD) + reach_px + 2.0
    rows, ka, kb, jj, kn, index = _window_pairs(h_g, x, y, margin, float(camera.width), float(camera.height),
                                                LIMB_OPTICS_BELOW_KM, _HIDDEN_BELOW_KM)

    # bisection of each window interval: leaves (row r, t_a, t_b, and where the values at both ends are in
    # ``pool``, the optics of every pair evaluated: rows of x, y, T, h_ray [B] and distance, the knots' first,
    # then each level's midpoints)
    counts = kb - ka
    leaf_r = np.repeat(np.arange(rows.size), counts)
    leaf_k = np.repeat(ka, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    ta, tb = t[leaf_k], t[leaf_k + 1]
    ia, ib = index[leaf_r, leaf_k], index[leaf_r, leaf_k + 1]
    # intervals outside the atmosphere at both ends (or hidden at both) need no optics between their ends
    leaf_j = rows[leaf_r]
    trivial = ~(_in_band(h_g[leaf_j, leaf_k]) | _in_band(h_g[leaf_j, leaf_k + 1]))
    # (each leaf: row, t_a, t_b, pool rows of its ends and of its evaluated midpoint, -1 for none)
    final = [(leaf_r[trivial], ta[trivial], tb[trivial], ia[trivial], ib[trivial], _no_rows(trivial.sum()))]
    todo = ~trivial
    lr, ta, tb, ia, ib, lk = leaf_r[todo], ta[todo], tb[todo], ia[todo], ib[todo], leaf_k[todo]
    level = capped = 0
    # the pool grows in place (room for 3 midpoints per window interval: 2.4 on the Pettit scenario), not by
    # concatenation, and pair_optics writes into it: fresh memory costs (~100-300 MB here)
    n_pool = jj.size
    pool = np.empty((n_pool + 3 * lr.size, 4 * nb + 1))
    opt = pair_optics(camera, spectrum, pos, rot, beta, geo_dirs, directions, teff, rot_p, kn, jj, out=pool[:n_pool])

    # the refracted tracks, the refraction and the channels' transmissions only where they differ from the
    # straight tracks, 0 and the grey one (the caller updates its tracks; limb_truth makes the rest dense for
    # the stars shown: [N, K] and [N, K, C] copies here would be fresh memory for every candidate); copies, not
    # views that would keep the pool
    out = dict(spectrum=spectrum, rows=rows, win_start=t[ka], win_stop=t[kb],
               pair_star=jj, pair_knot=kn, pair_x=opt["x"][:, 0].copy(), pair_y=opt["y"][:, 0].copy(),
               pair_refraction_arcsec=np.degrees(opt["eps"][:, 0]) * 3600.0,
               pair_transmission_per_channel=np.ascontiguousarray(opt["T"][:, 1:]))
    while lr.size:
        level += 1
        tm = 0.5 * (ta + tb)
        tu, inv = np.unique(tm, return_inverse=True)
        pos_u, _, rot_u, _, beta_u = observer.states(tu)
        if level == 1:
            settled = _settled_intervals(pool, ia, ib, tb - ta, nb, exposure_step, h_g,
                                         rows[lr], lk, np.ascontiguousarray(pos_u @ rot_p.T), inv, geo_p)
            final.append((lr[settled], ta[settled], tb[settled], ia[settled], ib[settled], _no_rows(settled.sum())))
            keep = ~settled
            lr, ta, tb, ia, ib, tm, inv = lr[keep], ta[keep], tb[keep], ia[keep], ib[keep], tm[keep], inv[keep]
        im = n_pool + np.arange(lr.size)
        if n_pool + lr.size > pool.shape[0]:
            grown = np.empty((n_pool + max(n_pool, 2 * lr.size), pool.shape[1]))
            grown[:n_pool] = pool[:n_pool]
            pool = grown
        pair_optics(camera, spectrum, pos_u, rot_u, beta_u, geo_dirs, directions, teff, rot_p, inv, rows[lr],
                    out=pool[n_pool:n_pool + lr.size])
        n_pool += lr.size
        fail, ratio = _midpoint_fails(pool, ia, ib, im, nb, camera, tol_px)
        if level >= LIMB_MAX_LEVELS:
            capped += int(fail.sum())
            final.append((lr, ta, tm, ia, im, _no_rows(lr.size)))
            final.append((lr, tm, tb, im, ib, _no_rows(lr.size)))
            break
        ok = ~fail
        final.append((lr[ok], ta[ok], tb[ok], ia[ok], ib[ok], im[ok]))
        lr, ta, tb, ia, ib, im, tm = lr[fail], ta[fail], tb[fail], ia[fail], ib[fail], im[fail], tm[fail]
        if level >= 2:
            # halves of an interval that failed by at most LIMB_SURE_HALVES_RATIO are leaves unevaluated: their
            # deviations are ~1/4 of it (smooth optics, h^2) and pass with a margin of 2
            sure = ratio[fail] <= LIMB_SURE_HALVES_RATIO
            final.append((lr[sure], ta[sure], tm[sure], ia[sure], im[sure], _no_rows(sure.sum())))
            final.append((lr[sure], tm[sure], tb[sure], im[sure], ib[sure], _no_rows(sure.sum())))
            keep = ~sure
            lr, ta, tb, ia, ib, im, tm = lr[keep], ta[keep], tb[keep], ia[keep], ib[keep], im[keep], tm[keep]
        lr, ta, tb = np.concatenate([lr, lr]), np.concatenate([ta, tm]), np.concatenate([tm, tb])
        ia, ib = np.concatenate([ia, im]), np.concatenate([im, ib])
    # the grey transmission at the exposure's knots, written over h_g (no longer needed; 0.1 GB of fresh memory
    # less on the Pettit scenario)
    trans = _above(h_g, _HIDDEN_BELOW_KM, h_g)
    trans[jj, kn] = opt["T"][:, 0]
    out["transmission"] = trans
    out.update(_knots_and_ranges(final, pool, rows.size, nb, exposure_step, camera, tol_px), levels=level,
               capped=capped)
    return out


def _in_band(h_km):
    """Straight-line tangent altitudes (km) whose stars get limb optics: between _HIDDEN_BELOW_KM and
    LIMB_OPTICS_BELOW_KM (NaN: not)."""
    return (h_km < LIMB_OPTICS_BELOW_KM) & (h_km > _HIDDEN_BELOW_KM)


@njit(cache=True, inline="always")
def _needs_optics(h, k, win_lo, win_hi, top, bottom):
    """A knot of tangent altitude h gets optics: in the band (bottom < h < top), or inside its star's window
    (knots win_lo..win_hi; empty where win_lo > win_hi)."""
    return (h < top and h > bottom) or win_lo <= k <= win_hi


@njit(parallel=True, cache=True)
def _window_pairs(h_g, x, y, margin, width, height, top, bottom):
    """The (star, knot) pairs that get limb optics at the exposure's knots, from h_g, x, y [N, K].

    A knot is *in the band* where bottom < h_g < top, and *near* the frame where x, y are within ``margin`` of
    it (NaN: neither). Rows (stars) with a knot both in the band and near are the limb windows: rows [M], and
    each one's window from the knot before its first such knot to the one after its last (ka, kb [M]). The
    pairs (jj, kn), row-major: every knot in the band of a star that is near the frame at some knot (the others
    are never shown: no truth needed), and every knot of a window. index [M, K]: the pair index of each
    window row's knots (-1 for none)."""
    n, k_n = h_g.shape
    win_lo = np.zeros(n, dtype=np.int64)  # each star's window (empty: win_lo > win_hi)
    win_hi = np.full(n, -1, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    for i in prange(n):
        any_near = False
        first = last = -1
        for k in range(k_n):
            xk, yk = x[i, k], y[i, k]
            if xk > -margin and xk < width - 1.0 + margin and yk > -margin and yk < height - 1.0 + margin:
                any_near = True
                if h_g[i, k] < top and h_g[i, k] > bottom:
                    if first < 0:
                        first = k
                    last = k
        if first >= 0:
            win_lo[i], win_hi[i] = max(first - 1, 0), min(last + 1, k_n - 1)
        if any_near:
            for k in range(k_n):
                if _needs_optics(h_g[i, k], k, win_lo[i], win_hi[i], top, bottom):
                    counts[i] += 1
    rows = np.flatnonzero(win_hi >= 0)
    at_row = np.full(n, -1, dtype=np.int64)
    at_row[rows] = np.arange(rows.size)
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)
    jj = np.empty(offsets[n], dtype=np.int64)
    kn = np.empty(offsets[n], dtype=np.int64)
    index = np.full((rows.size, k_n), -1, dtype=np.int64)
    for i in prange(n):
        if counts[i] == 0:
            continue
        p = offsets[i]
        r = at_row[i]
        for k in range(k_n):
            if _needs_optics(h_g[i, k], k, win_lo[i], win_hi[i], top, bottom):
                jj[p], kn[p] = i, k
                if r >= 0:
                    index[r, k] = p
                p += 1
    return rows, win_lo[rows], win_hi[rows], jj, kn, index


def _settled_intervals(pool, ia, ib, duration, nb, exposure_step, h_g, star, knot, pos_mid, mid, geo_p):
    """Exposure knot intervals (knot to knot + 1 of star ``star``; ends at pool rows ia, ib) that are flat, or
    dark, at both ends as _knots_and_ranges counts leaves, and whose straight line's tangent altitude at the
    midpoint (observer at pos_mid[mid], star direction geo_p[star], pole frame) is not below (for flat; not
    above, for dark) the lower (higher) of its ends' (h_g [N, K]). The transmission falls with the bent ray's
    tangent altitude, which rises with the straight line's, so the midpoint is flat (dark) too and passes
    _midpoint_fails (the track test counts only light that is seen, and flat leaves are rendered from the
    exposure's knots): these intervals are leaves without a midpoint. Bool [P]."""
    flat, dark = _flat_dark_leaves(pool, ia, ib, duration, nb, exposure_step)
    cand = np.flatnonzero(flat | dark)
    settled = np.zeros(ia.size, dtype=np.bool_)
    if cand.size:
        h_mid = _indexed_tangent_altitudes(pos_mid, mid[cand], geo_p, star[cand], LIMB_OPTICS_BELOW_KM / 2.0,
                                           LIMB_OPTICS_BELOW_KM)
        ha, hb = h_g[star[cand], knot[cand]], h_g[star[cand], knot[cand] + 1]
        settled[cand] = np.where(flat[cand], h_mid >= np.minimum(ha, hb), h_mid <= np.maximum(ha, hb))
    return settled


def _midpoint_fails(pool, ia, ib, im, nb, camera, tol_px):
    """Intervals whose midpoint values (pool rows im) are off the chord between their ends' (rows ia, ib):
    transmission (any channel) by more than LIMB_TRANSMISSION_TOLERANCE, or a visible in-frame track (any
    channel) by more than tol_px. Returns (fails [P] bool, ratio [P]: the largest of those deviations over its
    tolerance)."""
    return _midpoint_fails_kernel(np.ascontiguousarray(pool), ia, ib, im, nb, float(camera.width), float(camera.height),
                                  float(tol_px), LIMB_TRANSMISSION_TOLERANCE, LIMB_VISIBLE_TRANSMISSION)


@njit(cache=True, inline="always")
def _worse(worst, ratio):
    """The larger of two deviation ratios, NaN counting as infinite (an undetermined deviation is never small)."""
    if ratio != ratio:
        return np.inf
    return max(worst, ratio)


@njit(parallel=True, cache=True)
def _midpoint_fails_kernel(pool, ia, ib, im, nb, width, height, tol_px, tol_t, visible_t):
    """_midpoint_fails per interval: rows of pool are x, y, T, h_ray [B] each, then the distance."""
    n = ia.shape[0]
    fails = np.zeros(n, dtype=np.bool_)
    ratio = np.zeros(n)
    for p in prange(n):
        fails[p], ratio[p] = _chord_test(pool, ia[p], ib[p], im[p], 0.5, nb, width, height, tol_px, tol_t, visible_t)
    return fails, ratio


@njit(cache=True, inline="always")
def _chord_test(pool, a, b, p, f, nb, width, height, tol_px, tol_t, visible_t):
    """The values at pool row p against the chord from row a to row b at fraction f (of time): (off, ratio).
    off: some channel's transmission is off by more than tol_t, or a visible in-frame track (the light seen at
    an end or at p, p in the frame) by more than tol_px; ratio: the largest of those deviations over its
    tolerance (NaN: infinite). Rows are x, y, T, h_ray [nb] each, then the distance."""
    va, vb, vp = pool[a], pool[b], pool[p]
    off = False
    worst = 0.0
    for c in range(nb):
        ta, tb, tp = va[2 * nb + c], vb[2 * nb + c], vp[2 * nb + c]
        dev = abs(tp - ((1.0 - f) * ta + f * tb))
        if dev > tol_t:
            off = True
        worst = _worse(worst, dev / tol_t)
        if max(ta, tb, tp) >= visible_t:
            xp, yp = vp[c], vp[nb + c]
            if -0.5 <= xp <= width - 0.5 and -0.5 <= yp <= height - 0.5:
                err = math.hypot(xp - ((1.0 - f) * va[c] + f * vb[c]), yp - ((1.0 - f) * va[nb + c] + f * vb[nb + c]))
                if err > tol_px:  # (NaN: an end off the projection; not counted, as before)
                    off = True
                worst = _worse(worst, err / tol_px)
    return off, worst


def _knot_columns(kv, nb):
    """The quantities of a knot table kv [P, 4 nb + 1] (pool layout: x, y, T, h_ray [nb] each, then the
    distance), as views named as in the truth."""
    return dict(x=kv[:, :nb], y=kv[:, nb:2 * nb], transmission=kv[:, 2 * nb:3 * nb],
                tangent_altitude_km=kv[:, 3 * nb:4 * nb], distance_km=kv[:, 4 * nb])


def _knots_and_ranges(final, pool, n_rows, nb, exposure_step, camera, tol_px):
    """Each row's knots (CSR) from its leaves (runs of whole exposure knot intervals merged where the chord
    holds: _merge_leaves), its cut and its rendered range.

    The leaves of a row's window that are *flat* (every channel's transmission ≥ 1 − LIMB_FLAT_TRANSMISSION at
    both ends, one exposure knot interval long) are left to the exposure's knots: the row's cut [cut_start,
    cut_stop] spans its first to last other leaf. Leaves that are *dark* (every channel below
    LIMB_DARK_TRANSMISSION at both ends) are not rendered. The rest, from the first to the last leaf that is
    neither, is rendered from the row's knots (its rendered range, as knot indices)."""
    lr, ta, tb, ia, ib, im = _sort_leaves(*(np.concatenate([f[i] for f in final]) for i in range(6)), n_rows)
    lr, ta, tb, ia, ib = _merge_leaves(lr, ta, tb, ia, ib, im, pool, n_rows, nb, exposure_step, camera, tol_px)
    counts = np.bincount(lr, minlength=n_rows)  # leaves per row; knots = leaves + 1
    last = np.cumsum(counts) - 1  # each row's last leaf
    kt = np.empty(lr.size + n_rows)
    ki = np.empty(lr.size + n_rows, dtype=np.int64)  # each knot's pool row
    ptr = np.concatenate([[0], np.cumsum(counts + 1)]).astype(np.int64)
    pos_leaf = np.arange(lr.size) + lr  # knot index of each leaf's start
    kt[pos_leaf], ki[pos_leaf] = ta, ia
    kt[ptr[1:] - 1], ki[ptr[1:] - 1] = tb[last], ib[last]
    kv = _take_rows(pool, ki)
    cols = _knot_columns(kv, nb)
    out = dict(ptr=ptr, kt=kt, kv=kv, kx=cols["x"], ky=cols["y"], kT=cols["transmission"],
               kh=cols["tangent_altitude_km"], kd=cols["distance_km"])

    # flat and dark leaves; each row's cut and rendered range
    flat, dark = _flat_dark_leaves(kv, pos_leaf, pos_leaf + 1, tb - ta, nb, exposure_step)
    big = lr.size + 1
    idx = np.arange(lr.size)

    def first_last(mask):
        lo = np.full(n_rows, big)
        hi = np.full(n_rows, -1)
        np.minimum.at(lo, lr[mask], idx[mask])
        np.maximum.at(hi, lr[mask], idx[mask])
        return lo, hi

    c_lo, c_hi = first_last(~flat)
    has_cut = c_hi >= 0
    out["cut_start"] = np.where(has_cut, ta[np.minimum(c_lo, lr.size - 1)], np.inf)
    out["cut_stop"] = np.where(has_cut, tb[np.maximum(c_hi, 0)], np.inf)
    r_lo, r_hi = first_last(~flat & ~dark)
    # each row's rendered range: its knots from the first to the last leaf that is neither flat nor dark
    range_row = np.flatnonzero(r_hi >= 0)
    out.update(range_row=range_row, range_first=pos_leaf[r_lo[range_row]], range_last=pos_leaf[r_hi[range_row]] + 1)
    return out


def window_sources(limb, b, rate, vignetting=None):
    """The rendered ranges as sources for render_trails, each on its own knots, in batches of similar knot
    count, for wavelength column b.

    A knot whose transmission is 0 (the bent ray meets the ground, or the star is hidden) is drawn at the
    position of the last lit knot before it (of the first one after it, where none is before): its own x, y
    are the straight line's, tens of pixels below the refracted track (the bending at the ground, ~70′), and the
    chord from there to the first lit knot would smear that interval's faint light (transmission within
    LIMB_TRANSMISSION_TOLERANCE of 0 there) along the jump; it is drawn where the star sets, at the end of
    its flattened track.
    rate [M] electrons/s of each limb row in this channel. Yields (ranges, t, x, y, rate_r, illumination):
    ranges the indices into range_row, t, x, y, illumination [S, K] the range's knots (times in s, pixels,
    transmission × vignetting(x, y) when given), padded past the last knot (1 s apart, same place: never
    visible), rate_r [S] electrons/s.
    """
    first, last = limb["range_first"], limb["range_last"]
    n_knots = last - first + 1
    for lo, hi in WINDOW_BATCH_KNOTS:
        rng = np.flatnonzero((n_knots >= lo) & (n_knots <= hi))
        if rng.size == 0:
            continue
        col = np.arange(int(n_knots[rng].max()))[None, :]
        k = first[rng][:, None] + np.minimum(col, n_knots[rng][:, None] - 1)
        beyond = np.maximum(col - (n_knots[rng][:, None] - 1), 0)
        t = limb["kt"][k] + beyond
        nb = limb["kx"].shape[1]
        xs, ys, tr = _gather_knots(limb["kv"], k, np.array([b, nb + b, 2 * nb + b], dtype=np.int64))
        _lit_positions(xs, ys, tr)
        if vignetting is not None:
            tr *= np.nan_to_num(vignetting(xs, ys), nan=0.0, copy=False)
        yield rng, t, xs, ys, rate[limb["range_row"][rng]], tr


def window_intervals(limb, rng, ptr, start, stop, row_index):
    """Visible intervals (s, CSR) of the rendered ranges ``rng``: their rows' (ptr, start, stop; row_index [M]
    each limb row's source index) within the range's first and last knot."""
    from .intervals import intersect_intervals, subset_csr

    p, a, b = subset_csr(ptr, start, stop, row_index[limb["range_row"][rng]])
    one = np.arange(rng.size + 1, dtype=np.int64)
    return intersect_intervals(p, a, b, one, limb["kt"][limb["range_first"][rng]], limb["kt"][limb["range_last"][rng]])


def outside_windows(limb, ptr, start, stop, row_index, n_sources):
    """The sources' visible intervals with each limb row's cut [cut_start, cut_stop] taken out (CSR): the part
    of its window rendered from its own knots, or not at all (dark)."""
    from .intervals import intersect_intervals

    lo = np.full(n_sources, np.inf)
    hi = np.full(n_sources, np.inf)
    lo[row_index], hi[row_index] = limb["cut_start"], limb["cut_stop"]
    # complement of [lo, hi]: (-inf, lo] and [hi, inf); rows without a window keep (-inf, inf)
    c_start = np.stack([np.full(n_sources, -np.inf), hi], axis=1).ravel()
    c_stop = np.stack([lo, np.full(n_sources, np.inf)], axis=1).ravel()
    keep = c_stop > c_start
    c_ptr = np.concatenate([[0], np.cumsum(keep.reshape(-1, 2).sum(axis=1))]).astype(np.int64)
    return intersect_intervals(np.asarray(ptr, np.int64), np.asarray(start, np.float64), np.asarray(stop, np.float64),
                               c_ptr, c_start[keep], c_stop[keep])


# at most this many whole exposure knot intervals are merged into one leaf (_merge_leaves)
LIMB_MAX_MERGE = 16


def _no_rows(n):
    """n pool rows of no evaluated midpoint (-1)."""
    return np.full(int(n), -1, dtype=np.int64)


def _merge_leaves(lr, ta, tb, ia, ib, im, pool, n_rows, nb, exposure_step, camera, tol_px):
    """Sorted leaves with runs of consecutive *mergeable* leaves merged where one chord holds them.

    A leaf is mergeable when it is one whole exposure knot interval that passed its midpoint test (im >= 0: its
    midpoint evaluated) and is neither flat nor dark (those are rendered from the exposure's knots, or not at
    all). From each row's first leaf on, a merged leaf grows by the next mergeable leaf (LIMB_MAX_MERGE at most)
    while every point evaluated inside it (the knots between its leaves and their midpoints) is within the
    midpoint test's tolerances of its chord (_chord_test, the midpoint test's own, at each point:
    transmission, and the visible in-frame track). The exposure's knots are dense where the straight-line
    tracks curve most anywhere in the frame; a limb star's own track and transmission are often straight over
    many of them.
    Returns (lr, ta, tb, ia, ib) of the merged leaves, in the same order."""
    if lr.size == 0:
        return lr, ta, tb, ia, ib
    flat, dark = _flat_dark_leaves(pool, ia, ib, tb - ta, nb, exposure_step)
    whole = np.abs((tb - ta) - exposure_step) <= 1e-9 * exposure_step
    mergeable = (im >= 0) & whole & ~flat & ~dark
    row_start = np.concatenate([[0], np.cumsum(np.bincount(lr, minlength=n_rows))]).astype(np.int64)
    head = _merge_heads(row_start, mergeable, ta, tb, ia, ib, im, np.ascontiguousarray(pool), nb,
                        float(camera.width), float(camera.height), float(tol_px), LIMB_TRANSMISSION_TOLERANCE,
                        LIMB_VISIBLE_TRANSMISSION, LIMB_MAX_MERGE)
    first = np.flatnonzero(head)
    last = np.append(first[1:], lr.size) - 1
    return lr[first], ta[first], tb[last], ia[first], ib[last]


@njit(parallel=True, cache=True)
def _merge_heads(row_start, mergeable, ta, tb, ia, ib, im, pool, nb, width, height, tol_px, tol_t, visible_t,
                 max_merge):
    """For _merge_leaves: whether each leaf starts a merged leaf (bool [n]; greedy, row by row)."""
    n_rows = row_start.size - 1
    head = np.zeros(ta.size, dtype=np.bool_)
    for r in prange(n_rows):
        i, end = row_start[r], row_start[r + 1]
        while i < end:
            head[i] = True
            j = i + 1  # the merged leaf holds leaves i .. j - 1
            if mergeable[i]:
                while j < end and j - i < max_merge and mergeable[j]:
                    # leaves i .. j under one chord: the knots between them and every leaf's midpoint
                    t0, span = ta[i], tb[j] - ta[i]
                    bad = False
                    for m in range(i, j + 1):
                        if _chord_test(pool, ia[i], ib[j], im[m], (0.5 * (ta[m] + tb[m]) - t0) / span, nb, width,
                                       height, tol_px, tol_t, visible_t)[0]:
                            bad = True
                            break
                        if m < j and _chord_test(pool, ia[i], ib[j], ib[m], (tb[m] - t0) / span, nb, width, height,
                                                 tol_px, tol_t, visible_t)[0]:
                            bad = True
                            break
                    if bad:
                        break
                    j += 1
            i = j
    return head


@njit(parallel=True, cache=True)
def _sort_leaves(lr, ta, tb, ia, ib, im, n_rows):
    """The leaves (row lr, times ta..tb, pool rows ia, ib and im) in order of row, then of ta (a counting sort
    by row, then each row's few leaves by time: the order of np.lexsort((ta, lr)), the leaves of a row being
    disjoint)."""
    n = lr.size
    start = np.zeros(n_rows + 1, dtype=np.int64)
    for i in range(n):
        start[lr[i] + 1] += 1
    for r in range(n_rows):
        start[r + 1] += start[r]
    fill = start[:-1].copy()
    by_row = np.empty(n, dtype=np.int64)
    for i in range(n):
        by_row[fill[lr[i]]] = i
        fill[lr[i]] += 1
    order = np.empty(n, dtype=np.int64)
    for r in prange(n_rows):
        a, b = start[r], start[r + 1]
        members = by_row[a:b]
        order[a:b] = members[np.argsort(ta[members], kind="mergesort")]
    out_lr, out_ta, out_tb = np.empty(n, dtype=lr.dtype), np.empty(n), np.empty(n)
    out_ia, out_ib, out_im = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    for i in prange(n):
        j = order[i]
        out_lr[i], out_ta[i], out_tb[i], out_ia[i], out_ib[i], out_im[i] = lr[j], ta[j], tb[j], ia[j], ib[j], im[j]
    return out_lr, out_ta, out_tb, out_ia, out_ib, out_im


@njit(parallel=True, cache=True)
def _flat_dark_leaves(kv, row_a, row_b, duration, nb, exposure_step):
    """Per leaf (from kv row row_a to row row_b; kv rows are x, y, T, h_ray [nb] each, then the distance): flat
    (every channel's transmission >= 1 - LIMB_FLAT_TRANSMISSION at both ends, and one exposure knot interval
    long) and dark (every channel below LIMB_DARK_TRANSMISSION at both ends)."""
    n = row_a.size
    flat = np.empty(n, dtype=np.bool_)
    dark = np.empty(n, dtype=np.bool_)
    for i in prange(n):
        is_flat = duration[i] >= exposure_step * (1.0 - 1e-9)
        is_dark = True
        for k in (row_a[i], row_b[i]):
            for b in range(2 * nb, 3 * nb):
                is_flat = is_flat and kv[k, b] >= 1.0 - LIMB_FLAT_TRANSMISSION  # (NaN: neither, as numpy's)
                is_dark = is_dark and kv[k, b] < LIMB_DARK_TRANSMISSION
        flat[i] = is_flat
        dark[i] = is_dark
    return flat, dark


@njit(parallel=True, cache=True)
def _above(values, threshold, out):
    """out [N, K] = 0.0 where values [N, K] <= threshold, else 1.0 (NaN: 1.0, as np.where(values <= threshold, 0,
    1)); out may be values itself."""
    for i in prange(values.shape[0]):
        for k in range(values.shape[1]):
            out[i, k] = 0.0 if values[i, k] <= threshold else 1.0
    return out


@njit(parallel=True, cache=True)
def _zeros(shape):
    """np.zeros(shape) for a 2-D shape, first touched by all threads (numpy's zeros are touched by the one
    thread that writes into them later)."""
    out = np.empty(shape)
    for i in prange(shape[0]):
        out[i, :] = 0.0
    return out


@njit(parallel=True, cache=True)
def _gather_knots(kv, k, columns):
    """kv[k, columns[i]] for each i: arrays shaped as k (one compiled parallel gather of a few columns of the
    knot table instead of one fancy-indexing pass over its strided column each)."""
    out = np.empty((columns.size,) + k.shape)
    for i in prange(k.shape[0]):
        for j in range(k.shape[1]):
            row = k[i, j]
            for c in range(columns.size):
                out[c, i, j] = kv[row, columns[c]]
    return out


@njit(parallel=True, cache=True)
def _lit_positions(x, y, transmission):
    """In place, per row of x, y, transmission [S, K]: each knot whose transmission is 0 takes the x, y of the
    last lit knot before it, or, where none is, of the first lit knot after it (rows without a lit knot stay)."""
    for i in prange(x.shape[0]):
        last = -1
        for k in range(x.shape[1]):
            if transmission[i, k] > 0.0:
                if last < 0:  # the leading dark knots take the first lit one's place
                    for j in range(k):
                        x[i, j], y[i, j] = x[i, k], y[i, k]
                last = k
            elif last >= 0:
                x[i, k], y[i, k] = x[i, last], y[i, last]


@njit(parallel=True, cache=True)
def _take_rows(values, rows):
    """values[rows] for a 2-D array (a new array, first touched by all threads)."""
    out = np.empty((rows.size, values.shape[1]))
    for i in prange(rows.size):
        out[i, :] = values[rows[i], :]
    return out


@njit(cache=True)
def _compact_rows(values, rows):
    """values[rows] for increasing rows, moved to the front of values (a 2-D array) in place: returns that view.
    (Sequential: row j is written from row rows[j] >= j, which no earlier step has overwritten.)"""
    for j in range(rows.size):
        r = rows[j]
        if r != j:
            for c in range(values.shape[1]):
                values[j, c] = values[r, c]
    return values[:rows.size]


@njit(parallel=True, cache=True)
def _repeat_channels(values, n_channels):
    """values [N, K] repeated along a new last axis [N, K, C] (filled by all threads: a ~200 MB array's first
    touch costs about half as much as numpy's single-threaded broadcast)."""
    out = np.empty(values.shape + (n_channels,))
    for i in prange(values.shape[0]):
        for k in range(values.shape[1]):
            v = values[i, k]
            for c in range(n_channels):
                out[i, k, c] = v
    return out


def limb_truth(limb, shown):
    """Per output star and knot: transmission and refraction (1 and 0 above the atmosphere); the channel
    transmissions for spectral cameras; each shown limb star's own knots (CSR over the shown stars). Consumes
    limb: its knot table (kv) is reused for the shown rows' knots."""
    from .intervals import csr_entries

    trans = _take_rows(limb["transmission"], np.asarray(shown, dtype=np.int64))
    pos = np.full(limb["transmission"].shape[0], -1)
    pos[shown] = np.arange(shown.size)
    at = pos[limb["pair_star"]] >= 0
    p_row, p_knot = pos[limb["pair_star"][at]], limb["pair_knot"][at]
    refraction = _zeros(trans.shape)
    refraction[p_row, p_knot] = limb["pair_refraction_arcsec"][at]
    out = dict(transmission=trans, refraction_arcsec=refraction,
               channel_wavelengths_m=np.asarray(limb["spectrum"].wavelengths[1:]))
    if limb["spectrum"].spectral:
        tc = _repeat_channels(np.ascontiguousarray(trans), limb["pair_transmission_per_channel"].shape[1])
        tc[p_row, p_knot] = limb["pair_transmission_per_channel"][at]
        out["transmission_per_channel"] = tc
    # own knots of the shown limb rows
    keep = np.flatnonzero(pos[limb["rows"]] >= 0)
    ptr = limb["ptr"]
    idx = csr_entries(ptr, keep)
    # (every knot value moved to the front of limb["kv"] in place, not gathered into a new table: ~0.13 GB of
    # fresh memory on the Pettit scenario, whose shown rows hold 99.8 % of the knots; limb's knot views are
    # stale afterwards)
    out["knots"] = dict(star=pos[limb["rows"][keep]], ptr=np.concatenate([[0], np.cumsum(np.diff(ptr)[keep])]),
                        t=limb["kt"][idx], **_knot_columns(_compact_rows(limb["kv"], idx), limb["kx"].shape[1]))
    return out


def limb_pixels(camera, pos_km, R_icrs_to_cam, pole, n=2048, vel_km_s=None):
    """The Earth's hard limb (rays grazing WGS84) seen from pos_km (GCRS) in pixels (x, y [n]); NaN off the frame.
    The grazing light's directions are aberrated by the observer's GCRS velocity vel_km_s (km/s; up to 5.3″ at
    the ISS's speed), as the stars' and the city lights' are; None: not."""
    from ..camera.projection import project_camera_points
    from ..earth.limb import limb_directions

    d = limb_directions(pos_km, pole, 0.0, n=n)
    if vel_km_s is not None:
        d = aberrate(d, np.asarray(vel_km_s, dtype=np.float64) / C_KM_S)
    x, y = project_camera_points(camera, d @ np.asarray(R_icrs_to_cam).T)
    off = ~((x >= -0.5) & (x <= camera.width - 0.5) & (y >= -0.5) & (y <= camera.height - 0.5))
    return np.where(off, np.nan, x), np.where(off, np.nan, y)


def limb_curve(camera, pos, rot, pole, t, vel):
    """The hard limb in pixels at the middle knot: (x, y [2048], its time t s); vel [K, 3] km/s (limb_pixels)."""
    k = t.size // 2
    x, y = limb_pixels(camera, pos[k], rot[k], pole, vel_km_s=vel[k])
    return x, y, float(t[k])


def frame_limb_curves(camera, frame_pos, frame_rot, pole, frame_middles, frame_vel):
    """The hard limb at each frame's middle (a burst's horizon moves from frame to frame; frame_pos [F, 3] km,
    frame_rot [F, 3, 3], frame_vel [F, 3] km/s the states at frame_middles [F] s): (x, y [F, 2048] px, NaN off the
    frame, t [F] s)."""
    n_frames = len(frame_middles)
    curves = [limb_pixels(camera, frame_pos[f], frame_rot[f], pole, vel_km_s=frame_vel[f]) for f in range(n_frames)]
    return (np.array([c[0] for c in curves]).reshape(n_frames, -1),
            np.array([c[1] for c in curves]).reshape(n_frames, -1), np.asarray(frame_middles, dtype=np.float64))
