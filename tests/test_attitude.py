"""Tests for simulator.attitude: LVLH frame, mount and inertial angles, quaternions, WCS pointing.

Each test checks numbers against an independent reference (orbital mechanics by hand, scipy's
Rotation, astropy's SkyCoord / WCS) with a stated tolerance.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from simulator.attitude import (
    InertialAttitude,
    LvlhAttitude,
    WcsPointing,
    attitude_from_wcs,
    inertial_angles,
    inertial_matrix,
    lvlh_matrices,
    matrix_from_quaternion,
    mount_angles,
    mount_matrix,
    quaternions_from_matrices,
    read_wcs_pointing,
)
from simulator.camera.projection import Camera, project_camera_points
from simulator.errors import ScenarioError

MU_EARTH = 398600.4418  # km^3/s^2 (WGS84 / EGM96 GM)
ARCSEC = math.pi / 180 / 3600


def angle_between(a, b):
    """Angle in radians between vectors along the last axis (atan2 form, accurate for small angles)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1))


def wrapped_diff(a, b):
    """a - b wrapped to (-pi, pi]."""
    return math.remainder(a - b, 2 * math.pi)


def kepler_states(a_km, e, inc_rad, raan_rad, argp_rad, nus_rad):
    """GCRS position/velocity [K, 3] for true anomalies nus from classical elements (perifocal -> inertial)."""
    p = a_km * (1 - e * e)
    nus = np.asarray(nus_rad, float)
    r = p / (1 + e * np.cos(nus))
    r_pf = np.stack([r * np.cos(nus), r * np.sin(nus), np.zeros_like(nus)], axis=-1)
    v_pf = np.sqrt(MU_EARTH / p) * np.stack([-np.sin(nus), e + np.cos(nus), np.zeros_like(nus)], axis=-1)
    Q = Rotation.from_euler("ZXZ", [raan_rad, inc_rad, argp_rad]).as_matrix()  # perifocal -> inertial
    return r_pf @ Q.T, v_pf @ Q.T


# Near-circular ISS-like orbit: 420 km, e = 0.0007, i = 51.64 deg.
POS, VEL = kepler_states(6378.137 + 420.0, 0.0007, math.radians(51.64), 1.1, 0.4, np.linspace(0, 2 * np.pi, 37))
# Exactly circular (v perpendicular to r).
POS_C, VEL_C = kepler_states(6378.137 + 420.0, 0.0, math.radians(51.64), 2.0, 0.0, np.linspace(0, 2 * np.pi, 13))


# ---------------------------------------------------------------------------------------------- LVLH


def test_lvlh_axes_orthonormal_right_handed_and_along_velocity():
    R = lvlh_matrices(POS, VEL)
    assert R.shape == (len(POS), 3, 3)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-14)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-14)
    X, Y, Z = R[:, 0], R[:, 1], R[:, 2]
    # +Z = nadir exactly; +Y = minus the orbit normal h = r x v.
    np.testing.assert_allclose(Z, -POS / np.linalg.norm(POS, axis=1, keepdims=True), atol=1e-15)
    h = np.cross(POS, VEL)
    np.testing.assert_allclose(Y, -h / np.linalg.norm(h, axis=1, keepdims=True), atol=1e-14)
    # X within 0.1 deg of the velocity (flight-path angle of a near-circular orbit is ~e = 0.04 deg).
    assert np.max(np.degrees(angle_between(X, VEL))) < 0.1
    assert np.max(np.degrees(angle_between(X, VEL))) > 0.0  # the tolerance is doing work, not identity


def test_lvlh_degenerate_state_is_rejected():
    with pytest.raises(ScenarioError):
        lvlh_matrices(np.array([[7000.0, 0, 0]]), np.array([[1.0, 0, 0]]))


def test_mount_zero_looks_along_velocity_with_starboard_right():
    att = LvlhAttitude(mount_matrix(0.0, 0.0, 0.0))
    R = att.matrices(POS_C, VEL_C)
    v_hat = VEL_C / np.linalg.norm(VEL_C, axis=1, keepdims=True)
    np.testing.assert_allclose(R[:, 2], v_hat, atol=1e-12)  # boresight = velocity (circular orbit)
    h = np.cross(POS_C, VEL_C)
    np.testing.assert_allclose(R[:, 0], -h / np.linalg.norm(h, axis=1, keepdims=True), atol=1e-12)  # +x = starboard
    np.testing.assert_allclose(R[:, 1], -POS_C / np.linalg.norm(POS_C, axis=1, keepdims=True), atol=1e-12)  # down = nadir


