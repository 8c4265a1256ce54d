"""An editor's selection as a folder: symbolic links to listed photo files (and their darktable sidecars).

The trainer reads folders (favourites, darktable edits); a selection in Lightroom or darktable is a list of
files from many folders. :func:`linked_folder` makes a folder of links to them, names made unique; it starts
afresh on every call, so a run folder reused by a later run never trains on an earlier run's selection.
:func:`darktable_selection` turns what ``train --darktable`` was given (folders, photos, a photo's sidecar) into
one list of photo files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from backend.errors import AutoretouchError, NotFoundError

__all__ = ["SelectionError", "darktable_selection", "link_target", "linked_folder"]


class SelectionError(AutoretouchError):
    """A selection cannot be used as given: a listed path is not a photo, or the selection folder holds a user file.

    Attributes:
        path: the file concerned.
    """

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = Path(path)


def _clear(folder: Path) -> None:
    """Remove the links of an earlier selection from ``folder``; refuse if it holds anything else.

    Only symbolic links are removed (this module makes nothing else there); a regular file or folder in it is
    the user's, so it is left alone and reported, except hidden ones (``.DS_Store``), which the photo listing
    skips anyway.
    """
    entries = sorted(p for p in folder.iterdir() if p.is_symlink() or not p.name.startswith("."))
    foreign = [p for p in entries if not p.is_symlink()]
    if foreign:
        raise SelectionError(
            foreign[0],
            "the selection folder holds a file that is not a link made by autoretouch; move it away or choose "
            "another --run-dir",
        )
    for link in entries:
        link.unlink()


def linked_folder(folder: Path, files: Sequence[str | Path], *, with_sidecars: bool) -> Path:
    """A folder of symbolic links to ``files`` (and, with ``with_sidecars``, each one's ``NAME.EXT.xmp``).

    The folder holds this selection only: the links of an earlier call (an earlier, perhaps interrupted, run in
    the same run folder) are removed first.

    Args:
        folder: the folder to create (its parents too) or to empty of its links.
        files: photo files; a name that repeats (same file name in two folders) gets ``-<index>`` before its
            extension. The same file listed twice is linked once.
        with_sidecars: also link each photo's darktable sidecar, under the link's name plus ``.xmp``.

    Returns:
        ``folder``.

    Raises:
        SelectionError: ``folder`` holds something that is not a symbolic link (a user's file is never removed).
    """
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise SelectionError(folder, "the selection folder is not a folder; choose another --run-dir")
    folder.mkdir(parents=True, exist_ok=True)
    _clear(folder)
    used: set[str] = set()
    seen: set[Path] = set()
    for i, text in enumerate(files):
        photo = Path(text).absolute()
        if photo.resolve() in seen:
            continue
        seen.add(photo.resolve())
        name, k = photo.name, i
        # IMG_1-2.jpg may be a photo's own name too, and IMG_1.JPG is img_1.jpg on a case-insensitive disk
        while name.casefold() in used:
            name, k = f"{photo.stem}-{k}{photo.suffix}", k + 1
        used.add(name.casefold())
        (folder / name).symlink_to(photo)
        sidecar = photo.with_name(photo.name + ".xmp")
        if with_sidecars and sidecar.is_file():
            (folder / (name + ".xmp")).symlink_to(sidecar)
    return folder


def link_target(path: Path) -> Path:
    """The user's own file behind a link of a selection folder (for messages); ``path`` itself when not a link."""
    if not path.is_symlink():
        return path
    target = Path(os.readlink(path))
    return target if target.is_absolute() else path.parent / target


def darktable_selection(paths: Sequence[Path]) -> list[Path]:
    """The photo files of ``train --darktable DIR_OR_PHOTO...``: each folder's photos, each photo given.

    A darktable sidecar given in place of its photo (``IMG.jpg.xmp``) stands for that photo (``IMG.jpg``) when
    the photo is there. Photos are listed once each, in the order given (a folder's sorted by name).

    Args:
        paths: folders and photo files, as typed.

    Returns:
        the photo files (absolute paths).

    Raises:
        NotFoundError: a path does not exist, or a folder holds no photo.
        SelectionError: a path is neither a folder nor a photo (a sidecar whose photo is missing, a text file).
    """
    from backend.batch.walk import is_photo_file
    from trainer.data.folders import list_photos

    photos: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_dir():
            photos += [p.absolute() for p in list_photos(path)]
        elif not path.is_file():
            missing.append(str(path))
        elif path.suffix.lower() == ".xmp":
            photo = path.with_name(path.name[: -len(path.suffix)])
            if not photo.is_file():
                raise SelectionError(
                    path,
                    f"not a photo: a darktable sidecar, and its photo {photo.name} is not beside it; pass the photo",
                )
            photos.append(photo.absolute())
        elif is_photo_file(path, explicit=True):
            photos.append(path.absolute())
        else:
            raise SelectionError(path, "not a photo (nor a folder of photos)")
    if missing:
        raise NotFoundError(f"--darktable: no such folder or photo file: {', '.join(missing[:5])}")
    unique: dict[Path, Path] = {}
    for p in photos:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())
