"""The batch journal: what each photo's sidecars got, so a killed or repeated run does not redo work.

File format: JSON Lines (UTF-8), append-only. The first line is a header
``{"format": "autoretouch-catalog-journal", "version": 1, "created": ISO8601}``; every other line records one
photo processed by one run::

    {"photo": "/abs/IMG_0001.CR2", "size": 25165824, "mtime_ns": 1714550000123456789,
     "config": {"style": "warm", "model": "warm@2", "style_sha256": "…", "strength": 0.8, "overwrite": false},
     "recipe": {…recipe JSON…} | null, "error": null | "message",
     "hosts": {"darktable": {"action": "written", "reason": "", "sidecar": "/abs/IMG_0001.CR2.xmp",
                             "sidecar_stat": {"size": 5120, "mtime_ns": 1714550001123456789}}},
     "time": "2024-05-01T12:00:00Z"}

``sidecar_stat`` is the host's sidecar as the run left it (size and mtime right after the write, or after the
skip), ``null`` when there was none; lines written before this field existed have no ``sidecar_stat``, and
neither do skips that do not depend on the sidecar (Lightroom and a non-raw, nothing to write).

A line is appended, flushed and ``fsync``-ed right after the photo's sidecars are in place (the sidecar
writes are themselves atomic and fsync-ed), so after a crash or ``kill -9`` at any moment the journal never
claims work that is not on disk; at most the photos in flight are done again (and then find their own
sidecar entries, see :mod:`backend.batch.batch`). A line cut short by a crash is ignored on reading and
cut off before the next append.

Reading: for each (photo, host) the last line naming that host counts. A host is **done** for a run when
that record matches the photo's current size and mtime, the run's style (weights hash) and strength, and
either it was ``written`` and the sidecar still exists, or it was ``skipped`` by a run with the same
``--overwrite`` setting, and the sidecar is still as the run left it: same size and mtime as its
``sidecar_stat``, or still absent where it was absent (except a :data:`~backend.batch.results.TAKEN_OUT` skip
of a missing sidecar: whether its backup still holds our edit is not in the journal, so it is looked at again,
cheaply, by :mod:`backend.batch.worker`). A sidecar changed since (``autoretouch revert``, the
user's editor, a restored backup) or deleted means the photo is examined again. A line without
``sidecar_stat`` is trusted as before: ``written`` counts while the sidecar exists, ``skipped`` as recorded.
Failed hosts are never done (they are retried).

The journal also remembers the last edit it **wrote** into each sidecar (:meth:`Journal.wrote`; a later
skip does not make it forget), and the sidecar as that write left it (:meth:`Journal.left_by_us`): a run without
``--overwrite`` applies it again only where that sidecar was deleted, and its ``<sidecar>.autoretouch.bak`` is not
that sidecar either. One that still holds it is done; one that no longer holds it (``autoretouch revert``, history
discarded or undone in darktable, reset in Lightroom, a take-out of ``--strength 0 --overwrite``), or that is gone
with its backup being exactly what that write left (``revert`` and a ``--strength 0 --overwrite`` take-out remove
a sidecar autoretouch created by renaming it, which keeps its size and mtime), is the user's decision and is
skipped with :data:`~backend.batch.results.TAKEN_OUT` (:mod:`backend.batch.worker`, before any photo is decoded).
An older backup (one a later write of ours left alone, or one of an earlier write) does not count: the sidecar's
deletion is then the user's, and the edit is applied again.

One run at a time: the writer holds an exclusive ``flock`` on the journal file itself (no extra lock file;
POSIX only, elsewhere unlocked). Dry runs only read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from backend.batch.results import ALREADY_DONE, TAKEN_OUT_REASONS
from backend.batch.walk import PHOTO_EXTENSIONS, is_folder
from backend.errors import FileError, PermissionDeniedError
from backend.fsio import fsync_folder, try_flock

__all__ = [
    "DEFAULT_JOURNAL_NAME",
    "JOURNAL_FORMAT",
    "JOURNAL_VERSION",
    "UNRECORDED",
    "HostRecord",
    "Journal",
    "JournalEntry",
    "JournalError",
    "PhotoStat",
    "RunConfig",
    "check_journal_path",
    "default_journal_path",
    "same_run",
    "sidecar_state",
    "took_out",
]

JOURNAL_FORMAT = "autoretouch-catalog-journal"
JOURNAL_VERSION = 1
#: File name of the default journal (hidden, so a folder walk never takes it for a photo).
DEFAULT_JOURNAL_NAME = ".autoretouch-journal.jsonl"


class JournalError(FileError):
    """The journal cannot be used: another run holds it, or the file is not an autoretouch journal.

    Attributes:
        path: the journal file.
        reason: what is wrong.
    """

    exit_code = 3


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_journal_path(paths: Sequence[str | Path], lrcat: str | Path | None = None) -> Path:
    """Where the journal goes when none is given.

    ``.autoretouch-journal.jsonl`` inside the first PATH when it is a folder, next to it when it is a file;
    with no PATH, next to the Lightroom catalog.

    Raises:
        ValueError: neither a path nor a catalog.
    """
    if paths:
        first = Path(os.path.abspath(paths[0]))
        folder = first if is_folder(first) else first.parent
    elif lrcat is not None:
        folder = Path(os.path.abspath(lrcat)).parent
    else:
        raise ValueError("a batch needs at least one PATH or a Lightroom catalog")
    return folder / DEFAULT_JOURNAL_NAME


def check_journal_path(path: str | Path) -> Path:
    """Refuse a ``--journal`` path that names a sidecar or a photo (the journal would be written over it).

    A name ending in ``.xmp`` is a sidecar's (``IMG_0001.CR2.xmp`` is darktable's, ``IMG_0001.xmp``
    Lightroom's), one with a photo extension a photo's; either may not exist yet when the journal is created.

    Returns:
        ``path``, absolute.

    Raises:
        JournalError: the name ends in ``.xmp`` or a photo extension.
    """
    p = Path(os.path.abspath(path))
    ext = p.suffix.lower().lstrip(".")
    if ext == "xmp":
        raise JournalError(p, "a journal cannot be an .xmp file: that name is a photo's sidecar (choose another name)")
    if ext in PHOTO_EXTENSIONS:
        raise JournalError(p, f"a journal cannot be a .{ext} file: that name is a photo's (choose another name)")
    return p


@dataclass(frozen=True)
class PhotoStat:
    """A photo file's identity for resuming: size in bytes and modification time in nanoseconds."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | Path) -> PhotoStat:
        """Stat ``path`` (follows symbolic links).

        Raises:
            OSError: the file cannot be stat-ed.
        """
        st = os.stat(path)
        return cls(int(st.st_size), int(st.st_mtime_ns))


