"""Build catalogs/lightning_climatology.npz: a coarse global lightning flash-rate density grid.

The real LIS/OTD climatology (e.g. the 2.5 deg LRAC or the 0.5 deg HRFC of Cecil et al. 2014) is not
reachable from this build environment, so this grid is a *cited parametrisation* of it, not the data:

    D(cell) = a * f_land(cell) * L(lat) + b * (1 - f_land(cell)) * W(lat) + hotspots(cell)   [fl km^-2 yr^-1]

- f_land: land fraction of each 1 deg cell, the mean of 10 x 10 point samples (0.1 deg) of the
  ``global-land-mask`` package (GLOBE 1 km elevation data, NOAA NGDC; MIT-licensed package). Its mask
  counts some large lakes (Lake Victoria) as land and others (Lake Maracaibo) as water.
- L(lat), W(lat): zonal shapes over land and water (estimates drawn to the published maps' main features:
  a tropical maximum, a secondary subtropical/mid-latitude shoulder, almost nothing poleward of 60 deg;
  see catalogs/lightning_climatology.md).
- hotspots: Gaussian enhancements with peak densities from Albrecht et al. 2016 (Lake Maracaibo,
  232.52 fl km^-2 yr^-1) and Cecil et al. 2014 (eastern Congo basin, 160 fl km^-2 yr^-1 at 0.5 deg),
  cell-averaged on the 0.1 deg samples; their positions and widths are estimates.
- a, b: solved so that (1) the global total is 44 fl/s (Christian et al. 2003, OTD, [W]) and (2) the
  area-weighted mean density over land is LAND_OCEAN_RATIO (10, Christian et al. 2003) times that over
  water, the land/water split of every cell (and of each hotspot) being the stored land/water components.

The grid stores the two components separately (``land`` and ``water``, fl km^-2 yr^-1 per unit cell
area, summing to the cell's total) because the simulator gives them different diurnal cycles.

Rebuild (needs the ``catalog-build`` extra, i.e. ``pip install global-land-mask``):

    python catalogs/build_lightning_climatology.py
"""
from __future__ import annotations

import argparse
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parent / "lightning_climatology.npz"

CELL_DEG = 1.0
SUBSAMPLES = 10  # per cell and axis: land fraction and hotspots from 0.1 deg point samples
#: Authalic (equal-area) radius of the WGS84 ellipsoid, km: cell areas on this sphere sum to the
#: ellipsoid's area (5.1007e8 km^2).
AUTHALIC_RADIUS_KM = 6371.0072
SECONDS_PER_YEAR = 365.25 * 86400.0
#: Global mean flash rate, fl/s: Christian et al. 2003, JGR 108(D1) 4005 (44 +- 5, OTD). [W]
GLOBAL_RATE_FL_S = 44.0
#: Area-mean land : water flash density: "~10:1", Christian et al. 2003 [W]; 9.6:1 from LIS/OTD 1995-2010
#: in the WWLLN/LIS-OTD comparison quoted in lightning_climatology.md [M].
LAND_OCEAN_RATIO = 10.0

# Zonal shapes (relative units; estimates, see lightning_climatology.md): sum of Gaussians in latitude
# (centre_deg, sigma_deg, weight); the mid-latitude terms are mirrored to both hemispheres.
LAND_TROPICAL = (0.0, 17.0, 1.0)
LAND_MIDLAT = (33.0, 9.0, 0.3)
WATER_TROPICAL = (0.0, 20.0, 1.0)
WATER_MIDLAT = (35.0, 10.0, 0.3)

# Hotspots: (name, lat_deg, lon_deg, sigma_deg, peak fl km^-2 yr^-1 added, component)
HOTSPOTS = (
    # Albrecht et al. 2016 BAMS 97(11): 232.52 fl km^-2 yr^-1 at 0.1 deg, nocturnal storms over the lake [W];
    # position: the lake's centre (estimate); sigma 0.4 deg (estimate: the lake and its shores).
    ("Lake Maracaibo", 9.8, -71.6, 0.4, 232.52, "water"),
    # Cecil et al. 2014 Atmos. Res. 135-136: peak 160 fl km^-2 yr^-1 at 0.5 deg in eastern Congo [W]; the
    # enhancement (145) is chosen so that base + enhancement is ~160 in the peak 1 deg cell. Position and width
    # of the enhanced region are estimates (eastern DRC highlands west of Lake Kivu).
    ("eastern Congo basin", -2.0, 27.5, 2.5, 145.0, "land"),
    # Lake Victoria: nocturnal storms over the lake (Albrecht et al. 2016; Virts et al. 2017 MWR 145(11)) [W];
    # the peak value 100 is an estimate [U].
    ("Lake Victoria", -1.0, 33.0, 0.8, 100.0, "water"),
)


def zonal(lat_deg, tropical, midlat):
    lat = np.asarray(lat_deg, dtype=np.float64)
    c0, s0, w0 = tropical
    c1, s1, w1 = midlat
    return (w0 * np.exp(-0.5 * ((lat - c0) / s0) ** 2)
            + w1 * np.exp(-0.5 * ((np.abs(lat) - c1) / s1) ** 2))


