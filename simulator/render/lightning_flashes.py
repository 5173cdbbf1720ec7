"""Lightning flashes in the exposure ([earth] lightning = true): drawn from earth/lightning.py, rendered as blobs.

Sampling: the flashes of every climatology cell that may hold a cloud top above the ISS's horizon at some time
of the exposure (``lightning.cells_in_view`` on ISS positions every 10 s, interpolated from the knots, so the
draws do not depend on the knots the stars need) are drawn once for the whole exposure [t_0, t_K] from the
scenario's lightning stream (``random_streams.subsystem_seed(seed, "lightning")``), so the same seed gives the
same flashes and no other subsystem's draws change.

Geometry at each flash's time ``time_s`` (the middle of its optical duration): the cloud-top point P (WGS84
geodetic lat, lon, cloud_top_km) and its outward normal n in GCRS (earth/rotation.py); the ISS position S and
velocity V by cubic Hermite interpolation of the knot states; the camera attitude by rotation slerp between
knots. The flash is above the ISS's horizon when n . (S - P) > 0 (then the straight line of sight clears the
ellipsoid, which lies below the tangent plane at P). Its pixel is the projection of the direction P - S
aberrated by the ISS's GCRS velocity to first order (u + V/c - (u . V/c) u, ~5"; the light time, ~3 ms, moves
P by ~1 m and is neglected). The ISS moves ~2 km during a 0.3 s flash and the camera turns by ~1' (LVLH):
small against the blob (sigma ~ radius / distance, i.e. ~8-30 px on a 14 mm frame), so the blob is held at
its mid-flash position.

Blob: the cloud top's radiance is a circular Gaussian of sigma radius_km in the local horizontal plane. Its
image is the Gaussian with the covariance J Sigma J^T, J the projection's Jacobian (central differences of the
full projection, distortion included, at +-radius along two horizontal axes), plus the camera PSF (each
component of ``camera.psf_mixture()``, with the field growth of the stars' renderer) and the pixel box
(variance 1/12 px^2). It is sampled at pixel centres out to a Mahalanobis radius of 5 (it holds 1 - 4e-6 of
the flux; with sigma >= 0.85 px the sampled sum equals the integral to < 1e-6), so the electrons deposited are
the photometric expectation less what falls off the frame.

Photometry (earth/lightning.py): E cos(e) / pi x A / d^2 joules at the aperture, times the electrons per joule
through the air above the cloud top and the camera's response, times the camera's relative illumination at the
blob's centre.

Daylight: a flash whose cloud top is sunlit (the Sun's upper limb above the cloud top's horizon, dipped by
arccos(R / (R + h)) for a cloud top h above a sphere of the Earth's mean radius R, with the 0.833 deg of the
Sun's semidiameter and the standard horizontal refraction) is drawn and kept in the truth (``sunlit``) but not
rendered: its light is lost in the daylit cloud around it, which this renderer does not draw.

Frames: a flash counts in the frame whose window [t0, t1) holds its mid time (the last frame's end included);
one centred in a gap between burst frames is not recorded (frame = -1), even if part of its light would have
fallen into a frame (flashes last ~0.25 s, gaps ~1 s).
"""
from __future__ import annotations

import numpy as np
from astropy import units as u
from numba import njit
from scipy.spatial.transform import Rotation, Slerp

from ..camera.projection import project_camera_points
from ..earth import lightning
from ..earth.rotation import geodetic_normal_itrs, geodetic_to_itrs_km, itrs_to_gcrs_matrices_splined
from ..earth.city_lights import SUNSET_ELEVATION_DEG
from ..orbit.eclipse import EARTH_MEAN_RADIUS_KM, sun_gcrs_km_splined
from ..random_streams import subsystem_seed
from .observer import field_radius
from .trails import PIXEL_BOX_VARIANCE

