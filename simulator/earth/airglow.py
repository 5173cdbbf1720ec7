"""Airglow: emission layers of the upper atmosphere seen along the camera's lines of sight.

Model
-----
Each layer is a shell of volume emission rate that depends on geodetic altitude h (WGS84) only, a Gaussian
of peak altitude h0 and standard deviation σ = FWHM / (2 √(2 ln 2)):

    ε(h) = Z / (σ √(2π)) · exp(−(h − h0)² / (2σ²))        [R km⁻¹]

normalised so that its vertical column ∫ε dh is the layer's zenith brightness Z [R] (the profile is not cut
at the ground: the mass below h = 0 is Φ(−h0/σ) < 1e-100 for the default layers). A Chapman shape is not
modelled; the real O(¹D) 630 nm layer is asymmetric (long topside tail), which a Gaussian ignores.

The apparent brightness of a line of sight is its column (line-of-sight integral) of ε, in rayleighs (R):
the emission is optically thin and isotropic, so a column of 1 R has the photon radiance
1 R = 10¹⁰ / (4π) photons s⁻¹ m⁻² sr⁻¹ (= 10⁶/(4π) photons s⁻¹ cm⁻² sr⁻¹, the definition of the rayleigh;
Hunten, Roach & Chamberlain 1956). The column stops where the ray meets the WGS84 ellipsoid: a ray that hits
the ground sees only the layer between the observer and the ground (the near side). No extinction and no
refraction: the near-side emission and the limb band (tangent points at 60-120 km) reach the ISS through air
too thin to matter; only rays whose tangent point lies in the lower atmosphere (within ≈ 0.5° above the hard
limb) would see the far-side crossing attenuated, which is not modelled here.

Numerics
--------
The ray o + s·d (pole frame, km) is mapped to the frame where the ellipsoid is a sphere (z scaled by a/b).
There the scaled radius is r'(s)² = D²(s − s_t)² + r_t², whose closest approach r_t (to the whole line) gives
the substitution r' = r_t + u², i.e. |s − s_t| = u √(2 r_t + u²) / D, smooth in u through the tangent point
(where the integrand as a function of altitude has a 1/√ singularity). The "scaled altitude" h' = r' − a
differs from the geodetic altitude by 0 ≤ h' − h ≤ 0.0034 h (the surface h = 0 maps exactly onto the sphere,
so the ground hit is exact). Each branch of the ray (toward the tangent point and away from it) is cut where
h' crosses h0 + kσ, k ∈ {−6, −2, 2, 6} (the top widened by the bound on h' − h), and each of the three pieces
is integrated by 8-point Gauss–Legendre in u. Beyond ±6σ the Gaussian holds < 2e-9 of the column. At the nodes
the geodetic altitude is h = h' / √(1 + e'² sin²β), sin β = (a/b) z / r' (the parametric latitude of the
point; first order in h/a, closed form: < 1e-5 km at 97 km, < 2e-4 km at 450 km against the exact solution).
Against an independent trapezoid integration (ERFA gc2gd altitudes, 10 m steps) the column agrees to < 2e-5
relative (``tests/test_airglow.py``; typically 1e-7). One column costs ≈ 1–2 µs.

Image
-----
:func:`airglow_image` evaluates the exact columns on a coarse grid of pixels (every ``step`` px) and fills each
cell, per layer geometry, in the cheapest of three ways that reproduces the exact column at the cell's centre
to ``rtol``: (0) bilinear interpolation of the corner columns (smooth regions); (1) a 1-D reference table of the
column against the ray's tangent variable v (the geodetic altitude of its tangent point, or the scaled one,
negative, for rays that hit the ground), built along rays in the boresight's vertical plane, times the
bilinearly interpolated ratio exact/table of the corners: the table carries the thin limb band and the jump
at the hard limb, the ratio only the slow change of the Earth's curvature along the limb (≈ 1 ± 0.003); (2)
the exact column at every pixel. Pixel rays are bilinear in the coarse grid of undistorted normalised
coordinates from :func:`~simulator.camera.projection.pixel_to_camera_ray` (≈ 1e-4 px); the pixel solid angle
comes from the Jacobian of the Brown–Conrady distortion: Ω = (1/(f_x f_y)) / det(∂x_d/∂x_n) · (1 + x_n² +
y_n²)^(−3/2) [sr] (:func:`pixel_solid_angle`). A pixel's value is the radiance at its centre times Ω: no
sub-pixel averaging (the hard limb is point-sampled) and no PSF (the renderer's job).

Limb geometry (thin Gaussian layer, spherical Earth of radius r0 = R + h0, tangent point far from observer)
--------------------------------------------------------------------------------------------------------
Near the tangent point h ≈ h_t + x with x = s²/(2 r0), so ds = √(r0 / (2x)) dx on each of the two branches:

    C(h_t) = √(2 r0) ∫₀^∞ ε(h_t + x) x^(−1/2) dx.

At h_t = h0, with ∫₀^∞ exp(−x²/2σ²) x^(−1/2) dx = Γ(1/4) (2σ²)^(1/4) / 2,

    C(h0) / Z = Γ(1/4) / (2^(3/4) √π) · √(r0 / σ) ≈ 1.2163 √(r0 / σ)          (:func:`thin_layer_limb_ratio`)

(53.1 for h0 = 97 km, FWHM 8 km, r0 = 6371 + 97 km; 61.3 and 47.5 for FWHM 6 and 10 km: REFERENCES.md §3.2
gives 61, 53, 48 [C]). The column is not largest at h_t = h0: C(h_t) ∝ ∫₀^∞ exp(−(t + x')²/2) x'^(−1/2) dx'
with t = (h_t − h0)/σ peaks at t* = −0.7650 (:data:`LIMB_PEAK_OFFSET_SIGMA`), where it is 1.1873 × C(h0): the
bright line of the limb band lies 0.77σ (2.6 km for FWHM 8 km) *below* the layer's emission peak.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ..sky.apparent import C_KM_S
from ..thread_order import round_robin
from .ellipsoid import WGS84_A_KM, WGS84_B_KM, WGS84_E2, pole_frame
from .occultation import tangent_altitude

# 1 R = 1e6 / (4π) photons s^-1 cm^-2 sr^-1 (Hunten, Roach & Chamberlain 1956, J. Atmos. Terr. Phys. 8, 345).
PHOTON_RADIANCE_PER_RAYLEIGH = 1e10 / (4.0 * math.pi)  # photons s^-1 m^-2 sr^-1 per R
# R per (photons s^-1 m^-2 arcsec^-2): 4π/1e10 · (648000/π)^2 = 53.46 (the unit of the ESO sky-model line list).
RAYLEIGH_PER_PHOTON_M2_ARCSEC2 = 4.0 * math.pi / 1e10 * (648000.0 / math.pi) ** 2
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
# Maximum of t -> ∫_0^∞ exp(-(t+x)^2/2) x^(-1/2) dx (thin-layer limb profile, see the module docstring):
# solved numerically (scipy quad + bounded minimisation), t* = -0.76495, C(t*)/C(0) = 1.18731.
LIMB_PEAK_OFFSET_SIGMA = -0.76495
LIMB_PEAK_OVER_PEAK_TANGENT = 1.18731

_EP2 = WGS84_E2 / (1.0 - WGS84_E2)
_K_SCALE = WGS84_A_KM / WGS84_B_KM
# 0 <= h' - h <= _SCALED_ALT_EXCESS * h for the scaled-sphere altitude h' (max over latitudes: f/(1-f) · sin^2).
_SCALED_ALT_EXCESS = 0.00337
_N_SIGMA = 6.0
_BREAKS_SIGMA = np.array([-6.0, -2.0, 2.0, 6.0])
# 8-point Gauss-Legendre nodes and weights on [-1, 1].
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)


@dataclass(frozen=True)
class AirglowLayer:
    """One emission layer.

    name: label. wavelength_m: line centre (vacuum, m), or (lo, hi) in m for a band with a flat photon
    spectrum between lo and hi. peak_altitude_km: altitude of the volume-emission peak above WGS84 (km).
    fwhm_km: full width at half maximum of the Gaussian volume-emission profile in altitude (km).
    zenith_rayleigh: the layer's vertical column brightness Z (R), i.e. seen looking straight up from below
    it (or down from above it), without extinction. source: where the numbers come from.
    """

    name: str
    wavelength_m: float | tuple[float, float]
    peak_altitude_km: float
    fwhm_km: float
    zenith_rayleigh: float
    source: str = ""

    def __post_init__(self):
        if self.fwhm_km <= 0 or self.zenith_rayleigh < 0 or self.peak_altitude_km <= 0:
            raise ValueError(f"airglow layer {self.name}: need fwhm_km > 0, zenith_rayleigh >= 0, peak > 0")
        if isinstance(self.wavelength_m, tuple):
            lo, hi = self.wavelength_m
            if not 0 < lo < hi:
                raise ValueError(f"airglow layer {self.name}: band (lo, hi) needs 0 < lo < hi")

    @property
    def sigma_km(self) -> float:
        """Standard deviation of the Gaussian profile (km)."""
        return self.fwhm_km / FWHM_PER_SIGMA

    @property
    def is_band(self) -> bool:
        """True for a band (lo, hi) with a flat photon spectrum, False for a line."""
        return isinstance(self.wavelength_m, tuple)


# --- Default layers -------------------------------------------------------------------------------------------
# Brightness: the ESO Cerro Paranal sky model (Noll et al. 2012, A&A 543, A92), its airglow line list
# `airglow_lines.dat` (UVES atlas of Hanuschik 2003 / Cosby et al. 2006 scaled to the mean FORS1 intensities of
# Patat 2008; zenith, unextincted; flux unit photons s^-1 m^-2 arcsec^-2, × 53.46 -> R), as shipped in the
# sdss/lvmsky repository (skymodel/sm-01_mod2/data/airglow_lines.dat). Altitudes: the same model's variability
# file (skycorr/sysdata/airglow_var.dat: "typical altitude of emission" 97, 92, 270, 87 km for OI 557.7, Na D,
# OI red, OH). These are means at one low-latitude site (24.6° S); the model's own 1σ scatter of the nightly
# intensity is ±45 % (557.7), ±60 % (Na), ±100 % (630), ±30 % (OH), and the green line varies with the solar
# cycle. PALACE v1.0 (Noll et al. 2024, its pmd_intdata_atom.dat) gives 163 R for 557.7 nm, 37 R for Na D and
# 164 R for 630.0 + 636.4 nm at the same site; the classic mid-latitude figure for 557.7 nm is ≈ 250 R
# (REFERENCES.md §3.2, [U]).
# Widths: O(1S) FWHM 8 km, inside the 6-10 km of REFERENCES.md §3.1 [M]; OH 8 km (REFERENCES: 7-8 km);
# Na 10 km (REFERENCES: "few km to ~10 km"; estimate); O(1D) 60 km ("very broad, tens of km"; estimate).
_ESO = "ESO sky model line list (Noll et al. 2012), Paranal mean, zenith"
_OH_SOURCE = ("sum of the OH lines >= 0.005 ph s-1 m-2 arcsec-2 in this 10 nm bin of the ESO sky-model line list "
              "(Noll et al. 2012; the weaker lines, ~3 % of the total, are left out), Paranal mean, zenith")
# OH Meinel bands inside the DSLR passbands (the camera curves end at 780 nm): zenith R per 10 nm bin.
# Beyond 780 nm (only cameras without an IR-cut filter see it) OH is much brighter and is NOT modelled yet.
_OH_BINS_NM_R = (
    (550, 3.9), (560, 3.6), (580, 10.5), (590, 18.6), (600, 1.3), (610, 5.6), (620, 39.0), (630, 28.3),
    (640, 13.7), (650, 44.1), (660, 6.2), (680, 62.2), (690, 61.2), (700, 11.9), (710, 3.2), (720, 159.6),
    (730, 180.3), (740, 90.2), (750, 83.8), (760, 52.8), (770, 307.1),
)
DEFAULT_LAYERS: tuple[AirglowLayer, ...] = (
    AirglowLayer("OI 557.7 nm", 557.890e-9, 97.0, 8.0, 190.0, _ESO + " (3.553 ph s-1 m-2 arcsec-2)"),
    AirglowLayer("Na D2 589.0 nm", 589.159e-9, 92.0, 10.0, 27.2, _ESO + " (0.508)"),
    AirglowLayer("Na D1 589.6 nm", 589.756e-9, 92.0, 10.0, 16.0, _ESO + " (0.299)"),
    AirglowLayer("OI 630.0 nm", 630.205e-9, 270.0, 60.0, 139.5, _ESO + " (2.609)"),
    AirglowLayer("OI 636.4 nm", 636.554e-9, 270.0, 60.0, 46.4, _ESO + " (0.868)"),
) + tuple(
    AirglowLayer(f"OH {lo}-{lo + 10} nm", (lo * 1e-9, (lo + 10) * 1e-9), 87.0, 8.0, r, _OH_SOURCE)
    for lo, r in _OH_BINS_NM_R
)


def rayleigh_to_photon_radiance(rayleigh):
    """Photon radiance (photons s⁻¹ m⁻² sr⁻¹) of a column brightness in rayleighs: R × 10¹⁰/(4π)."""
    return np.asarray(rayleigh, dtype=np.float64) * PHOTON_RADIANCE_PER_RAYLEIGH


def photon_radiance_to_rayleigh(radiance):
    """Column brightness (R) of a photon radiance in photons s⁻¹ m⁻² sr⁻¹."""
    return np.asarray(radiance, dtype=np.float64) / PHOTON_RADIANCE_PER_RAYLEIGH


def thin_layer_limb_ratio(peak_altitude_km: float, fwhm_km: float, earth_radius_km: float = 6371.0) -> float:
    """Analytic limb/zenith column ratio C(h_t = h0)/Z of a thin Gaussian layer (module docstring).

    Γ(1/4) / (2^(3/4) √π) · √(r0/σ), r0 = earth_radius_km + peak_altitude_km, σ = FWHM / 2.3548.
    """
    sigma = fwhm_km / FWHM_PER_SIGMA
    r0 = earth_radius_km + peak_altitude_km
    return math.gamma(0.25) / (2.0**0.75 * math.sqrt(math.pi)) * math.sqrt(r0 / sigma)


# --- Ray integration (numba) ----------------------------------------------------------------------------------

@njit(cache=True)
def _ray_geometry(ox, oy, oz, dx, dy, dz):
    """Scaled-sphere geometry of the half-line o + s d: (s_t, r_t, D, r_obs).

    s_t: parameter of the closest approach of the whole line to the centre in the scaled frame; r_t: that
    scaled radius; D: |d'| (length of the scaled direction); r_obs: scaled radius of the observer.
    """
    sx, sy, sz = ox, oy, oz * _K_SCALE
    ex, ey, ez = dx, dy, dz * _K_SCALE
    d2 = ex * ex + ey * ey + ez * ez
    b1 = sx * ex + sy * ey + sz * ez
    r_obs2 = sx * sx + sy * sy + sz * sz
    st = -b1 / d2
    rt2 = r_obs2 - b1 * b1 / d2
    rt = math.sqrt(rt2) if rt2 > 0.0 else 0.0
    return st, rt, math.sqrt(d2), math.sqrt(r_obs2)


@njit(cache=True)
def _branch_integral(ox, oy, oz, dx, dy, dz, st, rt, dlen, sign, u_a, u_b, h0, sig, gl_x, gl_w, breaks):
    """∫ exp(-(h - h0)²/2σ²) ds over the branch s = s_t + sign·u√(2r_t+u²)/D, u ∈ [u_a, u_b] (km)."""
    if u_b <= u_a:
        return 0.0
    total = 0.0
    n_br = breaks.shape[0]
    htl = rt - WGS84_A_KM
    prev = u_a
    for kb in range(n_br):
        hb = h0 + breaks[kb] * sig
        if kb == n_br - 1:  # the top break: widen by the bound on the scaled-altitude excess
            hb += _SCALED_ALT_EXCESS * hb + 0.01
        du2 = hb - htl
        ub = math.sqrt(du2) if du2 > 0.0 else 0.0
        hi = ub if ub < u_b else u_b
        lo = prev
        if hi > lo:
            if kb > 0:  # pieces between consecutive breaks; below the first break there is nothing
                half = 0.5 * (hi - lo)
                mid = 0.5 * (hi + lo)
                acc = 0.0
                for j in range(gl_x.shape[0]):
                    u = mid + half * gl_x[j]
                    q = 2.0 * rt + u * u
                    sq = math.sqrt(q)
                    s = st + sign * u * sq / dlen
                    r_s = rt + u * u  # scaled radius, exact
                    sb = _K_SCALE * (oz + s * dz) / r_s
                    h = (r_s - WGS84_A_KM) / math.sqrt(1.0 + _EP2 * sb * sb)
                    t = (h - h0) / sig
                    if t * t < 200.0:
                        acc += gl_w[j] * math.exp(-0.5 * t * t) * (2.0 * rt + 2.0 * u * u) / sq
                total += acc * half / dlen
            prev = hi
        if prev >= u_b:
            break
    return total


@njit(cache=True)
def _column_unit(ox, oy, oz, dx, dy, dz, h0, sig, gl_x, gl_w, breaks):
    """Column (R) of a layer of zenith brightness 1 R along the half-line o + s d, s >= 0 (pole frame, km).

    Stops at the WGS84 ellipsoid. ``d`` must be a unit vector.
    """
    st, rt, dlen, r_obs = _ray_geometry(ox, oy, oz, dx, dy, dz)
    u_obs2 = r_obs - rt
    u_obs = math.sqrt(u_obs2) if u_obs2 > 0.0 else 0.0
    h_top = h0 + _N_SIGMA * sig
    h_top += _SCALED_ALT_EXCESS * h_top + 0.01
    total = 0.0
    if st > 0.0:
        # toward the tangent point: u from u_obs down to 0, or to the ground (r' = a)
        u_end = 0.0
        hits_ground = rt < WGS84_A_KM
        if hits_ground:
            u_end = math.sqrt(WGS84_A_KM - rt)
        if rt - WGS84_A_KM < h_top:
            total += _branch_integral(ox, oy, oz, dx, dy, dz, st, rt, dlen, -1.0, u_end, u_obs, h0, sig,
                                      gl_x, gl_w, breaks)
            if not hits_ground:
                total += _branch_integral(ox, oy, oz, dx, dy, dz, st, rt, dlen, 1.0, 0.0, 1e300, h0, sig,
                                          gl_x, gl_w, breaks)
    else:
        if r_obs - WGS84_A_KM < h_top:
            total += _branch_integral(ox, oy, oz, dx, dy, dz, st, rt, dlen, 1.0, u_obs, 1e300, h0, sig,
                                      gl_x, gl_w, breaks)
    return total / (sig * math.sqrt(2.0 * math.pi))


@njit(parallel=True, cache=True)
def _columns(o, dirs, h0, sig, gl_x, gl_w, breaks):
    n = dirs.shape[0]
    out = np.empty(n)
    for i in prange(n):
        out[i] = _column_unit(o[0], o[1], o[2], dirs[i, 0], dirs[i, 1], dirs[i, 2], h0, sig, gl_x, gl_w, breaks)
    return out


@njit(cache=True)
def _scaled_tangent_altitude(ox, oy, oz, dx, dy, dz):
    """Minimum scaled altitude r' - a over the half-line s >= 0 (the observer's if the ray rises)."""
    st, rt, dlen, r_obs = _ray_geometry(ox, oy, oz, dx, dy, dz)
    if st > 0.0:
        return rt - WGS84_A_KM
    return r_obs - WGS84_A_KM


def _as_pole_frame(origin_km, directions, pole):
    o = np.asarray(origin_km, dtype=np.float64).reshape(3)
    d = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    if pole is not None:
        rot = pole_frame(np.asarray(pole, dtype=np.float64))
        o = rot @ o
        d = d @ rot.T
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    return np.ascontiguousarray(o), np.ascontiguousarray(d)


def limb_column_rayleigh(origin_km, directions, layer: AirglowLayer, pole=None) -> np.ndarray:
    """Apparent column brightness [M] (R) of ``layer`` along rays from ``origin_km``.

    origin_km [3]: observer position (km); directions [M, 3]: ray directions (normalised here). Both in GCRS
    when ``pole`` (the Earth's rotation axis in GCRS, e.g. ellipsoid.earth_pole_gcrs) is given, else in a
    pole-aligned frame with the ellipsoid's axis along +z (Earth-fixed axes or ellipsoid.pole_frame(pole)).
    The line-of-sight integral of the layer's volume emission rate, in geodetic altitude above WGS84, from
    the observer to infinity or to where the ray meets the ellipsoid.
    """
    o, d = _as_pole_frame(origin_km, directions, pole)
    return layer.zenith_rayleigh * _columns(o, d, float(layer.peak_altitude_km), float(layer.sigma_km),
                                            _GL_X, _GL_W, _BREAKS_SIGMA)


def scaled_tangent_altitude(origin_km, directions, pole=None) -> np.ndarray:
    """Minimum over s >= 0 of the scaled-sphere altitude r' − a (km) of rays [M]; < 0 exactly when the ray hits
    the ellipsoid. Within 0.34 % of the geodetic tangent altitude above the ground."""
    o, d = _as_pole_frame(origin_km, directions, pole)
    return np.array([_scaled_tangent_altitude(o[0], o[1], o[2], *row) for row in d])


# --- Spectral response ------------------------------------------------------------------------------------------

def layer_channel_response(layers, camera_spectral) -> np.ndarray:
    """Electrons per photon entering the aperture [L, C] for each layer in each channel.

    camera_spectral: a :class:`simulator.camera.bandpass.CameraSpectral` (lens × window × channel QE on its
    wavelength grid). A line takes the response interpolated at its wavelength (0 outside the grid); a band
    (lo, hi) with a flat photon spectrum takes the mean response over [lo, hi] (trapezoid on a 0.1 nm grid).
    """
    lam = np.asarray(camera_spectral.wavelength_m, dtype=np.float64)
    resp = np.asarray(camera_spectral.response, dtype=np.float64)
    out = np.zeros((len(layers), resp.shape[0]))
    for i, layer in enumerate(layers):
        for c in range(resp.shape[0]):
            if layer.is_band:
                lo, hi = layer.wavelength_m
                grid = np.linspace(lo, hi, max(2, int(round((hi - lo) / 1e-10)) + 1))
                vals = np.interp(grid, lam, resp[c], left=0.0, right=0.0)
                out[i, c] = np.trapezoid(vals, grid) / (hi - lo)
            else:
                out[i, c] = np.interp(layer.wavelength_m, lam, resp[c], left=0.0, right=0.0)
    return out


def flat_channel_response(layers, throughput: float, n_channels: int = 1) -> np.ndarray:
    """[L, C] response ``throughput`` (electrons per photon) for every layer: photometry v1 cameras."""
    return np.full((len(layers), n_channels), float(throughput))


# --- Image ------------------------------------------------------------------------------------------------------

@njit(cache=True)
def _solid_angle(xn, yn, k1, k2, p1, p2, k3, inv_fxfy):
    """Pixel solid angle (sr) at undistorted normalised coordinates (xn, yn): 1/(fx fy) / det J · (1+r²)^-3/2."""
    return _solid_angle_powered(xn, yn, k1, k2, p1, p2, k3, inv_fxfy, 1.5)


@njit(cache=True)
def _solid_angle_powered(xn, yn, k1, k2, p1, p2, k3, inv_fxfy, power):
    """1/(fx fy) / det J · (1+r²)^-power: the solid angle for power 3/2; times cos^p θ for 3/2 + p/2."""
    r2 = xn * xn + yn * yn
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    drad = 2.0 * k1 + r2 * (4.0 * k2 + 6.0 * k3 * r2)  # 2 · d radial / d r²
    # xd = xn radial + 2 p1 xn yn + p2 (r2 + 2 xn²); yd = yn radial + p1 (r2 + 2 yn²) + 2 p2 xn yn
    a11 = radial + xn * xn * drad + 2.0 * p1 * yn + 6.0 * p2 * xn
    a12 = xn * yn * drad + 2.0 * p1 * xn + 2.0 * p2 * yn
    a22 = radial + yn * yn * drad + 6.0 * p1 * yn + 2.0 * p2 * xn
    det = a11 * a22 - a12 * a12
    return inv_fxfy / det / (1.0 + r2) ** power


@njit(cache=True, inline="always")
def _ray_dir(xn, yn, m, b, j):
    """Unit pole-frame direction of the light that reaches the camera ray (xn, yn, 1) at node j; m[j]: camera ->
    pole-frame rotation (indexed here: a view m[j] per pixel costs as much as the product); b[j]: the observer's
    velocity over c (pole frame). The ray's apparent direction d is the light's d_g aberrated by the observer's
    motion, d = d_g + β − (d_g·β) d_g to first order, so d_g = d − β + (d·β) d (unit to O(β²) = 7e-10 at the
    ISS's 7.7 km/s; the relativistic terms of sky.apparent.aberrate are of the same order)."""
    inv = 1.0 / math.sqrt(xn * xn + yn * yn + 1.0)
    dx = (m[j, 0, 0] * xn + m[j, 0, 1] * yn + m[j, 0, 2]) * inv
    dy = (m[j, 1, 0] * xn + m[j, 1, 1] * yn + m[j, 1, 2]) * inv
    dz = (m[j, 2, 0] * xn + m[j, 2, 1] * yn + m[j, 2, 2]) * inv
    db = dx * b[j, 0] + dy * b[j, 1] + dz * b[j, 2]
    return dx + db * dx - b[j, 0], dy + db * dy - b[j, 1], dz + db * dz - b[j, 2]


@njit(cache=True)
def _tangent_variable(ox, oy, oz, dx, dy, dz):
    """The variable v of the column tables: NaN for a rising ray (no tangent point ahead); else the scaled
    tangent altitude r_t − a when < 0 (the ray hits the ground), or the geodetic altitude of the scaled tangent
    point, (r_t − a)/√(1 + e'² sin²β), when >= 0. Continuous, 0 on the hard limb."""
    st, rt, dlen, r_obs = _ray_geometry(ox, oy, oz, dx, dy, dz)
    if st <= 0.0:
        return np.nan
    htp = rt - WGS84_A_KM
    if htp < 0.0:
        return htp
    sb = _K_SCALE * (oz + st * dz) / rt
    return htp / math.sqrt(1.0 + _EP2 * sb * sb)


@njit(cache=True)
def _lookup(tab, j, g, v, sky_dv, n_sky, gnd_dv, n_gnd):
    """Linear interpolation of node j's table row g at v (sky part [0, (n_sky-1) dv], ground part
    [-(n_gnd-1) dv, 0⁻]; the ground part starts at n_sky)."""
    if v >= 0.0:
        f = v / sky_dv
        i = int(f)
        if i >= n_sky - 1:
            return tab[j, g, n_sky - 1]
        f -= i
        return tab[j, g, i] * (1.0 - f) + tab[j, g, i + 1] * f
    f = -v / gnd_dv
    i = int(f)
    if i >= n_gnd - 1:
        return tab[j, g, n_sky + n_gnd - 1]
    f -= i
    # ground entries follow the sky ones: index n_sky + k holds v = -k gnd_dv, k = 0 being just below the hard limb
    return tab[j, g, n_sky + i] * (1.0 - f) + tab[j, g, n_sky + i + 1] * f


@njit(parallel=True, cache=True)
def _image_kernel(xs, ys, xn_g, yn_g, m, b, o, wt, h0s, sigs, weights, gl_x, gl_w, breaks, dist, inv_fxfy,
                  vig_p, vig_m, cx, cy, inv_half_diag2, rtol, atol, tab, sky_dv, n_sky, gnd_dv, n_gnd, out,
                  n_exact, cell_mode, row_order):
    """Fill out[H, W, C] with Ω · vignetting · Σ_j wt[j] Σ_g column_g(state j) · weights[g, :].

    States j (time nodes): m[j] camera -> pole frame, b[j] the observer's velocity over c and o[j] its position
    (pole frame), tab[j] and n_sky[j] its column tables (the pixels' rays are the light's directions: _ray_dir). Per cell and geometry: mode 0, bilinear interpolation of the corners' columns (summed over the
    nodes); mode 1, at each node the column table at the pixel's tangent variable times the bilinearly
    interpolated ratio exact/table of the corners at the middle node j_ref (it carries the slow change of the
    Earth's curvature along the limb, the same at a frame's nodes; the other nodes' exact corner columns are
    computed only where a corner ray rises at some node, for mode 0), the tangent variable exact at j_ref and at
    the others that plus the bilinear interpolation of the corners' differences from it (they change slowly
    across the frame); mode 2, exact evaluation at every pixel and node; mode 3,
    nothing (the corners' and the centre's rays pass above the layer at every node). Modes 0 and 1 are used only
    if they reproduce the exact column at the cell centre to rtol (relative) + atol (R per R of zenith
    brightness), tested at the middle node j_ref (the other nodes' pixels share its ratio and follow its
    tangent variable by smooth offsets; testing every node changed no error measured, and cost a third of the
    kernel at three nodes). Mode 0 is tried where every corner's ray rises at every node, mode 1 where none
    does (nor the centre's). row_order: a permutation of the grid rows that deals them round-robin to the
    threads (prange hands out contiguous chunks, and the costly rows crowd about the limb); each row writes only
    its own pixels, so the result does not depend on it.
    """
    gy_n, gx_n = ys.shape[0], xs.shape[0]
    n_j = wt.shape[0]
    j_ref = n_j // 2  # the pixels' tangent variable is exact at this node, the others' differ smoothly from it
    n_g = h0s.shape[0]
    n_c = weights.shape[1]
    k1, k2, p1, p2, k3 = dist[0], dist[1], dist[2], dist[3], dist[4]
    tiny = 1e-6  # R per R: the ratio of two columns below this is taken as 1
    col_g = np.empty((n_j, n_g, gy_n, gx_n))
    v_g = np.empty((n_j, gy_n, gx_n))
    for i in prange(gy_n):
        iy = row_order[i]
        for ix in range(gx_n):
            rises = False
            for j in range(n_j):
                dx, dy, dz = _ray_dir(xn_g[iy, ix], yn_g[iy, ix], m, b, j)
                v_g[j, iy, ix] = _tangent_variable(o[j, 0], o[j, 1], o[j, 2], dx, dy, dz)
                rises = rises or np.isnan(v_g[j, iy, ix])
            # every node's exact column where the ray rises at some node (mode 0 interpolates their sum); else
            # the reference node's only, which the others' stand-ins copy (mode 1 takes its ratio exact/table)
            for j in range(n_j):
                if j == j_ref or rises:
                    dx, dy, dz = _ray_dir(xn_g[iy, ix], yn_g[iy, ix], m, b, j)
                    for g in range(n_g):
                        col_g[j, g, iy, ix] = _column_unit(o[j, 0], o[j, 1], o[j, 2], dx, dy, dz, h0s[g], sigs[g],
                                                           gl_x, gl_w, breaks)
            if not rises:
                for j in range(n_j):
                    for g in range(n_g):
                        col_g[j, g, iy, ix] = col_g[j_ref, g, iy, ix]
    for i in prange(gy_n):
        iy = row_order[i]
        if iy == gy_n - 1:
            continue  # (the last grid row starts no cell)
        y0, y1 = ys[iy], ys[iy + 1]
        last_y = iy == gy_n - 2
        mode = np.zeros(n_g, dtype=np.int64)
        ratio = np.zeros((n_g, 4))
        corner = np.zeros((n_g, 4))  # each geometry's corner columns, summed over the nodes
        v_px = np.empty(n_j)
        dv = np.zeros((n_j, 4))  # each node's tangent variable less the reference node's, at the corners
        for ix in range(gx_n - 1):
            x0, x1 = xs[ix], xs[ix + 1]
            last_x = ix == gx_n - 2
            xnc = 0.25 * (xn_g[iy, ix] + xn_g[iy, ix + 1] + xn_g[iy + 1, ix] + xn_g[iy + 1, ix + 1])
            ync = 0.25 * (yn_g[iy, ix] + yn_g[iy, ix + 1] + yn_g[iy + 1, ix] + yn_g[iy + 1, ix + 1])
            n_rising = 0  # corner rays that rise, over the nodes (4 n_j: all of them)
            centre_rising = False
            for j in range(n_j):
                if np.isnan(v_g[j, iy, ix]):
                    n_rising += 1
                if np.isnan(v_g[j, iy, ix + 1]):
                    n_rising += 1
                if np.isnan(v_g[j, iy + 1, ix]):
                    n_rising += 1
                if np.isnan(v_g[j, iy + 1, ix + 1]):
                    n_rising += 1
            if n_rising == 0:
                for j in range(n_j):
                    dv[j, 0] = v_g[j, iy, ix] - v_g[j_ref, iy, ix]
                    dv[j, 1] = v_g[j, iy, ix + 1] - v_g[j_ref, iy, ix + 1]
                    dv[j, 2] = v_g[j, iy + 1, ix] - v_g[j_ref, iy + 1, ix]
                    dv[j, 3] = v_g[j, iy + 1, ix + 1] - v_g[j_ref, iy + 1, ix + 1]
            need_v = False
            empty = True
            for g in range(n_g):
                for q in range(4):
                    corner[g, q] = 0.0
                for j in range(n_j):
                    corner[g, 0] += wt[j] * col_g[j, g, iy, ix]
                    corner[g, 1] += wt[j] * col_g[j, g, iy, ix + 1]
                    corner[g, 2] += wt[j] * col_g[j, g, iy + 1, ix]
                    corner[g, 3] += wt[j] * col_g[j, g, iy + 1, ix + 1]
                csum = corner[g, 0] + corner[g, 1] + corner[g, 2] + corner[g, 3]
                if n_rising == 4 * n_j and csum == 0.0:
                    mode[g] = 3  # rising rays above every layer: nothing to add
                    continue
                cc = 0.0
                pred = 0.0
                rsum = 0.0
                if n_rising == 0:
                    # the reference node's ratio exact/table at the corners serves every node
                    vq = (v_g[j_ref, iy, ix], v_g[j_ref, iy, ix + 1], v_g[j_ref, iy + 1, ix],
                          v_g[j_ref, iy + 1, ix + 1])
                    cq = (col_g[j_ref, g, iy, ix], col_g[j_ref, g, iy, ix + 1], col_g[j_ref, g, iy + 1, ix],
                          col_g[j_ref, g, iy + 1, ix + 1])
                    for q in range(4):
                        f = _lookup(tab, j_ref, g, vq[q], sky_dv, n_sky[j_ref], gnd_dv, n_gnd)
                        ratio[g, q] = (cq[q] + tiny) / (f + tiny)
                        rsum += ratio[g, q]
                # the cell is tested at the middle node: the others' pixels take its ratio, and their tangent
                # variables differ from its by the corners' offsets, which change slowly across the frame
                cdx, cdy, cdz = _ray_dir(xnc, ync, m, b, j_ref)
                cc = _column_unit(o[j_ref, 0], o[j_ref, 1], o[j_ref, 2], cdx, cdy, cdz, h0s[g], sigs[g], gl_x, gl_w,
                                  breaks)
                csum_ref = (col_g[j_ref, g, iy, ix] + col_g[j_ref, g, iy, ix + 1] + col_g[j_ref, g, iy + 1, ix]
                            + col_g[j_ref, g, iy + 1, ix + 1])
                if n_rising == 0:
                    vc = _tangent_variable(o[j_ref, 0], o[j_ref, 1], o[j_ref, 2], cdx, cdy, cdz)
                    if np.isnan(vc):
                        centre_rising = True
                    else:
                        pred = (_lookup(tab, j_ref, g, vc, sky_dv, n_sky[j_ref], gnd_dv, n_gnd) + tiny) * 0.25 * rsum - tiny
                if cc == 0.0 and csum == 0.0:
                    # the centre's and the corners' rays pass above the layer: so do the pixels' (mode 0 or 1
                    # would give them 0, or the table's rounding, ~1e-22)
                    mode[g] = 3
                    continue
                if n_rising == 4 * n_j:
                    mode[g] = 0 if abs(0.25 * csum_ref - cc) <= rtol * abs(cc) + atol else 2
                elif n_rising > 0 or centre_rising:
                    mode[g] = 2
                elif abs(pred - cc) <= rtol * abs(cc) + atol:
                    mode[g] = 1
                    need_v = True
                else:
                    mode[g] = 2
                empty = False
                if mode[g] == 2:
                    cell_mode[iy, ix] += 1
            if empty:
                continue
            ny = (y1 - y0 + 1) if last_y else (y1 - y0)
            nx = (x1 - x0 + 1) if last_x else (x1 - x0)
            inv_w = 1.0 / (x1 - x0)
            inv_h = 1.0 / (y1 - y0)
            for jy in range(ny):
                py = y0 + jy
                fy = jy * inv_h
                for jx in range(nx):
                    px = x0 + jx
                    fx = jx * inv_w
                    w00 = (1.0 - fx) * (1.0 - fy)
                    w01 = fx * (1.0 - fy)
                    w10 = (1.0 - fx) * fy
                    w11 = fx * fy
                    xn = (w00 * xn_g[iy, ix] + w01 * xn_g[iy, ix + 1] + w10 * xn_g[iy + 1, ix]
                          + w11 * xn_g[iy + 1, ix + 1])
                    yn = (w00 * yn_g[iy, ix] + w01 * yn_g[iy, ix + 1] + w10 * yn_g[iy + 1, ix]
                          + w11 * yn_g[iy + 1, ix + 1])
                    if vig_p != 0.0 or vig_m != 0.0:
                        # Ω (1 + r²)^-3/2 and the cos^p vignetting in one power: (1 + r²)^-(3 + p)/2
                        omega = _solid_angle_powered(xn, yn, k1, k2, p1, p2, k3, inv_fxfy, 1.5 + 0.5 * vig_p)
                        rho2 = ((px - cx) ** 2 + (py - cy) ** 2) * inv_half_diag2
                        omega *= min(max(1.0 - vig_m * rho2, 0.0), 1.0)
                    else:
                        omega = _solid_angle(xn, yn, k1, k2, p1, p2, k3, inv_fxfy)
                    if need_v:
                        dx, dy, dz = _ray_dir(xn, yn, m, b, j_ref)
                        v_ref = _tangent_variable(o[j_ref, 0], o[j_ref, 1], o[j_ref, 2], dx, dy, dz)
                        v_px[j_ref] = v_ref
                        for j in range(n_j):
                            if j != j_ref:
                                v_px[j] = v_ref + (w00 * dv[j, 0] + w01 * dv[j, 1] + w10 * dv[j, 2] + w11 * dv[j, 3])
                    for g in range(n_g):
                        md = mode[g]
                        if md == 2:
                            col = 0.0
                            for j in range(n_j):
                                dx, dy, dz = _ray_dir(xn, yn, m, b, j)
                                col += wt[j] * _column_unit(o[j, 0], o[j, 1], o[j, 2], dx, dy, dz, h0s[g], sigs[g],
                                                            gl_x, gl_w, breaks)
                            n_exact[iy] += n_j
                        elif md == 1:
                            r = w00 * ratio[g, 0] + w01 * ratio[g, 1] + w10 * ratio[g, 2] + w11 * ratio[g, 3]
                            col = 0.0
                            for j in range(n_j):
                                cj = (_lookup(tab, j, g, v_px[j], sky_dv, n_sky[j], gnd_dv, n_gnd) + tiny) * r - tiny
                                if cj > 0.0:
                                    col += wt[j] * cj
                        elif md == 3:
                            col = 0.0
                        else:
                            col = w00 * corner[g, 0] + w01 * corner[g, 1] + w10 * corner[g, 2] + w11 * corner[g, 3]
                        if col != 0.0:
                            for c in range(n_c):
                                out[py, px, c] += omega * col * weights[g, c]
    return out


@njit(cache=True)
def _solid_angles(xn, yn, dist, inv_fxfy):
    out = np.empty(xn.shape[0])
    for i in range(xn.shape[0]):
        out[i] = _solid_angle(xn[i], yn[i], dist[0], dist[1], dist[2], dist[3], dist[4], inv_fxfy)
    return out


def pixel_solid_angle(camera, x, y) -> np.ndarray:
    """Solid angle (sr) of the pixels centred at (x, y), from the Jacobian of the camera's distortion.

    Ω = 1/(f_x f_y) / det(∂(x_d, y_d)/∂(x_n, y_n)) · (1 + x_n² + y_n²)^(−3/2), at the undistorted normalised
    coordinates of the pixel centre (pixel_to_camera_ray): exact to second order in the pixel size.
    """
    from ..camera.projection import pixel_to_camera_ray

    ray = pixel_to_camera_ray(camera, np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    shape = ray.shape[:-1]
    xn = np.ascontiguousarray((ray[..., 0] / ray[..., 2]).ravel())
    yn = np.ascontiguousarray((ray[..., 1] / ray[..., 2]).ravel())
    return _solid_angles(xn, yn, np.asarray(camera.dist_coeffs, dtype=np.float64),
                         1.0 / (camera.fx * camera.fy)).reshape(shape)


# Largest coarse cell of airglow_image, degrees: across a 0.5° cell (~20 km along the limb from the ISS) the
# ratio exact/table stays linear to < 1e-3 (tests/test_airglow.py).
MAX_CELL_DEG = 0.5


def _grid(n: int, step: int) -> np.ndarray:
    g = np.arange(0, n, max(1, step), dtype=np.int64)
    if g.size < 2:
        g = np.array([0, n - 1], dtype=np.int64)
    if g[-1] != n - 1:
        g = np.append(g, n - 1)
    return g


def _column_tables(o, boresight_pole, h0s, sigs, sky_dv, gnd_dv):
    """Unit-zenith columns [G, n_sky + n_gnd] of each geometry along reference rays from the observer o
    (pole frame) in the vertical plane through ``boresight_pole``, tabulated on the tangent variable v
    (:func:`_tangent_variable`): sky part v = 0, dv, ..., ground part v = 0⁻, -dv_g, -2 dv_g, ... to the nadir.
    """
    k = _K_SCALE
    op = o * np.array([1.0, 1.0, k])
    r_obs = np.linalg.norm(op)
    nadir = -op / r_obs
    e = np.asarray(boresight_pole, dtype=np.float64) * np.array([1.0, 1.0, k])
    e = e - nadir * (e @ nadir)
    if np.linalg.norm(e) < 1e-9:  # looking straight down: any horizontal direction
        e = np.cross(nadir, [0.0, 0.0, 1.0]) if abs(nadir[2]) < 0.9 else np.cross(nadir, [1.0, 0.0, 0.0])
    e /= np.linalg.norm(e)

    def rays(rt):
        sin_a = np.clip(rt / r_obs, 0.0, 1.0 - 1e-12)
        cos_a = np.sqrt(1.0 - sin_a**2)
        dp = cos_a[:, None] * nadir + sin_a[:, None] * e  # unit, scaled frame
        tangent = op + (r_obs * cos_a)[:, None] * dp
        return dp, tangent

    v_top = r_obs - WGS84_A_KM
    n_sky = max(2, int(math.ceil(v_top / sky_dv)) + 1)
    v_sky = np.arange(n_sky) * sky_dv
    ht = v_sky.copy()
    for _ in range(4):  # solve (r_t - a)/sqrt(1 + e'^2 sin^2 beta) = v for r_t
        dp, tangent = rays(WGS84_A_KM + ht)
        sb = tangent[:, 2] / np.maximum(WGS84_A_KM + ht, 1.0)
        ht = v_sky * np.sqrt(1.0 + _EP2 * sb**2)
    dp_sky, _ = rays(WGS84_A_KM + ht)
    n_gnd = int(math.ceil(WGS84_A_KM / gnd_dv)) + 1
    v_gnd = -np.arange(n_gnd) * gnd_dv
    v_gnd[0] = -1e-9  # just below the hard limb: the near side only
    dp_gnd, _ = rays(np.maximum(WGS84_A_KM + v_gnd, 0.0))
    dp = np.concatenate([dp_sky, dp_gnd])
    d = dp / np.array([1.0, 1.0, k])
    d = np.ascontiguousarray(d / np.linalg.norm(d, axis=1, keepdims=True))
    tab = np.stack([_columns(o, d, h0, sig, _GL_X, _GL_W, _BREAKS_SIGMA) for h0, sig in zip(h0s, sigs)])
    return tab, n_sky, n_gnd


def airglow_image(camera, R_icrs_to_cam, observer_pos_gcrs_km, pole_gcrs, layers=DEFAULT_LAYERS,
                  channel_response=None, *, aperture_area_m2: float | None = None, vignetting: bool = True,
                  step: int | None = None, rtol: float = 1e-3, scale: float = 1.0, out: np.ndarray | None = None,
                  return_stats: bool = False, time_weights=None, observer_vel_gcrs_km_s=None):
    """Airglow signal [H, W, C] in electrons per second per pixel.

    camera: :class:`~simulator.camera.projection.Camera`. R_icrs_to_cam [3, 3]: rotation from GCRS/ICRS
    directions to the camera frame. observer_pos_gcrs_km [3]: observer (km, GCRS). pole_gcrs [3]: the Earth's
    rotation axis in GCRS (ellipsoid.earth_pole_gcrs). layers: sequence of :class:`AirglowLayer`.
    channel_response: [L, C] electrons per photon entering the aperture for each layer and channel (lens ×
    window × QE; :func:`layer_channel_response`), or a CameraSpectral, or None: the camera's own spectral
    response if it has a ``qe_curve``, else its ``throughput`` in one channel.
    aperture_area_m2: entrance-pupil area (m²), default camera.aperture_area_m2. vignetting: apply the camera's
    relative illumination (the formula of Camera.relative_illumination). step: coarse-grid spacing (px);
    default: cells of at most MAX_CELL_DEG (0.5°) and 16 px (14 px for a 14 mm lens on 8.45 µm pixels).
    rtol: the relative error allowed to an interpolated cell, checked against an exact column at its centre.
    scale: multiplies the result (e.g. a frame's duration in s, to get electrons). out: a float64 C-contiguous
    [H, W, C] array to add the result to (and return) instead of allocating one (a full D3S frame is 290 MB).
    Several states at once: R_icrs_to_cam [J, 3, 3] and observer_pos_gcrs_km [J, 3] with time_weights [J] give
    Σ_j time_weights[j] × (the image of state j) in one pass (e.g. a frame's quadrature in time: weights in s),
    sharing each pixel's ray, solid angle and vignetting. observer_vel_gcrs_km_s [3] (or [J, 3]): the observer's
    GCRS velocity (km/s); a pixel then sees the light whose direction, aberrated by it, is the pixel's ray (up to
    5.3″ from the ray at the ISS's speed: the limb band where the stars and city lights see it); None: the ray
    itself. The middle state's tangent variables, ratios and cell
    tests serve the others, so the states must be close: the layers' bands may move at most a few widths between
    them (render/airglow_layer.py groups a frame's nodes by GROUP_MOTION_SIGMA).

        pixel value = Σ_layers Z_l · C_l(ray) · 10¹⁰/(4π) · Ω_pixel · A · response_l,c · vignetting

    with C_l the column of the layer's geometry for 1 R of zenith brightness along the pixel-centre ray.
    Interpolation (module docstring): inside a cell, a layer's column is either bilinear in the corners' exact
    columns, or a reference table of the column against the tangent variable (1-D, built along rays in the
    boresight's vertical plane) times the bilinear interpolation of the corners' ratios exact/table (this
    follows the thin limb band, whose shape the table holds, while the ratio only carries the slow variation
    of the Earth's curvature along the limb), or exact at every pixel; the cheapest that reproduces the exact
    column at the cell's centre to ``rtol`` is used.
    """
    layers = tuple(layers)
    if channel_response is None:
        if camera.qe_curve is not None:
            from ..camera.bandpass import spectral_response

            channel_response = layer_channel_response(layers, spectral_response(camera))
        else:
            channel_response = flat_channel_response(layers, camera.throughput)
    elif not isinstance(channel_response, np.ndarray) and hasattr(channel_response, "response"):
        channel_response = layer_channel_response(layers, channel_response)
    resp = np.asarray(channel_response, dtype=np.float64)
    if resp.ndim != 2 or resp.shape[0] != len(layers):
        raise ValueError(f"channel_response must be [L={len(layers)}, C], not {resp.shape}")
    area = camera.aperture_area_m2 if aperture_area_m2 is None else float(aperture_area_m2)
    # layers that share a geometry (peak, width) share one column
    geoms: dict[tuple[float, float], int] = {}
    for layer in layers:
        geoms.setdefault((float(layer.peak_altitude_km), float(layer.sigma_km)), len(geoms))
    weights = np.zeros((len(geoms), resp.shape[1]))
    for i, layer in enumerate(layers):
        g = geoms[(float(layer.peak_altitude_km), float(layer.sigma_km))]
        weights[g] += layer.zenith_rayleigh * resp[i] * PHOTON_RADIANCE_PER_RAYLEIGH * area * float(scale)
    h0s = np.array([key[0] for key in geoms])
    sigs = np.array([key[1] for key in geoms])

    R = np.asarray(R_icrs_to_cam, dtype=np.float64)
    pos = np.asarray(observer_pos_gcrs_km, dtype=np.float64)
    if R.ndim == 2:
        R, pos = R[None], pos[None]
    if R.shape[1:] != (3, 3) or pos.shape != (R.shape[0], 3):
        raise ValueError(f"R_icrs_to_cam [J, 3, 3] and observer_pos_gcrs_km [J, 3] must match, not {R.shape}, "
                         f"{pos.shape}")
    wt = np.ones(R.shape[0]) if time_weights is None else np.asarray(time_weights, dtype=np.float64).reshape(-1)
    if wt.shape != (R.shape[0],):
        raise ValueError(f"time_weights must have one weight per state ({R.shape[0]}), not {wt.shape}")
    rot = pole_frame(np.asarray(pole_gcrs, dtype=np.float64))
    o = np.ascontiguousarray(pos @ rot.T)  # [J, 3] pole frame
    m = np.ascontiguousarray(rot @ np.transpose(R, (0, 2, 1)))  # [J, 3, 3] camera -> pole frame
    b = np.zeros_like(o)  # [J, 3] observer velocity / c, pole frame
    if observer_vel_gcrs_km_s is not None:
        b[:] = np.broadcast_to(np.asarray(observer_vel_gcrs_km_s, dtype=np.float64), o.shape) @ rot.T / C_KM_S

    from ..camera.projection import pixel_to_camera_ray

    if step is None:
        pixel_deg = math.degrees(camera.pixel_pitch_m / camera.focal_length_m)
        step = int(min(16, max(1, math.floor(MAX_CELL_DEG / pixel_deg))))
    xs, ys = _grid(camera.width, step), _grid(camera.height, step)
    gx, gy = np.meshgrid(xs.astype(np.float64), ys.astype(np.float64))
    rays = pixel_to_camera_ray(camera, gx, gy)
    xn_g = np.ascontiguousarray(rays[..., 0] / rays[..., 2])
    yn_g = np.ascontiguousarray(rays[..., 1] / rays[..., 2])

    sky_dv = float(sigs.min()) / 20.0
    gnd_dv = 1.0
    tables = [_column_tables(o[j], m[j, :, 2], h0s, sigs, sky_dv, gnd_dv) for j in range(o.shape[0])]
    n_sky = np.array([t[1] for t in tables], dtype=np.int64)
    n_gnd = tables[0][2]  # (the ground part depends only on its step)
    tab = np.zeros((len(tables), len(h0s), int(n_sky.max()) + n_gnd))
    for j, (t, ns, _) in enumerate(tables):
        tab[j, :, :ns] = t[:, :ns]
        tab[j, :, ns:ns + n_gnd] = t[:, ns:]

    vig_p = float(camera.vignetting_cos_power) if vignetting else 0.0
    vig_m = float(camera.vignetting_mechanical) if vignetting else 0.0
    if out is None:
        out = np.zeros((camera.height, camera.width, resp.shape[1]))
    elif (out.shape != (camera.height, camera.width, resp.shape[1]) or out.dtype != np.float64
          or not out.flags.c_contiguous):
        raise ValueError(f"out must be a C-contiguous float64 array of shape {(camera.height, camera.width, resp.shape[1])}")
    n_exact = np.zeros(len(ys), dtype=np.int64)
    cell_mode = np.zeros((len(ys) - 1, len(xs) - 1), dtype=np.int32)
    atol = 1e-2 * rtol  # R per R of zenith brightness: far below anything visible next to the limb (~50)
    _image_kernel(xs, ys, xn_g, yn_g, m, b, o, wt, h0s, sigs, weights, _GL_X, _GL_W, _BREAKS_SIGMA,
                  np.asarray(camera.dist_coeffs, dtype=np.float64), 1.0 / (camera.fx * camera.fy),
                  vig_p, vig_m, camera.cx, camera.cy, 1.0 / (camera.cx**2 + camera.cy**2), rtol, atol,
                  tab, sky_dv, n_sky, gnd_dv, n_gnd, out, n_exact, cell_mode, round_robin(len(ys)))
    if return_stats:
        return out, dict(exact_evaluations=int(n_exact.sum()), geometries=len(geoms), grid_nodes=int(xn_g.size),
                         exact_cells=cell_mode)
    return out


# --- Truth: where the layer peak is seen ------------------------------------------------------------------------

@njit(cache=True)
def _ray_tangent_altitudes(o, directions):
    """Exact geodetic tangent altitude (km) of rays from ``o`` along each of ``directions`` [n, 3] (pole frame)."""
    out = np.empty(directions.shape[0])
    for i in range(directions.shape[0]):
        out[i] = tangent_altitude(o[0], o[1], o[2], directions[i, 0], directions[i, 1], directions[i, 2])
    return out

def pixel_tangent_altitudes(camera, R_icrs_to_cam, observer_pos_gcrs_km, pole_gcrs, x, y,
                            observer_vel_gcrs_km_s=None) -> np.ndarray:
    """Exact geodetic tangent altitude (km) of the rays through pixel centres (x, y) (arrays of one shape): the
    lowest altitude along each ray ahead of the observer, the variable a thin layer's column follows (its limb
    band around the layer's peak, the jump at the hard limb at 0). Negative for rays that meet the ground (the
    line's lowest point inside the Earth), the observer's own altitude for rays that rise, NaN where the pixel has
    no ray (beyond the distortion's valid radius). observer_vel_gcrs_km_s [3]: as in airglow_image, the light
    seen along each ray (its direction un-aberrated); None: the ray itself."""
    from ..camera.projection import pixel_to_camera_ray

    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    rays = pixel_to_camera_ray(camera, x.ravel(), y.ravel())  # camera frame, unit (NaN where invalid)
    return camera_ray_tangent_altitudes(rays, R_icrs_to_cam, observer_pos_gcrs_km, pole_gcrs,
                                        observer_vel_gcrs_km_s).reshape(x.shape)


def camera_ray_tangent_altitudes(rays_cam, R_icrs_to_cam, observer_pos_gcrs_km, pole_gcrs,
                                 observer_vel_gcrs_km_s=None) -> np.ndarray:
    """pixel_tangent_altitudes of camera-frame unit rays [N, 3] (pixel_to_camera_ray's, computed once where the
    same pixels are asked at many times)."""
    rot = pole_frame(np.asarray(pole_gcrs, dtype=np.float64))
    o = np.ascontiguousarray(rot @ np.asarray(observer_pos_gcrs_km, dtype=np.float64))
    R = np.asarray(R_icrs_to_cam, dtype=np.float64)
    if observer_vel_gcrs_km_s is None:
        dirs = rays_cam @ (rot @ R.T).T  # camera -> pole frame
    else:  # camera -> GCRS (apparent) -> the light's -> pole frame
        dirs = light_directions(rays_cam @ R, observer_vel_gcrs_km_s) @ rot.T
    return _ray_tangent_altitudes(o, np.ascontiguousarray(dirs))


def light_directions(apparent, observer_vel_gcrs_km_s):
    """GCRS directions [..., 3] of the light seen along apparent directions [..., 3] by an observer moving at
    observer_vel_gcrs_km_s (km/s): the inverse of sky.apparent.aberrate (a boost by −β)."""
    from ..sky.apparent import aberrate

    return aberrate(apparent, -np.asarray(observer_vel_gcrs_km_s, dtype=np.float64) / C_KM_S)


def peak_tangent_altitude_directions(observer_pos_gcrs_km, pole_gcrs, altitude_km: float,
                                     n: int = 2048) -> np.ndarray:
    """Unit GCRS directions [n, 3] whose exact geodetic tangent altitude is ``altitude_km``.

    Starts from limb.limb_directions (tangent to the ellipsoid (a+h, b+h)) and corrects each direction in the
    vertical plane through the nadir by secant iterations on occultation.tangent_altitude (exact geodetic
    minimum along the ray) to < 1 mm.
    """
    from .limb import limb_directions

    rot = pole_frame(np.asarray(pole_gcrs, dtype=np.float64))
    o = rot @ np.asarray(observer_pos_gcrs_km, dtype=np.float64)
    d0 = limb_directions(observer_pos_gcrs_km, pole_gcrs, altitude_km, n) @ rot.T
    if d0.shape[0] == 0:
        return np.zeros((0, 3))
    nadir = -o / np.linalg.norm(o)
    # rotate each d toward/away from the nadir: d(a) = cos a · d + sin a · e, e ⟂ d in the (d, nadir) plane
    e = nadir[None, :] - d0 * (d0 @ nadir)[:, None]
    e /= np.linalg.norm(e, axis=1, keepdims=True)

    def f(a):
        v = np.cos(a)[:, None] * d0 + np.sin(a)[:, None] * e
        return _ray_tangent_altitudes(o, np.ascontiguousarray(v)) - altitude_km

    # secant iterations, all directions at once; each stops when converged (< 1 mm) or stuck
    a0, a1 = np.zeros(d0.shape[0]), np.full(d0.shape[0], 1e-5)
    f0, f1 = f(a0), f(a1)
    for _ in range(30):
        active = (f1 != f0) & (np.abs(f1) >= 1e-6)
        if not active.any():
            break
        a2 = np.where(active, a1 - f1 * (a1 - a0) / np.where(active, f1 - f0, 1.0), a1)
        a0, f0 = np.where(active, a1, a0), np.where(active, f1, f0)
        a1, f1 = a2, np.where(active, f(a2), f1)
    out = np.cos(a1)[:, None] * d0 + np.sin(a1)[:, None] * e
    return out @ rot


def peak_tangent_altitude_curve(camera, R_icrs_to_cam, observer_pos_gcrs_km, pole_gcrs, altitude_km: float,
                                n: int = 2048, in_frame_only: bool = True, observer_vel_gcrs_km_s=None):
    """Pixel polyline (x [n], y [n]) of the rays whose geodetic tangent altitude is ``altitude_km``.

    The truth curve of a layer's peak (peak_altitude_km) in the image. Points behind the camera, beyond the
    distortion's valid radius, or (``in_frame_only``) outside [-0.5, W-0.5] × [-0.5, H-0.5] are NaN, so the
    polyline breaks where it leaves the frame. Directions: :func:`peak_tangent_altitude_directions`, aberrated by
    observer_vel_gcrs_km_s (km/s) when given (where the pixels see that light: airglow_image).
    """
    from ..camera.projection import project_camera_points
    from ..sky.apparent import aberrate

    d = peak_tangent_altitude_directions(observer_pos_gcrs_km, pole_gcrs, altitude_km, n)
    if d.shape[0] == 0:
        return np.zeros(0), np.zeros(0)
    if observer_vel_gcrs_km_s is not None:
        d = aberrate(d, np.asarray(observer_vel_gcrs_km_s, dtype=np.float64) / C_KM_S)
    x, y = project_camera_points(camera, d @ np.asarray(R_icrs_to_cam, dtype=np.float64).T)
    if in_frame_only:
        bad = ~((x >= -0.5) & (x <= camera.width - 0.5) & (y >= -0.5) & (y <= camera.height - 0.5))
        x = np.where(bad, np.nan, x)
        y = np.where(bad, np.nan, y)
    return x, y
