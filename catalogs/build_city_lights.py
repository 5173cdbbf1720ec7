"""Build catalogs/city_lights.npz from NASA's "Earth's City Lights" map (night.jpg).

Source: the 2048 x 1024 equirectangular copy shipped by Debian's ``xplanet-images`` package
(``apt-get install xplanet-images``; file ``/usr/share/xplanet/images/night.jpg``). See
catalogs/city_lights.md for provenance, licence and the calibration's sources.

The map is a stretched, partly saturated composite of DMSP-OLS night-time data, not a radiance
product. Its 8-bit values are therefore treated as *relative*: they are linearised with an
assumed display gamma and scaled so that full white (DN 255) equals a dense-urban-core VIIRS
Day/Night Band radiance. Both numbers are parameters and both are estimates:

    L [nW cm^-2 sr^-1] = full_scale_radiance * (DN / 255) ** gamma     (DN <= floor_dn -> 0)

with DN the pixel's luma (mean of R, G, B). Rebuild with

    python catalogs/build_city_lights.py [--source PATH] [--gamma 2.2] [--full-scale 150] [--floor-dn 0]
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib

import numpy as np

DEFAULT_SOURCE = pathlib.Path("/usr/share/xplanet/images/night.jpg")
OUTPUT = pathlib.Path(__file__).resolve().parent / "city_lights.npz"

#: Assumed display gamma of the 8-bit map (sRGB-like encoding). Estimate [U].
DEFAULT_GAMMA = 2.2
#: Radiance assigned to DN 255, nW cm^-2 sr^-1: inside the 50-300 range quoted for dense urban
#: cores in REFERENCES.md section 4, which is itself unsourced [U]. Estimate.
DEFAULT_FULL_SCALE = 150.0
#: Values at or below this DN are set to zero (JPEG ringing and the faintest haze). 0 keeps all.
DEFAULT_FLOOR_DN = 0
SOURCE_PACKAGE = "xplanet-images 1.3.1-3 (Debian)"


def read_luma(path: pathlib.Path) -> np.ndarray:
    """The map's 8-bit brightness (mean of the RGB channels) as float64, row 0 = north edge."""
    from PIL import Image

    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.float64)
    return rgb.mean(axis=2)


def calibrate(dn: np.ndarray, gamma: float = DEFAULT_GAMMA, full_scale: float = DEFAULT_FULL_SCALE,
              floor_dn: float = DEFAULT_FLOOR_DN) -> np.ndarray:
    """Radiance in nW cm^-2 sr^-1 from the map's DN (see module docstring)."""
    dn = np.asarray(dn, dtype=np.float64)
    rad = full_scale * np.clip(dn / 255.0, 0.0, 1.0) ** gamma
    rad[dn <= floor_dn] = 0.0
    return rad


def build(source: pathlib.Path = DEFAULT_SOURCE, output: pathlib.Path = OUTPUT,
          gamma: float = DEFAULT_GAMMA, full_scale: float = DEFAULT_FULL_SCALE,
          floor_dn: float = DEFAULT_FLOOR_DN) -> pathlib.Path:
    raw = pathlib.Path(source).read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    dn = read_luma(pathlib.Path(source))
    nlat, nlon = dn.shape
    if nlon != 2 * nlat:
        raise ValueError(f"expected a 2:1 equirectangular map, got {nlon} x {nlat}")
    cell = 180.0 / nlat
    # Equirectangular: row 0 spans 90N..90N-cell, column 0 spans 180W..180W+cell.
    lat = 90.0 - cell * (np.arange(nlat) + 0.5)
    lon = -180.0 + cell * (np.arange(nlon) + 0.5)
    rad = calibrate(dn, gamma, full_scale, floor_dn).astype(np.float32)
    np.savez_compressed(
        output,
        radiance=rad,
        lat_deg=lat,
        lon_deg=lon,
        cell_deg=np.float64(cell),
        gamma=np.float64(gamma),
        full_scale_radiance=np.float64(full_scale),
        floor_dn=np.float64(floor_dn),
        source_sha256=np.str_(sha),
        source_file=np.str_(pathlib.Path(source).name),
        source_package=np.str_(SOURCE_PACKAGE),
        radiance_unit=np.str_("nW cm^-2 sr^-1"),
        band_nm=np.array([500.0, 900.0]),
        description=np.str_(
            "NASA Earth's City Lights (DMSP-OLS composite, public domain) as VIIRS-DNB-like radiance; "
            "relative map linearised with an assumed gamma and scaled to an estimated dense-urban "
            "radiance at DN 255; see catalogs/city_lights.md"),
    )
    return output


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", type=pathlib.Path, default=DEFAULT_SOURCE)
    p.add_argument("--output", type=pathlib.Path, default=OUTPUT)
    p.add_argument("--gamma", type=float, default=DEFAULT_GAMMA)
    p.add_argument("--full-scale", type=float, default=DEFAULT_FULL_SCALE)
    p.add_argument("--floor-dn", type=float, default=DEFAULT_FLOOR_DN)
    a = p.parse_args(argv)
    out = build(a.source, a.output, a.gamma, a.full_scale, a.floor_dn)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