def test_mount_elevation_minus_90_is_nadir_and_plus_90_zenith():
    r_hat = POS / np.linalg.norm(POS, axis=1, keepdims=True)
    down = LvlhAttitude(mount_matrix(0.3, -math.pi / 2, 0.2)).matrices(POS, VEL)
    np.testing.assert_allclose(down[:, 2], -r_hat, atol=1e-12)
    up = LvlhAttitude(mount_matrix(-1.0, math.pi / 2, 0.0)).matrices(POS, VEL)
    np.testing.assert_allclose(up[:, 2], r_hat, atol=1e-12)


def test_mount_azimuth_elevation_roll_senses():
    # az = +90 deg looks to starboard (+Y); el = +30 deg tilts the boresight toward zenith (-Z).
    np.testing.assert_allclose(mount_matrix(math.pi / 2, 0, 0)[2], [0, 1, 0], atol=1e-15)
    el = math.radians(30)
    np.testing.assert_allclose(mount_matrix(0, el, 0)[2], [math.cos(el), 0, -math.sin(el)], atol=1e-15)
    # Positive roll turns +x_cam toward +y_cam: after +90 deg roll, image right = old image down (nadir).
    R = mount_matrix(0, 0, math.pi / 2)
    np.testing.assert_allclose(R[0], [0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(R[1], [0, -1, 0], atol=1e-15)  # image down = port


def test_describe_strings():
    att = LvlhAttitude(mount_matrix(0.0, math.radians(-12.0), 0.0))
    assert att.describe() == "LVLH mount az 0.00° el -12.00° roll 0.00°"
    inert = InertialAttitude(inertial_matrix(math.radians(83.82), math.radians(-5.39), 0.0))
    assert inert.describe() == "inertial RA 83.82° Dec -5.39° roll 0.00°"
    R = inert.matrices(POS[:5], VEL[:5])
    assert R.shape == (5, 3, 3)
    np.testing.assert_array_equal(R, np.broadcast_to(inert.R_icrs_to_cam, (5, 3, 3)))


# ------------------------------------------------------------------------------------ round trips

angle = st.floats(-math.pi + 1e-9, math.pi, allow_nan=False)
elev = st.floats(math.radians(-89.9), math.radians(89.9), allow_nan=False)
dec_s = st.floats(math.radians(-89.9), math.radians(89.9), allow_nan=False)
ra_s = st.floats(0.0, 2 * math.pi - 1e-9, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(az=angle, el=elev, roll=angle)
def test_mount_angles_round_trip(az, el, roll):
    R = mount_matrix(az, el, roll)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-14)
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-14)
    az2, el2, roll2 = mount_angles(R)
    assert abs(wrapped_diff(az2, az)) < 1e-9
    assert abs(el2 - el) < 1e-12
    assert abs(wrapped_diff(roll2, roll)) < 1e-9
    np.testing.assert_allclose(mount_matrix(az2, el2, roll2), R, atol=1e-14)


@settings(max_examples=200, deadline=None)
@given(ra=ra_s, dec=dec_s, roll=angle)
def test_inertial_angles_round_trip(ra, dec, roll):
    R = inertial_matrix(ra, dec, roll)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-14)
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-14)
    ra2, dec2, roll2 = inertial_angles(R)
    assert abs(wrapped_diff(ra2, ra)) < 1e-9
    assert abs(dec2 - dec) < 1e-12
    assert abs(wrapped_diff(roll2, roll)) < 1e-9


@pytest.mark.parametrize("el", [math.pi / 2, -math.pi / 2])
def test_mount_gimbal_lock_reproduces_matrix(el):
    R = mount_matrix(0.7, el, -0.4)
    np.testing.assert_allclose(mount_matrix(*mount_angles(R)), R, atol=1e-12)


