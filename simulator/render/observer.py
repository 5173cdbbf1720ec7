"""Observer states and camera attitude at exposure times; the camera's field radius and projection arguments."""
from __future__ import annotations

import warnings

import numpy as np
from astropy import units as u
from astropy.time import Time

from ..attitude import attitude_from_wcs
from ..camera.projection import Camera, pixel_to_camera_ray
from ..camera.star_kernel import max_chord_error
from ..sky.apparent import C_KM_S, observer_barycentric

PIXEL_SCALE_WARN = 0.02  # warn when a WCS's pixel scale differs from the camera's by more than this


class Observer:
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


def field_radius(camera: Camera) -> float:
    """Largest angle (rad) between the boresight and any point of the frame's border, with distortion."""
    w, h = camera.width - 1, camera.height - 1
    xs = np.concatenate([np.linspace(0, w, 33), np.linspace(0, w, 33), np.zeros(33), np.full(33, w)])
    ys = np.concatenate([np.zeros(33), np.full(33, h), np.linspace(0, h, 33), np.linspace(0, h, 33)])
    rays = pixel_to_camera_ray(camera, xs, ys)
    return float(np.max(np.arccos(np.clip(rays[:, 2], -1, 1))))


def projection_args(camera: Camera):
    r_max = camera.max_valid_radius
    return (camera.fx, camera.fy, camera.cx, camera.cy, np.asarray(camera.dist_coeffs, dtype=np.float64),
            float(r_max**2) if np.isfinite(r_max) else 1e300)


def interp_error(x, y, xm, ym, camera):
    """Largest distance (px) between mid-knot positions and the chord midpoints, inside the frame."""
    return float(max_chord_error(x, y, xm, ym, camera.width, camera.height))
