from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from testing.lrcat_fixtures import (
    FIVEK_HISTORY_ORDER,
    CatalogBuilder,
    check_refuses_non_catalogs,
    default_import_settings,
    make_fivek_catalog,
)
from trainer.lrcat import (
    CatalogError,
    SettingsParseError,
    expert_image_ids,
    expert_settings,
    open_catalog,
)
from trainer.lrcat.reader import LightroomCatalog


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_photo_catalog(path: Path, *, schema: str = "lr3") -> dict[str, int]:
    with CatalogBuilder(path, schema=schema) as b:
        root = b.add_root("C:/Users/david/Pictures/2011/11/06/")
        folder = b.add_folder(root, "")
        file = b.add_file(folder, "DSC_8793", "NEF")
        image = b.add_image(file, capture_time="2011-11-06T00:16:03.08")
        settings = default_import_settings(5650, -1)
        row = b.set_settings(image, settings, empty_rows=1)
        step = b.add_history_step(image, "Import (07/02/2012 22:58:22)", settings, date=350348302.893978)
        edited = {**settings, "Exposure": 0.5}
        b.add_history_step(image, "Exposure", edited, value_string="+0.50", date=350348400.0)
        b.set_settings(image, edited)
        return {"image": image, "row": row, "step": step}


@pytest.mark.parametrize("schema", ["lr3", "modern"])
def test_reads_photo_path_time_settings_history(tmp_path: Path, schema: str) -> None:
    cat = tmp_path / "one.lrcat"
    ids = _one_photo_catalog(cat, schema=schema)
    with open_catalog(cat) as c:
        assert c.db_version == ("0300025" if schema == "lr3" else "1400000")
        assert c.count_photos() == 1
        (photo,) = list(c.photos())
    assert photo.id == ids["image"]
    assert photo.path == "C:/Users/david/Pictures/2011/11/06/DSC_8793.NEF"
    assert (photo.base_name, photo.extension, photo.file_format) == ("DSC_8793", "NEF", "RAW")
    assert photo.capture_time == datetime(2011, 11, 6, 0, 16, 3, 80000)
    assert photo.settings["Exposure"] == 0.5  # the cached (latest) row, not the first one
    assert photo.settings_row is not None and photo.settings_row != ids["row"]
    assert photo.process_version == "5.7" and photo.is_raw and not photo.is_virtual_copy
    assert [s.name for s in photo.history] == ["Import (07/02/2012 22:58:22)", "Exposure"]
    assert photo.history[0].date == datetime(2012, 2, 7, 22, 58, 22, 893978, tzinfo=UTC)
    assert photo.history[1].value_string == "+0.50"
    assert photo.history[0].settings["Exposure"] == 0 and photo.history[1].settings["Exposure"] == 0.5


def test_modern_history_is_stored_compressed(tmp_path: Path) -> None:
    cat = tmp_path / "modern.lrcat"
    _one_photo_catalog(cat, schema="modern")
    raw = sqlite3.connect(cat).execute("SELECT text FROM Adobe_libraryImageDevelopHistoryStep").fetchall()
    assert all(isinstance(r[0], bytes) and r[0][4] == 0x78 for r in raw)
    with open_catalog(cat) as c:
        assert next(c.photos()).history[1].settings["Exposure"] == 0.5


def test_folder_paths_join(tmp_path: Path) -> None:
    cat = tmp_path / "paths.lrcat"
    with CatalogBuilder(cat) as b:
        root = b.add_root("/photos/")
        a = b.add_image(b.add_file(b.add_folder(root, "2012/trip/"), "IMG_1", "CR2"))
        root2 = b.add_root("/no/slash")
        c2 = b.add_image(b.add_file(b.add_folder(root2, "sub"), "IMG_2", "jpg"), file_format="JPG", capture_time=None)
    with open_catalog(cat) as c:
        photos = {p.id: p for p in c.photos(with_history=False)}
    assert photos[a].path == "/photos/2012/trip/IMG_1.CR2"
    assert photos[c2].path == "/no/slash/sub/IMG_2.jpg"
    assert photos[c2].capture_time is None and photos[c2].settings == {} and photos[c2].settings_row is None
    assert not photos[c2].is_raw


def test_catalog_is_never_written(tmp_path: Path) -> None:
    cat = tmp_path / "ro.lrcat"
    _one_photo_catalog(cat)
    before = _digest(cat)
    with open_catalog(cat) as c:
        list(c.photos())
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"):
            c._db.execute("DELETE FROM Adobe_images")
    assert _digest(cat) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro.lrcat"]


