"""The daemon's own typed errors and the ONE mapping from errors to gRPC status codes and HTTP statuses.

Every :class:`~backend.errors.AutoretouchError` carries ``grpc_status`` (a ``grpc.StatusCode`` member name)
and ``exit_code``; :func:`describe` reads them, and nothing else in the daemon chooses a code from an
exception type. Anything that is not an ``AutoretouchError`` is a bug: :func:`describe` maps it to
``INTERNAL`` with a generic message, and the caller logs the traceback. The classes below declare only what
differs from the base class's defaults (CLI exit status 3, ``INVALID_ARGUMENT``). The JSON bridge derives its HTTP
status from the gRPC code through :data:`HTTP_STATUS` (the table of ``google.rpc.Code``), so the two
transports can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from backend.errors import AutoretouchError

__all__ = [
    "HTTP_STATUS",
    "BadRequestError",
    "BusyError",
    "CancelledError",
    "DeadlineError",
    "ErrorInfo",
    "NotServingError",
    "ProtocolVersionError",
    "RequestTooLargeError",
    "UnauthenticatedError",
    "describe",
    "http_status",
    "status_code",
]


class BadRequestError(AutoretouchError):
    """A request is malformed: a relative path, an unknown host, a missing field, a bad value.

    Exit status 3 and ``INVALID_ARGUMENT``, the base class's defaults.
    """


class ProtocolVersionError(AutoretouchError):
    """The request's ``protocol_version`` is one this server does not speak (a missing one is a BadRequest)."""

    grpc_status = "UNIMPLEMENTED"


class BusyError(AutoretouchError):
    """Every worker is busy and the waiting queue is full (or a training is already running)."""

    grpc_status = "RESOURCE_EXHAUSTED"


class RequestTooLargeError(AutoretouchError):
    """A request body (or a folder listing) exceeds the server's size limit."""

    grpc_status = "RESOURCE_EXHAUSTED"


class DeadlineError(AutoretouchError):
    """The caller's deadline passed before the work could finish."""

    grpc_status = "DEADLINE_EXCEEDED"


class CancelledError(AutoretouchError):
    """The caller went away (cancelled the call or closed the connection)."""

    exit_code = 130
    grpc_status = "CANCELLED"


class NotServingError(AutoretouchError):
    """The server is still loading its styles or is shutting down."""

    grpc_status = "UNAVAILABLE"


class UnauthenticatedError(AutoretouchError):
    """The request lacks the server's token, or carries a wrong one."""

    exit_code = 7
    grpc_status = "UNAUTHENTICATED"


#: gRPC status code name -> HTTP status of the JSON bridge (the ``google.rpc.Code`` HTTP mapping).
HTTP_STATUS: dict[str, int] = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
}


@dataclass(frozen=True)
class ErrorInfo:
    """What a caller is told about a failure.

    Attributes:
        code: gRPC status code name, e.g. ``"NOT_FOUND"``.
        message: what went wrong (names the file where there is one); generic for internal errors.
        type: the error class name (``"InternalError"`` for bugs).
        exit_code: what the CLI exits with for this error (1 for bugs).
        internal: whether this is an unexpected exception (the caller logs its traceback).
    """

    code: str
    message: str
    type: str
    exit_code: int
    internal: bool = False


def describe(exc: BaseException) -> ErrorInfo:
    """Map an exception to what the caller is told (the one mapping of the daemon).

    Args:
        exc: any exception raised while handling a request.

    Returns:
        The :class:`ErrorInfo`: typed errors keep their message, class, ``grpc_status`` and ``exit_code``;
        anything else becomes ``INTERNAL`` with a generic message.
    """
    if isinstance(exc, AutoretouchError):
        code = exc.grpc_status if exc.grpc_status in HTTP_STATUS else "INTERNAL"
        return ErrorInfo(code, str(exc), str(getattr(exc, "error_type", type(exc).__name__)), exc.exit_code)
    return ErrorInfo("INTERNAL", "internal error in the autoretouch daemon (see its log)", "InternalError", 1, True)


def status_code(code: str) -> grpc.StatusCode:
    """The ``grpc.StatusCode`` member of a code name (``INTERNAL`` for an unknown name)."""
    return getattr(grpc.StatusCode, code, grpc.StatusCode.INTERNAL)  # type: ignore[no-any-return]


def http_status(code: str) -> int:
    """The JSON bridge's HTTP status for a gRPC code name (500 for an unknown name)."""
    return HTTP_STATUS.get(code, 500)
