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

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.darktable_copies import darktable_args, edited_photo
from trainer.cli import _darktable_dir
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
    # the sidecar named by its whole path: it is not beside the link (it named b_01.png.xmp as if in links/)
    assert _histories(links) == (
        [],
        [f"x.png: no darktable sidecar of its own ({lib / 'b_01.png.xmp'}: this sidecar belongs to b.png)"],
    )


def test_two_links_to_one_file_say_why_its_sidecars_are_not_read(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    edited_photo(lib, "a.png", 1, 0.4, {})
    links = tmp_path / "links"
    links.mkdir()
    (links / "a.png").symlink_to("../lib/a.png")
    (links / "a_01.png").symlink_to("../lib/a.png")
    # both said "no darktable sidecar (a.png.xmp)" though lib/a.png.xmp is there
    why = f"those beside the file it links to, {lib / 'a.png'}, are not read for it"
    assert _histories(links) == (
        [],
        [
            f"a.png: no darktable sidecar (a.png.xmp; {why}: a_01.png here is the same file)",
            f"a_01.png: no darktable sidecar (a_01.png.xmp; {why}: a.png here is the same file)",
        ],
    )


def test_a_copy_naming_the_link_as_its_image_is_the_links_copy(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    edited_photo(lib, "r.png", 1, 0.4, {1: -0.5})
    copy = lib / "r_01.png.xmp"
    copy.write_text(re.sub(r'xmpMM:DerivedFrom="[^"]*"', 'xmpMM:DerivedFrom="x.png"', copy.read_text()))
    links = tmp_path / "links"
    links.mkdir()
    (links / "x.png").symlink_to("../lib/r.png")
    # it was "x.png (virtual copy 1): not learnt from: this sidecar belongs to x.png"
    assert _histories(links) == (["x", "x (virtual copy 1)"], [])


def test_a_link_named_like_another_photo_does_not_take_that_photos_copy(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    edited_photo(lib, "p.png", 1, 0.4, {1: -0.9})  # p_01.png.xmp: p.png's copy 1, DerivedFrom p.png
    edited_photo(lib, "p_01.png", 2, None, {})  # another photo, whose own sidecar's name that copy's is
    links = tmp_path / "links"
    links.mkdir()
    (links / "p.png").symlink_to("../lib/p_01.png")
    # it was learnt as the edit of lib/p_01.png, named after the link: the copy of lib/p.png
    chosen, skipped = _histories(links)
    assert chosen == []
    assert skipped == [
        f"p.png: no darktable sidecar of its own ({lib / 'p_01.png.xmp'}: this sidecar belongs to p.png)"
    ]


def test_a_broken_link_of_the_links_name_beside_the_real_file_is_no_other_photo(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    edited_photo(lib, "r.png", 1, 0.4, {1: -0.5})
    copy = lib / "r_01.png.xmp"
    copy.write_text(re.sub(r'xmpMM:DerivedFrom="[^"]*"', 'xmpMM:DerivedFrom="x.png"', copy.read_text()))
    (lib / "x.png").symlink_to("missing.png")  # no photo: the copy naming x.png is still the link's
    links = tmp_path / "links"
    links.mkdir()
    (links / "x.png").symlink_to("../lib/r.png")
    assert _histories(links) == (["x", "x (virtual copy 1)"], [])


def test_a_real_files_folder_that_cannot_be_listed_has_no_sidecars_for_the_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = tmp_path / "lib"
    edited_photo(lib, "a.png", 1, 0.4, {})
    links = tmp_path / "links"
    links.mkdir()
    (links / "a.png").symlink_to("../lib/a.png")
    photos = list_photos(links)
    iterdir = Path.iterdir

    def unlistable(folder: Path) -> Iterator[Path]:  # root lists any folder: as a folder with -r for others
        if folder.resolve() == lib.resolve():
            raise PermissionError(13, "Permission denied", str(folder))
        return iterdir(folder)

    monkeypatch.setattr(Path, "iterdir", unlistable)
    chosen, skipped, unreadable = _darktable_histories(photos, False)  # PermissionError ended training
    assert (chosen, skipped, unreadable) == ([], ["a.png: no darktable sidecar (a.png.xmp)"], [])


def test_a_folder_of_links_given_with_the_folder_it_links_to_learns_the_same_in_either_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lib = tmp_path / "lib"
    edited_photo(lib, "a.png", 1, 0.4, {1: -0.5})
    edited_photo(lib, "b.png", 2, 0.3, {})
    links = tmp_path / "links"
    links.mkdir()
    (links / "a.png").symlink_to("../lib/a.png")  # no sidecar beside the link
    found = []
    for i, given in enumerate(((links, lib), (lib, links))):
        selection = _darktable_dir(darktable_args(*given), tmp_path / f"run{i}")
        assert _is_selection(selection)
        chosen, skipped, unreadable = _darktable_histories(list_photos(selection), True)
        found.append(([(e.name, e.text) for e in chosen], skipped, unreadable))
    # links first kept the link (no sidecar beside it): lib/a.png.xmp was never linked, and nothing named it
    assert found[0] == found[1]
    assert [name for name, _ in found[0][0]] == ["a", "a (virtual copy 1)", "b"] and found[0][1:] == ([], [])
    assert "not learnt from" not in caplog.text
    (links / "a.png.xmp").write_text((lib / "b.png.xmp").read_text())  # a sidecar of its own: another edit
    with caplog.at_level(logging.WARNING, logger="trainer.data.selection"):
        selection = _darktable_dir(darktable_args(links, lib), tmp_path / "run2")
    assert os.readlink(selection / "a.png.xmp") == str(lib / "a.png.xmp")  # both have one: the file, not the link
    assert f"{links / 'a.png.xmp'}: not learnt from: {lib / 'a.png'}, the same photo, is given too" in caplog.text