@pytest.mark.parametrize("dec", [math.pi / 2, -math.pi / 2])
def test_inertial_pole_reproduces_matrix(dec):
    R = inertial_matrix(1.3, dec, 0.5)
    np.testing.assert_allclose(inertial_matrix(*inertial_angles(R)), R, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_quaternion_convention_matches_scipy(seed):
    rot = Rotation.random(random_state=seed)
    R = rot.as_matrix()
    q = quaternions_from_matrices(R)
    assert q[0] >= 0
    assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(Rotation.from_quat(q, scalar_first=True).as_matrix(), R, atol=1e-14)
    q_ref = rot.as_quat(scalar_first=True, canonical=True)
    np.testing.assert_allclose(q, q_ref, atol=1e-14)
    np.testing.assert_allclose(matrix_from_quaternion(q), R, atol=1e-14)
    # An unnormalised quaternion of either sign gives the same matrix as scipy's.
    np.testing.assert_allclose(matrix_from_quaternion(-3.0 * q), R, atol=1e-14)


@settings(max_examples=100, deadline=None)
@given(az=angle, el=elev, roll=angle)
def test_angles_matrix_quaternion_round_trip(az, el, roll):
    R = mount_matrix(az, el, roll)
    q = quaternions_from_matrices(R)
    R2 = matrix_from_quaternion(q)
    np.testing.assert_allclose(R2, R, atol=1e-14)
    az2, el2, roll2 = mount_angles(R2)
    assert abs(wrapped_diff(az2, az)) < 1e-9 and abs(el2 - el) < 1e-9 and abs(wrapped_diff(roll2, roll)) < 1e-9


def test_quaternions_vectorised_and_half_turns():
    rots = Rotation.random(50, random_state=7)
    Rs = rots.as_matrix().reshape(5, 10, 3, 3)
    q = quaternions_from_matrices(Rs)
    assert q.shape == (5, 10, 4)
    np.testing.assert_allclose(matrix_from_quaternion(q), Rs, atol=1e-14)
    # Half turns (w = 0) and the identity.
    for R in (np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]), np.diag([-1.0, -1, 1]), np.eye(3)):
        qq = quaternions_from_matrices(R)
        np.testing.assert_allclose(Rotation.from_quat(qq, scalar_first=True).as_matrix(), R, atol=1e-15)
        assert qq[0] >= 0 and np.all(qq >= 0)


# ------------------------------------------------------------------------------ inertial sky sense

CAM_WIDE = Camera(width=600, height=400, pixel_pitch_m=8.45e-6, focal_length_m=50e-3, f_number=2.8)


def project_radec(camera, R, ra_deg, dec_deg):
    c = SkyCoord(ra_deg, dec_deg, unit="deg")
    v = np.stack(c.cartesian.xyz.value, axis=-1) if np.ndim(ra_deg) else c.cartesian.xyz.value
    return project_camera_points(camera, v @ R.T)


@pytest.mark.parametrize("dec0", [-60.0, -5.39, 0.0, 45.0])
def test_inertial_roll_zero_north_up_east_left(dec0):
    ra0 = 83.82
    R = inertial_matrix(math.radians(ra0), math.radians(dec0), 0.0)
    cam = CAM_WIDE
    centre = SkyCoord(ra0, dec0, unit="deg")
    x0, y0 = project_radec(cam, R, ra0, dec0)
    assert x0 == pytest.approx(cam.cx, abs=1e-9) and y0 == pytest.approx(cam.cy, abs=1e-9)
    north = centre.directional_offset_by(0 * u.deg, 0.5 * u.deg)
    east = centre.directional_offset_by(90 * u.deg, 0.5 * u.deg)
    xn, yn = project_radec(cam, R, north.ra.deg, north.dec.deg)
    xe, ye = project_radec(cam, R, east.ra.deg, east.dec.deg)
    d = 0.5 * math.pi / 180 * cam.fx  # ~ pixels for 0.5 deg near the centre
    assert xn == pytest.approx(cam.cx, abs=1e-6) and yn < cam.cy - 0.99 * d  # north straight up
    assert ye == pytest.approx(cam.cy, abs=1e-6) and xe < cam.cx - 0.99 * d  # east straight left


