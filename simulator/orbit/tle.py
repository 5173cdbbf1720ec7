"""Two-line element sets: validation, SGP4 propagation and the TEME -> GCRS rotation.

Frames and units
----------------
* SGP4 (Vallado et al. 2006, "Revisiting Spacetrack Report #3", AIAA 2006-6753, via the ``sgp4``
  package) returns positions in km and velocities in km/s in TEME, the "true equator, mean equinox"
  frame of the element set's date. SGP4 must be run with the WGS72 gravity constants the element sets
  were fitted with (``sgp4.api.WGS72``); WGS84 constants would bias the result by up to ~1 km/day.
* The simulator works in GCRS (ICRS axes, geocentric), km and km/s.

TEME -> GCRS
------------
astropy defines TEME -> ITRS as ``W(xp, yp) . R3(GMST82(UT1))`` and ITRS -> CIRS -> GCRS as
``C(TT)^T . R3(-ERA(UT1)) . W(xp, yp, s')^T`` (``C`` = IAU 2006/2000A celestial-to-intermediate matrix,
``erfa.c2i06a``). Chaining the two, polar motion cancels (up to the TIO locator s' < 0.1 mas, i.e.
< 3 mm at LEO distance) and so does almost all of Earth rotation, leaving the quasi-inertial rotation

    r_GCRS = C(TT)^T . R3(GMST82 - ERA) . r_TEME

:func:`teme_to_gcrs` evaluates exactly this with ``erfa`` (vectorised over all times), which reproduces
``astropy.coordinates.TEME(...).transform_to(GCRS(...))`` to well below a millimetre (checked in
``tests/test_orbit.py``) while being ~6x faster (70 ms for 1000 times) and needing no IERS table:
GMST82 - ERA changes only at the precession rate (~7e-12 rad/s), so taking UT1 = UTC
(|UT1 - UTC| < 0.9 s) costs < 1e-11 rad, i.e. < 0.1 mm. (astropy's transform needs UT1 from IERS-A
predictions and refuses times beyond them when offline.) The velocity includes the small rotation-rate
term ``dR/dt . r_TEME`` (precession/nutation, ~5e-8 km/s).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field as dc_field

import erfa
import numpy as np
from astropy.time import Time, TimeDelta
from sgp4.api import WGS72, Satrec

from simulator.errors import ScenarioError
from simulator.time_nodes import splined

__all__ = [
    "TleOrbit",
    "parse_tle",
    "tle_checksum",
    "teme_to_gcrs",
    "teme_to_gcrs_matrix",
    "as_time_array",
]

_SECONDS_PER_DAY = 86400.0

_TLE_FIX = (
    "copy both element lines exactly (69 characters each, including the final checksum digit) "
    "from the source, e.g. CelesTrak or Space-Track, and keep the name line, if any, first"
)

# SGP4 error codes as documented in the sgp4 package (sgp4.api.SGP4_ERRORS, from Vallado's code).
_SGP4_ERRORS = {
    1: "mean eccentricity is outside the range 0 <= e < 1",
    2: "mean motion has fallen below zero",
    3: "perturbed eccentricity is outside the range 0 <= e <= 1",
    4: "semi-latus rectum is below zero",
    5: "epoch elements are sub-orbital",
    6: "the satellite has decayed (its orbit reached the Earth in the model)",
}


# --------------------------------------------------------------------------------------------------
# time and frame helpers (also used by state_vector.py and oem.py)
# --------------------------------------------------------------------------------------------------

def as_time_array(times) -> Time:
    """Return ``times`` as a flat (1-D) astropy ``Time``; scalars become length-1 arrays."""
    if not isinstance(times, Time):
        times = Time(times, scale="utc")
    if times.ndim != 1:
        times = times.reshape(-1) if times.ndim > 1 else times.reshape((1,))
    return times


def _gmst82_minus_era(jd1: np.ndarray, jd2: np.ndarray) -> np.ndarray:
    """GMST (IAU 1982) minus the Earth rotation angle, radians; arguments are UT1 (UTC is used)."""
    return erfa.gmst82(jd1, jd2) - erfa.era00(jd1, jd2)


def teme_to_gcrs_matrix(times) -> np.ndarray:
    """Rotation matrices ``R`` [K,3,3] with ``r_GCRS = R @ r_TEME`` at ``times`` (see module docstring)."""
    t = as_time_array(times)
    utc = t.utc
    angle = _gmst82_minus_era(utc.jd1, utc.jd2)
    rz = erfa.rz(angle, np.broadcast_to(np.eye(3), angle.shape + (3, 3)))   # R3(GMST82 - ERA)
    c = _c2i(t)                                                              # GCRS -> CIRS
    return np.matmul(np.swapaxes(c, -1, -2), rz)


def _c2i(times: Time) -> np.ndarray:
    """ERFA's GCRS -> CIRS matrices (IAU 2006/2000A) at ``times`` [K]: [K, 3, 3]."""
    tt = times.tt
    return erfa.c2i06a(tt.jd1, tt.jd2)


