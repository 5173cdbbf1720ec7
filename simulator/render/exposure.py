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
import numpy.lib.recfunctions  # noqa: F401  (append_fields for the cosmic-ray table)
from astropy import units as u
from astropy.coordinates import GCRS, ITRS, CartesianRepresentation
from astropy.time import Time
from tqdm import tqdm

from ..attitude import InertialAttitude, attitude_from_wcs, quaternions_from_matrices
from ..camera.projection import Camera, pixel_to_camera_ray
from ..camera.star_kernel import max_angle_cos, max_chord_error, project_stars
from ..earth.ellipsoid import earth_pole_gcrs
from ..config import ExposureSpec
from ..errors import ScenarioError
from ..orbit.eclipse import check_in_shadow, shadow_function, sun_gcrs_km
from ..earth.occultation import unocculted_at_knots, visibility_intervals
from ..sky.apparent import C_KM_S, aberrate, natural_directions, observer_barycentric
from ..sky.catalog import load_catalog
from ..sky.photometry import channel_rates
from .trails import render_trails

MAX_KNOTS = 20001
CULL_MARGIN_RAD = np.radians(1.0)
# bytes held per star and knot while knots are refined: x, y, their mid-knot values and the merged copies
BYTES_PER_STAR_KNOT = 48
PIXEL_SCALE_WARN = 0.02  # warn when a WCS's pixel scale differs from the camera's by more than this
# limb = "atmosphere": the straight line toward a star whose bent ray just grazes the ground passes ~41 km
# below it (observer at 400 km; earth/atmosphere.py); hiding intervals use a little below that, and the
# atmosphere's transmission (0 for rays into the ground) does the rest
LIMB_FLOOR_GEOMETRIC_KM = -45.0
LIMB_OPTICS_BELOW_KM = 145.0  # straight-line tangent altitudes above this pass unrefracted (atmosphere.py)
LIMB_VISIBLE_TRANSMISSION = 0.01  # the truth's "visible" flag needs at least this much of the light
LIMB_WAVELENGTH_M = 550e-9  # refraction and extinction at V's wavelength (no reddening yet)
LIMB_KNOT_STEP_S = 1.0


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
    sensor: dict | None = None  # raw stack, frames, rgb, cosmic rays, hot pixels, defect mask (see _Sensor)
    solar_system: dict | None = None  # planets and the Moon in the frame (see _solar_system)
    limb: dict | None = None  # limb = "atmosphere": transmission and refraction per star and knot
    airglow: dict | None = None  # the layers and the image curve of each layer's peak
    limb_curve: tuple | None = None  # (x, y) of the WGS84 horizon in the image at mid-exposure


class _Observer:
    """Observer states and camera attitude at arbitrary exposure times (s from start)."""

    def __init__(self, scenario):
        self.scenario = scenario
        attitude = scenario.attitude
        if hasattr(attitude, "pointing"):  # a WCS spec is resolved against the orbit at DATE-OBS
            pointing = attitude.pointing
            t_obs = pointing.date_obs or scenario.start
            p, v = scenario.orbit.gcrs_states(Time([t_obs]))
            attitude = attitude_from_wcs(pointing, attitude.hold, p[0], v[0])
            ratio = pointing.pixel_scale_arcsec / scenario.camera.pixel_scale_arcsec
            if abs(ratio - 1.0) > PIXEL_SCALE_WARN:
                warnings.warn(f"attitude.wcs: the photo's pixel scale ({pointing.pixel_scale_arcsec:.3f}\"/px) differs "
                              f"from the camera's ({scenario.camera.pixel_scale_arcsec:.3f}\"/px) by "
                              f"{100 * (ratio - 1):+.1f}%; check camera.focal_length and camera.pixel_pitch",
                              stacklevel=2)
        self.attitude = attitude

    def states(self, t):
        times = self.scenario.start + np.asarray(t) * u.s
        pos, vel = self.scenario.orbit.gcrs_states(times)
        bary_pos, bary_vel = observer_barycentric(times, pos, vel)
        rot = self.attitude.matrices(pos, vel)
        return pos, vel, rot, bary_pos, bary_vel / C_KM_S


