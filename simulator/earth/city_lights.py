"""City lights: a calibrated night-lights grid and the photon rate from a lit ground cell.

The grid is catalogs/city_lights.npz (built by catalogs/build_city_lights.py from NASA's
public-domain "Earth's City Lights" map): radiance in nW cm^-2 sr^-1 in the VIIRS Day/Night
Band (~500-900 nm) on an equirectangular grid of cell centres. The calibration is an estimate;
see catalogs/city_lights.md.

Here: lookup, selection of lit cells, the radiometry of one cell seen from a distance, the lamps'
spectra (CIE high-pressure sodium HP1 and LED-B3, catalogs/lamp_spectra/) turned into electrons per
joule of in-band radiance through a camera's channels, and the slant-path transmission from the ground
to the ISS. Rendering the cells as moving sources is simulator/render/city_lights_source.py.

The stored radiance is the VIIRS Day/Night Band's: top-of-atmosphere, seen from nadir, in-band. The
DNB's relative response is taken as flat over 500-900 nm (an approximation: the real band falls off at
both ends), and the lamp spectra are tabulated to 780 nm only, so the lamp is taken as dark beyond it
(high-pressure sodium's 819 nm doublet is left out): the in-band radiance is  integral_500^780 L(lambda) dlambda.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..catalog_files import catalog_file
from .latlon_grid import cell_area, cell_index

FILENAME = "city_lights.npz"
#: Mean Earth radius (IUGG), m, for cell areas on a sphere.
EARTH_MEAN_RADIUS_M = 6371008.8
#: VIIRS DNB band edges, nm: the band the stored radiance refers to.
VIIRS_DNB_BAND_NM = (500.0, 900.0)
_H = 6.62607015e-34  # J s
_C = 299792458.0  # m / s
#: Lamp spectra (catalogs/lamp_spectra/<name>.csv, CIE illuminants; see catalogs/build_lamp_spectra.py).
LAMP_SPECTRA = ("hps", "led")
#: Sunset: the Sun's centre 0.833 deg below the geometric horizon (semi-diameter 16' + refraction 34',
#: the almanac convention, e.g. the Astronomical Almanac / USNO). Lights are taken as on below it.
SUNSET_ELEVATION_DEG = -0.833


@dataclass(frozen=True)
class CityLights:
    radiance: np.ndarray  # float32 [nlat, nlon], nW cm^-2 sr^-1, row 0 = northernmost
    lat_deg: np.ndarray  # cell-centre latitudes, descending
    lon_deg: np.ndarray  # cell-centre longitudes, ascending from -180
    cell_deg: float
    meta: dict

    def cell_index(self, lat_deg, lon_deg):
        """Row and column of the cell containing each (lat, lon)."""
        return cell_index(lat_deg, lon_deg, self.cell_deg, self.radiance.shape)

    def cell_area_m2(self, rows) -> np.ndarray:
        """Area on the mean sphere of cells in the given rows, m^2."""
        return cell_area(self.lat_deg[np.asarray(rows)], self.cell_deg, EARTH_MEAN_RADIUS_M)



@functools.lru_cache(maxsize=1)
def load_city_lights() -> CityLights:
    path = catalog_file(FILENAME)
    if path is None:
        raise FileNotFoundError(f"{FILENAME} not found (startrail_catalogs or catalogs/); "
                                "run catalogs/build_city_lights.py")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    rad = arrays.pop("radiance")
    rad.setflags(write=False)
    lat = arrays.pop("lat_deg")
    lon = arrays.pop("lon_deg")
    cell = float(arrays.pop("cell_deg"))
    meta = {k: (v.item() if v.ndim == 0 else v) for k, v in arrays.items()}
    return CityLights(rad, lat, lon, cell, meta)


def radiance_at(lat_deg, lon_deg):
    """Radiance (nW cm^-2 sr^-1, VIIRS DNB band) of the cell containing each point (nearest cell)."""
    cl = load_city_lights()
    r, c = cl.cell_index(lat_deg, lon_deg)
    out = cl.radiance[r, c].astype(np.float64)
    return float(out) if out.ndim == 0 else out


def _haversine_deg(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def lit_points(min_radiance: float = 1.0, *, bbox=None, cap=None):
    """Lit cells to render as point sources.

    min_radiance: keep cells with radiance >= this (nW cm^-2 sr^-1).
    bbox: (lat_min, lat_max, lon_min, lon_max) in degrees on cell centres; lon_min > lon_max
        wraps across the antimeridian.
    cap: (centre_lat, centre_lon, radius_deg): cells whose centres lie within the great-circle
        radius. At most one of bbox / cap; neither means the whole globe.
    Returns (lat_deg, lon_deg, radiance, cell_area_m2) as 1-D float64 arrays.
    """
    if bbox is not None and cap is not None:
        raise ValueError("give bbox or cap, not both")
    cl = load_city_lights()
    rows = np.arange(cl.lat_deg.size)
    cols = np.arange(cl.lon_deg.size)
    if bbox is not None:
        la0, la1, lo0, lo1 = map(float, bbox)
        rows = rows[(cl.lat_deg >= la0) & (cl.lat_deg <= la1)]
        if lo0 <= lo1:
            cols = cols[(cl.lon_deg >= lo0) & (cl.lon_deg <= lo1)]
        else:
            cols = cols[(cl.lon_deg >= lo0) | (cl.lon_deg <= lo1)]
    elif cap is not None:
        clat, clon, radius = map(float, cap)
        rows = rows[np.abs(cl.lat_deg - clat) <= radius + cl.cell_deg]
    sub = cl.radiance[np.ix_(rows, cols)]
    rr, cc = np.nonzero(sub >= min_radiance)
    r, c = rows[rr], cols[cc]
    lat, lon = cl.lat_deg[r], cl.lon_deg[c]
    if cap is not None:
        keep = _haversine_deg(clat, clon, lat, lon) <= radius
        r, lat, lon, c = r[keep], lat[keep], lon[keep], c[keep]
    rad = cl.radiance[r, c].astype(np.float64)
    return lat.astype(np.float64), lon.astype(np.float64), rad, cl.cell_area_m2(r)


def ground_point_photon_rate(radiance_nW_cm2_sr, cell_area_m2, distance_m, aperture_m2, *,
                             cos_emission=1.0, cos_incidence=1.0, transmittance=1.0,
                             mean_wavelength_m=700e-9):
    """Photons per second from a lit cell reaching a camera aperture.

    Power = L * A_cell * cos_emission * A_ap * cos_incidence / d^2 * transmittance, with L the
    in-band radiance (VIIRS DNB, ~500-900 nm) converted from nW cm^-2 sr^-1 to W m^-2 sr^-1
    (x 1e-5), treated as Lambertian. Photons = power / (h c / lambda). The default lambda of
    700 nm is the photon-weighted mean for a spectrum flat in wavelength across 500-900 nm;
    a high-pressure-sodium or LED spectrum through the channel QE is a later step and would
    replace this single conversion (and the DNB's undercount below 500 nm).
    """
    L = np.asarray(radiance_nW_cm2_sr, dtype=np.float64) * 1e-5
    power_w = (L * np.asarray(cell_area_m2) * cos_emission * np.asarray(aperture_m2) * cos_incidence
               / np.asarray(distance_m, dtype=np.float64) ** 2 * transmittance)
    return power_w * mean_wavelength_m / (_H * _C)


@functools.lru_cache(maxsize=None)
def lamp_spectrum(name: str = "hps") -> tuple[np.ndarray, np.ndarray]:
    """(wavelength_m, relative spectral power) of a street lamp: "hps" (CIE HP1) or "led" (CIE LED-B3)."""
    if name not in LAMP_SPECTRA:
        raise ValueError(f"unknown lamp spectrum {name!r}; use one of {LAMP_SPECTRA}")
    path = catalog_file(f"lamp_spectra/{name}.csv")
    if path is None:
        raise FileNotFoundError(f"lamp_spectra/{name}.csv not found; run catalogs/build_lamp_spectra.py")
    data = np.loadtxt(path, delimiter=",", comments="#", skiprows=4)
    lam, power = data[:, 0] * 1e-9, data[:, 1]
    lam.setflags(write=False)
    power.setflags(write=False)
    return lam, power


def _in_band_power(lam, power) -> float:
    """integral of the relative power over the VIIRS DNB band (flat response), W per unit of ``power``."""
    lo, hi = VIIRS_DNB_BAND_NM[0] * 1e-9, VIIRS_DNB_BAND_NM[1] * 1e-9
    grid = np.linspace(lo, min(hi, lam[-1]), 2001)
    return float(np.trapezoid(np.interp(grid, lam, power, left=0.0, right=0.0), grid))


def electrons_per_joule(camera, spectrum: str = "hps", slant_excess_airmass=0.0) -> np.ndarray:
    """Electrons per joule of in-band (DNB) radiant energy entering the aperture, per channel [..., C].

    K_c = integral P(lambda) lambda/(h c) R_c(lambda) T(lambda) dlambda / integral_DNB P dlambda, with P the lamp's
    relative spectral power, R_c the camera's electrons per photon entering the aperture (lens x window x
    QE; a v1 camera's flat ``throughput`` in one channel) and T = exp(-tau_vert(lambda) (m - 1)) the extra
    slant-path transmission for an excess airmass m - 1 = ``slant_excess_airmass`` (array allowed; the
    DNB radiance already includes one vertical airmass). tau_vert: Rayleigh + ozone + aerosol of
    earth/atmosphere.py's default atmosphere.
    """
    from .atmosphere import vertical_optical_depths

    lam_s, power_s = lamp_spectrum(spectrum)
    if getattr(camera, "qe_curve", None) is not None:
        from ..camera.bandpass import spectral_response

        resp = spectral_response(camera)
        lam = resp.wavelength_m
        response = resp.response  # [C, L]
    else:
        lam = np.linspace(lam_s[0], lam_s[-1], 801)
        response = np.full((1, lam.size), float(camera.throughput))
    power = np.interp(lam, lam_s, power_s, left=0.0, right=0.0)
    tau = sum(vertical_optical_depths(lam).values())  # [L]
    excess = np.asarray(slant_excess_airmass, dtype=np.float64)
    trans = np.exp(-tau * excess[..., None])  # [..., L]
    photons_per_joule = lam / (_H * _C)
    integrand = (power * photons_per_joule)[None, :] * response  # [C, L]
    k = np.trapezoid(trans[..., None, :] * integrand, lam, axis=-1)  # [..., C]
    return k / _in_band_power(lam_s, power_s)


def relative_airmass(elevation_deg) -> np.ndarray:
    """Relative optical airmass at apparent elevation (deg): Kasten & Young (1989, Appl. Opt. 28, 4735),
    1 / (sin h + 0.50572 (h + 6.07995 deg)^-1.6364); 1 at the zenith, ~38 at the horizon."""
    h = np.clip(np.asarray(elevation_deg, dtype=np.float64), 0.0, 90.0)
    return 1.0 / (np.sin(np.radians(h)) + 0.50572 * (h + 6.07995) ** -1.6364)
