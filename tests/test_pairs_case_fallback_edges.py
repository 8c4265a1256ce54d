"""Pairing names "that differ in case" pairs only names that differ in case, and says when forms differ (QA).

``casefold`` also equated ``ß`` with ``ss`` and the ligature ``ﬃ`` with ``ffi`` (other spellings, noted as "differ
in case"); a folder holding both ``IMG_1`` and ``img_1`` (where case matters) had its leftover ``img_1`` paired
with an edit ``Img_1``; and two originals whose names differ only in Unicode form (NFC / NFD) were left out with
two identical-looking names and no word why.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from trainer.data.pairs import match_pairs


def _folders(tmp_path: Path, originals: list[str], edits: list[str]) -> tuple[Path, Path]:
    """Folders holding (empty) files of those names: pairing reads names only."""
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir(parents=True)
    after.mkdir()
    for name in originals:
        (before / name).write_bytes(b"x")
    for name in edits:
        (after / name).write_bytes(b"x")
    return before, after


def test_other_spellings_are_not_a_difference_in_case(tmp_path: Path) -> None:
    before, after = _folders(
        tmp_path, ["Straße.png", "oﬃce.png", "IMG_0.JPG"], ["STRASSE.jpg", "office.jpg", "img_0.jpg"]
    )
    match = match_pairs(before, after)
    assert [(p.input.name, p.reference.name) for p in match.pairs] == [("IMG_0.JPG", "img_0.jpg")]
    assert match.notes == ("IMG_0.JPG is paired with img_0.jpg (the names differ in case)",)
    assert {p.name for p in match.lonely_inputs} == {"Straße.png", "oﬃce.png"}
    assert {p.name for p in match.lonely_references} == {"STRASSE.jpg", "office.jpg"}


def test_a_folder_where_case_matters_gets_no_case_fallback(tmp_path: Path) -> None:
    before, after = _folders(tmp_path, ["IMG_1.jpg", "img_1.jpg"], ["IMG_1.png", "Img_1.png"])
    match = match_pairs(before, after)
    assert [(p.input.name, p.reference.name) for p in match.pairs] == [("IMG_1.jpg", "IMG_1.png")]
    assert match.notes == ()
    assert [p.name for p in match.lonely_inputs] == ["img_1.jpg"]
    assert [p.name for p in match.lonely_references] == ["Img_1.png"]


def test_names_that_differ_only_in_unicode_form_are_named_so(tmp_path: Path) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "Noël"), unicodedata.normalize("NFD", "Noël")
    before, after = _folders(tmp_path, [f"{nfc}.png", f"{nfd}.png", "a.png"], [f"{nfc}.jpg", f"{nfd}.jpg", "a.jpg"])
    match = match_pairs(before, after)
    assert [p.name for p in match.pairs] == ["a"]
    assert len(match.ambiguous) == 1, match.ambiguous
    assert "which photo was edited is unclear; the names differ only in Unicode form (NFC / NFD))" in match.ambiguous[0]
    before2, after2 = _folders(tmp_path / "2", [f"{nfc}.png"], [f"{nfc}.jpg", f"{nfd}.jpg"])
    (why,) = match_pairs(before2, after2).ambiguous
    assert why.endswith("which one is meant is unclear; the names differ only in Unicode form (NFC / NFD))")
