"""Photo decoding: camera raws (rawpy), TIFF (tifffile), JPEG and PNG (OpenCV), EXIF (exifread).

Every decoder returns a :class:`DecodedImage` whose ``image`` is ``(1, 3, H, W)`` float32 **linear
Rec.2020 (D65)**, upright. See :mod:`backend.decode.api` for the checks made before decoding (pixel limit,
truncation) and :mod:`backend.decode.raw`, :mod:`backend.decode.raster` for the colour handling.
"""

from __future__ import annotations

from backend.decode import types
from backend.decode.api import decode_bytes, decode_image, decode_preview, read_exif
from backend.decode.sniff import sniff_kind
from backend.decode.types import *  # noqa: F403  (the result types and limits, as types.__all__ lists them)

__all__ = ["decode_bytes", "decode_image", "decode_preview", "read_exif", "sniff_kind"]
__all__ += types.__all__
