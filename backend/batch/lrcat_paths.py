"""List the photo files of a Lightroom catalog (``.lrcat``, SQLite), read-only.

This is the only part of a catalog the batch needs at run time: where the photos are. (Develop settings
and histories are the trainer's business, :mod:`trainer.lrcat`.) Both the Lightroom 3 schema and modern
Lightroom Classic catalogs are read; the four tables and columns used are the same in both:

===========================  ======================================================
table                        columns
===========================  ======================================================
``Adobe_images``             id_local, rootFile (the image's file; virtual copies share it)
``AgLibraryFile``            id_local, baseName, extension, folder
``AgLibraryFolder``          id_local, pathFromRoot, rootFolder
``AgLibraryRootFolder``      id_local, absolutePath
===========================  ======================================================

A file's path is the root folder's ``absolutePath`` + the folder's ``pathFromRoot`` + ``baseName.extension``
(:func:`join_catalog_path`; Lightroom writes both folder paths with a trailing ``/`` and uses ``/`` on
Windows too, e.g. ``C:/Users/me/Pictures/``). A file not at that path is looked for below the catalog's folder
(:func:`locate_catalog_file`: a catalog moved together with its photos), by the rule ``train --lrcat`` uses too.

The database is opened through a ``file:...?mode=ro`` URI with ``PRAGMA query_only``, and with
``immutable=1`` (no locking, so it also works while Lightroom holds the catalog) unless a ``-wal`` file lies
next to it: committed data may then live in the WAL, which ``immutable`` would skip. Nothing is ever written.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.errors import CatalogError, NotFoundError

__all__ = [
    "REQUIRED_COLUMNS",
    "CatalogFile",
    "CatalogListing",
    "LightroomCatalogError",
    "as_int",
    "connect_readonly",
    "hot_journal",
    "join_catalog_path",
    "list_catalog_files",
    "locate_catalog_file",
]

#: Tables and columns the listing reads.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "Adobe_images": ("id_local", "rootFile"),
    "AgLibraryFile": ("id_local", "baseName", "extension", "folder"),
    "AgLibraryFolder": ("id_local", "pathFromRoot", "rootFolder"),
    "AgLibraryRootFolder": ("id_local", "absolutePath"),
}

_FILES_SQL = """
SELECT i.id_local, i.rootFile, f.id_local, r.absolutePath, fo.pathFromRoot, f.baseName, f.extension
FROM Adobe_images AS i
LEFT JOIN AgLibraryFile AS f ON f.id_local = i.rootFile
LEFT JOIN AgLibraryFolder AS fo ON fo.id_local = f.folder
LEFT JOIN AgLibraryRootFolder AS r ON r.id_local = fo.rootFolder
ORDER BY f.id_local, i.id_local
"""


class LightroomCatalogError(CatalogError):
    """A Lightroom catalog cannot be read: not SQLite, or a table/column the listing needs is missing.

    The :class:`~backend.errors.CatalogError` of this module (no table/row position: ``where`` is empty).

    Attributes:
        catalog: the ``.lrcat`` file.
        reason: what is wrong.
    """

    def __init__(self, catalog: str | Path, reason: str) -> None:
        super().__init__(catalog, "", reason)


@dataclass(frozen=True)
class CatalogFile:
    """One photo file the catalog references.

    Attributes:
        path: the file's absolute path as the catalog records it (it may be offline / missing).
        file_id: ``AgLibraryFile.id_local``.
        image_ids: ``Adobe_images.id_local`` of the images using the file (master first, then virtual
            copies), ascending.
    """

    path: Path
    file_id: int
    image_ids: tuple[int, ...]


@dataclass(frozen=True)
class CatalogListing:
    """What :func:`list_catalog_files` found.

    Attributes:
        catalog: the ``.lrcat`` file.
        files: every referenced file once, by ``AgLibraryFile.id_local``.
        unresolved: ``(image id, reason)`` for images whose file, folder or root row is missing.
    """

    catalog: Path
    files: tuple[CatalogFile, ...]
    unresolved: tuple[tuple[int, str], ...]


def join_catalog_path(root: Any, path_from_root: Any, base_name: Any, extension: Any) -> str | None:
    """Root ``absolutePath`` + folder ``pathFromRoot`` + ``baseName.extension``.

    Args:
        root: ``AgLibraryRootFolder.absolutePath`` (normally ends with ``/``).
        path_from_root: ``AgLibraryFolder.pathFromRoot`` (``""`` for the root itself, else ends with ``/``).
        base_name: ``AgLibraryFile.baseName``.
        extension: ``AgLibraryFile.extension`` (may be empty).

    Returns:
        The joined path with exactly one ``/`` between the parts, or ``None`` when the root or the base name
        is missing.
    """
    if root is None or base_name is None:
        return None
    path = str(root)
    sub = str(path_from_root or "")
    if sub:
        path = path.rstrip("/") + "/" + sub.lstrip("/")
    if not path.endswith("/"):
        path += "/"
    return path + str(base_name) + (f".{extension}" if extension else "")


def locate_catalog_file(recorded: str | Path, catalog_dir: Path) -> tuple[Path, str] | None:
    """Where a catalog's photo file is on disk, and how it was found; ``None`` when it is nowhere.

    Looked up in this order: the path the catalog records (``"recorded"``); else each tail of that path below
    the catalog's folder, the longest first (``"catalog folder"``: the catalog and its photos moved together,
    ``/old/x/photos/p.jpg`` found as ``CATALOG_DIR/photos/p.jpg``). A tail is a file of the same name, not
    certainly the catalog photo's own file, so the bare file name counts only for a photo that lay in a folder
    of the catalog folder's own name (``/old/x/p.jpg`` as ``.../x/p.jpg`` beside ``.../x/cat.lrcat``): a
    camera's ``IMG_0001.jpg`` that merely happens to lie beside the catalog is not taken for one recorded in
    ``/Volumes/Card/2019/``. ``train --lrcat`` and ``catalog --lrcat`` both use this rule.

    Args:
        recorded: the path the catalog records (:func:`join_catalog_path`; slash or backslash separators; a
            path that is not absolute here, e.g. ``C:/Users/...`` on Linux, is only looked for by its tails).
        catalog_dir: the folder the ``.lrcat`` file lies in (its real path, links resolved).

    Returns:
        ``(path, "recorded" | "catalog folder")``, or ``None``.
    """
    text = str(recorded)
    if os.path.isabs(text) and Path(text).is_file():  # a path of another system (C:/... here) is not looked
        return Path(text), "recorded"  # up below the working folder
    parts = [p for p in text.replace("\\", "/").split("/") if p]
    for i in range(1, len(parts)):
        if i == len(parts) - 1 and parts[i - 1].casefold() != catalog_dir.name.casefold():  # bare name, elsewhere
            break
        candidate = catalog_dir.joinpath(*parts[i:])
        if candidate.is_file():
            return candidate, "catalog folder"
    return None


#: The first bytes of an SQLite rollback journal that still holds a transaction (zeroed once it is finished).
_JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


def hot_journal(catalog: Path) -> Path | None:
    """The catalog's rollback journal when it holds an unfinished transaction, else ``None``.

    SQLite rolls such a journal back the next time the catalog is opened for writing; a read-only reader (and
    ``immutable=1`` above all) would otherwise see half a change as if it were saved.
    """
    real = catalog.resolve()  # SQLite opens the real file; its journal lies beside that one
    journal = real.with_name(real.name + "-journal")
    try:
        fd = os.open(journal, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    except OSError:  # no journal (the usual case), a link, or one we cannot read: SQLite decides as it opens
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return journal if os.read(fd, len(_JOURNAL_MAGIC)) == _JOURNAL_MAGIC else None
    except OSError:
        return None
    finally:
        os.close(fd)


def connect_readonly(catalog: str | Path, *, immutable: bool | None = None) -> sqlite3.Connection:
    """Open a catalog read-only (``mode=ro``, ``query_only``; ``immutable=1`` unless a ``-wal`` file exists).

    A catalog whose ``-journal`` holds an unfinished change (:func:`hot_journal`) is refused: reading it
    read-only would show the unsaved half of that change.

    Args:
        catalog: the ``.lrcat`` file.
        immutable: force ``immutable`` on or off; ``None`` decides from the ``-wal`` file.

    Raises:
        NotFoundError: the file does not exist.
        LightroomCatalogError: it cannot be opened as SQLite, or a change to it is not finished.
    """
    path = Path(catalog)
    if not path.is_file():
        raise NotFoundError(f"{path}: Lightroom catalog not found")
    journal = hot_journal(path)
    if journal is not None:
        raise LightroomCatalogError(
            path,
            f"{journal.name} beside it holds a change Lightroom has not finished saving (Lightroom is writing to "
            "the catalog, or quit while writing); quit Lightroom, or open the catalog in it once, then try again",
        )
    if immutable is None:
        real = path.resolve()
        immutable = not real.with_name(real.name + "-wal").exists()
    uri = f"file:{urllib.parse.quote(str(path.resolve()), safe='/:')}?mode=ro" + ("&immutable=1" if immutable else "")
    db: sqlite3.Connection | None = None
    try:
        db = sqlite3.connect(uri, uri=True)
        db.execute("PRAGMA query_only = ON")
        db.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.Error as exc:
        if db is not None:
            db.close()
        raise LightroomCatalogError(path, f"cannot open as an SQLite catalog ({exc})") from None
    return db


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, columns in REQUIRED_COLUMNS.items():
        if table not in tables:
            raise LightroomCatalogError(path, f"not a Lightroom catalog: table {table} is missing")
        have = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
        missing = [c for c in columns if c not in have]
        if missing:
            raise LightroomCatalogError(path, f"not a Lightroom catalog: {table} lacks columns {missing}")


def as_int(value: Any) -> int | None:
    """An id as SQLite returns it (Lightroom 3 stores some ids as REAL, ``48.0``) -> int, else ``None``."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def list_catalog_files(catalog: str | Path, *, immutable: bool | None = None) -> CatalogListing:
    """Every photo file a Lightroom catalog references, each once (virtual copies share their master's file).

    Args:
        catalog: the ``.lrcat`` file (opened read-only, see the module docstring).
        immutable: see :func:`connect_readonly`.

    Returns:
        The listing, files in ``AgLibraryFile.id_local`` order; images whose file, folder or root folder row
        is missing are listed in ``unresolved``.

    Raises:
        NotFoundError: the catalog does not exist.
        LightroomCatalogError: not SQLite, a required table/column is missing, or a query failed.
    """
    path = Path(catalog)
    db = connect_readonly(path, immutable=immutable)
    try:
        _check_schema(db, path)
        rows = db.execute(_FILES_SQL).fetchall()
    except sqlite3.Error as exc:
        raise LightroomCatalogError(path, f"query failed ({exc})") from None
    finally:
        db.close()
    by_file: dict[int, tuple[str, list[int]]] = {}
    unresolved: list[tuple[int, str]] = []
    for image_id, root_file, file_id, root, sub, base, ext in rows:
        image = as_int(image_id)
        if image is None:
            continue
        fid = as_int(file_id)
        joined = join_catalog_path(root, sub, base, ext) if fid is not None else None
        if fid is None or joined is None:
            what = f"file row {root_file!r}" if fid is None else "its folder or root folder row"
            unresolved.append((image, f"Adobe_images id_local={image}: {what} is missing"))
            continue
        by_file.setdefault(fid, (joined, []))[1].append(image)
    files = tuple(CatalogFile(Path(p), fid, tuple(sorted(ids))) for fid, (p, ids) in by_file.items())
    return CatalogListing(path, files, tuple(unresolved))
