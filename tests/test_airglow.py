"""Airglow layers (simulator/earth/airglow.py) against independent references.

References used here and not by the module: ERFA's gc2gd (geodetic altitude) with a fine trapezoid rule
along the ray; occultation.tangent_altitude (exact geodetic minimum along a ray); scipy quad for the
thin-layer limb integral; the spherical-triangle solid angle (Van Oosterom & Strackee 1983) of pixel corners
from pixel_to_camera_ray; REFERENCES.md §3.2 [C] limb/zenith ratios.
"""
from __future__ import annotations

import math

import erfa
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq, minimize_scalar

from simulator.camera.bandpass import camera_spectral
from simulator.camera.projection import Camera, pixel_to_camera_ray
from simulator.earth import airglow as ag
from simulator.earth.ellipsoid import WGS84_A_KM
from simulator.earth.occultation import tangent_altitude
from simulator.sky.apparent import C_KM_S, aberrate  # (exact; tested against erfa.ab in test_positions)

GREEN = ag.AirglowLayer("green", 557.7e-9, 97.0, 8.0, 250.0)


def geodetic_to_xyz(lat_deg, lon_deg, h_km):
    """WGS84 geodetic -> Earth-fixed (pole-frame) km, via ERFA."""
    return np.asarray(erfa.gd2gc(1, math.radians(lon_deg), math.radians(lat_deg), h_km * 1e3)) / 1e3


def local_frame(lat_deg, lon_deg):
    """(up, east, north) unit vectors of the geodetic normal frame."""
    la, lo = math.radians(lat_deg), math.radians(lon_deg)
    up = np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])
    east = np.array([-math.sin(lo), math.cos(lo), 0.0])
    return up, east, np.cross(up, east)


def brute_column(o, d, layer, ds=0.01, s_max=5200.0):
    """Trapezoid rule with ERFA geodetic altitudes every ``ds`` km, stopping below the ground."""
    s = np.arange(0.0, s_max, ds)
    p = o[None, :] + s[:, None] * d[None, :]
    h = erfa.gc2gd(1, p * 1e3)[2] / 1e3
    below = np.nonzero(h < 0.0)[0]
    if below.size:
        s, h = s[: below[0]], h[: below[0]]
    eps = layer.zenith_rayleigh / (layer.sigma_km * math.sqrt(2 * math.pi)) * np.exp(
        -0.5 * ((h - layer.peak_altitude_km) / layer.sigma_km) ** 2)
    return np.trapezoid(eps, s)


def ray_with_tangent_altitude(o, horizontal, up, target_km):
    """Unit ray from o in the vertical plane of ``horizontal`` whose exact geodetic tangent altitude is target."""
    def ht(el):
        d = math.cos(el) * horizontal + math.sin(el) * up
        return tangent_altitude(o[0], o[1], o[2], d[0], d[1], d[2]) - target_km

    el = brentq(ht, math.radians(-25.0), math.radians(-10.0), xtol=1e-13)
    return math.cos(el) * horizontal + math.sin(el) * up


def test_rayleigh_photon_radiance_conversion():
    # 1 R = 1e6/(4 pi) photons s^-1 cm^-2 sr^-1 (definition) = 1e10/(4 pi) per m^2
    assert ag.rayleigh_to_photon_radiance(1.0) == pytest.approx(1e6 / (4 * math.pi) * 1e4, rel=1e-15)
    assert ag.rayleigh_to_photon_radiance(250.0) == pytest.approx(1.98944e11, rel=1e-5)
    assert ag.photon_radiance_to_rayleigh(ag.rayleigh_to_photon_radiance(123.4)) == pytest.approx(123.4, rel=1e-14)
    # the ESO line-list unit: 1 photon s^-1 m^-2 arcsec^-2 in R, with the sr -> arcsec^2 factor from astropy
    import astropy.units as u

    arcsec2_per_sr = (1 * u.sr).to_value(u.arcsec**2)
    assert ag.RAYLEIGH_PER_PHOTON_M2_ARCSEC2 == pytest.approx(arcsec2_per_sr / (1e10 / (4 * math.pi)), rel=1e-12)


