"""Observer orbits: where the camera is, in GCRS (km, km/s), at any time.

Three sources, chosen by the scenario's ``[orbit]`` table:

* ``tle``   -> :class:`TleOrbit` (SGP4, WGS72 constants; TEME rotated to GCRS), via :func:`parse_tle`
* ``state`` -> :class:`StateVectorOrbit` (one GCRS state, point mass + J2 numerical propagation)
* ``oem``   -> :class:`OemOrbit` (CCSDS OEM 2.0 text, Lagrange interpolation), via :func:`read_oem`

All of them satisfy :class:`OrbitSource`.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from astropy.time import Time

from simulator.orbit.oem import OemOrbit, OemSegment, eme2000_to_gcrs_matrix, read_oem, write_oem
from simulator.orbit.state_vector import StateVectorOrbit
from simulator.orbit.tle import TleOrbit, parse_tle, teme_to_gcrs


@runtime_checkable
class OrbitSource(Protocol):
    """Anything that gives the observer's GCRS state at given times."""

    def gcrs_states(self, times: Time) -> tuple[np.ndarray, np.ndarray]:
        """Observer position (km) and velocity (km/s) in GCRS at each time: arrays [K,3], [K,3]."""
        ...

    def describe(self) -> str:
        """One line for ``startrail info``, e.g. ``"TLE 25544 epoch 2012-03-25T04:53:34 UTC"``."""
        ...


__all__ = [
    "OrbitSource",
    "TleOrbit",
    "parse_tle",
    "teme_to_gcrs",
    "StateVectorOrbit",
    "OemOrbit",
    "OemSegment",
    "read_oem",
    "write_oem",
    "eme2000_to_gcrs_matrix",
]
