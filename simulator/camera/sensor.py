"""Sensor model: expected electrons in, noisy digital numbers out.

The renderer produces the expected (noise-free) charge each pixel collects during an exposure, per
colour channel. :func:`apply_sensor` turns it into what the camera writes to its raw file:

1. colour filter array: the channel each pixel's filter passes (:func:`demosaic.mosaic`), or mono;
2. PRNU: the signal times a fixed per-pixel gain map 1 + prnu x N(0, 1);
3. dark current: rate x 2^((T - T_ref) / T_doubling), plus a fixed DSNU map and hot pixels, x t;
4. shot noise: Poisson(signal + dark) electrons;
5. cosmic-ray tracks (:mod:`cosmic_rays`): charge added along short straight tracks;
6. full well: a pixel holds at most full_well_e; with blooming the excess flows up and down its column
   into the nearest pixels with room (charge is conserved until the whole column is full; the
   charge a full column cannot hold is lost, as it is drained or spills off the sensor - reported as
   ``bloom_lost_e``); without blooming the excess is lost;
7. read noise: Gaussian, read_noise_e electrons rms;
8. ADC: divide by the gain (e-/DN), add the black level, round to the nearest integer and clip to
   [0, white level], white level = min(2^bit_depth - 1, black + full_well / gain).

Each effect can be switched off (:class:`SensorEffects`). Units: electrons (e-), seconds, DN.

Randomness (DESIGN.md §2): every effect draws only from its own stream of ``rngs`` (see
:func:`default_rngs`): "shot", "read", "prnu", "dsnu", "hot", "cosmic" ("dark" is reserved). The
fixed-pattern maps (PRNU, DSNU, hot pixels) are drawn from a copy of their stream's current state, so
they are the same for every frame that uses the same ``rngs`` (a burst) and the caller's generators
are not advanced by them; the per-frame noise streams ("shot", "read", "cosmic") advance, so every
frame of a burst gets new noise. Shot and read noise use a counter-based generator (Philox4x32-10,
Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3", SC'11) keyed once per frame by
draws from the numpy stream: each pixel's noise depends only on that key, the pixel's index and its
own expected charge, so results are bit-identical for any number of threads, and changing one
pixel's input (a hot pixel, a cosmic ray) changes no other pixel's noise.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, fields, replace

import numpy as np
from numba import njit, prange

from . import cosmic_rays as _cr
from .demosaic import check_pattern, mosaic

RNG_KEYS = ("shot", "read", "dark", "prnu", "dsnu", "hot", "cosmic")  # spawn order: append only


def default_rngs(seed) -> dict[str, np.random.Generator]:
    """One numpy Generator per sensor subsystem, spawned from ``np.random.SeedSequence(seed)``.

    seed: int or a SeedSequence. The children are those ``SeedSequence.spawn`` gives, in the fixed order
    of RNG_KEYS, so each key's stream depends only on the seed and its position (new keys are only
    ever appended). If other subsystems also spawn children of the scenario's seed, pass the sensor's
    own child SeedSequence here, not the bare seed, or the streams would coincide with theirs.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    # the children SeedSequence.spawn would give a fresh ``ss``, without advancing ``ss`` itself
    children = [np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (i,), pool_size=ss.pool_size)
                for i in range(len(RNG_KEYS))]
    return {k: np.random.Generator(np.random.PCG64(c)) for k, c in zip(RNG_KEYS, children)}


@dataclass(frozen=True)
class SensorEffects:
    """Switches for each effect of the sensor model (all on by default)."""

    shot: bool = True         # Poisson photon and dark-current shot noise
    dark: bool = True         # mean dark current
    read: bool = True         # Gaussian read noise
    prnu: bool = True         # photo-response non-uniformity (fixed gain map)
    dsnu: bool = True         # dark-signal non-uniformity (fixed dark-rate map)
    hot: bool = True          # hot pixels (radiation-damaged, fixed)
    cosmic: bool = True       # cosmic-ray tracks (new every frame)
    saturation: bool = True   # full well (with blooming if SensorSpec.blooming) and the white level
    quantize: bool = True     # round to integer DN, clip to [0, 2^bit_depth - 1], uint16

    @classmethod
    def none(cls) -> "SensorEffects":
        """Every effect off: raw = signal / gain + black, as float DN."""
        return cls(**{f.name: False for f in fields(cls)})

    @classmethod
    def only(cls, *names: str) -> "SensorEffects":
        """Only the named effects on."""
        known = {f.name for f in fields(cls)}
        bad = set(names) - known
        if bad:
            raise ValueError(f"unknown sensor effect(s) {sorted(bad)}; known: {sorted(known)}")
        return cls(**{f.name: (f.name in names) for f in fields(cls)})


