"""The photos a batch request covers: named files as they are, folders expanded to the photos inside.

A folder contributes its photos as the CLI's own batches find them (:func:`backend.batch.walk.iter_photos`:
photo extensions, content sniffed for unknown ones, hidden entries skipped, sorted by name); with
``recursive`` its sub-folders too (symlinked folders are not followed, so a walk never leaves the tree or
loops). Symlinked files are listed; the per-file root check refuses those that point outside the roots.
Anything that is not a folder, even a path that cannot exist (a name too long), is kept as named: the caller
reports it per file (:meth:`~backend.daemon.service.RetouchService.guard_photo`), and the others carry on.
What a folder walk leaves out with a reason (symbolic links to folders, broken links, FIFOs, sockets, devices) and
the folders that cannot be listed are handed to the caller (``skipped``, ``errors``), which reports them as the
CLI's batches do, never dropped silently. Each named folder is one :class:`backend.batch.walk.FolderWalk`, the walk
``revert FOLDER`` makes in-process, so a folder without photos is named alike (:data:`NO_PHOTOS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from backend.batch.walk import NO_PHOTOS, PHOTO_EXTENSIONS, FolderWalk, is_folder
from backend.daemon.errors import RequestTooLargeError

__all__ = ["NO_PHOTOS", "PHOTO_EXTENSIONS", "expand_paths"]


def expand_paths(
    paths: Sequence[Path],
    *,
    recursive: bool,
    limit: int,
    skipped: list[tuple[Path, str]] | None = None,
    errors: list[tuple[Path, str]] | None = None,
    empty: bool = False,
) -> list[Path]:
    """Named files and the photos of named folders, in request order, each once.

    Args:
        paths: absolute paths (already checked against the roots); missing paths, and paths that cannot
            exist (a name over 255 bytes, over 4,095 in all), are kept: the caller reports them per file.
        recursive: walk sub-folders.
        limit: most photos allowed.
        skipped: receives ``(path, message naming it)`` for what the folder walks leave out with a reason
            (:func:`~backend.batch.walk.iter_photos`' ``skipped``), and with ``empty`` ``(folder, "FOLDER: no
            photos in this folder")`` for a named folder without photos, nothing left out and no error (as
            ``revert FOLDER`` says it; a catalog run lists nothing for it).
        errors: receives ``(folder, message naming it)`` for each folder that cannot be listed.
        empty: name a folder without photos in ``skipped``.

    Returns:
        The photos.

    Raises:
        RequestTooLargeError: more than ``limit`` photos.
    """
    out: list[Path] = []
    seen: set[Path] = set()
    for p in paths:
        walk = FolderWalk(p, recursive=recursive, note_empty=empty) if is_folder(p) else None
        found: Iterable[Path] = (p,) if walk is None else walk
        for photo in found:
            if photo in seen:
                continue
            seen.add(photo)
            out.append(photo)
            if len(out) > limit:
                raise RequestTooLargeError(f"the request covers more than {limit:,} photos; split it")
        if walk is not None:
            if skipped is not None:
                skipped += walk.skipped
            if errors is not None:
                errors += walk.errors
    return out
