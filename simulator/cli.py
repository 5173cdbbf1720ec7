"""Command line: ``startrail render | info | preview | check | windows``.

User errors print one line ``startrail: error: FIELD: problem; fix`` and exit with status 2, leaving no
partial output file behind.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import StartrailError


def cmd_render(args) -> int:
    from .config import load_scenario
    from .io.atomic import check_output_path
    from .io.hdf5 import write_product
    from .io.preview import write_preview
    from .render.exposure import render_exposure

    check_output_path(args.output, args.overwrite, "--output")
    if args.preview:
        check_output_path(args.preview, args.overwrite, "--preview")
    scenario = load_scenario(args.scenario)
    clock = time.perf_counter()
    result = render_exposure(scenario, show_progress=not args.quiet)
    write_product(args.output, scenario, result, overwrite=args.overwrite)
    if args.preview:
        write_preview(args.output, args.preview, overlay=args.overlay, width=args.preview_width,
                      overwrite=args.overwrite)
    if not args.quiet:
        s = result.stats
        print(f"{args.output}: {scenario.name}, {scenario.duration_s:g} s from {scenario.start.utc.isot} UTC, "
              f"{s['stars']} stars in frame, {s['knots']} knots, rendered in {time.perf_counter() - clock:.1f} s")
    return 0


def cmd_info(args) -> int:
    from .io.summary import summarize

    print(summarize(args.product, n_brightest=args.brightest))
    return 0


def cmd_check(args) -> int:
    from .validate.check import run_checks

    if args.samples < 1:
        from .errors import ScenarioError
        raise ScenarioError("--samples", f"{args.samples} is not a positive count", "give e.g. --samples 200")
    checks = run_checks(args.product, samples=args.samples)
    print(f"{args.product}: ground truth recomputed with independent tools (astropy, sgp4, scipy)")
    for c in checks:
        print(c.line())
    failed = [c.name for c in checks if not c.passed]
    if failed:
        print(f"startrail: check failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def cmd_preview(args) -> int:
    from .io.preview import write_preview

    write_preview(args.product, args.output, overlay=args.overlay, width=args.width, overwrite=args.overwrite,
                  noise_free=args.signal)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="startrail", description="Simulate star-trail exposures from the ISS.")
    p.add_argument("--version", action="version", version=f"startrail {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("render", help="render a scenario to an HDF5 product")
    r.add_argument("scenario", type=Path, help="scenario TOML file")
    r.add_argument("-o", "--output", type=Path, required=True, help="output HDF5 file")
    r.add_argument("--overwrite", action="store_true", help="replace existing output files")
    r.add_argument("--preview", type=Path, help="also write a PNG preview")
    r.add_argument("--preview-width", type=int, default=None, help="preview width in pixels (default: full)")
    r.add_argument("--overlay", action="store_true", help="draw the limb and star names on the preview")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    r.set_defaults(func=cmd_render)

    i = sub.add_parser("info", help="summarise a product file")
    i.add_argument("product", type=Path)
    i.add_argument("--brightest", type=int, default=10, help="how many of the brightest trails to list")
    i.set_defaults(func=cmd_info)

    v = sub.add_parser("preview", help="write a PNG preview of a product file")
    v.add_argument("product", type=Path)
    v.add_argument("-o", "--output", type=Path, required=True)
    v.add_argument("--overlay", action="store_true", help="draw the limb and the brightest stars' names")
    v.add_argument("--width", type=int, default=None, help="output width in pixels (default: full)")
    v.add_argument("--overwrite", action="store_true")
    v.add_argument("--signal", action="store_true", help="show the noise-free signal, not the recorded raw image")
    v.set_defaults(func=cmd_preview)

    c = sub.add_parser("check", help="recompute a product's ground truth with independent tools and compare "
                                     "(exit status 1 if a check fails)")
    c.add_argument("product", type=Path)
    c.add_argument("--samples", type=int, default=200, help="entries compared per knot and kind, at most")
    c.set_defaults(func=cmd_check)

    from .orbit.eclipse import add_windows_parser

    add_windows_parser(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except StartrailError as exc:
        print(f"startrail: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("startrail: interrupted; no output written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