@pytest.mark.parametrize("el_deg", [-19.0, -17.6, -17.3, -30.0, -90.0, -60.0])
def test_column_matches_brute_force_integration(el_deg):
    o = geodetic_to_xyz(35.0, 20.0, 410.0)
    up, east, north = local_frame(35.0, 20.0)
    az = math.radians(40.0 + 17.0 * el_deg)
    horiz = math.cos(az) * north + math.sin(az) * east
    d = math.cos(math.radians(el_deg)) * horiz + math.sin(math.radians(el_deg)) * up
    got = ag.limb_column_rayleigh(o, d[None], GREEN)[0]
    ref = brute_column(o, d, GREEN)
    assert ref > 100.0
    assert got == pytest.approx(ref, rel=2e-5)


def test_gcrs_input_with_pole_matches_pole_frame():
    o = geodetic_to_xyz(-20.0, 100.0, 400.0)
    up, east, north = local_frame(-20.0, 100.0)
    d = np.stack([math.cos(e) * north + math.sin(e) * up for e in np.radians([-17.5, -18.0, -40.0])])
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rot = q * np.sign(np.linalg.det(q))  # a proper rotation: pole frame -> "GCRS"
    pole = rot @ np.array([0.0, 0.0, 1.0])
    a = ag.limb_column_rayleigh(o, d, GREEN)
    b = ag.limb_column_rayleigh(rot @ o, d @ rot.T, GREEN, pole=pole)
    np.testing.assert_allclose(b, a, rtol=1e-9)


def test_zenith_column_equals_zenith_brightness():
    # looking straight up (geodetic normal) from below the layer, and straight down from above it
    for lat in (0.0, 40.0, 75.0):
        up, _, _ = local_frame(lat, 10.0)
        c_up = ag.limb_column_rayleigh(geodetic_to_xyz(lat, 10.0, 50.0), up[None], GREEN)[0]
        c_down = ag.limb_column_rayleigh(geodetic_to_xyz(lat, 10.0, 400.0), -up[None], GREEN)[0]
        # the Gaussian below 50 km (5.5 sigma under the peak) holds 2e-8 of the column
        assert c_up == pytest.approx(GREEN.zenith_rayleigh, rel=1e-5)
        assert c_down == pytest.approx(GREEN.zenith_rayleigh, rel=1e-5)


def test_limb_profile_peaks_below_the_emission_peak():
    """The column against tangent altitude peaks at h0 + t* sigma, t* = -0.765 (thin-layer theory), not at h0."""
    # independent thin-layer reference: maximise f(t) = ∫ exp(-(t + x)^2 / 2) x^-1/2 dx (x = w^2)
    f = lambda t: quad(lambda w: 2.0 * math.exp(-0.5 * (t + w * w) ** 2), 0.0, 12.0)[0]  # noqa: E731
    t_star = minimize_scalar(lambda t: -f(t), bounds=(-2.0, 1.0), method="bounded", options={"xatol": 1e-7}).x
    assert t_star == pytest.approx(ag.LIMB_PEAK_OFFSET_SIGMA, abs=1e-4)
    assert f(t_star) / f(0.0) == pytest.approx(ag.LIMB_PEAK_OVER_PEAK_TANGENT, abs=1e-4)

    o = geodetic_to_xyz(0.0, 0.0, 400.0)
    up, east, north = local_frame(0.0, 0.0)
    els = np.radians(np.linspace(-18.2, -17.2, 1201))
    d = np.cos(els)[:, None] * east + np.sin(els)[:, None] * up
    ht = np.array([tangent_altitude(o[0], o[1], o[2], *row) for row in d])
    col = ag.limb_column_rayleigh(o, d, GREEN)
    k = int(np.argmax(col))
    fit = np.polyfit(ht[k - 4:k + 5], col[k - 4:k + 5], 2)
    peak = -fit[1] / (2 * fit[0])
    expected = GREEN.peak_altitude_km + t_star * GREEN.sigma_km  # 94.40 km for FWHM 8 km
    assert peak == pytest.approx(expected, abs=0.1)
    assert GREEN.peak_altitude_km - peak == pytest.approx(2.6, abs=0.15)


