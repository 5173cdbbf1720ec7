"""Cosmic-ray hits on the sensor, and an approximate South Atlantic Anomaly (SAA) boundary.

Model (each figure's source in the comments next to it; REFERENCES.md §8 tags):

* Count per exposure ~ Poisson(rate x sensor area x t x (1 + (saa_factor - 1) x saa_weight)), with
  rate in events cm^-2 s^-1 and saa_weight the fraction of the exposure spent inside the SAA.
* Each event: time uniform in [0, t); track centre uniform over the sensor; direction in the image
  uniform in [0, 2 pi); incidence angle theta from an isotropic flux through a plane
  (cos theta = sqrt(u), u uniform), so the projected track length is depth x tan(theta) (median = the
  collection depth, mean = pi/2 x depth, a long tail of grazing tracks, capped at max_length_px).
* Deposit: lognormal with median ``median_e`` for the median path (45 deg, path = sqrt(2) x depth),
  scaled by the path length in silicon (depth / cos theta), spread uniformly along the projected track
  and collected by the pixel each piece of the track falls in (no lateral diffusion).

The simulator's pixel convention (DESIGN.md §2): pixel centres at integer (x, y); pixel (0, 0) covers
[-0.5, 0.5) x [-0.5, 0.5).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# Structured table of the hits of one exposure (one row per event).
COSMIC_RAY_DTYPE = np.dtype([
    ("time_s", "f8"),        # s from exposure start
    ("x", "f8"),             # track centre, pixels (column)
    ("y", "f8"),             # track centre, pixels (row)
    ("angle_rad", "f8"),     # direction of the projected track, from +x toward +y
    ("length_px", "f8"),     # projected length, pixels
    ("path_um", "f8"),       # path length through the collection depth, micrometres
    ("energy_e", "f8"),      # charge deposited along the whole track, electrons
    ("energy_in_frame_e", "f8"),  # the part of it that fell on the sensor, electrons
    ("n_pixels", "i4"),      # pixels inside the frame that received charge
])

# --- South Atlantic Anomaly --------------------------------------------------------------------
# APPROXIMATION [U]: an ellipse in geographic longitude/latitude,
#     ((lon - LON0) / A_LON)^2 + ((lat - LAT0) / B_LAT)^2 <= 1,
# drawn to cover the region of enhanced trapped-proton flux crossed by the ISS (~400-420 km):
# * centre 30 deg S, 45 deg W: the SAA's position as given by Wikipedia's "South Atlantic Anomaly"
#   article (30 deg S, 40 deg W, from the region where the IGRF field intensity at sea level is below
#   32,000 nT), moved 5 deg west toward the field minimum over South America;
# * half-widths 40 deg in longitude (85 W to 5 W) and 20 deg in latitude (50 S to 10 S). North of
#   30 S (the southern limit of Fermi's 25.6 deg orbit) the ellipse lies inside the Fermi GBM SAA polygon
#   (vertices from 30 S 86.1 W through 14.2 S 94.3 W, 2 N 38.4 W, 30 S 33.9 E; USRA gdt-fermi
#   documentation, "Fermi GBM SAA Boundary Definition"), which is drawn for 550 km where the SAA is larger.
# Check [C]: on a circular 51.64 deg orbit of 92.7 min the ellipse holds the station ~6 % of the time,
# in 7-8 passes a day of ~12 min each.
# The real boundary depends on altitude, particle energy, solar cycle and drifts west by a few tenths of
# a degree per year; use this for "inside or not" rates, not for dosimetry.
SAA_CENTER_LAT_DEG = -30.0
SAA_CENTER_LON_DEG = -45.0
SAA_HALF_WIDTH_LON_DEG = 40.0
SAA_HALF_WIDTH_LAT_DEG = 20.0


def in_saa(lat_deg, lon_deg):
    """Whether geographic (geodetic) latitude/longitude in degrees lie inside the approximate SAA.

    Accepts scalars or arrays (broadcast); longitude in any range (wrapped to [-180, 180)).
    Returns a bool or a bool array. The boundary is an approximation (see the module comment).
    """
    lat = np.asarray(lat_deg, dtype=float)
    lon = (np.asarray(lon_deg, dtype=float) + 180.0) % 360.0 - 180.0
    r2 = ((lon - SAA_CENTER_LON_DEG) / SAA_HALF_WIDTH_LON_DEG) ** 2 + \
         ((lat - SAA_CENTER_LAT_DEG) / SAA_HALF_WIDTH_LAT_DEG) ** 2
    inside = r2 <= 1.0
    return bool(inside) if inside.ndim == 0 else inside


def saa_weight(t_s, lat_deg, lon_deg) -> float:
    """Fraction of the time span [t_s[0], t_s[-1]] spent inside the SAA (0..1), for apply_sensor.

    t_s: sample times in s (increasing), lat_deg/lon_deg: the sub-satellite point at those times
    (e.g. the truth knots). Each interval counts in full when both ends are inside, half when one is
    (the trapezoid rule on the inside/outside indicator). A single sample gives 0 or 1.
    """
    t = np.asarray(t_s, dtype=float)
    inside = np.asarray(in_saa(lat_deg, lon_deg), dtype=float).reshape(-1)
    if t.size != inside.size:
        raise ValueError("t_s, lat_deg and lon_deg must have the same length")
    if t.size == 1:
        return float(inside[0])
    dt = np.diff(t)
    span = t[-1] - t[0]
    if span <= 0:
        return float(inside.mean())
    return float(np.sum(dt * 0.5 * (inside[1:] + inside[:-1])) / span)


# --- event generation ----------------------------------------------------------------------------

def expected_count(rate_cm2_s: float, width: int, height: int, pixel_pitch_m: float, exposure_s: float,
                   saa_factor: float, saa_weight_: float) -> float:
    """Mean number of hits: rate (cm^-2 s^-1) x area (cm^2) x t (s) x (1 + (saa_factor - 1) x saa_weight)."""
    area_cm2 = width * height * (pixel_pitch_m * 100.0) ** 2
    return rate_cm2_s * area_cm2 * exposure_s * (1.0 + (saa_factor - 1.0) * saa_weight_)


def draw_events(rng: np.random.Generator, width: int, height: int, pixel_pitch_m: float, exposure_s: float,
                rate_cm2_s: float, saa_factor: float, saa_weight_: float, median_e: float,
                energy_log_sigma: float, depth_um: float, max_length_px: float) -> np.ndarray:
    """Draw the hits of one exposure from the cosmic-ray stream; returns a COSMIC_RAY_DTYPE table
    (energy_in_frame_e and n_pixels are filled in by :func:`deposit`). Sorted by time."""
    lam = expected_count(rate_cm2_s, width, height, pixel_pitch_m, exposure_s, saa_factor, saa_weight_)
    n = int(rng.poisson(lam)) if lam > 0 else 0
    table = np.zeros(n, dtype=COSMIC_RAY_DTYPE)
    if n == 0:
        return table
    # draws in a fixed order, each as a block, so the table is a pure function of the stream state
    t = rng.uniform(0.0, exposure_s, n)
    x = rng.uniform(-0.5, width - 0.5, n)
    y = rng.uniform(-0.5, height - 0.5, n)
    phi = rng.uniform(0.0, 2.0 * math.pi, n)
    cos_theta = np.sqrt(rng.uniform(0.0, 1.0, n))            # isotropic flux through a plane
    z = rng.standard_normal(n)
    cos_theta = np.maximum(cos_theta, 1e-6)
    tan_theta = np.sqrt(1.0 - cos_theta ** 2) / cos_theta
    depth_px = depth_um * 1e-6 / pixel_pitch_m
    length = np.minimum(depth_px * tan_theta, max_length_px)
    # path through the collection depth; a capped track keeps its in-plane length's share of the path
    path_um = np.sqrt(depth_um ** 2 + (length * pixel_pitch_m * 1e6) ** 2)
    energy = median_e * np.exp(energy_log_sigma * z) * path_um / (math.sqrt(2.0) * depth_um)
    order = np.argsort(t, kind="stable")
    table["time_s"] = t[order]
    table["x"] = x[order]
    table["y"] = y[order]
    table["angle_rad"] = phi[order]
    table["length_px"] = length[order]
    table["path_um"] = path_um[order]
    table["energy_e"] = energy[order]
    return table


@njit(cache=True)
def _deposit(x, y, angle, length, energy, width, height, samples_per_px, rows, cols, charge):
    """Spread each track's charge uniformly over its projected length into the pixels it crosses.

    Writes (row, col, charge) triples, merged per event, into rows/cols/charge (preallocated); returns
    the number written and, per event, the charge inside the frame and the pixels touched.
    """
    n = x.shape[0]
    k = 0
    in_frame = np.zeros(n)
    npix = np.zeros(n, dtype=np.int32)
    for i in range(n):
        ns = max(1, int(math.ceil(length[i] * samples_per_px)))
        q = energy[i] / ns
        dx = math.cos(angle[i]) * length[i]
        dy = math.sin(angle[i]) * length[i]
        start = k
        for s in range(ns):
            f = (s + 0.5) / ns - 0.5            # sample at the centre of each of ns equal pieces
            c = int(math.floor(x[i] + f * dx + 0.5))
            r = int(math.floor(y[i] + f * dy + 0.5))
            if c < 0 or c >= width or r < 0 or r >= height:
                continue
            in_frame[i] += q
            found = False
            for m in range(start, k):           # tracks are short: a linear search merges pieces
                if rows[m] == r and cols[m] == c:
                    charge[m] += q
                    found = True
                    break
            if not found:
                rows[k] = r
                cols[k] = c
                charge[k] = q
                k += 1
        npix[i] = k - start
    return k, in_frame, npix


def deposit(table: np.ndarray, width: int, height: int, samples_per_px: int = 16):
    """Rasterise the tracks of ``table`` (filled in place: energy_in_frame_e, n_pixels).

    Returns (rows, cols, charge_e): one entry per (event, pixel); a pixel hit by two events appears twice.
    """
    n = table.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    cap = int(np.sum(np.maximum(1, np.ceil(table["length_px"] * samples_per_px)))) + n
    rows = np.empty(cap, np.int64)
    cols = np.empty(cap, np.int64)
    charge = np.empty(cap)
    k, in_frame, npix = _deposit(table["x"].copy(), table["y"].copy(), table["angle_rad"].copy(),
                                 table["length_px"].copy(), table["energy_e"].copy(), width, height,
                                 samples_per_px, rows, cols, charge)
    table["energy_in_frame_e"] = in_frame
    table["n_pixels"] = npix
    return rows[:k], cols[:k], charge[:k]
