"""limb = "atmosphere" (the default): setting stars are raised by refraction, fade by extinction and dilution,
redden in colour cameras, and get their own knots where their optics are not linear between the exposure's."""
from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u

from simulator.camera.bandpass import spectral_response
from simulator.config import parse_scenario
from simulator.earth import atmosphere as atm_mod
from simulator.errors import ScenarioError
from simulator.render.exposure import render_exposure
from simulator.sky.spectra import planck_photon_radiance, teff_from_bv

from .conftest import small_scenario_text

LIMB_ATTITUDE = 'mode = "lvlh"\nazimuth = "0 deg"\nelevation = "-19.5 deg"\nroll = "0 deg"'
CAMERA = '[camera]\nwidth = 400\nheight = 300\npixel_pitch = "20 um"\nfocal_length = "85 mm"\nf_number = 2.8\n' \
         'psf_sigma = "0.8 pix"\n'
COLOUR_CAMERA = '[camera]\npreset = "nikon-d3s"\nwidth = 400\nheight = 300\npixel_pitch = "20 um"\n' \
                'focal_length = "85 mm"\nf_number = 2.8\n'


def limb_text(limb: str | None, colour: bool = False, duration: str = "120 s") -> str:
    """A 85 mm view of the limb; limb None leaves [earth] out (the default), "hard" keeps the 15 km cut."""
    text = small_scenario_text(duration=duration, mag_limit=7.0, attitude=LIMB_ATTITUDE, width=400, height=300,
                               pixel_pitch="20 um", focal_length="85 mm")
    assert CAMERA in text
    if colour:
        text = text.replace(CAMERA, COLOUR_CAMERA)
    return text + (f'\n[earth]\nlimb = "{limb}"\n' if limb else "")


@pytest.fixture(scope="module")
def renders():
    return render_exposure(parse_scenario(limb_text(None))), render_exposure(parse_scenario(limb_text("hard")))


@pytest.fixture(scope="module")
def colour():
    scenario = parse_scenario(limb_text(None, colour=True))
    return scenario, render_exposure(scenario)


def _own(result, i):
    """Limb star i of the truth's own knots: (row j, t [k], x, y, transmission, tangent altitude [k, B], D [k])."""
    kn = result.limb["knots"]
    a, b = kn["ptr"][i], kn["ptr"][i + 1]
    return (kn["star"][i], kn["t"][a:b], kn["x"][a:b], kn["y"][a:b], kn["transmission"][a:b],
            kn["tangent_altitude_km"][a:b], kn["distance_km"][a:b])


def _expected_electrons(result, i, column, rate):
    """rate × ∫ transmission dt over the star's un-occulted intervals: its own knots inside its limb window
    (linear between them), the exposure's knots outside it."""
    j, kt, _, _, ktr, _, _ = _own(result, i)
    total = 0.0
    for a, b in zip(result.occult_start[result.occult_ptr[j]:result.occult_ptr[j + 1]],
                    result.occult_stop[result.occult_ptr[j]:result.occult_ptr[j + 1]]):
        ts = np.union1d(np.linspace(a, b, 4001), kt[(kt > a) & (kt < b)])
        inside = (ts >= kt[0]) & (ts <= kt[-1])
        tr = np.where(inside, np.interp(ts, kt, ktr[:, column]), np.interp(ts, result.t, result.limb["transmission"][j]))
        total += rate * np.trapezoid(tr, ts)
    return total


def _well_inside(result, i, pad=8):
    j, _, kx, ky, ktr, _, _ = _own(result, i)
    h, w = result.signal.shape[:2]
    lit = ktr[:, 0] > 0
    ok = (kx[:, 0] > pad) & (kx[:, 0] < w - 1 - pad) & (ky[:, 0] > pad) & (ky[:, 0] < h - 1 - pad)
    xs, ys, lit_g = result.x[j], result.y[j], result.limb["transmission"][j] > 0
    ok_g = (xs > pad) & (xs < w - 1 - pad) & (ys > pad) & (ys < h - 1 - pad)
    return bool(np.all(ok | ~lit) and np.all(ok_g | ~lit_g) and ktr[:, 0].min() < 0.5 and lit.any())