@pytest.mark.parametrize("fwhm,reference", [(6.0, 61.0), (8.0, 53.0), (10.0, 48.0)])
def test_limb_to_zenith_ratio(fwhm, reference):
    layer = ag.AirglowLayer("g", 557.7e-9, 97.0, fwhm, 1.0)
    # observer over the equator looking east: the curvature radius of the tangent section is N = a
    o = geodetic_to_xyz(0.0, 0.0, 400.0)
    up, east, _ = local_frame(0.0, 0.0)
    d = ray_with_tangent_altitude(o, east, up, 97.0)
    ratio = ag.limb_column_rayleigh(o, d[None], layer)[0]
    analytic = ag.thin_layer_limb_ratio(97.0, fwhm, earth_radius_km=WGS84_A_KM)
    # analytic thin-layer formula, derived independently here: sqrt(2 r0) ∫ eps(h0 + x) x^-1/2 dx / Z
    sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
    direct = math.sqrt(2 * (WGS84_A_KM + 97.0)) * quad(
        lambda w: 2 * math.exp(-0.5 * (w * w / sigma) ** 2), 0, 40)[0] / (sigma * math.sqrt(2 * math.pi))
    assert analytic == pytest.approx(direct, rel=1e-9)
    assert ratio == pytest.approx(analytic, rel=0.05)  # the requirement
    assert ratio == pytest.approx(analytic, rel=0.01)  # what the numerics give
    # REFERENCES.md §3.2 [C] (mean Earth radius 6371 km): 61, 53, 48 for FWHM 6, 8, 10 km
    assert ag.thin_layer_limb_ratio(97.0, fwhm) == pytest.approx(reference, abs=0.6)
    assert 47.0 <= ratio <= 62.5


def test_ground_hitting_ray_sees_only_the_near_side():
    o = geodetic_to_xyz(10.0, -50.0, 420.0)
    up, east, north = local_frame(10.0, -50.0)
    horiz = (north + east) / math.sqrt(2)
    d_below = ray_with_tangent_altitude(o, horiz, up, 0.5)  # passes 0.5 km above the ground
    d_ground = ray_with_tangent_altitude(o, horiz, up, -0.5)  # its line dips 0.5 km under: hits the ground
    assert tangent_altitude(o[0], o[1], o[2], *d_ground) < 0.0
    both = ag.limb_column_rayleigh(o, d_below[None], GREEN)[0]
    near = ag.limb_column_rayleigh(o, d_ground[None], GREEN)[0]
    assert near == pytest.approx(brute_column(o, d_ground, GREEN), rel=2e-5)
    # grazing: the near and far crossings are nearly symmetric, so the ground cuts the column about in half
    assert near / both == pytest.approx(0.5, abs=0.02)


def test_layer_channel_response_lines_and_bands():
    spec = camera_spectral("nikon_d700", 1.0, 0.45)
    band = ag.AirglowLayer("b", (600e-9, 620e-9), 87.0, 8.0, 1.0)
    resp = ag.layer_channel_response([GREEN, band], spec)
    for c in range(3):
        assert resp[0, c] == pytest.approx(np.interp(557.7e-9, spec.wavelength_m, spec.response[c]), rel=1e-12)
        grid = np.linspace(600e-9, 620e-9, 20001)
        mean = np.interp(grid, spec.wavelength_m, spec.response[c]).mean()
        assert resp[1, c] == pytest.approx(mean, rel=1e-4)
    # green line: G channel strongest; the 630 nm line: R channel strongest
    red = ag.layer_channel_response([ag.DEFAULT_LAYERS[3]], spec)[0]
    assert np.argmax(resp[0]) == 1 and np.argmax(red) == 0
    # OH beyond the IR-cut contributes nothing through a DSLR curve
    assert ag.layer_channel_response([ag.AirglowLayer("oh", (790e-9, 800e-9), 87, 8, 1)], spec).max() == 0.0


def _camera(**kw):
    args = dict(width=320, height=214, pixel_pitch_m=100e-6, focal_length_m=12.5e-3, f_number=2.8,
                dist_coeffs=(-0.03, 0.004, 1e-4, -2e-4, 0.0))
    args.update(kw)
    return Camera(**args)


