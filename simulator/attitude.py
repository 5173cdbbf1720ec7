"""Camera attitude: where the camera points, as R_icrs_to_cam(t).

Frames and conventions (DESIGN.md §2):

* ``R_icrs_to_cam`` is a 3x3 rotation with ``v_cam = R @ v_icrs``; its rows are the camera axes
  expressed in ICRS axes (GCRS shares them). Camera frame (OpenCV): +z along the boresight,
  +x toward increasing column (image right), +y toward increasing row (image down).
* LVLH ("XVV") from the observer's GCRS position r and velocity v: +Z = -r/|r| (nadir),
  +Y = (Z x v)/|Z x v| (minus the orbit normal, starboard for the ISS flying +XVV),
  +X = Y x Z (along the velocity for a circular orbit). ``R_icrs_to_lvlh`` has rows X, Y, Z.
* Camera mount in LVLH (azimuth, elevation, roll), all radians:
  start looking along azimuth ``az`` (from +X toward +Y) in the local horizontal plane with image
  down (+y_cam) toward nadir (+Z): z = (cos az, sin az, 0), y = (0, 0, 1), x = y x z; so
  az = el = roll = 0 looks forward with starboard at image right. Pitch up by ``el`` about x:
  z' = z cos el - y sin el, y' = y cos el + z sin el (el = +90 deg looks at the zenith,
  -90 deg at nadir). Roll about the boresight: x'' = x' cos roll + y' sin roll,
  y'' = -x' sin roll + y' cos roll (positive roll turns +x_cam toward +y_cam).
  ``R_lvlh_to_cam`` has rows x'', y'', z'' in LVLH; R_icrs_to_cam(t) = R_lvlh_to_cam @ R_icrs_to_lvlh(t).
* Inertial pointing (ra, dec, roll), radians: boresight at (ra, dec) in ICRS; ``roll`` is the position
  angle of image "up" (-y_cam) measured from celestial north through east. roll = 0 gives north up
  and east left (+x_cam toward west), as in an ordinary, non-mirrored photo of the sky.
* Quaternions are scalar-first (w, x, y, z) with
  ``scipy.spatial.transform.Rotation.from_quat(q, scalar_first=True).as_matrix() == R``;
  returned with the canonical sign w >= 0.

A solved photo (astrometry.net ``.wcs``) gives the pointing at its DATE-OBS through
:func:`read_wcs_pointing`; :func:`attitude_from_wcs` turns it into an inertial hold or a fixed LVLH
mount.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.time import Time

from simulator.errors import ScenarioError

__all__ = [
    "lvlh_matrices",
    "mount_matrix",
    "mount_angles",
    "inertial_matrix",
    "inertial_angles",
    "matrix_from_quaternion",
    "quaternions_from_matrices",
    "LvlhAttitude",
    "InertialAttitude",
    "WcsPointing",
    "read_wcs_pointing",
    "attitude_from_wcs",
]

# Below this horizontal component of a unit boresight, the azimuth (or right ascension) is
# undefined (gimbal lock / celestial pole) and is set to zero; roll then carries the whole turn.
_POLE_EPS = 1e-12


def _wrap_pi(angle: float) -> float:
    """Wrap an angle in radians to (-pi, pi]."""
    a = math.remainder(angle, 2.0 * math.pi)  # in [-pi, pi]
    return math.pi if a <= -math.pi else a


def _as_rotation(R, name: str) -> np.ndarray:
    """Validate a 3x3 rotation matrix (orthonormal to 1e-6, det +1) and return a float64 copy."""
    M = np.array(R, dtype=np.float64)
    if M.shape != (3, 3):
        raise ValueError(f"{name} must be 3x3, got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError(f"{name} has non-finite entries")
    if np.max(np.abs(M @ M.T - np.eye(3))) > 1e-6 or np.linalg.det(M) < 0.0:
        raise ValueError(f"{name} is not a proper rotation (orthonormal, det +1)")
    M.setflags(write=False)
    return M


# --------------------------------------------------------------------------------------------
# LVLH
# --------------------------------------------------------------------------------------------


def lvlh_matrices(pos_km: np.ndarray, vel_km_s: np.ndarray) -> np.ndarray:
    """R_icrs_to_lvlh for observer states: rows X, Y, Z of the LVLH frame in GCRS/ICRS axes.

    pos_km, vel_km_s: GCRS position (km) and velocity (km/s), shape [..., 3] (typically [K, 3]).
    Returns float64 [..., 3, 3] with ``v_lvlh = R @ v_icrs``. Units of the inputs only matter
    through their directions. Raises ScenarioError when r and v are parallel (no orbit plane).
    """
    r = np.asarray(pos_km, dtype=np.float64)
    v = np.asarray(vel_km_s, dtype=np.float64)
    if r.shape[-1:] != (3,) or v.shape[-1:] != (3,):
        raise ValueError(f"position and velocity must have a last axis of 3, got {r.shape} and {v.shape}")
    r, v = np.broadcast_arrays(r, v)
    rn = np.linalg.norm(r, axis=-1, keepdims=True)
    if np.any(~(rn > 0)):
        raise ScenarioError("orbit", "observer position is zero or not finite", "check the orbit state")
    Z = -r / rn
    zv = np.cross(Z, v)
    zvn = np.linalg.norm(zv, axis=-1, keepdims=True)
    if np.any(~(zvn > 1e-12 * np.linalg.norm(v, axis=-1, keepdims=True))):
        raise ScenarioError(
            "orbit",
            "observer velocity is zero or parallel to its position, so the LVLH frame is undefined",
            "check the orbit state (position in km, velocity in km/s, GCRS)",
        )
    Y = zv / zvn
    X = np.cross(Y, Z)
    return np.stack([X, Y, Z], axis=-2)


def mount_matrix(azimuth_rad: float, elevation_rad: float, roll_rad: float) -> np.ndarray:
    """R_lvlh_to_cam (3x3, rows = camera x, y, z axes in LVLH) for a mount (az, el, roll) in radians.

    See the module docstring for the exact definition of the angles.
    """
    ca, sa = math.cos(azimuth_rad), math.sin(azimuth_rad)
    ce, se = math.cos(elevation_rad), math.sin(elevation_rad)
    cr, sr = math.cos(roll_rad), math.sin(roll_rad)
    z0 = np.array([ca, sa, 0.0])
    y0 = np.array([0.0, 0.0, 1.0])
    x0 = np.cross(y0, z0)  # (-sin az, cos az, 0)
    z1 = z0 * ce - y0 * se
    y1 = y0 * ce + z0 * se
    x1 = x0
    x2 = x1 * cr + y1 * sr
    y2 = -x1 * sr + y1 * cr
    return np.stack([x2, y2, z1])


def mount_angles(R_lvlh_to_cam) -> tuple[float, float, float]:
    """Inverse of :func:`mount_matrix`: (azimuth, elevation, roll) in radians.

    azimuth in (-pi, pi], elevation in [-pi/2, pi/2], roll in (-pi, pi]. Looking straight up or
    down (|el| = 90 deg) the azimuth is undefined; it is then returned as 0 and roll carries the turn.
    """
    R = np.asarray(R_lvlh_to_cam, dtype=np.float64)
    if R.shape != (3, 3):
        raise ValueError(f"R_lvlh_to_cam must be 3x3, got shape {R.shape}")
    z = R[2]
    horiz = math.hypot(z[0], z[1])
    el = math.atan2(-z[2], horiz)
    az = math.atan2(z[1], z[0]) if horiz > _POLE_EPS else 0.0
    ca, sa = math.cos(az), math.sin(az)
    ce, se = math.cos(el), math.sin(el)
    x_ref = np.array([-sa, ca, 0.0])  # camera x after azimuth and elevation, before roll
    y_ref = np.array([ca * se, sa * se, ce])  # camera y after azimuth and elevation, before roll
    roll = math.atan2(float(R[0] @ y_ref), float(R[0] @ x_ref))
    return _wrap_pi(az), el, _wrap_pi(roll)


# --------------------------------------------------------------------------------------------
# Inertial
# --------------------------------------------------------------------------------------------


def _north_east(ra: float, dec: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit boresight, local north and local east at (ra, dec) in ICRS (east x north = boresight)."""
    cr, sr = math.cos(ra), math.sin(ra)
    cd, sd = math.cos(dec), math.sin(dec)
    b = np.array([cd * cr, cd * sr, sd])
    north = np.array([-sd * cr, -sd * sr, cd])
    east = np.array([-sr, cr, 0.0])
    return b, north, east


