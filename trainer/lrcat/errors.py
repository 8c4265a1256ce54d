"""Typed errors of the Lightroom catalog reader.

Both derive from :class:`backend.errors.AutoretouchError`, so the CLI and the daemon map them like every
other error. Every message names the catalog file and the row (table and ``id_local``) it comes from.
"""

from __future__ import annotations

from pathlib import Path

from backend.errors import AutoretouchError

__all__ = ["CatalogError", "SettingsParseError"]


class CatalogError(AutoretouchError):
    """A Lightroom catalog cannot be read: not SQLite, a missing table, an ambiguous or damaged row.

    Attributes:
        catalog: the ``.lrcat`` file (``None`` for text parsed outside a catalog).
        where: table and row the problem was found in (``"Adobe_images id_local=41"``), or ``""``.
        reason: what is wrong.
    """

    exit_code = 3
    grpc_status = "FAILED_PRECONDITION"

    def __init__(self, catalog: str | Path | None, where: str, reason: str) -> None:
        self.catalog = None if catalog is None else Path(catalog)
        self.where = where
        self.reason = reason
        parts = [str(catalog) if catalog is not None else "<text>"]
        if where:
            parts.append(where)
        super().__init__(f"{': '.join(parts)}: {reason}")


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
