"""Catalog batch: a learned style's recipe written into the sidecars of many photos, resumably, in parallel.

:func:`run_batch` is the one entry point (the CLI's ``autoretouch catalog`` and the daemon's WriteSidecars
call it). Steps:

1. **Select** the photos: folders walked recursively and files (:mod:`backend.batch.walk`), or the files
   a Lightroom catalog lists (:mod:`backend.batch.lrcat_paths`; PATHs then only narrow it down to the
   photos under them).
2. **Tidy** temp and lock files that a killed run left next to the photos' sidecars
   (:mod:`backend.batch.leftovers`; not in a dry run).
3. **Resume**: hosts the journal (:mod:`backend.batch.journal`) records as done for this photo version
   and this style/strength are skipped (``already done``). A photo whose size or mtime changed is done
   again; a sidecar that still holds exactly the recipe this journal wrote for the older version is then
   replaced even without ``overwrite`` (it is our own, now stale, suggestion); everything else follows the
   sidecar rules of :func:`~backend.sidecar.apply.apply_to_photo` (existing edits kept unless ``overwrite``).
   A sidecar that already holds exactly the recipe computed now (written by a run killed before it could
   journal it) is left alone and reported as skipped, ``ALREADY_APPLIED``: never applied twice. Where this
   journal wrote the edit and the sidecar changed since, it is looked at before the photo is decoded: still
   holding it, it is ``already done``; deleted (its ``.autoretouch.bak`` backup gone too, or not the sidecar as
   our latest write left it: same size and mtime as the journal recorded), the edit is applied again; otherwise
   the user took it out (``autoretouch revert``, which removes a sidecar autoretouch created, renaming it to that
   backup; darktable's discard or undo; a Lightroom reset; a ``--strength 0 --overwrite`` take-out) and, without
   ``overwrite``, it is skipped with :data:`~backend.batch.results.TAKEN_OUT` (a missing sidecar is looked at
   again each run: the backup may be deleted since).
4. **Process** each photo (:class:`~backend.batch.worker.PhotoProcessor`): decode preview -> agent
   suggestion -> strength -> sidecars, in a ``spawn`` process pool (fork + rawpy/OpenMP can deadlock) with
   the style loaded once per worker, or in the calling process for ``jobs=1``.
5. **Record** each photo in the journal (fsync-ed) as soon as its sidecars are in place, report it to
   ``progress``, and return a :class:`~backend.batch.results.BatchSummary`.

Robustness: a photo that cannot be read fails alone, naming the file. A worker process that dies (a crash
in a decoder, the OOM killer) breaks the pool: a new pool is started, the photos that were in flight are
retried one at a time, and the one that kills a worker on its own is reported as failed. Ctrl-C (or
``cancel()`` returning true) stops submitting, lets the photos in flight finish and be journaled, and
returns a summary with ``interrupted`` set; a second Ctrl-C aborts at once. A ``kill -9`` loses at most the
photos in flight: the journal and every sidecar stay whole, the workers exit by themselves, and the next
run removes the leftover temp/lock files and carries on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import torch

from backend.agent.style import DEFAULT_STYLE, Style, load_style
from backend.batch.journal import (
    HostRecord,
    Journal,
    JournalEntry,
    PhotoStat,
    RunConfig,
    check_journal_path,
    default_journal_path,
    same_run,
    sidecar_state,
    took_out,
)
from backend.batch.leftovers import find_leftovers, remove_leftovers
from backend.batch.lrcat_paths import CatalogListing, LightroomCatalogError, list_catalog_files, locate_catalog_file
from backend.batch.results import ALREADY_DONE, TAKEN_OUT, TAKEN_OUT_REASONS, WORKER_CRASH, BatchSummary, PhotoOutcome
from backend.batch.walk import check_path_length, find_photos
from backend.batch.worker import (
    PhotoProcessor,
    PhotoResult,
    PhotoTask,
    WorkerSetup,
    init_worker,
    run_task,
)
from backend.decode.types import DEFAULT_MAX_PIXELS
from backend.errors import INTERNAL_ERROR, ErrorKind, InvalidRecipeError, NotFoundError, PermissionDeniedError
from backend.fsio import temp_stem
from backend.recipe import check_strength
from backend.sidecar.apply import HOSTS, Outcome, hosts_for, sidecar_path
from backend.torch_threads import torch_threads

__all__ = [
    "CRASH_REASON",
    "MIN_PHOTOS_PER_WORKER",
    "POOL_TASK",
    "Selection",
    "default_jobs",
    "run_batch",
    "select_photos",
    "style_fingerprint",
]

#: The function pool workers run per photo (module level, so tests can substitute a picklable one).
POOL_TASK: Callable[[PhotoTask], PhotoResult] = run_task

#: Reason given for a photo whose processing killed the worker process.
CRASH_REASON = "the worker process died while processing this photo (a crash in the decoder, or out of memory)"

#: With ``jobs=None``, each worker process started must have at least this many photos to do; smaller
#: batches run in the calling process (starting a worker costs about as much as 20-50 JPEG photos).
MIN_PHOTOS_PER_WORKER = 16

_POLL_S = 0.25


def default_jobs() -> int:
    """Worker processes by default: the CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def style_fingerprint(style: Style) -> str:
    """SHA-256 (hex) over the style's tensor names, shapes and float32 values (file-format independent)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(style.tensors().items()):
        t = tensor.detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{name}:{tuple(t.shape)};".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def _hosts(hosts: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(hosts, str):
        return hosts_for(hosts)
    wanted: set[str] = set()
    for h in hosts:
        wanted.update(hosts_for(h))
    if not wanted:
        raise InvalidRecipeError("no host given (expected lightroom, darktable or both)")
    return tuple(h for h in HOSTS if h in wanted)


def _host_order(o: Outcome) -> int:
    return HOSTS.index(o.host) if o.host in HOSTS else len(HOSTS)


_NOT_FOUND = ErrorKind.of_class(NotFoundError)
_UNLISTABLE = ErrorKind.of_class(PermissionDeniedError)
_BAD_CATALOG = ErrorKind.of_class(LightroomCatalogError)


@dataclasses.dataclass
class Selection:
    """The photos a batch covers (step 1 of :func:`run_batch`).

    Attributes:
        photos: absolute photo paths to process, in batch order.
        failed: ``(path, reason naming it, kind)`` of what cannot be processed (a folder that cannot be
            listed, a catalog photo missing on disk, a catalog row without a path).
        ignored: ``(path, reason)`` of explicitly named files that are not photos, and of PATHs under which none
            of a Lightroom catalog's photos lies.
    """

    photos: list[Path]
    failed: list[tuple[Path, str, ErrorKind]]
    ignored: list[tuple[Path, str]]


def select_photos(
    paths: Sequence[str | Path], lrcat: str | Path | None = None, *, missing_fails: bool = False
) -> Selection:
    """The photos of a batch: folders walked and files named (:func:`find_photos`), or a catalog's listing.

    Args:
        paths: folders and photo files; with ``lrcat`` they only narrow the catalog's photos down.
        lrcat: a Lightroom catalog whose photo files to take (read-only).
        missing_fails: without ``lrcat``, a PATH that does not exist fails alone (``NotFoundError`` in
            ``failed``) instead of stopping the batch (an explicit photo list: the daemon's requests).

    Returns:
        The :class:`Selection` (``autoretouch catalog --lrcat --server`` sends its ``photos`` to the daemon).

    Raises:
        NotFoundError: a PATH does not exist, or cannot (a name too long), unless ``missing_fails``.
        LightroomCatalogError: the catalog cannot be read.
    """
    if lrcat is None:
        walk = find_photos(paths, missing_fails=missing_fails)
        failed = [(p, why, _NOT_FOUND) for p, why in walk.missing]
        failed += [(p, why, _UNLISTABLE) for p, why in walk.errors]
        return Selection(list(walk.photos), failed, list(walk.ignored))
    roots = [Path(os.path.abspath(p)) for p in paths]
    for root in roots:
        check_path_length(root)
        if not root.exists():
            raise NotFoundError(f"{root}: no such file or folder")
    return _catalog_selection(list_catalog_files(lrcat), roots)


def _catalog_selection(listing: CatalogListing, roots: Sequence[Path]) -> Selection:
    """The photos of a catalog's listing, on disk where :func:`locate_catalog_file` finds them, under ``roots``.

    A file lies under a PATH when it is found there or the catalog records it there. A PATH under which none of
    the catalog's photos lies is reported in ``ignored`` (skipped: most likely the wrong folder was given).
    """
    catalog_dir = listing.catalog.resolve().parent
    sel = Selection([], [], [])
    seen: set[str] = set()
    matched: set[Path] = set()
    real_roots = [(r, Path(os.path.realpath(r))) for r in roots]  # resolved once, not once per row
    rows = [(_recorded_path(f.path), locate_catalog_file(f.path, catalog_dir)) for f in listing.files]
    # each row with its file's real path (resolved once; the key that tells one file on disk from another)
    real_rows = [
        (recorded, located, None if located is None else os.path.realpath(located[0])) for recorded, located in rows
    ]
    claims: dict[str, dict[Path, str]] = {}  # a file on disk -> the catalog paths found as it, and how
    for recorded, located, real_located in real_rows:
        if located is not None and real_located is not None:
            claims.setdefault(real_located, {})[recorded] = located[1]
    for recorded, located, real_located in real_rows:
        p = recorded if located is None else Path(os.path.abspath(located[0]))
        key = _real_recorded(recorded) if real_located is None else real_located
        real_recorded = key if real_located is None or not roots else _real_recorded(recorded)
        hits = _roots_holding({Path(key), Path(real_recorded)}, real_roots)
        if roots and not hits:
            continue
        matched.update(hits)
        if located is not None and located[1] == "catalog folder" and len(claims[key]) > 1:
            sel.failed.append((recorded, _shared_file(recorded, p, claims[key]), _NOT_FOUND))
            continue
        if key in seen:
            continue
        seen.add(key)
        if located is not None:
            sel.photos.append(p)
        else:
            why = f"{p}: listed in the Lightroom catalog but not found on disk, there or below the catalog's folder"
            sel.failed.append((p, f"{why} {catalog_dir} (offline or moved?)", _NOT_FOUND))
    if not roots:  # rows without a path cannot lie under a PATH
        sel.failed += [(listing.catalog, f"{listing.catalog}: {why}", _BAD_CATALOG) for _, why in listing.unresolved]
    for root in (r for r in roots if r not in matched):
        sel.ignored.append(
            (root, f"{root}: none of the photos of the Lightroom catalog {listing.catalog} lies under this PATH")
        )
    return sel


def _recorded_path(recorded: Path) -> Path:
    """A catalog's recorded path, normalised when it is a path of this system, else (``C:/...`` on Linux) as it is.

    A path of another system is never joined to the working folder: it names the photo as the catalog does.
    """
    return Path(os.path.abspath(recorded)) if os.path.isabs(recorded) else recorded


def _real_recorded(recorded: Path) -> str:
    """The real path of a recorded path of this system (links resolved); another system's path as written."""
    return os.path.realpath(recorded) if os.path.isabs(recorded) else str(recorded)


def _shared_file(recorded: Path, found: Path, claims: dict[Path, str]) -> str:
    """Why a catalog photo found below the catalog's folder by its path's tail is not taken as that file.

    Args:
        recorded: the path the catalog records for the photo (not on disk).
        found: the file of that name below the catalog's folder.
        claims: every catalog path found as ``found`` -> how (``"recorded"`` or ``"catalog folder"``).
    """
    why = f"{recorded}: not where the catalog records it; {found} below the catalog's folder has its name but"
    if "recorded" in claims.values():  # certainly another catalog photo's own file
        return f"{why} is where the catalog records another of its photos"
    other = min(str(r) for r in claims if r != recorded)
    return f"{why} stands for another catalog photo too ({other}): ambiguous"


def _roots_holding(real_paths: set[Path], real_roots: Sequence[tuple[Path, Path]]) -> list[Path]:
    """The roots that one of ``real_paths`` is or lies below (compared as real paths).

    Args:
        real_paths: paths already resolved with :func:`os.path.realpath`.
        real_roots: each root with its :func:`os.path.realpath`, resolved once by the caller.
    """
    return [r for r, real_r in real_roots if any(real == real_r or real_r in real.parents for real in real_paths)]


def _tidy_leftovers(photos: Sequence[Path]) -> None:
    by_folder: dict[Path, list[Path]] = {}
    for p in photos:
        by_folder.setdefault(p.parent, []).append(p)
    for folder, members in by_folder.items():
        stale = find_leftovers(folder)
        if not stale:
            continue
        for p in members:
            for host in HOSTS:
                sidecar = sidecar_path(p, host)
                if temp_stem(sidecar.name) in stale:
                    remove_leftovers(sidecar)


def _sidecar_free_skip(outcome: Outcome, overwrite: bool) -> bool:
    """Whether ``outcome`` is a skip that does not depend on the sidecar (whatever it holds, it is skipped again).

    That is Lightroom and a photo with embedded XMP, and (without ``overwrite``, which takes an earlier edit out
    instead) a recipe with nothing to write: told by :attr:`~backend.sidecar.apply.Outcome.skip_kind`.
    """
    if outcome.action != "skipped":
        return False
    return outcome.skip_kind == "embedded-xmp" or (not overwrite and outcome.skip_kind == "nothing-to-write")


def _host_record(outcome: Outcome, overwrite: bool) -> HostRecord:
    """The journal's record of one host: the outcome and, unless it failed, the sidecar as it is now.

    The sidecar is stat-ed right after the photo's result arrives, so a later change (``autoretouch revert``, the
    user's editor) makes the journal's "done" void (:meth:`~backend.batch.journal.Journal.is_done`). A failed
    host has no sidecar state (it is never done), nor has a skip that does not depend on the sidecar (Lightroom
    and a non-raw, a recipe without steps): darktable rewriting a sidecar does not make it one to look at again.
    """
    if outcome.failed or _sidecar_free_skip(outcome, overwrite):
        return HostRecord(outcome.action, outcome.reason, str(outcome.sidecar))
    return HostRecord(outcome.action, outcome.reason, str(outcome.sidecar), sidecar_state(outcome.sidecar))


@dataclasses.dataclass(kw_only=True, eq=False)
class _Batch:
    """State of one :func:`run_batch` call."""

    hosts: tuple[str, ...]
    style: Style
    run: RunConfig
    dry_run: bool
    max_pixels: int
    journal: Journal
    progress: Callable[[PhotoOutcome], None] | None
    cancel: Callable[[], bool] | None
    summary: BatchSummary
    total: int = dataclasses.field(default=0, init=False)
    done_outcomes: dict[str, tuple[Outcome, ...]] = dataclasses.field(default_factory=dict, init=False)

    # -- reporting ------------------------------------------------------------------------------------

    def emit(self, outcome: PhotoOutcome) -> None:
        outcome = dataclasses.replace(outcome, index=len(self.summary.photos) + 1, total=self.total)
        self.summary.photos.append(outcome)
        if self.progress is not None:
            self.progress(outcome)

    def stopping(self) -> bool:
        return self.summary.interrupted or (self.cancel is not None and bool(self.cancel()))

    def finish(self, task: PhotoTask, result: PhotoResult) -> None:
        """Journal one processed photo (unless dry run) and report it."""
        photo = Path(task.photo)
        outcomes = list(result.outcomes)
        if result.error is not None:
            outcomes = [Outcome(photo, h, sidecar_path(photo, h), "failed", result.error) for h in task.hosts]
        if not self.dry_run and result.stat is not None:
            records = {o.host: _host_record(o, self.run.overwrite) for o in outcomes}
            recipe = None if result.recipe is None else result.recipe.to_dict()
            entry = JournalEntry(task.photo, result.stat, self.run.to_json(), records, recipe, result.error)
            self.journal.record(entry)
        hosts = tuple(sorted([*self.done_outcomes.pop(task.photo, ()), *outcomes], key=_host_order))
        status, reason = PhotoOutcome.summarise(hosts, result.error)
        kind = result.error_kind if result.error is not None else None
        self.emit(PhotoOutcome(photo, status, reason, hosts, result.recipe, result.seconds, error_kind=kind))

    def crashed(self, task: PhotoTask) -> None:
        reason = f"{task.photo}: {CRASH_REASON}"
        self.finish(task, PhotoResult(task.photo, None, None, (), reason, 0.0, WORKER_CRASH))

    # -- planning -------------------------------------------------------------------------------------

    def plan(self, photos: Sequence[Path]) -> list[PhotoTask]:
        """Tasks for the photos not done yet; reports the done ones as skipped (``already done``)."""
        tasks: list[PhotoTask] = []
        for photo in photos:
            key = str(photo)
            try:
                stat: PhotoStat | None = PhotoStat.of(photo)
            except OSError:
                stat = None  # the worker reports the problem
            todo = [h for h in self.hosts if stat is None or not self.journal.is_done(key, h, stat, self.run)]
            done = tuple(
                Outcome(photo, h, sidecar_path(photo, h), "skipped", self.done_reason(key, h))
                for h in self.hosts
                if h not in todo
            )
            if not todo:
                self.emit(PhotoOutcome(photo, "skipped", PhotoOutcome.summarise(done, None)[1], done))
                continue
            replace_own: dict[str, dict[str, Any]] = {}
            written: dict[str, dict[str, Any] | None] = {}
            left: dict[str, PhotoStat | str | None] = {}
            for h in todo:
                mine = self.journal.wrote(key, h)
                if stat is None or mine is None or mine.recipe is None:
                    continue
                ours = not took_out(mine)  # a take-out (strength 0) left no edit of ours in the sidecar
                if ours and mine.stat != stat:
                    replace_own[h] = dict(mine.recipe)
                if not self.run.overwrite:
                    written[h] = dict(mine.recipe) if ours and same_run(mine, stat, self.run) else None
                    left[h] = self.journal.left_by_us(key, h)
            self.done_outcomes[key] = done
            tasks.append(PhotoTask(key, tuple(todo), replace_own, written, left))
        return tasks

    def done_reason(self, photo: str, host: str) -> str:
        """How a host the journal records as done is reported: :data:`ALREADY_DONE`, or the :data:`TAKEN_OUT` skip."""
        last = self.journal.last(photo, host)
        rec = None if last is None else last.hosts[host]
        taken_out = rec is not None and rec.action == "skipped" and rec.reason in TAKEN_OUT_REASONS
        return TAKEN_OUT if taken_out else ALREADY_DONE

    # -- processing -----------------------------------------------------------------------------------

    def process_here(self, tasks: Sequence[PhotoTask]) -> None:
        processor = PhotoProcessor(
            self.style,
            strength=self.run.strength,
            overwrite=self.run.overwrite,
            dry_run=self.dry_run,
            max_pixels=self.max_pixels,
        )
        with torch_threads(1, main_thread_only=True):
            for task in tasks:
                if self.stopping():
                    break
                try:
                    result = processor(task)
                except KeyboardInterrupt:
                    self.summary.interrupted = True
                    break
                self.finish(task, result)

    def process_pool(self, tasks: Sequence[PhotoTask], workers: int) -> None:
        assert self.style.path is not None
        setup = WorkerSetup(str(self.style.path), self.run.strength, self.run.overwrite, self.dry_run, self.max_pixels)
        queue: deque[tuple[PhotoTask, bool]] = deque((t, False) for t in tasks)
        inflight: dict[Future[PhotoResult], PhotoTask] = {}
        crashes: dict[str, int] = {}
        pool: ProcessPoolExecutor | None = None
        context = multiprocessing.get_context("spawn")

        def new_pool() -> ProcessPoolExecutor:
            return ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=init_worker, initargs=(setup, os.getpid())
            )

        def collect(fut: Future[PhotoResult], task: PhotoTask, broken: list[PhotoTask]) -> None:
            try:
                result = fut.result()
            except BrokenProcessPool:
                broken.append(task)
                return
            except Exception as exc:  # e.g. a result that cannot be pickled: a bug, reported for this photo
                reason = f"{task.photo}: internal error ({exc!r})"
                result = PhotoResult(task.photo, None, None, (), reason, 0.0, INTERNAL_ERROR)
            self.finish(task, result)

        def step() -> None:
            nonlocal pool
            while queue or inflight:
                if self.stopping():
                    queue.clear()
                    if not inflight:
                        break
                if pool is None:
                    pool = new_pool()
                while queue and len(inflight) < 2 * workers:
                    task, alone = queue[0]
                    if alone and inflight:
                        break
                    queue.popleft()
                    inflight[pool.submit(POOL_TASK, task)] = task
                    if alone:
                        break
                done, _ = wait(list(inflight), timeout=_POLL_S, return_when=FIRST_COMPLETED)
                broken: list[PhotoTask] = []
                for fut in done:
                    collect(fut, inflight.pop(fut), broken)
                if not broken:
                    continue
                in_flight_at_crash = len(broken) + len(inflight)
                for fut, task in list(inflight.items()):
                    with contextlib.suppress(TimeoutError):
                        fut.exception(timeout=5.0)  # a broken pool fails its futures at once
                    collect(fut, task, broken)
                inflight.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                pool = None
                for task in reversed(broken):
                    crashes[task.photo] = crashes.get(task.photo, 0) + 1
                    if in_flight_at_crash == 1 or crashes[task.photo] >= 2:
                        self.crashed(task)
                    else:
                        queue.appendleft((task, True))  # retried alone: only the culprit crashes again

        try:
            while True:
                try:
                    step()
                    break
                except KeyboardInterrupt:
                    if self.summary.interrupted:
                        raise  # a second Ctrl-C: abort now
                    self.summary.interrupted = True  # finish (and journal) what is in flight
        finally:
            if pool is not None:
                pool.shutdown(wait=not inflight, cancel_futures=True)