def _field_radius(camera: Camera) -> float:
    """Largest angle (rad) between the boresight and any point of the frame's border, with distortion."""
    w, h = camera.width - 1, camera.height - 1
    xs = np.concatenate([np.linspace(0, w, 33), np.linspace(0, w, 33), np.zeros(33), np.full(33, w)])
    ys = np.concatenate([np.zeros(33), np.full(33, h), np.linspace(0, h, 33), np.linspace(0, h, 33)])
    rays = pixel_to_camera_ray(camera, xs, ys)
    return float(np.max(np.arccos(np.clip(rays[:, 2], -1, 1))))


def _projection_args(camera: Camera):
    r_max = camera.max_valid_radius
    return (camera.fx, camera.fy, camera.cx, camera.cy, np.asarray(camera.dist_coeffs, dtype=np.float64),
            float(r_max**2) if np.isfinite(r_max) else 1e300)


def _interp_error(x, y, xm, ym, camera):
    """Largest distance (px) between mid-knot positions and the chord midpoints, inside the frame."""
    return float(max_chord_error(x, y, xm, ym, camera.width, camera.height))


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
    observer = _Observer(scenario)
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
    radius = min(_field_radius(camera) + step_angle + CULL_MARGIN_RAD, np.pi)
    keep = max_angle_cos(np.ascontiguousarray(directions), np.ascontiguousarray(boresights)) >= np.cos(radius)
    index = np.flatnonzero(keep)
    directions = np.ascontiguousarray(directions[index])
    timings["setup_s"] = _time.perf_counter() - clock

    # 3. knots: refine until linear interpolation meets the tolerance
    clock = _time.perf_counter()
    proj = _projection_args(camera)
    # limb = "atmosphere": a setting star's transmission changes within seconds (its tangent altitude drops
    # ~2.6 km/s); knots at most LIMB_KNOT_STEP_S apart keep its linear interpolation close
    step = LIMB_KNOT_STEP_S if scenario.earth.limb == "atmosphere" else 16.0
    n_knots = max(3, int(np.ceil(duration / step)) + 1)
    t = np.linspace(0.0, duration, n_knots)
    pos, vel, rot, bary, beta = observer.states(t)
    x, y = project_stars(directions, beta, rot, *proj)
    while True:
        tm = 0.5 * (t[:-1] + t[1:])
        pos_m, vel_m, rot_m, bary_m, beta_m = observer.states(tm)
        xm, ym = project_stars(directions, beta_m, rot_m, *proj)
        err = _interp_error(x, y, xm, ym, camera)
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
        x = np.concatenate([x, xm], axis=1)[:, order]
        y = np.concatenate([y, ym], axis=1)[:, order]
    timings["knots_s"] = _time.perf_counter() - clock
    timings["knot_interp_error_px"] = err

    # 4. occultation by the Earth (geocentric apparent directions: annual aberration only)
    clock = _time.perf_counter()
    earth_beta = beta_mid[0] - vel_mid[0] / C_KM_S
    geo_dirs = aberrate(directions, earth_beta[None, :])
    pole = earth_pole_gcrs(mid_time)
    atmosphere = scenario.earth.limb == "atmosphere"
    hiding_km = LIMB_FLOOR_GEOMETRIC_KM if atmosphere else scenario.earth.occultation_altitude_km
    iv_ptr, iv_start, iv_stop, _ = visibility_intervals(t, pos, vel, geo_dirs, pole, hiding_km)
    limb = None
    if atmosphere:  # refraction raises and flattens setting stars; extinction and dilution dim them
        limb = _limb_optics(t, pos, geo_dirs, directions, beta, rot, pole, camera)
        x[limb["rows"]] = limb["x"]
        y[limb["rows"]] = limb["y"]
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
    solar = _solar_system(scenario, t, pos, vel, rot, pole, radius)
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
    illumination = np.nan_to_num(camera.relative_illumination(x_r, y_r), nan=0.0) if vignetted else None
    if limb is not None:
        factor = np.ones(x_r.shape)
        factor[:n_stars] = limb["transmission"]
        illumination = factor if illumination is None else illumination * factor
    per_frame = np.zeros((rate_all.size, len(windows)))
    stack = None
    updates = runs = 0
    sensor = _Sensor(scenario, t, pos, len(windows)) if scenario.sensor is not None else None
    airglow = _Airglow(scenario, t, pos, rot, pole) if scenario.earth.airglow else None
    airglow_rate = airglow.rate if airglow is not None else None
    with tqdm(total=int(rate_all.size) * len(windows), desc="rendering trails", unit="star", delay=2.0,
              leave=False, disable=not show_progress) as bar:
        for f, (t0, t1) in enumerate(windows):
            ptr_f, start_f, stop_f = clip_intervals(iv_ptr_r, iv_start_r, iv_stop_r, t0, t1)
            image = None
            for weight, sigma_px in camera.psf_mixture():  # the closed form holds per Gaussian component
                trails = render_trails(shape, t, x_r, y_r, rate_all * weight, ptr_f, start_f, stop_f, sigma_px,
                                       scenario.render.psf_extent_sigma, channel_weights=weights,
                                       illumination=illumination, psf_field_growth=camera.psf_field_growth,
                                       field_centre=(camera.cx, camera.cy),
                                       field_radius=float(np.hypot(camera.cx, camera.cy)))
                per_frame[:, f] += trails.electrons
                updates += trails.pixel_updates
                runs += trails.runs
                image = trails.image if image is None else image + trails.image
            bar.update(int(rate_all.size))
            if airglow is not None:
                image = image + airglow_rate(f, t0, t1) * (t1 - t0)
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
    ptr_sel, start_sel, stop_sel = _subset_csr(iv_ptr, iv_start, iv_stop, shown)
    return ExposureResult(
        start=scenario.start, t=t, pos_km=pos, vel_km_s=vel, R_icrs_to_cam=rot,
        q_icrs_to_cam=quaternions_from_matrices(rot),
        hip=catalog.hip[sel], ra_deg=catalog.ra_deg[sel], dec_deg=catalog.dec_deg[sel],
        vmag=catalog.vmag[sel], bv=catalog.bv[sel], pmra_mas_yr=catalog.pmra_mas_yr[sel],
        pmdec_mas_yr=catalog.pmdec_mas_yr[sel], parallax_mas=catalog.parallax_mas[sel], x=x[shown], y=y[shown], visible=visible[shown],
        electrons=per_frame[shown].sum(axis=1), rate=rate_all[shown], channel_names=tuple(camera.channels),
        rate_per_channel=channel_rate[shown],
        solar_system=_solar_truth(solar, per_frame[n_stars:]) if solar is not None else None,
        limb=_limb_truth(limb, shown) if limb is not None else None,
        airglow=airglow.truth() if airglow is not None else None,
        limb_curve=_limb_curve(camera, pos, rot, pole, t),
        occult_ptr=ptr_sel, occult_start=start_sel, occult_stop=stop_sel,
        signal=stack.astype(np.float32), attitude_description=observer.attitude.describe(),
        stats=timings | {"candidates": int(index.size), "stars": int(shown.size), "knots": int(t.size)},
        frame_start=np.array([w[0] for w in windows]), frame_stop=np.array([w[1] for w in windows]),
        electrons_per_frame=per_frame[shown], frames=frames, stack=spec.stack if spec.mode == "burst" else "single",
        sunlit_fraction=shadow_function(pos, sun_gcrs_km(scenario.start + t * u.s), pole_gcrs=pole),
        sensor=sensor.finish() if sensor is not None else None,
    )


