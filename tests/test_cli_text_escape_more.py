"""More text output escapes control characters of file names (QA): the top-level error line, ``catalog``,
``render`` and ``train``'s summary.

Real commands on generated photos whose names hold a line break or an escape sequence (as
``test_cli_text_escape`` does for apply, revert and suggest): each text line stays one line and shows the
escapes; ``--json`` and the training record keep the names as they are.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from backend.cli.main import main
from backend.cli.printable import printable
from backend.text import printable as neutral_printable
from testing.fixtures import gradient_jpeg_named
from testing.recipes import write_exposure_recipe
from testing.training import TINY_PAIRS_TOML, write_exposure_pairs
from trainer.summary_lines import note_lines

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: A name that, printed raw, would end its line and start a forged one.
FORGING = "bad\nwritten      forged.jpg"
#: A name that, printed raw, would clear the terminal.
CLEARING = "nope\x1b[2J.jpg"


_jpeg = gradient_jpeg_named


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return write_exposure_recipe(tmp_path / "recipe.json")


def test_printable_lives_in_a_neutral_module_and_the_cli_reexports_it() -> None:
    assert printable is neutral_printable  # trainer uses backend.text, the CLI backend.cli.printable
    assert note_lines(["left out: a\nb\x1b[2J.jpg"]) == ["  note: left out: a\\nb\\x1b[2J.jpg"]


def test_the_top_level_error_line_escapes_the_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / CLEARING  # a single photo that fails: its error goes through main's handler
    assert main(["suggest", str(missing)]) == 6
    out, err = capsys.readouterr()
    assert out == "" and err == f"autoretouch: error: {tmp_path}/nope\\x1b[2J.jpg: no such file\n"


def test_catalog_text_escapes_names_and_json_keeps_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    _jpeg(folder / FORGING)
    (folder / f"broken{CLEARING}").write_bytes(b"")  # a 0-byte JPEG: fails, the batch goes on
    os.symlink(tmp_path / "nowhere.jpg", folder / "dang\nling.jpg")  # skipped, its name in the reason
    assert main(["catalog", str(folder), "--jobs", "1", "--dry-run"]) == 9
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err
    assert err == f"autoretouch: error: {folder}/brokennope\\x1b[2J.jpg: empty file\n"
    lines = out.splitlines()
    assert lines[0].startswith("catalog: 3 photos in ") and all(line.startswith("  ") for line in lines[1:-2])
    assert f"    {1:>6}  {folder}/dang\\nling.jpg: broken symbolic link (No such file or directory)" in lines
    assert lines[-2:] == ["failed photos:", f"  {folder}/brokennope\\x1b[2J.jpg: empty file"]

    assert main(["catalog", str(folder), "--jobs", "1", "--dry-run", "--json"]) == 9
    summary = json.loads(capsys.readouterr().out)
    assert summary["failures"] == [
        {"photo": f"{folder}/broken{CLEARING}", "reason": f"{folder}/broken{CLEARING}: empty file"}
    ]
    assert f"{folder}/dang\nling.jpg: broken symbolic link (No such file or directory)" in summary["skipped_reasons"]


def test_render_text_escapes_names_and_json_keeps_them(
    tmp_path: Path, recipe: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = _jpeg(tmp_path / FORGING)
    out_dir = tmp_path / "out\x1b[2J"
    broken = tmp_path / f"broken{CLEARING}"
    broken.write_bytes(b"")
    assert main(["render", str(photo), str(broken), "--recipe", str(recipe), "--out-dir", str(out_dir)]) == 9
    out, err = capsys.readouterr()
    shown_dir = f"{tmp_path}/out\\x1b[2J"
    assert out == f"{tmp_path}/bad\\nwritten      forged.jpg -> {shown_dir}/bad\\nwritten      forged.jpg (48x32)\n"
    assert err == f"autoretouch: error: {tmp_path}/brokennope\\x1b[2J.jpg: empty file\n"
    assert (out_dir / FORGING).is_file()  # the file itself has the real name

    argv = ["render", str(photo), "--recipe", str(recipe), "--out-dir", str(out_dir), "--json"]
    assert main([*argv, "--overwrite"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["photo"] == str(photo) and row["output"] == str(out_dir / FORGING)

    with pytest.raises(SystemExit) as usage:  # a usage error naming the output
        main(["render", str(photo), "--recipe", str(recipe), "-o", str(tmp_path / "x\n\x1b[2J.bmp")])
    assert usage.value.code == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and f"error: output {tmp_path}/x\\n\\x1b[2J.bmp must end in one of" in err


def test_train_summary_escapes_names_and_the_record_keeps_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from backend.encode import write_image
    from trainer.synthetic import smooth_images

    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    bad = "bad\nwritten\x1b[2J"
    scenes = smooth_images(6, 32, seed=4)
    write_exposure_pairs(before, after, scenes, 4)
    with torch.no_grad():
        (before / f"{bad}.tif").write_bytes(b"")  # unreadable: left out, named in a note
        write_image(after / "tmp.jpg", scenes[4:5])
        (after / "tmp.jpg").rename(after / f"{bad}.jpg")
        write_image(after / "tmp.jpg", scenes[5:6])
        (after / "tmp.jpg").rename(after / "lone\n\x1b[31m.jpg")  # no original: left out, named in a note
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_PAIRS_TOML, encoding="utf-8")
    run = tmp_path / "run\nx"
    argv = ["train", "--style", "s", "--pairs", str(before), str(after), "--steps", "2", "--config", str(config)]
    assert main([*argv, "--run-dir", str(run), "--no-install", "--force", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    lines = out.splitlines()
    assert (
        f"  run folder: {tmp_path}/run\\nx/" in lines
        and f"  style:      {tmp_path}/run\\nx/style/s.safetensors" in lines
    )
    assert lines[-2:] == [
        "  note: 1 before/after pair could not be read, left out: "
        "bad\\nwritten\\x1b[2J (original bad\\nwritten\\x1b[2J.tif: empty file)",
        "  note: 1 photo without a partner of the same name in the other folder, left out: "
        "lone\\n\\x1b[31m.jpg (an edit without its original)",
    ]
    training = json.loads((run / "style" / "s.json").read_text(encoding="utf-8"))["training"]
    assert training["unreadable_pairs_skipped"] == [f"{bad} (original {bad}.tif: empty file)"]  # as it is
    assert training["unmatched_photos_skipped"] == ["lone\n\x1b[31m.jpg (an edit without its original)"]