@dataclass(frozen=True)
class SensorSpec:
    """Electrical model of one camera sensor at one ISO setting. Electrons (e-), seconds, DN, deg C.

    Camera-specific figures have no default (presets supply them with their sources). Defaults of the
    radiation figures come from REFERENCES.md §8; tags [W]/[M]/[U]/[C] as there, "estimate" where ours.
    """

    read_noise_e: float          # rms read noise, e-
    full_well_e: float           # pixel capacity, e-
    dark_current_e_s: float      # mean dark current at dark_reference_temp_c, e-/s/pixel
    gain_e_per_dn: float         # conversion gain, e-/DN (falls as 1/ISO; see gain_at_iso)
    black_level_dn: int          # offset added before the ADC, DN
    bit_depth: int               # ADC bits (raw values 0 .. 2^bit_depth - 1)
    prnu: float                  # rms photo-response non-uniformity, fraction of the signal
    dsnu_e_s: float              # rms dark-current non-uniformity across pixels, e-/s at the reference T
    # Dark current doubles every ~5-8 deg C in silicon (Janesick 2001, "Scientific Charge-Coupled
    # Devices", SPIE, ch. 7) [M]; 6 deg C is the value we use [estimate].
    dark_reference_temp_c: float = 20.0   # temperature at which dark_current_e_s is quoted [estimate]
    dark_doubling_temp_c: float = 6.0
    temperature_c: float = 22.0           # ISS cabin ~22 deg C (REFERENCES §8) [M]
    # New permanent hot pixels: 2.366 +- 0.055 per day in a 2e6-pixel HDTV CCD on the ISS, i.e.
    # 1.183e-6 per pixel per day (Nagamatsu et al. 2011, Radiat. Meas. 46, 205; REFERENCES §8) [W].
    hot_pixel_rate_per_px_day: float = 2.366 / 2.0e6
    # Cameras are swapped after about six months on the ISS (REFERENCES §8 [M]): 90 days is mid-life
    # [estimate].
    days_on_orbit: float = 90.0
    # Dark rate of a hot pixel at the reference temperature: lognormal (median e-/s, sigma of ln).
    # Nagamatsu count "white defects" above 0.5 mV in a 1/60 s HDTV field, i.e. of order 1e2-1e3 e-/s
    # for a CCD output of tens of uV/e- [estimate, U]; median 200 e-/s, sigma 1.0 [estimate].
    hot_pixel_dark_e_s: tuple[float, float] = (200.0, 1.0)
    # Transient hits: ~1.2 events cm^-2 s^-1 outside the SAA (HST WF/PC-1: 1.7 events/s on 800^2 x 15 um;
    # REFERENCES §8 [W] for HST, [U] for the ISS cabin, whose shielding and secondaries change it).
    cosmic_ray_rate_cm2_s: float = 1.2
    # SAA flux "10 to 100 times greater" (Pettit 2012, NASA blog; REFERENCES §8) [W]; 30 ~ their
    # geometric mean [estimate].
    saa_factor: float = 30.0
    # Median deposit ~1000 e- with a cut-off near 500 e- (HST ACS; REFERENCES §8) [W]; consistent with
    # ~80 e-h pairs per um for a minimum-ionising particle over a ~14 um path [C].
    cosmic_ray_median_e: float = 1000.0
    cosmic_ray_energy_log_sigma: float = 0.5   # spread of ln(deposit) [estimate: 10th percentile ~530 e-]
    # Charge-collection depth. 10 um at 8.45 um pitch gives a mean of ~3.5 pixels per event, between
    # HST WF/PC-1's 2.7 and ACS's 4-5 px/event (REFERENCES §8 [W]) [estimate for a DSLR CMOS].
    cosmic_ray_depth_um: float = 10.0
    cosmic_ray_max_length_px: float = 50.0     # longest projected track [estimate]
    bayer: str | None = "RGGB"                 # CFA pattern, None for a monochrome sensor
    blooming: bool = True
    effects: SensorEffects = field(default_factory=SensorEffects)

    def __post_init__(self):
        def need(name, ok, what):
            if not ok:
                raise ValueError(f"sensor.{name}: {getattr(self, name)!r} must be {what}")

        need("read_noise_e", self.read_noise_e >= 0, ">= 0 electrons")
        need("full_well_e", self.full_well_e > 0, "> 0 electrons")
        need("dark_current_e_s", self.dark_current_e_s >= 0, ">= 0 e-/s")
        need("gain_e_per_dn", self.gain_e_per_dn > 0, "> 0 e-/DN")
        need("bit_depth", 1 <= int(self.bit_depth) <= 16 and int(self.bit_depth) == self.bit_depth,
             "an integer from 1 to 16")
        need("black_level_dn", 0 <= self.black_level_dn < 2 ** int(self.bit_depth)
             and int(self.black_level_dn) == self.black_level_dn, "an integer in [0, 2^bit_depth)")
        need("prnu", 0 <= self.prnu < 1, "a fraction in [0, 1)")
        need("dsnu_e_s", self.dsnu_e_s >= 0, ">= 0 e-/s")
        need("dark_doubling_temp_c", self.dark_doubling_temp_c > 0, "> 0 deg C")
        need("hot_pixel_rate_per_px_day", self.hot_pixel_rate_per_px_day >= 0, ">= 0 per pixel per day")
        need("days_on_orbit", self.days_on_orbit >= 0, ">= 0 days")
        need("hot_pixel_dark_e_s", len(self.hot_pixel_dark_e_s) == 2 and self.hot_pixel_dark_e_s[0] > 0
             and self.hot_pixel_dark_e_s[1] >= 0, "(median e-/s > 0, log-sigma >= 0)")
        need("cosmic_ray_rate_cm2_s", self.cosmic_ray_rate_cm2_s >= 0, ">= 0 events/cm^2/s")
        need("saa_factor", self.saa_factor >= 0, ">= 0")
        need("cosmic_ray_median_e", self.cosmic_ray_median_e > 0, "> 0 electrons")
        need("cosmic_ray_energy_log_sigma", self.cosmic_ray_energy_log_sigma >= 0, ">= 0")
        need("cosmic_ray_depth_um", self.cosmic_ray_depth_um > 0, "> 0 um")
        need("cosmic_ray_max_length_px", self.cosmic_ray_max_length_px >= 0, ">= 0 pixels")
        if self.bayer is not None:
            object.__setattr__(self, "bayer", check_pattern(self.bayer))
        if isinstance(self.effects, dict):
            object.__setattr__(self, "effects", SensorEffects(**self.effects))

    @property
    def dark_temperature_factor(self) -> float:
        """2^((T - T_ref) / T_doubling): dark current at the sensor temperature / at the reference."""
        return 2.0 ** ((self.temperature_c - self.dark_reference_temp_c) / self.dark_doubling_temp_c)

    @property
    def white_level_dn(self) -> int:
        """Largest raw value: min(2^bit_depth - 1, floor(black + full_well / gain)) with saturation on,
        2^bit_depth - 1 without."""
        top = 2 ** int(self.bit_depth) - 1
        if not self.effects.saturation:
            return top
        return int(min(top, math.floor(self.black_level_dn + self.full_well_e / self.gain_e_per_dn)))

    def with_effects(self, **flags) -> "SensorSpec":
        """A copy with some effects switched, e.g. ``spec.with_effects(cosmic=False)``."""
        return replace(self, effects=replace(self.effects, **flags))


