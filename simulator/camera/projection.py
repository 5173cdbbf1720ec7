"""Camera model: OpenCV pinhole intrinsics with Brown–Conrady distortion, and a Gaussian PSF.

Conventions (DESIGN.md §2): camera frame +z along the boresight, +x toward increasing column,
+y toward increasing row; pixel centres at integer coordinates, the first pixel's centre is (0, 0).
Projection reproduces ``cv2.projectPoints`` with the same camera matrix and distortion coefficients
(k1, k2, p1, p2, k3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def _pinhole_illumination(x, y, cx, cy, fx, fy, half_diagonal, power, mechanical):
    """Camera.relative_illumination without distortion for flat x, y (px): cos^p θ (1 − m ρ²) clipped to 0..1,
    the same operations as its numpy form (NaN stays NaN)."""
    out = np.empty(x.size)
    for i in prange(x.size):
        dx = x[i] - cx
        dy = y[i] - cy
        rho = math.hypot(dx, dy) / half_diagonal
        cos_theta = 1.0 / math.sqrt(1.0 + (dx / fx) ** 2 + (dy / fy) ** 2)
        mech = 1.0 - mechanical * rho**2
        if mech < 0.0:
            mech = 0.0
        elif mech > 1.0:
            mech = 1.0
        out[i] = cos_theta**power * mech
    return out


@dataclass(frozen=True)
class Camera:
    """Geometry and optics of one camera + lens.

    width, height: image size in pixels. pixel_pitch_m, focal_length_m: metres.
    dist_coeffs: OpenCV (k1, k2, p1, p2, k3), dimensionless, applied to normalised coordinates.
    psf_sigma_px: optical Gaussian PSF sigma in pixels (the pixel box is added in the renderer).
    throughput: lens/window transmission x mean quantum efficiency (dimensionless, photometry v1).
    """

    width: int
    height: int
    pixel_pitch_m: float
    focal_length_m: float
    f_number: float
    dist_coeffs: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)
    psf_sigma_px: float = 0.8
    throughput: float = 0.35
    channels: tuple[str, ...] = field(default=("mono",))
    # spectral photometry (camera/bandpass.py); None keeps photometry v1 (V band x throughput)
    qe_curve: str | None = None
    peak_qe: float | None = None
    lens_transmission: float = 0.9
    window_panes: int = 4
    window_surface_reflectance: float = 0.02
    # PSF as a mixture of Gaussians: ((weight, sigma_px), ...); empty means the single psf_sigma_px
    psf_components: tuple[tuple[float, float], ...] = ()
    preset: str | None = None
    lens: str | None = None
    # relative illumination cos(theta)^p (1 - m rho^2), rho = radius / half-diagonal (camera/presets.py);
    # p = 0 and m = 0 switch vignetting off
    vignetting_cos_power: float = 0.0
    vignetting_mechanical: float = 0.0
    # the PSF's sigma grows as 1 + g rho^2 toward the corners (rho = radius / half-diagonal)
    psf_field_growth: float = 0.0

    def relative_illumination(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Vignetting factor (0..1) at pixel positions x, y (NaN stays NaN)."""
        if self.vignetting_cos_power == 0.0 and self.vignetting_mechanical == 0.0:
            return np.ones(np.shape(x))
        if not any(self.dist_coeffs):  # compiled, in parallel: [N, K] tracks of every star are ~14 M points
            xa, ya = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
            out = _pinhole_illumination(np.ascontiguousarray(xa).ravel(), np.ascontiguousarray(ya).ravel(),
                                        self.cx, self.cy, self.fx, self.fy, float(np.hypot(self.cx, self.cy)),
                                        float(self.vignetting_cos_power), float(self.vignetting_mechanical))
            return out.reshape(xa.shape)
        rho = np.hypot(np.asarray(x) - self.cx, np.asarray(y) - self.cy) / np.hypot(self.cx, self.cy)
        cos_theta = pixel_to_camera_ray(self, x, y)[..., 2]  # (with distortion)
        return cos_theta**self.vignetting_cos_power * np.clip(1.0 - self.vignetting_mechanical * rho**2, 0.0, 1.0)

    def psf_mixture(self) -> tuple[tuple[float, float], ...]:
        """((weight, sigma_px), ...) with weights summing to 1."""
        return self.psf_components or ((1.0, self.psf_sigma_px),)

    @property
    def fx(self) -> float:
        """Focal length in pixels along x."""
        return self.focal_length_m / self.pixel_pitch_m

    @property
    def fy(self) -> float:
        """Focal length in pixels along y (square pixels)."""
        return self.focal_length_m / self.pixel_pitch_m

    @property
    def cx(self) -> float:
        """Principal point column: the optical axis meets the centre of the sensor."""
        return (self.width - 1) / 2.0

    @property
    def cy(self) -> float:
        """Principal point row."""
        return (self.height - 1) / 2.0

    @property
    def camera_matrix(self) -> np.ndarray:
        """3x3 OpenCV intrinsic matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def aperture_area_m2(self) -> float:
        """Entrance-pupil area pi/4 (f/N)^2 in m^2."""
        diameter = self.focal_length_m / self.f_number
        return np.pi / 4.0 * diameter**2

    @property
    def pixel_scale_arcsec(self) -> float:
        """Pixel scale at the image centre, arcsec per pixel."""
        return np.degrees(self.pixel_pitch_m / self.focal_length_m) * 3600.0

    @property
    def max_valid_radius(self) -> float:
        """Largest normalised radius r = |(X/Z, Y/Z)| where the radial distortion is still monotonic.

        Beyond it the Brown–Conrady polynomial folds back and a direction would map to the wrong
        pixel, so projection returns NaN there. Infinite when there is no radial distortion.
        """
        return radial_monotonic_limit(*self.dist_coeffs[:2], self.dist_coeffs[4])

    def fov_deg(self) -> tuple[float, float]:
        """Full horizontal and vertical field of view in degrees (pinhole, ignoring distortion)."""
        return (
            2 * np.degrees(np.arctan(self.width / 2 / self.fx)),
            2 * np.degrees(np.arctan(self.height / 2 / self.fy)),
        )

    def half_diagonal_rad(self) -> float:
        """Angle from the boresight to the frame corner (pinhole), radians."""
        return float(np.arctan(np.hypot(self.width / 2, self.height / 2) / self.fx))


def radial_monotonic_limit(k1: float, k2: float, k3: float) -> float:
    """Smallest r > 0 at which d/dr [r (1 + k1 r^2 + k2 r^4 + k3 r^6)] = 0, or inf if none.

    d/dr = 1 + 3 k1 r^2 + 5 k2 r^4 + 7 k3 r^6, a cubic in u = r^2.
    """
    roots = np.roots([7.0 * k3, 5.0 * k2, 3.0 * k1, 1.0]) if (k1 or k2 or k3) else np.array([])
    positive = [r.real for r in np.atleast_1d(roots) if abs(r.imag) < 1e-12 and r.real > 0]
    return float(np.sqrt(min(positive))) if positive else float("inf")


def project_camera_points(camera: Camera, points_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project camera-frame directions/points [..., 3] to pixel coordinates (x, y).

    Points with z <= 0 (behind the camera) or beyond the distortion's monotonic radius give NaN.
    """
    p = np.asarray(points_cam, dtype=np.float64)
    z = p[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        xn = p[..., 0] / z
        yn = p[..., 1] / z
    k1, k2, p1, p2, k3 = camera.dist_coeffs
    r2 = xn * xn + yn * yn
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = xn * radial + 2.0 * p1 * xn * yn + p2 * (r2 + 2.0 * xn * xn)
    yd = yn * radial + p1 * (r2 + 2.0 * yn * yn) + 2.0 * p2 * xn * yn
    u = camera.fx * xd + camera.cx
    v = camera.fy * yd + camera.cy
    bad = ~(z > 0) | (r2 > camera.max_valid_radius**2)
    u = np.where(bad, np.nan, u)
    v = np.where(bad, np.nan, v)
    return u, v


def pixel_to_camera_ray(camera: Camera, x: np.ndarray, y: np.ndarray, iterations: int = 20) -> np.ndarray:
    """Unit camera-frame ray [..., 3] through pixel (x, y), inverting the distortion iteratively."""
    xd = (np.asarray(x, dtype=np.float64) - camera.cx) / camera.fx
    yd = (np.asarray(y, dtype=np.float64) - camera.cy) / camera.fy
    k1, k2, p1, p2, k3 = camera.dist_coeffs
    xn, yn = xd.copy(), yd.copy()
    for _ in range(iterations):
        r2 = xn * xn + yn * yn
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2.0 * p1 * xn * yn + p2 * (r2 + 2.0 * xn * xn)
        dy = p1 * (r2 + 2.0 * yn * yn) + 2.0 * p2 * xn * yn
        xn = (xd - dx) / radial
        yn = (yd - dy) / radial
    ray = np.stack([xn, yn, np.ones_like(xn)], axis=-1)
    return ray / np.linalg.norm(ray, axis=-1, keepdims=True)


def project_directions_at_knots(camera: Camera, directions: np.ndarray, rotations: np.ndarray):
    """Pixel positions (x, y) [M, K] of apparent directions [M, K, 3] (ICRS/GCRS axes, already aberrated)
    seen through camera attitudes ``rotations`` [K, 3, 3] (R_icrs_to_cam). For sources whose direction
    changes from knot to knot (Moon, planets, points on the Earth)."""
    cam = np.einsum("kij,mkj->mki", rotations, directions)
    return project_camera_points(camera, cam)
