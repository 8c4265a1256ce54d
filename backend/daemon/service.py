"""The daemon's work, independent of the transport: proto request in, proto response(s) out.

The gRPC servicer and the JSON bridge both call :class:`RetouchService`; each method takes the request
message and a :class:`~backend.daemon.limits.Call` (deadline, liveness) and returns the response message
(or yields the stream's messages). Errors are raised as typed ``AutoretouchError`` subclasses; the
transports map them with :func:`backend.daemon.errors.describe`.

WriteSidecars has two paths:

* ``style`` (one style): the catalog batch (:func:`backend.batch.run_batch`, in this process, one photo
  at a time, with the daemon's ``max_pixels``). It keeps the catalog's journal where ``autoretouch catalog``
  keeps it for the same first path (``.autoretouch-journal.jsonl`` inside the first path sent, or in its
  folder for a file), so a local and a remote run over the same folder resume each other: photos already
  done with the same style weights, strength and overwrite setting are skipped as ``already done``, and a
  sidecar that already carries an autoretouch record is skipped unless ``overwrite``. The batch holds one
  worker slot while it runs; a second batch on the same journal fails with ``FAILED_PRECONDITION``.
* ``recipe`` or ``mix``: photo by photo here (:func:`backend.sidecar.apply.apply_to_photo`), each photo
  taking a worker slot, as ``autoretouch apply`` does.

Every photo, its folder and the sidecar, backup and lock files of every requested host are checked against
the roots before anything is read or written; a photo that fails the check (a symlink out of the roots)
fails alone with ``PERMISSION_DENIED``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from backend import __version__
from backend.agent.style import DEFAULT_STYLE, Style
from backend.batch.journal import default_journal_path
from backend.daemon.config import DaemonConfig
from backend.daemon.convert import (
    history_to_pb,
    host_arg,
    hosts_from_pb,
    outcome_to_pb,
    recipe_from_pb,
    recipe_to_pb,
    settings_to_struct,
    style_info_to_pb,
)
from backend.daemon.errors import BadRequestError, NotServingError, ProtocolVersionError, describe
from backend.daemon.limits import Call, InferenceGate, Limiter
from backend.daemon.security import Roots
from backend.daemon.styles import StyleRegistry
from backend.daemon.walk import expand_paths
from backend.decode import DecodedImage
from backend.errors import AutoretouchError, InvalidRecipeError
from backend.recipe import Recipe, scale
from backend.retouch import retouch_photo
from backend.rpc import SUPPORTED_PROTOCOL_VERSIONS, pb
from backend.sidecar.apply import Outcome, PhotoInfo
from backend.sidecar.atomic import backup_path, lock_path
from backend.sidecar.darktable_doc import darktable_sidecar_path
from backend.sidecar.lightroom_doc import lightroom_sidecar_path
from backend.sidecar.revert import revert_photo

__all__ = ["RetouchService", "check_protocol"]

_CHANGED = frozenset({"written", "would-write", "reverted", "would-revert", "deleted", "would-delete"})


def check_protocol(version: int) -> None:
    """Refuse requests without ``protocol_version`` or with one this server does not speak.

    Raises:
        BadRequestError: ``protocol_version`` missing (0).
        ProtocolVersionError: an unknown version.
    """
    supported = ", ".join(str(v) for v in sorted(SUPPORTED_PROTOCOL_VERSIONS))
    if version == 0:
        raise BadRequestError(f"protocol_version is required (this server speaks {supported})")
    if version not in SUPPORTED_PROTOCOL_VERSIONS:
        raise ProtocolVersionError(f"protocol_version {version} is not supported (this server speaks {supported})")


def _strength(has: bool, value: float) -> float:
    from backend.recipe import check_strength

    return check_strength(value if has else 1.0)


def _name_file(photo: Path, message: str) -> str:
    return message if str(photo) in message else f"{photo}: {message}"


def _sidecar(photo: Path, host: str) -> Path:
    return lightroom_sidecar_path(photo) if host == "lightroom" else darktable_sidecar_path(photo)


def _error_pb(exc: BaseException, photo: Path) -> pb.Error:
    info = describe(exc)
    return pb.Error(code=info.code, message=_name_file(photo, info.message), type=info.type, exit_code=info.exit_code)


def _photo_info(decoded: DecodedImage) -> pb.PhotoInfo:
    return pb.PhotoInfo(
        kind=decoded.kind,
        is_raw=decoded.is_raw,
        width=decoded.full_width,
        height=decoded.full_height,
        colour_note=decoded.colour_note,
    )


def _failed_result(photo: Path, hosts: Sequence[str], exc: BaseException) -> pb.FileResult:
    error = _error_pb(exc, photo)
    outcomes = [outcome_to_pb(Outcome(photo, h, _sidecar(photo, h), "failed", error.message)) for h in hosts]
    return pb.FileResult(photo=str(photo), outcomes=outcomes, error=error)


class _Counter:
    """Counts outcomes into a :class:`pb.Summary`."""

    def __init__(self) -> None:
        self.summary = pb.Summary()

    def add(self, outcomes: Sequence[pb.SidecarOutcome]) -> None:
        self.summary.photos += 1
        for o in outcomes:
            if o.action == pb.SIDECAR_ACTION_FAILED:
                self.summary.failed += 1
            elif o.action == pb.SIDECAR_ACTION_SKIPPED:
                self.summary.skipped += 1
            else:
                self.summary.changed += 1


class RetouchService:
    """Suggest, Preview, WriteSidecars, Revert, ListStyles and TrainStyle over loaded styles, within the roots.

    Args:
        config: the daemon configuration.
        registry: the styles (loaded later, see :meth:`load_styles`).
        roots: the folders requests may touch.
    """

    def __init__(self, config: DaemonConfig, registry: StyleRegistry, roots: Roots) -> None:
        from backend.daemon.training import TrainingRunner
        from backend.daemon.training_background import BackgroundTraining

        self.config = config
        self.registry = registry
        self.roots = roots
        self.limiter = Limiter(config.workers, config.queue)
        self.gate = InferenceGate()
        self.training = TrainingRunner(config, registry, roots)
        self.background = BackgroundTraining(self)
        self.ready = threading.Event()
        self.stopping = threading.Event()

    # -- state --------------------------------------------------------------------------------------------

    def load_styles(self) -> None:
        """Load the styles and mark the service ready (called once, at start)."""
        self.registry.load()
        self.ready.set()

    def _versions(self, model: str = "") -> dict[str, str]:
        return {"server_version": __version__, "model_version": model or self.registry.default_model()}

    def _require_ready(self) -> None:
        if self.stopping.is_set():
            raise NotServingError("the daemon is shutting down")
        if not self.ready.is_set():
            raise NotServingError("the daemon is still loading its styles; retry in a moment")

    def _styles(self, style: str, mix: pb.StyleMix | None) -> list[tuple[Style, float]]:
        if mix is not None:
            if not mix.entries:
                raise BadRequestError("a style mix needs at least one entry")
            names = [e.style for e in mix.entries]
            if len(set(names)) != len(names):
                raise InvalidRecipeError(f"the mix names a style twice: {names}")
            weights = [e.weight for e in mix.entries]
            if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
                raise InvalidRecipeError(f"mix weights must be non-negative and not all zero, got {weights}")
            return [(self.registry.get(e.style), e.weight) for e in mix.entries]
        return [(self.registry.get(style or DEFAULT_STYLE), 1.0)]

    # -- photos -------------------------------------------------------------------------------------------

    def guard_photo(self, photo: Path, hosts: Sequence[str]) -> None:
        """Check a photo, its folder and the sidecar/backup/lock files of ``hosts`` against the roots.

        Raises:
            PermissionDeniedError: one of them resolves outside the roots.
        """
        paths = [photo, photo.parent]
        for h in hosts:
            side = _sidecar(photo, h)
            paths += [side, backup_path(side), lock_path(side)]
        self.roots.check_all(paths)

    def _decode_preview(self, photo: Path, long_side: int) -> DecodedImage:
        from backend.decode import decode_preview

        return decode_preview(photo, long_side=long_side, max_pixels=self.config.max_pixels)

    def _probe(self, photo: Path) -> PhotoInfo:
        decoded = self._decode_preview(photo, 64)
        return PhotoInfo(decoded.is_raw, max(decoded.full_width, decoded.full_height), decoded.as_shot)

    def _suggest(
        self, image: Any, styles: list[tuple[Style, float]], strength: float, variants: int, seed: int
    ) -> list[Recipe]:
        from backend.agent.suggest import suggest_for_image

        lock = self.gate.exclusive() if variants > 1 else self.gate.shared()
        with lock:
            return suggest_for_image(image, styles, strength=strength, variants=variants, seed=seed)

    @staticmethod
    def _preview_side(styles: Sequence[tuple[Style, float]]) -> int:
        from backend.retouch import preview_side

        return preview_side(styles)

    # -- Suggest ------------------------------------------------------------------------------------------

    def suggest(self, req: pb.SuggestRequest, call: Call) -> pb.SuggestResponse:
        """Recipes (and host settings) for one photo; see the proto."""
        decoded, recipes, suggestions = self._suggest_request(req, call)
        model = (recipes[0].model or "") if recipes else ""
        return pb.SuggestResponse(**self._versions(model), suggestions=suggestions, photo=_photo_info(decoded))

    def preview(self, req: pb.PreviewRequest, call: Call) -> pb.PreviewResponse:
        """Before/after JPEGs of each variant at several strengths; see the proto."""
        from backend.daemon.preview import check_preview, jpeg_of, render_preview

        check_protocol(req.protocol_version)
        strengths, size = check_preview(list(req.strengths), req.size)
        inner = pb.SuggestRequest()
        inner.CopyFrom(req.suggest)
        inner.protocol_version = req.protocol_version
        inner.ClearField("strength")  # the variants at strength 1; the images at each strength
        decoded, recipes, suggestions = self._suggest_request(inner, call)  # exactly what Suggest gives
        out = pb.PreviewResponse(
            **self._versions((recipes[0].model or "") if recipes else ""),
            strengths=strengths,
            photo=_photo_info(decoded),
        )
        image = decoded.image
        if max(image.shape[-2:]) < size and inner.WhichOneof("photo") == "path":  # the images want more pixels
            image = self._decode_preview(self.roots.request_path(inner.path), size).image
        before, afters = render_preview(image, recipes, strengths, size)  # small: tens of ms
        out.before = jpeg_of(before)
        for suggestion, images in zip(suggestions, afters, strict=True):
            out.variants.append(pb.PreviewVariant(suggestion=suggestion, after=[jpeg_of(i) for i in images]))
        return out

    def _suggest_request(
        self, req: pb.SuggestRequest, call: Call
    ) -> tuple[DecodedImage, list[Recipe], list[pb.Suggestion]]:
        """Decode the request's photo's preview, suggest, translate."""
        check_protocol(req.protocol_version)
        self._require_ready()
        kind = req.WhichOneof("photo")
        if kind is None:
            raise BadRequestError("name the photo: 'path' or 'upload'")
        styles = self._styles(req.style, req.mix if req.WhichOneof("style_choice") == "mix" else None)
        strength = _strength(req.HasField("strength"), req.strength)
        hosts = hosts_from_pb(req.hosts)
        variants = req.variants or 1
        photo = self.roots.request_path(req.path) if kind == "path" else None
        with self.limiter.admit(), self.limiter.slot(call):
            side = self._preview_side(styles)
            if photo is not None:
                self.roots.check(photo)
                decoded = self._decode_preview(photo, side)
            else:
                from backend.decode import decode_bytes

                name = Path(req.upload.name or "upload").name
                decoded = decode_bytes(
                    req.upload.data, name=name, preview=True, long_side=side, max_pixels=self.config.max_pixels
                )
            call.check()
            recipes = self._suggest(decoded.image, styles, strength, variants, req.seed)
            long_side = max(decoded.full_width, decoded.full_height)
            suggestions = [self._translate(r, decoded, hosts, long_side) for r in recipes]
        return decoded, recipes, suggestions

    @staticmethod
    def _translate(recipe: Recipe, decoded: DecodedImage, hosts: Sequence[str], long_side: int) -> pb.Suggestion:
        out = pb.Suggestion(recipe=recipe_to_pb(recipe))
        if "lightroom" in hosts:
            from backend.translate.lightroom import recipe_to_develop_settings

            settings = recipe_to_develop_settings(recipe, is_raw=decoded.is_raw, as_shot=decoded.as_shot)
            absolute = {k: v for k, v in settings.items() if k not in settings.relative}
            relative = {k: {"add": add, "min": lo, "max": hi} for k, (add, lo, hi) in settings.relative.items()}
            out.lightroom_settings.CopyFrom(settings_to_struct(absolute))
            out.lightroom_relative.CopyFrom(settings_to_struct(relative))
            out.lightroom_warnings.extend(settings.warnings)
        if "darktable" in hosts:
            from backend.translate.darktable import recipe_to_history

            entries = recipe_to_history(recipe, is_raw=decoded.is_raw, long_side_px=max(1, long_side))
            out.darktable_history.extend(history_to_pb(e) for e in entries)
        return out

    # -- WriteSidecars ------------------------------------------------------------------------------------

    def _batch_paths(self, paths: Sequence[str], recursive: bool) -> list[Path]:
        if not paths:
            raise BadRequestError("name at least one photo or folder in 'paths'")
        checked = [self.roots.request_path(p) for p in paths]
        return expand_paths(checked, recursive=recursive, limit=self.config.max_files)

    def write_sidecars(self, req: pb.WriteSidecarsRequest, call: Call) -> Iterator[pb.WriteSidecarsResponse]:
        """Write sidecars for photos and folders, one message per photo then a summary; see the proto."""
        check_protocol(req.protocol_version)
        self._require_ready()
        hosts = hosts_from_pb(req.hosts)
        host = host_arg(hosts)
        strength = _strength(req.HasField("strength"), req.strength)
        source = req.WhichOneof("source")
        recipe: Recipe | None = None
        styles: list[tuple[Style, float]] = []
        if source == "recipe":
            recipe = scale(recipe_from_pb(req.recipe), strength)
            model = recipe.model or ""
        elif source is None:
            raise BadRequestError("say what to write: 'recipe', 'style' or 'mix'")
        else:
            styles = self._styles(req.style, req.mix if source == "mix" else None)
            model = "+".join(s.model for s, _ in styles)
        photos = self._batch_paths(req.paths, req.recursive)
        journal = None
        if source == "style":
            journal = default_journal_path([req.paths[0]])
            self.roots.check(journal)
        versions = self._versions(model)
        counter = _Counter()
        with self.limiter.admit():
            files = (
                self._batch_with_catalog(photos, hosts, styles[0][0], strength, req, call, journal)
                if source == "style"
                else self._batch_here(photos, hosts, host, recipe, styles, strength, req, call)
            )
            for index, result in enumerate(files, start=1):
                result.index, result.total = index, len(photos)
                counter.add(result.outcomes)
                yield pb.WriteSidecarsResponse(**versions, file=result)
        counter.summary.cancelled = counter.summary.photos < len(photos)
        yield pb.WriteSidecarsResponse(**versions, summary=counter.summary)

    def _batch_here(
        self,
        photos: Sequence[Path],
        hosts: tuple[str, ...],
        host: str,
        recipe: Recipe | None,
        styles: list[tuple[Style, float]],
        strength: float,
        req: pb.WriteSidecarsRequest,
        call: Call,
    ) -> Iterator[pb.FileResult]:
        for photo in photos:
            if not call.active:
                return
            call.check()
            with self.limiter.slot(call):
                yield self._write_one(photo, hosts, host, recipe, styles, strength, req.overwrite, req.dry_run)

    def _write_one(
        self,
        photo: Path,
        hosts: tuple[str, ...],
        host: str,
        recipe: Recipe | None,
        styles: list[tuple[Style, float]],
        strength: float,
        overwrite: bool,
        dry_run: bool,
    ) -> pb.FileResult:
        try:
            self.guard_photo(photo, hosts)
            outcomes, used = retouch_photo(
                photo,
                host=host,
                styles=styles,
                recipe=recipe,
                strength=strength,
                overwrite=overwrite,
                dry_run=dry_run,
                max_pixels=self.config.max_pixels,
                suggest=lambda image, st, s: self._suggest(image, list(st), s, 1, 0)[0],
                probe=self._probe,
            )
        except (AutoretouchError, OSError) as exc:
            return _failed_result(photo, hosts, exc)
        return pb.FileResult(photo=str(photo), outcomes=[outcome_to_pb(o) for o in outcomes], recipe=recipe_to_pb(used))

    def _batch_with_catalog(
        self,
        photos: Sequence[Path],
        hosts: tuple[str, ...],
        style: Style,
        strength: float,
        req: pb.WriteSidecarsRequest,
        call: Call,
        journal: Path | None,
    ) -> Iterator[pb.FileResult]:
        from backend.batch import run_batch

        allowed: list[Path] = []
        for photo in photos:
            try:
                self.guard_photo(photo, hosts)
            except AutoretouchError as exc:
                yield _failed_result(photo, hosts, exc)
                continue
            allowed.append(photo)
        if not allowed:
            return
        # A private copy of the net: dropout variants of concurrent Suggest calls switch the shared net's modes.
        private = dataclasses.replace(style, net=copy.deepcopy(style.net))
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
                    progress=lambda o: events.put(("file", o)),
                    cancel=stop.is_set,
                    max_pixels=self.config.max_pixels,
                )
                events.put(("done", summary))
            except BaseException as exc:  # handed to the caller's thread, which raises it
                events.put(("error", exc))

        with self.limiter.slot(call):
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
                        return
                    if kind == "error":
                        raise item
                    yield self._from_catalog(item)
            finally:
                stop.set()

    @staticmethod
    def _from_catalog(outcome: Any) -> pb.FileResult:
        result = pb.FileResult(photo=str(outcome.photo), outcomes=[outcome_to_pb(o) for o in outcome.hosts])
        if outcome.recipe is not None:
            result.recipe.CopyFrom(recipe_to_pb(outcome.recipe))
        kind = outcome.error_kind
        if outcome.failed and kind is not None:  # the photo failed as a whole (decode, size limit, suggestion)
            error = pb.Error(code=kind.grpc_status, message=outcome.reason, type=kind.type, exit_code=kind.exit_code)
            result.error.CopyFrom(error)
        return result

    # -- Revert -------------------------------------------------------------------------------------------

    def revert(self, req: pb.RevertRequest, call: Call) -> pb.RevertResponse:
        """Undo autoretouch's sidecar writes for photos and folders; see the proto."""
        check_protocol(req.protocol_version)
        self._require_ready()
        hosts = hosts_from_pb(req.hosts) or ("lightroom", "darktable")
        host = host_arg(hosts)
        photos = self._batch_paths(req.paths, req.recursive)
        counter = _Counter()
        files: list[pb.FileResult] = []
        with self.limiter.admit():
            for index, photo in enumerate(photos, start=1):
                call.check()
                with self.limiter.slot(call):
                    try:
                        self.guard_photo(photo, hosts)
                        outcomes = revert_photo(photo, host=host, dry_run=req.dry_run)
                        result = pb.FileResult(photo=str(photo), outcomes=[outcome_to_pb(o) for o in outcomes])
                    except (AutoretouchError, OSError) as exc:
                        result = _failed_result(photo, hosts, exc)
                result.index, result.total = index, len(photos)
                counter.add(result.outcomes)
                files.append(result)
        return pb.RevertResponse(**self._versions(), files=files, summary=counter.summary)

    # -- ListStyles ---------------------------------------------------------------------------------------

    def list_styles(self, req: pb.ListStylesRequest, call: Call) -> pb.ListStylesResponse:
        """The styles the server knows; see the proto."""
        check_protocol(req.protocol_version)
        self._require_ready()
        snap = self.registry.snapshot()
        styles = []
        for info in snap.infos:
            loaded = not info.shadowed and snap.styles.get(info.name) is not None
            error = None if info.shadowed or loaded else str(snap.errors.get(info.name, "")) or None
            styles.append(style_info_to_pb(info, loaded=loaded, error=error))
        return pb.ListStylesResponse(**self._versions(), styles=styles, default_style=DEFAULT_STYLE)

    # -- TrainStyle ---------------------------------------------------------------------------------------

    def train_style(self, req: pb.TrainStyleRequest, call: Call) -> Iterator[pb.TrainStyleResponse]:
        """Train a style in a worker process, streaming progress; see the proto."""
        check_protocol(req.protocol_version)
        self._require_ready()
        model: Callable[[str], dict[str, str]] = self._versions
        yield from self.training.run(req, call, model)

    # -- background training (JSON bridge) ------------------------------------------------------------

    def train_start(self, req: pb.TrainStyleRequest, call: Call) -> pb.TrainStatus:
        """Start a training that runs on in the daemon (see :mod:`backend.daemon.training_background`)."""
        return self.background.start(req)

    def train_status(self, req: pb.TrainControlRequest, call: Call) -> pb.TrainStatus:
        """The running or latest background training."""
        check_protocol(req.protocol_version)
        return self.background.status()

    def train_cancel(self, req: pb.TrainControlRequest, call: Call) -> pb.TrainStatus:
        """Stop the running background training (its worker is killed; nothing is installed)."""
        check_protocol(req.protocol_version)
        return self.background.cancel()