@dataclass(frozen=True)
class RunConfig:
    """What a run applies; a journal record only counts for a run with the same configuration.

    Attributes:
        style: style name (or mix label).
        model: ``NAME@VERSION`` of the style.
        style_sha256: SHA-256 of the style's weights file (hex), so a retrained style is not "done".
        strength: α in [0, 1].
        overwrite: the run replaces existing settings (``--overwrite``).
    """

    style: str
    model: str
    style_sha256: str
    strength: float
    overwrite: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "style": self.style,
            "model": self.model,
            "style_sha256": self.style_sha256,
            "strength": self.strength,
            "overwrite": self.overwrite,
        }


#: :attr:`HostRecord.sidecar_stat` of a journal line written before sidecar stats were recorded.
UNRECORDED = "unrecorded"


def sidecar_state(sidecar: str | Path) -> PhotoStat | None:
    """A sidecar's size and mtime (not following a last symbolic link: the file the write renamed into place).

    Returns:
        ``None`` when there is no such file (or it cannot be stat-ed).
    """
    try:
        st = os.lstat(sidecar)
    except (OSError, ValueError):
        return None
    return PhotoStat(int(st.st_size), int(st.st_mtime_ns))


@dataclass(frozen=True)
class HostRecord:
    """One host's result for a photo.

    Attributes:
        action: ``written``, ``skipped`` or ``failed``.
        reason: why it was skipped or failed.
        sidecar: the sidecar path.
        sidecar_stat: the sidecar as the run left it (:func:`sidecar_state`; ``None``: there was none), or
            :data:`UNRECORDED` for a line from before this was recorded.
    """

    action: str
    reason: str
    sidecar: str
    sidecar_stat: PhotoStat | str | None = UNRECORDED

    def to_json(self) -> dict[str, Any]:
        """The record's JSON object (``sidecar_stat`` left out when unrecorded)."""
        out: dict[str, Any] = {"action": self.action, "reason": self.reason, "sidecar": self.sidecar}
        if isinstance(self.sidecar_stat, PhotoStat):
            out["sidecar_stat"] = {"size": self.sidecar_stat.size, "mtime_ns": self.sidecar_stat.mtime_ns}
        elif self.sidecar_stat is None:
            out["sidecar_stat"] = None
        return out

    @classmethod
    def from_json(cls, data: Any) -> HostRecord:
        """Parse a record's object.

        Raises:
            ValueError, KeyError, TypeError: a field is missing or has the wrong type.
        """
        stat: PhotoStat | str | None = UNRECORDED
        if "sidecar_stat" in data:
            raw = data["sidecar_stat"]
            stat = None if raw is None else PhotoStat(int(raw["size"]), int(raw["mtime_ns"]))
        return cls(str(data["action"]), str(data.get("reason", "")), str(data.get("sidecar", "")), stat)

    def sidecar_unchanged(self) -> bool:
        """Whether the sidecar is still as the run left it (always true for an unrecorded state)."""
        if self.sidecar_stat == UNRECORDED:
            return True
        return bool(self.sidecar) and sidecar_state(self.sidecar) == self.sidecar_stat


