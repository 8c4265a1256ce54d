"""The selection folder autoretouch links is known by its marker file, and by nothing else.

:func:`trainer.data.selection.linked_folder` writes ``.autoretouch-selection`` (a small JSON: a version and what the
selection was made for) into the folder it makes, as a regular file written atomically, kept or rewritten when the
folder is made again; :func:`trainer.data.selection.is_selection` recognises a selection by it only: a link, a
folder, text that is not that JSON (3000 ``[`` raised RecursionError), another version, are no marker (the folder
is then a user's), nor is a marker made for photos a darktable selection. A user's file of the marker's name is
refused, not overwritten. A user's folder of links is read as the user's however it looks
(``tests/test_train_darktable_link_chains.py``); one that looks like an earlier version's unmarked selection is
read so with a warning. No photo is decoded.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from backend.errors import NotFoundError
from testing.darktable_copies import EMPTY_HISTORY
from testing.darktable_selection import darktable_train_args, selected_photos
from testing.training import tiny_pairs_config
from trainer.cli import _darktable_dir
from trainer.config import config_from_dict
from trainer.darktable_pairs import _is_selection, load_darktable_pair_set
from trainer.data.given import folder_record, unread_subfolders
from trainer.data.selection import (
    _MARKER_LIMIT,
    MARKER,
    SelectionError,
    darktable_selection,
    is_selection,
    linked_folder,
    selection_given,
    unmarked_selection,
)


def _content(folder: Path) -> object:
    marker = folder / MARKER
    assert marker.is_file() and not marker.is_symlink()
    return json.loads(marker.read_text(encoding="utf-8"))


def test_a_selection_is_marked_and_known_by_its_marker(tmp_path: Path) -> None:
    a, b = selected_photos(tmp_path / "dt", "a.jpg", "b.jpg")
    linked = _darktable_dir(darktable_train_args(a, b), tmp_path / "run")
    assert _content(linked) == {
        "autoretouch": "selection",
        "version": 1,
        "for": "darktable edits",
        "given": [str(a), str(b)],  # what was given, as the record names it (selection_given)
    }
    assert is_selection(linked) and _is_selection(linked)
    (linked / ".DS_Store").write_bytes(b"finder")
    again = _darktable_dir(darktable_train_args(b), tmp_path / "run")  # made again: the marker rewritten, kept
    assert is_selection(again)
    assert sorted(p.name for p in again.iterdir()) == [".DS_Store", MARKER, "b.jpg", "b.jpg.xmp"]
    photos = linked_folder(tmp_path / "favs", [a], with_sidecars=False)  # the daemon's favourite files
    assert _content(photos) == {"autoretouch": "selection", "version": 1, "for": "photos", "given": [str(a)]}
    assert is_selection(photos) and is_selection(photos, with_sidecars=False)
    assert not is_selection(photos, with_sidecars=True) and not _is_selection(photos)  # not darktable edits
    assert is_selection(linked, with_sidecars=True) and not is_selection(linked, with_sidecars=False)
    assert linked_folder(tmp_path / "favs", [b], with_sidecars=True) == photos  # our marker, rewritten
    assert _content(photos)["for"] == "darktable edits"  # type: ignore[index]
    assert a.is_file() and b.is_file()


def test_the_marker_records_what_was_given_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folders and files as the user named them (not the photos listed from a folder), absolute, each once."""
    a, b = selected_photos(tmp_path / "dt", "a.jpg", "b.jpg")
    monkeypatch.chdir(tmp_path)
    given = [Path("dt"), Path("dt/../dt/a.jpg"), Path("dt/a.jpg"), Path("dt/b.jpg.xmp")]
    linked = _darktable_dir(darktable_train_args(*given), tmp_path / "run")
    assert selection_given(linked) == [str(tmp_path / "dt"), str(a), str(b) + ".xmp"]
    assert sorted(p.name for p in linked.iterdir() if p.name != MARKER) == ["a.jpg", "a.jpg.xmp", "b.jpg", "b.jpg.xmp"]
    # a marker written before it recorded them (or too long a list): still a selection, nothing given
    (linked / MARKER).write_text('{"autoretouch": "selection", "version": 1, "for": "darktable edits"}')
    assert is_selection(linked) and selection_given(linked) is None
    monkeypatch.setattr("trainer.data.selection._MARKER_LIMIT", 100)
    again = linked_folder(tmp_path / "run" / "selection", [a], with_sidecars=True)
    assert is_selection(again) and selection_given(again) is None
    assert selection_given(tmp_path / "dt") is None  # a user's folder


