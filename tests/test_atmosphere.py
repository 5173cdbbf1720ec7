"""Limb optics (simulator.earth.atmosphere) against independent references.

* refraction, the refracted ray's tangent altitude, the flux dilution and the slant Rayleigh column against
  a ray traced in this file (Runge–Kutta integration of the ray equation d/ds(n t) = ∇n through the same
  refractive-index profile, in Cartesian coordinates: no impact parameter, no bending integral);
* the ground horizontal refraction (≈ 35′, so ≈ 2 × 35′ for a ray grazing the ground from space,
  shared/REFERENCES.md §7 [W]);
* the REFERENCES §7 table [C] (exponential atmosphere, H = 7 km, ISS at 400 km);
* U.S. Standard Atmosphere 1976 published densities; Bucholtz's (1995) Rayleigh fit; Ciddor's refractivity;
  the Chapman grazing-incidence integral.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from simulator.earth import atmosphere as atmo

R = 6371.0
EXPO = atmo.Atmosphere(model="exponential")  # H = 7 km, n0 - 1 = 2.78e-4, as in REFERENCES §7
ISS_ALT = 400.0
ARCMIN = math.pi / 180 / 60


# --- an independent ray tracer ---------------------------------------------------------------------------

def _trace(b, n_of_z, column_of_z=None, x0=-1800.0, x1=1800.0, ds=0.5):
    """Trace rays entering parallel to +x at heights y = b (km) through n(|r| - R); RK4 in arc length.

    n_of_z(z) -> (n, dn/dz). Returns the final position and unit direction, the lowest altitude reached
    and, with column_of_z, the integral of column_of_z along the path (trapezoid on the steps).
    """
    b = np.asarray(b, dtype=np.float64)
    x, y = np.full(b.shape, x0), b.copy()
    tx, ty = np.ones(b.shape), np.zeros(b.shape)

    def deriv(x, y, tx, ty):
        r = np.hypot(x, y)
        n, dn = n_of_z(r - R)
        gx, gy = dn * x / r, dn * y / r
        dot = tx * gx + ty * gy
        return tx, ty, (gx - dot * tx) / n, (gy - dot * ty) / n

    low = np.hypot(x, y) - R
    col = np.zeros(b.shape)
    f_prev = column_of_z(low) if column_of_z else None
    for _ in range(int(round((x1 - x0) / ds))):
        k1 = deriv(x, y, tx, ty)
        k2 = deriv(*(s + 0.5 * ds * k for s, k in zip((x, y, tx, ty), k1)))
        k3 = deriv(*(s + 0.5 * ds * k for s, k in zip((x, y, tx, ty), k2)))
        k4 = deriv(*(s + ds * k for s, k in zip((x, y, tx, ty), k3)))
        x, y, tx, ty = (s + ds / 6.0 * (a + 2 * c + 2 * d + e)
                        for s, a, c, d, e in zip((x, y, tx, ty), k1, k2, k3, k4))
        norm = np.hypot(tx, ty)
        tx, ty = tx / norm, ty / norm
        z = np.hypot(x, y) - R
        low = np.minimum(low, z)
        if column_of_z:
            f = column_of_z(z)
            col += 0.5 * ds * (f + f_prev)
            f_prev = f
    return x, y, tx, ty, low, col


def _expo_n(z):
    n1 = 2.78e-4 * np.exp(-z / 7.0)
    return 1.0 + n1, -n1 / 7.0


_Z = np.arange(-5.0, 150.0, 0.005)
_N = atmo.refractivity(_Z)
_DN = np.gradient(_N, _Z)


def _us76_n(z):
    """The module's US 1976 refractivity (550 nm), sampled every 5 m, and its numerical derivative."""
    return 1.0 + np.interp(z, _Z, _N, right=0.0), np.interp(z, _Z, _DN, right=0.0)


HEIGHTS = np.array([0.0, 5.0, 10.0, 20.0, 30.0])
DELTA_B = 0.02  # km, for the finite-difference flux factor
D_OBS = 2300.0  # km: observer's distance along the ray past the tangent point's plane


