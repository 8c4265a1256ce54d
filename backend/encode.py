"""Write rendered images: linear Rec.2020 tensors -> sRGB JPEG, PNG or TIFF files (atomic writes).

Colour: linear Rec.2020 -> linear sRGB with :data:`backend.render.color.REC2020_TO_SRGB`, hard clip to
[0, 1] (out-of-gamut colours are clipped per channel, no gamut mapping), sRGB transfer function, then
quantised with rounding. JPEGs use 4:4:4 chroma at quality >= 90 (4:2:0 below). Every file embeds an sRGB ICC profile (v2, matrix/TRC, built by
:func:`backend.decode.icc.srgb_icc_profile`): TIFF through tag 34675, PNG as an ``iCCP`` chunk right
after IHDR, JPEG as an ``ICC_PROFILE`` APP2 segment after the JFIF header. No EXIF is written: pixels are
upright, so no orientation tag is needed.

Writes are atomic: the encoded file goes to a hidden temporary file in the target folder, is fsync'ed,
and replaces the target with :func:`os.replace`; on failure the temporary file is removed and the
target is untouched.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import tifffile
import torch

from backend.decode.icc import srgb_icc_profile
from backend.errors import NotFoundError, PermissionDeniedError, UnsupportedFormatError
from backend.fsio import write_bytes_atomic
from backend.render.color import REC2020_TO_SRGB

__all__ = ["srgb_planes", "to_srgb8", "write_image"]

_FORMATS: dict[str, tuple[str, tuple[int, ...], int]] = {
    # extension -> (format, allowed bit depths, default bit depth)
    ".jpg": ("jpeg", (8,), 8),
    ".jpeg": ("jpeg", (8,), 8),
    ".png": ("png", (8, 16), 8),
    ".tif": ("tiff", (8, 16), 16),
    ".tiff": ("tiff", (8, 16), 16),
}


#: JPEG quality from which chroma is kept at full resolution (4:4:4) instead of 4:2:0.
_FULL_CHROMA_QUALITY = 90


@functools.lru_cache(maxsize=1)
def _icc() -> bytes:
    return srgb_icc_profile()


def _as_planes(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(1, 3, H, W)`` or ``(3, H, W)`` -> contiguous float32 numpy ``(3, H, W)``."""
    if isinstance(image, torch.Tensor):
        array = image.detach().to(device="cpu", dtype=torch.float32).numpy()
    else:
        array = np.asarray(image, dtype=np.float32)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[0] != 3:
        raise ValueError(f"image must have shape (1, 3, H, W) or (3, H, W), got {tuple(array.shape)}")
    return np.ascontiguousarray(array)


def srgb_planes(image: torch.Tensor | np.ndarray, levels: int) -> list[np.ndarray]:
    """Linear Rec.2020 -> quantised sRGB planes.

    Args:
        image: ``(1, 3, H, W)`` or ``(3, H, W)`` linear Rec.2020 (any float dtype, any device).
        levels: 255 (uint8 output) or 65535 (uint16 output).

    Returns:
        ``[R, G, B]`` planes ``(H, W)`` of dtype uint8 or uint16.
    """
    src = _as_planes(image)
    m = REC2020_TO_SRGB
    dtype = np.uint8 if levels == 255 else np.uint16
    out = []
    for c in range(3):
        lin = np.multiply(src[0], np.float32(m[c, 0]))
        cv2.scaleAdd(src[1], float(m[c, 1]), lin, dst=lin)
        cv2.scaleAdd(src[2], float(m[c, 2]), lin, dst=lin)
        np.fmax(lin, np.float32(0.0), out=lin)  # fmax/fmin also turn NaN into 0 and clip infinities
        np.fmin(lin, np.float32(1.0), out=lin)
        dark = lin <= 0.0031308
        dark_values = lin[dark] * np.float32(12.92)
        enc = cv2.pow(lin, 1.0 / 2.4)
        enc *= np.float32(1.055)
        enc -= np.float32(0.055)
        enc[dark] = dark_values
        enc *= np.float32(levels)
        enc += np.float32(0.5)
        out.append(enc.astype(dtype))
    return out