def _pointing(o, lat, lon, el_deg=-12.0, az_deg=70.0):
    """R_icrs_to_cam (rows: camera x right, y down, z boresight) for a boresight at (az, el)."""
    up, east, north = local_frame(lat, lon)
    az, el = math.radians(az_deg), math.radians(el_deg)
    z = math.cos(el) * (math.cos(az) * north + math.sin(az) * east) + math.sin(el) * up
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def test_pixel_solid_angle_matches_corner_polygons():
    cam = _camera(dist_coeffs=(-0.08, 0.01, 5e-4, -3e-4, 0.0))
    x = np.array([0.0, 159.5, 319.0, 37.0, 250.0])
    y = np.array([0.0, 106.5, 213.0, 180.0, 20.0])
    omega = ag.pixel_solid_angle(cam, x, y)

    def tri(a, b, c):  # Van Oosterom & Strackee 1983
        num = abs(np.dot(a, np.cross(b, c)))
        den = 1 + a @ b + b @ c + c @ a
        return 2 * math.atan2(num, den)

    for i in range(x.size):
        corners = pixel_to_camera_ray(cam, x[i] + np.array([-0.5, 0.5, 0.5, -0.5]),
                                      y[i] + np.array([-0.5, -0.5, 0.5, 0.5]))
        ref = tri(corners[0], corners[1], corners[2]) + tri(corners[0], corners[2], corners[3])
        assert omega[i] == pytest.approx(ref, rel=2e-5)


def _reference_image(cam, rot, o, layers, resp, vel_km_s=None):
    """The exact column at every pixel centre x pixel solid angle x vignetting x A x response; with the observer's
    velocity, along the light each pixel sees (its ray un-aberrated: the exact relativistic boost by -v/c)."""
    xx, yy = np.meshgrid(np.arange(float(cam.width)), np.arange(float(cam.height)))
    d = (pixel_to_camera_ray(cam, xx, yy) @ rot).reshape(-1, 3)
    if vel_km_s is not None:
        d = aberrate(d, -np.asarray(vel_km_s) / C_KM_S)
    cols = np.stack([ag.limb_column_rayleigh(o, d, layer).reshape(xx.shape) for layer in layers])
    scale = (ag.pixel_solid_angle(cam, xx, yy) * cam.relative_illumination(xx, yy) * cam.aperture_area_m2
             * ag.PHOTON_RADIANCE_PER_RAYLEIGH)
    return np.einsum("lyx,lc->yxc", cols, resp) * scale[..., None], cols


def test_image_interpolation_matches_per_pixel_evaluation():
    """A 24 mm lens on 8.45 um pixels (0.02 deg/px) across the limb: cells of 16 px use all three fill modes."""
    lat, lon = 30.0, 60.0
    o = geodetic_to_xyz(lat, lon, 400.0)
    rot = _pointing(o, lat, lon, el_deg=-19.0, az_deg=100.0)
    cam = Camera(width=600, height=400, pixel_pitch_m=8.45e-6, focal_length_m=24e-3, f_number=1.4,
                 dist_coeffs=(-0.02, 0.003, 0.0, 0.0, 0.0), vignetting_cos_power=3.0, vignetting_mechanical=0.2)
    layers = (GREEN, ag.AirglowLayer("red", 630e-9, 270.0, 60.0, 100.0))
    resp = np.array([[0.1, 0.3], [0.2, 0.05]])
    img, stats = ag.airglow_image(cam, rot, o, np.array([0.0, 0.0, 1.0]), layers, resp, return_stats=True)
    ref, cols = _reference_image(cam, rot, o, layers, resp)
    assert (cols[0] > 50 * GREEN.zenith_rayleigh).any() and (cols[0] == 0).any()  # band, sky and hard limb
    assert 0 < stats["exact_evaluations"] < 0.2 * cam.width * cam.height * 2
    err = np.abs(img - ref) / ref.max(axis=(0, 1))
    # a pixel whose centre ray grazes the hard limb within the ray interpolation error (< 1e-3 px) may flip
    assert np.mean(err > 2e-3) < 1e-4
    assert np.percentile(err, 99.9) < 1e-3
    np.testing.assert_allclose(img.sum(axis=(0, 1)), ref.sum(axis=(0, 1)), rtol=2e-4)


