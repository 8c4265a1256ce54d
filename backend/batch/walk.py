"""Find the photos of a batch: folders walked recursively, single files, or a Lightroom catalog's listing.

What counts as a photo (:func:`is_photo_file`):

* a file with a photo extension (camera raws, ``jpg jpeg jpe png tif tiff``): a photo, whatever its
  content (a damaged one is then reported by the decoder, naming it);
* a file with an extension that is known not to be a photo (sidecars ``.xmp``, backups ``.bak``, lock files,
  temp files, text, JSON, databases, Lightroom previews, video, ...): skipped;
* anything else (no or unknown extension): a photo when its content is one (:func:`backend.decode.sniff_kind`).

While walking folders, hidden entries (name starting with ``.``) are skipped: hidden folders, autoretouch's
temp files (``.<sidecar>.<random>.tmp``) and journal, macOS ``._*`` resource files. Symbolic links to folders
are not followed (no cycles); links to files are. What a walk leaves out besides hidden entries and known
non-photos is named in ``ignored`` with the reason: symbolic links to folders (not followed), broken (or
looping) symbolic links, FIFOs, sockets and devices (never opened: reading a FIFO would block). A file named
explicitly is taken even when hidden, unless it is a known non-photo (so ``autoretouch catalog *`` does not
treat sidecars as photos); such names are returned in ``ignored`` with the reason.

Paths are made absolute (:func:`os.path.abspath`, symbolic links kept), deduplicated by their real path,
and sorted within each folder, so a batch's order is deterministic. A path that cannot exist (a name in it
longer than 255 bytes, or the whole longer than 4,095) is a :class:`~backend.errors.NotFoundError` naming it
(:func:`check_path_length`), never an internal error.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from backend.decode.types import RAW_EXTENSIONS
from backend.errors import AutoretouchError, NotFoundError, PermissionDeniedError
from backend.fsio import NAME_MAX, name_size

__all__ = [
    "NOT_PHOTO_EXTENSIONS",
    "NO_PHOTOS",
    "PATH_MAX",
    "PHOTO_EXTENSIONS",
    "FolderWalk",
    "WalkResult",
    "check_path_length",
    "find_photos",
    "is_folder",
    "is_photo_file",
    "iter_photos",
    "unique_photos",
]

#: Lower-case extensions (no dot) taken as photos without looking at the content.
PHOTO_EXTENSIONS: frozenset[str] = RAW_EXTENSIONS | {"jpg", "jpeg", "jpe", "png", "tif", "tiff"}

#: Lower-case extensions (no dot) that are never photos (never opened while walking).
NOT_PHOTO_EXTENSIONS: frozenset[str] = frozenset(
    {
        "xmp", "bak", "lock", "tmp", "part", "json", "jsonl", "txt", "md", "csv", "xml", "html", "pdf", "log",
        "pp3", "dop", "on1", "cos", "arp", "lrcat", "lrdata", "lrprev", "lrtemplate", "lrplugin", "db",
        "sqlite", "sqlite3", "db-wal", "db-shm", "lrcat-wal", "lrcat-shm", "thm", "lua", "py", "sh",
        "mov", "mp4", "m4v", "avi", "mts", "wav", "mp3", "aac", "zip", "gz", "tar", "7z", "ds_store", "ini",
    }
)  # fmt: skip


#: The skip reason of a named folder that holds no photo (``revert FOLDER``, in-process and through the daemon).
NO_PHOTOS = "no photos in this folder"

#: Longest path, in bytes with the final NUL, that POSIX systems accept (Linux's ``PATH_MAX``).
PATH_MAX = 4096


def _too_long(path: str | Path) -> NotFoundError:
    return NotFoundError(
        f"{path}: no such file or folder (the name is too long to exist: a name in the path over {NAME_MAX} "
        f"bytes, or the whole path over {PATH_MAX - 1:,})"
    )


def check_path_length(path: str | Path) -> None:
    """Refuse a path that cannot exist because a name in it, or the whole, is longer than file systems allow.

    Such a path makes every file system call fail with ``ENAMETOOLONG``; this turns that into a typed error
    naming the path before any call is made.

    Args:
        path: a file or folder path (made absolute first).

    Raises:
        NotFoundError: a component over :data:`~backend.fsio.NAME_MAX` bytes, or the absolute path
            :data:`PATH_MAX` bytes or longer.
    """
    text = os.path.abspath(path)
    names = text.replace("\\", "/").split("/") if os.name == "nt" else text.split("/")
    if len(os.fsencode(text)) >= PATH_MAX or any(name_size(name) > NAME_MAX for name in names):
        raise _too_long(path)


def _kind(path: Path) -> str:
    """``"dir"``, ``"file"``, ``"other"`` or ``"missing"`` (a broken or looping link, a file used as a folder).

    Raises:
        NotFoundError: the path cannot exist (:func:`check_path_length`).
        PermissionDeniedError: the OS refused to look at it.
    """
    check_path_length(path)
    try:
        st = path.stat()
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # a file system with shorter names than NAME_MAX
            raise _too_long(path) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise PermissionDeniedError(f"{path}: cannot be read ({exc.strerror})") from None
        return "missing"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    return "file" if stat.S_ISREG(st.st_mode) else "other"


def is_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder; ``False`` (never an error) for anything else, even a path that cannot exist."""
    return os.path.isdir(path)  # False on any error (too long, denied, missing), as the question wants