def _limb_curve(camera, pos, rot, pole, t):
    """The Earth's hard limb (rays grazing WGS84) in pixels at the middle knot; NaN where off the frame."""
    from ..camera.projection import project_camera_points
    from ..earth.limb import limb_directions

    k = t.size // 2
    d = limb_directions(pos[k], pole, 0.0, n=2048)
    x, y = project_camera_points(camera, d @ rot[k].T)
    off = ~((x >= -0.5) & (x <= camera.width - 0.5) & (y >= -0.5) & (y <= camera.height - 0.5))
    x, y = np.where(off, np.nan, x), np.where(off, np.nan, y)
    return x, y, float(t[k])


class _Airglow:
    """Airglow images (electrons/s per pixel and channel) for each frame.

    The layers are fixed to the Earth: in LVLH attitude they stand still in the image (the ISS's altitude
    changes move them by a few pixels over 15 minutes), so one image at mid-exposure serves every frame;
    in inertial hold the limb sweeps across the frame, and each frame uses the image at its middle (the
    smearing within a frame is not yet modelled).
    """

    def __init__(self, scenario, t, pos, rot, pole):
        self.camera = scenario.camera
        self.lvlh = not isinstance(scenario.attitude, InertialAttitude)
        self.t, self.pos, self.rot, self.pole = t, pos, rot, pole
        self.cached = None

    def _image(self, tq):
        from ..earth.airglow import airglow_image

        k = int(np.argmin(np.abs(self.t - tq)))
        # without a channel_response, airglow_image uses the camera's own spectral response (or throughput)
        img = airglow_image(self.camera, self.rot[k], self.pos[k], self.pole)
        return img[:, :, 0] if len(self.camera.channels) == 1 else img

    def rate(self, f, t0, t1):
        if self.lvlh:
            if self.cached is None:
                self.cached = self._image(0.5 * (self.t[0] + self.t[-1]))
            return self.cached
        return self._image(0.5 * (t0 + t1))

    def truth(self):
        from ..earth.airglow import DEFAULT_LAYERS, peak_tangent_altitude_curve

        k = self.t.size // 2
        out = {}
        for layer in DEFAULT_LAYERS:
            x, y = peak_tangent_altitude_curve(self.camera, self.rot[k], self.pos[k], self.pole,
                                               layer.peak_altitude_km)
            out[layer.name] = dict(peak_x=x, peak_y=y, peak_altitude_km=layer.peak_altitude_km,
                                   fwhm_km=layer.fwhm_km, zenith_rayleigh=layer.zenith_rayleigh)
        return out


