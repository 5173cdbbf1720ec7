"""The exposure loop: scenario -> observer states and attitude at knots -> star tracks -> rendered image.

Knots are uniform in time. Their spacing is refined (halved) until the track of every star inside the
frame, interpolated linearly between knots, is within ``render.knot_tolerance`` pixels of the exact
projection at every knot midpoint (DESIGN.md §4).
"""
from __future__ import annotations

import os
import time as _time
import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy import units as u
from astropy.time import Time
from tqdm import tqdm

from ..attitude import quaternions_from_matrices
from ..camera.star_kernel import max_angle_cos, project_stars
from ..earth.ellipsoid import earth_pole_gcrs
from ..config import ExposureSpec
from ..errors import ScenarioError
from ..orbit.eclipse import check_in_shadow, shadow_function, sun_gcrs_km_splined
from ..earth.occultation import unocculted_at_knots, visibility_intervals
from ..sky.apparent import C_KM_S, aberrate, natural_directions
from ..sky.catalog import load_catalog
from ..sky.photometry import channel_rates
from .airglow_layer import AirglowLayer
from .intervals import clip_intervals, subset_csr
from .limb_stars import (LIMB_FLOOR_GEOMETRIC_KM, LIMB_OPTICS_BELOW_KM, LIMB_VISIBLE_TRANSMISSION, frame_limb_curves,
                         limb_curve, limb_optics, limb_truth, outside_windows, window_intervals, window_sources)
from .observer import Observer, field_radius, interp_error, projection_args
from .sensor_stage import SensorStage
from .solar_system_sources import solar_system_sources, solar_system_truth
from .trails import effective_sigma, render_trails

MAX_KNOTS = 20001
CULL_MARGIN_RAD = np.radians(1.0)
# bytes held per star and knot while knots are refined: x, y, their mid-knot values and the merged copies
BYTES_PER_STAR_KNOT = 48


def _memory_budget_bytes() -> float:
    """Half of the physical memory (the truth tracks are held in memory before they are written)."""
    try:
        return 0.5 * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8e9


@dataclass
class ExposureResult:
    """Everything a render produces: the noise-free image and its ground truth (see DESIGN.md §4)."""

    start: Time
    t: np.ndarray  # [K] s from exposure start
    pos_km: np.ndarray  # [K, 3] GCRS
    vel_km_s: np.ndarray  # [K, 3] GCRS
    R_icrs_to_cam: np.ndarray  # [K, 3, 3]
    q_icrs_to_cam: np.ndarray  # [K, 4] scalar first
    hip: np.ndarray
    ra_deg: np.ndarray
    dec_deg: np.ndarray
    vmag: np.ndarray
    bv: np.ndarray
    pmra_mas_yr: np.ndarray  # mu_alpha* (catalog)
    pmdec_mas_yr: np.ndarray
    parallax_mas: np.ndarray
    x: np.ndarray  # [N, K]
    y: np.ndarray
    visible: np.ndarray  # [N, K] bool
    electrons: np.ndarray  # [N]
    rate: np.ndarray  # [N] electrons/s, all channels
    occult_start: np.ndarray  # CSR of un-occulted intervals
    occult_ptr: np.ndarray
    occult_stop: np.ndarray
    signal: np.ndarray  # [H, W] float32 electrons: the frame, or the stack of a burst
    attitude_description: str
    stats: dict = field(default_factory=dict)
    frame_start: np.ndarray | None = None  # [F] s from exposure start
    frame_stop: np.ndarray | None = None  # [F]
    electrons_per_frame: np.ndarray | None = None  # [N, F]
    frames: np.ndarray | None = None  # [F, H, W] float32, when the scenario asks to keep them
    stack: str = "single"
    sunlit_fraction: np.ndarray | None = None  # [K] fraction of the Sun's disk visible from the ISS
    channel_names: tuple = ("mono",)
    rate_per_channel: np.ndarray | None = None  # [N, C] electrons/s
    electrons_per_channel: np.ndarray | None = None  # [N, C] electrons deposited per channel, all frames
    sensor: dict | None = None  # raw stack, frames, rgb, cosmic rays, hot pixels, defect mask (see _Sensor)
    solar_system: dict | None = None  # planets and the Moon in the frame (see _solar_system)
    limb: dict | None = None  # limb = "atmosphere": transmission and refraction per star and knot (limb_truth)
    airglow: dict | None = None  # the layers and the image curve of each layer's peak
    # per frame: time_samples [F] (layer images integrated over the frame), band_motion_sigma [F] (AirglowLayer)
    airglow_frames: dict | None = None
    limb_curve: tuple | None = None  # (x, y) of the WGS84 horizon in the image at mid-exposure
    frame_limb_curves: tuple | None = None  # (x, y [F, n], t [F]): the horizon at each frame's middle
    # Earth sources' ground truth, each {name: (array, units, description)} written under /truth/<source>
    city_lights: dict | None = None
    lightning: dict | None = None


