"""Airglow images for each frame of an exposure (the layers themselves are in earth/airglow.py)."""
from __future__ import annotations

import numpy as np

from ..attitude import InertialAttitude


class AirglowLayer:
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
        curves = {}  # several layers (the OH bands) share a peak altitude: one curve each
        for layer in DEFAULT_LAYERS:
            if layer.peak_altitude_km not in curves:
                curves[layer.peak_altitude_km] = peak_tangent_altitude_curve(
                    self.camera, self.rot[k], self.pos[k], self.pole, layer.peak_altitude_km)
            x, y = curves[layer.peak_altitude_km]
            out[layer.name] = dict(peak_x=x, peak_y=y, peak_altitude_km=layer.peak_altitude_km,
                                   fwhm_km=layer.fwhm_km, zenith_rayleigh=layer.zenith_rayleigh)
        return out
