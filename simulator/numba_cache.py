"""Where Numba caches the compiled kernels: a folder named by a hash of this package's sources.

Numba's on-disk cache (``cache=True``) checks only the modification time of the file that defines a kernel,
not of the functions it calls from other modules: after a change to, say, earth/ellipsoid.py, a kernel of
render/limb_rays.py that inlines it would be loaded from the cache as compiled before the change (Numba's
documented limitation). Every kernel is therefore cached under ``<cache root>/<hash of every .py file of
simulator/>``, so that any change to the package's code starts a fresh cache. The root is
$XDG_CACHE_HOME/startrail/numba (default ~/.cache/startrail/numba); a NUMBA_CACHE_DIR set by the user before
importing simulator is left as it is, and one set after it but before Numba's first import wins (the benchmark's). Old folders are not removed: delete the root to reclaim the space.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def source_hash(package_dir: Path = PACKAGE_DIR) -> str:
    """SHA-256 (first 16 hex digits) of the package's .py files: their paths relative to it and contents."""
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "startrail" / "numba"


def configure() -> str | None:
    """Point Numba's cache at this source tree's folder (before any kernel is defined); returns the folder, or
    None where the user set NUMBA_CACHE_DIR, or where no cache folder can be made (Numba then uses its own
    default place).

    Through the environment variable NUMBA_CACHE_DIR, which Numba reads when it is first imported: importing
    simulator does not import Numba, and a caller may still set its own NUMBA_CACHE_DIR before that (the
    benchmark's fresh cache). Where Numba is already imported, its config is set as well."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    folder = cache_root() / source_hash()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:
        from numba.core import config

        config.CACHE_DIR = str(folder)
    return str(folder)
