"""What the user gave a training, as its record names it: their own files and folders, not a selection's links.

``train --darktable A.jpg B.jpg`` and the daemon's darktable or favourite files are linked into the run's
``RUN_DIR/selection`` (:func:`trainer.data.selection.linked_folder`), which writes what was given (the folders and
files as the user named them) into the selection's marker; the style's training record (``styles --json``) names
those instead of the run's links (:func:`given_record`, :func:`folder_record`), and only the folders among them
have their unread subfolders named (:func:`unread_subfolders`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["folder_record", "given_record", "unread_subfolders"]


def given_record(folder: str | Path, *, with_sidecars: bool | None = None) -> list[str] | None:
    """What the user gave for selection ``folder``, or ``None`` where ``folder`` is the user's own.

    The paths :func:`trainer.data.selection.linked_folder` was given them as (folders, photos, sidecars; absolute,
    in the order given: :func:`trainer.data.selection.selection_given`). A selection whose marker lists none (one
    linked before markers listed them) names the files its links lead to: each photo's (``lib/../a.png`` is
    ``a.png`` where that is the same file) and each virtual copy's sidecar linked (``IMG_01.jpg.xmp``), not a
    photo's own sidecar linked beside it (the photo stands for it) nor a photo linked only for its copies.

    Args:
        folder: the folder training read.
        with_sidecars: what training read it for, as it asks :func:`trainer.data.selection.is_selection`
            (``True``: darktable edits, ``False``: photos, the daemon's favourites; ``None``: either), so that a
            selection made for the other is named as the user's folder it is read as.

    Returns:
        The paths, or ``None`` when ``folder`` is not a selection autoretouch linked for that (known by its
        marker, :func:`trainer.data.selection.is_selection`): a folder the user gave, a user's own folder of links
        (the record names the folder).
    """
    from trainer.data.selection import is_selection, selection_given

    root = Path(folder)
    if not root.is_dir() or not is_selection(root, with_sidecars=with_sidecars):
        return None
    given = selection_given(root)
    return given if given is not None else _linked_files(root)


def _linked_files(root: Path) -> list[str]:
    """The user's files behind the links of selection ``root`` (sorted), for a marker that lists nothing given."""
    from trainer.data.darktable_copies import copy_named
    from trainer.data.selection import link_target

    links = sorted(p for p in root.iterdir() if p.is_symlink())
    names = {p.name for p in links}
    copied = {c.photo.name for p in links if p.suffix == ".xmp" and (c := copy_named(p)) is not None}
    files: set[Path] = set()
    for link in links:
        if link.suffix == ".xmp" and link.name.removesuffix(".xmp") in names:
            continue  # a photo's own sidecar: the photo stands for it
        if link.suffix != ".xmp" and link.name in copied and link.name + ".xmp" not in names:
            continue  # linked for its virtual copies only: the copies' sidecars were given
        target = link_target(link)
        tidy = Path(os.path.normpath(target))
        files.add(tidy if tidy == target or tidy.resolve() == target.resolve() else target)
    return sorted(str(p) for p in files)


def folder_record(key: str, folder: str | Path, *, with_sidecars: bool | None = None) -> dict[str, Any]:
    """The training record's entries for a folder training read: ``KEY_dir``, and ``KEY_given`` for a selection.

    Args:
        key: the record's name for the folder (``"targets"``, ``"sources"``, ``"darktable"``).
        folder: the folder training read.
        with_sidecars: what it was read for (:func:`given_record`): ``True`` for ``"darktable"``, ``False`` for
            favourites (``"targets"``, ``"sources"``), as the reader asks :func:`trainer.data.selection.is_selection`.

    Returns:
        ``{"KEY_dir": the folder, resolved}`` for the user's own folder; for a selection autoretouch linked,
        ``{"KEY_dir": None, "KEY_given": what the user gave}`` (:func:`given_record`), not the run's links.
    """
    given = given_record(folder, with_sidecars=with_sidecars)
    if given is None:
        return {f"{key}_dir": str(Path(folder).resolve())}
    return {f"{key}_dir": None, f"{key}_given": given}


def unread_subfolders(*folders: str | Path | None, with_sidecars: bool | None = None) -> list[str]:
    """The record's ``subfolders_not_read``: the subfolders with photos of ``folders`` that training does not read.

    Those of each folder (:func:`~trainer.data.folders.photo_subfolders`), or for a selection autoretouch linked,
    those of the folders the user gave among its files (:func:`given_record`: ``train --darktable DIR A.jpg``),
    not of the folders that the files given lie in. ``None`` entries (no sources) are passed over.
    ``with_sidecars``: what the folders were read for (:func:`given_record`). All the folders share one budget of
    listings (:class:`~trainer.data.folders.SubfolderScan`: 10,000 folders given cost no more than one); the
    subfolders not looked at once it is spent are not named.

    Returns:
        Their paths, in the order of ``folders`` (each folder's sorted by name); ``[]`` where there are none.
    """
    from trainer.data.folders import SubfolderScan, photo_subfolders

    scan = SubfolderScan()
    out: list[str] = []
    for folder in folders:
        if folder is None:
            continue
        given = given_record(folder, with_sidecars=with_sidecars)
        read = [Path(folder)] if given is None else [Path(p) for p in given if Path(p).is_dir()]
        out += [str(sub) for f in read for sub in photo_subfolders(f, scan=scan)]
    return out
