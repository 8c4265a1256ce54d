"""One photo of a batch: decode preview -> agent suggestion at the run's strength -> sidecars.

Runs either in the calling process (``--jobs 1``) or in pool workers started with the ``spawn`` method
(:func:`init_worker` loads the style once per worker; :func:`run_task` handles one photo). Everything a
worker returns is plain picklable data (:class:`PhotoResult`); every problem with a photo becomes its
``error`` (naming the file), so one bad photo never stops a worker.

Workers ignore ``SIGINT`` (the parent decides what Ctrl-C means) and exit by themselves within
:data:`WATCHDOG_S` seconds when their parent process disappears (e.g. ``kill -9``), so no orphan keeps
writing sidecars behind a dead batch.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

import torch

from backend.agent.style import Style, load_style
from backend.batch.journal import UNRECORDED, PhotoStat, sidecar_state
from backend.batch.results import ALREADY_DONE, TAKEN_OUT
from backend.decode.types import DEFAULT_MAX_PIXELS
from backend.errors import INTERNAL_ERROR, AutoretouchError, ErrorKind, naming_file
from backend.recipe import Recipe
from backend.sidecar.apply import Outcome, PhotoInfo, apply_to_photo, sidecar_path, stale_darktable_record
from backend.sidecar.atomic import backup_path
from backend.sidecar.darktable_doc import marked_labels
from backend.sidecar.lightroom_doc import EMBEDDED_XMP_SUFFIXES
from backend.sidecar.provenance import find_provenance
from backend.sidecar.xmp import read_sidecar

__all__ = [
    "ALREADY_APPLIED",
    "WATCHDOG_S",
    "PhotoProcessor",
    "PhotoResult",
    "PhotoTask",
    "WorkerSetup",
    "init_worker",
    "run_task",
]

#: How often a worker checks that its parent process is still alive, in seconds.
WATCHDOG_S = 0.2
#: Skip reason when the sidecar already holds exactly the recipe this run computed.
ALREADY_APPLIED = "already applied (the sidecar holds this very recipe, e.g. from an interrupted run)"


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker needs: the style's weights file, the strength, the write mode, the pixel limit."""

    style_path: str
    strength: float
    overwrite: bool
    dry_run: bool
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class PhotoTask:
    """One photo to process.

    Attributes:
        photo: absolute path.
        hosts: the hosts still to do for it (``"lightroom"``, ``"darktable"``).
        replace_own: host -> the recipe (JSON) an earlier run of this journal wrote for an older version
            of the photo; if that sidecar still holds exactly it, it is replaced even without ``overwrite``.
        written: (runs without ``overwrite``) host -> for a host whose sidecar this journal wrote autoretouch's
            edit into (:meth:`~backend.batch.journal.Journal.wrote`), the recipe (JSON) when that was for this
            very photo version and run configuration, else ``None`` (also after a take-out, ``--strength 0
            --overwrite``). Checked before the photo is decoded: a deleted sidecar gets the edit again; one that
            still holds that recipe is done (``already done``); one that holds no current record of ours, or one
            removed by ``revert`` (or a take-out) whose backup is that sidecar as our latest write left it (``left``),
            is skipped (:data:`~backend.batch.results.TAKEN_OUT`).
        left: host (of ``written``) -> the sidecar as the latest run that wrote into it left it
            (:meth:`~backend.batch.journal.Journal.left_by_us`).
    """

    photo: str
    hosts: tuple[str, ...]
    replace_own: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    written: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    left: Mapping[str, PhotoStat | str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class PhotoResult:
    """What a worker reports for one photo.

    Attributes:
        photo: the task's photo.
        stat: size and mtime read *before* decoding (``None`` when the file could not be stat-ed).
        recipe: the recipe applied, if one was computed.
        outcomes: one per host handled.
        error: a photo-level error (decode, suggestion), naming the file.
        seconds: wall time spent, in seconds.
        error_kind: the kind of ``error``.
    """

    photo: str
    stat: PhotoStat | None
    recipe: Recipe | None
    outcomes: tuple[Outcome, ...]
    error: str | None
    seconds: float
    error_kind: ErrorKind | None = None


@dataclass(eq=False)
class PhotoProcessor:
    """Processes photos with one loaded style (one per worker process, or one in the caller).

    Attributes:
        style: the loaded style.
        strength: α in [0, 1].
        overwrite: replace existing settings (``--overwrite``).
        dry_run: compute everything, write nothing.
        max_pixels: largest full-resolution pixel count decoded (larger photos fail with
            ``ImageTooLargeError``).
    """

    style: Style
    _: KW_ONLY
    strength: float
    overwrite: bool
    dry_run: bool
    max_pixels: int = DEFAULT_MAX_PIXELS

    @staticmethod
    def _recipe_in(photo: Path, host: str) -> Recipe | None:
        """The recipe of autoretouch's record in ``host``'s sidecar of ``photo``, if there is a current one.

        A darktable record whose entries are no longer in the active history (reset or undone in darktable)
        does not count: :func:`~backend.sidecar.apply.apply_to_photo` drops it and applies afresh.
        """
        sidecar = sidecar_path(photo, host)
        try:
            doc = read_sidecar(sidecar)
            found = find_provenance(doc)
            if found is None or found[1].host != host:
                return None
            if host == "darktable" and stale_darktable_record(doc, found[1], None):
                return None
        except (AutoretouchError, OSError, ValueError):
            return None
        return found[1].recipe

    @staticmethod
    def _written_before(
        photo: Path, host: str, recipe: Mapping[str, Any] | None, left: PhotoStat | str | None
    ) -> Outcome | None:
        """The outcome for a host this journal wrote into (:attr:`PhotoTask.written`) when known without a recipe.

        ``left`` is the sidecar as the latest write left it (:attr:`PhotoTask.left`).

        Returns:
            ``skipped`` :data:`ALREADY_DONE` when the sidecar still holds ``recipe`` in a current record,
            ``skipped`` :data:`TAKEN_OUT` when it holds no current record of ours (none, or a stale darktable
            one), or when it is gone but its backup is that sidecar as our latest write left it
            (:func:`_removed_by_us`), ``None`` when the normal rules decide (sidecar gone, its backup too or an
            older one: deleted; unreadable; our record with another recipe; darktable entries of ours without the
            record, :data:`~backend.sidecar.apply.MARKED_SKIP`).
        """
        sidecar = sidecar_path(photo, host)
        if not os.path.lexists(sidecar):
            return (
                Outcome(photo, host, sidecar, "skipped", TAKEN_OUT)
                if _removed_by_us(sidecar, host, recipe, left)
                else None
            )
        try:
            doc = read_sidecar(sidecar)
            found = find_provenance(doc)
            if found is not None and found[1].host != host:
                return None
            if found is not None and not (host == "darktable" and stale_darktable_record(doc, found[1], None)):
                if recipe is not None and found[1].recipe == Recipe.from_dict(recipe):
                    return Outcome(photo, host, sidecar, "skipped", ALREADY_DONE)
                return None
            if host == "darktable" and marked_labels(doc):
                return None
        except (AutoretouchError, OSError, ValueError):
            return None
        return Outcome(photo, host, sidecar, "skipped", TAKEN_OUT)

    def _apply(self, photo: Path, host: str, recipe: Recipe, info: PhotoInfo, own: Mapping[str, Any] | None) -> Outcome:
        if host == "lightroom" and (photo.suffix.lower() in EMBEDDED_XMP_SUFFIXES or not info.is_raw):
            present = None  # apply_to_photo skips it; NAME.xmp may belong to a raw of the same name
        else:
            present = self._recipe_in(photo, host)
        if present is not None and present == recipe:
            return Outcome(photo, host, sidecar_path(photo, host), "skipped", ALREADY_APPLIED)
        overwrite = self.overwrite
        if not overwrite and own is not None and present is not None:
            with contextlib.suppress(AutoretouchError):
                overwrite = present == Recipe.from_dict(own)  # our own, now stale, suggestion
        (outcome,) = apply_to_photo(photo, recipe, host=host, overwrite=overwrite, dry_run=self.dry_run, info=info)
        return outcome

    def __call__(self, task: PhotoTask) -> PhotoResult:
        """Process one photo; never raises for problems with the photo (they become ``error``)."""
        from backend.retouch import suggest_photo  # rawpy/OpenCV: imported where photos are decoded

        start = time.perf_counter()
        photo = Path(task.photo)
        stat: PhotoStat | None = None
        recipe: Recipe | None = None
        outcomes: list[Outcome] = []
        error: str | None = None
        kind: ErrorKind | None = None
        try:
            stat = PhotoStat.of(photo)
            pending: list[str] = []
            for host in task.hosts:
                known = None
                if host in task.written:
                    known = self._written_before(photo, host, task.written[host], task.left.get(host))
                if known is None:
                    pending.append(host)
                else:
                    outcomes.append(known)
            if pending:  # decode and suggest only for a host that needs the recipe
                recipe, info = suggest_photo(
                    photo, [(self.style, 1.0)], strength=self.strength, max_pixels=self.max_pixels
                )
                for host in pending:
                    outcomes.append(self._apply(photo, host, recipe, info, task.replace_own.get(host)))
        except FileNotFoundError as exc:
            error, kind = f"{photo}: photo not found", ErrorKind.of(exc)
        except (AutoretouchError, OSError) as exc:
            error, kind = naming_file(photo, str(exc) or type(exc).__name__), ErrorKind.of(exc)
        except Exception as exc:  # a bug: report it for this photo, keep the batch going
            where = traceback.extract_tb(exc.__traceback__)[-1]
            error = (
                f"{photo}: internal error ({type(exc).__name__}: {exc} at {Path(where.filename).name}:{where.lineno})"
            )
            kind = INTERNAL_ERROR
        seconds = time.perf_counter() - start
        return PhotoResult(str(photo), stat, recipe, tuple(outcomes), error, seconds, kind)


def _removed_by_us(sidecar: Path, host: str, recipe: Mapping[str, Any] | None, left: PhotoStat | str | None) -> bool:
    """Whether the missing ``sidecar`` was removed by a take-out of autoretouch's edit, not deleted by the user.

    ``autoretouch revert`` (and a ``--strength 0 --overwrite`` take-out) removes a sidecar autoretouch created by
    renaming it to ``<sidecar>.autoretouch.bak``, which keeps its size and mtime: that backup is then the sidecar as
    our latest write left it (``left``, the journal's record) and holds our record for ``host``. A backup that is
    not (one a later write of ours that created the sidecar anew left alone, one of an earlier write), unreadable
    or missing: ``False``, the sidecar was deleted. For a journal line from before sidecar states were recorded
    (``left`` :data:`~backend.batch.journal.UNRECORDED`) the backup must hold ``recipe``, the recipe written.
    """
    try:
        backup = backup_path(sidecar)
        if not backup.is_file():
            return False
        if isinstance(left, PhotoStat):
            if sidecar_state(backup) != left:
                return False
        elif left != UNRECORDED or recipe is None:
            return False
        found = find_provenance(read_sidecar(backup))
        if found is None or found[1].host != host:
            return False
        return isinstance(left, PhotoStat) or (recipe is not None and found[1].recipe == Recipe.from_dict(recipe))
    except (AutoretouchError, OSError, ValueError):
        return False


# -- pool worker side ---------------------------------------------------------------------------------

_PROCESSOR: PhotoProcessor | None = None


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(WATCHDOG_S)
        if os.getppid() != parent_pid:
            os._exit(1)  # the batch is gone; its journal cannot record anything we do now


def init_worker(setup: WorkerSetup, parent_pid: int) -> None:
    """Pool initializer: ignore Ctrl-C, one torch/OpenCV thread, load the style once, watch the parent.

    Args:
        setup: the run's settings.
        parent_pid: the batch process; the worker exits when it is gone.
    """
    global _PROCESSOR
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()
    torch.set_num_threads(1)  # one process per core; 64x64 work gains nothing from intra-op threads
    import cv2

    import backend.decode  # noqa: F401  (rawpy, OpenCV: load them now rather than during the first photo)

    cv2.setNumThreads(1)  # likewise for OpenCV's decoders and resizing (no oversubscription)

    style = load_style(Path(setup.style_path))
    _PROCESSOR = PhotoProcessor(
        style, strength=setup.strength, overwrite=setup.overwrite, dry_run=setup.dry_run, max_pixels=setup.max_pixels
    )


def run_task(task: PhotoTask) -> PhotoResult:
    """Pool task: process one photo with the worker's style (see :class:`PhotoProcessor`)."""
    if _PROCESSOR is None:  # pragma: no cover - init_worker always runs first
        raise RuntimeError("worker not initialised")
    return _PROCESSOR(task)