def test_the_atmosphere_is_the_default_and_occultation_altitude_alone_means_the_hard_cut():
    base = limb_text(None)
    assert parse_scenario(base).earth.limb == "atmosphere"
    hard = parse_scenario(base + '\n[earth]\noccultation_altitude = "20 km"\n').earth
    assert hard.limb == "hard" and hard.occultation_altitude_km == pytest.approx(20.0)
    assert parse_scenario(limb_text("hard")).earth.occultation_altitude_km == pytest.approx(15.0)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(limb_text("atmosphere") + 'occultation_altitude = "15 km"\n')
    assert str(err.value).startswith("earth.occultation_altitude:") and 'limb = "hard"' in str(err.value)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(limb_text("soft"))
    assert str(err.value).startswith("earth.limb:")


def test_refraction_raises_setting_stars_by_the_bending_angle(renders):
    """Same star, same knot: refracted minus straight-line position = bending x focal length (in pixels),
    independent of how the bending was computed (the truth's refraction angle)."""
    atm, hard = renders
    common, ia, ih = np.intersect1d(atm.hip, hard.hip, return_indices=True)
    eps = np.radians(atm.limb["refraction_arcsec"][ia] / 3600.0)
    # the hard-limb render has the same knots; its straight-line tracks are the unrefracted positions
    assert np.array_equal(atm.t, hard.t)
    shift = np.hypot(atm.x[ia] - hard.x[ih], atm.y[ia] - hard.y[ih])
    fx = parse_scenario(limb_text("hard")).camera.fx
    sel = (eps > np.radians(1 / 60)) & np.isfinite(shift) & (atm.limb["transmission"][ia] > 0)
    assert sel.sum() > 10
    # a pinhole near the centre: shift = fx tan(eps) to well under a percent (tilt of the field)
    assert np.allclose(shift[sel], fx * np.tan(eps[sel]), rtol=0.02)
    # raised: toward image up (the limb is below, rows grow downward)
    assert np.all((atm.y[ia] - hard.y[ih])[sel] < 0)


def test_setting_stars_fade_and_deposit_rate_times_transmission(renders):
    atm, _ = renders
    tr = atm.limb["transmission"]
    assert tr.min() < 0.01 and tr.max() == 1.0
    n_limb = atm.limb["knots"]["ptr"].size - 1
    checked = 0
    for i in range(n_limb):
        if not _well_inside(atm, i):
            continue
        j = atm.limb["knots"]["star"][i]
        assert atm.electrons[j] == pytest.approx(_expected_electrons(atm, i, 0, atm.rate[j]), rel=1e-3)
        checked += 1
    assert checked >= 2


def test_limb_knots_follow_the_optics_not_a_fixed_step(renders):
    """The exposure's knots stay as coarse as the straight-line tracks need; each setting star's own knots are
    finer where its transmission bends and coarse above the atmosphere."""
    atm, hard = renders
    assert atm.t.size == hard.t.size and np.diff(atm.t).max() > 4.0
    stats = atm.stats
    assert stats["limb_stars"] > 0 and stats["limb_capped_intervals"] == 0
    for i in range(atm.limb["knots"]["ptr"].size - 1):
        _, kt, _, _, ktr, _, _ = _own(atm, i)
        steps = np.diff(kt)
        fading = (ktr[:-1, 0] < 0.9) & (ktr[1:, 0] > 0.01)
        if fading.any():
            assert steps[fading].max() < 0.5 * np.diff(atm.t).max()


