"""What ``train --lrcat --favourites`` reports about each photo: skipped, dropped, clamped or ignored settings."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from testing.lrcat_fixtures import CatalogBuilder
from trainer.lrcat.favourites import catalog_edits, select_favourites
from trainer.lrcat.pv2003 import map_settings, unreadable_process_version
from trainer.lrcat.reader import open_catalog

GOOD: dict[str, Any] = {"ProcessVersion": "11.0", "WhiteBalance": "As Shot", "Exposure2012": 0.5}


def _catalog(tmp_path: Path, texts: dict[str, Any]) -> Path:
    """A catalog of picked photos ``name -> settings`` (a dict or a raw settings text), their originals on disk."""
    photos = tmp_path / "Pictures"
    photos.mkdir()
    path = tmp_path / "My.lrcat"
    with CatalogBuilder(path, schema="modern") as b:
        folder = b.add_folder(b.add_root(str(photos) + "/"), "")
        for name, settings in texts.items():
            (photos / f"{name}.png").write_bytes(b"")
            image = b.add_image(b.add_file(folder, name, "png"), file_format="PNG", pick=1)
            b.set_settings(image, settings)
    return path


def test_a_number_of_thousands_of_digits_skips_its_photo_alone(tmp_path: Path) -> None:
    huge = "9" * 5000
    path = _catalog(tmp_path, {"good": GOOD, "huge": f's = {{ ProcessVersion = "11.0", Exposure2012 = {huge} }}'})
    edits, skipped = catalog_edits(path, "picks")
    assert [e.name for e in edits] == ["good"]
    assert len(skipped) == 1 and "out of range" in skipped[0], skipped
    assert huge not in skipped[0]  # the message shows the number shortened


def test_an_integer_past_the_float_range_is_not_a_number() -> None:
    mapped = map_settings({"ProcessVersion": 10**400, "Exposure2012": 10**400, "Contrast2012": 5})
    assert "exposure" not in mapped.values and mapped.values["contrast"] == 5.0
    assert any("Exposure2012" in n and "not a number" in n for n in mapped.notes)


def test_a_photo_whose_settings_cannot_be_read_is_named_in_its_skip_line(tmp_path: Path) -> None:
    path = _catalog(tmp_path, {"good": GOOD, "IMG_0093": 's = { Exposure2012 = os.execute("x") }'})
    edits, skipped = catalog_edits(path, "picks")
    assert [e.name for e in edits] == ["good"]
    assert len(skipped) == 1 and skipped[0].startswith("IMG_0093 (image "), skipped  # was "image 3: ..."
    assert "identifier 'os'" in skipped[0]


def test_what_the_mapping_dropped_clamped_or_ignored_is_logged_per_photo(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    odd = {**GOOD, "Dehaze": 12, "Contrast2012": 500, "Exposure2012": "0.5", "Clarity2012": True, "Vibrance": {}}
    path = _catalog(tmp_path, {"plain": {**GOOD, "Exposure2012": 0.3}, "odd": odd})
    with caplog.at_level(logging.WARNING, logger="trainer.lrcat.favourites"):
        edits, skipped = catalog_edits(path, "picks")
    assert [e.name for e in edits] == ["plain", "odd"] and not skipped
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 1, lines  # "plain" maps exactly: no line
    line = lines[0]
    assert line.startswith(f"{path}: odd: ")
    assert "Dehaze=12" in line and "contrast 500 clamped to 100" in line
    for key in ("Exposure2012 = '0.5'", "Clarity2012 = True", "Vibrance = {}"):
        assert f"{key} is not a number: ignored" in line, line


@pytest.mark.parametrize(("pv", "shown"), [("abc", "'abc'"), (11, "11 is a number"), (True, "True")])
def test_a_process_version_that_is_not_one_skips_the_photo(tmp_path: Path, pv: Any, shown: str) -> None:
    path = _catalog(tmp_path, {"good": GOOD, "odd": {**GOOD, "ProcessVersion": pv}})
    edits, skipped = catalog_edits(path, "picks")
    assert [e.name for e in edits] == ["good"]  # was: taken as 2012 or later
    assert len(skipped) == 1 and skipped[0].startswith("odd (image "), skipped
    assert f"ProcessVersion {shown}" in skipped[0]


def test_process_versions_lightroom_writes_are_readable() -> None:
    for pv in ("5.0", "5.7", "6.7", "11.0", "15.4", "11"):
        assert unreadable_process_version({"ProcessVersion": pv}) is None
    assert unreadable_process_version({"Exposure2012": 0.1}) is None  # absent: guessed from the keys
    assert "a table" in str(unreadable_process_version({"ProcessVersion": {"a": 1}}))


def test_a_collection_name_that_matches_several_says_which_it_merges(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "My.lrcat"
    with CatalogBuilder(path, schema="modern") as b:
        folder = b.add_folder(b.add_root(str(tmp_path) + "/"), "")
        images = [b.add_image(b.add_file(folder, f"p{i}", "png"), file_format="PNG") for i in range(3)]
        bests = [
            b.add_collection("Best", b.add_collection("Trips", kind="group")),
            b.add_collection("Best", b.add_collection("Clients", kind="group")),
            b.add_collection("Best"),
        ]
        for best, image in zip(bests, images, strict=True):
            b.add_to_collection(best, image)
        b.add_collection("Best", b.add_collection("Rules", kind="group"), kind="smart")
    with open_catalog(path) as cat, caplog.at_level(logging.WARNING, logger="trainer.lrcat.favourites"):
        assert select_favourites(cat, "collection:Best") == sorted(images)
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 2, lines
        assert (
            "collection:Best matches 3 collections: Trips/Best, Clients/Best, Best; using all their photos" in lines[0]
        )
        assert "not using Rules/Best (a smart collection)" in lines[1]
        caplog.clear()
        assert select_favourites(cat, "collection:Trips/Best") == [images[0]]
        assert not caplog.records  # one collection: nothing to say
