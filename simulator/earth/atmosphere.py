"""Optics of a star's line of sight grazing the Earth's limb: refraction, flux dilution, extinction.

Everything here is a function of the **tangent altitude** h of a ray: the lowest altitude (km) that the ray
reaches above the Earth. The optics use a spherically symmetric atmosphere around a sphere of radius
``Atmosphere.earth_radius_km`` (default 6371.0 km, the IUGG mean Earth radius R1 = 6371.0088 km, Moritz 1980,
"Geodetic Reference System 1980", rounded as in shared/REFERENCES.md Appendix B). The caller measures h
above WGS84 (simulator.earth.occultation); the local sphere differs from the ellipsoid's curvature by < 0.5 %
(polar/equatorial radii of curvature 6335–6400 km), which changes the √R-dependent optics by < 0.3 %.

Geometry (2-D, in the plane of the Earth's centre C, the observer O and the star)
--------------------------------------------------------------------------------
Let ŝ be the star's true direction (a source at infinity). Take the x axis through C along the light's
propagation direction −ŝ (light travels toward +x) and y as the distance from that axis.

* A ray arrives along y = b (its *impact parameter*). In a spherically symmetric medium n r sin ψ = b is
  conserved (Bouguer's rule; ψ the angle between the ray and the radius), so the ray's lowest point r_t obeys
  n(r_t) r_t = b. Its tangent altitude is h = r_t − R.
* It is bent toward C by the total deviation (both legs; the bending-angle integral of occultation
  studies: Fjeldbo, Kliore & Eshleman 1971, AJ 76, 123; Kursinski et al. 1997, JGR 102, 23429)

      ε(b) = −2 b ∫_{r_t}^{∞} (dn/dr) / (n √(n²r² − b²)) dr.                                      (1)

  For an exponential refractivity N = n − 1 = N₀ e^{−h/H} and N ≪ 1, H ≪ R this is
  ε ≈ N₀ √(2πR/H) e^{−h/H} (shared/REFERENCES.md §7 [C]); here (1) is integrated numerically, which also
  holds where R·|dN/dr| is not small (near the ground it is ≈ 0.2–0.25; for H = 7 km the exact ε(0) is
  13 % above the approximation).
* Outside the atmosphere the ray is straight again. By symmetry its in- and outgoing asymptotes meet on the
  line through C and the lowest point, at P = (b tan(ε/2), b). The outgoing asymptote crosses the plane
  x = D (the observer's depth) at

      ρ(b) = b − (D − b tan(ε/2)) tan ε.                                                           (2)

  An observer at (D, ρ_o) therefore receives the ray whose b solves ρ(b) = ρ_o (:func:`ray_tangent_altitude`,
  a bracketed Newton iteration; ρ is monotonic because dρ/db = 1 + D|dε/db| + O(ε²) > 0).
  ρ_o − R is the **geometric tangent altitude** h_g: the tangent altitude of the straight line from the
  observer toward the true star direction (what simulator.earth.occultation computes), and D is the
  distance from the observer to that straight line's tangent point (≈ 2290 km from 400 km). For small ε,
  (2) reads h_g ≈ h + R·N(h) − D·ε(h): the ray passes ≈ D·ε higher than the straight line would, i.e. a
  star whose straight line is 45 km *below* the ground is still seen through a ray grazing the ground.
* The observer sees the star along the outgoing asymptote: raised by exactly ε (source at infinity) from
  its true direction, toward the local zenith of the tangent point, in the plane (C, O, star).
* Flux (energy conservation in a ray tube, geometric optics): rays in the annulus b..b+db, azimuth dφ
  around the axis, arrive in ρ..ρ+dρ, so the star's flux is multiplied by the *dilution factor*

      Φ = (b dφ db) / (ρ dφ dρ) = [1 / (dρ/db)] · [b / ρ]                                           (3)

  The first factor is the vertical compression, ≈ 1 / (1 + D |dε/db|): the flattening of a setting star
  field and of the Sun's disk, and the same factor dims stars (shared/REFERENCES.md §7, which writes
  1/(1 + L ε/H) for the exponential case; Fussen et al. 2015 AMT: refraction and dilution come together).
  The second, b/ρ ≈ 1 + Dε/R ≤ 1.008, is the focusing along the limb (the "central flash" factor); it is
  included unless ``focusing=False``.

Atmosphere
----------
Density ρ(z) relative to standard sea-level air, one of

* ``"us1976"`` (default): U.S. Standard Atmosphere 1976 (NOAA/NASA/USAF, NOAA-S/T 76-1562), its defining
  temperature profile: linear in geopotential altitude H = r₀z/(r₀+z) (r₀ = 6356.766 km) with lapse rates
  −6.5, 0, +1.0, +2.8, 0, −2.8, −2.0 K/km from H = 0, 11, 20, 32, 47, 51, 71 km, T₀ = 288.15 K,
  p₀ = 101 325 Pa, g₀ = 9.80665 m s⁻², M₀ = 28.9644 kg/kmol, R* = 8314.32 J kmol⁻¹ K⁻¹; hydrostatic
  pressure, ideal-gas density. Above H = 84.852 km (where that part of the standard ends) the profile is
  continued isothermally (an extension, not the standard: density there is < 1e-5 of sea level and adds
  < 1e-5 rad of bending). The corners of the temperature profile are rounded by a Gaussian of
  ``us1976_corner_km`` (default 2 km; densities then differ from the standard's by ≤ 2 %, 1.9 % at the
  tropopause): with sharp corners dn/dr jumps at each layer base, and (1) then has a 1/√ singularity in
  dε/dh just below it — a setting star would blink to zero flux at exactly 11 km. With 1 km the dilution
  still dips just below the tropopause; from 2 km on it is monotonic. 0 gives the standard's exact profile
  (the tests compare its densities with the published table; its optics are singular, don't render with it).
* ``"exponential"``: ρ = e^{−z/H}, H = ``scale_height_km`` (7 km: shared/REFERENCES.md §7, H ≈ 6.5–7.5 km;
  Reed (NavList 2018) gives 6.7 km between 11 and 135 km). Reproduces the REFERENCES table.

Refractivity N(z, λ) = N_s(λ) ρ(z)/ρ_s (Gladstone–Dale: refractivity proportional to density, dry air). The
sea-level value is ``n0_minus_1_550`` = 2.78e-4 at 550 nm (shared/REFERENCES.md §7; Ciddor 1996 standard
air, 15 °C, 101 325 Pa, dry, 450 ppm CO₂, gives 2.7784e-4) with the wavelength dependence of Ciddor (1996),
Appl. Opt. 35, 1566, eq. (1): 10⁸ (n − 1) = k₁/(k₀ − σ²) + k₃/(k₂ − σ²), σ = 1/λ_vac in µm⁻¹,
k₀ = 238.0185, k₁ = 5 792 105, k₂ = 57.362, k₃ = 167 917 µm⁻². US 1976 sea level (288.15 K, 101 325 Pa) is
Ciddor's standard air, so ρ/ρ_s is the density ratio used.

Extinction along the bent ray, τ = Σ_k τ_vert,k(λ) · A_k(h), with A_k = ∫ f_k ds / ∫ f_k dz the slant
path factor of constituent k's normalised vertical profile f_k, integrated along the refracted ray
(ds = n r dr / √(n²r² − b²)); for an exponential layer and a straight ray A ≈ √(2πR/H) e^{−h/H}
(Chapman's grazing-incidence function):

* Rayleigh: τ_vert = ``rayleigh_tau_550`` (λ/550 nm)^−``rayleigh_exponent``; 0.097 at 550 nm for sea level
  (shared/REFERENCES.md §7); exponent 4.08, the local logarithmic slope at 550 nm of Bucholtz (1995, Appl.
  Opt. 34, 2765; its fit for the US standard atmosphere: A λ^−(B + Cλ + D/λ), which gives 0.0972 at
  550 nm and a slope of −4.076 there). Profile: the air density.
* Ozone, Chappuis band: cross-section σ(λ) from Serdyuchenko et al. (2014, AMT 7, 625; IUP Bremen
  o3spectra2011 data set, 233 K), averaged over 10 nm bins 360–840 nm (the bin averages as tabulated in
  E. Bruneton's "Precomputed Atmospheric Scattering", 2017, BSD licence), interpolated linearly between bin
  centres and held constant outside them; peak 5.0e-21 cm² at 600–610 nm. Column ``ozone_column_du``
  (300 DU, the global mean total ozone; 1 DU = 2.687e16 molecules cm⁻²) gives τ_vert = 0.040 at 605 nm
  (REFERENCES §7 quotes "~0.03"). Profile: a Gaussian in altitude, peak ``ozone_peak_km`` = 22 km, standard
  deviation ``ozone_sigma_km`` = 6 km — an ESTIMATE, chosen so the peak number density (5.4e12 cm⁻³ at
  300 DU) and peak altitude match the mid-latitude ozone layer (≈ 4–5e12 cm⁻³ near 20–25 km).
* Aerosol (off by default, ``aerosol_tau_550`` = 0): τ_vert = τ_550 (λ/550 nm)^−α, α =
  ``aerosol_angstrom`` = 1.3 (Ångström 1929's typical exponent), exponential profile of scale height
  ``aerosol_scale_height_km`` = 1.2 km (ESTIMATE: boundary-layer aerosol).

Path factors are computed once, along the ray at 550 nm (``PATH_WAVELENGTH_M``); the dispersion of the
ray's path changes them by < 2e-3 over 380–700 nm (the tests check it). Dilution is achromatic likewise;
the refraction deviation and the ray's tangent altitude are computed at the wavelength asked for.

Speed: each (atmosphere, wavelength) pair is tabulated once (≈ 0.1–0.2 s: Gauss–Legendre quadrature of (1)
and the path integrals on a 0.05 km grid of h from −5 to 145 km) and then interpolated with cubic splines in
log space (relative error < 1e-5 against a 3000-node quadrature). Above ``TABLE_TOP_KM`` the optics are
taken as vacuum (ε < 1e-11 rad there).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.special import erf

# --- constants (sources in the module docstring) -------------------------------------------------------
EARTH_RADIUS_KM = 6371.0  # IUGG mean radius (Moritz 1980), as in shared/REFERENCES.md Appendix B
REFERENCE_WAVELENGTH_M = 550e-9
PATH_WAVELENGTH_M = 550e-9

# U.S. Standard Atmosphere 1976 (NOAA-S/T 76-1562), defining constants and the lower 7 layers
US76_R0_KM = 6356.766  # radius for geopotential altitude
US76_G0 = 9.80665  # m s^-2
US76_M0 = 28.9644  # kg/kmol
US76_RSTAR = 8314.32  # J kmol^-1 K^-1
US76_T0 = 288.15  # K
US76_P0 = 101325.0  # Pa
US76_LAYER_BASE_KM = (0.0, 11.0, 20.0, 32.0, 47.0, 51.0, 71.0, 84.852)  # geopotential km
US76_LAPSE_K_PER_KM = (-6.5, 0.0, 1.0, 2.8, 0.0, -2.8, -2.0, 0.0)  # last: isothermal extension (not US76)

# Ciddor (1996) eq. (1) for standard air: 1e8 (n-1) = K1/(K0 - s2) + K3/(K2 - s2), s2 in um^-2
CIDDOR_K0, CIDDOR_K1, CIDDOR_K2, CIDDOR_K3 = 238.0185, 5792105.0, 57.362, 167917.0

DOBSON_UNIT_CM2 = 2.687e16  # molecules cm^-2 per Dobson unit (definition)
# Ozone absorption cross-section, cm^2, 10 nm bin averages with bin centres 365, 375, ..., 835 nm
# (Serdyuchenko et al. 2014, 233 K; bin averages as tabulated by Bruneton 2017; see the module docstring).
OZONE_BIN_CENTRES_NM = 365.0 + 10.0 * np.arange(48)
OZONE_CROSS_SECTION_CM2 = 1e4 * np.array([
    1.18e-27, 2.182e-28, 2.818e-28, 6.636e-28, 1.527e-27, 2.763e-27, 5.52e-27, 8.451e-27,
    1.582e-26, 2.316e-26, 3.669e-26, 4.924e-26, 7.752e-26, 9.016e-26, 1.48e-25, 1.602e-25,
    2.139e-25, 2.755e-25, 3.091e-25, 3.5e-25, 4.266e-25, 4.672e-25, 4.398e-25, 4.701e-25,
    5.019e-25, 4.305e-25, 3.74e-25, 3.215e-25, 2.662e-25, 2.238e-25, 1.852e-25, 1.473e-25,
    1.209e-25, 9.423e-26, 7.455e-26, 6.566e-26, 5.105e-26, 4.15e-26, 4.228e-26, 3.237e-26,
    2.451e-26, 2.801e-26, 2.534e-26, 1.624e-26, 1.465e-26, 2.078e-26, 1.383e-26, 7.105e-27])

# tabulation
TABLE_BOTTOM_KM = -5.0
TABLE_TOP_KM = 145.0
TABLE_STEP_KM = 0.05
PROFILE_STEP_KM = 0.01
QUAD_NODES = 400


@dataclass(frozen=True)
class Atmosphere:
    """A spherically symmetric atmosphere for limb optics (see the module docstring for every constant).

    model: "us1976" or "exponential". scale_height_km: the exponential model's density scale height.
    us1976_corner_km: Gaussian rounding (sigma, geopotential km) of the US 1976 temperature profile's corners.
    earth_radius_km: radius of the local sphere. top_km: top of the atmosphere (density taken as 0 above).
    n0_minus_1_550: sea-level refractivity at 550 nm (dispersion from Ciddor 1996).
    rayleigh_tau_550, rayleigh_exponent: vertical Rayleigh optical depth at 550 nm and its lambda^-x law.
    ozone_column_du, ozone_peak_km, ozone_sigma_km: ozone column (Dobson units) and Gaussian layer.
    aerosol_tau_550, aerosol_angstrom, aerosol_scale_height_km: optional aerosol (off when tau is 0).
    """

    model: str = "us1976"
    scale_height_km: float = 7.0
    us1976_corner_km: float = 2.0
    earth_radius_km: float = EARTH_RADIUS_KM
    top_km: float = 150.0
    n0_minus_1_550: float = 2.78e-4
    rayleigh_tau_550: float = 0.097
    rayleigh_exponent: float = 4.08
    ozone_column_du: float = 300.0
    ozone_peak_km: float = 22.0
    ozone_sigma_km: float = 6.0
    aerosol_tau_550: float = 0.0
    aerosol_angstrom: float = 1.3
    aerosol_scale_height_km: float = 1.2

    def __post_init__(self):
        if self.model not in ("us1976", "exponential"):
            raise ValueError(f"Atmosphere.model: {self.model!r} is not 'us1976' or 'exponential'")
        for name in ("scale_height_km", "earth_radius_km", "top_km", "ozone_sigma_km", "aerosol_scale_height_km"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Atmosphere.{name} must be > 0")
        for name in ("us1976_corner_km", "n0_minus_1_550", "rayleigh_tau_550", "ozone_column_du", "aerosol_tau_550"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"Atmosphere.{name} must be >= 0")
        if self.top_km < TABLE_TOP_KM:
            raise ValueError(f"Atmosphere.top_km must be >= {TABLE_TOP_KM}")


DEFAULT = Atmosphere()


# --- spectral quantities -----------------------------------------------------------------------------------

def ciddor_refractivity(wavelength_m):
    """(n − 1) of Ciddor's (1996) standard air (15 °C, 101 325 Pa, dry, 450 ppm CO₂) at vacuum wavelength [m]."""
    s2 = (1e-6 / np.asarray(wavelength_m, dtype=np.float64)) ** 2
    return 1e-8 * (CIDDOR_K1 / (CIDDOR_K0 - s2) + CIDDOR_K3 / (CIDDOR_K2 - s2))


