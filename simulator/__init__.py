"""startrail: physically timed star-trail exposures from the International Space Station.

Data flow (one module per idea):
scenario (config) -> orbit/attitude -> sky & Earth sources -> camera -> render kernels -> sensor -> HDF5 (io).
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("startrail")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

# startrail never reaches for the network: Earth-orientation data come from the tables bundled with
# astropy (astropy-iers-data), not from an automatic IERS-A download.
from astropy.utils import iers as _iers  # noqa: E402

_iers.conf.auto_download = False

# Numba's cache under a hash of the package's sources, so that no kernel is ever loaded as compiled before a
# change to a module it calls (simulator/numba_cache.py); before any kernel module is imported
from . import numba_cache as _numba_cache  # noqa: E402

NUMBA_CACHE_FOLDER = _numba_cache.configure()