@dataclass(frozen=True)
class JournalEntry:
    """One journal line (see the module docstring).

    Attributes:
        photo: absolute photo path.
        stat: size and mtime when the photo was read.
        config: the run's configuration (:meth:`RunConfig.to_json`).
        hosts: host -> record.
        recipe: the recipe applied (JSON), or ``None`` when the photo failed before one existed.
        error: the photo-level error message, if any.
        time: UTC time of the record.
    """

    photo: str
    stat: PhotoStat
    config: Mapping[str, Any]
    hosts: Mapping[str, HostRecord]
    recipe: Mapping[str, Any] | None = None
    error: str | None = None
    time: str = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        """The line's JSON object."""
        return {
            "photo": self.photo,
            "size": self.stat.size,
            "mtime_ns": self.stat.mtime_ns,
            "config": dict(self.config),
            "recipe": None if self.recipe is None else dict(self.recipe),
            "error": self.error,
            "hosts": {h: r.to_json() for h, r in self.hosts.items()},
            "time": self.time,
        }

    @classmethod
    def from_json(cls, data: Any) -> JournalEntry:
        """Parse one line's object.

        Raises:
            ValueError: a field is missing or has the wrong type.
        """
        if not isinstance(data, dict) or not isinstance(data.get("hosts"), dict):
            raise ValueError("not a journal record")
        hosts = {str(h): HostRecord.from_json(r) for h, r in data["hosts"].items()}
        config = data.get("config")
        if not isinstance(config, dict):
            raise ValueError("record without config")
        recipe = data.get("recipe")
        return cls(
            photo=str(data["photo"]),
            stat=PhotoStat(int(data["size"]), int(data["mtime_ns"])),
            config=config,
            hosts=hosts,
            recipe=recipe if isinstance(recipe, dict) else None,
            error=None if data.get("error") is None else str(data["error"]),
            time=str(data.get("time", "")),
        )


