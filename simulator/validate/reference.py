"""Reference computations for ``startrail check``, from a product file alone and independent of the renderer.

Nothing here imports the simulator's models: the directions come from astropy (ICRS -> GCRS with the ISS as
observer: space motion, parallax, light deflection, aberration; ``get_body`` with its built-in ephemeris;
``EarthLocation`` on WGS84), the orbit from the ``sgp4`` package and astropy's TEME -> GCRS, rotations from
scipy, and the pinhole + Brown–Conrady projection (OpenCV's model, DESIGN.md §2) is written out below from the
file's /camera attributes. Between the file's knots the observer is interpolated (cubic Hermite in its position
and velocity, < 1 mm at 2 s spacing) and the attitude by scipy's Slerp of the file's quaternions.
"""
from __future__ import annotations

import tomllib
import warnings

import astropy.units as u
import numpy as np
from astropy.coordinates import (GCRS, ITRS, TEME, CartesianDifferential, CartesianRepresentation, Distance,
                                 EarthLocation, SkyCoord, get_body)
from astropy.time import Time
from erfa import ErfaWarning
from scipy.spatial.transform import Rotation, Slerp

C_KM_S = 299792.458  # speed of light (SI definition)
HIPPARCOS_EPOCH = Time(1991.25, format="jyear", scale="tt")  # the catalog positions' epoch (ESA 1997)


def knot_times(f) -> Time:
    """The knots' UTC times (/truth/t plus its start_utc attribute)."""
    t = f["truth/t"]
    return Time(t.attrs["start_utc"], scale="utc") + t[()] * u.s


def project(cam, R, directions):
    """Pixel x, y of ICRS-axis unit directions [..., 3] through R_icrs_to_cam [3, 3] (or [..., 3, 3]) and the
    camera attributes ``cam`` (fx, fy, cx, cy, dist_coeffs k1 k2 p1 p2 k3); NaN behind the camera."""
    v = np.einsum("...ij,...j->...i", np.broadcast_to(R, directions.shape[:-1] + (3, 3)), directions)
    with np.errstate(divide="ignore", invalid="ignore"):
        xn, yn = v[..., 0] / v[..., 2], v[..., 1] / v[..., 2]
    k1, k2, p1, p2, k3 = np.asarray(cam["dist_coeffs"], dtype=np.float64)
    r2 = xn * xn + yn * yn
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = xn * radial + 2.0 * p1 * xn * yn + p2 * (r2 + 2.0 * xn * xn)
    yd = yn * radial + p1 * (r2 + 2.0 * yn * yn) + 2.0 * p2 * xn * yn
    front = v[..., 2] > 0
    return (np.where(front, cam["fx"] * xd + cam["cx"], np.nan), np.where(front, cam["fy"] * yd + cam["cy"], np.nan))


def _observer_frame(t: Time, pos_km, vel_km_s) -> GCRS:
    return GCRS(obstime=t, obsgeoloc=CartesianRepresentation(np.asarray(pos_km) * u.km),
                obsgeovel=CartesianRepresentation(np.asarray(vel_km_s) * u.km / u.s))


def _unit(xyz):
    xyz = np.asarray(xyz, dtype=np.float64)
    return xyz / np.linalg.norm(xyz, axis=-1, keepdims=True)


def star_directions(stars, rows, t: Time, pos_km, vel_km_s):
    """Apparent directions [n, 3] (ICRS axes) from the ISS at time t of the catalog stars ``rows`` of
    /truth/stars (ra, dec, proper motion, parallax at J1991.25)."""
    g = {k: stars[k][()][rows] for k in ("ra_deg", "dec_deg", "pmra_mas_yr", "pmdec_mas_yr", "parallax_mas")}
    with warnings.catch_warnings():  # (erfa notes the distance of the tiny parallaxes it is given: expected)
        warnings.simplefilter("ignore", ErfaWarning)
        return _star_directions(g, t, pos_km, vel_km_s)


def _star_directions(g, t, pos_km, vel_km_s):
    star = SkyCoord(g["ra_deg"] * u.deg, g["dec_deg"] * u.deg, pm_ra_cosdec=g["pmra_mas_yr"] * u.mas / u.yr,
                    pm_dec=g["pmdec_mas_yr"] * u.mas / u.yr,
                    distance=Distance(parallax=np.maximum(g["parallax_mas"], 1e-3) * u.mas),
                    obstime=HIPPARCOS_EPOCH).apply_space_motion(new_obstime=t)
    return _unit(star.transform_to(_observer_frame(t, pos_km, vel_km_s)).cartesian.xyz.value.T)


def body_direction(name: str, t: Time, pos_km, vel_km_s):
    """Apparent direction [3] from the ISS of a solar-system body (astropy get_body, built-in ephemeris)."""
    return _unit(get_body(name, t, ephemeris="builtin").transform_to(_observer_frame(t, pos_km, vel_km_s))
                 .cartesian.xyz.value)


def aberrate(directions, beta):
    """Relativistic aberration of unit directions toward the sources for an observer moving at beta = v/c."""
    b2 = np.sum(beta * beta, axis=-1, keepdims=True)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    ub = np.sum(directions * beta, axis=-1, keepdims=True)
    out = (directions / gamma + beta + (gamma / (1.0 + gamma)) * ub * beta) / (1.0 + ub)
    return _unit(out)


