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


def _made_by_autoretouch(folder: Path) -> bool:
    """Whether ``folder`` is a selection autoretouch linked, as :func:`trainer.data.selection.linked_folder` makes it.

    That is: named ``selection``, every entry (hidden ones aside) a link to an absolute path.
    """
    if folder.name != "selection" or not folder.is_dir():
        return False
    entries = [p for p in folder.iterdir() if not p.name.startswith(".") or p.is_symlink()]
    return bool(entries) and all(p.is_symlink() and os.path.isabs(os.readlink(p)) for p in entries)


def given_record(folder: str | Path) -> list[str] | None:
    """The user's files and folders behind selection ``folder``, or ``None`` where ``folder`` is the user's own.

    Each photo link names its file (as linked, normalised: ``lib/../a.png`` is ``a.png`` where that is the same
    file), and each virtual copy's sidecar linked (``IMG_01.jpg.xmp``) its sidecar; a photo's own sidecar linked
    beside it is not named (the photo stands for it). Where every photo of a folder (its listing, not recursive) is
    linked, the folder is named in their place, with its copies' sidecars.

    Args:
        folder: the folder training read.

    Returns:
        The paths (sorted), or ``None`` when ``folder`` is not a selection autoretouch linked (a folder the user gave,
        a user's own folder of links: the record names the folder).
    """
    from trainer.data.folders import PHOTO_EXTENSIONS
    from trainer.data.selection import link_target

    root = Path(folder)
    if not _made_by_autoretouch(root):
        return None
    links = sorted(p for p in root.iterdir() if p.is_symlink())
    names = {p.name for p in links}
    files: list[Path] = []
    for link in links:
        if link.suffix == ".xmp" and link.name.removesuffix(".xmp") in names:
            continue  # a photo's own sidecar: the photo stands for it
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
    """The subfolders with photos of ``folder`` that training does not read (:func:`~trainer.data.folders.photo_subfolders`).

    None for a selection autoretouch linked (the user gave files, not that folder).
    """
    from trainer.data.folders import photo_subfolders

    return [] if given_record(folder) is not None else photo_subfolders(folder)
