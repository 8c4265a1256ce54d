"""Read an X Window Dump (XWD) screen image, as Xvfb keeps its screen with ``-fbdir``, into an RGB array.

The format (X11 ``XWDFileHeader``): 25 big-endian 32-bit header fields, the window name (up to the header size),
``ncolors`` 12-byte colour entries, then ``height`` rows of ``bytes_per_line`` bytes. Only true-colour
Z-pixmaps of 24 or 32 bits per pixel are read (what Xvfb writes at depth 24).
"""

from __future__ import annotations

import struct

import numpy as np

__all__ = ["read_xwd"]

_FIELDS = [
    "header_size",
    "file_version",
    "pixmap_format",
    "pixmap_depth",
    "width",
    "height",
    "xoffset",
    "byte_order",
    "bitmap_unit",
    "bitmap_bit_order",
    "bitmap_pad",
    "bits_per_pixel",
    "bytes_per_line",
    "visual_class",
    "red_mask",
    "green_mask",
    "blue_mask",
    "bits_per_rgb",
    "colormap_entries",
    "ncolors",
    "window_width",
    "window_height",
    "window_x",
    "window_y",
    "window_border",
]


def _channel(pixels: np.ndarray, mask: int) -> np.ndarray:
    shift = (mask & -mask).bit_length() - 1
    return ((pixels & mask) >> shift).astype(np.uint8)


def read_xwd(data: bytes) -> np.ndarray:
    """``(height, width, 3)`` uint8 RGB of an XWD file's bytes.

    Raises:
        ValueError: not a version-7 true-colour Z-pixmap of 24 or 32 bits per pixel, or truncated.
    """
    if len(data) < 100:
        raise ValueError("not an XWD file: shorter than its header")
    h = dict(zip(_FIELDS, struct.unpack(">25I", data[:100]), strict=True))
    if h["file_version"] != 7 or h["pixmap_format"] != 2 or h["bits_per_pixel"] not in (24, 32):
        raise ValueError(
            f"unsupported XWD: version {h['file_version']}, format {h['pixmap_format']}, "
            f"{h['bits_per_pixel']} bits per pixel"
        )
    start = h["header_size"] + 12 * h["ncolors"]
    size = h["height"] * h["bytes_per_line"]
    if len(data) < start + size:
        raise ValueError("truncated XWD file")
    rows = np.frombuffer(data, dtype=np.uint8, count=size, offset=start).reshape(h["height"], h["bytes_per_line"])
    step = h["bits_per_pixel"] // 8
    raw = rows[:, : h["width"] * step].reshape(h["height"], h["width"], step).astype(np.uint32)
    order = range(step) if h["byte_order"] == 0 else range(step - 1, -1, -1)  # 0: least significant byte first
    pixels = sum((raw[:, :, i] << (8 * k) for k, i in enumerate(order)), np.zeros_like(raw[:, :, 0]))
    return np.stack([_channel(pixels, h[m]) for m in ("red_mask", "green_mask", "blue_mask")], axis=-1)