def test_image_sees_the_light_aberrated_by_the_observer_velocity():
    """With the ISS's velocity (7.66 km/s, horizontal, across the line of sight) each pixel shows the layers along
    the light it receives, its ray un-aberrated (5.3"): the per-pixel reference so computed agrees to the
    tolerances of the interpolation test; the reference without it (the ray taken as the light) does not. A
    200 mm lens on the green band (42 urad pixels: the aberration is 0.6 px, the band's sigma ~35 px)."""
    lat, lon = 30.0, 60.0
    o = geodetic_to_xyz(lat, lon, 400.0)
    rot = _pointing(o, lat, lon, el_deg=-17.4, az_deg=100.0)
    cam = Camera(width=300, height=200, pixel_pitch_m=8.45e-6, focal_length_m=200e-3, f_number=4.0,
                 dist_coeffs=(0.01, 0.0, 0.0, 0.0, 0.0))
    up = o / np.linalg.norm(o)
    forward = rot[2] - (rot[2] @ up) * up
    vel = 7.66 * forward / np.linalg.norm(forward)  # flying toward the view: the band is raised 5.3" sin 17.4°
    layers = (GREEN,)
    resp = np.array([[1.0]])
    img = ag.airglow_image(cam, rot, o, np.array([0.0, 0.0, 1.0]), layers, resp, observer_vel_gcrs_km_s=vel)
    ref, _ = _reference_image(cam, rot, o, layers, resp, vel_km_s=vel)
    err = np.abs(img - ref) / ref.max()
    assert np.percentile(err, 99.9) < 3e-4  # (measured 1.0e-4; median 2e-6)
    still, _ = _reference_image(cam, rot, o, layers, resp)
    assert np.median(np.abs(img - still) / ref.max()) > 3e-4  # (measured 6.8e-4; 99.9th percentile 2.2e-3)
    # the peak curve is where that light's tangent altitude is the layer's peak
    x, y = ag.peak_tangent_altitude_curve(cam, rot, o, np.array([0.0, 0.0, 1.0]), 97.0, n=721,
                                          observer_vel_gcrs_km_s=vel)
    ok = np.isfinite(x)
    d = aberrate(pixel_to_camera_ray(cam, x[ok], y[ok]) @ rot, -vel / C_KM_S)
    ht = np.array([tangent_altitude(o[0], o[1], o[2], *row) for row in d])
    np.testing.assert_allclose(ht, 97.0, atol=2e-3)
    ht_ray = np.array([tangent_altitude(o[0], o[1], o[2], *row) for row in pixel_to_camera_ray(cam, x[ok], y[ok]) @ rot])
    assert np.median(np.abs(ht_ray - 97.0)) > 0.01  # km: 5" at ~2300 km is 0.06 km


def test_image_of_several_states_is_the_weighted_sum_of_their_images():
    """airglow_image with J states and time weights (a frame's quadrature in time) against the weighted sum of the
    exact per-pixel references of each state (independent of the cells and of the interpolated tangent-variable
    offsets between states): the same tolerances as one image; one state with weight w gives w × its image."""
    lat, lon = 30.0, 60.0
    cam = Camera(width=600, height=400, pixel_pitch_m=8.45e-6, focal_length_m=24e-3, f_number=1.4,
                 dist_coeffs=(-0.02, 0.003, 0.0, 0.0, 0.0), vignetting_cos_power=3.0, vignetting_mechanical=0.2)
    rot = _pointing(geodetic_to_xyz(lat, lon, 400.0), lat, lon, el_deg=-19.0, az_deg=100.0)
    # the observer moves ~11 km along the meridian and climbs 2 km: the band moves by about a layer width
    states = [geodetic_to_xyz(lat + dlat, lon, 400.0 + dh) for dlat, dh in ((-0.05, 0.0), (0.0, 1.0), (0.05, 2.0))]
    weights = np.array([3.0, 5.0, 2.0])
    layers = (GREEN, ag.AirglowLayer("red", 630e-9, 270.0, 60.0, 100.0))
    resp = np.array([[0.1, 0.3], [0.2, 0.05]])
    pole = np.array([0.0, 0.0, 1.0])
    img = ag.airglow_image(cam, np.stack([rot] * 3), np.stack(states), pole, layers, resp, time_weights=weights)
    ref = sum(w * _reference_image(cam, rot, o, layers, resp)[0] for w, o in zip(weights, states))
    single = [ag.airglow_image(cam, rot, o, pole, layers, resp) for o in states]
    assert np.abs(single[2] - single[0]).max() > 0.1 * single[1].max()  # the states' images differ
    err = np.abs(img - ref) / ref.max(axis=(0, 1))
    assert np.mean(err > 2e-3) < 1e-4
    assert np.percentile(err, 99.9) < 1e-3
    np.testing.assert_allclose(img.sum(axis=(0, 1)), ref.sum(axis=(0, 1)), rtol=2e-4)
    one = ag.airglow_image(cam, rot[None], states[1][None], pole, layers, resp, time_weights=[5.0])
    np.testing.assert_allclose(one, 5.0 * single[1], rtol=1e-12, atol=1e-15 * single[1].max())
    with pytest.raises(ValueError, match="time_weights"):
        ag.airglow_image(cam, np.stack([rot] * 3), np.stack(states), pole, layers, resp, time_weights=[1.0, 2.0])