def _check_own_knot_intervals(scenario, res, fractions=(0.5,)):
    """Recompute the optics at the given fractions of every own-knot interval of every limb star: linear
    interpolation between the knots holds each column's transmission to 1e-3 and its visible in-frame track to
    render.knot_tolerance (5 % slack: the knots are placed by the same test at the points it evaluated).
    Returns the number of track points checked."""
    from simulator.earth.ellipsoid import earth_pole_gcrs, pole_frame
    from simulator.render.limb_stars import LIMB_VISIBLE_TRANSMISSION, limb_spectrum, pair_optics
    from simulator.render.observer import Observer
    from simulator.sky.apparent import C_KM_S, aberrate, natural_directions
    from simulator.sky.catalog import load_catalog

    cam, obs = scenario.camera, Observer(scenario)
    mid = scenario.start + 0.5 * scenario.duration_s * u.s
    _, vel_mid, _, bary_mid, beta_mid = obs.states(np.array([0.5 * scenario.duration_s]))
    cat = load_catalog(scenario.sky.catalog, mag_limit=scenario.sky.mag_limit)
    # the exposure's own setup: natural directions at mid-exposure, geocentric ones with annual aberration
    directions = natural_directions(cat, mid, bary_mid[0])
    kn = res.limb["knots"]
    n_checked = 0
    for i in range(kn["ptr"].size - 1):
        j, kt, kx, ky, ktr, _, _ = _own(res, i)
        c = np.flatnonzero(cat.hip == res.hip[j])[0]
        nat = directions[c:c + 1]
        geo = aberrate(nat, (beta_mid[0] - vel_mid[0] / C_KM_S)[None, :])
        for f in fractions:
            tm = (1.0 - f) * kt[:-1] + f * kt[1:]
            pos, _, rot, _, beta = obs.states(tm)
            o = pair_optics(cam, limb_spectrum(cam), pos, rot, beta, np.repeat(geo, tm.size, 0),
                            np.repeat(nat, tm.size, 0), np.full(tm.size, teff_from_bv(res.bv[j])),
                            pole_frame(earth_pole_gcrs(mid)))
            for b in range(ktr.shape[1]):
                lin_t = (1.0 - f) * ktr[:-1, b] + f * ktr[1:, b]
                # (off the midpoint, not where an end is dark: where the ray starts to clear the ground the
                # transmission has a kink, which the midpoint test bounds at the midpoint only; 1.08e-3 at 1/4)
                both_lit = (ktr[:-1, b] > 0) & (ktr[1:, b] > 0) if f != 0.5 else np.ones(tm.size, dtype=bool)
                assert np.abs(o["T"][:, b] - lin_t)[both_lit].max(initial=0.0) <= 1.05e-3, (i, f, b)
                err = np.hypot(o["x"][:, b] - ((1.0 - f) * kx[:-1, b] + f * kx[1:, b]),
                               o["y"][:, b] - ((1.0 - f) * ky[:-1, b] + f * ky[1:, b]))
                seen = np.maximum(o["T"][:, b], np.maximum(ktr[1:, b], ktr[:-1, b])) >= LIMB_VISIBLE_TRANSMISSION
                inside = ((o["x"][:, b] > 0) & (o["x"][:, b] < cam.width - 1) & (o["y"][:, b] > 0)
                          & (o["y"][:, b] < cam.height - 1))
                assert np.nan_to_num(err[seen & inside]).max(initial=0.0) <= 1.05 * scenario.render.knot_tolerance_px
                n_checked += int((seen & inside).sum())
    return n_checked


def test_knot_midpoints_are_within_tolerance():
    """Recompute the optics at the midpoints of every limb star's own knots: linear interpolation between the
    knots holds the transmission to 1e-3 and the visible in-frame track to render.knot_tolerance."""
    scenario = parse_scenario(limb_text(None, duration="40 s"))
    assert _check_own_knot_intervals(scenario, render_exposure(scenario)) > 20