def inertial_matrix(ra_rad: float, dec_rad: float, roll_rad: float) -> np.ndarray:
    """R_icrs_to_cam (3x3) for a boresight at (ra, dec) and roll, all radians.

    roll is the position angle of image up (-y_cam) from north through east; roll = 0 puts north up
    and east left (+x_cam = west).
    """
    b, north, east = _north_east(ra_rad, dec_rad)
    c, s = math.cos(roll_rad), math.sin(roll_rad)
    up = north * c + east * s
    y = -up
    x = np.cross(y, b)  # = -east cos(roll) + north sin(roll)
    return np.stack([x, y, b])


def inertial_angles(R_icrs_to_cam) -> tuple[float, float, float]:
    """Inverse of :func:`inertial_matrix`: (ra, dec, roll) in radians.

    ra in [0, 2 pi), dec in [-pi/2, pi/2], roll in (-pi, pi]. At a celestial pole ra is returned as 0
    and roll is measured from the "north" direction of ra = 0.
    """
    R = np.asarray(R_icrs_to_cam, dtype=np.float64)
    if R.shape != (3, 3):
        raise ValueError(f"R_icrs_to_cam must be 3x3, got shape {R.shape}")
    z = R[2]
    horiz = math.hypot(z[0], z[1])
    dec = math.atan2(z[2], horiz)
    ra = math.atan2(z[1], z[0]) % (2.0 * math.pi) if horiz > _POLE_EPS else 0.0
    if ra >= 2.0 * math.pi:  # float rounding of a tiny negative angle
        ra = 0.0
    _, north, east = _north_east(ra, dec)
    up = -R[1]
    roll = math.atan2(float(up @ east), float(up @ north))
    return ra, dec, _wrap_pi(roll)


