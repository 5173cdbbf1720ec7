"""Bayer colour-filter array: mosaic a colour image, and demosaic a raw mosaic by bilinear interpolation.

Conventions (DESIGN.md §2): arrays are indexed [row, col] = [y, x], colour is the last axis, channel
order R, G, B. A pattern string names the filters of the 2 x 2 cell in row-major order, starting at the
first pixel (0, 0): "RGGB" puts R at (y=0, x=0), G at (0, 1) and (1, 0), B at (1, 1). The cell repeats
over the whole sensor; images of odd size simply end in a partial cell.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
_CHANNEL = {"R": 0, "G": 1, "B": 2}

# Bilinear interpolation weights. Each kernel sums the known samples of one colour around a pixel;
# dividing by the same kernel applied to the sampling mask (normalised convolution) gives the
# interpolated value, weights that sum to one everywhere, and one-sided averages at the frame edges.
_KERNEL_G = np.array([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4.0
_KERNEL_RB = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4.0


def check_pattern(pattern: str) -> str:
    """Return the pattern in upper case, or raise ValueError naming the allowed ones."""
    p = str(pattern).upper()
    if p not in PATTERNS:
        raise ValueError(f"bayer pattern {pattern!r} is not one of {', '.join(PATTERNS)}")
    return p


def cfa_sites(pattern: str) -> list[tuple[int, int, int]]:
    """The four (dy, dx, channel) sites of the 2 x 2 cell; channel 0 = R, 1 = G, 2 = B."""
    p = check_pattern(pattern)
    return [(k // 2, k % 2, _CHANNEL[p[k]]) for k in range(4)]


def cfa_channel_map(shape: tuple[int, int], pattern: str) -> np.ndarray:
    """uint8 [H, W]: the colour channel (0 R, 1 G, 2 B) each pixel of a sensor of this shape sees."""
    h, w = shape
    out = np.empty((h, w), dtype=np.uint8)
    for dy, dx, ch in cfa_sites(pattern):
        out[dy::2, dx::2] = ch
    return out


def mosaic(signal_hwc: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """Sample a colour image through the colour-filter array.

    signal_hwc: [H, W, 3] (R, G, B), any unit (expected electrons in the simulator).
    Returns [H, W] of the same dtype and unit: each pixel keeps the channel its filter passes.
    """
    s = np.asarray(signal_hwc)
    if s.ndim != 3 or s.shape[2] != 3:
        raise ValueError(f"mosaic needs an [H, W, 3] image (R, G, B), got shape {s.shape}")
    out = np.empty(s.shape[:2], dtype=s.dtype)
    for dy, dx, ch in cfa_sites(pattern):
        out[dy::2, dx::2] = s[dy::2, dx::2, ch]
    return out


def demosaic_bilinear(raw_hw: np.ndarray, pattern: str = "RGGB", black_level_dn: float = 0.0) -> np.ndarray:
    """Bilinear demosaic of a Bayer mosaic.

    raw_hw: [H, W] digital numbers (DN), e.g. ``SensorResult.raw_dn``; black_level_dn is subtracted first.
    Returns float32 [H, W, 3] (R, G, B) in DN above black. At each pixel the channel its filter passes is
    kept; the other two are the mean of the nearest samples of that colour (the 2 or 4 neighbours for
    G and for R/B on the same row/column, the 4 diagonal neighbours for R at B sites and B at R sites).
    At the frame edges the average runs over the neighbours that exist (normalised convolution).
    Error: for a smooth field the interpolation error is about (1/2) x curvature x (1 px)^2.
    """
    raw = np.asarray(raw_hw)
    if raw.ndim != 2:
        raise ValueError(f"demosaic needs a [H, W] mosaic, got shape {raw.shape}")
    h, w = raw.shape
    data = raw.astype(np.float32) - np.float32(black_level_dn)
    chan = cfa_channel_map((h, w), pattern)
    out = np.empty((h, w, 3), dtype=np.float32)
    for ch in range(3):
        mask = (chan == ch).astype(np.float32)
        kernel = (_KERNEL_G if ch == 1 else _KERNEL_RB).astype(np.float32)
        num = ndimage.correlate(data * mask, kernel, mode="constant", cval=0.0)
        den = ndimage.correlate(mask, kernel, mode="constant", cval=0.0)
        plane = num / np.maximum(den, np.float32(1e-12))
        # keep the measured samples exactly (the kernel's centre weight is 1 there, but keep it bit-exact)
        np.copyto(plane, data, where=mask.astype(bool))
        out[..., ch] = plane
    return out
