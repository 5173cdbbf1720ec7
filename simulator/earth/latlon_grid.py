"""Global equirectangular grids of cells (row 0 at the north edge, column 0 at 180 deg W): the city-lights
map and the lightning climatology share this layout."""
from __future__ import annotations

import numpy as np


def cell_index(lat_deg, lon_deg, cell_deg: float, shape) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the cell containing each (lat, lon) (deg), clipped to the grid of ``shape``."""
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    row = np.floor((90.0 - lat) / cell_deg).astype(np.int64)
    col = np.floor(np.mod(lon + 180.0, 360.0) / cell_deg).astype(np.int64)
    return np.clip(row, 0, shape[0] - 1), np.clip(col, 0, shape[1] - 1)


def cell_area(lat_centre_deg, cell_deg: float, radius):
    """Area of cells centred at ``lat_centre_deg`` on a sphere of ``radius``: R^2 dlon (sin phi+ - sin phi-),
    in the square of radius's unit."""
    phi = np.radians(np.asarray(lat_centre_deg, dtype=np.float64))
    half = 0.5 * np.radians(cell_deg)
    return radius**2 * np.radians(cell_deg) * (np.sin(phi + half) - np.sin(phi - half))
