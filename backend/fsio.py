"""Files replaced atomically: write a temporary file next to the target, fsync it, ``os.replace`` it.

A reader (or a crash) sees the old file or the new one, never half of one. Used for every file autoretouch
writes whole (styles, images, checkpoints, reports, caches); sidecars go through
:mod:`backend.sidecar.atomic`, which adds a lock and a backup on top of the same steps.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["replacing", "write_bytes_atomic", "write_text_atomic", "write_with"]


def _umask() -> int:
    # read once at import: os.umask can only be read by setting it, which is not thread-safe later
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: This process's umask, read once at import.
UMASK = _umask()
#: Permission bits of a new regular file under that umask (what ``open(path, "w")`` would give).
NEW_FILE_MODE = 0o666 & ~UMASK


@contextlib.contextmanager
def replacing(path: str | Path, *, mode: int | None = None) -> Iterator[Path]:
    """A temporary path in ``path``'s folder; when the block ends without error it replaces ``path``.

    The temporary file (``.NAME.<random>.tmp``) exists, empty, when the block starts; whatever the block wrote
    to it is fsync-ed, given ``mode`` (permission bits; default :data:`NEW_FILE_MODE`, as a plain new file), and
    moved over ``path``. On any error it is removed and ``path`` is left as it was.

    Raises:
        OSError: the folder is missing or not writable (raised before the block runs), or the final move fails.
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, NEW_FILE_MODE if mode is None else mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`replacing`)."""
    with replacing(path, mode=mode) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Replace ``path`` with UTF-8 ``text`` atomically (see :func:`replacing`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_with(path: str | Path, write: Callable[[Path], object]) -> None:
    """Replace ``path`` atomically with what ``write(temporary path)`` writes (for libraries that take a path)."""
    with replacing(path) as tmp:
        write(tmp)
