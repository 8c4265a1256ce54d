"""Whose the sidecars are that a user's photo link learns from beside the file it resolves to.

A photo link in a user's folder with no sidecar beside it learns the sidecars beside its real file
(``links/b.png -> lib/b.png`` reads ``lib/b.png.xmp``, ``lib/b_01.png.xmp``); whether ``lib/b_01.png.xmp`` is
``b.png``'s virtual copy or a file ``lib/b_01.png``'s own sidecar is judged in ``lib`` (as darktable reads it), not
in the link's folder. It was judged in the link's folder: ``b_01.png``'s own sidecar (no ``xmpMM:DerivedFrom``, as
``apply`` writes it) was learnt as ``b (virtual copy 1)``, a real copy was left out when the link's folder held an
unrelated ``b_01.png``, and a photo's sidecar that names another photo there was learnt as the link's. Messages
name the link. Only the photos' sidecars are read (nothing is rendered or decoded).
"""

from __future__ import annotations

import re
from pathlib import Path

from testing.darktable_copies import edited_photo
from trainer.darktable_pairs import _darktable_histories, _is_selection
from trainer.data.folders import list_photos


def _histories(folder: Path) -> tuple[list[str], list[str]]:
    assert not _is_selection(folder)  # a user's folder
    chosen, skipped, unreadable = _darktable_histories(list_photos(folder), False)
    assert unreadable == []
    return [e.name for e in chosen], skipped


def _no_derived_from(sidecar: Path) -> None:
    """Drop ``xmpMM:DerivedFrom`` from ``sidecar`` (a sidecar that does not say which file it is of)."""
    text = sidecar.read_text(encoding="utf-8")
    sidecar.write_text(re.sub(r'\s*xmpMM:DerivedFrom="[^"]*"', "", text), encoding="utf-8")
    assert 'xmpMM:DerivedFrom="' not in sidecar.read_text(encoding="utf-8")


def _lib_with_namesake(tmp_path: Path) -> Path:
    """``lib``: ``b.png`` edited, and a photo ``b_01.png`` with its own sidecar (naming no file)."""
    lib = tmp_path / "lib"
    edited_photo(lib, "b.png", 1, 0.4, {})
    edited_photo(lib, "b_01.png", 2, -0.7, {})
    _no_derived_from(lib / "b_01.png.xmp")
    return lib


def test_a_folder_of_links_does_not_learn_a_namesake_files_sidecar_as_a_copy(tmp_path: Path) -> None:
    _lib_with_namesake(tmp_path)
    links = tmp_path / "links"
    links.mkdir()
    (links / "b.png").symlink_to("../lib/b.png")
    # lib/b_01.png.xmp is lib/b_01.png's (only logged: that photo is there to own it); it was "b (virtual copy 1)"
    assert _histories(links) == (["b"], [])


def test_a_folder_mixing_files_and_links_does_not_either(tmp_path: Path) -> None:
    _lib_with_namesake(tmp_path)
    mixed = tmp_path / "mixed"
    edited_photo(mixed, "c.png", 3, 0.2, {})  # a real file with its own sidecar
    (mixed / "b.png").symlink_to("../lib/b.png")
    assert _histories(mixed) == (["b", "c"], [])


def test_a_link_named_like_the_copy_to_another_photo_keeps_its_own_edit(tmp_path: Path) -> None:
    _lib_with_namesake(tmp_path)
    q = edited_photo(tmp_path / "other", "q.png", 4, 0.6, {})
    links = tmp_path / "links"
    links.mkdir()
    (links / "b.png").symlink_to("../lib/b.png")
    (links / "b_01.png").symlink_to("../other/q.png")
    chosen, skipped, _ = _darktable_histories(list_photos(links), False)
    assert ([e.name for e in chosen], skipped) == (["b", "b_01"], [])
    assert chosen[1].text == q.with_name("q.png.xmp").read_text(encoding="utf-8")  # q's, not lib/b_01.png.xmp


def test_a_real_copy_is_learnt_though_the_links_folder_holds_a_file_of_its_name(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    edited_photo(lib, "b.png", 1, 0.4, {1: -0.5})
    _no_derived_from(lib / "b_01.png.xmp")  # no lib/b_01.png: in lib, b.png's copy 1 all the same
    edited_photo(tmp_path / "other", "q.png", 4, 0.6, {})
    links = tmp_path / "links"
    links.mkdir()
    (links / "b.png").symlink_to("../lib/b.png")
    (links / "b_01.png").symlink_to("../other/q.png")  # was taken for the copy's owner: the copy left out
    assert _histories(links) == (["b", "b (virtual copy 1)", "b_01"], [])


def test_a_link_to_a_photo_whose_sidecar_is_another_photos_copy_names_the_link(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    edited_photo(lib, "b.png", 1, 0.4, {1: -0.5})  # lib/b_01.png.xmp names b.png: b.png's copy 1
    edited_photo(tmp_path / "scratch", "b_01.png", 2, None, {})
    (tmp_path / "scratch" / "b_01.png").rename(lib / "b_01.png")  # a photo b_01.png, no sidecar of its own
    links = tmp_path / "links"
    links.mkdir()
    (links / "x.png").symlink_to("../lib/b_01.png")  # it was learnt as x.png's own edit
    assert _histories(links) == (
        [],
        ["x.png: no darktable sidecar of its own (b_01.png.xmp: this sidecar belongs to b.png)"],
    )
