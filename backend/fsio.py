"""Files replaced atomically: write a temporary file next to the target, fsync it, ``os.replace`` it.

A reader (or a crash) sees the old file or the new one, never half of one. Used for every file autoretouch
writes whole (styles, images, checkpoints, reports, caches); sidecars go through
:mod:`backend.sidecar.atomic`, which adds a lock and a backup on top of the same steps. That lock and the
batch journal's take their ``flock`` through :func:`try_flock`. Sidecars and styles are read through
:func:`read_limited` (a regular file only, never waiting on a named pipe, within a size limit).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

from backend.errors import OutputError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "HAS_FLOCK",
    "NAME_MAX",
    "NEW_FILE_MODE",
    "UMASK",
    "file_kind",
    "file_sha256",
    "fsync_folder",
    "name_size",
    "read_limited",
    "replacing",
    "short_name",
    "temp_prefix",
    "temp_stem",
    "try_flock",
    "utf8_text",
    "write_bytes_atomic",
    "write_failure",
    "write_text_atomic",
]

#: Longest file name (one path component) common file systems accept, in bytes of the file system encoding
#: (ext4, APFS, btrfs, XFS: 255 bytes; NTFS: 255 UTF-16 units, never fewer than 255 bytes' worth).
NAME_MAX = 255


def name_size(name: str, *, windows: bool = os.name == "nt") -> int:
    """How long a file name is, as :data:`NAME_MAX` counts.

    Bytes of the file system encoding; on Windows (NTFS: 255 UTF-16 units) UTF-16 units, so that a long
    non-Latin name that is legal there is not refused.

    Args:
        name: one path component.
        windows: count as Windows does (default: whether this is Windows).
    """
    if windows:
        return len(name.encode("utf-16-le", "surrogatepass")) // 2
    return len(os.fsencode(name))


def utf8_text(text: str) -> str:
    r"""``text`` as valid UTF-8: each byte of a file name that is not UTF-8 becomes U+FFFD.

    Python gives such bytes as lone surrogates (``os.fsdecode``'s ``surrogateescape``), which UTF-8 (proto
    strings, XML files) cannot carry; any other text comes back unchanged, so ``utf8_text(t) == t`` tells
    whether ``t`` is valid UTF-8.

    Example:
        >>> utf8_text(os.fsdecode(b"caf\xe9.jpg")) == "caf\ufffd.jpg"
        True
    """
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        return text.encode("utf-8", "replace").decode("utf-8")


#: The longest tag :func:`temp_prefix` puts in a temp file's name (the sidecars' ``autoretouch``).
_MAX_TAG = len("autoretouch")
#: What a temp file's name adds around its stem, at most: ``"."``, ``".<tag>-"``, the 8-character random part of
#: :func:`tempfile.mkstemp`, and ``".tmp"`` (the same for every tag, so a name's stem never depends on it).
_TEMP_OVERHEAD = 1 + 1 + _MAX_TAG + 1 + 8 + len(".tmp")


def _umask() -> int:
    # read once at import: os.umask can only be read by setting it, which is not thread-safe later
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: This process's umask, read once at import.
UMASK = _umask()
#: Permission bits of a new regular file under that umask (what ``open(path, "w")`` would give).
NEW_FILE_MODE = 0o666 & ~UMASK


def short_name(name: str, limit: int) -> str:
    """``name`` itself when it takes at most ``limit`` bytes, else a shortened name that does, unique per name.

    The shortened form keeps the start of the name and its last extension: ``<start>~<hash>.<ext>``, where
    ``<hash>`` is 8 hex digits of the SHA-1 of the whole name (so two long names that share their start get
    different short names).

    Args:
        name: a file name (one path component).
        limit: most bytes (in the file system encoding) the result may take; at least 24.

    Returns:
        The name, or its shortened form.
    """
    raw = os.fsencode(name)
    if len(raw) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    suffix = f".{ext}" if dot and stem and len(os.fsencode(ext)) <= 16 else ""
    if not suffix:
        stem = name
    digest = hashlib.sha1(raw).hexdigest()[:8]
    keep = limit - len(os.fsencode(f"~{digest}{suffix}"))
    # a multi-byte character cut in half is dropped, not kept as an invalid byte
    start = os.fsencode(stem)[:keep].decode("utf-8", "ignore")
    while len(os.fsencode(start)) > keep:  # a non-UTF-8 file system encoding
        start = start[:-1]
    return f"{start}~{digest}{suffix}"


def temp_stem(name: str) -> str:
    """``name`` as it appears in the names of its temp files (and of a sidecar's lock file).

    ``name`` itself, unless a temp file named after it would exceed :data:`NAME_MAX`: then its
    :func:`short_name` (start, hash, last extension kept), so any file whose own name is legal can be
    replaced atomically.
    """
    return short_name(name, NAME_MAX - _TEMP_OVERHEAD)


def temp_prefix(name: str, tag: str = "") -> str:
    """The prefix of the temp files written next to the file ``name``: ``.<stem>.`` (:func:`temp_stem`).

    A temp file is ``<prefix><8 random characters>.tmp``; its name never exceeds :data:`NAME_MAX`.

    Args:
        name: the file the temp file will replace.
        tag: a word that marks the temp file as a given writer's: ``.<stem>.<tag>-`` (at most 11 characters,
            ``"autoretouch"`` for sidecars, so that a file of the user's is never taken for one).
    """
    if len(tag) > _MAX_TAG:
        raise ValueError(f"temp file tag {tag!r} is longer than {_MAX_TAG} characters")
    return f".{temp_stem(name)}.{tag}-" if tag else f".{temp_stem(name)}."


def file_kind(mode: int) -> str:
    """What kind of file ``st_mode`` ``mode`` is, in words: ``"a named pipe (FIFO)"``, ``"a directory"`` ...

    For the message that refuses anything but a regular file (opening a pipe would wait for a writer).
    """
    kinds = (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((words for test, words in kinds if test(mode)), "a special file")


def _raise(error: BaseException, cause: OSError) -> NoReturn:
    """Raise ``error`` in place of the OSError ``cause``; ``cause`` itself goes on as it is."""
    if error is cause:
        raise cause
    raise error from None


def read_limited(
    path: str | Path,
    limit: int | None,
    *,
    follow_links: bool = True,
    refuse: Callable[[os.stat_result], Exception | None],
    too_large: Callable[[int | None], Exception],
    open_failed: Callable[[OSError], BaseException],
    read_failed: Callable[[OSError], BaseException],
) -> bytes:
    """The bytes of the file ``path``, at most ``limit`` of them, read without ever waiting on a named pipe.

    The file is opened read-only, without blocking (``O_NONBLOCK``: a FIFO never waits for a writer), binary
    (Windows' ``O_BINARY``: no newline translation), not inherited, and, unless ``follow_links``, without following
    a symbolic link (``O_NOFOLLOW``); a flag the platform lacks is left out. The open file's ``fstat`` is checked
    (``refuse``, then the size) before anything is read, and ``limit + 1`` bytes are asked for, so a file that grew
    past ``limit`` since is refused too. Each caller raises its own errors, which the callables make:

    Args:
        path: the file.
        limit: most bytes to read (``None``: all).
        follow_links: follow a symbolic link (False: opening one fails, as ``open_failed`` says).
        refuse: the error for a file that must not be read, given the open file's ``fstat`` (anything but a regular
            file, say); None to read it.
        too_large: the error for a file over ``limit``, given its size; given None for one that grew past
            ``limit`` after the ``fstat``.
        open_failed: the error to raise for the open's OSError (the OSError itself: it goes on as it is).
        read_failed: the same for an OSError of the ``fstat`` or the read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        _raise(open_failed(exc), exc)
    try:  # the raw descriptor is checked first (a folder opens on POSIX) and only ``os.close`` ever closes it
        try:
            info = os.fstat(fd)
        except OSError as exc:
            _raise(read_failed(exc), exc)
        refused = refuse(info)
        if refused is not None:
            raise refused
        if limit is not None and info.st_size > limit:
            raise too_large(info.st_size)
        with open(fd, "rb", closefd=False) as fh:
            try:
                data = fh.read(-1 if limit is None else limit + 1)
            except OSError as exc:
                _raise(read_failed(exc), exc)
    finally:
        os.close(fd)
    if limit is not None and len(data) > limit:  # grew since the fstat
        raise too_large(None)
    return data


def file_sha256(path: str | Path) -> str | None:
    """The sha256 (hex) of a file's bytes, read in 1 MiB blocks; None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def fsync_folder(folder: str | Path) -> None:
    """Flush ``folder``'s entries (a new, renamed or removed name in it) to disk; a no-op where that is refused.

    Windows cannot open a folder, and some file systems refuse to fsync one: both are ignored.
    """
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


#: Whether this platform has ``fcntl.flock`` (POSIX). Without it :func:`try_flock` locks nothing; the sidecar
#: lock then falls back to an ``O_EXCL`` lock file.
HAS_FLOCK = fcntl is not None


def try_flock(fd: int) -> bool:
    """Take an exclusive ``flock`` on the open file ``fd`` without waiting; closing ``fd`` releases it.

    Returns:
        False when another open file holds the lock; True when taken, or where there is no ``flock``
        (see :data:`HAS_FLOCK`).
    """
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def replacing(
    path: str | Path, *, mode: int | None = None, move: Callable[[Path, Path], None] | None = None
) -> Iterator[Path]:
    """A temporary path in ``path``'s folder; when the block ends without error it replaces ``path``.

    The temporary file (``.NAME.<random>.tmp``, NAME shortened when the whole would be too long: see
    :func:`temp_prefix`) exists, empty, when the block starts; whatever the block wrote
    to it is fsync-ed, given ``mode`` (permission bits; default :data:`NEW_FILE_MODE`, as a plain new file), and
    moved over ``path`` with ``move(tmp, path)`` (default, ``None``: :func:`os.replace`, looked up at the move; a caller's own move may refuse by
    raising, and may leave the temporary file in place or take it away). On any error the temporary file is removed
    (where still there) and ``path`` is left as it was, unless ``move`` changed it before it failed.

    Raises:
        OSError: the folder is missing or not writable (raised before the block runs), or the final move fails.
        Exception: whatever ``move`` raises.
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, NEW_FILE_MODE if mode is None else mode)
        (os.replace if move is None else move)(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: What a failed write adds to the OS's words where they do not say what to change, by errno.
_WRITE_HINTS = {errno.EFBIG: "past the file-size limit, ulimit -f, or the largest file the file system holds"}

#: The errnos of a write the storage refused for want of room: a full disk, a file-size limit, a quota.
DISK_REFUSALS = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})


def write_failure(exc: OSError) -> str:
    """Why a write failed, in the OS's words (``"No space left on device"``), with a hint for ``EFBIG``."""
    words = str(exc.strerror or exc)
    hint = _WRITE_HINTS.get(exc.errno) if exc.errno is not None else None
    return f"{words}: {hint}" if hint else words


@contextlib.contextmanager
def _room_refused_as_output_error(path: str | Path) -> Iterator[None]:
    """Turn a write refused for want of room (:data:`DISK_REFUSALS`) into an :class:`OutputError` naming ``path``.

    Such an ``OSError`` often names no file (a write on an open file, a flush); other errors go on as they are.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno not in DISK_REFUSALS:
            raise
        raise OutputError(path, f"cannot write ({write_failure(exc)})") from exc


def write_bytes_atomic(path: str | Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`replacing`).

    Raises:
        OutputError: the storage refused the write for want of room (a full disk, a file-size limit, a quota):
            ``path`` is left as it was, the message names it and the cause.
        OSError: another failure (see :func:`replacing`).
    """
    with _room_refused_as_output_error(path), replacing(path, mode=mode) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Replace ``path`` with UTF-8 ``text`` atomically (see :func:`replacing`)."""
    write_bytes_atomic(path, text.encode("utf-8"))
