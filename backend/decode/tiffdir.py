"""A minimal, bounds-checked TIFF directory reader (classic TIFF, both byte orders).

Used to tell TIFF-structured raws (DNG, NEF, ARW, PEF, ...) from plain TIFFs, to check that a file's
image data lies inside the file (truncation), and to read DNG colour tags that LibRaw does not expose.
It never reads pixel data and never raises on malformed input: damaged directories end the walk.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field

from tifffile import DATATYPE, TIFF

__all__ = ["ByteSource", "TiffDirectory", "data_end", "read_directories"]

#: Whole-file content: bytes, or a read-only memory map of the file.
ByteSource = bytes | mmap.mmap

# TIFF field type (:class:`tifffile.DATATYPE`) -> (struct code, size in bytes), e.g. SHORT -> ("H", 2) and RATIONAL ->
# ("II", 8), numerator then denominator: tifffile's table of struct formats ("1H", "2I"), classic TIFF's types BYTE
# (1) .. IFD (13) only (16..18 are BigTIFF's 8-byte integers; an entry of another type is passed over).
_TYPES: dict[int, tuple[str, int]] = {
    ftype: (fmt[-1] * int(fmt[:-1]), struct.calcsize(f"<{fmt}"))
    for ftype, fmt in TIFF.DATA_FORMATS.items()
    if DATATYPE.BYTE <= ftype <= DATATYPE.IFD
}
_MAX_ENTRIES = 1024
_MAX_DIRECTORIES = 64
_MAX_VALUES = 1 << 16

TAG_SUBIFDS = 330
TAG_EXIF_IFD = 34665


@dataclass
class TiffDirectory:
    """One image file directory.

    Attributes:
        tags: tag code -> tuple of values (numbers, or one ``str`` for ASCII, ``bytes`` for UNDEFINED).
        children: SubIFDs (tag 330) and the Exif IFD found below this directory.
    """

    tags: dict[int, tuple[float | int | str | bytes, ...]] = field(default_factory=dict)
    children: list[TiffDirectory] = field(default_factory=list)

    def first(self, code: int) -> float | int | str | bytes | None:
        """First value of ``code``, or ``None`` when absent."""
        values = self.tags.get(code)
        return values[0] if values else None

    def walk(self) -> list[TiffDirectory]:
        """This directory followed by all its descendants (depth first)."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


def _read_values(
    data: ByteSource, order: str, ftype: int, count: int, at: int
) -> tuple[float | int | str | bytes, ...]:
    code, size = _TYPES[ftype]
    total = size * count
    if at < 0 or at + total > len(data):
        raise ValueError("value out of range")
    raw = bytes(data[at : at + total])
    if ftype == DATATYPE.ASCII:
        return (raw.split(b"\0", 1)[0].decode("latin-1").strip(),)
    if ftype == DATATYPE.UNDEFINED:
        return (bytes(raw),)
    if ftype in (DATATYPE.RATIONAL, DATATYPE.SRATIONAL):
        nums = struct.unpack(f"{order}{2 * count}{code[0]}", raw)
        return tuple(n / d if d else 0.0 for n, d in zip(nums[0::2], nums[1::2], strict=True))
    return struct.unpack(f"{order}{count}{code}", raw)


def _read_ifd(data: ByteSource, order: str, offset: int, depth: int, seen: set[int]) -> TiffDirectory | None:
    if offset in seen or offset < 8 or offset + 2 > len(data) or len(seen) >= _MAX_DIRECTORIES:
        return None
    seen.add(offset)
    (n,) = struct.unpack_from(f"{order}H", data, offset)
    if n == 0 or n > _MAX_ENTRIES or offset + 2 + 12 * n > len(data):
        return None
    ifd = TiffDirectory()
    for i in range(n):
        tag, ftype, count = struct.unpack_from(f"{order}HHI", data, offset + 2 + 12 * i)
        if ftype not in _TYPES or count == 0 or count > _MAX_VALUES:
            continue
        entry = offset + 2 + 12 * i + 8
        size = _TYPES[ftype][1] * count
        at = entry if size <= 4 else struct.unpack_from(f"{order}I", data, entry)[0]
        try:
            ifd.tags[tag] = _read_values(data, order, ftype, count, at)
        except (ValueError, struct.error):
            continue
    if depth < 2:
        for code in (TAG_SUBIFDS, TAG_EXIF_IFD):
            for child_offset in ifd.tags.get(code, ()):
                if isinstance(child_offset, int):
                    child = _read_ifd(data, order, child_offset, depth + 1, seen)
                    if child is not None:
                        ifd.children.append(child)
    return ifd


def read_directories(data: ByteSource) -> list[TiffDirectory]:
    r"""Read the chain of top-level directories (IFD0, IFD1, ...) with their SubIFDs and Exif IFDs.

    Args:
        data: the whole file (a TIFF header ``II*\0`` or ``MM\0*`` is expected).

    Returns:
        The top-level directories in file order; empty when the header or IFD0 is unreadable.
    """
    if len(data) < 8 or data[:2] not in (b"II", b"MM"):
        return []
    order = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack_from(f"{order}I", data, 4)
    seen: set[int] = set()
    out: list[TiffDirectory] = []
    while offset and len(out) < _MAX_DIRECTORIES:
        ifd = _read_ifd(data, order, offset, 0, seen)
        if ifd is None:
            break
        out.append(ifd)
        pos = _next_pointer_position(data, order, offset)
        if pos is None:
            break
        (offset,) = struct.unpack_from(f"{order}I", data, pos)
    return out


def _next_pointer_position(data: ByteSource, order: str, offset: int) -> int | None:
    (n,) = struct.unpack_from(f"{order}H", data, offset)
    pos = offset + 2 + 12 * n
    return pos if pos + 4 <= len(data) else None


def data_end(ifd: TiffDirectory) -> int:
    """Largest ``offset + byte count`` of the strips or tiles of one directory (0 when it has none)."""
    end = 0
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        offsets = ifd.tags.get(offsets_tag, ())
        counts = ifd.tags.get(counts_tag, ())
        for off, cnt in zip(offsets, counts, strict=False):
            if isinstance(off, int) and isinstance(cnt, int):
                end = max(end, off + cnt)
    return end