@pytest.fixture(scope="module", params=["exponential", "us1976"])
def traced(request):
    """Rays at the test heights (and ±DELTA_B in impact parameter), traced through each atmosphere."""
    if request.param == "exponential":
        atm, n_of_z = EXPO, _expo_n
        rho = lambda z: np.exp(-z / 7.0)  # noqa: E731
    else:
        atm, n_of_z = atmo.DEFAULT, _us76_n
        rho = lambda z: atmo.density_ratio(z)  # noqa: E731
    n_t, _ = n_of_z(HEIGHTS)
    b0 = (R + HEIGHTS) * n_t  # Bouguer's invariant n r sin(psi) at the lowest point
    b = (b0[:, None] + DELTA_B * np.array([-1.0, 0.0, 1.0])[None, :]).ravel()
    x, y, tx, ty, low, col = _trace(b, n_of_z, rho)
    y_obs = y + (D_OBS - x) * ty / tx  # straight on in vacuum to the observer's plane x = D
    vertical, _ = quad(rho, 0.0, atm.top_km, limit=400, points=[11, 20, 32, 47, 51, 71])
    sh = (len(HEIGHTS), 3)
    return dict(atm=atm, b=b.reshape(sh), low=low.reshape(sh)[:, 1], eps=np.arctan2(-ty, tx).reshape(sh)[:, 1],
                y_obs=y_obs.reshape(sh), column=col.reshape(sh)[:, 1] / vertical)


def test_refraction_matches_ray_trace(traced):
    """Bending of rays grazing 0, 5, 10, 20, 30 km: the bending integral agrees with the traced ray to 2 %
    (the issue's requirement; measured: 1e-6)."""
    eps = atmo.refraction_deviation_rad(traced["low"], atm=traced["atm"])
    np.testing.assert_allclose(eps, traced["eps"], rtol=0.02)
    np.testing.assert_allclose(eps, traced["eps"], rtol=1e-4)
    # the traced ray's lowest altitude is the one the module's invariant n(r_t) r_t = b gives
    np.testing.assert_allclose(traced["low"], HEIGHTS, atol=0.01)


def test_ray_solver_matches_ray_trace(traced):
    """From the observer's geometric (straight-line) tangent altitude the solver finds the traced ray:
    its tangent altitude to 1 m and its bending (the star's apparent raise) to 1e-4 (measured: 1e-6)."""
    h_g = traced["y_obs"][:, 1] - R
    assert np.all(h_g < HEIGHTS)  # the straight line passes lower than the ray: the star appears raised
    h_ray, eps = atmo.ray_tangent_altitude(h_g, D_OBS, atm=traced["atm"])
    np.testing.assert_allclose(h_ray, traced["low"], atol=1e-3)
    np.testing.assert_allclose(eps, traced["eps"], rtol=1e-4)
    np.testing.assert_allclose(atmo.geometric_tangent_altitude(traced["low"], D_OBS, atm=traced["atm"]), h_g,
                               atol=1e-3)


def test_dilution_matches_ray_trace(traced):
    """Flux factor b db / (rho drho) of neighbouring traced rays (energy conservation in a ray tube) vs the
    module's dilution factor, to 1e-3 (measured: 1e-5)."""
    y = traced["y_obs"]
    b = traced["b"][:, 1]
    phi_trace = (b / y[:, 1]) / ((y[:, 2] - y[:, 0]) / (2 * DELTA_B))
    phi = atmo.dilution_factor(traced["low"], D_OBS, atm=traced["atm"])
    np.testing.assert_allclose(phi, phi_trace, rtol=1e-3)


def test_slant_column_matches_ray_trace(traced):
    """Air column along the bent ray (in units of the vertical column) vs the traced path, to 1e-3."""
    a = atmo.slant_path_factors(traced["low"], traced["atm"])["rayleigh"]
    np.testing.assert_allclose(a, traced["column"], rtol=1e-3)


# --- published values ----------------------------------------------------------------------------------

def test_grazing_ray_bends_twice_the_horizontal_refraction():
    """A ray grazing the ground is bent on both legs: ≈ 2 × 35.4′ (Allen 1976, REFERENCES §7 [W]).
    US 1976 gives 66′ (−7 %): horizon refraction depends on the lowest kilometres (Allen's value is for
    10 °C; US 1976 sea level is 15 °C with a standard lapse rate), so 10 % is the tolerance. The exponential
    model with H = 7 km is steeper near the ground than real air (≈ 9 km there) and bends 81′ (+15 %);
    REFERENCES' 72′ for it is the weak-refraction approximation N0 √(2πR/H), which the exact integral
    exceeds by 1/√(1 − R N0/H) ≈ 13 % at the ground (and < 3 % from 10 km up)."""
    eps0 = atmo.refraction_deviation_rad(0.0) / ARCMIN
    assert eps0 == pytest.approx(2 * 35.4, rel=0.10)
    expo0 = atmo.refraction_deviation_rad(0.0, atm=EXPO) / ARCMIN
    assert expo0 == pytest.approx(72.0 / math.sqrt(1 - R * 2.78e-4 / 7.0), rel=0.03)