def gain_at_iso(iso: float, unity_gain_iso: float) -> float:
    """Conversion gain in e-/DN at ``iso`` for a sensor whose gain is 1 e-/DN at ``unity_gain_iso``.

    Raw gain falls as 1/ISO (Claff's Nikon D3 measurements, 14-bit: 3.88-4.1 e-/DN at ISO 200,
    0.46 at 1600, 0.24 at 3200, 0.12 at 6400; unity near ISO 800 [W/C], REFERENCES §8).
    """
    if iso <= 0 or unity_gain_iso <= 0:
        raise ValueError("iso and unity_gain_iso must be > 0")
    return unity_gain_iso / iso


HOT_PIXEL_DTYPE = np.dtype([
    ("x", "i4"),            # column
    ("y", "i4"),            # row
    ("dark_e_s", "f8"),     # this defect's dark rate at the sensor temperature, e-/s
    ("onset_day", "f8"),    # days on orbit when the defect appeared
])


@dataclass(frozen=True)
class FixedPattern:
    """The per-pixel maps that stay the same from frame to frame (drawn by :func:`fixed_pattern`).

    prnu_gain: float32 [H, W], 1 + PRNU (None when PRNU is off).
    dark_e_s: float32 [H, W], dark rate at the sensor temperature including DSNU and hot pixels, e-/s
        (None when DSNU and hot pixels are off: the uniform rate ``dark_rate_e_s`` applies).
    dark_rate_e_s: the uniform mean dark rate at the sensor temperature, e-/s.
    hot_pixels: HOT_PIXEL_DTYPE table (a pixel may carry more than one defect).
    hot_mask: bool [H, W].
    """

    shape: tuple[int, int]
    prnu_gain: np.ndarray | None
    dark_e_s: np.ndarray | None
    dark_rate_e_s: float
    hot_pixels: np.ndarray
    hot_mask: np.ndarray


