"""TrainStyle: a training run in a separate worker process, its progress streamed, cancelled with the call.

The worker (:mod:`trainer.daemon_worker`, or ``DaemonConfig.train_command``) gets the path of a JSON
spec file and writes one JSON object per line to stdout (the protocol is documented there). Running it
in its own process keeps the trainer's heavy imports, its torch thread settings and its memory out of the
daemon, and makes cancelling exact: when the caller cancels (or its deadline passes), the worker is
terminated (SIGTERM, then SIGKILL after 5 s); the run folder keeps its checkpoints and no style is
installed. One training runs at a time. When the worker reports success, the daemon reloads its styles
so that the new style can be used at once.

The daemon checks every path of the request against its roots (for a darktable file also the sidecar or photo the
training reads with it: a virtual copy's sidecar ``NAME_NN.EXT.xmp`` is rendered on ``NAME.EXT``, the name read as
the trainer reads it, by :func:`backend.sidecar.darktable_copies.copy_named`); the spec also carries the roots, so
that the worker checks, with the same guard, what those paths lead to: the photos inside the folders (a symbolic
link to a file outside every root) and the originals a catalog names (skipped and named, never decoded).
"""

from __future__ import annotations

import json
import math
import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from google.protobuf.json_format import MessageToDict

from backend.daemon.config import DaemonConfig
from backend.daemon.convert import style_info_to_pb, wire_text
from backend.daemon.errors import BadRequestError, BusyError, DeadlineError
from backend.daemon.limits import Call
from backend.daemon.logs import LOG
from backend.daemon.security import Roots
from backend.daemon.styles import StyleRegistry
from backend.errors import AutoretouchError, NotFoundError
from backend.rpc import pb
from backend.sidecar.darktable_copies import copy_named

__all__ = ["TrainingRunner", "WorkerError"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: Most photo files one TrainStyle may list (favourite_files, darktable_files, lightroom_edits together).
MAX_LISTED_FILES = 10_000
_KILL_AFTER_S = 5.0


def _check_overrides(overrides: Sequence[str]) -> None:
    """Refuse overrides that are not ``section.key=value``, or that would make the worker read a file.

    ``restore.prior`` is the one setting that may name a file (a style path); through the daemon it must name
    a style the daemon has, so that a request cannot read past the ``--root`` folders.

    Raises:
        BadRequestError: the offending override, named.
    """
    if any("\n" in o or "=" not in o for o in overrides):
        raise BadRequestError("overrides must look like section.key=value")
    for override in overrides:
        key, _, value = override.partition("=")
        if key.strip() == "restore.prior" and any(m in value for m in ("/", "\\", ".safetensors", ".json")):
            raise BadRequestError(
                f"{override.strip()}: a daemon training takes the prior by the name of a style it has, not a file"
            )


class WorkerError(AutoretouchError):
    """An error the training worker reported (its class, status and exit code are kept)."""

    def __init__(self, message: str, *, code: str = "INTERNAL", error_type: str = "WorkerError", exit_code: int = 1):
        super().__init__(message)
        self.grpc_status = code
        self.exit_code = exit_code
        self.error_type = error_type


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=_KILL_AFTER_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _read_lines(stream: IO[bytes], out: queue.Queue[bytes | None]) -> None:
    with stream:
        for line in iter(stream.readline, b""):
            out.put(line)
    out.put(None)


def _metrics(data: Any) -> dict[str, float]:
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float) and math.isfinite(v)}


def _notes(data: Any) -> list[str]:
    """The worker's ``notes`` as proto strings (a name that is not UTF-8 shows U+FFFD, :func:`wire_text`)."""
    if not isinstance(data, list):
        return []
    return [wire_text(note) for note in data if isinstance(note, str)]


