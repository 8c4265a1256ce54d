"""``--server HOST:PORT``: run ``suggest``, ``apply``, ``revert``, ``catalog`` and ``train`` on a running daemon.

The output and the exit status are those of the in-process commands: the same lines (or JSON), the same
per-photo error messages (the daemon's absolute paths are shown as the paths you typed), and a failed call
exits with the status the CLI uses for the daemon's error class (sent as ``autoretouch-exit-code``).
Differences: photos and folders are named to the daemon by absolute path, so they must lie under the
daemon's ``--root`` folders on the daemon's machine; ``--style`` takes the name of a style installed on the
daemon (not a file path). The token, if the daemon has one, comes from ``--token`` where a command has it,
else from the environment variable ``AUTORETOUCH_TOKEN``. ``catalog --server`` lives in
:mod:`backend.cli.cmd_catalog`; ``train --server`` is :func:`remote_train` (``trainer.cli`` calls it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc

from backend.errors import EXIT_STYLE_REJECTED, AutoretouchError
from backend.recipe import Recipe
from backend.rpc import PROTOCOL_VERSION, pb, pb_grpc

__all__ = [
    "HOSTS",
    "TOKEN_ENV",
    "RemoteClient",
    "RemoteError",
    "RemoteOptionError",
    "add_server_options",
    "check_styles",
    "config_overrides",
    "pb_recipe",
    "refuse_options",
    "remote_apply",
    "remote_revert",
    "remote_suggest",
    "remote_train",
]

#: Environment variable holding the daemon's token.
TOKEN_ENV = "AUTORETOUCH_TOKEN"

#: ``--host`` choice -> the proto's hosts.
HOSTS: dict[str, list[int]] = {
    "lightroom": [pb.HOST_LIGHTROOM],
    "darktable": [pb.HOST_DARKTABLE],
    "both": [pb.HOST_LIGHTROOM, pb.HOST_DARKTABLE],
}


class RemoteError(AutoretouchError):
    """A daemon call failed; carries the daemon's status code, error class and CLI exit status.

    Attributes:
        code: gRPC status code name.
        error_type: the daemon-side error class.
    """

    def __init__(self, message: str, *, code: str, error_type: str, exit_code: int) -> None:
        super().__init__(message)
        self.code = code
        self.grpc_status = code
        self.error_type = error_type
        self.exit_code = exit_code

    @classmethod
    def from_rpc(cls, exc: grpc.RpcError, address: str) -> RemoteError:
        """Translate a failed call (``grpc.RpcError``, which is also a ``grpc.Call``)."""
        code = exc.code()  # type: ignore[attr-defined]
        details = exc.details() or code.name  # type: ignore[attr-defined]
        meta = dict(exc.trailing_metadata() or ())  # type: ignore[attr-defined]
        if code == grpc.StatusCode.UNAVAILABLE and "autoretouch-error-type" not in meta:
            details = f"cannot reach the autoretouch daemon at {address} ({details})"
        try:
            exit_code = int(meta.get("autoretouch-exit-code", 3))
        except ValueError:
            exit_code = 3
        return cls(details, code=code.name, error_type=str(meta.get("autoretouch-error-type", "")), exit_code=exit_code)


class RemoteOptionError(AutoretouchError):
    """An option that has no meaning with ``--server`` (the daemon decides it), or a file that cannot be sent.

    Exit status 2, as for other usage errors.
    """

    exit_code = 2


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--server HOST:PORT`` and ``--token T`` to a command's parser (``args.server``, ``args.token``)."""
    parser.add_argument(
        "--server", metavar="HOST:PORT", help="run on a running daemon (autoretouch serve) instead of in-process"
    )
    parser.add_argument(
        "--token", metavar="T", help=f"the daemon's token, with --server (default: ${TOKEN_ENV}; visible in ps)"
    )


