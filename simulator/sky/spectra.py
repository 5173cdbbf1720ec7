"""Stellar spectra for photometry v2: B−V → effective temperature → a blackbody normalised to V.

Units: wavelengths in metres, temperatures in kelvin, photon fluxes in photons s⁻¹ m⁻² (band-integrated)
or photons s⁻¹ m⁻² m⁻¹ (spectral densities), all at the top of the atmosphere (nothing between the star
and the ISS but vacuum).

Colour → temperature
    Ballesteros (2012, EPL 97, 34008), a blackbody fit to the Johnson B−V colours of real stars:

        T = 4600 K · [1 / (0.92 (B−V) + 1.7) + 1 / (0.92 (B−V) + 0.62)].

    B−V is clipped to [−0.40, 2.50] before the formula (it has a pole at B−V = −0.674; Hipparcos has
    B−V ≥ −0.40 and 113 stars redder than 2.5). Stars without a colour (NaN; 1,143 faint Hipparcos stars)
    get ``DEFAULT_BV = 0.65``: solar (Ballesteros gives 5778 K), close to the catalog's median B−V
    (0.612 for all stars with a colour, 0.629 for V > 8.5 where the colourless stars are; computed from
    ``catalogs/hipparcos_hip2.npz``). The difference is < 0.04 mag of colour, i.e. ≲ 1 % in channel rates.

V normalisation (the exact definition; tests check it)
    S_V(λ) is Bessell's (1990, PASP 102, 1181) V passband (``catalogs/bandpasses/bessell_V.csv``, peak 1),
    linearly interpolated between its 10 nm knots. Bessell's tables are energy-integration responses
    (Bessell & Murphy 2012, PASP 124, 140, "... Revised Photonic Passbands ..."), so the photon-counting
    response is P_V(λ) = S_V(λ) · λ_V / λ with λ_V = 545 nm (the constant cancels in every ratio). A spectrum
    of photon flux density F(λ) [photons s⁻¹ m⁻² m⁻¹] gives the V-band photon rate

        N_V[F] = ∫ F(λ) P_V(λ) dλ    [photons s⁻¹ m⁻²]

    (identical to the energy integral ∫ f_λ S_V dλ up to the constant h c / λ_V).

    The V = 0 reference spectrum F₀ is a blackbody of T₀ = T_eff(B−V = 0) = 10125 K (an A0 V star like
    Vega) scaled so that its energy flux density at λ₀ = 5450 Å equals the Vega-system zero point of
    Bessell, Castelli & Plez (1998, A&A 333, 231, Table A2): f_λ = 363.1×10⁻¹¹ erg s⁻¹ cm⁻² Å⁻¹, i.e. a
    photon flux density of f_λ λ₀ / (h c) = 996.2 photons s⁻¹ cm⁻² Å⁻¹ at 5450 Å. Its V-band photon rate
    N_V0 = N_V[F₀] (:func:`v_zero_photon_flux`) is 8.77×10⁹ photons s⁻¹ m⁻² (with λ_V = 545 nm; only ratios to
    N_V0 are physical). Photometry v1 used 8.90×10⁹ (1.5 % more).

    A star of magnitude V and temperature T gets F(λ) = k · B_ph(λ, T), with B_ph the blackbody photon
    radiance (:func:`planck_photon_radiance`) and k chosen so that N_V[F] = N_V0 · 10^(−0.4 V); its synthetic
    V magnitude −2.5 log₁₀(N_V[F] / N_V0) is therefore exactly V. A B−V = 0 star of V = 0 *is* the reference
    spectrum, so it has 996.2 photons s⁻¹ cm⁻² Å⁻¹ at 5450 Å (REFERENCES §10.5). The V integrals use a fixed
    0.5 nm grid over 465–705 nm (trapezoid rule; the knots of S_V lie on it), independent of the caller's grid.

    Sensitivity to the choices: T₀ = 9600 K (Vega's T_eff) instead of 10125 K changes N_V0 by 0.02 %. Using
    the table directly as a photon response (the convention of speclite and kcorrect) changes a star's
    normalisation relative to the reference by 2.6 % at 3000 K, 1.1 % at 4743 K, 0.7 % at 5778 K and
    0.3 % (other sign) at 16600 K. Photometry v1 (a flat 996 photons s⁻¹ cm⁻² Å⁻¹ over the 893.1 Å V
    equivalent width) corresponds to a colour-independent rate; here the electrons of a star depend on its colour through the
    camera's channel curves (:mod:`simulator.camera.bandpass`).
"""
from __future__ import annotations

