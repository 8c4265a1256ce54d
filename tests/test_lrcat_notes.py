"""What ``train --lrcat --favourites`` reports about each photo: skipped, dropped, clamped or ignored settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testing.lrcat_fixtures import CatalogBuilder
from trainer.lrcat.favourites import catalog_edits
from trainer.lrcat.pv2003 import map_settings

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