def to_srgb8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """Linear Rec.2020 image -> 8-bit sRGB for contact sheets and previews.

    Args:
        image: ``(1, 3, H, W)`` or ``(3, H, W)`` linear Rec.2020.

    Returns:
        ``(H, W, 3)`` uint8 array in R, G, B order (clipped to the sRGB gamut).
    """
    return cv2.merge(srgb_planes(image, 255))


def _insert_jpeg_icc(jpeg: bytes, icc: bytes) -> bytes:
    payload = b"ICC_PROFILE\0\x01\x01" + icc
    segment = b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload
    pos = 2
    if jpeg[2:4] == b"\xff\xe0":  # keep JFIF APP0 first
        pos = 4 + struct.unpack_from(">H", jpeg, 4)[0]
    return jpeg[:pos] + segment + jpeg[pos:]


def _insert_png_icc(png: bytes, icc: bytes) -> bytes:
    body = b"sRGB IEC61966-2.1\0\0" + zlib.compress(icc)
    chunk = struct.pack(">I", len(body)) + b"iCCP" + body + struct.pack(">I", zlib.crc32(b"iCCP" + body))
    ihdr_end = 8 + 8 + 13 + 4
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def _encode(fmt: str, planes: list[np.ndarray], quality: int) -> bytes:
    if fmt == "tiff":
        buf = io.BytesIO()
        tifffile.imwrite(buf, cv2.merge(planes), photometric="rgb", iccprofile=_icc(), metadata=None)
        return buf.getvalue()
    bgr = cv2.merge(planes[::-1])
    if fmt == "jpeg":
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        if quality >= _FULL_CHROMA_QUALITY:  # no chroma subsampling, as editors do at high quality
            params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
        ok, encoded = cv2.imencode(".jpg", bgr, params)
        if not ok:
            raise ValueError("JPEG encoding failed")
        return _insert_jpeg_icc(encoded.tobytes(), _icc())
    ok, encoded = cv2.imencode(".png", bgr)
    if not ok:
        raise ValueError("PNG encoding failed")
    return _insert_png_icc(encoded.tobytes(), _icc())


def _write_atomic(path: Path, data: bytes) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise NotFoundError(f"{folder}: no such folder")
    try:
        write_bytes_atomic(path, data)  # a plain new file's permissions
    except PermissionError as exc:
        raise PermissionDeniedError(f"{folder}: permission denied") from exc


def write_image(
    path: str | Path, image: torch.Tensor | np.ndarray, *, bit_depth: int | None = None, quality: int = 95
) -> None:
    """Write a linear Rec.2020 image as an sRGB file, chosen by extension, atomically.

    Args:
        path: target file: ``.jpg``/``.jpeg`` (8-bit), ``.png`` (8 or 16-bit, default 8) or ``.tif``/``.tiff``
            (8 or 16-bit, default 16). An existing file is replaced.
        image: ``(1, 3, H, W)`` or ``(3, H, W)`` linear Rec.2020 (clipped to the sRGB gamut on output).
        bit_depth: bits per channel, ``None`` for the format's default.
        quality: JPEG quality 1..100.

    Raises:
        UnsupportedFormatError: unknown extension, or a bit depth the format does not offer.
        NotFoundError: the target folder does not exist.
        PermissionDeniedError: the folder is not writable.
        ValueError: ``image`` has the wrong shape, or ``quality`` is outside 1..100.
    """
    target = Path(path)
    ext = target.suffix.lower()
    if ext not in _FORMATS:
        raise UnsupportedFormatError(target, f"cannot write {ext or 'files without extension'}; use .jpg, .png or .tif")
    fmt, depths, default = _FORMATS[ext]
    depth = default if bit_depth is None else int(bit_depth)
    if depth not in depths:
        raise UnsupportedFormatError(target, f"{fmt.upper()} cannot be written with {depth} bits per channel")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    planes = srgb_planes(image, 255 if depth == 8 else 65535)
    _write_atomic(target, _encode(fmt, planes, quality))
