"""A virtual copy's sidecar is read by darktable's own name for it only: ``NAME_NN.EXT.xmp``, N as ``%02d``.

darktable 4.2 writes copy N's sidecar as ``NAME_%02d.EXT.xmp`` (``_01``, ``_12``, ``_100``). Any ``_`` and two
digits or more were read as a copy: a camera's ``IMG_0001.png.xmp`` (the sidecar of a photo ``IMG_0001.png``)
was copy 1 of ``IMG.png``, and ``IMG_001`` and ``IMG_01`` were both copy 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.darktable_copies import edited_photo
from trainer.data.darktable_copies import copy_named, copy_sidecars
from trainer.data.selection import darktable_selection


@pytest.mark.parametrize(("name", "number"), [("IMG_01.png.xmp", 1), ("IMG_12.png.xmp", 12), ("IMG_100.png.xmp", 100)])
def test_darktables_own_copy_names_are_copies(name: str, number: int) -> None:
    copy = copy_named(Path("/p") / name)
    assert copy is not None and copy.number == number and copy.photo == Path("/p/IMG.png")


@pytest.mark.parametrize("name", ["IMG_0001.png.xmp", "IMG_001.png.xmp", "IMG_010.png.xmp", "IMG_00.png.xmp"])
def test_other_numberings_are_not_copies(name: str) -> None:
    assert copy_named(Path("/p") / name) is None


def test_a_cameras_numbered_photo_is_no_copy_of_its_namesake(tmp_path: Path) -> None:
    folder = tmp_path / "dt"
    img = edited_photo(folder, "IMG.png", 1, 0.4, {1: -0.6})
    edited_photo(folder, "IMG_0001.png", 2, 0.2, {})
    (folder / "IMG_001.png.xmp").write_text((folder / "IMG_01.png.xmp").read_text())  # no darktable name
    assert [c.sidecar.name for c in copy_sidecars(img)] == ["IMG_01.png.xmp"]
    listed = darktable_selection([folder])
    assert [p.name for p in listed] == ["IMG.png", "IMG_01.png.xmp", "IMG_0001.png"]