def refuse_options(args: argparse.Namespace, options: dict[str, str]) -> None:
    """Refuse options that ``--server`` cannot honour.

    Args:
        args: the parsed command line.
        options: attribute name -> why the option has no meaning with ``--server``; an attribute counts as
            given when it is not ``None``/``False``.

    Raises:
        RemoteOptionError: one of them was given.
    """
    for name, why in options.items():
        if getattr(args, name, None) not in (None, False):
            flag = "--" + name.replace("_", "-")
            raise RemoteOptionError(f"{flag} cannot be used with --server: {why}")


class RemoteClient:
    """A small client of ``autoretouch.v1.Retoucher`` (a context manager closing its channel).

    Args:
        address: ``HOST:PORT`` of the daemon.
        token: the daemon's token (default: ``$AUTORETOUCH_TOKEN``).
        timeout_s: deadline of unary calls in seconds (``None`` = none).
    """

    def __init__(self, address: str, *, token: str | None = None, timeout_s: float | None = None) -> None:
        self.address = address
        self.token = token if token is not None else os.environ.get(TOKEN_ENV)
        self.timeout_s = timeout_s
        self.channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)])
        self.stub = pb_grpc.RetoucherStub(self.channel)

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.channel.close()

    def _metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.token}")] if self.token else []

    def _unary(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=self.timeout_s, metadata=self._metadata(), wait_for_ready=False)
        except grpc.RpcError as exc:
            raise RemoteError.from_rpc(exc, self.address) from None

    def _stream(self, method: Any, request: Any) -> Iterator[Any]:
        """The call's messages; closing the iterator early (or Ctrl-C while waiting) cancels the call."""
        call = method(request, metadata=self._metadata())
        try:
            yield from call
        except grpc.RpcError as exc:
            raise RemoteError.from_rpc(exc, self.address) from None
        finally:
            call.cancel()  # a no-op once the call has ended

    def suggest(self, request: pb.SuggestRequest) -> pb.SuggestResponse:
        """Call ``Suggest``."""
        return self._unary(self.stub.Suggest, request)  # type: ignore[no-any-return]

    def write_sidecars(self, request: pb.WriteSidecarsRequest) -> Iterator[pb.WriteSidecarsResponse]:
        """Call ``WriteSidecars`` (a stream of messages)."""
        return self._stream(self.stub.WriteSidecars, request)

    def revert(self, request: pb.RevertRequest) -> pb.RevertResponse:
        """Call ``Revert``."""
        return self._unary(self.stub.Revert, request)  # type: ignore[no-any-return]

    def train_style(self, request: pb.TrainStyleRequest) -> Iterator[pb.TrainStyleResponse]:
        """Call ``TrainStyle`` (a stream of messages; close it to cancel the training)."""
        return self._stream(self.stub.TrainStyle, request)

    def list_styles(self) -> pb.ListStylesResponse:
        """Call ``ListStyles``."""
        return self._unary(self.stub.ListStyles, pb.ListStylesRequest(protocol_version=PROTOCOL_VERSION))  # type: ignore[no-any-return]


def _absolute(photos: Sequence[Path]) -> dict[str, Path]:
    """Absolute path sent to the daemon -> the path as typed."""
    return {os.path.abspath(p): p for p in photos}


def _shown(text: str, names: dict[str, Path]) -> str:
    for absolute, typed in names.items():
        if absolute != str(typed):
            text = text.replace(absolute, str(typed))
    return text


def pb_recipe(message: pb.Recipe) -> Recipe:
    """A recipe the daemon sent, as a :class:`~backend.recipe.Recipe` (its strength kept as sent)."""
    from backend.daemon.convert import recipe_from_pb

    return recipe_from_pb(message, source="daemon recipe", unset_strength=None)


# -- suggest ------------------------------------------------------------------------------------------


