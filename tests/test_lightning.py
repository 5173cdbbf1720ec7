"""Lightning: climatology totals, diurnal normalisation, Poisson sampling, in-field counts against an independent
astropy integral, blob placement, flux conservation, seeds and subsystem independence, the ISS horizon."""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import GCRS, ITRS, CartesianRepresentation, EarthLocation
from astropy.time import Time
from scipy import integrate, stats

from simulator.catalog_files import catalog_file
from simulator.config import parse_scenario
from simulator.earth import lightning
from simulator.earth.ellipsoid import earth_pole_gcrs
from simulator.render.exposure import render_exposure
from simulator.render.lightning_flashes import LightningFlashes
from simulator.render.observer import Observer

from .conftest import small_scenario_text

START = Time("2012-03-25T01:15:00", scale="utc")
NADIR = 'mode = "lvlh"\nazimuth = "0 deg"\nelevation = "-90 deg"\nroll = "0 deg"'
LIGHTNING = "\n[earth]\nlightning = true\n"


def _npz():
    path = catalog_file(lightning.FILENAME)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


# --- (a) climatology ------------------------------------------------------------------------------------------

def test_climatology_integrates_to_44_per_second_with_10_to_1_land_ocean():
    z = _npz()
    lat = z["lat_deg"]
    cell = float(z["cell_deg"])
    # independent cell areas: exact zone areas on the authalic sphere, 2 pi R^2 (sin phi2 - sin phi1) / n_lon
    r = 6371.0072
    edges = np.radians(np.append(lat + cell / 2, lat[-1] - cell / 2))
    area = 2 * np.pi * r**2 * -np.diff(np.sin(edges)) / z["lon_deg"].size
    assert area.sum() * z["lon_deg"].size == pytest.approx(4 * np.pi * r**2, rel=1e-12)
    land = z["land"].astype(np.float64)
    water = z["water"].astype(np.float64)
    total = ((land + water) * area[:, None]).sum() / (365.25 * 86400.0)
    assert total == pytest.approx(44.0, rel=1e-3)  # Christian et al. 2003 [W]
    frac = z["land_fraction"].astype(np.float64)
    land_mean = (land * area[:, None]).sum() / (frac * area[:, None]).sum()
    water_mean = (water * area[:, None]).sum() / ((1 - frac) * area[:, None]).sum()
    assert land_mean / water_mean == pytest.approx(float(z["land_ocean_ratio"]), rel=1e-3)
    assert float(z["land_ocean_ratio"]) == 10.0
    clim = lightning.load_climatology()
    assert clim.global_rate_fl_s() == pytest.approx(total, rel=1e-9)
    assert clim.land_ocean_ratio() == pytest.approx(land_mean / water_mean, rel=1e-9)
    # the documented hotspot (Albrecht et al. 2016: 232.5 fl km^-2 yr^-1 at 0.1 deg) is the grid's maximum
    # within 3 deg of Lake Maracaibo, diluted by the 1 deg cell but far above its surroundings
    dens = land + water
    r0, c0 = clim.cell_index(9.8, -71.6)
    assert dens[r0, c0] > 5 * np.median(dens[r0 - 5:r0 + 6, c0 - 5:c0 + 6])
    assert catalog_file(lightning.FILENAME).stat().st_size < 1e6


@pytest.mark.parametrize("surface", ["land", "water"])
def test_diurnal_factor_averages_to_one_over_a_day(surface):
    hours = np.linspace(0.0, 24.0, 24 * 3600 + 1)
    assert integrate.simpson(lightning.diurnal_factor(hours, surface), x=hours) / 24.0 == pytest.approx(1.0, abs=1e-9)
    amp, peak = lightning.DIURNAL[surface]
    assert np.argmax(lightning.diurnal_factor(hours, surface)) == pytest.approx(peak * 3600, abs=1)


