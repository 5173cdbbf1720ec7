"""Where the data shipped in catalogs/ are found: the installed package ``startrail_catalogs`` first, then the
source checkout's catalogs/ folder (running from a tree that is not installed)."""
from __future__ import annotations

import importlib.resources
import pathlib

CATALOGS_CHECKOUT = pathlib.Path(__file__).resolve().parents[1] / "catalogs"


def catalog_file(relative_path: str) -> pathlib.Path | None:
    """Path of ``relative_path`` (e.g. "city_lights.npz", "bandpasses/nikon_d700.csv") in catalogs/, or None."""
    parts = relative_path.split("/")
    try:
        res = importlib.resources.files("startrail_catalogs")
        for part in parts:
            res = res / part
        if res.is_file():
            return pathlib.Path(str(res))
    except (ModuleNotFoundError, TypeError, NotImplementedError):
        pass
    local = CATALOGS_CHECKOUT.joinpath(*parts)
    return local if local.is_file() else None
