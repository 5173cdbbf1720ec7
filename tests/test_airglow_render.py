"""[earth] airglow = true: the emission layers are added to every frame, integrated over its time, with their truth
curves."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from astropy import units as u

from simulator.attitude import InertialAttitude
from simulator.config import parse_scenario
from simulator.earth.airglow import airglow_image, pixel_tangent_altitudes
from simulator.earth.ellipsoid import earth_pole_gcrs
from simulator.render.exposure import render_exposure
from simulator.render.observer import Observer

from .conftest import small_scenario_text


def test_airglow_adds_the_layer_image_times_the_exposure():
    base = small_scenario_text(duration="30 s", mag_limit=3.0)
    with_glow = parse_scenario(base + "\n[earth]\nairglow = true\n")
    plain = render_exposure(parse_scenario(base))
    glow = render_exposure(with_glow)
    added = glow.signal.astype(np.float64) - plain.signal.astype(np.float64)
    k = glow.t.size // 2
    pole = earth_pole_gcrs(with_glow.start + glow.t[k] * u.s)
    expected = airglow_image(with_glow.camera, glow.R_icrs_to_cam[k], glow.pos_km[k], pole,
                             observer_vel_gcrs_km_s=glow.vel_km_s[k])[:, :, 0] * 30.0
    assert np.allclose(added, expected, rtol=1e-4, atol=1e-3 * expected.max())
    # in LVLH the band hardly moves in 30 s (0.07 of the green layer's width): one image at the frame's middle
    assert glow.airglow_frames["time_samples"].tolist() == [1]
    assert glow.airglow_frames["band_motion_sigma"][0] < 0.2
    # the bright band is at the limb: its peak row lies near the truth curve of the green layer
    curve = glow.airglow["OI 557.7 nm"]
    assert np.isfinite(curve["peak_x"]).any()
    # (the middle knot, 15 s, is the frame's middle: its curve is the frame's)
    np.testing.assert_allclose(curve["frame_peak_x"], curve["peak_x"][None, :], rtol=0, atol=1e-9)
    col = expected.shape[1] // 2
    assert expected[:, col].max() > 10 * np.median(expected[: expected.shape[0] // 4, col])


def test_airglow_in_every_frame_of_a_burst():
    """LVLH burst of 3 x 10 s frames (10 s gaps): each frame holds the layer image at its own middle x 10 s (the
    band moves < 0.2 of its width in a frame), the sum stack the three; against airglow_image directly (rtol 1e-4)."""
    base = small_scenario_text(mag_limit=3.0).replace(
        'duration = "60 s"\n', 'mode = "burst"\nframes = 3\nframe_duration = "10 s"\ngap = "10 s"\n'
        'stack = "sum"\nsave_frames = true\n')
    plain = render_exposure(parse_scenario(base))
    scenario = parse_scenario(base + "\n[earth]\nairglow = true\n")
    glow = render_exposure(scenario)
    pole = earth_pole_gcrs(scenario.start + 0.5 * scenario.duration_s * u.s)
    middles = 0.5 * (glow.frame_start + glow.frame_stop)
    assert middles.tolist() == [5.0, 25.0, 45.0]
    pos, vel, rot, _, _ = Observer(scenario).states(middles)
    total = np.zeros(glow.signal.shape)
    for f in range(3):
        expected = airglow_image(scenario.camera, rot[f], pos[f], pole, observer_vel_gcrs_km_s=vel[f])[:, :, 0] * 10.0
        added = glow.frames[f].astype(np.float64) - plain.frames[f].astype(np.float64)
        assert np.allclose(added, expected, rtol=1e-4, atol=1e-3 * expected.max()), f"frame {f}"
        total += expected
    assert glow.airglow_frames["time_samples"].tolist() == [1, 1, 1]
    # each frame's truth curve of the green layer's peak is the one at its middle
    from simulator.earth.airglow import peak_tangent_altitude_curve

    green = glow.airglow["OI 557.7 nm"]
    for f in range(3):
        x, y = peak_tangent_altitude_curve(scenario.camera, rot[f], pos[f], pole, 97.0, observer_vel_gcrs_km_s=vel[f])
        np.testing.assert_allclose(green["frame_peak_x"][f], x, rtol=0, atol=1e-9)
        np.testing.assert_allclose(green["frame_peak_y"][f], y, rtol=0, atol=1e-9)
    stacked = glow.signal.astype(np.float64) - plain.signal.astype(np.float64)
    assert np.allclose(stacked, total, rtol=1e-4, atol=3e-3 * total.max() / 3.0)


def _inertial_limb_scenario(duration_s):
    """A 100 mm lens (1 mrad pixels: the green layer's σ is ~1.5 px at the limb) held inertially on the limb, as an
    LVLH camera 20° below the horizontal sees it at mid-exposure: the band sweeps the frame at the orbital rate."""
    base = small_scenario_text(duration=f"{duration_s:g} s", mag_limit=2.0, focal_length="100 mm",
                               attitude='mode = "lvlh"\nazimuth = "0 deg"\nelevation = "-20 deg"\nroll = "0 deg"')
    lvlh = parse_scenario(base + "\n[earth]\nairglow = true\n")
    _, _, rot_mid, _, _ = Observer(lvlh).states(np.array([0.5 * duration_s]))
    return dataclasses.replace(lvlh, attitude=InertialAttitude(rot_mid[0]))


def test_airglow_sweeping_in_inertial_hold_is_integrated_over_the_frame():
    """Inertial hold, a 5 s frame: the band moves ~4 of its widths. The frame's airglow equals the layer image
    integrated over the frame by 24-node Gauss–Legendre quadrature (an independent, much finer integration) to
    1e-3 of the band's peak away from the hard limb, 4e-2 where the hard limb swept (a staircase of n steps); its
    total to 3e-4. The single mid-frame image (the old treatment) is off by > 0.1 of the peak: the test can fail."""
    duration = 5.0
    scenario = _inertial_limb_scenario(duration)
    plain = render_exposure(dataclasses.replace(scenario, earth=dataclasses.replace(scenario.earth, airglow=False)))
    glow = render_exposure(scenario)
    added = glow.signal.astype(np.float64) - plain.signal.astype(np.float64)

    observer = Observer(scenario)
    pole = earth_pole_gcrs(scenario.start + 0.5 * duration * u.s)

    def integrated(times, weights):
        pos, vel, rot, _, _ = observer.states(times)
        return sum(w * airglow_image(scenario.camera, rot[j], pos[j], pole, observer_vel_gcrs_km_s=vel[j])[:, :, 0]
                   for j, w in enumerate(weights))

    x, w = np.polynomial.legendre.leggauss(24)
    reference = integrated(0.5 * duration * (x + 1.0), 0.5 * duration * w)
    peak = reference.max()
    # the pixels the hard limb swept: their ray's tangent altitude crosses 0 during the frame
    gy, gx = np.mgrid[0:scenario.camera.height, 0:scenario.camera.width].astype(np.float64)
    times = np.linspace(0.0, duration, 33)
    pos, vel, rot, _, _ = observer.states(times)
    h = np.stack([pixel_tangent_altitudes(scenario.camera, rot[j], pos[j], pole, gx, gy, vel[j])
                  for j in range(times.size)])
    swept = (np.nanmin(h, axis=0) < 0.0) & (np.nanmax(h, axis=0) > 0.0)
    assert 0.02 < swept.mean() < 0.5

    motion = glow.airglow_frames["band_motion_sigma"][0]
    n = glow.airglow_frames["time_samples"][0]
    # the motion measured on the coarse grid matches every pixel's path over the 33 steps (green layer, σ 3.40 km;
    # its band and hard limb: -6σ to 97 km + 6σ)
    sigma = 8.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    in_range = np.any((h >= -6.0 * sigma) & (h <= 97.0 + 6.0 * sigma), axis=0)
    path = np.nansum(np.abs(np.diff(h, axis=0)), axis=0)[in_range].max() / sigma
    assert 3.0 < motion < 5.0 and abs(motion - path) < 0.02 * path
    assert n == math.ceil(motion) + 1

    error = np.abs(added - reference) / peak
    assert error[~swept].max() < 1e-3
    assert error[swept].max() < 4e-2
    assert abs(added.sum() / reference.sum() - 1.0) < 3e-4  # (each node's cells are interpolated to rtol 1e-3)
    single = integrated(np.array([0.5 * duration]), np.array([duration]))
    assert (np.abs(single - reference) / peak)[~swept].max() > 0.1


def test_airglow_frames_in_the_product(tmp_path):
    """/truth/airglow/time_samples and band_motion_sigma: one value per frame, as the render used."""
    import h5py

    from simulator.io.hdf5 import write_product

    scenario = _inertial_limb_scenario(2.0)
    result = render_exposure(scenario)
    path = tmp_path / "glow.h5"
    write_product(path, scenario, result)
    with h5py.File(path, "r") as f:
        g = f["truth/airglow"]
        assert g["time_samples"][()].tolist() == result.airglow_frames["time_samples"].tolist()
        assert g["time_samples"][()][0] == math.ceil(g["band_motion_sigma"][()][0]) + 1
        assert g["band_motion_sigma"].attrs["units"] == "1"
        # the band swept during the frame: its curve at the frame's middle, [F = 1, n]
        green = g["OI_557.7_nm"]
        assert green["frame_peak_x"].shape == (1, green["peak_x"].shape[0])
        assert green["frame_peak_y"].attrs["units"] == "pixel"
        n, motion = g["time_samples"][0], g["band_motion_sigma"][0]
    # startrail info names them
    from simulator.io.summary import summarize

    assert (f"airglow      {len(result.airglow)} layers, {n} time nodes per frame (band motion up to {motion:.2f} sigma)"
            in summarize(path))


def test_airglow_sweeping_too_far_is_capped_with_a_warning():
    """A 150 s inertial frame: the band sweeps ~120 widths; the frame takes MAX_SAMPLES images and says so."""
    from simulator.render.airglow_layer import MAX_SAMPLES

    scenario = _inertial_limb_scenario(150.0)
    with pytest.warns(UserWarning, match="rippled"):
        result = render_exposure(scenario)
    assert result.airglow_frames["band_motion_sigma"][0] > MAX_SAMPLES
    assert result.airglow_frames["time_samples"].tolist() == [MAX_SAMPLES]


def test_airglow_sweeping_many_widths_takes_its_nodes_in_groups():
    """Inertial 20 s frame: the band sweeps ~16 widths, 18 nodes. One pass of the image kernel approximates the
    other nodes from its middle one (fine over a few widths, not over 16), so the frame takes its nodes in groups
    of GROUP_MOTION_SIGMA: against the same nodes' images computed one by one (each exact in its own cells),
    within 1e-3 of the peak at the 99.9th percentile (hard-limb pixels that flip aside); all nodes in one pass
    would be off by > 1e-2 there."""
    from simulator.render.airglow_layer import AirglowLayer, time_nodes

    duration = 20.0
    scenario = _inertial_limb_scenario(duration)
    observer = Observer(scenario)
    pole = earth_pole_gcrs(scenario.start + 0.5 * duration * u.s)
    layer = AirglowLayer(scenario, observer, np.array([0.0, duration]), None, None, None, pole)
    image = np.zeros((scenario.camera.height, scenario.camera.width, 1))
    layer.add_electrons(image, 0, 0.0, duration)
    motion, n = layer.frame_motion[0], layer.frame_samples[0]
    assert 12.0 < motion < 20.0 and n == math.ceil(motion) + 1
    times, weights = time_nodes(0.0, duration, n)
    pos, vel, rot, _, _ = observer.states(times)
    reference = sum(airglow_image(scenario.camera, rot[j], pos[j], pole, scale=weights[j], observer_vel_gcrs_km_s=vel[j])
                    for j in range(n))
    error = np.abs(image - reference) / reference.max()
    assert np.percentile(error, 99.9) < 1e-3 and np.mean(error > 2e-3) < 1e-3
    one_pass = airglow_image(scenario.camera, rot, pos, pole, time_weights=weights, observer_vel_gcrs_km_s=vel)
    assert np.percentile(np.abs(one_pass - reference) / reference.max(), 99.9) > 1e-2
