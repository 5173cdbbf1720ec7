"""Visible intervals of sources in CSR form (ptr, start, stop): clipping to a frame and selecting rows."""
from __future__ import annotations

import numpy as np


def clip_intervals(ptr, start, stop, t0, t1):
    """Intersect every star's visible intervals (CSR) with the window [t0, t1]; returns a new CSR."""
    a = np.maximum(start, t0)
    b = np.minimum(stop, t1)
    keep = b > a
    star = np.repeat(np.arange(ptr.size - 1), np.diff(ptr))
    counts = np.bincount(star[keep], minlength=ptr.size - 1)
    new_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return new_ptr, a[keep], b[keep]


def subset_csr(ptr, start, stop, rows):
    counts = np.diff(ptr)[rows]
    new_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    idx = np.concatenate([np.arange(ptr[r], ptr[r + 1]) for r in rows]) if rows.size else np.zeros(0, np.int64)
    return new_ptr, start[idx.astype(np.int64)], stop[idx.astype(np.int64)]
