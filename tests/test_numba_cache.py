"""Numba's cache folder is named by a hash of the package's sources (simulator/numba_cache.py), so a kernel is
never loaded as compiled before a change to a module it calls."""
import os
import subprocess
import sys
from pathlib import Path

import simulator
from simulator import numba_cache


def _tree(root: Path, files: dict) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_hash_follows_every_source_file(tmp_path):
    """Changing any .py file (here one a kernel would call, in a subfolder) changes the folder; other files
    do not count."""
    pkg = _tree(tmp_path / "pkg", {"a.py": "x = 1\n", "earth/b.py": "def f():\n    return 2\n"})
    before = numba_cache.source_hash(pkg)
    assert numba_cache.source_hash(pkg) == before
    (pkg / "notes.txt").write_text("not code")
    assert numba_cache.source_hash(pkg) == before
    (pkg / "earth/b.py").write_text("def f():\n    return 3\n")
    assert numba_cache.source_hash(pkg) != before
    assert len(before) == 16


def test_kernels_cache_under_the_source_hash():
    """With NUMBA_CACHE_DIR unset (as in this test run, unless the user set it), a compiled kernel's cache is in
    the folder of the current sources."""
    if simulator.NUMBA_CACHE_FOLDER is None:  # the user's NUMBA_CACHE_DIR, set before importing simulator
        assert os.environ.get("NUMBA_CACHE_DIR")
        return
    from simulator.earth.ellipsoid import geodetic_altitude

    folder = Path(simulator.NUMBA_CACHE_FOLDER)
    assert folder.name == numba_cache.source_hash()
    assert Path(geodetic_altitude._cache._cache_path).is_relative_to(folder)


def test_user_cache_dir_is_respected(tmp_path):
    """A NUMBA_CACHE_DIR set by the user wins (the benchmark sets a fresh one to time compilation)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    code = ("import simulator; from numba.core import config; "
            "print(simulator.NUMBA_CACHE_FOLDER, config.CACHE_DIR)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["None", str(tmp_path)]


def test_a_cache_dir_set_before_numba_is_imported_wins(tmp_path):
    """importing simulator does not import Numba, so a NUMBA_CACHE_DIR set after it and before Numba's first
    import (as the benchmark does, to time compilation on a fresh cache) is where the kernels cache."""
    code = ("import os, sys, simulator; assert 'numba' not in sys.modules; "
            f"os.environ['NUMBA_CACHE_DIR'] = {str(tmp_path)!r}; "
            "from simulator.earth.ellipsoid import geodetic_altitude; print(geodetic_altitude._cache._cache_path)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert Path(out.strip()).is_relative_to(tmp_path)