def check_styles(client: RemoteClient, names: Sequence[str]) -> None:
    """Check that every style named is installed on the daemon and usable (clear messages otherwise).

    Raises:
        RemoteError: a path instead of a name (exit 3), an unknown style (exit 6) or an unusable one (exit 3).
    """
    listing = {s.name: s for s in client.list_styles().styles if not s.shadowed}
    for name in names:
        if os.sep in name or "/" in name or name.endswith((".safetensors", ".json")):
            raise RemoteError(
                f"with --server, --style takes the name of a style installed on the daemon, not a path ({name})",
                code="INVALID_ARGUMENT",
                error_type="BadRequestError",
                exit_code=3,
            )
        info = listing.get(name)
        if info is None:
            raise RemoteError(
                f"no style named {name!r} on the daemon at {client.address}; see `autoretouch styles`",
                code="NOT_FOUND",
                error_type="NotFoundError",
                exit_code=6,
            )
        if not info.loaded:
            raise RemoteError(info.error or f"style {name!r} cannot be used", code="FAILED_PRECONDITION",
                              error_type="StyleError", exit_code=3)  # fmt: skip


def remote_suggest(args: argparse.Namespace) -> int:
    """``autoretouch suggest --server``: same output and exit status as in-process."""
    from backend.agent.style import DEFAULT_STYLE
    from backend.cli.batch_report import batch_exit_status, report_photo_error
    from backend.cli.cmd_suggest import print_suggestions

    request = pb.SuggestRequest(protocol_version=PROTOCOL_VERSION, strength=args.strength, variants=args.variants)
    request.seed = args.seed
    if args.mix:
        request.mix.entries.extend(pb.StyleWeight(style=n, weight=w) for n, w in args.mix)
        names = [n for n, _ in args.mix]
        label = names[0] if len(args.mix) == 1 else ",".join(f"{n}:{w:g}" for n, w in args.mix)
    else:
        request.style = args.style or DEFAULT_STYLE
        names, label = [request.style], request.style
    single = len(args.photos) == 1
    failures: list[AutoretouchError] = []
    with RemoteClient(args.server, token=getattr(args, "token", None)) as client:
        check_styles(client, names)
        for photo in args.photos:
            request.path = os.path.abspath(photo)
            try:
                response = client.suggest(request)
            except RemoteError as raw:
                exc = RemoteError(
                    _shown(str(raw), {request.path: photo}),
                    code=raw.code,
                    error_type=raw.error_type,
                    exit_code=raw.exit_code,
                )
                if single:
                    raise exc from None
                failures.append(exc)
                report_photo_error(photo, exc, as_json=args.json)
                continue
            recipes = [pb_recipe(s.recipe) for s in response.suggestions]
            print_suggestions(photo, recipes, label, args.strength, as_json=args.json)
    return batch_exit_status(failures, len(args.photos))


# -- apply / revert -----------------------------------------------------------------------------------


def _outcomes(files: Iterator[pb.FileResult], names: dict[str, Path]) -> list[Any]:
    from dataclasses import replace

    from backend.daemon.convert import outcome_from_pb

    out = []
    for result in files:
        typed = names.get(result.photo, Path(result.photo))
        for message in result.outcomes:
            o = outcome_from_pb(message)
            sidecar = typed.parent / o.sidecar.name if o.photo == Path(result.photo) else o.sidecar
            out.append(replace(o, photo=typed, sidecar=sidecar, reason=_shown(o.reason, names)))
    return out


