"""Settings and history ``text`` cells: plain Lua text, or newer Lightroom's zlib-compressed BLOB.

Lightroom 3 stores ``Adobe_imageDevelopSettings.text`` and ``Adobe_libraryImageDevelopHistoryStep.text``
as SQL ``TEXT``. Newer Lightroom Classic versions store the history-step text (and possibly the settings
text) as a ``BLOB``: a 4-byte big-endian uncompressed length, then a zlib stream (reference
fivek.md §4). :func:`cell_text` accepts every form:

==================================  ==========================================================
cell value                          result
==================================  ==========================================================
``NULL``                            ``""`` (no settings)
``TEXT``                            the text itself
``BLOB`` = bare zlib stream         inflated (no length to check), UTF-8 decoded
``BLOB`` = length (4 bytes BE) +    inflated, checked against the declared length, UTF-8 decoded
zlib stream
other ``BLOB``                      UTF-8 decoded as plain text (SQLite lets text live in a BLOB)
==================================  ==========================================================

Inflation is bounded (``max_bytes``), so a small BLOB cannot expand into gigabytes.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from trainer.lrcat.errors import CatalogError
from trainer.lrcat.luatext import DEFAULT_MAX_CHARS

__all__ = ["cell_text", "compress_settings_text", "is_zlib_header"]


def is_zlib_header(data: bytes) -> bool:
    """Whether ``data`` starts with a valid zlib header (deflate method, check bits, no preset dictionary)."""
    if len(data) < 2:
        return False
    cmf, flg = data[0], data[1]
    return (cmf & 0x0F) == 8 and (cmf >> 4) <= 7 and (cmf * 256 + flg) % 31 == 0 and not flg & 0x20


def _inflate(stream: bytes, limit: int, catalog: str | Path | None, where: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(stream, limit + 1)
    except zlib.error as exc:
        raise CatalogError(catalog, where, f"compressed settings text is damaged ({exc})") from None
    if len(out) > limit:
        raise CatalogError(catalog, where, f"compressed settings text inflates past the {limit}-byte limit")
    if not inflater.eof:
        raise CatalogError(catalog, where, "compressed settings text is truncated")
    return out


def _decode(raw: bytes, catalog: str | Path | None, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(catalog, where, f"settings text is not UTF-8 ({exc.reason} at byte {exc.start})") from None


def cell_text(
    value: object, *, catalog: str | Path | None = None, where: str = "", max_bytes: int = DEFAULT_MAX_CHARS
) -> str:
    """The Lua settings text of one ``text`` cell, whatever its storage form (table in the module docstring).

    Args:
        value: the cell as :mod:`sqlite3` returns it (``None``, ``str``, ``bytes``).
        catalog: catalog file, for error messages.
        where: table and row, for error messages.
        max_bytes: largest accepted uncompressed size in bytes.

    Returns:
        The text (``""`` for ``NULL``).

    Raises:
        CatalogError: a damaged or oversized compressed cell, a length mismatch, non-UTF-8 bytes, or a
            cell of another type (a number).
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        # A bare stream first: a length prefix starting with a zlib header byte (0x78) would declare
        # more than 2 GB, so the two forms cannot be confused within the limits.
        if is_zlib_header(data):
            return _decode(_inflate(data, max_bytes, catalog, where), catalog, where)
        if len(data) >= 6 and is_zlib_header(data[4:]):
            declared = int.from_bytes(data[:4], "big")
            if declared > max_bytes:
                raise CatalogError(
                    catalog, where, f"compressed settings text declares {declared} bytes, over the {max_bytes} limit"
                )
            raw = _inflate(data[4:], declared, catalog, where)
            if len(raw) != declared:
                raise CatalogError(
                    catalog, where, f"compressed settings text inflates to {len(raw)} bytes, header says {declared}"
                )
            return _decode(raw, catalog, where)
        return _decode(data, catalog, where)
    raise CatalogError(catalog, where, f"settings text cell holds a {type(value).__name__}, not text")


def compress_settings_text(text: str) -> bytes:
    """Newer Lightroom's BLOB form of a settings text: 4-byte big-endian length + zlib stream.

    The inverse of :func:`cell_text` for that form (used to build test catalogs).
    """
    raw = text.encode("utf-8")
    return len(raw).to_bytes(4, "big") + zlib.compress(raw)