def render_exposure(scenario, show_progress: bool = False) -> ExposureResult:
    """Render a scenario's exposure (stars only, noise free) with its ground truth.

    show_progress: a progress bar on stderr for renders that last longer than two seconds.
    """
    timings = {}
    clock = _time.perf_counter()
    camera = scenario.camera
    duration = scenario.duration_s
    # orbital night: refuse an exposure that leaves the Earth's shadow unless the scenario allows it
    check_in_shadow(scenario.orbit, scenario.start, duration, scenario.allow_sunlit, field="exposure")
    observer = Observer(scenario)
    mid_time = scenario.start + 0.5 * duration * u.s

    # 1. catalog and natural directions at mid-exposure
    catalog = load_catalog(scenario.sky.catalog, mag_limit=scenario.sky.mag_limit)
    _, vel_mid, _, bary_mid, beta_mid = observer.states(np.array([0.5 * duration]))
    directions = natural_directions(catalog, mid_time, bary_mid[0])

    # 2. cull to stars that come within the field at some time (coarse boresight samples)
    t_coarse = np.linspace(0.0, duration, max(2, int(np.ceil(duration / 10.0)) + 1))
    _, _, rot_c, _, beta_c = observer.states(t_coarse)
    boresights = rot_c[:, 2, :]
    step_angle = np.max(np.arccos(np.clip(np.sum(boresights[1:] * boresights[:-1], axis=1), -1, 1)), initial=0.0)
    radius = min(field_radius(camera) + step_angle + CULL_MARGIN_RAD, np.pi)
    keep = max_angle_cos(np.ascontiguousarray(directions), np.ascontiguousarray(boresights)) >= np.cos(radius)
    index = np.flatnonzero(keep)
    directions = np.ascontiguousarray(directions[index])
    timings["setup_s"] = _time.perf_counter() - clock

    # 3. knots: refine until linear interpolation meets the tolerance
    clock = _time.perf_counter()
    proj = projection_args(camera)
    # (limb = "atmosphere": stars setting through the atmosphere get their own, finer knots: limb_stars.py)
    n_knots = max(3, int(np.ceil(duration / 16.0)) + 1)
    t = np.linspace(0.0, duration, n_knots)
    pos, vel, rot, bary, beta = observer.states(t)
    x, y = project_stars(directions, beta, rot, *proj)
    while True:
        tm = 0.5 * (t[:-1] + t[1:])
        pos_m, vel_m, rot_m, bary_m, beta_m = observer.states(tm)
        xm, ym = project_stars(directions, beta_m, rot_m, *proj)
        err = interp_error(x, y, xm, ym, camera)
        if err <= scenario.render.knot_tolerance_px:
            break
        if 2 * t.size - 1 > MAX_KNOTS:
            warnings.warn(f"render.knot_tolerance: stopped at {t.size} knots with an interpolation error of "
                          f"{err:.4f} px", stacklevel=2)
            break
        need = BYTES_PER_STAR_KNOT * directions.shape[0] * (2 * t.size - 1)
        if need > _memory_budget_bytes():
            raise ScenarioError(
                "exposure.duration",
                f"{directions.shape[0]} stars tracked at {2 * t.size - 1} knots need {need / 1e9:.1f} GB of memory",
                "shorten the exposure, lower sky.mag_limit or raise render.knot_tolerance")
        order = np.argsort(np.concatenate([t, tm]), kind="stable")
        t = np.concatenate([t, tm])[order]
        pos, vel, rot, beta = (np.concatenate([a, b])[order] for a, b in ((pos, pos_m), (vel, vel_m), (rot, rot_m), (beta, beta_m)))
        # the midpoints interleave with the knots (t, tm sorted: order is 0, K, 1, K+1, ...): one new array each
        x, y = _interleave_columns(x, xm), _interleave_columns(y, ym)
    timings["knots_s"] = _time.perf_counter() - clock
    timings["knot_interp_error_px"] = err

    # 4. occultation by the Earth (geocentric apparent directions: annual aberration only)
    clock = _time.perf_counter()
    earth_beta = beta_mid[0] - vel_mid[0] / C_KM_S
    geo_dirs = aberrate(directions, earth_beta[None, :])
    pole = earth_pole_gcrs(mid_time)
    atmosphere = scenario.earth.limb == "atmosphere"
    hiding_km = LIMB_FLOOR_GEOMETRIC_KM if atmosphere else scenario.earth.occultation_altitude_km
    # (with the atmosphere, the tangent altitudes exact where limb_optics needs them, which holds the hiding
    # altitude's window: computed once for both)
    exact = dict(exact_near=LIMB_OPTICS_BELOW_KM / 2.0, margin=LIMB_OPTICS_BELOW_KM) if atmosphere else {}
    iv_ptr, iv_start, iv_stop, h_tan = visibility_intervals(t, pos, vel, geo_dirs, pole, hiding_km, **exact)
    limb = None
    if atmosphere:  # refraction raises and flattens setting stars; extinction and dilution dim and redden them
        from ..sky.spectra import teff_from_bv
        reach = scenario.render.psf_extent_sigma * effective_sigma(
            max(s for _, s in camera.psf_mixture()) * (1.0 + max(camera.psf_field_growth, 0.0)))
        limb_clock = _time.perf_counter()
        limb = limb_optics(observer, t, pos, rot, beta, geo_dirs, directions, teff_from_bv(catalog.bv[index]), pole,
                           camera, x, y, scenario.render.knot_tolerance_px, reach, h_tan)
        timings["limb_optics_s"] = _time.perf_counter() - limb_clock
        # refracted at 550 nm: the truth, and the tracks outside the limb windows (x, y are this function's own)
        x[limb["pair_star"], limb["pair_knot"]] = limb["pair_x"]
        y[limb["pair_star"], limb["pair_knot"]] = limb["pair_y"]
    in_frame = (x >= -0.5) & (x <= camera.width - 0.5) & (y >= -0.5) & (y <= camera.height - 0.5)
    unocculted = unocculted_at_knots(t, iv_ptr, iv_start, iv_stop)
    if limb is not None:
        unocculted &= limb["transmission"] >= LIMB_VISIBLE_TRANSMISSION
    visible = in_frame & unocculted
    timings["occultation_s"] = _time.perf_counter() - clock

    # keep only stars visible at some knot (DESIGN.md §4: N holds every star visible at some knot),
    # but render every candidate: a star may graze the frame between knots with its PSF wings.
    channel_rate = channel_rates(catalog.vmag[index], catalog.bv[index], camera)  # [N, C] electrons/s

    # 4b. the Moon and planets: their directions change from knot to knot (Moon parallax ~1 deg from the
    # ISS), so they are projected per knot and appended to the stars' rows for rendering
    clock = _time.perf_counter()
    solar = solar_system_sources(scenario, t, pos, vel, rot, pole, radius)
    n_stars = index.size
    if solar is not None:
        x_r = np.concatenate([x, solar["x"]])
        y_r = np.concatenate([y, solar["y"]])
        channel_rate_r = np.concatenate([channel_rate, solar["channel_rate"]])
        iv_ptr_r = np.concatenate([iv_ptr, iv_ptr[-1] + solar["ptr"][1:]])
        iv_start_r = np.concatenate([iv_start, solar["start"]])
        iv_stop_r = np.concatenate([iv_stop, solar["stop"]])
    else:
        x_r, y_r, channel_rate_r, iv_ptr_r, iv_start_r, iv_stop_r = x, y, channel_rate, iv_ptr, iv_start, iv_stop
    timings["solar_system_s"] = _time.perf_counter() - clock
    rate_all = channel_rate_r.sum(axis=1)
    weights = channel_rate_r / np.where(rate_all > 0, rate_all, 1.0)[:, None] if channel_rate_r.shape[1] > 1 else None

    # 5. render each frame (one for a single exposure) and stack
    clock = _time.perf_counter()
    spec = scenario.exposure or ExposureSpec(mode="single", duration_s=duration)
    windows = spec.frame_windows()
    shape = (camera.height, camera.width)
    if spec.save_frames and len(windows) * camera.height * camera.width * 4 * len(camera.channels) > _memory_budget_bytes():
        raise ScenarioError("exposure.save_frames", f"{len(windows)} frames of {camera.width}x{camera.height} "
                            "do not fit in memory", "set save_frames = false (the stack is always kept)")
    n_ch = len(camera.channels)
    frame_shape = shape + ((n_ch,) if n_ch > 1 else ())
    frames = np.empty((len(windows),) + frame_shape, np.float32) if spec.save_frames else None
    vignetted = camera.vignetting_cos_power != 0.0 or camera.vignetting_mechanical != 0.0
    # (relative_illumination's array is fresh: NaN -> 0 in place, no second [N, K] array)
    illumination = np.nan_to_num(camera.relative_illumination(x_r, y_r), nan=0.0, copy=False) if vignetted else None
    per_frame = np.zeros((rate_all.size, len(windows)))
    per_channel = np.zeros((rate_all.size, n_ch))  # electrons per source and channel, all frames
    if limb is not None:
        # stars setting through the atmosphere: their limb windows are rendered per channel from their own
        # knots, each channel with its own track and transmission; elsewhere with the others
        limb_rows = limb["rows"]  # candidate index = source row (stars come first)
        iv_ptr_g, iv_start_g, iv_stop_g = outside_windows(limb, iv_ptr_r, iv_start_r, iv_stop_r, limb_rows,
                                                          rate_all.size)
        spectral = limb["spectrum"].spectral
        vignette = camera.relative_illumination if vignetted else None
        limb_batches = [list(window_sources(limb, c + 1 if spectral else 0,
                                             channel_rate[limb_rows, c] if spectral else rate_all[limb_rows], vignette))
                        for c in range(n_ch)]
    else:
        iv_ptr_g, iv_start_g, iv_stop_g = iv_ptr_r, iv_start_r, iv_stop_r
    stack = None
    updates = runs = 0
    sensor = SensorStage(scenario, t, pos, len(windows)) if scenario.sensor is not None else None
    source_clock = _time.perf_counter()
    airglow = AirglowLayer(scenario, observer, t, pos, vel, rot, pole) if scenario.earth.airglow else None
    timings["airglow_s"] = _time.perf_counter() - source_clock
    # Earth sources that deposit their own electrons per frame: .add_electrons(image, f, t0, t1), .truth()
    earth_sources = {}
    if scenario.earth.city_lights:
        from .city_lights_source import CityLightsSource
        source_clock = _time.perf_counter()
        earth_sources["city_lights"] = CityLightsSource(scenario, t, pos, vel, rot, pole)
        timings["city_lights_s"] = _time.perf_counter() - source_clock
    if scenario.earth.lightning:
        from .lightning_flashes import LightningFlashes
        source_clock = _time.perf_counter()
        earth_sources["lightning"] = LightningFlashes(scenario, t, pos, vel, rot, pole)
        timings["lightning_s"] = _time.perf_counter() - source_clock
    with tqdm(total=int(rate_all.size) * len(windows), desc="rendering trails", unit="star", delay=2.0,
              leave=False, disable=not show_progress) as bar:
        for f, (t0, t1) in enumerate(windows):
            ptr_f, start_f, stop_f = clip_intervals(iv_ptr_g, iv_start_g, iv_stop_g, t0, t1)
            # every pass adds into this frame's one image [H, W, C] (no full-frame temporaries)
            image = np.zeros(shape + (n_ch,))
            field = dict(psf_field_growth=camera.psf_field_growth, field_centre=(camera.cx, camera.cy),
                         field_radius=float(np.hypot(camera.cx, camera.cy)))
            for weight, sigma_px in camera.psf_mixture():  # the closed form holds per Gaussian component
                trails = render_trails(shape, t, x_r, y_r, rate_all * weight, ptr_f, start_f, stop_f, sigma_px,
                                       scenario.render.psf_extent_sigma, channel_weights=weights,
                                       illumination=illumination, out=image, **field)
                per_frame[:, f] += trails.electrons
                per_channel += trails.electrons[:, None] * (weights if weights is not None else 1.0)
                updates += trails.pixel_updates
                runs += trails.runs
            if limb is not None:
                limb_clock = _time.perf_counter()
                lp, ls, le = clip_intervals(iv_ptr_r, iv_start_r, iv_stop_r, t0, t1)
                for b, batch in enumerate(limb_batches[0]):
                    rng = batch[0]
                    sp, sa, sb = window_intervals(limb, rng, lp, ls, le, limb_rows)
                    owner = limb_rows[limb["range_row"][rng]]
                    for c in range(n_ch):
                        _, tk, xs, ys, rate_s, illum_s = limb_batches[c][b]
                        # channel c's own track and transmission, into channel c of the image
                        one_hot = None
                        if n_ch > 1:
                            one_hot = np.zeros((xs.shape[0], n_ch))
                            one_hot[:, c] = 1.0
                        for weight, sigma_px in camera.psf_mixture():
                            part = render_trails(shape, tk, xs, ys, rate_s * weight, sp, sa, sb, sigma_px,
                                                 scenario.render.psf_extent_sigma, illumination=illum_s,
                                                 channel_weights=one_hot, out=image, **field)
                            np.add.at(per_frame[:, f], owner, part.electrons)
                            np.add.at(per_channel[:, c], owner, part.electrons)
                            updates += part.pixel_updates
                            runs += part.runs
                timings["limb_render_s"] = timings.get("limb_render_s", 0.0) + _time.perf_counter() - limb_clock
            bar.update(int(rate_all.size))
            # the frame's image is its own (a fresh render each frame): add in place, no full-frame copies
            if airglow is not None:  # (into the [H, W, C] image, as every Earth source)
                source_clock = _time.perf_counter()
                airglow.add_electrons(image, f, t0, t1)
                timings["airglow_s"] += _time.perf_counter() - source_clock
            for name, source in earth_sources.items():
                source_clock = _time.perf_counter()
                source.add_electrons(image, f, t0, t1)
                timings[f"{name}_s"] += _time.perf_counter() - source_clock
            if n_ch == 1:
                image = image[:, :, 0]
            if sensor is not None:
                sensor.expose(f, image, t0, t1)
            if frames is not None:
                frames[f] = image
            if stack is None:
                stack = image
            elif spec.stack == "lighten":
                np.maximum(stack, image, out=stack)
            else:
                stack += image
    if spec.stack == "mean" and len(windows) > 1:
        stack /= len(windows)
    timings["render_s"] = _time.perf_counter() - clock
    timings["pixel_updates"] = updates
    timings["runs"] = runs

    shown = np.flatnonzero(visible.any(axis=1))
    sel = index[shown]
    ptr_sel, start_sel, stop_sel = subset_csr(iv_ptr, iv_start, iv_stop, shown)
    # the observer at each frame's middle, for the truth curves that move from frame to frame (limb, airglow)
    frame_middles = np.array([0.5 * (w[0] + w[1]) for w in windows])
    frame_pos, frame_vel, frame_rot, _, _ = observer.states(frame_middles)
    return ExposureResult(
        start=scenario.start, t=t, pos_km=pos, vel_km_s=vel, R_icrs_to_cam=rot,
        q_icrs_to_cam=quaternions_from_matrices(rot),
        hip=catalog.hip[sel], ra_deg=catalog.ra_deg[sel], dec_deg=catalog.dec_deg[sel],
        vmag=catalog.vmag[sel], bv=catalog.bv[sel], pmra_mas_yr=catalog.pmra_mas_yr[sel],
        pmdec_mas_yr=catalog.pmdec_mas_yr[sel], parallax_mas=catalog.parallax_mas[sel], x=x[shown], y=y[shown], visible=visible[shown],
        electrons=per_frame[shown].sum(axis=1), rate=rate_all[shown], channel_names=tuple(camera.channels),
        rate_per_channel=channel_rate[shown], electrons_per_channel=per_channel[shown],
        solar_system=solar_system_truth(solar, per_frame[n_stars:]) if solar is not None else None,
        limb=limb_truth(limb, shown) if limb is not None else None,
        airglow=airglow.truth(frame_pos, frame_rot, frame_vel) if airglow is not None else None,
        airglow_frames=airglow.frame_truth() if airglow is not None else None,
        limb_curve=limb_curve(camera, pos, rot, pole, t, vel),
        frame_limb_curves=frame_limb_curves(camera, frame_pos, frame_rot, pole, frame_middles, frame_vel),
        city_lights=earth_sources["city_lights"].truth() if "city_lights" in earth_sources else None,
        lightning=earth_sources["lightning"].truth() if "lightning" in earth_sources else None,
        occult_ptr=ptr_sel, occult_start=start_sel, occult_stop=stop_sel,
        signal=stack.astype(np.float32), attitude_description=observer.attitude.describe(),
        stats=timings | {"candidates": int(index.size), "stars": int(shown.size), "knots": int(t.size)}
        | (_limb_stats(limb) if limb is not None else {}),
        frame_start=np.array([w[0] for w in windows]), frame_stop=np.array([w[1] for w in windows]),
        electrons_per_frame=per_frame[shown], frames=frames, stack=spec.stack if spec.mode == "burst" else "single",
        sunlit_fraction=shadow_function(pos, sun_gcrs_km_splined(scenario.start + t * u.s), pole_gcrs=pole),
        sensor=sensor.finish() if sensor is not None else None,
    )


def _interleave_columns(a, b):
    """Columns a[:, 0], b[:, 0], a[:, 1], b[:, 1], ..., a[:, K-1] of a [N, K] and b [N, K-1]."""
    out = np.empty((a.shape[0], a.shape[1] + b.shape[1]), dtype=np.result_type(a, b))
    out[:, 0::2], out[:, 1::2] = a, b
    return out


def _limb_stats(limb) -> dict:
    """Knot counts of the limb stars' own grids (limb = "atmosphere")."""
    return {"limb_stars": int(limb["rows"].size), "limb_knots": int(limb["kt"].size),
            "limb_ranges": int(limb["range_row"].size), "limb_levels": int(limb["levels"]),
            "limb_capped_intervals": int(limb["capped"])}
