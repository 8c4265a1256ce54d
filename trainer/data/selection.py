"""An editor's selection as a folder: symbolic links to listed photo files (and their darktable sidecars).

The trainer reads folders (favourites, darktable edits); a selection in Lightroom or darktable is a list of
files from many folders. :func:`linked_folder` makes a folder of links to them, names made unique.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["linked_folder"]


def linked_folder(folder: Path, files: Sequence[str | Path], *, with_sidecars: bool) -> Path:
    """A folder of symbolic links to ``files`` (and, with ``with_sidecars``, each one's ``NAME.EXT.xmp``).

    Args:
        folder: the folder to create (its parents too); links are added to it.
        files: photo files; a name that repeats (same file name in two folders) gets ``-<index>`` before its
            extension.
        with_sidecars: also link each photo's darktable sidecar, under the link's name plus ``.xmp``.

    Returns:
        ``folder``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for i, text in enumerate(files):
        photo = Path(text).absolute()
        name = photo.name if photo.name not in used else f"{photo.stem}-{i}{photo.suffix}"
        used.add(name)
        (folder / name).symlink_to(photo)
        sidecar = photo.with_name(photo.name + ".xmp")
        if with_sidecars and sidecar.is_file():
            (folder / (name + ".xmp")).symlink_to(sidecar)
    return folder
