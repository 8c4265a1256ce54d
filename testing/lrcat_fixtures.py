"""Generators of small Lightroom catalogs with the real schemas, for the catalog reader's tests.

The ``CREATE TABLE`` statements hold the tables and columns :mod:`trainer.lrcat.reader` reads (plus the
``NOT NULL`` identity columns), with the declarations of the real schemas:

* :data:`LR3_SCHEMA`: Lightroom 3 (``Adobe_DBVersion`` 0300025, the generation of FiveK's ``fivek.lrcat``),
  as in Slurpy's LR3 test catalog: no ``processVersion`` column, ``dateCreated INTEGER`` holding REAL
  Cocoa-epoch seconds, ``developSettingsIDCache`` stored as REAL (``48.0``).
* :data:`MODERN_SCHEMA`: Lightroom Classic (as in the lr-ai-editor schema dump): ``processVersion``,
  ``hasBigData`` and friends, history ``text`` as a compressed BLOB (4-byte big-endian length + zlib).

Like Lightroom, every table draws ``id_local`` from one shared counter, so an id never means two rows
and a wrong join cannot pass by accident.

* :class:`CatalogBuilder`: add roots, folders, files, images (masters and virtual copies), settings,
  history steps and collections.
* :func:`lua_settings_text`: a settings dict in Lightroom's text layout (``s = { Key = value, ... }``,
  keys sorted, one per line, arrays one number per line).
* :func:`not_catalogs`: a missing file, a text file and an SQLite database without Lightroom's tables.
* :func:`make_fivek_catalog`: FiveK's layout (``Experts/A..E`` collections of virtual copies,
  ``Inputs/InputAsShotZeroed``), with each expert's edit reached through named history steps in a known
  order; :class:`FivekFixture` describes what a reader must find.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from backend.errors import NotFoundError
from trainer.lrcat.blob import compress_settings_text

__all__ = [
    "FIVEK_HISTORY_ORDER",
    "LR3_SCHEMA",
    "MODERN_SCHEMA",
    "CatalogBuilder",
    "FivekFixture",
    "FivekPhoto",
    "check_refuses_non_catalogs",
    "default_import_settings",
    "fivek_expert_settings",
    "lua_settings_text",
    "make_fivek_catalog",
    "not_catalogs",
]

#: Tables both schemas declare alike (variables, files, library root folders, collections and their images) and
#: the indexes both have; run after the schema's own tables, which the indexes need.
_COMMON_TABLES = """\
CREATE TABLE Adobe_variablesTable (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    name,
    type,
    value NOT NULL DEFAULT ''
);
CREATE TABLE AgLibraryFile (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    baseName NOT NULL DEFAULT '',
    extension NOT NULL DEFAULT '',
    folder INTEGER NOT NULL DEFAULT 0,
    idx_filename NOT NULL DEFAULT '',
    lc_idx_filename NOT NULL DEFAULT '',
    originalFilename NOT NULL DEFAULT ''
);
CREATE TABLE AgLibraryRootFolder (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    absolutePath UNIQUE NOT NULL DEFAULT '',
    name NOT NULL DEFAULT '',
    relativePathFromCatalog
);
CREATE TABLE AgLibraryCollection (
    id_local INTEGER PRIMARY KEY,
    creationId NOT NULL DEFAULT '',
    genealogy NOT NULL DEFAULT '',
    imageCount,
    name NOT NULL DEFAULT '',
    parent INTEGER,
    systemOnly NOT NULL DEFAULT ''
);
CREATE TABLE AgLibraryCollectionImage (
    id_local INTEGER PRIMARY KEY,
    collection INTEGER NOT NULL DEFAULT 0,
    image INTEGER NOT NULL DEFAULT 0,
    pick NOT NULL DEFAULT 0,
    positionInCollection
);
CREATE INDEX index_AgLibraryCollectionImage_imageCollection ON AgLibraryCollectionImage( image, collection );
CREATE INDEX index_Adobe_images_masterImage ON Adobe_images( masterImage );
CREATE INDEX index_Adobe_imageDevelopSettings_image ON Adobe_imageDevelopSettings( image );
CREATE INDEX index_Adobe_libraryImageDevelopHistoryStep_imageDateCreated
    ON Adobe_libraryImageDevelopHistoryStep( image, dateCreated );