def test_exponential_refraction_vs_references_table():
    """REFERENCES §7 [C] ε(h), H = 7 km, from 10 km up (where strong-refraction terms are < 3 %): 5 %."""
    h = np.array([10.0, 15.0, 20.0, 25.0, 30.0, 40.0])
    table = np.array([17.0, 8.5, 4.2, 2.0, 1.0, 0.24])  # arcmin, rounded in the source
    eps = atmo.refraction_deviation_rad(h, atm=EXPO) / ARCMIN
    np.testing.assert_allclose(eps, table, rtol=0.05)


def test_dilution_vs_references_table():
    """REFERENCES §7 [C] dilution from 400 km: ≈ 0.72 at 20 km, ≈ 0.38 at 10 km (exponential, H = 7 km)
    within 10 %; the table's 1/(1 + L ε/H) neglects the strong-refraction terms, ≈ 6 % at 10 km."""
    h = np.array([10.0, 20.0])
    phi = atmo.dilution_factor(h, atmo.tangent_distance_km(ISS_ALT, h, EXPO), atm=EXPO)
    np.testing.assert_allclose(phi, [0.38, 0.72], rtol=0.10)


def test_rayleigh_slant_depth_vs_references_table():
    """REFERENCES §7 [C] Rayleigh tangential τ at 550 nm (τ_vert = 0.097, H = 7 km), 10–30 km, within 5 %."""
    h = np.array([10.0, 15.0, 20.0, 25.0, 30.0])
    tau = atmo.slant_optical_depth(h, 550e-9, EXPO, components=True)["rayleigh"]
    np.testing.assert_allclose(tau, [1.8, 0.86, 0.42, 0.21, 0.10], rtol=0.05)


def test_slant_path_is_chapman_above_the_refracting_layers():
    """Exponential layer, straight grazing ray: A = √(2π(R+h)/H) e^{−h/H} (1 + 3H/(8(R+h))) (Chapman's
    grazing-incidence function, two legs); the bent ray adds < 0.5 % above 25 km: 0.6 %."""
    h = np.array([25.0, 30.0, 40.0, 60.0])
    chapman = np.sqrt(2 * np.pi * (R + h) / 7.0) * np.exp(-h / 7.0) * (1 + 3 * 7.0 / (8 * (R + h)))
    np.testing.assert_allclose(atmo.slant_path_factors(h, EXPO)["rayleigh"], chapman, rtol=0.006)


def test_us1976_density_table():
    """Exact US 1976 profile (corners not rounded) vs the standard's published densities (kg m⁻³, 5
    significant digits) at 10–50 km geometric altitude; the default (corners rounded by 2 km) within 2.5 %."""
    z = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    table = np.array([4.1351e-1, 8.8910e-2, 1.8410e-2, 3.9957e-3, 1.0269e-3])
    exact = atmo.density_ratio(z, atmo.Atmosphere(us1976_corner_km=0.0)) * 1.2250
    np.testing.assert_allclose(exact, table, rtol=2e-4)
    np.testing.assert_allclose(atmo.density_ratio(z) * 1.2250, table, rtol=0.025)


def test_refractivity_and_rayleigh_laws():
    """Ciddor (1996) standard air gives REFERENCES' 2.78e-4 at 550 nm (0.1 %); the Rayleigh depth follows
    λ^−4.08 exactly (1e-6) and Bucholtz's (1995) fit for the US standard atmosphere within 2 % at 400–700 nm."""
    assert atmo.ciddor_refractivity(550e-9) == pytest.approx(2.78e-4, rel=1e-3)
    lam = np.linspace(380e-9, 800e-9, 43)
    tau = atmo.rayleigh_vertical_optical_depth(lam)
    np.testing.assert_allclose(tau, 0.097 * (lam / 550e-9) ** -4.08, rtol=1e-6)
    um = lam * 1e6
    a, bb, c, d = np.where(um <= 0.5, 6.50362e-3, 8.64627e-3), np.where(um <= 0.5, 3.55212, 3.99668), \
        np.where(um <= 0.5, 1.35579, 1.10298e-3), np.where(um <= 0.5, 0.11563, 2.71393e-2)
    bucholtz = a * um ** -(bb + c * um + d / um)
    band = (lam >= 400e-9) & (lam <= 700e-9)
    np.testing.assert_allclose(tau[band], bucholtz[band], rtol=0.02)
    # blue refracts more: n - 1 falls with wavelength
    assert np.all(np.diff(atmo.ciddor_refractivity(lam)) < 0)