@pytest.mark.parametrize("roll_deg", [30.0, 90.0, -135.0])
def test_inertial_roll_is_position_angle_of_image_up(roll_deg):
    ra0, dec0 = 201.3, -11.2
    R = inertial_matrix(math.radians(ra0), math.radians(dec0), math.radians(roll_deg))
    cam = CAM_WIDE
    centre = SkyCoord(ra0, dec0, unit="deg")
    up = centre.directional_offset_by(roll_deg * u.deg, 0.5 * u.deg)
    left = centre.directional_offset_by((roll_deg + 90) * u.deg, 0.5 * u.deg)  # PA + 90 = east of "up"
    xu, yu = project_radec(cam, R, up.ra.deg, up.dec.deg)
    xl, yl = project_radec(cam, R, left.ra.deg, left.dec.deg)
    d = 0.5 * math.pi / 180 * cam.fx  # ~ pixels for 0.5 deg near the centre
    assert xu == pytest.approx(cam.cx, abs=1e-6) and yu < cam.cy - 0.99 * d  # PA roll straight up
    assert yl == pytest.approx(cam.cy, abs=1e-6) and xl < cam.cx - 0.99 * d  # PA roll + 90 straight left


# ----------------------------------------------------------------------------------------------- WCS

CAM = Camera(width=1200, height=800, pixel_pitch_m=8.45e-6, focal_length_m=50e-3, f_number=2.8)


def make_wcs(camera, ra_deg, dec_deg, roll_deg, mirrored=False, date_obs=None):
    """TAN WCS for a camera at (ra, dec, roll), built from astropy's own conventions.

    Photo pixels are (col, row) with row increasing downward; a real photo in those coordinates has
    det(CD) > 0. Column step: toward PA roll - 90 (image right is 90 deg west of "up");
    row step: toward PA roll + 180 (image down). Intermediate coords are (east, north) in degrees.
    """
    s = math.degrees(camera.pixel_pitch_m / camera.focal_length_m)  # deg per pixel at the centre
    rho = math.radians(roll_deg)
    col_dir = np.array([math.sin(rho - math.pi / 2), math.cos(rho - math.pi / 2)])  # (east, north)
    row_dir = np.array([math.sin(rho + math.pi), math.cos(rho + math.pi)])
    if mirrored:
        col_dir = -col_dir
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra_deg, dec_deg]
    w.wcs.crpix = [camera.cx + 1.0, camera.cy + 1.0]  # FITS CRPIX is 1-based
    w.wcs.cd = s * np.column_stack([col_dir, row_dir])
    w.wcs.radesys = "ICRS"
    header = w.to_header()
    header["IMAGEW"] = camera.width
    header["IMAGEH"] = camera.height
    if date_obs is not None:
        header["DATE-OBS"] = date_obs
    return w, header


def write_header_only(path, header):
    fits.PrimaryHDU(header=header).writeto(path, overwrite=True)
    return path


@pytest.mark.parametrize("ra0,dec0,roll0", [(83.82, -5.39, 0.0), (201.3, 62.5, 37.25), (12.0, -80.0, -150.0)])
def test_wcs_pointing_matches_known_pointing_and_astropy_projection(tmp_path, ra0, dec0, roll0):
    w, header = make_wcs(CAM, ra0, dec0, roll0, date_obs="2012-03-15T02:00:00")
    # Sanity check of the test's WCS with astropy alone: the pixel straight up from the centre lies
    # at position angle roll0.
    c0 = w.pixel_to_world(CAM.cx, CAM.cy)
    c_up = w.pixel_to_world(CAM.cx, CAM.cy - 100.0)
    assert wrapped_diff(c0.position_angle(c_up).rad, math.radians(roll0)) == pytest.approx(0.0, abs=1e-9)

    path = write_header_only(tmp_path / "photo.wcs", header)
    pointing = read_wcs_pointing(path, CAM)
    assert isinstance(pointing, WcsPointing)
    assert pointing.source == str(path)
    R = pointing.R_icrs_to_cam
    ra, dec, roll = inertial_angles(R)
    boresight_err = angle_between(R[2], SkyCoord(ra0, dec0, unit="deg").cartesian.xyz.value)
    assert boresight_err < 0.1 * ARCSEC
    assert abs(math.degrees(wrapped_diff(roll, math.radians(roll0)))) < 1e-4
    assert pointing.pixel_scale_arcsec == pytest.approx(CAM.pixel_scale_arcsec, rel=1e-6)
    assert pointing.date_obs is not None
    assert abs((pointing.date_obs - Time("2012-03-15T02:00:00", scale="utc")).to_value("s")) < 1e-6
    assert pointing.date_obs.scale == "utc"

    # 20 random stars in the field: astropy's world->pixel vs our camera model.
    rng = np.random.default_rng(42)
    px = rng.uniform(0, CAM.width - 1, 20)
    py = rng.uniform(0, CAM.height - 1, 20)
    ra_s, dec_s = w.all_pix2world(px, py, 0)
    ra_s = ra_s + rng.normal(0, 1e-4, 20)  # move off the sampled pixels
    dec_s = dec_s + rng.normal(0, 1e-4, 20)
    x_ref, y_ref = w.all_world2pix(ra_s, dec_s, 0)
    vec = np.stack(SkyCoord(ra_s, dec_s, unit="deg").cartesian.xyz.value, axis=-1)
    x, y = project_camera_points(CAM, vec @ R.T)
    np.testing.assert_allclose(x, x_ref, atol=0.01)
    np.testing.assert_allclose(y, y_ref, atol=0.01)


