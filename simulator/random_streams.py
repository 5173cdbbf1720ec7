"""Random streams: one scenario seed, one independent numpy stream family per subsystem (DESIGN.md §2).

Each subsystem gets the child of ``SeedSequence(seed)`` at a fixed position, so adding or changing one
subsystem never changes another's draws, and the same scenario and seed give bit-identical output.
Stars need no randomness.
"""
from __future__ import annotations

import numpy as np

# positions are permanent: append new subsystems, never reorder
SUBSYSTEMS = ("sensor", "lightning", "jitter", "clouds")


def subsystem_seed(seed: int, name: str) -> np.random.SeedSequence:
    """The SeedSequence of subsystem ``name`` (the same as ``SeedSequence(seed).spawn(...)[i]``)."""
    return np.random.SeedSequence(seed, spawn_key=(SUBSYSTEMS.index(name),))