def test_a_folder_of_links_without_the_marker_is_no_selection(tmp_path: Path) -> None:
    a, b = selected_photos(tmp_path / "dt", "a.jpg", "b.jpg")
    folder = tmp_path / "run" / "selection"  # as autoretouch names it, absolute links only: still the user's
    folder.mkdir(parents=True)
    for photo in (a, b):
        (folder / photo.name).symlink_to(photo)
        (folder / (photo.name + ".xmp")).symlink_to(Path(str(photo) + ".xmp"))
    assert not is_selection(folder)
    assert not is_selection(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'"selection"',
        b'{"autoretouch": "selection", "version": 2, "for": "darktable edits"}',
        b'{"autoretouch": "selection", "version": true, "for": "darktable edits"}',
        b'{"autoretouch": "selection", "version": 1.0, "for": "darktable edits"}',
        b'{"autoretouch": "selection", "version": "1", "for": "darktable edits"}',
        b'{"autoretouch": "selection", "version": 1, "for": "something else"}',
        b'{"autoretouch": "catalog", "version": 1, "for": "photos"}',
        b'{"autoretouch": "selection", "version": 1}',
        b'{"autoretouch": "selection", "version": 1, "for": "photos", "more": 0}',
        b'{"autoretouch": "selection", "version": 1, "for": "photos"' + b" " * _MARKER_LIMIT + b"}",
        b'{"autoretouch": "selection", "version": 1, "for": "photos", "given": "/a.jpg"}',
        b'{"autoretouch": "selection", "version": 1, "for": "photos", "given": [1]}',
        b'{"autoretouch": "selection", "version": 1, "for": "photos", "given": ["a.jpg"]}',  # not absolute
        b"[" * 3000,
        b"[" * 500,
        b"{" * 500,
        b'{"a":' * 80 + b"1" + b"}" * 80,
        b'{"a":' + b"[" * 4000 + b"}",  # nested past the recursion limit, under the size limit
        b'[{"autoretouch": "selection", "version": 1, "for": "photos"}]',
    ],
)
def test_an_odd_marker_is_no_marker(tmp_path: Path, content: bytes) -> None:
    (a,) = selected_photos(tmp_path / "dt", "a.jpg")
    linked = linked_folder(tmp_path / "selection", [a], with_sidecars=True)
    (linked / MARKER).write_bytes(content)
    assert not is_selection(linked)


def test_a_marker_that_is_a_link_or_a_folder_is_no_marker(tmp_path: Path) -> None:
    (a,) = selected_photos(tmp_path / "dt", "a.jpg")
    real = linked_folder(tmp_path / "real", [a], with_sidecars=True)
    users = tmp_path / "users"
    users.mkdir()
    (users / "a.jpg").symlink_to(a)
    (users / MARKER).symlink_to(real / MARKER)  # a link to a true marker
    assert not is_selection(users)
    (users / MARKER).unlink()
    (users / MARKER).mkdir()
    assert not is_selection(users)


def test_making_a_selection_replaces_a_linked_marker_and_refuses_a_folder_in_its_way(tmp_path: Path) -> None:
    (a,) = selected_photos(tmp_path / "dt", "a.jpg")
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("mine", encoding="utf-8")
    folder = tmp_path / "run" / "selection"
    folder.mkdir(parents=True)
    (folder / MARKER).symlink_to(elsewhere)
    linked_folder(folder, [a], with_sidecars=True)
    assert _content(folder)  # a regular file now, the link's target untouched
    assert elsewhere.read_text(encoding="utf-8") == "mine"
    other = tmp_path / "run2" / "selection"
    (other / MARKER).mkdir(parents=True)
    (other / MARKER / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SelectionError, match=r"\.autoretouch-selection: a folder of the user's is in the way"):
        linked_folder(other, [a], with_sidecars=True)
    assert (other / MARKER / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert not is_selection(other)


def test_making_a_selection_refuses_a_users_file_of_the_markers_name(tmp_path: Path) -> None:
    (a,) = selected_photos(tmp_path / "dt", "a.jpg")
    folder = linked_folder(tmp_path / "run" / "selection", [a], with_sidecars=True)
    (folder / MARKER).write_text("my notes", encoding="utf-8")
    with pytest.raises(SelectionError, match=r"\.autoretouch-selection: a file of the user's is in the way"):
        linked_folder(folder, [a], with_sidecars=True)
    assert (folder / MARKER).read_text(encoding="utf-8") == "my notes"  # was overwritten
    assert sorted(p.name for p in folder.iterdir()) == [MARKER, "a.jpg", "a.jpg.xmp"]  # nothing removed


def test_an_earlier_versions_unmarked_selection_is_read_as_the_users_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = selected_photos(tmp_path / "dt", "a.jpg", "b.jpg", sidecar=EMPTY_HISTORY)  # nothing to render
    old = tmp_path / "runs" / "old" / "selection"  # as an autoretouch before the marker linked it
    old.mkdir(parents=True)
    for photo in (a, b):
        (old / photo.name).symlink_to(photo)
    (old / ".DS_Store").write_bytes(b"finder")
    assert unmarked_selection(old) and not _is_selection(old)
    relative = tmp_path / "runs" / "rel" / "selection"
    relative.mkdir(parents=True)
    (relative / "a.jpg").symlink_to("../../../dt/a.jpg")
    marked = _darktable_dir(darktable_train_args(a, b), tmp_path / "run")
    named = tmp_path / "links"
    named.symlink_to(old)  # the folder itself named otherwise
    for folder in (relative, marked, named, tmp_path / "dt", tmp_path / "nowhere" / "selection"):
        assert not unmarked_selection(folder), folder
    cfg = config_from_dict(tiny_pairs_config(["exposure"], "s"))
    with caplog.at_level(logging.WARNING, logger="trainer.darktable_pairs"), pytest.raises(NotFoundError):
        load_darktable_pair_set(cfg, old, ("exposure",))
    assert f"{old}: read as your own folder of links: it has no {MARKER}" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="trainer.darktable_pairs"), pytest.raises(NotFoundError):
        load_darktable_pair_set(cfg, marked, ("exposure",))
    assert "read as your own folder" not in caplog.text


