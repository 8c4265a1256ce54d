"""Same-named catalog photos from different folders are never paired with one original found by name.

With ``--photos DIR`` (originals moved into one flat folder), ``p000`` of one catalog folder and ``p000`` of
another both find ``DIR/p000.jpg``: one of them would be trained on with the other's settings, so both are
skipped and named. A photo whose recorded path still exists keeps its file; its virtual copies, which share
its file, are not ambiguous.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backend.encode import write_image
from testing.lrcat_fixtures import CatalogBuilder
from trainer.lrcat.favourites import catalog_edits
from trainer.synthetic import smooth_images


def _settings(exposure: float) -> dict[str, Any]:
    return {"ProcessVersion": "11.0", "WhiteBalance": "As Shot", "Exposure2012": exposure, "Vibrance": 10}


def _photos(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    scenes = smooth_images(len(names), 16, seed=3)
    for i, name in enumerate(names):
        write_image(folder / f"{name}.jpg", scenes[i : i + 1])


def _catalog(path: Path, photos: dict[str, list[tuple[str, float]]], *, copy_of: str | None = None) -> dict[str, int]:
    """One root per folder (``photos``: folder -> [(name, exposure)]), every photo picked; ``copy_of`` gets a
    virtual copy with its own settings. Returns ``folder/name`` (and ``copy``) -> image id."""
    ids: dict[str, int] = {}
    with CatalogBuilder(path, schema="modern") as b:
        for folder, items in photos.items():
            f = b.add_folder(b.add_root(folder + "/"), "")
            for name, exposure in items:
                file = b.add_file(f, name, "jpg")
                ids[f"{folder}/{name}"] = image = b.add_image(file, file_format="JPG", pick=1)
                b.set_settings(image, _settings(exposure), compressed=True)
                if f"{folder}/{name}" == copy_of:
                    ids["copy"] = copy = b.add_image(file, file_format="JPG", master=image, copy_name="v2", pick=1)
                    b.set_settings(copy, _settings(exposure + 1.0), compressed=True)
    return ids


def test_same_named_photos_found_in_one_flat_folder_are_both_skipped(tmp_path: Path) -> None:
    flat = tmp_path / "Flat"
    _photos(flat, "p000", "p001")
    a, b = str(tmp_path / "gone" / "2019"), str(tmp_path / "gone" / "2020")  # the recorded folders are gone
    ids = _catalog(tmp_path / "c.lrcat", {a: [("p000", 0.5), ("p001", 0.2)], b: [("p000", -1.5)]})
    edits, skipped = catalog_edits(tmp_path / "c.lrcat", "picks", photos=flat)
    assert [(e.name, e.original) for e in edits] == [("p001", flat / "p001.jpg")]
    assert len(skipped) == 2, skipped
    first, second = sorted(skipped)
    assert first.startswith(f"p000 (image {ids[a + '/p000']}): ambiguous original: {flat / 'p000.jpg'}")
    assert f"also the original of p000 (image {ids[b + '/p000']})" in first
    assert second.startswith(f"p000 (image {ids[b + '/p000']}): ambiguous original")
    assert "found by name in the photos folder" in first and "another catalog folder" in first
    assert edits[0].values["exposure"] == 0.2  # a unique name is still found there, with its own settings


def test_a_recorded_original_keeps_its_file_and_virtual_copies_share_it(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    _photos(kept, "p000", "p003")
    flat = tmp_path / "Flat"
    _photos(flat, "p003")
    gone = str(tmp_path / "gone")
    ids = _catalog(
        tmp_path / "c.lrcat",
        {str(kept): [("p000", 0.5)], gone: [("p000", -1.5), ("p003", 0.1)]},
        copy_of=f"{gone}/p003",
    )
    edits, skipped = catalog_edits(tmp_path / "c.lrcat", "picks", photos=kept)
    # kept/p000 is the first photo's own recorded file; the second p000 would find it by name: skipped
    assert [(e.name, e.original) for e in edits] == [("p000", kept / "p000.jpg"), ("p003", kept / "p003.jpg"),
                                                    (f"p003-{ids['copy']}", kept / "p003.jpg")]  # fmt: skip
    (message,) = skipped
    assert message.startswith(f"p000 (image {ids[gone + '/p000']}): ambiguous original: {kept / 'p000.jpg'}")
    assert f"also the original of p000 (image {ids[str(kept) + '/p000']})" in message
