"""A run folder is held by one training at a time: a lock file inside it, taken when the run claims the folder.

Two ``train`` runs of one style started at once (two terminals, the plug-in twice) would otherwise both pick the
same default run folder (:func:`trainer.run_folder.default_run_dir`) and write over each other's files. A run
claims its folder with :func:`claim_run_dir`: an exclusive, non-blocking ``flock`` (``msvcrt.locking`` on
Windows) on ``RUN/.train.lock``, held until :meth:`RunFolderLock.release` (the end of the run). The operating system
drops the lock of a process that dies, so a killed run never blocks its folder; the lock file it leaves is hidden
and taken over by the next run. A run that names no folder goes to the next free ``runs/NAME-N`` while the style's
newest folder is held; ``--run-dir`` or ``--resume`` on a held folder is refused (:class:`RunFolderInUseError`).

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
    """A lock this process holds: the open lock file, how many claims share it, whether the claim made the folder."""

    fd: int
    count: int
    made_folder: bool


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
        nothing was written there since.
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
        if held.made_folder:
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # only an empty folder goes

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


def _try_claim(folder: Path) -> RunFolderLock | bool:
    """Lock ``folder`` (made where missing): the lock, False where another training holds it, True to look again.

    Raises:
        ConfigError: ``folder`` is a file.
        OSError: the folder cannot be made or the lock file cannot be opened (no permission).
    """
    key = os.path.realpath(folder)
    held = _HELD.get(key)
    if held is not None:
        held.count += 1
        return RunFolderLock(folder)
    made = False
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder, so it cannot be the run folder; give another --run-dir")
    if not folder.exists() and not folder.is_symlink():
        try:
            folder.mkdir(parents=True)
            made = True
        except FileExistsError:  # another run made it meanwhile
            return True
    lock = folder / LOCK_NAME
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:  # the folder went away meanwhile (a claim that made it gave it back)
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
    _HELD[key] = _Held(fd=fd, count=1, made_folder=made)
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
        ConfigError: no free run folder (:func:`default_run_dir`), or ``run_dir`` is a file.
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
