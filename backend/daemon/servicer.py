"""The gRPC servicer: thin glue between ``autoretouch.v1.Retoucher`` and :class:`RetouchService`.

Per call: check the token, build the :class:`~backend.daemon.limits.Call` from the context (deadline via
``time_remaining``, liveness via ``is_active``), run the service method, and log one line. A raised error
becomes the call's status through :func:`~backend.daemon.errors.describe` (the one mapping); the trailing
metadata ``autoretouch-error-type`` and ``autoretouch-exit-code`` carry the error class and the CLI exit
status. An unexpected exception is logged with its traceback and answered with ``INTERNAL``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import grpc

from backend.daemon.errors import describe, status_code
from backend.daemon.limits import Call
from backend.daemon.logs import LOG, log_request
from backend.daemon.security import check_token, token_from_headers
from backend.daemon.service import RetouchService
from backend.rpc import pb, pb_grpc

__all__ = ["ERROR_TYPE_KEY", "EXIT_CODE_KEY", "RetoucherServicer", "request_fields"]

#: Trailing metadata key: the error class of a failed call.
ERROR_TYPE_KEY = "autoretouch-error-type"
#: Trailing metadata key: the exit status the CLI uses for the error of a failed call.
EXIT_CODE_KEY = "autoretouch-exit-code"

Req = TypeVar("Req")
Resp = TypeVar("Resp")


def request_fields(request: Any) -> dict[str, Any]:
    """What the request log line says about a request (paths, style, counts; never photo bytes)."""
    fields: dict[str, Any] = {}
    if isinstance(request, pb.SuggestRequest):
        fields["photo"] = request.path or (f"upload:{request.upload.name}" if request.HasField("upload") else None)
        fields["style"] = request.style or ("mix" if request.HasField("mix") else None)
        fields["variants"] = request.variants or None
    elif isinstance(request, pb.WriteSidecarsRequest | pb.RevertRequest):
        fields["paths"] = len(request.paths)
        fields["dry_run"] = request.dry_run or None
    elif isinstance(request, pb.TrainStyleRequest):
        fields["style"] = request.name
    elif isinstance(request, pb.PreviewRequest):
        fields = request_fields(request.suggest) | {"strengths": len(request.strengths) or None}
    return fields


class RetoucherServicer(pb_grpc.RetoucherServicer):
    """``autoretouch.v1.Retoucher`` over a :class:`RetouchService`.

    Args:
        service: the transport-neutral service.
        token: the shared secret callers must send, or ``None``.
    """

    def __init__(self, service: RetouchService, token: str | None) -> None:
        self.service = service
        self.token = token

    # -- plumbing -----------------------------------------------------------------------------------------

    def _call(self, context: grpc.ServicerContext) -> Call:
        check_token(self.token, token_from_headers(context.invocation_metadata() or ()))
        return Call(context.time_remaining(), context.is_active)

    def _fail(self, rpc: str, request: Any, context: grpc.ServicerContext, exc: Exception, start: float) -> NoReturn:
        info = describe(exc)
        if info.internal:
            LOG.error("internal error in %s", rpc, exc_info=exc)
        log_request(
            transport="grpc",
            rpc=rpc,
            code=info.code,
            ms=1000 * (time.perf_counter() - start),
            peer=context.peer(),
            error=info.message,
            **request_fields(request),
        )
        context.set_trailing_metadata(((ERROR_TYPE_KEY, info.type), (EXIT_CODE_KEY, str(info.exit_code))))
        context.abort(status_code(info.code), info.message)
        raise AssertionError("grpc's ServicerContext.abort always raises")  # untyped grpc: say so to mypy

    def _unary(self, rpc: str, fn: Callable[[Req, Call], Resp], request: Req, context: grpc.ServicerContext) -> Resp:
        start = time.perf_counter()
        try:
            response = fn(request, self._call(context))
        except Exception as exc:
            self._fail(rpc, request, context, exc, start)
        log_request(
            transport="grpc",
            rpc=rpc,
            code="OK",
            ms=1000 * (time.perf_counter() - start),
            peer=context.peer(),
            **request_fields(request),
        )
        return response

    def _stream(
        self, rpc: str, fn: Callable[[Req, Call], Iterator[Resp]], request: Req, context: grpc.ServicerContext
    ) -> Iterator[Resp]:
        start = time.perf_counter()
        sent = 0
        failed = False
        try:
            for message in fn(request, self._call(context)):
                sent += 1
                yield message
        except Exception as exc:
            failed = True
            self._fail(rpc, request, context, exc, start)
        finally:
            if not failed:  # finished, or closed because the caller cancelled
                log_request(
                    transport="grpc",
                    rpc=rpc,
                    code="OK" if context.is_active() else "CANCELLED",
                    ms=1000 * (time.perf_counter() - start),
                    peer=context.peer(),
                    messages=sent,
                    **request_fields(request),
                )

    # -- the service --------------------------------------------------------------------------------------

    def Suggest(self, request: pb.SuggestRequest, context: grpc.ServicerContext) -> pb.SuggestResponse:
        """See the proto."""
        return self._unary("Suggest", self.service.suggest, request, context)

    def Preview(self, request: pb.PreviewRequest, context: grpc.ServicerContext) -> pb.PreviewResponse:
        """Before/after images of a photo's variants (see the proto)."""
        return self._unary("Preview", self.service.preview, request, context)

    def WriteSidecars(
        self, request: pb.WriteSidecarsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WriteSidecarsResponse]:
        """See the proto."""
        return self._stream("WriteSidecars", self.service.write_sidecars, request, context)

    def Revert(self, request: pb.RevertRequest, context: grpc.ServicerContext) -> pb.RevertResponse:
        """See the proto."""
        return self._unary("Revert", self.service.revert, request, context)

    def ListStyles(self, request: pb.ListStylesRequest, context: grpc.ServicerContext) -> pb.ListStylesResponse:
        """See the proto."""
        return self._unary("ListStyles", self.service.list_styles, request, context)

    def TrainStyle(
        self, request: pb.TrainStyleRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.TrainStyleResponse]:
        """See the proto."""
        return self._stream("TrainStyle", self.service.train_style, request, context)
