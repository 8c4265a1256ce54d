"""``train --pairs``: a raw that gave way to the camera's JPEG is named in the summary's notes and the record.

The switch (:func:`trainer.data.pairs.decode_original`) was only logged; the summary still said the raw was paired
(``pairing_choices``: ``"p0: the raw p0.CR2 is paired, not p0.jpg"``). It now says what was used, so ``--json``,
the daemon and the plug-ins see it. And a pair whose raw gave way comes back as a new :class:`Pair`: matched by
identity, it made another pair left out in the same run lose its short message (``"p3 (edit p3.jpg: ...)"``).
Real CLI runs, tiny training (the damaged raw as in ``test_pairs_raw_fallback``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from testing.training import raw_fallback_folders, run_tiny_train
from trainer.data.pairs import Pair, PairedViews
from trainer.restore_pairs import _choices_as_made, _kept_indices

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """``before/pI.png`` and ``after/pI.jpg`` for I < 4, but ``p0`` is a damaged ``p0.CR2`` beside a good JPEG."""
    return raw_fallback_folders(tmp_path)


def _train(
    tmp_path: Path, before: Path, after: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``autoretouch train --pairs --json`` (2 steps, tiny, not installed): the summary and the training record."""
    done = run_tiny_train(tmp_path, ["--pairs", str(before), str(after)], "--quiet", "--json")
    assert done.rc == 0
    return json.loads(capsys.readouterr().out), done.record


def _fallback_note(notes: list[str]) -> str:
    [note] = [n for n in notes if n.startswith("p0: the raw p0.CR2 cannot be decoded (")]
    assert note.endswith("; p0.jpg is paired instead")
    return note


def test_the_jpeg_used_is_in_the_notes_and_the_record(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary, record = _train(tmp_path, *folders, capsys)
    assert record["pairs"] == 4
    note = _fallback_note(record["pairing_choices"])
    assert record["pairing_choices"] == [note]  # was: ["p0: the raw p0.CR2 is paired, not p0.jpg"]
    assert summary["notes"] == [f"1 choice made pairing the photos by name: {note}"]


def test_another_pair_left_out_keeps_its_short_message(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = folders
    (after / "p3.jpg").write_bytes(b"not a jpeg")
    summary, record = _train(tmp_path, before, after, capsys)
    assert record["pairs"] == 3
    [skipped] = record["unreadable_pairs_skipped"]
    assert skipped.startswith("p3 (edit p3.jpg: "), skipped  # was the whole path: the notes fell back
    assert str(after) not in skipped
    assert summary["notes"][0] == f"1 before/after pair could not be read, left out: {skipped}"
    _fallback_note(record["pairing_choices"])


def test_a_case_note_names_the_jpeg_that_replaced_the_raw(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``IMG``-style names differing in case, the raw damaged: the case note must not name the raw (review).

    The raw's choice is replaced by the fallback note first; the case note that follows it named the raw still.
    """
    before, after = folders
    for old in ("p0.CR2", "p0.jpg"):
        (before / old).rename(before / old.replace("p0", "P0"))
    _summary, record = _train(tmp_path, before, after, capsys)
    assert record["pairs"] == 4
    choices = record["pairing_choices"]
    assert any(c.startswith("P0: the raw P0.CR2 cannot be decoded (") for c in choices), choices
    assert "P0.jpg is paired with p0.jpg (the names differ in case)" in choices, choices
    assert not any("P0.CR2 is paired with" in c for c in choices), choices


def _views(pairs: list[Pair], notes: tuple[str, ...] = ()) -> PairedViews:
    empty = torch.zeros(len(pairs), 1, 3, 1, 1)
    return PairedViews(empty, empty, empty[:, 0], empty[:, 0], tuple(pairs), (), notes)


def test_kept_pairs_are_matched_in_order_and_of_one_name_stay_apart(tmp_path: Path) -> None:
    raw, jpg, edit = tmp_path / "a.CR2", tmp_path / "a.jpg", tmp_path / "e" / "a.jpg"
    a = Pair("a", raw, edit, jpg)
    b1, b2 = Pair("b", tmp_path / "b.png", tmp_path / "b.png"), Pair("b", tmp_path / "b.png", tmp_path / "b.png")
    used = Pair("a", jpg, edit)
    assert _kept_indices([a, b1, b2], _views([used, b2])) == [0, 2]  # b1 left out; b2, equal to it, kept
    assert _kept_indices([b1, a], _views([used])) == [1]
    choices = ["a: the raw a.CR2 is paired, not a.jpg", "Q.JPG is paired with q.jpg (the names differ in case)"]
    note = "a: the raw a.CR2 cannot be decoded (damaged); a.jpg is paired instead"
    assert _choices_as_made(choices, [a, b1], _views([used, b1], (note,))) == [note, choices[1]]
    assert _choices_as_made(choices, [a, b1], _views([a, b1])) == choices