def sea_level_refractivity(wavelength_m, atm: Atmosphere = DEFAULT):
    """Sea-level (n − 1) of the atmosphere at wavelength [m]: ``n0_minus_1_550`` × Ciddor's dispersion."""
    return atm.n0_minus_1_550 * ciddor_refractivity(wavelength_m) / ciddor_refractivity(REFERENCE_WAVELENGTH_M)


def rayleigh_vertical_optical_depth(wavelength_m, atm: Atmosphere = DEFAULT):
    """Vertical (zenith, sea level) Rayleigh optical depth at wavelength [m]."""
    lam = np.asarray(wavelength_m, dtype=np.float64)
    return atm.rayleigh_tau_550 * (lam / REFERENCE_WAVELENGTH_M) ** (-atm.rayleigh_exponent)


def ozone_cross_section_cm2(wavelength_m):
    """Ozone absorption cross-section [cm² per molecule] (Chappuis band; constant beyond the table's ends)."""
    nm = np.asarray(wavelength_m, dtype=np.float64) * 1e9
    return np.interp(nm, OZONE_BIN_CENTRES_NM, OZONE_CROSS_SECTION_CM2)


def ozone_vertical_optical_depth(wavelength_m, atm: Atmosphere = DEFAULT):
    """Vertical ozone optical depth: cross-section × column (``ozone_column_du`` Dobson units)."""
    return ozone_cross_section_cm2(wavelength_m) * atm.ozone_column_du * DOBSON_UNIT_CM2