"""

#: The tables whose declarations differ between the schemas, written once: a column marked ``-- lr3`` or
#: ``-- modern`` belongs to that schema alone, the others to both (:func:`_schema` picks one schema's columns).
_VERSIONED_TABLES = """
CREATE TABLE Adobe_images (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    bitDepth NOT NULL DEFAULT 0,  -- modern
    captureTime,
    colorChannels NOT NULL DEFAULT 0,  -- modern
    copyName,
    copyReason,  -- modern
    developSettingsIDCache,
    editLock INTEGER NOT NULL DEFAULT 0,  -- modern
    fileFormat NOT NULL DEFAULT 'unset',
    masterImage INTEGER,
    pick NOT NULL DEFAULT 0,
    rating,
    rootFile INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE Adobe_imageDevelopSettings (
    id_local INTEGER PRIMARY KEY,
    hasBigData INTEGER NOT NULL DEFAULT 0,  -- modern
    hasMasks INTEGER NOT NULL DEFAULT 0,  -- modern
    image INTEGER,
    processVersion,  -- modern
    text,
    whiteBalance
);
CREATE TABLE Adobe_libraryImageDevelopHistoryStep (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    dateCreated INTEGER,  -- lr3
    dateCreated,  -- modern
    digest,  -- modern
    hasBigData INTEGER NOT NULL DEFAULT 0,  -- modern
    hasDevelopAdjustments,  -- modern
    image INTEGER,
    name,
    relValueString,
    text,
    valueString
);
CREATE TABLE AgLibraryFolder (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    parentId INTEGER,  -- modern
    pathFromRoot NOT NULL DEFAULT '',
    rootFolder INTEGER NOT NULL DEFAULT 0,
    visibility INTEGER  -- modern
);
"""
_VERSION_MARK = re.compile(r",?  -- (lr3|modern)$")

#: The schemas that :data:`_VERSIONED_TABLES` marks columns for.
SchemaVersion = Literal["lr3", "modern"]


def _schema(version: SchemaVersion) -> str:
    """One schema's script: :data:`_VERSIONED_TABLES` with ``version``'s columns, then :data:`_COMMON_TABLES`.

    Args:
        version: ``"lr3"`` or ``"modern"``.

    Returns:
        The ``CREATE`` statements, each column but a table's last ending in a comma.

    Raises:
        ValueError: ``version`` is neither ``"lr3"`` nor ``"modern"``.
    """
    if version not in get_args(SchemaVersion):
        raise ValueError(f"unknown schema version {version!r}: expected one of {get_args(SchemaVersion)}")
    columns = []
    for line in _VERSIONED_TABLES.splitlines():
        mark = _VERSION_MARK.search(line)
        if mark is None:
            assert "--" not in line, f"unrecognised version mark (not '  -- lr3' or '  -- modern'): {line!r}"
            columns.append(line)
        elif mark.group(1) == version:
            columns.append(line[: mark.start()] + ",")
    return re.sub(r",\n\)", "\n)", "\n".join(columns) + "\n") + _COMMON_TABLES


LR3_SCHEMA = _schema("lr3")
MODERN_SCHEMA = _schema("modern")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DB_VERSION = {"lr3": "0300025", "modern": "1400000"}
_KIND = {
    "collection": "com.adobe.ag.library.collection",
    "group": "com.adobe.ag.library.group",
    "smart": "com.adobe.ag.library.smart_collection",
}


def not_catalogs(folder: Path) -> tuple[Path, Path, Path]:
    """Three ``.lrcat`` paths in ``folder`` that a catalog reader must refuse.

    Returns:
        ``(missing, text, other)``: a file that does not exist, a text file (not SQLite), and an SQLite database
        with one table ``t`` and none of Lightroom's.
    """
    text = folder / "text.lrcat"
    text.write_text("this is not sqlite " * 100)
    other = folder / "other.lrcat"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    return folder / "missing.lrcat", text, other


def check_refuses_non_catalogs(
    folder: Path, read: Callable[[Path], object], error: type[Exception], *, missing_table: str
) -> None:
    """``read`` refuses each of :func:`not_catalogs`: :class:`~backend.errors.NotFoundError` for the missing file,
    ``error`` saying ``SQLite`` for the text file, and ``error`` matching ``missing_table`` for the other database.

    Args:
        folder: where to write the non-catalogs.
        read: the reader under test, e.g. ``open_catalog``.
        error: the reader's error for a file that is not a Lightroom catalog.
        missing_table: a regular expression the error for the database without Lightroom's tables must match.
    """
    import pytest  # here, so that the fixtures (bench/bench_lrcat.py) import without the dev extras

    missing, text, other = not_catalogs(folder)
    with pytest.raises(NotFoundError):
        read(missing)
    with pytest.raises(error, match="SQLite"):
        read(text)
    with pytest.raises(error, match=missing_table):
        read(other)


def _lua_key(key: str) -> str:
    """A table key as Lightroom writes it: bare identifier, else ``["..."]``."""
    return key if _IDENTIFIER.fullmatch(key) else f"[{_lua_value(key)}]"


def _lua_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "{  }" if not value else "{ " + ",\n".join(_lua_value(v) for v in value) + " }"
    if isinstance(value, Mapping):
        if not value:
            return "{  }"
        return "{ " + ",\n".join(f"{_lua_key(k)} = {_lua_value(value[k])}" for k in sorted(value)) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as Lua")


def lua_settings_text(settings: Mapping[str, Any], *, prefix: str = "s = ") -> str:
    """``settings`` in Lightroom's text layout: ``s = { A = 1,\\nB = { 0,\\n0 } }`` (keys sorted)."""
    return prefix + _lua_value(dict(settings)) + "\n"


def default_import_settings(kelvin: int = 5650, tint: int = -1) -> dict[str, Any]:
    """A Lightroom 3 default import row (as in Slurpy's LR3 catalog): PV2010 defaults, as-shot WB."""
    return {
        "AutoGrayscaleMix": True,
        "Brightness": 50,
        "CameraProfile": "Adobe Standard",
        "ColorNoiseReduction": 25,
        "Contrast": 25,
        "ConvertToGrayscale": False,
        "Exposure": 0,
        "GrainSize": 25,
        "ProcessVersion": "5.7",
        "RedEyeInfo": {},
        "RetouchInfo": {},
        "Shadows": 5,
        "SharpenDetail": 25,
        "SharpenRadius": 1,
        "Sharpness": 25,
        "Temperature": kelvin,
        "Tint": tint,
        "ToneCurve": [0, 0, 32, 22, 64, 56, 128, 128, 192, 196, 255, 255],
        "ToneCurveName": "Medium Contrast",
        "Version": "6.6",
        "WhiteBalance": "As Shot",
    }


class CatalogBuilder:
    """Write a small catalog with :data:`LR3_SCHEMA` or :data:`MODERN_SCHEMA` (ids from one counter).

    Args:
        path: the ``.lrcat`` file to create (must not exist).
        schema: ``"lr3"`` or ``"modern"``.
    """

    def __init__(self, path: str | Path, *, schema: str = "lr3") -> None:
        if schema not in _DB_VERSION:
            raise ValueError(f"schema must be 'lr3' or 'modern', not {schema!r}")
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(self.path)
        self.schema = schema
        self.db = sqlite3.connect(self.path)
        self.db.executescript(LR3_SCHEMA if schema == "lr3" else MODERN_SCHEMA)
        self._next = 10
        self._clock = 350000000.0  # Cocoa seconds (2012-02-03)
        self._insert("Adobe_variablesTable", name="Adobe_DBVersion", value=_DB_VERSION[schema])

    def _id(self) -> int:
        self._next += 1
        return self._next

    def _insert(self, table: str, **columns: Any) -> int:
        row_id = self._id()
        columns = {"id_local": row_id, **columns}
        if table not in ("Adobe_imageDevelopSettings", "AgLibraryCollection", "AgLibraryCollectionImage"):
            columns.setdefault("id_global", str(uuid.UUID(int=row_id)).upper())
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        self.db.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(columns.values()))
        return row_id

    def add_root(self, absolute_path: str) -> int:
        """A root folder (``absolutePath`` ends with ``/``, as Lightroom writes it)."""
        name = absolute_path.rstrip("/").rsplit("/", 1)[-1]
        return self._insert("AgLibraryRootFolder", absolutePath=absolute_path, name=name)

    def add_folder(self, root: int, path_from_root: str = "") -> int:
        """A folder below a root (``pathFromRoot`` ends with ``/`` or is empty)."""
        return self._insert("AgLibraryFolder", pathFromRoot=path_from_root, rootFolder=root)

    def add_file(self, folder: int, base_name: str, extension: str) -> int:
        """A file row."""
        name = f"{base_name}.{extension}"
        return self._insert(
            "AgLibraryFile",
            baseName=base_name,
            extension=extension,
            folder=folder,
            idx_filename=name,
            lc_idx_filename=name.lower(),
            originalFilename=name,
        )

    def add_image(
        self,
        file: int,
        *,
        capture_time: str | None = "2011-11-06T00:16:03.08",
        file_format: str = "RAW",
        master: int | None = None,
        copy_name: str | None = None,
        pick: int = 0,
        rating: int | None = None,
    ) -> int:
        """An image (a master, or a virtual copy of ``master`` sharing its file); ``pick`` -1/0/1, ``rating`` 0..5."""
        return self._insert(
            "Adobe_images",
            captureTime=capture_time,
            copyName=copy_name,
            fileFormat=file_format,
            masterImage=master,
            pick=pick,
            rating=rating,
            rootFile=file,
        )

    def _text_cell(self, text: str, compressed: bool) -> str | bytes:
        return compress_settings_text(text) if compressed else text

    def set_settings(
        self,
        image: int,
        settings: Mapping[str, Any] | str,
        *,
        compressed: bool = False,
        empty_rows: int = 0,
        cache: bool = True,
    ) -> int:
        """The image's develop settings row; ``empty_rows`` extra rows with empty text (as FiveK has).

        ``cache`` writes ``developSettingsIDCache`` (as REAL, like Lightroom 3). Returns the row id.
        """
        for _ in range(empty_rows):
            self._insert("Adobe_imageDevelopSettings", image=image, text="")
        text = settings if isinstance(settings, str) else lua_settings_text(settings)
        columns: dict[str, Any] = {"image": image, "text": self._text_cell(text, compressed)}
        if not isinstance(settings, str):
            columns["whiteBalance"] = settings.get("WhiteBalance")
            if self.schema == "modern":
                columns["processVersion"] = settings.get("ProcessVersion")
        row = self._insert("Adobe_imageDevelopSettings", **columns)
        if cache:
            self.db.execute(
                "UPDATE Adobe_images SET developSettingsIDCache = ? WHERE id_local = ?", (float(row), image)
            )
        return row

    def add_history_step(
        self,
        image: int,
        name: str,
        settings: Mapping[str, Any] | str | None,
        *,
        value_string: str | None = None,
        compressed: bool | None = None,
        date: float | None = None,
    ) -> int:
        """A history step (full settings after it, or ``None`` for a row without text).

        ``compressed`` defaults to ``True`` for the modern schema. Dates advance by one minute per step
        unless given (Cocoa-epoch seconds).
        """
        if compressed is None:
            compressed = self.schema == "modern"
        text: str | bytes | None = None
        if settings is not None:
            text = self._text_cell(settings if isinstance(settings, str) else lua_settings_text(settings), compressed)
        if date is None:
            self._clock += 60.0
            date = self._clock
        return self._insert(
            "Adobe_libraryImageDevelopHistoryStep",
            dateCreated=date,
            image=image,
            name=name,
            relValueString="",
            text=text,
            valueString=value_string or "",
        )

    def add_collection(self, name: str, parent: int | None = None, *, kind: str = "collection") -> int:
        """A collection (``kind="collection"``), collection set (``"group"``) or smart collection."""
        return self._insert("AgLibraryCollection", name=name, parent=parent, creationId=_KIND[kind])

    def add_to_collection(self, collection: int, image: int) -> int:
        """Put an image into a collection."""
        return self._insert("AgLibraryCollectionImage", collection=collection, image=image)

    def close(self) -> None:
        """Commit and close."""
        self.db.commit()
        self.db.close()

    def __enter__(self) -> CatalogBuilder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Order in which the fixture's experts move the sliders (history step names), per expert index.