import functools

import numpy as np

# Physical constants (SI 2019 exact values).
PLANCK_H = 6.62607015e-34  # J s
SPEED_OF_LIGHT = 2.99792458e8  # m/s
BOLTZMANN_K = 1.380649e-23  # J/K

# Ballesteros (2012) validity clip and the colour used where B−V is missing.
BV_CLIP = (-0.40, 2.50)
DEFAULT_BV = 0.65

# Vega-system V zero point, Bessell, Castelli & Plez (1998) Table A2.
V_ZERO_FLAMBDA_CGS = 363.1e-11  # erg s^-1 cm^-2 Å^-1
V_ZERO_FLAMBDA_SI = V_ZERO_FLAMBDA_CGS * 1e-7 / 1e-4 / 1e-10  # W m^-2 m^-1 (= 3.631e-2)
V_ZERO_WAVELENGTH_M = 545.0e-9  # λ_eff of V, 5450 Å

# Fixed grid for the V-band integrals: covers Bessell V (470–700 nm) with margin; 0.5 nm steps.
_V_GRID_M = np.arange(465.0, 705.0 + 0.25, 0.5) * 1e-9


def trapezoid(y, x) -> np.ndarray:
    """Trapezoid-rule integral of ``y`` [..., L] over the last axis on nodes ``x`` (L,).

    (numpy's own is ``trapz`` before 2.0 and ``trapezoid`` after; this works with both.)
    """
    y = np.asarray(y, dtype=np.float64)
    dx = np.diff(np.asarray(x, dtype=np.float64))
    return 0.5 * ((y[..., 1:] + y[..., :-1]) * dx).sum(axis=-1)


def teff_from_bv(bv, default_bv: float = DEFAULT_BV) -> np.ndarray:
    """Effective temperature [K] from Johnson B−V [mag] (Ballesteros 2012, EPL 97, 34008).

    NaN colours become ``default_bv``; colours are clipped to ``BV_CLIP`` = [−0.40, 2.50] first
    (Teff 21708 K … 2725 K). Returns float64 of the input's shape.
    """
    x = np.asarray(bv, dtype=np.float64)
    x = np.where(np.isfinite(x), x, default_bv)
    x = np.clip(x, *BV_CLIP)
    return 4600.0 * (1.0 / (0.92 * x + 1.7) + 1.0 / (0.92 * x + 0.62))


def planck_photon_radiance(wavelength_m, teff) -> np.ndarray:
    """Blackbody photon spectral radiance, photons s⁻¹ m⁻² m⁻¹ sr⁻¹ (exact, not up to a constant).

    B_ph(λ, T) = 2 c / λ⁴ / (exp(h c / (λ k T)) − 1). ``wavelength_m`` and ``teff`` broadcast
    against each other (e.g. teff[:, None] with wavelength[None, :]).
    """
    lam = np.asarray(wavelength_m, dtype=np.float64)
    t = np.asarray(teff, dtype=np.float64)
    x = PLANCK_H * SPEED_OF_LIGHT / (lam * BOLTZMANN_K * t)
    with np.errstate(over="ignore"):
        return 2.0 * SPEED_OF_LIGHT / lam**4 / np.expm1(x)