@dataclass(frozen=True)
class WalkResult:
    """The photos of a batch and what was left out.

    Attributes:
        photos: absolute photo paths, each once, in walk order.
        ignored: explicitly named files that are not photos, and what a folder walk left out that is not hidden
            nor a known non-photo (:func:`iter_photos`' ``skipped``), with the reason.
        errors: folders that could not be listed (with ``missing_fails``, also named paths the OS refused to
            look at), with the reason.
        missing: with ``missing_fails``, the named paths that do not exist (or cannot), with the reason.
    """

    photos: tuple[Path, ...]
    ignored: tuple[tuple[Path, str], ...] = ()
    errors: tuple[tuple[Path, str], ...] = ()
    missing: tuple[tuple[Path, str], ...] = ()


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name.lstrip(".") else ""


def is_photo_file(path: str | Path, *, explicit: bool = False) -> bool:
    """Whether a file is taken as a photo (see the module docstring).

    Args:
        path: a regular file.
        explicit: the user named the file (hidden names are then allowed).

    Returns:
        ``True`` for a photo by extension or, for unknown extensions, by content.
    """
    p = Path(path)
    if p.name.startswith(".") and not explicit:
        return False
    ext = _extension(p.name)
    if ext in PHOTO_EXTENSIONS:
        return True
    if ext in NOT_PHOTO_EXTENSIONS:
        return False
    from backend.decode import sniff_kind  # heavy imports only when a file needs sniffing

    try:
        sniff_kind(p)
    except (AutoretouchError, OSError):
        return False
    return True


def _not_regular(path: Path) -> str | None:
    """Why a walked entry that is not a folder cannot be a photo file, or ``None`` for a regular file (or link to one).

    Nothing is opened: a FIFO would block a reader.
    """
    try:
        st = path.stat()
    except OSError as exc:
        if os.path.islink(path):
            return f"{path}: broken symbolic link ({exc.strerror or exc})"
        return f"{path}: cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(st.st_mode):
        return None
    if stat.S_ISFIFO(st.st_mode):
        what = "a FIFO (named pipe)"
    elif stat.S_ISSOCK(st.st_mode):
        what = "a socket"
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        what = "a device"
    else:
        what = "not a regular file"
    return f"{path}: {what}, not a photo file"


def iter_photos(
    folder: Path,
    *,
    recursive: bool = True,
    errors: list[tuple[Path, str]] | None = None,
    skipped: list[tuple[Path, str]] | None = None,
) -> Iterator[Path]:
    """The photos in a folder (:func:`is_photo_file`), file by file, each folder's sorted by name.

    The one folder walk of autoretouch (the CLI's batches and the daemon's): hidden entries skipped, symbolic
    links to folders not followed (no cycles, never out of the tree), links to files listed.

    Args:
        folder: the folder.
        recursive: also the photos of its sub-folders (after the folder's own).
        errors: receives ``(folder, message)`` for each folder that cannot be listed (else they are skipped).
        skipped: receives ``(path, message naming it)`` for each entry left out that is neither hidden nor a known
            non-photo by its extension: a symbolic link to a folder (not followed; with ``recursive``), a broken
            symbolic link, a FIFO, socket or device (else they are left out silently).
    """

    def onerror(exc: OSError) -> None:
        if errors is not None:
            where = Path(exc.filename) if exc.filename else folder
            errors.append((where, f"{where}: cannot list the folder ({exc.strerror or exc})"))

    for top, dirs, files in os.walk(folder, onerror=onerror):
        base = Path(top)
        visible = sorted(d for d in dirs if not d.startswith("."))
        linked = [d for d in visible if os.path.islink(base / d)]  # os.walk lists them, never enters them
        if skipped is not None and recursive:
            skipped += [(base / d, f"{base / d}: symbolic link to a folder, not followed") for d in linked]
        dirs[:] = [d for d in visible if d not in linked] if recursive else []
        for name in sorted(files):
            candidate = base / name
            if name.startswith(".") or _extension(name) in NOT_PHOTO_EXTENSIONS:
                continue
            why = _not_regular(candidate)
            if why is None:
                if is_photo_file(candidate):
                    yield candidate
            elif skipped is not None:
                skipped.append((candidate, why))