FIVEK_HISTORY_ORDER: dict[str, tuple[str, ...]] = {
    "A": ("Exposure", "Contrast", "Brightness", "White Balance"),
    "B": ("White Balance", "Exposure", "Fill Light"),
    "C": ("Contrast", "Fill Light", "Exposure", "Highlight Recovery", "Vibrance"),
    "D": ("Brightness", "Exposure"),
    "E": ("Vibrance", "Exposure", "Contrast"),
}


def fivek_expert_settings(index: int, expert: str, kelvin: int, tint: int) -> dict[str, Any]:
    """The fixture's edit of photo ``index`` by ``expert``, FiveK style (no ProcessVersion, zeros omitted).

    Only the keys its :data:`FIVEK_HISTORY_ORDER` steps move differ from the import defaults.
    """
    k = "ABCDE".index(expert)
    steps = FIVEK_HISTORY_ORDER[expert]
    settings: dict[str, Any] = {
        "AutoGrayscaleMix": True,
        "CameraProfile": "ACR 4.4",
        "ConvertToGrayscale": False,
        "RedEyeInfo": {},
        "RetouchInfo": {},
        "Shadows": 5,
        "Brightness": 50,
        "Contrast": 25,
        "Sharpness": 25,
        "ToneCurve": [0, 0, 255, 255],
        "ToneCurveName": "Linear",
        "Version": "5.4",
        "WhiteBalance": "As Shot",
    }
    for step in steps:
        if step == "Exposure":
            settings["Exposure"] = round(0.25 * (k + 1) + 0.1 * index, 2)
        elif step == "Contrast":
            settings["Contrast"] = 25 + 10 * (k + 1)
        elif step == "Brightness":
            settings["Brightness"] = 50 + 5 * (k + 1)
        elif step == "White Balance":
            settings.update(WhiteBalance="Custom", Temperature=kelvin + 250 * (k + 1), Tint=tint + k + 1)
        elif step == "Fill Light":
            settings["FillLight"] = 4 * (k + 1) + index
        elif step == "Highlight Recovery":
            settings["HighlightRecovery"] = 12 + index
        elif step == "Vibrance":
            settings["Vibrance"] = 7 * (k + 1)
    return settings