def test_wal_present_disables_immutable(tmp_path: Path) -> None:
    cat = tmp_path / "wal.lrcat"
    _one_photo_catalog(cat)
    db = sqlite3.connect(cat)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("UPDATE Adobe_imageDevelopSettings SET text = replace(text, 'Exposure = 0.5', 'Exposure = 1.25')")
    db.commit()
    assert (tmp_path / "wal.lrcat-wal").exists()
    try:
        with open_catalog(cat) as c:
            assert not c.immutable
            assert next(c.photos()).settings["Exposure"] == 1.25  # committed data living in the WAL
    finally:
        db.close()


_CRASH_MID_WRITE = """
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA cache_size = 1")  # spill the change into the catalog file before the commit
db.execute("BEGIN")
db.execute("UPDATE Adobe_imageDevelopSettings SET text = replace(text, 'Exposure = 0.5', 'Exposure = 4.0')")
for _ in range(2000):
    db.execute("INSERT INTO Adobe_variablesTable (id_global, name, value) VALUES (hex(randomblob(16)), 'x', ?)",
               (os.urandom(400),))
os._exit(0)  # Lightroom killed while saving: the journal stays behind
"""


def test_a_catalog_left_mid_write_is_refused_not_read_half_changed(tmp_path: Path) -> None:
    import subprocess
    import sys

    from backend.batch.lrcat_paths import connect_readonly
    from backend.errors import CatalogError

    cat = tmp_path / "hot.lrcat"
    _one_photo_catalog(cat)
    subprocess.run([sys.executable, "-c", _CRASH_MID_WRITE, str(cat)], check=True, timeout=120)
    journal = tmp_path / "hot.lrcat-journal"
    assert journal.stat().st_size > 0
    with pytest.raises(CatalogError, match=r"hot\.lrcat-journal beside it holds a change Lightroom has not"):
        connect_readonly(cat)
    with pytest.raises(CatalogError, match="not finished saving"):
        open_catalog(cat)
    link = tmp_path / "elsewhere" / "link.lrcat"  # a catalog opened through a link (~/cat.lrcat -> /Volumes/...)
    link.parent.mkdir()
    link.symlink_to(cat)
    with pytest.raises(CatalogError, match=r"hot\.lrcat-journal"):
        open_catalog(link)
    db = sqlite3.connect(cat)  # what Lightroom does on its next start: SQLite rolls the change back
    db.execute("SELECT count(*) FROM sqlite_master").fetchall()
    db.close()
    with open_catalog(cat) as c:
        assert next(c.photos()).settings["Exposure"] == 0.5  # the saved value, never the unsaved 4.0


def test_settings_row_selection(tmp_path: Path) -> None:
    cat = tmp_path / "rows.lrcat"
    with CatalogBuilder(cat) as b:
        folder = b.add_folder(b.add_root("/r/"))
        no_cache = b.add_image(b.add_file(folder, "a", "dng"))
        b.set_settings(no_cache, {"Exposure": 1.0}, empty_rows=2, cache=False)
        ambiguous = b.add_image(b.add_file(folder, "b", "dng"))
        b.set_settings(ambiguous, {"Exposure": 1.0}, cache=False)
        b.set_settings(ambiguous, {"Exposure": 2.0}, cache=False)
    with open_catalog(cat) as c:
        assert c.photo(no_cache).settings == {"Exposure": 1.0}
        with pytest.raises(CatalogError, match="several different non-empty settings rows") as info:
            c.photo(ambiguous)
    assert info.value.catalog == cat


def test_bad_settings_text_names_catalog_and_row(tmp_path: Path) -> None:
    cat = tmp_path / "bad.lrcat"
    with CatalogBuilder(cat) as b:
        image = b.add_image(b.add_file(b.add_folder(b.add_root("/r/")), "x", "dng"))
        row = b.set_settings(image, 's = { Exposure = os.execute("rm -rf /") }')
    with open_catalog(cat) as c, pytest.raises(SettingsParseError) as info:
        list(c.photos())
    message = str(info.value)
    assert str(cat) in message and f"Adobe_imageDevelopSettings id_local={row}" in message and "'os'" in message


def test_not_a_catalog(tmp_path: Path) -> None:
    check_refuses_non_catalogs(tmp_path, open_catalog, CatalogError, missing_table="table Adobe_images is missing")


