"""Spectral response of camera + lens + window, and per-channel electron rates of stars (photometry v2).

A star of magnitude V and colour B−V deposits, per second, in channel c

    e_c = A · ∫ F(λ) · T_lens(λ) · T_window(λ) · QE_c(λ) dλ        [electrons s⁻¹]

with F the star's top-of-atmosphere photon flux density [photons s⁻¹ m⁻² m⁻¹] (a blackbody of the
Ballesteros T_eff normalised to V, :mod:`simulator.sky.spectra`), A the entrance-pupil area [m²] and QE_c the
probability that a photon reaching the sensor becomes an electron in a pixel of channel c (colour filter,
microlens, fill factor, silicon; for a Bayer sensor, per pixel *of that colour*).

Curves (``catalogs/bandpasses/*.csv``, provenance in that folder's README.md) are loaded by
:func:`load_curve` and resampled by linear interpolation onto ``WAVELENGTH_GRID_M`` (350–1100 nm, 1 nm);
outside its tabulated range a curve is 0. The DSLR curves are measured responses of whole cameras, so they
already contain the camera's IR-cut (hot-mirror) and UV filters: their response falls below 1 % of the peak
beyond ≈ 695 nm and is 0 beyond 780 nm here. The monochrome star-tracker curve has no IR-cut filter.

Relative camera curves (``response_type: energy``) are responses per unit spectral *energy* (rawtoaces
applies them to spectral power distributions). A photon carries h c / λ, so the per-photon response is
QE_c(λ) ∝ S_c(λ) / λ. The three channels share one scale in the source data (G peak = 1), which is kept; the
curves are scaled so that the highest channel peaks at ``peak_qe``, an estimate per camera
(:mod:`simulator.camera.presets`).

Lens transmission defaults to a flat 0.90 (estimate for a modern multicoated photographic lens).
Window transmission models the Cupola: ``panes`` plane plates, 2 surfaces each, each surface reflecting
``surface_reflectance`` (default 0.02, estimate); see :func:`window_transmission`.

Speed: :func:`channel_electron_rates` does not integrate per star. Per :class:`CameraSpectral` it tabulates
R_c(T) = ∫B_ph(λ,T) W_c(λ) dλ / ∫B_ph(λ,T) S_V(λ) dλ (W_c = T_lens·T_window·QE_c) on 1025 temperatures
log-spaced over 2000–50000 K and interpolates linearly in ln T: the largest relative error against direct
integration over 2700–22000 K (the range B−V can give) is 1.6×10⁻⁶ (``tests/test_spectral_photometry.py``
checks < 1e-5). Then e_c = A · N_V0 · 10^(−0.4 V) · R_c(T_eff). 10⁵ stars take ≈ 30 ms; building the table
≈ 50 ms per CameraSpectral. Against an independent 0.1 nm Simpson integration the rates agree to 3×10⁻⁶.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ..catalog_files import catalog_file
from ..errors import ScenarioError
from ..sky import spectra

WAVELENGTH_GRID_NM = np.arange(350.0, 1100.0 + 0.5, 1.0)
WAVELENGTH_GRID_M = WAVELENGTH_GRID_NM * 1e-9

# Curve name -> file in catalogs/bandpasses/.
CURVE_FILES = {
    "bessell_V": "bessell_V.csv",
    "nikon_d700": "nikon_d700.csv",
    "sony_ilce7sm2": "sony_ilce7sm2.csv",
    "mono_fsi_cmos_estimate": "mono_fsi_cmos_estimate.csv",
}
RESPONSE_TYPES = ("photon", "energy", "qe")

# Estimates (no measurement found): flat transmission of a multicoated photographic lens.
DEFAULT_LENS_TRANSMISSION = 0.90
# Cupola windows: 4 panes (debris pane, two ~25–30 mm pressure panes, inner scratch pane): Pettit 2024,
# "4 panes of glass, two of which are 30mm thick" (REFERENCES.md §1.3); satprnews.com 2021-01-22 (two 25 mm
# main panes between an outer debris and an inner scratch pane; fused silica and borosilicate glass).
CUPOLA_PANES = 4
# Per-surface reflectance, estimate: between uncoated fused silica (3.4 % at 550 nm, Malitson 1965 index) and
# a single-layer MgF2 anti-reflection coat (≈ 1.3 %). The Cupola panes are AR-coated, less well than the
# Destiny science window (forum.raumfahrer.net topic 7745, [U]). 8 surfaces x 2 % -> T = 0.851.
DEFAULT_WINDOW_SURFACE_REFLECTANCE = 0.02

# Temperature table for the fast path.
TEFF_TABLE_K = np.geomspace(2000.0, 50000.0, 1025)


@dataclass(frozen=True, eq=False)
class Curve:
    """A tabulated response: ``values[k, c]`` at ``wavelength_m[k]`` for channel ``channels[c]``.

    response_type: "photon" (relative per-photon response, e.g. a filter passband), "energy" (relative
    response per unit spectral energy, e.g. a camera's measured sensitivity) or "qe" (absolute quantum
    efficiency, electrons per photon). ``header``: the file's comment lines (source, licence).
    """

    name: str
    wavelength_m: np.ndarray
    values: np.ndarray
    channels: tuple[str, ...]
    response_type: str
    header: str


def _data_file(filename: str):
    """``catalogs/bandpasses/<filename>`` (simulator.catalog_files)."""
    return catalog_file("bandpasses/" + filename)


def curve_names() -> tuple[str, ...]:
    """Names accepted by :func:`load_curve`."""
    return tuple(sorted(CURVE_FILES))


@functools.lru_cache(maxsize=None)
def load_curve(name: str) -> Curve:
    """Load the curve ``name`` (see :func:`curve_names`); ScenarioError("camera.qe_curve", ...) if unknown."""
    if name not in CURVE_FILES:
        known = ", ".join(curve_names())
        raise ScenarioError("camera.qe_curve", f"unknown spectral curve {name!r}; known curves: {known}",
                            f"use one of: {known}")
    path = _data_file(CURVE_FILES[name])
    if path is None:
        raise ScenarioError("camera.qe_curve", f"curve file {CURVE_FILES[name]} not found in catalogs/bandpasses",
                            "reinstall startrail")
    comments, rows, columns = [], [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            comments.append(line[1:].strip())
        elif line.strip():
            if columns is None:
                columns = [c.strip() for c in line.split(",")]
            else:
                rows.append([float(v) for v in line.split(",")])
    data = np.asarray(rows, dtype=np.float64)
    rtype = next((c.split(":", 1)[1].strip() for c in comments if c.startswith("response_type:")), None)
    if rtype not in RESPONSE_TYPES or columns is None or columns[0] != "wavelength_nm" or data.ndim != 2:
        raise ValueError(f"malformed curve file {path}")
    if np.any(np.diff(data[:, 0]) <= 0) or np.any(data[:, 1:] < 0):
        raise ValueError(f"curve file {path}: wavelengths must increase and responses be >= 0")
    return Curve(name=name, wavelength_m=data[:, 0] * 1e-9, values=data[:, 1:], channels=tuple(columns[1:]),
                 response_type=rtype, header="\n".join(comments))


def resample(curve: Curve, wavelength_m=WAVELENGTH_GRID_M) -> np.ndarray:
    """The curve's values [C, L] linearly interpolated onto ``wavelength_m``; 0 outside its range."""
    lam = np.asarray(wavelength_m, dtype=np.float64)
    return np.stack([np.interp(lam, curve.wavelength_m, curve.values[:, c], left=0.0, right=0.0)
                     for c in range(curve.values.shape[1])])