C_KM_S = 299792.458
EXTENT_SIGMA = 5.0  # Mahalanobis radius of the rendered stamp
# Blobs are rendered only when the cloud-top centre lies within the frame's field radius plus this margin (deg)
# of the boresight: a blob's sigma is at most 60 km / 400 km ~ 9 deg, so the wings of any blob that can reach
# the frame are kept, while the linearised projection of points far off-axis (where it stretches without
# bound) is never used.
OFF_AXIS_MARGIN_DEG = 10.0
REGION_STEP_S = 10.0  # ISS positions for the region to draw flashes over (cells_in_view adds half a step)


@njit(cache=True)
def _deposit_blobs(image, xc, yc, cxx, cxy, cyy, flux, extent, electrons):
    """Add Gaussian blobs (centre xc, yc; covariance [[cxx, cxy], [cxy, cyy]] px^2; flux [N, C] electrons) to
    image [H, W, C], sampled at pixel centres within Mahalanobis radius ``extent``; electrons [N, C] += what
    each deposits. Along a row the exponent is quadratic in x, so the Gaussian is stepped by two products per
    pixel (no exp), and each row spans exactly the ellipse's chord."""
    height, width, n_ch = image.shape
    lim = extent * extent
    for i in range(xc.size):
        det = cxx[i] * cyy[i] - cxy[i] * cxy[i]
        if not det > 0.0:
            continue
        ia = cyy[i] / det
        ib = -cxy[i] / det
        ic = cxx[i] / det
        norm = 1.0 / (2.0 * np.pi * np.sqrt(det))
        ry = extent * np.sqrt(cyy[i])
        y0 = max(0, int(np.ceil(yc[i] - ry)))
        y1 = min(height - 1, int(np.floor(yc[i] + ry)))
        step2 = np.exp(-ia)  # ratio of consecutive step ratios
        for yy in range(y0, y1 + 1):
            dy = yy - yc[i]
            disc = (ib * dy) ** 2 - ia * (ic * dy * dy - lim)
            if disc < 0.0:
                continue
            root = np.sqrt(disc)
            x0 = max(0, int(np.ceil(xc[i] + (-ib * dy - root) / ia)))
            x1 = min(width - 1, int(np.floor(xc[i] + (-ib * dy + root) / ia)))
            if x1 < x0:
                continue
            dx = x0 - xc[i]
            g = norm * np.exp(-0.5 * (ia * dx * dx + 2.0 * ib * dx * dy + ic * dy * dy))
            ratio = np.exp(-0.5 * (ia * (2.0 * dx + 1.0) + 2.0 * ib * dy))
            for xx in range(x0, x1 + 1):
                for c in range(n_ch):
                    v = g * flux[i, c]
                    image[yy, xx, c] += v
                    electrons[i, c] += v
                g *= ratio
                ratio *= step2


def _hermite(t, pos, vel, tq):
    """Cubic Hermite interpolation of positions [K, 3] with velocities [K, 3] at times tq; velocity likewise
    (derivative of the cubic)."""
    k = np.clip(np.searchsorted(t, tq, side="right") - 1, 0, t.size - 2)
    h = t[k + 1] - t[k]
    s = ((tq - t[k]) / h)[:, None]
    p0, p1, v0, v1 = pos[k], pos[k + 1], vel[k] * h[:, None], vel[k + 1] * h[:, None]
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    p = h00 * p0 + h10 * v0 + h01 * p1 + h11 * v1
    d00, d10, d01, d11 = 6 * s**2 - 6 * s, 3 * s**2 - 4 * s + 1, -6 * s**2 + 6 * s, 3 * s**2 - 2 * s
    v = (d00 * p0 + d10 * v0 + d01 * p1 + d11 * v1) / h[:, None]
    return p, v


def _tangent_basis(n):
    """Two unit vectors [N, 3] spanning the plane perpendicular to unit normals n [N, 3]."""
    ref = np.where(np.abs(n[:, 2:3]) < 0.9, np.array([[0.0, 0.0, 1.0]]), np.array([[1.0, 0.0, 0.0]]))
    e1 = np.cross(n, ref)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return e1, np.cross(n, e1)