def test_ozone_chappuis_band():
    """Chappuis peak ≈ 5e-21 cm² near 600 nm; 300 DU give τ_vert ≈ 0.04 there (REFERENCES: "~0.03"); the
    Gaussian layer holds the whole column with a peak density ≈ 5e12 cm⁻³."""
    lam = np.arange(380, 801, 1) * 1e-9
    sigma = atmo.ozone_cross_section_cm2(lam)
    assert 590e-9 <= lam[np.argmax(sigma)] <= 610e-9
    assert sigma.max() == pytest.approx(5.0e-21, rel=0.05)
    assert atmo.ozone_vertical_optical_depth(605e-9) == pytest.approx(0.04, rel=0.05)
    peak = 300 * 2.687e16 / (6e5 * math.sqrt(2 * math.pi))  # cm^-3
    assert peak == pytest.approx(5e12, rel=0.1)


# --- behaviour -----------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(h1=st.floats(0.0, 140.0), dh=st.floats(0.01, 50.0), lam_nm=st.floats(380.0, 800.0))
def test_extinction_monotonic_in_altitude(h1, dh, lam_nm):
    """Lower rays are extinguished more, and transmitted less once dilution is included (400 km)."""
    h = np.array([h1, h1 + dh])
    lam = lam_nm * 1e-9
    tau = atmo.slant_optical_depth(h, lam)
    assert tau[0] >= tau[1]
    t = atmo.transmission(h, lam, distance_km=atmo.tangent_distance_km(ISS_ALT, h))
    assert t[0] <= t[1] * (1 + 1e-12)


def test_blue_is_extinguished_more_than_red():
    """Below ≈ 17 km Rayleigh dominates: τ(450 nm) > τ(650 nm), stars redden as they set and a blue star
    fades higher up than a red one. (Between ≈ 20 and 30 km the Chappuis band absorbs 650 nm more.)"""
    h = np.linspace(0.0, 17.0, 35)
    assert np.all(atmo.slant_optical_depth(h, 450e-9) > atmo.slant_optical_depth(h, 650e-9))
    assert np.all(atmo.slant_optical_depth(h, 400e-9) > atmo.slant_optical_depth(h, 700e-9))
    # a hot and a cool blackbody through a broad 400-700 nm channel: the cool one keeps more of its light
    lam = np.linspace(400e-9, 700e-9, 301)
    planck = lambda t: lam**-4 / np.expm1(0.0143878 / (lam * t))  # noqa: E731  photon spectrum
    both = atmo.channel_transmission(np.array([8.0, 12.0, 16.0]), lam, np.stack([planck(20000.0), planck(3000.0)]))
    assert np.all(both[:, 0] < both[:, 1])


def test_stars_fade_out_between_8_and_20_km():
    """At 550 nm from 400 km, transmission × dilution falls below 1 % (5 mag) between 8 and 20 km
    (REFERENCES §7: stars fade at ~10–20 km [U]; these are clean-air figures, no aerosol or cloud)."""
    h = np.arange(0.0, 40.0, 0.01)
    t = atmo.transmission(h, 550e-9, distance_km=atmo.tangent_distance_km(ISS_ALT, h))
    h_fade = h[np.argmax(t >= 0.01)]
    assert 8.0 <= h_fade <= 20.0


@settings(max_examples=40, deadline=None)
@given(h=st.floats(0.0, 140.0), d=st.floats(1000.0, 3000.0))
def test_ray_solver_round_trip(h, d):
    """geometric_tangent_altitude and ray_tangent_altitude invert each other (1e-6 km)."""
    h_g = atmo.geometric_tangent_altitude(h, d)
    h_ray, eps = atmo.ray_tangent_altitude(h_g, d)
    assert h_ray == pytest.approx(h, abs=1e-6)
    assert eps == pytest.approx(atmo.refraction_deviation_rad(h), rel=1e-6, abs=1e-15)


