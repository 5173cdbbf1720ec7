"""The HDF5 product (DESIGN.md §4): image, ground truth and provenance, written atomically.

Plain HDF5 with gzip + shuffle filters only, so h5py, HDFView and any HDF5 reader open it without
plugins. Every dataset has a ``units`` attribute.
"""
from __future__ import annotations

import datetime as _dt
import dataclasses
import uuid

import h5py
import numpy as np
from astropy.time import Time

from .. import __version__
from ..errors import ScenarioError
from .atomic import atomic_path
from .chunked import create_compressed

FORMAT = "startrail-exposure"
FORMAT_VERSION = "1.5"
# 1.1 (backward compatible, only adds): /truth/frames (start, stop), /truth/stars/electrons_per_frame,
# /image/frames (optional), /image/signal attrs exposure_mode and stack, /truth/sunlit_fraction, in_umbra,
# /truth/stars/rate_per_channel, electrons_per_channel; /image/signal may be [H, W, C];
# with [sensor]: /image/raw, raw_frames, rgb, /truth/sensor/*, /sensor attrs; /truth/planets, /truth/moon
# 1.2 (only adds): /truth/city_lights (lit ground cells: tracks, visibility, electrons) and /truth/lightning
# (one row per flash) when the scenario's [earth] asks for them
# 1.3 (only adds): /truth/city_lights/cloud_transmission and the attrs cloud_cover, cloud_transmission,
# cloud_scale_km ([earth] cloud_cover, earth/clouds.py)
# 1.4 (only adds): /truth/airglow/time_samples, band_motion_sigma [F] (the airglow integrated over each frame's
# time) and <layer>/frame_peak_x, frame_peak_y [F, n]; /truth/limb/frame_x, frame_y [F, n], frame_t [F]
# 1.5 (same layout): the /truth/limb and /truth/airglow curves are where the pixels see that light, aberrated by
# the ISS's velocity as the stars' and city lights' (1.4 and before: the unaberrated directions, up to 5.3" off);
# the airglow image is rendered so too; /truth/t attr start_utc to the nanosecond (before: the millisecond)


def open_product(path, field: str = "PRODUCT") -> h5py.File:
    """Open a product file for reading; anything else is a one-line user error naming ``field``."""
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ScenarioError(field, f"cannot open {path} as HDF5 ({exc})", "give a file written by `startrail render`") from None
    if f.attrs.get("format") != FORMAT:
        f.close()
        raise ScenarioError(field, f"{path} is not a startrail product", "give a file written by `startrail render`")
    return f


def _put(group, name, data, units, description=None, compress=True):
    data = np.asarray(data)
    if compress and data.size > 64:
        ds = create_compressed(group, name, data)
    else:
        ds = group.create_dataset(name, data=data)
    ds.attrs["units"] = units
    if description:
        ds.attrs["description"] = description
    return ds


def _write_limb_knots(st, limb):
    """/truth/stars/limb_knots: the limb stars' own knots (limb = "atmosphere"), CSR over the stars."""
    kn = limb.get("knots")
    if kn is None:
        return
    g = st.create_group("limb_knots")
    g.attrs["description"] = (
        "each limb star's own knots (render/limb_stars.py): star j = star[i] has knots ptr[i]:ptr[i+1]; between "
        "them its track and transmission are linear in time, and they are what was rendered inside its limb "
        "window (but a knot of transmission 0, where the bent ray meets the ground, keeps the straight line's x, y "
        "and is drawn at the nearest lit knot's place, the last before it or else the first after it); column 0 "
        "of x, y, transmission, tangent_altitude_km is at 550 nm, columns 1.. at each "
        "channel's effective wavelength (channel_wavelengths_m) for spectral cameras")
    g.attrs["channel_wavelengths_m"] = np.asarray(limb.get("channel_wavelengths_m", []), dtype=np.float64)
    _put(g, "star", kn["star"], "1", "row of /truth/stars")
    _put(g, "ptr", kn["ptr"], "1", "knots of star[i] are ptr[i]:ptr[i+1]")
    _put(g, "t", kn["t"], "s", "knot time from exposure start")
    _put(g, "x", kn["x"], "pixel", "apparent (refracted) column, [knot, wavelength]")
    _put(g, "y", kn["y"], "pixel", "apparent (refracted) row, [knot, wavelength]")
    _put(g, "transmission", kn["transmission"], "1",
         "column 0: grey 550 nm transmission; columns 1..: each channel's transmission, [knot, wavelength]")
    _put(g, "tangent_altitude_km", kn["tangent_altitude_km"], "km",
         "tangent altitude of the bent ray (NaN where it meets the ground), [knot, wavelength]")
    _put(g, "distance_km", kn["distance_km"], "km", "observer to the straight line's tangent point")


