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
