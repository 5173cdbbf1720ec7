"""City lights as moving extended sources: lit ground cells streaking through the image as the Earth turns.

Each lit cell of the night-lights map (earth/city_lights.py) is a patch of the WGS84 ground (height 0)
that the trail kernel draws like a star whose direction changes from knot to knot:

* **Track**: the cell centre's ITRS position turned into GCRS at each knot (earth/rotation.py, IAU 2006/2000A
  with the bundled IERS UT1 and polar motion), seen from the ISS (GCRS position) and aberrated by the ISS's
  GCRS velocity v/c (~5"; the source and the observer share the Earth's orbital motion, so there is no
  annual aberration; the 3-6 ms light time moves the ground point by < 2 m and is neglected), then
  projected with the camera attitude. Knots are the exposure's, halved until linear interpolation of every
  visible cell's track is within ``render.knot_tolerance`` (cells near the ISS move fast and curve).
* **When**: only while the Sun's centre is more than 0.833 deg below the cell's geodetic horizon (sunset,
  ``SUNSET_ELEVATION_DEG``) and the ISS is above it (outward ellipsoid normal . (ISS - cell) > 0, which for
  a convex ellipsoid is exactly "the line of sight does not cross the Earth"). Crossing times between knots
  come from linear interpolation of the sines of both elevations.
* **How bright**: the cell is a Lambertian emitter of in-band radiance L (VIIRS DNB, top of atmosphere at
  nadir): rate_c = L x A_cell x cos(emission) x A_aperture / d^2 x K_c(m - 1), with K_c the camera's
  electrons per joule of in-band lamp light (``[earth] city_lights_lamp``: CIE high-pressure sodium HP1 or
  white LED-B3) including the extra slant
  extinction exp(-tau(lambda) (m - 1)) for the Kasten & Young airmass m at the ISS's elevation seen from
  the cell. The kernel takes one channel split per source: each cell's track is cut into pieces (below)
  also where its colour (each channel's share of K) moves by more than ``COLOUR_TOLERANCE`` from the
  piece's first visible knot, and each piece takes the mean share over its visible knots weighted by
  their brightness, so each channel's electrons are the time integral of its own rate (the slant path
  reddens a cell near the ISS's horizon: a channel's share moves by up to 0.11 over a Pettit track, and one
  split per cell left its channels up to 1 % of its light off); the all-channel rate varies per knot through
  the kernel's illumination factor, with the lens's vignetting.
* **Size**: a cell is ~19.5 km x 19.5 km cos(lat) on the ground, i.e. tens of pixels at a few hundred km
  with a wide lens, so each is drawn as a Gaussian of variance (side^2 / 12) x (1 + cos(emission)) / 2 /
  d^2 (the box's variance, isotropic, foreshortened by the mean of 1 and cos(emission)) added to the
  lens PSF. The width changes along a track; the kernel takes one width per call, so each cell's track
  is cut at knots into pieces whose width falls in the same bin (bins 25 % apart) and each bin is one
  kernel call; flux is kept exactly (the pieces' intervals tile the visible time).
"""
from __future__ import annotations

import math

import numpy as np
from astropy import units as u
from numba import njit, prange

from ..earth.city_lights import SUNSET_ELEVATION_DEG, electrons_per_joule, lit_points, relative_airmass
from ..earth.clouds import CloudField
from ..earth.occultation import _moving_intervals
from ..earth.rotation import (geodetic_normal_itrs, geodetic_to_itrs_km, itrs_to_gcrs_matrices,
                              itrs_to_gcrs_matrices_splined)
from ..orbit.eclipse import sun_gcrs_km_splined
from ..random_streams import subsystem_seed
from ..sky.apparent import C_KM_S
from .intervals import clip_intervals, csr_entries, intersect_intervals, subset_csr
from .limb_rays import aberrate_rotate, camera_array, project_direction
from .observer import Observer
from .coarse_grid import add_upsampled, block_size, coarse_optical_sigma, coarse_shape, to_coarse
from .trails import PIXEL_BOX_VARIANCE, render_trails

