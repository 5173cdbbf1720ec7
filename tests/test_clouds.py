"""Cloud cover over the city lights ([earth] cloud_cover, earth/clouds.py).

References: the cloudy fraction of the globe against random points drawn here (uniform on the sphere: normalised
Gaussian vectors from an independent generator), the field's correlation against pairs of points at a set
distance (independent points agree with probability f^2 + (1 - f)^2), and the rendered city lights against the
same scene without clouds (the renderer is linear in each cell's rate, so a cell's electrons scale by exactly its
cloud transmission).
"""
from __future__ import annotations

import numpy as np
import pytest

from simulator.config import parse_scenario
from simulator.earth.clouds import CloudField
from simulator.earth.rotation import geodetic_normal_itrs
from simulator.errors import ScenarioError
from simulator.render.exposure import render_exposure

from .test_city_lights_render import rendered, scene_text


def _random_points(n, seed):
    v = np.random.default_rng(seed).standard_normal((n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("cover", [0.3, 0.67])
@pytest.mark.parametrize("seed", [1, 2])
def test_cloudy_fraction_of_the_globe_is_the_cover(cover, seed):
    """The cloudy fraction over 100,000 independent uniform points is the cover to 0.02 (the field has
    ~20,000 independent 300 km patches: the fraction of one realisation varies by ~0.005)."""
    field = CloudField(cover, 0.2, 300.0, np.random.default_rng(seed))
    fraction = field.cloudy(_random_points(100_000, 1000 + seed)).mean()
    assert abs(fraction - cover) < 0.02, fraction


@pytest.mark.parametrize("scale_km", [150.0, 600.0])
def test_field_is_correlated_over_its_scale(scale_km):
    """Points 0.1 scale apart are alike 90 % of the time or more; 10 scales apart they agree as independent
    points do, f^2 + (1 - f)^2, to 0.04 (one realisation of the field: ~1,400 independent patches of 600 km
    on the globe, so the agreement of one field varies by ~0.02)."""
    cover = 0.5
    field = CloudField(cover, 0.2, scale_km, np.random.default_rng(3))
    p = _random_points(40_000, 4)
    q = np.random.default_rng(5).standard_normal(p.shape)
    q -= np.sum(q * p, axis=1, keepdims=True) * p
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    here = field.cloudy(p)

    def agreement(distance_km):
        angle = distance_km / 6371.0
        return np.mean(field.cloudy(np.cos(angle) * p + np.sin(angle) * q) == here)

    assert agreement(0.1 * scale_km) > 0.9
    assert abs(agreement(10.0 * scale_km) - (cover**2 + (1 - cover) ** 2)) < 0.04


def test_clear_overcast_and_the_seed():
    """cover 0: every point clear (transmission 1); cover 1: every point passes ``transmission``; the same
    generator seed gives the same field, another seed another."""
    lat, lon = np.linspace(-80.0, 80.0, 500), np.linspace(-180.0, 180.0, 500)
    assert np.all(CloudField(0.0, 0.3, 300.0, np.random.default_rng(0)).transmission_at(lat, lon) == 1.0)
    assert np.all(CloudField(1.0, 0.3, 300.0, np.random.default_rng(0)).transmission_at(lat, lon) == 0.3)
    points = geodetic_normal_itrs(lat, lon)
    a = CloudField(0.5, 0.3, 300.0, np.random.default_rng(7)).cloudy(points)
    b = CloudField(0.5, 0.3, 300.0, np.random.default_rng(7)).cloudy(points)
    c = CloudField(0.5, 0.3, 300.0, np.random.default_rng(8)).cloudy(points)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(ValueError, match="below"):
        CloudField(0.5, 0.3, 20.0, np.random.default_rng(0))


def _cloudy_scene(cover=0.5, transmission=0.25, scale='"150 km"'):
    text = scene_text("NADIR")
    assert "[earth]\ncity_lights = true\n" in text
    return text.replace("[earth]\ncity_lights = true\n", f"[earth]\ncity_lights = true\ncloud_cover = {cover}\n"
                        f"cloud_transmission = {transmission}\ncloud_scale = {scale}\n")


def test_clouds_dim_each_city_light_by_its_transmission():
    """The NADIR scene (whole trails in the frame) with half the globe cloudy (150 km scale, transmission 0.25)
    against the same scene clear: every cell's electrons, per channel, are its clear electrons times its cloud
    transmission (1 or 0.25; to 1e-12), both kinds of cell are there, and the truth keeps the map's radiance."""
    _, clear = rendered("NADIR")
    cloudy = render_exposure(parse_scenario(_cloudy_scene()))
    a = {k: v[0] for k, v in clear.city_lights.items() if k != "attrs"}
    b = {k: v[0] for k, v in cloudy.city_lights.items() if k != "attrs"}
    assert np.all(a["cloud_transmission"] == 1.0)
    assert cloudy.city_lights["attrs"]["cloud_cover"] == 0.5
    key = lambda c: list(zip(np.round(c["lat_deg"], 9), np.round(c["lon_deg"], 9)))  # noqa: E731
    index = {k: i for i, k in enumerate(key(a))}
    rows = np.array([index[k] for k in key(b)])
    trans = b["cloud_transmission"]
    assert set(np.unique(trans)) == {0.25, 1.0}
    np.testing.assert_array_equal(b["radiance"], a["radiance"][rows])
    lit = a["electrons"][rows] > 0
    assert lit.sum() >= 20 and np.any(trans[lit] == 0.25) and np.any(trans[lit] == 1.0)
    np.testing.assert_allclose(b["electrons_per_channel"][lit],
                               a["electrons_per_channel"][rows][lit] * trans[lit, None], rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("key,value,message", [
    ("cloud_cover", "1.5", "earth.cloud_cover"),
    ("cloud_cover", '"half"', "earth.cloud_cover"),
    ("cloud_transmission", "-0.1", "earth.cloud_transmission"),
    ("cloud_scale", '"20 km"', "earth.cloud_scale"),
    ("cloud_scale", "300", "earth.cloud_scale"),
])
def test_bad_cloud_keys_name_the_field(key, value, message):
    text = scene_text("NADIR").replace("[earth]\ncity_lights = true\n", f"[earth]\ncity_lights = true\n{key} = {value}\n")
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text)
    assert err.value.field == message