def _jobs_wanted(jobs: int | None) -> int:
    wanted = default_jobs() if jobs is None else int(jobs)
    if wanted < 1:
        raise InvalidRecipeError(f"jobs must be at least 1, got {jobs}")
    return wanted


def _workers(wanted: int, tasks: int, *, automatic: bool, style_file: bool) -> int:
    """Worker processes for ``tasks`` photos (0 or 1: process here)."""
    workers = min(wanted, tasks)
    if automatic:  # a worker costs a second or more to start (Python, torch, the style)
        workers = min(workers, max(1, tasks // MIN_PHOTOS_PER_WORKER))
    if not style_file:
        workers = min(workers, 1)  # workers load the style from its file
    return workers


# Long: the batch's one control flow (resolve photos, journal, worker pool, progress, cancel, summary); the steps are helpers, the order is here.
def run_batch(
    paths: Sequence[str | Path] = (),
    *,
    lrcat: str | Path | None = None,
    hosts: str | Sequence[str] = "darktable",
    style: str | Path | Style = DEFAULT_STYLE,
    strength: float = 1.0,
    jobs: int | None = None,
    dry_run: bool = False,
    overwrite: bool = False,
    journal: str | Path | None = None,
    progress: Callable[[PhotoOutcome], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    resume: bool = True,
    missing_fails: bool = False,
) -> BatchSummary:
    """Suggest a recipe for every photo with a style and write it into the photos' sidecars.

    Args:
        paths: folders (walked recursively) and photo files; with ``lrcat``, only the catalog's photos under
            these paths are processed (none given: all of them).
        lrcat: a Lightroom catalog (``.lrcat``) whose photo files to process (read-only).
        hosts: ``"lightroom"``, ``"darktable"``, ``"both"``, or a sequence of them.
        style: a style name (style store), a path to ``NAME.safetensors``, or a loaded :class:`Style`.
        strength: α in [0, 1]: every slider is moved this far from "no change" toward the suggestion.
        jobs: worker processes; 1 runs in the calling process. ``None`` (default): the usable CPU cores, but
            at most one per :data:`MIN_PHOTOS_PER_WORKER` photos to do (small batches run in the caller).
        dry_run: compute and report everything, write nothing (no sidecar, lock, journal or cleanup).
        overwrite: replace existing develop settings and earlier autoretouch applications (revertible).
        journal: the journal file (default: ``.autoretouch-journal.jsonl`` in the first PATH, or in its
            folder for a file, or next to the catalog; see :mod:`backend.batch.journal`).
        progress: called in the calling thread with each photo's outcome as soon as it is final (journaled);
            exceptions it raises end the batch.
        cancel: polled between photos (about every 0.25 s with a pool); when it returns true, photos in
            flight finish and the batch returns early with ``interrupted`` set.
        max_pixels: a photo whose full resolution has more pixels fails alone (``ImageTooLargeError``, the
            decompression-bomb guard; the daemon passes its ``--max-pixels``).
        resume: keep the journal. ``False`` (the daemon's lists of photo files): the journal file is read if
            there is one (photos it records as done are skipped) but never locked, created or written, so
            such runs never wait for one another nor leave a journal; a photo whose sidecar already holds
            this run's recipe is still skipped (``ALREADY_APPLIED``), never applied twice.
        missing_fails: a PATH that does not exist fails alone (``NotFoundError``) and the others are done,
            instead of stopping the batch before it starts (for an explicit photo list).

    Returns:
        The summary (``any_failed`` -> the CLI exits with status 9).

    Raises:
        NotFoundError: a PATH, the catalog or the style does not exist.
        InvalidRecipeError: bad host, strength or jobs.
        StyleError: the style cannot be loaded.
        LightroomCatalogError: the catalog cannot be read.
        JournalError: another run holds the journal, it is not a journal, it cannot be written, or ``journal``
            names a sidecar or a photo (``.xmp``, a photo extension).
    """
    started = time.perf_counter()
    host_list = _hosts(hosts)
    check_strength(strength)
    workers_wanted = _jobs_wanted(jobs)
    if not paths and lrcat is None:
        raise InvalidRecipeError("give at least one PATH or a Lightroom catalog")
    journal_path = check_journal_path(journal) if journal is not None else default_journal_path(paths, lrcat)
    loaded = style if isinstance(style, Style) else load_style(style)
    run = RunConfig(loaded.name, loaded.model, style_fingerprint(loaded), float(strength), bool(overwrite))
    selection = select_photos(paths, lrcat, missing_fails=missing_fails)
    summary = BatchSummary(
        hosts=host_list, style=loaded.name, model=loaded.model, strength=float(strength), dry_run=dry_run
    )
    with Journal(journal_path, readonly=dry_run, memory=not resume) as jr:
        summary.journal = journal_path if resume and jr.path.exists() else None
        batch = _Batch(
            hosts=host_list,
            style=loaded,
            run=run,
            dry_run=dry_run,
            max_pixels=int(max_pixels),
            journal=jr,
            progress=progress,
            cancel=cancel,
            summary=summary,
        )
        batch.total = len(selection.photos) + len(selection.failed) + len(selection.ignored)
        for path, reason, kind in selection.failed:
            batch.emit(PhotoOutcome(path, "failed", reason, error_kind=kind))
        for path, reason in selection.ignored:
            batch.emit(PhotoOutcome(path, "skipped", reason))
        if not dry_run:
            _tidy_leftovers(selection.photos)
        tasks = batch.plan(selection.photos)
        workers = _workers(workers_wanted, len(tasks), automatic=jobs is None, style_file=loaded.path is not None)
        summary.jobs = max(workers, 1)
        if workers <= 1:
            batch.process_here(tasks)
        else:
            batch.process_pool(tasks, workers)
    summary.elapsed_s = time.perf_counter() - started
    return summary
