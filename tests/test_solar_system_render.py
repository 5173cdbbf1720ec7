"""Moving sources (directions that change from knot to knot): occultation and projection plumbing."""
from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.time import Time

from simulator.camera.projection import Camera, project_camera_points, project_directions_at_knots
from simulator.earth.ellipsoid import earth_pole_gcrs
from simulator.earth.occultation import moving_visibility_intervals, visibility_intervals
from simulator.orbit import parse_tle

from .conftest import TLE_2012_03_25


def test_moving_intervals_agree_with_the_exact_solver_for_fixed_directions():
    """Linear-in-time crossings between 2 s knots vs the bisection solver: within 5 ms (limit 10 ms)."""
    orbit = parse_tle(TLE_2012_03_25)
    t = np.linspace(0.0, 900.0, 451)
    start = Time("2012-03-25T01:15:00")
    pos, vel = orbit.gcrs_states(start + t * u.s)
    d = np.random.default_rng(1).normal(size=(300, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    pole = earth_pole_gcrs(start + 450 * u.s)
    exact = visibility_intervals(t, pos, vel, d, pole, 15.0)
    moving = moving_visibility_intervals(t, pos, np.repeat(d[:, None, :], t.size, axis=1), pole, 15.0)
    assert np.array_equal(exact[0], moving[0])
    crossings = np.sum((exact[1] > 0.0) | (exact[2] < 900.0))
    assert crossings > 20  # plenty of stars rise or set in 15 min
    assert np.abs(exact[1] - moving[1]).max() < 5e-3 and np.abs(exact[2] - moving[2]).max() < 5e-3


def test_projection_at_knots_is_the_rotated_projection():
    cam = Camera(width=640, height=480, pixel_pitch_m=6e-6, focal_length_m=0.035, f_number=2.0,
                 dist_coeffs=(-0.02, 0.001, 0.0, 0.0, 0.0))
    rng = np.random.default_rng(3)
    rot = np.stack([np.linalg.qr(rng.normal(size=(3, 3)))[0] for _ in range(4)])
    rot *= np.sign(np.linalg.det(rot))[:, None, None]
    dirs = rng.normal(size=(5, 4, 3))
    dirs /= np.linalg.norm(dirs, axis=2, keepdims=True)
    x, y = project_directions_at_knots(cam, dirs, rot)
    for k in range(4):
        xr, yr = project_camera_points(cam, dirs[:, k] @ rot[k].T)
        assert np.allclose(x[:, k], xr, equal_nan=True) and np.allclose(y[:, k], yr, equal_nan=True)


def test_planet_track_matches_astropy_get_body_and_is_rendered():
    """Saturn in the small Pettit-like frame: its pixel track vs astropy's get_body seen from the ISS
    (independent: GCRS with the ISS's obsgeoloc/obsgeovel, the truth attitude, a pinhole) to 0.01 px,
    and the image holds it where the truth says."""
    from astropy.coordinates import GCRS, CartesianRepresentation, get_body

    from simulator.config import parse_scenario
    from simulator.render.exposure import render_exposure

    from .conftest import small_scenario_text

    sc = parse_scenario(small_scenario_text(duration="60 s"))
    r = render_exposure(sc)
    planets = r.solar_system["planets"]
    j = list(planets["names"]).index("saturn")
    cam = sc.camera
    for k in (0, r.t.size // 2, r.t.size - 1):
        t = sc.start + r.t[k] * u.s
        obs = GCRS(obstime=t, obsgeoloc=CartesianRepresentation(r.pos_km[k] * u.km),
                   obsgeovel=CartesianRepresentation(r.vel_km_s[k] * u.km / u.s))
        v = get_body("saturn", t, ephemeris="builtin").transform_to(obs).cartesian.xyz.value
        v = r.R_icrs_to_cam[k] @ (v / np.linalg.norm(v))
        assert abs(cam.fx * v[0] / v[2] + cam.cx - planets["x"][j, k]) < 0.01
        assert abs(cam.fy * v[1] / v[2] + cam.cy - planets["y"][j, k]) < 0.01
    xm, ym = planets["x"][j].mean(), planets["y"][j].mean()
    box = r.signal[int(ym) - 3:int(ym) + 4, int(xm) - 3:int(xm) + 4]
    assert box.sum() > 0.5 * planets["electrons"][j] > 0
