"""Header-level parsing of JPEG and PNG files: size, embedded ICC profile, completeness.

These walks read only marker/chunk headers (no pixel data), so a decompression bomb is measured before
anything is allocated and a truncated file is recognised even where the codec would silently return a
partly grey image.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

__all__ = ["ContainerInfo", "jpeg_info", "png_info"]

_MAX_ICC_BYTES = 4 << 20
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_ICC_JPEG_ID = b"ICC_PROFILE\0"


@dataclass(frozen=True)
class ContainerInfo:
    """What the headers of a JPEG or PNG say.

    Attributes:
        width: stored width in pixels (before orientation); 0 if unknown.
        height: stored height in pixels; 0 if unknown.
        icc: embedded ICC profile bytes, or ``None``.
        srgb_chunk: the PNG carries an ``sRGB`` chunk (always ``False`` for JPEG).
        problem: why the file is damaged (``"truncated: ..."``), or ``None`` when the structure is complete.
    """

    width: int
    height: int
    icc: bytes | None
    srgb_chunk: bool
    problem: str | None


def jpeg_info(data: bytes) -> ContainerInfo:
    """Walk the markers of a JPEG up to the first scan and check that an EOI marker follows it.

    Args:
        data: the whole file, starting with ``FF D8``.

    Returns:
        The :class:`ContainerInfo`; ``problem`` names the first structural defect found.
    """
    width = height = 0
    frame_header = False
    icc_parts: dict[int, bytes] = {}
    pos = 2
    n = len(data)
    while True:
        while pos < n and data[pos] == 0xFF and pos + 1 < n and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 2 > n:
            return ContainerInfo(width, height, None, False, "truncated: file ends inside the JPEG header")
        if data[pos] != 0xFF:
            return ContainerInfo(width, height, None, False, f"corrupt JPEG marker at byte {pos}")
        marker = data[pos + 1]
        pos += 2
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            continue
        if marker == 0xD9:
            return ContainerInfo(width, height, None, False, "JPEG ends before any image data")
        if pos + 2 > n:
            return ContainerInfo(width, height, None, False, "truncated: file ends inside the JPEG header")
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2 or pos + length > n:
            return ContainerInfo(width, height, None, False, "truncated: file ends inside the JPEG header")
        segment = data[pos + 2 : pos + length]
        if marker in _SOF_MARKERS and len(segment) >= 6:
            height, width = struct.unpack_from(">HH", segment, 1)
            frame_header = True
        elif marker == 0xE2 and segment.startswith(_ICC_JPEG_ID) and len(segment) > 14:
            icc_parts[segment[12]] = segment[14:]
        elif marker == 0xDA:
            if not frame_header:
                return ContainerInfo(width, height, None, False, "JPEG without frame size (no SOF before the scan)")
            if width == 0 or height == 0:  # a height of 0 defers it to a DNL marker, which libjpeg does not read
                zero = f"JPEG frame header (SOF) gives a zero size ({width}x{height} pixels)"
                return ContainerInfo(width, height, None, False, zero)
            icc = b"".join(icc_parts[k] for k in sorted(icc_parts)) if icc_parts else None
            # Entropy-coded data cannot contain FF D9 (FF is stuffed), so an EOI after the first scan
            # exists exactly when the file was not cut off (an EXIF thumbnail's EOI lies before the scan).
            problem = None if data.rfind(b"\xff\xd9", pos) != -1 else "truncated: JPEG image data ends early (no EOI)"
            return ContainerInfo(width, height, icc, False, problem)
        pos += length


def png_info(data: bytes) -> ContainerInfo:
    """Walk the chunks of a PNG to IEND.

    Args:
        data: the whole file, starting with the 8-byte PNG signature.

    Returns:
        The :class:`ContainerInfo`; ``problem`` is set when IHDR is missing or the chunks stop before IEND.
    """
    n = len(data)
    if n < 33 or data[12:16] != b"IHDR":
        return ContainerInfo(0, 0, None, False, "truncated: PNG without a complete IHDR chunk")
    width, height = struct.unpack_from(">II", data, 16)
    icc: bytes | None = None
    srgb = False
    pos = 8
    while pos + 8 <= n:
        length, ctype = struct.unpack_from(">I4s", data, pos)
        body_start = pos + 8
        if body_start + length + 4 > n:
            return ContainerInfo(
                width, height, icc, srgb, f"truncated: PNG chunk {ctype!r} runs past the end of the file"
            )
        if ctype == b"IEND":
            return ContainerInfo(width, height, icc, srgb, None)
        if ctype == b"sRGB":
            srgb = True
        elif ctype == b"iCCP":
            icc = _inflate_iccp(data[body_start : body_start + length])
        pos = body_start + length + 4
    return ContainerInfo(width, height, icc, srgb, "truncated: PNG ends before its IEND chunk")


def _inflate_iccp(body: bytes) -> bytes | None:
    """Decompress an ``iCCP`` chunk body (name, NUL, method 0, zlib stream), bounded in size."""
    sep = body.find(b"\0")
    if sep < 0 or sep + 2 > len(body) or body[sep + 1] != 0:
        return None
    try:
        inflater = zlib.decompressobj()
        out = inflater.decompress(body[sep + 2 :], _MAX_ICC_BYTES)
    except zlib.error:
        return None
    return out or None
