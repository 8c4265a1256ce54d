"""Write rendered images: linear Rec.2020 tensors -> sRGB JPEG, PNG or TIFF files (atomic writes).

Colour: linear Rec.2020 -> linear sRGB with :data:`backend.render.color.REC2020_TO_SRGB`, hard clip to
[0, 1] (out-of-gamut colours are clipped per channel, no gamut mapping), sRGB transfer function, then
quantised with rounding. JPEGs use 4:4:4 chroma at quality >= 90 (4:2:0 below). Every file embeds an sRGB ICC profile (v2, matrix/TRC, built by
:func:`backend.decode.icc.srgb_icc_profile`): TIFF through tag 34675, PNG as an ``iCCP`` chunk right
after IHDR, JPEG as an ``ICC_PROFILE`` APP2 segment after the JFIF header.

Every file is marked as autoretouch's own (:data:`SOFTWARE`, ``"autoretouch <version>"``): the TIFF ``Software``
tag (305), a PNG ``tEXt`` chunk with the keyword ``Software``, and in a JPEG a minimal EXIF APP1 segment whose IFD0
holds that one ``Software`` tag. :func:`written_by_autoretouch` reads the mark back, so that ``render`` replaces its
own earlier outputs but no other file. No other metadata is written (no camera, date, copyright or GPS; pixels are
upright, so no orientation tag is needed).

Writes are atomic: the encoded file goes to a hidden temporary file in the target folder, is fsync'ed,
and replaces the target with :func:`os.replace`; on failure the temporary file is removed and the
target is untouched.
"""

from __future__ import annotations

import contextlib
import functools
import io
import mmap
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import tifffile
import torch

from backend import __version__
from backend.decode.icc import srgb_icc_profile
from backend.decode.tiffdir import read_directories
from backend.errors import (
    ImageTooLargeError,
    NotFoundError,
    OutputExistsError,
    PermissionDeniedError,
    UnsupportedFormatError,
)
from backend.fsio import write_bytes_atomic
from backend.render.color import REC2020_TO_SRGB

__all__ = ["SOFTWARE", "max_side", "srgb_planes", "to_srgb8", "write_image", "written_by_autoretouch"]

#: The mark every written file carries as its "Software" (see the module docstring).
SOFTWARE = f"autoretouch {__version__}"
#: What a "Software" value of one of our files starts with (any version).
_MARK = b"autoretouch "
#: TIFF/EXIF tag "Software".
_TAG_SOFTWARE = 305

_FORMATS: dict[str, tuple[str, tuple[int, ...], int]] = {
    # extension -> (format, allowed bit depths, default bit depth)
    ".jpg": ("jpeg", (8,), 8),
    ".jpeg": ("jpeg", (8,), 8),
    ".png": ("png", (8, 16), 8),
    ".tif": ("tiff", (8, 16), 16),
    ".tiff": ("tiff", (8, 16), 16),
}

#: Largest width or height (pixels) each format holds, as our encoders write it: JPEG's 16-bit frame size less
#: libjpeg's margin (OpenCV refuses more than 65,500), libpng's default user limit of 1,000,000 a side (OpenCV
#: keeps it), TIFF's 32-bit image width and length (tifffile switches to BigTIFF past 4 GiB by itself).
_MAX_SIDE: dict[str, int] = {"jpeg": 65_500, "png": 1_000_000, "tiff": 2**32 - 1}

#: JPEG quality from which chroma is kept at full resolution (4:4:4) instead of 4:2:0.
_FULL_CHROMA_QUALITY = 90


@functools.lru_cache(maxsize=1)
def _icc() -> bytes:
    return srgb_icc_profile()


def max_side(path: str | Path) -> int:
    """The largest width or height, in pixels, that the format chosen by ``path``'s extension can hold.

    Args:
        path: an output file name (``.jpg``/``.jpeg``: 65,500; ``.png``: 1,000,000; ``.tif``/``.tiff``: 2**32 - 1).

    Raises:
        UnsupportedFormatError: an extension :func:`write_image` does not write.
    """
    ext = Path(path).suffix.lower()
    if ext not in _FORMATS:
        raise UnsupportedFormatError(path, f"cannot write {ext or 'files without extension'}; use .jpg, .png or .tif")
    return _MAX_SIDE[_FORMATS[ext][0]]


def _check_size(target: Path, fmt: str, width: int, height: int) -> None:
    limit = _MAX_SIDE[fmt]
    if max(width, height) > limit:
        reason = f"{width}x{height} pixels is too large for {fmt.upper()} (at most {limit:,} pixels a side)"
        raise ImageTooLargeError(target, reason)


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


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _insert_png_software(png: bytes) -> bytes:
    """Add a ``tEXt`` chunk ``Software`` = :data:`SOFTWARE` right after IHDR (before the image data)."""
    ihdr_end = 8 + 8 + 13 + 4
    return png[:ihdr_end] + _png_chunk(b"tEXt", b"Software\0" + SOFTWARE.encode("latin-1")) + png[ihdr_end:]