SIGMA_BIN_RATIO = 1.25  # neighbouring width bins differ by this factor
# a piece of a cell's track ends where a channel's share of its light has moved by more than this since the
# piece's first visible knot: the colour along its streak is then within this of the piece's (its per-channel
# electrons are right whatever the tolerance: the piece's split is its brightness-weighted mean share). 0.005
# cost the Pettit scenario 1.6x the pieces (7,358 against 4,690 for the widths alone; 0.02: 5,176) and its
# city lights 1.35x the time
COLOUR_TOLERANCE = 0.02
COARSE_STEP_S = 10.0  # candidate cells are found on a coarse time grid...
CULL_MARGIN_RAD = np.radians(3.0)  # ...with this margin below the ISS horizon
CULL_MARGIN_FRAME = 0.25  # ...and this fraction of the frame around it (pinhole projection, no distortion)
MAX_KNOTS = 8193
REFERENCE_DISTANCE_KM = 1000.0
# the tracks' knots are refined until linear interpolation is within render.knot_tolerance or this fraction
# of the cell's image width (PSF included), whichever is larger: the truth gives the achieved error
TRACK_TOLERANCE_OF_WIDTH = 0.02
# ...and until the brightness interpolated linearly between knots is within this fraction of its peak
RATE_TOLERANCE = 1e-4
RATE_CHECK_ELEVATION_DEG = 2.0  # the rate is given at this distance; illumination scales it per knot


def cloud_transmission(scenario, lat_deg, lon_deg) -> np.ndarray:
    """Each cell's cloud transmission (1: clear) for the scenario's [earth] cloud_cover, cloud_transmission and
    cloud_scale, on its random stream "clouds" (earth/clouds.py); all 1 without clouds."""
    earth = scenario.earth
    if earth.cloud_cover == 0.0:
        return np.ones(np.shape(lat_deg))
    rng = np.random.default_rng(subsystem_seed(scenario.seed, "clouds"))
    field = CloudField(earth.cloud_cover, earth.cloud_transmission, earth.cloud_scale_km, rng)
    return field.transmission_at(lat_deg, lon_deg)


