"""The Moon and the bright planets as seen from the moving ISS: apparent directions, magnitudes, colours.

Positions
---------
Ephemeris: astropy's built-in one (``ephemeris="builtin"``: ERFA ``epv00`` for the Earth and the Sun,
``plan94`` for the planets, ``moon98`` for the Moon; nothing is downloaded). For every knot time t the
chain is the one astropy applies for ``get_body`` followed by ICRS -> GCRS with the observer's
``obsgeoloc``/``obsgeovel`` (and the one :mod:`simulator.sky.apparent` applies to stars):

1. observer: barycentric position and velocity of the ISS = Earth (``epv00``) + GCRS state of the orbit;
2. light time: the body's barycentric position at the emission time t - |x_body(t_e) - x_obs(t)| / c,
   iterated to 1e-7 s (the Moon: 1.3 s, Jupiter: ~40 min);
3. parallax: the direction is taken from the ISS, not the geocentre; for the Moon this moves it by up to
   arctan(6780 km / 384400 km) ≈ 1 deg and changes its apparent radius by up to ±1.8 %;
4. light deflection by the Sun (``erfa.ldsun``, body treated as distant, as astropy does);
5. aberration by the ISS's barycentric velocity (Earth + ISS, up to ~37 km/s, ~25") with
   :func:`simulator.sky.apparent.aberrate`, at every knot.

Steps 1-5 give the *apparent* direction in GCRS (= ICRS) axes at each knot, already aberrated, which is
what the camera sees: project it with ``simulator.camera.projection.project_directions_at_knots``. For
Earth occultation the ray direction is aberrated by the Earth's barycentric velocity only (the light ray
is straight in the geocentric frame; see :mod:`simulator.earth.occultation`): ``ray_directions``.
tests/test_solar_system.py checks the directions against astropy's ``get_body`` + GCRS(obsgeoloc,
obsgeovel) to well under 1".

Magnitudes
----------
Planets: Mallama A. & Hilton J. L. 2018, "Computing apparent planetary magnitudes for The Astronomical
Almanac", Astronomy and Computing 25, 10 (arXiv:1808.01973), equations for the geocentric range of phase
angles and their extensions beyond it. Coefficients as printed in the authors' reference implementation
``Ap_Mag_V3.f90`` (SourceForge project "planetary-magnitudes", folder Ap_Mag_Current_Version), found
through a code search; checked against the authors' test data (Ap_Mag_Input/Output_V3, reproduced in
Skyfield's tests) in tests/test_solar_system.py. What is included:

- Mercury: eq. 1 (6th-order phase polynomial), all phase angles.
- Venus: eq. 3 (phase < 163.7 deg) and eq. 4 (>= 163.7 deg).
- Mars: eq. 6 (phase <= 50 deg) and eq. 7 (beyond). The small corrections for Mars' rotation
  (effective central meridian) and orbital position (Ls) from Mallama 2007 (tables L1, L2 of the
  reference code, within ±0.06 mag) are **not** included.
- Jupiter: eq. 8 (phase <= 12 deg) and eq. 9 (beyond).
- Saturn: globe + rings, eq. 10, with the effective ring inclination sqrt(B_sun B_obs) (zero when the
  Sun and the observer are on opposite sides of the ring plane), B the saturnicentric latitudes of the
  Sun and of the observer; valid for phase <= 6.5 deg and inclination <= 27 deg, which the ISS never
  leaves (its phase angle of Saturn stays below 6.4 deg). Outside that range, or when
  :func:`planet_magnitude` is called without a ring latitude, the globe alone: eq. 11 (phase <= 6.5 deg)
  and eq. 12 (beyond). Saturn's pole: IAU WGCCRE 2015 (Archinal et al. 2018, Celest. Mech. Dyn. Astron.
  130, 22): alpha0 = 40.589 - 0.036 T, delta0 = 83.537 - 0.004 T (deg, T in Julian centuries TDB from
  J2000).

The Moon: V = -12.73 + 0.026 |a| + 4e-9 a^4 at the mean distance 384400 km and 1 au from the Sun
(Krisciunas K. & Schaefer B. E. 1991, PASP 103, 1033, eq. 9, from Allen's Astrophysical Quantities),
scaled by 5 log10(r Delta / (1 au x 384400 km)); a the phase angle in degrees. Its implied V(1,0) = +0.22
agrees with the +0.21 of JPL Horizons' Moon data sheet.

Colours (B-V): Mercury 0.93, Venus 0.82, Mars 1.36, Jupiter 0.83, Saturn 1.04 — the planetary colour
indices tabulated in Allen's Astrophysical Quantities (Harris 1961), as used for the B band in
EranOfek/MAAT ``celestial.SolarSys.planets_magnitude`` (found through a code search); the Moon 0.92
(Allen's Astrophysical Quantities, 4th ed., Table 12.14, as quoted by Thejll et al.'s earthshine
project). The spectral photometry turns a B-V into a blackbody temperature, a rough stand-in for
reflected sunlight, as it is for stars.

The Moon's disk
---------------
:func:`moon_disk_samples` puts S points on the apparent disk (a sunflower pattern of equal solid angle,
fixed on the sky so the points do not rotate between knots), finds each point's surface element by
intersecting the line of sight with the lunar sphere (radius 1737.4 km, IAU mean radius, Archinal et al.
2018) and weights it by the Lommel-Seeliger reflectance mu0 / (mu0 + mu) (mu0, mu: cosines of the
incidence and emission angles; 0 on the night side). Lommel-Seeliger, not Lambert, because the Moon's
dark regolith shows no limb darkening at full Moon (its full disk is evenly bright); both put the
terminator in the same place, so the crescent or gibbous shape is the same. The weights are normalised so
that the samples' fluxes add up to the Moon's total 10^(-0.4 V): the phase curve (opposition surge
included) sets the total, the reflectance law only its distribution over the disk. Earthshine on the
night side is not modelled.
"""
from __future__ import annotations

