"""Sensor model: noise statistics, reproducibility and stream independence, saturation and blooming,
hot-pixel and cosmic-ray populations, the colour-filter array, and the SAA boundary.

Statistical tolerances are stated next to each assertion; the seeds are fixed, so every run sees the
same numbers (the tolerances are there so the assertions hold for any seed, not only these).
"""
from __future__ import annotations

import math
import time

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from simulator.camera import cosmic_rays as cr
from simulator.camera.demosaic import cfa_channel_map, demosaic_bilinear, mosaic
from simulator.camera.sensor import (
    RNG_KEYS, SensorEffects, SensorSpec, apply_sensor, bloom, default_rngs, draw_hot_pixels, fixed_pattern,
    gain_at_iso, philox4x32,
)

PITCH = 8.45e-6  # m, Nikon D3S (REFERENCES §8)


def make_spec(**kw) -> SensorSpec:
    """A D3S-like sensor at about ISO 400 (figures for the tests, not a preset)."""
    base = dict(read_noise_e=4.0, full_well_e=60000.0, dark_current_e_s=0.5, gain_e_per_dn=2.0,
                black_level_dn=600, bit_depth=14, prnu=0.01, dsnu_e_s=0.1, bayer=None)
    base.update(kw)
    return SensorSpec(**base)


def only(*names, **kw) -> SensorSpec:
    return make_spec(effects=SensorEffects.only(*names), **kw)


# ------------------------------------------------------------------------------------------------
# random numbers

def test_philox_matches_random123_known_answers():
    """Philox4x32-10 against the known-answer vectors of Random123 (Salmon et al. 2011, kat_vectors)."""
    u = np.uint64
    cases = [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ]
    for ctr, key, expected in cases:
        out = philox4x32(*[u(c) for c in ctr], *[u(k) for k in key])
        assert tuple(int(v) for v in out) == expected


def test_default_rngs_one_stream_per_subsystem():
    a, b = default_rngs(42), default_rngs(42)
    assert set(a) == set(RNG_KEYS) >= {"shot", "read", "dark", "prnu", "dsnu", "hot", "cosmic"}
    draws = {k: a[k].integers(0, 2 ** 62, 4) for k in RNG_KEYS}
    for k in RNG_KEYS:
        assert np.array_equal(draws[k], b[k].integers(0, 2 ** 62, 4))          # same seed, same stream
    assert len({tuple(v) for v in draws.values()}) == len(RNG_KEYS)             # streams differ
    # a SeedSequence works too and is not consumed by the call
    ss = np.random.SeedSequence(42)
    assert np.array_equal(default_rngs(ss)["hot"].random(3), default_rngs(ss)["hot"].random(3))
    assert np.array_equal(default_rngs(ss)["hot"].random(3), default_rngs(42)["hot"].random(3))


@pytest.mark.parametrize("lam", [0.7, 2.5, 9.99, 10.0, 25.0, 400.0])
def test_shot_noise_is_poisson(lam):
    """Chi-square of 65,536 shot-noise samples against the Poisson pmf (bins with >= 20 expected)."""
    spec = only("shot")
    e = apply_sensor(np.full((256, 256), lam), 1.0, spec, default_rngs(3), PITCH).electrons.ravel()
    assert np.all(e == np.round(e))
    n = e.size
    lo, hi = int(stats.poisson.ppf(1e-4, lam)), int(stats.poisson.ppf(1 - 1e-4, lam))
    ks = np.arange(lo, hi + 1)
    expected = n * stats.poisson.pmf(ks, lam)
    expected[0] += n * stats.poisson.cdf(lo - 1, lam)
    expected[-1] += n * stats.poisson.sf(hi, lam)
    observed = np.bincount(np.clip(e.astype(int), lo, hi) - lo, minlength=ks.size)
    keep = expected >= 20
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    chi2 = np.sum((obs - exp) ** 2 / exp)
    p = stats.chi2.sf(chi2, obs.size - 1)
    assert p > 1e-3, f"chi2 = {chi2:.1f} for {obs.size - 1} dof, p = {p:.2g}"
    # mean and variance within 5 standard errors
    assert abs(e.mean() - lam) < 5 * math.sqrt(lam / n)
    assert abs(e.var() / lam - 1) < 5 * math.sqrt(2.0 / n) + 5 * math.sqrt(1 / (lam * n))


