"""The photos a batch request covers: named files as they are, folders expanded to the photos inside.

A folder contributes its files whose extension is a photo format autoretouch reads (camera raws, TIFF,
JPEG, PNG), hidden files skipped, sorted by name; with ``recursive`` its sub-folders too (symlinked
folders are not followed, so a walk never leaves the tree or loops). Symlinked files are listed; the
per-file root check refuses those that point outside the roots.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from backend.daemon.errors import RequestTooLargeError
from backend.decode import RAW_EXTENSIONS

__all__ = ["PHOTO_EXTENSIONS", "expand_paths"]

#: Lower-case extensions (no dot) a folder walk picks up.
PHOTO_EXTENSIONS: frozenset[str] = RAW_EXTENSIONS | {"jpg", "jpeg", "jpe", "png", "tif", "tiff"}


def _folder(folder: Path, recursive: bool) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    subdirs: list[Path] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(Path(entry.path))
            elif entry.name.rpartition(".")[2].lower() in PHOTO_EXTENSIONS and entry.is_file():
                yield Path(entry.path)
        except OSError:
            continue
    if recursive:
        for sub in subdirs:
            yield from _folder(sub, recursive)


def expand_paths(paths: Sequence[Path], *, recursive: bool, limit: int) -> list[Path]:
    """Named files and the photos of named folders, in request order, each once.

    Args:
        paths: absolute paths (already checked against the roots); missing paths are kept (the caller
            reports them per file).
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
        found = _folder(p, recursive) if p.is_dir() else iter((p,))
        for photo in found:
            if photo in seen:
                continue
            seen.add(photo)
            out.append(photo)
            if len(out) > limit:
                raise RequestTooLargeError(f"the request covers more than {limit:,} photos; split it")
    return out
