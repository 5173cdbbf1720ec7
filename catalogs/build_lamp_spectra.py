"""Build catalogs/lamp_spectra/*.csv: relative spectral power of street-lighting lamps for city lights.

The spectra are CIE standard illuminants as tabulated by the PyPI package ``colour-science`` (BSD-3-Clause;
its data are CIE publications' numbers):

* ``HP1``  -> hps.csv:  "standard high pressure sodium lamp", CIE 15:2004 (Colorimetry, 3rd ed.), Table T.7
* ``LED-B3`` -> led.csv: phosphor-converted blue LED, CCT ~4100 K, CIE 15:2018 (4th ed.), Table 10.3

380-780 nm at 5 nm, relative spectral power (arbitrary scale; the simulator renormalises them).

    pip install colour-science
    python catalogs/build_lamp_spectra.py
"""
from __future__ import annotations

import argparse
import pathlib

import numpy as np

SPECTRA = {"hps": ("HP1", "CIE 15:2004 illuminant HP1, standard high-pressure sodium lamp"),
           "led": ("LED-B3", "CIE 15:2018 illuminant LED-B3, phosphor-converted blue LED, CCT ~4100 K")}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=pathlib.Path(__file__).resolve().parent / "lamp_spectra")
    args = parser.parse_args(argv)
    from colour import SDS_ILLUMINANTS, __version__

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, (key, what) in SPECTRA.items():
        sd = SDS_ILLUMINANTS[key]
        lam = np.asarray(sd.wavelengths, dtype=float)
        power = np.asarray(sd.values, dtype=float)
        power = power / power.max()
        lines = [f"# {what}", f"# from colour-science {__version__} SDS_ILLUMINANTS['{key}'] (CIE data)",
                 "# relative spectral power, normalised to 1 at the maximum", "wavelength_nm,relative_power"]
        lines += [f"{w:.1f},{p:.6f}" for w, p in zip(lam, power)]
        (out / f"{name}.csv").write_text("\n".join(lines) + "\n")
        print(f"wrote {out / (name + '.csv')} ({lam.size} rows)")


if __name__ == "__main__":
    main()