COSMIC_UNITS = {"time_s": "s", "x": "pixel", "y": "pixel", "angle_rad": "rad", "length_px": "pixel",
                "path_um": "um", "energy_e": "electron", "energy_in_frame_e": "electron", "n_pixels": "1",
                "frame": "1"}
HOT_UNITS = {"x": "pixel", "y": "pixel", "dark_e_s": "electron/s", "onset_day": "d"}


SOLAR_UNITS = {"names": "1", "hip": "1", "x": "pixel", "y": "pixel", "vmag": "mag", "bv": "mag",
               "distance_km": "km", "phase_angle_deg": "deg", "electrons": "electron", "radius_px": "pixel",
               "illuminated_fraction": "1"}


def _write_solar_system(truth, solar: dict) -> None:
    """/truth/planets (per planet in or near the frame) and /truth/moon (its disk's centre and size)."""
    for group, values in solar.items():
        g = truth.create_group(group)
        for name, data in values.items():
            data = np.asarray(data)
            if data.dtype.kind == "U":
                data = data.astype(h5py.string_dtype())
            _put(g, name, data, SOLAR_UNITS.get(name, "1"), f"{group}: {name} (per knot where 2-D or [K])")


def _write_truth_group(truth, name: str, values: dict) -> None:
    """/truth/<name> from {dataset: (array, units, description)}; an "attrs" entry holds the group's attributes."""
    g = truth.create_group(name)
    for key, value in values.items():
        if key == "attrs":
            g.attrs.update(value)
            continue
        data, units, description = value
        data = np.asarray(data)
        if data.dtype.kind == "U":
            data = data.astype(h5py.string_dtype())
        _put(g, key, data, units, description)


def _write_sensor(f, sensor: dict, cam) -> None:
    """Raw digital numbers, the demosaiced view and the sensor's ground truth."""
    spec = sensor["spec"]
    img = f["image"]
    raw = sensor["raw"]
    chunks = (min(256, cam.height), min(256, cam.width))
    ds = create_compressed(img, "raw", raw, chunks=chunks)
    ds.attrs["units"] = "adu"
    ds.attrs["description"] = (f"raw digital numbers ({spec.bayer or 'mono'} mosaic) with noise; a burst: the "
                               f"{sensor['stack']} stack of its raw frames (uint16 single/lighten, float32 mean, "
                               f"uint32 sum)")
    ds.attrs.update(dict(black_level_dn=spec.black_level_dn, white_level_dn=sensor["white_level_dn"],
                         gain_e_per_dn=spec.gain_e_per_dn, bayer_pattern=spec.bayer or "none",
                         stack=sensor["stack"]))
    if sensor["raw_frames"] is not None:
        fr = create_compressed(img, "raw_frames", sensor["raw_frames"], chunks=(1,) + chunks)
        fr.attrs["units"] = "adu"
        fr.attrs["description"] = "raw digital numbers of every frame, [frame, row, col]"
    if sensor["rgb"] is not None:
        ds = create_compressed(img, "rgb", sensor["rgb"].astype(np.float32), chunks=chunks + (3,))
        ds.attrs["units"] = "adu"
        ds.attrs["description"] = "bilinear demosaic of /image/raw, above the black level, [row, col, RGB]"
    g = f["truth"].create_group("sensor")
    ds = _put(g, "defect_mask", sensor["defect_mask"], "1",
              "bit 0 (1): a cosmic ray changed the pixel in some frame; bit 1 (2): hot pixel")
    _put(g, "saa_weight", sensor["saa_weight"], "1", "fraction of each frame spent in the South Atlantic Anomaly")
    cr = g.create_group("cosmic_rays")
    table = sensor["cosmic_rays"]
    names = table.dtype.names if table is not None else tuple(COSMIC_UNITS)
    cr.attrs["count"] = 0 if table is None else table.size
    for name in names:
        data = table[name] if table is not None else np.zeros(0)
        _put(cr, name, data, COSMIC_UNITS.get(name, "1"), f"cosmic-ray hit: {name} (time from frame start)")
    hp = g.create_group("hot_pixels")
    hot = sensor["hot_pixels"]
    hp.attrs["count"] = hot.size
    for name in hot.dtype.names:
        _put(hp, name, hot[name], HOT_UNITS.get(name, "1"), f"hot pixel: {name}")
    sg = f.create_group("sensor")
    for fld in dataclasses.fields(spec):
        value = getattr(spec, fld.name)
        if fld.name == "effects":
            for e in dataclasses.fields(value):
                sg.attrs[f"effect_{e.name}"] = bool(getattr(value, e.name))
        elif value is None:
            sg.attrs[fld.name] = "none"
        else:
            sg.attrs[fld.name] = np.asarray(value) if isinstance(value, tuple) else value
    sg.attrs["units"] = ("electrons (e-), seconds, DN (adu), degrees Celsius; names carry their units: "
                         "_e, _e_s, _dn, _c, _cm2_s, _um, _px")


