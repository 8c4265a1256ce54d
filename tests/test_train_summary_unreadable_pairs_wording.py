"""The counts in the training summary's notes and lines: "1 pair", "2 pairs" (:func:`trainer.summary_lines.counted`)."""

from __future__ import annotations

from trainer.result import left_out_notes, paired_left_out_notes
from trainer.summary_lines import counted


def test_counts_in_notes_are_singular_for_one_and_plural_otherwise() -> None:
    assert [counted(n, "pair") for n in (0, 1, 2)] == ["0 pairs", "1 pair", "2 pairs"]
    assert counted(1, "photo edited in darktable", "photos edited in darktable") == "1 photo edited in darktable"
    assert counted(3, "photo edited in darktable", "photos edited in darktable") == "3 photos edited in darktable"
    assert left_out_notes(["b.jpg (the same bytes as a.jpg)"], too_small=["c.png (1x1)", "d.png (2x2)"]) == [
        "1 duplicate favourite left out: b.jpg (the same bytes as a.jpg)",
        "2 favourites too small to learn from (under 16 pixels a side) left out: c.png (1x1), d.png (2x2)",
    ]
    assert paired_left_out_notes("pairs", ["a (original a.jpg: empty file)"], [], ["c (same as b)", "d (same)"]) == [
        "1 before/after pair could not be read, left out: a (original a.jpg: empty file)",
        "2 duplicate before/after pairs left out: c (same as b), d (same)",
    ]
    assert paired_left_out_notes("darktable sidecars", ["x.png (empty file)", "y.png (empty file)"]) == [
        "2 photos edited in darktable could not be read, left out: x.png (empty file); y.png (empty file)"
    ]
    assert paired_left_out_notes("pairs") == []