def test_wcs_mirrored_is_rejected(tmp_path):
    _, header = make_wcs(CAM, 83.82, -5.39, 0.0, mirrored=True)
    path = write_header_only(tmp_path / "mirror.wcs", header)
    with pytest.raises(ScenarioError) as info:
        read_wcs_pointing(path, CAM)
    assert info.value.field == "attitude.wcs"
    assert "flip the image horizontally before solving" in str(info.value)


def test_wcs_size_mismatch_missing_and_garbage(tmp_path):
    _, header = make_wcs(CAM, 10.0, 20.0, 0.0)
    path = write_header_only(tmp_path / "photo.wcs", header)
    small = Camera(width=600, height=400, pixel_pitch_m=8.45e-6, focal_length_m=50e-3, f_number=2.8)
    with pytest.raises(ScenarioError) as info:
        read_wcs_pointing(path, small)
    assert info.value.field == "attitude.wcs" and "1200x800" in str(info.value) and info.value.fix
    with pytest.raises(ScenarioError) as info:
        read_wcs_pointing(tmp_path / "nope.wcs", CAM, field="scenario.attitude.wcs")
    assert info.value.field == "scenario.attitude.wcs"
    junk = tmp_path / "junk.wcs"
    junk.write_bytes(b"\x00\x01 not a header at all \xff" * 10)
    with pytest.raises(ScenarioError):
        read_wcs_pointing(junk, CAM)


def test_wcs_from_text_header_and_full_image(tmp_path):
    _, header = make_wcs(CAM, 150.0, 30.0, 12.0)
    R_ref = read_wcs_pointing(write_header_only(tmp_path / "a.wcs", header), CAM).R_icrs_to_cam
    text = tmp_path / "a.txt"
    header.totextfile(text)
    np.testing.assert_allclose(read_wcs_pointing(text, CAM).R_icrs_to_cam, R_ref, atol=1e-15)
    image = tmp_path / "a.fits"
    fits.PrimaryHDU(data=np.zeros((CAM.height, CAM.width), np.uint8), header=header).writeto(image)
    p = read_wcs_pointing(image, CAM)
    np.testing.assert_allclose(p.R_icrs_to_cam, R_ref, atol=1e-15)
    assert p.date_obs is None


def test_wcs_with_sip_uses_distortion(tmp_path):
    # CRPIX away from the principal point plus quadratic SIP terms: the distortion changes both the
    # boresight and the local column direction at the principal point; the reader must follow it.
    _, header = make_wcs(CAM, 150.0, 30.0, 0.0)
    header["CTYPE1"] = "RA---TAN-SIP"
    header["CTYPE2"] = "DEC--TAN-SIP"
    header["CRPIX1"] = CAM.cx + 1.0 - 250.0
    header["CRPIX2"] = CAM.cy + 1.0 + 120.0
    header["A_ORDER"] = 2
    header["B_ORDER"] = 2
    header["A_2_0"] = 2e-5
    header["A_1_1"] = -1e-5
    header["B_1_1"] = 3e-5
    header["B_2_0"] = 1e-5
    path = write_header_only(tmp_path / "sip.wcs", header)
    pointing = read_wcs_pointing(path, CAM)
    _, _, roll = inertial_angles(pointing.R_icrs_to_cam)
    # Reference: astropy's own SIP mapping around the principal point.
    w_sip = WCS(header)
    assert w_sip.sip is not None
    c0 = w_sip.pixel_to_world(CAM.cx, CAM.cy)
    c_right = w_sip.pixel_to_world(CAM.cx + 0.01, CAM.cy)
    c_left = w_sip.pixel_to_world(CAM.cx - 0.01, CAM.cy)
    pa_right = c_left.position_angle(c_right).rad  # PA of image right; image up = right + 90 deg
    assert abs(math.degrees(wrapped_diff(roll, pa_right + math.pi / 2))) < 1e-4
    assert abs(math.degrees(roll)) > 0.05  # the SIP terms really rotated it
    assert angle_between(pointing.R_icrs_to_cam[2], c0.cartesian.xyz.value) < 0.1 * ARCSEC
    # Without SIP the boresight would be elsewhere (the test is sensitive to the distortion).
    w_lin = WCS(header).deepcopy()
    w_lin.sip = None
    c_lin = w_lin.pixel_to_world(CAM.cx, CAM.cy)
    assert c_lin.separation(c0).arcsec > 10


