"""The command line end to end, and its handling of bad input (one line, exit status 2, no file left)."""
from __future__ import annotations

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from PIL import Image

from simulator.cli import main

from .conftest import small_scenario_text


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_render_info_preview_end_to_end(tmp_path, capsys, small_scenario_file):
    out = tmp_path / "out.h5"
    png = tmp_path / "out.png"
    code, stdout, err = run_cli(capsys, "render", small_scenario_file, "-o", out, "--preview", png, "--overlay")
    assert code == 0, err
    assert out.exists() and png.exists()
    assert "stars in frame" in stdout
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "startrail-exposure"
        assert f["image/signal"].shape == (214, 320)
        n = f["truth/stars/hip"].shape[0]
        assert n > 10
    assert Image.open(png).size == (320, 214)
    code, stdout, _ = run_cli(capsys, "info", out)
    assert code == 0
    assert "brightest trails" in stdout and "LVLH mount az 0.00° el 0.00°" in stdout
    assert "limb         atmosphere" in stdout and "airglow" not in stdout
    png2 = tmp_path / "p2.png"
    code, _, _ = run_cli(capsys, "preview", out, "-o", png2, "--width", 160)
    assert code == 0 and Image.open(png2).size == (160, 107)
    # no temporary files are left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.h5", "out.png", "p2.png", "small.toml"])


def test_same_scenario_gives_bit_identical_image_and_truth(tmp_path, capsys, small_scenario_file):
    paths = [tmp_path / "a.h5", tmp_path / "b.h5"]
    for p in paths:
        assert run_cli(capsys, "render", small_scenario_file, "-o", p, "-q")[0] == 0
    with h5py.File(paths[0]) as a, h5py.File(paths[1]) as b:
        for name in ("image/signal", "truth/stars/x", "truth/stars/y", "truth/stars/electrons", "truth/t"):
            assert np.array_equal(a[name][...], b[name][...], equal_nan=True), name
        assert a.attrs["run_id"] != b.attrs["run_id"]


BAD_CASES = {
    "malformed TOML": (small_scenario_text().replace('name = "small-test"', 'name = "small-test'), "small.toml"),
    "unknown key": (small_scenario_text().replace("f_number = 2.8", "f_number = 2.8\nfocal = 3"), "camera.focal"),
    "bad unit": (small_scenario_text().replace('focal_length = "12.5 mm"', 'focal_length = "14 s"'), "camera.focal_length"),
    "bad TLE checksum": (small_scenario_text().replace("0  2432", "0  2433"), "orbit.tle"),
    "zero duration": (small_scenario_text(duration="0 s"), "exposure.duration"),
    "negative duration": (small_scenario_text(duration="-5 min"), "exposure.duration"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_scenario_gives_one_line_exit_2_and_no_file(tmp_path, capsys, case):
    text, field = BAD_CASES[case]
    scenario = tmp_path / "small.toml"
    scenario.write_text(text)
    out = tmp_path / "out.h5"
    code, stdout, err = run_cli(capsys, "render", scenario, "-o", out, "--preview", tmp_path / "p.png")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("startrail: error: ") and field in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.toml"]


def test_existing_output_is_refused_then_overwritten_on_request(tmp_path, capsys, small_scenario_file):
    out = tmp_path / "out.h5"
    out.write_bytes(b"precious")
    code, _, err = run_cli(capsys, "render", small_scenario_file, "-o", out)
    assert code == 2 and "--output" in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == b"precious"
    code, _, _ = run_cli(capsys, "render", small_scenario_file, "-o", out, "--overwrite", "-q")
    assert code == 0 and h5py.is_hdf5(out)


def test_unwritable_output_folder(tmp_path, capsys, small_scenario_file):
    code, _, err = run_cli(capsys, "render", small_scenario_file, "-o", tmp_path / "missing" / "out.h5")
    assert code == 2 and "--output" in err and "does not exist" in err
    if os.geteuid() != 0:  # root can write anywhere; the permission case only means something otherwise
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, _, err = run_cli(capsys, "render", small_scenario_file, "-o", locked / "out.h5")
        assert code == 2 and "not writable" in err


def test_missing_scenario_file(tmp_path, capsys):
    code, _, err = run_cli(capsys, "render", tmp_path / "nope.toml", "-o", tmp_path / "out.h5")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "nope.toml" in err
    assert list(tmp_path.iterdir()) == []


def test_info_on_a_file_that_is_not_a_product(tmp_path, capsys):
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    code, _, err = run_cli(capsys, "info", junk)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_failure_while_writing_leaves_no_file(tmp_path, capsys, small_scenario_file, monkeypatch):
    import simulator.io.hdf5 as hdf5

    def broken(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(hdf5, "_put", broken)
    with pytest.raises(OSError):
        main(["render", str(small_scenario_file), "-o", str(tmp_path / "out.h5"), "-q"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.toml"]


def test_real_process_exit_status(tmp_path, small_scenario_file):
    """The installed entry point (python -m simulator) returns 2 and prints one line for bad input."""
    small_scenario_file.write_text(small_scenario_text(duration="0 s"))
    proc = subprocess.run([sys.executable, "-m", "simulator", "render", str(small_scenario_file), "-o",
                           str(tmp_path / "o.h5")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "exposure.duration" in proc.stderr


def test_preview_limb_overlay_is_drawn_as_the_curve_s_stretches_inside_the_frame():
    """The overlay draws /truth/limb (NaN off the frame) as separate polylines: a stretch through the arrays'
    end continues at their start, and no segment bridges a gap (it crossed the whole image before 1.5's NaNs
    were split on)."""
    from simulator.io.preview import _closed_curve_runs

    a = np.linspace(0.0, 2.0 * np.pi, 100, endpoint=False)
    x, y = np.cos(a), np.sin(a)
    x[20:30] = np.nan  # one gap: one stretch, 30..99 then 0..19
    (run,) = _closed_curve_runs(x, y)
    assert len(run) == 90 and run[0] == (x[30], y[30]) and run[-1] == (x[19], y[19])
    x[60:65] = np.nan  # two gaps: two stretches, none bridging them
    runs = _closed_curve_runs(x, y)
    assert sorted(len(r) for r in runs) == [30, 55]
    assert all(max(np.hypot(np.diff([p[0] for p in r]), np.diff([p[1] for p in r]))) < 0.07 for r in runs)
    assert _closed_curve_runs(np.full(5, np.nan), np.full(5, np.nan)) == []
