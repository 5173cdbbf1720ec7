"""Airglow electrons of each frame of an exposure, integrated over the frame's time (the layers themselves are in
earth/airglow.py).

The layers are fixed to the Earth, and their limb band moves through the image while a frame is open: in
inertial hold it sweeps with the orbit (≈ 4′ of arc per second), and even in LVLH the ISS's altitude and the
Earth's flattening move the tangent altitude of a pixel's ray by up to 6.3 km over the 15-minute Pettit
exposure, 1.9 times the green layer's width σ. A frame's airglow is therefore the layer image integrated over
the frame by Gauss–Legendre quadrature in time, with one node more than the number of widths the bands move
(motion_sigmas; a single image at the frame's middle where they move less than SINGLE_IMAGE_MOTION_SIGMA),
all in one pass of the image kernel, or in groups of nodes spanning GROUP_MOTION_SIGMA widths where they move
farther.

Accuracy (measured against 24-node quadrature on a 100 mm inertial view of the limb, tests/test_airglow_render.py):
a pixel's value is the column of its ray's tangent altitude, a smooth function of it on the scale σ, so the
quadrature converges fast: within 5e-4 of the band's peak with these node counts (the single mid-frame image
that earlier versions used is off by 1.4 % where the band moves 0.9 σ, 6 % at 2 σ, 20 % at 4 σ). The hard
limb, where the column jumps (rays that meet the ground see only the layers' near side), is the exception: each
node samples it, so across the pixels it sweeps it is a staircase of n steps (≈ 3 % of the band's peak at n =
2-3, 1 % at 17), as it is point-sampled in space within a pixel.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

# below this motion of the bands during a frame (in their widths σ) one image at the frame's middle is within
# ~6e-4 of the band's peak (the error grows as the square of the motion)
SINGLE_IMAGE_MOTION_SIGMA = 0.2
# the motion is measured on a grid of at most this many pixels per side, at this many equal steps of the frame
MOTION_GRID = 65
MOTION_STEPS = 8
# one pass of the image kernel takes nodes over which the bands move at most this many widths: it computes the
# pixels' tangent variable exactly at its middle node and the others' by smooth offsets from it, with that node's
# ratio exact/table and cell tests (one pass against the separate node images, 99.9th percentile of the band's
# peak: 1.4e-4, 2.4e-4, 3.6e-4, 7.0e-4 over 2, 4, 6, 8 widths; 7e-2 over 16); a frame whose bands move farther
# takes its nodes in consecutive groups, one pass each
GROUP_MOTION_SIGMA = 4.0
# at most this many layer images per frame (a D3S frame: one 0.45 s, three 0.65 s in one pass); more are asked for
# only by long frames in inertial hold, where the band sweeps across the image (a warning names the shortfall)
MAX_SAMPLES = 64


def time_nodes(t0: float, t1: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes (s) and weights (s, summing to t1 − t0) of n points on [t0, t1]; n = 1: the middle."""
    x, w = np.polynomial.legendre.leggauss(n)
    return t0 + 0.5 * (t1 - t0) * (x + 1.0), 0.5 * (t1 - t0) * w