def _limb_optics(t, pos, geo_dirs, directions, beta, rot, pole, camera):
    """Refracted pixel tracks and transmission of stars whose line of sight dips into the atmosphere.

    For each star and knot: the straight line's tangent altitude and the distance D to its tangent point,
    the bent ray that reaches the ISS (earth/atmosphere.py: ray_tangent_altitude), the star raised by the
    bending ε, and the transmission exp(-τ) × dilution at 550 nm. The raised direction's offset is added to
    the natural direction before the ISS's aberration. Returns rows (indices of affected stars), their
    new x, y [M, K], and the transmission [N, K] for all stars (1 above the atmosphere).
    """
    from ..camera.projection import project_directions_at_knots
    from ..earth.atmosphere import ray_tangent_altitude, refracted_direction, transmission
    from ..earth.ellipsoid import pole_frame
    from ..earth.occultation import tangent_altitudes

    rot_p = pole_frame(pole)
    h_g = tangent_altitudes(np.ascontiguousarray(pos @ rot_p.T), np.ascontiguousarray(geo_dirs @ rot_p.T),
                            LIMB_OPTICS_BELOW_KM / 2.0, LIMB_OPTICS_BELOW_KM)  # exact below ~200 km
    distance = -(geo_dirs @ pos.T)  # [N, K] km, observer to the straight line's tangent point
    trans = np.ones(h_g.shape)
    rows = np.flatnonzero((h_g < LIMB_OPTICS_BELOW_KM).any(axis=1))
    h_ray = np.full((rows.size, t.size), np.nan)
    eps = np.zeros((rows.size, t.size))
    if rows.size:
        hg, dist = h_g[rows], distance[rows]
        near = (hg < LIMB_OPTICS_BELOW_KM) & (dist > 0)
        h_ray[~near] = hg[~near]
        hr, ep = ray_tangent_altitude(hg[near], dist[near], LIMB_WAVELENGTH_M)
        h_ray[near], eps[near] = hr, ep
        tr = np.ones(hg.shape)
        tr[near] = np.nan_to_num(transmission(hr, LIMB_WAVELENGTH_M, distance_km=dist[near]), nan=0.0)
        trans[rows] = tr
        geo = geo_dirs[rows][:, None, :]
        raised = refracted_direction(np.broadcast_to(geo, (rows.size, t.size, 3)), pos[None], np.nan_to_num(eps))
        natural = directions[rows][:, None, :] + (raised - geo)
        apparent = aberrate(natural / np.linalg.norm(natural, axis=-1, keepdims=True), beta[None])
        xr, yr = project_directions_at_knots(camera, apparent, rot)
    else:
        xr = yr = np.zeros((0, t.size))
    return dict(rows=rows, x=xr, y=yr, transmission=trans, h_ray=h_ray,
                refraction_arcsec=np.degrees(np.nan_to_num(eps)) * 3600.0)


