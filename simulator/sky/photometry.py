"""Star photometry, version 1: V magnitude -> detected electrons per second.

rate = 10^(-0.4 V) · N_V · A · throughput, where N_V is the photon flux of a V = 0 star through the
Johnson V band above the atmosphere, A the entrance-pupil area and ``throughput`` one factor for lens,
window and mean quantum efficiency (``camera.throughput``). The spectral model (blackbody per B−V
through per-channel QE curves) replaces N_V · throughput later; callers go through
:func:`electron_rates`, which is the seam for it.
"""
from __future__ import annotations

import numpy as np

from ..camera.projection import Camera

# V = 0 flux density, erg s^-1 cm^-2 Å^-1, at the V effective wavelength 5450 Å:
# Bessell, Castelli & Plez 1998, A&A 333, 231, Table A2.
VEGA_V0_FLAMBDA_CGS = 363.1e-11
V_EFFECTIVE_WAVELENGTH_A = 5450.0
# Equivalent width of the Johnson V passband normalised to its peak: the integral of Bessell's
# (1990, PASP 102, 1181) tabulated V response, 893.1 Å (as distributed in the `speclite` package).
V_EQUIVALENT_WIDTH_A = 893.1
PLANCK_CGS = 6.62607015e-27  # erg s (exact, SI 2019)
C_CGS = 2.99792458e10  # cm/s (exact)


def v_zero_photon_density() -> float:
    """Photon flux density of a V = 0 star at 5450 Å: photons s^-1 cm^-2 Å^-1 (≈ 996)."""
    return VEGA_V0_FLAMBDA_CGS * V_EFFECTIVE_WAVELENGTH_A * 1e-8 / (PLANCK_CGS * C_CGS)


def v_zero_photon_flux_m2() -> float:
    """Photons s^-1 m^-2 of a V = 0 star through the V band (≈ 8.9e9)."""
    return v_zero_photon_density() * V_EQUIVALENT_WIDTH_A * 1e4


def electron_rates(vmag: np.ndarray, camera: Camera) -> np.ndarray:
    """Detected electrons per second [N] for stars of V magnitude ``vmag`` through ``camera``."""
    vmag = np.asarray(vmag, dtype=np.float64)
    return 10.0 ** (-0.4 * vmag) * v_zero_photon_flux_m2() * camera.aperture_area_m2 * camera.throughput


def channel_rates(vmag: np.ndarray, bv: np.ndarray, camera: Camera) -> np.ndarray:
    """Detected electrons per second [N, C] per colour channel.

    With ``camera.qe_curve`` the spectral model (blackbody of T_eff from B−V, normalised to V, through
    lens, window and channel QE; camera/bandpass.py); without it photometry v1 in one channel.
    """
    if camera.qe_curve is None:
        return electron_rates(vmag, camera)[:, None]
    from ..camera.bandpass import channel_electron_rates, spectral_response

    return channel_electron_rates(vmag, bv, spectral_response(camera))
