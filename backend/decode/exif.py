"""Shooting metadata through exifread (JPEG APP1, TIFF/TIFF-based raw IFDs, PNG eXIf).

Reading EXIF is best effort: a file without EXIF, or with damaged EXIF, yields an :class:`ExifInfo`
with ``None`` fields and orientation 1; it never stops a decode.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import struct
from typing import Any

import exifread

from backend.decode.types import ExifInfo

__all__ = ["ADOBE_RGB", "exif_from_bytes", "merge_exif"]

#: :attr:`ExifInfo.colour_space` of a DCF "option file": Adobe RGB (1998) pixels.
ADOBE_RGB = "Adobe RGB (1998)"
_EXIF_SRGB = 1
_EXIF_UNCALIBRATED = 0xFFFF

_log = logging.getLogger(__name__)

# EXIF tags may sit in the Exif IFD ("EXIF ...") or, as TIFF/EP and DNG allow, in IFD0 ("Image ...").
_PREFIXES = ("EXIF ", "Image ")


def _tag(tags: dict[str, Any], *names: str) -> Any | None:
    for name in names:
        for prefix in _PREFIXES:
            tag = tags.get(prefix + name)
            if tag is not None:
                return tag
    return None


def _positive(value: float | None) -> float | None:
    """Cameras write 0 for "unknown" ISO, shutter, aperture and focal length."""
    return value if value is not None and value > 0 else None


def _number(tags: dict[str, Any], *names: str) -> float | None:
    tag = _tag(tags, *names)
    if tag is None:
        return None
    try:
        values = tag.values
        value = values[0] if isinstance(values, list | tuple) else values
        if hasattr(value, "num") and hasattr(value, "den"):
            return None if value.den == 0 else float(value.num) / float(value.den)
        return float(value)
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None


def _text(tags: dict[str, Any], *names: str) -> str | None:
    tag = _tag(tags, *names)
    if tag is None:
        return None
    values = tag.values
    text = values if isinstance(values, str) else str(tag)
    text = text.replace("\0", "").strip()
    return text or None


def _exif_source(data: bytes) -> bytes | None:
    """The bytes exifread should parse, or ``None`` when the file visibly carries no EXIF.

    exifread reads TIFF structures (TIFF, DNG, NEF, CR2, ARW, ORF, RW2, ...), JPEG APP1 and PNG eXIf; a
    Fujifilm RAF keeps its EXIF in the embedded JPEG, whose offset sits at byte 84 of the header.
    """
    head = data[:4]
    if head[:2] in (b"II", b"MM"):
        return data
    if head[:3] == b"\xff\xd8\xff":
        return data if data.find(b"Exif\0\0", 0, 1 << 18) != -1 else None
    if head == b"\x89PNG":
        return data if data.find(b"eXIf") != -1 else None
    if data.startswith(b"FUJIFILMCCD-RAW") and len(data) >= 92:
        offset, length = struct.unpack_from(">II", data, 84)
        return data[offset : offset + length] if 0 < offset < len(data) else None
    return None


def _colour_space(tags: dict[str, Any]) -> str | None:
    """The colour space the EXIF declares (see :attr:`ExifInfo.colour_space`)."""
    space = _number(tags, "ColorSpace")
    if space == _EXIF_SRGB:
        return "sRGB"
    if space != _EXIF_UNCALIBRATED:
        return None
    index = tags.get("Interoperability InteroperabilityIndex")
    text = str(index).replace("\0", "").strip() if index is not None else ""
    return ADOBE_RGB if text.upper() == "R03" else "uncalibrated"


def exif_from_bytes(data: bytes) -> ExifInfo:
    """Read the shooting metadata of a photo held in memory.

    Args:
        data: the whole file.

    Returns:
        The :class:`ExifInfo` (defaults where a field is missing or unreadable).
    """
    source = _exif_source(data)
    if source is None:
        return ExifInfo()
    try:
        tags = exifread.process_file(io.BytesIO(source), details=False, extract_thumbnail=False)
    except Exception as exc:  # exifread raises assorted errors on damaged metadata; EXIF is optional
        _log.debug("EXIF unreadable: %s", exc)
        return ExifInfo()
    if not tags:
        return ExifInfo()
    orientation = _number(tags, "Orientation")
    return ExifInfo(
        camera_make=_text(tags, "Make"),
        camera_model=_text(tags, "Model"),
        lens=_text(tags, "LensModel"),
        iso=_positive(_number(tags, "ISOSpeedRatings", "PhotographicSensitivity", "ISOSpeed")),
        shutter_s=_positive(_number(tags, "ExposureTime")),
        aperture=_positive(_number(tags, "FNumber")),
        focal_length_mm=_positive(_number(tags, "FocalLength")),
        orientation=int(orientation) if orientation is not None and 1 <= orientation <= 8 else 1,
        exposure_bias_ev=_number(tags, "ExposureBiasValue"),
        datetime_original=_text(tags, "DateTimeOriginal") or _text(tags, "DateTime"),
        colour_space=_colour_space(tags),
    )


def merge_exif(primary: ExifInfo, fallback: ExifInfo, orientation: int) -> ExifInfo:
    """Use ``fallback`` when exifread found nothing at all (e.g. CR3), and set ``orientation``.

    A field exifread left empty is *not* filled from ``fallback``: LibRaw reports placeholders (1 s, f/1)
    where a camera wrote zeros.

    Args:
        primary: metadata read with exifread.
        fallback: metadata from another reader (LibRaw).
        orientation: the orientation the decoder applied.

    Returns:
        The merged :class:`ExifInfo`.
    """
    if primary != ExifInfo():
        return dataclasses.replace(primary, orientation=orientation)
    fields = {
        name: getattr(primary, name) if getattr(primary, name) is not None else getattr(fallback, name)
        for name in ExifInfo.__dataclass_fields__
    }
    fields["orientation"] = orientation
    return ExifInfo(**fields)
