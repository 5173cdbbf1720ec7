"""An orbit from one GCRS state vector, propagated numerically with the J2 zonal harmonic.

Model
-----
Point-mass Earth plus the J2 (oblateness) term, no drag, no third bodies, no higher harmonics:

    a = -GM r / |r|^3  -  (3/2) J2 GM Re^2 / |r|^5 * [ (1 - 5 z^2/|r|^2) r + 2 z k ],   z = r . k

where ``k`` is the unit vector of the Earth's rotation pole. In LEO the neglected terms (J3/J4 ~1e-3 of
J2, drag, Sun/Moon) move the ISS by roughly 1-3 km per orbit, so this propagator is meant for the
minutes to hours around its epoch; use a TLE or an OEM for longer spans.

Constants (all from the EGM96 model / WGS84, NIMA TR8350.2 3rd ed. Tables 3.1 and 3.3,
Lemoine et al. 1998, NASA/TP-1998-206861):

* GM = 398600.4418 km^3/s^2 (WGS84 / EGM96, including the atmosphere)
* Re = 6378.137 km (WGS84 semi-major axis, the EGM96 reference radius)
* J2 = 1.08262668e-3 = -sqrt(5) * C20bar with C20bar = -0.484165371736e-3 (EGM96, tide-free)

The J2 axis ``k`` is the Celestial Intermediate Pole (the Earth's true rotation pole) expressed in GCRS
at the state's epoch: the third row of the IAU 2006/2000A celestial-to-intermediate matrix
(``erfa.c2i06a``). It differs from the ITRS z-axis by polar motion (< 0.5", which changes the J2
acceleration by < 3e-6 of itself; needs no IERS table) and from GCRS z by precession-nutation
(~0.07 deg in 2012, ~0.14 deg in 2025 -- which would matter: it tilts the J2 torque). The axis is held
fixed over the propagation (precession moves it by 50"/year, negligible over days).

Integration: scipy ``solve_ivp`` with DOP853 (8th-order Dormand-Prince), rtol = 1e-12 and
atol = 1e-9 km (1 um) / 1e-12 km/s, forwards and backwards from the epoch. Time is in SI seconds
(differences of astropy ``Time``), the frame GCRS, the units km and km/s.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from astropy.time import Time
from scipy.integrate import solve_ivp

from simulator.errors import ScenarioError
from simulator.earth.ellipsoid import earth_pole_gcrs
from simulator.orbit.tle import as_time_array

__all__ = [
    "StateVectorOrbit",
    "GM_KM3_S2",
    "RE_KM",
    "J2",
    "earth_pole_gcrs",
    "j2_acceleration",
    "j2_energy",
]

GM_KM3_S2 = 398600.4418      # km^3/s^2, EGM96 / WGS84 (NIMA TR8350.2, Table 3.1)
RE_KM = 6378.137             # km, WGS84 semi-major axis = EGM96 reference radius
J2 = 1.08262668e-3           # EGM96: -sqrt(5) * C20bar, C20bar = -0.484165371736e-3 (Lemoine et al. 1998)

_RTOL = 1e-12
_ATOL = np.array([1e-9, 1e-9, 1e-9, 1e-12, 1e-12, 1e-12])   # km (1 um), km/s (1 nm/s)
_BUCKET_S = 3600.0           # integrations run to a whole number of hours (see gcrs_states)
_CACHE_SIZE = 4


def j2_acceleration(r_km: np.ndarray, pole: np.ndarray) -> np.ndarray:
    """Gravitational acceleration (km/s^2) of the point mass + J2 Earth at positions ``r_km`` [...,3]."""
    r = np.asarray(r_km, dtype=float)
    rn2 = np.sum(r * r, axis=-1, keepdims=True)
    rn = np.sqrt(rn2)
    z = np.sum(r * pole, axis=-1, keepdims=True)
    c = 1.5 * J2 * GM_KM3_S2 * RE_KM**2 / (rn2 * rn2 * rn)
    return -GM_KM3_S2 * r / (rn2 * rn) - c * ((1.0 - 5.0 * z * z / rn2) * r + 2.0 * z * pole)


def j2_energy(r_km: np.ndarray, v_km_s: np.ndarray, pole: np.ndarray) -> np.ndarray:
    """Specific orbital energy (km^2/s^2) in the point mass + J2 field.

    E = v^2/2 - GM/r + GM J2 Re^2 (3 z^2/r^2 - 1) / (2 r^3), z = r . pole.
    """
    r = np.asarray(r_km, dtype=float)
    v = np.asarray(v_km_s, dtype=float)
    rn = np.linalg.norm(r, axis=-1)
    z = np.sum(r * pole, axis=-1)
    return (0.5 * np.sum(v * v, axis=-1) - GM_KM3_S2 / rn
            + 0.5 * GM_KM3_S2 * J2 * RE_KM**2 * (3.0 * z * z / (rn * rn) - 1.0) / rn**3)


def _rhs_factory(pole: np.ndarray):
    kx, ky, kz = (float(x) for x in pole)
    mu = GM_KM3_S2
    cj = 1.5 * J2 * GM_KM3_S2 * RE_KM**2

    def rhs(_t, y):
        x, yy, zz, vx, vy, vz = y
        r2 = x * x + yy * yy + zz * zz
        r = math.sqrt(r2)
        zp = x * kx + yy * ky + zz * kz
        a0 = -mu / (r2 * r)
        c = cj / (r2 * r2 * r)
        f = a0 - c * (1.0 - 5.0 * zp * zp / r2)
        g = -2.0 * c * zp
        return np.array([vx, vy, vz, f * x + g * kx, f * yy + g * ky, f * zz + g * kz])

    return rhs


@dataclass(frozen=True, eq=False)
class StateVectorOrbit:
    """An orbit given by one GCRS state at ``epoch``: ``position_km`` [3] (km), ``velocity_km_s`` [3] (km/s).

    Propagated with point mass + J2 gravity (see the module docstring). Construction validates the state
    and raises :class:`~simulator.errors.ScenarioError` naming ``orbit.state.*`` fields.
    """

    epoch: Time
    position_km: np.ndarray
    velocity_km_s: np.ndarray

    def __post_init__(self):
        epoch = self.epoch
        if not isinstance(epoch, Time):
            try:
                epoch = Time(epoch, scale="utc")
            except (ValueError, TypeError) as exc:
                raise ScenarioError("orbit.state.epoch", f"cannot read {epoch!r} as a time ({exc})",
                                    'write an ISO 8601 UTC time, e.g. "2012-03-25T04:53:34"') from None
        if epoch.ndim != 0:
            raise ScenarioError("orbit.state.epoch", "must be a single time", 'e.g. "2012-03-25T04:53:34"')
        object.__setattr__(self, "epoch", epoch)
        r = self._vector(self.position_km, "orbit.state.position_km", "km")
        v = self._vector(self.velocity_km_s, "orbit.state.velocity_km_s", "km/s")
        rn = float(np.linalg.norm(r))
        vn = float(np.linalg.norm(v))
        if rn <= RE_KM:
            raise ScenarioError("orbit.state.position_km",
                                f"|r| = {rn:.1f} km is inside the Earth (equatorial radius {RE_KM} km)",
                                "give the geocentric GCRS position in km, e.g. about 6800 km long for the ISS")
        v_esc = math.sqrt(2.0 * GM_KM3_S2 / rn)
        if vn >= v_esc:
            raise ScenarioError("orbit.state.velocity_km_s",
                                f"speed {vn:.3f} km/s is at or above escape speed {v_esc:.3f} km/s at "
                                f"|r| = {rn:.1f} km: not a bound Earth orbit",
                                "give the GCRS velocity in km/s (about 7.66 km/s for the ISS)")
        # two-body perigee: the orbit must stay above the surface
        h = np.cross(r, v)
        energy = 0.5 * vn * vn - GM_KM3_S2 / rn
        a = -GM_KM3_S2 / (2.0 * energy)
        e_vec = np.cross(v, h) / GM_KM3_S2 - r / rn
        r_perigee = a * (1.0 - float(np.linalg.norm(e_vec)))
        if r_perigee <= RE_KM:
            raise ScenarioError("orbit.state.velocity_km_s",
                                f"with this velocity the orbit's perigee is {r_perigee - RE_KM:.0f} km above the "
                                "equatorial radius, i.e. it hits the Earth",
                                "check the velocity's direction and units (km/s, GCRS)")
        object.__setattr__(self, "position_km", r)
        object.__setattr__(self, "velocity_km_s", v)
        object.__setattr__(self, "_pole", earth_pole_gcrs(epoch))
        object.__setattr__(self, "_cache", OrderedDict())

    # the integration cache is not pickled (multiprocessing); it is rebuilt on demand
    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()
        return state

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)

    @staticmethod
    def _vector(value, fld: str, unit: str) -> np.ndarray:
        try:
            arr = np.array(value, dtype=float).reshape(-1)
        except (ValueError, TypeError):
            raise ScenarioError(fld, f"expected 3 numbers ({unit}), got {value!r}", None) from None
        if arr.shape != (3,):
            raise ScenarioError(fld, f"expected 3 numbers ({unit}), got {arr.size}", f"write [x, y, z] in {unit}")
        if not np.all(np.isfinite(arr)):
            raise ScenarioError(fld, f"contains a non-finite value: {arr.tolist()}",
                                f"write 3 finite numbers in {unit}")
        arr.setflags(write=False)
        return arr

    @property
    def pole_gcrs(self) -> np.ndarray:
        """The J2 axis (Earth's rotation pole at the epoch) as a GCRS unit vector [3]."""
        return self._pole.copy()

    def _solution(self, span_s: float):
        """Dense DOP853 solution from the epoch to ``span_s`` seconds (sign = direction), cached."""
        key = span_s
        sol = self._cache.get(key)
        if sol is None:
            y0 = np.concatenate([self.position_km, self.velocity_km_s])
            res = solve_ivp(_rhs_factory(self._pole), (0.0, span_s), y0, method="DOP853",
                            rtol=_RTOL, atol=_ATOL, dense_output=True)
            if not res.success:  # pragma: no cover - DOP853 on a bound orbit does not fail
                raise RuntimeError(f"J2 propagation failed: {res.message}")
            sol = res.sol
            self._cache[key] = sol
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return sol

    def gcrs_states(self, times) -> tuple[np.ndarray, np.ndarray]:
        """Observer position (km) and velocity (km/s) in GCRS at each time: arrays [K,3], [K,3].

        The integration runs from the epoch to the farthest requested time rounded up to whole hours
        (separately forwards and backwards) and is evaluated with DOP853's dense output; the solution is
        cached, so one orbit queried in several calls is integrated once. Results for the same request are
        identical run to run.
        """
        t = as_time_array(times)
        dt = np.asarray((t - self.epoch).to_value("s"), dtype=float)
        out = np.empty((dt.size, 6))
        zero = dt == 0.0
        out[zero, :3] = self.position_km
        out[zero, 3:] = self.velocity_km_s
        for sign in (1.0, -1.0):
            sel = np.flatnonzero(dt * sign > 0.0)
            if sel.size == 0:
                continue
            span = sign * _BUCKET_S * math.ceil(float(np.max(np.abs(dt[sel]))) / _BUCKET_S)
            out[sel] = self._solution(span)(dt[sel]).T
        return out[:, :3].copy(), out[:, 3:].copy()

    def describe(self) -> str:
        """One line for ``startrail info``."""
        r = float(np.linalg.norm(self.position_km))
        v = float(np.linalg.norm(self.velocity_km_s))
        return (f"state vector (GCRS) epoch {self.epoch.utc.isot[:19]} UTC, |r| = {r:.1f} km, "
                f"|v| = {v:.4f} km/s, point mass + J2 propagation")
