"""Smaller JPEGs embedded in a JPEG: the EXIF thumbnail (IFD1) and multi-picture (MPF) previews.

Cameras write a ~160 px EXIF thumbnail into every JPEG, and many also a larger "large thumbnail" through
the CIPA multi-picture format (APP2 ``MPF``). Decoding one of those takes a millisecond or two, while even
libjpeg's 1/8 reduction of a 12-MP main image must entropy-decode the whole file (~40 ms here). The preview
path therefore uses the smallest embedded JPEG that is large enough and has the main image's shape.

Only header bytes are read here (bounded TIFF walks, no pixels); anything malformed just yields no
candidate, and the caller falls back to the main image.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ASPECT_TOLERANCE", "EmbeddedJpeg", "embedded_jpegs"]

#: Relative difference of width/height ratios above which an embedded image is not the same picture
#: (e.g. a 160x120 thumbnail with black bars inside a 3:2 photo).
ASPECT_TOLERANCE = 0.02

_MAX_IFD_ENTRIES = 512
_TAG_JPEG_OFFSET = 0x0201
_TAG_JPEG_LENGTH = 0x0202
_TAG_MP_ENTRY = 0xB002
_MP_ENTRY_BYTES = 16


@dataclass(frozen=True)
class EmbeddedJpeg:
    """Where an embedded JPEG lies in the file.

    Attributes:
        source: ``"exif"`` (IFD1 thumbnail) or ``"mpf"`` (multi-picture preview).
        start: byte offset of its SOI marker in the file.
        end: byte offset just past its last byte.
    """

    source: str
    start: int
    end: int


class _Tiff:
    """A bounded view of one TIFF structure (byte order from its header) inside ``data[start:end]``."""

    def __init__(self, data: bytes, start: int, end: int) -> None:
        self.data, self.start, self.end = data, start, min(end, len(data))
        order = data[start : start + 2]
        self.fmt = "<" if order == b"II" else ">" if order == b"MM" else ""

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...] | None:
        """Values at ``offset`` (relative to the TIFF header), or ``None`` when out of bounds."""
        at = self.start + offset
        if offset < 0 or at + struct.calcsize(self.fmt + fmt) > self.end:
            return None
        return struct.unpack_from(self.fmt + fmt, self.data, at)

    def first_ifd(self) -> int | None:
        head = self.unpack("HI", 2) if self.fmt else None
        return head[1] if head and head[0] == 42 else None

    def entries(self, ifd: int) -> Iterator[tuple[int, int, int, int]]:
        """``(tag, type, count, value_or_offset)`` of each entry of the IFD at ``ifd``."""
        count = self.unpack("H", ifd)
        if count is None or count[0] > _MAX_IFD_ENTRIES:
            return
        for i in range(count[0]):
            entry = self.unpack("HHII", ifd + 2 + 12 * i)
            if entry is None:
                return
            tag, ftype, n, value = entry
            if ftype == 3 and n == 1:  # SHORT stored in the first two bytes of the value field
                short = self.unpack("H", ifd + 2 + 12 * i + 8)
                value = short[0] if short else value
            yield tag, ftype, n, value

    def next_ifd(self, ifd: int) -> int | None:
        count = self.unpack("H", ifd)
        nxt = self.unpack("I", ifd + 2 + 12 * count[0]) if count else None
        return nxt[0] if nxt and nxt[0] else None


def _exif_thumbnail(tiff: _Tiff) -> Iterator[EmbeddedJpeg]:
    ifd0 = tiff.first_ifd()
    ifd1 = tiff.next_ifd(ifd0) if ifd0 is not None else None
    if ifd1 is None:
        return
    tags = {tag: value for tag, _, _, value in tiff.entries(ifd1)}
    offset, length = tags.get(_TAG_JPEG_OFFSET), tags.get(_TAG_JPEG_LENGTH)
    if offset and length and tiff.start + offset + length <= tiff.end:
        yield EmbeddedJpeg("exif", tiff.start + offset, tiff.start + offset + length)


def _mpf_images(tiff: _Tiff, file_size: int) -> Iterator[EmbeddedJpeg]:
    ifd = tiff.first_ifd()
    if ifd is None:
        return
    for tag, _, count, value in tiff.entries(ifd):
        if tag != _TAG_MP_ENTRY or count % _MP_ENTRY_BYTES:
            continue
        for k in range(count // _MP_ENTRY_BYTES):
            entry = tiff.unpack("III", value + k * _MP_ENTRY_BYTES)
            if entry is None:
                return
            _, size, offset = entry
            if offset == 0:  # the primary image itself
                continue
            start = tiff.start + offset  # MPF offsets count from the MPF TIFF header
            if size and start + size <= file_size:
                yield EmbeddedJpeg("mpf", start, start + size)


def embedded_jpegs(data: bytes, tiff_headers: tuple[tuple[str, int, int], ...]) -> list[EmbeddedJpeg]:
    """Embedded JPEGs announced by a JPEG's EXIF and MPF segments.

    Args:
        data: the whole file.
        tiff_headers: ``ContainerInfo.tiff_headers`` of the file (see :func:`backend.decode.containers.jpeg_info`).

    Returns:
        Candidates that start with an SOI marker (sizes unknown until their headers are read).
    """
    found: list[EmbeddedJpeg] = []
    for kind, start, end in tiff_headers:
        tiff = _Tiff(data, start, end)
        images = _exif_thumbnail(tiff) if kind == "exif" else _mpf_images(tiff, len(data))
        found.extend(e for e in images if data[e.start : e.start + 3] == b"\xff\xd8\xff")
    return found