from dataclasses import dataclass

import erfa
import numpy as np
from astropy import units as u
from astropy.coordinates import get_body_barycentric
from astropy.time import Time

from ..time_nodes import splined
from .apparent import AU_KM, C_KM_S, _earth_barycentric, aberrate

__all__ = [
    "PLANETS",
    "PLANET_HIP",
    "PLANET_BV",
    "MOON_BV",
    "MOON_HIP",
    "MOON_RADIUS_KM",
    "MOON_MEAN_DISTANCE_KM",
    "SolarSystemSources",
    "MoonDisk",
    "planet_magnitude",
    "saturn_ring_latitude",
    "BodyGeometry",
    "moon_magnitude",
    "saturn_pole_gcrs",
    "body_geometry",
    "solar_system_sources",
    "moon_disk_samples",
    "moon_samples_for_camera",
]

PLANETS = ("mercury", "venus", "mars", "jupiter", "saturn")
# Negative pseudo-HIP numbers so planets sit beside catalog stars in truth tables: minus the NAIF
# barycentre code (Mercury 1 ... Saturn 6); the Moon -301 (NAIF 301), its disk samples -301001 - s.
PLANET_HIP = {"mercury": -1, "venus": -2, "mars": -4, "jupiter": -5, "saturn": -6}
MOON_HIP = -301
MOON_SAMPLE_HIP_BASE = -301001
# B-V (see the module docstring for the sources)
PLANET_BV = {"mercury": 0.93, "venus": 0.82, "mars": 1.36, "jupiter": 0.83, "saturn": 1.04}
MOON_BV = 0.92

MOON_RADIUS_KM = 1737.4  # IAU mean radius (Archinal et al. 2018)
MOON_MEAN_DISTANCE_KM = 384400.0  # reference distance of the Krisciunas & Schaefer (1991) phase law