@functools.lru_cache(maxsize=1)
def _v_response_on_grid() -> np.ndarray:
    from ..camera.bandpass import load_curve  # lazy: bandpass imports this module

    curve = load_curve("bessell_V")
    energy_response = np.interp(_V_GRID_M, curve.wavelength_m, curve.values[:, 0], left=0.0, right=0.0)
    return energy_response * (V_ZERO_WAVELENGTH_M / _V_GRID_M)  # photon-counting response P_V


def v_band_photon_rate(photon_flux_fn) -> np.ndarray:
    """N_V = ∫ F(λ) P_V(λ) dλ [photons s⁻¹ m⁻²], P_V the photon-counting V response.

    ``photon_flux_fn(wavelength_m[L]) -> [..., L]`` gives F [photons s⁻¹ m⁻² m⁻¹].
    """
    return trapezoid(photon_flux_fn(_V_GRID_M) * _v_response_on_grid(), _V_GRID_M)


def v_reference_teff() -> float:
    """T₀ [K] of the V = 0 reference spectrum: Ballesteros T_eff at B−V = 0 (10125 K)."""
    return float(teff_from_bv(0.0))


def v_zero_reference_scale() -> float:
    """Scale k₀ [sr] with F₀(λ) = k₀ · B_ph(λ, T₀) the V = 0 reference photon spectrum."""
    photon_density = V_ZERO_FLAMBDA_SI * V_ZERO_WAVELENGTH_M / (PLANCK_H * SPEED_OF_LIGHT)  # ph s^-1 m^-2 m^-1
    return float(photon_density / planck_photon_radiance(V_ZERO_WAVELENGTH_M, v_reference_teff()))


@functools.lru_cache(maxsize=1)
def v_zero_photon_flux() -> float:
    """N_V0: photons s⁻¹ m⁻² through V (response P_V) of the V = 0 reference spectrum."""
    k0, t0 = v_zero_reference_scale(), v_reference_teff()
    return float(v_band_photon_rate(lambda lam: k0 * planck_photon_radiance(lam, t0)))


def blackbody_v_scale(vmag, teff) -> np.ndarray:
    """k [sr] such that k · B_ph(λ, teff) has synthetic V magnitude ``vmag`` (broadcast shapes)."""
    vmag = np.asarray(vmag, dtype=np.float64)
    teff = np.asarray(teff, dtype=np.float64)
    per_unit = v_band_photon_rate(lambda lam: planck_photon_radiance(lam, teff[..., None]))
    return 10.0 ** (-0.4 * vmag) * v_zero_photon_flux() / per_unit


def photon_flux_density_for_v(vmag, teff, wavelength_grid_m) -> np.ndarray:
    """Top-of-atmosphere photon flux density [N, L], photons s⁻¹ m⁻² m⁻¹.

    A blackbody of temperature ``teff`` [K] (N,) normalised so that its synthetic V magnitude equals
    ``vmag`` (N,) (module docstring), evaluated at ``wavelength_grid_m`` (L,). Scalars give N = 1.
    """
    vmag = np.atleast_1d(np.asarray(vmag, dtype=np.float64))
    teff = np.atleast_1d(np.asarray(teff, dtype=np.float64))
    vmag, teff = np.broadcast_arrays(vmag, teff)
    lam = np.asarray(wavelength_grid_m, dtype=np.float64)
    k = blackbody_v_scale(vmag, teff)
    return k[:, None] * planck_photon_radiance(lam[None, :], teff[:, None])


def synthetic_v_magnitude(wavelength_m, photon_flux_density) -> np.ndarray:
    """Synthetic V [mag] of tabulated photon spectra [..., L] on ``wavelength_m`` (L,), Vega system above."""
    lam = np.asarray(wavelength_m, dtype=np.float64)
    flux = np.asarray(photon_flux_density, dtype=np.float64)
    n_v = v_band_photon_rate(lambda grid: np.stack([np.interp(grid, lam, f) for f in flux.reshape(-1, lam.size)])
                             .reshape(flux.shape[:-1] + grid.shape))
    return -2.5 * np.log10(n_v / v_zero_photon_flux())
