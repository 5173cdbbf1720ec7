"""CCSDS Orbit Ephemeris Messages (OEM 2.0, KVN text), as NASA publishes the ISS trajectory.

Format (CCSDS 502.0-B-2, "Orbit Data Messages", section 5): a header (``CCSDS_OEM_VERS``,
``CREATION_DATE``, ``ORIGINATOR``, optional ``MESSAGE_ID``/``COMMENT``), then one or more segments, each a
``META_START`` ... ``META_STOP`` block of ``KEY = value`` lines followed by ephemeris data lines

    epoch  x y z  vx vy vz  [ax ay az]          (km, km/s, km/s^2)

and optionally a ``COVARIANCE_START`` ... ``COVARIANCE_STOP`` block (skipped here). ``COMMENT`` lines
may appear anywhere. NASA's ``ISS.OEM_J2K_EPH.txt`` is one segment, ``CENTER_NAME = Earth``,
``REF_FRAME = EME2000``, ``TIME_SYSTEM = UTC``, states every 240 s over 15 days, no interpolation keys
(so the default here, Lagrange of degree 7, applies).

Frames: EME2000 (mean equator and equinox of J2000.0) differs from GCRS by the constant frame bias
(~23 mas, ~0.8 m at ISS distance); vectors are rotated with the IAU 2006 bias matrix
``r_GCRS = B^T r_EME2000`` (``B`` = ``rb`` of ``erfa.bp06``). GCRF and ICRF (centred on the Earth) have
the GCRS axes and are used as they are.

Interpolation: Lagrange polynomials of the segment's ``INTERPOLATION_DEGREE`` (default 7, i.e. 8 points)
on a window of samples centred on the requested time (shifted inwards at the segment's ends), applied to
the positions and, separately, to the velocities. For the ISS at 240 s spacing and degree 7 the error
(measured against SGP4 in tests/test_orbit.py) is < 0.4 m and < 0.7 mm/s more than three intervals from a
segment's ends, and up to ~4.5 m and ~9 mm/s in the first and last three intervals, where the window
cannot be centred.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from pathlib import Path

import erfa
import numpy as np
from astropy.time import Time, TimeDelta

from simulator.errors import ScenarioError
from simulator.orbit.tle import as_time_array

__all__ = [
    "OemOrbit",
    "OemSegment",
    "read_oem",
    "write_oem",
    "eme2000_to_gcrs_matrix",
]

_DEFAULT_DEGREE = 7
_REQUIRED_META = ("OBJECT_NAME", "OBJECT_ID", "CENTER_NAME", "REF_FRAME", "TIME_SYSTEM", "START_TIME", "STOP_TIME")
_GCRS_FRAMES = ("GCRF", "ICRF")
_FRAMES = ("EME2000",) + _GCRS_FRAMES
# CCSDS time systems that astropy knows; GPS time = TAI - 19 s exactly.
_TIME_SCALES = {"UTC": "utc", "TAI": "tai", "TT": "tt", "TDB": "tdb", "TCG": "tcg", "TCB": "tcb", "GPS": "tai"}
_GPS_MINUS_TAI_S = -19.0
_FIX = ("give a CCSDS OEM 2.0 text (KVN) file, e.g. NASA's ISS.OEM_J2K_EPH.txt from "
        "https://spotthestation.nasa.gov/trajectory_data.cfm")

_CAL = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2}(?:\.\d*)?)Z?")
_DOY = re.compile(r"(\d{4})-(\d{3})T(\d{2}):(\d{2}):(\d{2}(?:\.\d*)?)Z?")


def eme2000_to_gcrs_matrix() -> np.ndarray:
    """The 3x3 matrix ``M`` with ``r_GCRS = M @ r_EME2000``: the transpose of the IAU 2006 frame bias."""
    rb, _, _ = erfa.bp06(2451545.0, 0.0)   # rb: GCRS -> mean J2000 (frame bias, date independent)
    return np.asarray(rb).T


def _isot(text: str) -> str | None:
    """A CCSDS epoch (calendar or day-of-year form, optional trailing Z) as an ISO 'isot' string."""
    if _CAL.fullmatch(text):
        return text.rstrip("Z")
    m = _DOY.fullmatch(text)
    if m:
        y, d, hh, mm, ss = m.groups()
        day = int(d)
        if not 1 <= day <= 366:
            return None
        date = _dt.date(int(y), 1, 1) + _dt.timedelta(days=day - 1)
        return f"{date.isoformat()}T{hh}:{mm}:{ss}"
    return None


def _parse_times(texts: list[str], time_system: str, where: str, fld: str) -> Time:
    """Parse CCSDS epochs in the segment's TIME_SYSTEM into one astropy Time array."""
    conv = []
    for s in texts:
        c = _isot(s)
        if c is None:
            raise ScenarioError(fld, f"{where}: cannot read the epoch {s!r} (expected e.g. "
                                "2024-06-01T12:00:00.000 or 2024-153T12:00:00.000)", _FIX)
        conv.append(c)
    try:
        t = Time(conv, format="isot", scale=_TIME_SCALES[time_system])
    except ValueError as exc:
        raise ScenarioError(fld, f"{where}: invalid epoch ({exc})", _FIX) from None
    if time_system == "GPS":
        t = t - TimeDelta(_GPS_MINUS_TAI_S, format="sec")   # TAI = GPS + 19 s
    return t