# Saturn's north pole, ICRF (IAU WGCCRE 2015, Archinal et al. 2018): deg and deg per Julian century
SATURN_POLE_RA_DEG = (40.589, -0.036)
SATURN_POLE_DEC_DEG = (83.537, -0.004)

LIGHT_TIME_TOLERANCE_S = 1e-7
_GOLDEN_ANGLE = np.pi * (3.0 - np.sqrt(5.0))


# ---------------------------------------------------------------------------------------------------
# magnitudes


def _mercury(r, delta, a):
    """Mallama & Hilton 2018 eq. 1."""
    poly = a * (6.3280e-02 + a * (-1.6336e-03 + a * (3.3644e-05 + a * (-3.4265e-07 + a * (1.6893e-09
                                                                                          + a * -3.0334e-12)))))
    return -0.613 + 5.0 * np.log10(r * delta) + poly


def _venus(r, delta, a):
    """Eq. 3 (phase < 163.7 deg) and eq. 4 (beyond)."""
    low = a * (-1.044e-03 + a * (3.687e-04 + a * (-2.814e-06 + a * 8.938e-09)))
    high = 236.05828 + 4.384 + a * (-2.81914 + a * 8.39034e-03)
    return -4.384 + 5.0 * np.log10(r * delta) + np.where(a < 163.7, low, high)


def _mars(r, delta, a):
    """Eq. 6 (phase <= 50 deg) and eq. 7 (beyond); no rotation or Ls correction (±0.06 mag)."""
    low = -1.601 + a * (2.267e-02 - 1.302e-04 * a)
    high = -0.367 + a * (-0.02573 + 3.445e-04 * a)
    return 5.0 * np.log10(r * delta) + np.where(a <= 50.0, low, high)


def _jupiter(r, delta, a):
    """Eq. 8 (phase <= 12 deg) and eq. 9 (beyond)."""
    low = -9.395 + a * (-3.7e-04 + 6.16e-04 * a)
    x = np.minimum(a, 180.0) / 180.0
    poly = 1.0 + x * (-1.507 + x * (-0.363 + x * (-0.062 + x * (2.809 - 1.876 * x))))
    with np.errstate(divide="ignore", invalid="ignore"):
        high = -9.428 - 2.5 * np.log10(np.maximum(poly, 1e-300))
    return 5.0 * np.log10(r * delta) + np.where(a <= 12.0, low, high)


def _saturn(r, delta, a, ring_latitude_deg):
    """Eq. 10 (globe + rings) where it applies, else eq. 11 / eq. 12 (globe alone)."""
    globe_low = -8.95 + a * (-3.7e-04 + 6.16e-04 * a)
    globe_high = -8.94 + a * (2.446e-04 + a * (2.672e-04 + a * (-1.506e-06 + a * 4.767e-09)))
    globe = np.where(a <= 6.5, globe_low, globe_high)
    if ring_latitude_deg is None:
        v = globe
    else:
        b = np.asarray(ring_latitude_deg, dtype=np.float64)
        sb = np.sin(np.radians(b))
        rings = -8.914 - 1.825 * sb + 0.026 * a - 0.378 * sb * np.exp(-2.25 * a)
        v = np.where((a <= 6.5) & (b <= 27.0), rings, globe)
    return 5.0 * np.log10(r * delta) + v


_MAGNITUDE_FUNCTIONS = {"mercury": _mercury, "venus": _venus, "mars": _mars, "jupiter": _jupiter}


