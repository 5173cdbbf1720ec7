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
        assert f["truth/t"].attrs["start_utc"] == "2012-03-25T01:15:00.000000000"  # to the ns
        # compressed with the standard gzip filter only: readable without plugins
        assert f["image/signal"].compression == "gzip"


def test_limb_curve_is_tangent_to_the_ellipsoid(product):
    """The light each limb point's pixel sees grazes WGS84: along its direction (the pixel's ray un-aberrated by
    the ISS's velocity, first order, written here) the minimum geodetic altitude is 0 within 2 m (independent:
    astropy EarthLocation heights sampled every 50 m around the tangent point); along the ray itself it is
    not (the 5" aberration is ~13-20 m at the limb here)."""
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
    beta = result.vel_km_s[k] / 299792.458
    light = rays - beta + (rays @ beta)[:, None] * rays
    time = scenario.start + result.t[k] * u.s

    def lowest(d):
        s = -pos @ d + np.linspace(-20.0, 20.0, 801)
        pts = pos[None, :] + s[:, None] * d[None, :]
        itrs = GCRS(CartesianRepresentation(pts.T * u.km), obstime=time).transform_to(ITRS(obstime=time))
        return itrs.earth_location.height.to_value(u.km).min()

    assert max(abs(lowest(d)) for d in light) < 2e-3
    assert np.median([abs(lowest(d)) for d in rays]) > 5e-3


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


# ------------------------------------------------------------------------------------------------
# io/chunked.py: chunks compressed in threads, stored with write_direct_chunk, decoded by HDF5's own filters
# ------------------------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from simulator.io.chunked import create_compressed  # noqa: E402


def _both_ways(tmp_path, data, chunks):
    """The data written by create_compressed (every size in threads) and by h5py's filter pipeline, read back."""
    with h5py.File(tmp_path / "c.h5", "w") as f:
        create_compressed(f, "ours", data, chunks=chunks, threads=3, min_bytes=0)
        f.create_dataset("h5py", data=data, compression="gzip", compression_opts=1, shuffle=True, chunks=chunks)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        ours, ref = f["ours"], f["h5py"]
        layout = [(d.compression, d.compression_opts, d.shuffle, d.chunks, d.dtype) for d in (ours, ref)]
        return ours[()], ref[()], layout


@pytest.mark.parametrize("data,chunks", [
    (np.random.default_rng(1).normal(size=(301, 47)), (64, 15)),  # edge chunks both ways
    (np.random.default_rng(2).normal(size=(40, 33, 3)).astype(np.float32), (16, 16, 3)),
    (np.random.default_rng(3).integers(0, 4096, size=(2, 50, 70)).astype(np.uint16), (1, 32, 32)),
    (np.random.default_rng(4).random((123, 9)) > 0.5, True),  # bool (HDF5 enum), h5py's chunk guess
    (np.arange(1000, dtype=np.int64).reshape(100, 10), (7, 3)),
    (np.arange(5.0).astype(">f8"), (2,)),  # big-endian input keeps its byte order, as with h5py
    (np.zeros((0, 4)), True),  # empty: h5py's own path
])
def test_parallel_chunks_read_back_exactly(tmp_path, data, chunks):
    ours, ref, layout = _both_ways(tmp_path, data, chunks)
    assert layout[0] == layout[1]  # gzip level 1 + shuffle, the same chunks and type
    assert np.array_equal(ours, data) and np.array_equal(ref, data)


def test_parallel_chunks_scalar_is_stored_plainly(tmp_path):
    with h5py.File(tmp_path / "s.h5", "w") as f:
        create_compressed(f, "s", np.float64(2.5), min_bytes=0)
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert f["s"][()] == 2.5 and f["s"].compression is None


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 23), min_size=1, max_size=3), data=st.data(),
       dtype=st.sampled_from(["f8", "f4", "i2", "u1", "?"]))
def test_parallel_chunks_any_shape(tmp_path_factory, shape, data, dtype):
    """Any shape and chunk shape (edge chunks padded) decodes to the data through HDF5's built-in filters."""
    chunks = tuple(data.draw(st.integers(1, n)) for n in shape)
    values = np.random.default_rng(len(shape)).normal(scale=100.0, size=shape).astype(dtype)
    ours, _, _ = _both_ways(tmp_path_factory.mktemp("h"), values, chunks)
    assert ours.dtype == values.dtype and np.array_equal(ours, values)
