"""Read Lightroom catalogs (``.lrcat``, SQLite) without ever writing them.

Works with the Lightroom 3 schema (``Adobe_DBVersion`` 0300025, the generation of FiveK's
``fivek.lrcat``) and with modern Lightroom Classic catalogs. Only these tables and columns are read:

=======================================  ===========================================================
table                                    columns
=======================================  ===========================================================
``Adobe_images``                         id_local, id_global, captureTime, copyName,
                                         developSettingsIDCache, fileFormat, masterImage, rootFile
``AgLibraryFile``                        id_local, baseName, extension, folder
``AgLibraryFolder``                      id_local, pathFromRoot, rootFolder
``AgLibraryRootFolder``                  id_local, absolutePath
``Adobe_imageDevelopSettings``           id_local, image, text
``Adobe_libraryImageDevelopHistoryStep`` id_local, image, name, dateCreated, valueString,
(optional)                               relValueString, text
``AgLibraryCollection`` (optional)       id_local, name, parent, creationId
``AgLibraryCollectionImage`` (optional)  collection, image
``Adobe_images`` pick, rating (optional) the favourites selections ``picks`` and ``rating:N``
``Adobe_variablesTable`` (optional)      name, value (``Adobe_DBVersion``)
=======================================  ===========================================================

Rules:

* The database is opened through a ``file:...?mode=ro`` URI, with ``immutable=1`` unless a ``-wal``
  file lies next to it (then committed data may live in the WAL, which ``immutable`` would skip), and
  with ``PRAGMA query_only``. Copy ``.lrcat``, ``-wal`` and ``-shm`` together when Lightroom has the
  catalog open.
* The current settings of an image are the ``Adobe_imageDevelopSettings`` row whose ``id_local`` equals
  ``Adobe_images.developSettingsIDCache``; without that, the single row with a non-empty ``text``
  (extra rows with empty text exist, fivek.md §2). Several different non-empty rows are an error.
* ``text`` cells may be zlib-compressed BLOBs (:mod:`trainer.lrcat.blob`); they are parsed as data by
  :mod:`trainer.lrcat.luatext`. Errors name the catalog, the table and the row.
* History steps are ordered by ``dateCreated`` then ``id_local`` (oldest first).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from backend.batch.lrcat_paths import as_int, connect_readonly, join_catalog_path
from backend.errors import NotFoundError
from trainer.lrcat.blob import cell_text
from trainer.lrcat.errors import CatalogError
from trainer.lrcat.luatext import DEFAULT_MAX_CHARS, Settings, parse_settings
from trainer.lrcat.records import (
    AsShotWhiteBalance,
    Collection,
    HistoryStep,
    Photo,
    cocoa_time,
    parse_capture_time,
)

__all__ = ["AS_SHOT", "REQUIRED_COLUMNS", "LightroomCatalog", "open_catalog"]

#: ``WhiteBalance`` value of an unchanged (camera) white balance.
AS_SHOT = "As Shot"

#: Tables and columns a catalog must have to be read.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "Adobe_images": (
        "id_local",
        "id_global",
        "captureTime",
        "copyName",
        "developSettingsIDCache",
        "fileFormat",
        "masterImage",
        "rootFile",
    ),
    "AgLibraryFile": ("id_local", "baseName", "extension", "folder"),
    "AgLibraryFolder": ("id_local", "pathFromRoot", "rootFolder"),
    "AgLibraryRootFolder": ("id_local", "absolutePath"),
    "Adobe_imageDevelopSettings": ("id_local", "image", "text"),
}
_OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "Adobe_libraryImageDevelopHistoryStep": (
        "id_local",
        "image",
        "name",
        "dateCreated",
        "valueString",
        "relValueString",
        "text",
    ),
    "AgLibraryCollection": ("id_local", "name", "parent", "creationId"),
    "AgLibraryCollectionImage": ("collection", "image"),
}
#: ``Adobe_images`` columns the favourites selections read (present in every real schema, optional here).
_FLAG_COLUMNS = ("pick", "rating")
_PHOTO_SQL = """
SELECT i.id_local, i.id_global, i.captureTime, i.fileFormat, i.masterImage, i.copyName,
       i.developSettingsIDCache, f.baseName, f.extension, fo.pathFromRoot, r.absolutePath