def flash_geometry(camera, start, t, pos, vel, rot, flashes):
    """Per-flash geometry at its mid time: dict with x, y (px), cov (N, 2, 2, cloud-top Gaussian in px^2 before
    the PSF), distance_km, cos_emission, above_horizon, in_frame, off_axis_deg (angle from the boresight),
    sun_elevation_deg (the Sun's centre above the cloud top's geodetic horizon) and sunlit (see the module)."""
    tq = np.asarray(flashes["time_s"], dtype=np.float64)
    n_fl = tq.size
    out = dict(x=np.full(n_fl, np.nan), y=np.full(n_fl, np.nan), cov=np.full((n_fl, 2, 2), np.nan),
               distance_km=np.full(n_fl, np.nan), cos_emission=np.full(n_fl, np.nan),
               above_horizon=np.zeros(n_fl, bool), in_frame=np.zeros(n_fl, bool),
               off_axis_deg=np.full(n_fl, np.nan), sun_elevation_deg=np.full(n_fl, np.nan),
               sunlit=np.zeros(n_fl, bool))
    if n_fl == 0:
        return out
    t = np.asarray(t, dtype=np.float64)
    keep = np.concatenate([[True], np.diff(t) > 0])  # strictly increasing knots for the interpolators
    t, pos, vel, rot = t[keep], np.asarray(pos)[keep], np.asarray(vel)[keep], np.asarray(rot)[keep]
    if t.size == 1:
        s_pos, s_vel = np.repeat(pos, n_fl, 0), np.repeat(vel, n_fl, 0)
        r_q = np.repeat(rot, n_fl, 0)
    else:
        tc = np.clip(tq, t[0], t[-1])
        s_pos, s_vel = _hermite(t, pos, vel, tc)
        r_q = Slerp(t, Rotation.from_matrix(rot))(tc).as_matrix()
    m = itrs_to_gcrs_matrices_splined(start + tq * u.s)
    if m.ndim == 2:
        m = m[None]
    p = np.einsum("nij,nj->ni", m, geodetic_to_itrs_km(flashes["lat_deg"], flashes["lon_deg"], flashes["cloud_top_km"]))
    nrm = np.einsum("nij,nj->ni", m, geodetic_normal_itrs(flashes["lat_deg"], flashes["lon_deg"]))
    los = s_pos - p
    dist = np.linalg.norm(los, axis=1)
    cos_e = np.sum(nrm * los, axis=1) / dist
    out["distance_km"], out["cos_emission"] = dist, cos_e
    above = cos_e > 0.0
    out["above_horizon"] = above
    beta = s_vel / C_KM_S

    def camera_dirs(points):
        d = points - s_pos
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        d = d + beta - np.sum(d * beta, axis=1, keepdims=True) * d
        return np.einsum("nij,nj->ni", r_q, d)

    def pixel(points):
        return project_camera_points(camera, camera_dirs(points))

    centre = camera_dirs(p)
    out["off_axis_deg"] = np.degrees(np.arccos(np.clip(centre[:, 2] / np.linalg.norm(centre, axis=1), -1, 1)))
    x, y = project_camera_points(camera, centre)
    e1, e2 = _tangent_basis(nrm)
    r = np.asarray(flashes["radius_km"], dtype=np.float64)[:, None]
    cov = np.zeros((n_fl, 2, 2))
    for e in (e1, e2):
        xp, yp = pixel(p + r * e)
        xm, ym = pixel(p - r * e)
        j = np.stack([0.5 * (xp - xm), 0.5 * (yp - ym)], axis=1)  # [N, 2]
        cov += j[:, :, None] * j[:, None, :]
    out["x"] = np.where(above, x, np.nan)
    out["y"] = np.where(above, y, np.nan)
    out["cov"] = np.where(above[:, None, None], cov, np.nan)
    out["in_frame"] = (above & (out["x"] >= -0.5) & (out["x"] <= camera.width - 0.5)
                       & (out["y"] >= -0.5) & (out["y"] <= camera.height - 0.5))
    # daylight at the cloud top: the Sun's elevation above its geodetic horizon, and whether its upper limb
    # clears the cloud top's own (dipped) horizon
    to_sun = sun_gcrs_km_splined(start + tq * u.s) - p
    sin_sun = np.sum(nrm * to_sun, axis=1) / np.linalg.norm(to_sun, axis=1)
    out["sun_elevation_deg"] = np.degrees(np.arcsin(np.clip(sin_sun, -1.0, 1.0)))
    out["sunlit"] = out["sun_elevation_deg"] > SUNSET_ELEVATION_DEG - horizon_dip_deg(flashes["cloud_top_km"])
    return out