def write_product(path, scenario, result, overwrite: bool = False) -> None:
    """Write the render ``result`` of ``scenario`` to ``path`` (temporary name, then rename)."""
    cam = scenario.camera
    with atomic_path(path, overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["software_version"] = __version__
            f.attrs["scenario"] = scenario.text
            f.attrs["scenario_name"] = scenario.name
            f.attrs["seed"] = scenario.seed
            f.attrs["run_id"] = str(uuid.uuid4())
            f.attrs["created_utc"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            f.attrs["attitude"] = result.attitude_description
            f.attrs["orbit"] = scenario.orbit.describe()

            g = f.create_group("camera")
            g.attrs.update(dict(
                width=cam.width, height=cam.height, fx=cam.fx, fy=cam.fy, cx=cam.cx, cy=cam.cy,
                dist_coeffs=np.asarray(cam.dist_coeffs, dtype=np.float64),
                pixel_pitch_um=cam.pixel_pitch_m * 1e6, focal_length_mm=cam.focal_length_m * 1e3,
                f_number=cam.f_number, psf_sigma_px=cam.psf_sigma_px, throughput=cam.throughput,
                channels=np.array(cam.channels, dtype=h5py.string_dtype()),
                qe_curve=cam.qe_curve or "", peak_qe=cam.peak_qe if cam.peak_qe is not None else np.nan,
                lens_transmission=cam.lens_transmission, window_panes=cam.window_panes,
                window_surface_reflectance=cam.window_surface_reflectance, preset=cam.preset or "",
                lens=cam.lens or "",
                psf_components=np.array(cam.psf_mixture(), dtype=np.float64),
            ))
            g.attrs["units"] = "fx, fy, cx, cy: pixels (0-based, first pixel centre at 0,0); dist_coeffs: OpenCV k1,k2,p1,p2,k3"

            img = f.create_group("image")
            chunks = (min(256, cam.height), min(256, cam.width)) + result.signal.shape[2:]
            ds = create_compressed(img, "signal", result.signal, chunks=chunks)
            ds.attrs["units"] = "electron"
            ds.attrs["description"] = ("expected electrons per pixel over the exposure (a burst: the stack of its "
                                       "frames), noise free, [row, col]")
            ds.attrs["exposure_mode"] = scenario.exposure.mode if scenario.exposure else "single"
            ds.attrs["stack"] = result.stack
            if result.frames is not None:
                fr = create_compressed(img, "frames", result.frames, chunks=(1,) + chunks)
                fr.attrs["units"] = "electron"
                fr.attrs["description"] = "expected electrons of every frame of the burst, [frame, row, col]"

            tr = f.create_group("truth")
            ds = _put(tr, "t", result.t, "s", "knot times from exposure start")
            # to the nanosecond (the default ISO string stops at the millisecond: a start found by the eclipse
            # search lost up to 0.5 ms, 3.8 m of the ISS's track, against the truth's positions)
            start = Time(result.start, precision=9)
            ds.attrs["start_utc"] = start.utc.isot
            ds.attrs["duration_s"] = scenario.duration_s
            _put(tr, "R_icrs_to_cam", result.R_icrs_to_cam, "1", "v_cam = R @ v_icrs at each knot")
            _put(tr, "q_icrs_to_cam", result.q_icrs_to_cam, "1", "same rotation, quaternion (w, x, y, z), w >= 0")
            _put(tr, "observer_pos_gcrs_km", result.pos_km, "km", "ISS position, GCRS")
            _put(tr, "observer_vel_gcrs_km_s", result.vel_km_s, "km/s", "ISS velocity, GCRS")
            _put(tr, "sunlit_fraction", result.sunlit_fraction, "1",
                 "fraction of the Sun's disk seen from the ISS at each knot (0: umbra, orbital night)")
            _put(tr, "in_umbra", result.sunlit_fraction == 0.0, "1", "eclipse flag per knot: in the Earth's umbra")

            fg = tr.create_group("frames")
            fg.attrs["count"] = result.frame_start.size
            _put(fg, "start", result.frame_start, "s", "frame start, from exposure start")
            _put(fg, "stop", result.frame_stop, "s", "frame end (shutter closes), from exposure start")

            st = tr.create_group("stars")
            st.attrs["count"] = result.hip.size
            _put(st, "hip", result.hip.astype(np.int32), "1", "Hipparcos number")
            _put(st, "ra_deg", result.ra_deg, "deg", "ICRS right ascension at the catalog epoch J1991.25")
            _put(st, "dec_deg", result.dec_deg, "deg", "ICRS declination at the catalog epoch J1991.25")
            _put(st, "vmag", result.vmag, "mag", "Johnson V")
            _put(st, "bv", result.bv, "mag", "B-V colour index (NaN where the catalog has none)")
            _put(st, "pmra_mas_yr", result.pmra_mas_yr, "mas/yr", "proper motion mu_alpha* = mu_alpha cos(dec), ICRS")
            _put(st, "pmdec_mas_yr", result.pmdec_mas_yr, "mas/yr", "proper motion in declination, ICRS")
            _put(st, "parallax_mas", result.parallax_mas, "mas", "catalog parallax (<= 0 for some faint stars)")
            _put(st, "x", result.x, "pixel", "apparent column at each knot (NaN behind the camera)")
            _put(st, "y", result.y, "pixel", "apparent row at each knot (NaN behind the camera)")
            _put(st, "visible", result.visible, "1", "inside the frame and not occulted at the knot")
            _put(st, "electrons", result.electrons, "electron", "electrons deposited in the frame, all frames together")
            _put(st, "electrons_per_frame", result.electrons_per_frame, "electron",
                 "electrons deposited in the frame during each frame of a burst, [star, frame]")
            _put(st, "rate", result.rate, "electron/s", "detected electron rate while visible, all channels")
            if result.rate_per_channel is not None:
                _put(st, "rate_per_channel", result.rate_per_channel, "electron/s",
                     "electron rate per colour channel (/camera channels) if all its light fell on that channel's pixels")
                per_channel = getattr(result, "electrons_per_channel", None)
                if per_channel is None:  # constant colour: each channel's share of the rate
                    share = result.rate_per_channel / np.where(result.rate > 0, result.rate, 1.0)[:, None]
                    per_channel = result.electrons[:, None] * share
                _put(st, "electrons_per_channel", per_channel, "electron",
                     "electrons deposited in the frame per colour channel, [star, channel] (a star reddened by "
                     "the limb deposits a smaller share in blue)")
            if result.limb is not None:
                _put(st, "limb_transmission", result.limb["transmission"], "1",
                     "fraction of the star's light through the atmosphere (exp(-tau) x refractive dilution, "
                     "550 nm) at each knot")
                _put(st, "refraction_arcsec", result.limb["refraction_arcsec"], "arcsec",
                     "atmospheric bending at each knot (550 nm): the star is raised by this much")
                if "transmission_per_channel" in result.limb:
                    _put(st, "limb_transmission_per_channel", result.limb["transmission_per_channel"], "1",
                         "fraction of the star's light in each colour channel through the atmosphere (its spectrum "
                         "through the channel, extinguished along the channel's ray, x dilution) at each knot, "
                         "[star, knot, channel]")
                _write_limb_knots(st, result.limb)
            _put(st, "unocculted_ptr", result.occult_ptr, "1",
                 "star j's un-occulted intervals are unocculted_start/stop[ptr[j]:ptr[j+1]]")
            _put(st, "unocculted_start", result.occult_start, "s", "start of un-occulted interval")
            _put(st, "unocculted_stop", result.occult_stop, "s", "end of un-occulted interval")

            if result.sensor is not None:
                _write_sensor(f, result.sensor, cam)
            if result.solar_system:
                _write_solar_system(tr, result.solar_system)
            if result.limb_curve is not None:
                lg = tr.create_group("limb")
                lg.attrs["t"] = result.limb_curve[2]
                lg.attrs["description"] = ("the hard limb (lines of sight grazing the WGS84 ellipsoid) in the image "
                                           "at the middle knot, time attr t (s); NaN where off the frame")
                _put(lg, "x", result.limb_curve[0], "pixel", "column of the limb curve")
                _put(lg, "y", result.limb_curve[1], "pixel", "row of the limb curve")
                if result.frame_limb_curves is not None:
                    fx, fy, ft = result.frame_limb_curves
                    _put(lg, "frame_x", fx, "pixel", "column of the limb curve at each frame's middle [F, n]")
                    _put(lg, "frame_y", fy, "pixel", "row of the limb curve at each frame's middle [F, n]")
                    _put(lg, "frame_t", ft, "s", "each frame's middle, from the exposure's start")
            if result.airglow:
                ag = tr.create_group("airglow")
                ag.attrs["description"] = ("image curves where each layer's peak altitude is the rays' tangent "
                                           "altitude, at mid-exposure and at each frame's middle; the time "
                                           "quadrature of each frame's airglow (earth/airglow.py, "
                                           "render/airglow_layer.py)")
                for name, layer in result.airglow.items():
                    g = ag.create_group(name.replace("/", "_").replace(" ", "_"))
                    _put(g, "peak_x", layer["peak_x"], "pixel", "column of the peak-altitude curve (NaN off frame)")
                    _put(g, "peak_y", layer["peak_y"], "pixel", "row of the peak-altitude curve (NaN off frame)")
                    _put(g, "frame_peak_x", layer["frame_peak_x"], "pixel",
                         "column of the peak-altitude curve at each frame's middle [F, n] (NaN off frame)")
                    _put(g, "frame_peak_y", layer["frame_peak_y"], "pixel",
                         "row of the peak-altitude curve at each frame's middle [F, n] (NaN off frame)")
                    g.attrs.update(peak_altitude_km=layer["peak_altitude_km"], fwhm_km=layer["fwhm_km"],
                                   zenith_rayleigh=layer["zenith_rayleigh"])
                if result.airglow_frames is not None:
                    _put(ag, "time_samples", result.airglow_frames["time_samples"], "1",
                         "layer images each frame's airglow integrates (Gauss-Legendre nodes in time)")
                    _put(ag, "band_motion_sigma", result.airglow_frames["band_motion_sigma"], "1",
                         "largest path of a pixel's tangent altitude during each frame, in the width (sigma) of "
                         "the layer whose band or hard limb it crossed")

            for source in ("city_lights", "lightning"):
                values = getattr(result, source, None)
                if values:
                    _write_truth_group(tr, source, values)

            rg = f.create_group("render")
            for key, value in result.stats.items():
                rg.attrs[key] = value
            rg.attrs["occultation_altitude_km"] = scenario.earth.occultation_altitude_km
            rg.attrs["limb"] = scenario.earth.limb
            rg.attrs["mag_limit"] = scenario.sky.mag_limit
            rg.attrs["catalog"] = scenario.sky.catalog