def _insert_jpeg_software(jpeg: bytes) -> bytes:
    """Add an EXIF APP1 segment (big-endian TIFF, IFD0 with the one tag ``Software``) after the JFIF header."""
    text = SOFTWARE.encode("ascii") + b"\0"
    value_at = 8 + 2 + 12 + 4  # after the TIFF header, the entry count, the one entry and the next-IFD pointer
    ifd = struct.pack(">H", 1) + struct.pack(">HHII", _TAG_SOFTWARE, 2, len(text), value_at) + struct.pack(">I", 0)
    payload = b"Exif\0\0" + b"MM\0\x2a" + struct.pack(">I", 8) + ifd + text
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    pos = 2
    if jpeg[2:4] == b"\xff\xe0":  # keep JFIF APP0 first
        pos = 4 + struct.unpack_from(">H", jpeg, 4)[0]
    return jpeg[:pos] + segment + jpeg[pos:]


def _encode(fmt: str, planes: list[np.ndarray], quality: int) -> bytes:
    if fmt == "tiff":
        buf = io.BytesIO()
        tifffile.imwrite(buf, cv2.merge(planes), photometric="rgb", iccprofile=_icc(), metadata=None, software=SOFTWARE)
        return buf.getvalue()
    bgr = cv2.merge(planes[::-1])
    if fmt == "jpeg":
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        if quality >= _FULL_CHROMA_QUALITY:  # no chroma subsampling, as editors do at high quality
            params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
        ok, encoded = cv2.imencode(".jpg", bgr, params)
        if not ok:
            raise ValueError("JPEG encoding failed")
        return _insert_jpeg_software(_insert_jpeg_icc(encoded.tobytes(), _icc()))
    ok, encoded = cv2.imencode(".png", bgr)
    if not ok:
        raise ValueError("PNG encoding failed")
    return _insert_png_icc(_insert_png_software(encoded.tobytes()), _icc())


def _write_atomic(path: Path, data: bytes) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise NotFoundError(f"{folder}: no such folder")
    try:
        write_bytes_atomic(path, data)  # a plain new file's permissions
    except PermissionError as exc:
        raise PermissionDeniedError(f"{folder}: permission denied") from exc
    except IsADirectoryError as exc:  # the temporary file is gone, the folder untouched
        raise OutputExistsError(path, "is a folder; choose another output name or folder") from exc


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
        ImageTooLargeError: the image is wider or taller than the format holds (:func:`max_side`); checked before
            encoding, nothing is written.
        NotFoundError: the target folder does not exist.
        PermissionDeniedError: the folder is not writable.
        OutputExistsError: ``path`` is a folder.
        ValueError: ``image`` has the wrong shape, or ``quality`` is outside 1..100.
    """
    target = Path(path)
    max_side(target)  # a known extension
    fmt, depths, default = _FORMATS[target.suffix.lower()]
    depth = default if bit_depth is None else int(bit_depth)
    if depth not in depths:
        raise UnsupportedFormatError(target, f"{fmt.upper()} cannot be written with {depth} bits per channel")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    _check_size(target, fmt, int(image.shape[-1]), int(image.shape[-2]))
    planes = srgb_planes(image, 255 if depth == 8 else 65535)
    _write_atomic(target, _encode(fmt, planes, quality))


def _tiff_software(tiff: bytes | mmap.mmap) -> bytes | None:
    """The ``Software`` value of a TIFF structure's IFD0 (``None`` when absent or unreadable)."""
    directories = read_directories(tiff)
    value = directories[0].first(_TAG_SOFTWARE) if directories else None
    return value.encode("latin-1") if isinstance(value, str) else None


def _jpeg_software(data: mmap.mmap) -> bytes | None:
    """The EXIF ``Software`` of a JPEG (the first EXIF APP1 segment before the image data), or ``None``."""
    pos, n = 2, len(data)
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if marker == 0xDA or length < 2:  # start of scan: no more header segments
            return None
        segment = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\0\0"):
            return _tiff_software(segment[6:])
        pos += 2 + length
    return None


def _png_software(data: mmap.mmap) -> bytes | None:
    """The text of a PNG's ``tEXt`` chunk with the keyword ``Software`` (chunks before the image data), or ``None``."""
    pos, n = 8, len(data)
    while pos + 8 <= n:
        length, ctype = struct.unpack_from(">I4s", data, pos)
        if ctype in (b"IDAT", b"IEND"):
            return None
        body = data[pos + 8 : pos + 8 + length]
        if ctype == b"tEXt" and body.startswith(b"Software\0"):
            return body[len(b"Software\0") :]
        pos += 12 + length
    return None


def written_by_autoretouch(path: str | Path) -> bool:
    """Whether ``path`` is an image file that :func:`write_image` wrote (it carries the :data:`SOFTWARE` mark).

    The format is told by the file's first bytes, not its extension; only headers are read. A file another
    program saved again usually loses the mark (editors write their own ``Software``).

    Args:
        path: an existing file (a folder, a pipe, an empty or unreadable file, or another format: ``False``).

    Returns:
        ``True`` when its TIFF ``Software`` tag, PNG ``tEXt`` ``Software`` or JPEG EXIF ``Software`` starts with
        ``"autoretouch "``.
    """
    if not os.path.isfile(path):  # a folder, a missing path, a pipe or device (opening one could block)
        return False
    software: bytes | None = None
    with (
        contextlib.suppress(OSError, ValueError, struct.error),  # unreadable, empty (no map), damaged
        open(path, "rb") as fh,
        mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data,
    ):
        head = data[:8]
        if head.startswith(b"\xff\xd8"):
            software = _jpeg_software(data)
        elif head == b"\x89PNG\r\n\x1a\n":
            software = _png_software(data)
        elif head[:4] in (b"II*\0", b"MM\0*"):
            software = _tiff_software(data)
    return software is not None and software.startswith(_MARK)
