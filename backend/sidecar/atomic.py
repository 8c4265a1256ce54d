"""Crash-safe sidecar writes: lock, temp file, fsync, atomic rename, backup.

Every change autoretouch makes to a sidecar goes through :func:`sidecar_lock` plus :func:`atomic_write`
or :func:`remove_with_backup`. The files autoretouch keeps next to a sidecar carry ``autoretouch`` in their
names (:data:`BACKUP_SUFFIX`, :data:`LOCK_SUFFIX`, :data:`TEMP_TAG`), so a file of the user's (their own
``IMG_0001.xmp.bak``) is never overwritten or deleted as one of ours:

1. **Lock.** An advisory lock on ``<sidecar>.autoretouch.lock`` next to the sidecar (the sidecar name
   shortened when the lock's name would be too long, see :func:`lock_path`) (``fcntl.flock``; an
   ``O_EXCL`` lock file where ``fcntl`` is missing). Two autoretouch processes never interleave their
   read-modify-write of one sidecar. The lock file is removed when the lock is released.
2. **Backup.** The sidecar's current content is copied to ``<sidecar>.autoretouch.bak`` (itself written
   through a temp file and an atomic rename), so the backup always holds the version just before
   autoretouch's most recent change. Only one generation is kept.
3. **Write.** The new content goes to a temp file in the same folder (``.<name>.autoretouch-<random>.tmp``;
   a name too long for that is shortened, see :func:`backend.fsio.temp_prefix`), which is flushed and
   ``fsync``-ed, given the old file's permission bits (a new sidecar gets those of any new file under the
   umask, :data:`backend.fsio.NEW_FILE_MODE`), and renamed over the sidecar with ``os.replace`` (atomic on
   POSIX and Windows). The folder is ``fsync``-ed afterwards where the OS allows.

Only a regular file with one link is ever replaced, read for a change or removed
(:func:`check_replaceable`): a symbolic link (``os.replace`` would put a plain file in its place, and the
link may point at another photo's sidecar), a file with several hard links (the others would keep the old
content) and a named pipe, device or socket (opening a pipe waits for a writer) are refused, untouched.

On any failure the temp file is deleted, the sidecar keeps its previous content, and a
:class:`~backend.errors.SidecarError` naming the file is raised. Only ``.xmp`` paths are ever written,
so an image file cannot be replaced by mistake.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from backend.errors import PermissionDeniedError, SidecarError
from backend.fsio import (
    HAS_FLOCK,
    NAME_MAX,
    NEW_FILE_MODE,
    file_kind,
    fsync_folder,
    name_size,
    read_limited,
    short_name,
    temp_prefix,
    temp_stem,
    try_flock,
)

__all__ = [
    "BACKUP_SUFFIX",
    "LOCK_SUFFIX",
    "LOCK_TIMEOUT_S",
    "TEMP_TAG",
    "SidecarPermissionError",
    "atomic_write",
    "backup_path",
    "check_replaceable",
    "check_sidecar_name",
    "lock_path",
    "read_regular",
    "read_replaceable",
    "remove_with_backup",
    "sidecar_lock",
]


class SidecarPermissionError(SidecarError, PermissionDeniedError):
    """The OS refused autoretouch the folder of a sidecar (``EACCES``/``EPERM``): a folder that cannot be written.

    A sidecar error (``except SidecarError`` still catches it) whose exit status and gRPC status are those of
    permission denied (7, ``PERMISSION_DENIED``), as for other files the OS refuses.

    Attributes:
        path: the folder (or the lock file, when that one is there and refused).
        reason: what could not be done, and the OS's words.
    """

    exit_code = PermissionDeniedError.exit_code
    grpc_status = PermissionDeniedError.grpc_status


#: What the backup of ``<sidecar>`` adds to its name: ``<sidecar>.autoretouch.bak``.
BACKUP_SUFFIX = ".autoretouch.bak"
#: What the lock file of ``<sidecar>`` adds to its name: ``<sidecar>.autoretouch.lock``.
LOCK_SUFFIX = ".autoretouch.lock"
#: The tag of a sidecar's temp files: ``.<sidecar>.autoretouch-<random>.tmp`` (:func:`backend.fsio.temp_prefix`).
TEMP_TAG = "autoretouch"

#: How long :func:`sidecar_lock` waits for another process's lock, in seconds.
LOCK_TIMEOUT_S = 10.0
_POLL_S = 0.05
#: An ``O_EXCL`` lock file older than this is taken to be left over from a crashed process (seconds).
_STALE_S = 120.0


def backup_path(sidecar: str | Path) -> Path:
    """``<sidecar>.autoretouch.bak``: where the previous version is kept.

    A sidecar name too long for that (over 239 bytes) is shortened first (:func:`backend.fsio.short_name`:
    start, hash, ``.xmp``), so every legal sidecar name keeps a backup.
    """
    p = Path(sidecar)
    return p.with_name(short_name(p.name, NAME_MAX - len(BACKUP_SUFFIX)) + BACKUP_SUFFIX)


def lock_path(sidecar: str | Path) -> Path:
    """``<sidecar>.autoretouch.lock``: the advisory lock file.

    A sidecar name too long for that is shortened as in its temp files' names
    (:func:`backend.fsio.temp_stem`: start, hash, ``.xmp``), so every legal sidecar name can be locked.
    """
    p = Path(sidecar)
    return p.with_name(temp_stem(p.name) + LOCK_SUFFIX)


def _why_not_replaceable(path: Path, info: os.stat_result) -> str | None:
    """Why the file ``path`` (``lstat`` gave ``info``) must not be replaced, read for a change or removed.

    None when it may.
    """
    if stat.S_ISLNK(info.st_mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = "an unreadable target"
        return (
            f"is a symbolic link to {target}; autoretouch replaces only regular files "
            "(writing would put a plain file in place of the link), so it is left untouched"
        )
    if not stat.S_ISREG(info.st_mode):
        return f"{file_kind(info.st_mode)}, not a regular file; left untouched"
    if info.st_nlink > 1:
        return (
            f"has {info.st_nlink} hard links; autoretouch replaces only a file with one link "
            "(the other names would keep the old content), so it is left untouched"
        )
    return None


def check_replaceable(sidecar: str | Path) -> os.stat_result | None:
    """The ``lstat`` of ``sidecar`` when it is a regular file autoretouch may replace; None when nothing is there.

    Nothing is opened, so a named pipe cannot block.

    Raises:
        SidecarError: ``sidecar`` is a symbolic link (dangling or not), has more than one hard link, or is no
            regular file (a folder, named pipe, device, socket); or it cannot be looked at. The message names
            the file and says why.
    """
    p = Path(sidecar)
    try:
        info = os.lstat(p)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise SidecarError(p, f"cannot read sidecar ({exc.strerror or exc})") from None
    why = _why_not_replaceable(p, info)
    if why is not None:
        raise SidecarError(p, why)
    return info


def _cannot_read(sidecar: Path, exc: OSError) -> SidecarError:
    return SidecarError(sidecar, f"cannot read sidecar ({exc.strerror or exc})")


def _too_large(sidecar: Path, limit: int | None) -> Callable[[int | None], SidecarError]:
    """The error for a sidecar over ``limit`` bytes: its size, or None when it grew past the limit while read."""

    def error(size: int | None) -> SidecarError:
        if size is None:
            return SidecarError(sidecar, f"sidecar is over the {limit}-byte limit")
        return SidecarError(sidecar, f"sidecar is {size} bytes, over the {limit}-byte limit")

    return error


def read_replaceable(sidecar: str | Path, limit: int | None = None) -> bytes:
    """The content of the sidecar, checked by :func:`check_replaceable` first and again on the open file.

    The file is opened without following a link and without blocking (``O_NOFOLLOW | O_NONBLOCK``), so a link
    or named pipe swapped in after the check is refused too, never read or waited on
    (:func:`backend.fsio.read_limited`).

    Args:
        sidecar: the path.
        limit: most bytes to read (``None``: all); a larger file is refused.

    Raises:
        FileNotFoundError: nothing is there.
        SidecarError: not a file autoretouch may replace (:func:`check_replaceable`), larger than ``limit``,
            or unreadable.
    """
    p = Path(sidecar)
    if check_replaceable(p) is None:
        raise FileNotFoundError(2, "No such file or directory", str(p))

    def refuse(info: os.stat_result) -> SidecarError | None:
        why = _why_not_replaceable(p, info)
        return None if why is None else SidecarError(p, why)

    def open_failed(exc: OSError) -> BaseException:
        if isinstance(exc, FileNotFoundError):
            return exc
        check_replaceable(p)  # swapped for a link or another kind since: say so
        return _cannot_read(p, exc)

    return read_limited(
        p,
        limit,
        follow_links=False,
        refuse=refuse,
        too_large=_too_large(p, limit),
        open_failed=open_failed,
        read_failed=lambda exc: _cannot_read(p, exc),
    )


def read_regular(sidecar: str | Path, limit: int | None = None) -> bytes:
    """The content of the file ``sidecar``, only to read it (nothing is written, so links are followed).

    Unlike :func:`read_replaceable`, a symbolic link or a hard-linked file is read; anything but a regular file
    (a folder, named pipe, device or socket) is refused, named by its kind: it is looked at before it is opened,
    and opened without blocking (a named pipe swapped in since never waits for a writer) and checked again
    (:func:`backend.fsio.read_limited`).

    Raises:
        FileNotFoundError: nothing is there (a dangling link included).
        SidecarError: not a regular file, larger than ``limit``, or unreadable (the message names the file).
    """
    p = Path(sidecar)

    def refuse(info: os.stat_result) -> SidecarError | None:
        if stat.S_ISREG(info.st_mode):
            return None
        return SidecarError(p, f"{file_kind(info.st_mode)}, not a regular file; not read")

    def open_failed(exc: OSError) -> BaseException:
        if isinstance(exc, FileNotFoundError | NotADirectoryError):
            return FileNotFoundError(2, "No such file or directory", str(p))
        return _cannot_read(p, exc)

    try:
        info = os.stat(p)
    except OSError as exc:
        raise open_failed(exc) from None
    refused = refuse(info)
    if refused is not None:
        raise refused
    return read_limited(
        p,
        limit,
        refuse=refuse,
        too_large=_too_large(p, limit),
        open_failed=open_failed,
        read_failed=lambda exc: _cannot_read(p, exc),
    )


def _check_sidecar_name(path: Path) -> os.stat_result | None:
    """Refuse anything but an ``.xmp`` path that is free or a replaceable file; the file's ``lstat``, if any."""
    if path.suffix.lower() != ".xmp":
        raise SidecarError(path, "refusing to write: autoretouch only writes .xmp sidecars, never image files")
    return check_replaceable(path)


