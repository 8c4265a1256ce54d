"""A ``train --darktable`` selection links each virtual copy's sidecar where no other photo can take it.

A copy's sidecar ``NAME_NN.EXT.xmp`` is read as a copy of the photo linked as ``NAME.EXT`` beside it. A copy whose
photo is missing was linked under its own name, so an unrelated ``NAME.EXT`` from another folder took it for its
copy; and where two sidecars wanted the same link name, the second was dropped without a word. Now a missing
photo's name is kept from the other links, and a copy whose name is another file's goes beside a further link of
its own photo. No darktable needed.
"""

from __future__ import annotations

from pathlib import Path

from testing.darktable_copies import darktable_args, edited_photo
from trainer.cli import _darktable_dir
from trainer.data.selection import MARKER


def _links(folder: Path) -> dict[str, Path]:
    return {p.name: p.resolve() for p in sorted(folder.iterdir()) if p.name != MARKER}


def test_a_lone_copy_is_not_linked_as_another_folders_photos_copy(tmp_path: Path) -> None:
    a = edited_photo(tmp_path / "a", "p0.png", 1, 0.4, {})
    gone = edited_photo(tmp_path / "c", "p0.png", 2, 0.2, {1: -0.6})
    gone.unlink()
    lone = gone.with_name("p0_01.png.xmp")
    links = _links(_darktable_dir(darktable_args(a, lone), tmp_path / "run"))
    assert "p0_01.png.xmp" not in links, links  # it would read as a copy of a's p0.png
    (copy,) = [name for name, target in links.items() if target == lone.resolve()]
    assert copy.endswith("_01.png.xmp") and copy.removesuffix("_01.png.xmp") + ".png" not in links, links


def test_copies_wanting_the_same_link_name_are_all_linked(tmp_path: Path) -> None:
    a = edited_photo(tmp_path / "a", "p0.png", 1, 0.4, {1: -0.6})
    gone = edited_photo(tmp_path / "c", "p0.png", 2, 0.2, {1: 0.5})
    gone.unlink()
    ours, lone = a.with_name("p0_01.png.xmp"), gone.with_name("p0_01.png.xmp")
    for given in ((a, lone, ours), (a, ours, lone)):  # the lone copy first, then last
        links = _links(_darktable_dir(darktable_args(*given), tmp_path / "run"))
        assert links["p0.png"] == a.resolve() and links["p0_01.png.xmp"] == ours.resolve(), links
        assert lone.resolve() in links.values(), links


def test_a_copy_named_as_another_photos_own_sidecar_goes_beside_a_link_of_its_own(tmp_path: Path) -> None:
    a = edited_photo(tmp_path / "a", "p0.png", 1, 0.4, {1: -0.6})
    b = edited_photo(tmp_path / "b", "p0_01.png", 3, -0.2, {})
    ours = a.with_name("p0_01.png.xmp")
    for sidecar in (True, False):  # b's own sidecar linked as p0_01.png.xmp, or none (the name is still b's)
        if not sidecar:
            b.with_name("p0_01.png.xmp").unlink()
        links = _links(_darktable_dir(darktable_args(a, ours, b), tmp_path / "run"))
        assert links["p0_01.png"] == b.resolve() and links.get("p0_01.png.xmp") != ours.resolve(), links
        (copy,) = [name for name, target in links.items() if target == ours.resolve()]
        assert links[copy.removesuffix("_01.png.xmp") + ".png"] == a.resolve(), links
