"""Typed errors of the Lightroom catalog reader.

``CatalogError`` lives in :mod:`backend.errors` (re-exported here); both derive from
:class:`backend.errors.AutoretouchError`, so the CLI and the daemon map them like every
other error. Every message names the catalog file and the row (table and ``id_local``) it comes from.
"""

from __future__ import annotations

from pathlib import Path

from backend.errors import CatalogError

__all__ = ["CatalogError", "FavouritesSelectionError", "SettingsParseError"]


class SettingsParseError(CatalogError):
    """A develop-settings text (Lua table source) is not valid data.

    Raised for syntax errors, for anything that is code rather than data (identifiers or calls in value
    position, operators), and for texts over the size or nesting limits.

    Attributes:
        line: 1-based line of the offending token (0 when the error is not positional).
        column: 1-based column of the offending token (0 when not positional).
    """

    def __init__(self, catalog: str | Path | None, where: str, reason: str, *, line: int = 0, column: int = 0) -> None:
        self.line = line
        self.column = column
        position = f"line {line}, column {column}: " if line else ""
        super().__init__(catalog, where, position + reason)
        self.reason = reason


class FavouritesSelectionError(CatalogError):
    """A ``--favourites`` selection that cannot be used: not one of the forms, or a collection that is not one.

    A usage error (CLI exit status 2, ``INVALID_ARGUMENT``): the malformed forms (``rating:6``, ``collection:``),
    and a ``collection:NAME`` that names only smart collections (their rules are Lightroom's, not evaluated
    here) or collection sets (which hold collections, not photos). The message is the reason alone, prefixed
    with the catalog when one is concerned.
    """

    exit_code = 2
    grpc_status = "INVALID_ARGUMENT"

    def __init__(self, reason: str, catalog: str | Path | None = None) -> None:
        super().__init__(catalog, "", reason)
        if catalog is None:
            self.args = (reason,)
