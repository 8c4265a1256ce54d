"""Which darktable sidecars ``train --darktable`` reads for photos reached through links, and for a photo's own.

A user's folder of links is read as the user's folder, whatever its name and links (relative, absolute, a folder
named ``selection``): the sidecars by name beside its photos, messages naming its photos by their names there; only
a selection autoretouch linked (known by its marker, :func:`trainer.data.selection.is_selection`) is read as one.
A user's folder whose entries were all links was taken for a selection (messages named the links' targets, a
sidecar linked there was dropped unless it linked to the one beside the user's photo), one named ``selection`` of
absolute links for autoretouch's (the sidecars beside its photos' files were not read). A chain of links
(``links/a.png -> lib2/a.png -> lib/a.png`` with ``links/a.png.xmp -> lib/a.png.xmp``) keeps its edits. A folder of
links to photos only learns the sidecars beside the photos' files (it named an existing ``lib/a.png.xmp`` as
missing), but a selection of a virtual copy only still leaves its photo's own edit out; a selection names the
user's files by their normalised paths. A photo's own sidecar whose ``xmpMM:DerivedFrom`` names another file there
(``p_01.png.xmp``, ``p.png``'s copy 1) is that file's copy, no longer also learnt as the photo ``p_01.png``'s edit.
A copy linked beside a further link of its photo is compared with its photo's own history. Only the photos are
decoded, except in the tests that train (skipped when darktable-cli is missing, a failure under CI=true).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from testing.darktable_cli import darktable_cli_path
from testing.darktable_copies import darktable_args, edited_photo, exposure
from testing.needs import missing
from testing.training import tiny_pairs_config
from trainer.cli import _darktable_dir
from trainer.config import config_from_dict
from trainer.darktable_pairs import _darktable_histories, _is_selection, _lone_copies
from trainer.data.folders import list_photos


def _histories(folder: Path) -> tuple[list[str], list[str]]:
    chosen, skipped, unreadable = _darktable_histories(list_photos(folder), _is_selection(folder))
    assert unreadable == []
    return [e.name for e in chosen], skipped


def _chain(tmp_path: Path) -> Path:
    """``links/a.png -> ../lib2/a.png -> ../lib/a.png``; ``links`` links lib's ``a.png.xmp`` and ``a_01.png.xmp``."""
    edited_photo(tmp_path / "lib", "a.png", 1, 0.4, {1: -0.6})
    (tmp_path / "lib2").mkdir()
    (tmp_path / "lib2" / "a.png").symlink_to("../lib/a.png")
    links = tmp_path / "links"
    links.mkdir()
    (links / "a.png").symlink_to("../lib2/a.png")
    for name in ("a.png.xmp", "a_01.png.xmp"):
        (links / name).symlink_to(f"../lib/{name}")
    return links


def test_a_chain_of_links_keeps_its_edits(tmp_path: Path) -> None:
    links = _chain(tmp_path)
    assert not _is_selection(links)  # a user's folder of links
    assert _histories(links) == (["a", "a (virtual copy 1)"], [])


def test_a_users_folder_of_links_names_its_photos_by_their_names_there(tmp_path: Path) -> None:
    links = _chain(tmp_path)
    edited_photo(tmp_path / "lib", "b.png", 2, None, {})
    (tmp_path / "lib2" / "b.png").symlink_to("../lib/b.png")
    (links / "b.png").symlink_to("../lib2/b.png")
    assert _histories(links) == (["a", "a (virtual copy 1)"], ["b.png: no darktable sidecar (b.png.xmp)"])


def test_messages_name_a_selections_photo_by_its_normalised_path(tmp_path: Path) -> None:
    links = _chain(tmp_path)
    b = edited_photo(tmp_path / "lib", "b.png", 2, None, {})
    (tmp_path / "lib2" / "b.png").symlink_to("../lib/b.png")
    lib2 = tmp_path / "lib2"
    # given as links/../lib2/b.png: the selection links that path as it was typed
    linked = _darktable_dir(darktable_args(links / "a.png", links / ".." / "lib2" / "b.png"), tmp_path / "run")
    assert _is_selection(linked)
    assert os.readlink(linked / "b.png") == str(links / ".." / "lib2" / "b.png")
    assert _histories(linked) == (["a"], [f"{lib2 / 'b.png'}: no darktable sidecar ({lib2 / 'b.png.xmp'})"])
    assert b.is_file()


def test_a_folder_of_links_reached_through_a_linked_folder_reads_its_own_files(tmp_path: Path) -> None:
    links = _chain(tmp_path / "real")
    alias = tmp_path / "alias"
    alias.symlink_to(links)  # alias/../lib2 is real/lib2: normalised, it would name tmp_path/lib2, not there
    assert _histories(alias) == (["a", "a (virtual copy 1)"], [])


def test_a_lone_copy_given_by_a_path_with_dots_is_named_by_its_normalised_path(tmp_path: Path) -> None:
    links = _chain(tmp_path)
    gone = edited_photo(tmp_path / "gone", "g.png", 4, 0.3, {1: 0.5})
    gone.unlink()
    given = links / ".." / "gone" / "g_01.png.xmp"
    linked = _darktable_dir(darktable_args(links / "a.png", given), tmp_path / "run")
    assert _lone_copies(linked) == [
        f"{gone.with_name('g_01.png.xmp')}: a darktable virtual copy's sidecar, and its photo {gone} is not there"
    ]