# --------------------------------------------------------------------------------------------
# Quaternions
# --------------------------------------------------------------------------------------------


def matrix_from_quaternion(q) -> np.ndarray:
    """Rotation matrix [..., 3, 3] from scalar-first quaternion(s) (w, x, y, z) [..., 4].

    The quaternion is normalised first; the result equals
    ``Rotation.from_quat(q, scalar_first=True).as_matrix()``.
    """
    q = np.asarray(q, dtype=np.float64)
    if q.shape[-1:] != (4,):
        raise ValueError(f"quaternion must have a last axis of 4, got shape {q.shape}")
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(~(n > 0)) or not np.all(np.isfinite(q)):
        raise ValueError("quaternion has zero length or non-finite entries")
    w, x, y, z = np.moveaxis(q / n, -1, 0)
    R = np.empty(q.shape[:-1] + (3, 3))
    R[..., 0, 0] = 1.0 - 2.0 * (y * y + z * z)
    R[..., 0, 1] = 2.0 * (x * y - w * z)
    R[..., 0, 2] = 2.0 * (x * z + w * y)
    R[..., 1, 0] = 2.0 * (x * y + w * z)
    R[..., 1, 1] = 1.0 - 2.0 * (x * x + z * z)
    R[..., 1, 2] = 2.0 * (y * z - w * x)
    R[..., 2, 0] = 2.0 * (x * z - w * y)
    R[..., 2, 1] = 2.0 * (y * z + w * x)
    R[..., 2, 2] = 1.0 - 2.0 * (x * x + y * y)
    return R


def quaternions_from_matrices(R) -> np.ndarray:
    """Scalar-first unit quaternions [..., 4] from rotation matrices [..., 3, 3], with w >= 0.

    Uses the largest of |w|, |x|, |y|, |z| as pivot (numerically stable for every rotation). When
    w == 0 exactly (a half turn) the sign is fixed by making the first non-zero of x, y, z positive.
    """
    R = np.asarray(R, dtype=np.float64)
    if R.shape[-2:] != (3, 3):
        raise ValueError(f"rotation matrices must have trailing shape (3, 3), got {R.shape}")
    m00, m01, m02 = R[..., 0, 0], R[..., 0, 1], R[..., 0, 2]
    m10, m11, m12 = R[..., 1, 0], R[..., 1, 1], R[..., 1, 2]
    m20, m21, m22 = R[..., 2, 0], R[..., 2, 1], R[..., 2, 2]
    # 4 * component^2 for w, x, y, z
    sq = np.stack(
        [
            1.0 + m00 + m11 + m22,
            1.0 + m00 - m11 - m22,
            1.0 - m00 + m11 - m22,
            1.0 - m00 - m11 + m22,
        ],
        axis=-1,
    )
    pivot = np.argmax(sq, axis=-1)
    p2 = np.take_along_axis(sq, pivot[..., None], axis=-1)[..., 0]  # 4 * pivot^2 (>= 1)
    # Products 4*a*b for each pair, from the antisymmetric and symmetric parts. Each candidate row is
    # 4*p*(w, x, y, z) for pivot component p > 0; normalising it gives the quaternion.
    wx, wy, wz = m21 - m12, m02 - m20, m10 - m01
    xy, xz, yz = m01 + m10, m02 + m20, m12 + m21
    q = np.empty(R.shape[:-2] + (4,))
    cand = [
        np.stack([p2, wx, wy, wz], axis=-1),  # pivot w
        np.stack([wx, p2, xy, xz], axis=-1),  # pivot x
        np.stack([wy, xy, p2, yz], axis=-1),  # pivot y
        np.stack([wz, xz, yz, p2], axis=-1),  # pivot z
    ]
    for k in range(4):
        sel = pivot == k
        q[sel] = cand[k][sel]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    # Canonical sign: w >= 0; for w == 0 the first non-zero vector component positive.
    flip = q[..., 0] < 0
    zero_w = q[..., 0] == 0
    first = np.take_along_axis(q[..., 1:], np.argmax(q[..., 1:] != 0, axis=-1)[..., None], axis=-1)[..., 0]
    flip |= zero_w & (first < 0)
    q[flip] *= -1.0
    return q