def remote_apply(args: argparse.Namespace) -> int:
    """``autoretouch apply --server``: same output and exit status as in-process.

    ``--recipe`` sends the recipe (``WriteSidecarsRequest.recipe``). ``--style S`` and ``--mix`` send a style
    blend (``mix``; ``--style S`` as the one-entry blend ``S:1``, which the daemon treats exactly as style
    ``S``): that source is handled photo by photo as ``apply`` does, whereas the request's ``style`` source
    runs the catalog batch with its resume journal (a journal file next to the photos, and photos it
    remembers are skipped as ``already done`` even after the user removed the edit in the host).
    """
    from backend.cli.cmd_apply import check_strength, report
    from backend.daemon.convert import recipe_to_pb
    from backend.recipe import load_recipe, scale

    names = _absolute(args.photos)
    request = pb.WriteSidecarsRequest(
        protocol_version=PROTOCOL_VERSION,
        paths=list(names),
        hosts=HOSTS[args.host],
        overwrite=args.overwrite,
        dry_run=args.dry_run,
    )
    styles: list[tuple[str, float]] = []
    if args.recipe is not None:
        recipe = load_recipe(args.recipe)
        if args.strength is not None:
            recipe = scale(recipe, args.strength)
        request.recipe.CopyFrom(recipe_to_pb(recipe))
    else:
        styles = list(args.mix or [(args.style, 1.0)])
        request.mix.entries.extend(pb.StyleWeight(style=n, weight=w) for n, w in styles)
        request.strength = check_strength(args.strength)
    recipes: dict[Path, Recipe] | None = None if args.recipe is not None else {}
    with RemoteClient(args.server, token=getattr(args, "token", None)) as client:
        if styles:
            check_styles(client, [n for n, _ in styles])
        results = []
        for message in client.write_sidecars(request):
            if message.WhichOneof("event") != "file":
                continue
            results.append(message.file)
            if recipes is not None and message.file.HasField("recipe") and not message.file.HasField("error"):
                recipes[names.get(message.file.photo, Path(message.file.photo))] = pb_recipe(message.file.recipe)
        outcomes = _outcomes(iter(results), names)
    return report(outcomes, args.json, recipes)


def remote_revert(args: argparse.Namespace) -> int:
    """``autoretouch revert --server``: same output and exit status as in-process."""
    from backend.cli.cmd_apply import report

    names = _absolute(args.photos)
    request = pb.RevertRequest(
        protocol_version=PROTOCOL_VERSION, paths=list(names), hosts=HOSTS[args.host], dry_run=args.dry_run
    )
    with RemoteClient(args.server, token=getattr(args, "token", None)) as client:
        response = client.revert(request)
    return report(_outcomes(iter(response.files), names), args.json)


# -- train --------------------------------------------------------------------------------------------

#: Exit status of ``train`` when the trained style was not installed (the same as the local command's).
STYLE_REJECTED_EXIT = EXIT_STYLE_REJECTED  # re-exported; defined in backend.errors

#: ``autoretouch train`` options the daemon decides itself (attribute -> why).
TRAIN_LOCAL_ONLY: dict[str, str] = {
    "resume": "the daemon starts a new run folder for every training",
    "run_dir": "the daemon keeps its run folders in its own run directory",
    "install_dir": "the daemon installs the style into its own style folder",
    "no_install": "the daemon installs every finished style",
}

_FINAL_METRICS = ("look_dist_before", "look_dist_after", "critic_gap_before", "critic_gap_after", "edits")


def _override_value(value: Any, where: str) -> str:
    from backend.daemon.errors import BadRequestError

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) and "\n" not in value:
        return value
    if isinstance(value, list) and all(isinstance(v, bool | int | float | str) for v in value):
        items = [_override_value(v, where) for v in value]
        if not any("," in item for item in items):
            return ",".join(items)
    raise BadRequestError(f"{where}: {value!r} cannot be sent to the daemon as a section.key=value override")


def config_overrides(path: str | Path) -> list[str]:
    """A trainer configuration file (TOML) as ``section.key=value`` overrides for ``TrainStyleRequest``.

    The daemon's trainer converts each value by the field's declared type, as for ``--set``, so the file
    means the same as with ``autoretouch train --config`` (unknown keys and bad values are refused there,
    with exit status 3). Tables must be one level deep (``[section]`` of keys), as the trainer's are.

    Args:
        path: the TOML file on this machine.

    Returns:
        One override per key, in file order.

    Raises:
        NotFoundError: no such file.
        BadRequestError: not TOML, or a value that cannot be written as an override (nested tables,
            multi-line strings, list items holding commas).
    """
    import tomllib

    from backend.daemon.errors import BadRequestError
    from backend.errors import NotFoundError

    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"{p}: no such config file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"{p}: {exc}") from None
    out: list[str] = []
    for section, table in data.items():
        if not isinstance(table, dict):
            raise BadRequestError(f"{p}: {section!r} must be a [section] table of keys")
        for key, value in table.items():
            out.append(f"{section}.{key}={_override_value(value, f'{p}: {section}.{key}')}")
    return out