def test_merged_and_unevaluated_knot_intervals_hold_the_tolerance_at_every_quarter():
    """A 14 mm view of the limb (the Pettit scenario on 1/12 of its pixels each way, 120 s, V <= 6, colour):
    its limb stars' own knots include runs of exposure knot intervals merged under one chord
    (limb_stars._merge_leaves) and halves never tested themselves (LIMB_SURE_HALVES_RATIO); at 1/4, 1/2 and 3/4
    of every own-knot interval every channel's optics, recomputed, are within the tolerances of the chord."""
    import dataclasses

    from simulator.bench import DEFAULT_SCENARIO, warmup_scenario
    from simulator.config import ExposureSpec, load_scenario

    small = warmup_scenario(load_scenario(DEFAULT_SCENARIO))  # the bench's warm-up: 1/12 of the pixels, 60 s, V <= 6
    scenario = dataclasses.replace(small, duration_s=120.0, exposure=ExposureSpec(mode="single", duration_s=120.0),
                                   earth=dataclasses.replace(small.earth, airglow=False, city_lights=False,
                                                             lightning=False))
    res = render_exposure(scenario)
    kn = res.limb["knots"]
    same_star = np.diff(np.repeat(np.arange(kn["ptr"].size - 1), np.diff(kn["ptr"]))) == 0
    merged = (np.diff(kn["t"]) > 1.01 * np.diff(res.t).max()) & same_star
    assert merged.sum() >= 50  # (148 at the time of writing)
    assert _check_own_knot_intervals(scenario, res, fractions=(0.25, 0.5, 0.75)) > 1000


def _independent_channel_transmission(h_km, d_km, teff, response, lam):
    """∫ B_ph(λ, T) R_c(λ) e^{−τ(h, λ)} dλ / ∫ B_ph R_c dλ × dilution(h, D), straight from the optical depths."""
    bb = planck_photon_radiance(lam, teff)
    tau = atm_mod.slant_optical_depth(np.full(lam.size, h_km), lam)
    num = np.trapezoid(bb * response * np.exp(-tau), lam)
    return num / np.trapezoid(bb * response, lam) * atm_mod.dilution_factor(h_km, d_km)


