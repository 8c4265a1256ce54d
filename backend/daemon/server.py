"""The daemon: a gRPC server (+ health, + reflection) and the loopback JSON bridge over one service.

:func:`create_server` builds everything and binds the ports (port 0 = any free port, what tests use) but
loads nothing; :meth:`Daemon.start` tunes the process's allocator for the renderer
(:func:`backend.render.pipeline.tune_allocator`: glibc keeps band-sized buffers for reuse; process-wide,
applied once), starts serving with health ``NOT_SERVING``, loads the styles in the background and then
flips health to ``SERVING`` (``/healthz`` follows the same state).
:meth:`Daemon.stop` shuts down in the order the house style fixes: health ``NOT_SERVING`` first (so load
balancers and plugins stop sending), then the bridge stops accepting, then ``server.stop(grace)`` lets
in-flight calls finish for ``grace`` seconds. :func:`serve` is what ``autoretouch serve`` runs: it adds
the SIGTERM/SIGINT handlers (KeyboardInterrupt where signals are not available).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from types import FrameType
from typing import Any

import grpc

from backend import __version__
from backend.daemon.bridge import BridgeServer, create_bridge
from backend.daemon.config import DaemonConfig
from backend.daemon.decode_guard import DecodeGuardInterceptor
from backend.daemon.errors import BadRequestError
from backend.daemon.logs import LOG
from backend.daemon.security import Roots, check_bind_address, is_loopback
from backend.daemon.service import RetouchService
from backend.daemon.servicer import RetoucherServicer
from backend.daemon.styles import StyleRegistry
from backend.errors import AutoretouchError
from backend.rpc import SERVICE_NAME, pb_grpc

__all__ = ["AddressInUseError", "Daemon", "Ports", "create_server", "serve"]

#: Extra gRPC threads beyond the worker slots and the queue (health checks, ListStyles, streams waiting).
_SPARE_THREADS = 8


class AddressInUseError(AutoretouchError):
    """A port could not be bound (in use, or the address is not one of this machine's)."""

    exit_code = 3
    grpc_status = "UNAVAILABLE"


@dataclass(frozen=True)
class Ports:
    """The bound ports.

    Attributes:
        grpc: the gRPC port.
        http: the JSON bridge's port, or ``None`` without a bridge.
    """

    grpc: int
    http: int | None


def _grpc_address(host: str, port: int) -> str:
    return f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"


def _bridge_host(host: str) -> str:
    if host not in ("localhost", "") and is_loopback(host):
        return host.strip("[]")
    return "127.0.0.1"


class Daemon:
    """A built daemon; see the module docstring for the lifecycle.

    Attributes:
        config: its configuration.
        service: the transport-neutral service (styles, limits, roots).
        grpc_server: the ``grpc.Server``.
        health: the ``grpc.health.v1`` servicer.
        bridge: the JSON bridge, or ``None``.
        events: what happened, in order (``"allocator:tuned"`` or ``"allocator:default"``, ``"health:SERVING"``,
            ``"health:NOT_SERVING"``, ``"bridge:stopped"``, ``"grpc:stopped"``); the lifecycle tests read it.
    """

    def __init__(
        self,
        config: DaemonConfig,
        service: RetouchService,
        grpc_server: grpc.Server,
        health: Any,
        bridge: BridgeServer | None,
        load_styles: Callable[[], object],
    ) -> None:
        self.config = config
        self.service = service
        self.grpc_server = grpc_server
        self.health = health
        self.bridge = bridge
        self.events: list[str] = []
        self._load_styles = load_styles
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._status = "NOT_SERVING"

    @property
    def status(self) -> str:
        """``"SERVING"`` or ``"NOT_SERVING"`` (what health and ``/healthz`` report)."""
        return self._status

    def _set_health(self, serving: bool) -> None:
        from grpc_health.v1 import health_pb2

        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            self.health.set(name, status)
        self._status = "SERVING" if serving else "NOT_SERVING"
        self.events.append(f"health:{self._status}")

    def _load(self) -> None:
        try:
            self._load_styles()
        except Exception:  # the daemon stays NOT_SERVING; say why
            LOG.exception("loading the styles failed; the daemon stays NOT_SERVING")
            return
        if self._stopped.is_set() or self.service.stopping.is_set():
            return
        self.service.ready.set()
        self._set_health(True)
        snap = self.service.registry.snapshot()
        LOG.info("serving: styles=%s unusable=%s", sorted(snap.styles) or "none", sorted(snap.errors) or "none")

    def start(self) -> None:
        """Tune the allocator, start serving (health ``NOT_SERVING``) and load the styles in the background."""
        from backend.render.pipeline import tune_allocator

        tuned = tune_allocator()
        self.events.append(f"allocator:{'tuned' if tuned else 'default'}")
        self._set_health(False)
        self.grpc_server.start()
        if self.bridge is not None:
            t = threading.Thread(target=self.bridge.serve_forever, name="json-bridge", daemon=True)
            t.start()
            self._threads.append(t)
        loader = threading.Thread(target=self._load, name="load-styles", daemon=True)
        loader.start()
        self._threads.append(loader)

    def wait_until_serving(self, timeout: float | None = None) -> bool:
        """Block until the styles are loaded; returns whether that happened within ``timeout`` seconds."""
        return self.service.ready.wait(timeout)

    def stop(self, grace: float | None = None) -> None:
        """Shut down: health ``NOT_SERVING``, bridge closed, then ``server.stop(grace)`` (idempotent).

        Args:
            grace: seconds in-flight calls get (default ``config.grace_s``).
        """
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.service.stopping.set()
        self.health.enter_graceful_shutdown()
        self._status = "NOT_SERVING"
        self.events.append("health:NOT_SERVING")
        if self.bridge is not None:
            self.bridge.shutdown()
            self.events.append("bridge:stopped")
        proc = self.service.training.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
        self.grpc_server.stop(self.config.grace_s if grace is None else grace).wait()
        self.events.append("grpc:stopped")
        if self.bridge is not None:
            self.bridge.server_close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` was called; returns whether it was."""
        return self._stopped.wait(timeout)


def create_server(config: DaemonConfig, *, load_styles: Callable[[], object] | None = None) -> tuple[Daemon, Ports]:
    """Build the daemon and bind its ports (nothing is served or loaded until :meth:`Daemon.start`).

    Args:
        config: the configuration.
        load_styles: replaces the style loading (tests use it to hold the daemon in ``NOT_SERVING``).

    Returns:
        ``(daemon, ports)``.

    Raises:
        PermissionDeniedError: a non-loopback host without ``allow_remote`` and a token.
        NotFoundError: a root folder does not exist.
        BadRequestError: invalid limits.
        AddressInUseError: a port cannot be bound.
    """
    check_bind_address(config.host, allow_remote=config.allow_remote, token=config.token)
    if config.workers < 1 or config.queue < 0 or config.max_request_bytes < 1024 or config.max_pixels < 1:
        raise BadRequestError("workers must be >= 1, queue >= 0, max_request_bytes >= 1024 and max_pixels >= 1")
    if config.token is not None and not config.token.strip():
        raise BadRequestError("the token must not be empty")
    if config.torch_threads is not None:
        import torch

        torch.set_num_threads(config.torch_threads)
    roots = Roots(config.roots)
    registry = StyleRegistry(config.style_dirs)
    service = RetouchService(config, registry, roots)
    threads = config.workers + config.queue + _SPARE_THREADS
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grpc"),
        maximum_concurrent_rpcs=threads,
        interceptors=[DecodeGuardInterceptor()],
        options=[
            ("grpc.max_receive_message_length", config.max_request_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    pb_grpc.add_RetoucherServicer_to_server(RetoucherServicer(service, config.token), server)
    from grpc_health.v1 import health, health_pb2_grpc

    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if config.reflection:
        try:
            from grpc_reflection.v1alpha import reflection
        except ImportError as exc:  # pragma: no cover - a packaging problem
            raise AddressInUseError(
                "gRPC reflection needs the grpcio-reflection package (pip install grpcio-reflection), "
                "or start the daemon without reflection"
            ) from exc
        reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        grpc_port = server.add_insecure_port(_grpc_address(config.host, config.port))
    except RuntimeError as exc:
        raise AddressInUseError(f"cannot listen on {_grpc_address(config.host, config.port)} ({exc})") from None
    if grpc_port == 0:
        raise AddressInUseError(f"cannot listen on {_grpc_address(config.host, config.port)}")
    bridge = None
    if config.http_port is not None:
        try:
            bridge = create_bridge(
                service,
                host=_bridge_host(config.host),
                port=config.http_port,
                token=config.token,
                allow_remote=config.allow_remote,
                max_body=config.max_request_bytes,
                max_connections=threads,
                health=lambda: daemon.status,
            )
        except OSError as exc:
            server.stop(None)
            raise AddressInUseError(f"cannot listen on port {config.http_port} for the JSON bridge ({exc})") from None
    daemon = Daemon(config, service, server, health_servicer, bridge, load_styles or registry.load)
    ports = Ports(grpc_port, None if bridge is None else bridge.server_address[1])
    return daemon, ports


def serve(config: DaemonConfig) -> int:
    """Run the daemon until SIGTERM or SIGINT (``autoretouch serve``); returns the exit status 0."""
    daemon, ports = create_server(config)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        LOG.info("received %s; shutting down", signal.Signals(signum).name)
        stop.set()

    previous: dict[int, Any] = {}
    for name in ("SIGTERM", "SIGINT"):
        sig = getattr(signal, name, None)
        if sig is not None:
            with contextlib.suppress(ValueError, OSError):  # not the main thread, or not supported here
                previous[sig] = signal.signal(sig, on_signal)
    daemon.start()
    LOG.info(
        "autoretouch %s daemon: grpc=%s http=%s roots=%s workers=%d",
        __version__,
        _grpc_address(config.host, ports.grpc),
        "off" if ports.http is None else f"{_bridge_host(config.host)}:{ports.http}",
        ",".join(str(r) for r in daemon.service.roots.roots) or "none",
        config.workers,
    )
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:  # where no signal handler could be installed (Windows consoles)
        LOG.info("interrupted; shutting down")
    finally:
        daemon.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    LOG.info("stopped")
    return 0