def test_density_daily_mean_is_the_climatology_and_expected_count_is_its_integral():
    clim = lightning.load_climatology()
    lat = np.array([-2.3, 9.7, 28.2, -33.0, 0.4])
    lon = np.array([27.6, -71.5, -81.3, 150.2, -150.0])
    times = START + np.linspace(0, 86400, 2881)[:, None] * u.s
    dens = lightning.flash_rate_density(lat[None, :], lon[None, :], times)
    r, c = clim.cell_index(lat, lon)
    assert integrate.simpson(dens, dx=30.0, axis=0) / 86400.0 == pytest.approx(clim.total[r, c], rel=1e-9)
    # expected count over 2 h = numerical time integral of density x cell area
    span = np.linspace(0, 7200, 721)
    d2 = lightning.flash_rate_density(lat[None, :], lon[None, :], START + span[:, None] * u.s)
    numeric = integrate.simpson(d2, x=span, axis=0) * clim.area_km2[r] / clim.seconds_per_year
    e = lightning.expected_counts(r, c, START, 0.0, 7200.0)
    assert e["land"] + e["water"] == pytest.approx(numeric, rel=1e-7)
    # whole globe, one day: 44 fl/s x 86400 s
    rows, cols = np.nonzero(np.ones(clim.land.shape, bool))
    assert lightning.expected_flashes(rows, cols, START, 0.0, 86400.0) == pytest.approx(44.0 * 86400, rel=1e-3)


# --- (b) sampling ---------------------------------------------------------------------------------------------

def test_sampled_counts_are_poisson_with_the_expected_mean():
    rows, cols = lightning.cells_within(-3.0, 22.0, 8.0)  # central Africa
    expected = lightning.expected_flashes(rows, cols, START, 0.0, 120.0)
    counts = np.array([lightning.sample_flashes(np.random.default_rng(seed), rows, cols, START, 0.0, 120.0)
                       ["time_s"].size for seed in range(200)])
    assert expected > 50
    assert abs(counts.mean() - expected) < 4 * np.sqrt(expected / counts.size)
    # dispersion: sum (n - mean)^2 / mean ~ chi^2(199) for a Poisson count
    dispersion = ((counts - counts.mean()) ** 2).sum() / expected
    assert stats.chi2.ppf(1e-4, counts.size - 1) < dispersion < stats.chi2.ppf(1 - 1e-4, counts.size - 1)


def test_sampled_places_times_and_properties_follow_the_density():
    rng = np.random.default_rng(7)
    rows, cols = lightning.cells_within(0.0, 20.0, 12.0)
    fl = lightning.sample_flashes(rng, rows, cols, START, 0.0, 86400.0)
    clim = lightning.load_climatology()
    # every flash lies in one of the cells
    r, c = clim.cell_index(fl["lat_deg"], fl["lon_deg"])
    cells = set(zip(rows.tolist(), cols.tolist()))
    assert all(rc in cells for rc in zip(r.tolist(), c.tolist()))
    # local-hour histogram of land flashes against the diurnal factor (chi-square, 24 bins)
    land = fl["surface"] == 0
    lon_c = clim.lon_deg[c[land]]
    hour = lightning.local_solar_hour(lon_c, lightning.utc_seconds_of_day(START) + fl["time_s"][land])
    observed = np.histogram(hour, bins=24, range=(0, 24))[0]
    edges = np.linspace(0, 24, 25)
    amp, peak = lightning.DIURNAL["land"]
    w = 2 * np.pi / 24
    shape = 1.0 + amp * (np.sin(w * (edges[1:] - peak)) - np.sin(w * (edges[:-1] - peak))) / w
    expect = observed.sum() * shape / shape.sum()
    chi2 = ((observed - expect) ** 2 / expect).sum()
    assert chi2 < stats.chi2.ppf(1 - 1e-4, 23)
    assert np.median(fl["duration_s"]) == pytest.approx(lightning.DURATION_MEDIAN_S, rel=0.05)
    assert np.median(fl["optical_energy_J"][land]) == pytest.approx(lightning.ENERGY_MEDIAN_J["land"], rel=0.1)
    top = fl["cloud_top_km"] - lightning.cloud_top_mean_km(fl["lat_deg"])
    assert np.all(np.abs(top) <= lightning.CLOUD_TOP_SPREAD_KM)


@functools.lru_cache(maxsize=None)
def _knots(attitude: str, duration_s: float, n_knots: int):
    scenario = parse_scenario(small_scenario_text(duration=f"{duration_s:g} s", mag_limit=3.0, attitude=attitude)
                              + LIGHTNING)
    t = np.linspace(0.0, duration_s, n_knots)
    pos, vel, rot = Observer(scenario).states(t)[:3]
    return scenario, t, pos, vel, rot, earth_pole_gcrs(scenario.start)


def _flashes(seed, attitude=NADIR, duration_s=60.0, n_knots=13):
    scenario, t, pos, vel, rot, pole = _knots(attitude, duration_s, n_knots)
    return LightningFlashes(dataclasses.replace(scenario, seed=seed), t, pos, vel, rot, pole)