def quantum_efficiency(name: str, peak_qe: float | None = None, wavelength_m=WAVELENGTH_GRID_M) -> np.ndarray:
    """Absolute QE [C, L] (electrons per photon) of curve ``name`` on ``wavelength_m``.

    "energy" curves become per-photon responses S(λ)/λ, then are scaled so the highest channel peaks at
    ``peak_qe`` (required for them). "qe" curves are used as tabulated, or rescaled to ``peak_qe`` if given.
    """
    curve = load_curve(name)
    lam = np.asarray(wavelength_m, dtype=np.float64)
    if curve.response_type == "photon":
        raise ValueError(f"{name} is a filter passband, not a quantum-efficiency curve")
    values = resample(curve, lam)
    if curve.response_type == "energy":
        if peak_qe is None:
            raise ValueError(f"{name} is a relative curve: give peak_qe")
        values = values / lam
    if peak_qe is not None:
        if not 0.0 < peak_qe <= 1.0:
            raise ValueError(f"peak_qe must be in (0, 1], not {peak_qe}")
        values = values * (peak_qe / values.max())
    return values


def fused_silica_index(wavelength_m) -> np.ndarray:
    """Refractive index of fused silica (Malitson 1965, JOSA 55, 1205, three-term Sellmeier, 0.21–3.7 µm)."""
    l2 = (np.asarray(wavelength_m, dtype=np.float64) * 1e6) ** 2
    n2 = 1.0 + 0.6961663 * l2 / (l2 - 0.0684043**2) + 0.4079426 * l2 / (l2 - 0.1162414**2) \
        + 0.8974794 * l2 / (l2 - 9.896161**2)
    return np.sqrt(n2)