# ------------------------------------------------------------------------------------------------
# flat fields: photon transfer

@pytest.mark.parametrize("level_e", [0.0, 40.0, 800.0, 8000.0, 30000.0])
def test_flat_field_mean_and_variance_match_shot_read_dark(level_e):
    """512 x 512 flats: mean(DN) = (S + D t) / g + black and var(DN) = (S + D t) / g^2 + (r / g)^2 + 1/12.

    The 1/12 DN^2 is the quantisation of the ADC (uniform rounding error). Mean within 5 standard errors,
    variance within 5 x sqrt(2 / N) relative (1.4 %) plus the quantisation term's own uncertainty.
    """
    g, r, black = 2.0, 4.0, 600
    spec = only("shot", "dark", "read", "saturation", "quantize", gain_e_per_dn=g, read_noise_e=r,
                black_level_dn=black, dark_current_e_s=0.5, temperature_c=26.0, dark_reference_temp_c=20.0,
                dark_doubling_temp_c=6.0)
    t = 10.0
    dark_e = 0.5 * 2.0 * t                      # one doubling: 1 e-/s for 10 s
    res = apply_sensor(np.full((512, 512), level_e), t, spec, default_rngs(7), PITCH)
    dn = res.raw_dn.astype(np.float64)
    n = dn.size
    charge = level_e + dark_e
    mean_model = charge / g + black
    var_model = charge / g ** 2 + (r / g) ** 2 + 1.0 / 12.0
    assert abs(dn.mean() - mean_model) < 5 * math.sqrt(var_model / n) + 0.01
    assert abs(dn.var() / var_model - 1) < 5 * math.sqrt(2.0 / n) + 0.005
    # the photon-transfer form of the brief: var = (mean - black) / g + (r / g)^2 (+ quantisation)
    ptc = (dn.mean() - black) / g + (r / g) ** 2 + 1.0 / 12.0
    assert abs(dn.var() / ptc - 1) < 0.02
    assert res.raw_dn.dtype == np.uint16


def test_photon_transfer_difference_method_removes_fixed_pattern():
    """With PRNU and DSNU on, two frames of the same burst (same fixed pattern, new noise):
    var(A - B) / 2 = shot + read; var(A) adds (prnu x S)^2. 512 x 512, 3 % tolerances (5 sigma ~ 1.4 %)."""
    g, r, prnu, level = 1.0, 3.0, 0.01, 12000.0
    spec = only("shot", "read", "prnu", "dsnu", "dark", "quantize", gain_e_per_dn=g, read_noise_e=r,
                prnu=prnu, dsnu_e_s=0.2, dark_current_e_s=1.0, temperature_c=20.0)
    rngs = default_rngs(21)
    sig = np.full((512, 512), level)
    a = apply_sensor(sig, 1.0, spec, rngs, PITCH).raw_dn.astype(float)
    b = apply_sensor(sig, 1.0, spec, rngs, PITCH).raw_dn.astype(float)
    shot = level + 1.0
    assert abs(np.var(a - b) / 2 / (shot + r ** 2 + 1 / 12) - 1) < 0.03
    assert abs(np.var(a) / (shot + r ** 2 + 1 / 12 + (prnu * level) ** 2) - 1) < 0.03
    # the fixed pattern is the same in both frames: their mean images agree to the noise, not the PRNU
    assert np.corrcoef((a - a.mean()).ravel(), (b - b.mean()).ravel())[0, 1] > 0.5 * (
        (prnu * level) ** 2 / ((prnu * level) ** 2 + shot))


def test_dark_current_doubles_with_temperature_and_dsnu_spread():
    t = 25.0
    spec = only("dark", "shot", dark_current_e_s=1.0, dark_reference_temp_c=20.0, temperature_c=32.0,
                dark_doubling_temp_c=6.0)
    e = apply_sensor(np.zeros((256, 256)), t, spec, default_rngs(1), PITCH).electrons
    expected = 1.0 * 4.0 * t                    # two doublings
    assert abs(e.mean() - expected) < 5 * math.sqrt(expected / e.size)
    assert abs(e.var() / expected - 1) < 5 * math.sqrt(2 / e.size)
    # DSNU alone (no shot noise): the per-pixel rates spread with rms dsnu x temperature factor
    spec = only("dark", "dsnu", dark_current_e_s=5.0, dsnu_e_s=0.5, temperature_c=26.0,
                dark_reference_temp_c=20.0)
    e = apply_sensor(np.zeros((256, 256)), t, spec, default_rngs(1), PITCH).electrons
    assert abs(e.std() / (0.5 * 2.0 * t) - 1) < 0.02
    assert abs(e.mean() / (5.0 * 2.0 * t) - 1) < 0.002