def horizon_dip_deg(height_km):
    """Dip (deg) of the geometric horizon seen from ``height_km`` above a sphere of the Earth's mean radius."""
    return np.degrees(np.arccos(EARTH_MEAN_RADIUS_KM / (EARTH_MEAN_RADIUS_KM + np.asarray(height_km, dtype=float))))


class LightningFlashes:
    """Flashes drawn for one exposure; ``add_electrons(image, f, t0, t1)`` renders those of frame f, ``truth()``."""

    def __init__(self, scenario, t, pos, vel, rot, pole):
        self.camera = camera = scenario.camera
        self.max_off_axis_deg = np.degrees(field_radius(camera)) + OFF_AXIS_MARGIN_DEG
        self.start = scenario.start
        t = np.asarray(t, dtype=np.float64)
        self.span = (float(t[0]), float(t[-1]))
        rng = np.random.default_rng(subsystem_seed(scenario.seed, "lightning"))
        # the region from ISS positions on a fixed 10 s grid (not the knots, which depend on the stars), so the
        # flashes drawn depend only on the orbit, the exposure span and the seed
        grid = np.append(np.arange(self.span[0], self.span[1], REGION_STEP_S), self.span[1])
        keep = np.concatenate([[True], np.diff(t) > 0])
        grid_pos = (_hermite(t[keep], np.asarray(pos)[keep], np.asarray(vel)[keep], grid)[0] if keep.sum() > 1
                    else np.repeat(np.asarray(pos)[:1], grid.size, 0))
        rows, cols = lightning.cells_in_view(scenario.start, grid, grid_pos)
        self.flashes = lightning.sample_flashes(rng, rows, cols, scenario.start, *self.span)
        self.geometry = geo = flash_geometry(camera, scenario.start, t, pos, vel, rot, self.flashes)
        self.photometry = phot = lightning.FlashPhotometry(camera)
        n = self.flashes["time_s"].size
        self.n_channels = len(camera.channels)
        flux = np.zeros((n, phot.n_channels))
        up = geo["above_horizon"]
        if up.any():
            joules = (self.flashes["optical_energy_J"][up] * geo["cos_emission"][up] / np.pi
                      * camera.aperture_area_m2 / (geo["distance_km"][up] * 1e3) ** 2)
            flux[up] = joules[:, None] * phot.electrons_per_joule(self.flashes["cloud_top_km"][up],
                                                                   geo["cos_emission"][up])
            xs = np.clip(np.nan_to_num(geo["x"][up]), 0, camera.width - 1)
            ys = np.clip(np.nan_to_num(geo["y"][up]), 0, camera.height - 1)
            flux[up] *= np.nan_to_num(camera.relative_illumination(xs, ys), nan=0.0)[:, None]
        if flux.shape[1] != self.n_channels:  # a v1 camera has one response; spread it over its channels
            flux = np.repeat(flux / self.n_channels, self.n_channels, axis=1)
        self.flux = flux
        self.frame = np.full(n, -1, np.int64)
        self.electrons = np.zeros((n, self.n_channels))

    def frame_electrons(self, f: int, t0: float, t1: float) -> np.ndarray:
        """The electrons of frame f alone: [H, W] or [H, W, C] (add_electrons into a new image)."""
        cam = self.camera
        image = self.add_electrons(np.zeros((cam.height, cam.width, self.n_channels)), f, t0, t1)
        return image[:, :, 0] if self.n_channels == 1 else image

    def add_electrons(self, image: np.ndarray, f: int, t0: float, t1: float) -> np.ndarray:
        """Add the flashes of frame f ([t0, t1], s) to image [H, W, C] (float64, in place); returns it."""
        cam = self.camera
        tm = self.flashes["time_s"]
        sel = (self.frame < 0) & (tm >= t0) & ((tm < t1) | ((tm == t1) & (t1 >= self.span[1])))
        self.frame[sel] = f
        geo = self.geometry
        idx = np.flatnonzero(sel & geo["above_horizon"] & ~geo["sunlit"] & np.isfinite(geo["x"])
                             & np.isfinite(geo["cov"][:, 0, 0])
                             & (geo["off_axis_deg"] <= self.max_off_axis_deg))
        if idx.size:
            x, y, cov = geo["x"][idx], geo["y"][idx], geo["cov"][idx]
            rho2 = ((x - cam.cx) ** 2 + (y - cam.cy) ** 2) / (cam.cx**2 + cam.cy**2)
            deposited = np.zeros((idx.size, self.n_channels))
            for weight, sigma in cam.psf_mixture():
                var = (sigma * (1.0 + cam.psf_field_growth * rho2)) ** 2 + PIXEL_BOX_VARIANCE
                _deposit_blobs(image, np.ascontiguousarray(x), np.ascontiguousarray(y),
                               np.ascontiguousarray(cov[:, 0, 0] + var), np.ascontiguousarray(cov[:, 0, 1]),
                               np.ascontiguousarray(cov[:, 1, 1] + var),
                               np.ascontiguousarray(self.flux[idx] * weight), EXTENT_SIGMA, deposited)
            self.electrons[idx] += deposited
        return image

    def truth(self) -> dict:
        fl, geo = self.flashes, self.geometry
        visible = geo["in_frame"] & ~geo["sunlit"] & (self.frame >= 0)
        out = {
            "time_s": (fl["time_s"], "s", "mid time of the flash's optical emission, from exposure start"),
            "lat_deg": (fl["lat_deg"], "deg", "WGS84 geodetic latitude of the flash's cloud-top centre"),
            "lon_deg": (fl["lon_deg"], "deg", "longitude of the flash's cloud-top centre"),
            "surface": (np.where(fl["surface"] == 0, "land", "water"), "", "climatology component it was drawn from"),
            "cloud_top_km": (fl["cloud_top_km"], "km", "height of the illuminated cloud top above WGS84"),
            "duration_s": (fl["duration_s"], "s", "duration of the optical flash"),
            "optical_energy_J": (fl["optical_energy_J"], "J", "energy radiated upward by the cloud top, 400-1100 nm"),
            "radius_km": (fl["radius_km"], "km", "Gaussian sigma of the illuminated cloud top's radiance"),
            "x": (geo["x"], "pixel", "column of the cloud-top centre at time_s (NaN below the horizon)"),
            "y": (geo["y"], "pixel", "row of the cloud-top centre at time_s (NaN below the horizon)"),
            "distance_km": (geo["distance_km"], "km", "ISS to cloud-top distance at time_s"),
            "emission_angle_deg": (np.degrees(np.arccos(np.clip(geo["cos_emission"], -1, 1))), "deg",
                                   "angle between the local vertical at the cloud top and the line to the ISS"),
            "above_horizon": (geo["above_horizon"], "", "cloud top above the ISS's horizon at time_s"),
            "sun_elevation_deg": (geo["sun_elevation_deg"], "deg",
                                  "elevation of the Sun's centre above the cloud top's geodetic horizon at time_s"),
            "sunlit": (geo["sunlit"], "", "the Sun's upper limb above the cloud top's dipped horizon (not rendered)"),
            "visible": (visible, "", "above the horizon, not sunlit, centre inside the frame and inside a frame's "
                                     "time window"),
            "frame": (self.frame, "", "frame index holding time_s (-1: in a gap, not recorded)"),
            "electrons": (self.electrons.sum(axis=1), "electron", "electrons deposited in the image, all channels"),
            "electrons_per_channel": (self.electrons, "electron", "electrons deposited per channel [N, C]"),
            "attrs": {"description": "lightning flashes drawn from earth/lightning.py's climatology over the ground "
                                     "the ISS could see (one row per flash); see render/lightning_flashes.py",
                      "channels": list(self.camera.channels)},
        }
        return out
