"""``apply --dry-run`` text shows the values it would write, as ``suggest`` lists them (QA).

Before, the text said only ``would-write  darktable NAME.xmp``: a photographer could not see what would happen
without ``--json`` (and ``--recipe`` had no values even there). Real commands on generated JPEGs, the shipped style.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from backend.cli.main import main
from testing.fixtures import gradient_jpeg_named, grey_ramp

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    gradient_jpeg_named(tmp_path / "a.jpg")
    assert cv2.imwrite(str(tmp_path / "b.jpg"), (grey_ramp() * 0.5).astype(np.uint8))  # another photo, other values
    steps = [{"slider": "exposure", "value": 0.8}, {"slider": "contrast", "value": 30}]
    (tmp_path / "recipe.json").write_text(json.dumps({"version": 1, "steps": steps}))
    return tmp_path


def _has_values(out: str) -> bool:
    """Whether the output has a ``values`` block (a line of its own: the test's folder may say "values" too)."""
    return any(line.lstrip().startswith("values") for line in out.splitlines())


def _listing(suggest_out: str) -> list[str]:
    """``suggest``'s recipe lines of a one-photo listing, without its header line."""
    return suggest_out.splitlines()[1:]


def test_dry_run_with_a_style_lists_each_photos_values_as_suggest_does(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = [str(folder / "a.jpg"), str(folder / "b.jpg")]
    expected = {}
    for photo in photos:
        assert main(["suggest", photo, "--style", "default", "--strength", "0.7"]) == 0
        expected[photo] = ["  " + line for line in _listing(capsys.readouterr().out)]  # one level deeper
    assert expected[photos[0]] != expected[photos[1]] and len(expected[photos[0]]) > 1
    assert main(["apply", *photos, "--style", "default", "--strength", "0.7", "--host", "darktable", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for photo in photos:
        at = lines.index(f"would-write  darktable {photo}.xmp")
        block = lines.index("  values:", at)
        assert lines[block + 1 : block + 1 + len(expected[photo])] == expected[photo]
    assert not list(folder.glob("*.xmp"))  # a dry run writes nothing


def test_dry_run_with_a_recipe_lists_its_scaled_values_once(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = [str(folder / "a.jpg"), str(folder / "b.jpg")]
    args = ["--recipe", str(folder / "recipe.json"), "--strength", "0.5", "--host", "both", "--dry-run"]
    assert main(["apply", *photos, *args]) == 0
    out = capsys.readouterr().out
    assert out.startswith("values (every photo):\n  exposure  +0.40 EV\n  contrast  +15.0\nwould-write ")
    assert out.count("values (") == 1 and not list(folder.glob("*.xmp"))


def test_no_photo_values_where_nothing_would_be_written_nor_in_a_real_run(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = str(folder / "a.jpg")
    recipe = ["--recipe", str(folder / "recipe.json"), "--host", "darktable"]
    assert main(["apply", photo, *recipe]) == 0
    assert not _has_values(capsys.readouterr().out)  # the real run's output is as before
    assert main(["apply", photo, *recipe, "--dry-run"]) == 0  # already applied: skipped; --recipe's values first
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["values (every photo):", "  exposure  +0.80 EV", "  contrast  +30.0"]
    assert lines[3].startswith("skipped      darktable") and not _has_values("\n".join(lines[3:]))
    assert main(["apply", photo, "--style", "default", "--host", "darktable", "--dry-run"]) == 0
    assert not _has_values(capsys.readouterr().out)