def _same_style(config: Mapping[str, Any], run: RunConfig) -> bool:
    return config.get("style_sha256") == run.style_sha256 and config.get("strength") == run.strength


def same_run(entry: JournalEntry, stat: PhotoStat, run: RunConfig) -> bool:
    """Whether ``entry`` is for this very photo version (``stat``) and this run's style and strength."""
    return entry.stat == stat and _same_style(entry.config, run)


def took_out(entry: JournalEntry) -> bool:
    """Whether ``entry`` wrote no edit: a take-out (a recipe without steps, ``--strength 0 --overwrite``)."""
    return entry.recipe is None or not entry.recipe.get("steps")


#: Host actions that wrote into the sidecar (a take-out that removed a sidecar autoretouch created: ``deleted``).
_WROTE = ("written", "deleted")


class Journal:
    """A batch journal file (use as a context manager).

    Args:
        path: the journal file (created on the first write unless ``readonly`` or ``memory``).
        readonly: only read (dry runs): no lock, no file created, :meth:`record` refused.
        memory: read the file if there is one, but never lock, create or write it: :meth:`record` keeps the
            records in memory for this run only (a run that keeps no journal, e.g. the daemon's photo lists).

    Raises:
        JournalError: the file exists but is not an autoretouch journal, or another run holds it.
        PermissionDeniedError: the file or its folder cannot be written.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, memory: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.memory = memory and not readonly
        self._latest: dict[tuple[str, str], JournalEntry] = {}
        self._wrote: dict[tuple[str, str], JournalEntry] = {}
        self._left: dict[tuple[str, str], PhotoStat | str | None] = {}
        self._fh: IO[bytes] | None = None
        self.ignored_lines = 0
        if readonly:  # a dry run: an unreadable journal is an error, as in a real run
            try:
                data = self.path.read_bytes() if self.path.is_file() else b""
            except PermissionError as exc:
                raise PermissionDeniedError(f"{self.path}: cannot read the journal ({exc.strerror})") from None
            except OSError as exc:
                raise JournalError(self.path, f"cannot read the journal ({exc.strerror or exc})") from None
            self._load(data)
            return
        if self.memory:
            try:
                data = self.path.read_bytes() if self.path.is_file() else b""
            except OSError:
                data = b""  # unreadable: nothing to resume from
            try:
                self._load(data)
            except JournalError:  # not a journal (or its header half written right now): nothing to resume
                self._latest.clear()
            return
        self._open_for_append()

    # -- opening ----------------------------------------------------------------------------------------

    def _open_for_append(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError as exc:
            raise PermissionDeniedError(f"{self.path}: cannot write the journal ({exc.strerror})") from None
        except OSError as exc:
            raise JournalError(self.path, f"cannot open the journal ({exc.strerror or exc})") from None
        fh = os.fdopen(fd, "r+b")
        try:
            if not try_flock(fd):
                raise JournalError(self.path, "another autoretouch catalog run is using this journal")
            data = fh.read()
            keep = self._load(data)
            if keep != len(data):  # a torn last line (crash during an append): cut it off
                fh.truncate(keep)
            fh.seek(keep)
            if keep == 0:
                header = {"format": JOURNAL_FORMAT, "version": JOURNAL_VERSION, "created": _now()}
                self._append_bytes(fh, header)
                fsync_folder(self.path.parent)
        except BaseException:
            fh.close()
            raise
        self._fh = fh

    def _load(self, data: bytes) -> int:
        """Read the records; returns the length of the valid prefix (up to the last complete line)."""
        if not data.strip():
            return 0
        end = data.rfind(b"\n") + 1
        lines = data[:end].split(b"\n")
        try:
            header = json.loads(lines[0])
        except ValueError:
            header = None
        if not (isinstance(header, dict) and header.get("format") == JOURNAL_FORMAT):
            raise JournalError(self.path, "not an autoretouch catalog journal (refusing to append to it)")
        if header.get("version") != JOURNAL_VERSION:
            raise JournalError(self.path, f"journal version {header.get('version')!r} is not supported")
        for line in lines[1:]:
            if not line.strip():
                continue
            try:
                entry = JournalEntry.from_json(json.loads(line))
            except (ValueError, KeyError, TypeError):
                self.ignored_lines += 1
                continue
            self._note(entry)
        self.ignored_lines += int(end != len(data))
        return end

    @staticmethod
    def _append_bytes(fh: IO[bytes], obj: Mapping[str, Any]) -> None:
        fh.write(json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n")
        fh.flush()
        os.fsync(fh.fileno())

    # -- queries ----------------------------------------------------------------------------------------

    def last(self, photo: str | Path, host: str) -> JournalEntry | None:
        """The latest record naming ``host`` for ``photo`` (absolute path), if any."""
        return self._latest.get((str(photo), host))

    def is_done(self, photo: str | Path, host: str, stat: PhotoStat, run: RunConfig) -> bool:
        """Whether ``host`` is done for ``photo`` in a run with configuration ``run`` (module docstring)."""
        entry = self.last(photo, host)
        if entry is None or not same_run(entry, stat, run):
            return False
        rec = entry.hosts[host]
        if rec.action == "written":
            return bool(rec.sidecar) and Path(rec.sidecar).is_file() and rec.sidecar_unchanged()
        if rec.action == "skipped":
            if rec.sidecar_stat is None and rec.reason in TAKEN_OUT_REASONS:
                return False  # taken out while its backup holds our edit: the backup may be gone since
            return bool(entry.config.get("overwrite")) == run.overwrite and rec.sidecar_unchanged()
        return False

    def wrote(self, photo: str | Path, host: str) -> JournalEntry | None:
        """The latest record of a run that wrote into ``host``'s sidecar of ``photo`` (``None`` if none).

        Later records that only skipped the host (or failed) do not count. The write may have taken autoretouch's
        edit out (:func:`took_out`: ``--strength 0 --overwrite``): that is the user's removal, kept as any other.
        """
        return self._wrote.get((str(photo), host))

    def left_by_us(self, photo: str | Path, host: str) -> PhotoStat | str | None:
        """``host``'s sidecar of ``photo`` as the latest run that wrote into it left it (:meth:`wrote`).

        A take-out that removed the sidecar (``deleted``) left none: its backup is the sidecar as the write before
        left it, so that one counts. A later ``already done`` skip that found the sidecar still holding the written
        edit (touched since) counts as leaving it so too.

        Returns:
            its size and mtime; :data:`UNRECORDED` for a journal line from before they were recorded; ``None`` when
            unknown (no write, or the sidecar could not be stat-ed).
        """
        return self._left.get((str(photo), host))

    def __len__(self) -> int:
        return len({photo for photo, _ in self._latest})

    # -- writing ----------------------------------------------------------------------------------------

    def record(self, entry: JournalEntry) -> None:
        """Append one record, flushed and fsync-ed before returning.

        Raises:
            JournalError: the journal is read-only or closed, or the write failed (disk full, ...).
        """
        if self._fh is not None:
            try:
                self._append_bytes(self._fh, entry.to_json())
            except OSError as exc:
                raise JournalError(self.path, f"cannot write the journal ({exc.strerror or exc})") from None
        elif not self.memory:
            raise JournalError(self.path, "journal is read-only or closed")
        self._note(entry)

    def _note(self, entry: JournalEntry) -> None:
        for host, rec in entry.hosts.items():
            key = (entry.photo, host)
            self._latest[key] = entry
            if rec.action in _WROTE:
                self._wrote[key] = entry
            still_ours = rec.action == "skipped" and rec.reason == ALREADY_DONE and key in self._wrote
            if rec.action == "written" or (still_ours and isinstance(rec.sidecar_stat, PhotoStat)):
                self._left[key] = rec.sidecar_stat

    def close(self) -> None:
        """Release the lock and close the file."""
        if self._fh is not None:
            self._fh.close()  # closing releases the flock
            self._fh = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