def _solar_system(scenario, t, pos, vel, rot, pole, field_radius):
    """Planets and Moon-disk samples near the field: pixel tracks, channel rates and visible intervals."""
    from ..camera.projection import project_directions_at_knots
    from ..earth.occultation import moving_visibility_intervals
    from ..sky.solar_system import moon_disk_samples, moon_samples_for_camera, solar_system_sources

    sky, camera = scenario.sky, scenario.camera
    if not (sky.planets or sky.moon):
        return None
    times = scenario.start + t * u.s
    boresight = rot[:, 2, :]
    near_cos = np.cos(min(field_radius + np.radians(1.0), np.pi))

    def near(directions):  # [M, K, 3] -> bool [M]: within the field (plus a margin) at some knot
        return (np.einsum("mkj,kj->mk", directions, boresight) >= near_cos).any(axis=1)

    rows = []
    planets = moon = None
    if sky.planets:
        ss = solar_system_sources(times, pos, vel, mag_limit=sky.mag_limit)
        keep = near(ss.directions) if len(ss) else np.zeros(0, bool)
        if keep.any():
            planets = ss.subset(np.flatnonzero(keep))
            vmag = -2.5 * np.log10(np.mean(10.0 ** (-0.4 * planets.vmag), axis=1))
            rows.append((planets.directions, planets.ray_directions, channel_rates(vmag, planets.bv, camera)))
    if sky.moon:
        n = moon_samples_for_camera(camera.pixel_scale_arcsec, camera.psf_sigma_px)
        disk = moon_disk_samples(times, pos, vel, n_samples=4)  # a cheap look: is it near the field?
        if near(disk.directions).any():
            disk = moon_disk_samples(times, pos, vel, n_samples=n)
            lit = disk.flux.mean(axis=1) > 0
            if lit.any():
                moon = disk
                vmag = -2.5 * np.log10(disk.flux[lit].mean(axis=1))
                rows.append((disk.directions[lit], disk.ray_directions[lit],
                             channel_rates(vmag, np.full(vmag.size, disk.bv), camera)))
                moon_lit = lit
    if not rows:
        return None
    directions = np.concatenate([r[0] for r in rows])
    rays = np.concatenate([r[1] for r in rows])
    x, y = project_directions_at_knots(camera, directions, rot)
    ptr, start, stop = moving_visibility_intervals(t, pos, rays, pole, scenario.earth.occultation_altitude_km)
    out = dict(x=x, y=y, channel_rate=np.concatenate([r[2] for r in rows]), ptr=ptr, start=start, stop=stop,
               planets=planets, moon=moon, n_planets=len(planets) if planets is not None else 0,
               camera=camera, t=t, rot=rot)
    if moon is not None:
        out["moon_lit"] = moon_lit
        cx, cy = project_directions_at_knots(camera, moon.centre[None], rot)
        out["moon_x"], out["moon_y"] = cx[0], cy[0]
    return out


def _limb_truth(limb, shown):
    """Per output star and knot: transmission and refraction (zeros above the atmosphere)."""
    refraction = np.zeros(limb["transmission"].shape)
    refraction[limb["rows"]] = limb["refraction_arcsec"]
    return dict(transmission=limb["transmission"][shown], refraction_arcsec=refraction[shown])


def _solar_truth(solar, per_frame):
    """Ground truth of the planets and the Moon (electrons from the rendered rows)."""
    truth = {}
    n_p = solar["n_planets"]
    cam = solar["camera"]
    if solar["planets"] is not None:
        p = solar["planets"]
        truth["planets"] = dict(names=np.array(p.names), hip=p.hip, x=solar["x"][:n_p], y=solar["y"][:n_p],
                                vmag=p.vmag, bv=p.bv, distance_km=p.distance_km, phase_angle_deg=p.phase_angle_deg,
                                electrons=per_frame[:n_p].sum(axis=1))
    if solar["moon"] is not None:
        m = solar["moon"]
        truth["moon"] = dict(x=solar["moon_x"], y=solar["moon_y"],
                             radius_px=np.tan(m.angular_radius_rad) * cam.fx, vmag=m.vmag_total,
                             phase_angle_deg=m.phase_angle_deg, illuminated_fraction=m.illuminated_fraction,
                             distance_km=m.distance_km, electrons=float(per_frame[n_p:].sum()))
    return truth