# --------------------------------------------------------------------------------------------
# Attitude models
# --------------------------------------------------------------------------------------------


def _fmt_deg(angle_rad: float) -> str:
    value = round(math.degrees(angle_rad), 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{value:.2f}°"


@dataclass(frozen=True, eq=False)
class LvlhAttitude:
    """A camera fixed to the ISS flying LVLH: R_icrs_to_cam(t) = R_lvlh_to_cam @ R_icrs_to_lvlh(t).

    R_lvlh_to_cam: 3x3 rotation, rows = camera x, y, z axes in LVLH (see :func:`mount_matrix`).
    """

    R_lvlh_to_cam: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "R_lvlh_to_cam", _as_rotation(self.R_lvlh_to_cam, "R_lvlh_to_cam"))

    @classmethod
    def from_angles(cls, azimuth_rad: float, elevation_rad: float, roll_rad: float) -> "LvlhAttitude":
        """Mount from (azimuth, elevation, roll) in radians."""
        return cls(mount_matrix(azimuth_rad, elevation_rad, roll_rad))

    def matrices(self, pos_km: np.ndarray, vel_km_s: np.ndarray) -> np.ndarray:
        """R_icrs_to_cam [..., 3, 3] at GCRS observer states pos_km, vel_km_s [..., 3] (km, km/s)."""
        return self.R_lvlh_to_cam @ lvlh_matrices(pos_km, vel_km_s)

    def describe(self) -> str:
        """One line for people, e.g. ``LVLH mount az 0.00° el -12.00° roll 0.00°``."""
        az, el, roll = mount_angles(self.R_lvlh_to_cam)
        return f"LVLH mount az {_fmt_deg(az)} el {_fmt_deg(el)} roll {_fmt_deg(roll)}"


@dataclass(frozen=True, eq=False)
class InertialAttitude:
    """A camera held fixed against the stars: the same R_icrs_to_cam at every time.

    R_icrs_to_cam: 3x3 rotation, rows = camera x, y, z axes in ICRS (see :func:`inertial_matrix`).
    """

    R_icrs_to_cam: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "R_icrs_to_cam", _as_rotation(self.R_icrs_to_cam, "R_icrs_to_cam"))

    @classmethod
    def from_angles(cls, ra_rad: float, dec_rad: float, roll_rad: float) -> "InertialAttitude":
        """Pointing from (ra, dec, roll) in radians."""
        return cls(inertial_matrix(ra_rad, dec_rad, roll_rad))

    def matrices(self, pos_km: np.ndarray, vel_km_s: np.ndarray) -> np.ndarray:
        """R_icrs_to_cam repeated for each state: [..., 3, 3] for pos_km [..., 3] (a fresh array)."""
        shape = np.shape(pos_km)[:-1]
        return np.broadcast_to(self.R_icrs_to_cam, shape + (3, 3)).copy()

    def describe(self) -> str:
        """One line for people, e.g. ``inertial RA 83.82° Dec -5.39° roll 0.00°``."""
        ra, dec, roll = inertial_angles(self.R_icrs_to_cam)
        ra_deg = round(math.degrees(ra), 2) % 360.0
        return f"inertial RA {ra_deg + 0.0:.2f}° Dec {_fmt_deg(dec)} roll {_fmt_deg(roll)}"


