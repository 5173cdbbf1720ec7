"""limb = "atmosphere": setting stars are raised by refraction and fade by extinction and dilution."""
from __future__ import annotations

import numpy as np
import pytest

from simulator.config import parse_scenario
from simulator.errors import ScenarioError
from simulator.render.exposure import render_exposure

from .conftest import small_scenario_text

LIMB_ATTITUDE = 'mode = "lvlh"\nazimuth = "0 deg"\nelevation = "-19.5 deg"\nroll = "0 deg"'


def limb_text(limb: str) -> str:
    text = small_scenario_text(duration="120 s", mag_limit=7.0, attitude=LIMB_ATTITUDE,
                               width=400, height=300, pixel_pitch="20 um", focal_length="85 mm")
    return text + f'\n[earth]\nlimb = "{limb}"\n' if limb == "atmosphere" else text


@pytest.fixture(scope="module")
def renders():
    return render_exposure(parse_scenario(limb_text("atmosphere"))), render_exposure(parse_scenario(limb_text("hard")))


def test_refraction_raises_setting_stars_by_the_bending_angle(renders):
    """Same star, same knot: refracted minus straight-line position = bending x focal length (in pixels),
    independent of how the bending was computed (the truth's refraction angle)."""
    atm, hard = renders
    common, ia, ih = np.intersect1d(atm.hip, hard.hip, return_indices=True)
    eps = np.radians(atm.limb["refraction_arcsec"][ia] / 3600.0)
    # the hard-limb render's knots are coarser: its tracks are linear between knots to 0.005 px
    hx = np.array([np.interp(atm.t, hard.t, row) for row in hard.x[ih]])
    hy = np.array([np.interp(atm.t, hard.t, row) for row in hard.y[ih]])
    shift = np.hypot(atm.x[ia] - hx, atm.y[ia] - hy)
    fx = parse_scenario(limb_text("hard")).camera.fx
    sel = (eps > np.radians(1 / 60)) & np.isfinite(shift) & (atm.limb["transmission"][ia] > 0)
    assert sel.sum() > 10
    # a pinhole near the centre: shift = fx tan(eps) to well under a percent (tilt of the field)
    assert np.allclose(shift[sel], fx * np.tan(eps[sel]), rtol=0.02)
    # raised: toward image up (the limb is below, rows grow downward)
    assert np.all((atm.y[ia] - hy)[sel] < 0)


def test_setting_stars_fade_and_deposit_rate_times_transmission(renders):
    atm, _ = renders
    tr = atm.limb["transmission"]
    assert tr.min() < 0.01 and tr.max() == 1.0
    h, w = atm.signal.shape
    lit = tr > 0  # where any light arrives, the star must be well inside the frame
    x_in = np.where(lit, (atm.x > 8) & (atm.x < w - 9) & (atm.y > 8) & (atm.y < h - 9), True)
    inside = x_in.all(axis=1) & (tr.min(axis=1) < 0.9) & lit.any(axis=1)
    assert inside.sum() >= 2
    for j in np.flatnonzero(inside):
        # the transmission at the knots, linear in time between them, over the un-occulted intervals
        ivs = zip(atm.occult_start[atm.occult_ptr[j]:atm.occult_ptr[j + 1]],
                  atm.occult_stop[atm.occult_ptr[j]:atm.occult_ptr[j + 1]])
        expected = 0.0
        for a, b in ivs:
            ts = np.linspace(a, b, 20001)
            expected += atm.rate[j] * np.trapezoid(np.interp(ts, atm.t, tr[j]), ts)
        assert atm.electrons[j] == pytest.approx(expected, rel=1e-3, abs=1e-3 * atm.rate[j])
    # knots at most 1 s apart in this mode
    assert np.diff(atm.t).max() <= 1.0 + 1e-9


def test_hard_cut_and_atmosphere_are_exclusive():
    text = limb_text("atmosphere").replace('limb = "atmosphere"', 'limb = "atmosphere"\noccultation_altitude = "15 km"')
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text)
    assert str(err.value).startswith("earth.occultation_altitude:")