FROM Adobe_images AS i
LEFT JOIN AgLibraryFile AS f ON f.id_local = i.rootFile
LEFT JOIN AgLibraryFolder AS fo ON fo.id_local = f.folder
LEFT JOIN AgLibraryRootFolder AS r ON r.id_local = fo.rootFolder
"""
_CHUNK = 500


class LightroomCatalog:
    """A Lightroom catalog opened read-only (use as a context manager, or call :meth:`close`).

    Args:
        path: the ``.lrcat`` file.
        immutable: open with ``immutable=1`` (no locking, WAL ignored). ``None`` (default): only when no
            ``-wal`` file exists next to the catalog.
        max_text_chars: size limit of one settings text (after inflation), in characters/bytes.

    Raises:
        NotFoundError: the file does not exist.
        CatalogError: not an SQLite database, or a required table/column is missing.
    """

    def __init__(
        self, path: str | Path, *, immutable: bool | None = None, max_text_chars: int = DEFAULT_MAX_CHARS
    ) -> None:
        self.path = Path(path)
        self.max_text_chars = max_text_chars
        wal = self.path.with_name(self.path.name + "-wal")
        self.immutable = (not wal.exists()) if immutable is None else immutable
        self._db = connect_readonly(self.path, immutable=self.immutable)  # NotFoundError / CatalogError
        try:
            tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.Error as exc:
            self._close_quietly()
            raise CatalogError(self.path, "", f"cannot open as an SQLite catalog ({exc})") from None
        self._columns = {t: self._table_columns(t) for t in tables}
        for table, columns in REQUIRED_COLUMNS.items():
            if table not in self._columns:
                self._close_quietly()
                raise CatalogError(self.path, "", f"not a Lightroom catalog: table {table} is missing")
            missing = [c for c in columns if c not in self._columns[table]]
            if missing:
                self._close_quietly()
                raise CatalogError(self.path, table, f"not a Lightroom catalog: columns {missing} are missing")
        self._optional = {t: all(c in self._columns.get(t, ()) for c in cols) for t, cols in _OPTIONAL_COLUMNS.items()}
        self._collections: dict[int, Collection] | None = None

    # -- connection -----------------------------------------------------------------------------------

    def _table_columns(self, table: str) -> frozenset[str]:
        return frozenset(row[1] for row in self._db.execute(f'PRAGMA table_info("{table}")'))

    def _close_quietly(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> LightroomCatalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise CatalogError(self.path, "", f"query failed ({exc})") from None

    # -- catalog facts ------------------------------------------------------------------------------

    @property
    def db_version(self) -> str | None:
        """``Adobe_DBVersion`` from ``Adobe_variablesTable`` (``"0300025"`` for Lightroom 3), if recorded."""
        if "value" not in self._columns.get("Adobe_variablesTable", ()):
            return None
        rows = self._query("SELECT value FROM Adobe_variablesTable WHERE name = 'Adobe_DBVersion'")
        return str(rows[0][0]) if rows else None

    @property
    def has_history(self) -> bool:
        """Whether the catalog has a readable develop-history table."""
        return self._optional["Adobe_libraryImageDevelopHistoryStep"]

    def count_photos(self) -> int:
        """Number of ``Adobe_images`` rows (virtual copies included)."""
        return int(self._query("SELECT count(*) FROM Adobe_images")[0][0])

    def photo_ids(self) -> list[int]:
        """All ``Adobe_images.id_local``, ascending."""
        return [int(r[0]) for r in self._query("SELECT id_local FROM Adobe_images ORDER BY id_local")]

    def flagged_ids(self, column: str, minimum: int) -> list[int]:
        """``id_local`` of the images whose ``pick`` or ``rating`` is at least ``minimum``, ascending.

        Raises:
            CatalogError: the catalog has no such column.
        """
        if column not in _FLAG_COLUMNS:
            raise ValueError(f"column must be one of {_FLAG_COLUMNS}, not {column!r}")
        if column not in self._columns["Adobe_images"]:
            raise CatalogError(self.path, "Adobe_images", f"no {column} column: cannot select photos by {column}")
        rows = self._query(
            f"SELECT id_local FROM Adobe_images WHERE CAST({column} AS INTEGER) >= ? ORDER BY id_local", (minimum,)
        )
        return [int(r[0]) for r in rows]

    # -- collections --------------------------------------------------------------------------------

    def collections(self) -> tuple[Collection, ...]:
        """Every collection and collection set, with its ``/``-joined path, by ``id_local``."""
        if self._collections is None:
            self._collections = {}
            if self._optional["AgLibraryCollection"]:
                rows = self._query("SELECT id_local, name, parent, creationId FROM AgLibraryCollection")
                raw = {int(r[0]): (str(r[1] or ""), as_int(r[2]), str(r[3] or "")) for r in rows}
                for cid, (name, parent, kind) in raw.items():
                    names, seen, cur = [name], {cid}, parent
                    while cur is not None and cur in raw and cur not in seen:
                        seen.add(cur)
                        names.append(raw[cur][0])
                        cur = raw[cur][1]
                    self._collections[cid] = Collection(cid, name, parent, "/".join(reversed(names)), kind)
        return tuple(self._collections[k] for k in sorted(self._collections))

    def find_collections(self, name: str, *, parent: str | None = None) -> list[Collection]:
        """Collections called ``name`` (exact), optionally only those inside a set called ``parent``."""
        by_id = {c.id: c for c in self.collections()}
        found = [c for c in by_id.values() if c.name == name]
        if parent is not None:
            found = [c for c in found if c.parent in by_id and by_id[c.parent].name == parent]
        return found

    def collection_image_ids(self, collection_id: int) -> list[int]:
        """``Adobe_images.id_local`` of a collection's members, in ``AgLibraryCollectionImage`` row order."""
        if not self._optional["AgLibraryCollectionImage"]:
            return []
        rows = self._query(
            "SELECT image FROM AgLibraryCollectionImage WHERE collection = ? ORDER BY id_local", (collection_id,)
        )
        return [i for i in (as_int(r[0]) for r in rows) if i is not None]

    def _photo_collections(self, image_id: int) -> tuple[str, ...]:
        if not self._optional["AgLibraryCollectionImage"]:
            return ()
        by_id = {c.id: c for c in self.collections()}
        rows = self._query("SELECT collection FROM AgLibraryCollectionImage WHERE image = ?", (image_id,))
        paths = {by_id[c].path for c in (as_int(r[0]) for r in rows) if c is not None and c in by_id}
        return tuple(sorted(paths))

    # -- settings and history -----------------------------------------------------------------------

    def _parse(self, value: Any, where: str) -> Settings:
        text = cell_text(value, catalog=self.path, where=where, max_bytes=self.max_text_chars)
        return parse_settings(text, catalog=self.path, where=where, max_chars=self.max_text_chars)

    def _settings(self, image_id: int, cache_id: int | None) -> tuple[Settings, int | None]:
        rows = self._query(
            "SELECT id_local, text FROM Adobe_imageDevelopSettings WHERE image = ? ORDER BY id_local", (image_id,)
        )
        texts: list[tuple[int, str]] = []
        for row_id, value in rows:
            where = f"Adobe_imageDevelopSettings id_local={row_id} (image {image_id})"
            text = cell_text(value, catalog=self.path, where=where, max_bytes=self.max_text_chars)
            if text.strip():
                texts.append((int(row_id), text))
        chosen = [t for t in texts if t[0] == cache_id] or texts
        if not chosen:
            return {}, None
        if len({t for _, t in chosen}) > 1:
            ids = ", ".join(str(i) for i, _ in chosen)
            raise CatalogError(
                self.path,
                f"Adobe_imageDevelopSettings (image {image_id})",
                f"several different non-empty settings rows ({ids}) and no developSettingsIDCache naming one",
            )
        row_id, text = chosen[0]
        where = f"Adobe_imageDevelopSettings id_local={row_id} (image {image_id})"
        return parse_settings(text, catalog=self.path, where=where, max_chars=self.max_text_chars), row_id

    def history(self, image_id: int) -> tuple[HistoryStep, ...]:
        """Develop history of one image, oldest first (empty when the catalog keeps none)."""
        if not self.has_history:
            return ()
        rows = self._query(
            "SELECT id_local, name, dateCreated, valueString, relValueString, text "
            "FROM Adobe_libraryImageDevelopHistoryStep WHERE image = ? ORDER BY dateCreated, id_local",
            (image_id,),
        )
        steps = []
        for row_id, name, date, value_string, rel_value_string, text in rows:
            where = f"Adobe_libraryImageDevelopHistoryStep id_local={row_id} (image {image_id})"
            steps.append(
                HistoryStep(
                    id=int(row_id),
                    name=str(name or ""),
                    date=cocoa_time(date),
                    settings=self._parse(text, where),
                    value_string=None if value_string is None else str(value_string),
                    rel_value_string=None if rel_value_string is None else str(rel_value_string),
                )
            )
        return tuple(steps)

    # -- photos -------------------------------------------------------------------------------------

    def _build(self, row: tuple[Any, ...], with_history: bool) -> Photo:
        image_id, id_global, capture, file_format, master, copy_name, cache, base, ext, folder, root = row
        image_id = int(image_id)
        settings, settings_row = self._settings(image_id, as_int(cache))
        return Photo(
            id=image_id,
            id_global=str(id_global or ""),
            path=join_catalog_path(root, folder, base, ext),
            base_name=str(base or ""),
            extension=str(ext or ""),
            file_format=None if file_format in (None, "") else str(file_format),
            capture_time=parse_capture_time(capture),
            master_id=as_int(master),
            copy_name=None if copy_name in (None, "") else str(copy_name),
            settings=settings,
            settings_row=settings_row,
            history=self.history(image_id) if with_history else (),
            collections=self._photo_collections(image_id),
        )

    def image_file(self, image_id: int) -> tuple[str, bool] | None:
        """The base name of an image's file and whether the image is a virtual copy, without reading its settings.

        For naming a photo whose settings cannot be read. ``None``: no such image.
        """
        rows = self._query(
            "SELECT f.baseName, i.masterImage FROM Adobe_images AS i "
            "LEFT JOIN AgLibraryFile AS f ON f.id_local = i.rootFile WHERE i.id_local = ?",
            (image_id,),
        )
        if not rows:
            return None
        return str(rows[0][0] or ""), as_int(rows[0][1]) is not None

    def photo(self, image_id: int, *, with_history: bool = True) -> Photo:
        """One image by ``Adobe_images.id_local``.

        Raises:
            NotFoundError: no such image.
            CatalogError: its settings or history cannot be read (the message names the row).
        """
        rows = self._query(_PHOTO_SQL + "WHERE i.id_local = ?", (image_id,))
        if not rows:
            raise NotFoundError(f"{self.path}: no image with id_local {image_id}")
        return self._build(rows[0], with_history)

    def photos(self, ids: Iterable[int] | None = None, *, with_history: bool = True) -> Iterator[Photo]:
        """Images with their settings (and history), ordered by ``id_local`` (or in the order of ``ids``).

        Args:
            ids: only these ``Adobe_images.id_local`` (unknown ids are skipped); ``None`` for all.
            with_history: also read each image's history steps.

        Raises:
            CatalogError: a settings or history text cannot be read; the message names the row.
        """
        wanted = self.photo_ids() if ids is None else list(ids)
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = {int(r[0]): r for r in self._query(_PHOTO_SQL + f"WHERE i.id_local IN ({marks})", chunk)}
            for image_id in chunk:
                if image_id in rows:
                    yield self._build(rows[image_id], with_history)

    def virtual_copies(self, master_id: int) -> list[int]:
        """``id_local`` of the virtual copies of ``master_id``, ascending."""
        rows = self._query("SELECT id_local FROM Adobe_images WHERE masterImage = ? ORDER BY id_local", (master_id,))
        return [int(r[0]) for r in rows]

    def virtual_copies_named(self, copy_name: str) -> list[int]:
        """``id_local`` of the virtual copies whose ``copyName`` is ``copy_name`` (exact), ascending."""
        rows = self._query(
            "SELECT id_local FROM Adobe_images WHERE masterImage IS NOT NULL AND copyName = ? ORDER BY id_local",
            (copy_name,),
        )
        return [int(r[0]) for r in rows]

    # -- white balance ------------------------------------------------------------------------------

    def as_shot_white_balance(self, photo: Photo) -> AsShotWhiteBalance | None:
        """The photo's as-shot Temperature/Tint, from the first settings that record it.

        Looks for ``WhiteBalance = "As Shot"`` with numeric ``Temperature`` and ``Tint`` in, in order: the
        photo's settings, its history steps (newest first), then the master image and the master's other
        virtual copies (settings, then history). In FiveK the ``InputAsShotZeroed`` copy of each photo
        records it (3,395 of 5,000 with explicit values, fivek.md §5.2).

        Returns:
            The as-shot white balance, or ``None`` when no settings record it.
        """

        def from_settings(settings: Settings, source: str) -> AsShotWhiteBalance | None:
            if settings.get("WhiteBalance") != AS_SHOT:
                return None
            kelvin, tint = settings.get("Temperature"), settings.get("Tint")
            ok = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (kelvin, tint))
            if not ok or float(kelvin) <= 0:  # type: ignore[arg-type]
                return None
            return AsShotWhiteBalance(float(kelvin), float(tint), source)  # type: ignore[arg-type]

        def search(
            image_id: int, settings: Settings, history: tuple[HistoryStep, ...] = ()
        ) -> AsShotWhiteBalance | None:
            found = from_settings(settings, f"image {image_id} settings")
            for step in reversed(history or self.history(image_id)):
                if found is not None:
                    break
                found = from_settings(step.settings, f"image {image_id} history step {step.id}")
            return found

        found = search(photo.id, photo.settings, photo.history)
        if found is not None:
            return found
        master = photo.master_id if photo.master_id is not None else photo.id
        others = [master, *self.virtual_copies(master)]
        for image_id in others:
            if image_id == photo.id:
                continue
            try:
                found = search(image_id, self.photo(image_id, with_history=False).settings)
            except (NotFoundError, CatalogError):  # a damaged sibling is no evidence either way
                continue
            if found is not None:
                return found
        return None


def open_catalog(path: str | Path, *, immutable: bool | None = None) -> LightroomCatalog:
    """Open a Lightroom catalog read-only (see :class:`LightroomCatalog`)."""
    return LightroomCatalog(path, immutable=immutable)
