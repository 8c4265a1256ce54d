"""The loopback HTTP/1.1 JSON bridge: the same service for callers that cannot speak gRPC (the plugins).

Endpoints (bodies are the proto messages in JSON, ``google.protobuf.json_format``, snake_case field names;
answers print every field):

==========================  =========================  ====================================================
request                     body                       answer
==========================  =========================  ====================================================
``POST /v1/suggest``        ``SuggestRequest``         ``SuggestResponse``
``POST /v1/preview``        ``PreviewRequest``         ``PreviewResponse``: before/after JPEGs (base64 in JSON)
``POST /v1/sidecars``       ``WriteSidecarsRequest``   NDJSON stream (``application/x-ndjson``, chunked):
                                                       one ``WriteSidecarsResponse`` per line, a ``file``
                                                       per photo as it is done, then one ``summary``
``POST /v1/revert``         ``RevertRequest``          ``RevertResponse``
``POST /v1/train``          ``TrainStyleRequest``      NDJSON stream: one ``TrainStyleResponse`` per line
                                                       (progress, then ``finished``); hanging up cancels
``POST /v1/train/start``    ``TrainStyleRequest``      ``TrainStatus`` once the worker runs; the training
                                                       goes on in the daemon (for clients that cannot
                                                       read a stream as it arrives, e.g. Lightroom)
``GET /v1/train/status``    ``?protocol_version=1``    ``TrainStatus``: state and the latest message
``POST /v1/train/cancel``   ``TrainControlRequest``    ``TrainStatus`` (the worker is stopped)
``GET /v1/styles``          ``?protocol_version=1``    ``ListStylesResponse``
``GET /healthz``            --                         ``{"status": "SERVING"|"NOT_SERVING", ...}`` 200/503
==========================  =========================  ====================================================

Rules:

* ``POST`` bodies need ``Content-Type: application/json`` and a ``Content-Length`` of at most the server's
  request limit (larger: 429 ``RESOURCE_EXHAUSTED``, the body is not read). Requiring JSON keeps web pages
  from posting to the bridge without a CORS preflight, which it never grants; the ``Host`` header must
  name a loopback host (DNS-rebinding guard) unless the daemon allows remote callers.
* With a token configured, every ``/v1`` request needs ``Authorization: Bearer T`` or
  ``X-Autoretouch-Token: T`` (``/healthz`` does not).
* ``X-Autoretouch-Timeout: SECONDS`` sets a deadline, as a gRPC deadline does.
* Errors: an ``ErrorResponse`` body ``{"code", "message", "type", "exit_code", "server_version",
  "model_version"}`` with the HTTP status of the gRPC code (:data:`backend.daemon.errors.HTTP_STATUS`). An
  error after a stream has started is sent as a last NDJSON line holding an ``ErrorResponse``.
* Connections beyond the limit are answered 429 at once and closed, except a ``GET /healthz``, which is still
  answered (a monitor can tell a busy daemon from a dead one).
* A client that hangs up mid-answer is logged as one debug line, not a traceback.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.protobuf.message import Message

from backend import __version__
from backend.daemon.convert import json_to_message, message_to_dict, message_to_json
from backend.daemon.errors import BadRequestError, ErrorInfo, RequestTooLargeError, describe, http_status
from backend.daemon.limits import Call
from backend.daemon.logs import LOG, log_request
from backend.daemon.security import check_token, is_loopback, token_from_headers
from backend.daemon.service import RetouchService
from backend.daemon.servicer import request_fields
from backend.errors import NotFoundError, PermissionDeniedError
from backend.rpc import pb

__all__ = ["BridgeServer", "create_bridge"]

_UNARY: dict[str, tuple[type[Message], str]] = {
    "/v1/suggest": (pb.SuggestRequest, "suggest"),
    "/v1/preview": (pb.PreviewRequest, "preview"),
    "/v1/revert": (pb.RevertRequest, "revert"),
    "/v1/train/start": (pb.TrainStyleRequest, "train_start"),
    "/v1/train/cancel": (pb.TrainControlRequest, "train_cancel"),
}
_STREAM: dict[str, tuple[type[Message], str]] = {
    "/v1/sidecars": (pb.WriteSidecarsRequest, "write_sidecars"),
    "/v1/train": (pb.TrainStyleRequest, "train_style"),
}
#: Seconds an over-the-limit connection is given to show that it is a ``GET /healthz``.
_HEALTH_PEEK_S = 0.2
_RPC_NAMES = {
    "suggest": "Suggest",
    "preview": "Preview",
    "revert": "Revert",
    "write_sidecars": "WriteSidecars",
    "list_styles": "ListStyles",
    "train_style": "TrainStyle",
    "train_start": "TrainStart",
    "train_cancel": "TrainCancel",
}


class BridgeServer(ThreadingHTTPServer):
    """A threading HTTP server with a cap on open connections.

    Args:
        address: ``(host, port)``.
        handler: the request handler class.
        max_connections: connections served at once; more are answered 429 and closed.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_connections: int) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)
        self._connections = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection in a thread, or refuse it when too many are open (health still answers).

        The refusal runs on its own short-lived thread, so a flood of idle connections does not hold up accepting.
        """
        if not self._connections.acquire(blocking=False):
            threading.Thread(target=self._refuse, args=(request,), daemon=True).start()
            return
        super().process_request(request, client_address)

    def _refuse(self, request: Any) -> None:
        """Answer an over-the-limit connection: its ``GET /healthz`` normally, anything else 429; then close it."""
        status = 429
        data: dict[str, object] = {"code": "RESOURCE_EXHAUSTED", "message": "too many connections to the daemon"}
        with contextlib.suppress(OSError):
            request.settimeout(_HEALTH_PEEK_S)
            if request.recv(64, socket.MSG_PEEK).startswith(b"GET /healthz "):
                health = self.RequestHandlerClass.health()  # type: ignore[attr-defined]
                status, data = (200 if health == "SERVING" else 503), {"status": health, "busy": True}
        body = json.dumps(data)
        reason = {200: "OK", 429: "Too Many Requests", 503: "Service Unavailable"}[status]
        head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        with contextlib.suppress(OSError):
            request.sendall(f"{head}\r\nConnection: close\r\n\r\n{body}".encode())
        self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is one debug line; anything else is logged with its traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            LOG.debug("bridge: %s went away (%s)", client_address, type(exc).__name__)
            return
        LOG.error("bridge: error serving %s", client_address, exc_info=exc)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection, then free its slot."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()


def create_bridge(
    service: RetouchService,
    *,
    host: str,
    port: int,
    token: str | None,
    allow_remote: bool,
    max_body: int,
    max_connections: int,
    health: Callable[[], str],
) -> BridgeServer:
    """Build (not start) the JSON bridge.

    Args:
        service: the transport-neutral service.
        host: loopback address to bind.
        port: port (0 = any free one).
        token: shared secret, or ``None``.
        allow_remote: skip the loopback ``Host`` header check.
        max_body: largest request body in bytes.
        max_connections: connections served at once.
        health: returns ``"SERVING"`` or ``"NOT_SERVING"``.

    Returns:
        The server; run ``serve_forever`` in a thread, stop with ``shutdown`` and ``server_close``.
    """

    class Handler(_Handler):
        pass

    Handler.service = service
    Handler.token = token
    Handler.allow_remote = allow_remote
    Handler.max_body = max_body
    Handler.health = staticmethod(health)
    return BridgeServer((host, port), Handler, max_connections)


class _Handler(BaseHTTPRequestHandler):
    """One HTTP/1.1 connection of the bridge (keep-alive; every answer has a length or is chunked)."""

    protocol_version = "HTTP/1.1"
    server_version = f"autoretouch/{__version__}"
    timeout = 60  # seconds a connection may stay silent (slow-client guard)

    service: RetouchService
    token: str | None
    allow_remote: bool
    max_body: int
    health: Callable[[], str]

    # -- answers ------------------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        """Route http.server's own messages to the daemon log (requests are logged by :func:`log_request`)."""
        LOG.debug("bridge: " + format, *args)

    def _send_json(self, status: int, data: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, URI or headers too long, unknown method) as JSON.

        Same :class:`ErrorResponse` body as every other error of the bridge, instead of http.server's HTML page.
        """
        grpc_code = {400: "INVALID_ARGUMENT", 414: "RESOURCE_EXHAUSTED", 431: "RESOURCE_EXHAUSTED"}.get(
            code, "UNIMPLEMENTED" if code == 501 else "INVALID_ARGUMENT"
        )
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = ""
        text = message or phrase
        info = ErrorInfo(grpc_code, f"HTTP {code}: {text}"[:300], "BadRequestError", 3)
        LOG.debug("bridge: refused with HTTP %d (%s)", code, text[:200])
        self.close_connection = True
        if self.command == "HEAD" or code < 200 or code in (204, 304):
            self.send_response(code, message)
            self.send_header("Connection", "close")
            self.end_headers()
            return
        self._send_json(code, message_to_dict(self._error_body(info)))

    def _method_not_allowed(self) -> None:
        """405 for the HTTP methods the bridge does not use (it answers GET and POST only)."""
        path = urlsplit(self.path).path
        info = ErrorInfo("UNIMPLEMENTED", f"method {self.command} is not allowed on {path[:200]}; use GET or POST",
                         "BadRequestError", 3)  # fmt: skip
        self.close_connection = True  # a body, if any, is not read
        self._log(path[:200], info.code, time.perf_counter())
        if self.command == "HEAD":
            self.send_response(405)
            self.send_header("Allow", "GET, POST")
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            return
        self._send_json(405, message_to_dict(self._error_body(info)), headers={"Allow": "GET, POST"})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_TRACE = do_CONNECT = _method_not_allowed  # noqa: N815

    def _error_body(self, info: ErrorInfo) -> pb.ErrorResponse:
        return pb.ErrorResponse(
            server_version=__version__,
            model_version=self.service.registry.default_model(),
            code=info.code,
            message=info.message,
            type=info.type,
            exit_code=info.exit_code,
        )

    def _log(self, rpc: str, code: str, start: float, request: Any = None, **extra: Any) -> None:
        fields = request_fields(request) if request is not None else {}
        log_request(
            transport="http",
            rpc=rpc,
            code=code,
            ms=1000 * (time.perf_counter() - start),
            peer=f"{self.client_address[0]}:{self.client_address[1]}",
            **extra,
            **fields,
        )

    def _fail(self, rpc: str, exc: BaseException, start: float, request: Any = None) -> None:
        info = describe(exc)
        if info.internal:
            LOG.error("internal error in %s (bridge)", rpc, exc_info=exc)
        self._log(rpc, info.code, start, request, error=info.message)
        if not getattr(self, "_body_read", True):
            self.close_connection = True  # the unread body would be taken for the next request
        self._send_json(http_status(info.code), message_to_dict(self._error_body(info)))

    # -- checks -------------------------------------------------------------------------------------------

    def _call(self) -> Call:
        check_token(self.token, token_from_headers(self.headers.items()))
        raw = self.headers.get("X-Autoretouch-Timeout")
        if raw is None:
            return Call()
        try:
            timeout = float(raw)
        except ValueError:
            raise BadRequestError(f"X-Autoretouch-Timeout must be a number of seconds, got {raw!r}") from None
        return Call(timeout)

    def _check_host(self) -> None:
        if self.allow_remote:
            return
        host = (self.headers.get("Host") or "").strip()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if not host or not is_loopback(name):
            raise PermissionDeniedError(f"the bridge only answers requests for a loopback host, not {host!r}")

    def _read_body(self) -> bytes:
        self._body_read = False
        ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise BadRequestError("POST bodies must be sent with 'Content-Type: application/json'")
        if self.headers.get("Transfer-Encoding"):
            raise BadRequestError("chunked request bodies are not supported; send Content-Length")
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.strip().isdigit():
            raise BadRequestError("a Content-Length header is required")
        length = int(raw)
        if length > self.max_body:
            raise RequestTooLargeError(f"the request body of {length:,} bytes exceeds the {self.max_body:,}-byte limit")
        body = self.rfile.read(length)
        self._body_read = True
        if len(body) != length:
            raise BadRequestError("the request body ended early")
        return body

    # -- methods ------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        """``/healthz``, ``/v1/styles`` and ``/v1/train/status``."""
        start = time.perf_counter()
        url = urlsplit(self.path)
        if url.path == "/healthz":
            status = self.health()
            body = {"status": status, "server_version": __version__}
            self._send_json(200 if status == "SERVING" else 503, body)
            return
        rpc = {"/v1/styles": "ListStyles", "/v1/train/status": "TrainStatus"}.get(url.path, url.path[:200])
        try:
            self._check_host()
            call = self._call()
            if url.path not in ("/v1/styles", "/v1/train/status"):
                raise NotFoundError(f"no such endpoint: GET {url.path[:200]}")
            query = parse_qs(url.query)
            version = query.get("protocol_version", ["0"])[0]
            if not version.isdigit():
                raise BadRequestError(f"protocol_version must be a number, got {version[:40]!r}")
            response: Message
            if url.path == "/v1/styles":
                response = self.service.list_styles(pb.ListStylesRequest(protocol_version=int(version)), call)
            else:
                response = self.service.train_status(pb.TrainControlRequest(protocol_version=int(version)), call)
        except Exception as exc:
            self._fail(rpc, exc, start)
            return
        self._log(rpc, "OK", start)
        self._send_json(200, message_to_dict(response))

    def do_POST(self) -> None:
        """The POST endpoints: JSON answers, or an NDJSON stream for ``/v1/sidecars`` and ``/v1/train``."""
        start = time.perf_counter()
        path = urlsplit(self.path).path
        route = _UNARY.get(path) or _STREAM.get(path)
        rpc = _RPC_NAMES[route[1]] if route else path
        request: Message | None = None
        self._body_read = True
        try:
            self._check_host()
            call = self._call()
            if route is None:
                raise NotFoundError(f"no such endpoint: POST {path}")
            body = self._read_body()
            request = json_to_message(body, route[0])
            method = getattr(self.service, route[1])
            if path in _UNARY:
                response = method(request, call)
            else:
                stream: Iterator[Message] = method(request, call)
                first = next(stream)  # validation errors still get a proper HTTP status
        except Exception as exc:
            self._fail(rpc, exc, start, request)
            return
        if path in _UNARY:
            self._log(rpc, "OK", start, request)
            self._send_json(200, message_to_dict(response))
            return
        self._stream(rpc, request, first, stream, start)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")
        self.wfile.flush()

    def _stream(self, rpc: str, request: Message | None, first: Message, rest: Iterator[Message], start: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent, code, broken = 0, "OK", False
        try:
            message: Message | None = first
            while message is not None:
                self._chunk((message_to_json(message) + "\n").encode("utf-8"))
                sent += 1
                message = next(rest, None)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            code, broken = "CANCELLED", True  # the client went away; closing the generator stops the batch
        except Exception as exc:
            info = describe(exc)
            code = info.code
            if info.internal:
                LOG.error("internal error in %s (bridge stream)", rpc, exc_info=exc)
            try:
                self._chunk((message_to_json(self._error_body(info)) + "\n").encode("utf-8"))
            except OSError:
                broken = True
        finally:
            close = getattr(rest, "close", None)
            if close is not None:
                close()
        if broken:
            self.close_connection = True
        else:
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                self.close_connection = True
        self._log(rpc, code, start, request, messages=sent)
