"""Every frame of an exposure through the sensor model, with the raw frames stacked like the signal."""
from __future__ import annotations

import numpy as np
import numpy.lib.recfunctions  # noqa: F401  (append_fields for the cosmic-ray table)
from astropy import units as u
from astropy.coordinates import GCRS, ITRS, CartesianRepresentation


class SensorStage:
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