# --------------------------------------------------------------------------------------------
# Solved photos (WCS)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WcsPointing:
    """Camera pointing read from a solved photo.

    R_icrs_to_cam: 3x3 rotation at the photo's time (camera frame as in DESIGN.md §2).
    date_obs: DATE-OBS as an astropy Time (UTC) or None when the header has none.
    pixel_scale_arcsec: the WCS pixel scale at the principal point, arcsec per pixel (geometric mean
    of the two axes), to compare with the camera's pixel_pitch / focal_length.
    source: the path the pointing was read from.
    """

    R_icrs_to_cam: np.ndarray
    date_obs: Time | None
    pixel_scale_arcsec: float
    source: str


def _load_header(path: Path, field: str):
    """The FITS header holding a celestial WCS: from a FITS file (header-only or image) or plain text."""
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdul:
            headers = [hdu.header.copy() for hdu in hdul]
    except Exception:  # not a FITS file: try a plain-text header, one card per line
        headers = []
    for header in headers:
        if "CTYPE1" in header or "CTYPE2" in header:
            return header
    try:
        header = fits.Header.fromfile(str(path), sep="\n", endcard=False, padding=False)
    except Exception as exc:
        raise ScenarioError(
            field,
            f"cannot read a FITS header from '{path}' ({exc.__class__.__name__}: {exc})",
            "give the .wcs file written by astrometry.net, a solved FITS image, or a plain-text FITS header",
        ) from None
    if "CTYPE1" in header or "CTYPE2" in header:
        return header
    if headers:
        return headers[0]
    raise ScenarioError(
        field,
        f"'{path}' holds no WCS (no CTYPE1/CTYPE2 keywords)",
        "solve the photo (e.g. with astrometry.net) and give the .wcs file it writes",
    )


def _header_image_size(header) -> tuple[int, int] | None:
    """(width, height) in pixels from IMAGEW/IMAGEH (astrometry.net) or NAXIS1/NAXIS2, if present."""
    for kw, kh in (("IMAGEW", "IMAGEH"), ("NAXIS1", "NAXIS2")):
        w, h = header.get(kw), header.get(kh)
        if isinstance(w, (int, float)) and isinstance(h, (int, float)) and w > 0 and h > 0:
            return int(round(w)), int(round(h))
    return None


def _parse_date_obs(header, field: str) -> Time | None:
    value = header.get("DATE-OBS")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    # FITS TIMESYS names the time scale of DATE-OBS; without it (the usual case for photos) UTC.
    timesys = str(header.get("TIMESYS", "UTC")).strip().lower()
    scale = timesys if timesys in Time.SCALES else "utc"
    try:
        return Time(str(value).strip(), scale=scale).utc
    except Exception:
        raise ScenarioError(
            field,
            f"DATE-OBS '{value}' in the WCS header is not a valid date/time",
            "write DATE-OBS as ISO 8601 UTC (e.g. 2012-03-15T02:00:00) or remove it and give the time in [time]",
        ) from None


