"""Gzip + shuffle HDF5 datasets whose chunks are compressed in parallel threads.

HDF5 runs a dataset's filters in the writing thread, one chunk after another: the Pettit product's 350 MB of
tracks, knots and images took ~7.7 s to write on 2 cores, nearly all of it in zlib. Here the chunks are encoded
as HDF5's own filter pipeline would encode them (the shuffle filter's byte transposition over the whole chunk,
then zlib's deflate with its header, as HDF5's deflate filter stores it) by a pool of threads (zlib releases
the GIL while it compresses) and stored as they are with H5Dwrite_chunk (h5py's ``write_direct_chunk``). The
dataset declares the standard shuffle and deflate filters, so any HDF5 reader decodes it with its built-in
filters; nothing about the file differs from one written by ``create_dataset(data=...)`` but the bytes of the
compressed chunks (tests/test_product.py reads both back).
"""
from __future__ import annotations

import itertools
import zlib
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np

GZIP_LEVEL = 1  # zlib's fastest level: float tracks barely compress further at 6 (and take ~3x longer)
# below this many bytes a dataset goes through HDF5's own filters (a thread pool costs more than it saves)
PARALLEL_MIN_BYTES = 4 << 20


def _threads() -> int:
    """The worker count: Numba's thread count, the project's one setting for parallelism (NUMBA_NUM_THREADS)."""
    import numba

    return max(1, int(numba.get_num_threads()))


def encode_chunk(block: np.ndarray, level: int = GZIP_LEVEL) -> bytes:
    """One full chunk (C order, the dataset type's byte order) as HDF5's shuffle + deflate filters store it."""
    size = block.dtype.itemsize
    raw = np.ascontiguousarray(block).view(np.uint8).reshape(-1, size)
    # shuffle: the first byte of every element, then every second byte, ... (a no-op for 1-byte types)
    shuffled = raw.T.tobytes() if size > 1 else raw.tobytes()
    return zlib.compress(shuffled, level)


def create_compressed(group: h5py.Group, name: str, data, chunks=True, level: int = GZIP_LEVEL,
                      threads: int | None = None, min_bytes: int = PARALLEL_MIN_BYTES) -> h5py.Dataset:
    """``group.create_dataset(name, data=data, compression="gzip", compression_opts=level, shuffle=True,
    chunks=chunks)``, with the chunks compressed by ``threads`` threads (default: Numba's thread count) when
    the data is numeric and at least ``min_bytes``; the same dataset, read back bit for bit."""
    data = np.asarray(data)
    if data.ndim == 0:  # (HDF5 has no chunks or filters for a scalar)
        return group.create_dataset(name, data=data)
    if data.dtype.kind not in "biuf" or data.nbytes < min_bytes or data.size == 0:
        return group.create_dataset(name, data=data, compression="gzip", compression_opts=level, shuffle=True,
                                    chunks=chunks)
    data = np.ascontiguousarray(data)  # (in its own byte order, which the dataset's type keeps, as h5py's does)
    ds = group.create_dataset(name, shape=data.shape, dtype=data.dtype, compression="gzip",
                              compression_opts=level, shuffle=True, chunks=chunks)
    chunk = ds.chunks

    def encode(offset):
        block = data[tuple(slice(o, o + c) for o, c in zip(offset, chunk))]
        if block.shape != chunk:  # an edge chunk is stored at full size: the part beyond the data is padding
            full = np.zeros(chunk, dtype=data.dtype)
            full[tuple(slice(0, n) for n in block.shape)] = block
            block = full
        return offset, encode_chunk(block, level)

    offsets = itertools.product(*(range(0, n, c) for n, c in zip(data.shape, chunk)))
    with ThreadPoolExecutor(threads or _threads()) as pool:
        for offset, payload in pool.map(encode, offsets):  # (in order; the file is written by this thread only)
            ds.id.write_direct_chunk(offset, payload)
    return ds