def _independent_in_field_expectation(scenario, t, pos, rot):
    """Integral over the exposure of density x [cloud top above the ISS horizon and inside the frame], by brute
    force: astropy EarthLocation -> GCRS on a 0.05 deg grid, 5 time nodes, 4 Gauss-Legendre height nodes."""
    cam = scenario.camera
    mid = scenario.start + t[len(t) // 2] * u.s
    gcrs = GCRS(CartesianRepresentation(pos[len(t) // 2] * u.km), obstime=mid)
    sub = EarthLocation.from_geocentric(*gcrs.transform_to(ITRS(obstime=mid)).cartesian.xyz).to_geodetic()
    lat0, lon0 = float(sub.lat.deg), float(sub.lon.deg)  # the sub-ISS point at mid-exposure: the grid's centre
    step = 0.05
    lat = np.arange(lat0 - 9, lat0 + 9, step) + step / 2
    lon = np.arange(lon0 - 11, lon0 + 11, step) + step / 2
    LAT, LON = np.meshgrid(lat, lon, indexing="ij")
    area = (6371.0072**2 * np.radians(step) * (np.sin(np.radians(LAT + step / 2))
                                               - np.sin(np.radians(LAT - step / 2))))
    gl_x, gl_w = np.polynomial.legendre.leggauss(4)
    times = np.linspace(t[0], t[-1], 5)
    simpson_w = integrate.simpson(np.eye(times.size), x=times, axis=1)
    pos_i = np.stack([np.interp(times, t, pos[:, k]) for k in range(3)], axis=1)  # knots 5 s apart: < 0.1 km
    total = 0.0
    for k, tk in enumerate(times):
        when = scenario.start + tk * u.s
        kk = np.argmin(np.abs(t - tk))
        dens = lightning.flash_rate_density(LAT, LON, when) / lightning.load_climatology().seconds_per_year
        inside = np.zeros(LAT.shape)
        for x_gl, w_gl in zip(gl_x, gl_w):
            base = lightning.cloud_top_mean_km(LAT) + lightning.CLOUD_TOP_SPREAD_KM * x_gl
            p = np.stack(EarthLocation.from_geodetic(LON * u.deg, LAT * u.deg, base * u.km)
                         .get_gcrs_posvel(when)[0].xyz.to_value(u.km), axis=-1)
            up = np.stack(EarthLocation.from_geodetic(LON * u.deg, LAT * u.deg, (base + 1.0) * u.km)
                          .get_gcrs_posvel(when)[0].xyz.to_value(u.km), axis=-1) - p
            los = pos_i[k] - p
            above = np.sum(up * los, axis=-1) > 0
            c = (-los) @ rot[kk].T
            x = cam.fx * c[..., 0] / c[..., 2] + cam.cx
            y = cam.fy * c[..., 1] / c[..., 2] + cam.cy
            frame = (c[..., 2] > 0) & (x >= -0.5) & (x <= cam.width - 0.5) & (y >= -0.5) & (y <= cam.height - 0.5)
            inside += 0.5 * w_gl * (above & frame)
        total += simpson_w[k] * float((dens * area * inside).sum())
        assert not inside[[0, -1], :].any() and not inside[:, [0, -1]].any()  # the grid holds the field
    return total


def test_in_field_count_matches_an_independent_astropy_integral():
    n_seeds = 60
    scenario, t, pos, vel, rot, pole = _knots(NADIR, 60.0, 13)
    expected = _independent_in_field_expectation(scenario, t, pos, rot)
    counts = np.array([int(_flashes(seed).geometry["in_frame"].sum()) for seed in range(n_seeds)])
    assert expected > 1.0
    total = expected * n_seeds
    # Poisson 4 sigma plus 1 % for the brute-force grid's discretisation of the frame border
    assert abs(counts.sum() - total) < 4 * np.sqrt(total) + 0.01 * total, (counts.sum(), total)


# --- (c), (d), (e), (f): rendered small scenario ---------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _rendered():
    base = small_scenario_text(duration="120 s", mag_limit=3.0)
    with_l = parse_scenario(base + LIGHTNING)
    return render_exposure(parse_scenario(base)), render_exposure(with_l), with_l


def _table(result):
    return {k: np.asarray(v[0]) for k, v in result.lightning.items() if k != "attrs"}


def test_visible_flashes_light_their_pixel_and_peak_there():
    plain, lit, scenario = _rendered()
    diff = lit.signal.astype(np.float64) - plain.signal.astype(np.float64)
    tb = _table(lit)
    vis = tb["visible"]
    assert vis.sum() >= 5
    cam = scenario.camera
    for i in np.flatnonzero(vis):
        x, y = tb["x"][i], tb["y"][i]
        assert diff[int(round(y)), int(round(x))] > 0
    # isolated flashes (no other rendered flash, i.e. above the horizon, within 15 px; the blobs near the limb
    # are stretched along it), away from the border: the blob's maximum is within 1 px of the truth position
    checked = 0
    rendered = tb["above_horizon"] & ~tb["sunlit"] & (tb["frame"] >= 0)
    xs, ys = tb["x"][rendered], tb["y"][rendered]
    for i in np.flatnonzero(vis):
        x, y = tb["x"][i], tb["y"][i]
        others = np.hypot(xs - x, ys - y)
        if np.sum(others < 15) > 1 or not (6 <= x <= cam.width - 7 and 6 <= y <= cam.height - 7):
            continue
        yi, xi = int(round(y)), int(round(x))
        win = diff[yi - 3:yi + 4, xi - 3:xi + 4]
        my, mx = np.unravel_index(np.argmax(win), win.shape)
        assert np.hypot(xi - 3 + mx - x, yi - 3 + my - y) <= 1.0
        checked += 1
    assert checked >= 3


def test_deposited_electrons_equal_the_photometric_expectation():
    plain, lit, scenario = _rendered()
    diff = lit.signal.astype(np.float64) - plain.signal.astype(np.float64)
    tb = _table(lit)
    cam = scenario.camera
    margin = 12
    inside = (tb["visible"] & (tb["x"] > margin) & (tb["x"] < cam.width - 1 - margin)
              & (tb["y"] > margin) & (tb["y"] < cam.height - 1 - margin))
    # the lightning image is the sum of all flashes: total deposited = sum of the truth (float32 image: 1e-5)
    assert diff.sum() == pytest.approx(tb["electrons"].sum(), rel=1e-4)
    phot = lightning.FlashPhotometry(cam)
    pos = lit.pos_km
    checked = 0
    for i in np.flatnonzero(inside):
        when = scenario.start + tb["time_s"][i] * u.s
        loc = EarthLocation.from_geodetic(tb["lon_deg"][i] * u.deg, tb["lat_deg"][i] * u.deg,
                                          tb["cloud_top_km"][i] * u.km)
        p = loc.get_gcrs_posvel(when)[0].xyz.to_value(u.km)
        up = EarthLocation.from_geodetic(tb["lon_deg"][i] * u.deg, tb["lat_deg"][i] * u.deg,
                                         (tb["cloud_top_km"][i] + 1.0) * u.km).get_gcrs_posvel(when)[0].xyz.to_value(u.km) - p
        s = np.array([np.interp(tb["time_s"][i], lit.t, pos[:, k]) for k in range(3)])
        s_true = Observer(scenario).states(np.array([tb["time_s"][i]]))[0][0]
        assert np.linalg.norm(s - s_true) < 1.0
        los = s_true - p
        d = np.linalg.norm(los)
        cos_e = up @ los / (np.linalg.norm(up) * d)
        assert d == pytest.approx(tb["distance_km"][i], abs=0.05)
        joules = tb["optical_energy_J"][i] * cos_e / np.pi * cam.aperture_area_m2 / (d * 1e3) ** 2
        expect = joules * phot.electrons_per_joule(tb["cloud_top_km"][i], cos_e).sum()
        assert tb["electrons"][i] == pytest.approx(expect, rel=1e-3)
        checked += 1
    assert checked >= 3


def test_flash_photometry_matches_quadrature_without_air():
    from simulator.earth.atmosphere import Atmosphere

    _, _, scenario = _rendered()
    cam = scenario.camera  # photometry v1: throughput x photons in 400-700 nm
    phot = lightning.FlashPhotometry(cam, atm=Atmosphere(rayleigh_tau_550=0.0, ozone_column_du=0.0))
    h, c, k = 6.62607015e-34, 299792458.0, 1.380649e-23
    temp = lightning.CONTINUUM_TEMPERATURE_K

    def planck(lam):
        return 1.0 / lam**5 / np.expm1(h * c / (lam * k * temp))

    norm = integrate.quad(planck, 400e-9, 1100e-9, epsrel=1e-12)[0]
    photons = integrate.quad(lambda lam: planck(lam) * lam / (h * c), 400e-9, 700e-9, epsrel=1e-12)[0]
    expect = cam.throughput * (1 - lightning.LINE_FRACTION) * photons / norm  # 777.4 nm is outside 400-700
    assert phot.electrons_per_joule(12.0, 0.7)[0, 0] == pytest.approx(expect, rel=1e-4)


def test_air_above_the_cloud_top():
    # US Standard Atmosphere 1976 table: p(11 km) = 22632 Pa, p(15 km) = 12045 Pa, p(20 km) = 5474.9 Pa
    for h_km, p_pa in ((11.0, 22632.0), (15.0, 12045.0), (20.0, 5474.9)):
        assert lightning.pressure_fraction_above(h_km) == pytest.approx(p_pa / 101325.0, rel=3e-3)
    # homogeneous-shell air mass vs a numerical path integral through an exponential stratosphere
    hsc = lightning.STRATOSPHERE_SCALE_HEIGHT_KM
    r0 = lightning.EARTH_RADIUS_KM + 14.0
    for zen in (0.0, 40.0, 70.0, 85.0):
        mu = np.cos(np.radians(zen))
        s = np.linspace(0, 3000, 300001)
        alt = np.sqrt(r0**2 + s**2 + 2 * r0 * s * mu) - r0
        numeric = integrate.trapezoid(np.exp(-alt / hsc), s) / hsc
        # the homogeneous shell is the documented approximation: 5e-3 up to 70 deg, 5 % at 85 deg (the
        # transmission above a 14 km cloud top changes by < 0.6 % at 550 nm)
        assert lightning.slant_factors(mu, 14.0)[0] == pytest.approx(numeric, rel=0.05 if zen > 80 else 5e-3)


def test_same_seed_same_flashes_other_seed_other_flashes_and_stars_untouched():
    a, b, c = _flashes(3), _flashes(3), _flashes(4)
    ta, tb_, tc = a.truth(), b.truth(), c.truth()
    for key in ("time_s", "lat_deg", "lon_deg", "optical_energy_J", "x"):
        np.testing.assert_array_equal(ta[key][0], tb_[key][0])
    assert ta["time_s"][0].size != tc["time_s"][0].size or not np.array_equal(ta["time_s"][0], tc["time_s"][0])
    # the draws do not depend on the knots (which the stars' accuracy sets): 13 vs 31 knots over the minute
    scenario, t, pos, vel, rot, pole = _knots(NADIR, 60.0, 31)
    dense = LightningFlashes(dataclasses.replace(scenario, seed=3), t, pos, vel, rot, pole).truth()
    for key in ("time_s", "lat_deg", "lon_deg", "optical_energy_J"):
        np.testing.assert_array_equal(ta[key][0], dense[key][0])
    np.testing.assert_allclose(ta["x"][0], dense["x"][0], atol=1e-3)
    plain, lit, _ = _rendered()
    np.testing.assert_array_equal(plain.electrons, lit.electrons)
    np.testing.assert_array_equal(plain.x, lit.x)
    np.testing.assert_array_equal(plain.hip, lit.hip)
    diff = lit.signal.astype(np.float64) - plain.signal.astype(np.float64)
    assert diff.min() >= -1e-3 * max(1.0, float(np.abs(plain.signal).max()))


def test_flashes_below_the_horizon_are_never_rendered():
    plain, lit, scenario = _rendered()
    diff = lit.signal.astype(np.float64) - plain.signal.astype(np.float64)
    tb = _table(lit)
    below = ~tb["above_horizon"]
    assert below.sum() > 10
    assert np.all(tb["electrons"][below] == 0) and not tb["visible"][below].any()
    assert np.all(np.isnan(tb["x"][below]))
    # independently (astropy): the sign of n . (S - P) agrees with the truth for every flash
    when = scenario.start + tb["time_s"] * u.s
    loc = EarthLocation.from_geodetic(tb["lon_deg"] * u.deg, tb["lat_deg"] * u.deg, tb["cloud_top_km"] * u.km)
    up_loc = EarthLocation.from_geodetic(tb["lon_deg"] * u.deg, tb["lat_deg"] * u.deg, (tb["cloud_top_km"] + 1) * u.km)
    p = loc.get_gcrs_posvel(when)[0].xyz.to_value(u.km).T
    up = up_loc.get_gcrs_posvel(when)[0].xyz.to_value(u.km).T - p
    s = Observer(scenario).states(tb["time_s"])[0]
    cosang = np.sum(up * (s - p), axis=1) / np.linalg.norm(up, axis=1) / np.linalg.norm(s - p, axis=1)
    clear = np.abs(cosang) > 1e-4
    np.testing.assert_array_equal((cosang > 0)[clear], tb["above_horizon"][clear])
    # hidden cloud tops beyond the horizon that would project into the frame (below the limb) stay dark there
    cam = scenario.camera
    k = np.searchsorted(lit.t, tb["time_s"]).clip(0, lit.t.size - 1)
    cdir = np.einsum("nij,nj->ni", lit.R_icrs_to_cam[k], p - s)
    x = cam.fx * cdir[:, 0] / cdir[:, 2] + cam.cx
    y = cam.fy * cdir[:, 1] / cdir[:, 2] + cam.cy
    hidden = below & (cdir[:, 2] > 0) & (x > 3) & (x < cam.width - 4) & (y > 3) & (y < cam.height - 4)
    vis_x, vis_y = tb["x"][tb["visible"]], tb["y"][tb["visible"]]
    dark = 0
    for i in np.flatnonzero(hidden):
        if np.min(np.hypot(vis_x - x[i], vis_y - y[i]), initial=1e9) > 15:
            assert diff[int(round(y[i])), int(round(x[i]))] == pytest.approx(0.0, abs=1e-6)
            dark += 1
    assert dark >= 1


# --- daylight: flashes on sunlit cloud tops are drawn, flagged and not rendered ---------------------------------

BACKWARD = 'mode = "lvlh"\nazimuth = "180 deg"\nelevation = "-18 deg"\nroll = "0 deg"'


@functools.lru_cache(maxsize=None)
def _terminator_flashes(seed):
    """Flashes of a 60 s exposure starting 20 s after umbra entry, looking back toward the terminator."""
    text = small_scenario_text(duration="60 s", mag_limit=3.0, attitude=BACKWARD).replace(
        "2012-03-25T01:15:00", "2012-03-25T01:09:30") + LIGHTNING
    scenario = dataclasses.replace(parse_scenario(text), seed=seed)
    t = np.linspace(0.0, 60.0, 13)
    pos, vel, rot = Observer(scenario).states(t)[:3]
    return scenario, LightningFlashes(scenario, t, pos, vel, rot, earth_pole_gcrs(scenario.start))


def test_sunlit_flashes_follow_the_suns_elevation_and_are_not_rendered():
    """sun_elevation_deg vs astropy's AltAz of the Sun at the cloud top (0.01 deg: aberration and parallax
    conventions differ by < 25"); sunlit = the Sun above -(0.833 deg + the cloud top's horizon dip), checked
    away from the threshold; a sunlit flash inside the frame deposits nothing and is not visible."""
    from astropy.coordinates import AltAz, get_body

    sunlit_in_frame = 0
    n_sunlit = n_dark = 0
    for seed in range(12):
        scenario, fl = _terminator_flashes(seed)
        f, g = fl.flashes, fl.geometry
        when = scenario.start + f["time_s"] * u.s
        loc = EarthLocation.from_geodetic(f["lon_deg"] * u.deg, f["lat_deg"] * u.deg, f["cloud_top_km"] * u.km)
        alt = get_body("sun", when, loc).transform_to(AltAz(obstime=when, location=loc)).alt.deg
        assert np.max(np.abs(g["sun_elevation_deg"] - alt)) < 0.01
        threshold = -0.833 - np.degrees(np.arccos(6371.0088 / (6371.0088 + f["cloud_top_km"])))
        clear = np.abs(alt - threshold) > 0.01
        np.testing.assert_array_equal(g["sunlit"][clear], (alt > threshold)[clear])
        n_sunlit += int(g["sunlit"].sum())
        n_dark += int((~g["sunlit"]).sum())
        lit = g["sunlit"] & g["in_frame"]
        if lit.any():
            fl.frame_electrons(0, 0.0, 60.0)
            tb = {k: np.asarray(v[0]) for k, v in fl.truth().items() if k != "attrs"}
            assert np.all(tb["electrons"][lit] == 0) and not tb["visible"][lit].any()
            assert tb["sunlit"][lit].all()
            sunlit_in_frame += int(lit.sum())
    assert n_sunlit >= 10 and n_dark >= 100 and sunlit_in_frame >= 1
