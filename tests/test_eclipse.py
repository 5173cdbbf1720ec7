"""Orbital night: the shadow function, eclipse events, night windows, relative starts and the exposure check.

Each number is checked against a computation written here, independently of simulator.orbit.eclipse:

* shadow function vs brute-force sampling of the Sun's disk with ray-sphere tests;
* eclipse times of the 2012 ISS TLE vs a cylindrical shadow of the WGS84 ellipsoid computed with sgp4
  (TEME) and astropy (TEME -> ITRS, Sun -> ITRS), root-found on a cubic spline;
* night length vs the beta-angle formula of REFERENCES.md §2.3 and its table;
* penumbra length vs the analytic crossing time of the Sun's disk over the Earth's limb.
"""
from __future__ import annotations

import argparse
import math

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import ITRS, TEME, CartesianRepresentation, get_body
from astropy.time import Time, TimeDelta
from scipy.interpolate import CubicSpline
from sgp4.api import WGS72, Satrec

from simulator.errors import ScenarioError
from simulator.orbit import parse_tle
from simulator.orbit.eclipse import (
    R_SUN_KM,
    EclipseEvent,
    add_windows_parser,
    beta_angle_deg,
    check_in_shadow,
    eclipse_events,
    eclipse_passes,
    eclipse_windows,
    format_windows_table,
    is_relative_start,
    resolve_relative_start,
    shadow_fraction,
    shadow_function,
    windows_main,
)

from .conftest import small_scenario_text

L1 = "1 25544U 98067A   12085.20387446  .00017924  00000-0  22587-3 0  2432"
L2 = "2 25544  51.6423 183.0335 0016084 193.8608 250.6436 15.59550052764921"
T0 = Time("2012-03-25T00:00:00", scale="utc")
HOURS = 4.0
MU_KM3_S2 = 398600.4418          # EGM96 / WGS84 GM
WGS84_A, WGS84_B = 6378.137, 6378.137 * (1.0 - 1.0 / 298.257223563)
AU_KM = 149597870.7


def _sec(t1, t2) -> float:
    return float((t2 - t1).to_value("s"))


@pytest.fixture(scope="module")
def iss():
    return parse_tle(f"{L1}\n{L2}")


@pytest.fixture(scope="module")
def events(iss):
    return eclipse_events(iss, T0, HOURS)


# ------------------------------------------------------------------------------------------------
# the shadow function
# ------------------------------------------------------------------------------------------------

