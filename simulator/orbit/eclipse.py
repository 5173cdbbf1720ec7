"""Orbital night: the Earth's shadow on the observer, eclipse events, night windows, relative start times.

Model
-----
The Sun and the Earth are seen from the observer (the ISS) as two disks on the sky, and the fraction
of the Sun's disk that the Earth's disk does not cover is the *shadow function* ``nu``: 1 in full
sunlight, 0 in the umbra, in between in the penumbra. This is the conical shadow of a spherical Earth
lit by a Sun of finite size, in the overlapping-disks form of Montenbruck & Gill, *Satellite Orbits*
(Springer 2000), §3.4.2 (eqs. 3.85-3.94); the code here is our own. From the observer at ``r`` (GCRS,
km) with the Sun at ``r_sun``:

* apparent radius of the Sun   ``a = arcsin(R_sun / |r_sun - r|)``
* apparent radius of the Earth ``b = arcsin(R_earth / |r|)``
* angle between their centres  ``c = arccos(-r . (r_sun - r) / (|r| |r_sun - r|))``

``c >= a + b``: full Sun; ``c <= b - a``: umbra; ``c <= a - b``: annular (only if the Sun looked larger
than the Earth, never in LEO: ``nu = 1 - b^2/a^2``); otherwise the two disks overlap in the area

    A = a^2 arccos(x/a) + b^2 arccos((c - x)/b) - c y,   x = (c^2 + a^2 - b^2) / (2c),   y = sqrt(a^2 - x^2)

and ``nu = 1 - A / (pi a^2)``. The disks are treated as flat circles (as in Montenbruck & Gill); for the
ISS the Earth's disk is 70 deg in radius and its limb's curvature across the Sun's 0.27 deg disk is
misrepresented by a few microradians, i.e. ``nu`` is off by ~1e-3 at most. ``nu`` is the *geometric*
fraction of the disk: solar limb darkening and the atmosphere (refraction, extinction of rays that graze
the air below ~30 km) are not modelled. They keep the ISS's sunset reddened and dimmed for a few
seconds more than the geometry says (REFERENCES.md §2.3: "~10 s each end").

Constants
---------
* ``R_SUN_KM = 695700`` km, the nominal solar radius of IAU 2015 Resolution B3 (Prsa et al. 2016, AJ 152, 41).
* The Earth: by default the WGS84 ellipsoid (a = 6378.137 km, f = 1/298.257223563, NIMA TR8350.2), used as
  the sphere whose radius is the ellipsoid's radius *toward the Sun*: the radius, in the direction of the
  observer, of the ellipsoid's silhouette seen from the Sun (its orthographic projection along the Sun
  direction). A ray from the observer toward the Sun's centre grazes that sphere exactly when it grazes the
  ellipsoid, so shadow-boundary times are those of the ellipsoid; with a fixed sphere they would be off by
  up to ~8 s (the silhouette radius runs from 6356.8 km to 6378.1 km; the ISS's distance from the shadow
  axis changes by ~2.6 km/s at the boundary). The ellipsoid's axis is the Earth's rotation pole (CIP,
  IAU 2006/2000A) at the middle of the searched span. ``earth_radius_km=`` overrides this with a fixed
  sphere (e.g. ``EARTH_MEAN_RADIUS_KM = 6371.0088`` km, the IUGG mean radius R1 = (2a + b)/3 of the ellipsoid,
  Moritz 2000, Geodetic Reference System 1980).
* The Sun's position: :func:`sun_gcrs_km`, astropy's ``get_body('sun', ...)`` with the built-in (VSOP87-
  based) ephemeris, geocentric GCRS, km. Nothing is downloaded.

Events and windows
------------------
:func:`eclipse_events` samples the disk geometry every ``step_s`` (10 s) and refines each boundary crossing
by Brent's method (``scipy.optimize.brentq``) on the signed margins ``c - (a + b)`` (penumbra boundary) and
``c - (b - a)`` (umbra boundary), which are smooth where ``nu`` itself is flat, to 1 ms. The observer's
state is evaluated exactly (``orbit.gcrs_states``) at every iteration; the Sun's GCRS position comes from
astropy every 10 min and a cubic spline in between (error ~5e-6 km), and is interpolated linearly between
the samples during the refinement (its curvature over 10 s moves it by < 1e-4 km). A pair of
crossings closer together than one step (a grazing pass) is found from the sampled margin's local minimum.

Event names: ``penumbra_entry`` (the Sun's disk starts to be covered), ``umbra_entry`` (the last of it
disappears: orbital sunset, "eclipse"), ``umbra_exit`` (the first of it reappears: orbital sunrise),
``penumbra_exit`` (the whole disk is back).

Relative start times (:func:`resolve_relative_start`)::

    START    := EVENT [ SIGN DURATION ]
    EVENT    := eclipse | sunset | umbra | umbra_entry         (all: umbra entry, orbital sunset)
              | sunrise | umbra_exit                            (umbra exit, orbital sunrise)
              | penumbra | penumbra_entry | penumbra_exit
    SIGN     := + | -
    DURATION := a number with an astropy time unit, e.g. "60 s", "2 min", "0.5 h"

Names are case-insensitive and spaces around the sign are optional (``"eclipse+60 s"``,
``"umbra_exit - 5 min"``). The event is the first one at or after the reference time, searched for up to
24 h.

Frames and units: positions GCRS (ICRS axes, geocentric) in km, velocities km/s, times astropy ``Time``
(UTC at the boundary), durations and offsets in seconds, angles in degrees where the name says ``_deg``.
"""
from __future__ import annotations

import argparse
import difflib
import math
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import get_body
from astropy.time import Time, TimeDelta
from scipy.optimize import brentq, minimize_scalar