def cell_area_km2(lat_centres_deg, cell_deg=CELL_DEG):
    """Area of cells centred at the given latitudes on the authalic sphere, km^2."""
    phi = np.radians(np.asarray(lat_centres_deg, dtype=np.float64))
    half = 0.5 * np.radians(cell_deg)
    return AUTHALIC_RADIUS_KM**2 * np.radians(cell_deg) * (np.sin(phi + half) - np.sin(phi - half))


def _haversine_deg(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(np.asarray(lon2) - np.asarray(lon1)) / 2) ** 2)
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def build(output: pathlib.Path = OUTPUT) -> dict:
    from global_land_mask import globe

    nlat, nlon = int(round(180 / CELL_DEG)), int(round(360 / CELL_DEG))
    lat_c = 90.0 - CELL_DEG * (np.arange(nlat) + 0.5)  # row 0 = northernmost
    lon_c = -180.0 + CELL_DEG * (np.arange(nlon) + 0.5)
    sub = (np.arange(SUBSAMPLES) + 0.5) / SUBSAMPLES * CELL_DEG  # offsets inside a cell
    lat_s = (90.0 - np.repeat(np.arange(nlat) * CELL_DEG, SUBSAMPLES) - np.tile(sub, nlat))  # descending
    lon_s = -180.0 + np.repeat(np.arange(nlon) * CELL_DEG, SUBSAMPLES) + np.tile(sub, nlon)
    LON, LAT = np.meshgrid(lon_s, lat_s)
    land_s = globe.is_land(LAT, LON).astype(np.float64)
    # area weights of the sub-samples inside a cell (cos lat), so coarse cells average correctly
    w_s = np.cos(np.radians(lat_s))[:, None] * np.ones_like(LON)

    def cell_mean(values):
        num = (values * w_s).reshape(nlat, SUBSAMPLES, nlon, SUBSAMPLES).sum(axis=(1, 3))
        den = w_s.reshape(nlat, SUBSAMPLES, nlon, SUBSAMPLES).sum(axis=(1, 3))
        return num / den

    f_land = cell_mean(land_s)
    land_shape = f_land * zonal(lat_c, LAND_TROPICAL, LAND_MIDLAT)[:, None]
    water_shape = (1.0 - f_land) * zonal(lat_c, WATER_TROPICAL, WATER_MIDLAT)[:, None]
    hot = {"land": np.zeros((nlat, nlon)), "water": np.zeros((nlat, nlon))}
    for _name, hlat, hlon, sigma, peak, comp in HOTSPOTS:
        d = _haversine_deg(hlat, hlon, LAT, LON)
        hot[comp] += cell_mean(peak * np.exp(-0.5 * (d / sigma) ** 2))

    area = cell_area_km2(lat_c)[:, None] * np.ones((1, nlon))
    a_land = float((area * f_land).sum())
    a_water = float((area * (1.0 - f_land)).sum())
    s_land, s_water = float((area * land_shape).sum()), float((area * water_shape).sum())
    h_land, h_water = float((area * hot["land"]).sum()), float((area * hot["water"]).sum())
    total = GLOBAL_RATE_FL_S * SECONDS_PER_YEAR  # flashes per year
    # unknowns a, b:  a s_L + b s_W = total - h_L - h_W ;  (a s_L + h_L)/A_L = R (b s_W + h_W)/A_W
    m = np.array([[s_land, s_water], [s_land / a_land, -LAND_OCEAN_RATIO * s_water / a_water]])
    rhs = np.array([total - h_land - h_water, LAND_OCEAN_RATIO * h_water / a_water - h_land / a_land])
    a, b = np.linalg.solve(m, rhs)
    if not (a > 0 and b > 0):
        raise RuntimeError(f"no positive scaling: a={a}, b={b}")
    land = (a * land_shape + hot["land"]).astype(np.float32)
    water = (b * water_shape + hot["water"]).astype(np.float32)

    arrays = dict(
        land=land, water=water, land_fraction=f_land.astype(np.float32),
        lat_deg=lat_c, lon_deg=lon_c, cell_deg=np.float64(CELL_DEG),
        authalic_radius_km=np.float64(AUTHALIC_RADIUS_KM), seconds_per_year=np.float64(SECONDS_PER_YEAR),
        global_rate_fl_s=np.float64(GLOBAL_RATE_FL_S), land_ocean_ratio=np.float64(LAND_OCEAN_RATIO),
        land_scale=np.float64(a), water_scale=np.float64(b),
        hotspots=np.array([f"{n}|{la}|{lo}|{s}|{p}|{c}" for n, la, lo, s, p, c in HOTSPOTS]),
        source=np.array("parametrisation (catalogs/build_lightning_climatology.py, lightning_climatology.md); "
                        "land mask: global-land-mask 1.0.0 (GLOBE)"),
    )
    np.savez_compressed(output, **arrays)
    # report (float64 sums of the stored float32 grids)
    ld, wd = land.astype(np.float64), water.astype(np.float64)
    rate = float(((ld + wd) * area).sum()) / SECONDS_PER_YEAR
    ratio = (float((ld * area).sum()) / a_land) / (float((wd * area).sum()) / a_water)
    return dict(path=str(output), size_bytes=output.stat().st_size, global_rate_fl_s=rate, land_ocean_ratio=ratio,
                max_density=float((ld + wd).max()), land_scale=a, water_scale=b)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=pathlib.Path, default=OUTPUT)
    args = parser.parse_args(argv)
    for key, value in build(args.output).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