class FolderWalk:
    """One named folder's walk (:func:`iter_photos`): iterate it once for the photos, then read what it left out.

    Shared by ``revert FOLDER`` (:func:`backend.cli.outcome_report.expand_folders`) and the daemon's batch
    requests (:func:`backend.daemon.walk.expand_paths`); the photos come lazily, so a caller may stop early.

    Attributes:
        folder: the folder.
        errors: ``(folder, message naming it)`` for each folder (or sub-folder) that cannot be listed.
        skipped: ``(path, message naming it)`` for what the walk left out with a reason (:func:`iter_photos`'
            ``skipped``), then, with ``note_empty``, ``(folder, "FOLDER: no photos in this folder")`` when the
            walk found no photo, left nothing out and had no error.
    """

    def __init__(self, folder: Path, *, recursive: bool = True, note_empty: bool = False) -> None:
        """Prepare the walk; nothing is read until it is iterated.

        Args:
            folder: the folder.
            recursive: also its sub-folders.
            note_empty: name the folder in ``skipped`` (:data:`NO_PHOTOS`) when the walk found nothing at all.
        """
        self.folder = folder
        self.recursive = recursive
        self.note_empty = note_empty
        self.errors: list[tuple[Path, str]] = []
        self.skipped: list[tuple[Path, str]] = []
        self._started = False

    def __iter__(self) -> Iterator[Path]:
        """The photos, in walk order; ``errors`` and ``skipped`` are complete once the iteration ends.

        Raises:
            RuntimeError: the walk was iterated before (it would list what it left out twice).
        """
        if self._started:
            raise RuntimeError(f"{self.folder}: a FolderWalk is iterated once")
        self._started = True
        found = False
        for photo in iter_photos(self.folder, recursive=self.recursive, errors=self.errors, skipped=self.skipped):
            found = True
            yield photo
        if self.note_empty and not found and not self.skipped and not self.errors:
            self.skipped.append((self.folder, f"{self.folder}: {NO_PHOTOS}"))


def find_photos(paths: Sequence[str | Path], *, missing_fails: bool = False) -> WalkResult:
    """Collect the photos under ``paths`` (folders walked recursively, files taken as named).

    Args:
        paths: folders and/or files.
        missing_fails: a path that does not exist (or cannot) goes to ``missing`` and the others are
            collected (an explicit photo list, e.g. the daemon's requests), instead of raising.

    Returns:
        The photos (absolute, deduplicated by real path), the explicitly named non-photos and what the folder
        walks left out (:func:`iter_photos`' ``skipped``), the folders that could not be listed and
        (``missing_fails``) the missing paths.

    Raises:
        NotFoundError: without ``missing_fails``, a path does not exist, or cannot (a name too long,
            :func:`check_path_length`); nothing is processed then: it is most likely a typo.
        PermissionDeniedError: without ``missing_fails``, the OS refused to look at a path.
    """
    found: list[Path] = []
    ignored: list[tuple[Path, str]] = []
    errors: list[tuple[Path, str]] = []
    missing: list[tuple[Path, str]] = []
    for raw in paths:
        p = Path(os.path.abspath(raw))
        try:
            kind = _kind(p)
            if kind == "missing":
                raise NotFoundError(f"{p}: no such file or folder")
        except NotFoundError as exc:
            if not missing_fails:
                raise
            missing.append((p, str(exc)))
            continue
        except PermissionDeniedError as exc:
            if not missing_fails:
                raise
            errors.append((p, str(exc)))
            continue
        if kind == "dir":
            found += iter_photos(p, errors=errors, skipped=ignored)
        elif kind == "file":
            if is_photo_file(p, explicit=True):
                found.append(p)
            else:
                ignored.append((p, "not a photo file (sidecar, backup, temp or other non-image file)"))
        else:
            ignored.append((p, "not a regular file"))
    return WalkResult(tuple(unique_photos(found)), tuple(ignored), tuple(errors), tuple(missing))


def unique_photos(paths: Iterable[Path]) -> list[Path]:
    """``paths`` without repeats: the first of each real path (``os.path.realpath``) is kept, in order."""
    seen: set[str] = set()
    out: list[Path] = []
    for p in paths:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
