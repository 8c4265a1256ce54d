"""A run folder is held by one training at a time: a lock file inside it, taken when the run claims the folder.

Two ``train`` runs of one style started at once (two terminals, the plug-in twice) would otherwise both pick the
same default run folder (:func:`trainer.run_folder.default_run_dir`) and write over each other's files. A run
claims its folder with :func:`claim_run_dir`: an exclusive, non-blocking ``flock`` (``msvcrt.locking`` on
Windows) on ``RUN/.train.lock``, held until :meth:`RunFolderLock.release` (the end of the run), which also takes
away the folder, and the parents the claim made for it, where nothing was written there (a run that failed before
training leaves nothing behind, not even an empty ``runs/``). The operating system drops the lock of a process that
dies, so a killed run never blocks its folder; the lock file it leaves is hidden and taken over by the next run.
A run that names no folder goes to the next free ``runs/NAME-N`` while the style's newest folder is held;
``--run-dir`` or ``--resume`` on a held folder is refused (:class:`RunFolderInUseError`), and so is a folder that
is, or lies under, a file or a link to a folder that does not exist (a :class:`ConfigError`).

Within one process the lock is re-entrant (``train`` claims the folder the CLI already holds). Under torchrun only
rank 0 claims.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from trainer.config import ConfigError
from trainer.run_folder import RUNS_DIR, default_run_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "RunFolderInUseError", "RunFolderLock", "claim_run_dir"]

#: The lock file's name inside the run folder (hidden: a folder holding only it has nothing to lose).
LOCK_NAME = ".train.lock"

#: How many times a claim looks again after a race (a folder made, emptied or removed meanwhile) before giving up.
_ATTEMPTS = 100


class RunFolderInUseError(ConfigError):
    """The run folder is held by another training (a run configuration error: exit status 3).

    Attributes:
        folder: the run folder.
    """

    grpc_status = "FAILED_PRECONDITION"

    def __init__(self, folder: Path, pid: int | None) -> None:
        self.folder = folder
        by = "another training" if pid is None else f"another training (process {pid})"
        super().__init__(f"{folder}: the run folder is in use by {by}; wait for it to end, or give another --run-dir")


@dataclass
class _Held:
    """A lock this process holds: the open lock file, how many claims share it, the folders the claim made.

    Attributes:
        fd: the open lock file.
        count: the claims of this process that share it (re-entrant claims).
        made: the folders the first claim made, the run folder first, then its parents made for it (deepest first).
    """

    fd: int
    count: int
    made: tuple[Path, ...]


#: The run folders this process holds, by real path.
_HELD: dict[str, _Held] = {}


@dataclass(frozen=True)
class RunFolderLock:
    """A claimed run folder; :meth:`release` (or leaving the ``with`` block) gives it back.

    Attributes:
        folder: the run folder, as the caller named it (or as :func:`default_run_dir` chose it).
    """

    folder: Path

    def release(self) -> None:
        """Give the folder back.

        At the last claim of this process the lock file is removed, and the folder too where the claim made it and
        nothing was written there since; then the parents the claim made for it, each while it is empty.
        """
        key = os.path.realpath(self.folder)
        held = _HELD.get(key)
        if held is None:
            return
        held.count -= 1
        if held.count > 0:
            return
        del _HELD[key]
        with contextlib.suppress(OSError):
            (self.folder / LOCK_NAME).unlink()  # while still locked: a claim that opened it meanwhile looks again
        os.close(held.fd)
        for folder in held.made:
            try:
                folder.rmdir()  # only an empty folder goes
            except OSError:
                break  # not empty: nor are its parents

    def __enter__(self) -> RunFolderLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _lock_fd(fd: int) -> bool:
    """Take an exclusive lock on the open file ``fd`` without waiting; False where another open file holds it."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _holder(folder: Path) -> int | None:
    """The process id the lock file names (``None`` where it cannot be read)."""
    try:
        return int((folder / LOCK_NAME).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def _refuse_unusable(folder: Path) -> None:
    """Refuse ``folder`` where it, or the nearest of its parents that is there, is no folder.

    Raises:
        ConfigError: naming ``folder`` and what is wrong: it is a file (not a folder), or a link to a folder that
            does not exist; or one of its parents is.
    """
    for path in (folder, *folder.parents):
        if path.is_dir():
            return
        if not (path.exists() or path.is_symlink()):
            continue  # missing: the claim makes it
        if path.is_symlink() and not path.exists():
            what = f"a link to a folder that does not exist ({os.readlink(path)})"
        else:
            what = "not a folder" if path == folder else "a file, not a folder"
        if path == folder:
            raise ConfigError(f"{folder}: {what}, so it cannot be the run folder; give another --run-dir")
        raise ConfigError(f"{folder}: {path} is {what}, so it cannot hold the run folder; give another --run-dir")


def _missing(folder: Path) -> tuple[Path, ...]:
    """``folder`` and those of its parents that are not there, deepest first (what making it makes)."""
    missing: list[Path] = []
    for path in (folder, *folder.parents):
        if path.exists() or path.is_symlink():
            break
        missing.append(path)
    return tuple(missing)


def _try_claim(folder: Path) -> RunFolderLock | bool:
    """Lock ``folder`` (made where missing): the lock, False where another training holds it, True to look again.

    Raises:
        ConfigError: ``folder`` or one of its parents is a file, or a link to a folder that does not exist.
        OSError: the folder cannot be made or the lock file cannot be opened (no permission).
    """
    key = os.path.realpath(folder)
    held = _HELD.get(key)
    if held is not None:
        held.count += 1
        return RunFolderLock(folder)
    _refuse_unusable(folder)
    made = _missing(folder)
    if made:
        try:
            folder.mkdir(parents=True)
        except FileExistsError:  # another run made it meanwhile
            return True
        except (FileNotFoundError, NotADirectoryError):  # a parent went away, or was replaced, meanwhile
            _refuse_unusable(folder)
            return True
    lock = folder / LOCK_NAME
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except (FileNotFoundError, NotADirectoryError):  # the folder went away meanwhile (a claim gave it back)
        _refuse_unusable(folder)
        return True
    if not _lock_fd(fd):
        os.close(fd)
        return False
    try:
        same = os.path.samestat(os.fstat(fd), os.stat(lock))
    except FileNotFoundError:
        same = False
    if not same:  # the holder removed the file as it let go: lock the one there now
        os.close(fd)
        return True
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    _HELD[key] = _Held(fd=fd, count=1, made=made)
    return RunFolderLock(folder)


def _claim_named(folder: Path) -> RunFolderLock:
    """Claim the folder the run was given (``--run-dir``, or the newest with ``--resume``), or refuse it."""
    for _ in range(_ATTEMPTS):
        got = _try_claim(folder)
        if got is False:
            raise RunFolderInUseError(folder, _holder(folder))
        if isinstance(got, RunFolderLock):
            return got
    raise RunFolderInUseError(folder, None)


def claim_run_dir(
    style: str, *, run_dir: Path | None = None, resume: bool = False, runs: Path = RUNS_DIR
) -> RunFolderLock:
    """Choose and lock the run folder of a ``train`` run of style ``style`` (see the module docstring).

    Args:
        style: the style name.
        run_dir: the folder the run was given (``--run-dir``), or ``None`` for the style's default series.
        resume: the run continues the newest run (``--resume``).
        runs: the folder of run folders (``--runs-dir``).

    Returns:
        The held folder (made where missing): ``run_dir``; else :func:`default_run_dir`'s choice, the next free
        ``runs/NAME-N`` above the newest while another training holds the newest (without ``resume``).

    Raises:
        RunFolderInUseError: ``run_dir``, or the newest run with ``resume``, is held by another training.
        ConfigError: no free run folder (:func:`default_run_dir`), or ``run_dir`` (or a parent of it) is a file or
            a link to a folder that does not exist.
        OSError: the folder cannot be made or locked (no permission).
    """
    if run_dir is not None or resume:
        return _claim_named(run_dir if run_dir is not None else default_run_dir(style, resume=True, runs=runs))
    in_use: set[Path] = set()
    for _ in range(_ATTEMPTS):
        folder = default_run_dir(style, runs=runs, in_use=in_use)
        got = _try_claim(folder)
        if got is False:
            in_use.add(folder)
        elif isinstance(got, RunFolderLock):
            return got
    raise ConfigError(f"{runs / style}: no free run folder of style {style!r} could be claimed; give --run-dir")
