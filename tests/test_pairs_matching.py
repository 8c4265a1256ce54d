"""``train --pairs`` (and ``eval``) pair names that a photographer's folders really hold.

RAW+JPEG shot into one folder pairs the raw (and says so) instead of refusing the run; a name whose file is still
unclear (two raws, a JPEG and a TIFF export of one edit) is left out alone; a macOS export's decomposed ``Noël``
pairs with ``Noël``; ``IMG_0.JPG`` pairs with ``img_0.jpg`` when nothing else could; a run with no pair at all
says so in words that fit both commands. Real CLI runs, tiny training.
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path

import pytest
import torch

from backend.encode import write_image
from backend.errors import AutoretouchError
from testing.fixtures import make_dng
from testing.training import run_tiny_train, smooth_pair_folders
from trainer.data.pairs import find_pairs, match_pairs
from trainer.synthetic import smooth_images


def _image(seed: int) -> torch.Tensor:
    return smooth_images(1, 32, seed=seed)


def _train(tmp_path: Path, before: Path, after: Path) -> tuple[int, dict[str, object]]:
    """``autoretouch train --pairs`` (2 steps, tiny, not installed): exit status and training record."""
    done = run_tiny_train(tmp_path, ["--pairs", str(before), str(after)], "--quiet")
    return done.rc, done.record


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "trainer.data.pairs"]


def test_raw_and_camera_jpeg_in_the_originals_pair_the_raw(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = smooth_pair_folders(tmp_path)
    make_dng(before, "IMG_0.dng", height=32, width=32)
    write_image(before / "IMG_0.jpg", _image(7))  # the camera's rendition of the raw
    write_image(after / "IMG_0.jpg", _image(8))
    pairs, unmatched = find_pairs(before, after, allow_unmatched=True)
    assert (pairs[0].name, pairs[0].input.name) == ("IMG_0", "IMG_0.dng") and unmatched == []
    caplog.set_level(logging.WARNING, logger="trainer.data.pairs")
    rc, record = _train(tmp_path, before, after)
    assert rc == 0, capsys.readouterr()
    assert record["pairs"] == 5 and record["unmatched"] == 0 and record["skipped"] == []
    assert "IMG_0: the raw IMG_0.dng is paired, not IMG_0.jpg" in _warnings(caplog)


def test_without_a_raw_two_originals_of_one_name_leave_out_that_name_only(tmp_path: Path) -> None:
    before, after = smooth_pair_folders(tmp_path, n=1)
    write_image(before / "IMG_0.jpg", _image(7))
    write_image(before / "IMG_0.png", _image(7))
    write_image(after / "IMG_0.jpg", _image(8))
    pairs, unmatched = find_pairs(before, after, allow_unmatched=True)
    assert [p.name for p in pairs] == ["p0"] and unmatched == []
    # left out as ambiguous, and named so (not silently dropped, nor counted as unmatched)
    match = match_pairs(before, after)
    assert match.ambiguous == (f"IMG_0 (IMG_0.jpg / IMG_0.png in {before}: which photo was edited is unclear)",)


def test_two_exports_of_one_edit_leave_out_that_name_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = smooth_pair_folders(tmp_path)
    write_image(before / "IMG_0.png", _image(7))
    write_image(after / "IMG_0.jpg", _image(8))
    write_image(after / "IMG_0.tif", _image(9), bit_depth=16)
    caplog.set_level(logging.WARNING, logger="trainer.data.pairs")
    rc, record = _train(tmp_path, before, after)
    assert rc == 0, capsys.readouterr()
    assert record["pairs"] == 4 and record["unmatched"] == 0  # the run carries on with the other four
    assert (
        f"left out, pairing is ambiguous: IMG_0 (IMG_0.jpg / IMG_0.tif in {after}: which one is meant is unclear)"
        in (_warnings(caplog))
    )


def test_two_raws_of_one_name_are_ambiguous_and_eval_without_allow_unmatched_refuses(tmp_path: Path) -> None:
    before, after = smooth_pair_folders(tmp_path, n=2)
    make_dng(before, "IMG_0.dng")
    (before / "IMG_0.nef").write_bytes((before / "IMG_0.dng").read_bytes())
    write_image(before / "IMG_0.jpg", _image(7))
    write_image(after / "IMG_0.jpg", _image(8))
    match = match_pairs(before, after)
    assert [p.name for p in match.pairs] == ["p0", "p1"]
    assert match.ambiguous == (f"IMG_0 (IMG_0.dng / IMG_0.nef in {before}: which raw was edited is unclear)",)
    assert match.unmatched == ()
    with pytest.raises(AutoretouchError, match=r"pairing is ambiguous: IMG_0 .*--allow-unmatched"):
        find_pairs(before, after)
    pairs, unmatched = find_pairs(before, after, allow_unmatched=True)
    assert [p.name for p in pairs] == ["p0", "p1"] and unmatched == []


def test_a_decomposed_unicode_name_pairs_with_the_composed_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = smooth_pair_folders(tmp_path)
    write_image(before / (unicodedata.normalize("NFC", "Noël") + ".png"), _image(7))
    write_image(after / (unicodedata.normalize("NFD", "Noël") + ".jpg"), _image(8))
    rc, record = _train(tmp_path, before, after)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert record["pairs"] == 5 and record["unmatched"] == 0 and "note:" not in out
    pairs, _ = find_pairs(before, after)
    assert unicodedata.normalize("NFC", "Noël") in [p.name for p in pairs]


def test_names_that_differ_in_case_pair_when_nothing_else_could(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = smooth_pair_folders(tmp_path, n=0)
    write_image(before / "IMG_0.JPG", _image(7))
    write_image(after / "img_0.jpg", _image(8))
    caplog.set_level(logging.WARNING, logger="trainer.data.pairs")
    rc, record = _train(tmp_path, before, after)
    assert rc == 0, capsys.readouterr()
    assert record["pairs"] == 1
    assert "IMG_0.JPG is paired with img_0.jpg (the names differ in case)" in _warnings(caplog)


def test_case_is_ignored_only_when_the_partner_is_unique(tmp_path: Path) -> None:
    before, after = smooth_pair_folders(tmp_path, n=1)
    write_image(before / "IMG_0.JPG", _image(7))
    write_image(after / "img_0.jpg", _image(8))
    write_image(after / "Img_0.jpg", _image(9))
    write_image(before / "P0.png", _image(5))  # p0 has its exact partner: P0 stays alone
    match = match_pairs(before, after)
    assert [p.name for p in match.pairs] == ["p0"] and match.notes == ()
    assert sorted(f.name for f in match.unmatched) == ["IMG_0.JPG", "Img_0.jpg", "P0.png", "img_0.jpg"]


def test_no_pair_at_all_is_worded_for_train(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after = smooth_pair_folders(tmp_path, n=0)
    write_image(before / "a.jpg", _image(7))
    write_image(after / "b.jpg", _image(8))
    rc, _ = _train(tmp_path, before, after)
    err = capsys.readouterr().err
    assert rc == 6, err
    assert f"no photo in {before} has a partner of the same name (without extension) in {after}" in err
    assert "no input in" not in err and "reference" not in err
