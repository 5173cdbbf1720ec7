"""Stars at the limb: refracted tracks and transmission (limb = "atmosphere"), their truth, and the limb curve."""
from __future__ import annotations

import numpy as np

from ..sky.apparent import aberrate

# limb = "atmosphere": the straight line toward a star whose bent ray just grazes the ground passes ~41 km
# below it (observer at 400 km; earth/atmosphere.py); hiding intervals use a little below that, and the
# atmosphere's transmission (0 for rays into the ground) does the rest
LIMB_FLOOR_GEOMETRIC_KM = -45.0
LIMB_OPTICS_BELOW_KM = 145.0  # straight-line tangent altitudes above this pass unrefracted (atmosphere.py)
LIMB_VISIBLE_TRANSMISSION = 0.01  # the truth's "visible" flag needs at least this much of the light
LIMB_WAVELENGTH_M = 550e-9  # refraction and extinction at V's wavelength (no reddening yet)
LIMB_KNOT_STEP_S = 1.0


def limb_optics(t, pos, geo_dirs, directions, beta, rot, pole, camera):
    """Refracted pixel tracks and transmission of stars whose line of sight dips into the atmosphere.

    For each star and knot: the straight line's tangent altitude and the distance D to its tangent point,
    the bent ray that reaches the ISS (earth/atmosphere.py: ray_tangent_altitude), the star raised by the
    bending ε, and the transmission exp(-τ) × dilution at 550 nm. The raised direction's offset is added to
    the natural direction before the ISS's aberration. Returns rows (indices of affected stars), their
    new x, y [M, K], and the transmission [N, K] for all stars (1 above the atmosphere).
    """
    from ..camera.projection import project_directions_at_knots
    from ..earth.atmosphere import ray_tangent_altitude, refracted_direction, transmission
    from ..earth.ellipsoid import pole_frame
    from ..earth.occultation import tangent_altitudes

    rot_p = pole_frame(pole)
    h_g = tangent_altitudes(np.ascontiguousarray(pos @ rot_p.T), np.ascontiguousarray(geo_dirs @ rot_p.T),
                            LIMB_OPTICS_BELOW_KM / 2.0, LIMB_OPTICS_BELOW_KM)  # exact below ~200 km
    distance = -(geo_dirs @ pos.T)  # [N, K] km, observer to the straight line's tangent point
    trans = np.ones(h_g.shape)
    rows = np.flatnonzero((h_g < LIMB_OPTICS_BELOW_KM).any(axis=1))
    h_ray = np.full((rows.size, t.size), np.nan)
    eps = np.zeros((rows.size, t.size))
    if rows.size:
        hg, dist = h_g[rows], distance[rows]
        near = (hg < LIMB_OPTICS_BELOW_KM) & (dist > 0)
        h_ray[~near] = hg[~near]
        hr, ep = ray_tangent_altitude(hg[near], dist[near], LIMB_WAVELENGTH_M)
        h_ray[near], eps[near] = hr, ep
        tr = np.ones(hg.shape)
        tr[near] = np.nan_to_num(transmission(hr, LIMB_WAVELENGTH_M, distance_km=dist[near]), nan=0.0)
        trans[rows] = tr
        geo = geo_dirs[rows][:, None, :]
        raised = refracted_direction(np.broadcast_to(geo, (rows.size, t.size, 3)), pos[None], np.nan_to_num(eps))
        natural = directions[rows][:, None, :] + (raised - geo)
        apparent = aberrate(natural / np.linalg.norm(natural, axis=-1, keepdims=True), beta[None])
        xr, yr = project_directions_at_knots(camera, apparent, rot)
    else:
        xr = yr = np.zeros((0, t.size))
    return dict(rows=rows, x=xr, y=yr, transmission=trans, h_ray=h_ray,
                refraction_arcsec=np.degrees(np.nan_to_num(eps)) * 3600.0)


def limb_truth(limb, shown):
    """Per output star and knot: transmission and refraction (zeros above the atmosphere)."""
    refraction = np.zeros(limb["transmission"].shape)
    refraction[limb["rows"]] = limb["refraction_arcsec"]
    return dict(transmission=limb["transmission"][shown], refraction_arcsec=refraction[shown])


def limb_curve(camera, pos, rot, pole, t):
    """The Earth's hard limb (rays grazing WGS84) in pixels at the middle knot; NaN where off the frame."""
    from ..camera.projection import project_camera_points
    from ..earth.limb import limb_directions

    k = t.size // 2
    d = limb_directions(pos[k], pole, 0.0, n=2048)
    x, y = project_camera_points(camera, d @ rot[k].T)
    off = ~((x >= -0.5) & (x <= camera.width - 0.5) & (y >= -0.5) & (y <= camera.height - 0.5))
    x, y = np.where(off, np.nan, x), np.where(off, np.nan, y)
    return x, y, float(t[k])