def test_hidden_stars_and_vacuum():
    """A line far below the limb meets no ray (NaN, zero flux); far above it the optics are vacuum's."""
    h_ray, eps = atmo.ray_tangent_altitude(np.array([-80.0, 300.0, np.nan]), 2300.0)
    assert np.isnan(h_ray[0]) and np.isnan(eps[0]) and np.isnan(h_ray[2])
    assert h_ray[1] == 300.0 and eps[1] == 0.0
    assert atmo.transmission(h_ray, 550e-9, distance_km=2300.0).tolist() == [0.0, 1.0, 0.0]
    # the lowest visible straight line passes ≈ D ε(0) below the ground
    h_g0 = atmo.geometric_tangent_altitude(0.0, 2300.0)
    assert -50.0 < h_g0 < -35.0
    assert np.isnan(atmo.ray_tangent_altitude(h_g0 - 0.01, 2300.0)[0])
    assert atmo.ray_tangent_altitude(h_g0 + 0.01, 2300.0)[0] >= 0.0
    # a floor (cloud tops) hides rays below it
    assert np.isnan(atmo.ray_tangent_altitude(atmo.geometric_tangent_altitude(5.0, 2300.0), 2300.0, floor_km=6.0)[0])


def test_channel_transmission_weighting():
    """A one-wavelength channel equals the monochromatic transmission; weights broadcast; dilution applies."""
    lam = np.linspace(400e-9, 700e-9, 31)
    h = np.array([[5.0, 12.0], [20.0, 60.0]])
    w = np.zeros((2, lam.size))
    w[0, 10] = 3.0
    w[1] = 1.0
    d = atmo.tangent_distance_km(ISS_ALT, h)
    out = atmo.channel_transmission(h, lam, w, distance_km=d)
    assert out.shape == (2, 2, 2)
    np.testing.assert_allclose(out[..., 0], atmo.transmission(h, lam[10], distance_km=d), rtol=1e-12)
    mean = np.mean([atmo.transmission(h, x, distance_km=None) for x in lam], axis=0) * atmo.dilution_factor(h, d)
    np.testing.assert_allclose(out[..., 1], mean, rtol=1e-12)


def test_path_factors_barely_depend_on_wavelength():
    """The dispersion of the ray's path changes the slant columns by < 2e-3 (380–700 nm), so the module
    computes them along the 550 nm ray."""
    h = np.array([0.0, 5.0, 10.0, 20.0, 40.0])
    for lam in (380e-9, 700e-9):
        n_s = float(atmo.sea_level_refractivity(lam))
        _, _, a_air, a_oz, _ = atmo._ray_integrals(h, n_s, atmo.DEFAULT)
        ref = atmo.slant_path_factors(h)
        np.testing.assert_allclose(a_air, ref["rayleigh"], rtol=2e-3)
        np.testing.assert_allclose(a_oz, ref["ozone"], rtol=2e-3)


def test_refracted_direction_raises_the_star():
    """The apparent direction is ε from the true one, in the plane (centre, observer, star), and its
    straight line passes higher above the Earth by ≈ D ε."""
    rng = np.random.default_rng(3)
    o = np.array([R + ISS_ALT, 0.0, 0.0])
    # directions whose straight lines graze 0-30 km at random azimuths around the local horizontal
    h = rng.uniform(0.0, 30.0, 20)
    az = rng.uniform(0, 2 * np.pi, 20)
    dip = np.arccos((R + h) / (R + ISS_ALT))  # below the local horizontal
    d = np.stack([-np.sin(dip), np.cos(dip) * np.cos(az), np.cos(dip) * np.sin(az)], axis=1)
    dist = -(d @ o)
    h_ray, eps = atmo.ray_tangent_altitude(h, dist)
    d_app = atmo.refracted_direction(d, o, eps)
    np.testing.assert_allclose(np.linalg.norm(d_app, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.arccos(np.clip(np.sum(d_app * d, axis=1), -1, 1)), eps, rtol=1e-6)
    np.testing.assert_allclose(np.einsum("ij,ij->i", np.cross(d, d_app), np.broadcast_to(o, d.shape)), 0.0,
                               atol=1e-6 * (R + ISS_ALT))  # coplanar with the observer's radius
    s = -(d_app @ o)
    h_app = np.linalg.norm(o + s[:, None] * d_app, axis=1) - R
    assert np.all(h_app > h)
    np.testing.assert_allclose(h_app - h, dist * eps, rtol=0.02)
