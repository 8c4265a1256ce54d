"""A folder of links to photos, given to ``train --darktable`` with other paths, keeps its edits.

darktable keeps a photo's sidecars beside the photo's own file (``lib/a.png.xmp``, ``lib/a_01.png.xmp``), not beside a
user's link to it (``links/a.png -> ../lib/a.png``). Read alone, such a folder learnt them; given with other paths it
is linked into the run's selection, where the sidecars were not linked, so its edits were lost ("no darktable
sidecar"). Now the selection links the sidecars beside the real file: the folder brings the photo's edit and its
virtual copies, a link given alone its own edit only (as any photo given alone). No darktable-cli needed: the
histories are read, not rendered.
"""

from __future__ import annotations

import os
from pathlib import Path

from testing.darktable_copies import edited_photo
from trainer.darktable_pairs import _darktable_histories, _is_selection
from trainer.data.folders import list_photos
from trainer.data.selection import darktable_selection, linked_folder


def _learnt(paths: list[Path], run: Path) -> tuple[list[str], list[str]]:
    """The edits ``train --darktable PATHS`` learns (their names) and the skip messages, as the CLI selects them."""
    if len(paths) == 1 and paths[0].is_dir():
        folder, selection = paths[0], _is_selection(paths[0])
    else:
        folder, selection = linked_folder(run / "selection", darktable_selection(paths), with_sidecars=True), True
    chosen, skipped, _ = _darktable_histories(list(list_photos(folder)), selection)
    return [c.name for c in chosen], skipped


def _library(tmp_path: Path) -> tuple[Path, Path]:
    edited_photo(tmp_path / "lib", "a.png", 1, 0.4, {1: -0.5})
    other = edited_photo(tmp_path / "other", "o.png", 2, 0.3, {})
    (tmp_path / "links").mkdir()
    os.symlink("../lib/a.png", tmp_path / "links" / "a.png")
    return tmp_path / "links", other


def test_a_folder_of_links_alone(tmp_path: Path) -> None:
    links, _ = _library(tmp_path)
    assert _learnt([links], tmp_path / "run") == (["a", "a (virtual copy 1)"], [])


def test_a_folder_of_links_with_another_photo(tmp_path: Path) -> None:
    links, other = _library(tmp_path)
    assert _learnt([links, other], tmp_path / "run") == (["a", "a (virtual copy 1)", "o"], [])


def test_a_link_given_alone_brings_its_own_edit_only(tmp_path: Path) -> None:
    links, other = _library(tmp_path)
    assert _learnt([links / "a.png", other], tmp_path / "run") == (["a", "o"], [])
