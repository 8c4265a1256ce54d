"""Which photo a darktable virtual copy's sidecar belongs to, when ``train --darktable`` reads it.

A copy's sidecar ``NAME_NN.EXT.xmp`` is a copy of ``NAME.EXT`` only when it lies in that photo's own folder
(a selection's links compared by the files they link to): a lone copy's sidecar, whose photo is missing, linked
beside an unrelated ``NAME.EXT`` of another folder was trained onto that photo. In a user's folder a photo that is
a symbolic link has its copies read too: the folder was taken for a selection (any link in it), the photo's name
for its target's, and the copies ``apply`` wrote (``xmpMM:DerivedFrom`` naming the link) were dropped without a
word; a sidecar naming the target is the photo's too, and one naming a file that is not there is reported. A photo
whose only sidecar by name is another photo's (``d1_01.png``'s beside ``d1.png``) is reported as having no
sidecar again. The photo's own sidecar is looked for on disk, as before the copies, not in the folder's listing
(which spells its name as the disk has it, another case on a case-insensitive disk). Only the photos are decoded:
no darktable needed, except for the one test that trains (skipped when darktable-cli is missing, a failure under
CI=true).
"""

from __future__ import annotations

from pathlib import Path

from backend.recipe import Recipe
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from testing.darktable_cli import darktable_cli_path
from testing.darktable_copies import darktable_args, edited_photo, exposure
from testing.needs import missing
from testing.training import tiny_pairs_config
from trainer.cli import _darktable_dir
from trainer.config import config_from_dict
from trainer.darktable_pairs import _darktable_histories, _is_selection, _lone_copies, _photo_edits
from trainer.data.folders import list_photos
from trainer.data.selection import _mark


def _histories(folder: Path) -> tuple[list[str], list[str]]:
    chosen, skipped, unreadable = _darktable_histories(list_photos(folder), _is_selection(folder))
    assert unreadable == []
    return [e.name for e in chosen], skipped


def test_a_lone_copy_beside_another_folders_photo_of_that_name_is_not_its_copy(tmp_path: Path) -> None:
    a = edited_photo(tmp_path / "a", "p0.png", 1, 0.4, {})
    gone = edited_photo(tmp_path / "c", "p0.png", 2, 0.2, {1: -0.6})
    gone.unlink()
    lone = gone.with_name("p0_01.png.xmp")
    # a selection folder as linked_folder made it before: the lone copy under its own name (marked as one)
    selection = tmp_path / "run" / "selection"
    selection.mkdir(parents=True)
    for target in (a, a.with_name("p0.png.xmp"), lone):
        (selection / target.name).symlink_to(target)
    _mark(selection, True)
    assert _is_selection(selection)
    assert _histories(selection) == (["p0"], [])
    assert _lone_copies(selection) == [f"{lone}: a darktable virtual copy's sidecar, and its photo {gone} is not there"]
    # and as it is made now
    linked = _darktable_dir(darktable_args(a, lone), tmp_path / "run")
    assert _histories(linked) == (["p0"], [])
    assert _lone_copies(linked) == [f"{lone}: a darktable virtual copy's sidecar, and its photo {gone} is not there"]


def _linked_photo(tmp_path: Path) -> Path:
    """``u/link.png``, a link to ``t/real.png``, with edits written by ``apply`` on the link and three copies.

    Copy 1 names ``link.png`` (``apply``'s own), copy 2 ``real.png`` (the link's target), copy 3 ``gone.png``.
    """
    real = edited_photo(tmp_path / "t", "real.png", 1, None, {2: 0.3})
    users = tmp_path / "u"
    users.mkdir()
    link = users / "link.png"
    link.symlink_to(real)
    edited_photo(users, "plain.png", 2, 0.2, {})
    for n, ev in ((0, 0.4), (1, -0.6)):
        apply_to_photo(
            link, Recipe.from_settings({"exposure": ev}), host="darktable", info=PhotoInfo(False, 32), duplicate=n
        )
    real.with_name("real_02.png.xmp").rename(users / "link_02.png.xmp")
    text = (users / "link_01.png.xmp").read_text(encoding="utf-8")
    assert 'xmpMM:DerivedFrom="link.png"' in text
    (users / "link_03.png.xmp").write_text(text.replace('DerivedFrom="link.png"', 'DerivedFrom="gone.png"'))
    return link


def test_the_copies_of_a_users_linked_photo_are_read(tmp_path: Path) -> None:
    link = _linked_photo(tmp_path)
    assert not _is_selection(link.parent)
    names, skipped = _histories(link.parent)
    assert names == ["link", "link (virtual copy 1)", "link (virtual copy 2)", "plain"]
    assert skipped == ["link.png (virtual copy 3): not learnt from: this sidecar belongs to gone.png"]
    # given as a selection, the user's link keeps its name
    linked = _darktable_dir(darktable_args(link, link.with_name("link_01.png.xmp")), tmp_path / "run")
    assert _is_selection(linked)
    assert _histories(linked) == (["link", "link (virtual copy 1)"], [])


def test_training_on_a_folder_with_a_linked_photo_learns_its_copies(tmp_path: Path) -> None:
    if darktable_cli_path() is None:
        missing("darktable-cli is not installed (apt-get install darktable)")
    from trainer.darktable_pairs import load_darktable_pair_set

    link = _linked_photo(tmp_path)
    cfg = config_from_dict(tiny_pairs_config(["exposure"], "s"))
    ps = load_darktable_pair_set(cfg, link.parent, ("exposure",))
    assert ps.names == ["link", "link (virtual copy 1)", "link (virtual copy 2)", "plain"]
    assert ps.labels is not None
    assert [round(exposure(steps), 2) for steps in ps.labels] == [0.4, -0.6, 0.3, 0.2]
    assert ps.source["darktable_skipped"] == [
        "link.png (virtual copy 3): not learnt from: this sidecar belongs to gone.png"
    ]


def test_a_photo_whose_only_sidecar_by_name_is_another_photos_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "dt"
    edited_photo(folder, "d1.png", 2, None, {})
    edited_photo(folder, "d1_01.png", 3, -0.2, {})  # its sidecar is d1_01.png's own, not d1's copy 1
    assert _histories(folder) == (["d1_01"], ["d1.png: no darktable sidecar (d1.png.xmp)"])


def test_a_photos_own_sidecar_is_looked_for_on_disk_not_in_the_listing(tmp_path: Path) -> None:
    photo = edited_photo(tmp_path / "dt", "d0.png", 1, 0.4, {1: -0.6})
    sidecar, copy = photo.with_name("d0.png.xmp"), photo.with_name("d0_01.png.xmp")
    # a case-insensitive disk lists D0.PNG.XMP for the d0.png.xmp asked: the file is there all the same
    assert _photo_edits(photo, {"D0.PNG.XMP", copy.name}, False) == [(0, sidecar), (1, copy)]