def test_making_a_selection_rewrites_another_versions_marker(tmp_path: Path) -> None:
    (a,) = selected_photos(tmp_path / "dt", "a.jpg")
    folder = linked_folder(tmp_path / "run" / "selection", [a], with_sidecars=True)
    other = {"autoretouch": "selection", "version": 2, "for": "something new", "more": [1]}
    (folder / MARKER).write_text(json.dumps(other), encoding="utf-8")
    assert not is_selection(folder)  # not one this version reads
    (b,) = selected_photos(tmp_path / "dt", "b.jpg")
    linked_folder(folder, [b], with_sidecars=True)  # was refused: "a file of the user's is in the way"
    assert _content(folder) == {"autoretouch": "selection", "version": 1, "for": "darktable edits", "given": [str(b)]}
    assert sorted(p.name for p in folder.iterdir()) == [MARKER, "b.jpg", "b.jpg.xmp"]
    (folder / MARKER).write_text('{"autoretouch": "catalog", "version": 1}', encoding="utf-8")  # not ours
    with pytest.raises(SelectionError, match=r"a file of the user's is in the way"):
        linked_folder(folder, [a], with_sidecars=True)


def test_an_earlier_versions_unmarked_selection_given_as_dot_is_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (a,) = selected_photos(tmp_path / "dt", "a.jpg")
    old = tmp_path / "runs" / "old" / "selection"
    old.mkdir(parents=True)
    (old / "a.jpg").symlink_to(a)
    monkeypatch.chdir(old)
    assert unmarked_selection(".") and unmarked_selection("../selection")  # "." was not named selection
    monkeypatch.chdir(tmp_path / "dt")
    assert not unmarked_selection(".")


def test_the_record_reads_a_selection_made_for_the_other_purpose_as_the_users_folder(tmp_path: Path) -> None:
    """A favourites selection given as --darktable is the user's folder there (as it is read), and the reverse."""
    a, _ = selected_photos(tmp_path / "dt", "a.jpg", "b.jpg")
    selected_photos(tmp_path / "dt" / "sub", "c.jpg")
    favourites = linked_folder(tmp_path / "favs" / "selection", [a], with_sidecars=False)
    dt = [tmp_path / "dt"]
    edits = linked_folder(tmp_path / "run" / "selection", darktable_selection(dt), with_sidecars=True, given=dt)
    assert folder_record("targets", favourites, with_sidecars=False) == {"targets_dir": None, "targets_given": [str(a)]}
    assert folder_record("darktable", favourites, with_sidecars=True) == {"darktable_dir": str(favourites.resolve())}
    assert folder_record("darktable", edits, with_sidecars=True)["darktable_given"] == [str(tmp_path / "dt")]
    assert folder_record("targets", edits, with_sidecars=False) == {"targets_dir": str(edits.resolve())}
    assert unread_subfolders(edits, with_sidecars=True) == [str(tmp_path / "dt" / "sub")]
    assert unread_subfolders(edits, with_sidecars=False) == []  # the links' folder has no subfolders