def _sub_generators(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """n independent generators seeded from (a copy of) rng, for draws that must stay nested."""
    seeds = rng.integers(0, 2 ** 63, size=n, dtype=np.int64)
    return [np.random.Generator(np.random.PCG64(int(s))) for s in seeds]


def draw_hot_pixels(shape: tuple[int, int], spec: SensorSpec, rng: np.random.Generator) -> np.ndarray:
    """The hot-pixel population after ``spec.days_on_orbit`` days (HOT_PIXEL_DTYPE table).

    Defects appear as a Poisson process in time at rate hot_pixel_rate_per_px_day x pixels per day, at
    uniformly random pixels, each with a lognormal dark rate. Onset times, positions and rates come
    from three separate sub-streams, so a longer time on orbit keeps every earlier defect and adds new
    ones (the population only grows). Draws from ``rng`` itself (callers pass a copy).
    """
    h, w = shape
    per_day = spec.hot_pixel_rate_per_px_day * h * w
    days = spec.days_on_orbit
    if per_day <= 0 or days <= 0:
        return np.zeros(0, dtype=HOT_PIXEL_DTYPE)
    g_time, g_pos, g_rate = _sub_generators(rng, 3)
    chunk = int(per_day * days + 5.0 * math.sqrt(per_day * days) + 16)
    onsets, last = [], 0.0
    while last <= days:
        block = last + np.cumsum(g_time.exponential(1.0 / per_day, chunk))
        onsets.append(block)
        last = block[-1]
    onset = np.concatenate(onsets)
    onset = onset[: np.searchsorted(onset, days, side="right")]
    n = onset.size
    idx = g_pos.integers(0, h * w, size=n)
    median, log_sigma = spec.hot_pixel_dark_e_s
    rate = median * np.exp(log_sigma * g_rate.standard_normal(n)) * spec.dark_temperature_factor
    table = np.zeros(n, dtype=HOT_PIXEL_DTYPE)
    table["y"] = idx // w
    table["x"] = idx % w
    table["dark_e_s"] = rate
    table["onset_day"] = onset
    return table


def fixed_pattern(shape: tuple[int, int], spec: SensorSpec, rngs: dict[str, np.random.Generator]) -> FixedPattern:
    """Draw the PRNU, DSNU and hot-pixel maps for a sensor of ``shape`` = (H, W).

    Each map is drawn from a copy of its own stream ("prnu", "dsnu", "hot"), so the same ``rngs`` give
    the same maps however often this is called, and the caller's generators do not move.
    """
    h, w = shape
    eff = spec.effects
    tf = spec.dark_temperature_factor
    prnu_gain = None
    if eff.prnu and spec.prnu > 0:
        g = copy.deepcopy(rngs["prnu"])
        prnu_gain = g.standard_normal((h, w), dtype=np.float32)
        prnu_gain *= np.float32(spec.prnu)
        prnu_gain += np.float32(1.0)
        np.maximum(prnu_gain, np.float32(0.0), out=prnu_gain)
    base = spec.dark_current_e_s if eff.dark else 0.0
    dark_map = None
    if eff.dsnu and spec.dsnu_e_s > 0:
        g = copy.deepcopy(rngs["dsnu"])
        dark_map = g.standard_normal((h, w), dtype=np.float32)
        dark_map *= np.float32(spec.dsnu_e_s)
        dark_map += np.float32(base)
        np.maximum(dark_map, np.float32(0.0), out=dark_map)   # a rate cannot be negative
        dark_map *= np.float32(tf)
    hot = np.zeros(0, dtype=HOT_PIXEL_DTYPE)
    hot_mask = np.zeros((h, w), dtype=bool)
    if eff.hot:
        hot = draw_hot_pixels(shape, spec, copy.deepcopy(rngs["hot"]))
        if hot.size:
            if dark_map is None:
                dark_map = np.full((h, w), np.float32(base * tf), dtype=np.float32)
            flat = dark_map.reshape(-1)
            np.add.at(flat, hot["y"].astype(np.int64) * w + hot["x"], hot["dark_e_s"].astype(np.float32))
            hot_mask[hot["y"], hot["x"]] = True
    return FixedPattern((h, w), prnu_gain, dark_map, base * tf, hot, hot_mask)


# ------------------------------------------------------------------------------------------------
# Counter-based random numbers (Philox4x32-10) and the per-pixel samplers.

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)
_U5 = np.uint64(5)
_U6 = np.uint64(6)
_U26 = np.uint64(26)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2^-53
_INV_K = 1.0 / np.maximum(np.arange(200, dtype=np.float64), 1.0)  # 1/k for the inversion search