def test_image_scales_linearly_with_response_and_aperture():
    lat, lon = 30.0, 60.0
    o = geodetic_to_xyz(lat, lon, 400.0)
    rot = _pointing(o, lat, lon)
    cam = _camera(vignetting_cos_power=2.0, vignetting_mechanical=0.1)
    layers = (GREEN, ag.AirglowLayer("red", 630e-9, 270.0, 60.0, 100.0))
    resp = np.array([[0.1, 0.3], [0.2, 0.05]])
    pole = np.array([0.0, 0.0, 1.0])
    img = ag.airglow_image(cam, rot, o, pole, layers, resp)
    assert img.shape == (214, 320, 2)
    # 0.46 deg pixels: every pixel is evaluated exactly
    ref, _ = _reference_image(cam, rot, o, layers, resp)
    np.testing.assert_allclose(img, ref, rtol=1e-9, atol=1e-12 * ref.max())
    np.testing.assert_allclose(ag.airglow_image(cam, rot, o, pole, layers, 2.0 * resp), 2.0 * img, rtol=1e-12)
    slow = _camera(vignetting_cos_power=2.0, vignetting_mechanical=0.1, f_number=5.6)
    np.testing.assert_allclose(ag.airglow_image(slow, rot, o, pole, layers, resp), img / 4.0, rtol=1e-12)
    img4 = ag.airglow_image(cam, rot, o, pole, layers, resp, aperture_area_m2=3.0 * cam.aperture_area_m2)
    np.testing.assert_allclose(img4, 3.0 * img, rtol=1e-12)
    acc = np.ones_like(img)
    ag.airglow_image(cam, rot, o, pole, layers, resp, scale=30.0, out=acc)  # e.g. a 30 s frame, accumulated
    np.testing.assert_allclose(acc, 1.0 + 30.0 * img, rtol=1e-12)


def test_default_layers_through_a_dslr_and_mono_camera():
    lat, lon = -10.0, 0.0
    o = geodetic_to_xyz(lat, lon, 410.0)
    rot = _pointing(o, lat, lon, el_deg=-15.0)
    rgb = _camera(qe_curve="nikon_d700", peak_qe=0.45, channels=("R", "G", "B"))
    img = ag.airglow_image(rgb, rot, o, np.array([0.0, 0.0, 1.0]))
    assert img.shape[-1] == 3 and np.all(img >= 0)
    # in the bright limb band the green line dominates; blue sees almost nothing of any layer
    peak = img[np.unravel_index(np.argmax(img[..., 1]), img.shape[:2])]
    assert peak[1] > peak[0] > 0 and peak[2] < 0.05 * peak[1]
    # the broad 630 nm layer, Na and OH make the red channel's total comparable to the green one's
    total = img.sum(axis=(0, 1))
    assert 0.3 < total[0] / total[1] < 3.0 and total[2] < 0.05 * total[1]
    mono = ag.airglow_image(_camera(throughput=0.35), rot, o, np.array([0.0, 0.0, 1.0]))
    assert mono.shape[-1] == 1 and mono.max() > 0


def test_peak_tangent_altitude_curve_is_on_the_layer_peak():
    lat, lon = 45.0, -120.0
    o = geodetic_to_xyz(lat, lon, 400.0)
    rot = _pointing(o, lat, lon, el_deg=-14.0)
    cam = _camera()
    x, y = ag.peak_tangent_altitude_curve(cam, rot, o, np.array([0.0, 0.0, 1.0]), 97.0, n=721)
    ok = np.isfinite(x)
    assert ok.sum() > 50
    d = pixel_to_camera_ray(cam, x[ok], y[ok]) @ rot
    ht = np.array([tangent_altitude(o[0], o[1], o[2], *row) for row in d])
    np.testing.assert_allclose(ht, 97.0, atol=2e-3)
    # the curve crosses the frame: its x span covers most of the width
    assert np.nanmax(x) - np.nanmin(x) > 0.8 * cam.width
