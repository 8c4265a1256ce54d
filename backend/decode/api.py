"""Public entry points: decode a photo file or photo bytes into linear Rec.2020.

Order of checks for every input: existence and size of the file, kind by content (:mod:`sniff`), header
dimensions against ``max_pixels`` (before any pixel buffer exists), structural completeness (truncation),
then the codec. Every failure is one of the typed errors of :mod:`backend.errors` naming the file.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import rawpy
import tifffile

from backend.decode.convert import (
    apply_orientation,
    linear_rec2020_tensor,
    oriented_size,
    preview_size,
    resize_to,
    scaled_rgb_tensor,
)
from backend.decode.exif import exif_from_bytes, merge_exif
from backend.decode.icc import SRGB_TRC
from backend.decode.raster import Raster, decode_jpeg, decode_png, decode_tiff
from backend.decode.raw import decode_raw
from backend.decode.sniff import regular_file_size, sniff_bytes
from backend.decode.types import DEFAULT_MAX_PIXELS, DecodedImage, ExifInfo
from backend.errors import (
    AutoretouchError,
    CorruptImageError,
    DecodeError,
    ImageTooLargeError,
    NotFoundError,
    PermissionDeniedError,
)
from backend.render.color import SRGB_TO_REC2020

__all__ = ["decode_bytes", "decode_image", "decode_preview", "read_exif"]

# Files larger than this many bytes per allowed pixel (plus 64 MiB of metadata) cannot be a photo within
# the limit (float32 RGBA is 16 bytes per pixel) and are refused before being read.
_BYTES_PER_PIXEL_LIMIT = 16
_METADATA_ALLOWANCE = 64 << 20


def _read(path: str | Path, max_pixels: int) -> tuple[Path, bytes]:
    p = Path(path)
    try:
        size = regular_file_size(p)  # a directory, a named pipe or a device is refused before it is opened
        if size == 0:
            raise CorruptImageError(p, "empty file")
        if size > _BYTES_PER_PIXEL_LIMIT * max_pixels + _METADATA_ALLOWANCE:
            raise ImageTooLargeError(p, f"file of {size:,} bytes is larger than any photo within the pixel limit")
        return p, p.read_bytes()
    except FileNotFoundError as exc:
        raise NotFoundError(f"{p}: no such file") from exc
    except PermissionError as exc:
        raise PermissionDeniedError(f"{p}: permission denied") from exc
    except OSError as exc:  # a name too long, an I/O error, a broken network share ...
        raise DecodeError(p, f"cannot read the file ({exc.strerror or exc})") from exc


def _planes(pixels: np.ndarray, bgr: bool = False) -> list[np.ndarray]:
    """R, G, B planes (or the one grey plane) of an ``(H, W, 3)`` / ``(H, W)`` array."""
    if pixels.ndim == 2:
        return [pixels]
    planes = list(cv2.split(pixels))
    return planes[::-1] if bgr else planes


def _decode_raw(
    data: bytes, where: Path | None, path: Path | None, preview: bool, long_side: int, max_pixels: int
) -> DecodedImage:
    result = decode_raw(data, where, preview=preview, long_side=long_side, max_pixels=max_pixels)
    exif = merge_exif(exif_from_bytes(data), result.exif, result.orientation)
    if result.linear:
        image = scaled_rgb_tensor(result.pixels, 1.0 / 65535.0)  # LibRaw wrote linear Rec.2020
    else:
        image = linear_rec2020_tensor(_planes(result.pixels), (SRGB_TRC,), SRGB_TO_REC2020)
    return DecodedImage(
        path=path,
        image=image,
        kind="raw",
        is_raw=True,
        full_width=result.full_width,
        full_height=result.full_height,
        exif=exif,
        as_shot=result.as_shot,
        colour_note=result.colour_note,
    )


def _decode_raster(
    kind: str, data: bytes, where: Path | None, path: Path | None, preview: bool, long_side: int, max_pixels: int
) -> DecodedImage:
    exif: ExifInfo = exif_from_bytes(data)  # its colour space applies when no ICC profile is embedded
    raster: Raster
    if kind == "jpeg":
        pv = long_side if preview else None
        raster = decode_jpeg(data, where, preview_long_side=pv, max_pixels=max_pixels, exif_space=exif.colour_space)
    elif kind == "png":
        raster = decode_png(data, where, max_pixels=max_pixels, exif_space=exif.colour_space)
    else:
        raster = decode_tiff(data, where, max_pixels=max_pixels, exif_space=exif.colour_space)
    orientation = raster.orientation or exif.orientation
    if exif.orientation != orientation:
        exif = dataclasses.replace(exif, orientation=orientation)
    full_w, full_h = oriented_size(raster.stored_width, raster.stored_height, orientation)
    pixels = raster.pixels
    if preview:
        # shrink before orienting/linearising: cheaper, and previews need no more precision
        stored_target = preview_size(raster.stored_width, raster.stored_height, long_side)
        pixels = resize_to(pixels, stored_target)
    pixels = apply_orientation(pixels, orientation)
    image = linear_rec2020_tensor(_planes(pixels, raster.bgr), raster.colour.trcs, raster.colour.to_rec2020)
    return DecodedImage(
        path=path,
        image=image,
        kind=kind,
        is_raw=False,
        full_width=full_w,
        full_height=full_h,
        exif=exif,
        as_shot=None,
        colour_note=raster.colour.note,
    )


def _decode(
    data: bytes, *, path: Path | None, name: str | None, preview: bool, long_side: int, max_pixels: int
) -> DecodedImage:
    where = path if path is not None else (Path(name) if name else None)
    if preview and long_side < 1:
        raise ValueError(f"long_side must be >= 1, got {long_side}")
    kind = sniff_bytes(data, name, where)
    try:
        if kind == "raw":
            return _decode_raw(data, where, path, preview, long_side, max_pixels)
        return _decode_raster(kind, data, where, path, preview, long_side, max_pixels)
    except AutoretouchError:
        raise
    except MemoryError as exc:
        raise ImageTooLargeError(where, "not enough memory to decode this image") from exc
    except (
        cv2.error,
        rawpy.LibRawError,
        tifffile.TiffFileError,
        ValueError,
        IndexError,
        KeyError,
        EOFError,
        struct.error,
        zlib.error,
    ) as exc:
        raise CorruptImageError(where, f"damaged {kind} file ({type(exc).__name__}: {exc})") from exc


def decode_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode a photo file at full resolution.

    Args:
        path: a camera raw, TIFF, JPEG or PNG file (recognised by content).
        max_pixels: refuse images with more pixels than this (checked from the header).

    Returns:
        :class:`DecodedImage` with ``image`` of shape ``(1, 3, H, W)``, float32, linear Rec.2020, upright.

    Raises:
        NotFoundError: missing file.
        PermissionDeniedError: unreadable file.
        UnsupportedFormatError: not a supported photo format, or not a regular file (a FIFO, a device ...).
        CorruptImageError: empty, truncated or damaged file.
        ImageTooLargeError: more than ``max_pixels`` pixels.
    """
    p, data = _read(path, max_pixels)
    return _decode(data, path=p, name=p.name, preview=False, long_side=0, max_pixels=max_pixels)