def aerosol_vertical_optical_depth(wavelength_m, atm: Atmosphere = DEFAULT):
    """Vertical aerosol optical depth, Ångström law τ_550 (λ / 550 nm)^−α (0 by default)."""
    lam = np.asarray(wavelength_m, dtype=np.float64)
    return atm.aerosol_tau_550 * (lam / REFERENCE_WAVELENGTH_M) ** (-atm.aerosol_angstrom)


def vertical_optical_depths(wavelength_m, atm: Atmosphere = DEFAULT) -> dict:
    """Vertical optical depths at wavelength [m]: {"rayleigh", "ozone", "aerosol"} (arrays like the input)."""
    return {"rayleigh": rayleigh_vertical_optical_depth(wavelength_m, atm),
            "ozone": ozone_vertical_optical_depth(wavelength_m, atm),
            "aerosol": aerosol_vertical_optical_depth(wavelength_m, atm)}


# --- vertical profiles -------------------------------------------------------------------------------------

def _us76_temperature(hgp_km, corner_km):
    """US 1976 temperature [K] and dT/dH [K/km] at geopotential altitude [km], corners rounded by a Gaussian."""
    hgp = np.asarray(hgp_km, dtype=np.float64)
    t = np.full(hgp.shape, US76_T0) + US76_LAPSE_K_PER_KM[0] * hgp
    dt = np.full(hgp.shape, US76_LAPSE_K_PER_KM[0])
    for i in range(1, len(US76_LAYER_BASE_KM)):
        step = US76_LAPSE_K_PER_KM[i] - US76_LAPSE_K_PER_KM[i - 1]
        x = hgp - US76_LAYER_BASE_KM[i]
        if corner_km > 0:
            u = x / corner_km
            cdf = 0.5 * (1.0 + erf(u / math.sqrt(2.0)))
            # the ramp max(x, 0) convolved with a unit Gaussian of sigma corner_km
            ramp = x * cdf + corner_km * np.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi)
        else:
            cdf = (x > 0).astype(np.float64)
            ramp = np.maximum(x, 0.0)
        t = t + step * ramp
        dt = dt + step * cdf
    return t, dt