def _photos_only(folder: Path, lib: Path, *, absolute: bool, names: tuple[str, ...] = ("a.png", "b.png")) -> None:
    """``folder`` of links to ``lib``'s photos ``names`` (no sidecar linked), relative or absolute."""
    folder.mkdir()
    for name in names:
        (folder / name).symlink_to(lib / name if absolute else Path(os.path.relpath(lib, folder)) / name)


def test_a_folder_of_links_to_photos_only_learns_the_sidecars_beside_them(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    edited_photo(lib, "a.png", 1, 0.4, {1: -0.6})
    edited_photo(lib, "b.png", 2, None, {})
    for folder, absolute in ((tmp_path / "links", False), (tmp_path / "abs", True), (tmp_path / "selection", True)):
        _photos_only(folder, lib, absolute=absolute)
        assert not _is_selection(folder), folder
        # read as the user's folder: a folder named selection of absolute links too (taken for autoretouch's, it
        # learnt nothing: "no darktable sidecar linked (lib/a.png.xmp is not in the selection)")
        assert _histories(folder) == (["a", "a (virtual copy 1)"], ["b.png: no darktable sidecar (b.png.xmp)"])


@pytest.mark.parametrize("kind", ["relative", "absolute", "named selection"])
def test_a_users_folder_of_links_reads_its_own_sidecars(tmp_path: Path, kind: str) -> None:
    """A sidecar beside a photo's link is that photo's, wherever it links to; given alone, the folder is read."""
    lib = tmp_path / "lib"
    edited_photo(lib, "a.png", 1, 0.4, {})
    mine = edited_photo(tmp_path / "edits", "x.png", 2, -0.3, {})  # an edit kept elsewhere, linked under a's name
    folder = tmp_path / ("selection" if kind == "named selection" else "links")
    _photos_only(folder, lib, absolute=kind != "relative", names=("a.png",))
    target = mine.with_name("x.png.xmp")
    (folder / "a.png.xmp").symlink_to(target if kind != "relative" else os.path.relpath(target, folder))
    assert _darktable_dir(darktable_args(folder), tmp_path / "run") == folder  # a folder given alone: itself
    assert not (tmp_path / "run" / "selection").exists()
    chosen, skipped, unreadable = _darktable_histories(list_photos(folder), _is_selection(folder))
    assert ([e.name for e in chosen], skipped, unreadable) == (["a"], [], [])
    assert chosen[0].text == target.read_text(encoding="utf-8")  # the folder's sidecar, not lib/a.png.xmp


def test_a_selection_of_a_copy_only_leaves_its_photos_own_edit_out(tmp_path: Path) -> None:
    a = edited_photo(tmp_path / "a", "p0.png", 1, 0.4, {1: -0.6})
    b = edited_photo(tmp_path / "b", "p0_01.png", 3, -0.2, {})
    # the copy goes beside a further link of p0.png (p0_01.png.xmp is b's): p0.png's link has no sidecar
    linked = _darktable_dir(darktable_args(a.with_name("p0_01.png.xmp"), b), tmp_path / "run")
    names, skipped = _histories(linked)
    assert sorted(names) == ["p0-0 (virtual copy 1)", "p0_01"], names
    own = a.with_name("p0.png.xmp")
    assert skipped == [f"{a}: no darktable sidecar linked ({own} is not in the selection)"]


def test_a_photos_own_sidecar_that_is_another_photos_copy_is_learnt_once(tmp_path: Path) -> None:
    folder = tmp_path / "dt"
    edited_photo(folder, "p.png", 2, 0.2, {1: -0.5})
    edited_photo(folder, "p_01.png", 3, None, {})  # no sidecar of its own: p_01.png.xmp is p.png's copy 1
    assert _histories(folder) == (
        ["p", "p (virtual copy 1)"],
        ["p_01.png: no darktable sidecar of its own (p_01.png.xmp: this sidecar belongs to p.png)"],
    )


def test_a_copy_beside_a_further_link_with_its_photos_history_is_learnt_once(tmp_path: Path) -> None:
    a = edited_photo(tmp_path / "a", "p0.png", 1, 0.4, {1: 0.4})
    b = edited_photo(tmp_path / "b", "p0_01.png", 3, -0.2, {})
    linked = _darktable_dir(darktable_args(a, a.with_name("p0_01.png.xmp"), b), tmp_path / "run")
    names, skipped = _histories(linked)
    assert sorted(names) == ["p0", "p0_01"], names
    assert skipped == [f"{a} (virtual copy 1): the same history as {a}"]


def test_training_on_a_chain_of_links_learns_its_edits(tmp_path: Path) -> None:
    if darktable_cli_path() is None:
        missing("darktable-cli is not installed (apt-get install darktable)")
    from trainer.darktable_pairs import load_darktable_pair_set

    links = _chain(tmp_path)
    cfg = config_from_dict(tiny_pairs_config(["exposure"], "s"))
    ps = load_darktable_pair_set(cfg, links, ("exposure",))
    assert ps.names == ["a", "a (virtual copy 1)"]
    assert ps.labels is not None
    assert [round(exposure(steps), 2) for steps in ps.labels] == [0.4, -0.6]
    after = ps.views.after_evals
    assert float(after[1].mean()) < 0.6 * float(after[0].mean())  # darktable rendered each edit
    assert ps.source["darktable_skipped"] == []
