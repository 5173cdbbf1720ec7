"""Benchmark: ``python -m simulator.bench [--scenario FILE] [--warm-cache] [--repeat N]``.

Renders the Pettit scenario (4256 x 2832, 15 min, V <= 9) and prints compile time, render time per
stage, HDF5 write time, peak memory and pixel updates per second; after each render, the same exposure with
stars only (hard limb, no airglow, city lights, lightning, planets or Moon), and the ratio of the medians of the
full and the stars-only renders (--repeat pairs); then the
same scene as a burst of 30 x 30 s frames with 1 s gaps, as a ratio to the single exposure. Numba's cache goes to a fresh
temporary folder unless --warm-cache is given, so the compile time shown is the real one.
Kept outside the test suite: speed is measured here, never asserted in tests.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "pettit_2012_cupola.toml"

WARMUP_SHRINK = 12  # the warm-up render: the same field on 1/12 of the pixels each way, 60 s, V <= 6


def warmup_scenario(scenario):
    """The benchmarked scenario shrunk (same field and sources on 1/WARMUP_SHRINK of the pixels each way, 60 s,
    V <= 6): rendering it compiles, or loads from the cache, every kernel the real render uses, so that the
    timed renders are warm."""
    import dataclasses

    from .config import ExposureSpec

    cam = scenario.camera
    small = dataclasses.replace(cam, width=max(cam.width // WARMUP_SHRINK, 16),
                                height=max(cam.height // WARMUP_SHRINK, 16),
                                pixel_pitch_m=cam.pixel_pitch_m * WARMUP_SHRINK)
    return dataclasses.replace(scenario, camera=small, duration_s=60.0,
                               exposure=ExposureSpec(mode="single", duration_s=60.0), sensor=None,
                               sky=dataclasses.replace(scenario.sky, mag_limit=min(scenario.sky.mag_limit, 6.0)))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument("--warm-cache", action="store_true", help="use Numba's normal on-disk cache")
    parser.add_argument("--repeat", type=int, default=1, help="render this many times, report each")
    parser.add_argument("--no-write", action="store_true", help="skip writing the HDF5 product")
    parser.add_argument("--no-burst", action="store_true", help="skip the 30 x 30 s burst of the same scenario")
    parser.add_argument("--no-earth", action="store_true", help="skip the stars-only render of the same exposure")
    args = parser.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="startrail-bench-")
    if not args.warm_cache:
        os.environ["NUMBA_CACHE_DIR"] = tmp.name  # must precede the first numba import
    import numba
    import numpy as np

    from .config import ExposureSpec, load_scenario
    from .io.hdf5 import write_product
    from .render.exposure import render_exposure

    print(f"startrail benchmark: {args.scenario.name}, {numba.get_num_threads()} Numba threads, "
          f"{os.cpu_count()} CPUs, numba {numba.__version__}")
    scenario = load_scenario(args.scenario)
    # the issue-4 budget: the scenario with its Earth at night (limb optics, airglow, city lights, lightning,
    # planets and Moon, as its file asks) against the same exposure with stars only
    stars_only = dataclasses.replace(
        scenario, earth=dataclasses.replace(scenario.earth, limb="hard", airglow=False, city_lights=False,
                                            lightning=False),
        sky=dataclasses.replace(scenario.sky, planets=False, moon=False))
    clock = time.perf_counter()
    render_exposure(warmup_scenario(scenario))
    if not args.no_earth:
        render_exposure(warmup_scenario(stars_only))
    print(f"  compile / cache load (warm-up renders of the scenario shrunk): {time.perf_counter() - clock:7.2f} s")
    e = scenario.earth
    earth_parts = ", ".join(name for name, on in (("limb optics", e.limb == "atmosphere"), ("airglow", e.airglow),
                                                  ("city lights", e.city_lights), ("lightning", e.lightning),
                                                  ("planets", scenario.sky.planets), ("Moon", scenario.sky.moon)) if on)
    walls, walls_stars = [], []
    for i in range(args.repeat):
        clock = time.perf_counter()
        result = render_exposure(scenario)
        wall = time.perf_counter() - clock
        walls.append(wall)
        s = result.stats
        print(f"  render {i + 1}: {wall:7.2f} s  (setup {s['setup_s']:.2f}, knots {s['knots_s']:.2f}, "
              f"occultation {s['occultation_s']:.2f}, trails {s['render_s']:.2f})")
        print(f"    {s['candidates']} candidate stars, {s['stars']} in frame, {s['knots']} knots "
              f"(interpolation error {s['knot_interp_error_px']:.4f} px), {s['runs']} runs")
        print(f"    {s['pixel_updates']:.3e} pixel updates, {s['pixel_updates'] / s['render_s'] / 1e6:.1f} M/s "
              f"in the trail kernel, {s['render_s'] / s['pixel_updates'] * 1e9:.1f} ns each")
        parts = [(label, s[key]) for label, key in (
            ("limb optics", "limb_optics_s"), ("limb windows' trails", "limb_render_s"), ("airglow", "airglow_s"),
            ("city lights", "city_lights_s"), ("lightning", "lightning_s"), ("planets and Moon", "solar_system_s"))
            if s.get(key, 0.0) > 0.0]
        if parts:
            print("    of which Earth and solar-system sources: "
                  + ", ".join(f"{label} {seconds:.2f} s" for label, seconds in parts))
        if not args.no_earth:
            # each full render is followed by its stars-only twin: this machine's speed drifts over a run (and
            # with the memory the process freed last), so the budget is judged on pairs, not on single renders
            clock = time.perf_counter()
            render_exposure(stars_only)
            walls_stars.append(time.perf_counter() - clock)
            print(f"  stars only {i + 1} (hard limb, no Earth sources, no planets): {walls_stars[-1]:7.2f} s; "
                  f"render {i + 1} is {wall / walls_stars[-1]:.2f}x that")
    if walls_stars:
        full_med, stars_med = float(np.median(walls)), float(np.median(walls_stars))
        print(f"  the scenario as written ({earth_parts or 'stars only'}) takes {full_med / stars_med:.2f}x the "
              f"stars-only render (medians of {len(walls)}: {full_med:.2f} s and {stars_med:.2f} s)")
    # the sensor model on the same frame, with the Nikon D3S preset at ISO 800
    from .camera.presets import camera_preset, dark_current_at, gain_at_iso, read_noise_at_iso
    from .camera.sensor import SensorSpec, apply_sensor, default_rngs, fixed_pattern

    d3s = camera_preset("nikon-d3s")
    spec = SensorSpec(read_noise_e=read_noise_at_iso(d3s, 800), full_well_e=d3s["full_well_e"],
                      dark_current_e_s=dark_current_at(d3s, 22.0), gain_e_per_dn=gain_at_iso(d3s, 800),
                      black_level_dn=d3s["black_level_dn"], bit_depth=d3s["bit_depth"], prnu=0.005, dsnu_e_s=0.1,
                      dark_reference_temp_c=22.0, bayer=None)
    rngs = default_rngs(1)
    frame = result.signal if result.signal.ndim == 2 else result.signal.sum(axis=-1)  # one raw mosaic's worth
    # compile (or load) the sensor's kernels for the frame's dtype (float32) before timing them
    small = np.full((64, 96), 10.0, dtype=frame.dtype)
    apply_sensor(small, 1.0, spec, default_rngs(0), scenario.camera.pixel_pitch_m,
                 fixed=fixed_pattern(small.shape, spec, default_rngs(0)))
    clock = time.perf_counter()
    fixed = fixed_pattern(frame.shape, spec, rngs)
    t_fixed = time.perf_counter() - clock
    clock = time.perf_counter()
    apply_sensor(frame, scenario.duration_s, spec, rngs, scenario.camera.pixel_pitch_m, fixed=fixed)
    t_sensor = time.perf_counter() - clock
    print(f"  sensor model on that frame: {t_sensor:7.2f} s (+ fixed pattern {t_fixed:.2f} s once per burst); "
          f"{t_sensor / result.stats['render_s']:.2f}x the star rendering ({result.stats['render_s']:.2f} s)")
    if not args.no_burst:
        burst = dataclasses.replace(scenario, exposure=ExposureSpec(mode="burst", duration_s=30 * 30.0 + 29 * 1.0,
                                                                     frames=30, frame_duration_s=30.0, gap_s=1.0),
                                    duration_s=30 * 30.0 + 29 * 1.0)
        clock = time.perf_counter()
        b = render_exposure(burst)
        wall_b = time.perf_counter() - clock
        s = b.stats
        print(f"  burst 30 x 30 s, 1 s gaps, lighten: {wall_b:7.2f} s  (knots {s['knots_s']:.2f}, "
              f"occultation {s['occultation_s']:.2f}, trails {s['render_s']:.2f}); "
              f"{wall_b / wall:.2f}x the single {scenario.duration_s:g} s exposure")
    if not args.no_write:
        out = Path(tmp.name) / "bench.h5"
        clock = time.perf_counter()
        write_product(out, scenario, result)
        print(f"  HDF5 write: {time.perf_counter() - clock:7.2f} s, {out.stat().st_size / 1e6:.1f} MB")
    print(f"  peak memory (max RSS): {_peak_rss_mb():.0f} MB")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