def _brute_force_visible(r_obs, sun_pos, radius, n=500):
    """Fraction of the Sun's disk whose rays reach r_obs past a sphere of ``radius``: grid over the disk."""
    d = sun_pos - r_obs
    s = d / np.linalg.norm(d)
    a = math.asin(R_SUN_KM / np.linalg.norm(d))
    e1 = np.cross(s, [0.0, 0.0, 1.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(s, e1)
    g = (np.arange(n) + 0.5) / n * 2.0 - 1.0
    xi, eta = np.meshgrid(g, g)
    inside = xi**2 + eta**2 <= 1.0
    dirs = s + a * (xi[inside, None] * e1 + eta[inside, None] * e2)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    rd = dirs @ r_obs
    blocked = (rd < 0.0) & (rd**2 - (r_obs @ r_obs - radius**2) >= 0.0)
    return 1.0 - blocked.mean()


@pytest.mark.parametrize("k", [-1.2, -0.95, -0.6, -0.2, 0.0, 0.3, 0.7, 0.95, 1.2])
def test_shadow_function_matches_brute_force_disk_sampling(k):
    """nu at c = b + k a (k = -1: umbra edge, +1: penumbra edge) vs counting unblocked rays over the disk."""
    radius, rn = 6378.0, 6778.0
    r = np.array([rn, 0.0, 0.0])
    b = math.asin(radius / rn)
    d_sun = 0.995 * AU_KM
    a = math.asin(R_SUN_KM / d_sun)
    c = b + k * a
    s = np.array([-math.cos(c), math.sin(c), 0.0])          # c is measured from the nadir (-x)
    sun = r + d_sun * s
    nu = float(shadow_function(r, sun, earth_radius_km=radius)[0])
    expected = _brute_force_visible(r, sun, radius)
    assert nu == pytest.approx(expected, abs=2e-3)
    if k <= -1.0:
        assert nu == 0.0
    if k >= 1.0:
        assert nu == 1.0


def test_shadow_function_bounds_and_monotonic():
    radius, rn = 6378.0, 6778.0
    r = np.tile([rn, 0.0, 0.0], (2001, 1))
    c = np.linspace(0.0, math.pi, 2001)
    sun = r + AU_KM * np.stack([-np.cos(c), np.sin(c), np.zeros_like(c)], axis=1)
    nu = shadow_function(r, sun, earth_radius_km=radius)
    assert np.all((nu >= 0.0) & (nu <= 1.0))
    assert np.all(np.diff(nu) >= 0.0)                       # more Sun as it moves away from the nadir
    assert nu[0] == 0.0 and nu[-1] == 1.0


# ------------------------------------------------------------------------------------------------
# events vs an independent cylindrical shadow of the WGS84 ellipsoid
# ------------------------------------------------------------------------------------------------

def _cylinder_crossings(t0: Time, hours: float, step_s: float = 5.0):
    """Entry/exit times (s from t0) of the cylindrical shadow of the WGS84 ellipsoid, from sgp4 + astropy.

    In ITRS (the ellipsoid's own axes) the ISS is shadowed iff the half-line r + t s (t >= 0, s the
    geocentric Sun direction) meets the ellipsoid; scaling z by a/b turns that into a sphere of radius a.
    The margin f = (distance of the scaled half-line from the centre) - a is smooth, negative in shadow.
    """
    sat = Satrec.twoline2rv(L1, L2, WGS72)
    ts = np.arange(0.0, hours * 3600.0 + step_s / 2, step_s)
    t = t0 + TimeDelta(ts, format="sec")
    err, r_teme, _ = sat.sgp4_array(t.utc.jd1, t.utc.jd2)
    assert not err.any()
    r = TEME(CartesianRepresentation(r_teme.T * u.km), obstime=t).transform_to(ITRS(obstime=t))
    r = r.cartesian.xyz.to_value(u.km).T
    sun = get_body("sun", t, ephemeris="builtin").transform_to(ITRS(obstime=t)).cartesian.xyz.to_value(u.km).T
    scale = np.array([1.0, 1.0, WGS84_A / WGS84_B])
    rs = r * scale
    ss = sun / np.linalg.norm(sun, axis=1, keepdims=True) * scale
    ss /= np.linalg.norm(ss, axis=1, keepdims=True)
    along = np.sum(rs * ss, axis=1)
    perp = np.linalg.norm(rs - along[:, None] * ss, axis=1)
    dist = np.where(along < 0.0, perp, np.linalg.norm(rs, axis=1))
    spline = CubicSpline(ts, dist - WGS84_A)
    roots = spline.roots(extrapolate=False)
    slope = spline(roots, 1)
    return roots[slope < 0], roots[slope > 0]                # entries, exits


def test_event_times_agree_with_independent_cylindrical_shadow(events):
    """The cylinder's boundary is where the Sun's centre sits on the limb, i.e. mid-penumbra of the cone.

    Compared: (1) the midpoint of penumbra entry and umbra entry (and of umbra exit and penumbra exit)
    with the cylinder's entry (exit): within 0.5 s; (2) the issue's requirement, umbra entry/exit within
    5 s of the cylinder's (they differ by half the ~8 s penumbra).
    """
    entries, exits = _cylinder_crossings(T0, HOURS)
    assert len(entries) >= 2 and len(exits) >= 2
    by_kind = {k: [_sec(T0, e.time) for e in events if e.kind == k] for k in
               ("penumbra_entry", "umbra_entry", "umbra_exit", "penumbra_exit")}

    def nearest(t, cands):
        j = int(np.argmin(np.abs(cands - t)))
        return cands[j] - t

    mids, umbra = [], []
    for pe, ue in zip(by_kind["penumbra_entry"], by_kind["umbra_entry"]):
        mids.append(nearest(0.5 * (pe + ue), entries))
        umbra.append(nearest(ue, entries))
    for ux, px in zip(by_kind["umbra_exit"], by_kind["penumbra_exit"]):
        mids.append(nearest(0.5 * (ux + px), exits))
        umbra.append(nearest(ux, exits))
    assert len(mids) == len(entries) + len(exits) == 5      # 2 entries and 3 exits between 00:00 and 04:00
    mids, umbra = np.abs(mids), np.abs(umbra)
    print(f"\ncone mid-penumbra vs cylinder: max {mids.max():.3f} s; umbra events vs cylinder: max {umbra.max():.2f} s")
    assert mids.max() < 0.5
    assert umbra.max() < 5.0


def test_events_are_refined_to_a_tenth_of_a_second(iss, events):
    assert [e.kind for e in events[:4]] == ["umbra_exit", "penumbra_exit", "penumbra_entry", "umbra_entry"]
    dt = TimeDelta([-0.05, 0.05], format="sec")
    for ev in events:
        before, after = shadow_fraction(iss, ev.time + dt)
        if ev.kind == "penumbra_entry":
            assert before == 1.0 and after < 1.0
        elif ev.kind == "umbra_entry":
            assert before > 0.0 and after == 0.0
        elif ev.kind == "umbra_exit":
            assert before == 0.0 and after > 0.0
        else:
            assert before < 1.0 and after == 1.0


def test_windows_follow_a_night_in_progress_and_match_events(iss, events):
    windows = eclipse_windows(iss, T0, HOURS)
    assert len(windows) == 3
    assert windows[0][0] < T0 < windows[0][1]                 # the night in progress at 00:00
    entries = [e.time for e in events if e.kind == "umbra_entry"]
    exits = [e.time for e in events if e.kind == "umbra_exit"]
    for (a, b), x in zip(windows, exits):
        assert abs(_sec(b, x)) < 1e-3
    for (a, _), x in zip(windows[1:], entries):
        assert abs(_sec(a, x)) < 1e-3


# ------------------------------------------------------------------------------------------------
# night and penumbra lengths vs closed forms
# ------------------------------------------------------------------------------------------------

class CircularOrbit:
    """A two-body circular orbit whose plane makes the angle beta with the Sun at t_ref (test geometry).

    The observer is under the Sun at t_ref, so the night is centred half an orbit later.
    """

    def __init__(self, t_ref: Time, beta_deg: float, radius_km: float):
        s = get_body("sun", t_ref, ephemeris="builtin").cartesian.xyz.to_value(u.km)
        s = s / np.linalg.norm(s)
        e = np.cross(s, [0.0, 0.0, 1.0])
        e /= np.linalg.norm(e)
        beta = math.radians(beta_deg)
        h = math.sin(beta) * s + math.cos(beta) * e
        p = s - (s @ h) * h
        self.p = p / np.linalg.norm(p)
        self.q = np.cross(h, self.p)
        self.t_ref, self.radius = t_ref, radius_km
        self.n = math.sqrt(MU_KM3_S2 / radius_km**3)

    def gcrs_states(self, times):
        th = self.n * np.atleast_1d((times - self.t_ref).to_value("s"))
        c, s = np.cos(th)[:, None], np.sin(th)[:, None]
        return self.radius * (c * self.p + s * self.q), self.radius * self.n * (-s * self.p + c * self.q)


def _night_formula_s(beta_deg, h_km, r_km, period_s):
    """REFERENCES.md §2.3: phi = arccos(sqrt(h^2 + 2Rh) / ((R + h) cos beta)); night = 2 phi / 2pi * P."""
    phi = math.acos(math.sqrt(h_km**2 + 2 * r_km * h_km) / ((r_km + h_km) * math.cos(math.radians(beta_deg))))
    return phi / math.pi * period_s


def _penumbra_formula_s(beta_deg, a_rad, b_rad, omega):
    """Time for the Sun's disk (diameter 2a) to cross the limb (apparent Earth radius b), circular orbit.

    With the observer at in-plane angle u from the Sun's projection, cos c = -cos(beta) cos(u) for the
    angle c between nadir and Sun, so dc/dt = omega cos(beta) sin(u) / sin(c); at the limb (c = b)
    cos(u) = -cos(b)/cos(beta), hence |dc/dt| = omega sqrt(cos^2 beta - cos^2 b) / sin b and the
    penumbra (c from b + a to b - a) lasts 2a sin b / (omega sqrt(cos^2 beta - cos^2 b)).
    At beta = 0 this is the Sun's diameter over the orbital rate, 2a/omega = 8.2 s at 400 km.
    """
    cb = math.cos(math.radians(beta_deg))
    return 2 * a_rad * math.sin(b_rad) / (omega * math.sqrt(cb**2 - math.cos(b_rad) ** 2))


TABLE_MIN = {0.0: 36.1, 20.0: 35.4, 40.0: 32.8, 60.0: 24.4}   # REFERENCES.md §2.3, h = 400 km, R = 6378 km


@pytest.mark.parametrize("beta", sorted(TABLE_MIN))
def test_night_and_penumbra_vs_closed_forms_circular_orbit(beta):
    """Spherical Earth R = 6378 km, circular 400 km orbit (P = 92.56 min), as in REFERENCES.md's table.

    Night measured between the mid-penumbra points (the cylinder-model boundaries the formula assumes):
    within 0.2 % of the formula and 0.06 min of the table (rounded to 0.1 min). Penumbra at each end
    within 0.5 % of the analytic crossing time; 8-12 s for |beta| <= 40 deg.
    """
    R, h = 6378.0, 400.0
    t_ref = Time("2012-03-25T00:00:00", scale="utc")
    orbit = CircularOrbit(t_ref, beta, R + h)
    ev = eclipse_events(orbit, t_ref, 1.6, earth_radius_km=R)
    passes = eclipse_passes(ev)
    assert len(passes) == 1
    p = passes[0]
    assert beta_angle_deg(orbit, p.umbra_entry) == pytest.approx(beta, abs=0.05)
    assert p.beta_deg == pytest.approx(beta, abs=0.05)
    night = p.umbra_s + 0.5 * (p.penumbra_in_s + p.penumbra_out_s)
    period = 2 * math.pi / orbit.n
    expected = _night_formula_s(beta, h, R, period)
    print(f"\nbeta {beta:4.1f}: night {night / 60:.3f} min, formula {expected / 60:.3f} min "
          f"({(night / expected - 1) * 100:+.3f} %), penumbra {p.penumbra_in_s:.2f}/{p.penumbra_out_s:.2f} s",
          end="")
    assert night == pytest.approx(expected, rel=2e-3)
    assert night / 60.0 == pytest.approx(TABLE_MIN[beta], abs=0.06)
    sun = get_body("sun", p.umbra_entry, ephemeris="builtin").cartesian.xyz.to_value(u.km)
    a = math.asin(R_SUN_KM / np.linalg.norm(sun))
    pen = _penumbra_formula_s(beta, a, math.asin(R / (R + h)), orbit.n)
    assert p.penumbra_in_s == pytest.approx(pen, rel=5e-3)
    assert p.penumbra_out_s == pytest.approx(pen, rel=5e-3)
    if abs(beta) <= 40.0:
        assert 8.0 <= p.penumbra_in_s <= 12.0 and 8.0 <= p.penumbra_out_s <= 12.0


def test_iss_night_and_penumbra_vs_closed_forms(iss, events):
    """The real orbit (WGS84 Earth): night within 1 % of the §2.3 formula with the pass's own beta, mean
    altitude and the TLE period (R = 6371.0088 km, IUGG mean radius); penumbra within 0.5 % of the
    analytic time when the apparent Earth radius's change from the radial velocity is included
    (db/dt = -tan(b) rdot / r; the ISS climbs ~12 m/s at sunset and sinks ~14 m/s at sunrise here,
    which lengthens each penumbra by ~0.6 %), and 7.5-9 s at this beta of ~2 deg."""
    R = 6371.0088
    passes = [p for p in eclipse_passes(events) if p.penumbra_entry is not None and p.penumbra_exit is not None]
    assert len(passes) == 2
    for p in passes:
        mid = p.umbra_entry + 0.5 * (p.umbra_exit - p.umbra_entry)
        beta = beta_angle_deg(iss, mid)
        ts = p.umbra_entry + TimeDelta(np.linspace(0.0, p.umbra_s, 50), format="sec")
        pos, _ = iss.gcrs_states(ts)
        h = float(np.mean(np.linalg.norm(pos, axis=1))) - R
        night = p.umbra_s + 0.5 * (p.penumbra_in_s + p.penumbra_out_s)
        expected = _night_formula_s(beta, h, R, iss.period_s)
        print(f"\nISS beta {beta:+.2f}: night {night / 60:.3f} min vs formula {expected / 60:.3f} min "
              f"({(night / expected - 1) * 100:+.2f} %)", end="")
        assert night == pytest.approx(expected, rel=1e-2)
        for t_edge, measured, sign in ((p.umbra_entry, p.penumbra_in_s, -1.0), (p.umbra_exit, p.penumbra_out_s, 1.0)):
            (r,), (v,) = iss.gcrs_states(t_edge)
            rn = np.linalg.norm(r)
            omega = np.linalg.norm(np.cross(r, v)) / rn**2
            rdot = (r @ v) / rn
            sun = get_body("sun", t_edge, ephemeris="builtin").cartesian.xyz.to_value(u.km)
            a = math.asin(R_SUN_KM / np.linalg.norm(sun - r))
            b = math.asin(6365.0 / rn)                       # WGS84 silhouette radius near 47 deg latitude
            rate = omega * math.sqrt(math.cos(math.radians(beta)) ** 2 - math.cos(b) ** 2) / math.sin(b)
            rate += sign * math.tan(b) * rdot / rn          # d(c - b)/dt, c falling at entry, rising at exit
            print(f"; penumbra {measured:.3f} s vs {2 * a / rate:.3f} s", end="")
            assert measured == pytest.approx(2 * a / rate, rel=5e-3)
            assert 7.5 <= measured <= 9.0


def test_grazing_night_is_found_with_coarse_sampling():
    """Near beta* (70.2 deg at 400 km) the umbra lasts 84 s at 69.9 deg; sampled every 400 s it often falls between
    samples and is found from the sampled margin's minimum. Any sampling phase gives the same events."""
    R, h = 6378.0, 400.0
    orbit = CircularOrbit(T0, -69.9, R + h)
    assert beta_angle_deg(orbit, T0) == pytest.approx(-69.9, abs=0.01)
    reference = eclipse_events(orbit, T0, 1.6, earth_radius_km=R)
    kinds = [e.kind for e in reference]
    assert kinds == ["penumbra_entry", "umbra_entry", "umbra_exit", "penumbra_exit"]
    umbra = _sec(reference[1].time, reference[2].time)
    assert 60.0 < umbra < 120.0
    for shift in (0.0, 100.0, 200.0, 300.0):
        start = T0 - TimeDelta(shift, format="sec")
        coarse = eclipse_events(orbit, start, 1.6 + shift / 3600.0, step_s=400.0, earth_radius_km=R)
        assert [e.kind for e in coarse] == kinds
        for a, b in zip(coarse, reference):
            assert abs(_sec(a.time, b.time)) < 0.01


# ------------------------------------------------------------------------------------------------
# relative start times
# ------------------------------------------------------------------------------------------------

def test_relative_start_grammar(iss, events):
    first = {}
    for e in events:
        first.setdefault(e.kind, e.time)
    cases = {
        "eclipse+60 s": ("umbra_entry", 60.0),
        "sunset + 1 min": ("umbra_entry", 60.0),
        "Umbra+2min": ("umbra_entry", 120.0),
        "umbra_exit-5 min": ("umbra_exit", -300.0),
        "penumbra_entry - 30 s": ("penumbra_entry", -30.0),
        "penumbra_exit": ("penumbra_exit", 0.0),
        "sunrise+0.5 h": ("umbra_exit", 1800.0),
    }
    for text, (kind, offset) in cases.items():
        t = resolve_relative_start(text, iss, T0)
        assert _sec(first[kind], t) == pytest.approx(offset, abs=1e-3), text
    # the first event at or after the reference: a reference inside a night gives the next night's entry
    inside = first["umbra_entry"] + TimeDelta(60.0, format="sec")
    nxt = [e.time for e in events if e.kind == "umbra_entry"][1]
    assert abs(_sec(nxt, resolve_relative_start("eclipse", iss, inside))) < 1e-3
    assert is_relative_start("eclipse+60 s") and not is_relative_start("2012-03-25T01:00:00")


@pytest.mark.parametrize("text, words", [
    ("moonrise+60 s", ["unknown event", "moonrise", "eclipse"]),
    ("eclipes+60 s", ["did you mean", "eclipse"]),
    ("eclipse+60", ["no unit"]),
    ("eclipse+60 m", ["length", "not a time"]),
    ("eclipse+sixty s", ["cannot read the offset"]),
    ("eclipse+-5 s", ["non-negative"]),
    ("eclipse+", ["no duration"]),
    ("eclipse*2", ["cannot read"]),
    ("eclipse+2 d", ["longer than a day"]),
])
def test_relative_start_errors(iss, text, words):
    with pytest.raises(ScenarioError) as exc:
        resolve_relative_start(text, iss, T0, field="time.start")
    assert exc.value.field == "time.start"
    for w in words:
        assert w in str(exc.value), (text, str(exc.value))


def test_relative_start_without_night_within_a_day():
    orbit = CircularOrbit(T0, 80.0, 6778.0)                  # beyond beta* ~ 70 deg: sunlit all the time
    with pytest.raises(ScenarioError) as exc:
        resolve_relative_start("eclipse+60 s", orbit, T0, field="time.start")
    msg = str(exc.value)
    assert exc.value.field == "time.start" and "no umbra_entry within 24 h" in msg and "+80.0°" in msg


# ------------------------------------------------------------------------------------------------
# the exposure check
# ------------------------------------------------------------------------------------------------

def _night(events, i=0):
    p = [p for p in eclipse_passes(events) if p.umbra_entry is not None and p.umbra_exit is not None][i]
    return p.umbra_entry, p.umbra_exit


def test_check_in_shadow_accepts_a_night_exposure(iss, events):
    entry, _ = _night(events)
    flags = check_in_shadow(iss, entry + TimeDelta(60.0, format="sec"), 900.0, allow_sunlit=False)
    assert flags.shape == (901,) and flags.all()


def test_check_in_shadow_refuses_sunrise_and_names_it(iss, events):
    entry, exit_ = _night(events)
    start = exit_ - TimeDelta(300.0, format="sec")
    with pytest.raises(ScenarioError) as exc:
        check_in_shadow(iss, start, 600.0, allow_sunlit=False)
    msg = str(exc.value)
    t = exit_.utc.copy()
    t.precision = 1
    assert exc.value.field == "exposure"
    assert t.isot in msg and "leaves the Earth's shadow" in msg and "300.0 s into" in msg
    assert "exposure.allow_sunlit = true" in msg and "shorten exposure.duration" in msg
    flags = check_in_shadow(iss, start, 600.0, allow_sunlit=True)
    assert flags.shape == (601,)
    assert flags[:300].all() and not flags[301:].any()      # sample 300 is the exit itself (+- 1 ms)


def test_check_in_shadow_refuses_a_start_before_sunset(iss, events):
    entry, _ = _night(events, 1)
    with pytest.raises(ScenarioError) as exc:
        check_in_shadow(iss, entry - TimeDelta(120.0, format="sec"), 300.0, allow_sunlit=False)
    msg = str(exc.value)
    assert "enters the Earth's shadow" in msg and "120.0 s later" in msg and "allow_sunlit" in msg
    _, exit_ = _night(events, 1)
    with pytest.raises(ScenarioError, match="never in the Earth's shadow.*next orbital night"):
        check_in_shadow(iss, exit_ + TimeDelta(600.0, format="sec"), 60.0, allow_sunlit=False)


# ------------------------------------------------------------------------------------------------
# `startrail windows`
# ------------------------------------------------------------------------------------------------

def _table_rows(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln[:3].strip().isdigit() and "2012-" in ln]


def test_windows_cli_lists_nights_from_a_tle_file(tmp_path, capsys):
    tle = tmp_path / "iss.tle"
    tle.write_text(f"ISS (ZARYA)\n{L1}\n{L2}\n")
    assert windows_main(["--tle", str(tle), "--start", "2012-03-25T00:00:00", "--hours", "4"]) == 0
    out = capsys.readouterr().out
    rows = _table_rows(out)
    assert len(rows) >= 2
    assert "min" in rows[1] and "°" in rows[1]
    # the lead's hook: a subparser on any argparse parser
    parser = argparse.ArgumentParser(prog="startrail")
    add_windows_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["windows", "--tle", str(tle), "--start", "2012-03-25T00:00:00", "--hours", "2"])
    assert args.func(args) == 0
    assert len(_table_rows(capsys.readouterr().out)) >= 1


def test_windows_cli_from_a_scenario_with_a_relative_start(tmp_path, capsys):
    text = small_scenario_text().replace('start = "2012-03-25T01:15:00"',
                                         'start = "eclipse+60 s"\nreference = "2012-03-25T00:30:00"')
    path = tmp_path / "s.toml"
    path.write_text(text)
    assert windows_main(["--scenario", str(path), "--hours", "3"]) == 0
    out = capsys.readouterr().out
    assert len(_table_rows(out)) >= 2
    assert 'time.start = "eclipse+60 s"' in out and "-> 2012-03-25T01:10:10.0 UTC" in out


@pytest.mark.parametrize("argv, field", [
    (["--tle", "missing.tle", "--start", "2012-03-25T00:00:00"], "--tle"),
    (["--tle", "{tle}", "--start", "yesterday"], "--start"),
    (["--tle", "{tle}", "--start", "2012-03-25T00:00:00", "--hours", "-1"], "--hours"),
    (["--tle", "{tle}", "--start", "2012-03-25T00:00:00", "--hours", "four"], "--hours"),
    (["--tle", "{tle}"], "--start"),
    (["--tle", "{bad}", "--start", "2012-03-25T00:00:00"], "--tle"),
])
def test_windows_cli_bad_input(tmp_path, argv, field):
    tle = tmp_path / "iss.tle"
    tle.write_text(f"{L1}\n{L2}\n")
    bad = tmp_path / "bad.tle"
    bad.write_text(f"{L1}\n{L2[:-1]}0\n")                    # checksum broken
    argv = [a.format(tle=tle, bad=bad) for a in argv]
    with pytest.raises(ScenarioError) as exc:
        windows_main(argv)
    assert exc.value.field == field


def test_format_windows_table_marks_events_outside_the_span(events):
    text = format_windows_table(events)
    rows = _table_rows(text)
    assert len(rows) == 3
    assert rows[0].split()[1] == "-"                          # the first night began before 00:00
    assert format_windows_table([]).count("no passage") == 1
    assert isinstance(events[0], EclipseEvent) and math.isfinite(events[0].beta_deg)