def teme_to_gcrs(times, r_teme_km, v_teme_km_s) -> tuple[np.ndarray, np.ndarray]:
    """Rotate TEME states to GCRS.

    Parameters
    ----------
    times : astropy Time, shape [K] (any scale)
    r_teme_km, v_teme_km_s : arrays [K,3], TEME position (km) and velocity (km/s)

    Returns
    -------
    (r_gcrs_km [K,3], v_gcrs_km_s [K,3])
    """
    t = as_time_array(times)
    r = np.asarray(r_teme_km, dtype=float).reshape(-1, 3)
    v = np.asarray(v_teme_km_s, dtype=float).reshape(-1, 3)
    utc = t.utc
    # The rotation rate dR/dt (precession/nutation, ~1e-11 rad/s) by a forward difference over
    # h = 60 s; the truncation error (h/2 . d2R/dt2) is below 1e-19 rad/s.
    h_day = 60.0 / _SECONDS_PER_DAY
    angle0 = _gmst82_minus_era(utc.jd1, utc.jd2)
    angle1 = _gmst82_minus_era(utc.jd1, utc.jd2 + h_day)
    eye = np.broadcast_to(np.eye(3), angle0.shape + (3, 3))
    # the precession-nutation matrix at nodes 10 min apart, splined (time_nodes.py: < 1e-12 arcsec)
    c0 = splined(t, _c2i)
    c1 = splined(t + TimeDelta(60.0, format="sec"), _c2i)
    m0 = np.matmul(np.swapaxes(c0, -1, -2), erfa.rz(angle0, eye))
    m1 = np.matmul(np.swapaxes(c1, -1, -2), erfa.rz(angle1, eye))
    mdot = (m1 - m0) / 60.0
    r_g = np.einsum("kij,kj->ki", m0, r)
    v_g = np.einsum("kij,kj->ki", m0, v) + np.einsum("kij,kj->ki", mdot, r)
    return r_g, v_g


# --------------------------------------------------------------------------------------------------
# TLE validation
# --------------------------------------------------------------------------------------------------

def tle_checksum(line: str) -> int:
    """Modulo-10 checksum of a TLE line: sum of the digits in columns 1-68, plus 1 for each '-'."""
    total = 0
    for ch in line[:68]:
        if ch.isdigit():
            total += int(ch)
        elif ch == "-":
            total += 1
    return total % 10


_ASSUMED_DECIMAL = re.compile(r"[ +-]?\d{5}[+-]?\d")     # e.g. " 22587-3" = 0.22587e-3
_SATNUM = re.compile(r"[0-9A-Z ]\d{4}|\d{5}")            # 5 digits or Alpha-5 (letter + 4 digits)


def _field_float(line: str, a: int, b: int, what: str, lineno: int, fld: str) -> float:
    """Float from 1-based columns a..b (inclusive) of a TLE line, or a ScenarioError."""
    text = line[a - 1:b].strip()
    try:
        return float(text)
    except ValueError:
        raise ScenarioError(
            fld, f"line {lineno} columns {a}-{b} ({what}) should be a number but read {text!r}", _TLE_FIX
        ) from None


def _check_assumed_decimal(line: str, a: int, b: int, what: str, lineno: int, fld: str) -> None:
    text = line[a - 1:b].strip()
    if not _ASSUMED_DECIMAL.fullmatch(text):
        raise ScenarioError(
            fld,
            f"line {lineno} columns {a}-{b} ({what}) should look like ' 12345-5' but read {text!r}",
            _TLE_FIX,
        )


