"""Airglow images for each frame of an exposure (the layers themselves are in earth/airglow.py)."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..attitude import InertialAttitude


@njit(parallel=True, cache=True)
def _add_scaled(image, rate, seconds):
    """image += rate * seconds, in place, for [H, W, C] arrays (rows in parallel; no temporary)."""
    for i in prange(image.shape[0]):
        for j in range(image.shape[1]):
            for c in range(image.shape[2]):
                image[i, j, c] += rate[i, j, c] * seconds


class AirglowLayer:
    """Airglow electrons added to each frame's image.

    The layers are fixed to the Earth: in LVLH attitude they stand still in the image (the ISS's altitude
    changes move them by a few pixels over 15 minutes), so one image at mid-exposure serves every frame;
    in inertial hold the limb sweeps across the frame, and each frame uses the image at its middle (the
    smearing within a frame is not yet modelled).
    """

    def __init__(self, scenario, t, pos, rot, pole, n_frames=1):
        self.camera = scenario.camera
        self.lvlh = not isinstance(scenario.attitude, InertialAttitude)
        self.t, self.pos, self.rot, self.pole = t, pos, rot, pole
        self.n_frames = n_frames
        self.cached = None  # LVLH with several frames: the rate image

    def _add(self, tq, image, scale):
        """Add scale × the airglow rate image at the knot nearest tq to image [H, W, C] (in place)."""
        from ..earth.airglow import airglow_image

        k = int(np.argmin(np.abs(self.t - tq)))
        # without a channel_response, airglow_image uses the camera's own spectral response (or throughput)
        airglow_image(self.camera, self.rot[k], self.pos[k], self.pole, scale=scale, out=image)

    def add_electrons(self, image, f, t0, t1):
        """Add frame f's airglow electrons (frame [t0, t1], s) to its image [H, W, C] (float64, in place)."""
        mid = 0.5 * (self.t[0] + self.t[-1])
        if not self.lvlh:
            self._add(0.5 * (t0 + t1), image, t1 - t0)
        elif self.n_frames == 1:
            self._add(mid, image, t1 - t0)  # straight into the frame: no 290 MB temporaries
        else:
            if self.cached is None:
                self.cached = np.zeros_like(image)
                self._add(mid, self.cached, 1.0)
            _add_scaled(image, self.cached, t1 - t0)

    def truth(self):
        from ..earth.airglow import DEFAULT_LAYERS, peak_tangent_altitude_curve

        k = self.t.size // 2
        out = {}
        curves = {}  # several layers (the OH bands) share a peak altitude: one curve each
        for layer in DEFAULT_LAYERS:
            if layer.peak_altitude_km not in curves:
                curves[layer.peak_altitude_km] = peak_tangent_altitude_curve(
                    self.camera, self.rot[k], self.pos[k], self.pole, layer.peak_altitude_km)
            x, y = curves[layer.peak_altitude_km]
            out[layer.name] = dict(peak_x=x, peak_y=y, peak_altitude_km=layer.peak_altitude_km,
                                   fwhm_km=layer.fwhm_km, zenith_rayleigh=layer.zenith_rayleigh)
        return out
