"""Camera and lens presets in scenarios, and colour rendering with spectral photometry end to end."""
from __future__ import annotations

import numpy as np
import pytest

from simulator.camera.bandpass import camera_spectral, channel_electron_rates
from simulator.config import parse_scenario
from simulator.errors import ScenarioError
from simulator.render.exposure import render_exposure

from .conftest import small_scenario_text

CAMERA_BLOCK = '''[camera]
width = 320
height = 214
pixel_pitch = "100 um"
focal_length = "12.5 mm"
f_number = 2.8
psf_sigma = "0.8 pix"
'''


def with_camera(block: str) -> str:
    return small_scenario_text().replace(CAMERA_BLOCK, block)


def test_preset_fills_the_camera_and_explicit_keys_override():
    sc = parse_scenario(with_camera('[camera]\npreset = "nikon-d3s"\nlens = "14-24mm-f2.8@14mm"\n'))
    cam = sc.camera
    # REFERENCES.md §8 [W]: D3S 4256 x 2832, 8.45 um; the lens preset: 14 mm f/2.8
    assert (cam.width, cam.height) == (4256, 2832)
    assert cam.pixel_pitch_m == pytest.approx(8.45e-6) and cam.focal_length_m == pytest.approx(0.014)
    assert cam.f_number == 2.8 and cam.channels == ("R", "G", "B") and cam.qe_curve
    assert len(cam.psf_components) == 2 and sum(w for w, _ in cam.psf_components) == pytest.approx(1.0)
    sc = parse_scenario(with_camera('[camera]\npreset = "nikon-d3s"\nwidth = 400\nheight = 300\n'
                                    'focal_length = "24 mm"\nf_number = 4.0\n'))
    assert (sc.camera.width, sc.camera.height, sc.camera.f_number) == (400, 300, 4.0)
    assert sc.camera.focal_length_m == pytest.approx(0.024)


@pytest.mark.parametrize("block, field", [
    ('[camera]\npreset = "nikon-d99"\n', "camera.preset"),
    ('[camera]\npreset = "nikon-d3s"\nlens = "8mm-f1"\n', "camera.lens"),
    ('[camera]\npreset = "nikon-d3s"\nlens = "50mm-f1.4"\nthroughput = 0.3\n', "camera.throughput"),
    (CAMERA_BLOCK + 'qe_curve = "no_such_curve"\n', "camera.qe_curve"),
    ('[camera]\npreset = "nikon-d3s"\n', "camera.focal_length"),
])
def test_bad_camera_settings(block, field):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(with_camera(block))
    assert str(err.value).startswith(field + ":")


def test_colour_render_splits_each_star_by_its_spectral_channel_rates():
    block = ('[camera]\npreset = "nikon-d3s"\nwidth = 320\nheight = 214\npixel_pitch = "100 um"\n'
             'focal_length = "12.5 mm"\nf_number = 2.8\npsf_sigma = "0.8 pix"\n')
    sc = parse_scenario(with_camera(block))
    r = render_exposure(sc)
    assert r.signal.shape == (214, 320, 3)
    # independent: the bandpass module's channel rates for the same stars
    cam = sc.camera
    spectral = camera_spectral(cam.qe_curve, cam.aperture_area_m2, cam.peak_qe)
    from simulator.sky.catalog import load_catalog

    cat = load_catalog()
    idx = np.searchsorted(cat.hip, r.hip)
    expected = channel_electron_rates(cat.vmag[idx], cat.bv[idx], spectral)
    assert np.allclose(r.rate_per_channel, expected, rtol=1e-12)
    assert np.allclose(r.rate, expected.sum(axis=1), rtol=1e-12)
    # the image holds every star's electrons, split by channel
    share = r.rate_per_channel / r.rate[:, None]
    per_channel = (r.electrons[:, None] * share).sum(axis=0)
    assert np.all(r.signal.reshape(-1, 3).sum(axis=0) >= per_channel * (1 - 1e-4))
    # red stars are redder: the R/B ratio grows with B-V
    ratio = r.rate_per_channel[:, 0] / r.rate_per_channel[:, 2]
    bv = cat.bv[idx]
    ok = np.isfinite(bv)
    assert np.corrcoef(bv[ok], ratio[ok])[0, 1] > 0.9


def test_vignetting_dims_each_star_by_the_cos4_law_along_its_trail():
    """electrons = rate x integral of cos^4(field angle) dt along the trail (independent: dense sampling of
    the truth track, the pinhole field angle and cos^4)."""
    text = with_camera(CAMERA_BLOCK + "vignetting = 4.0\n") + '\n[earth]\nlimb = "hard"\n'  # unrefracted tracks
    sc = parse_scenario(text)
    r = render_exposure(sc)
    cam = sc.camera
    h, w = r.signal.shape
    margin = 6.0
    inside = (r.visible.all(axis=1) & (r.x.min(axis=1) > margin) & (r.x.max(axis=1) < w - 1 - margin)
              & (r.y.min(axis=1) > margin) & (r.y.max(axis=1) < h - 1 - margin))
    assert inside.sum() >= 3
    ts = np.linspace(0.0, r.t[-1], 20001)
    for j in np.flatnonzero(inside):
        xs = np.interp(ts, r.t, r.x[j])
        ys = np.interp(ts, r.t, r.y[j])
        tan2 = ((xs - cam.cx) / cam.fx) ** 2 + ((ys - cam.cy) / cam.fy) ** 2
        expected = r.rate[j] * np.trapezoid(1.0 / (1.0 + tan2) ** 2, ts)
        assert r.electrons[j] == pytest.approx(expected, rel=1e-3)
    # and the corner is visibly darker than the centre: cos^4 of the corner's field angle
    assert (1.0 / (1.0 + (cam.cx / cam.fx) ** 2 + (cam.cy / cam.fy) ** 2) ** 2) < 0.3