def _split_tle_text(text: str, fld: str) -> tuple[str, str, str | None]:
    if not isinstance(text, str):
        raise ScenarioError(fld, f"expected the TLE as text, got {type(text).__name__}", _TLE_FIX)
    lines = [ln.strip() for ln in text.strip().splitlines()]
    lines = [ln for ln in lines if ln]
    if len(lines) not in (2, 3):
        raise ScenarioError(
            fld, f"a TLE has 2 element lines (plus an optional name line first), got {len(lines)} lines",
            _TLE_FIX,
        )
    name = None
    if len(lines) == 3:
        name = lines[0]
        if name.startswith("0 "):
            name = name[2:].strip()
        if name.startswith(("1 ", "2 ")) and len(name) >= 60:
            raise ScenarioError(fld, "3 lines given but the first one is an element line, not a name", _TLE_FIX)
        lines = lines[1:]
    return lines[0], lines[1], name


def _validate_lines(line1: str, line2: str, fld: str) -> Satrec:
    """Check the TLE format strictly and build the SGP4 record; ScenarioError on any problem."""
    if not isinstance(line1, str) or not isinstance(line2, str):
        raise ScenarioError(fld, "the TLE lines must be text", _TLE_FIX)
    line1 = line1.strip()
    line2 = line2.strip()
    if line1.startswith("2 ") and line2.startswith("1 "):
        raise ScenarioError(fld, "the element lines are in the wrong order: line 1 (starting '1 ') must come first",
                            "put the line starting with '1 ' before the line starting with '2 '")
    for lineno, line in ((1, line1), (2, line2)):
        if not line.startswith(f"{lineno} "):
            raise ScenarioError(fld, f"line {lineno} must start with '{lineno} ' but starts with {line[:2]!r}",
                                _TLE_FIX)
        if len(line) != 69:
            raise ScenarioError(
                fld,
                f"line {lineno} has {len(line)} characters, a TLE line has exactly 69 "
                "(the columns matter: spaces may have been lost or added in copying)",
                _TLE_FIX,
            )
        if not line[68].isdigit():
            raise ScenarioError(fld, f"line {lineno} ends in {line[68]!r}, not a checksum digit", _TLE_FIX)
        expected = tle_checksum(line)
        if int(line[68]) != expected:
            raise ScenarioError(
                fld,
                f"line {lineno} checksum digit is {line[68]} but the line sums to {expected} (mod 10): "
                "a character was changed in copying",
                _TLE_FIX,
            )
        if not _SATNUM.fullmatch(line[2:7]):
            raise ScenarioError(fld, f"line {lineno} columns 3-7 should be the catalog number, read {line[2:7]!r}",
                                _TLE_FIX)
    if line1[2:7] != line2[2:7]:
        raise ScenarioError(
            fld, f"the two lines belong to different objects (catalog numbers {line1[2:7].strip()} and "
            f"{line2[2:7].strip()})", "copy both lines of the same element set",
        )
    # line 1 fields (1-based inclusive columns, as in the Space-Track format description)
    year = line1[18:20]
    if not year.isdigit():
        raise ScenarioError(fld, f"line 1 columns 19-20 (epoch year) should be two digits, read {year!r}", _TLE_FIX)
    day = _field_float(line1, 21, 32, "epoch day of year", 1, fld)
    if not 1.0 <= day < 367.0:
        raise ScenarioError(fld, f"line 1 epoch day of year {day} is outside 1-366", _TLE_FIX)
    _field_float(line1, 34, 43, "first derivative of mean motion", 1, fld)
    _check_assumed_decimal(line1, 45, 52, "second derivative of mean motion", 1, fld)
    _check_assumed_decimal(line1, 54, 61, "BSTAR drag term", 1, fld)
    # line 2 fields
    ranges = (
        (9, 16, "inclination (deg)", 0.0, 180.0),
        (18, 25, "right ascension of the ascending node (deg)", 0.0, 360.0),
        (35, 42, "argument of perigee (deg)", 0.0, 360.0),
        (44, 51, "mean anomaly (deg)", 0.0, 360.0),
        (53, 63, "mean motion (rev/day)", 1e-6, 20.0),
    )
    for a, b, what, lo, hi in ranges:
        val = _field_float(line2, a, b, what, 2, fld)
        if not lo <= val <= hi:
            raise ScenarioError(fld, f"line 2 {what} = {val} is outside {lo:g}-{hi:g}", _TLE_FIX)
    ecc = line2[26:33]
    if not ecc.strip().isdigit() or len(ecc.strip()) != 7:
        raise ScenarioError(fld, f"line 2 columns 27-33 (eccentricity, 7 digits with an implied leading "
                            f"decimal point) read {ecc!r}", _TLE_FIX)

    sat = Satrec.twoline2rv(line1, line2, WGS72)   # SGP4 requires the WGS72 constants
    if sat.error:
        raise ScenarioError(fld, f"SGP4 rejects the element set: {_SGP4_ERRORS.get(sat.error, sat.error)}",
                            _TLE_FIX)
    err, _, _ = sat.sgp4(sat.jdsatepoch, sat.jdsatepochF)
    if err:
        raise ScenarioError(fld, f"SGP4 fails at the element set's epoch: {_SGP4_ERRORS.get(err, err)}",
                            _TLE_FIX)
    return sat