# ------------------------------------------------------------------------------------- WCS hold


def test_attitude_from_wcs_holds(tmp_path):
    _, header = make_wcs(CAM, 83.82, -5.39, 20.0, date_obs="2012-03-15T02:00:00")
    pointing = read_wcs_pointing(write_header_only(tmp_path / "p.wcs", header), CAM)
    r_obs, v_obs = POS[3], VEL[3]

    lv = attitude_from_wcs(pointing, "lvlh", r_obs, v_obs)
    assert isinstance(lv, LvlhAttitude)
    np.testing.assert_allclose(lv.matrices(r_obs[None], v_obs[None])[0], pointing.R_icrs_to_cam, atol=1e-12)
    # Over the orbit the LVLH-held camera keeps its angles to nadir and to the orbit normal, while it
    # turns against the stars.
    R_all = lv.matrices(POS, VEL)
    nadir = -POS / np.linalg.norm(POS, axis=1, keepdims=True)
    normal = np.cross(POS, VEL)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    to_nadir = angle_between(R_all[:, 2], nadir)
    to_normal = angle_between(R_all[:, 2], normal)
    np.testing.assert_allclose(to_nadir, to_nadir[3], atol=1e-9)
    np.testing.assert_allclose(to_normal, to_normal[3], atol=1e-9)
    assert np.max(angle_between(R_all[:, 2], pointing.R_icrs_to_cam[2])) > 0.5

    inert = attitude_from_wcs(pointing, "inertial", r_obs, v_obs)
    assert isinstance(inert, InertialAttitude)
    np.testing.assert_array_equal(inert.matrices(POS, VEL), np.broadcast_to(pointing.R_icrs_to_cam, (len(POS), 3, 3)))

    with pytest.raises(ScenarioError) as info:
        attitude_from_wcs(pointing, "sideways", r_obs, v_obs)
    assert info.value.field == "attitude.hold"


def test_attitude_rejects_non_rotation():
    with pytest.raises(ValueError):
        LvlhAttitude(np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(ValueError):
        InertialAttitude(np.ones((3, 3)))


def test_wcs_frames_fk5_j2000_as_icrs_and_fk4_converted(tmp_path):
    _, header = make_wcs(CAM, 150.0, 30.0, 12.0)
    R_icrs = read_wcs_pointing(write_header_only(tmp_path / "icrs.wcs", header), CAM).R_icrs_to_cam
    # astrometry.net writes EQUINOX = 2000.0 without RADESYS (astropy reads FK5 J2000): taken as ICRS axes.
    del header["RADESYS"]
    header["EQUINOX"] = 2000.0
    R_fk5 = read_wcs_pointing(write_header_only(tmp_path / "fk5.wcs", header), CAM).R_icrs_to_cam
    np.testing.assert_allclose(R_fk5, R_icrs, atol=1e-15)
    # An FK4 B1950 WCS is converted to ICRS (reference: astropy SkyCoord).
    header["RADESYS"] = "FK4"
    header["EQUINOX"] = 1950.0
    R_fk4 = read_wcs_pointing(write_header_only(tmp_path / "fk4.wcs", header), CAM).R_icrs_to_cam
    ref = SkyCoord(150.0, 30.0, unit="deg", frame="fk4", equinox="B1950").icrs
    assert angle_between(R_fk4[2], ref.cartesian.xyz.value) < 0.1 * ARCSEC
    assert angle_between(R_fk4[2], R_icrs[2]) > 0.5 * math.pi / 180  # precession really applied