class _Sensor:
    """Runs every frame through the sensor model and stacks the raw frames like the signal."""

    def __init__(self, scenario, t, pos_km, n_frames):
        from ..camera.sensor import default_rngs, fixed_pattern
        from ..random_streams import subsystem_seed

        cam = scenario.camera
        self.spec = scenario.sensor
        self.stack_mode = (scenario.exposure.stack if scenario.exposure and scenario.exposure.mode == "burst"
                           else "single")
        self.pitch = cam.pixel_pitch_m
        self.rngs = default_rngs(subsystem_seed(scenario.seed, "sensor"))
        self.fixed = fixed_pattern((cam.height, cam.width), self.spec, self.rngs)
        self.t = t
        itrs = GCRS(CartesianRepresentation(pos_km.T * u.km), obstime=scenario.start + t * u.s).transform_to(
            ITRS(obstime=scenario.start + t * u.s))
        geo = itrs.earth_location.geodetic
        self.lat, self.lon = geo.lat.to_value(u.deg), geo.lon.to_value(u.deg)
        self.keep = scenario.exposure is not None and scenario.exposure.save_frames
        self.raw_frames = np.empty((n_frames, cam.height, cam.width), np.uint16) if self.keep else None
        self.raw = None
        self.mask = np.zeros((cam.height, cam.width), np.uint8)
        self.cosmic = []
        self.hot = None
        self.saa = np.zeros(n_frames)
        self.n = 0

    def expose(self, f, image, t0, t1):
        from ..camera.cosmic_rays import saa_weight
        from ..camera.sensor import apply_sensor

        inside = (self.t >= t0) & (self.t <= t1)
        times = np.concatenate([[t0], self.t[inside], [t1]])
        lat = np.interp(times, self.t, self.lat)
        lon = np.degrees(np.unwrap(np.radians(self.lon)))
        lon = np.interp(times, self.t, lon)
        self.saa[f] = saa_weight(times, lat, lon)
        res = apply_sensor(image, t1 - t0, self.spec, self.rngs, self.pitch, saa_weight=self.saa[f],
                           fixed=self.fixed)
        raw = res.raw_dn
        if self.raw_frames is not None:
            self.raw_frames[f] = raw
        if self.raw is None:
            self.raw = raw.astype(np.float64) if self.stack_mode in ("mean", "sum") else raw.copy()
        elif self.stack_mode == "lighten":
            np.maximum(self.raw, raw, out=self.raw)
        else:
            self.raw += raw
        self.mask |= res.mask_bits
        table = np.lib.recfunctions.append_fields(res.cosmic_rays, "frame", np.full(res.cosmic_rays.size, f),
                                                  usemask=False) if res.cosmic_rays.size else None
        if table is not None:
            self.cosmic.append(table)
        self.hot = res.hot_pixels
        self.white = res.white_level_dn
        self.n += 1

    def finish(self) -> dict:
        from ..camera.demosaic import demosaic_bilinear

        raw = self.raw
        if self.stack_mode == "mean":
            raw = (raw / self.n).astype(np.float32)
        elif self.stack_mode == "sum":
            raw = raw.astype(np.uint32)
        rgb = (demosaic_bilinear(np.asarray(raw, dtype=np.float64), self.spec.bayer, self.spec.black_level_dn)
               if self.spec.bayer else None)
        cosmic = np.concatenate(self.cosmic) if self.cosmic else None
        return dict(raw=raw, raw_frames=self.raw_frames, rgb=rgb, cosmic_rays=cosmic, hot_pixels=self.hot,
                    defect_mask=self.mask, spec=self.spec, white_level_dn=self.white, saa_weight=self.saa,
                    stack=self.stack_mode)


def clip_intervals(ptr, start, stop, t0, t1):
    """Intersect every star's visible intervals (CSR) with the window [t0, t1]; returns a new CSR."""
    a = np.maximum(start, t0)
    b = np.minimum(stop, t1)
    keep = b > a
    star = np.repeat(np.arange(ptr.size - 1), np.diff(ptr))
    counts = np.bincount(star[keep], minlength=ptr.size - 1)
    new_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return new_ptr, a[keep], b[keep]


def _subset_csr(ptr, start, stop, rows):
    counts = np.diff(ptr)[rows]
    new_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    idx = np.concatenate([np.arange(ptr[r], ptr[r + 1]) for r in rows]) if rows.size else np.zeros(0, np.int64)
    return new_ptr, start[idx.astype(np.int64)], stop[idx.astype(np.int64)]