@dataclass(frozen=True, eq=False)
class OemSegment:
    """One OEM segment, states converted to GCRS.

    ``times`` (astropy Time [N], strictly increasing), ``position_km`` [N,3], ``velocity_km_s`` [N,3] (GCRS),
    ``usable_start``/``usable_stop`` (Time), ``degree`` (Lagrange degree used), ``meta`` (the META block).
    """

    meta: dict
    times: Time
    position_km: np.ndarray
    velocity_km_s: np.ndarray
    usable_start: Time
    usable_stop: Time
    degree: int

    @property
    def seconds(self) -> np.ndarray:
        """Sample times in SI seconds after the first sample."""
        return (self.times - self.times[0]).to_value("s")

    def covers(self, t: Time) -> np.ndarray:
        return ((t - self.usable_start).to_value("s") >= -1e-6) & ((self.usable_stop - t).to_value("s") >= -1e-6)

    def interpolate(self, t: Time) -> tuple[np.ndarray, np.ndarray]:
        """Lagrange-interpolated GCRS position (km) and velocity (km/s) at times ``t`` [K] inside the segment."""
        ts = self.seconds
        tq = (t - self.times[0]).to_value("s")
        n = ts.size
        m = min(self.degree + 1, n)
        i = np.searchsorted(ts, tq, side="right") - 1          # ts[i] <= tq < ts[i+1]
        start = np.clip(i - (m // 2 - 1), 0, n - m)            # centred window of m samples
        win = start[:, None] + np.arange(m)                    # [K,m]
        tw = ts[win]
        d = tq[:, None] - tw                                   # t - t_k            [K,m]
        denom = tw[:, :, None] - tw[:, None, :]                # t_j - t_k          [K,m,m]
        eye = np.eye(m, dtype=bool)
        num = np.where(eye[None], 1.0, d[:, None, :])          # skip k == j
        den = np.where(eye[None], 1.0, denom)
        w = np.prod(num / den, axis=2)                         # Lagrange weights L_j(t)  [K,m]
        pos = np.einsum("km,kmi->ki", w, self.position_km[win])
        vel = np.einsum("km,kmi->ki", w, self.velocity_km_s[win])
        return pos, vel


@dataclass(frozen=True, eq=False)
class OemOrbit:
    """An orbit read from a CCSDS OEM file (see :func:`read_oem`); states are GCRS, km and km/s."""

    path: Path
    header: dict
    segments: tuple
    field: str = "orbit.oem"

    @property
    def object_name(self) -> str:
        return self.segments[0].meta.get("OBJECT_NAME", "?")

    @property
    def usable_spans(self) -> list[tuple[Time, Time]]:
        return [(s.usable_start, s.usable_stop) for s in self.segments]

    def _span_text(self) -> str:
        return ", ".join(f"{a.utc.isot[:19]} to {b.utc.isot[:19]} UTC" for a, b in self.usable_spans)

    def gcrs_states(self, times) -> tuple[np.ndarray, np.ndarray]:
        """Observer position (km) and velocity (km/s) in GCRS at each time: arrays [K,3], [K,3].

        A time in several segments' usable spans is taken from the first of them; a time in none raises
        :class:`~simulator.errors.ScenarioError` naming the covered span.
        """
        t = as_time_array(times)
        k = len(t)
        pos = np.full((k, 3), np.nan)
        vel = np.full((k, 3), np.nan)
        todo = np.ones(k, dtype=bool)
        for seg in self.segments:
            sel = np.flatnonzero(todo & seg.covers(t))
            if sel.size:
                p, v = seg.interpolate(t[sel])
                pos[sel] = p
                vel[sel] = v
                todo[sel] = False
        if todo.any():
            bad = t[np.flatnonzero(todo)[0]]
            raise ScenarioError(
                self.field,
                f"{bad.utc.isot[:23]} UTC is outside the usable span of {self.path.name} ({self._span_text()})",
                "choose exposure times inside that span or use an OEM file that covers them",
            )
        return pos, vel

    def describe(self) -> str:
        """One line for ``startrail info``."""
        meta = self.segments[0].meta
        nseg = len(self.segments)
        return (f"OEM {self.object_name} ({meta['REF_FRAME']}, {meta['TIME_SYSTEM']}) from {self.path.name}, "
                f"{self._span_text()}" + (f", {nseg} segments" if nseg > 1 else ""))


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------

def _kv(line: str):
    if "=" not in line:
        return None
    key, _, value = line.partition("=")
    key = key.strip().upper()
    if not re.fullmatch(r"[A-Z0-9_]+", key):
        return None
    return key, value.strip()


def read_oem(path, field: str = "orbit.oem") -> OemOrbit:
    """Read a CCSDS OEM (KVN text) file; every problem raises :class:`ScenarioError` naming ``field``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig", errors="replace")
    except FileNotFoundError:
        raise ScenarioError(field, f"file {str(p)!r} not found",
                            "give the path of an OEM file (relative paths are relative to the scenario file)") from None
    except OSError as exc:
        raise ScenarioError(field, f"cannot read {str(p)!r}: {exc.strerror or exc}", None) from None
    name = p.name
    stripped = text.lstrip()
    if stripped.startswith("<"):
        raise ScenarioError(field, f"{name} is an XML OEM; only the text (KVN) form is read",
                            "use the .txt version of the file (e.g. ISS.OEM_J2K_EPH.txt)")

    header: dict = {}
    raw_segments: list[dict] = []
    state = "header"            # header -> meta -> data (-> cov -> data) -> meta ...
    cur: dict | None = None

    def err(lineno: int, problem: str):
        return ScenarioError(field, f"{name} line {lineno}: {problem}", _FIX)

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.upper().startswith("COMMENT"):
            continue
        upper = line.upper()
        if state == "cov":
            if upper == "COVARIANCE_STOP":
                state = "data"
            elif upper in ("META_START", "COVARIANCE_START"):
                raise err(lineno, f"{upper} inside a COVARIANCE block (missing COVARIANCE_STOP)")
            continue
        if upper == "META_START":
            if state == "meta":
                raise err(lineno, "META_START inside a META block (missing META_STOP)")
            if state == "header" and "CCSDS_OEM_VERS" not in header:
                raise err(lineno, "the file does not start with CCSDS_OEM_VERS = 2.0 (not an OEM file?)")
            cur = {"meta": {}, "meta_line": lineno, "epochs": [], "values": [], "lines": []}
            raw_segments.append(cur)
            state = "meta"
            continue
        if upper == "META_STOP":
            if state != "meta":
                raise err(lineno, "META_STOP without META_START")
            state = "data"
            continue
        if upper == "COVARIANCE_START":
            if state != "data":
                raise err(lineno, "COVARIANCE_START outside a data section")
            state = "cov"
            continue
        if state == "header":
            kv = _kv(line)
            if kv is None:
                raise err(lineno, f"expected 'KEY = value' in the header, read {line[:60]!r}")
            if not header and kv[0] != "CCSDS_OEM_VERS":
                raise err(lineno, f"the first keyword must be CCSDS_OEM_VERS, read {kv[0]} (not an OEM file?)")
            header[kv[0]] = kv[1]
            continue
        if state == "meta":
            kv = _kv(line)
            if kv is None:
                raise err(lineno, f"expected 'KEY = value' between META_START and META_STOP, read {line[:60]!r}")
            cur["meta"][kv[0]] = kv[1]
            continue
        # data line
        parts = line.split()
        if len(parts) not in (7, 10):
            raise err(lineno, f"an ephemeris line needs an epoch and 6 (or 9) numbers, read {len(parts)} fields")
        try:
            vals = [float(x) for x in parts[1:7]]
        except ValueError:
            raise err(lineno, f"non-numeric value in the ephemeris line {line[:80]!r}") from None
        cur["epochs"].append(parts[0])
        cur["values"].append(vals)
        cur["lines"].append(lineno)

    if state == "meta":
        raise ScenarioError(field, f"{name}: the last META block is not closed by META_STOP", _FIX)
    if state == "cov":
        raise ScenarioError(field, f"{name}: a COVARIANCE block is not closed by COVARIANCE_STOP", _FIX)
    if "CCSDS_OEM_VERS" not in header:
        raise ScenarioError(field, f"{name}: no CCSDS_OEM_VERS header (not an OEM file?)", _FIX)
    vers = header["CCSDS_OEM_VERS"]
    if vers.split(".")[0] not in ("1", "2", "3"):
        raise ScenarioError(field, f"{name}: unsupported CCSDS_OEM_VERS = {vers}", _FIX)
    if not raw_segments:
        raise ScenarioError(field, f"{name}: no META_START ... META_STOP segment", _FIX)

    segments = tuple(_build_segment(seg, name, field) for seg in raw_segments)
    return OemOrbit(path=p, header=header, segments=segments, field=field)


def _build_segment(seg: dict, name: str, field: str) -> OemSegment:
    meta = seg["meta"]
    where = f"{name} segment at line {seg['meta_line']}"
    missing = [k for k in _REQUIRED_META if k not in meta]
    if missing:
        raise ScenarioError(field, f"{where}: META block lacks {', '.join(missing)}", _FIX)
    center = meta["CENTER_NAME"].strip().upper()
    if center != "EARTH":
        raise ScenarioError(field, f"{where}: CENTER_NAME is {meta['CENTER_NAME']!r}; the observer's states must be "
                            "relative to the Earth", "use an ephemeris with CENTER_NAME = EARTH")
    frame = meta["REF_FRAME"].strip().upper()
    if frame not in _FRAMES:
        raise ScenarioError(field, f"{where}: REF_FRAME {meta['REF_FRAME']!r} is not supported "
                            f"(supported: {', '.join(_FRAMES)})", "use an ephemeris in EME2000 (J2000) or GCRF")
    tsys = meta["TIME_SYSTEM"].strip().upper()
    if tsys not in _TIME_SCALES:
        raise ScenarioError(field, f"{where}: TIME_SYSTEM {meta['TIME_SYSTEM']!r} is not supported "
                            f"(supported: {', '.join(_TIME_SCALES)})", "use an ephemeris in UTC")
    # INTERPOLATION (LAGRANGE, HERMITE, ...) is not consulted: Lagrange of the given degree is accurate
    # for any densely sampled smooth ephemeris, and velocities are interpolated from their own samples.
    degree_text = meta.get("INTERPOLATION_DEGREE", str(_DEFAULT_DEGREE)).strip()
    try:
        degree = int(degree_text)
    except ValueError:
        raise ScenarioError(field, f"{where}: INTERPOLATION_DEGREE {degree_text!r} is not an integer", _FIX) from None
    if not 1 <= degree <= 15:
        raise ScenarioError(field, f"{where}: INTERPOLATION_DEGREE {degree} is outside 1-15", _FIX)

    n = len(seg["epochs"])
    if n < 2:
        raise ScenarioError(field, f"{where}: needs at least 2 ephemeris lines, has {n}", _FIX)
    times = _parse_times(seg["epochs"], tsys, where, field)
    start = _parse_times([meta["START_TIME"]], tsys, where + " START_TIME", field)[0]
    stop = _parse_times([meta["STOP_TIME"]], tsys, where + " STOP_TIME", field)[0]
    ustart = _parse_times([meta["USEABLE_START_TIME"]], tsys, where + " USEABLE_START_TIME", field)[0] \
        if "USEABLE_START_TIME" in meta else start
    ustop = _parse_times([meta["USEABLE_STOP_TIME"]], tsys, where + " USEABLE_STOP_TIME", field)[0] \
        if "USEABLE_STOP_TIME" in meta else stop
    secs = (times - times[0]).to_value("s")
    steps = np.diff(secs)
    if np.any(steps <= 0):
        k = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise ScenarioError(field, f"{name} line {seg['lines'][k]}: epochs must increase strictly "
                            f"({seg['epochs'][k - 1]} then {seg['epochs'][k]})", _FIX)
    if (times[0] - start).to_value("s") < -1e-3 or (stop - times[-1]).to_value("s") < -1e-3:
        raise ScenarioError(field, f"{where}: ephemeris lines run from {seg['epochs'][0]} to {seg['epochs'][-1]}, "
                            f"outside START_TIME {meta['START_TIME']} / STOP_TIME {meta['STOP_TIME']}", _FIX)
    # usable span: the declared one, clipped to the data actually present
    if (ustart - times[0]).to_value("s") < 0:
        ustart = times[0]
    if (times[-1] - ustop).to_value("s") < 0:
        ustop = times[-1]
    if (ustop - ustart).to_value("s") < 0:
        raise ScenarioError(field, f"{where}: the usable span is empty", _FIX)

    vals = np.asarray(seg["values"], dtype=float)
    if not np.all(np.isfinite(vals)):
        raise ScenarioError(field, f"{where}: non-finite values in the ephemeris", _FIX)
    pos = vals[:, :3]
    vel = vals[:, 3:6]
    if frame == "EME2000":
        m = eme2000_to_gcrs_matrix()
        pos = pos @ m.T
        vel = vel @ m.T
    pos = np.ascontiguousarray(pos)
    vel = np.ascontiguousarray(vel)
    pos.setflags(write=False)
    vel.setflags(write=False)
    return OemSegment(meta=dict(meta), times=times, position_km=pos, velocity_km_s=vel,
                      usable_start=ustart, usable_stop=ustop, degree=degree)


# --------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------

def write_oem(path, times, pos_km, vel_km_s, object_name: str = "ISS", ref_frame: str = "EME2000", *,
              object_id: str | None = None, originator: str = "startrail", comments=(),
              interpolation_degree: int = _DEFAULT_DEGREE, creation_date: Time | None = None,
              decimals: int = 6) -> Path:
    """Write one-segment CCSDS OEM 2.0 KVN text (TIME_SYSTEM UTC, CENTER_NAME EARTH).

    ``pos_km`` [N,3] (km) and ``vel_km_s`` [N,3] (km/s) must already be expressed in ``ref_frame``
    (``EME2000``, ``GCRF`` or ``ICRF``; for GCRS vectors and EME2000 use ``eme2000_to_gcrs_matrix().T``).
    ``times`` [N] strictly increasing; epochs are written in UTC with ``decimals`` fractional digits of a
    second (default 6: 1 us, ~8 mm along an ISS orbit). Returns the path.
    """
    t = as_time_array(times).utc
    pos = np.asarray(pos_km, dtype=float).reshape(-1, 3)
    vel = np.asarray(vel_km_s, dtype=float).reshape(-1, 3)
    if not (len(t) == len(pos) == len(vel)) or len(t) < 2:
        raise ValueError("times, pos_km and vel_km_s need the same length N >= 2")
    frame = ref_frame.upper()
    if frame not in _FRAMES:
        raise ValueError(f"ref_frame must be one of {_FRAMES}")
    if object_id is None:
        object_id = "1998-067-A" if object_name.upper().startswith("ISS") else "UNKNOWN"
    t = Time(t, precision=decimals)
    epochs = t.isot
    created = (creation_date if creation_date is not None else Time.now()).utc
    created = Time(created, precision=3).isot
    lines = [
        "CCSDS_OEM_VERS = 2.0",
        f"CREATION_DATE  = {created}",
        f"ORIGINATOR     = {originator}",
        "",
        "META_START",
        f"OBJECT_NAME          = {object_name}",
        f"OBJECT_ID            = {object_id}",
        "CENTER_NAME          = EARTH",
        f"REF_FRAME            = {frame}",
        "TIME_SYSTEM          = UTC",
        f"START_TIME           = {epochs[0]}",
        f"USEABLE_START_TIME   = {epochs[0]}",
        f"USEABLE_STOP_TIME    = {epochs[-1]}",
        f"STOP_TIME            = {epochs[-1]}",
        "INTERPOLATION        = LAGRANGE",
        f"INTERPOLATION_DEGREE = {int(interpolation_degree)}",
        "META_STOP",
        "",
    ]
    for c in comments:
        for sub in str(c).splitlines() or [""]:
            lines.append(f"COMMENT {sub}".rstrip())
    if comments:
        lines.append("")
    for e, r, v in zip(epochs, pos, vel):
        lines.append(f"{e} {r[0]:.9f} {r[1]:.9f} {r[2]:.9f} {v[0]:.12f} {v[1]:.12f} {v[2]:.12f}")
    p = Path(path)
    p.write_text("\n".join(lines) + "\n", encoding="ascii")
    return p
