"""Apparent places of catalog stars as seen from the moving ISS.

Chain (the same IAU/SOFA steps astropy applies for ICRS -> GCRS with an observer position/velocity):
1. space motion from the catalog epoch to the exposure epoch (``erfa.pmsafe``: proper motion, parallax,
   zero radial velocity);
2. parallax from the observer's barycentric position (stars' distances from their parallaxes);
3. gravitational light deflection by the Sun (``erfa.ldsun``);
4. special-relativistic aberration from the observer's barycentric velocity (Earth + ISS), per knot.

Steps 1–3 change by less than 1e-3 arcsec during an exposure of a few hours and are evaluated once, at
mid-exposure, giving the "natural direction" (BCRS, light-time-free). Step 4 changes by up to ~5" as the
ISS velocity turns, so it is evaluated at every knot, inside the projection kernel.
"""
from __future__ import annotations

import warnings

import erfa
import numpy as np
from astropy import units as u
from astropy.coordinates import get_body_barycentric, get_body_barycentric_posvel
from astropy.time import Time

from ..time_nodes import splined
from .catalog import StarCatalog

C_KM_S = 299792.458  # speed of light, km/s (exact, SI definition)
AU_KM = 149597870.7  # astronomical unit, km (IAU 2012 Resolution B2)
PARALLAX_FLOOR_MAS = 1e-3  # stars with non-positive parallax are put at 1 Gpc (no measurable parallax)


def unit_vectors(ra_rad: np.ndarray, dec_rad: np.ndarray) -> np.ndarray:
    """Cartesian unit vectors [N, 3] from right ascension and declination (radians)."""
    cd = np.cos(dec_rad)
    return np.stack([cd * np.cos(ra_rad), cd * np.sin(ra_rad), np.sin(dec_rad)], axis=-1)


def observer_barycentric(times: Time, pos_gcrs_km: np.ndarray, vel_gcrs_km_s: np.ndarray):
    """Barycentric position (au) and velocity (km/s) of the observer, [K, 3] each, ICRS axes.

    Earth from astropy's built-in ephemeris (erfa epv00, no download); the ISS's GCRS state is added
    (the Newtonian sum; the relativistic composition term is ~ v_E v_ISS / c^2 ~ 3e-9, negligible).
    """
    earth = splined(times, _earth_barycentric)  # ERFA at nodes 10 min apart, splined (time_nodes.py)
    return (earth[..., :3] + pos_gcrs_km) / AU_KM, earth[..., 3:] + vel_gcrs_km_s


def _earth_barycentric(times: Time) -> np.ndarray:
    """The Earth's barycentric position (km) and velocity (km/s), ICRS axes, at ``times`` [K]: [K, 6]."""
    earth_pos, earth_vel = get_body_barycentric_posvel("earth", times, ephemeris="builtin")
    return np.concatenate([earth_pos.xyz.to_value(u.km).T, earth_vel.xyz.to_value(u.km / u.s).T], axis=-1)


def natural_directions(catalog: StarCatalog, epoch: Time, observer_pos_au: np.ndarray) -> np.ndarray:
    """Unit directions [N, 3] (ICRS axes) of the stars at ``epoch`` before aberration.

    Includes space motion from the catalog epoch, parallax for an observer at ``observer_pos_au``
    (barycentric, au) and light deflection by the Sun.
    """
    catalog_epoch = Time(catalog.epoch_jyear, format="jyear", scale="tdb")
    ra0 = np.radians(catalog.ra_deg)
    dec0 = np.radians(catalog.dec_deg)
    cos_dec = np.cos(dec0)
    pmra = np.radians(catalog.pmra_mas_yr / 3.6e6) / np.where(cos_dec > 0, cos_dec, 1e-12)  # dRA/dt, rad/yr
    pmdec = np.radians(catalog.pmdec_mas_yr / 3.6e6)
    plx_arcsec = np.maximum(catalog.parallax_mas, PARALLAX_FLOOR_MAS) / 1000.0
    epoch_tdb = epoch.tdb
    with warnings.catch_warnings():
        # pmsafe flags stars whose parallax it raises to its own floor ("distance overridden"); their
        # parallax is below any measurable effect and the returned positions are right
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        ra1, dec1, _, _, plx1, _ = erfa.pmsafe(
            ra0, dec0, pmra, pmdec, plx_arcsec, np.zeros_like(ra0),
            catalog_epoch.jd1, catalog_epoch.jd2, epoch_tdb.jd1, epoch_tdb.jd2)
    distance_au = 1.0 / np.radians(plx1 / 3600.0)
    star_pos = unit_vectors(ra1, dec1) * distance_au[:, None]
    rel = star_pos - observer_pos_au[None, :]
    direction = rel / np.linalg.norm(rel, axis=1, keepdims=True)
    sun = get_body_barycentric("sun", epoch, ephemeris="builtin").xyz.to_value(u.au)
    sun_to_obs = observer_pos_au - sun
    em = np.linalg.norm(sun_to_obs)
    return erfa.ldsun(direction, sun_to_obs / em, em)


def aberrate(direction: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Relativistic aberration of natural directions [..., 3] for observer velocity beta = v/c [..., 3].

    p' = (sqrt(1-b^2) p + (1 + p·b / (1 + sqrt(1-b^2))) b) / (1 + p·b), renormalised (as erfa.ab without
    its ~1e-12 rad gravitational term).
    """
    pdv = np.sum(direction * beta, axis=-1, keepdims=True)
    bm1 = np.sqrt(1.0 - np.sum(beta * beta, axis=-1, keepdims=True))
    w1 = 1.0 + pdv / (1.0 + bm1)
    p = bm1 * direction + w1 * beta
    return p / np.linalg.norm(p, axis=-1, keepdims=True)