@dataclass(frozen=True, eq=False)
class _Profile:
    """Relative density profiles on a uniform altitude grid z [km] (geometric, above the sphere)."""

    z: np.ndarray
    ln_rho: np.ndarray  # ln(rho / rho_sea-level-standard)
    dln_rho: np.ndarray  # d ln rho / dz [1/km]
    air: np.ndarray  # rho normalised to a unit vertical column above z = 0 [1/km]
    ozone: np.ndarray  # ozone number density normalised to a unit column [1/km]
    aerosol: np.ndarray  # aerosol extinction normalised to a unit column [1/km]

    def at(self, z):
        """(ln rho, d ln rho/dz, air, ozone, aerosol) linearly interpolated at z [km]."""
        z0, dz = self.z[0], self.z[1] - self.z[0]
        zc = np.clip(z, self.z[0], self.z[-1])
        f = (zc - z0) / dz
        i = np.minimum(f.astype(np.int64), self.z.size - 2)
        w = f - i
        out = []
        for a in (self.ln_rho, self.dln_rho, self.air, self.ozone, self.aerosol):
            out.append(a[i] * (1.0 - w) + a[i + 1] * w)
        above = z > self.z[-1]
        if np.any(above):
            out[0] = np.where(above, -np.inf, out[0])
            for k in range(2, 5):
                out[k] = np.where(above, 0.0, out[k])
        return out


def _trapezoid(y, x):
    """Trapezoid rule (np.trapezoid needs NumPy 2; the project allows 1.26)."""
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