def lens_transmission(wavelength_m=WAVELENGTH_GRID_M, value: float = DEFAULT_LENS_TRANSMISSION) -> np.ndarray:
    """Lens transmission [L]: flat ``value`` (default 0.90, an estimate for a multicoated lens)."""
    return np.full(np.shape(wavelength_m), float(value))


def window_transmission(wavelength_m=WAVELENGTH_GRID_M, panes: int = CUPOLA_PANES,
                        surface_reflectance: float | str = DEFAULT_WINDOW_SURFACE_REFLECTANCE) -> np.ndarray:
    """Transmission [L] of ``panes`` plane plates at normal incidence: (1 − R)^(2·panes).

    ``surface_reflectance``: a number (per surface, default 0.02, estimate) or "uncoated" for the Fresnel
    reflectance ((n−1)/(n+1))² of fused silica (Malitson 1965), 0.034 at 550 nm, which gives 0.76 for 4 panes.
    Multiple reflections between surfaces (adding back ~R² ≈ 0.1 %) and bulk absorption (negligible for fused
    silica over 350–1100 nm; borosilicate absorbs below ≈ 350 nm) are neglected. panes = 0: no window.
    """
    lam = np.asarray(wavelength_m, dtype=np.float64)
    if isinstance(surface_reflectance, str):
        if surface_reflectance != "uncoated":
            raise ValueError('surface_reflectance: a number or "uncoated"')
        n = fused_silica_index(lam)
        r = ((n - 1.0) / (n + 1.0)) ** 2
    else:
        r = np.full(lam.shape, float(surface_reflectance))
    return (1.0 - r) ** (2 * int(panes))


@dataclass(frozen=True, eq=False)
class CameraSpectral:
    """System response of camera + lens + window.

    response[c, l]: electrons in channel c per photon entering the aperture at wavelength_m[l]
    (T_lens · T_window · QE_c). aperture_area_m2: entrance-pupil area π/4 (f/N)² [m²].
    """

    channels: tuple[str, ...]
    wavelength_m: np.ndarray
    response: np.ndarray
    aperture_area_m2: float
    _ratio_table: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "_ratio_table", self.ratio_exact(TEFF_TABLE_K))

    def ratio_exact(self, teff) -> np.ndarray:
        """R_c(T) [N, C]: electrons per V-band photon, ∫B_ph W_c dλ / ∫B_ph S_V dλ, by direct integration."""
        t = np.atleast_1d(np.asarray(teff, dtype=np.float64))
        bb = spectra.planck_photon_radiance(self.wavelength_m[None, :], t[:, None])  # [N, L]
        num = np.stack([spectra.trapezoid(bb * self.response[c], self.wavelength_m)
                        for c in range(len(self.channels))], axis=-1)
        den = spectra.v_band_photon_rate(lambda lam: spectra.planck_photon_radiance(lam, t[:, None]))
        return num / den[:, None]

    def ratio(self, teff) -> np.ndarray:
        """R_c(T) [N, C] interpolated (linear in ln T) from the table; T clipped to 2000–50000 K."""
        lt = np.log(np.clip(np.atleast_1d(np.asarray(teff, dtype=np.float64)), TEFF_TABLE_K[0], TEFF_TABLE_K[-1]))
        grid = np.log(TEFF_TABLE_K)
        return np.stack([np.interp(lt, grid, self._ratio_table[:, c]) for c in range(len(self.channels))], axis=-1)


