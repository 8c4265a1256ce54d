"""``--server HOST:PORT``: run ``suggest``, ``apply`` and ``revert`` on a running daemon instead of in-process.

The output and the exit status are those of the in-process commands: the same lines (or JSON), the same
per-photo error messages (the daemon's absolute paths are shown as the paths you typed), and a failed call
exits with the status the CLI uses for the daemon's error class (sent as ``autoretouch-exit-code``).
Differences: photos are named to the daemon by absolute path, so they must lie under the daemon's
``--root`` folders on the daemon's machine; ``--style`` takes the name of a style installed on the daemon
(not a file path). The token, if the daemon has one, comes from the environment variable
``AUTORETOUCH_TOKEN``.
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

from backend.errors import AutoretouchError
from backend.recipe import Recipe
from backend.rpc import PROTOCOL_VERSION, pb, pb_grpc

__all__ = ["TOKEN_ENV", "RemoteClient", "RemoteError", "remote_apply", "remote_revert", "remote_suggest"]

#: Environment variable holding the daemon's token.
TOKEN_ENV = "AUTORETOUCH_TOKEN"

_HOSTS = {
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
        try:
            yield from method(request, metadata=self._metadata())
        except grpc.RpcError as exc:
            raise RemoteError.from_rpc(exc, self.address) from None

    def suggest(self, request: pb.SuggestRequest) -> pb.SuggestResponse:
        """Call ``Suggest``."""
        return self._unary(self.stub.Suggest, request)  # type: ignore[no-any-return]

    def write_sidecars(self, request: pb.WriteSidecarsRequest) -> Iterator[pb.WriteSidecarsResponse]:
        """Call ``WriteSidecars`` (a stream of messages)."""
        return self._stream(self.stub.WriteSidecars, request)

    def revert(self, request: pb.RevertRequest) -> pb.RevertResponse:
        """Call ``Revert``."""
        return self._unary(self.stub.Revert, request)  # type: ignore[no-any-return]

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


def _recipe(message: pb.Recipe) -> Recipe:
    data: dict[str, Any] = {
        "version": message.version,
        "steps": [{"slider": s.slider, "value": _value(s.value)} for s in message.steps],
        "strength": message.strength,
    }
    if message.style:
        data["style"] = message.style
    if message.model:
        data["model"] = message.model
    return Recipe.from_dict(data, source="daemon recipe")


def _value(value: Any) -> Any:
    from backend.daemon.convert import value_from_pb

    return value_from_pb(value)


# -- suggest ------------------------------------------------------------------------------------------


def _check_styles(client: RemoteClient, names: Sequence[str]) -> None:
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
    from backend.cli.cmd_suggest import format_recipe
    from backend.cli.main import EXIT_PARTIAL

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
    with RemoteClient(args.server) as client:
        _check_styles(client, names)
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
                message = str(exc) if str(photo) in str(exc) else f"{photo}: {exc}"
                print(f"autoretouch: error: {message}", file=sys.stderr)
                if args.json:
                    print(json.dumps({"photo": str(photo), "ok": False, "error": message}), flush=True)
                continue
            recipes = [_recipe(s.recipe) for s in response.suggestions]
            if args.json:
                row = {
                    "photo": str(photo),
                    "ok": True,
                    "recipes": [r.to_dict() for r in recipes],
                    "style": label,
                    "strength": args.strength,
                }
                print(json.dumps(row), flush=True)
                continue
            print(f"{photo}  (style {label}, strength {args.strength:g})")
            for k, recipe in enumerate(recipes):
                if len(recipes) > 1:
                    print(f"  variant {k + 1}{' (deterministic)' if k == 0 else ''}:")
                print("\n".join(format_recipe(recipe, "    " if len(recipes) > 1 else "  ")), flush=True)
    if not failures:
        return 0
    if len(failures) == len(args.photos):
        return failures[0].exit_code
    return EXIT_PARTIAL


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
    """``autoretouch apply --server``: same output and exit status as in-process."""
    from backend.cli.cmd_apply import report
    from backend.daemon.convert import recipe_to_pb
    from backend.recipe import load_recipe, scale

    recipe = load_recipe(args.recipe)
    if args.strength is not None:
        recipe = scale(recipe, args.strength)
    names = _absolute(args.photos)
    request = pb.WriteSidecarsRequest(
        protocol_version=PROTOCOL_VERSION,
        paths=list(names),
        hosts=_HOSTS[args.host],
        recipe=recipe_to_pb(recipe),
        overwrite=args.overwrite,
        dry_run=args.dry_run,
    )
    with RemoteClient(args.server) as client:
        files = (m.file for m in client.write_sidecars(request) if m.WhichOneof("event") == "file")
        outcomes = _outcomes(files, names)
    return report(outcomes, args.json)


def remote_revert(args: argparse.Namespace) -> int:
    """``autoretouch revert --server``: same output and exit status as in-process."""
    from backend.cli.cmd_apply import report

    names = _absolute(args.photos)
    request = pb.RevertRequest(
        protocol_version=PROTOCOL_VERSION, paths=list(names), hosts=_HOSTS[args.host], dry_run=args.dry_run
    )
    with RemoteClient(args.server) as client:
        response = client.revert(request)
    return report(_outcomes(iter(response.files), names), args.json)