class AirglowLayer:
    """Airglow electrons added to each frame's image: the layer image integrated over the frame's time.

    observer: render.observer.Observer (the states at any time); pole: the Earth's axis (GCRS) of the exposure;
    t, pos, vel, rot: the exposure's knots (s, km, km/s, R_icrs_to_cam), for the truth curves at mid-exposure.
    The layers' light reaches each pixel along its ray aberrated by the ISS's velocity (airglow_image), as the
    stars' and the city lights' does.
    """

    def __init__(self, scenario, observer, t, pos, vel, rot, pole):
        from ..camera.projection import pixel_to_camera_ray
        from ..earth.airglow import DEFAULT_LAYERS

        self.camera = cam = scenario.camera
        self.observer = observer
        self.t, self.pos, self.vel, self.rot, self.pole = t, pos, vel, rot, pole
        self.layers = DEFAULT_LAYERS
        # each layer geometry's column changes on its own scale σ where a ray's tangent altitude is within its
        # band (±6σ about the peak) or near the hard limb (from -6σ): those ranges (km) and σ
        geoms = sorted({(layer.peak_altitude_km, layer.sigma_km) for layer in self.layers})
        self.ranges_km = np.array([(-6.0 * sig, h0 + 6.0 * sig) for h0, sig in geoms])
        self.sigmas_km = np.array([sig for _, sig in geoms])
        self.frame_samples: list[int] = []  # layer images integrated in each frame
        self.frame_motion: list[float] = []  # each frame's largest motion of a band, in its layer's σ
        # the camera rays of the grid of pixels on which the bands' motion is measured (motion_sigmas)
        gx, gy = np.meshgrid(np.linspace(0.0, cam.width - 1.0, min(MOTION_GRID, cam.width)),
                             np.linspace(0.0, cam.height - 1.0, min(MOTION_GRID, cam.height)))
        self.motion_rays = pixel_to_camera_ray(cam, gx.ravel(), gy.ravel())

    def motion_sigmas(self, t0: float, t1: float) -> float:
        """How far the layers' bands move during [t0, t1] s, in their widths: the largest path of a pixel's
        tangent altitude (summed over MOTION_STEPS equal steps) over the σ of each layer geometry whose range it
        is in at some step, on a grid of at most MOTION_GRID² pixels over the frame."""
        from ..earth.airglow import camera_ray_tangent_altitudes

        times = np.linspace(t0, t1, MOTION_STEPS + 1)
        pos, vel, rot, _, _ = self.observer.states(times)
        h = np.stack([camera_ray_tangent_altitudes(self.motion_rays, rot[i], pos[i], self.pole, vel[i])
                      for i in range(times.size)])
        path = np.nansum(np.abs(np.diff(h, axis=0)), axis=0)
        worst = 0.0
        for (lo, hi), sig in zip(self.ranges_km, self.sigmas_km):
            near = np.any((h >= lo) & (h <= hi), axis=0)
            if near.any():
                worst = max(worst, float(path[near].max()) / sig)
        return worst

    def samples(self, t0: float, t1: float) -> int:
        """Layer images that frame [t0, t1] s integrates (and records the frame's motion)."""
        motion = self.motion_sigmas(t0, t1) if t1 > t0 else 0.0
        n = 1 if motion <= SINGLE_IMAGE_MOTION_SIGMA else math.ceil(motion) + 1
        if n > MAX_SAMPLES:
            warnings.warn(f"airglow: the limb band moves {motion:.0f} times its width in the frame [{t0:g}, {t1:g}] s; "
                          f"integrated with {MAX_SAMPLES} images, the band is rippled along its sweep (shorter frames "
                          "sweep it smoothly)", stacklevel=3)
            n = MAX_SAMPLES
        self.frame_samples.append(n)
        self.frame_motion.append(motion)
        return n

    def add_electrons(self, image, f, t0, t1):
        """Add frame f's airglow electrons (frame [t0, t1], s) to its image [H, W, C] (float64, in place): the
        layer images at the frame's quadrature nodes (time_nodes), each times its weight (s)."""
        from ..earth.airglow import airglow_image

        times, weights = time_nodes(t0, t1, self.samples(t0, t1))
        pos, vel, rot, _, _ = self.observer.states(times)
        # the nodes in one pass each group (each pixel's ray and solid angle once per group): groups of equal time
        # span, over which the bands move at most GROUP_MOTION_SIGMA widths (they move about evenly in time);
        # without a channel_response, airglow_image uses the camera's own spectral response (or throughput)
        groups = max(1, math.ceil(self.frame_motion[-1] / GROUP_MOTION_SIGMA))
        edges = np.linspace(t0, t1, groups + 1)
        group = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, groups - 1)
        for g in range(groups):
            sel = np.flatnonzero(group == g)
            if sel.size:
                airglow_image(self.camera, rot[sel], pos[sel], self.pole, self.layers, time_weights=weights[sel],
                              out=image, observer_vel_gcrs_km_s=vel[sel])

    def frame_truth(self):
        """Per frame: the layer images integrated (time_samples [F]) and the bands' motion in their widths
        (band_motion_sigma [F], motion_sigmas)."""
        return dict(time_samples=np.array(self.frame_samples, dtype=np.int64),
                    band_motion_sigma=np.array(self.frame_motion))

    def truth(self, frame_pos, frame_rot, frame_vel):
        """Per layer: its peak-altitude curve in the image at the middle knot (peak_x, peak_y [n]) and at each
        frame's middle (frame_peak_x, frame_peak_y [F, n]: the band moves between frames; frame_pos [F, 3] km,
        frame_rot [F, 3, 3], frame_vel [F, 3] km/s the states there), px, NaN off the frame, where the pixels
        see the light of that tangent altitude (aberrated); and its figures."""
        from ..earth.airglow import peak_tangent_altitude_curve

        k = self.t.size // 2
        n_frames = len(frame_pos)
        out = {}
        curves = {}  # several layers (the OH bands) share a peak altitude: one set of curves each
        for layer in self.layers:
            h = layer.peak_altitude_km
            if h not in curves:
                mid = peak_tangent_altitude_curve(self.camera, self.rot[k], self.pos[k], self.pole, h,
                                                  observer_vel_gcrs_km_s=self.vel[k])
                frames = [peak_tangent_altitude_curve(self.camera, frame_rot[f], frame_pos[f], self.pole, h,
                                                      observer_vel_gcrs_km_s=frame_vel[f])
                          for f in range(n_frames)]
                curves[h] = mid, (np.array([c[0] for c in frames]).reshape(n_frames, -1),
                                  np.array([c[1] for c in frames]).reshape(n_frames, -1))
            (x, y), (fx, fy) = curves[h]
            out[layer.name] = dict(peak_x=x, peak_y=y, frame_peak_x=fx, frame_peak_y=fy, peak_altitude_km=h,
                                   fwhm_km=layer.fwhm_km, zenith_rayleigh=layer.zenith_rayleigh)
        return out