def planet_magnitude(name: str, r_au, delta_au, phase_angle_deg, saturn_ring_latitude_deg=None):
    """Apparent V magnitude of a planet (Mallama & Hilton 2018; see the module docstring).

    r_au: Sun-planet distance (au); delta_au: observer-planet distance (au); phase_angle_deg: the angle
    Sun-planet-observer (deg). saturn_ring_latitude_deg (Saturn only): the effective ring inclination
    sqrt(B_sun B_obs) in degrees (>= 0; see :func:`saturn_ring_latitude`); None gives the globe alone.
    Arrays broadcast.
    """
    key = name.lower()
    r = np.asarray(r_au, dtype=np.float64)
    d = np.asarray(delta_au, dtype=np.float64)
    a = np.abs(np.asarray(phase_angle_deg, dtype=np.float64))
    if key == "saturn":
        return _saturn(r, d, a, saturn_ring_latitude_deg)
    if key not in _MAGNITUDE_FUNCTIONS:
        raise ValueError(f"no magnitude law for {name!r}; known: {', '.join(PLANETS)}")
    return _MAGNITUDE_FUNCTIONS[key](r, d, a)


def saturn_ring_latitude(sun_latitude_deg, observer_latitude_deg):
    """Effective ring inclination (deg) of Mallama & Hilton's eq. 10: sqrt(B_sun B_obs) when the Sun and
    the observer are on the same side of the ring plane, else 0. Latitudes saturnicentric, degrees."""
    prod = np.asarray(sun_latitude_deg, dtype=np.float64) * np.asarray(observer_latitude_deg, dtype=np.float64)
    return np.sqrt(np.maximum(prod, 0.0))


def moon_magnitude(r_au, delta_km, phase_angle_deg):
    """Apparent V magnitude of the Moon (Krisciunas & Schaefer 1991 eq. 9, scaled by distance).

    r_au: Sun-Moon distance (au); delta_km: observer-Moon distance (km); phase_angle_deg: Sun-Moon-observer.
    """
    a = np.abs(np.asarray(phase_angle_deg, dtype=np.float64))
    scale = np.asarray(r_au, dtype=np.float64) * np.asarray(delta_km, dtype=np.float64) / MOON_MEAN_DISTANCE_KM
    return -12.73 + 0.026 * a + 4e-9 * a**4 + 5.0 * np.log10(scale)


def saturn_pole_gcrs(times: Time) -> np.ndarray:
    """Unit vectors [K, 3] of Saturn's north pole, ICRS/GCRS axes (IAU WGCCRE 2015)."""
    t_cent = (np.atleast_1d(times.tdb.jd) - 2451545.0) / 36525.0
    ra = np.radians(SATURN_POLE_RA_DEG[0] + SATURN_POLE_RA_DEG[1] * t_cent)
    dec = np.radians(SATURN_POLE_DEC_DEG[0] + SATURN_POLE_DEC_DEG[1] * t_cent)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


# ---------------------------------------------------------------------------------------------------
# geometry


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _angle_deg(a, b):
    """Angle (deg) between vectors [..., 3] (atan2 form, accurate near 0 and 180)."""
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1)))


@dataclass(frozen=True)
class _Observer:
    """Barycentric state of the ISS at the knots, km and km/s, ICRS axes; the Sun's position."""

    times: Time
    pos_km: np.ndarray  # [K, 3]
    beta: np.ndarray  # [K, 3] barycentric velocity / c (Earth + ISS)
    beta_earth: np.ndarray  # [K, 3] the Earth's barycentric velocity / c
    sun_km: np.ndarray  # [K, 3] the Sun, barycentric, at the knot times


def _observer(times: Time, pos_gcrs_km, vel_gcrs_km_s) -> _Observer:
    times = Time(times)
    if times.isscalar:
        times = times.reshape((1,))
    pos = np.asarray(pos_gcrs_km, dtype=np.float64).reshape(-1, 3)
    vel = np.asarray(vel_gcrs_km_s, dtype=np.float64).reshape(-1, 3)
    if not (pos.shape[0] == vel.shape[0] == times.size):
        raise ValueError(f"{times.size} times but observer states of shape {pos.shape} and {vel.shape}")
    # (astropy's builtin ephemeris costs ~14 ms a call: evaluated at nodes 10 min apart and splined, time_nodes)
    epv = splined(times, _earth_barycentric)
    ep, ev = epv[..., :3], epv[..., 3:]
    sun = _barycentric("sun", times)
    return _Observer(times, ep + pos, (ev + vel) / C_KM_S, ev / C_KM_S, sun)