# --------------------------------------------------------------------------------------------------
# the orbit source
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TleOrbit:
    """An orbit from a NORAD two-line element set, propagated with SGP4 (WGS72 constants).

    ``line1``/``line2`` are the 69-character element lines, ``name`` the optional name line
    (without a leading ``"0 "``). Construction validates the lines (raises
    :class:`~simulator.errors.ScenarioError` naming ``field``).
    """

    line1: str
    line2: str
    name: str | None = None
    field: str = dc_field(default="orbit.tle", repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.line1, str) or not isinstance(self.line2, str):
            raise ScenarioError(self.field, "the TLE lines must be text", _TLE_FIX)
        object.__setattr__(self, "line1", self.line1.strip())
        object.__setattr__(self, "line2", self.line2.strip())
        object.__setattr__(self, "_satrec", _validate_lines(self.line1, self.line2, self.field))

    # the SGP4 record (a C++ object) does not pickle; rebuild it from the lines (multiprocessing)
    def __getstate__(self):
        return {"line1": self.line1, "line2": self.line2, "name": self.name, "field": self.field}

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_satrec", _validate_lines(self.line1, self.line2, self.field))

    # --- element-set properties -------------------------------------------------------------------
    @property
    def satnum(self) -> str:
        """Catalog number as written in the TLE (e.g. ``"25544"``)."""
        return self.line1[2:7].strip()

    @property
    def epoch(self) -> Time:
        """Epoch of the element set (UTC)."""
        s = self._satrec
        return Time(s.jdsatepoch, s.jdsatepochF, format="jd", scale="utc")

    @property
    def mean_motion_rev_per_day(self) -> float:
        """Kozai mean motion as written in line 2, columns 53-63 (revolutions per day)."""
        return float(self.line2[52:63])

    @property
    def period_s(self) -> float:
        """Orbital period from the mean motion, 86400 / n (seconds)."""
        return _SECONDS_PER_DAY / self.mean_motion_rev_per_day

    # --- propagation --------------------------------------------------------------------------------
    def teme_states(self, times) -> tuple[np.ndarray, np.ndarray]:
        """SGP4 position (km) and velocity (km/s) in TEME at each time: arrays [K,3], [K,3]."""
        t = as_time_array(times)
        utc = t.utc
        err, r, v = self._satrec.sgp4_array(np.asarray(utc.jd1, float), np.asarray(utc.jd2, float))
        bad = np.flatnonzero(err)
        if bad.size:
            k = bad[0]
            days = float((t[k] - self.epoch).to_value("day"))
            raise ScenarioError(
                self.field,
                f"SGP4 fails at {t[k].utc.isot} ({days:+.1f} days from the element set's epoch "
                f"{self.epoch.utc.isot}): {_SGP4_ERRORS.get(int(err[k]), int(err[k]))}",
                "use an element set whose epoch is within a few days of the exposure",
            )
        return r, v

    def gcrs_states(self, times) -> tuple[np.ndarray, np.ndarray]:
        """Observer position (km) and velocity (km/s) in GCRS at each time: arrays [K,3], [K,3]."""
        t = as_time_array(times)
        r, v = self.teme_states(t)
        return teme_to_gcrs(t, r, v)

    def describe(self) -> str:
        """One line for ``startrail info``."""
        who = f"TLE {self.satnum}" + (f" ({self.name})" if self.name else "")
        return f"{who} epoch {self.epoch.utc.isot[:19]} UTC"


def parse_tle(text: str, field: str = "orbit.tle") -> TleOrbit:
    """Parse a TLE given as 2 lines, or 3 with a name line first (``"ISS (ZARYA)"`` or ``"0 ISS (ZARYA)"``).

    Surrounding whitespace and blank lines are ignored. Problems raise
    :class:`~simulator.errors.ScenarioError` naming ``field``.
    """
    line1, line2, name = _split_tle_text(text, field)
    return TleOrbit(line1, line2, name, field=field)