def test_fivek_layout_collections_and_copies(tmp_path: Path) -> None:
    fx = make_fivek_catalog(tmp_path / "fivek.lrcat", photos=2)
    with LightroomCatalog(fx.path) as c:
        paths = {col.path for col in c.collections()}
        assert {"Experts/A", "Experts/E", "Inputs/InputAsShotZeroed", "Other/C"} <= paths
        ids, where = expert_image_ids(c, "C")
        assert where == "collection Experts/C"
        assert ids == [p.experts["C"][0] for p in fx.photos]
        photo = c.photo(fx.photos[1].experts["C"][0])
        assert photo.is_virtual_copy and photo.master_id == fx.photos[1].master and photo.copy_name == "C"
        assert photo.path == fx.photos[1].path
        assert photo.collections == ("Experts/C",)
        assert c.photo(fx.photos[1].master).collections == ("Other/C",)
        expected = sorted([fx.photos[1].zeroed, *(copy for copy, _ in fx.photos[1].experts.values())])
        assert c.virtual_copies(fx.photos[1].master) == expected
        assert c.virtual_copies_named("D") == [p.experts["D"][0] for p in fx.photos]


@pytest.mark.parametrize("schema", ["lr3", "modern"])
@pytest.mark.parametrize("as_copies_only", [False, True])
def test_expert_settings(tmp_path: Path, schema: str, as_copies_only: bool) -> None:
    fx = make_fivek_catalog(tmp_path / "fivek.lrcat", photos=3, schema=schema, as_copies_only=as_copies_only)
    rows = list(expert_settings(fx.path, "B", expected_count=3))
    assert [photo.id for photo, _, _ in rows] == [p.experts["B"][0] for p in fx.photos]
    for (photo, settings, history), expected in zip(rows, fx.photos, strict=True):
        assert settings == expected.experts["B"][1]
        assert photo.path == expected.path
        assert [s.name for s in history][1:] == list(FIVEK_HISTORY_ORDER["B"])
        assert history[-1].settings == settings


def test_expert_settings_errors(tmp_path: Path) -> None:
    fx = make_fivek_catalog(tmp_path / "fivek.lrcat", photos=2, experts=("A", "C"))
    with pytest.raises(CatalogError, match="2 photos, expected 5000"):
        list(expert_settings(fx.path, "A", expected_count=5000))
    with pytest.raises(CatalogError, match="no expert 'Z'"):
        list(expert_settings(fx.path, "Z"))
    # "C" exists twice (Experts/C and a decoy Other/C): the parent set decides; without it, ambiguous
    assert len(list(expert_settings(fx.path, "C"))) == 2
    with pytest.raises(CatalogError, match="ambiguous"):
        list(expert_settings(fx.path, "C", parent="Nowhere"))


def test_expert_photo_listed_twice_is_an_error(tmp_path: Path) -> None:
    fx = make_fivek_catalog(tmp_path / "fivek.lrcat", photos=1, experts=("A",))
    db = sqlite3.connect(fx.path)
    copy = fx.photos[0].experts["A"][0]
    db.execute(
        "INSERT INTO AgLibraryCollectionImage (id_local, collection, image) VALUES (99999, ?, ?)",
        (fx.collections["Experts/A"], copy),
    )
    db.commit()
    db.close()
    with pytest.raises(CatalogError, match="same photo"):
        list(expert_settings(fx.path, "A"))


def test_as_shot_from_input_as_shot_zeroed_copy(tmp_path: Path) -> None:
    fx = make_fivek_catalog(tmp_path / "fivek.lrcat", photos=2, experts=("A",))
    db = sqlite3.connect(fx.path)
    # Masters without Temperature (as-shot kelvin unknown there): the InputAsShotZeroed copy must be used
    for p in fx.photos:
        db.execute(
            "UPDATE Adobe_imageDevelopSettings SET text = ? WHERE image = ?",
            ('s = { WhiteBalance = "As Shot" }', p.master),
        )
        db.execute("DELETE FROM Adobe_libraryImageDevelopHistoryStep WHERE image = ?", (p.master,))
    db.commit()
    db.close()
    with open_catalog(fx.path) as c:
        for p in fx.photos:
            wb = c.as_shot_white_balance(c.photo(p.experts["A"][0]))
            assert wb is not None
            assert (wb.kelvin, wb.tint) == p.as_shot
            assert wb.source == f"image {p.zeroed} settings"