def _barycentric(body: str, times: Time) -> np.ndarray:
    """Barycentric position (km) [K, 3] of ``body`` (astropy's builtin ephemeris, splined: time_nodes)."""
    return splined(times, lambda tt: get_body_barycentric(body, tt, ephemeris="builtin").xyz.to_value(u.km).T)


def _retarded(body: str, obs: _Observer):
    """Barycentric position (km) [K, 3] of ``body`` at the emission time, and the light time (s) [K]."""
    light_time = np.zeros(obs.times.size)
    for _ in range(12):
        x = _barycentric(body, obs.times - light_time * u.s)
        new = np.linalg.norm(x - obs.pos_km, axis=1) / C_KM_S
        done = np.max(np.abs(new - light_time)) < LIGHT_TIME_TOLERANCE_S
        light_time = new
        if done:
            break
    return _barycentric(body, obs.times - light_time * u.s), light_time


def _apparent(natural, obs: _Observer):
    """Deflect natural directions [..., K, 3] by the Sun and aberrate them: (apparent, ray) directions."""
    sun_to_obs = obs.pos_km - obs.sun_km
    em_km = np.linalg.norm(sun_to_obs, axis=1)
    e = sun_to_obs / em_km[:, None]
    deflected = erfa.ldsun(natural, e, em_km / AU_KM)  # broadcasts [..., K, 3] against [K, 3] and [K]
    return aberrate(deflected, obs.beta), aberrate(deflected, obs.beta_earth)


@dataclass(frozen=True)
class BodyGeometry:
    """One body seen from the ISS at K knots (see :func:`body_geometry`)."""

    name: str
    natural: np.ndarray  # [K, 3] light-time-corrected geometric direction from the ISS (unit, ICRS axes)
    apparent: np.ndarray  # [K, 3] + Sun deflection + aberration by the ISS's barycentric velocity
    ray: np.ndarray  # [K, 3] + Sun deflection + aberration by the Earth's barycentric velocity only
    body_km: np.ndarray  # [K, 3] barycentric position of the body at the emission time
    rel_km: np.ndarray  # [K, 3] body (emission time) minus ISS (knot time)
    distance_km: np.ndarray  # [K] |rel_km|
    sun_distance_au: np.ndarray  # [K] Sun-body distance
    phase_angle_deg: np.ndarray  # [K] Sun-body-ISS angle
    light_time_s: np.ndarray  # [K]


def _geometry(body: str, obs: _Observer) -> BodyGeometry:
    x_body, lt = _retarded(body, obs)
    rel = x_body - obs.pos_km
    natural = _unit(rel)
    apparent, ray = _apparent(natural[None], obs)
    to_sun = obs.sun_km - x_body  # the Sun moves ~0.01 km/s: its knot-time position is fine
    return BodyGeometry(body, natural, apparent[0], ray[0], x_body, rel, np.linalg.norm(rel, axis=1),
                        np.linalg.norm(to_sun, axis=1) / AU_KM, _angle_deg(to_sun, -rel), lt)


def body_geometry(body: str, times: Time, observer_pos_gcrs_km, observer_vel_gcrs_km_s) -> BodyGeometry:
    """Directions, distances and phase angle of a solar-system body seen from the ISS at the knots.

    body: an astropy built-in ephemeris name ("moon", "mercury", ..., "saturn"). times: Time [K];
    observer_pos_gcrs_km, observer_vel_gcrs_km_s: the ISS's GCRS state [K, 3] (km, km/s).
    """
    return _geometry(body, _observer(times, observer_pos_gcrs_km, observer_vel_gcrs_km_s))


# ---------------------------------------------------------------------------------------------------
# planets as point sources


