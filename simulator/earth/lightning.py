"""Lightning: a flash-rate climatology, its diurnal cycle, Poisson sampling of flashes and their light.

Climatology
    catalogs/lightning_climatology.npz (built by catalogs/build_lightning_climatology.py; provenance in
    catalogs/lightning_climatology.md): the annual-mean flash-rate density in fl km^-2 yr^-1 on a 1 deg grid,
    split into a land and a water component. It is a cited *parametrisation* of the LIS/OTD climatology (land
    mask x zonal shapes x documented hotspots), normalised to 44 fl/s worldwide (Christian et al. 2003, [W])
    with a 10:1 land:water mean density (Christian et al. 2003, [W]). Inside a cell the density is uniform.

Diurnal cycle
    Each component is modulated in local mean solar time h (UTC + longitude / 15 deg per hour; the equation of
    time, < 17 min, is neglected) by ``1 + A cos(2 pi (h - h_peak) / 24 h)``, whose daily mean is exactly 1, so
    the climatology stays the daily mean. Land: peak at 16 h LST (continental maximum mid/late afternoon,
    15-17 LT: Albrecht et al. 2016; afternoon maxima over terrain all between 1500 and 1700 LST: Virts et al.
    2017 MWR 145(11); land single peak 1400-1900 LT in LIS/OTD 1995-2010) with A = 0.7 (estimate: a morning
    minimum ~ 1/6 of the afternoon peak; the LIS/OTD diurnal composites show a strong continental cycle, Bailey
    et al. 2006 NTRS 20070038367). Water: weak, A = 0.15 (estimate; "over water we see very little variation",
    H. Christian), peak at 03 h LST (estimate: oceanic and lake hotspots are nocturnal, Albrecht et al. 2016).

Flashes
    A Poisson process in space and time with that density: per cell and component the expected number over
    [t0, t1] has a closed form (:func:`expected_counts`), the count is Poisson, the time is drawn from the
    diurnal factor by rejection and the place uniformly over the cell's area. Per-flash properties (all
    independent; every distribution below is an estimate unless tagged):

    * cloud_top_km: 8 + 7 cos^2(lat) km (15 km at the equator, ~11.5 km at 45 deg: a stand-in for the
      tropopause, which the tops of thunderstorms reach) plus a uniform spread of +-2 km.
    * duration_s: log-normal, median 0.25 s, sigma_ln 0.6, clipped to [0.02, 2] s ("a few tenths of a second",
      REFERENCES.md section 5 [M/U]; LIS extremes 4.3-7.4 s, Peterson et al. 2017, are left out).
    * optical_energy_J: energy radiated upward by the cloud top over 400-1100 nm, log-normal with median
      3e5 J over land, sigma_ln 1.7 (a dynamic range of ~10^3 over +-2 sigma, the U-2 above-cloud range:
      Goodman et al. 1988, median peak source power ~1e8 W over ~16 optical pulses per flash of ~0.4-0.6 ms;
      FORTE photodiode median pulse energy 450 kJ, a bright-biased lower bound: Kirkland et al. 2001, JGR
      106(D24) 33499), clipped to [1e3, 1e9] J. Water flashes: median x 2 (oceanic cloud-top radiance ~2x land,
      Boccippio et al. 1999 [M]; oceanic flashes brighter and larger, Peterson et al. 2017 [W]).
    * radius_km: the Gaussian sigma of the illuminated cloud top's radiance, log-normal, median 8 km
      (land) / 10 km (water), sigma_ln 0.5, clipped to [2, 60] km (LIS flash footprints of some hundreds of km^2,
      up to 10,604 km^2: Peterson et al. 2017 [W for the extreme]).
    * spectrum: a 10,000 K blackbody continuum carrying 96 % of the 400-1100 nm energy plus the O I 777.4 nm
      line with 4 % (about 4 % of the broadband FORTE photodiode energy appears in the 777.4 nm imager band:
      Suszcynsky et al. 2001 JGR 106(D16) 17897 [M]; the continuum temperature is a "blue-white" stand-in for
      the channel's N II / N I / O I lines plus continuum, Orville 1966).

Light at the camera
    The cloud top is a Lambertian emitter: energy per steradian E cos(e) / pi at emission angle e from the local
    vertical, so the aperture A at distance d receives E cos(e) / pi * A / d^2. Above the cloud top the light
    crosses the rest of the atmosphere: Rayleigh (vertical optical depth of the whole column times the US 1976
    pressure fraction above the cloud top, slant factor of a homogeneous spherical shell with the 6.34 km scale
    height of the isothermal lower stratosphere) and ozone (the full Gaussian layer of earth/atmosphere.py above
    the cloud top, as a thin shell at its peak height). Electrons per channel follow from the camera's spectral
    response (camera/bandpass.py), or for a photometry-v1 camera (no qe_curve) from ``throughput`` x the photons
    in 400-700 nm (estimate: the visible band a DSLR records).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erfc

from ..catalog_files import catalog_file
from .latlon_grid import cell_area, cell_index
from .atmosphere import DEFAULT as DEFAULT_ATMOSPHERE
from .atmosphere import ozone_vertical_optical_depth, rayleigh_vertical_optical_depth

FILENAME = "lightning_climatology.npz"
SECONDS_PER_DAY = 86400.0

# --- diurnal cycle (sources in the module docstring) ---
DIURNAL = {"land": (0.7, 16.0), "water": (0.15, 3.0)}  # (amplitude, peak local mean solar hour)

# --- flash properties (estimates; module docstring) ---
CLOUD_TOP_BASE_KM = 8.0
CLOUD_TOP_TROPICAL_EXTRA_KM = 7.0
CLOUD_TOP_SPREAD_KM = 2.0  # half-width of the uniform spread
MAX_CLOUD_TOP_KM = CLOUD_TOP_BASE_KM + CLOUD_TOP_TROPICAL_EXTRA_KM + CLOUD_TOP_SPREAD_KM
DURATION_MEDIAN_S, DURATION_SIGMA_LN, DURATION_RANGE_S = 0.25, 0.6, (0.02, 2.0)
ENERGY_MEDIAN_J = {"land": 3e5, "water": 6e5}
ENERGY_SIGMA_LN, ENERGY_RANGE_J = 1.7, (1e3, 1e9)
RADIUS_MEDIAN_KM = {"land": 8.0, "water": 10.0}
RADIUS_SIGMA_LN, RADIUS_RANGE_KM = 0.5, (2.0, 60.0)
SURFACES = ("land", "water")

# --- spectrum ---
CONTINUUM_TEMPERATURE_K = 10000.0
LINE_WAVELENGTH_M = 777.4e-9  # O I triplet (777.19-777.54 nm)
LINE_FRACTION = 0.04
ENERGY_BAND_M = (400e-9, 1100e-9)  # the band the optical energy refers to
V1_BAND_M = (400e-9, 700e-9)  # photometry-v1 cameras: throughput x photons in this band

# --- atmosphere above the cloud top ---
STRATOSPHERE_SCALE_HEIGHT_KM = 8314.32 * 216.65 / (28.9644 * 9.80665) / 1000.0  # US 1976, 216.65 K: 6.342 km
US76_TROPOPAUSE_KM, US76_TROPOPAUSE_PRESSURE_RATIO = 11.0, 0.223361  # p(11 km) / p0, US 1976
EARTH_RADIUS_KM = 6371.0

_H = 6.62607015e-34
_C = 299792458.0
_KB = 1.380649e-23



@dataclass(frozen=True)
class LightningClimatology:
    """Annual-mean flash-rate density components, fl km^-2 yr^-1 (per unit cell area), row 0 = northernmost."""

    land: np.ndarray  # float64 [nlat, nlon]
    water: np.ndarray  # float64 [nlat, nlon]
    land_fraction: np.ndarray  # float64 [nlat, nlon]
    lat_deg: np.ndarray  # cell-centre latitudes, descending
    lon_deg: np.ndarray  # cell-centre longitudes, ascending from -180
    cell_deg: float
    area_km2: np.ndarray  # [nlat] area of one cell in each row (authalic sphere)
    seconds_per_year: float
    meta: dict

    @property
    def total(self) -> np.ndarray:
        return self.land + self.water

    def cell_index(self, lat_deg, lon_deg):
        """Row and column of the cell containing each (lat, lon)."""
        return cell_index(lat_deg, lon_deg, self.cell_deg, self.land.shape)

    def global_rate_fl_s(self) -> float:
        """Annual-mean flashes per second over the whole Earth."""
        return float((self.total * self.area_km2[:, None]).sum() / self.seconds_per_year)

    def land_ocean_ratio(self) -> float:
        """Area-mean density over land divided by that over water (land fraction weighted)."""
        a = self.area_km2[:, None]
        land_area = float((a * self.land_fraction).sum())
        water_area = float((a * (1.0 - self.land_fraction)).sum())
        return (float((self.land * a).sum()) / land_area) / (float((self.water * a).sum()) / water_area)


@functools.lru_cache(maxsize=1)
def load_climatology() -> LightningClimatology:
    path = catalog_file(FILENAME)
    if path is None:
        raise FileNotFoundError(f"{FILENAME} not found (startrail_catalogs or catalogs/); "
                                "run catalogs/build_lightning_climatology.py")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    land = arrays.pop("land").astype(np.float64)
    water = arrays.pop("water").astype(np.float64)
    frac = arrays.pop("land_fraction").astype(np.float64)
    lat = arrays.pop("lat_deg")
    lon = arrays.pop("lon_deg")
    cell = float(arrays.pop("cell_deg"))
    radius = float(arrays.pop("authalic_radius_km"))
    year = float(arrays.pop("seconds_per_year"))
    for a in (land, water, frac):
        a.setflags(write=False)
    area = cell_area(lat, cell, radius)
    meta = {k: (v.item() if v.ndim == 0 else v) for k, v in arrays.items()}
    return LightningClimatology(land, water, frac, lat, lon, cell, area, year, meta)


# --- time of day --------------------------------------------------------------------------------------------

def utc_seconds_of_day(time) -> float | np.ndarray:
    """Seconds since 00:00 UTC of an astropy ``Time`` (scalar or array)."""
    mjd = np.asarray(time.utc.mjd, dtype=np.float64)
    return (mjd - np.floor(mjd)) * SECONDS_PER_DAY


def local_solar_hour(lon_deg, utc_seconds):
    """Local mean solar time in hours [0, 24): UTC + longitude / 15 deg per hour."""
    return np.mod(np.asarray(utc_seconds, dtype=np.float64) / 3600.0 + np.asarray(lon_deg) / 15.0, 24.0)


def diurnal_factor(local_hour, surface: str):
    """Multiplier of the annual-mean density at local mean solar hour(s) for "land" or "water" (daily mean 1)."""
    amp, peak = DIURNAL[surface]
    return 1.0 + amp * np.cos(2.0 * np.pi * (np.asarray(local_hour, dtype=np.float64) - peak) / 24.0)


def flash_rate_density(lat_deg, lon_deg, time) -> np.ndarray:
    """Instantaneous flash-rate density, fl km^-2 yr^-1 (i.e. the rate that would give this many per year), at
    (lat, lon) and UTC ``time`` (astropy Time, broadcast against lat/lon): the cell's land and water components
    each times its diurnal factor, whose phase is taken at the cell-centre longitude (so the density is uniform
    over a cell at any instant, as the sampling assumes)."""
    clim = load_climatology()
    r, c = clim.cell_index(lat_deg, lon_deg)
    h = local_solar_hour(clim.lon_deg[c], utc_seconds_of_day(time))
    return clim.land[r, c] * diurnal_factor(h, "land") + clim.water[r, c] * diurnal_factor(h, "water")


def _diurnal_integral(lon_deg, s0, t0, t1, surface):
    """Integral over t in [t0, t1] (s from the reference UTC second-of-day s0) of the diurnal factor, seconds."""
    amp, peak = DIURNAL[surface]
    w = 2.0 * np.pi / SECONDS_PER_DAY
    phase = w * (s0 + np.asarray(lon_deg) / 15.0 * 3600.0 - peak * 3600.0)
    return (t1 - t0) + amp / w * (np.sin(phase + w * t1) - np.sin(phase + w * t0))


def expected_counts(rows, cols, start, t0: float, t1: float) -> dict:
    """Expected numbers of flashes {"land": [M], "water": [M]} in cells (rows, cols) between t0 and t1 seconds
    after ``start`` (astropy Time): density x cell area x the integral of the diurnal factor (closed form),
    evaluated at the cell-centre longitude."""
    clim = load_climatology()
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    s0 = float(utc_seconds_of_day(start))
    lon = clim.lon_deg[cols]
    area = clim.area_km2[rows]
    out = {}
    for surface in SURFACES:
        dens = getattr(clim, surface)[rows, cols]
        out[surface] = dens * area * _diurnal_integral(lon, s0, t0, t1, surface) / clim.seconds_per_year
    return out


def expected_flashes(rows, cols, start, t0: float, t1: float) -> float:
    """Expected total number of flashes in the given cells between t0 and t1 s after ``start``."""
    e = expected_counts(rows, cols, start, t0, t1)
    return float(e["land"].sum() + e["water"].sum())


def cells_within(lat_deg, lon_deg, radius_deg):
    """(rows, cols) of cells whose centre lies within ``radius_deg`` (great circle) of any of the points."""
    clim = load_climatology()
    lat_c, lon_c = np.meshgrid(np.radians(clim.lat_deg), np.radians(clim.lon_deg), indexing="ij")
    cells = np.stack([np.cos(lat_c) * np.cos(lon_c), np.cos(lat_c) * np.sin(lon_c), np.sin(lat_c)], axis=-1)
    la = np.radians(np.atleast_1d(np.asarray(lat_deg, dtype=np.float64)))
    lo = np.radians(np.atleast_1d(np.asarray(lon_deg, dtype=np.float64)))
    pts = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)
    return _cells_near(cells.reshape(-1, 3), pts, np.cos(np.radians(radius_deg)), clim.land.shape)


def _cells_near(cells, pts, cos_limit, shape):
    best = np.full(cells.shape[0], -2.0)
    for k in range(0, pts.shape[0], 64):
        np.maximum(best, (cells @ pts[k:k + 64].T).max(axis=1), out=best)
    idx = np.flatnonzero(best >= cos_limit)
    return np.unravel_index(idx, shape)


def cells_in_view(start, t, pos_gcrs_km, itrs_to_gcrs=None, max_cloud_top_km: float = MAX_CLOUD_TOP_KM):
    """(rows, cols) of the cells that may hold a cloud top above the ISS's horizon at some time in [t0, tK].

    t [K] s after ``start``, pos_gcrs_km [K, 3]. Conservative: the ground angle from the sub-ISS point to the
    farthest visible cloud top on a sphere of the WGS84 polar radius, plus the cell's half-diagonal, half the
    largest sub-point step between knots and 0.5 deg (geodetic vs geocentric latitude, < 0.2 deg).
    """
    from astropy import units as u

    from .ellipsoid import WGS84_A_KM, WGS84_E2
    from .rotation import itrs_to_gcrs_matrices

    clim = load_climatology()
    t = np.asarray(t, dtype=np.float64)
    pos = np.asarray(pos_gcrs_km, dtype=np.float64)
    m = itrs_to_gcrs_matrices(start + t * u.s) if itrs_to_gcrs is None else itrs_to_gcrs
    itrs = np.einsum("kji,kj->ki", m, pos)  # M^T p
    r = np.linalg.norm(itrs, axis=1)
    units = itrs / r[:, None]
    b = WGS84_A_KM * math.sqrt(1.0 - WGS84_E2)
    horizon = np.arccos(np.clip(b / r, -1, 1)).max() + math.acos(b / (b + max_cloud_top_km))
    step = float(np.arccos(np.clip(np.sum(units[1:] * units[:-1], axis=1), -1, 1)).max()) if t.size > 1 else 0.0
    margin = np.radians(clim.cell_deg * math.sqrt(0.5) + 0.5) + 0.5 * step
    lat_c, lon_c = np.meshgrid(np.radians(clim.lat_deg), np.radians(clim.lon_deg), indexing="ij")
    cells = np.stack([np.cos(lat_c) * np.cos(lon_c), np.cos(lat_c) * np.sin(lon_c), np.sin(lat_c)], axis=-1)
    return _cells_near(cells.reshape(-1, 3), units, math.cos(min(horizon + margin, np.pi)), clim.land.shape)


# --- sampling -----------------------------------------------------------------------------------------------

def _lognormal(rng, median, sigma, n, lo, hi):
    return np.clip(np.asarray(median) * np.exp(sigma * rng.standard_normal(n)), lo, hi)


def cloud_top_mean_km(lat_deg):
    """Mean cloud-top height (km) of the flash distribution at latitude(s)."""
    return CLOUD_TOP_BASE_KM + CLOUD_TOP_TROPICAL_EXTRA_KM * np.cos(np.radians(np.asarray(lat_deg))) ** 2


def sample_flashes(rng: np.random.Generator, rows, cols, start, t0: float, t1: float) -> dict:
    """Draw the flashes of cells (rows, cols) between t0 and t1 s after ``start`` (a Poisson process with the
    density of :func:`flash_rate_density`). Returns a dict of arrays sorted by time: time_s, lat_deg, lon_deg,
    surface (0 land, 1 water), cloud_top_km, duration_s, optical_energy_J, radius_km."""
    clim = load_climatology()
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    s0 = float(utc_seconds_of_day(start))
    expected = expected_counts(rows, cols, start, t0, t1)
    parts = []
    for k, surface in enumerate(SURFACES):
        n = rng.poisson(expected[surface])
        cell = np.repeat(np.arange(rows.size), n)
        total = cell.size
        # times: rejection from the diurnal factor (bounded by 1 + A)
        amp, _ = DIURNAL[surface]
        lon_cell = clim.lon_deg[cols[cell]]
        times = np.empty(total)
        todo = np.arange(total)
        while todo.size:
            cand = t0 + (t1 - t0) * rng.random(todo.size)
            h = local_solar_hour(lon_cell[todo], s0 + cand)
            ok = rng.random(todo.size) * (1.0 + amp) <= diurnal_factor(h, surface)
            times[todo[ok]] = cand[ok]
            todo = todo[~ok]
        # place: uniform over the cell's area
        half = 0.5 * clim.cell_deg
        lat_c = clim.lat_deg[rows[cell]]
        s_lo, s_hi = np.sin(np.radians(lat_c - half)), np.sin(np.radians(lat_c + half))
        lat = np.degrees(np.arcsin(s_lo + (s_hi - s_lo) * rng.random(total)))
        lon = clim.lon_deg[cols[cell]] + clim.cell_deg * (rng.random(total) - 0.5)
        lon = np.mod(lon + 180.0, 360.0) - 180.0
        top = cloud_top_mean_km(lat) + CLOUD_TOP_SPREAD_KM * (2.0 * rng.random(total) - 1.0)
        dur = _lognormal(rng, DURATION_MEDIAN_S, DURATION_SIGMA_LN, total, *DURATION_RANGE_S)
        energy = _lognormal(rng, ENERGY_MEDIAN_J[surface], ENERGY_SIGMA_LN, total, *ENERGY_RANGE_J)
        radius = _lognormal(rng, RADIUS_MEDIAN_KM[surface], RADIUS_SIGMA_LN, total, *RADIUS_RANGE_KM)
        parts.append(dict(time_s=times, lat_deg=lat, lon_deg=lon, surface=np.full(total, k, np.int8),
                          cloud_top_km=top, duration_s=dur, optical_energy_J=energy, radius_km=radius))
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.argsort(out["time_s"], kind="stable")
    return {key: value[order] for key, value in out.items()}


# --- light --------------------------------------------------------------------------------------------------

def pressure_fraction_above(height_km):
    """p(h) / p0 of the US Standard Atmosphere 1976 (troposphere lapse 6.5 K/km, isothermal 216.65 K above
    11 km; geometric height used as geopotential, < 0.3 % off at 15 km)."""
    h = np.asarray(height_km, dtype=np.float64)
    tropo = (1.0 - 6.5 * np.minimum(h, US76_TROPOPAUSE_KM) / 288.15) ** 5.255877
    strato = US76_TROPOPAUSE_PRESSURE_RATIO * np.exp(-(h - US76_TROPOPAUSE_KM) / STRATOSPHERE_SCALE_HEIGHT_KM)
    return np.where(h <= US76_TROPOPAUSE_KM, tropo, strato)


def ozone_fraction_above(height_km, atm=DEFAULT_ATMOSPHERE):
    """Fraction of the Gaussian ozone layer of earth/atmosphere.py (peak, sigma) above height (km)."""
    h = np.asarray(height_km, dtype=np.float64)
    full = 0.5 * erfc((0.0 - atm.ozone_peak_km) / (atm.ozone_sigma_km * math.sqrt(2.0)))
    return 0.5 * erfc((h - atm.ozone_peak_km) / (atm.ozone_sigma_km * math.sqrt(2.0))) / full


def slant_factors(cos_emission, cloud_top_km, atm=DEFAULT_ATMOSPHERE):
    """(Rayleigh, ozone) slant-path factors from the cloud top at emission angle e (cos e > 0): a homogeneous
    spherical shell of the stratospheric scale height, and a thin ozone shell at the layer's peak height."""
    mu = np.clip(np.asarray(cos_emission, dtype=np.float64), 0.0, 1.0)
    h = np.asarray(cloud_top_km, dtype=np.float64)
    r = (EARTH_RADIUS_KM + h) / STRATOSPHERE_SCALE_HEIGHT_KM
    rayleigh = np.sqrt((r * mu) ** 2 + 2.0 * r + 1.0) - r * mu
    s = (EARTH_RADIUS_KM + h) / (EARTH_RADIUS_KM + np.maximum(atm.ozone_peak_km, h + 1e-3))
    ozone = 1.0 / np.sqrt(1.0 - s**2 * (1.0 - mu**2))
    return rayleigh, ozone


