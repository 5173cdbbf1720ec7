"""Scenario files: TOML text -> validated, typed objects in SI units.

A scenario (DESIGN.md §3) is a TOML file of sections ``[scenario]``, ``[time]``, ``[orbit]``,
``[attitude]``, ``[camera]``, ``[exposure]``, ``[sky]``, ``[earth]`` and ``[render]``. Physical
quantities are strings with a unit (``"14 mm"``, ``"15 min"``, ``"-12 deg"``, ``"0.8 pix"``), parsed
with :mod:`astropy.units`, checked for their physical type and range, and stored as plain floats in
SI units (metres, seconds, radians) or in the unit named by the attribute (``_km``, ``_px``).

Every problem a user can fix raises :class:`simulator.errors.ScenarioError` whose one-line message
starts with the dotted TOML path of the offending value, says what is wrong and how to fix it, e.g.::

    camera.focal_length: "14 mmm" is not a length ("mmm" is not a known unit); write a number with a unit, e.g. "14 mm"

Unknown sections and keys are rejected by name, with the allowed names and a close match if any.

Entry points: :func:`load_scenario` (a file) and :func:`parse_scenario` (text).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle
from astropy.time import Time

from simulator.camera.projection import Camera
from simulator.earth.clouds import MIN_SCALE_KM as MIN_CLOUD_SCALE_KM
from simulator.errors import ScenarioError

__all__ = [
    "SkySpec",
    "EarthSpec",
    "RenderSpec",
    "ExposureSpec",
    "WcsAttitudeSpec",
    "Scenario",
    "parse_scenario",
    "load_scenario",
    "SECTIONS",
]


# ----------------------------------------------------------------------------------------------
# Output objects
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkySpec:
    """Star catalog choice: ``catalog`` is a catalog name, ``mag_limit`` the faintest V magnitude kept;
    ``planets`` and ``moon`` add Mercury, Venus, Mars, Jupiter, Saturn and the Moon (sky/solar_system.py)."""

    catalog: str
    mag_limit: float
    planets: bool = True
    moon: bool = True


@dataclass(frozen=True)
class EarthSpec:
    """Earth model. limb "atmosphere" (the default): stars near the limb are refracted (raised), flattened,
    dimmed and reddened by the atmosphere (earth/atmosphere.py, render/limb_stars.py) and vanish where the
    bent ray reaches the ground. limb "hard": stars disappear when their line of sight passes below
    ``occultation_altitude_km`` above the WGS84 ellipsoid; a scenario that gives ``occultation_altitude``
    without ``limb`` gets the hard cut (scenario files written before the atmosphere keep their meaning)."""

    occultation_altitude_km: float
    limb: str = "atmosphere"
    airglow: bool = False  # the emission layers of earth/airglow.py, added to every frame
    city_lights: bool = False  # lit ground cells (earth/city_lights.py) as moving sources on the night side
    city_lights_min_radiance: float = 2.0  # nW cm^-2 sr^-1: dimmer cells of the map are left out
    city_lights_lamp: str = "hps"  # the lamps' spectrum: "hps" (high-pressure sodium) or "led" (white LED)
    lightning: bool = False  # flashes drawn from the climatology of earth/lightning.py
    cloud_cover: float = 0.0  # cloudy fraction of the globe over the city lights (earth/clouds.py); 0: clear
    cloud_transmission: float = 0.2  # fraction of a city light's flux that passes a cloud
    cloud_scale_km: float = 300.0  # correlation length of the cloud field along the ground


@dataclass(frozen=True)
class RenderSpec:
    """Renderer settings.

    knot_tolerance_px: largest allowed error (pixels) of linear interpolation of a track between knots.
    psf_extent_sigma: the PSF is evaluated out to this many sigma (dimensionless).
    """

    knot_tolerance_px: float
    psf_extent_sigma: float


@dataclass(frozen=True)
class WcsAttitudeSpec:
    """Pointing from a solved photo's FITS WCS header, not yet turned into an attitude.

    Turning it into an attitude needs the observer's state at the photo's time, so the renderer
    calls ``simulator.attitude.attitude_from_wcs(pointing, hold, pos_km, vel_km_s)``.
    ``hold`` is ``"inertial"`` (camera fixed on the stars) or ``"lvlh"`` (camera fixed to the ISS);
    ``path`` is the resolved path of the header file.
    """

    pointing: Any  # simulator.attitude.WcsPointing
    hold: str
    path: Path


@dataclass(frozen=True)
class ExposureSpec:
    """Exposure timing (s). mode "single": one frame of ``duration_s``. mode "burst": ``frames`` frames
    of ``frame_duration_s`` separated by ``gap_s`` (shutter closed), combined by ``stack`` ("lighten":
    per-pixel maximum, as star-trail stacking programs do; "mean"; "sum"); ``save_frames`` keeps every
    frame in the product. ``duration_s`` is the whole span from the first frame's start to the last
    frame's end."""

    mode: str
    duration_s: float
    frames: int = 1
    frame_duration_s: float = 0.0
    gap_s: float = 0.0
    stack: str = "lighten"
    save_frames: bool = False

    def frame_windows(self) -> list[tuple[float, float]]:
        """(start, stop) of every frame in seconds from the exposure start."""
        if self.mode == "single":
            return [(0.0, self.duration_s)]
        period = self.frame_duration_s + self.gap_s
        return [(i * period, i * period + self.frame_duration_s) for i in range(self.frames)]


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    start: exposure start (astropy Time, scale UTC); duration_s: exposure length in seconds.
    orbit: TleOrbit | StateVectorOrbit | OemOrbit (simulator.orbit).
    attitude: LvlhAttitude | InertialAttitude (simulator.attitude) or WcsAttitudeSpec.
    text: the scenario file's exact text (stored in the HDF5 product); source_path: where it was
    read from, or None for text given directly.
    """

    name: str
    description: str
    seed: int
    start: Time
    duration_s: float
    orbit: Any
    attitude: Any
    camera: Camera
    sky: SkySpec
    earth: EarthSpec
    render: RenderSpec
    text: str
    source_path: Path | None
    exposure: ExposureSpec | None = None
    allow_sunlit: bool = False
    sensor: Any = None  # simulator.camera.sensor.SensorSpec, or None for the noise-free signal only


# ----------------------------------------------------------------------------------------------
# Schema: allowed sections and keys
# ----------------------------------------------------------------------------------------------

#: Allowed keys of every section, in the order they are documented.
SECTIONS: dict[str, tuple[str, ...]] = {
    "scenario": ("name", "description", "seed"),
    "time": ("start", "reference"),
    "orbit": ("tle", "state", "oem"),
    "attitude": ("mode", "azimuth", "elevation", "roll", "ra", "dec", "quaternion", "wcs", "hold"),
    "camera": (
        "width",
        "height",
        "pixel_pitch",
        "focal_length",
        "f_number",
        "distortion",
        "psf_sigma",
        "throughput",
        "preset",
        "lens",
        "qe_curve",
        "peak_qe",
        "lens_transmission",
        "window_panes",
        "window_surface_reflectance",
        "vignetting",
        "vignetting_mechanical",
        "psf_field_growth",
    ),
    "exposure": ("duration", "mode", "frames", "frame_duration", "gap", "stack", "save_frames", "allow_sunlit"),
    "sky": ("catalog", "mag_limit", "planets", "moon"),
    "earth": ("occultation_altitude", "limb", "airglow", "city_lights", "city_lights_min_radiance", "city_lights_lamp",
              "lightning", "cloud_cover", "cloud_transmission", "cloud_scale"),
    "render": ("knot_tolerance", "psf_extent"),
    "sensor": ("iso", "temperature", "days_on_orbit", "read_noise", "full_well", "gain", "black_level",
               "bit_depth", "dark_current", "prnu", "dsnu", "cosmic_ray_rate", "saa_factor", "disable"),
}
_REQUIRED_SECTIONS = ("scenario", "orbit", "attitude", "camera", "exposure")
_STATE_KEYS = ("epoch", "position_km", "velocity_km_s")

_QUATERNION_TOLERANCE = 1e-3  # relative deviation of |q| from 1 that is silently normalised away


# ----------------------------------------------------------------------------------------------
# Small value parsers. Each takes the value, its dotted field name and an example for the fix.
# ----------------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A short, TOML-like rendering of a user's value for an error message."""
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return '"' + text.replace("\n", "\\n") + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return "a TOML date/time"
    return type(value).__name__