@dataclass(frozen=True)
class SolarSystemSources:
    """Point sources whose direction and brightness change from knot to knot (planets).

    Like :class:`simulator.sky.catalog.StarCatalog` with one row per source, but directions are per knot
    and already apparent (aberrated) as seen from the ISS.
    """

    names: tuple  # [N] lower-case body names
    hip: np.ndarray  # int32 [N], negative pseudo-HIP numbers (PLANET_HIP)
    directions: np.ndarray  # float64 [N, K, 3] apparent unit directions from the ISS, GCRS axes
    ray_directions: np.ndarray  # float64 [N, K, 3] for Earth occultation (Earth-velocity aberration only)
    vmag: np.ndarray  # float64 [N, K] Johnson V
    bv: np.ndarray  # float64 [N]
    distance_km: np.ndarray  # float64 [N, K] ISS-body distance (light-time corrected)
    sun_distance_au: np.ndarray  # float64 [N, K]
    phase_angle_deg: np.ndarray  # float64 [N, K]

    def __len__(self) -> int:
        return len(self.names)

    @property
    def ra_deg(self) -> np.ndarray:
        """Apparent right ascension [N, K] (deg, GCRS), in [0, 360)."""
        d = self.directions
        return np.degrees(np.arctan2(d[..., 1], d[..., 0])) % 360.0

    @property
    def dec_deg(self) -> np.ndarray:
        """Apparent declination [N, K] (deg, GCRS)."""
        return np.degrees(np.arcsin(np.clip(self.directions[..., 2], -1.0, 1.0)))

    @property
    def vmag_mean(self) -> np.ndarray:
        """V magnitude [N] of the mean flux over the knots (the rate a constant-rate renderer uses)."""
        if self.vmag.shape[1] == 0:
            return np.full(len(self), np.nan)
        return -2.5 * np.log10(np.mean(10.0 ** (-0.4 * self.vmag), axis=1))

    def subset(self, index) -> "SolarSystemSources":
        """A new set with the sources selected by a boolean mask or integer indices."""
        idx = np.flatnonzero(np.asarray(index)) if np.asarray(index).dtype == bool else np.asarray(index, int)
        return SolarSystemSources(tuple(self.names[i] for i in idx), self.hip[idx], self.directions[idx],
                                  self.ray_directions[idx], self.vmag[idx], self.bv[idx], self.distance_km[idx],
                                  self.sun_distance_au[idx], self.phase_angle_deg[idx])


def solar_system_sources(times: Time, observer_pos_gcrs_km, observer_vel_gcrs_km_s, mag_limit=None,
                         bodies=PLANETS, saturn_rings: bool = True) -> SolarSystemSources:
    """The planets as point sources seen from the ISS at the knots.

    times: Time [K] (the knots); observer_pos_gcrs_km [K, 3] (km) and observer_vel_gcrs_km_s [K, 3]
    (km/s): the ISS's GCRS state. mag_limit: keep a planet if it is at least this bright (V <= mag_limit)
    at some knot (None keeps all). bodies: which of :data:`PLANETS`. saturn_rings: include the rings in
    Saturn's magnitude (Mallama & Hilton eq. 10).
    """
    obs = _observer(times, observer_pos_gcrs_km, observer_vel_gcrs_km_s)
    k_n = obs.times.size
    geos, vmags = [], []
    for name in bodies:
        key = name.lower()
        if key not in PLANET_HIP:
            raise ValueError(f"unknown planet {name!r}; known: {', '.join(PLANETS)}")
        g = _geometry(key, obs)
        ring = None
        if key == "saturn" and saturn_rings:
            pole = saturn_pole_gcrs(obs.times)
            b_sun = 90.0 - _angle_deg(pole, obs.sun_km - g.body_km)
            b_obs = 90.0 - _angle_deg(pole, -g.rel_km)
            ring = saturn_ring_latitude(b_sun, b_obs)
        vmags.append(planet_magnitude(key, g.sun_distance_au, g.distance_km / AU_KM, g.phase_angle_deg, ring))
        geos.append(g)
    vmag = np.array(vmags, dtype=np.float64).reshape(len(geos), k_n)
    if mag_limit is None:
        idx = np.arange(len(geos))
    else:
        idx = np.flatnonzero(np.min(vmag, axis=1, initial=np.inf) <= float(mag_limit))
    kept = [geos[i] for i in idx]
    names = tuple(g.name for g in kept)

    def stack(attr, tail=()):
        return np.array([getattr(g, attr) for g in kept], dtype=np.float64).reshape((idx.size, k_n) + tail)

    return SolarSystemSources(
        names=names,
        hip=np.array([PLANET_HIP[n] for n in names], dtype=np.int32),
        directions=stack("apparent", (3,)),
        ray_directions=stack("ray", (3,)),
        vmag=vmag[idx],
        bv=np.array([PLANET_BV[n] for n in names], dtype=np.float64),
        distance_km=stack("distance_km"),
        sun_distance_au=stack("sun_distance_au"),
        phase_angle_deg=stack("phase_angle_deg"),
    )


