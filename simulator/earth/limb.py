"""The Earth's limb as seen from the observer: directions tangent to the WGS84 ellipsoid (+ an altitude)."""
from __future__ import annotations

import numpy as np

from .ellipsoid import WGS84_A_KM, WGS84_B_KM, pole_frame


def limb_directions(pos_gcrs_km: np.ndarray, pole_gcrs: np.ndarray, altitude_km: float = 0.0,
                    n: int = 721) -> np.ndarray:
    """Unit GCRS directions [n, 3] from the observer that graze the ellipsoid (a+h, b+h).

    Scaling z by a/b turns the ellipsoid into a sphere, where the grazing directions form a cone around
    the nadir; scaling back preserves tangency. (a+h, b+h) approximates the surface of constant geodetic
    altitude h to better than 30 m for h <= 100 km, plenty for drawing.
    """
    rot = pole_frame(np.asarray(pole_gcrs, dtype=np.float64))
    a, b = WGS84_A_KM + altitude_km, WGS84_B_KM + altitude_km
    k = a / b
    o = rot @ np.asarray(pos_gcrs_km, dtype=np.float64)
    o_s = o * np.array([1.0, 1.0, k])
    dist = np.linalg.norm(o_s)
    if dist <= a:
        return np.zeros((0, 3))
    axis = -o_s / dist
    half = np.arcsin(a / dist)
    helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    phi = np.linspace(0.0, 2.0 * np.pi, n)
    d_s = np.cos(half) * axis + np.sin(half) * (np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2)
    d = d_s / np.array([1.0, 1.0, k])
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d @ rot
