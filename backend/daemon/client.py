"""The daemon's gRPC client: calls, errors with the daemon's status and exit code, recipe conversion.

:class:`RemoteClient` is what the CLI's ``--server`` commands (:mod:`backend.cli.remote`, the catalog batch) and
``train --server`` (:mod:`trainer.remote_train`) talk to the daemon with; conversions of messages are those of
:mod:`backend.daemon.convert`, so both sides read the protocol the same way.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import grpc

from backend.errors import AutoretouchError, FileError
from backend.fsio import utf8_text
from backend.recipe import Recipe
from backend.rpc import PROTOCOL_VERSION, pb, pb_grpc

__all__ = [
    "HOSTS",
    "TOKEN_ENV",
    "RemoteClient",
    "RemoteError",
    "UnsendablePathError",
    "check_styles",
    "daemon_path",
    "daemon_paths",
    "pb_recipe",
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

    def _stream(self, method: Any, request: Any) -> Generator[Any, None, None]:
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

    def write_sidecars(self, request: pb.WriteSidecarsRequest) -> Generator[pb.WriteSidecarsResponse, None, None]:
        """Call ``WriteSidecars`` (a stream of messages)."""
        return self._stream(self.stub.WriteSidecars, request)

    def revert(self, request: pb.RevertRequest) -> pb.RevertResponse:
        """Call ``Revert``."""
        return self._unary(self.stub.Revert, request)  # type: ignore[no-any-return]

    def train_style(self, request: pb.TrainStyleRequest) -> Generator[pb.TrainStyleResponse, None, None]:
        """Call ``TrainStyle`` (a stream of messages; close it to cancel the training)."""
        return self._stream(self.stub.TrainStyle, request)

    def preview(self, request: pb.PreviewRequest) -> pb.PreviewResponse:
        """Call ``Preview``."""
        return self._unary(self.stub.Preview, request)  # type: ignore[no-any-return]

    def list_styles(self) -> pb.ListStylesResponse:
        """Call ``ListStyles``."""
        return self._unary(self.stub.ListStyles, pb.ListStylesRequest(protocol_version=PROTOCOL_VERSION))  # type: ignore[no-any-return]


def pb_recipe(message: pb.Recipe) -> Recipe:
    """A recipe the daemon sent, as a :class:`~backend.recipe.Recipe` (its strength kept as sent)."""
    from backend.daemon.convert import recipe_from_pb

    return recipe_from_pb(message, source="daemon recipe", unset_strength=None)


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


class UnsendablePathError(FileError):
    """A photo path the daemon's protocol cannot carry: its name is not valid UTF-8 (proto strings are)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(
            path, "its name is not valid UTF-8, which paths sent to a daemon must be; rename it or run without --server"
        )


def daemon_path(photo: Path) -> str:
    """The absolute path of ``photo`` as sent to the daemon.

    Raises:
        UnsendablePathError: the path is not valid UTF-8 (a name from a file system in another encoding).
    """
    path = os.path.abspath(photo)
    if utf8_text(path) != path:
        raise UnsendablePathError(photo)
    return path


def daemon_paths(photos: Sequence[Path]) -> tuple[dict[str, Path], list[Path]]:
    """The paths sent to the daemon (:func:`daemon_path`) -> each photo as given; and those that cannot be sent."""
    names: dict[str, Path] = {}
    unsendable: list[Path] = []
    for photo in photos:
        try:
            names[daemon_path(photo)] = photo
        except UnsendablePathError:
            unsendable.append(photo)
    return names, unsendable