def ground_directions(lat_deg, lon_deg, height_km, t: Time, pos_km, vel_km_s):
    """Apparent directions [n, 3] from the ISS (GCRS position, velocity at t) of WGS84 points: the geometric
    direction (astropy EarthLocation.get_gcrs_posvel), aberrated by the ISS's velocity (the light's few ms of
    travel is left out, as the renderer leaves it out)."""
    loc = EarthLocation.from_geodetic(np.asarray(lon_deg) * u.deg, np.asarray(lat_deg) * u.deg,
                                      np.asarray(height_km) * u.km)
    p, _ = loc.get_gcrs_posvel(t)
    return aberrate(_unit(p.xyz.to_value(u.km).T - np.asarray(pos_km)), np.asarray(vel_km_s) / C_KM_S)


def observer_from_tle(scenario_text: str, t: Time):
    """GCRS position [K, 3] km and velocity [K, 3] km/s from the scenario's [orbit] tle (sgp4, WGS72 as TLEs
    are fitted with, then astropy's TEME -> GCRS), or None when the orbit is not a TLE."""
    from sgp4.api import WGS72, Satrec

    tle = tomllib.loads(scenario_text).get("orbit", {}).get("tle")
    if not isinstance(tle, str):
        return None
    lines = [ln.strip() for ln in tle.strip().splitlines() if ln.strip()]
    sat = Satrec.twoline2rv(lines[-2], lines[-1], WGS72)
    err, r, v = sat.sgp4_array(t.utc.jd1, t.utc.jd2)
    if np.any(err):
        return None
    teme = TEME(CartesianRepresentation((r.T * u.km), differentials=CartesianDifferential(v.T * u.km / u.s)),
                obstime=t)
    g = teme.transform_to(GCRS(obstime=t))
    return g.cartesian.xyz.to_value(u.km).T, g.velocity.d_xyz.to_value(u.km / u.s).T


def observer_at(f, times_s):
    """ISS position, velocity (GCRS, cubic Hermite between the file's knots) and R_icrs_to_cam (Slerp of the
    file's quaternions) at times_s [n] (s from the start)."""
    t = f["truth/t"][()]
    pos, vel = f["truth/observer_pos_gcrs_km"][()], f["truth/observer_vel_gcrs_km_s"][()]
    s = np.asarray(times_s, dtype=np.float64)
    i = np.clip(np.searchsorted(t, s, side="right") - 1, 0, t.size - 2)
    h = t[i + 1] - t[i]
    x = ((s - t[i]) / h)[:, None]
    h00, h10, h01, h11 = 2 * x**3 - 3 * x**2 + 1, x**3 - 2 * x**2 + x, -2 * x**3 + 3 * x**2, x**3 - x**2
    p = h00 * pos[i] + h10 * h[:, None] * vel[i] + h01 * pos[i + 1] + h11 * h[:, None] * vel[i + 1]
    dh00, dh10, dh01, dh11 = 6 * x**2 - 6 * x, 3 * x**2 - 4 * x + 1, -6 * x**2 + 6 * x, 3 * x**2 - 2 * x
    v = (dh00 * pos[i] + dh01 * pos[i + 1]) / h[:, None] + dh10 * vel[i] + dh11 * vel[i + 1]
    q = f["truth/q_icrs_to_cam"][()]
    rot = Slerp(t, Rotation.from_quat(q, scalar_first=True))(np.clip(s, t[0], t[-1])).as_matrix()
    return p, v, rot


def pixel_rays(cam, x, y, iterations: int = 20):
    """Camera-frame unit rays [n, 3] through pixels x, y [n]: the inverse of :func:`project` (Brown–Conrady
    undistorted by fixed-point iteration, as OpenCV's undistortPoints; converged to ~1e-12 for the lenses of
    this project's presets)."""
    k1, k2, p1, p2, k3 = np.asarray(cam["dist_coeffs"], dtype=np.float64)
    xd, yd = (np.asarray(x) - cam["cx"]) / cam["fx"], (np.asarray(y) - cam["cy"]) / cam["fy"]
    xn, yn = xd.copy(), yd.copy()
    for _ in range(iterations):
        r2 = xn * xn + yn * yn
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        xn = (xd - 2.0 * p1 * xn * yn - p2 * (r2 + 2.0 * xn * xn)) / radial
        yn = (yd - p1 * (r2 + 2.0 * yn * yn) - 2.0 * p2 * xn * yn) / radial
    return _unit(np.stack([xn, yn, np.ones_like(xn)], axis=-1))


def lowest_altitude_km(pos_km, direction, t: Time, half_span_km: float = 20.0, step_km: float = 0.05) -> float:
    """Lowest WGS84 geodetic altitude (km, astropy ITRS -> EarthLocation) of the line from pos_km (GCRS) along the
    unit direction, sampled every step_km within half_span_km of its closest approach to the Earth's centre (the
    altitude there is quadratic in the offset: sampling errs by < step² / (8 R) ~ 5e-8 km)."""
    s = -np.dot(pos_km, direction) + np.arange(-half_span_km, half_span_km + 0.5 * step_km, step_km)
    pts = np.asarray(pos_km)[None, :] + s[:, None] * np.asarray(direction)[None, :]
    itrs = GCRS(CartesianRepresentation(pts.T * u.km), obstime=t).transform_to(ITRS(obstime=t))
    return float(itrs.earth_location.height.to_value(u.km).min())
