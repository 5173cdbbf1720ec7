"""The HDF5 product matches DESIGN.md §4: paths, shapes, dtypes, units, and self-consistent truth."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from simulator.config import parse_scenario
from simulator.io.hdf5 import write_product
from simulator.render.exposure import render_exposure

from .conftest import small_scenario_text


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    scenario = parse_scenario(small_scenario_text(duration="90 s"))
    result = render_exposure(scenario)
    path = tmp_path_factory.mktemp("product") / "p.h5"
    write_product(path, scenario, result)
    return path, scenario, result


REQUIRED = {
    "image/signal": (np.float32, 2),
    "truth/t": (np.float64, 1),
    "truth/R_icrs_to_cam": (np.float64, 3),
    "truth/q_icrs_to_cam": (np.float64, 2),
    "truth/observer_pos_gcrs_km": (np.float64, 2),
    "truth/observer_vel_gcrs_km_s": (np.float64, 2),
    "truth/stars/hip": (np.int32, 1),
    "truth/stars/ra_deg": (np.float64, 1),
    "truth/stars/dec_deg": (np.float64, 1),
    "truth/stars/vmag": (np.float64, 1),
    "truth/stars/bv": (np.float64, 1),
    "truth/stars/pmra_mas_yr": (np.float64, 1),
    "truth/stars/pmdec_mas_yr": (np.float64, 1),
    "truth/stars/parallax_mas": (np.float64, 1),
    "truth/stars/rate": (np.float64, 1),
    "truth/stars/x": (np.float64, 2),
    "truth/stars/y": (np.float64, 2),
    "truth/stars/visible": (np.bool_, 2),
    "truth/stars/electrons": (np.float64, 1),
}


def test_layout_dtypes_and_units(product):
    path, scenario, _ = product
    with h5py.File(path, "r") as f:
        for name, (dtype, ndim) in REQUIRED.items():
            assert name in f, name
            assert f[name].dtype == dtype, name
            assert f[name].ndim == ndim, name
        def check_units(name, obj):
            if isinstance(obj, h5py.Dataset):
                assert "units" in obj.attrs, f"{name} has no units attribute"
        f.visititems(check_units)
        for key in ("format", "format_version", "software_version", "scenario", "seed", "run_id", "created_utc"):
            assert key in f.attrs, key
        assert f.attrs["scenario"] == scenario.text
        cam = f["camera"].attrs
        for key in ("width", "height", "fx", "fy", "cx", "cy", "dist_coeffs", "pixel_pitch_um",
                    "focal_length_mm", "f_number", "channels"):
            assert key in cam, key
        # fx = focal length / pixel pitch; first pixel centre at (0, 0) puts the centre at (W-1)/2
        assert cam["fx"] == pytest.approx(12.5e-3 / 100e-6, rel=1e-12)
        assert cam["cx"] == (320 - 1) / 2 and cam["cy"] == (214 - 1) / 2
        k = f["truth/t"].shape[0]
        n = f["truth/stars/hip"].shape[0]
        assert f["truth/stars/x"].shape == (n, k) and f["truth/R_icrs_to_cam"].shape == (k, 3, 3)
        assert f["truth/t"][0] == 0.0 and f["truth/t"][-1] == pytest.approx(90.0, abs=1e-12)
        assert f["truth/t"].attrs["start_utc"] == "2012-03-25T01:15:00.000"
        # compressed with the standard gzip filter only: readable without plugins
        assert f["image/signal"].compression == "gzip"


def test_limb_curve_is_tangent_to_the_ellipsoid(product):
    """Each limb point's ray from the ISS grazes WGS84: its minimum geodetic altitude is ~0 (independent:
    astropy EarthLocation heights sampled along the ray around the tangent point)."""
    from astropy import units as u
    from astropy.coordinates import GCRS, ITRS, CartesianRepresentation

    from simulator.camera.projection import pixel_to_camera_ray

    path, scenario, result = product
    x, y, t_mid = result.limb_curve
    ok = np.flatnonzero(np.isfinite(x))
    assert ok.size > 10
    k = int(np.argmin(np.abs(result.t - t_mid)))
    rays = pixel_to_camera_ray(scenario.camera, x[ok[::40]], y[ok[::40]]) @ result.R_icrs_to_cam[k]
    pos = result.pos_km[k]
    time = scenario.start + result.t[k] * u.s
    for d in rays:
        s_tan = -pos @ d
        s = s_tan + np.linspace(-300.0, 300.0, 601)
        pts = pos[None, :] + s[:, None] * d[None, :]
        itrs = GCRS(CartesianRepresentation(pts.T * u.km), obstime=time).transform_to(ITRS(obstime=time))
        h = itrs.earth_location.height.to_value(u.km)
        assert abs(h.min()) < 0.5  # km; the limb curve is drawn through pixel rays sampled at 1 km steps


def test_quaternions_match_matrices_with_scipy(product):
    path, _, _ = product
    with h5py.File(path, "r") as f:
        R = f["truth/R_icrs_to_cam"][...]
        q = f["truth/q_icrs_to_cam"][...]
    assert np.allclose(Rotation.from_quat(q, scalar_first=True).as_matrix(), R, atol=1e-12)
    assert np.all(q[:, 0] >= 0)
    # rows of R are orthonormal camera axes
    assert np.allclose(R @ R.transpose(0, 2, 1), np.eye(3), atol=1e-12)


def test_every_star_in_truth_is_visible_somewhere_and_inside_when_flagged(product):
    path, scenario, _ = product
    cam = scenario.camera
    with h5py.File(path, "r") as f:
        vis = f["truth/stars/visible"][...]
        x = f["truth/stars/x"][...]
        y = f["truth/stars/y"][...]
        electrons = f["truth/stars/electrons"][...]
        # the Moon and planets are in the image too, with their own truth
        extra = sum(float(np.sum(f[g]["electrons"][...])) for g in ("truth/planets", "truth/moon") if g in f)
        electrons = np.append(electrons, extra)
        signal = f["image/signal"][...]
    assert vis.any(axis=1).all()
    assert np.all((x[vis] >= -0.5) & (x[vis] <= cam.width - 0.5) & (y[vis] >= -0.5) & (y[vis] <= cam.height - 0.5))
    # the image holds exactly what the stars deposited, to float32 rounding (stars seen only between
    # knots are not in the table, so the image may hold slightly more)
    assert signal.sum(dtype=np.float64) >= electrons.sum() * (1 - 1e-5)
    assert signal.sum(dtype=np.float64) == pytest.approx(electrons.sum(), rel=1e-3)