def _train_request(args: argparse.Namespace) -> pb.TrainStyleRequest:
    from backend.daemon.errors import BadRequestError

    refuse_options(args, TRAIN_LOCAL_ONLY)
    config = getattr(args, "config", None)
    overrides = config_overrides(config) if config is not None else []
    overrides += list(getattr(args, "overrides", None) or [])
    for key in ("seed", "threads"):
        value = getattr(args, key, None)
        if value is not None:
            overrides.append(f"run.{key}={value}")
    if getattr(args, "force", False):
        overrides.append("run.force=true")
    steps = getattr(args, "steps", None)
    minutes = getattr(args, "minutes", None)
    if steps is not None and steps < 1:
        raise BadRequestError(f"--steps must be at least 1, got {steps}")
    sources = getattr(args, "sources", None)
    pairs = getattr(args, "pairs", None)
    targets = getattr(args, "targets", None)
    lrcat, selection, photos = (getattr(args, k, None) for k in ("lrcat", "favourites", "photos"))
    darktable = getattr(args, "darktable", None)
    darktable_files: list[str] = []
    if isinstance(darktable, list):  # `train --darktable DIR` or `--darktable PHOTO...`
        if len(darktable) == 1 and os.path.isdir(darktable[0]):
            darktable = darktable[0]
        else:
            darktable_files, darktable = [os.path.abspath(p) for p in darktable], None
    return pb.TrainStyleRequest(
        protocol_version=PROTOCOL_VERSION,
        name=args.style,
        favourites=os.path.abspath(targets) if targets is not None else "",
        sources=os.path.abspath(sources) if sources is not None else "",
        pairs_before=os.path.abspath(pairs[0]) if pairs else "",
        pairs_after=os.path.abspath(pairs[1]) if pairs else "",
        lrcat=os.path.abspath(lrcat) if lrcat is not None and selection else "",
        lrcat_favourites=selection or "",
        photos=os.path.abspath(photos) if photos is not None and selection else "",
        darktable=os.path.abspath(darktable) if darktable is not None else "",
        darktable_files=darktable_files,
        steps=steps or 0,
        minutes=minutes or 0.0,
        overrides=overrides,
    )


def _show_train_progress(progress: pb.TrainProgress, bar: Any, name: str) -> Any:
    """Update (or start) the tqdm bar of a remote training, as the local trainer draws it."""
    if bar is None:
        from tqdm import tqdm

        bar = tqdm(total=progress.total_steps or None, desc=name, unit="step", dynamic_ncols=True, file=sys.stderr)
    if progress.total_steps and bar.total != progress.total_steps:
        bar.total = progress.total_steps
    if progress.step > bar.n:
        bar.update(progress.step - bar.n)
    bar.set_description(name if progress.phase in ("", "training") else f"{name} ({progress.phase})", refresh=False)
    m = progress.metrics
    if all(k in m for k in ("wasserstein", "return", "edits")):
        bar.set_postfix(W=f"{m['wasserstein']:.3f}", ret=f"{m['return']:.3f}", edits=f"{m['edits']:.1f}")
    else:
        bar.refresh()
    return bar


