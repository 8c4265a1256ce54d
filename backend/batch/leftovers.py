"""Remove what a killed autoretouch process can leave next to a sidecar: temp files and lock files.

:mod:`backend.sidecar.atomic` writes a sidecar (and its backup) through ``.<sidecar name>.autoretouch-<random>.tmp``
in the same folder and locks it with ``<sidecar>.autoretouch.lock`` (a sidecar name too long for those is shortened
in both, :func:`backend.fsio.temp_stem`); a process killed with ``kill -9`` in the middle leaves those behind (the
sidecar itself is always whole: old or new). Only names with that ``autoretouch`` mark are ours: a user's
``.IMG_1.xmp.draft.tmp`` or ``IMG_1.xmp.lock`` is never touched. Writes only ever happen while the sidecar's lock
is held, so once this module holds the lock (taken without waiting), every temp file of that sidecar is stale and
is deleted; releasing the lock removes the lock file. A lock held by a live process is left alone, and so is
everything next to it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from backend.errors import SidecarError
from backend.fsio import temp_stem
from backend.sidecar.atomic import LOCK_SUFFIX, TEMP_TAG, lock_path, sidecar_lock

__all__ = ["LOCK_RE", "TEMP_RE", "find_leftovers", "remove_leftovers"]

#: Temp file of a sidecar write: ``.<sidecar>.autoretouch-<random>.tmp`` (``tempfile``'s random part: 8 of
#: ``[a-z0-9_]``).
TEMP_RE = re.compile(rf"^\.(?P<sidecar>.+(?i:\.xmp))\.{re.escape(TEMP_TAG)}-[a-z0-9_]{{8}}\.tmp$")
#: Lock file of a sidecar: ``<sidecar>.autoretouch.lock``.
LOCK_RE = re.compile(rf"^(?P<sidecar>.+(?i:\.xmp)){re.escape(LOCK_SUFFIX)}$")


def find_leftovers(folder: Path, names: Iterable[str] | None = None) -> dict[str, list[Path]]:
    """Sidecar names in ``folder`` with a lock file or temp files next to them.

    Args:
        folder: the folder to look in (listed once).
        names: the folder's entry names when already known (saves a listing).

    Returns:
        sidecar file name (as :func:`backend.fsio.temp_stem` gives it: shortened when long) -> leftover
        paths (temp files and lock file).
    """
    if names is None:
        try:
            names = os.listdir(folder)
        except OSError:
            return {}
    found: dict[str, list[Path]] = {}
    for name in names:
        m = TEMP_RE.fullmatch(name) or LOCK_RE.fullmatch(name)
        if m is not None:
            found.setdefault(m.group("sidecar"), []).append(folder / name)
    return found


def remove_leftovers(sidecar: Path) -> list[Path]:
    """Delete the stale temp files and lock file of one sidecar, if nobody holds its lock.

    Args:
        sidecar: the sidecar path (``.xmp``).

    Returns:
        The paths removed (empty when the lock is held by a live process or nothing was left over).
    """
    before = find_leftovers(sidecar.parent).get(temp_stem(sidecar.name), [])
    if not before:
        return []
    removed: list[Path] = []
    try:
        with sidecar_lock(sidecar, timeout=0.0):
            for path in before:
                if path != lock_path(sidecar):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                        removed.append(path)
    except (SidecarError, OSError):  # held by a live process, or the folder is read-only: not ours to clean
        return removed
    lock = lock_path(sidecar)
    if lock in before and not lock.exists():
        removed.append(lock)
    return removed