@functools.lru_cache(maxsize=16)
def _profile(atm: Atmosphere) -> _Profile:
    # rounded so that z = 0 lies on the grid exactly (the columns below are integrated from there)
    z = np.round(np.arange(TABLE_BOTTOM_KM, atm.top_km + 0.5 * PROFILE_STEP_KM, PROFILE_STEP_KM), 9)
    if atm.model == "exponential":
        ln_rho = -z / atm.scale_height_km
        dln_rho = np.full(z.shape, -1.0 / atm.scale_height_km)
    else:
        r0 = US76_R0_KM
        hgp = r0 * z / (r0 + z)
        dhdz = (r0 / (r0 + z)) ** 2
        t, dtdh = _us76_temperature(hgp, atm.us1976_corner_km)
        k = US76_G0 * US76_M0 / US76_RSTAR * 1e3  # g0 M0 / R* [K/km]
        # ln p(H) = ln p0 - k int_0^H dH'/T(H'): trapezoid on a geopotential grid 8x finer than the profile's
        # (relative error of the integral < 1e-7), then interpolated to the geometric grid
        hg = np.linspace(hgp[0], hgp[-1], 8 * z.size + 1)
        tg, _ = _us76_temperature(hg, atm.us1976_corner_km)
        f = 1.0 / tg
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (hg[1:] - hg[:-1]) * (f[1:] + f[:-1]))])
        ln_p = -k * (np.interp(hgp, hg, cum) - np.interp(0.0, hg, cum))
        ln_rho = ln_p + np.log(US76_T0 / t)  # rho / rho0 = (p / p0) (T0 / T)
        dln_rho = (-k / t - dtdh / t) * dhdz
    rho = np.exp(ln_rho)
    ground = z >= 0.0
    column = _trapezoid(rho[ground], z[ground])
    air = rho / column
    oz = np.exp(-0.5 * ((z - atm.ozone_peak_km) / atm.ozone_sigma_km) ** 2)
    ozone = oz / _trapezoid(oz[ground], z[ground])
    aer = np.exp(-z / atm.aerosol_scale_height_km)
    aerosol = aer / _trapezoid(aer[ground], z[ground])
    return _Profile(z=z, ln_rho=ln_rho, dln_rho=dln_rho, air=air, ozone=ozone, aerosol=aerosol)


def density_ratio(altitude_km, atm: Atmosphere = DEFAULT):
    """Air density relative to standard sea-level air (US 1976: 1.2250 kg m⁻³) at altitude [km]."""
    z = np.asarray(altitude_km, dtype=np.float64)
    return np.exp(_profile(atm).at(z)[0])


def refractivity(altitude_km, wavelength_m=REFERENCE_WAVELENGTH_M, atm: Atmosphere = DEFAULT):
    """(n − 1) at altitude [km] and wavelength [m]: sea-level refractivity × density ratio."""
    return sea_level_refractivity(wavelength_m, atm) * density_ratio(altitude_km, atm)


# --- ray integrals -----------------------------------------------------------------------------------------

_GL_X, _GL_W = np.polynomial.legendre.leggauss(QUAD_NODES)


def _ray_integrals(h_km, n_s, atm: Atmosphere):
    """Direct quadrature along rays of tangent altitudes h [km] (1-D) for sea-level refractivity n_s.

    Returns (b, eps, A_air, A_ozone, A_aerosol): impact parameter [km], deviation (1) [rad], and the slant
    path factors (column along the ray / vertical column) of the three normalised profiles.
    Substitution r = r_t + u², u in [0, sqrt(top − h)] removes the 1/sqrt singularity at the lowest point.
    """
    prof = _profile(atm)
    R = atm.earth_radius_km
    h = np.asarray(h_km, dtype=np.float64)[:, None]
    ln_t = prof.at(h)[0]
    n_t = n_s * np.exp(ln_t)
    r_t = R + h
    b = r_t * (1.0 + n_t)
    u_max = np.sqrt(np.maximum(atm.top_km - h, 0.0))
    u = 0.5 * u_max * (_GL_X[None, :] + 1.0)
    w = 0.5 * u_max * _GL_W[None, :]
    r = r_t + u * u
    z = r - R
    ln_rho, dln_rho, air, ozone, aerosol = prof.at(z)
    nn = n_s * np.exp(ln_rho)
    x_minus_b = u * u + (r * nn - r_t * n_t)  # n r − b without cancellation
    x_plus_b = r * (1.0 + nn) + b
    inv = 1.0 / np.sqrt(x_minus_b * x_plus_b)
    jac = 2.0 * u * w  # dr = 2u du
    eps = -2.0 * b[:, 0] * np.sum(nn * dln_rho / (1.0 + nn) * inv * jac, axis=1)
    path = 2.0 * r * (1.0 + nn) * inv * jac  # ds for both legs
    return (b[:, 0], eps, np.sum(air * path, axis=1), np.sum(ozone * path, axis=1),
            np.sum(aerosol * path, axis=1))


class _UniformCubic:
    """A cubic spline on a uniform grid (scipy's not-a-knot CubicSpline), evaluated by direct indexing."""

    def __init__(self, x, y):
        spline = CubicSpline(x, y)
        self.x0, self.dx, self.n = float(x[0]), float(x[1] - x[0]), x.size - 1
        self.c = np.ascontiguousarray(spline.c)  # [4, n]: highest power first, in (x - x[i])

    def _locate(self, h):
        i = np.clip(((h - self.x0) / self.dx).astype(np.int64), 0, self.n - 1)
        return i, h - (self.x0 + i * self.dx)

    def __call__(self, h):
        i, t = self._locate(np.asarray(h, dtype=np.float64))
        c = self.c
        return ((c[0, i] * t + c[1, i]) * t + c[2, i]) * t + c[3, i]

    def value_and_slope(self, h):
        i, t = self._locate(np.asarray(h, dtype=np.float64))
        c0, c1, c2, c3 = self.c[0, i], self.c[1, i], self.c[2, i], self.c[3, i]
        return ((c0 * t + c1) * t + c2) * t + c3, (3.0 * c0 * t + 2.0 * c1) * t + c2