@contextlib.contextmanager
def _flock(lock: Path, sidecar: Path, timeout: float) -> Iterator[None]:
    assert HAS_FLOCK
    deadline = time.monotonic() + timeout
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            while not try_flock(fd):
                if time.monotonic() > deadline:
                    raise SidecarError(sidecar, f"locked by another process (lock file {lock})")
                time.sleep(_POLL_S)
            # The holder before us may have unlinked the lock file: only a lock on the file that is
            # still at that path counts.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(lock))
            except FileNotFoundError:
                same = False
            if same:
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)  # closing releases the flock


@contextlib.contextmanager
def _exclusive_file(lock: Path, sidecar: Path, timeout: float) -> Iterator[None]:  # pragma: no cover - Windows
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            break
        except FileExistsError:
            with contextlib.suppress(FileNotFoundError):
                if time.time() - lock.stat().st_mtime > _STALE_S:
                    lock.unlink()
                    continue
            if time.monotonic() > deadline:
                raise SidecarError(sidecar, f"locked by another process (lock file {lock})") from None
            time.sleep(_POLL_S)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def check_sidecar_name(sidecar: Path) -> None:
    """Refuse a sidecar whose own name is longer than file systems allow (the photo's name is too long for one).

    Raises:
        SidecarError: the name is over :data:`~backend.fsio.NAME_MAX` (bytes; UTF-16 units on Windows).
    """
    size = name_size(sidecar.name)
    if size > NAME_MAX:
        unit = "UTF-16 units" if os.name == "nt" else "bytes"
        raise SidecarError(
            sidecar,
            f"the sidecar's name would be {size} {unit}, longer than file systems allow ({NAME_MAX}); "
            "give the photo a shorter name",
        )