def test_no_light_no_noise_gives_black_level():
    spec = only("quantize", "saturation")
    res = apply_sensor(np.zeros((8, 8)), 30.0, spec, default_rngs(0), PITCH)
    assert np.all(res.raw_dn == spec.black_level_dn)
    none = make_spec(effects=SensorEffects.none(), gain_e_per_dn=4.0)
    res = apply_sensor(np.full((4, 4), 100.0), 1.0, none, default_rngs(0), PITCH)
    assert np.allclose(res.raw_dn, 100.0 / 4.0 + none.black_level_dn)


# ------------------------------------------------------------------------------------------------
# reproducibility and independence of the streams

def _scene(h=96, w=128, seed=0):
    """A colour scene: faint sky, a few bright (saturating) stars, and a bright band."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(5, 30, (h, w, 3))
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(6):
        y0, x0 = rng.uniform(10, h - 10), rng.uniform(10, w - 10)
        s += 4e5 * np.exp(-((yy - y0) ** 2 + (xx - x0) ** 2) / 3.0)[..., None] * np.array([0.8, 1.0, 0.6])
    s[40:50] += 59000.0                         # just under the full well: hits push it over
    return s


def _busy_spec(**kw):
    base = dict(bayer="RGGB", days_on_orbit=2000.0, hot_pixel_rate_per_px_day=2e-5,
                cosmic_ray_rate_cm2_s=300.0)
    base.update(kw)
    return make_spec(**base)


def test_same_seed_gives_identical_raw_for_any_thread_count():
    spec = _busy_spec()
    sig = _scene()
    threads = numba.get_num_threads()
    a = apply_sensor(sig, 30.0, spec, default_rngs(11), PITCH, saa_weight=0.3)
    numba.set_num_threads(1)
    try:
        b = apply_sensor(sig, 30.0, spec, default_rngs(11), PITCH, saa_weight=0.3)
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(a.raw_dn, b.raw_dn)
    assert np.array_equal(a.electrons, b.electrons)
    assert np.array_equal(a.cosmic_rays, b.cosmic_rays) and a.cosmic_rays.size > 10
    assert np.array_equal(a.hot_pixels, b.hot_pixels) and a.hot_pixels.size > 10
    c = apply_sensor(sig, 30.0, spec, default_rngs(12), PITCH, saa_weight=0.3)
    assert not np.array_equal(a.raw_dn, c.raw_dn)


def test_changing_only_the_cosmic_stream_changes_only_cosmic_pixels():
    """Different cosmic-ray seed, everything else equal: the raw frames differ only inside the union of
    the two cosmic-ray masks (hits and the charge they bloomed along saturated columns)."""
    spec = _busy_spec()
    sig = _scene()
    ra, rb = default_rngs(5), default_rngs(5)
    rb["cosmic"] = default_rngs(99)["cosmic"]
    a = apply_sensor(sig, 30.0, spec, ra, PITCH)
    b = apply_sensor(sig, 30.0, spec, rb, PITCH)
    diff = a.raw_dn != b.raw_dn
    union = a.cosmic_mask | b.cosmic_mask
    assert diff.sum() > 50
    assert not np.any(diff & ~union)
    assert np.array_equal(a.electrons[~union], b.electrons[~union])
    # blooming spread some hits' charge beyond the pixels they struck, and the mask follows it
    direct = np.zeros_like(a.cosmic_mask)
    rows, cols, _ = cr.deposit(a.cosmic_rays.copy(), sig.shape[1], sig.shape[0])
    direct[rows, cols] = True
    assert a.cosmic_mask.sum() > direct.sum()


def test_other_streams_change_only_their_own_effect():
    spec = _busy_spec()
    sig = _scene()
    base = apply_sensor(sig, 30.0, spec, default_rngs(5), PITCH)
    # read noise: electrons identical, raw differs
    r = default_rngs(5)
    r["read"] = default_rngs(6)["read"]
    other = apply_sensor(sig, 30.0, spec, r, PITCH)
    assert np.array_equal(base.electrons, other.electrons)
    assert not np.array_equal(base.raw_dn, other.raw_dn)
    # hot pixels: only pixels that hold a hot pixel in either population change (none saturate here)
    quiet = _busy_spec(cosmic_ray_rate_cm2_s=0.0, hot_pixel_dark_e_s=(50.0, 0.5))
    flat = np.full((96, 128), 50.0)
    a = apply_sensor(flat, 30.0, quiet, default_rngs(5), PITCH)
    r = default_rngs(5)
    r["hot"] = default_rngs(6)["hot"]
    b = apply_sensor(flat, 30.0, quiet, r, PITCH)
    assert a.n_saturated == b.n_saturated == 0
    diff = a.raw_dn != b.raw_dn
    assert diff.any() and not np.any(diff & ~(a.hot_mask | b.hot_mask))
    # shot noise: fixed pattern and cosmic rays unchanged
    r = default_rngs(5)
    r["shot"] = default_rngs(6)["shot"]
    c = apply_sensor(sig, 30.0, spec, r, PITCH)
    assert np.array_equal(base.cosmic_rays, c.cosmic_rays) and np.array_equal(base.hot_pixels, c.hot_pixels)


def test_fixed_pattern_is_the_same_every_frame_and_noise_is_new():
    spec = _busy_spec(prnu=0.02)
    rngs = default_rngs(8)
    fp1 = fixed_pattern((96, 128), spec, rngs)
    f1 = apply_sensor(_scene(), 30.0, spec, rngs, PITCH)
    f2 = apply_sensor(_scene(), 30.0, spec, rngs, PITCH)
    fp2 = fixed_pattern((96, 128), spec, rngs)
    assert np.array_equal(fp1.prnu_gain, fp2.prnu_gain) and np.array_equal(fp1.dark_e_s, fp2.dark_e_s)
    assert np.array_equal(f1.hot_pixels, f2.hot_pixels) and np.array_equal(f1.hot_mask, f2.hot_mask)
    assert not np.array_equal(f1.raw_dn, f2.raw_dn)
    assert not np.array_equal(f1.cosmic_rays, f2.cosmic_rays)
    # passing the fixed pattern explicitly gives the same frame as drawing it inside
    r1, r2 = default_rngs(8), default_rngs(8)
    x = apply_sensor(_scene(), 30.0, spec, r1, PITCH)
    y = apply_sensor(_scene(), 30.0, spec, r2, PITCH, fixed=fixed_pattern((96, 128), spec, r2))
    assert np.array_equal(x.raw_dn, y.raw_dn)


# ------------------------------------------------------------------------------------------------
# saturation and blooming

@pytest.mark.parametrize("gain,bits,black", [(2.0, 14, 600), (0.5, 14, 1024), (8.0, 12, 0), (1.0, 16, 0)])
def test_raw_never_exceeds_full_well_plus_black_nor_the_adc(gain, bits, black):
    spec = make_spec(gain_e_per_dn=gain, bit_depth=bits, black_level_dn=black, read_noise_e=20.0,
                     bayer="RGGB", cosmic_ray_rate_cm2_s=500.0)
    rng = np.random.default_rng(0)
    sig = rng.uniform(0, 10 * spec.full_well_e, (64, 80, 3))
    sig[:, :40] *= 0.01                           # unsaturated half
    res = apply_sensor(sig, 30.0, spec, default_rngs(2), PITCH)
    limit = min(spec.full_well_e / gain + black, 2 ** bits - 1)
    assert res.raw_dn.max() <= limit
    assert res.raw_dn.max() == spec.white_level_dn
    assert res.electrons.max() <= spec.full_well_e
    assert res.n_saturated > 0


def test_blooming_fills_nearest_pixels_up_and_down():
    fw = 100.0
    e = np.zeros((9, 3))
    e[4, 1] = 3 * fw                              # 2 fw of excess: one full pixel above, one below
    e[0, 2] = 2.5 * fw                            # at the top: the upward half turns back down
    lost = bloom(e, fw)
    assert np.array_equal(e[:, 1], [0, 0, 0, fw, fw, fw, 0, 0, 0])
    assert np.allclose(e[:, 2], [fw, fw, 0.5 * fw, 0, 0, 0, 0, 0, 0])
    assert np.all(e[:, 0] == 0) and np.all(lost == 0)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(0, 2 ** 32 - 1), st.floats(0.0, 3.0))
def test_blooming_conserves_charge_until_the_column_is_full(h, seed, scale):
    fw = 1000.0
    rng = np.random.default_rng(seed)
    col = rng.exponential(fw * scale, (h, 1)) * (rng.random((h, 1)) < 0.4)
    before = col.sum()
    e = col.copy()
    lost = bloom(e, fw, np.array([0]))
    assert e.max() <= fw
    if before <= h * fw:
        assert abs(e.sum() - before) <= 1e-9 * max(before, 1.0) and lost[0] == 0.0
    else:
        assert np.all(e == fw)
        assert abs(lost[0] - (before - h * fw)) <= 1e-9 * before


def test_blooming_through_apply_sensor_conserves_column_sums():
    """Shot, read and cosmic noise off: after blooming every column holds the charge it received."""
    spec = only("saturation", gain_e_per_dn=1.0)
    sig = np.full((200, 50), 10.0)
    sig[90:110, 10:20] = 5e5                       # a bright star: ~ 170 full wells per column
    res = apply_sensor(sig, 1.0, spec, default_rngs(0), PITCH)
    assert np.allclose(res.electrons.sum(axis=0), sig.sum(axis=0), rtol=1e-12)
    assert res.bloom_lost_e == 0.0
    assert res.electrons.max() == spec.full_well_e
    # a column too small for the charge keeps H x full well and loses the rest
    small = np.full((20, 4), 10.0)
    small[10, 1] = 30 * spec.full_well_e
    res = apply_sensor(small, 1.0, spec, default_rngs(0), PITCH)
    assert np.all(res.electrons[:, 1] == spec.full_well_e)
    assert math.isclose(res.bloom_lost_e, small[:, 1].sum() - 20 * spec.full_well_e, rel_tol=1e-12)
    # without blooming the excess is simply lost
    res = apply_sensor(sig, 1.0, only("saturation", gain_e_per_dn=1.0, blooming=False), default_rngs(0), PITCH)
    assert np.array_equal(res.electrons, np.minimum(sig, spec.full_well_e))


# ------------------------------------------------------------------------------------------------
# hot pixels and cosmic rays

def test_hot_pixel_count_is_poisson_in_pixels_times_days():
    """256 x 256 px, 5e-5 /px/day, 30 days: mu = 98.3 per sensor. Over 300 seeds the mean is within
    3 sigma of mu and the variance/mean ratio within 3 sigma of 1 (sigma = sqrt(2 / 299))."""
    spec = make_spec(hot_pixel_rate_per_px_day=5e-5, days_on_orbit=30.0)
    mu = 5e-5 * 30.0 * 256 * 256
    counts = np.array([draw_hot_pixels((256, 256), spec, default_rngs(s)["hot"]).size for s in range(300)])
    assert abs(counts.mean() - mu) < 3 * math.sqrt(mu / counts.size)
    assert abs(counts.var(ddof=1) / mu - 1) < 3 * math.sqrt(2 / (counts.size - 1))
    # the default rate (Nagamatsu 2011) on a full D3S frame after 90 days: within 3 sigma of 1283
    d3s = make_spec()
    mu = d3s.hot_pixel_rate_per_px_day * 90.0 * 4256 * 2832
    n = draw_hot_pixels((2832, 4256), d3s, default_rngs(1)["hot"]).size
    assert abs(n - mu) < 3 * math.sqrt(mu)
    assert abs(mu - 2.366 / 2e6 * 90 * 4256 * 2832) < 1e-6


def test_hot_pixel_population_only_grows():
    rng = default_rngs(4)["hot"]
    young = draw_hot_pixels((300, 400), make_spec(days_on_orbit=50.0, hot_pixel_rate_per_px_day=1e-5),
                            np.random.Generator(np.random.PCG64(1)))
    old = draw_hot_pixels((300, 400), make_spec(days_on_orbit=200.0, hot_pixel_rate_per_px_day=1e-5),
                          np.random.Generator(np.random.PCG64(1)))
    assert young.size > 20 and old.size > 3 * young.size
    assert np.array_equal(old[: young.size], young)
    assert np.all(young["onset_day"] <= 50.0) and np.all(np.diff(old["onset_day"]) > 0)
    # hot-pixel dark rates: lognormal with the given median, at the sensor temperature
    spec = make_spec(days_on_orbit=1000.0, hot_pixel_rate_per_px_day=1e-4, temperature_c=26.0,
                     dark_reference_temp_c=20.0, hot_pixel_dark_e_s=(200.0, 1.0))
    hot = draw_hot_pixels((300, 400), spec, rng)
    n = hot.size
    assert abs(np.median(hot["dark_e_s"]) / 400.0 - 1) < 3 * 1.25 / math.sqrt(n)
    assert abs(np.std(np.log(hot["dark_e_s"])) - 1.0) < 3 / math.sqrt(2 * n)


def test_hot_pixels_show_in_the_image():
    spec = only("dark", "hot", "shot", days_on_orbit=500.0, hot_pixel_rate_per_px_day=1e-4)
    res = apply_sensor(np.zeros((128, 128)), 30.0, spec, default_rngs(3), PITCH)
    hot = res.hot_pixels
    assert hot.size > 100 and res.hot_mask.sum() == len({(y, x) for y, x in zip(hot["y"], hot["x"])})
    per_px = np.zeros((128, 128))
    np.add.at(per_px, (hot["y"], hot["x"]), hot["dark_e_s"])
    expected = (per_px + 0.5 * spec.dark_temperature_factor) * 30.0
    # every pixel within 6 sigma of its expected charge (Poisson)
    assert np.all(np.abs(res.electrons - expected) < 6 * np.sqrt(expected) + 1)


def test_cosmic_ray_counts_follow_poisson_and_the_saa_factor():
    """200 x 300 px at 8.45 um (0.0428 cm^2), 300 s: mu = 1.2 x 0.0428 x 300 = 15.4 hits outside the SAA.
    Over 400 seeds the mean count is within 3 sigma of mu, x30 inside the SAA and x15.5 half inside."""
    kw = dict(width=300, height=200, pixel_pitch_m=PITCH, exposure_s=300.0, rate_cm2_s=1.2, saa_factor=30.0,
              median_e=1000.0, energy_log_sigma=0.5, depth_um=10.0, max_length_px=50.0)
    for weight, factor in [(0.0, 1.0), (1.0, 30.0), (0.5, 15.5)]:
        mu = 1.2 * 300 * 200 * (PITCH * 100) ** 2 * 300.0 * factor
        assert math.isclose(cr.expected_count(1.2, 300, 200, PITCH, 300.0, 30.0, weight), mu)
        counts = np.array([cr.draw_events(default_rngs(s)["cosmic"], saa_weight_=weight, **kw).size
                           for s in range(400)])
        assert abs(counts.mean() - mu) < 3 * math.sqrt(mu / counts.size), (weight, counts.mean(), mu)
        assert abs(counts.var(ddof=1) / mu - 1) < 3 * math.sqrt(2 / (counts.size - 1))


def test_cosmic_ray_tracks_and_deposits():
    """Pixels per event between HST WF/PC-1's 2.7 and ACS's 4-5 (REFERENCES §8) at 8.45 um; median
    deposit 1000 e- at the median path; charge conserved by the rasteriser; times inside the exposure."""
    table = cr.draw_events(default_rngs(1)["cosmic"], 4256, 2832, PITCH, 30.0, 1.2, 30.0, 0.0, 1000.0, 0.5,
                           10.0, 50.0)
    n = table.size
    assert abs(n - 1.2 * 8.61 * 30.0) < 4 * math.sqrt(310.0)         # ~310 hits per D3S frame (REFERENCES §8)
    rows, cols, charge = cr.deposit(table, 4256, 2832)
    assert 2.7 <= table["n_pixels"].mean() <= 5.0
    assert np.all(table["time_s"] >= 0) and np.all(table["time_s"] < 30.0) and np.all(np.diff(table["time_s"]) >= 0)
    assert math.isclose(charge.sum(), table["energy_in_frame_e"].sum(), rel_tol=1e-12)
    inside = table["energy_in_frame_e"] > 0
    assert np.allclose(table["energy_in_frame_e"][inside & (table["length_px"] < 1)],
                       table["energy_e"][inside & (table["length_px"] < 1)])
    at_median_path = table["energy_e"] * math.sqrt(2) * 10.0 / table["path_um"]
    assert abs(np.median(at_median_path) / 1000.0 - 1) < 3 * 1.25 * 0.5 / math.sqrt(n)
    assert np.all(table["length_px"] <= 50.0)
    assert abs(np.median(table["length_px"]) / (10e-6 / PITCH) - 1) < 0.2      # median = depth (45 deg)


def test_cosmic_rays_in_the_image():
    spec = only("cosmic", cosmic_ray_rate_cm2_s=50.0)
    res = apply_sensor(np.zeros((300, 400)), 30.0, spec, default_rngs(9), PITCH, saa_weight=0.0)
    assert res.cosmic_rays.size > 20
    assert math.isclose(res.electrons.sum(), res.cosmic_rays["energy_in_frame_e"].sum(), rel_tol=1e-9)
    assert np.array_equal(res.cosmic_mask, res.electrons > 0)
    assert res.cosmic_mask.sum() <= res.cosmic_rays["n_pixels"].sum()
    bits = res.mask_bits
    assert bits.dtype == np.uint8 and np.array_equal(bits & 1, res.cosmic_mask.astype(np.uint8))


# ------------------------------------------------------------------------------------------------
# colour filter array

@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_mosaic_takes_each_pixels_filter_channel(pattern):
    img = np.zeros((5, 7, 3))
    img[..., 0], img[..., 1], img[..., 2] = 1.0, 2.0, 3.0
    m = mosaic(img, pattern)
    for k, letter in enumerate(pattern):
        dy, dx = divmod(k, 2)
        assert np.all(m[dy::2, dx::2] == {"R": 1.0, "G": 2.0, "B": 3.0}[letter])
    assert np.array_equal(cfa_channel_map((5, 7), pattern), (m - 1).astype(np.uint8))


@pytest.mark.parametrize("pattern", ["RGGB", "GBRG"])
def test_mosaic_demosaic_round_trip_on_a_smooth_image(pattern):
    """Bilinear demosaic of a smooth field (periods 60-90 px, amplitude 100): error < 1.5 % of the
    amplitude inside (curvature x 1 px^2 / 2 ~ 0.6 %); on the edge rows/columns, where the average is
    one-sided, below the gradient x 1 px (10.5); exact on a flat field."""
    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    img = np.stack([500 + 100 * np.sin(2 * np.pi * xx / 60) * np.cos(2 * np.pi * yy / 80),
                    800 + 100 * np.cos(2 * np.pi * (xx + yy) / 90),
                    300 + 100 * np.sin(2 * np.pi * yy / 70 + 1.0)], axis=-1)
    back = demosaic_bilinear(mosaic(img, pattern), pattern)
    err = np.abs(back - img)
    assert err[1:-1, 1:-1].max() < 1.5 and np.sqrt(np.mean(err[1:-1, 1:-1] ** 2)) < 0.6
    assert err.max() < 100 * 2 * np.pi / 60
    flat = demosaic_bilinear(np.full((9, 11), 1234, np.uint16), pattern, black_level_dn=34)
    assert flat.dtype == np.float32 and np.all(flat == 1200.0)
    # noise-free sensor output demosaics back to the scene (DN above black x gain = electrons)
    spec = make_spec(effects=SensorEffects.none(), bayer=pattern, gain_e_per_dn=2.0)
    res = apply_sensor(img, 1.0, spec, default_rngs(0), PITCH)
    rgb = demosaic_bilinear(res.raw_dn, pattern, spec.black_level_dn) * spec.gain_e_per_dn
    assert np.abs(rgb - img)[1:-1, 1:-1].max() < 1.5


# ------------------------------------------------------------------------------------------------
# South Atlantic Anomaly, spec checks, shapes

def test_in_saa_approximate_boundary():
    assert cr.in_saa(-30.0, -45.0)                      # centre
    assert cr.in_saa(-25.0, -50.0)                      # southern Brazil / Paraguay (IGRF field minimum)
    assert cr.in_saa(-30.0, 315.0)                      # longitude wraps
    assert not cr.in_saa(51.5, 0.0)                     # London
    assert not cr.in_saa(-30.0, 140.0)                  # Australia
    assert not cr.in_saa(30.0, -45.0)                   # North Atlantic
    lat = np.array([-30.0, 0.0, -45.0])
    assert cr.in_saa(lat, np.array([-45.0, -45.0, -45.0])).tolist() == [True, False, True]
    t = np.linspace(0, 100, 101)
    lat_t = np.where(t < 50, 40.0, -30.0)
    assert math.isclose(cr.saa_weight(t, lat_t, np.full_like(t, -45.0)), 0.5, abs_tol=0.011)


def test_spec_validation_and_helpers():
    with pytest.raises(ValueError, match="full_well_e"):
        make_spec(full_well_e=0.0)
    with pytest.raises(ValueError, match="bit_depth"):
        make_spec(bit_depth=17)
    with pytest.raises(ValueError, match="black_level_dn"):
        make_spec(bit_depth=12, black_level_dn=5000)
    with pytest.raises(ValueError, match="bayer pattern"):
        make_spec(bayer="RGBW")
    with pytest.raises(ValueError, match="unknown sensor effect"):
        SensorEffects.only("shot", "glow")
    assert make_spec(effects={"cosmic": False}).effects.cosmic is False
    assert make_spec(bayer="rggb").bayer == "RGGB"
    assert math.isclose(gain_at_iso(200, 780.0), 3.9) and math.isclose(gain_at_iso(1600, 780.0), 0.4875)
    assert make_spec(gain_e_per_dn=2.0, black_level_dn=600, full_well_e=60000).white_level_dn == 16383
    assert make_spec(gain_e_per_dn=4.0, black_level_dn=600, full_well_e=60000).white_level_dn == 15600
    spec = make_spec()
    with pytest.raises(ValueError, match="monochrome"):
        apply_sensor(np.zeros((4, 4, 3)), 1.0, spec, default_rngs(0), PITCH)
    with pytest.raises(ValueError, match="NaN"):
        apply_sensor(np.full((4, 4), np.nan), 1.0, spec, default_rngs(0), PITCH)
    with pytest.raises(ValueError, match="saa_weight"):
        apply_sensor(np.zeros((4, 4)), 1.0, spec, default_rngs(0), PITCH, saa_weight=1.5)
    res = apply_sensor(np.zeros((4, 6, 1), np.float32), 1.0, spec, default_rngs(0), PITCH)
    assert res.raw_dn.shape == (4, 6)


def test_full_frame_runs_and_reports_its_time():
    """The whole model on a 4256 x 2832 Bayer frame (timed for the report; no time is asserted)."""
    spec = make_spec(bayer="RGGB", prnu=0.005, dsnu_e_s=0.05, dark_current_e_s=0.2)
    rng = np.random.default_rng(0)
    sig = rng.uniform(0.0, 20.0, (2832, 4256, 3)).astype(np.float32)
    sig[1400:1410, 2000:2300] = 3e5                  # a saturated trail
    rngs = default_rngs(2012)
    t0 = time.perf_counter()
    fp = fixed_pattern((2832, 4256), spec, rngs)
    t1 = time.perf_counter()
    timings = {}
    res = apply_sensor(sig, 30.0, spec, rngs, PITCH, fixed=fp, timings=timings)
    print(f"\nsensor model 4256x2832: fixed pattern {t1 - t0:.2f} s, frame {timings['total']:.2f} s "
          f"({', '.join(f'{k} {v:.3f}' for k, v in timings.items() if k != 'total')}), "
          f"{numba.get_num_threads()} threads")
    assert res.raw_dn.shape == (2832, 4256) and res.raw_dn.dtype == np.uint16
    assert 200 < res.cosmic_rays.size < 420 and 1100 < res.hot_pixels.size < 1500
    assert res.n_saturated > 3000 and res.raw_dn.max() == spec.white_level_dn
