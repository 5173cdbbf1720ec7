"""Visible intervals of sources in CSR form (ptr, start, stop): clipping to a frame and selecting rows."""
from __future__ import annotations

import numpy as np
from numba import njit


def clip_intervals(ptr, start, stop, t0, t1):
    """Intersect every star's visible intervals (CSR) with the window [t0, t1]; returns a new CSR."""
    a = np.maximum(start, t0)
    b = np.minimum(stop, t1)
    keep = b > a
    star = np.repeat(np.arange(ptr.size - 1), np.diff(ptr))
    counts = np.bincount(star[keep], minlength=ptr.size - 1)
    new_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return new_ptr, a[keep], b[keep]


def csr_entries(ptr, rows):
    """Indices of the entries of rows ``rows`` of a CSR with pointers ``ptr``, row after row (int64)."""
    rows = np.asarray(rows, dtype=np.int64)
    counts = np.diff(ptr)[rows]
    first = np.asarray(ptr, dtype=np.int64)[rows]
    offsets = np.cumsum(counts) - counts  # where each row's entries begin in the output
    return np.repeat(first - offsets, counts) + np.arange(counts.sum(), dtype=np.int64)


def subset_csr(ptr, start, stop, rows):
    """The CSR of rows ``rows`` (in that order): (ptr, start, stop)."""
    counts = np.diff(ptr)[np.asarray(rows, dtype=np.int64)]
    new_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    idx = csr_entries(ptr, rows)
    return new_ptr, start[idx], stop[idx]


@njit(cache=True)
def intersect_intervals(ptr_a, start_a, stop_a, ptr_b, start_b, stop_b):
    """Row-wise intersection of two CSR interval sets with the same number of rows.

    Each row's intervals must be sorted and disjoint (as the occultation and clipping routines give them).
    Returns (ptr, start, stop) of the non-empty overlaps, sorted per row.
    """
    n = ptr_a.size - 1
    ptr = np.zeros(n + 1, dtype=np.int64)
    start = np.empty(start_a.size + start_b.size)
    stop = np.empty(start_a.size + start_b.size)
    m = 0
    for j in range(n):
        i, k = ptr_a[j], ptr_b[j]
        while i < ptr_a[j + 1] and k < ptr_b[j + 1]:
            lo = max(start_a[i], start_b[k])
            hi = min(stop_a[i], stop_b[k])
            if hi > lo:
                start[m] = lo
                stop[m] = hi
                m += 1
            if stop_a[i] < stop_b[k]:
                i += 1
            else:
                k += 1
        ptr[j + 1] = m
    return ptr, start[:m].copy(), stop[:m].copy()