@dataclass(frozen=True, eq=False)
class _Table:
    h: np.ndarray
    b: _UniformCubic  # impact parameter b(h) [km]
    ln_eps: _UniformCubic  # ln of the deviation (1)
    ln_a: tuple  # ln A_air, ln A_ozone, ln A_aerosol


_TINY = 1e-300


@functools.lru_cache(maxsize=64)
def _table_cached(atm: Atmosphere, wavelength_nm_rounded: float) -> _Table:
    n_s = float(sea_level_refractivity(wavelength_nm_rounded * 1e-9, atm))
    h = np.arange(TABLE_BOTTOM_KM, TABLE_TOP_KM + 0.5 * TABLE_STEP_KM, TABLE_STEP_KM)
    parts = [_ray_integrals(h[i:i + 256], n_s, atm) for i in range(0, h.size, 256)]
    b, eps, a_air, a_oz, a_aer = (np.concatenate([p[k] for p in parts]) for k in range(5))
    return _Table(h=h, b=_UniformCubic(h, b), ln_eps=_UniformCubic(h, np.log(np.maximum(eps, _TINY))),
                  ln_a=tuple(_UniformCubic(h, np.log(np.maximum(a, _TINY))) for a in (a_air, a_oz, a_aer)))


def _table(atm: Atmosphere, wavelength_m) -> _Table:
    lam = np.asarray(wavelength_m, dtype=np.float64)
    if lam.size != 1:
        raise ValueError("wavelength_m must be a scalar here")
    return _table_cached(atm, round(float(lam) * 1e9, 2))


def table_arrays(wavelength_m=REFERENCE_WAVELENGTH_M, atm: Atmosphere = DEFAULT):
    """The ray table at ``wavelength_m`` as plain arrays (for compiled kernels; same splines as the functions
    here): (x0, dx, c_b [4, n], c_ln_eps [4, n], c_ln_a [3, 4, n]) — cubic coefficients on h = x0 + i·dx,
    highest power first in (h − h_i), i = clip(floor((h − x0)/dx), 0, n − 1); c_ln_a: air, ozone, aerosol."""
    tab = _table(atm, wavelength_m)
    return (tab.b.x0, tab.b.dx, tab.b.c, tab.ln_eps.c, np.ascontiguousarray(np.stack([a.c for a in tab.ln_a])))


def _eps_and_slope(tab: _Table, h):
    """ε [rad], dε/dh [rad/km], b [km], db/dh at tangent altitudes h (inside the table's range)."""
    ln_e, dln_e = tab.ln_eps.value_and_slope(h)
    eps = np.exp(ln_e)
    b, dbdh = tab.b.value_and_slope(h)
    return eps, eps * dln_e, b, dbdh


def _inside(h):
    return (h >= TABLE_BOTTOM_KM) & (h <= TABLE_TOP_KM)


# --- public API ----------------------------------------------------------------------------------------------

def refraction_deviation_rad(h_ray_km, wavelength_m=REFERENCE_WAVELENGTH_M, atm: Atmosphere = DEFAULT):
    """Total bending ε [rad] (both legs) of a ray with tangent altitude ``h_ray_km`` [km] (array), eq. (1).

    0 above ``TABLE_TOP_KM``; NaN below ``TABLE_BOTTOM_KM`` and for NaN input.
    """
    h = np.asarray(h_ray_km, dtype=np.float64)
    tab = _table(atm, wavelength_m)
    out = np.where(h > TABLE_TOP_KM, 0.0, np.nan)
    ok = _inside(h)
    out[ok] = np.exp(tab.ln_eps(h[ok]))
    return out if out.ndim else float(out)


def tangent_distance_km(observer_altitude_km, h_km, atm: Atmosphere = DEFAULT):
    """Distance [km] from an observer at altitude [km] to the tangent point of a line of tangent altitude h.

    √((R + h_obs)² − (R + h)²): D of eq. (2), ≈ 2293 km for h = 0 from 400 km.
    """
    R = atm.earth_radius_km
    return np.sqrt((R + np.asarray(observer_altitude_km, dtype=np.float64)) ** 2
                   - (R + np.asarray(h_km, dtype=np.float64)) ** 2)


def _rho(eps, b, distance):
    """Eq. (2): distance of the outgoing asymptote from the axis in the observer's plane x = D."""
    te = np.tan(eps)
    return b - (distance - b * np.tan(0.5 * eps)) * te


def _drho_db(eps, deps_db, b, distance):
    """d(eq. 2)/db."""
    te, th = np.tan(eps), np.tan(0.5 * eps)
    sec2, sec2h = 1.0 + te * te, 1.0 + th * th
    return 1.0 + te * (th + b * sec2h * 0.5 * deps_db) - (distance - b * th) * sec2 * deps_db


def geometric_tangent_altitude(h_ray_km, distance_km, wavelength_m=REFERENCE_WAVELENGTH_M,
                               atm: Atmosphere = DEFAULT):
    """Tangent altitude h_g [km] of the straight line to the star's true direction, for the ray of tangent
    altitude ``h_ray_km`` [km] that reaches an observer at ``distance_km`` [km] (D of eq. 2) — the forward map.

    h_g ≈ h_ray + R N(h_ray) − D ε(h_ray) (exactly: eq. 2). Arrays broadcast.
    """
    h, d = np.broadcast_arrays(np.asarray(h_ray_km, dtype=np.float64), np.asarray(distance_km, dtype=np.float64))
    tab = _table(atm, wavelength_m)
    out = h.astype(np.float64, copy=True)
    ok = _inside(h)
    out[~ok & ~(h > TABLE_TOP_KM)] = np.nan
    hk = h[ok]
    eps = np.exp(tab.ln_eps(hk))
    out[ok] = _rho(eps, tab.b(hk), d[ok]) - atm.earth_radius_km
    return out if out.ndim else float(out)


