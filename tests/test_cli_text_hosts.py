"""``apply``/``revert --host both`` on JPEG/TIFF/PNG: Lightroom's skip is one count in text, each row in ``--json``.

Lightroom writes no sidecar for a format that carries its XMP inside the file (``EMBEDDED_XMP_SUFFIXES``); printed per
photo, that skip doubled the report of a folder of JPEGs (QA). Real commands on generated files.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from PIL import Image

from backend.cli.main import main
from backend.cli.outcome_report import report
from backend.daemon.convert import outcome_from_pb, outcome_to_pb
from backend.sidecar.apply import EMBEDDED_REASON, Outcome
from testing.fixtures import gradient_jpeg_named, grey_ramp

#: The one line that stands for every photo's Lightroom skip.
SUMMARY = "skipped      lightroom {n}: Lightroom reads the XMP embedded in the file for these formats"


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    names = [gradient_jpeg_named(tmp_path / "a.jpg"), tmp_path / "b.png", tmp_path / "c.tif"]
    assert cv2.imwrite(str(names[1]), grey_ramp())
    Image.fromarray(grey_ramp()).save(names[2])
    (tmp_path / "recipe.json").write_text(json.dumps({"version": 1, "steps": [{"slider": "exposure", "value": 0.4}]}))
    return names


def _lines(text: str) -> list[str]:
    """The outcome lines: not their notes, nor a dry run's values (``apply --dry-run`` lists them first)."""
    return [line for line in text.splitlines() if not line.startswith(("  ", "values ("))]


def test_apply_and_revert_both_print_one_line_per_photo_and_one_lightroom_count(
    photos: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--recipe", str(photos[0].parent / "recipe.json"), "--host", "both"]
    for extra, action in ((["--dry-run"], "would-write"), ([], "written")):
        assert main(["apply", *map(str, photos), *args, *extra]) == 0
        lines = _lines(capsys.readouterr().out)
        assert lines[:3] == [f"{action:<12} darktable {p}.xmp" for p in photos]
        assert len(lines) == 4 and lines[3].startswith(SUMMARY.format(n="3 photos"))
    assert main(["revert", str(photos[0].parent)]) == 0  # a folder, both hosts by default
    lines = _lines(capsys.readouterr().out)
    assert lines[:3] == [f"deleted      darktable {p}.xmp: autoretouch created this sidecar" for p in photos]
    assert len(lines) == 4 and lines[3].startswith(SUMMARY.format(n="3 photos"))


def test_json_keeps_each_hosts_skip(photos: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--recipe", str(photos[0].parent / "recipe.json"), "--host", "both", "--dry-run", "--json"]
    assert main(["apply", *map(str, photos), *args]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    skips = [(r["photo"], r["action"], r["reason"]) for r in rows if r["host"] == "lightroom"]
    assert skips == [(str(p), "skipped", EMBEDDED_REASON) for p in photos]


def test_a_photo_without_another_hosts_line_keeps_its_own(
    photos: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["apply", str(photos[0]), "--recipe", str(photos[0].parent / "recipe.json"), "--host", "lightroom"]) == 0
    )
    assert capsys.readouterr().out == f"skipped      lightroom {photos[0].with_suffix('.xmp')}: {EMBEDDED_REASON}\n"


def test_a_daemons_outcomes_without_skip_kind_fold_alike(
    photos: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    local = [
        Outcome(photos[0], "lightroom", photos[0].with_suffix(".xmp"), "skipped", EMBEDDED_REASON),
        Outcome(photos[0], "darktable", Path(f"{photos[0]}.xmp"), "written"),
    ]
    remote = [outcome_from_pb(outcome_to_pb(o)) for o in local]  # as `apply --server` gets them: no skip_kind
    assert report(remote, as_json=False) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"written      darktable {photos[0]}.xmp" and lines[1].startswith(SUMMARY.format(n="1 photo"))