# ---------------------------------------------------------------------------------------------------
# the Moon as an extended disk


@dataclass(frozen=True)
class MoonDisk:
    """Sample points over the Moon's apparent disk at K knots (see :func:`moon_disk_samples`)."""

    directions: np.ndarray  # [S, K, 3] apparent unit directions of the samples from the ISS, GCRS axes
    ray_directions: np.ndarray  # [S, K, 3] same, Earth-velocity aberration only (for occultation)
    flux: np.ndarray  # [S, K] V-band flux of each sample in units of a V = 0 star; sums to 10^(-0.4 vmag_total)
    lit: np.ndarray  # bool [S, K] the sample's surface point is sunlit (flux > 0)
    centre: np.ndarray  # [K, 3] apparent direction of the Moon's centre
    centre_ray: np.ndarray  # [K, 3]
    distance_km: np.ndarray  # [K] ISS-Moon centre distance (light-time corrected)
    angular_radius_rad: np.ndarray  # [K] arcsin(R_moon / distance)
    phase_angle_deg: np.ndarray  # [K] Sun-Moon-ISS
    illuminated_fraction: np.ndarray  # [K] (1 + cos phase) / 2
    vmag_total: np.ndarray  # [K] V of the whole Moon (Krisciunas & Schaefer 1991)
    offsets: np.ndarray  # [S, 2] the sample pattern on the unit disk (fixed on the sky: east, north)
    hip: np.ndarray  # int32 [S] pseudo-HIP numbers MOON_SAMPLE_HIP_BASE - s
    bv: float = MOON_BV

    @property
    def vmag(self) -> np.ndarray:
        """V magnitude [S, K] of each sample (inf where it is unlit)."""
        with np.errstate(divide="ignore"):
            return -2.5 * np.log10(self.flux)

    def __len__(self) -> int:
        return int(self.flux.shape[0])


def _disk_pattern(n: int) -> np.ndarray:
    """n points [n, 2] on the unit disk, one per cell of equal area (Vogel's sunflower spiral)."""
    i = np.arange(n) + 0.5
    rad = np.sqrt(i / n)
    ang = i * _GOLDEN_ANGLE
    return np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=-1)


def _sky_basis(d):
    """Unit vectors east [K, 3] and north [K, 3] perpendicular to directions d [K, 3] (ICRS axes)."""
    z = np.array([0.0, 0.0, 1.0])
    east = np.cross(z, d)
    small = np.linalg.norm(east, axis=1) < 1e-9  # at a celestial pole: any perpendicular will do
    east[small] = np.cross(np.array([1.0, 0.0, 0.0]), d[small])
    east = _unit(east)
    return east, np.cross(d, east)