def ray_tangent_altitude(h_geometric_km, distance_km, wavelength_m=REFERENCE_WAVELENGTH_M,
                         atm: Atmosphere = DEFAULT, floor_km: float = 0.0, tol_km: float = 1e-9):
    """Solve eq. (2): the refracted ray that brings a star to the observer.

    h_geometric_km: tangent altitude [km] of the straight line from the observer toward the star's true
    direction (the geometric, unrefracted one: simulator.earth.occultation); distance_km: D, the distance
    [km] from the observer to that straight line's tangent point (≈ :func:`tangent_distance_km`). Arrays
    broadcast.

    Returns (h_ray_km, deviation_rad): the tangent altitude of the bent ray and its total bending ε, which is
    the angle by which the star appears raised above its true direction (toward the zenith of the tangent
    point). Where that ray would pass below ``floor_km`` (the solid Earth by default, or e.g. cloud tops),
    the star is hidden: both are NaN. Lines above ``TABLE_TOP_KM`` pass unrefracted (h_ray = h_g, ε = 0).
    Bracketed Newton iteration on h_ray, converged to ``tol_km``.
    """
    hg, d = np.broadcast_arrays(np.asarray(h_geometric_km, dtype=np.float64),
                                np.asarray(distance_km, dtype=np.float64))
    tab = _table(atm, wavelength_m)
    R = atm.earth_radius_km
    h_out = hg.astype(np.float64, copy=True)
    e_out = np.zeros(hg.shape)
    todo = hg <= TABLE_TOP_KM
    h_out[np.isnan(hg)] = np.nan
    e_out[np.isnan(hg)] = np.nan
    if np.any(todo):
        target = R + hg[todo]
        dd = d[todo]
        lo_h = max(TABLE_BOTTOM_KM, floor_km)
        lo = np.full(target.shape, lo_h)
        hi = np.full(target.shape, TABLE_TOP_KM)

        def f_and_df(hh, idx=slice(None)):
            eps, deps, b, dbdh = _eps_and_slope(tab, hh)
            d_i = dd[idx]
            return _rho(eps, b, d_i) - target[idx], _drho_db(eps, deps / dbdh, b, d_i) * dbdh

        f_lo, _ = f_and_df(lo)
        hidden = f_lo > 0.0  # even the lowest allowed ray passes above the observer: the star is hidden
        x = np.clip(hg[todo], lo_h, TABLE_TOP_KM)
        x[hidden] = lo_h
        active = np.flatnonzero(~hidden)
        for _ in range(100):
            if active.size == 0:
                break
            xa, la, ha = x[active], lo[active], hi[active]
            f, df = f_and_df(xa, active)
            neg = f < 0.0
            la = np.where(neg, xa, la)
            ha = np.where(neg, ha, xa)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = f / df
            x_new = xa - step
            bad = ~np.isfinite(x_new) | (x_new < la) | (x_new > ha)
            x_new = np.where(bad, 0.5 * (la + ha), x_new)
            done = ~bad & (np.abs(step) < tol_km)
            x[active], lo[active], hi[active] = x_new, la, ha
            active = active[~done]
        eps = np.exp(tab.ln_eps(x))
        x = np.where(hidden, np.nan, x)
        eps = np.where(hidden, np.nan, eps)
        h_out[todo] = x
        e_out[todo] = eps
    if h_out.ndim == 0:
        return float(h_out), float(e_out)
    return h_out, e_out


def dilution_factor(h_ray_km, distance_km, atm: Atmosphere = DEFAULT, focusing: bool = True,
                    wavelength_m=PATH_WAVELENGTH_M):
    """Refractive flux factor Φ (eq. 3) of a ray with tangent altitude ``h_ray_km`` [km] seen from ``distance_km``.

    Φ = [1/(dρ/db)]·[b/ρ] ≈ 1/(1 + D |dε/db|) · (1 + Dε/R): the vertical compression of the star field
    (the same factor flattens it) times, with ``focusing``, the ≤ 0.8 % focusing along the limb. 1 above
    the table, 0 for NaN (hidden) rays. distance_km: D of eq. (2) (≈ the distance to the tangent point).
    """
    h, d = np.broadcast_arrays(np.asarray(h_ray_km, dtype=np.float64), np.asarray(distance_km, dtype=np.float64))
    tab = _table(atm, wavelength_m)
    out = np.where(h > TABLE_TOP_KM, 1.0, 0.0)
    ok = _inside(h)
    eps, deps, b, dbdh = _eps_and_slope(tab, h[ok])
    phi = 1.0 / _drho_db(eps, deps / dbdh, b, d[ok])
    if focusing:
        phi = phi * b / _rho(eps, b, d[ok])
    out[ok] = phi
    return out if out.ndim else float(out)


def slant_path_factors(h_ray_km, atm: Atmosphere = DEFAULT) -> dict:
    """Slant path factors A_k(h) = (column along the refracted ray) / (vertical column) of each constituent.

    {"rayleigh", "ozone", "aerosol"} for tangent altitudes [km]; 0 above the table, NaN below it / for NaN.
    For an exponential layer, A ≈ √(2πR/H) e^{−h/H} (≈ 75 at h = 0 for H = 7 km, before refraction).
    """
    h = np.asarray(h_ray_km, dtype=np.float64)
    tab = _table(atm, PATH_WAVELENGTH_M)
    ok = _inside(h)
    out = {}
    for name, spline in zip(("rayleigh", "ozone", "aerosol"), tab.ln_a):
        a = np.where(h > TABLE_TOP_KM, 0.0, np.nan)
        a[ok] = np.exp(spline(h[ok]))
        out[name] = a if a.ndim else float(a)
    return out


