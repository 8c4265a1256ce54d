"""Requests that cannot be decoded are the client's fault: INVALID_ARGUMENT, not INTERNAL.

grpcio answers ``INTERNAL: Exception deserializing request!`` when a request's bytes do not parse, e.g. a
``google.protobuf.Value`` nested deeper than protobuf's recursion limit (a recipe value nested 90 deep): the same
request sent through the JSON bridge gets 400. This interceptor wraps every method handler of the service:
the request deserializer catches the parse failure and hands the method a :class:`UndecodableRequest`
instead, and the method answers it with ``INVALID_ARGUMENT`` and the reason, before any servicer code runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

__all__ = ["DecodeGuardInterceptor", "UndecodableRequest"]


class UndecodableRequest:
    """Stands in for a request whose bytes did not parse.

    Attributes:
        reason: why (the parser's message).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _safe(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except RecursionError:
            return UndecodableRequest("the request is nested too deeply to decode")
        except (DecodeError, ValueError) as exc:
            if "depth" in str(exc).lower():
                return UndecodableRequest(f"the request is nested too deeply to decode ({exc})")
            return UndecodableRequest(f"the request could not be decoded ({exc})")

    return parse


def _guarded(behaviour: Callable[..., Any] | None) -> Callable[..., Any] | None:
    if behaviour is None:
        return None

    def call(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, UndecodableRequest):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.reason)
        return behaviour(request, context)

    return call


class DecodeGuardInterceptor(grpc.ServerInterceptor):
    """Wraps unary-request handlers so that undecodable requests get ``INVALID_ARGUMENT`` (module docstring)."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        """The method's handler with a safe request deserializer (streaming-request methods unchanged)."""
        handler = continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            return handler
        return handler._replace(  # type: ignore[attr-defined]
            request_deserializer=_safe(handler.request_deserializer),
            unary_unary=_guarded(handler.unary_unary),
            unary_stream=_guarded(handler.unary_stream),
        )
