"""``train --pairs``: names left out as ambiguous and the choices the pairing made are in the summary's notes.

They were only in the log (:func:`trainer.data.pairs.find_pairs`); the run now matches with
:func:`trainer.data.pairs.match_pairs` and names them in the command's notes and the training record
(``ambiguous_pairs_skipped``, ``pairing_choices``). Real CLI runs, tiny training (fixtures as in
``test_pairs_matching``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from backend.encode import write_image
from testing.fixtures import make_dng
from testing.training import run_tiny_train, smooth_pair_folders
from trainer.synthetic import smooth_images


def _image(seed: int) -> torch.Tensor:
    return smooth_images(1, 32, seed=seed)


def _train(
    tmp_path: Path, before: Path, after: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any], dict[str, Any], str]:
    """``autoretouch train --pairs --json`` (2 steps, tiny, not installed): status, summary, record and stderr."""
    done = run_tiny_train(tmp_path, ["--pairs", str(before), str(after)], "--quiet", "--json")
    out, err = capsys.readouterr()
    summary = json.loads(out) if done.rc == 0 else {}
    return done.rc, summary, done.record, err


def test_a_name_left_out_as_ambiguous_is_named_in_the_notes_and_the_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = smooth_pair_folders(tmp_path)
    write_image(before / "IMG_0.png", _image(7))
    write_image(after / "IMG_0.jpg", _image(8))
    write_image(after / "IMG_0.tif", _image(9), bit_depth=16)  # two exports of one edit
    rc, summary, record, _ = _train(tmp_path, before, after, capsys)
    assert rc == 0
    assert record["pairs"] == 4 and record["unmatched"] == 0
    assert record["ambiguous_pairs_skipped"] == [
        "IMG_0 (IMG_0.jpg / IMG_0.tif in after: which one is meant is unclear)"
    ]
    assert (
        "1 name left out, which photo is meant is unclear: IMG_0 (IMG_0.jpg / IMG_0.tif in after)" in summary["notes"]
    )
    assert "pairing_choices" not in record


def test_the_choices_made_are_one_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after = smooth_pair_folders(tmp_path)
    make_dng(before, "IMG_0.dng", height=32, width=32)
    write_image(before / "IMG_0.jpg", _image(7))  # the camera's rendition of the raw
    write_image(after / "IMG_0.jpg", _image(8))
    write_image(before / "Q1.JPG", _image(5))
    write_image(after / "q1.jpg", _image(6))
    rc, summary, record, _ = _train(tmp_path, before, after, capsys)
    assert rc == 0
    assert record["pairs"] == 6
    choices = [
        "IMG_0: the raw IMG_0.dng is paired, not IMG_0.jpg",
        "Q1.JPG is paired with q1.jpg (the names differ in case)",
    ]
    assert record["pairing_choices"] == choices
    assert summary["notes"] == ["2 choices made pairing the photos by name: " + "; ".join(choices)]
    assert "ambiguous_pairs_skipped" not in record


def test_nothing_left_but_ambiguous_names_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after = smooth_pair_folders(tmp_path, n=0)
    write_image(before / "IMG_0.png", _image(7))
    write_image(after / "IMG_0.jpg", _image(8))
    write_image(after / "IMG_0.tif", _image(9), bit_depth=16)
    rc, _, _, err = _train(tmp_path, before, after, capsys)
    assert rc == 6
    assert f"no photo in {before} has a partner of the same name (without extension) in {after}" in err
    assert "left out as ambiguous: IMG_0 (IMG_0.jpg / IMG_0.tif" in err


def test_good_pairs_add_no_key_and_no_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after = smooth_pair_folders(tmp_path)
    rc, summary, record, _ = _train(tmp_path, before, after, capsys)
    assert rc == 0
    assert not {"ambiguous_pairs_skipped", "pairing_choices"} & set(record)
    assert not summary.get("notes")