def slant_optical_depth(h_ray_km, wavelength_m=REFERENCE_WAVELENGTH_M, atm: Atmosphere = DEFAULT,
                        components: bool = False):
    """Optical depth τ along the grazing ray of tangent altitude ``h_ray_km`` [km] at wavelength [m].

    τ = Σ_k τ_vert,k(λ) A_k(h) over Rayleigh, ozone and aerosol (the aerosol term is 0 by default).
    h and wavelength broadcast. components=True returns a dict of the three terms instead of their sum.
    """
    a = slant_path_factors(h_ray_km, atm)
    v = vertical_optical_depths(wavelength_m, atm)
    terms = {k: np.asarray(a[k]) * v[k] for k in ("rayleigh", "ozone", "aerosol")}
    if components:
        return terms
    return terms["rayleigh"] + terms["ozone"] + terms["aerosol"]


def transmission(h_ray_km, wavelength_m=REFERENCE_WAVELENGTH_M, *, distance_km, atm: Atmosphere = DEFAULT,
                 focusing: bool = True):
    """Fraction of a star's flux that reaches the observer through the ray of tangent altitude [km]:
    exp(−τ) · Φ. ``distance_km``: D (eq. 2), or None for the extinction exp(−τ) alone. NaN (hidden) → 0.
    """
    h = np.asarray(h_ray_km, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        t = np.exp(-slant_optical_depth(h, wavelength_m, atm))
    if distance_km is not None:
        t = t * dilution_factor(h, distance_km, atm, focusing)
    t = np.where(np.isnan(t), 0.0, t)
    return t if np.ndim(t) else float(t)


def channel_transmission(h_ray_km, wavelength_grid_m, weights, *, distance_km=None, atm: Atmosphere = DEFAULT,
                         focusing: bool = True, chunk: int = 4096):
    """Spectrally weighted transmission of a channel: Σ_λ w(λ) e^{−τ(h,λ)} / Σ_λ w(λ) [× Φ(h)].

    h_ray_km: tangent altitudes [km], any shape (NaN → 0). wavelength_grid_m [L]. weights [..., L]: photons
    detected per unit wavelength on the grid (a star's photon spectrum × the channel's QE × optics), one
    row per channel or per (star class, channel); a plain sum over the grid is used, so uneven grids should
    carry their quadrature weights. distance_km: D for the dilution Φ (eq. 3, achromatic), or None for
    extinction only. Returns shape h.shape + weights.shape[:-1]. Reddening follows: blue light has the
    larger τ below ≈ 18 km (Rayleigh); between ≈ 20 and 30 km the Chappuis band takes more at 550–650 nm.
    """
    h = np.asarray(h_ray_km, dtype=np.float64)
    lam = np.asarray(wavelength_grid_m, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape[-1] != lam.size:
        raise ValueError("weights' last axis must match wavelength_grid_m")
    w2 = w.reshape(-1, lam.size)
    wn = w2 / np.where(w2.sum(axis=1) > 0, w2.sum(axis=1), 1.0)[:, None]
    v = vertical_optical_depths(lam, atm)
    vt = np.stack([v["rayleigh"], v["ozone"], v["aerosol"]])  # [3, L]
    flat = h.ravel()
    out = np.zeros((flat.size, wn.shape[0]))
    for i in range(0, flat.size, chunk):
        a = slant_path_factors(flat[i:i + chunk], atm)
        A = np.stack([np.atleast_1d(a["rayleigh"]), np.atleast_1d(a["ozone"]), np.atleast_1d(a["aerosol"])],
                     axis=1)  # [n, 3]
        with np.errstate(invalid="ignore"):
            ext = np.exp(-(A @ vt))  # [n, L]
        out[i:i + chunk] = np.nan_to_num(ext @ wn.T, nan=0.0)
    if distance_km is not None:
        phi = dilution_factor(flat, np.broadcast_to(np.asarray(distance_km, dtype=np.float64), h.shape).ravel(),
                              atm, focusing)
        out = out * phi[:, None]
    return out.reshape(h.shape + w.shape[:-1])


def refracted_direction(directions, observer_km, deviation_rad):
    """Apparent direction of a star seen through the limb: its true direction raised by ε.

    directions [..., 3]: unit vectors toward the star (true, geocentric-apparent); observer_km [..., 3]:
    observer position from the Earth's centre (same frame); deviation_rad [...]: ε from
    :func:`ray_tangent_altitude` (NaN stays NaN). The direction turns by ε in the plane (centre, observer,
    star), away from the centre: d' = d cos ε + u sin ε, with u the unit vector from the centre to the
    straight line's tangent point, o − (o·d) d. Shapes broadcast.
    """
    d = np.asarray(directions, dtype=np.float64)
    o = np.asarray(observer_km, dtype=np.float64)
    eps = np.asarray(deviation_rad, dtype=np.float64)[..., None]
    perp = o - np.sum(o * d, axis=-1, keepdims=True) * d
    u = perp / np.linalg.norm(perp, axis=-1, keepdims=True)
    return d * np.cos(eps) + u * np.sin(eps)
