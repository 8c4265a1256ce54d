"""Pixel conversions shared by the decoders: orientation, resizing, linearisation to Rec.2020.

Big images are converted plane by plane with OpenCV (look-up tables for 8/16-bit codes, weighted sums
for the 3x3 matrix), which is several times faster than the same work in torch on a 2-core CPU; the
result is handed over as a torch tensor without a copy.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch

from backend.decode.icc import Trc

__all__ = [
    "apply_orientation",
    "linear_rec2020_tensor",
    "oriented_size",
    "preview_size",
    "resize_to",
    "scaled_rgb_tensor",
]

_ROTATIONS = {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_CLOCKWISE, 8: cv2.ROTATE_90_COUNTERCLOCKWISE}


def oriented_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """``(width, height)`` after applying EXIF ``orientation`` (5..8 swap the axes)."""
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn a stored image upright.

    Args:
        pixels: ``(H, W)`` or ``(H, W, C)`` array as stored in the file.
        orientation: EXIF orientation 1..8 (other values are treated as 1). 2 = mirrored left-right,
            3 = rotated 180°, 4 = mirrored top-bottom, 5 = transposed, 6 = must be turned 90° clockwise,
            7 = transverse, 8 = must be turned 90° counter-clockwise.

    Returns:
        The upright array (a new array unless ``orientation`` is 1).
    """
    if orientation in _ROTATIONS:
        return cv2.rotate(pixels, _ROTATIONS[orientation])
    if orientation == 2:
        return cv2.flip(pixels, 1)
    if orientation == 4:
        return cv2.flip(pixels, 0)
    if orientation == 5:
        return cv2.transpose(pixels)
    if orientation == 7:
        return cv2.flip(cv2.transpose(pixels), -1)
    return pixels


def preview_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Size whose long side is ``min(long_side, max(width, height))``, aspect ratio kept (rounded, >= 1)."""
    long_now = max(width, height)
    if long_now <= long_side:
        return width, height
    scale = long_side / long_now
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_to(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``size = (width, height)``: area averaging when shrinking, bilinear when enlarging."""
    h, w = pixels.shape[:2]
    if (w, h) == size:
        return pixels
    interp = cv2.INTER_AREA if size[0] <= w and size[1] <= h else cv2.INTER_LINEAR
    return cv2.resize(pixels, size, interpolation=interp)


@functools.lru_cache(maxsize=16)
def _lut(trc: Trc, levels: int) -> np.ndarray:
    codes = np.arange(levels, dtype=np.float64) / (levels - 1)
    return trc.evaluate(codes).astype(np.float32)


def _linearise_plane(plane: np.ndarray, trc: Trc) -> np.ndarray:
    if plane.dtype == np.uint8:
        return cv2.LUT(plane, _lut(trc, 256))
    if plane.dtype == np.uint16:
        return np.take(_lut(trc, 65536), plane)
    values = plane.astype(np.float32, copy=False)
    if trc.kind == "gamma" and trc.gamma == 1.0:
        return values
    return trc.evaluate(values).astype(np.float32)


def linear_rec2020_tensor(planes: list[np.ndarray], trcs: tuple[Trc, ...], to_rec2020: np.ndarray) -> torch.Tensor:
    """Linearise encoded R, G, B planes and convert them to linear Rec.2020.

    Args:
        planes: three ``(H, W)`` arrays (R, G, B) or one (grey), uint8, uint16 (codes scaled to [0, 1]) or
            float (used as is).
        trcs: one curve per plane (a single curve is used for all planes).
        to_rec2020: ``(3, 3)`` matrix, linear source RGB -> linear Rec.2020 (ignored for grey).

    Returns:
        ``(1, 3, H, W)`` float32 tensor, linear Rec.2020, not clamped.
    """
    curves = trcs if len(trcs) == len(planes) else (trcs[0],) * len(planes)
    h, w = planes[0].shape
    out = np.empty((3, h, w), dtype=np.float32)
    m = np.asarray(to_rec2020, dtype=np.float64)
    linear_curves = all(c.kind == "gamma" and c.gamma == 1.0 for c in curves)
    if len(planes) == 3 and linear_curves and np.allclose(m, np.diag(np.diag(m)), atol=1e-12):
        # scene-linear data (linear float or 16-bit TIFF): one scaling pass per plane
        for c, plane in enumerate(planes):
            code_max = np.iinfo(plane.dtype).max if plane.dtype.kind == "u" else 1
            np.multiply(plane, np.float32(m[c, c] / code_max), out=out[c])
        return torch.from_numpy(out)[None]
    linear = [_linearise_plane(p, c) for p, c in zip(planes, curves, strict=True)]
    if len(linear) == 1:
        out[:] = linear[0]
        return torch.from_numpy(out)[None]
    if np.allclose(m, np.diag(np.diag(m)), atol=1e-12):
        for c in range(3):
            np.multiply(linear[c], np.float32(m[c, c]), out=out[c])
        return torch.from_numpy(out)[None]
    r, g, b = linear
    for c in range(3):  # (cv2.addWeighted is several times slower than this on float32)
        np.multiply(r, np.float32(m[c, 0]), out=out[c])
        cv2.scaleAdd(g, float(m[c, 1]), out[c], dst=out[c])
        cv2.scaleAdd(b, float(m[c, 2]), out[c], dst=out[c])
    return torch.from_numpy(out)[None]


def scaled_rgb_tensor(pixels: np.ndarray, scale: float) -> torch.Tensor:
    """Interleaved scene-linear ``(H, W, 3)`` RGB (e.g. LibRaw's uint16 output) times ``scale`` as a tensor.

    Args:
        pixels: ``(H, W, 3)`` array (any real dtype).
        scale: factor, e.g. ``1 / 65535``.

    Returns:
        ``(1, 3, H, W)`` float32 tensor (one strided pass per channel, no intermediate split).
    """
    h, w = pixels.shape[:2]
    out = np.empty((3, h, w), dtype=np.float32)
    for c in range(3):
        np.multiply(pixels[:, :, c], np.float32(scale), out=out[c])
    return torch.from_numpy(out)[None]