def _fmt(x: float) -> str:
    """Format a bound for a message: compact, no trailing zeros."""
    return f"{x:.6g}"


def _check_keys(table: dict, allowed: tuple[str, ...], where: str) -> None:
    """Reject keys of ``table`` that are not in ``allowed``; ``where`` is the table's dotted path."""
    for key in table:
        if key not in allowed:
            field = f"{where}.{key}" if where else key
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            what = f'unknown key "{key}" in [{where}]' if where else f"unknown section [{key}]"
            raise ScenarioError(
                field,
                what,
                f"{hint}allowed: {', '.join(allowed)}",
            )


def _string(value: Any, field: str, example: str, *, non_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ScenarioError(field, f"{_show(value)} is {_type_name(value)}, not a string", f"write it in quotes, e.g. {example}")
    if non_empty and not value.strip():
        raise ScenarioError(field, "is empty", f"give it a value, e.g. {example}")
    return value


def _integer(value: Any, field: str, lo: int, hi: int | None, example: str) -> int:
    """An integer in [lo, hi] (hi None: no upper bound). TOML booleans are not integers."""
    if isinstance(value, float) and value.is_integer() and not isinstance(value, bool):
        raise ScenarioError(field, f"{_show(value)} is not an integer", f"write it without a decimal point, e.g. {example}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(field, f"{_show(value)} is {_type_name(value)}, not an integer", f"write a whole number, e.g. {example}")
    if value < lo or (hi is not None and value > hi):
        span = f"between {lo} and {hi}" if hi is not None else f"{lo} or more"
        raise ScenarioError(field, f"{value} is out of range", f"use an integer {span}, e.g. {example}")
    return value


def _number(
    value: Any,
    field: str,
    lo: float,
    hi: float,
    example: str,
    *,
    lo_open: bool = False,
) -> float:
    """A finite plain number (int or float, not bool) in [lo, hi] (or (lo, hi] when lo_open)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        hint = f"write a plain number without quotes, e.g. {example}"
        raise ScenarioError(field, f"{_show(value)} is {_type_name(value)}, not a number", hint)
    x = float(value)
    below = x <= lo if lo_open else x < lo
    if not math.isfinite(x) or below or x > hi:
        span = f"{'>' if lo_open else '>='} {_fmt(lo)} and <= {_fmt(hi)}"
        raise ScenarioError(field, f"{_show(value)} is out of range", f"use a number {span}, e.g. {example}")
    return x


def _quantity(value: Any, field: str, unit: u.UnitBase, kind: str, example: str) -> u.Quantity:
    """Parse a ``"number unit"`` string into a finite Quantity convertible to ``unit``.

    ``kind`` names the physical type for messages ("a length"); ``example`` is a valid TOML value.
    """
    fix = f"write a number with a unit, e.g. {example}"
    if isinstance(value, bool):
        raise ScenarioError(field, f"{_show(value)} is a boolean, not {kind}", fix)
    if isinstance(value, (int, float)):
        raise ScenarioError(field, f"{_show(value)} has no unit", f"write it as a string with a unit, e.g. {example}")
    if not isinstance(value, str):
        raise ScenarioError(field, f"{_show(value)} is {_type_name(value)}, not {kind}", fix)
    text = value.strip()
    if unit.is_equivalent(u.rad):
        try:  # also sexagesimal with unit markers, e.g. "05h35m17s", "-5d23m28s"
            angle = Angle(text)
        except (ValueError, TypeError, u.UnitsError):
            pass  # fall through for a precise message
        else:
            if angle.isscalar and np.isfinite(angle.value):
                return u.Quantity(angle.to(u.deg))
    try:
        q = u.Quantity(text)
    except (ValueError, TypeError) as exc:
        raise ScenarioError(field, f"{_show(value)} is not {kind}{_unit_parse_reason(text, exc)}", fix) from None
    if q.unit == u.dimensionless_unscaled:
        raise ScenarioError(field, f"{_show(value)} has no unit", fix)
    if not q.unit.is_equivalent(unit):
        ptype = str(q.unit.physical_type)
        got = "of unknown type" if ptype == "unknown" else f"a {ptype}" if ptype[0] not in "aeiou" else f"an {ptype}"
        if q.unit == u.pix:
            got = "in pixels"
        raise ScenarioError(field, f"{_show(value)} is {got}, not {kind}", fix)
    if not np.isfinite(q.value) or q.isscalar is False:
        raise ScenarioError(field, f"{_show(value)} is not a finite number", fix)
    return q


def _unit_parse_reason(text: str, exc: Exception) -> str:
    """A short reason for a failed Quantity parse (astropy's own messages run to several lines)."""
    msg = str(exc)
    if "does not start with a number" in msg:
        return " (it does not start with a number)"
    if "did not parse as unit" in msg:
        bad = msg.split("did not parse as unit")[0].strip().strip("'\"")
        hint = ""
        if "Did you mean" in msg:
            hint = "; astropy suggests " + msg.split("Did you mean", 1)[1].split("?", 1)[0].strip()
        return f' ("{bad}" is not a known unit{hint})'
    return ""


def _in_range(
    q: u.Quantity,
    raw: Any,
    field: str,
    show_unit: u.UnitBase,
    lo: float,
    hi: float,
    example: str,
    *,
    lo_open: bool = False,
) -> float:
    """Check ``lo <= q <= hi`` (``lo < q`` when lo_open), bounds in ``show_unit``; return q in show_unit."""
    x = float(q.to_value(show_unit))
    below = x <= lo if lo_open else x < lo
    if below or x > hi:
        name = show_unit.to_string()
        op = ">" if lo_open else ">="
        converted = f"{x:.6g} {name}"
        also = "" if isinstance(raw, str) and raw.strip() == converted else f" ({converted})"
        raise ScenarioError(
            field,
            f"{_show(raw)}{also} is out of range",
            f"use a value {op} {_fmt(lo)} {name} and <= {_fmt(hi)} {name}, e.g. {example}",
        )
    return x


def _time(value: Any, field: str) -> Time:
    """An ISO 8601 UTC time string (or a TOML date-time) -> astropy Time, scale UTC."""
    example = '"2012-03-15T02:00:00"'
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return Time(value, scale="utc")
    if isinstance(value, _dt.date):
        value = value.isoformat()
    if not isinstance(value, str):
        raise ScenarioError(field, f"{_show(value)} is {_type_name(value)}, not a time", f"write an ISO 8601 UTC time in quotes, e.g. {example}")
    text = value.strip()
    for fmt in ("isot", "iso"):
        try:
            return Time(text, format=fmt, scale="utc")
        except ValueError:
            continue
    raise ScenarioError(
        field,
        f"{_show(value)} is not an ISO 8601 UTC time",
        f"write YYYY-MM-DDThh:mm:ss[.fff] in UTC without a zone offset, e.g. {example}",
    )


def _vector(value: Any, field: str, n: int, example: str) -> np.ndarray:
    """A list of ``n`` finite plain numbers -> float64 array."""
    if not isinstance(value, list) or len(value) != n:
        what = f"a list of {len(value)}" if isinstance(value, list) else _type_name(value)
        raise ScenarioError(field, f"{_show(value)} is {what}, not a list of {n} numbers", f"write e.g. {example}")
    for i, x in enumerate(value):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ScenarioError(
                f"{field}[{i}]", f"{_show(x)} is not a finite number", f"write plain numbers without quotes, e.g. {example}"
            )
    return np.array(value, dtype=np.float64)


def _table(value: Any, field: str) -> dict:
    if not isinstance(value, dict):
        raise ScenarioError(
            field, f"{_show(value)} is {_type_name(value)}, not a section", f"write it as a section header [{field}] followed by its keys"
        )
    return value


def _require(table: dict, key: str, where: str, example: str) -> Any:
    if key not in table:
        raise ScenarioError(f"{where}.{key}", "is missing", f"add it to [{where}], e.g. {key} = {example}")
    return table[key]


def _resolve_path(value: Any, field: str, base_dir: Path | None, example: str) -> Path:
    """A file path string, relative paths taken from the scenario's folder; the file must exist."""
    text = _string(value, field, example, non_empty=True)
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (base_dir if base_dir is not None else Path.cwd()) / path
    if not path.is_file():
        rel = " (relative paths are taken from the scenario file's folder)" if not Path(text).is_absolute() else ""
        raise ScenarioError(field, f'file "{path}" does not exist{rel}', "check the path")
    return path


# ----------------------------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------------------------


def _parse_meta(sec: dict) -> tuple[str, str, int]:
    name = _string(_require(sec, "name", "scenario", '"pettit-2012-cupola"'), "scenario.name", '"pettit-2012-cupola"', non_empty=True)
    description = _string(sec.get("description", ""), "scenario.description", '"15-minute limb exposure"')
    seed = _integer(sec.get("seed", 0), "scenario.seed", 0, None, "2012")
    return name, description, seed


def _parse_orbit(sec: dict, base_dir: Path | None) -> Any:
    import simulator.orbit as orbit

    given = [k for k in ("tle", "state", "oem") if k in sec]
    if len(given) != 1:
        problem = "has no orbit source" if not given else f"has {len(given)} orbit sources ({', '.join(given)})"
        raise ScenarioError("orbit", problem, "give exactly one of tle, state or oem")
    kind = given[0]
    if kind == "tle":
        text = _string(sec["tle"], "orbit.tle", '"""<two TLE lines>"""', non_empty=True)
        return orbit.parse_tle(text, field="orbit.tle")
    if kind == "oem":
        path = _resolve_path(sec["oem"], "orbit.oem", base_dir, '"ISS.OEM_J2K_EPH.txt"')
        return orbit.read_oem(path, field="orbit.oem")
    state = _table(sec["state"], "orbit.state")
    _check_keys(state, _STATE_KEYS, "orbit.state")
    epoch = _time(_require(state, "epoch", "orbit.state", '"2012-03-15T02:00:00"'), "orbit.state.epoch")
    pos_example = "[-4400.0, 3500.0, 3600.0]"
    vel_example = "[-2.5, -6.3, 3.2]"
    pos = _vector(_require(state, "position_km", "orbit.state", pos_example), "orbit.state.position_km", 3, pos_example)
    vel = _vector(_require(state, "velocity_km_s", "orbit.state", vel_example), "orbit.state.velocity_km_s", 3, vel_example)
    # StateVectorOrbit checks the state itself (above the surface, bound, perigee) and names the field.
    return orbit.StateVectorOrbit(epoch=epoch, position_km=pos, velocity_km_s=vel)


def _parse_quaternion(value: Any, field: str) -> np.ndarray:
    example = "[1.0, 0.0, 0.0, 0.0]"
    q = _vector(value, field, 4, example)
    norm = float(np.linalg.norm(q))
    if abs(norm - 1.0) > _QUATERNION_TOLERANCE:
        raise ScenarioError(
            field,
            f"|q| = {norm:.6g} is not a unit quaternion",
            f"give a normalised scalar-first [w, x, y, z] (|q| within {_QUATERNION_TOLERANCE:g} of 1), e.g. {example}",
        )
    return q / norm


def _angle_rad(sec: dict, key: str, where: str, example: str, *, default: str | None = None, limit_deg: float | None = None) -> float:
    """An angle string -> radians; ``limit_deg`` bounds |angle| (e.g. 90 for elevation, dec)."""
    field = f"{where}.{key}"
    raw = sec.get(key, default) if default is not None else _require(sec, key, where, example)
    q = _quantity(raw, field, u.rad, "an angle", example)
    if limit_deg is not None:
        _in_range(q, raw, field, u.deg, -limit_deg, limit_deg, example)
    return float(q.to_value(u.rad))


def _parse_attitude(sec: dict, camera: Camera, base_dir: Path | None) -> Any:
    import simulator.attitude as att

    if "wcs" in sec:
        extra = [k for k in sec if k not in ("wcs", "hold")]
        if extra:
            raise ScenarioError(
                f"attitude.{extra[0]}",
                "cannot be combined with attitude.wcs (the photo's WCS already fixes the pointing)",
                "remove it, or remove wcs and give mode with angles or a quaternion",
            )
        path = _resolve_path(sec["wcs"], "attitude.wcs", base_dir, '"photo.wcs"')
        hold = sec.get("hold", "inertial")
        if hold not in ("inertial", "lvlh"):
            raise ScenarioError("attitude.hold", f"{_show(hold)} is not a hold mode", 'use "inertial" (fixed on the stars) or "lvlh" (fixed to the ISS)')
        pointing = att.read_wcs_pointing(path, camera, field="attitude.wcs")
        return WcsAttitudeSpec(pointing=pointing, hold=hold, path=path)

    if "hold" in sec:
        raise ScenarioError("attitude.hold", "only applies with attitude.wcs", "remove it, or give wcs = \"photo.wcs\"")
    mode = _require(sec, "mode", "attitude", '"lvlh"')
    if mode not in ("lvlh", "inertial"):
        raise ScenarioError("attitude.mode", f"{_show(mode)} is not an attitude mode", 'use "lvlh" (fixed to the ISS) or "inertial" (fixed on the stars)')

    angle_keys = ("azimuth", "elevation", "roll") if mode == "lvlh" else ("ra", "dec", "roll")
    other = ("ra", "dec") if mode == "lvlh" else ("azimuth", "elevation")
    for key in other:
        if key in sec:
            raise ScenarioError(
                f"attitude.{key}",
                f'does not apply to mode = "{mode}"',
                f"use {', '.join(angle_keys)} (or a quaternion) with this mode",
            )
    if "quaternion" in sec:
        clash = [k for k in angle_keys if k in sec]
        if clash:
            raise ScenarioError(
                f"attitude.{clash[0]}", "cannot be combined with attitude.quaternion", "give either the angles or the quaternion"
            )
        R = att.matrix_from_quaternion(_parse_quaternion(sec["quaternion"], "attitude.quaternion"))
        return att.LvlhAttitude(R) if mode == "lvlh" else att.InertialAttitude(R)

    if mode == "lvlh":
        az = _angle_rad(sec, "azimuth", "attitude", '"0 deg"')
        el = _angle_rad(sec, "elevation", "attitude", '"-12 deg"', limit_deg=90.0)
        roll = _angle_rad(sec, "roll", "attitude", '"0 deg"', default="0 deg")
        return att.LvlhAttitude(att.mount_matrix(az, el, roll))
    ra = _angle_rad(sec, "ra", "attitude", '"83.82 deg"')
    dec = _angle_rad(sec, "dec", "attitude", '"-5.39 deg"', limit_deg=90.0)
    roll = _angle_rad(sec, "roll", "attitude", '"0 deg"', default="0 deg")
    return att.InertialAttitude(att.inertial_matrix(ra, dec, roll))


def _parse_camera(sec: dict) -> Camera:
    """[camera]: explicit keys, or a camera ``preset`` and/or a ``lens`` preset whose values any explicit
    key overrides (camera/presets.py)."""
    from simulator.camera.presets import camera_preset, lens_preset

    w = "camera"
    body = camera_preset(_string(sec["preset"], "camera.preset", '"nikon-d3s"'), field="camera.preset") \
        if "preset" in sec else None
    lens = lens_preset(_string(sec["lens"], "camera.lens", '"14-24mm-f2.8@14mm"'), field="camera.lens") \
        if "lens" in sec else None

    def given(key, preset_value, example):
        if key in sec or preset_value is None:
            return _require(sec, key, w, example)
        return preset_value

    width = _integer(given("width", body and body["width"], "4256"), "camera.width", 16, 100_000, "4256")
    height = _integer(given("height", body and body["height"], "2832"), "camera.height", 16, 100_000, "2832")

    raw = given("pixel_pitch", body and f"{body['pixel_pitch_m'] * 1e6!r} um", '"8.45 um"')
    pitch_um = _in_range(_quantity(raw, "camera.pixel_pitch", u.m, "a length", '"8.45 um"'), raw, "camera.pixel_pitch", u.um, 0.5, 100.0, '"8.45 um"')

    raw = given("focal_length", lens and f"{lens['focal_length_m'] * 1e3!r} mm", '"14 mm"')
    focal_mm = _in_range(_quantity(raw, "camera.focal_length", u.m, "a length", '"14 mm"'), raw, "camera.focal_length", u.mm, 1.0, 5000.0, '"14 mm"')

    f_number = _number(given("f_number", lens and lens["f_number"], "2.8"), "camera.f_number", 0.5, 64.0, "2.8")

    dist_default = list(lens["dist_coeffs"]) if lens else [0.0] * 5
    dist = _vector(sec.get("distortion", dist_default), "camera.distortion", 5, "[k1, k2, p1, p2, k3] = [-0.02, 0.0, 0.0, 0.0, 0.0]")

    qe_curve = sec.get("qe_curve", body["qe_curve"] if body else None)
    if qe_curve is not None:
        from simulator.camera.bandpass import curve_names

        qe_curve = _string(qe_curve, "camera.qe_curve", '"nikon_d700"')
        if qe_curve not in curve_names():
            raise ScenarioError("camera.qe_curve", f"{_show(qe_curve)} is not a shipped curve",
                                f"use one of {', '.join(curve_names())}")
        if "throughput" in sec:
            raise ScenarioError("camera.throughput", "is photometry v1 and cannot be combined with a QE curve",
                                "remove throughput (the QE curve, lens_transmission and the window set the response)")
    throughput = _number(sec.get("throughput", 0.35), "camera.throughput", 0.0, 1.0, "0.35", lo_open=True)
    peak_qe = sec.get("peak_qe", body["peak_qe"] if body else None)
    if peak_qe is not None:
        peak_qe = _number(peak_qe, "camera.peak_qe", 0.0, 1.0, "0.45", lo_open=True)
    lens_t = _number(sec.get("lens_transmission", 0.9), "camera.lens_transmission", 0.0, 1.0, "0.9", lo_open=True)
    panes = _integer(sec.get("window_panes", 4), "camera.window_panes", 0, 20, "4")
    refl = _number(sec.get("window_surface_reflectance", 0.02), "camera.window_surface_reflectance", 0.0, 0.5, "0.02")
    channels = tuple(body["channels"]) if body and qe_curve == body["qe_curve"] else None
    if qe_curve is not None and channels is None:
        from simulator.camera.bandpass import load_curve

        channels = tuple(load_curve(qe_curve).channels)

    pixel_scale_arcsec = math.degrees(pitch_um / focal_mm * 1e-3) * 3600.0
    components: tuple = ()
    if "psf_sigma" in sec or lens is None:
        raw = sec.get("psf_sigma", "0.8 pix")
        if _is_angle_string(raw):  # an angular width, converted with the pixel scale at the centre
            q = _quantity(raw, "camera.psf_sigma", u.rad, "an angle", '"0.8 pix"').to_value(u.arcsec) / pixel_scale_arcsec * u.pix
        else:
            q = _quantity(raw, "camera.psf_sigma", u.pix, "a width in pixels", '"0.8 pix" (or an angle, e.g. "50 arcsec")')
        sigma_px = _in_range(q, raw, "camera.psf_sigma", u.pix, 0.3, 50.0, '"0.8 pix"')
    else:  # the lens preset's Gaussian mixture at the image centre (sigmas in um on the sensor)
        components = tuple((float(c["weight"]), max(float(c["sigma_um"]) / pitch_um, 0.3))
                           for c in lens["psf_components"])
        total = sum(wgt for wgt, _ in components)
        components = tuple((wgt / total, sig) for wgt, sig in components)
        sigma_px = math.sqrt(sum(wgt * sig * sig for wgt, sig in components))

    return Camera(
        width=width,
        height=height,
        pixel_pitch_m=pitch_um * 1e-6,
        focal_length_m=focal_mm * 1e-3,
        f_number=f_number,
        dist_coeffs=tuple(float(x) for x in dist),
        psf_sigma_px=sigma_px,
        throughput=throughput,
        channels=channels or ("mono",),
        qe_curve=qe_curve,
        peak_qe=peak_qe,
        lens_transmission=lens_t,
        window_panes=panes,
        window_surface_reflectance=refl,
        psf_components=components,
        preset=body["name"] if body else None,
        lens=lens["name"] if lens else None,
        vignetting_cos_power=_number(sec.get("vignetting", lens["vignetting_cos_power"] if lens else 0.0),
                                     "camera.vignetting", 0.0, 8.0, "4.0"),
        vignetting_mechanical=_number(sec.get("vignetting_mechanical", lens["vignetting_mechanical"] if lens else 0.0),
                                      "camera.vignetting_mechanical", 0.0, 1.0, "0.3"),
        psf_field_growth=_number(sec.get("psf_field_growth", lens["psf_field_growth"] if lens else 0.0),
                                 "camera.psf_field_growth", 0.0, 10.0, "1.0"),
    )


def _is_angle_string(value: Any) -> bool:
    """True if ``value`` parses as an angle quantity (used to accept psf_sigma in arcsec)."""
    if not isinstance(value, str):
        return False
    try:
        return u.Quantity(value.strip()).unit.is_equivalent(u.rad)
    except (ValueError, TypeError):
        return False


MAX_SPAN_S = 6 * 3600.0
STACK_MODES = ("lighten", "mean", "sum")


def _time_span(sec: dict, key: str, example: str, lo: float, lo_open: bool) -> float:
    raw = sec[key]
    q = _quantity(raw, f"exposure.{key}", u.s, "a time", example)
    return _in_range(q, raw, f"exposure.{key}", u.s, lo, MAX_SPAN_S, example, lo_open=lo_open)


_EVENT_WORDS = ("eclipse", "sunset", "sunrise", "umbra", "penumbra", "umbra_entry", "umbra_exit",
                "penumbra_entry", "penumbra_exit")


def _parse_sensor(sec: dict, camera: Camera) -> Any:
    """[sensor]: the camera's electronics at one ISO (camera/sensor.py). Figures default to the camera
    preset's (with their sources there); without a preset, read_noise, full_well, gain, bit_depth and
    dark_current must be given. Values are plain numbers in the units their names state."""
    from simulator.camera.presets import camera_preset, dark_current_at, gain_at_iso, read_noise_at_iso
    from simulator.camera.sensor import SensorEffects, SensorSpec

    body = camera_preset(camera.preset) if camera.preset else None
    iso = _integer(sec.get("iso", body["base_iso"] if body else 800), "sensor.iso", 50, 4_000_000, "800")
    raw = sec.get("temperature", "22 deg_C")
    temp_c = _quantity(raw, "sensor.temperature", u.deg_C, "a temperature", '"22 deg_C"').to_value(
        u.deg_C, equivalencies=u.temperature())
    if not -60.0 <= temp_c <= 80.0:
        raise ScenarioError("sensor.temperature", f"{_show(raw)} is out of range", 'use -60 to 80 deg_C, e.g. "22 deg_C"')

    def figure(key, preset_value, lo, hi, example):
        if key not in sec and preset_value is None:
            raise ScenarioError(f"sensor.{key}", "is missing (the camera has no preset to take it from)",
                                f"add {key} = {example}, or set [camera] preset")
        return _number(sec.get(key, preset_value), f"sensor.{key}", lo, hi, example)

    read = figure("read_noise", body and read_noise_at_iso(body, iso), 0.0, 1e4, "3.5")
    full = figure("full_well", body and body["full_well_e"], 1.0, 1e8, "60000")
    gain = figure("gain", body and gain_at_iso(body, iso), 1e-4, 1e4, "0.91")
    bits = _integer(sec.get("bit_depth", body["bit_depth"] if body else None) if (body or "bit_depth" in sec)
                    else _require(sec, "bit_depth", "sensor", "14"), "sensor.bit_depth", 1, 16, "14")
    black = _integer(sec.get("black_level", body["black_level_dn"] if body else 0), "sensor.black_level", 0,
                     2**bits - 1, "0")
    dark = figure("dark_current", body and dark_current_at(body, temp_c), 0.0, 1e6, "0.3")
    # PRNU ~0.5-1 % and DSNU ~ the dark current itself are typical of CMOS sensors [estimates]
    prnu = _number(sec.get("prnu", 0.005), "sensor.prnu", 0.0, 0.5, "0.005")
    dsnu = _number(sec.get("dsnu", 0.3 * dark), "sensor.dsnu", 0.0, 1e6, "0.1")
    days = _number(sec.get("days_on_orbit", 90.0), "sensor.days_on_orbit", 0.0, 10000.0, "90")
    cr_rate = _number(sec.get("cosmic_ray_rate", 1.2), "sensor.cosmic_ray_rate", 0.0, 1e6, "1.2")
    saa = _number(sec.get("saa_factor", 30.0), "sensor.saa_factor", 0.0, 1e4, "30")
    disable = sec.get("disable", [])
    names = [f.name for f in dataclasses.fields(SensorEffects)]
    if not isinstance(disable, list) or not all(isinstance(d, str) for d in disable):
        raise ScenarioError("sensor.disable", f"{_show(disable)} is not a list of effect names",
                            f'e.g. disable = ["cosmic", "hot"]; effects: {", ".join(names)}')
    for d in disable:
        if d not in names:
            close = difflib.get_close_matches(d, names, n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            raise ScenarioError("sensor.disable", f"{_show(d)} is not an effect", f"{hint}effects: {', '.join(names)}")
    effects = SensorEffects(**{n: n not in disable for n in names})
    # the dark current above is already at the sensor temperature: quote it there
    return SensorSpec(read_noise_e=read, full_well_e=full, dark_current_e_s=dark, gain_e_per_dn=gain,
                      black_level_dn=black, bit_depth=bits, prnu=prnu, dsnu_e_s=dsnu,
                      dark_reference_temp_c=temp_c, temperature_c=temp_c, days_on_orbit=days,
                      cosmic_ray_rate_cm2_s=cr_rate, saa_factor=saa,
                      bayer="RGGB" if len(camera.channels) == 3 else None, effects=effects)


def _parse_start(sec: dict, orbit: Any) -> Time | None:
    """[time] start: UTC, or relative to an eclipse event after [time] reference ("eclipse+60 s")."""
    from simulator.orbit.eclipse import resolve_relative_start

    raw = sec.get("start")
    # relative: an event word followed by a signed offset, or an event word alone ("umbra_exit")
    if isinstance(raw, str) and re.fullmatch(r"\s*[A-Za-z_ ]+?\s*([+-].*)?", raw) and (
            re.search(r"[+-]", raw) or raw.strip().lower().replace(" ", "_") in _EVENT_WORDS):
        if "reference" not in sec:
            raise ScenarioError("time.reference", "is missing",
                                'a relative start such as "eclipse+60 s" counts from the first such event after a '
                                'UTC reference: add reference = "2012-03-25T00:00:00" to [time]')
        return resolve_relative_start(raw, orbit, _time(sec["reference"], "time.reference"), field="time.start")
    if "reference" in sec:
        raise ScenarioError("time.reference", "is only used with a relative start",
                            'remove it, or write start = "eclipse+60 s"')
    return _time(raw, "time.start") if raw is not None else None


def _parse_exposure(sec: dict) -> ExposureSpec:
    mode = _string(sec.get("mode", "single"), "exposure.mode", '"burst"')
    burst_keys = ("frames", "frame_duration", "gap", "stack", "save_frames")
    if mode == "single":
        for key in burst_keys:
            if key in sec:
                raise ScenarioError(f"exposure.{key}", 'only applies to mode = "burst"',
                                    'remove it, or set mode = "burst" with frames and frame_duration')
        _require(sec, "duration", "exposure", '"15 min"')
        return ExposureSpec(mode="single", duration_s=_time_span(sec, "duration", '"15 min"', 0.0, True))
    if mode != "burst":
        raise ScenarioError("exposure.mode", f"{_show(mode)} is not a mode", 'use "single" or "burst"')
    if "duration" in sec:
        raise ScenarioError("exposure.duration", 'is not used with mode = "burst"',
                            "remove it: a burst lasts frames x frame_duration + (frames - 1) x gap")
    frames = _integer(_require(sec, "frames", "exposure", "30"), "exposure.frames", 1, 100000, "30")
    _require(sec, "frame_duration", "exposure", '"30 s"')
    frame = _time_span(sec, "frame_duration", '"30 s"', 0.0, True)
    gap = _time_span(sec, "gap", '"1 s"', 0.0, False) if "gap" in sec else 0.0
    stack = _string(sec.get("stack", "lighten"), "exposure.stack", '"lighten"')
    if stack not in STACK_MODES:
        raise ScenarioError("exposure.stack", f"{_show(stack)} is not a stacking mode", f"use one of {', '.join(STACK_MODES)}")
    save = sec.get("save_frames", False)
    if not isinstance(save, bool):
        raise ScenarioError("exposure.save_frames", f"{_show(save)} is not true or false", "write save_frames = true")
    span = frames * frame + (frames - 1) * gap
    if span > MAX_SPAN_S:
        raise ScenarioError("exposure.frames", f"the burst lasts {span / 3600:.2f} h, more than 6 h",
                            "use fewer or shorter frames")
    return ExposureSpec(mode="burst", duration_s=span, frames=frames, frame_duration_s=frame, gap_s=gap,
                        stack=stack, save_frames=save)


def _parse_sky(sec: dict) -> SkySpec:
    catalog = _string(sec.get("catalog", "hipparcos"), "sky.catalog", '"hipparcos"', non_empty=True)
    try:
        from simulator.sky.catalog import catalog_path
    except ModuleNotFoundError as exc:  # only tolerate the catalog module itself being absent
        if exc.name not in ("simulator.sky.catalog",):
            raise
        catalog_path = None
    if catalog_path is not None:
        try:
            catalog_path(catalog)
        except ScenarioError as exc:
            if exc.field != "sky.catalog":
                raise ScenarioError("sky.catalog", exc.problem, exc.fix) from None
            raise
    mag_limit = _number(sec.get("mag_limit", 9.0), "sky.mag_limit", -2.0, 14.0, "9.0")
    flags = {}
    for key in ("planets", "moon"):
        value = sec.get(key, True)
        if not isinstance(value, bool):
            raise ScenarioError(f"sky.{key}", f"{_show(value)} is not true or false", f"write {key} = false to leave them out")
        flags[key] = value
    return SkySpec(catalog=catalog, mag_limit=mag_limit, **flags)


def _parse_earth(sec: dict) -> EarthSpec:
    example = '"15 km"'
    raw = sec.get("occultation_altitude", "15 km")
    q = _quantity(raw, "earth.occultation_altitude", u.m, "a length", example)
    # the default is the atmosphere; a scenario that sets the hard cut's altitude (and no limb) keeps the hard cut
    limb = _string(sec.get("limb", "hard" if "occultation_altitude" in sec else "atmosphere"), "earth.limb",
                   '"atmosphere"')
    if limb not in ("hard", "atmosphere"):
        raise ScenarioError("earth.limb", f"{_show(limb)} is not a limb model", 'use "atmosphere" or "hard"')
    if limb == "atmosphere" and "occultation_altitude" in sec:
        raise ScenarioError("earth.occultation_altitude", 'is the hard cut\'s altitude; with limb = "atmosphere" '
                            "stars fade by refraction and extinction", 'remove it, or write limb = "hard"')
    flags = {}
    for key in ("airglow", "city_lights", "lightning"):
        value = sec.get(key, False)
        if not isinstance(value, bool):
            raise ScenarioError(f"earth.{key}", f"{_show(value)} is not true or false", f"write {key} = true")
        flags[key] = value
    min_radiance = sec.get("city_lights_min_radiance", 2.0)
    if isinstance(min_radiance, bool) or not isinstance(min_radiance, (int, float)) or not 0.0 < min_radiance <= 1000.0:
        raise ScenarioError("earth.city_lights_min_radiance", f"{_show(min_radiance)} is not a radiance in "
                            "nW cm^-2 sr^-1 between 0 and 1000", "write e.g. city_lights_min_radiance = 2.0")
    lamp = _string(sec.get("city_lights_lamp", "hps"), "earth.city_lights_lamp", '"led"')
    if lamp not in ("hps", "led"):
        raise ScenarioError("earth.city_lights_lamp", f"{_show(lamp)} is not a lamp spectrum",
                            'use "hps" (high-pressure sodium) or "led" (white LED)')
    cover = _number(sec.get("cloud_cover", 0.0), "earth.cloud_cover", 0.0, 1.0, "0.67")
    cloud_t = _number(sec.get("cloud_transmission", 0.2), "earth.cloud_transmission", 0.0, 1.0, "0.2")
    raw_scale = sec.get("cloud_scale", "300 km")
    scale = _in_range(_quantity(raw_scale, "earth.cloud_scale", u.m, "a length", '"300 km"'), raw_scale,
                      "earth.cloud_scale", u.km, MIN_CLOUD_SCALE_KM, 20000.0, '"300 km"')
    return EarthSpec(occultation_altitude_km=_in_range(q, raw, "earth.occultation_altitude", u.km, 0.0, 200.0, example),
                     limb=limb, city_lights_min_radiance=float(min_radiance), city_lights_lamp=lamp,
                     cloud_cover=float(cover), cloud_transmission=float(cloud_t), cloud_scale_km=float(scale), **flags)


def _parse_render(sec: dict) -> RenderSpec:
    example = '"0.005 pix"'
    raw = sec.get("knot_tolerance", "0.005 pix")
    q = _quantity(raw, "render.knot_tolerance", u.pix, "a length in pixels", example)
    tol = _in_range(q, raw, "render.knot_tolerance", u.pix, 1e-4, 1.0, example)
    extent = _number(sec.get("psf_extent", 5.0), "render.psf_extent", 3.0, 10.0, "5.0")
    return RenderSpec(knot_tolerance_px=tol, psf_extent_sigma=extent)


# ----------------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------------


def parse_scenario(text: str, base_dir: Path | None = None, source_path: Path | None = None) -> Scenario:
    """Parse and validate scenario TOML ``text``.

    base_dir: folder that relative file paths (orbit.oem, attitude.wcs) are taken from; defaults to
    ``source_path``'s folder, else the working directory. source_path: recorded in the result and
    used to name the file in TOML syntax errors. Raises ScenarioError on any invalid input.
    """
    if source_path is not None:
        source_path = Path(source_path)
    if base_dir is None and source_path is not None:
        base_dir = source_path.parent
    base_dir = Path(base_dir) if base_dir is not None else None
    where = source_path.name if source_path is not None else "scenario"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(
            where,
            f"is not valid TOML: {exc}",
            'fix the syntax there (strings need quotes, e.g. focal_length = "14 mm"; each key once per section)',
        ) from None

    _check_keys(data, tuple(SECTIONS), "")
    sections = {name: _table(data.get(name, {}), name) for name in SECTIONS}
    for name, table in sections.items():
        _check_keys(table, SECTIONS[name], name)
    for name in _REQUIRED_SECTIONS:
        if name not in data:
            raise ScenarioError(name, f"section [{name}] is missing", f"add it, with keys from: {', '.join(SECTIONS[name])}")

    name, description, seed = _parse_meta(sections["scenario"])
    orbit = _parse_orbit(sections["orbit"], base_dir)
    start = _parse_start(sections["time"], orbit)
    camera = _parse_camera(sections["camera"])
    attitude = _parse_attitude(sections["attitude"], camera, base_dir)
    if start is None:
        date_obs = attitude.pointing.date_obs if isinstance(attitude, WcsAttitudeSpec) else None
        if date_obs is None:
            fix = (
                "add start to [time], e.g. start = \"2012-03-15T02:00:00\" (the WCS header has no DATE-OBS)"
                if isinstance(attitude, WcsAttitudeSpec)
                else 'add [time] with start = "2012-03-15T02:00:00" (UTC)'
            )
            raise ScenarioError("time.start", "is missing", fix)
        start = date_obs.utc
    exposure = _parse_exposure(sections["exposure"])
    allow_sunlit = sections["exposure"].get("allow_sunlit", False)
    if not isinstance(allow_sunlit, bool):
        raise ScenarioError("exposure.allow_sunlit", f"{_show(allow_sunlit)} is not true or false",
                            "write allow_sunlit = true to render outside the Earth's shadow")
    sky = _parse_sky(sections["sky"])
    earth = _parse_earth(sections["earth"])
    render = _parse_render(sections["render"])
    sensor = _parse_sensor(sections["sensor"], camera) if "sensor" in data else None

    return Scenario(
        name=name,
        description=description,
        seed=seed,
        start=start,
        duration_s=exposure.duration_s,
        orbit=orbit,
        attitude=attitude,
        camera=camera,
        sky=sky,
        earth=earth,
        render=render,
        text=text,
        source_path=source_path,
        exposure=exposure,
        allow_sunlit=allow_sunlit,
        sensor=sensor,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate the scenario file at ``path`` (UTF-8 TOML).

    Relative paths inside it are taken from the file's folder. A missing or unreadable file raises
    ScenarioError with field ``"scenario"``.
    """
    p = Path(path).expanduser()
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError("scenario", f'file "{p}" does not exist', "check the path of the scenario file") from None
    except IsADirectoryError:
        raise ScenarioError("scenario", f'"{p}" is a folder, not a file', "give the path of a .toml scenario file") from None
    except OSError as exc:
        raise ScenarioError("scenario", f'cannot read "{p}": {exc.strerror or exc}', "check the path and its permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError("scenario", f'"{p}" is not UTF-8 text (byte {exc.start})', "save the scenario as UTF-8 TOML") from None
    return parse_scenario(text, base_dir=p.resolve().parent, source_path=p)