class CityLightsSource:
    """Lit ground cells rendered through the trail kernel; see the module docstring.

    t, pos, vel, rot: the exposure's knots (s), ISS GCRS position (km) and velocity (km/s), camera attitude.
    """

    def __init__(self, scenario, t, pos, vel, rot, pole, show_progress=False):
        self.scenario = scenario
        self.camera = camera = scenario.camera
        self.start = scenario.start
        self.observer = Observer(scenario)
        self.min_radiance = scenario.earth.city_lights_min_radiance
        self.lamp = scenario.earth.city_lights_lamp
        lat, lon, radiance, area_m2 = self._candidates(t, pos, rot)
        # clouds ([earth] cloud_cover, earth/clouds.py) dim the cells under them; the truth keeps the map's radiance
        cloud = cloud_transmission(scenario, lat, lon)
        self.t, self.cells = self._tracks(np.asarray(t, dtype=np.float64), lat, lon, radiance * cloud, area_m2)
        self.cells.update(radiance=radiance, cloud_transmission=cloud)
        self._pieces()
        self.electrons = np.zeros((self.cells["lat"].size, len(camera.channels)))

    # --- which cells can be seen at all ---------------------------------------------------------------
    def _candidates(self, t, pos, rot):
        """Lit cells that are above the ISS horizon and in (or near) the frame at some coarse time."""
        camera = self.camera
        duration = float(t[-1] - t[0])
        tc = np.linspace(t[0], t[-1], max(2, int(np.ceil(duration / COARSE_STEP_S)) + 1))
        pos_c, _, rot_c, _, _ = self.observer.states(tc)
        m_c = itrs_to_gcrs_matrices(self.start + tc * u.s)
        lat, lon, radiance, area = lit_points(self.min_radiance)
        p_itrs = geodetic_to_itrs_km(lat, lon)
        n_itrs = geodetic_normal_itrs(lat, lon)
        margin = CULL_MARGIN_FRAME * max(camera.width, camera.height)
        keep = np.zeros(lat.size, bool)
        for k in range(tc.size):
            iss_itrs = m_c[k].T @ pos_c[k]
            d = iss_itrs[None, :] - p_itrs  # cell -> ISS, ITRS axes
            dist = np.linalg.norm(d, axis=1)
            near = np.flatnonzero(np.einsum("ij,ij->i", n_itrs, d) > -np.sin(CULL_MARGIN_RAD) * dist)
            cam = (-d[near] / dist[near, None]) @ (rot_c[k] @ m_c[k]).T  # camera-frame directions
            ahead = cam[:, 2] > 1e-6
            x = np.where(ahead, camera.cx + camera.fx * cam[:, 0] / np.where(ahead, cam[:, 2], 1.0), np.nan)
            y = np.where(ahead, camera.cy + camera.fy * cam[:, 1] / np.where(ahead, cam[:, 2], 1.0), np.nan)
            keep[near] |= self._in_frame(x, y, margin)
        return lat[keep], lon[keep], radiance[keep], area[keep]

    def _geometry(self, t, lat, lon):
        """Per cell and knot: pixel track, distance, sines of the ISS's and the Sun's elevations at the cell."""
        pos, vel, rot, _, _ = self.observer.states(t)
        times = self.start + t * u.s
        m = itrs_to_gcrs_matrices_splined(times)
        sun = sun_gcrs_km_splined(times)
        out = {key: np.empty((lat.size, t.size)) for key in ("x", "y", "dist", "sin_iss", "sin_sun")}
        c = np.ascontiguousarray
        _cell_geometry(c(m, dtype=np.float64), c(pos, dtype=np.float64), c(sun, dtype=np.float64),
                       c(vel / C_KM_S, dtype=np.float64), c(rot, dtype=np.float64),
                       c(geodetic_to_itrs_km(lat, lon), dtype=np.float64),
                       c(geodetic_normal_itrs(lat, lon), dtype=np.float64), camera_array(self.camera),
                       out["x"], out["y"], out["dist"], out["sin_iss"], out["sin_sun"])
        return out

    def _tracks(self, t, lat, lon, radiance, area_m2):
        camera = self.camera
        tol = self.scenario.render.knot_tolerance_px
        g = self._geometry(t, lat, lon)
        self.interp_error_px = self.rate_interp_error = 0.0
        self._k0 = electrons_per_joule(camera, self.lamp, 0.0)
        self._airmass_table = _airmass_table(camera, self.lamp)  # (once: each is a spectral integral per node)
        while lat.size:
            tm = 0.5 * (t[:-1] + t[1:])
            gm = self._geometry(tm, lat, lon)
            inside = self._in_frame(gm["x"], gm["y"], margin=50.0) & (gm["sin_iss"] > 0)
            err = np.hypot(gm["x"] - 0.5 * (g["x"][:, :-1] + g["x"][:, 1:]),
                           gm["y"] - 0.5 * (g["y"][:, :-1] + g["y"][:, 1:]))
            err = np.where(inside, np.nan_to_num(err, nan=np.inf), 0.0)
            # a cell's image is a Gaussian tens of pixels wide: its track needs to be good to a fraction of that
            width = np.hypot(self._sigma_cell_px(lat, area_m2, gm), camera.psf_sigma_px)
            allowed = np.maximum(tol, TRACK_TOLERANCE_OF_WIDTH * width)
            self.interp_error_px = float(np.max(err, initial=0.0))
            # the kernel interpolates the brightness (distance, emission angle, extinction) linearly too
            rate, rate_m = self._relative_rate(g), self._relative_rate(gm)
            peak = np.max(rate, axis=1, keepdims=True)
            # (chords lower than RATE_CHECK_ELEVATION excepted: at airmass > 20 the light is dimmed by > 95 %
            # and changes steeply with the elevation; those would cost thousands of knots for nothing visible)
            low = np.sin(np.radians(RATE_CHECK_ELEVATION_DEG))
            smooth = inside & (g["sin_iss"][:, :-1] > low) & (g["sin_iss"][:, 1:] > low)
            rate_err = np.where(smooth, np.abs(rate_m - 0.5 * (rate[:, :-1] + rate[:, 1:])), 0.0)
            self.rate_interp_error = float(np.max(rate_err / np.where(peak > 0, peak, 1.0), initial=0.0))
            if (np.all(err <= allowed) and self.rate_interp_error <= RATE_TOLERANCE) or 2 * t.size - 1 > MAX_KNOTS:
                break
            order = np.argsort(np.concatenate([t, tm]), kind="stable")
            t = np.concatenate([t, tm])[order]
            g = {key: np.concatenate([g[key], gm[key]], axis=1)[:, order] for key in g}
        self.knot_count = t.size
        threshold = np.sin(np.radians(SUNSET_ELEVATION_DEG))
        night = g["sin_sun"] < threshold
        up = g["sin_iss"] > 0
        # intervals where both hold: the smaller of the two margins, interpolated linearly between knots
        margin = np.minimum(threshold - g["sin_sun"], g["sin_iss"])
        ptr, start, stop = _moving_intervals(t, np.ascontiguousarray(margin), 0.0)
        visible = night & up & self._in_frame(g["x"], g["y"])
        # emission angle, distance, airmass, transmission and the image width of each cell at each knot
        cos_e = np.clip(g["sin_iss"], 0.0, 1.0)
        elevation = np.degrees(np.arcsin(np.clip(g["sin_iss"], -1.0, 1.0)))
        excess = relative_airmass(elevation) - 1.0
        k_all = _electrons_per_joule_at(self._airmass_table, excess)  # [M, K, C]
        k0 = self._k0  # [C]
        transmission = k_all.sum(axis=-1) / k0.sum()
        sigma_cell_px = self._sigma_cell_px(lat, area_m2, g)
        # rate at the reference distance and normal emission, per channel, without the slant extinction
        w_per_rad = radiance * 1e-5  # nW cm^-2 sr^-1 -> W m^-2 sr^-1
        solid = camera.aperture_area_m2 / (REFERENCE_DISTANCE_KM * 1e3) ** 2
        rate_ref = (w_per_rad * area_m2 * solid)[:, None] * k0[None, :]  # [M, C] e-/s
        vignetting = np.nan_to_num(camera.relative_illumination(g["x"], g["y"]), nan=0.0, copy=False)
        illumination = cos_e * (REFERENCE_DISTANCE_KM / g["dist"]) ** 2 * transmission * vignetting
        # each channel's share of the light at each knot (the slant path reddens it): the pieces' colours
        total = k_all.sum(axis=-1, keepdims=True)
        share = k_all / np.where(total > 0, total, 1.0)
        cells = dict(lat=lat, lon=lon, radiance=radiance, area_m2=area_m2, x=g["x"], y=g["y"], dist=g["dist"],
                     night=night, up=up, visible=visible, ptr=ptr, start=start, stop=stop,
                     elevation=elevation, transmission=transmission, sigma_cell_px=sigma_cell_px,
                     rate=rate_ref.sum(axis=1), share=share, illumination=illumination,
                     sun_elevation=np.degrees(np.arcsin(np.clip(g["sin_sun"], -1.0, 1.0))))
        return t, cells

    def _relative_rate(self, g):
        """cos(emission) x (d_ref / d)^2 x slant transmission at each knot (the brightness's time dependence)."""
        cos_e = np.clip(g["sin_iss"], 0.0, 1.0)
        excess = relative_airmass(np.degrees(np.arcsin(np.clip(g["sin_iss"], -1.0, 1.0)))) - 1.0
        transmission = _electrons_per_joule_at(self._airmass_table, excess).sum(axis=-1) / self._k0.sum()
        return cos_e * (REFERENCE_DISTANCE_KM / g["dist"]) ** 2 * transmission

    def _sigma_cell_px(self, lat, area_m2, g):
        """Gaussian width (px) of each cell's image at each knot: its box variance side^2/12, foreshortened."""
        cos_e = np.clip(g["sin_iss"], 0.0, 1.0)
        variance_rad2 = (area_m2[:, None] / 12.0) * 0.5 * (1.0 + cos_e) / (g["dist"] * 1e3) ** 2
        return np.sqrt(variance_rad2) * self.camera.fx

    def _in_frame(self, x, y, margin=0.0):
        cam = self.camera
        return ((x >= -0.5 - margin) & (x <= cam.width - 0.5 + margin)
                & (y >= -0.5 - margin) & (y <= cam.height - 0.5 + margin))

    # --- pieces of constant width ---------------------------------------------------------------------
    def _pieces(self):
        """Cut each cell's visible time into pieces whose chord widths share a bin and whose colour stays within
        COLOUR_TOLERANCE of the piece's first visible knot (rows for the kernel); each piece's channel split is
        its visible knots' share weighted by their brightness (trapezoid in time)."""
        c, t = self.cells, self.t
        sig = c["sigma_cell_px"]
        m_n = sig.shape[0]
        if m_n == 0 or t.size < 2:
            self.piece_cell = np.zeros(0, np.int64)
            self.piece_bin = np.zeros(0, np.int64)
            self.piece_ptr, self.piece_start, self.piece_stop = np.zeros(1, np.int64), np.zeros(0), np.zeros(0)
            self.bin_sigma = np.zeros(0)
            self.piece_split = np.zeros((0, len(self.camera.channels)))
            return
        chord = np.sqrt(np.maximum(sig[:, :-1] * sig[:, 1:], 1e-12))  # geometric mean per chord
        base = max(float(np.nanmin(chord)), 1e-3)
        bins = np.floor(np.log(chord / base) / np.log(SIGMA_BIN_RATIO)).astype(np.int64)
        self.bin_sigma = base * SIGMA_BIN_RATIO ** (np.arange(bins.max() + 1) + 0.5)
        share = np.ascontiguousarray(c["share"])
        starts = _piece_starts(bins, share, c["visible"], COLOUR_TOLERANCE)
        cell_ids, lo = np.nonzero(starts)  # each piece: its cell and first chord (row-major: in order)
        hi = np.append(lo[1:], 0)
        hi = np.where(np.append(cell_ids[1:] == cell_ids[:-1], False), hi, t.size - 1)  # its last knot
        bin_ids = bins[cell_ids, lo]
        seg_start, seg_stop = t[lo], t[hi]
        self.piece_split = _piece_splits(cell_ids, lo, hi, t, share,
                                         np.ascontiguousarray(c["illumination"] * c["visible"]))
        cell_ids = cell_ids.astype(np.int64)
        seg_ptr = np.arange(cell_ids.size + 1, dtype=np.int64)
        # the visible intervals of each segment's cell, intersected with the segment's time span
        counts = np.diff(c["ptr"])[cell_ids]
        vptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        idx = csr_entries(c["ptr"], cell_ids)
        ptr, start, stop = intersect_intervals(vptr, c["start"][idx], c["stop"][idx], seg_ptr,
                                               np.asarray(seg_start), np.asarray(seg_stop))
        self.piece_cell, self.piece_bin = cell_ids, np.asarray(bin_ids, np.int64)
        self.piece_ptr, self.piece_start, self.piece_stop = ptr, start, stop

    # --- rendering ---------------------------------------------------------------------------------------
    def add_electrons(self, image, f, t0, t1):
        """Add the electrons the city lights deposit during frame f, [t0, t1] (s), to image [H, W, C] (float64,
        C-contiguous, in place).

        Each (width bin, PSF component) is one trail-kernel call; narrow ones straight into the image, wide
        ones on a grid of s x s blocks (render/coarse_grid.py), upsampled once per block size.
        """
        cam, c = self.camera, self.cells
        n_ch = len(cam.channels)
        shape = (cam.height, cam.width)
        ptr, start, stop = clip_intervals(self.piece_ptr, self.piece_start, self.piece_stop, t0, t1)
        extent = self.scenario.render.psf_extent_sigma
        coarse = {1: image}  # block size -> image of blocks
        for b, sigma_cell in enumerate(self.bin_sigma):
            rows = np.flatnonzero((self.piece_bin == b) & (np.diff(ptr) > 0))
            if rows.size == 0:
                continue
            cells = self.piece_cell[rows]
            sub_ptr, sub_start, sub_stop = subset_csr(ptr, start, stop, rows)
            for weight, sigma_psf in cam.psf_mixture():
                variance = sigma_psf**2 + sigma_cell**2 + PIXEL_BOX_VARIANCE
                s = block_size(variance)
                target = coarse.setdefault(s, np.zeros(coarse_shape(shape, s) + (n_ch,)))
                res = render_trails(target.shape[:2], self.t, to_coarse(c["x"][cells], s), to_coarse(c["y"][cells], s),
                                    c["rate"][cells] * weight, sub_ptr, sub_start, sub_stop,
                                    coarse_optical_sigma(variance, s), extent, channel_weights=self.piece_split[rows],
                                    illumination=c["illumination"][cells], out=target)
                np.add.at(self.electrons, cells, res.electrons[:, None] * self.piece_split[rows])
        for s, blocks in coarse.items():
            if s > 1:
                add_upsampled(image, blocks, s)
        return image

    def frame_electrons(self, f, t0, t1):
        """The electrons of frame f alone: [H, W] or [H, W, C] (add_electrons into a new image)."""
        cam = self.camera
        image = self.add_electrons(np.zeros((cam.height, cam.width, len(cam.channels))), f, t0, t1)
        return image if image.shape[2] > 1 else image[:, :, 0]

    def truth(self) -> dict:
        """/truth/city_lights: the cells visible at some knot, with their tracks and electrons."""
        c = self.cells
        rows = np.flatnonzero(c["visible"].any(axis=1) | (self.electrons.sum(axis=1) > 0))
        ptr, start, stop = subset_csr(c["ptr"], c["start"], c["stop"], rows)
        channels = ",".join(self.camera.channels)
        return {
            "attrs": dict(description="lit ground cells of the night-lights map (catalogs/city_lights.md) seen "
                                      "during the exposure; tracks of the cell centres at the city-light knots t",
                          lamp_spectrum=self.lamp, min_radiance_nW_cm2_sr=self.min_radiance,
                          sunset_elevation_deg=SUNSET_ELEVATION_DEG, knot_interp_error_px=self.interp_error_px,
                          rate_interp_error=self.rate_interp_error,
                          cloud_cover=self.scenario.earth.cloud_cover,
                          cloud_transmission=self.scenario.earth.cloud_transmission,
                          cloud_scale_km=self.scenario.earth.cloud_scale_km,
                          channels=channels),
            "t": (self.t, "s", "city-light knot times from exposure start"),
            "lat_deg": (c["lat"][rows], "deg", "WGS84 geodetic latitude of the cell centre (height 0)"),
            "lon_deg": (c["lon"][rows], "deg", "longitude of the cell centre, east positive"),
            "radiance": (c["radiance"][rows], "nW cm-2 sr-1", "in-band (VIIRS DNB) radiance of the cell"),
            "cloud_transmission": (c["cloud_transmission"][rows], "1",
                                   "fraction of the cell's light that passes the clouds over it (1: clear)"),
            "cell_area_km2": (c["area_m2"][rows] * 1e-6, "km2", "area of the cell on the mean sphere"),
            "x": (c["x"][rows], "pixel", "apparent column of the cell centre at each knot"),
            "y": (c["y"][rows], "pixel", "apparent row of the cell centre at each knot"),
            "distance_km": (c["dist"][rows], "km", "distance from the ISS at each knot"),
            "iss_elevation_deg": (c["elevation"][rows], "deg", "elevation of the ISS above the cell's geodetic horizon"),
            "sun_elevation_deg": (c["sun_elevation"][rows], "deg", "elevation of the Sun's centre at the cell"),
            "night": (c["night"][rows], "1", "Sun more than 0.833 deg below the cell's horizon"),
            "above_horizon": (c["up"][rows], "1", "ISS above the cell's horizon"),
            "visible": (c["visible"][rows], "1", "night, above the ISS horizon and inside the frame"),
            "transmission": (c["transmission"][rows], "1",
                             "slant-path transmission relative to the nadir path (all channels)"),
            "sigma_px": (c["sigma_cell_px"][rows], "pixel", "Gaussian width of the cell's image, before the PSF"),
            "visible_ptr": (ptr, "1", "cell j is drawn during visible_start/stop[ptr[j]:ptr[j+1]]"),
            "visible_start": (start, "s", "start of a night-side, above-horizon interval"),
            "visible_stop": (stop, "s", "end of a night-side, above-horizon interval"),
            "electrons": (self.electrons[rows].sum(axis=1), "electron", "electrons deposited in the frame"),
            "electrons_per_channel": (self.electrons[rows], "electron", f"per channel ({channels})"),
        }