from simulator.earth.ellipsoid import earth_pole_gcrs
from simulator.errors import ScenarioError, StartrailError
from simulator.orbit.tle import as_time_array, parse_tle
from simulator.time_nodes import splined

__all__ = [
    "R_SUN_KM",
    "EARTH_MEAN_RADIUS_KM",
    "EVENT_KINDS",
    "EclipseEvent",
    "EclipsePass",
    "shadow_function",
    "sun_gcrs_km",
    "sun_gcrs_km_splined",
    "shadow_fraction",
    "eclipse_flags",
    "eclipse_events",
    "eclipse_passes",
    "eclipse_windows",
    "format_windows_table",
    "beta_angle_deg",
    "resolve_relative_start",
    "is_relative_start",
    "check_in_shadow",
    "add_windows_parser",
    "run_windows",
    "windows_main",
]

#: Nominal solar radius, km (IAU 2015 Resolution B3).
R_SUN_KM = 695700.0
#: IUGG mean Earth radius R1 = (2a + b)/3 of the WGS84/GRS80 ellipsoid, km (Moritz 2000).
EARTH_MEAN_RADIUS_KM = 6371.0088
# WGS84 defining constants (NIMA TR8350.2), as in simulator.earth.ellipsoid (not imported: that module
# pulls in numba, which this one does not need).
_WGS84_A_KM = 6378.137
_WGS84_B_KM = _WGS84_A_KM * (1.0 - 1.0 / 298.257223563)

#: The four event kinds, in the order they occur in one orbital night.
EVENT_KINDS = ("penumbra_entry", "umbra_entry", "umbra_exit", "penumbra_exit")
_RANK = {k: i for i, k in enumerate(EVENT_KINDS)}

#: Names accepted in relative start times -> event kind.
EVENT_ALIASES = {
    "eclipse": "umbra_entry",
    "sunset": "umbra_entry",
    "umbra": "umbra_entry",
    "umbra_entry": "umbra_entry",
    "sunrise": "umbra_exit",
    "umbra_exit": "umbra_exit",
    "penumbra": "penumbra_entry",
    "penumbra_entry": "penumbra_entry",
    "penumbra_exit": "penumbra_exit",
}

_ROOT_XTOL_S = 1e-3           # Brent tolerance on event times, s
_SEARCH_HORIZON_S = 86400.0   # relative start: how far ahead the event is looked for
_PASS_MARGIN_S = 3600.0       # windows: how far outside the span a night in progress is followed (> any LEO night)
_MAX_WINDOW_HOURS = 168.0     # `startrail windows --hours` upper limit (a TLE is good for days, not weeks)

_GRAMMAR_FIX = (
    'write EVENT[+|-]DURATION, e.g. "eclipse+60 s", with EVENT one of '
    + ", ".join(EVENT_ALIASES)
    + ' (eclipse = sunset = umbra = umbra_entry; sunrise = umbra_exit; penumbra = penumbra_entry), '
    'or an ISO 8601 UTC time'
)


# --------------------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------------------

def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _silhouette_radius_km(obs_dir: np.ndarray, sun_dir: np.ndarray, pole: np.ndarray) -> np.ndarray:
    """Radius (km) of the WGS84 ellipsoid's silhouette seen from direction ``sun_dir``, in direction ``obs_dir``.

    The ellipsoid is ``x^T A x = 1`` with ``A = I/a^2 + (1/b^2 - 1/a^2) p p^T`` (``p`` = pole). Projected
    along the unit vector ``s``, a point ``y`` of the plane normal to ``s`` lies inside the silhouette iff
    ``min_t (y + t s)^T A (y + t s) = y^T A y - (s^T A y)^2 / (s^T A s) <= 1``; the silhouette's radius in
    the in-plane unit direction ``w`` is therefore ``(w^T A w - (s^T A w)^2 / (s^T A s))^(-1/2)``.
    ``obs_dir`` [K,3] need not be normal to ``sun_dir`` [K,3] (unit vectors); its in-plane part is used.
    """
    s = sun_dir
    w = obs_dir - np.sum(obs_dir * s, axis=-1, keepdims=True) * s
    norm = np.linalg.norm(w, axis=-1, keepdims=True)
    # on the Sun-Earth line the direction is undefined: take the in-plane direction of the pole
    fallback = pole - np.sum(pole * s, axis=-1, keepdims=True) * s
    fallback_norm = np.linalg.norm(fallback, axis=-1, keepdims=True)
    fallback = np.where(fallback_norm > 1e-12, fallback / np.maximum(fallback_norm, 1e-300), 0.0)
    w = np.where(norm > 1e-12, w / np.maximum(norm, 1e-300), fallback)
    k = 1.0 / _WGS84_B_KM**2 - 1.0 / _WGS84_A_KM**2
    ia2 = 1.0 / _WGS84_A_KM**2
    wp = np.sum(w * pole, axis=-1)
    sp = np.sum(s * pole, axis=-1)
    q = ia2 + k * wp**2 - (k * sp * wp) ** 2 / (ia2 + k * sp**2)
    return 1.0 / np.sqrt(q)


