"""Atomic output files: write to a temporary name in the target folder, then rename over the target."""
from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from ..errors import ScenarioError


def check_output_path(path, overwrite: bool, option: str = "--output") -> Path:
    """Validate an output path before any work is done; return it as a Path."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ScenarioError(option, f"{path} already exists", "pass --overwrite to replace it, or choose another name")
    if path.exists() and path.is_dir():
        raise ScenarioError(option, f"{path} is a directory", "give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ScenarioError(option, f"folder {folder} does not exist", "create it first or choose another path")
    if not os.access(folder, os.W_OK):
        raise ScenarioError(option, f"folder {folder} is not writable", "choose a folder you can write to")
    return path


@contextlib.contextmanager
def atomic_path(path, overwrite: bool = False, option: str = "--output"):
    """Yield a temporary path next to ``path``; on success rename it to ``path``, on failure delete it."""
    path = check_output_path(path, overwrite, option)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        if path.exists() and not overwrite:  # appeared while we worked
            raise ScenarioError(option, f"{path} already exists", "pass --overwrite to replace it")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
