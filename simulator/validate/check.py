"""``startrail check PRODUCT``: recompute a product's ground truth with independent tools and compare.

Each check samples the file's truth (every entry where there are few, an even spread where there are many),
recomputes it from the file's own inputs (catalog values, scenario text, observer states, attitude, camera
attributes) with the references of :mod:`simulator.validate.reference`, and reports the largest deviation
against a stated tolerance:

* attitude: every quaternion against its matrix (scipy), 1e-8 rad;
* observer: every knot's GCRS position and velocity against sgp4 + astropy (TLE orbits), 1 m and 1 mm/s;
* stars: pixel positions against astropy's apparent places and the projection, 0.01 px (DESIGN.md §4), at
  knots where the star is visible and its line of sight is not refracted (limb stars' refracted knots are
  left out: their bending is the renderer's model, not an independent reference);
* planets, Moon: against astropy get_body, 0.01 px;
* city lights, lightning: ground points (WGS84, astropy EarthLocation) seen from the ISS, 0.05 px (the
  issue-4 tolerance), at the city lights' knots that are the exposure's, and at each flash's time;
* the hard limb and the airglow layers' peak curves, at mid-exposure and at up to three frames' middles: the
  tangent altitude (astropy ITRS heights along the line) of the light the curve's pixels see (their rays
  un-aberrated by the ISS's velocity) is 0, or the layer's peak altitude, within 1 m;
* flux bookkeeping: the noise-free image's total against the truth's per-source electrons, 1e-5.

Planets, city lights and flashes are compared where the truth puts them inside the image (it also holds
positions far off the frame, where a pinhole's magnification makes a comparison in pixels meaningless).
"""
from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np
from scipy.spatial.transform import Rotation

from . import reference as ref


@dataclass
class Check:
    """One comparison: its name, how many values it compared, the largest deviation and the tolerance."""

    name: str
    compared: int
    max_error: float
    tolerance: float
    unit: str
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.compared == 0 or self.max_error <= self.tolerance

    def line(self) -> str:
        if self.compared == 0:
            return f"  {'skip':4s}  {self.name:12s} {self.note}"
        verdict = "ok" if self.passed else "FAIL"
        return (f"  {verdict:4s}  {self.name:12s} max {self.max_error:.3g} {self.unit} (tolerance {self.tolerance:g}) over "
                f"{self.compared} values" + (f"; {self.note}" if self.note else ""))