def _disk_geometry(pos_gcrs_km, sun_gcrs_km, earth_radius_km=None, pole_gcrs=None):
    """Apparent radii of the Sun (a) and the Earth (b) and their separation (c), radians, arrays [K]."""
    r = np.atleast_2d(np.asarray(pos_gcrs_km, dtype=float))
    d = np.atleast_2d(np.asarray(sun_gcrs_km, dtype=float)) - r       # observer -> Sun
    rn = np.linalg.norm(r, axis=-1)
    dn = np.linalg.norm(d, axis=-1)
    sun_dir = d / dn[:, None]
    if earth_radius_km is None:
        pole = np.array([0.0, 0.0, 1.0]) if pole_gcrs is None else _unit(np.asarray(pole_gcrs, dtype=float))
        radius = _silhouette_radius_km(r / rn[:, None], sun_dir, pole)
    else:
        radius = np.full(rn.shape, float(earth_radius_km))
    if np.any(rn <= radius):
        raise ValueError("the observer is inside the Earth")
    a = np.arcsin(np.minimum(R_SUN_KM / dn, 1.0))
    b = np.arcsin(radius / rn)
    c = np.arccos(np.clip(-np.sum(r * sun_dir, axis=-1) / rn, -1.0, 1.0))
    return a, b, c


def _visible_fraction(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Fraction of a disk of radius ``a`` not covered by a disk of radius ``b`` at separation ``c`` (radians)."""
    a, b, c = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float), np.asarray(c, float))
    nu = np.ones(a.shape)
    full_cover = c <= b - a
    annular = (c <= a - b) & ~full_cover
    partial = (c < a + b) & ~full_cover & ~annular
    nu[full_cover] = 0.0
    nu[annular] = 1.0 - (b[annular] / a[annular]) ** 2
    if np.any(partial):
        ap, bp, cp = a[partial], b[partial], c[partial]
        x = (cp**2 + ap**2 - bp**2) / (2.0 * cp)
        y = np.sqrt(np.maximum(ap**2 - x**2, 0.0))
        area = (ap**2 * np.arccos(np.clip(x / ap, -1.0, 1.0))
                + bp**2 * np.arccos(np.clip((cp - x) / bp, -1.0, 1.0))
                - cp * y)
        nu[partial] = np.clip(1.0 - area / (np.pi * ap**2), 0.0, 1.0)
    return nu


def shadow_function(pos_gcrs_km, sun_gcrs_km, earth_radius_km: float | None = None,
                    pole_gcrs=None) -> np.ndarray:
    """Fraction of the Sun's disk visible from the observer: 1 full Sun, 0 umbra, between: penumbra.

    Parameters
    ----------
    pos_gcrs_km : [K,3] (or [3]) observer position, GCRS, km
    sun_gcrs_km : [K,3] (or [3]) Sun position, geocentric GCRS, km (see :func:`sun_gcrs_km`)
    earth_radius_km : None (default) for the WGS84 ellipsoid's radius toward the Sun (module docstring),
        or a fixed spherical Earth radius in km
    pole_gcrs : [3] the ellipsoid's axis (unit vector, GCRS); default GCRS +z (the true pole is within
        0.4 deg of it before 2050, which moves the silhouette by < 0.2 km)

    Returns
    -------
    nu : float array [K] in [0, 1], the geometric (not limb-darkened) visible fraction.
    """
    a, b, c = _disk_geometry(pos_gcrs_km, sun_gcrs_km, earth_radius_km, pole_gcrs)
    return _visible_fraction(a, b, c)


def sun_gcrs_km(times) -> np.ndarray:
    """The Sun's geocentric GCRS position (km), array [K,3], from astropy's built-in ephemeris.

    ``astropy.coordinates.get_body('sun', times, ephemeris='builtin')`` (light-time corrected);
    no ephemeris file is downloaded. ``times``: astropy Time (scalar or [K]).
    """
    t = as_time_array(times)
    sun = get_body("sun", t, ephemeris="builtin")
    return np.ascontiguousarray(sun.cartesian.xyz.to_value(u.km).T)


def sun_gcrs_km_splined(times: Time) -> np.ndarray:
    """The Sun as :func:`sun_gcrs_km`, [K,3] km, for many times: exact at nodes every <= 10 min, cubic spline
    between them (time_nodes.splined). The geocentric Sun's path curves on the scale of a month (the Earth's monthly wobble about
    the Earth-Moon barycentre) and a year, so the spline follows astropy to ~5e-6 km (measured over a day at
    7.3 s steps; 3e-14 rad in direction); astropy's ephemeris call (erfa.epv00) is the expensive part of
    sampling a day at 10 s steps."""
    return splined(as_time_array(times), sun_gcrs_km)


def shadow_fraction(orbit, times, earth_radius_km: float | None = None) -> np.ndarray:
    """:func:`shadow_function` of ``orbit`` (anything with ``gcrs_states``) at ``times`` [K]: array [K]."""
    t = as_time_array(times)
    pos, _ = orbit.gcrs_states(t)
    pole = earth_pole_gcrs(t[len(t) // 2])
    return shadow_function(pos, sun_gcrs_km_splined(t), earth_radius_km, pole)


def eclipse_flags(orbit, times, earth_radius_km: float | None = None) -> np.ndarray:
    """True where the observer is in the umbra (no part of the Sun visible) at ``times`` [K]: bool [K].

    Meant for the per-knot eclipse flags of the truth record.
    """
    return shadow_fraction(orbit, times, earth_radius_km) == 0.0


def _beta_deg(pos, vel, sun) -> np.ndarray:
    """Beta angle (deg) from GCRS states [K,3] and the Sun [K,3]: arcsin(orbit normal . Sun direction)."""
    h = _unit(np.cross(pos, vel))
    s = _unit(np.asarray(sun, dtype=float))
    return np.degrees(np.arcsin(np.clip(np.sum(h * s, axis=-1), -1.0, 1.0)))


def beta_angle_deg(orbit, time) -> float:
    """Beta angle (deg) at ``time``: the Sun's elevation above the orbit plane, seen from the Earth's centre.

    ``beta = arcsin(h . s)`` with ``h`` the unit orbit normal ``r x v`` of the osculating GCRS state and
    ``s`` the geocentric unit vector to the Sun; positive when the Sun is on the side the normal points to
    (north of the orbit for a prograde orbit). ``time``: a scalar astropy Time.
    """
    t = as_time_array(time)[:1]
    pos, vel = orbit.gcrs_states(t)
    return float(_beta_deg(pos, vel, sun_gcrs_km(t))[0])


# --------------------------------------------------------------------------------------------------
# events
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EclipseEvent:
    """A shadow boundary crossing.

    kind: one of :data:`EVENT_KINDS`; time: astropy Time (UTC); beta_deg: the beta angle at that time (deg).
    """

    kind: str
    time: Time
    beta_deg: float = float("nan")

    def __repr__(self) -> str:
        return f"EclipseEvent({self.kind!r}, {self.time.utc.isot}, beta={self.beta_deg:+.2f} deg)"


def _offsets(span_s: float, step_s: float) -> np.ndarray:
    n = max(1, int(math.ceil(span_s / step_s - 1e-9)))
    return np.linspace(0.0, span_s, n + 1)


def _times(t0: Time, offsets_s) -> Time:
    return t0 + TimeDelta(np.asarray(offsets_s, dtype=float), format="sec")


def _crossings(ts: np.ndarray, g: np.ndarray, fun) -> list[tuple[float, int]]:
    """Zeros of the smooth function ``fun`` sampled as ``g`` at ``ts``: list of (t, direction).

    direction -1: ``g`` goes from positive to negative (entering), +1: negative to positive (leaving).
    Sign changes between samples are refined by Brent's method; a pair of zeros between two samples is
    caught at a sampled local minimum (maximum) of a positive (negative) ``g`` by a bounded minimisation.
    """
    out: list[tuple[float, int]] = []
    pos = g > 0.0
    for i in np.flatnonzero(pos[:-1] != pos[1:]):
        t = brentq(fun, ts[i], ts[i + 1], xtol=_ROOT_XTOL_S)
        out.append((t, -1 if pos[i] else +1))
    if len(g) >= 3:
        inner = np.arange(1, len(g) - 1)
        same = (pos[inner - 1] == pos[inner]) & (pos[inner] == pos[inner + 1])
        is_min = pos[inner] & (g[inner] <= g[inner - 1]) & (g[inner] <= g[inner + 1])
        is_max = ~pos[inner] & (g[inner] >= g[inner - 1]) & (g[inner] >= g[inner + 1])
        for i in inner[same & (is_min | is_max)]:
            sign = 1.0 if pos[i] else -1.0
            res = minimize_scalar(lambda t: sign * fun(t), bounds=(ts[i - 1], ts[i + 1]), method="bounded",
                                  options={"xatol": _ROOT_XTOL_S})
            if res.fun < 0.0:   # the minimum of sign * fun: fun changes sign twice in the interval
                tm = float(res.x)
                out.append((brentq(fun, ts[i - 1], tm, xtol=_ROOT_XTOL_S), -1 if pos[i] else +1))
                out.append((brentq(fun, tm, ts[i + 1], xtol=_ROOT_XTOL_S), +1 if pos[i] else -1))
    return out


def _coverage(orbit) -> tuple[Time, Time] | None:
    """The outer bounds of an orbit's usable time span (OEM files), or None when unlimited."""
    spans = getattr(orbit, "usable_spans", None)
    if not spans:
        return None
    return min((s for s, _ in spans), key=lambda t: t.jd), max((e for _, e in spans), key=lambda t: t.jd)