def read_wcs_pointing(path, camera, field: str = "attitude.wcs") -> WcsPointing:
    """Camera pointing from a solved photo's WCS (astrometry.net ``.wcs``, FITS image or text header).

    The photo pixel (col, row), 0-based with rows increasing downward as in the photo file, maps to
    the sky with ``wcs.all_pix2world(col, row, 0)`` (SIP distortion included when present). The
    boresight is the sky direction at the camera's principal point (camera.cx, camera.cy); camera +x
    is the direction of increasing column there, made orthogonal to the boresight (Gram–Schmidt),
    and y = z x x. Equatorial frames ICRS and FK5 J2000 are used as ICRS axes directly (they differ by
    < 0.03"); other celestial frames are converted to ICRS.

    Raises ScenarioError (naming ``field``) if the file is missing or unreadable, holds no celestial
    WCS, was solved on an image of another size than the camera's, or is mirrored.
    """
    from astropy.coordinates import FK5, ICRS, SkyCoord
    from astropy.wcs import WCS, FITSFixedWarning
    from astropy.wcs.utils import wcs_to_celestial_frame

    p = Path(path)
    if not p.is_file():
        raise ScenarioError(field, f"WCS file '{p}' not found", "check the path (the .wcs file from astrometry.net)")
    header = _load_header(p, field)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, relax=True)
            if wcs.naxis != 2 and wcs.has_celestial:
                wcs = wcs.celestial
    except Exception as exc:
        raise ScenarioError(
            field, f"invalid WCS in '{p}' ({exc.__class__.__name__}: {exc})", "re-solve the photo"
        ) from None
    if not wcs.has_celestial or wcs.naxis != 2:
        raise ScenarioError(
            field,
            f"'{p}' has no two-axis celestial WCS (CTYPE1/2 such as RA---TAN / DEC--TAN)",
            "give the .wcs file astrometry.net wrote for the photo",
        )

    size = _header_image_size(header)
    if size is not None and size != (camera.width, camera.height):
        raise ScenarioError(
            field,
            f"the WCS was solved on a {size[0]}x{size[1]} image but the camera is {camera.width}x{camera.height}",
            "solve the full-size, uncropped photo, or set camera.width and camera.height to the photo's size",
        )

    try:
        frame = wcs_to_celestial_frame(wcs)
    except Exception:
        raise ScenarioError(
            field, f"cannot tell the celestial frame of the WCS in '{p}'", "use an equatorial (RA/Dec) WCS"
        ) from None
    as_icrs = isinstance(frame, ICRS) or (isinstance(frame, FK5) and frame.equinox == Time("J2000"))
    lng, lat = wcs.wcs.lng, wcs.wcs.lat

    def sky(cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Unit ICRS vectors [N, 3] for photo pixels (0-based col, row)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            world = wcs.all_pix2world(np.column_stack([cols, rows]), 0)
        lon, la = np.radians(world[:, lng]), np.radians(world[:, lat])
        if not as_icrs:
            c = SkyCoord(lon, la, unit="rad", frame=frame).icrs
            lon, la = c.ra.rad, c.dec.rad
        return np.column_stack([np.cos(la) * np.cos(lon), np.cos(la) * np.sin(lon), np.sin(la)])

    h = 1.0  # pixel step for the local derivatives (central differences)
    cx, cy = float(camera.cx), float(camera.cy)
    pts = sky(np.array([cx, cx + h, cx - h, cx, cx]), np.array([cy, cy, cy, cy + h, cy - h]))
    if not np.all(np.isfinite(pts)):
        raise ScenarioError(field, f"the WCS in '{p}' is undefined at the image centre", "re-solve the photo")
    z = pts[0] / np.linalg.norm(pts[0])
    d_col = (pts[1] - pts[2]) / (2 * h)  # rad per pixel along increasing column
    d_row = (pts[3] - pts[4]) / (2 * h)  # rad per pixel along increasing row (image down)
    area = float(np.cross(d_col, d_row) @ z)  # signed: > 0 for a real (non-mirrored) photo
    if not area > 0:
        raise ScenarioError(
            field,
            f"the WCS in '{p}' is mirrored (north up puts east to the right), which no camera lens gives",
            "flip the image horizontally before solving",
        )
    x = d_col - (d_col @ z) * z
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    scale_arcsec = math.degrees(math.sqrt(area)) * 3600.0
    return WcsPointing(
        R_icrs_to_cam=_as_rotation(R, "R_icrs_to_cam"),
        date_obs=_parse_date_obs(header, field),
        pixel_scale_arcsec=scale_arcsec,
        source=str(p),
    )


def attitude_from_wcs(
    pointing: WcsPointing, hold: str, pos_km: np.ndarray, vel_km_s: np.ndarray
) -> LvlhAttitude | InertialAttitude:
    """Attitude that reproduces a solved photo's pointing at its DATE-OBS.

    hold "inertial": the camera keeps the photo's R_icrs_to_cam for the whole exposure.
    hold "lvlh": the camera is fixed in LVLH, with the mount R_lvlh_to_cam = R_wcs @ R_icrs_to_lvlh(t_obs).T,
    where pos_km, vel_km_s ([3] each, km and km/s, GCRS) are the ISS state at DATE-OBS. The inertial
    hold ignores the state.
    """
    mode = str(hold).strip().lower()
    if mode == "inertial":
        return InertialAttitude(pointing.R_icrs_to_cam)
    if mode == "lvlh":
        r = np.asarray(pos_km, dtype=np.float64).reshape(3)
        v = np.asarray(vel_km_s, dtype=np.float64).reshape(3)
        R_lvlh = lvlh_matrices(r, v)
        return LvlhAttitude(pointing.R_icrs_to_cam @ R_lvlh.T)
    raise ScenarioError("attitude.hold", f"unknown hold '{hold}'", 'use hold = "inertial" or hold = "lvlh"')
