"""One folder walk: the daemon's batch requests find exactly the photos a local `catalog` run finds."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from backend.batch.walk import NO_PHOTOS, FolderWalk, find_photos
from backend.daemon.walk import expand_paths
from testing.fixtures import make_jpeg, make_png


def test_daemon_and_cli_walk_a_folder_alike(tmp_path: Path) -> None:
    root = tmp_path / "shoot"
    (root / "day2").mkdir(parents=True)
    (root / ".hidden").mkdir()
    make_jpeg(root, "b.jpg")
    make_png(root / "day2", "a.png")
    shutil.copy(root / "b.jpg", root / "no_extension")  # a photo by content
    shutil.copy(root / "b.jpg", root / ".c.jpg")  # hidden: skipped
    shutil.copy(root / "b.jpg", root / ".hidden" / "d.jpg")  # in a hidden folder: skipped
    (root / "b.jpg.xmp").write_text("<x:xmpmeta/>")  # a sidecar: never a photo
    (root / "notes.txt").write_text("not a photo")
    os.symlink(root / "day2", root / "link_to_day2")  # a symlinked folder: not followed
    local = list(find_photos([root]).photos)
    remote = expand_paths([root], recursive=True, limit=100)
    assert remote == local == [root / "b.jpg", root / "no_extension", root / "day2" / "a.png"]
    assert expand_paths([root], recursive=False, limit=100) == [root / "b.jpg", root / "no_extension"]


def test_folder_walk_notes_what_it_left_out_and_an_empty_folder(tmp_path: Path) -> None:
    from backend.batch.walk import NO_PHOTOS, FolderWalk

    empty = tmp_path / "empty"
    (empty / ".hidden").mkdir(parents=True)  # hidden only: still no photos
    walk = FolderWalk(empty, note_empty=True)
    assert list(walk) == [] and walk.errors == []
    assert walk.skipped == [(empty, f"{empty}: {NO_PHOTOS}")]
    quiet = FolderWalk(empty)
    assert list(quiet) == [] and quiet.skipped == []  # without note_empty: nothing named (the catalog's way)

    linked = tmp_path / "linked"
    linked.mkdir()
    os.symlink(tmp_path / "gone", linked / "broken.jpg")
    walk = FolderWalk(linked, note_empty=True)
    assert list(walk) == []
    assert [where for where, _ in walk.skipped] == [linked / "broken.jpg"]  # left out with a reason: not "empty"


def test_revert_folder_and_daemon_name_an_empty_folder_alike(tmp_path: Path) -> None:
    from backend.cli.outcome_report import expand_folders

    (tmp_path / "empty").mkdir()
    folder = tmp_path / "empty"
    photos, notes = expand_folders([folder], "both")
    skipped: list[tuple[Path, str]] = []
    assert expand_paths([folder], recursive=True, limit=10, skipped=skipped, empty=True) == photos == []
    assert {(o.photo, o.action, o.reason) for o in notes} == {(folder, "skipped", "no photos in this folder")}
    assert skipped == [(folder, f"{folder}: no photos in this folder")]


def test_a_folder_walk_is_iterated_once(tmp_path: Path) -> None:
    walk = FolderWalk(tmp_path, note_empty=True)
    assert list(walk) == [] and walk.skipped == [(tmp_path, f"{tmp_path}: {NO_PHOTOS}")]
    with pytest.raises(RuntimeError, match="iterated once"):
        list(walk)
    assert len(walk.skipped) == 1  # nothing listed twice
