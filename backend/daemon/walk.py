"""The photos a batch request covers: named files as they are, folders expanded to the photos inside.

A folder contributes its photos as the CLI's own batches find them (:func:`backend.batch.walk.iter_photos`:
photo extensions, content sniffed for unknown ones, hidden entries skipped, sorted by name); with
``recursive`` its sub-folders too (symlinked folders are not followed, so a walk never leaves the tree or
loops). Symlinked files are listed; the per-file root check refuses those that point outside the roots.
Anything that is not a folder, even a path that cannot exist (a name too long), is kept as named: the caller
reports it per file (:meth:`~backend.daemon.service.RetouchService.guard_photo`), and the others carry on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from backend.batch.walk import PHOTO_EXTENSIONS, is_folder, iter_photos
from backend.daemon.errors import RequestTooLargeError

__all__ = ["PHOTO_EXTENSIONS", "expand_paths"]


def expand_paths(paths: Sequence[Path], *, recursive: bool, limit: int) -> list[Path]:
    """Named files and the photos of named folders, in request order, each once.

    Args:
        paths: absolute paths (already checked against the roots); missing paths, and paths that cannot
            exist (a name over 255 bytes, over 4,095 in all), are kept: the caller reports them per file.
        recursive: walk sub-folders.
        limit: most photos allowed.

    Returns:
        The photos.

    Raises:
        RequestTooLargeError: more than ``limit`` photos.
    """
    out: list[Path] = []
    seen: set[Path] = set()
    for p in paths:
        found = iter_photos(p, recursive=recursive) if is_folder(p) else iter((p,))
        for photo in found:
            if photo in seen:
                continue
            seen.add(photo)
            out.append(photo)
            if len(out) > limit:
                raise RequestTooLargeError(f"the request covers more than {limit:,} photos; split it")
    return out