def test_setting_star_reddens_as_channel_transmission_predicts(colour):
    """Per own knot of a setting star: each channel's transmission matches the independent spectral integral
    at that channel's ray (1 %), and the blue/red ratio of the light it deposits falls as the ray sinks."""
    scenario, res = colour
    cs = spectral_response(scenario.camera)
    names = list(res.channel_names)
    ib, ir = names.index("B"), names.index("R")
    kn = res.limb["knots"]
    tested = reddened = 0
    for i in range(kn["ptr"].size - 1):
        j, kt, _, _, ktr, kh, kd = _own(res, i)
        teff = float(teff_from_bv(res.bv[j]))
        low = np.isfinite(kh[:, 0]) & (kh[:, 0] < 30.0) & (ktr[:, 1 + ir] > 1e-3)
        if low.sum() < 5:
            continue
        for k in np.flatnonzero(low)[:: max(1, low.sum() // 6)]:
            for c in range(len(names)):
                want = _independent_channel_transmission(kh[k, 1 + c], kd[k], teff, cs.response[c], cs.wavelength_m)
                assert ktr[k, 1 + c] == pytest.approx(want, rel=0.01)
        # blue / red electron rate per knot below 15 km, where Rayleigh scattering dominates (between ~18 and
        # 30 km the ozone Chappuis band takes more red than blue, and the star is bluer than above the air)
        rates = res.rate_per_channel[j]
        # (below T_R ~ 5e-3 the blue channel's light is its red tail, and the ratio levels off)
        sel = low & (kh[:, 0] < 15.0) & (ktr[:, 1 + ir] > 5e-3)
        if sel.sum() >= 3:
            ratio = rates[ib] * ktr[sel, 1 + ib] / (rates[ir] * ktr[sel, 1 + ir])
            order = np.argsort(kh[sel, 0])[::-1]  # from high to low rays
            assert np.all(np.diff(ratio[order]) < 0)
            if kh[sel, 0].min() < 10.0:
                assert ratio[order][-1] < 0.5 * rates[ib] / rates[ir]
                reddened += 1
        tested += 1
    assert tested >= 2 and reddened >= 2


def test_colour_flux_per_channel_is_rate_times_channel_transmission(colour):
    scenario, res = colour
    checked = 0
    for i in range(res.limb["knots"]["ptr"].size - 1):
        if not _well_inside(res, i):
            continue
        j = res.limb["knots"]["star"][i]
        for c in range(len(res.channel_names)):
            want = _expected_electrons(res, i, 1 + c, res.rate_per_channel[j, c])
            # measured up to 3.2e-7: each window is one run on the exact kernel (up to 1.2e-4 when windows were
            # cut into segments of equal spacing, the flatter ones on the constant-density kernel)
            assert res.electrons_per_channel[j, c] == pytest.approx(want, rel=2e-6)
        checked += 1
    assert checked >= 2
    # every star's channels add up to its electrons, and the image holds them (frame-interior stars)
    assert np.allclose(res.electrons_per_channel.sum(axis=1), res.electrons, rtol=1e-12, atol=1e-9)
    # the per-channel truth at the exposure's knots is the channel column of the own knots where they coincide
    tc = res.limb["transmission_per_channel"]
    assert tc.shape == res.x.shape + (3,)
    assert np.all((tc >= 0) & (tc <= 1.0 + 1e-6))


def _pairs(n=4000, seed=3):
    """Random (star, time) pairs of an ISS at 400 km looking along the limb: straight-line tangent altitudes
    from -60 to 160 km, with identity attitude and no aberration, for the compiled-kernel tests."""
    rng = np.random.default_rng(seed)
    r = atm_mod.EARTH_RADIUS_KM + 400.0 + rng.uniform(-5.0, 5.0, n)
    pos = np.stack([r, np.zeros(n), np.zeros(n)], axis=1)
    h = rng.uniform(-60.0, 160.0, n)
    dip = np.arccos((atm_mod.EARTH_RADIUS_KM + h) / r)  # below the local horizontal
    az = rng.uniform(-0.3, 0.3, n)
    geo = np.stack([-np.sin(dip), np.cos(dip) * np.cos(az), np.cos(dip) * np.sin(az)], axis=1)
    natural = geo + rng.normal(0.0, 1e-5, geo.shape)
    natural /= np.linalg.norm(natural, axis=1, keepdims=True)
    rot = np.repeat(np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])[None], n, axis=0)  # z_cam = +y
    beta = rng.normal(0.0, 3e-5, (n, 3))
    teff = rng.uniform(2500.0, 40000.0, n)
    return pos, rot, beta, geo, natural, teff


@pytest.mark.parametrize("colour_camera", [False, True])
def test_compiled_pair_optics_match_the_numpy_path(colour_camera):
    """limb_rays.pair_optics_kernel (Numba) reproduces earth/atmosphere.py's numpy functions pair by pair."""
    from simulator.render.limb_stars import limb_spectrum, pair_optics, pair_optics_numpy

    scenario = parse_scenario(limb_text(None, colour=colour_camera))
    camera = scenario.camera
    spectrum = limb_spectrum(camera)
    args = (camera, spectrum) + _pairs() + (np.eye(3),)
    got, ref = pair_optics(*args), pair_optics_numpy(*args)
    assert (np.isfinite(ref["h_ray"]) & (ref["h_g"][:, None] < 145.0)).sum() > 1000  # refracted pairs tested
    for key in ("h_g", "distance", "x", "y", "eps", "T", "h_ray"):
        np.testing.assert_array_equal(np.isnan(got[key]), np.isnan(ref[key]), err_msg=key)
        tol = {"x": 1e-7, "y": 1e-7, "eps": 1e-12, "T": 1e-10}.get(key, 1e-8)
        np.testing.assert_allclose(got[key], ref[key], rtol=0, atol=tol, err_msg=key)
    # pairs given as indices into observer states and stars (limb_optics' use): the same pairs, bit for bit
    pos, rot, beta, geo, natural, teff = _pairs()
    obs, star = np.random.default_rng(5).permutation(pos.shape[0]), np.random.default_rng(6).permutation(geo.shape[0])
    indexed = pair_optics(camera, spectrum, pos, rot, beta, geo, natural, teff, np.eye(3), obs, star)
    direct = pair_optics(camera, spectrum, pos[obs], rot[obs], beta[obs], geo[star], natural[star], teff[star], np.eye(3))
    for key in ("h_g", "distance", "x", "y", "eps", "T", "h_ray"):
        np.testing.assert_array_equal(indexed[key], direct[key], err_msg=key)


