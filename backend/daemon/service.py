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

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from backend import __version__
from backend.agent.style import DEFAULT_STYLE, Style
from backend.batch.walk import check_path_length
from backend.daemon.checks import check_protocol, request_strength
from backend.daemon.config import DaemonConfig
from backend.daemon.convert import (
    history_to_pb,
    host_arg,
    hosts_from_pb,
    recipe_to_pb,
    settings_to_struct,
    style_info_to_pb,
)
from backend.daemon.errors import BadRequestError, NotServingError
from backend.daemon.limits import Call, InferenceGate, Limiter
from backend.daemon.security import Roots
from backend.daemon.sidecar_batch import OutcomeCounter, failed_result, photo_result, walk_results
from backend.daemon.styles import StyleRegistry
from backend.decode import DecodedImage
from backend.errors import AutoretouchError, InvalidRecipeError
from backend.recipe import Recipe, check_weights
from backend.retouch import preview_side
from backend.rpc import pb
from backend.sidecar.apply import PhotoInfo, check_duplicate, sidecar_path
from backend.sidecar.atomic import backup_path, lock_path
from backend.sidecar.revert import revert_photo

__all__ = ["RetouchService", "check_protocol"]

_CHANGED = frozenset({"written", "would-write", "reverted", "would-revert", "deleted", "would-delete"})


def _photo_info(decoded: DecodedImage) -> pb.PhotoInfo:
    return pb.PhotoInfo(
        kind=decoded.kind,
        is_raw=decoded.is_raw,
        width=decoded.full_width,
        height=decoded.full_height,
        colour_note=decoded.colour_note,
    )


class RetouchService:
    """Suggest, Preview, WriteSidecars, Revert, ListStyles and TrainStyle over loaded styles, within the roots.

    Args:
        config: the daemon configuration.
        registry: the styles (loaded later, see :meth:`load_styles`).
        roots: the folders requests may touch.
    """

    def __init__(self, config: DaemonConfig, registry: StyleRegistry, roots: Roots) -> None:
        from backend.daemon.sidecar_batch import SidecarBatch
        from backend.daemon.training import TrainingRunner
        from backend.daemon.training_background import BackgroundTraining

        self.config = config
        self.registry = registry
        self.roots = roots
        self.limiter = Limiter(config.workers, config.queue)
        self.gate = InferenceGate()
        self.training = TrainingRunner(config, registry, roots)
        self.background = BackgroundTraining(self)
        self.sidecars = SidecarBatch(self)
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
            check_weights([e.weight for e in mix.entries], "mix")  # before any photo: the whole request is refused
            snap = self.registry.snapshot()  # one load for the whole mix: its entries come from the same one
            return [(snap.get(e.style), e.weight) for e in mix.entries]
        return [(self.registry.get(style or DEFAULT_STYLE), 1.0)]

    # -- photos -------------------------------------------------------------------------------------------

    def guard_photo(self, photo: Path, hosts: Sequence[str], duplicate: int = 0) -> None:
        """Check a photo, its folder and the sidecar/backup/lock files of ``hosts`` against the roots.

        ``duplicate``: darktable's virtual copy N of the photo, whose sidecar is NAME_NN.EXT.xmp (0: the original).

        Raises:
            NotFoundError: the photo's path cannot exist (a name in it too long,
                :func:`~backend.batch.walk.check_path_length`).
            PermissionDeniedError: one of them resolves outside the roots.
        """
        check_path_length(photo)
        paths = [photo, photo.parent]
        for h in hosts:
            side = sidecar_path(photo, h, duplicate)
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
        strength = request_strength(req.HasField("strength"), req.strength)
        hosts = hosts_from_pb(req.hosts)
        variants = req.variants or 1
        photo = self.roots.request_path(req.path) if kind == "path" else None
        with self.limiter.admit(), self.limiter.slot(call):
            side = preview_side(styles)
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

    def write_sidecars(self, req: pb.WriteSidecarsRequest, call: Call) -> Iterator[pb.WriteSidecarsResponse]:
        """Sidecars for many photos, streamed per photo (see :mod:`backend.daemon.sidecar_batch`)."""
        return self.sidecars.write_sidecars(req, call)

    # -- Revert -------------------------------------------------------------------------------------------

    def revert(self, req: pb.RevertRequest, call: Call) -> pb.RevertResponse:
        """Undo autoretouch's sidecar writes for photos and folders; see the proto."""
        check_protocol(req.protocol_version)
        self._require_ready()
        hosts = hosts_from_pb(req.hosts) or ("lightroom", "darktable")
        host = host_arg(hosts)
        check_duplicate(hosts, req.duplicate)
        left_out: list[tuple[Path, str, bool]] = []
        photos = self.sidecars.batch_paths(req.paths, req.recursive, left_out, empty=True)
        counter = OutcomeCounter()
        # what the folder walks left out first, named as `autoretouch revert FOLDER` names it in-process
        files = walk_results(left_out, hosts, named=False)
        total = len(files) + len(photos)
        for index, result in enumerate(files, start=1):
            result.index, result.total = index, total
            counter.add(result.outcomes)
        with self.limiter.admit():
            for index, photo in enumerate(photos, start=len(files) + 1):
                call.check()
                with self.limiter.slot(call):
                    try:
                        self.guard_photo(photo, hosts, req.duplicate)
                        outcomes = revert_photo(photo, host=host, dry_run=req.dry_run, duplicate=req.duplicate)
                        result = photo_result(photo, outcomes)
                    except (AutoretouchError, OSError) as exc:
                        result = failed_result(photo, hosts, exc, req.duplicate)
                result.index, result.total = index, total
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
        return pb.ListStylesResponse(
            server_version=__version__, model_version=snap.default_model(), styles=styles, default_style=DEFAULT_STYLE
        )

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
