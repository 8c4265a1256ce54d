"""The darktable edits ``train --darktable`` leaves out are named in the run's notes, not only on stderr.

A virtual copy with an empty history, one with the same history as its photo's and a copy's sidecar whose photo is
missing went only to stderr and the run's ``darktable_skipped``; the notes (``--json``'s ``notes``, the summary the
darktable plug-in shows) named unreadable sidecars only. Now one note counts them and names the first three.
Photos without any sidecar (not edited in darktable), a folder's or given, stay out of the note (a folder expanded
into a selection with other paths would otherwise count every unedited photo of it). Needs darktable-cli: skipped when it is missing, a failure under CI=true.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.cli.main import main
from testing.darktable_cli import darktable_cli_path
from testing.darktable_copies import edited_photo
from testing.needs import missing
from testing.training import write_tiny_pairs_toml

pytestmark = pytest.mark.host

if darktable_cli_path() is None:
    missing("darktable-cli is not installed (apt-get install darktable)", module_level=True)


def _notes(tmp_path: Path, capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[list[str], list[str]]:
    """``train --darktable PATHS --json``'s notes on edits left out, and the run's ``darktable_skipped``."""
    config = write_tiny_pairs_toml(tmp_path / "tiny.toml")
    argv = ["train", "--style", "s", "--darktable", *map(str, paths), "--steps", "2", "--config", str(config)]
    rc = main([*argv, "--run-dir", str(tmp_path / "run"), "--no-install", "--force", "--quiet", "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    notes = [n for n in json.loads(captured.out)["notes"] if "left out" in n]
    training = json.loads((tmp_path / "run" / "style" / "s.json").read_text(encoding="utf-8"))["training"]
    return notes, training["darktable_skipped"]


def test_a_folders_copies_left_out_are_named_in_the_notes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "dt"
    edited_photo(folder, "a.png", 1, 0.4, {1: None, 2: 0.4})
    edited_photo(folder, "b.png", 2, -0.3, {})
    edited_photo(folder, "unedited.png", 3, None, {})
    notes, skipped = _notes(tmp_path, capsys, folder)
    assert notes == [
        "2 darktable edits left out: a.png (virtual copy 1): the sidecar has no active history; "
        "a.png (virtual copy 2): the same history as a.png"
    ]
    assert len(skipped) == 3 and skipped[-1].startswith("unedited.png: no darktable sidecar"), skipped


def test_many_edits_left_out_make_one_note_naming_the_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = tmp_path / "lib"
    given = [edited_photo(lib, "a.png", 1, 0.4, {}), edited_photo(lib, "b.png", 2, -0.3, {})]
    given += [edited_photo(lib, f"n{i}.png", 3 + i, None, {}) for i in range(3)]  # unedited: not in the note
    lone = [lib / f"gone{i}_01.png.xmp" for i in range(4)]
    for path in lone:
        path.write_text((lib / "a.png.xmp").read_text(encoding="utf-8"), encoding="utf-8")
    notes, skipped = _notes(tmp_path, capsys, *given, *lone)
    assert len(skipped) == 7, skipped
    assert [m for m in skipped if "no darktable sidecar" in m] == [
        f"{lib / f'n{i}.png'}: no darktable sidecar ({lib / f'n{i}.png.xmp'})" for i in range(3)
    ]
    why = [
        f"{p}: a darktable virtual copy's sidecar, and its photo {lib / f'gone{i}.png'} is not there"
        for i, p in enumerate(lone)
    ]
    assert skipped[-4:] == why
    assert notes == [
        f"4 darktable edits left out: {'; '.join(why[:3])}; and 1 more (the run's darktable_skipped names each)"
    ]