def test_table_arrays_reproduce_the_atmosphere_functions():
    """atmosphere.table_arrays evaluated by the compiled helpers equals refraction_deviation_rad,
    dilution_factor and transmission to 1e-9."""
    from simulator.render import limb_rays

    x0, dx, cb, ce, cla = atm_mod.table_arrays(550e-9)
    n = cb.shape[1]
    tau = atm_mod.vertical_optical_depths(550e-9)
    tau = np.array([float(tau["rayleigh"]), float(tau["ozone"]), float(tau["aerosol"])])
    h = np.linspace(-4.9, 144.9, 3001)
    d = np.full(h.size, 2200.0)
    eps = np.array([np.exp(limb_rays._cubic(ce, x0, dx, n, v)[0]) for v in h])
    np.testing.assert_allclose(eps, atm_mod.refraction_deviation_rad(h), rtol=1e-9, atol=0)
    phi = np.array([limb_rays.dilution(v, 2200.0, cb, ce, x0, dx, n, atm_mod.TABLE_BOTTOM_KM, atm_mod.TABLE_TOP_KM)
                    for v in h])
    np.testing.assert_allclose(phi, atm_mod.dilution_factor(h, d), rtol=0, atol=1e-9)
    tr = np.array([limb_rays.grey_transmission(v, 2200.0, cb, ce, cla, tau, x0, dx, n, atm_mod.TABLE_BOTTOM_KM,
                                               atm_mod.TABLE_TOP_KM) for v in h])
    np.testing.assert_allclose(tr, atm_mod.transmission(h, distance_km=d), rtol=0, atol=1e-9)
    # the compiled solver stops a step earlier than the numpy one (quadratic convergence: limb_rays.
    # NEWTON_CURVATURE_BOUND_PER_KM); it still holds the ray to a tenth of the tolerance, from the straight
    # line and from a start 0.03 km off (another wavelength's ray), at the nearest and farthest tangent points
    hg = np.linspace(-40.0, 140.0, 901)
    for dist in (1500.0, 2200.0, 3000.0):
        h_ref, e_ref = atm_mod.ray_tangent_altitude(hg, dist)
        for offset in (None, 0.03, -0.03):
            got = np.array([limb_rays.solve_ray(v, dist, cb, ce, x0, dx, n, 0.0, atm_mod.TABLE_TOP_KM,
                                                atm_mod.EARTH_RADIUS_KM, 1e-9,
                                                v if offset is None or not np.isfinite(r) else r + offset)
                            for v, r in zip(hg, h_ref)])
            np.testing.assert_array_equal(np.isnan(got[:, 0]), np.isnan(h_ref))
            np.testing.assert_allclose(got[:, 0], h_ref, rtol=0, atol=1e-10)
            np.testing.assert_allclose(got[:, 1], e_ref, rtol=1e-10, atol=0)


def test_settled_intervals_are_those_the_midpoint_test_passes(colour, monkeypatch):
    """Exposure knot intervals flat (or dark) at both ends, with the straight line's tangent altitude at the
    midpoint not below (above) the ends', skip the midpoint evaluation; rendering again with every interval
    tested at its midpoint gives the same knots, truth and image, bit for bit, so none of them would have
    been split."""
    from simulator.render import limb_stars

    scenario, result = colour
    calls = []
    real = limb_stars._settled_intervals

    def none_settled(*args):
        settled = real(*args)
        calls.append(int(settled.sum()))
        return np.zeros_like(settled)

    monkeypatch.setattr(limb_stars, "_settled_intervals", none_settled)
    again = render_exposure(scenario)
    assert calls and calls[0] > 0  # the colour scene has such intervals: the test compares something
    for key in ("ptr", "t", "x", "y", "transmission", "tangent_altitude_km", "distance_km"):
        np.testing.assert_array_equal(again.limb["knots"][key], result.limb["knots"][key], err_msg=key)
    np.testing.assert_array_equal(again.signal, result.signal)


