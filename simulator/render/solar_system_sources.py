"""Planets and Moon-disk samples as moving sources of an exposure, and their ground truth."""
from __future__ import annotations

import numpy as np
from astropy import units as u

from ..sky.photometry import channel_rates


def solar_system_sources(scenario, t, pos, vel, rot, pole, field_radius):
    """Planets and Moon-disk samples near the field: pixel tracks, channel rates and visible intervals."""
    from ..camera.projection import project_directions_at_knots
    from ..earth.occultation import moving_visibility_intervals
    from ..sky.solar_system import moon_disk_samples, moon_samples_for_camera, solar_system_sources

    sky, camera = scenario.sky, scenario.camera
    if not (sky.planets or sky.moon):
        return None
    times = scenario.start + t * u.s
    boresight = rot[:, 2, :]
    near_cos = np.cos(min(field_radius + np.radians(1.0), np.pi))

    def near(directions):  # [M, K, 3] -> bool [M]: within the field (plus a margin) at some knot
        return (np.einsum("mkj,kj->mk", directions, boresight) >= near_cos).any(axis=1)

    rows = []
    planets = moon = None
    if sky.planets:
        ss = solar_system_sources(times, pos, vel, mag_limit=sky.mag_limit)
        keep = near(ss.directions) if len(ss) else np.zeros(0, bool)
        if keep.any():
            planets = ss.subset(np.flatnonzero(keep))
            vmag = -2.5 * np.log10(np.mean(10.0 ** (-0.4 * planets.vmag), axis=1))
            rows.append((planets.directions, planets.ray_directions, channel_rates(vmag, planets.bv, camera)))
    if sky.moon:
        n = moon_samples_for_camera(camera.pixel_scale_arcsec, camera.psf_sigma_px)
        disk = moon_disk_samples(times, pos, vel, n_samples=4)  # a cheap look: is it near the field?
        if near(disk.directions).any():
            disk = moon_disk_samples(times, pos, vel, n_samples=n)
            lit = disk.flux.mean(axis=1) > 0
            if lit.any():
                moon = disk
                vmag = -2.5 * np.log10(disk.flux[lit].mean(axis=1))
                rows.append((disk.directions[lit], disk.ray_directions[lit],
                             channel_rates(vmag, np.full(vmag.size, disk.bv), camera)))
                moon_lit = lit
    if not rows:
        return None
    directions = np.concatenate([r[0] for r in rows])
    rays = np.concatenate([r[1] for r in rows])
    x, y = project_directions_at_knots(camera, directions, rot)
    ptr, start, stop = moving_visibility_intervals(t, pos, rays, pole, scenario.earth.occultation_altitude_km)
    out = dict(x=x, y=y, channel_rate=np.concatenate([r[2] for r in rows]), ptr=ptr, start=start, stop=stop,
               planets=planets, moon=moon, n_planets=len(planets) if planets is not None else 0,
               camera=camera, t=t, rot=rot)
    if moon is not None:
        out["moon_lit"] = moon_lit
        cx, cy = project_directions_at_knots(camera, moon.centre[None], rot)
        out["moon_x"], out["moon_y"] = cx[0], cy[0]
    return out


def solar_system_truth(solar, per_frame):
    """Ground truth of the planets and the Moon (electrons from the rendered rows)."""
    truth = {}
    n_p = solar["n_planets"]
    cam = solar["camera"]
    if solar["planets"] is not None:
        p = solar["planets"]
        truth["planets"] = dict(names=np.array(p.names), hip=p.hip, x=solar["x"][:n_p], y=solar["y"][:n_p],
                                vmag=p.vmag, bv=p.bv, distance_km=p.distance_km, phase_angle_deg=p.phase_angle_deg,
                                electrons=per_frame[:n_p].sum(axis=1))
    if solar["moon"] is not None:
        m = solar["moon"]
        truth["moon"] = dict(x=solar["moon_x"], y=solar["moon_y"],
                             radius_px=np.tan(m.angular_radius_rad) * cam.fx, vmag=m.vmag_total,
                             phase_angle_deg=m.phase_angle_deg, illuminated_fraction=m.illuminated_fraction,
                             distance_km=m.distance_km, electrons=float(per_frame[n_p:].sum()))
    return truth