@dataclass
class FivekPhoto:
    """What the fixture wrote for one photo.

    Attributes:
        base_name: file name without extension.
        path: absolute path a reader must report.
        master: master image id.
        zeroed: id of its ``InputAsShotZeroed`` virtual copy.
        as_shot: (kelvin, tint) recorded by the ``InputAsShotZeroed`` copy.
        experts: expert -> (copy image id, its settings).
    """

    base_name: str
    path: str
    master: int
    zeroed: int
    as_shot: tuple[int, int]
    experts: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)


@dataclass
class FivekFixture:
    """A generated FiveK-layout catalog.

    Attributes:
        path: the catalog file.
        photos: one entry per photo, in import order.
        collections: collection path -> id (``"Experts/C"``, ``"Inputs/InputAsShotZeroed"``).
    """

    path: Path
    photos: list[FivekPhoto]
    collections: dict[str, int]


def make_fivek_catalog(
    path: str | Path,
    *,
    photos: int = 3,
    experts: Sequence[str] = ("A", "B", "C", "D", "E"),
    schema: str = "lr3",
    as_copies_only: bool = False,
) -> FivekFixture:
    """A catalog in FiveK's layout with ``photos`` DNGs, each edited by every expert.

    Per photo: the master (default import settings and an Import history step), an ``InputAsShotZeroed``
    virtual copy (as-shot WB with explicit Temperature/Tint, tone sliders zero; plus an empty extra
    settings row), and one virtual copy per expert whose history is an Import step followed by the
    :data:`FIVEK_HISTORY_ORDER` steps, each carrying the full settings after it. A decoy collection ``C``
    outside ``Experts`` tests that lookups respect the parent set.

    Args:
        path: catalog file to create.
        photos: number of photos.
        experts: expert names.
        schema: ``"lr3"`` or ``"modern"`` (compressed history text).
        as_copies_only: no collections at all; expert copies are found by ``copyName`` only.
    """
    with CatalogBuilder(path, schema=schema) as b:
        root = b.add_root("D:/fivek_dataset/raw_photos/")
        folder = b.add_folder(root, "HQa1to700/photos/")
        cols: dict[str, int] = {}
        if not as_copies_only:
            experts_set = b.add_collection("Experts", kind="group")
            inputs_set = b.add_collection("Inputs", kind="group")
            cols["Inputs/InputAsShotZeroed"] = b.add_collection("InputAsShotZeroed", inputs_set)
            for e in experts:
                cols[f"Experts/{e}"] = b.add_collection(e, experts_set)
            decoy = b.add_collection("C", b.add_collection("Other", kind="group"))
            cols["Other/C"] = decoy
        written: list[FivekPhoto] = []
        for i in range(photos):
            base = f"a{i + 1:04d}-fixture_{i}"
            kelvin, tint = 4500 + 400 * i, 2 * i - 1
            file = b.add_file(folder, base, "dng")
            master = b.add_image(file, file_format="DNG", capture_time=f"2008-0{1 + i % 9}-1{i % 10}T12:00:00")
            imported = default_import_settings(kelvin, tint)
            b.set_settings(master, imported)
            b.add_history_step(master, "Import (07/02/2012 22:58:22)", imported)
            if not as_copies_only:
                b.add_to_collection(decoy, master)
            zeroed = {
                **imported,
                "Brightness": 0,
                "Contrast": 0,
                "Shadows": 0,
                "Sharpness": 0,
                "ToneCurve": [0, 0, 255, 255],
                "ToneCurveName": "Linear",
            }
            zero_copy = b.add_image(file, file_format="DNG", master=master, copy_name="InputAsShotZeroed")
            b.set_settings(zero_copy, zeroed, empty_rows=1)
            if not as_copies_only:
                b.add_to_collection(cols["Inputs/InputAsShotZeroed"], zero_copy)
            photo = FivekPhoto(
                base, f"D:/fivek_dataset/raw_photos/HQa1to700/photos/{base}.dng", master, zero_copy, (kelvin, tint)
            )
            for e in experts:
                final = fivek_expert_settings(i, e, kelvin, tint)
                copy = b.add_image(file, file_format="DNG", master=master, copy_name=e)
                moved = {key for keys in _STEP_KEYS.values() for key in keys}
                state = {k: v for k, v in final.items() if k not in moved}
                state.update(Brightness=50, Contrast=25, WhiteBalance="As Shot")
                b.add_history_step(copy, "Import (07/02/2012 22:58:22)", state)
                for step in FIVEK_HISTORY_ORDER[e]:
                    state = {**state, **{k: final[k] for k in _STEP_KEYS[step] if k in final}}
                    b.add_history_step(copy, step, state)
                assert state == final, (state, final)
                b.set_settings(copy, final)
                if not as_copies_only:
                    b.add_to_collection(cols[f"Experts/{e}"], copy)
                photo.experts[e] = (copy, final)
            written.append(photo)
    return FivekFixture(Path(path), written, cols)


_STEP_KEYS: dict[str, tuple[str, ...]] = {
    "Exposure": ("Exposure",),
    "Contrast": ("Contrast",),
    "Brightness": ("Brightness",),
    "White Balance": ("WhiteBalance", "Temperature", "Tint"),
    "Fill Light": ("FillLight",),
    "Highlight Recovery": ("HighlightRecovery",),
    "Vibrance": ("Vibrance",),
}
