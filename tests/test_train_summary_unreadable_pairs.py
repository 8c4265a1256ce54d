"""Photos that ``train --pairs`` and ``train --lrcat --favourites`` leave out are named in the summary.

An empty file, a truncated JPEG, an edit whose original is missing, a catalog favourite whose original is gone:
each is left out, the training goes on with the rest, and the end-of-run summary (printed, also with ``--quiet``,
and ``--json``) names it with the reason, as it does for favourites (``--targets``); the style's training record
keeps the lists (``unreadable_pairs_skipped``, ``unmatched_photos_skipped``) beside the keys it had before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from backend.encode import write_image
from testing.lrcat_fixtures import CatalogBuilder
from testing.training import run_tiny_train, write_exposure_pairs, write_exposure_shots, write_truncated_image
from trainer.synthetic import smooth_images


def _train(tmp_path: Path, source: list[str], *more: str) -> tuple[int, Path]:
    """Run ``autoretouch train`` on ``source`` (2 steps, tiny, not installed): its exit status and run folder."""
    done = run_tiny_train(tmp_path, source, *more)
    return done.rc, done.run


def _notes(out: str) -> list[str]:
    return [line.removeprefix("  note: ") for line in out.splitlines() if line.startswith("  note: ")]


@pytest.fixture()
def pair_folders(tmp_path: Path) -> tuple[Path, Path]:
    """Four good TIFF/JPEG pairs, one with an empty original, one with a truncated edit, one edit alone."""
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    scenes = smooth_images(7, 32, seed=4)
    write_exposure_pairs(before, after, scenes, 4)
    with torch.no_grad():
        (before / "empty.tif").write_bytes(b"")
        write_image(after / "empty.jpg", scenes[4:5])
        write_image(before / "cut.tif", scenes[5:6], bit_depth=16)
        write_truncated_image(after / "cut.jpg", scenes[5:6])
        write_image(after / "lonely.jpg", scenes[6:7])  # its original is missing
    return before, after


def test_pairs_that_cannot_be_read_are_named_in_the_quiet_summary(
    pair_folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = pair_folders
    rc, run = _train(tmp_path, ["--pairs", str(before), str(after)], "--quiet")
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "trained style 's': 2 steps (stopped by steps)" in out
    notes = _notes(out)
    assert notes[0].startswith("2 before/after pairs could not be read, left out: cut (edit cut.jpg: truncated"), notes
    assert notes[0].endswith("; empty (original empty.tif: empty file)"), notes
    assert notes[1] == (
        "1 photo without a partner of the same name in the other folder, left out: "
        "lonely.jpg (an edit without its original)"
    )
    training = json.loads((run / "style" / "s.json").read_text(encoding="utf-8"))["training"]
    assert training["pairs"] == 4  # trained on the rest
    assert [s.split(" (")[0] for s in training["unreadable_pairs_skipped"]] == ["cut", "empty"]
    assert training["unmatched_photos_skipped"] == ["lonely.jpg (an edit without its original)"]
    # the keys it had before stay as they were
    assert training["unmatched"] == 1 and len(training["skipped"]) == 2
    assert str(after / "cut.jpg") in training["skipped"][0] and "notes" not in training


def test_pairs_that_cannot_be_read_are_named_in_the_json_summary(
    pair_folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = pair_folders
    rc, _ = _train(tmp_path, ["--pairs", str(before), str(after)], "--json", "--quiet")
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert summary["steps"] == 2 and summary["learned_from"] == "pairs"
    notes = summary["notes"]
    assert len(notes) == 2, notes  # the same two notes as the printed summary's, unprefixed
    assert notes[0].startswith("2 before/after pairs could not be read, left out: cut (edit cut.jpg: truncated"), notes
    assert notes[0].endswith("; empty (original empty.tif: empty file)"), notes
    assert notes[1] == (
        "1 photo without a partner of the same name in the other folder, left out: "
        "lonely.jpg (an edit without its original)"
    )


def test_good_pairs_keep_the_summary_and_the_record_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trainer.synthetic import write_pair_folders

    before, after, _ = write_pair_folders(tmp_path / "data", n_pairs=4, size=32, seed=4)
    rc, run = _train(tmp_path, ["--pairs", str(before), str(after)], "--quiet")
    out = capsys.readouterr().out
    assert rc == 0 and "note:" not in out, out
    training = json.loads((run / "style" / "s.json").read_text(encoding="utf-8"))["training"]
    assert not {"unreadable_pairs_skipped", "unmatched_photos_skipped", "notes"} & set(training)
    assert training["unmatched"] == 0 and training["skipped"] == []


def _settings(exposure: float) -> dict[str, Any]:
    return {"ProcessVersion": "11.0", "WhiteBalance": "As Shot", "Exposure2012": exposure}


def test_catalog_favourites_that_cannot_be_found_or_read_are_named_in_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "Pictures"
    photos.mkdir()
    scenes = smooth_images(6, 32, seed=5)
    write_exposure_shots(photos, scenes, [f"p{i}.jpg" for i in range(4)])
    (photos / "empty.jpg").write_bytes(b"")
    write_truncated_image(photos / "cut.jpg", scenes[5:6])
    catalog = tmp_path / "My.lrcat"
    with CatalogBuilder(catalog, schema="modern") as b:
        folder = b.add_folder(b.add_root(str(photos) + "/"), "")
        for name in ("p0", "p1", "p2", "p3", "empty", "cut", "gone"):  # gone.jpg: the original is missing
            image = b.add_image(b.add_file(folder, name, "jpg"), file_format="JPG", rating=5)
            b.set_settings(image, _settings(0.4))
        legacy = b.add_image(b.add_file(folder, "old", "jpg"), file_format="JPG", rating=5)  # skipped, not unreadable
        b.set_settings(legacy, {"ProcessVersion": "5.7", "Exposure": 1.0})
    rc, run = _train(tmp_path, ["--lrcat", str(catalog), "--favourites", "rating:5"], "--quiet")
    out = capsys.readouterr().out
    assert rc == 0, out
    (note,) = _notes(out)
    head, names = note.split(", left out: ")
    assert head == "3 favourites of the catalog could not be found or read"
    shown = names.split("; ")
    assert shown[0].startswith("gone (image ") and f"original not found ({photos / 'gone.jpg'})" in shown[0]
    assert shown[1].startswith(f"empty ({photos / 'empty.jpg'}: empty file")
    assert shown[2].startswith(f"cut ({photos / 'cut.jpg'}: truncated")
    training = json.loads((run / "style" / "s.json").read_text(encoding="utf-8"))["training"]
    assert training["pairs"] == 4 and training["unreadable_pairs_skipped"] == shown
    assert len(training["catalog_skipped"]) == 2  # as before: gone and the legacy one (the others decode later)
    assert len(training["skipped"]) == 2


def test_photos_sent_with_their_lightroom_settings_that_cannot_be_read_are_named(tmp_path: Path) -> None:
    from trainer.lrcat.favourites import settings_edits

    (tmp_path / "empty.jpg").write_bytes(b"")
    write_image(tmp_path / "good.jpg", smooth_images(1, 32, seed=1))
    items = [{"path": str(tmp_path / n), "settings": _settings(0.4)} for n in ("empty.jpg", "gone.jpg", "good.jpg")]
    items.append({"path": str(tmp_path / "old.jpg"), "settings": {"ProcessVersion": "5.7"}})  # skipped, not unreadable
    lost: list[str] = []
    edits, skipped = settings_edits(items, missing=lost)
    assert [e.name for e in edits] == ["good"] and len(skipped) == 3
    assert lost == ["empty.jpg (empty file)", f"gone.jpg ({tmp_path / 'gone.jpg'}: no such file)"]
    assert settings_edits(items)[1] == skipped  # as before without the list