def _planck_energy(lam, temperature):
    return 1.0 / lam**5 / np.expm1(_H * _C / (lam * _KB * temperature))


@functools.lru_cache(maxsize=1)
def _continuum_norm() -> float:
    lam = np.linspace(*ENERGY_BAND_M, 70001)
    return float(np.trapezoid(_planck_energy(lam, CONTINUUM_TEMPERATURE_K), lam))


def continuum_photons_per_joule(wavelength_m) -> np.ndarray:
    """Photons per metre of wavelength per joule of flash energy (the continuum's share, 0 outside 400-1100 nm)."""
    lam = np.asarray(wavelength_m, dtype=np.float64)
    inside = (lam >= ENERGY_BAND_M[0]) & (lam <= ENERGY_BAND_M[1])
    spec = (1.0 - LINE_FRACTION) * _planck_energy(lam, CONTINUUM_TEMPERATURE_K) / _continuum_norm()
    return np.where(inside, spec * lam / (_H * _C), 0.0)


LINE_PHOTONS_PER_JOULE = LINE_FRACTION * LINE_WAVELENGTH_M / (_H * _C)


class FlashPhotometry:
    """Electrons per channel per joule of flash light reaching the aperture, through the air above the cloud top.

    ``response`` [C, L] (electrons per photon at the aperture on ``wavelength_m``) and ``line_response`` [C]:
    the camera's spectral response (camera/bandpass.py), or ``throughput`` over 400-700 nm for a camera without
    a qe_curve.
    """

    def __init__(self, camera, atm=DEFAULT_ATMOSPHERE):
        if camera.qe_curve is not None:
            from ..camera.bandpass import spectral_response

            spec = spectral_response(camera)
            lam = np.asarray(spec.wavelength_m, dtype=np.float64)
            resp = np.asarray(spec.response, dtype=np.float64)
        else:
            lam = np.linspace(*V1_BAND_M, 301)
            resp = np.full((1, lam.size), float(camera.throughput))
        self.wavelength_m = lam
        self.response = resp
        self.line_response = np.array([np.interp(LINE_WAVELENGTH_M, lam, resp[c], left=0.0, right=0.0)
                                       for c in range(resp.shape[0])])
        self.continuum = continuum_photons_per_joule(lam)  # photons m^-1 J^-1
        self.tau_rayleigh = rayleigh_vertical_optical_depth(lam, atm)
        self.tau_ozone = ozone_vertical_optical_depth(lam, atm)
        self.line_tau = (float(rayleigh_vertical_optical_depth(LINE_WAVELENGTH_M, atm)),
                         float(ozone_vertical_optical_depth(LINE_WAVELENGTH_M, atm)))
        self.atm = atm

    @property
    def n_channels(self) -> int:
        return self.response.shape[0]

    def electrons_per_joule(self, cloud_top_km, cos_emission) -> np.ndarray:
        """[N, C] electrons per joule of flash energy arriving geometrically at the aperture."""
        h = np.atleast_1d(np.asarray(cloud_top_km, dtype=np.float64))
        mu = np.broadcast_to(np.asarray(cos_emission, dtype=np.float64), h.shape)
        xr, xo = slant_factors(mu, h, self.atm)
        kr = (xr * pressure_fraction_above(h))[:, None]
        ko = (xo * ozone_fraction_above(h, self.atm))[:, None]
        trans = np.exp(-(kr * self.tau_rayleigh[None, :] + ko * self.tau_ozone[None, :]))  # [N, L]
        cont = np.trapezoid(trans[:, None, :] * (self.continuum * self.response)[None, :, :],
                            self.wavelength_m, axis=-1)
        line_t = np.exp(-(kr[:, 0] * self.line_tau[0] + ko[:, 0] * self.line_tau[1]))
        return cont + (LINE_PHOTONS_PER_JOULE * line_t)[:, None] * self.line_response[None, :]
