"""[earth] airglow = true: the emission layers are added to every frame, with their truth curves."""
from __future__ import annotations

import numpy as np
from astropy import units as u

from simulator.config import parse_scenario
from simulator.earth.airglow import airglow_image
from simulator.earth.ellipsoid import earth_pole_gcrs
from simulator.render.exposure import render_exposure

from .conftest import small_scenario_text


def test_airglow_adds_the_layer_image_times_the_exposure():
    base = small_scenario_text(duration="30 s", mag_limit=3.0)
    with_glow = parse_scenario(base + "\n[earth]\nairglow = true\n")
    plain = render_exposure(parse_scenario(base))
    glow = render_exposure(with_glow)
    added = glow.signal.astype(np.float64) - plain.signal.astype(np.float64)
    k = glow.t.size // 2
    pole = earth_pole_gcrs(with_glow.start + glow.t[k] * u.s)
    expected = airglow_image(with_glow.camera, glow.R_icrs_to_cam[k], glow.pos_km[k], pole)[:, :, 0] * 30.0
    assert np.allclose(added, expected, rtol=1e-4, atol=1e-3 * expected.max())
    # the bright band is at the limb: its peak row lies near the truth curve of the green layer
    curve = glow.airglow["O I 557.7 nm"] if "O I 557.7 nm" in glow.airglow else next(iter(glow.airglow.values()))
    assert np.isfinite(curve["peak_x"]).any()
    col = expected.shape[1] // 2
    assert expected[:, col].max() > 10 * np.median(expected[: expected.shape[0] // 4, col])


def test_airglow_in_every_frame_of_a_burst():
    """LVLH burst of 3 x 10 s frames (10 s gaps): each frame holds the mid-exposure layer image x 10 s (the
    layers stand still in LVLH), the sum stack 30 s of it; against airglow_image directly (rtol 1e-4)."""
    base = small_scenario_text(mag_limit=3.0).replace(
        'duration = "60 s"\n', 'mode = "burst"\nframes = 3\nframe_duration = "10 s"\ngap = "10 s"\n'
        'stack = "sum"\nsave_frames = true\n')
    plain = render_exposure(parse_scenario(base))
    scenario = parse_scenario(base + "\n[earth]\nairglow = true\n")
    glow = render_exposure(scenario)
    k = glow.t.size // 2
    pole = earth_pole_gcrs(scenario.start + glow.t[k] * u.s)
    expected = airglow_image(scenario.camera, glow.R_icrs_to_cam[k], glow.pos_km[k], pole)[:, :, 0] * 10.0
    for f in range(3):
        added = glow.frames[f].astype(np.float64) - plain.frames[f].astype(np.float64)
        assert np.allclose(added, expected, rtol=1e-4, atol=1e-3 * expected.max()), f"frame {f}"
    total = glow.signal.astype(np.float64) - plain.signal.astype(np.float64)
    assert np.allclose(total, 3.0 * expected, rtol=1e-4, atol=3e-3 * expected.max())