def _print_trained(args: argparse.Namespace, finished: pb.TrainFinished) -> None:
    installed = finished.style.path or None
    metrics = dict(finished.metrics)
    if getattr(args, "json", False):
        summary = {
            "style": args.style,
            "run_dir": finished.run_dir,
            "steps": finished.steps,
            "stopped_by": finished.stopped_by,
            "style_path": None,  # the run folder's copy lies on the daemon, inside run_dir
            "installed_path": installed,
            "metrics": metrics,
            "rejected": finished.rejected or None,
            "learned_from": "pairs"
            if getattr(args, "pairs", None)
            else "lightroom catalog"
            if getattr(args, "favourites", None)
            else "darktable sidecars"
            if getattr(args, "darktable", None)
            else None,
        }
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    print(f"trained style {args.style!r}: {finished.steps} steps (stopped by {finished.stopped_by})")
    if finished.rejected:
        print(f"  not installed: {finished.rejected} (--force installs it anyway)")
    print(f"  run folder: {finished.run_dir}{os.sep}")
    if installed is not None:
        print(f"  installed:  {installed}")
    if all(k in metrics for k in _FINAL_METRICS):
        m = metrics
        print(
            f"  held-out look distance to the favourites: {m['look_dist_before']:.3f} -> {m['look_dist_after']:.3f}"
            f"; critic gap {m['critic_gap_before']:.3f} -> {m['critic_gap_after']:.3f}; {m['edits']:.1f} edits/photo"
        )


def remote_train(args: argparse.Namespace) -> int:
    """``autoretouch train --server``: train a style on the daemon (``TrainStyle``), as ``train`` does locally.

    Reads the ``train`` command's attributes: ``server``, ``token``, ``style`` (the new style's name),
    ``targets`` (favourites folder) and ``sources``, or ``pairs`` (originals and edits folders), or ``lrcat``,
    ``favourites`` (the selection) and ``photos`` -- paths on the daemon's machine, under its roots --
    ``steps`` or ``minutes``, ``config`` (a TOML file on this machine, sent as overrides, see
    :func:`config_overrides`), ``overrides`` (``--set``), ``seed``, ``threads``, ``quiet`` and ``json``. The
    daemon chooses the run folder and installs the finished style into its style folder, so ``resume``,
    ``run_dir``, ``install_dir`` and ``no_install`` are refused (:class:`RemoteOptionError`, exit 2).

    Progress: a tqdm bar on stderr (when stderr is a terminal and not ``quiet``), from the streamed
    progress. Ctrl-C cancels the call, which stops the training on the daemon (its run folder keeps the
    checkpoints; no style is installed), and exits with 130. The result is printed as the local command
    prints it (``--json``: the same keys; ``style_path`` is null, the run folder's copy being on the daemon).

    Returns:
        0 when the style was trained and installed; :data:`STYLE_REJECTED_EXIT` (10) when the daemon did not
        install it (worse than doing nothing on the held-out check, or degenerate moves; ``--force`` overrides).

    Raises:
        RemoteError: the daemon refused or failed the training (its message; the exit status of its error
            class, e.g. 6 for a missing folder, 3 for a bad override, 3 when a training is already running).
        RemoteOptionError: an option the daemon decides itself.
        KeyboardInterrupt: Ctrl-C, after the call was cancelled.
    """
    request = _train_request(args)
    show = not getattr(args, "quiet", False) and sys.stderr.isatty()
    finished: pb.TrainFinished | None = None
    bar: Any = None
    with RemoteClient(args.server, token=getattr(args, "token", None)) as client:
        stream = client.train_style(request)
        try:
            for message in stream:
                event = message.WhichOneof("event")
                if event == "progress" and show:
                    bar = _show_train_progress(message.progress, bar, args.style)
                elif event == "finished":
                    finished = message.finished
        except KeyboardInterrupt:
            stream.close()  # cancels the call: the daemon stops the training
            if bar is not None:
                bar.close()
                bar = None
            print("autoretouch: the training on the daemon was cancelled (no style installed)", file=sys.stderr)
            raise
        finally:
            if bar is not None:
                bar.close()
    if finished is None:
        raise RemoteError(
            f"the daemon at {args.server} ended the training without a result",
            code="INTERNAL",
            error_type="RemoteError",
            exit_code=1,
        )
    _print_trained(args, finished)
    if finished.rejected:
        print(f"autoretouch train: style {args.style!r} not installed: {finished.rejected}", file=sys.stderr)
        return STYLE_REJECTED_EXIT
    return 0
