"""The order in which a compiled parallel loop visits rows (of bands, of grid cells) so that threads share the work.

Numba's ``prange`` hands each thread a contiguous chunk of the iteration space, and the costly rows of an image
crowd together (trails and the airglow's limb band in part of the frame); a loop over ``order[i]`` with the
permutation below deals the rows round-robin instead. Each row writes only its own output, so the result does
not depend on the order.
"""
from __future__ import annotations

import numpy as np


def round_robin(n_rows: int, n_threads: int | None = None) -> np.ndarray:
    """Permutation of range(n_rows) whose contiguous chunks (as prange deals them to T threads, default Numba's
    current count) hold rows i, i+T, i+2T, ... (int64)."""
    import numba

    n_threads = n_threads or numba.get_num_threads()
    rows = np.arange(n_rows)
    return np.lexsort((rows, rows % n_threads)).astype(np.int64)
