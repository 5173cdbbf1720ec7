"""PNG previews of a product: asinh stretch, optional overlay of the limb and the brightest stars' names."""
from __future__ import annotations

import dataclasses

import numpy as np
from astropy import units as u
from astropy.time import Time
from PIL import Image, ImageDraw, ImageFont

from ..camera.projection import Camera, project_camera_points
from ..earth.limb import limb_directions
from ..earth.ellipsoid import earth_pole_gcrs
from ..sky.catalog import star_names
from .atomic import atomic_path
from .hdf5 import open_product


def asinh_stretch(signal: np.ndarray, white_percentile: float = 99.95, softening: float = 0.02) -> np.ndarray:
    """Map electrons to [0, 1]: asinh(s / (softening·white)) / asinh(1 / softening), white from a percentile."""
    positive = signal[signal > 0]
    white = float(np.percentile(positive, white_percentile)) if positive.size else 1.0
    white = white if white > 0 else 1.0
    soft = softening * white
    return np.clip(np.arcsinh(np.maximum(signal, 0) / soft) / np.arcsinh(white / soft), 0.0, 1.0)


def _white_balance(attrs, n_channels: int) -> np.ndarray:
    """Per-channel divisors that render a Sun-like star (B-V = 0.65) white: the camera's own channel
    response to it (spectral photometry), so star colours come from the physics, not from a palette."""
    qe_curve = str(attrs.get("qe_curve", ""))
    if not qe_curve or n_channels != 3:
        return np.ones(n_channels)
    from ..camera.bandpass import channel_electron_rates, spectral_response

    camera = dataclasses.replace(
        _camera_from_attrs(attrs), qe_curve=qe_curve,
        peak_qe=float(attrs["peak_qe"]) if np.isfinite(attrs["peak_qe"]) else None,
        lens_transmission=float(attrs["lens_transmission"]), window_panes=int(attrs["window_panes"]),
        window_surface_reflectance=float(attrs["window_surface_reflectance"]))
    spectral = spectral_response(camera)
    sun = channel_electron_rates(np.array([0.0]), np.array([0.65]), spectral)[0]
    return sun / sun.max()


def _camera_from_attrs(attrs) -> Camera:
    return Camera(width=int(attrs["width"]), height=int(attrs["height"]),
                  pixel_pitch_m=float(attrs["pixel_pitch_um"]) * 1e-6,
                  focal_length_m=float(attrs["focal_length_mm"]) * 1e-3, f_number=float(attrs["f_number"]),
                  dist_coeffs=tuple(float(v) for v in attrs["dist_coeffs"]))


def render_preview(h5_path, overlay: bool = False, width: int | None = None, n_names: int = 15,
                   noise_free: bool = False) -> Image.Image:
    """Build the preview image of a product file: the recorded (noisy) image when the product has one,
    else (or with ``noise_free``) the expected signal."""
    with open_product(h5_path) as f:
        if "image/rgb" in f and not noise_free:  # what the camera recorded, demosaiced
            signal = f["image/rgb"][...].astype(np.float64)
        elif "image/raw" in f and not noise_free and f["image/raw"].attrs.get("bayer_pattern") == "none":
            signal = f["image/raw"][...].astype(np.float64) - float(f["image/raw"].attrs["black_level_dn"])
        else:
            signal = f["image/signal"][...]
        if not noise_free and ("image/rgb" in f or "image/raw" in f):
            # black point at the noise floor (dark current and read noise): the median of each channel
            signal = signal - np.median(signal.reshape(-1, signal.shape[-1] if signal.ndim == 3 else 1), axis=0)
        if signal.ndim == 2:
            rgb = np.repeat((asinh_stretch(signal) * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
        else:
            balanced = signal / _white_balance(f["camera"].attrs, signal.shape[2])
            rgb = (asinh_stretch(balanced) * 255 + 0.5).astype(np.uint8)
        image = Image.fromarray(rgb, "RGB")
        if overlay:
            camera = _camera_from_attrs(f["camera"].attrs)
            draw = ImageDraw.Draw(image)
            font = ImageFont.load_default(size=max(12, camera.width // 120))
            if "truth/limb/x" in f:  # the truth's curve (with the ISS's aberration, format 1.5)
                lx, ly = f["truth/limb/x"][...], f["truth/limb/y"][...]
            else:
                k_mid = f["truth/t"].shape[0] // 2
                start = Time(f["truth/t"].attrs["start_utc"], scale="utc")
                t_mid = start + f["truth/t"][k_mid] * u.s
                pos = f["truth/observer_pos_gcrs_km"][k_mid]
                rot = f["truth/R_icrs_to_cam"][k_mid]
                limb = limb_directions(pos, earth_pole_gcrs(t_mid))
                lx, ly = project_camera_points(camera, limb @ rot.T)
            for run in _closed_curve_runs(lx, ly):  # (NaN off the frame: one polyline per stretch inside it)
                draw.line(run, fill=(60, 160, 255), width=max(1, camera.width // 1000))
            names = star_names()
            st = f["truth/stars"]
            hip, vmag, xs, ys, vis = st["hip"][...], st["vmag"][...], st["x"][...], st["y"][...], st["visible"][...]
            for j in np.argsort(vmag):
                if n_names <= 0:
                    break
                if int(hip[j]) not in names or not vis[j].any():
                    continue
                k = np.flatnonzero(vis[j])[-1]
                draw.text((xs[j, k] + font.size // 2, ys[j, k] + font.size // 3), names[int(hip[j])],
                          fill=(255, 210, 80), font=font)
                n_names -= 1
    if width and width < image.width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    return image


def _closed_curve_runs(x, y):
    """The finite stretches of a closed curve sampled at x, y (NaN: a gap), as lists of (x, y) of at least two
    points; a stretch through the arrays' end continues at their start."""
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return []
    shift = 0 if ok.all() else int(np.flatnonzero(~ok)[0])  # start the walk in a gap
    idx = np.roll(np.arange(x.size), -shift)
    runs, current = [], []
    for i in idx:
        if ok[i]:
            current.append((float(x[i]), float(y[i])))
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [r for r in runs if len(r) > 1]


def write_preview(h5_path, png_path, overlay=False, width=None, overwrite=False, noise_free=False) -> None:
    """Write the preview PNG atomically."""
    image = render_preview(h5_path, overlay=overlay, width=width, noise_free=noise_free)
    with atomic_path(png_path, overwrite, option="--preview") as tmp:
        image.save(tmp, format="PNG")