@njit(parallel=True, cache=True)
def _cell_geometry(m, pos, sun, beta, rot, p_itrs, n_itrs, cam, x, y, dist, sin_iss, sin_sun):
    """Cells [M] (ITRS position p_itrs and outward normal n_itrs, km) at knots [K] (ITRS -> GCRS matrices m,
    ISS GCRS position pos, Sun GCRS position sun, km; ISS velocity beta = v/c; R_icrs_to_cam rot): fills
    x, y (px; NaN off the projection), dist (km, cell to ISS), sin_iss and sin_sun (sines of the ISS's and the
    Sun's elevations above the cell's horizon) [M, K]. The direction from the ISS to the cell is aberrated by
    beta (sky.apparent.aberrate) and projected as camera.projection.project_camera_points (cam:
    limb_rays.camera_array)."""
    for i in prange(p_itrs.shape[0]):
        for k in range(m.shape[0]):
            mk = m[k]
            px = mk[0, 0] * p_itrs[i, 0] + mk[0, 1] * p_itrs[i, 1] + mk[0, 2] * p_itrs[i, 2]
            py = mk[1, 0] * p_itrs[i, 0] + mk[1, 1] * p_itrs[i, 1] + mk[1, 2] * p_itrs[i, 2]
            pz = mk[2, 0] * p_itrs[i, 0] + mk[2, 1] * p_itrs[i, 1] + mk[2, 2] * p_itrs[i, 2]
            nx = mk[0, 0] * n_itrs[i, 0] + mk[0, 1] * n_itrs[i, 1] + mk[0, 2] * n_itrs[i, 2]
            ny = mk[1, 0] * n_itrs[i, 0] + mk[1, 1] * n_itrs[i, 1] + mk[1, 2] * n_itrs[i, 2]
            nz = mk[2, 0] * n_itrs[i, 0] + mk[2, 1] * n_itrs[i, 1] + mk[2, 2] * n_itrs[i, 2]
            dx, dy, dz = pos[k, 0] - px, pos[k, 1] - py, pos[k, 2] - pz  # cell -> ISS
            d = math.sqrt(dx * dx + dy * dy + dz * dz)
            sx, sy, sz = sun[k, 0] - px, sun[k, 1] - py, sun[k, 2] - pz
            dist[i, k] = d
            sin_iss[i, k] = (nx * dx + ny * dy + nz * dz) / d
            sin_sun[i, k] = (nx * sx + ny * sy + nz * sz) / math.sqrt(sx * sx + sy * sy + sz * sz)
            cx, cy, cz = aberrate_rotate(-dx / d, -dy / d, -dz / d, beta[k], rot[k])
            x[i, k], y[i, k] = project_direction(cx, cy, cz, cam)


