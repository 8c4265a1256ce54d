"""``catalog --lrcat``: a catalog moved together with its photos finds them as ``train --lrcat`` does.

The rule (:func:`backend.batch.lrcat_paths.locate_catalog_file`): the path the catalog records, else its tail
below the catalog's folder. A PATH under which none of the catalog's photos lies is reported, not silently
passed over.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from backend.batch import run_batch
from backend.batch.lrcat_paths import locate_catalog_file
from backend.cli.main import main
from testing.lrcat_fixtures import CatalogBuilder
from tests.test_batch_support import make_photos, make_style
from trainer.pseudo_labels import find_photo

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _moved_catalog(tmp_path: Path) -> Path:
    """``x/cat.lrcat`` with root ``x/photos/`` and one photo ``p0.jpg``, then ``x`` moved to ``xmoved``."""
    (photo,) = make_photos(tmp_path / "x" / "photos", 1, prefix="p")
    photo.rename(photo.with_name("p0.jpg"))
    with CatalogBuilder(tmp_path / "x" / "cat.lrcat", schema="modern") as b:
        folder = b.add_folder(b.add_root(str(tmp_path / "x" / "photos") + "/"), "")
        b.add_image(b.add_file(folder, "p0", "jpg"), file_format="JPG")
    shutil.move(tmp_path / "x", tmp_path / "xmoved")
    return tmp_path / "xmoved" / "cat.lrcat"


def test_locate_catalog_file(tmp_path: Path) -> None:
    (tmp_path / "cat" / "photos" / "2024").mkdir(parents=True)
    moved = tmp_path / "cat" / "photos" / "2024" / "p.jpg"
    moved.write_bytes(b"x")
    assert locate_catalog_file(moved, tmp_path / "cat") == (moved, "recorded")
    for recorded in ("/old/place/photos/2024/p.jpg", "C:\\Users\\me\\photos\\2024\\p.jpg"):
        assert locate_catalog_file(recorded, tmp_path / "cat") == (moved, "catalog folder")
    assert locate_catalog_file("/old/place/photos/2024/q.jpg", tmp_path / "cat") is None
    # train finds the originals by the same rule
    assert find_photo("/old/place/photos/2024/p.jpg", "p", tmp_path / "cat", None) == (moved, "catalog folder")


def test_a_catalog_moved_with_its_photos_finds_them(tmp_path: Path) -> None:
    cat = _moved_catalog(tmp_path)
    photo = cat.parent / "photos" / "p0.jpg"
    style = make_style(tmp_path / "styles")
    summary = run_batch(lrcat=cat, hosts="darktable", style=style, jobs=1, dry_run=True)
    assert [(o.photo, o.status) for o in summary.photos] == [(photo, "would-write")]
    narrowed = run_batch([cat.parent / "photos"], lrcat=cat, hosts="darktable", style=style, jobs=1, dry_run=True)
    assert [(o.photo, o.status) for o in narrowed.photos] == [(photo, "would-write")]


def test_a_path_under_which_no_catalog_photo_lies_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cat = _moved_catalog(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    style = make_style(tmp_path / "styles")
    monkeypatch.setenv("AUTORETOUCH_STYLES", str(tmp_path / "styles"))
    argv = ["catalog", "--lrcat", str(cat), "--style", str(style), "--host", "darktable", "--jobs", "1", "--dry-run"]
    assert main([*argv, str(cat.parent / "photos"), str(elsewhere), "--json"]) == 0
    rows = {row["photo"]: row for row in json.loads(capsys.readouterr().out)["photos"]}
    assert rows[str(cat.parent / "photos" / "p0.jpg")]["status"] == "would-write"
    assert rows[str(elsewhere)]["status"] == "skipped"
    assert (
        f"{elsewhere}: none of the photos of the Lightroom catalog {cat} lies under this PATH"
        in (rows[str(elsewhere)]["reason"])
    )


def test_a_bare_file_name_beside_the_catalog_counts_only_from_a_folder_of_its_name(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    cat.mkdir()
    (cat / "IMG_0001.jpg").write_bytes(b"x")  # a camera name that merely lies beside the catalog
    assert locate_catalog_file("/Volumes/Card/2019/IMG_0001.jpg", cat) is None
    assert locate_catalog_file("/old/cat/IMG_0001.jpg", cat) == (cat / "IMG_0001.jpg", "catalog folder")


def test_two_catalog_photos_found_as_one_file_are_both_reported_not_written(tmp_path: Path) -> None:
    from backend.batch.batch import select_photos

    cat = tmp_path / "cat" / "cat.lrcat"
    (cat.parent / "photos").mkdir(parents=True)
    (cat.parent / "photos" / "p.jpg").write_bytes(b"x")
    with CatalogBuilder(cat, schema="modern") as b:
        for old in ("/Volumes/A/photos/", "/Volumes/B/photos/"):  # offline; both end in photos/p.jpg
            b.add_image(b.add_file(b.add_folder(b.add_root(old), ""), "p", "jpg"), file_format="JPG")
    sel = select_photos([], cat)
    assert sel.photos == []
    reasons = sorted(why for _, why, _ in sel.failed)
    assert len(reasons) == 2 and all("stands for another catalog photo too" in r for r in reasons), reasons
    assert reasons[0].startswith("/Volumes/A/photos/p.jpg: ") and "(/Volumes/B/photos/p.jpg)" in reasons[0]


def test_a_file_the_catalog_records_for_one_photo_is_not_taken_for_another_by_name(tmp_path: Path) -> None:
    from backend.batch.batch import select_photos

    cat = tmp_path / "cat" / "cat.lrcat"
    (cat.parent / "photos").mkdir(parents=True)
    own = cat.parent / "photos" / "p.jpg"
    own.write_bytes(b"x")
    with CatalogBuilder(cat, schema="modern") as b:
        for root in (str(cat.parent / "photos") + "/", "/Volumes/B/photos/"):
            b.add_image(b.add_file(b.add_folder(b.add_root(root), ""), "p", "jpg"), file_format="JPG")
    sel = select_photos([], cat)
    assert sel.photos == [own]
    ((photo, why, _),) = sel.failed
    assert str(photo) == "/Volumes/B/photos/p.jpg"
    assert why.endswith(
        f"{own} below the catalog's folder has its name but is where the catalog records another of its photos"
    )


def test_a_path_of_another_system_is_named_as_recorded_never_looked_up_below_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Windows catalog read on Linux: ``C:/Users/...`` is not a path relative to where the command runs."""
    (tmp_path / "cat").mkdir()
    with CatalogBuilder(tmp_path / "cat" / "cat.lrcat", schema="modern") as b:
        folder = b.add_folder(b.add_root("C:/Users/me/Pictures/"), "2011/")
        b.add_image(b.add_file(folder, "DSC_1", "jpg"), file_format="JPG")
    work = tmp_path / "work"  # a file at WORK/C:/Users/me/Pictures/2011/DSC_1.jpg is not the catalog's photo
    (decoy,) = make_photos(work / "C:" / "Users" / "me" / "Pictures" / "2011", 1, prefix="DSC_")
    decoy.rename(decoy.with_name("DSC_1.jpg"))
    monkeypatch.chdir(work)
    assert locate_catalog_file("C:/Users/me/Pictures/2011/DSC_1.jpg", tmp_path / "cat") is None
    style = make_style(tmp_path / "styles")
    summary = run_batch(lrcat=tmp_path / "cat" / "cat.lrcat", hosts="darktable", style=style, jobs=1, dry_run=True)
    assert [(str(o.photo), o.status) for o in summary.photos] == [("C:/Users/me/Pictures/2011/DSC_1.jpg", "failed")]
    assert summary.photos[0].reason.startswith("C:/Users/me/Pictures/2011/DSC_1.jpg: listed in the Lightroom catalog")
    assert not list(work.rglob("*.xmp"))
