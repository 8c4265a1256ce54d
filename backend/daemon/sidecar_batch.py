"""WriteSidecars: a style's suggestions (or one recipe) into the sidecars of many photos, streamed per photo.

Split out of :class:`~backend.daemon.service.RetouchService` (which delegates to :class:`SidecarBatch`): the
``recipe`` and ``mix`` sources run here photo by photo under the service's worker limits; the ``style`` source
goes through the catalog batch (:func:`backend.batch.run_batch`, in a thread), exactly as ``autoretouch catalog``
does. Its resume journal is kept only when the request names a folder (a folder run, remote ``catalog PATH``):
``.autoretouch-journal.jsonl`` in the first path, the same file a local run keeps, so local and remote runs
resume each other. A request naming only photo files (the Lightroom plug-in's "Write XMP sidecars", remote
``catalog --lrcat``) keeps no journal: it reads an existing one (photos it records as done are skipped) but
never locks, creates or writes it, so concurrent requests in one folder do not refuse one another and leave
no journal behind; a sidecar that already holds the same recipe is still never written twice.

Every photo fails alone: outside the roots, missing, a name too long, undecodable; the others are written.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.agent.style import Style
from backend.batch.journal import default_journal_path
from backend.batch.walk import is_folder, unique_photos
from backend.daemon.checks import check_protocol, request_strength
from backend.daemon.convert import (
    host_arg,
    hosts_from_pb,
    outcome_to_pb,
    recipe_from_pb,
    recipe_to_pb,
    wire_text,
)
from backend.daemon.errors import BadRequestError, describe
from backend.daemon.limits import Call
from backend.daemon.walk import expand_paths
from backend.errors import AutoretouchError, ErrorKind, NotFoundError, PermissionDeniedError, naming_file
from backend.recipe import Recipe, scale
from backend.retouch import retouch_photo
from backend.rpc import pb
from backend.sidecar.apply import Outcome, check_duplicate, sidecar_path

if TYPE_CHECKING:
    from backend.daemon.service import RetouchService

__all__ = ["OutcomeCounter", "SidecarBatch", "failed_result", "photo_result", "walk_results"]


def _error_pb(exc: BaseException, photo: Path) -> pb.Error:
    info = describe(exc)
    return pb.Error(
        code=info.code, message=wire_text(naming_file(photo, info.message)), type=info.type, exit_code=info.exit_code
    )


def failed_result(photo: Path, hosts: Sequence[str], exc: BaseException, duplicate: int = 0) -> pb.FileResult:
    """A photo's result when it failed as a whole: the error, and a ``failed`` outcome for each host.

    ``duplicate``: darktable's virtual copy whose sidecar was concerned (0: the original).
    """
    error = _error_pb(exc, photo)
    outcomes = [
        outcome_to_pb(Outcome(photo, h, sidecar_path(photo, h, duplicate), "failed", error.message)) for h in hosts
    ]
    return pb.FileResult(photo=wire_text(photo), outcomes=outcomes, error=error)


def photo_result(photo: Path, outcomes: Sequence[Outcome]) -> pb.FileResult:
    """A photo's result from its outcomes, with ``error`` set when a host's sidecar failed.

    A sidecar that is malformed, unsafe or locked: ``error`` carries the first failure's type and exit status, as
    for a photo that failed as a whole, so that a remote ``apply``/``revert`` exits as the in-process one does
    (the outcomes keep their own reasons).
    """
    result = pb.FileResult(photo=wire_text(photo), outcomes=[outcome_to_pb(o) for o in outcomes])
    failed = next(((o.error, o.reason) for o in outcomes if o.failed and o.error is not None), None)
    if failed is not None:
        kind, reason = failed
        result.error.CopyFrom(
            pb.Error(code=kind.grpc_status, message=wire_text(reason), type=kind.type, exit_code=kind.exit_code)
        )
    return result


def _named_sidecar(path: Path, host: str) -> Path:
    """The sidecar a failed folder is shown with, as the CLI shows it (the folder itself when it has no name)."""
    try:
        return sidecar_path(path, host)
    except ValueError:
        return path


def walk_results(
    left_out: Sequence[tuple[Path, str, bool]], hosts: Sequence[str], *, named: bool
) -> list[pb.FileResult]:
    """Results for what the folder walks left out (:meth:`SidecarBatch.batch_paths`' ``left_out``), one per path.

    Each host's outcome is ``skipped``, naming the path as its sidecar; ``named``: the reason keeps the path it
    starts with (the catalog's photo reasons do), otherwise it is taken off, the outcome's line names the path
    already (``revert FOLDER`` in-process). A folder that cannot be listed is ``failed`` (the sidecar named as the
    CLI names it, the message whole), its ``error`` a permission denied, as the catalog and ``revert FOLDER`` count
    it.
    """
    results = []
    for path, message, failed in left_out:
        if not failed:
            reason = message if named else message.removeprefix(f"{path}: ")
            outcomes = [outcome_to_pb(Outcome(path, h, path, "skipped", reason)) for h in hosts]
            results.append(pb.FileResult(photo=wire_text(path), outcomes=outcomes))
            continue
        denied = ErrorKind.of_class(PermissionDeniedError)
        results.append(
            photo_result(
                path, [Outcome(path, h, _named_sidecar(path, h), "failed", message, error=denied) for h in hosts]
            )
        )
    return results


class OutcomeCounter:
    """Counts outcomes into a :class:`pb.Summary`."""

    def __init__(self) -> None:
        self.summary = pb.Summary()

    def add(self, outcomes: Sequence[pb.SidecarOutcome]) -> None:
        """Count one photo's outcomes into the summary."""
        self.summary.photos += 1
        for o in outcomes:
            if o.action == pb.SIDECAR_ACTION_FAILED:
                self.summary.failed += 1
            elif o.action == pb.SIDECAR_ACTION_SKIPPED:
                self.summary.skipped += 1
            else:
                self.summary.changed += 1


@dataclasses.dataclass(frozen=True)
class _PhotoWrite:
    """What a WriteSidecars request with the ``recipe`` or ``mix`` source writes into each photo's sidecars.

    Attributes:
        hosts: the hosts whose sidecars are written; host: the same as ``retouch_photo``'s ``host``.
        recipe: the recipe (scaled to the strength), or None for the styles' suggestion.
        styles: the ``(style, weight)`` blend when there is no recipe.
        strength: the strength of the styles' suggestion.
        req: the request (overwrite, dry_run, duplicate).
    """

    hosts: tuple[str, ...]
    host: str
    recipe: Recipe | None
    styles: list[tuple[Style, float]]
    strength: float
    req: pb.WriteSidecarsRequest


class _WalkOrder:
    """Hands a batch's results back in the order of its photos (the walk order), whatever order they come in.

    A result comes back as soon as the results of every photo before it have; the others wait (the photos the
    daemon refuses before the batch starts, the ones the batch reports ``already done`` up front). Photos are
    told apart as the results name them (:func:`~backend.daemon.convert.wire_text` of the absolute path). A
    place that will never report (:meth:`reported_once`) is not waited for: waiting would hold every later
    result back until the batch ends.

    Args:
        photos: the batch's photos, in walk order, each once.
    """

    def __init__(self, photos: Sequence[Path]) -> None:
        self._position: dict[str, int] = {}
        for p in photos:
            self._position.setdefault(wire_text(os.path.abspath(p)), len(self._position))
        self._waiting: dict[int, pb.FileResult] = {}
        self._skipped: set[int] = set()
        self._next = 0

    def reported_once(self, batch: Sequence[Path]) -> list[pb.FileResult]:
        """Say which photos go to the batch, which reports a link to an earlier one of them once (by real path).

        Returns:
            The results now due (the link's place is no longer waited for).
        """
        kept = iter(unique_photos(batch))  # in order: each kept photo is the next one of the batch it matches
        following = next(kept, None)
        for p in batch:
            if following is not None and p == following:
                following = next(kept, None)
                continue
            position = self._position.get(wire_text(os.path.abspath(p)))
            if position is not None:
                self._skipped.add(position)
        return self._due()

    def add(self, result: pb.FileResult) -> list[pb.FileResult]:
        """Take one photo's result; returns the results now due, in order (a photo not in the batch at once)."""
        position = self._position.get(os.path.abspath(result.photo))
        if position is None or position < self._next or position in self._waiting:
            return [result]
        self._waiting[position] = result
        return self._due()

    def _due(self) -> list[pb.FileResult]:
        due: list[pb.FileResult] = []
        while self._next in self._waiting or self._next in self._skipped:
            if self._next in self._waiting:
                due.append(self._waiting.pop(self._next))
            self._next += 1
        return due

    @property
    def expected(self) -> int:
        """How many results the batch gives: one per photo, less the places that never report."""
        return len(self._position) - len(self._skipped)

    def rest(self) -> list[pb.FileResult]:
        """The results still waiting (for photos that never reported: a cancelled batch), in order."""
        due = [self._waiting.pop(i) for i in sorted(self._waiting)]
        self._next = len(self._position)
        return due


class SidecarBatch:
    """The WriteSidecars call of a :class:`~backend.daemon.service.RetouchService` (its limits, roots, styles).

    Args:
        service: the service whose configuration, worker limits, roots and styles the batch uses.
    """

    def __init__(self, service: RetouchService) -> None:
        self.service = service

    def batch_paths(
        self,
        paths: Sequence[str],
        recursive: bool,
        left_out: list[tuple[Path, str, bool]] | None = None,
        *,
        empty: bool = False,
    ) -> list[Path]:
        """The photos a request names (files, and folders expanded), checked against the roots; also Revert's.

        ``left_out`` receives ``(path, message naming it, failed)`` for what the folder walks leave out with a
        reason (skipped: links to folders, broken links, FIFOs, sockets; with ``empty`` a folder without photos)
        and the folders that cannot be listed (failed); see :func:`walk_results`.

        Raises:
            BadRequestError: no path; RequestTooLargeError: too many photos; PermissionDeniedError: outside the roots.
        """
        if not paths:
            raise BadRequestError("name at least one photo or folder in 'paths'")
        checked = [self.service.roots.request_path(p) for p in paths]
        skipped: list[tuple[Path, str]] = []
        errors: list[tuple[Path, str]] = []
        photos = expand_paths(
            checked,
            recursive=recursive,
            limit=self.service.config.max_files,
            skipped=skipped,
            errors=errors,
            empty=empty,
        )
        if left_out is not None:
            left_out += [(p, why, True) for p, why in errors] + [(p, why, False) for p, why in skipped]
        return photos

    def write_sidecars(self, req: pb.WriteSidecarsRequest, call: Call) -> Iterator[pb.WriteSidecarsResponse]:
        """Write sidecars for photos and folders, one message per photo then a summary; see the proto."""
        check_protocol(req.protocol_version)
        self.service._require_ready()
        hosts = hosts_from_pb(req.hosts)
        host = host_arg(hosts)
        strength = request_strength(req.HasField("strength"), req.strength)
        source = req.WhichOneof("source")
        check_duplicate(hosts, req.duplicate)
        if req.duplicate and source == "style":
            raise BadRequestError("a virtual copy (duplicate) takes the 'recipe' or 'mix' source, not 'style'")
        recipe: Recipe | None = None
        styles: list[tuple[Style, float]] = []
        if source == "recipe":
            recipe = scale(recipe_from_pb(req.recipe), strength)
            model = recipe.model or ""
        elif source is None:
            raise BadRequestError("say what to write: 'recipe', 'style' or 'mix'")
        else:
            styles = self.service._styles(req.style, req.mix if source == "mix" else None)
            model = "+".join(s.model for s, _ in styles)
        left_out: list[tuple[Path, str, bool]] = []
        photos = self.batch_paths(req.paths, req.recursive, left_out)
        walked = walk_results(left_out, hosts, named=source == "style")  # the catalog names the path in the reason
        journal = None
        if source == "style" and any(is_folder(p) for p in req.paths):  # a folder run: resumable
            journal = default_journal_path([req.paths[0]])
            self.service.roots.check(journal)
        versions = self.service._versions(model)
        counter = OutcomeCounter()
        order = _WalkOrder(photos) if source == "style" else None  # the catalog batch: results in walk order

        def expected() -> int:  # the catalog batch knows its count once it has started
            return len(walked) + (order.expected if order is not None else len(photos))

        with self.service.limiter.admit():
            files = (
                self._batch_with_catalog(photos, hosts, styles[0][0], strength, req, call, journal, order)
                if order is not None
                else self._batch_here(photos, _PhotoWrite(hosts, host, recipe, styles, strength, req), call)
            )
            # what the walks left out first, as the catalog batch reports it before the photos
            for index, result in enumerate(itertools.chain(walked, files), start=1):
                result.index, result.total = index, expected()
                counter.add(result.outcomes)
                yield pb.WriteSidecarsResponse(**versions, file=result)
        counter.summary.cancelled = counter.summary.photos < expected()
        yield pb.WriteSidecarsResponse(**versions, summary=counter.summary)

    def _batch_here(self, photos: Sequence[Path], what: _PhotoWrite, call: Call) -> Iterator[pb.FileResult]:
        for photo in photos:
            if not call.active:
                return
            call.check()
            with self.service.limiter.slot(call):
                yield self._write_one(photo, what)

    def _write_one(self, photo: Path, what: _PhotoWrite) -> pb.FileResult:
        hosts, req = what.hosts, what.req
        try:
            self.service.guard_photo(photo, hosts, req.duplicate)
            outcomes, used = retouch_photo(
                photo,
                host=what.host,
                styles=what.styles,
                recipe=what.recipe,
                strength=what.strength,
                overwrite=req.overwrite,
                dry_run=req.dry_run,
                duplicate=req.duplicate,
                max_pixels=self.service.config.max_pixels,
                suggest=lambda image, st, s: self.service._suggest(image, list(st), s, 1, 0)[0],
                probe=self.service._probe,
            )
        except (AutoretouchError, OSError) as exc:
            return failed_result(photo, hosts, exc, req.duplicate)
        result = photo_result(photo, outcomes)
        result.recipe.CopyFrom(recipe_to_pb(used))
        return result

    def _batch_with_catalog(
        self,
        photos: Sequence[Path],
        hosts: tuple[str, ...],
        style: Style,
        strength: float,
        req: pb.WriteSidecarsRequest,
        call: Call,
        journal: Path | None,
        order: _WalkOrder,
    ) -> Iterator[pb.FileResult]:
        from backend.batch import run_batch

        allowed: list[Path] = []
        refused: list[pb.FileResult] = []
        for photo in photos:
            try:
                self.service.guard_photo(photo, hosts)
                if not os.path.lexists(photo):  # fails alone here; run_batch would stop the whole batch
                    raise NotFoundError(f"{photo}: no such file or folder")
            except AutoretouchError as exc:
                refused.append(failed_result(photo, hosts, exc))
                continue
            allowed.append(photo)
        order.reported_once(allowed)  # first: the count of results to come (order.expected) is then known
        for result in refused:  # refused photos wait for their place among the batch's results
            yield from order.add(result)
        if not allowed:
            yield from order.rest()
            return
        # A private copy of the net: dropout variants of concurrent Suggest calls switch the shared net's modes.
        private = dataclasses.replace(style, net=copy.deepcopy(style.net), prior=copy.deepcopy(style.prior))
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()

        def work() -> None:
            try:
                summary = run_batch(
                    allowed,
                    hosts=list(hosts),
                    style=private,
                    strength=strength,
                    jobs=1,
                    dry_run=req.dry_run,
                    overwrite=req.overwrite,
                    journal=journal,
                    resume=journal is not None,
                    missing_fails=True,  # a photo removed since the check above fails alone too
                    progress=lambda o: events.put(("file", o)),
                    cancel=stop.is_set,
                    max_pixels=self.service.config.max_pixels,
                )
                events.put(("done", summary))
            except BaseException as exc:  # handed to the caller's thread, which raises it
                events.put(("error", exc))

        with self.service.limiter.slot(call):
            worker = threading.Thread(target=work, name="write-sidecars-batch", daemon=True)
            worker.start()
            try:
                while True:
                    try:
                        kind, item = events.get(timeout=0.25)
                    except queue.Empty:
                        if not call.active:
                            stop.set()
                        continue
                    if kind == "done":
                        yield from order.rest()
                        return
                    if kind == "error":  # the results already due are not lost with it
                        yield from order.rest()
                        raise item
                    yield from order.add(self._from_catalog(item))
            finally:
                stop.set()

    @staticmethod
    def _from_catalog(outcome: Any) -> pb.FileResult:
        result = pb.FileResult(photo=wire_text(outcome.photo), outcomes=[outcome_to_pb(o) for o in outcome.hosts])
        if outcome.recipe is not None:
            result.recipe.CopyFrom(recipe_to_pb(outcome.recipe))
        kind = outcome.error_kind
        if outcome.failed and kind is not None:  # the photo failed as a whole (decode, size limit, suggestion)
            error = pb.Error(
                code=kind.grpc_status, message=wire_text(outcome.reason), type=kind.type, exit_code=kind.exit_code
            )
            result.error.CopyFrom(error)
        return result