def eclipse_events(orbit, start: Time, hours: float, step_s: float = 10.0,
                   earth_radius_km: float | None = None) -> list[EclipseEvent]:
    """All shadow boundary crossings of ``orbit`` in [start, start + hours], in time order.

    orbit: anything with ``gcrs_states(times) -> (pos_km [K,3], vel_km_s [K,3])`` in GCRS;
    start: astropy Time; hours: length of the span (h, > 0); step_s: sampling step (s) before refinement;
    earth_radius_km: see :func:`shadow_function`.
    Event times are refined to 1 ms by Brent's method (module docstring). Each event carries the beta
    angle at its time.
    """
    if not (hours > 0.0 and math.isfinite(hours)):
        raise ValueError(f"hours must be positive and finite, got {hours!r}")
    if not (step_s > 0.0 and math.isfinite(step_s)):
        raise ValueError(f"step_s must be positive and finite, got {step_s!r}")
    t0 = as_time_array(start)[0].utc
    span = float(hours) * 3600.0
    ts = _offsets(span, float(step_s))
    times = _times(t0, ts)
    pos, _ = orbit.gcrs_states(times)
    sun = sun_gcrs_km_splined(times)
    pole = earth_pole_gcrs(times[len(times) // 2])
    a, b, c = _disk_geometry(pos, sun, earth_radius_km, pole)

    def geometry_at(t: float):
        p, _ = orbit.gcrs_states(_times(t0, [t]))
        s = np.array([[np.interp(t, ts, sun[:, j]) for j in range(3)]])
        return _disk_geometry(p, s, earth_radius_km, pole)

    def pen_margin(t: float) -> float:
        aa, bb, cc = geometry_at(t)
        return float(cc[0] - (aa[0] + bb[0]))

    def umb_margin(t: float) -> float:
        aa, bb, cc = geometry_at(t)
        return float(cc[0] - (bb[0] - aa[0]))

    found: list[tuple[float, str]] = []
    for t, direction in _crossings(ts, c - (a + b), pen_margin):
        found.append((t, "penumbra_entry" if direction < 0 else "penumbra_exit"))
    for t, direction in _crossings(ts, c - (b - a), umb_margin):
        found.append((t, "umbra_entry" if direction < 0 else "umbra_exit"))
    found.sort(key=lambda e: (e[0], _RANK[e[1]]))
    if not found:
        return []
    ev_times = _times(t0, [t for t, _ in found])
    p, v = orbit.gcrs_states(ev_times)
    betas = _beta_deg(p, v, sun_gcrs_km(ev_times))
    return [EclipseEvent(kind, t, float(beta)) for (_, kind), t, beta in zip(found, ev_times, betas)]


@dataclass(frozen=True)
class EclipsePass:
    """One passage through the Earth's shadow. Times are astropy Time (UTC) or None where not in the span.

    A grazing pass through the penumbra only has no umbra times.
    """

    penumbra_entry: Time | None = None
    umbra_entry: Time | None = None
    umbra_exit: Time | None = None
    penumbra_exit: Time | None = None
    beta_deg: float = float("nan")

    @staticmethod
    def _dt(t1: Time | None, t2: Time | None) -> float | None:
        return None if t1 is None or t2 is None else float((t2 - t1).to_value("s"))

    @property
    def umbra_s(self) -> float | None:
        """Length of the orbital night (umbra), s."""
        return self._dt(self.umbra_entry, self.umbra_exit)

    @property
    def penumbra_in_s(self) -> float | None:
        """Penumbra before the night (orbital dusk), s."""
        return self._dt(self.penumbra_entry, self.umbra_entry)

    @property
    def penumbra_out_s(self) -> float | None:
        """Penumbra after the night (orbital dawn), s."""
        return self._dt(self.umbra_exit, self.penumbra_exit)

    @property
    def first(self) -> Time:
        return next(t for t in (self.penumbra_entry, self.umbra_entry, self.umbra_exit, self.penumbra_exit)
                    if t is not None)

    @property
    def last(self) -> Time:
        return next(t for t in (self.penumbra_exit, self.umbra_exit, self.umbra_entry, self.penumbra_entry)
                    if t is not None)


def eclipse_passes(events: list[EclipseEvent]) -> list[EclipsePass]:
    """Group time-ordered events into shadow passes (penumbra entry ... penumbra exit)."""
    passes: list[EclipsePass] = []
    current: dict = {}
    betas: list[float] = []

    def close():
        if current:
            passes.append(EclipsePass(**current, beta_deg=float(np.mean(betas)) if betas else float("nan")))

    last_rank = -1
    for ev in sorted(events, key=lambda e: (e.time.jd1 + e.time.jd2, _RANK[e.kind])):
        rank = _RANK[ev.kind]
        if rank <= last_rank or ev.kind in current:
            close()
            current, betas, last_rank = {}, [], -1
        current[ev.kind] = ev.time
        betas.append(ev.beta_deg)
        last_rank = rank
        if ev.kind == "penumbra_exit":
            close()
            current, betas, last_rank = {}, [], -1
    close()
    return passes


def _passes_around(orbit, start: Time, hours: float, step_s: float = 10.0,
                   earth_radius_km: float | None = None) -> list[EclipsePass]:
    """Shadow passes overlapping [start, start + hours], followed up to 1 h outside the span (where the
    orbit is defined) so that a night in progress at either end is complete."""
    t0 = as_time_array(start)[0].utc
    t1 = t0 + TimeDelta(float(hours) * 3600.0, format="sec")
    lo = t0 - TimeDelta(_PASS_MARGIN_S, format="sec")
    hi = t1 + TimeDelta(_PASS_MARGIN_S, format="sec")
    cov = _coverage(orbit)
    if cov is not None:
        lo = max(lo, min(cov[0], t0, key=lambda t: t.jd), key=lambda t: t.jd)
        hi = min(hi, max(cov[1], t1, key=lambda t: t.jd), key=lambda t: t.jd)
    events = eclipse_events(orbit, lo, float((hi - lo).to_value("s")) / 3600.0, step_s, earth_radius_km)
    out = []
    for p in eclipse_passes(events):
        if p.last >= t0 and p.first <= t1:
            out.append(p)
    return out


def eclipse_windows(orbit, start: Time, hours: float, step_s: float = 10.0,
                    earth_radius_km: float | None = None) -> list[tuple[Time, Time]]:
    """Orbital nights (umbra entry, umbra exit), as UTC Time pairs, that overlap [start, start + hours].

    A night in progress at either end of the span is followed outside it (up to 1 h, within the orbit's
    coverage) to its real entry and exit; one that cannot be completed there is left out. The penumbra
    times are in :func:`eclipse_events` / :func:`format_windows_table`.
    """
    return [(p.umbra_entry, p.umbra_exit) for p in _passes_around(orbit, start, hours, step_s, earth_radius_km)
            if p.umbra_entry is not None and p.umbra_exit is not None
            and p.umbra_exit >= as_time_array(start)[0]
            and p.umbra_entry <= as_time_array(start)[0] + TimeDelta(hours * 3600.0, format="sec")]


def _fmt_time(t: Time | None) -> str:
    if t is None:
        return "-"
    t = t.utc.copy()
    t.precision = 1
    return t.isot


def format_windows_table(events) -> str:
    """A text table of shadow passes from :func:`eclipse_events` output (or a list of :class:`EclipsePass`).

    One row per pass: penumbra entry, umbra entry (orbital sunset), umbra exit (orbital sunrise), penumbra
    exit (UTC, 0.1 s), the night's length (umbra, min), the penumbra's length at each end (s) and the beta
    angle (deg). ``-`` marks an event outside the searched span.
    """
    events = list(events)
    passes = events if events and isinstance(events[0], EclipsePass) else eclipse_passes(events)
    head = (f"{'#':>3}  {'penumbra entry':<21}  {'umbra entry (sunset)':<21}  {'umbra exit (sunrise)':<21}  "
            f"{'penumbra exit':<21}  {'night':>9}  {'pen. in':>7}  {'pen. out':>8}  {'beta':>7}")
    lines = [head, "-" * len(head)]
    if not passes:
        lines.append("  (no passage through the Earth's shadow in this span)")
    for i, p in enumerate(passes, 1):
        night = f"{p.umbra_s / 60.0:6.2f} min" if p.umbra_s is not None else "-"
        pin = f"{p.penumbra_in_s:5.1f} s" if p.penumbra_in_s is not None else "-"
        pout = f"{p.penumbra_out_s:5.1f} s" if p.penumbra_out_s is not None else "-"
        beta = f"{p.beta_deg:+6.1f}°" if math.isfinite(p.beta_deg) else "-"
        if p.umbra_entry is None and p.umbra_exit is None and p.penumbra_entry is not None \
                and p.penumbra_exit is not None:
            night = "penumbra"
        lines.append(f"{i:>3}  {_fmt_time(p.penumbra_entry):<21}  {_fmt_time(p.umbra_entry):<21}  "
                     f"{_fmt_time(p.umbra_exit):<21}  {_fmt_time(p.penumbra_exit):<21}  {night:>9}  "
                     f"{pin:>7}  {pout:>8}  {beta:>7}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# relative start times
# --------------------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"\s*(?P<event>[A-Za-z_]+)\s*(?:(?P<sign>[+-])\s*(?P<duration>.*?))?\s*")


def is_relative_start(text) -> bool:
    """True if ``text`` looks like a relative start (starts with a letter, e.g. ``"eclipse+60 s"``),
    False for anything else (an ISO 8601 time starts with a digit)."""
    return isinstance(text, str) and bool(re.match(r"\s*[A-Za-z]", text))


def _parse_offset_s(text: str, whole: str, field: str) -> float:
    fix = 'write the offset as a number with a time unit, e.g. "eclipse+60 s" or "umbra_exit-5 min"'
    if not text:
        raise ScenarioError(field, f'"{whole}" has a sign but no duration after it', fix)
    try:
        q = u.Quantity(text)
    except (ValueError, TypeError):
        raise ScenarioError(field, f'"{whole}": cannot read the offset "{text}"', fix) from None
    if q.unit == u.dimensionless_unscaled:
        raise ScenarioError(field, f'"{whole}": the offset "{text}" has no unit', fix)
    if q.unit.physical_type != "time":
        raise ScenarioError(field, f'"{whole}": the offset "{text}" is a {q.unit.physical_type}, not a time', fix)
    seconds = float(q.to_value(u.s))
    if not math.isfinite(seconds) or seconds < 0.0:
        raise ScenarioError(field, f'"{whole}": the offset "{text}" must be a non-negative time after the sign',
                            fix)
    if seconds > _SEARCH_HORIZON_S:
        raise ScenarioError(field, f'"{whole}": the offset {seconds:g} s is longer than a day', fix)
    return seconds


def resolve_relative_start(text: str, orbit, reference: Time, field: str = "time.start",
                           earth_radius_km: float | None = None) -> Time:
    """The UTC time meant by a relative start such as ``"eclipse+60 s"`` (grammar in the module docstring).

    The event is the first one of its kind at or after ``reference`` (astropy Time), searched for up to
    24 h; the signed offset is then added. Raises :class:`ScenarioError` naming ``field`` for an unknown
    event, a bad offset, or no such event within 24 h of ``reference`` (e.g. a beta angle above the limit
    where the orbit is in sunlight all the time).
    """
    if not isinstance(text, str):
        raise ScenarioError(field, f"{text!r} is not text", _GRAMMAR_FIX)
    m = _RELATIVE.fullmatch(text)
    if m is None:
        raise ScenarioError(field, f'cannot read "{text}" as a relative start time', _GRAMMAR_FIX)
    name = m.group("event").lower()
    if name not in EVENT_ALIASES:
        close = difflib.get_close_matches(name, list(EVENT_ALIASES), n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        raise ScenarioError(field, f'"{text}": unknown event "{m.group("event")}"{hint}', _GRAMMAR_FIX)
    kind = EVENT_ALIASES[name]
    offset = 0.0
    if m.group("sign") is not None:
        offset = _parse_offset_s(m.group("duration"), text, field)
        if m.group("sign") == "-":
            offset = -offset
    ref = as_time_array(reference)[0].utc
    cov = _coverage(orbit)
    horizon_s = _SEARCH_HORIZON_S
    if cov is not None:
        horizon_s = min(horizon_s, float((cov[1] - ref).to_value("s")))
        if horizon_s <= 0.0 or ref < cov[0]:
            raise ScenarioError(field, f"the reference time {ref.isot} UTC is outside the orbit's time span",
                                "choose a reference time inside the orbit file's span")
    chunk_s = 3.0 * 3600.0
    searched = 0.0
    while searched < horizon_s:
        length = min(chunk_s, horizon_s - searched)
        chunk_start = ref + TimeDelta(searched, format="sec")
        for ev in eclipse_events(orbit, chunk_start, length / 3600.0, earth_radius_km=earth_radius_km):
            if ev.kind == kind and ev.time >= ref:
                return (ev.time + TimeDelta(offset, format="sec")).utc
        searched += length
    pos, vel = orbit.gcrs_states(as_time_array(ref))
    beta = float(_beta_deg(pos, vel, sun_gcrs_km(as_time_array(ref)))[0])
    rn = float(np.linalg.norm(pos[0]))
    beta_star = math.degrees(math.asin(min(1.0, EARTH_MEAN_RADIUS_KM / rn)))
    why = (f"beta angle {beta:+.1f}° is beyond the ~{beta_star:.0f}° at which this orbit stays in sunlight"
           if abs(beta) > beta_star - 2.0 else f"beta angle {beta:+.1f}°")
    span = f"{horizon_s / 3600.0:.0f} h" if cov is None else f"the {horizon_s / 3600.0:.1f} h left in the orbit file"
    raise ScenarioError(field, f'"{text}": no {kind} within {span} after the reference {ref.isot} UTC ({why})',
                        "choose another reference time (another date), or give an absolute ISO 8601 UTC start")


# --------------------------------------------------------------------------------------------------
# exposure check
# --------------------------------------------------------------------------------------------------

def check_in_shadow(orbit, start: Time, duration_s: float, allow_sunlit: bool, field: str = "exposure",
                    step_s: float = 1.0, earth_radius_km: float | None = None) -> np.ndarray:
    """Check that the observer stays in the Earth's umbra for the whole exposure.

    The exposure [start, start + duration_s] is sampled every ``step_s`` (1 s) plus its end:
    offsets ``np.append(np.arange(0, duration_s, step_s), duration_s)`` seconds. Returns the eclipse flag
    (True = umbra: no part of the Sun visible) at each sample, bool [K]. If some sample is not in the
    umbra (sunlit or penumbra) and ``allow_sunlit`` is false, raises :class:`ScenarioError` naming
    ``field``, with the UTC time at which the observer leaves (or enters) the shadow and the fix.
    """
    if not (duration_s > 0.0 and math.isfinite(duration_s)):
        raise ValueError(f"duration_s must be positive and finite, got {duration_s!r}")
    t0 = as_time_array(start)[0].utc
    offsets = np.arange(0.0, duration_s, step_s)
    if duration_s - offsets[-1] > 1e-9:
        offsets = np.append(offsets, duration_s)
    flags = eclipse_flags(orbit, _times(t0, offsets), earth_radius_km)
    if allow_sunlit or flags.all():
        return flags
    fix_tail = f"or set {field}.allow_sunlit = true to render it anyway"
    hours = duration_s / 3600.0
    if not flags[0]:
        nu0 = float(shadow_fraction(orbit, _times(t0, [0.0]), earth_radius_km)[0])
        state = "in full sunlight" if nu0 >= 1.0 else f"in the penumbra ({100.0 * nu0:.0f}% of the Sun visible)"
        entries = [e for e in eclipse_events(orbit, t0, hours, earth_radius_km=earth_radius_km)
                   if e.kind == "umbra_entry"]
        if entries:
            te = entries[0].time
            dt = float((te - t0).to_value("s"))
            raise ScenarioError(
                field,
                f"the exposure starts at {_fmt_time(t0)} UTC with the ISS {state}; it enters the Earth's shadow "
                f"(umbra) only at {_fmt_time(te)} UTC, {dt:.1f} s later",
                f'start at or after {_fmt_time(te)} (e.g. time.start = "eclipse+10 s"), {fix_tail}',
            )
        later = [e for e in eclipse_events(orbit, t0 + TimeDelta(duration_s, format="sec"), 3.0,
                                           earth_radius_km=earth_radius_km) if e.kind == "umbra_entry"]
        nxt = f"; the next orbital night starts at {_fmt_time(later[0].time)} UTC" if later else ""
        raise ScenarioError(
            field,
            f"the ISS is never in the Earth's shadow during the exposure ({_fmt_time(t0)} UTC + {duration_s:g} s; "
            f"{state} at its start){nxt}",
            f'start during an orbital night (e.g. time.start = "eclipse+10 s"), {fix_tail}',
        )
    # starts in the umbra and leaves it
    exits = [e for e in eclipse_events(orbit, t0, hours, earth_radius_km=earth_radius_km) if e.kind == "umbra_exit"]
    tx = exits[0].time if exits else _times(t0, [offsets[np.argmin(flags)]])[0]
    into = float((tx - t0).to_value("s"))
    back = [e for e in eclipse_events(orbit, t0 - TimeDelta(_PASS_MARGIN_S, format="sec"), _PASS_MARGIN_S / 3600.0,
                                      earth_radius_km=earth_radius_km) if e.kind == "umbra_entry"]
    if back:
        night = float((tx - back[-1].time).to_value("s"))
        if night >= duration_s:
            latest = tx - TimeDelta(duration_s, format="sec")
            fix = (f"start between {_fmt_time(back[-1].time)} and {_fmt_time(latest)} UTC, shorten "
                   f"exposure.duration to at most {math.floor(into):.0f} s, {fix_tail}")
        else:
            fix = (f"this night lasts only {math.floor(night):.0f} s: shorten exposure.duration to at most "
                   f"{math.floor(night):.0f} s "
                   f"(starting at the umbra entry {_fmt_time(back[-1].time)} UTC), {fix_tail}")
    else:
        fix = f"start earlier, shorten exposure.duration to at most {math.floor(into):.0f} s, {fix_tail}"
    raise ScenarioError(
        field,
        f"the ISS leaves the Earth's shadow (orbital sunrise, umbra exit) at {_fmt_time(tx)} UTC, "
        f"{into:.1f} s into the {duration_s:g} s exposure",
        fix,
    )


# --------------------------------------------------------------------------------------------------
# `startrail windows`
# --------------------------------------------------------------------------------------------------

def _add_windows_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--tle", type=Path, metavar="FILE", help="file with a two-line element set (optional name line)")
    src.add_argument("--scenario", type=Path, metavar="FILE", help="scenario TOML file: its [orbit] is used")
    p.add_argument("--start", metavar="UTC",
                   help="start of the listing, ISO 8601 UTC (default with --scenario: its [time] start or reference)")
    p.add_argument("--hours", default="24", metavar="N", help="length of the listing in hours (default 24)")
    p.add_argument("--step", default="10", metavar="S", help=argparse.SUPPRESS)


def add_windows_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``startrail windows`` on an argparse subparsers object; its ``func`` is :func:`run_windows`."""
    p = subparsers.add_parser(
        "windows", help="list orbital nights (umbra and penumbra entry/exit) of an orbit",
        description="List the orbit's passages through the Earth's shadow: penumbra and umbra entry and exit "
                    "(UTC), the night's length, the penumbra at each end, and the beta angle.")
    _add_windows_arguments(p)
    p.set_defaults(func=run_windows)
    return p


def _parse_utc(text: str, field: str) -> Time:
    example = '"2012-03-25T00:00:00"'
    for fmt in ("isot", "iso"):
        try:
            return Time(text.strip(), format=fmt, scale="utc")
        except (ValueError, AttributeError):
            continue
    raise ScenarioError(field, f"{text!r} is not an ISO 8601 UTC time", f"write YYYY-MM-DDThh:mm:ss, e.g. {example}")


def _time_value(value, field: str) -> Time | None:
    """A TOML time value (string or date-time) -> Time, or None if it is a relative start."""
    import datetime as _dt

    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return Time(value, scale="utc")
    if isinstance(value, str) and is_relative_start(value):
        return None
    return _parse_utc(str(value), field)


def _read_scenario_orbit(path: Path):
    """(orbit, default start or None, relative start text or None, reference or None) from a scenario file."""
    from simulator import config

    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("--scenario", f'file "{p}" does not exist', "check the path of the scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError("--scenario", f'cannot read "{p}": {exc}', "give a UTF-8 TOML scenario file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(p.name, f"is not valid TOML: {exc}", "fix the syntax there") from None
    sec = data.get("orbit")
    if not isinstance(sec, dict):
        raise ScenarioError("orbit", "section [orbit] is missing", "add it with one of tle, state or oem")
    orbit = config._parse_orbit(sec, p.resolve().parent)
    tsec = data.get("time") if isinstance(data.get("time"), dict) else {}
    start = relative = reference = None
    if "reference" in tsec:
        reference = _time_value(tsec["reference"], "time.reference")
    if "start" in tsec:
        start = _time_value(tsec["start"], "time.start")
        if start is None:
            relative = tsec["start"]
    return orbit, start, relative, reference


def run_windows(args) -> int:
    """Body of ``startrail windows`` (argparse namespace from :func:`add_windows_parser`); prints the table.

    Bad input raises :class:`ScenarioError` naming the option (``--tle``, ``--start``, ``--hours``) or
    the scenario field.
    """
    relative = reference = None
    if args.tle is not None:
        p = Path(args.tle).expanduser()
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError("--tle", f'file "{p}" does not exist', "check the path of the TLE file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError("--tle", f'cannot read "{p}": {exc}', "give a text file with the two TLE lines") from None
        orbit = parse_tle(text, field="--tle")
        default_start = None
    else:
        orbit, default_start, relative, reference = _read_scenario_orbit(args.scenario)
        if default_start is None:
            default_start = reference
    if args.start is not None:
        start = _parse_utc(args.start, "--start")
    elif default_start is not None:
        start = default_start
    else:
        where = "" if args.tle is not None else " (the scenario has no absolute [time] start or reference)"
        raise ScenarioError("--start", f"is required{where}", 'give the UTC start, e.g. --start 2012-03-25T00:00:00')
    try:
        hours = float(args.hours)
    except (TypeError, ValueError):
        raise ScenarioError("--hours", f"{args.hours!r} is not a number", "give the number of hours, e.g. --hours 4") \
            from None
    if not (0.0 < hours <= _MAX_WINDOW_HOURS):
        raise ScenarioError("--hours", f"{args.hours} is out of range",
                            f"give a number of hours > 0 and <= {_MAX_WINDOW_HOURS:g}, e.g. --hours 4")
    try:
        step = float(getattr(args, "step", 10.0))
    except (TypeError, ValueError):
        raise ScenarioError("--step", f"{args.step!r} is not a number", "give seconds, e.g. --step 10") from None
    if not (0.1 <= step <= 60.0):
        raise ScenarioError("--step", f"{step:g} s is out of range", "give 0.1 to 60 seconds, e.g. --step 10")

    passes = _passes_around(orbit, start, hours, step)
    describe = orbit.describe() if hasattr(orbit, "describe") else type(orbit).__name__
    print(f"Passages through the Earth's shadow: {describe}")
    print(f"from {_fmt_time(start)} UTC for {hours:g} h; conical shadow of the WGS84 Earth, "
          "Sun from astropy's built-in ephemeris; times UTC")
    print()
    print(format_windows_table(passes))
    print()
    print("umbra entry = orbital sunset (\"eclipse\" in relative start times), umbra exit = sunrise; "
          "penumbra: part of the Sun's disk hidden")
    if relative is not None:
        ref = reference if reference is not None else start
        resolved = resolve_relative_start(relative, orbit, ref)
        print(f'scenario time.start = "{relative}" (reference {_fmt_time(ref)}) -> {_fmt_time(resolved)} UTC')
    return 0


def windows_main(argv=None) -> int:
    """``startrail windows`` as a standalone function: parse ``argv``, print the table, return 0.

    Bad input raises :class:`ScenarioError` (argparse usage errors exit with status 2 as usual).
    """
    parser = argparse.ArgumentParser(prog="startrail windows",
                                     description="List the orbit's passages through the Earth's shadow.")
    _add_windows_arguments(parser)
    return run_windows(parser.parse_args(argv))


if __name__ == "__main__":  # python -m simulator.orbit.eclipse --tle FILE --start UTC --hours N
    try:
        sys.exit(windows_main())
    except StartrailError as _exc:
        print(f"startrail: error: {_exc}", file=sys.stderr)
        sys.exit(2)