def moon_disk_samples(times: Time, observer_pos_gcrs_km, observer_vel_gcrs_km_s, n_samples: int = 300) -> MoonDisk:
    """Points over the Moon's apparent disk seen from the ISS, weighted by the sunlight they reflect.

    times: Time [K] (the knots); observer_pos_gcrs_km [K, 3] (km), observer_vel_gcrs_km_s [K, 3] (km/s):
    the ISS's GCRS state. n_samples: points on the disk (equal solid angle each; choose the spacing below
    the PSF, e.g. with :func:`moon_samples_for_camera`). Each point's line of sight is intersected
    exactly with the lunar sphere (so the disk's radius and the terminator follow the ISS's parallax),
    weighted by the Lommel-Seeliger law and normalised to the Moon's total V flux (module docstring).
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    obs = _observer(times, observer_pos_gcrs_km, observer_vel_gcrs_km_s)
    g = _geometry("moon", obs)
    c = g.rel_km  # [K, 3] Moon centre relative to the ISS (km)
    dist = g.distance_km
    d_hat = g.natural
    east, north = _sky_basis(d_hat)
    rho = np.arcsin(MOON_RADIUS_KM / dist)  # [K] apparent angular radius (geometric)
    pattern = _disk_pattern(int(n_samples))  # [S, 2]
    r_unit = np.hypot(pattern[:, 0], pattern[:, 1])
    phi = np.arctan2(pattern[:, 1], pattern[:, 0])
    # the angle off the centre is proportional to the pattern radius: equal solid angles to ~rho^2 ~ 2e-5
    beta = r_unit[:, None] * rho[None, :]  # [S, K]
    perp = np.cos(phi)[:, None, None] * east[None] + np.sin(phi)[:, None, None] * north[None]
    s_dir = np.cos(beta)[..., None] * d_hat[None] + np.sin(beta)[..., None] * perp  # [S, K, 3] lines of sight
    # near intersection of the line of sight t s with the sphere |t s - c| = R
    sc = np.sum(s_dir * c[None], axis=-1)
    disc = np.maximum(sc * sc - (dist * dist - MOON_RADIUS_KM**2)[None, :], 0.0)
    t_hit = sc - np.sqrt(disc)
    normal = (t_hit[..., None] * s_dir - c[None]) / MOON_RADIUS_KM  # [S, K, 3] outward surface normals
    to_sun = _unit(obs.sun_km - g.body_km)  # [K, 3]
    mu0 = np.sum(normal * to_sun[None], axis=-1)
    mu = np.sum(normal * -s_dir, axis=-1)
    lit = (mu0 > 0.0) & (mu > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        radiance = np.where(lit, mu0 / (mu0 + mu), 0.0)
    vmag_total = moon_magnitude(g.sun_distance_au, dist, g.phase_angle_deg)
    total = radiance.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        flux = np.where(total > 0, radiance / total * 10.0 ** (-0.4 * vmag_total), 0.0)
    apparent, ray = _apparent(s_dir, obs)
    return MoonDisk(
        directions=apparent, ray_directions=ray, flux=flux, lit=lit & (total > 0),
        centre=g.apparent, centre_ray=g.ray, distance_km=dist, angular_radius_rad=rho,
        phase_angle_deg=g.phase_angle_deg,
        illuminated_fraction=0.5 * (1.0 + np.cos(np.radians(g.phase_angle_deg))),
        vmag_total=vmag_total, offsets=pattern,
        hip=(MOON_SAMPLE_HIP_BASE - np.arange(pattern.shape[0])).astype(np.int32),
    )


def moon_samples_for_camera(pixel_scale_arcsec: float, psf_sigma_px: float, max_samples: int = 20000,
                            min_samples: int = 50) -> int:
    """Number of disk samples whose spacing is at most one PSF sigma for a camera.

    The Moon's disk (radius up to 0.283 deg from the ISS, at perigee and overhead) spans
    pi (r / (sigma * scale))^2 sigma-cells; samples one per cell blend into an even disk after the PSF.
    """
    r_arcsec = 0.283 * 3600.0
    cell = max(float(psf_sigma_px) * float(pixel_scale_arcsec), 1e-9)
    n = int(np.ceil(np.pi * (r_arcsec / cell) ** 2))
    return int(min(max(n, min_samples), max_samples))