@contextlib.contextmanager
def sidecar_lock(sidecar: str | Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the advisory lock of ``sidecar`` for a read-modify-write.

    Args:
        sidecar: the sidecar path (it need not exist yet; its folder must).
        timeout: seconds to wait for another holder (default :data:`LOCK_TIMEOUT_S`).

    Raises:
        SidecarPermissionError: the OS refused to create the lock file (``EACCES``/``EPERM``): the folder cannot be
            written (``FOLDER: cannot write beside the photo (Permission denied)``), or the lock file there cannot
            be opened.
        SidecarError: the sidecar's name is longer than file systems allow (the photo's name is too long for
            a sidecar beside it), the lock could not be taken in time, or another OS error. An error
            of the work done under the lock is not one of the lock's: it propagates as it is.
    """
    p = Path(sidecar)
    check_sidecar_name(p)
    lock = lock_path(p)
    timeout = LOCK_TIMEOUT_S if timeout is None else timeout
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(_flock(lock, p, timeout) if HAS_FLOCK else _exclusive_file(lock, p, timeout))
        except OSError as exc:
            why = exc.strerror or str(exc)
            if exc.errno in (errno.EACCES, errno.EPERM):
                if os.path.lexists(lock):  # the folder let it be made; the file itself is refused (another user's)
                    raise SidecarPermissionError(lock, f"cannot open the sidecar's lock file ({why})") from None
                raise SidecarPermissionError(p.parent, f"cannot write beside the photo ({why})") from None
            raise SidecarError(p, f"cannot lock the sidecar ({why})") from None
        yield


def _write_temp(folder: Path, name: str, data: bytes, mode: int) -> Path:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=temp_prefix(name, TEMP_TAG), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _replace(tmp: Path, target: Path) -> None:
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(sidecar: str | Path, data: bytes, *, backup: bool = True) -> None:
    """Replace ``sidecar``'s content with ``data`` atomically (call inside :func:`sidecar_lock`).

    Args:
        sidecar: the ``.xmp`` path.
        data: the complete new content.
        backup: copy the current content (if any) to ``<sidecar>.autoretouch.bak`` first.

    Raises:
        SidecarError: not an ``.xmp`` path; a symbolic link, a file with several hard links or no regular
            file (:func:`check_replaceable`, the file untouched); or any step failed (the sidecar then keeps
            its old content and no temp file is left behind).
    """
    p = Path(sidecar)
    info = _check_sidecar_name(p)
    try:
        mode = NEW_FILE_MODE  # a new sidecar: what any new file gets under the umask, not mkstemp's 0600
        if info is not None:
            mode = info.st_mode & 0o7777
            if backup:
                old = read_replaceable(p)
                _replace(_write_temp(p.parent, p.name, old, mode), backup_path(p))
        _replace(_write_temp(p.parent, p.name, data, mode), p)
        fsync_folder(p.parent)
    except OSError as exc:
        raise SidecarError(p, f"could not write the sidecar ({exc.strerror or exc}); previous version kept") from None


def remove_with_backup(sidecar: str | Path) -> None:
    """Delete ``sidecar``, keeping its content as ``<sidecar>.autoretouch.bak`` (call inside :func:`sidecar_lock`).

    Raises:
        SidecarError: not an ``.xmp`` path; a symbolic link, a file with several hard links or no regular file
            (:func:`check_replaceable`); or the rename failed (the sidecar is then unchanged).
    """
    p = Path(sidecar)
    _check_sidecar_name(p)
    try:
        os.replace(p, backup_path(p))
        fsync_folder(p.parent)
    except OSError as exc:
        raise SidecarError(p, f"could not remove the sidecar ({exc.strerror or exc})") from None