def decode_preview(path: str | Path, *, long_side: int = 512, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode a small version of a photo quickly.

    The result's long side is ``min(long_side, full long side)`` exactly. JPEGs are decoded from their own
    pixels, reduced in the DCT domain (1/2, 1/4 or 1/8), never from an embedded EXIF thumbnail or MPF
    preview (an editor may have rewritten the pixels and kept the camera's stale thumbnail); raws use the
    embedded camera preview when it is large enough (camera-rendered sRGB; ``colour_note`` says so) or
    LibRaw's half-size mode; TIFF and PNG are decoded and shrunk with area averaging in their encoded values.
    ``full_width``/``full_height`` give the full-resolution size.

    Args:
        path: the photo file.
        long_side: long side of the preview in pixels (>= 1).
        max_pixels: refuse images whose *full* resolution exceeds this.

    Returns:
        :class:`DecodedImage` with a ``(1, 3, h, w)`` image.

    Raises:
        The errors of :func:`decode_image`.
    """
    p, data = _read(path, max_pixels)
    return _decode(data, path=p, name=p.name, preview=True, long_side=long_side, max_pixels=max_pixels)


def decode_bytes(
    data: bytes,
    *,
    name: str,
    preview: bool = False,
    long_side: int = 512,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> DecodedImage:
    """Decode a photo held in memory (e.g. an upload to the daemon).

    Args:
        data: the file content.
        name: the file name (for error messages, and as the raw tie-breaker described in :mod:`sniff`).
        preview: decode a preview as :func:`decode_preview` does.
        long_side: preview long side.
        max_pixels: pixel limit.

    Returns:
        :class:`DecodedImage` with ``path=None``.

    Raises:
        The errors of :func:`decode_image` (they name ``name``).
    """
    if len(data) > _BYTES_PER_PIXEL_LIMIT * max_pixels + _METADATA_ALLOWANCE:
        raise ImageTooLargeError(Path(name), f"{len(data):,} bytes is larger than any photo within the pixel limit")
    return _decode(bytes(data), path=None, name=name, preview=preview, long_side=long_side, max_pixels=max_pixels)


def read_exif(path: str | Path) -> ExifInfo:
    """Shooting metadata of a photo file, read with exifread (best effort: missing fields are ``None``).

    ``orientation`` is the EXIF tag (1 when absent); ``decode_*().exif`` carries the orientation that was
    actually applied, which for raws is LibRaw's and also fills gaps from LibRaw's metadata.

    Raises:
        CorruptImageError: empty file.
        NotFoundError: missing file.
        PermissionDeniedError: unreadable file.
    """
    _, data = _read(path, DEFAULT_MAX_PIXELS)
    return exif_from_bytes(data)