class TrainingRunner:
    """Runs one training at a time in a worker process.

    Args:
        config: the daemon configuration (``run_dir``, ``train_command``).
        registry: reloaded after a successful training.
        roots: the favourites, sources, before/after and photos folders and the catalog must lie under them; the
            worker is given them too (the spec's ``roots``), for the files those lead to.
    """

    def __init__(self, config: DaemonConfig, registry: StyleRegistry, roots: Roots) -> None:
        self.config = config
        self.registry = registry
        self.roots = roots
        self._lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def busy(self) -> bool:
        """Whether a training is running."""
        return self._lock.locked()

    def _folder(self, text: str, what: str) -> Path:
        folder = self.roots.request_path(text)
        if not folder.is_dir():
            raise NotFoundError(f"{folder}: the {what} folder does not exist")
        return folder

    def _file(self, text: str) -> Path:
        photo = self.roots.request_path(text)
        if not photo.is_file():
            raise NotFoundError(f"{photo}: no such photo file")
        return photo

    def _darktable_file(self, text: str) -> Path:
        """A ``darktable_files`` entry, checked with the other files the training reads for it.

        An entry is a photo (its sidecar ``NAME.EXT.xmp`` read beside it) or a darktable sidecar standing for a
        photo: a photo's own (``NAME.EXT.xmp``, standing for ``NAME.EXT``) or virtual copy N's (``NAME_NN.EXT.xmp`` as
        darktable names it, :func:`~backend.sidecar.darktable_copies.copy_named`: that copy's edit, rendered on the
        photo ``NAME.EXT``; :mod:`trainer.data.selection`). Each photo such a sidecar may stand for that is there (a
        link included) is checked too; which one it is, the worker decides.

        Raises:
            PermissionDeniedError: the entry, its ``NAME.EXT.xmp``, or a photo a sidecar given stands for (a link
                followed to its target) lies outside every root; the message names the user's file.
        """
        photo = self._file(text)
        read = [photo.with_name(photo.name + ".xmp")]
        if photo.suffix.lower() == ".xmp":
            read = [photo.with_name(photo.name[: -len(photo.suffix)])]
            copy = copy_named(photo)
            if copy is not None:
                read.append(copy.photo)
        for path in read:
            if path.is_symlink() or path.exists():
                self.roots.check(path)
        return photo

    def _spec(self, req: pb.TrainStyleRequest, run_dir: Path) -> dict[str, Any]:
        paired = bool(req.pairs_before or req.pairs_after)
        catalog = bool(req.lrcat or req.lrcat_favourites or req.photos)
        if paired and not (req.pairs_before and req.pairs_after):
            raise BadRequestError("pairs_before and pairs_after go together (originals and their edits)")
        if catalog and not (req.lrcat and req.lrcat_favourites):
            raise BadRequestError("lrcat and lrcat_favourites go together (a catalog and which of its photos)")
        darktable = bool(req.darktable)
        lists = (bool(req.favourite_files), bool(req.darktable_files), bool(req.lightroom_edits))
        if sum((paired, catalog, darktable, bool(req.favourites or req.sources), *lists)) > 1:
            raise BadRequestError(
                "a style learns from favourites (and sources), before/after pairs, a catalog's favourites, "
                "darktable edits, or one list of photo files, not several"
            )
        if not (paired or catalog or darktable or req.favourites or any(lists)):
            raise BadRequestError(
                "give favourites, pairs_before and pairs_after, lrcat and lrcat_favourites, darktable, "
                "favourite_files, darktable_files or lightroom_edits"
            )
        listed = len(req.favourite_files) + len(req.darktable_files) + len(req.lightroom_edits)
        if listed > MAX_LISTED_FILES:
            raise BadRequestError(f"{listed} photo files listed; at most {MAX_LISTED_FILES} per training")
        if req.darktable_given and not req.darktable_files:
            raise BadRequestError("darktable_given goes with darktable_files (what the user gave for those files)")
        if len(req.darktable_given) > MAX_LISTED_FILES:
            raise BadRequestError(f"{len(req.darktable_given)} paths in darktable_given; at most {MAX_LISTED_FILES}")
        lrcat = None
        if catalog:
            lrcat = self.roots.request_path(req.lrcat)
            if not lrcat.is_file():
                raise NotFoundError(f"{lrcat}: the catalog does not exist")
        return {
            "name": req.name,
            "favourites": str(self._folder(req.favourites, "favourites")) if req.favourites else None,
            "sources": str(self._folder(req.sources, "sources")) if req.sources else None,
            "pairs": [str(self._folder(req.pairs_before, "originals")), str(self._folder(req.pairs_after, "edits"))]
            if paired
            else None,
            "catalog": [
                str(lrcat),
                req.lrcat_favourites,
                str(self._folder(req.photos, "photos")) if req.photos else None,
            ]
            if lrcat is not None
            else None,
            "darktable": str(self._folder(req.darktable, "darktable")) if darktable else None,
            "favourite_files": [str(self._file(p)) for p in req.favourite_files],
            "darktable_files": [str(self._darktable_file(p)) for p in req.darktable_files],
            # for the record and the subfolders not read only: under the roots like any path (a folder is listed)
            "darktable_given": [str(self.roots.request_path(p)) for p in req.darktable_given] or None,
            "lightroom_edits": [
                {"path": str(self._file(e.path)), "settings": MessageToDict(e.settings)} for e in req.lightroom_edits
            ],
            "steps": req.steps,
            "minutes": req.minutes,
            "description": req.description,
            "overrides": list(req.overrides),
            "run_dir": str(run_dir),
            "install_dir": str(self.registry.install_dir),
            "roots": [str(r) for r in self.roots.roots],  # the worker checks what the paths lead to
        }

    def run(
        self, req: pb.TrainStyleRequest, call: Call, versions: Callable[[str], dict[str, str]]
    ) -> Iterator[pb.TrainStyleResponse]:
        """Train the style the request describes, yielding progress and then the finished style.

        Raises:
            BadRequestError: invalid name, minutes or overrides; an incomplete or mixed choice of folders.
            NotFoundError: a folder does not exist.
            PermissionDeniedError: a folder outside the roots.
            BusyError: a training is already running.
            WorkerError: the worker failed (its error is passed on).
        """
        if not _NAME.fullmatch(req.name):
            raise BadRequestError(f"invalid style name {req.name!r} (letters, digits, '_', '.', '-'; at most 64)")
        if not math.isfinite(req.minutes) or req.minutes < 0:
            raise BadRequestError(f"minutes must be >= 0, got {req.minutes}")
        _check_overrides(req.overrides)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        spec = self._spec(req, self.config.run_dir / f"{req.name}-{stamp}")
        if not self._lock.acquire(blocking=False):
            raise BusyError("a training is already running on this daemon; wait for it or cancel it")
        try:
            yield from self._run_locked(spec, call, versions)
        finally:
            self._lock.release()

    def _run_locked(
        self, spec: dict[str, Any], call: Call, versions: Callable[[str], dict[str, str]]
    ) -> Iterator[pb.TrainStyleResponse]:
        run_dir = Path(spec["run_dir"])
        run_dir.mkdir(parents=True, exist_ok=False)
        spec_path = run_dir / "daemon_train_spec.json"
        spec_path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
        log_path = run_dir / "daemon_train_worker.log"
        started = time.monotonic()
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [*self.config.train_command, str(spec_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
            )
            self.process = proc
            LOG.info("training started: style=%s pid=%d run_dir=%s", spec["name"], proc.pid, run_dir)
            lines: queue.Queue[bytes | None] = queue.Queue()
            assert proc.stdout is not None
            threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
            try:
                yield pb.TrainStyleResponse(
                    **versions(""), progress=pb.TrainProgress(step=0, total_steps=spec["steps"], phase="starting")
                )
                while True:
                    try:
                        line = lines.get(timeout=0.25)
                    except queue.Empty:
                        left = call.time_remaining()
                        if left is not None and left <= 0:
                            raise DeadlineError("the call's deadline passed; the training was stopped") from None
                        if not call.active:
                            LOG.info("training cancelled by the caller: style=%s pid=%d", spec["name"], proc.pid)
                            return
                        continue
                    if line is None:
                        break
                    message = self._event(line, spec, started, versions)
                    if message is not None:
                        yield message
                        if message.WhichOneof("event") == "finished":
                            return
                rc = proc.wait()
                raise WorkerError(f"the training worker exited with status {rc} without a result (see {log_path})")
            finally:
                _stop(proc)
                self.process = None

    def _event(
        self, line: bytes, spec: dict[str, Any], started: float, versions: Callable[[str], dict[str, str]]
    ) -> pb.TrainStyleResponse | None:
        try:
            event = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            LOG.info("training worker: %s", line.decode("utf-8", "replace").rstrip())
            return None
        if not isinstance(event, dict):
            return None
        kind = event.get("event")
        elapsed = time.monotonic() - started
        if kind == "progress":
            progress = pb.TrainProgress(
                step=int(event.get("step", 0)),
                total_steps=int(event.get("total_steps", 0)),
                elapsed_s=elapsed,
                metrics=_metrics(event.get("metrics")),
                phase=str(event.get("phase", "")),
            )
            return pb.TrainStyleResponse(**versions(""), progress=progress)
        if kind == "error":
            raise WorkerError(
                str(event.get("message", "the training failed")),
                code=str(event.get("code", "INTERNAL")),
                error_type=str(event.get("type", "WorkerError")),
                exit_code=int(event.get("exit_code", 1)),
            )
        if kind == "finished":
            snap = self.registry.load()
            name = spec["name"]
            info = next((i for i in snap.infos if i.name == name and not i.shadowed), None)
            finished = pb.TrainFinished(
                run_dir=str(event.get("run_dir", spec["run_dir"])),
                steps=int(event.get("steps", 0)),
                stopped_by=str(event.get("stopped_by", "")),
                metrics=_metrics(event.get("metrics")),
                rejected=str(event.get("rejected") or ""),
                notes=_notes(event.get("notes")),
            )
            model = ""
            if info is not None:
                loaded = name in snap.styles
                error = None if loaded else str(snap.errors.get(name, "")) or None
                finished.style.CopyFrom(style_info_to_pb(info, loaded=loaded, error=error))
                model = finished.style.model
            LOG.info("training finished: style=%s steps=%d", name, finished.steps)
            return pb.TrainStyleResponse(**versions(model), finished=finished)
        return None