def camera_spectral(qe_curve: str, aperture_area_m2: float, peak_qe: float | None = None, *,
                    lens_transmission_value: float = DEFAULT_LENS_TRANSMISSION, window_panes: int = CUPOLA_PANES,
                    window_surface_reflectance: float | str = DEFAULT_WINDOW_SURFACE_REFLECTANCE,
                    wavelength_m=WAVELENGTH_GRID_M) -> CameraSpectral:
    """Build a :class:`CameraSpectral` from a QE curve name, pupil area [m²] and the transmissions above.

    Its wavelength grid is ``wavelength_m`` restricted to the QE curve's tabulated range (plus that range's end
    points); outside it the response is 0.
    """
    lam = np.asarray(wavelength_m, dtype=np.float64)
    # Integrate only over the curve's tabulated range, with its end points on the grid: a curve that ends at a
    # non-zero value (the DSLR curves at 380 and 780 nm) is a step, and a step inside a trapezoid grid costs
    # half a grid cell (1e-4 of the signal at 1 nm); restricted, the rule converges as h^2 (< 1e-5 at 1 nm).
    ends = load_curve(qe_curve).wavelength_m[[0, -1]]
    lam = np.union1d(lam[(lam > ends[0]) & (lam < ends[1])], ends[(ends >= lam[0]) & (ends <= lam[-1])])
    qe = quantum_efficiency(qe_curve, peak_qe, lam)
    response = qe * lens_transmission(lam, lens_transmission_value) * window_transmission(
        lam, window_panes, window_surface_reflectance)
    if not aperture_area_m2 > 0:
        raise ValueError("aperture_area_m2 must be > 0")
    return CameraSpectral(channels=load_curve(qe_curve).channels, wavelength_m=lam, response=response,
                          aperture_area_m2=float(aperture_area_m2))


def spectral_response(camera) -> CameraSpectral:
    """The :class:`CameraSpectral` of a ``simulator.camera.projection.Camera`` with a ``qe_curve``: its
    QE curve, pupil area, lens transmission and window panes (the one place that reads those fields)."""
    return camera_spectral(camera.qe_curve, camera.aperture_area_m2, camera.peak_qe,
                           lens_transmission_value=camera.lens_transmission, window_panes=camera.window_panes,
                           window_surface_reflectance=camera.window_surface_reflectance)


def channel_electron_rates(vmag, bv, camera_spectral: CameraSpectral) -> np.ndarray:
    """Electrons per second [N, C] in each channel for stars of V ``vmag`` [mag] and colour ``bv`` [mag].

    NaN colours use ``spectra.DEFAULT_BV``. Top of atmosphere: no extinction (the Earth's limb is elsewhere).
    """
    vmag = np.atleast_1d(np.asarray(vmag, dtype=np.float64))
    teff = spectra.teff_from_bv(np.broadcast_to(np.asarray(bv, dtype=np.float64), vmag.shape))
    scale = camera_spectral.aperture_area_m2 * spectra.v_zero_photon_flux() * 10.0 ** (-0.4 * vmag)
    return scale[:, None] * camera_spectral.ratio(teff)


def channel_electron_rates_exact(vmag, teff, camera_spectral: CameraSpectral) -> np.ndarray:
    """As :func:`channel_electron_rates` but from T_eff [K] and by direct integration (no table; O(N·L))."""
    vmag = np.atleast_1d(np.asarray(vmag, dtype=np.float64))
    t = np.broadcast_to(np.asarray(teff, dtype=np.float64), vmag.shape)
    scale = camera_spectral.aperture_area_m2 * spectra.v_zero_photon_flux() * 10.0 ** (-0.4 * vmag)
    return scale[:, None] * camera_spectral.ratio_exact(t)