@njit(cache=True)
def _piece_starts(bins, share, visible, tol):
    """bool [M, K - 1]: chord k of cell j starts a piece (k = 0; the width bin changes; or at a visible knot k a
    channel's share differs by more than tol from the piece's first visible knot's)."""
    m_n, n_chords = bins.shape
    starts = np.zeros((m_n, n_chords), dtype=np.bool_)
    for j in range(m_n):
        starts[j, 0] = True
        have_ref = visible[j, 0]
        ref = share[j, 0].copy()
        for k in range(1, n_chords):
            new = bins[j, k] != bins[j, k - 1]
            if visible[j, k]:
                if not have_ref:
                    ref[:] = share[j, k]
                    have_ref = True
                else:
                    for ch in range(share.shape[2]):
                        if abs(share[j, k, ch] - ref[ch]) > tol:
                            new = True
            if new:
                starts[j, k] = True
                have_ref = visible[j, k]
                ref[:] = share[j, k]
    return starts


@njit(cache=True)
def _piece_splits(cell, lo, hi, t, share, weight):
    """Each piece's channel split [P, C]: the share at its knots lo..hi of its cell weighted by weight x the
    trapezoid rule in t (its share at lo where the weights are all zero)."""
    n_ch = share.shape[2]
    out = np.empty((cell.size, n_ch))
    for p in range(cell.size):
        j = cell[p]
        acc = np.zeros(n_ch)
        total = 0.0
        for k in range(lo[p], hi[p] + 1):
            w = 0.0
            if k > lo[p]:
                w += 0.5 * (t[k] - t[k - 1])
            if k < hi[p]:
                w += 0.5 * (t[k + 1] - t[k])
            w *= weight[j, k]
            total += w
            for ch in range(n_ch):
                acc[ch] += w * share[j, k, ch]
        for ch in range(n_ch):
            out[p, ch] = acc[ch] / total if total > 0.0 else share[j, lo[p], ch]
    return out


def _airmass_table(camera, lamp):
    """electrons_per_joule at excess airmasses 0 .. 40 (Kasten-Young's largest is ~38), 513 nodes uniform in
    ln(1 + m): (the nodes' ln(1 + m), the values' logarithms [G, C])."""
    grid = np.expm1(np.linspace(0.0, np.log1p(40.0), 513))
    table = electrons_per_joule(camera, lamp, grid)  # [G, C]
    return np.log1p(grid), np.log(np.maximum(table, 1e-300))


def _electrons_per_joule_at(airmass_table, excess_airmass):
    """electrons_per_joule [..., C] for an array of excess airmasses, interpolated in _airmass_table's table
    (smooth in m: 1e-5)."""
    xg, log_table = airmass_table
    x = np.log1p(np.clip(excess_airmass, 0.0, 40.0))
    return np.exp(np.stack([np.interp(x, xg, log_table[:, c]) for c in range(log_table.shape[1])], axis=-1))
