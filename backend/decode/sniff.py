"""Recognise a photo's format from its content.

JPEG, PNG and TIFF are told apart by their magic bytes. TIFF-structured files are raws when IFD0 carries
``DNGVersion``, when any directory holds CFA or LinearRaw data, or when the header is Canon's CR2; other
raw containers (CR3, RAF, ORF, RW2, CRW, MRW, X3F) have their own magic. Only when the content is
inconclusive (a TIFF structure without raw markers, or a headerless raw such as some Kodak ``.raw``)
does a raw file extension decide, and LibRaw then has the last word.
"""

from __future__ import annotations

import mmap
import stat
from pathlib import Path

from backend.decode.tiffdir import read_directories
from backend.decode.types import RAW_EXTENSIONS
from backend.errors import CorruptImageError, NotFoundError, PermissionDeniedError, UnsupportedFormatError
from backend.fsio import file_kind

__all__ = ["regular_file_size", "sniff_bytes", "sniff_kind"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\0", b"MM\0*")
_BIGTIFF_MAGICS = (b"II+\0", b"MM\0+")
_RAW_MAGICS: tuple[tuple[int, bytes], ...] = (
    (0, b"FUJIFILMCCD-RAW"),  # RAF
    (0, b"IIRO"),  # ORF
    (0, b"IIRS"),  # ORF
    (0, b"MMOR"),  # ORF (big-endian)
    (0, b"IIU\0"),  # RW2 / RWL
    (4, b"ftypcrx "),  # CR3
    (6, b"HEAPCCDR"),  # CRW
    (0, b"\0MRM"),  # MRW
    (0, b"FOVb"),  # X3F
)
_RAW_PHOTOMETRICS = (32803, 34892)  # CFA, LinearRaw


def regular_file_size(path: Path) -> int:
    """Size of ``path`` in bytes, refusing anything but a regular file (or a link to one) before it is opened.

    Opening a named pipe would wait for a writer, and a directory, device or socket is not a photo.

    Args:
        path: the file.

    Returns:
        Its size in bytes.

    Raises:
        UnsupportedFormatError: ``path`` is a directory, a named pipe (FIFO), a device or a socket.
        OSError: from ``stat`` (``FileNotFoundError``, ``PermissionError`` ...), for the caller to name.
    """
    info = path.stat()
    mode = info.st_mode
    if stat.S_ISREG(mode):
        return info.st_size
    if stat.S_ISDIR(mode):
        raise UnsupportedFormatError(path, "a directory, not a photo")
    what = file_kind(mode)
    raise UnsupportedFormatError(path, f"{what}, not a regular file")


def _extension(name: str | None) -> str:
    return Path(name).suffix.lower().lstrip(".") if name else ""


def _tiff_is_raw(data: bytes | mmap.mmap, ext: str) -> bool:
    if data[8:10] == b"CR":
        return True
    for top in read_directories(data):
        for ifd in top.walk():
            if 50706 in ifd.tags or ifd.first(262) in _RAW_PHOTOMETRICS:
                return True
    return ext in RAW_EXTENSIONS


def _looks_like_text(head: bytes) -> bool:
    sample = head[:512]
    if b"\0" in sample:
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def sniff_bytes(data: bytes | mmap.mmap, name: str | None = None, where: Path | None = None) -> str:
    """Kind of a photo from its content.

    Args:
        data: the file content (or at least its header; TIFF structures need the whole file).
        name: file name, used only as a tie-breaker for raws (see module docstring).
        where: path for error messages.

    Returns:
        ``"raw"``, ``"tiff"``, ``"jpeg"`` or ``"png"``.

    Raises:
        CorruptImageError: empty data.
        UnsupportedFormatError: anything else.
    """
    if len(data) == 0:
        raise CorruptImageError(where, "empty file")
    head = bytes(data[:64])
    ext = _extension(name)
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(_PNG_MAGIC):
        return "png"
    if any(head[at : at + len(magic)] == magic for at, magic in _RAW_MAGICS):
        return "raw"
    if head[:4] in _TIFF_MAGICS:
        return "raw" if _tiff_is_raw(data, ext) else "tiff"
    if head[:4] in _BIGTIFF_MAGICS:
        return "tiff"
    if ext in RAW_EXTENSIONS and not _looks_like_text(head):
        return "raw"  # headerless raw formats are recognised by LibRaw from size and extension
    what = "a text file" if _looks_like_text(head) else "an unknown format"
    raise UnsupportedFormatError(where, f"{what}, not a photo autoretouch reads (camera raw, TIFF, JPEG, PNG)")


def sniff_kind(path_or_bytes: str | Path | bytes) -> str:
    """Kind of a photo file (or of photo bytes) by content, not by extension.

    Args:
        path_or_bytes: a path, or the file's bytes.

    Returns:
        ``"raw"``, ``"tiff"``, ``"jpeg"`` or ``"png"``.

    Raises:
        NotFoundError: the path does not exist.
        PermissionDeniedError: the file cannot be read.
        CorruptImageError: empty file.
        UnsupportedFormatError: not a supported photo format, or not a regular file (a FIFO, a device ...).
    """
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        return sniff_bytes(bytes(path_or_bytes))
    path = Path(path_or_bytes)
    try:
        regular_file_size(path)
        with path.open("rb") as fh:
            head = fh.read(64)
            if head[:4] in _TIFF_MAGICS:
                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    return sniff_bytes(mapped, path.name, path)
            return sniff_bytes(head, path.name, path)
    except FileNotFoundError as exc:
        raise NotFoundError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise UnsupportedFormatError(path, "a directory, not a photo") from exc
    except PermissionError as exc:
        raise PermissionDeniedError(f"{path}: permission denied") from exc
