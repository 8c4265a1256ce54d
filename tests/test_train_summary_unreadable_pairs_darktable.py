"""Photos that ``train --darktable`` leaves out because they cannot be read are named in the summary.

An empty photo, a truncated JPEG (each with a sidecar) and a malformed sidecar are left out, the style is trained
from the rest (rendered by real darktable-cli), and the summary names them; a photo without a sidecar (not
edited in darktable) is left out as before, without a note. Needs darktable-cli: skipped when it is missing, a
failure under CI=true.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from backend.cli.main import main
from backend.encode import write_image
from backend.recipe import Recipe
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from testing.darktable_cli import darktable_cli_path
from testing.needs import missing
from testing.training import write_exposure_shots, write_tiny_pairs_toml, write_truncated_image
from trainer.synthetic import smooth_images

pytestmark = pytest.mark.host

if darktable_cli_path() is None:
    missing("darktable-cli is not installed (apt-get install darktable)", module_level=True)


def test_darktable_photos_that_cannot_be_read_are_named_in_the_quiet_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "darktable"
    folder.mkdir()
    scenes = smooth_images(6, 32, seed=9)
    for photo in write_exposure_shots(folder, scenes, [f"d{i}.png" for i in range(4)], bit_depth=16):
        edit = Recipe.from_settings({"exposure": 0.4})
        assert [o.action for o in apply_to_photo(photo, edit, host="darktable", info=PhotoInfo(False, 32))] == [
            "written"
        ]
    sidecar = folder / "d0.png.xmp"
    (folder / "empty.png").write_bytes(b"")
    shutil.copyfile(sidecar, folder / "empty.png.xmp")
    write_truncated_image(folder / "cut.jpg", scenes[4:5])
    shutil.copyfile(sidecar, folder / "cut.jpg.xmp")
    write_image(folder / "bad.png", scenes[5:6], bit_depth=16)
    (folder / "bad.png.xmp").write_text("this is not XML", encoding="utf-8")
    write_image(folder / "unedited.png", scenes[5:6], bit_depth=16)  # no sidecar: skipped, not a note
    config = tmp_path / "tiny.toml"
    write_tiny_pairs_toml(config)
    argv = ["train", "--style", "s", "--darktable", str(folder), "--steps", "2", "--config", str(config)]
    rc = main([*argv, "--run-dir", str(tmp_path / "run"), "--no-install", "--force", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0, out
    notes = [line.removeprefix("  note: ") for line in out.splitlines() if line.startswith("  note: ")]
    assert len(notes) == 1, notes
    head, names = notes[0].split(", left out: ")
    assert head == "3 photos edited in darktable could not be read"
    shown = names.split("; ")
    assert shown[0].startswith("bad.png (the sidecar: "), shown
    assert shown[1].startswith("cut.jpg (truncated"), shown
    assert shown[2] == "empty.png (empty file)", shown
    training = json.loads((tmp_path / "run" / "style" / "s.json").read_text(encoding="utf-8"))["training"]
    assert training["pairs"] == 4 and training["unreadable_pairs_skipped"] == shown
    assert len(training["darktable_skipped"]) == 4  # as before: every photo left out, with the one without a sidecar