def test_dark_knots_take_the_place_of_the_nearest_lit_knot():
    """limb_stars._lit_positions: knots of transmission 0 take the x, y of the last lit knot before them (of the
    first after them where none is before); lit knots and rows without light are left as they are."""
    from simulator.render.limb_stars import _lit_positions

    x = np.array([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [7.0, 8.0, 9.0, 1.0, 2.0, 3.0]])
    y = -x
    t = np.array([[0.0, 0.0, 0.5, 0.7, 0.0, 0.0], [0.2, 0.0, 0.3, 0.0, 0.0, 0.1], [0.0] * 6])
    _lit_positions(x, y, t)
    np.testing.assert_array_equal(x, [[2, 2, 2, 3, 3, 3], [0, 0, 2, 2, 2, 5], [7, 8, 9, 1, 2, 3]])
    np.testing.assert_array_equal(y, -x)


def _segment_distance(px, py, ax, ay, bx, by):
    """Distance (px) from the point (px, py) to each segment a-b (NaN ends: inf)."""
    dx, dy = bx - ax, by - ay
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.clip(((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    s = np.where(np.isfinite(s), s, 0.0)
    d = np.hypot(ax + s * dx - px, ay + s * dy - py)
    return np.where(np.isfinite(d), d, np.inf)


def test_a_rising_or_setting_star_leaves_no_light_along_its_jump_to_the_straight_line(renders):
    """Where a star's bent ray meets the ground its own knots keep the straight line's x, y, tens of pixels
    from the refracted track's end (the bending at the ground, ~70', is ~90 px with this 85 mm lens); none of
    its light may be drawn along that jump: the image is exactly 0 halfway along it wherever no other
    track passes within 12 px (the PSF's reach, 5 sigma, plus a margin)."""
    atm, _ = renders
    kn = atm.limb["knots"]
    h, w = atm.signal.shape
    checked = 0
    for i in range(kn["ptr"].size - 1):
        j, kt, kx, ky, ktr, _, _ = _own(atm, i)
        lit = ktr[:, 0] > 0
        for k in np.flatnonzero(lit[:-1] != lit[1:]):  # a lit knot next to a dark one
            mx, my = 0.5 * (kx[k, 0] + kx[k + 1, 0]), 0.5 * (ky[k, 0] + ky[k + 1, 0])
            jump = np.hypot(kx[k + 1, 0] - kx[k, 0], ky[k + 1, 0] - ky[k, 0])
            if jump < 20.0 or not (10 < mx < w - 11 and 10 < my < h - 11):
                continue
            near = False  # any other track (exposure knots; the limb stars' own lit knots) within 12 px
            for s in range(atm.x.shape[0]):
                d = _segment_distance(mx, my, atm.x[s, :-1], atm.y[s, :-1], atm.x[s, 1:], atm.y[s, 1:])
                near |= s != j and d.min() < 12.0
            for q in range(kn["ptr"].size - 1):
                _, _, qx, qy, qt, _, _ = _own(atm, q)
                d = _segment_distance(mx, my, qx[:-1, 0], qy[:-1, 0], qx[1:, 0], qy[1:, 0])
                near |= q != i and np.any(((qt[:-1, 0] > 0) | (qt[1:, 0] > 0)) & (d < 12.0))
            if near:
                continue
            box = atm.signal[int(my) - 2:int(my) + 3, int(mx) - 2:int(mx) + 3]
            assert np.all(box == 0.0), (i, k, jump, box.max())
            checked += 1
    assert checked >= 3
