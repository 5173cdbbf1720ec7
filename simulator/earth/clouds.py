"""Cloud cover over the city lights: a random, spatially correlated field of cloudy and clear ground.

A city light under a cloud reaches the ISS only through it: the cloud scatters the light diffusely and passes a
fraction of it (``transmission``). The model is deliberately simple, a scenario option rather than weather:

* **Where.** A smooth random field on the sphere, F(p) = sum_i a_i exp(-theta_i(p)^2 / (2 w^2)), with bumps
  at ``BUMPS_PER_AREA`` / w^2 random centres per steradian (uniform on the sphere), amplitudes a_i ~ N(0, 1)
  and w = ``scale_km`` / 6371 km (the correlation length along the ground). The ground is cloudy where F
  exceeds its (1 - ``cover``) quantile over the whole sphere (taken on ``REFERENCE_POINTS`` Fibonacci
  points, which sample equal areas), so ``cover`` is the cloudy fraction of the globe (the satellite
  climatology of MODIS gives ~0.67 for the globe, King et al. 2013, IEEE TGRS 51, 3826; it varies with
  place and season, which this field does not).
* **How much.** A cloudy point passes ``transmission`` of its light, a clear one all of it. Both are fixed
  over an exposure (clouds move ~1 km in 15 minutes). The cloud's spreading of a light (over roughly its
  thickness) and its colour are not modelled.

The field depends only on the scenario's seed (random stream "clouds"), the cover and the scale, not on which
cells are asked for, so the same ground point is cloudy or clear in every exposure of a scenario.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .rotation import geodetic_normal_itrs

MEAN_EARTH_RADIUS_KM = 6371.0
BUMPS_PER_AREA = 4.0  # bump centres per w^2 of solid angle: ~50 bumps within the 2 w that shape a point
KERNEL_REACH = 4.0  # bumps farther than this many w are left out (exp(-8) = 3e-4 of a bump's peak)
REFERENCE_POINTS = 40000  # Fibonacci points on which the (1 - cover) quantile is taken
MIN_SCALE_KM = 50.0  # (~0.8 million bumps)


def fibonacci_sphere(n: int) -> np.ndarray:
    """n unit vectors spread evenly over the sphere (each stands for an equal area, 4 pi / n sr)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = math.pi * (3.0 - math.sqrt(5.0)) * i
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


class CloudField:
    """A cloud field (module docstring): ``cloudy(points)`` and ``transmission_at(lat, lon)``.

    cover: cloudy fraction of the globe, 0..1. transmission: fraction of a city light's flux that passes a
    cloudy point, 0..1. scale_km: correlation length of the field along the ground (km). rng: a numpy
    Generator (the scenario's "clouds" stream).
    """

    def __init__(self, cover: float, transmission: float, scale_km: float, rng: np.random.Generator):
        if not 0.0 <= cover <= 1.0 or not 0.0 <= transmission <= 1.0:
            raise ValueError(f"cloud cover {cover} and transmission {transmission} must be in [0, 1]")
        if not scale_km >= MIN_SCALE_KM:
            raise ValueError(f"a cloud scale of {scale_km} km is below the model's {MIN_SCALE_KM:g} km")
        self.cover, self.transmission, self.scale_km = float(cover), float(transmission), float(scale_km)
        self.width_rad = self.scale_km / MEAN_EARTH_RADIUS_KM
        n_bumps = int(math.ceil(BUMPS_PER_AREA * 4.0 * math.pi / self.width_rad**2))
        # uniform centres: normalised Gaussian vectors; then the amplitudes
        centres = rng.standard_normal((n_bumps, 3))
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        amplitudes = rng.standard_normal(n_bumps)
        # the centres sorted into cubes of side >= the kernel's reach (as a chord), for the lookups
        reach = min(KERNEL_REACH * self.width_rad, math.pi)
        self._cos_reach = math.cos(reach)
        self._cells_per_axis = max(1, int(2.0 / (2.0 * math.sin(0.5 * reach))))
        cell = _cell_index(centres, self._cells_per_axis)
        order = np.argsort(cell, kind="stable")
        self.centres, self.amplitudes = np.ascontiguousarray(centres[order]), amplitudes[order]
        self._cell_start = np.searchsorted(cell[order], np.arange(self._cells_per_axis**3 + 1)).astype(np.int64)
        if 0.0 < self.cover < 1.0:
            self.threshold = float(np.quantile(self.field(fibonacci_sphere(REFERENCE_POINTS)), 1.0 - self.cover))
        else:
            self.threshold = -np.inf if self.cover == 1.0 else np.inf

    def field(self, points: np.ndarray) -> np.ndarray:
        """F at unit vectors points [N, 3]."""
        points = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 3))
        return _field(points, self.centres, self.amplitudes, self._cell_start, self._cells_per_axis,
                      self._cos_reach, self.width_rad)

    def cloudy(self, points: np.ndarray) -> np.ndarray:
        """Bool [N]: cloud over the unit vectors points [N, 3]."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        if self.cover == 0.0:
            return np.zeros(points.shape[0], dtype=bool)
        if self.cover == 1.0:
            return np.ones(points.shape[0], dtype=bool)
        return self.field(points) > self.threshold

    def transmission_at(self, lat_deg, lon_deg) -> np.ndarray:
        """Fraction of a city light's flux that reaches space at each (lat, lon) (deg): 1 clear, else
        ``transmission``."""
        # the field's point for a place: its local vertical (the field is a statistical model on the sphere)
        return np.where(self.cloudy(geodetic_normal_itrs(lat_deg, lon_deg)), self.transmission, 1.0)


def _cell_index(vectors, n):
    """Index of the cube (of n per axis over [-1, 1]^3) holding each unit vector [N, 3]."""
    ijk = np.clip(((vectors + 1.0) * (0.5 * n)).astype(np.int64), 0, n - 1)
    return (ijk[:, 0] * n + ijk[:, 1]) * n + ijk[:, 2]


@njit(parallel=True, cache=True)
def _field(points, centres, amplitudes, cell_start, n, cos_reach, width):
    """sum_i a_i exp(-theta_i^2 / (2 width^2)) over the bumps within the reach (cos theta >= cos_reach) of each
    point; the bumps sorted by cube (cell_start: CSR over the n^3 cubes), each cube as wide as the reach, so
    the 27 cubes around a point's hold every bump within it."""
    out = np.zeros(points.shape[0])
    inv_two_var = 0.5 / (width * width)
    for p in prange(points.shape[0]):
        px, py, pz = points[p, 0], points[p, 1], points[p, 2]
        i0 = min(max(int((px + 1.0) * 0.5 * n), 0), n - 1)
        j0 = min(max(int((py + 1.0) * 0.5 * n), 0), n - 1)
        k0 = min(max(int((pz + 1.0) * 0.5 * n), 0), n - 1)
        total = 0.0
        for i in range(max(i0 - 1, 0), min(i0 + 2, n)):
            for j in range(max(j0 - 1, 0), min(j0 + 2, n)):
                for k in range(max(k0 - 1, 0), min(k0 + 2, n)):
                    c = (i * n + j) * n + k
                    for b in range(cell_start[c], cell_start[c + 1]):
                        cos_t = px * centres[b, 0] + py * centres[b, 1] + pz * centres[b, 2]
                        if cos_t >= cos_reach:
                            theta = math.acos(min(cos_t, 1.0))
                            total += amplitudes[b] * math.exp(-theta * theta * inv_two_var)
        out[p] = total
    return out