@njit(cache=True)
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 block: four 32-bit counter words and two key words (uint64 holding 32 bits)."""
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        hi0 = p0 >> _U32
        lo0 = p0 & _MASK32
        hi1 = p1 >> _U32
        lo1 = p1 & _MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    return c0, c1, c2, c3


@njit(cache=True)
def _unit(a, b):
    """A double in the open interval (0, 1) from two 32-bit words (53 random bits)."""
    m = ((a >> _U5) << _U26) | (b >> _U6)
    return (np.float64(m) + 0.5) * _TWO_M53


@njit(cache=True)
def _poisson(lam, c0, c1, c3, k0, k1):
    """Poisson(lam) sample for one pixel; counter (c0, c1, attempt, c3), key (k0, k1)."""
    if not (lam > 0.0):
        return 0.0
    if lam < 10.0:
        r0, r1, r2, r3 = philox4x32(c0, c1, np.uint64(0), c3, k0, k1)
        return _inversion(lam, _unit(r0, r1))
    # PTRS, transformed rejection with squeeze (Hoermann 1993, Insurance: Math. Econ. 12, 39), lam >= 10
    slam = math.sqrt(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    vr = 0.9277 - 3.6224 / (b - 2.0)
    log_inv_alpha = 0.0
    loglam = 0.0
    attempt = np.uint64(0)
    while True:
        r0, r1, r2, r3 = philox4x32(c0, c1, attempt, c3, k0, k1)
        attempt += np.uint64(1)
        u = _unit(r0, r1) - 0.5
        v = _unit(r2, r3)
        us = 0.5 - abs(u)
        k = float(math.floor((2.0 * a / us + b) * u + lam + 0.43))
        if us >= 0.07 and v <= vr:
            return k                      # the squeeze accepts ~85-90 % of draws without logarithms
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if loglam == 0.0:
            loglam = math.log(lam)
            log_inv_alpha = math.log(1.1239 + 1.1328 / (b - 3.4))
        if (math.log(v) + log_inv_alpha - math.log(a / (us * us) + b)
                <= -lam + k * loglam - math.lgamma(k + 1.0)):
            return k


@njit(cache=True, inline="always")
def _normal_pair(c0, c1, c3, k0, k1):
    """Two independent standard normal deviates (Box-Muller) from one Philox block."""
    r0, r1, r2, r3 = philox4x32(c0, c1, np.uint64(0), c3, k0, k1)
    rad = math.sqrt(-2.0 * math.log(_unit(r0, r1)))
    ang = 2.0 * math.pi * _unit(r2, r3)
    return rad * math.cos(ang), rad * math.sin(ang)


@njit(cache=True)
def _inversion(lam, u):
    """Poisson(lam) for lam < 10 by sequential search of the cumulative distribution at uniform u."""
    p = math.exp(-lam)
    cdf = p
    k = 0
    while u > cdf and k < 199:
        k += 1
        p *= lam * _INV_K[k]
        cdf += p
        if k > lam and p < 1e-17:   # the rest of the tail is below double precision: u ~ 1 - 2^-53
            break
    return float(k)


@njit(parallel=True, cache=True)
def _collect(signal, gain_map, use_gain, dark_map, use_dark_map, dark_rate, t, shot, key, out):
    """Collected charge before cosmic rays and saturation: Poisson(signal x gain + dark x t)."""
    h, w = signal.shape
    k0, k1, s0, s1 = key[0], key[1], key[2], key[3]
    for i in prange(h):
        for j in range(w):
            s = np.float64(signal[i, j])
            if use_gain:
                s *= gain_map[i, j]
            d = np.float64(dark_map[i, j]) if use_dark_map else dark_rate
            lam = s + d * t
            if shot:
                p = np.uint64(i) * np.uint64(w) + np.uint64(j)
                out[i, j] = _poisson(lam, p & _MASK32, (p >> _U32) ^ s1, s0, k0, k1)
            else:
                out[i, j] = lam if lam > 0.0 else 0.0


@njit(cache=True, inline="always")
def _read_noise_row(i, w, read_on, sigma, s0, s1, k0, k1, noise):
    """Read noise (e-) of row i into noise[:w]; pixels (i, 2m) and (i, 2m + 1) share a Philox block."""
    if not read_on:
        for j in range(w):
            noise[j] = 0.0
        return
    base = np.uint64(i) * np.uint64((w + 1) // 2)
    for m in range((w + 1) // 2):
        p = base + np.uint64(m)
        z0, z1 = _normal_pair(p & _MASK32, (p >> _U32) ^ s1, s0, k0, k1)
        noise[2 * m] = sigma * z0
        if 2 * m + 1 < w:
            noise[2 * m + 1] = sigma * z1


@njit(parallel=True, cache=True)
def _readout_u16(e, read_on, sigma, key, gain, black, white, out):
    """DN = round(e / gain + read noise / gain + black), clipped to [0, white]; uint16."""
    h, w = e.shape
    k0, k1, s0, s1 = key[0], key[1], key[2], key[3]
    inv = 1.0 / gain
    for i in prange(h):
        noise = np.empty(w + 1)
        _read_noise_row(i, w, read_on, sigma, s0, s1, k0, k1, noise)
        for j in range(w):
            dn = math.floor((e[i, j] + noise[j]) * inv + black + 0.5)
            if dn < 0.0:
                dn = 0.0
            elif dn > white:
                dn = white
            out[i, j] = np.uint16(dn)


@njit(parallel=True, cache=True)
def _readout_float(e, read_on, sigma, key, gain, black, out):
    """DN = e / gain + read noise / gain + black, unrounded and unclipped (quantize off)."""
    h, w = e.shape
    k0, k1, s0, s1 = key[0], key[1], key[2], key[3]
    inv = 1.0 / gain
    for i in prange(h):
        noise = np.empty(w + 1)
        _read_noise_row(i, w, read_on, sigma, s0, s1, k0, k1, noise)
        for j in range(w):
            out[i, j] = (e[i, j] + noise[j]) * inv + black


def _frame_key(rng: np.random.Generator) -> np.ndarray:
    """Four 32-bit words (key k0, k1 and counter salts) for one frame, drawn from the stream."""
    return rng.integers(0, 2 ** 32, size=4, dtype=np.uint64)


# ------------------------------------------------------------------------------------------------
# Full well and blooming.

@njit(cache=True, inline="always")
def _fill(col, i0, i1, step, carry, fw):
    """Walk rows i0, i0+step, ... (excluding i1) filling each pixel up to fw from carry; returns carry."""
    i = i0
    while i != i1 and carry > 0.0:
        room = fw - col[i]
        if room > 0.0:
            take = room if room < carry else carry
            col[i] += take
            carry -= take
        i += step
    return carry


@njit(cache=True)
def _bloom_column(col, fw, up, down):
    """Bloom one column in place (col: 1-D view); returns the charge lost because the column is full."""
    h = col.shape[0]
    any_over = False
    for i in range(h):
        ex = col[i] - fw
        if ex > 0.0:
            col[i] = fw
            up[i] = 0.5 * ex
            down[i] = ex - 0.5 * ex
            any_over = True
        else:
            up[i] = 0.0
            down[i] = 0.0
    if not any_over:
        return 0.0
    # half of each pixel's excess flows down, half up, into the nearest pixels with room
    carry = 0.0
    for i in range(h):
        carry += down[i]
        if carry > 0.0:
            room = fw - col[i]
            if room > 0.0:
                take = room if room < carry else carry
                col[i] += take
                carry -= take
    left_down = carry
    carry = 0.0
    for i in range(h - 1, -1, -1):
        carry += up[i]
        if carry > 0.0:
            room = fw - col[i]
            if room > 0.0:
                take = room if room < carry else carry
                col[i] += take
                carry -= take
    left_up = carry
    # what reached an end of the column turns back and fills whatever room is left; a remainder means
    # the whole column is full and is lost
    lost = _fill(col, h - 1, -1, -1, left_down, fw)
    lost += _fill(col, 0, h, 1, left_up, fw)
    return lost


@njit(parallel=True, cache=True)
def _bloom_columns(e, cols, fw):
    n = cols.shape[0]
    h = e.shape[0]
    lost = np.zeros(n)
    for m in prange(n):
        c = cols[m]
        col = e[:, c].copy()
        up = np.empty(h)
        down = np.empty(h)
        lost[m] = _bloom_column(col, fw, up, down)
        e[:, c] = col
    return lost


def bloom(electrons: np.ndarray, full_well_e: float, columns: np.ndarray | None = None) -> np.ndarray:
    """Apply full-well saturation with blooming along columns, in place.

    electrons: float64 [H, W] collected charge (e-). Every pixel above full_well_e keeps full_well_e;
    half of its excess flows up and half down its column into the nearest pixels with room; charge that
    reaches the top or bottom of the column turns back. The column's total is conserved unless the
    whole column is full; the charge a full column cannot hold is lost.
    columns: the columns to process (default: those with a pixel above full well).
    Returns the charge lost per processed column (e-), in the order of ``columns``.
    """
    if electrons.dtype != np.float64 or electrons.ndim != 2:
        raise ValueError("bloom needs a float64 [H, W] array")
    if columns is None:
        columns = np.flatnonzero((electrons > full_well_e).any(axis=0))
    columns = np.asarray(columns, dtype=np.int64)
    if columns.size == 0:
        return np.zeros(0)
    return _bloom_columns(electrons, columns, float(full_well_e))


# ------------------------------------------------------------------------------------------------

@dataclass
class SensorResult:
    """What :func:`apply_sensor` returns.

    raw_dn: uint16 [H, W] raw digital numbers (the Bayer mosaic, or mono); float64 DN, neither rounded
        nor clipped, when the ``quantize`` effect is off.
    electrons: float64 [H, W] collected charge after cosmic rays and full well / blooming, before read
        noise and the ADC (e-).
    cosmic_rays: cosmic_rays.COSMIC_RAY_DTYPE table of this frame's hits.
    hot_pixels: HOT_PIXEL_DTYPE table of the sensor's hot pixels.
    cosmic_mask: bool [H, W], every pixel whose charge the cosmic rays changed (directly or through
        blooming). hot_mask: bool [H, W], pixels with a hot-pixel defect.
    white_level_dn: the largest raw value this spec can produce.
    bloom_lost_e: charge lost from full columns (e-). n_saturated: pixels at full well.
    """

    raw_dn: np.ndarray
    electrons: np.ndarray
    cosmic_rays: np.ndarray
    hot_pixels: np.ndarray
    cosmic_mask: np.ndarray
    hot_mask: np.ndarray
    white_level_dn: int
    bloom_lost_e: float
    n_saturated: int

    @property
    def mask_bits(self) -> np.ndarray:
        """uint8 [H, W]: bit 0 (1) cosmic-ray pixel, bit 1 (2) hot pixel."""
        return self.cosmic_mask.astype(np.uint8) | (self.hot_mask.astype(np.uint8) << 1)


def _per_pixel_signal(signal_e: np.ndarray, spec: SensorSpec) -> np.ndarray:
    s = np.asarray(signal_e)
    if s.ndim == 3:
        if s.shape[2] == 1:
            s = s[..., 0]
        elif spec.bayer is None:
            raise ValueError(f"a monochrome sensor (bayer = None) needs one channel, got shape {s.shape}")
        elif s.shape[2] == 3:
            s = mosaic(s, spec.bayer)
        else:
            raise ValueError(f"a Bayer sensor needs [H, W, 3] (R, G, B) or [H, W], got shape {s.shape}")
    elif s.ndim != 2:
        raise ValueError(f"signal_e must be [H, W] or [H, W, C], got shape {s.shape}")
    if s.dtype not in (np.float32, np.float64):
        s = s.astype(np.float64)
    s = np.ascontiguousarray(s)
    if not np.isfinite(s.sum(dtype=np.float64)):
        raise ValueError("signal_e contains NaN or infinite values")
    return s


def apply_sensor(signal_e: np.ndarray, exposure_s: float, spec: SensorSpec,
                 rngs: dict[str, np.random.Generator], pixel_pitch_m: float, saa_weight: float = 0.0,
                 fixed: FixedPattern | None = None, timings: dict | None = None) -> SensorResult:
    """Turn expected electrons into a raw frame.

    signal_e: expected charge of the scene over the exposure, e-: [H, W, 3] (R, G, B; mosaicked through
        ``spec.bayer``), [H, W, 1], or [H, W] (already one value per pixel: mono, or a mosaic).
        Negative values count as zero.
    exposure_s: exposure time, s (dark current, cosmic-ray count and hit times).
    rngs: the streams of :func:`default_rngs`. Pass the same dict for every frame of a burst: the noise
        streams advance from frame to frame, the fixed pattern does not change.
    pixel_pitch_m: pixel pitch, m (sensor area for the cosmic-ray rate, track lengths).
    saa_weight: fraction of the exposure inside the South Atlantic Anomaly (0..1), e.g. from
        :func:`cosmic_rays.saa_weight`; the cosmic-ray rate is multiplied by 1 + (saa_factor - 1) x saa_weight.
        Hit times are uniform over the exposure.
    fixed: a :class:`FixedPattern` from :func:`fixed_pattern` (saves redrawing it for every frame of a
        burst); by default drawn here from ``rngs``.
    timings: if a dict is given, the wall time of each stage (s) is stored in it (for the benchmark).

    Returns a :class:`SensorResult`.
    """
    clock = time.perf_counter
    marks = [("start", clock())]

    def mark(name):
        marks.append((name, clock()))

    if not exposure_s >= 0:
        raise ValueError(f"exposure_s must be >= 0 s, got {exposure_s!r}")
    if not 0.0 <= saa_weight <= 1.0:
        raise ValueError(f"saa_weight must be a fraction in [0, 1], got {saa_weight!r}")
    if not pixel_pitch_m > 0:
        raise ValueError(f"pixel_pitch_m must be > 0 m, got {pixel_pitch_m!r}")
    eff = spec.effects
    sig = _per_pixel_signal(signal_e, spec)
    h, w = sig.shape
    if fixed is None:
        fixed = fixed_pattern((h, w), spec, rngs)
    elif fixed.shape != (h, w):
        raise ValueError(f"fixed pattern is {fixed.shape}, signal is {(h, w)}")

    mark("prepare")
    # 1-4: PRNU, dark current, shot noise
    electrons = np.empty((h, w), dtype=np.float64)
    shot_key = _frame_key(rngs["shot"]) if eff.shot else np.zeros(4, np.uint64)
    gain_map = fixed.prnu_gain if fixed.prnu_gain is not None else np.ones((1, 1), np.float32)
    dark_map = fixed.dark_e_s if fixed.dark_e_s is not None else np.zeros((1, 1), np.float32)
    _collect(sig, gain_map, fixed.prnu_gain is not None, dark_map, fixed.dark_e_s is not None,
             float(fixed.dark_rate_e_s), float(exposure_s), bool(eff.shot), shot_key, electrons)

    mark("shot_noise")
    # 5: cosmic rays
    fw = float(spec.full_well_e)
    cosmic_mask = np.zeros((h, w), dtype=bool)
    if eff.cosmic:
        table = _cr.draw_events(rngs["cosmic"], w, h, pixel_pitch_m, float(exposure_s),
                                spec.cosmic_ray_rate_cm2_s, spec.saa_factor, float(saa_weight),
                                spec.cosmic_ray_median_e, spec.cosmic_ray_energy_log_sigma,
                                spec.cosmic_ray_depth_um, spec.cosmic_ray_max_length_px)
        rows, cols, charge = _cr.deposit(table, w, h)
    else:
        table = np.zeros(0, dtype=_cr.COSMIC_RAY_DTYPE)
        rows = cols = np.zeros(0, np.int64)
        charge = np.zeros(0)
    pre_cr = None
    if eff.saturation:
        colmax = electrons.max(axis=0)
    if rows.size:
        cosmic_mask[rows, cols] = True
        if eff.saturation and spec.blooming:
            # columns the hits may push over full well: keep their charge without the hits, to find
            # every pixel whose bloomed charge the hits changed
            col_charge = np.bincount(cols, weights=charge, minlength=w)
            cand = np.flatnonzero((col_charge > 0) & (colmax + col_charge > fw))
            if cand.size:
                pre_cr = (cand, electrons[:, cand].copy())
        np.add.at(electrons, (rows, cols), charge)

    mark("cosmic_rays")
    # 6: full well and blooming
    lost = 0.0
    if eff.saturation:
        if rows.size:
            touched = np.unique(cols)
            colmax[touched] = electrons[:, touched].max(axis=0)
        over = np.flatnonzero(colmax > fw)
        if over.size:
            if spec.blooming:
                lost = float(bloom(electrons, fw, over).sum())
                if pre_cr is not None:
                    cand, before = pre_cr
                    bloom(before, fw, np.flatnonzero((before > fw).any(axis=0)))
                    changed = before != electrons[:, cand]
                    r_idx, c_idx = np.nonzero(changed)
                    cosmic_mask[r_idx, cand[c_idx]] = True
            else:
                sub = electrons[:, over]
                lost = float(np.sum(np.maximum(sub - fw, 0.0)))
                electrons[:, over] = np.minimum(sub, fw)
    n_saturated = int(np.count_nonzero(electrons >= fw)) if eff.saturation else 0

    mark("saturation")
    # 7-8: read noise and ADC
    read_on = bool(eff.read and spec.read_noise_e > 0)
    read_key = _frame_key(rngs["read"]) if read_on else np.zeros(4, np.uint64)
    white = spec.white_level_dn
    if eff.quantize:
        raw = np.empty((h, w), dtype=np.uint16)
        _readout_u16(electrons, read_on, float(spec.read_noise_e), read_key, float(spec.gain_e_per_dn),
                     float(spec.black_level_dn), float(white), raw)
    else:
        raw = np.empty((h, w), dtype=np.float64)
        _readout_float(electrons, read_on, float(spec.read_noise_e), read_key, float(spec.gain_e_per_dn),
                       float(spec.black_level_dn), raw)

    mark("readout")
    if timings is not None:
        for (_, t0), (name, t1) in zip(marks[:-1], marks[1:]):
            timings[name] = t1 - t0
        timings["total"] = marks[-1][1] - marks[0][1]
    return SensorResult(raw_dn=raw, electrons=electrons, cosmic_rays=table, hot_pixels=fixed.hot_pixels,
                        cosmic_mask=cosmic_mask, hot_mask=fixed.hot_mask, white_level_dn=white,
                        bloom_lost_e=lost, n_saturated=n_saturated)
