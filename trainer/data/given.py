"""What the user gave a training, as its record names it: their own files and folders, not a selection's links.

``train --darktable A.jpg B.jpg`` and the daemon's darktable or favourite files are linked into the run's
``RUN_DIR/selection`` (:func:`trainer.data.selection.linked_folder`); the style's training record
(``styles --json``) names the user's files behind those links instead (:func:`given_record`,
:func:`folder_record`), and a folder whose every photo is linked by the folder it is (a folder given among photos:
``train --darktable DIR A.jpg``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["folder_record", "given_record", "unread_subfolders"]


def given_record(folder: str | Path) -> list[str] | None:
    """The user's files and folders behind selection ``folder``, or ``None`` where ``folder`` is the user's own.

    Each photo link names its file (as linked, normalised: ``lib/../a.png`` is ``a.png`` where that is the same
    file), and each virtual copy's sidecar linked (``IMG_01.jpg.xmp``) its sidecar; a photo's own sidecar linked
    beside it is not named (the photo stands for it), nor a photo linked only for its copies (no sidecar of its own
    linked: its copies' sidecars were given). Where every photo of a folder (its listing, not recursive) is
    linked, the folder is named in their place, with its copies' sidecars.

    Args:
        folder: the folder training read.

    Returns:
        The paths (sorted), or ``None`` when ``folder`` is not a selection autoretouch linked (known by its marker,
        :func:`trainer.data.selection.is_selection`): a folder the user gave, a user's own folder of links (the
        record names the folder).
    """
    from trainer.data.darktable_copies import copy_named
    from trainer.data.folders import PHOTO_EXTENSIONS
    from trainer.data.selection import is_selection, link_target

    root = Path(folder)
    if not root.is_dir() or not is_selection(root):
        return None
    links = sorted(p for p in root.iterdir() if p.is_symlink())
    names = {p.name for p in links}
    copied = {c.photo.name for p in links if p.suffix == ".xmp" and (c := copy_named(p)) is not None}
    files: list[Path] = []
    for link in links:
        if link.suffix == ".xmp" and link.name.removesuffix(".xmp") in names:
            continue  # a photo's own sidecar: the photo stands for it
        if link.suffix != ".xmp" and link.name in copied and link.name + ".xmp" not in names:
            continue  # linked for its virtual copies only: the copies' sidecars were given
        target = link_target(link)
        tidy = Path(os.path.normpath(target))
        files.append(tidy if tidy == target or tidy.resolve() == target.resolve() else target)
    out: set[Path] = set(files)
    for parent in {f.parent for f in files}:
        try:
            photos = {
                p
                for p in parent.iterdir()
                if not p.name.startswith(".") and p.suffix.lower().lstrip(".") in PHOTO_EXTENSIONS and p.is_file()
            }
        except OSError:
            continue
        mine = {f for f in files if f.parent == parent}
        if photos and photos <= mine:  # the whole folder: named as such
            out = (out - mine) | {parent}
    return sorted(str(p) for p in out)


def folder_record(key: str, folder: str | Path) -> dict[str, Any]:
    """The training record's entries for a folder training read: ``KEY_dir``, and ``KEY_given`` for a selection.

    Args:
        key: the record's name for the folder (``"targets"``, ``"sources"``, ``"darktable"``).
        folder: the folder training read.

    Returns:
        ``{"KEY_dir": the folder, resolved}`` for the user's own folder; for a selection autoretouch linked,
        ``{"KEY_dir": None, "KEY_given": what the user gave}`` (:func:`given_record`), not the run's links.
    """
    given = given_record(folder)
    if given is None:
        return {f"{key}_dir": str(Path(folder).resolve())}
    return {f"{key}_dir": None, f"{key}_given": given}


def unread_subfolders(folder: str | Path) -> list[Path]:
    """The subfolders with photos that training does not read (:func:`~trainer.data.folders.photo_subfolders`).

    Those of ``folder``, or for a selection autoretouch linked, those of the folders its record names
    (:func:`given_record`: a folder given among photos, ``train --darktable DIR A.jpg``), not of the files given.
    """
    from trainer.data.folders import photo_subfolders

    given = given_record(folder)
    folders = [Path(folder)] if given is None else [Path(p) for p in given if Path(p).is_dir()]
    return [sub for f in folders for sub in photo_subfolders(f)]