def _spread(n: int, k: int) -> np.ndarray:
    """At most k indices spread evenly over range(n)."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(np.int64)) if n else np.zeros(0, np.int64)


def _in_frame(x, y, cam):
    """Pixel positions inside the image (the truth holds far-off-frame projections too, where a pinhole's
    magnification makes any comparison in pixels meaningless)."""
    with np.errstate(invalid="ignore"):
        return (x >= -0.5) & (x <= cam["width"] - 0.5) & (y >= -0.5) & (y <= cam["height"] - 0.5)


def check_attitude(f) -> Check:
    R = f["truth/R_icrs_to_cam"][()]
    q = Rotation.from_quat(f["truth/q_icrs_to_cam"][()], scalar_first=True)
    err = (q.inv() * Rotation.from_matrix(R)).magnitude()
    return Check("attitude", err.size, float(err.max()), 1e-8, "rad", "quaternions vs matrices (scipy)")


def check_observer(f, times) -> list[Check]:
    states = ref.observer_from_tle(f.attrs["scenario"], times)
    if states is None:
        return [Check("observer", 0, 0.0, 0.0, "", "not a TLE orbit: no independent propagator")]
    pos, vel = states
    dp = np.linalg.norm(pos - f["truth/observer_pos_gcrs_km"][()], axis=1) * 1e3
    dv = np.linalg.norm(vel - f["truth/observer_vel_gcrs_km_s"][()], axis=1) * 1e6
    return [Check("observer pos", dp.size, float(dp.max()), 1.0, "m", "sgp4 + astropy TEME -> GCRS"),
            Check("observer vel", dv.size, float(dv.max()), 1.0, "mm/s")]


def check_stars(f, times, cam, samples: int) -> Check:
    st = f["truth/stars"]
    vis = st["visible"][()]
    refr = st["refraction_arcsec"][()] if "refraction_arcsec" in st else np.zeros(vis.shape)
    x_t, y_t = st["x"], st["y"]
    pos, vel, R = f["truth/observer_pos_gcrs_km"], f["truth/observer_vel_gcrs_km_s"], f["truth/R_icrs_to_cam"]
    worst, n = 0.0, 0
    for k in _spread(vis.shape[1], 3):  # the first, middle and last knots
        rows = np.flatnonzero(vis[:, k] & (refr[:, k] == 0.0))
        rows = rows[_spread(rows.size, samples)]
        if rows.size == 0:
            continue
        d = ref.star_directions(st, rows, times[k], pos[k], vel[k])
        x, y = ref.project(cam, R[k], d)
        err = np.hypot(x - x_t[:, k][rows], y - y_t[:, k][rows])
        worst, n = max(worst, float(np.nanmax(err))), n + rows.size
    return Check("stars", n, worst, 0.01, "px", "astropy ICRS -> GCRS from the ISS, pinhole + Brown-Conrady")


def check_solar_system(f, times, cam) -> list[Check]:
    out = []
    pos, vel, R = f["truth/observer_pos_gcrs_km"], f["truth/observer_vel_gcrs_km_s"], f["truth/R_icrs_to_cam"]
    for group in ("planets", "moon"):
        if group not in f["truth"]:
            continue
        g = f["truth"][group]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in g["names"][()]] if "names" in g else ["moon"]
        xs, ys = np.atleast_2d(g["x"][()]), np.atleast_2d(g["y"][()])
        worst, n = 0.0, 0
        for j, name in enumerate(names):
            shown = np.flatnonzero(_in_frame(xs[j], ys[j], cam))
            for k in shown[_spread(shown.size, 5)]:
                x, y = ref.project(cam, R[k], ref.body_direction(name, times[k], pos[k], vel[k]))
                worst, n = max(worst, float(np.hypot(x - xs[j, k], y - ys[j, k]))), n + 1
        out.append(Check(group, n, worst, 0.01, "px", "astropy get_body (built-in ephemeris) from the ISS"))
    return out


def check_city_lights(f, times, cam, samples: int) -> Check | None:
    if "city_lights" not in f["truth"]:
        return None
    c = f["truth/city_lights"]
    t_all = f["truth/t"][()]
    ct = c["t"][()]
    at = np.searchsorted(t_all, ct)
    same = np.flatnonzero((at < t_all.size) & (np.abs(t_all[np.minimum(at, t_all.size - 1)] - ct) < 1e-9))
    vis = c["visible"][()]
    lat, lon = c["lat_deg"][()], c["lon_deg"][()]
    pos, vel, R = f["truth/observer_pos_gcrs_km"], f["truth/observer_vel_gcrs_km_s"], f["truth/R_icrs_to_cam"]
    worst, n = 0.0, 0
    for kc in same[_spread(same.size, 3)]:
        rows = np.flatnonzero(vis[:, kc] & _in_frame(c["x"][:, kc], c["y"][:, kc], cam))
        rows = rows[_spread(rows.size, samples)]
        if rows.size == 0:
            continue
        k = at[kc]
        d = ref.ground_directions(lat[rows], lon[rows], 0.0, times[k], pos[k], vel[k])
        x, y = ref.project(cam, R[k], d)
        worst, n = max(worst, float(np.nanmax(np.hypot(x - c["x"][:, kc][rows], y - c["y"][:, kc][rows])))), n + rows.size
    return Check("city lights", n, worst, 0.05, "px", "astropy EarthLocation (WGS84) from the ISS, aberrated")


def check_lightning(f, start, cam, samples: int) -> Check | None:
    if "lightning" not in f["truth"]:
        return None
    g = f["truth/lightning"]
    x_t, y_t = g["x"][()], g["y"][()]
    rows = np.flatnonzero(_in_frame(x_t, y_t, cam))
    rows = rows[_spread(rows.size, samples)]
    if rows.size == 0:
        return Check("lightning", 0, 0.0, 0.0, "", "no flash in the frame")
    ts = g["time_s"][()][rows]
    pos, vel, R = ref.observer_at(f, ts)
    d = ref.ground_directions(g["lat_deg"][()][rows], g["lon_deg"][()][rows], g["cloud_top_km"][()][rows],
                              start + ts * ref.u.s, pos, vel)
    x, y = ref.project(cam, R, d)
    worst = float(np.max(np.hypot(x - x_t[rows], y - y_t[rows])))
    return Check("lightning", rows.size, worst, 0.05, "px",
                 "cloud-top centres in the frame at each flash's time (ISS interpolated)")


def check_limb_curves(f, start, cam, samples: int) -> list[Check]:
    """The hard limb and the airglow layers' peak curves, at mid-exposure and at up to three frames' middles: the
    light each curve point's pixel sees (its ray un-aberrated by the ISS's velocity) has the curve's tangent
    altitude (0, or the layer's peak). The ISS at a frame's middle is interpolated between the knots."""
    if "limb" not in f["truth"]:
        return []
    t_mid = float(f["truth/limb"].attrs["t"])
    frame_t = f["truth/limb/frame_t"][()] if "frame_t" in f["truth/limb"] else np.zeros(0)
    frames = _spread(frame_t.size, 3)
    # (name, altitude, mid-exposure x, y, per-frame x, y or None)
    curves = []
    g = f["truth/limb"]
    curves.append(("limb", 0.0, g["x"][()], g["y"][()], g["frame_x"][()] if "frame_x" in g else None,
                   g["frame_y"][()] if "frame_y" in g else None))
    if "airglow" in f["truth"]:
        seen = set()
        for g in f["truth/airglow"].values():
            if not (isinstance(g, h5py.Group) and "peak_x" in g and "peak_altitude_km" in g.attrs):
                continue
            h = float(g.attrs["peak_altitude_km"])
            if h not in seen:
                seen.add(h)
                curves.append((f"airglow {h:g} km", h, g["peak_x"][()], g["peak_y"][()],
                               g["frame_peak_x"][()] if "frame_peak_x" in g else None,
                               g["frame_peak_y"][()] if "frame_peak_y" in g else None))
    when = np.concatenate([[t_mid], frame_t[frames]])
    pos, vel, R = ref.observer_at(f, when)
    out = []
    for name, h0, x, y, fx, fy in curves:
        sets = [(x, y)] + ([(fx[i], fy[i]) for i in frames] if fx is not None else [])
        err = []
        for i, (cx, cy) in enumerate(sets):
            ok = np.flatnonzero(_in_frame(cx, cy, cam))
            ok = ok[_spread(ok.size, min(samples, 8))]
            light = ref.aberrate(ref.pixel_rays(cam, cx[ok], cy[ok]) @ R[i], -vel[i] / ref.C_KM_S)
            t = start + when[i] * ref.u.s
            err += [abs(ref.lowest_altitude_km(pos[i], d, t) - h0) * 1e3 for d in light]
        out.append(Check(name, len(err), max(err, default=0.0), 1.0, "m",
                         "tangent altitude of the light through its pixels, mid-exposure and frames (astropy)"))
    return out


def check_flux(f) -> Check:
    """Bookkeeping: the noise-free image's electrons against the truth's per-source electrons (stars, planets,
    Moon, city lights, flashes), relative, 1e-5 (the image is float32). Not for a lighten stack (a maximum, not
    a sum) nor with airglow on (a diffuse layer has no per-source total)."""
    sig = f["image/signal"]
    stack = str(sig.attrs.get("stack", "single"))
    if stack == "lighten":
        return Check("flux", 0, 0.0, 0.0, "", "a lighten stack is not a sum of the sources")
    if "airglow" in f["truth"]:
        return Check("flux", 0, 0.0, 0.0, "", "airglow on: the diffuse layers have no per-source total")
    total = float(np.sum(sig[()], dtype=np.float64))
    sources = float(np.sum(f["truth/stars/electrons"][()]))
    for group in ("planets", "moon", "city_lights", "lightning"):
        if group in f["truth"] and "electrons" in f["truth"][group]:
            sources += float(np.nansum(f["truth"][group]["electrons"][()]))
    if stack == "mean":
        sources /= f["truth/frames/start"].shape[0]
    err = abs(total - sources) / max(abs(sources), 1e-300)
    return Check("flux", 1, err, 1e-5, "(relative)", "image total vs the sources' electrons in the truth")


def run_checks(path, samples: int = 200) -> list[Check]:
    """Every check that applies to the product at ``path``, ``samples`` entries per knot and kind at most."""
    from ..io.hdf5 import open_product

    with open_product(path) as f:
        times = ref.knot_times(f)
        cam = dict(f["camera"].attrs)
        checks = [check_attitude(f), *check_observer(f, times), check_stars(f, times, cam, samples),
                  *check_solar_system(f, times, cam)]
        checks += [c for c in (check_city_lights(f, times, cam, samples), check_lightning(f, times[0], cam, samples))
                   if c]
        checks += check_limb_curves(f, times[0], cam, samples)
        checks.append(check_flux(f))
    return checks
