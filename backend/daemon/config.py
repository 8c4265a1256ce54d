"""Configuration of the daemon (what ``autoretouch serve`` parses into)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from backend.decode import DEFAULT_MAX_PIXELS

__all__ = ["DEFAULT_GRPC_PORT", "DEFAULT_HTTP_PORT", "DaemonConfig", "default_run_dir", "default_workers"]

#: Default gRPC port (DESIGN.md).
DEFAULT_GRPC_PORT = 50051
#: Default port of the loopback JSON bridge (DESIGN.md).
DEFAULT_HTTP_PORT = 50052


def default_workers() -> int:
    """Worker slots when none are configured: the CPU count, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def default_run_dir() -> Path:
    """Where trainings started through the daemon keep their run folders."""
    return Path("~/.local/share/autoretouch/runs").expanduser()


@dataclass(frozen=True)
class DaemonConfig:
    """Everything :func:`backend.daemon.server.create_server` needs.

    Attributes:
        host: address the gRPC server binds (``127.0.0.1`` by default; a non-loopback address needs
            ``allow_remote`` and ``token``).
        port: gRPC port (0 = any free port).
        http_port: JSON bridge port (0 = any free port, ``None`` = no bridge). The bridge always binds
            loopback (``host`` when it is a loopback address, else ``127.0.0.1``).
        roots: folders under which every path read or written must lie (symlinks resolved). Empty = every
            path is refused.
        token: shared secret callers must send (gRPC metadata ``authorization: Bearer T``; HTTP
            ``Authorization: Bearer T`` or ``X-Autoretouch-Token: T``); ``None`` = no token.
        allow_remote: permit a non-loopback ``host`` (only together with ``token``).
        style_dirs: style folders (``None`` = the style store's defaults: ``$AUTORETOUCH_STYLES`` or
            ``~/.local/share/autoretouch/styles``, then the shipped styles). Trainings install into the first.
        workers: photos processed at the same time (decode + agent), >= 1.
        queue: requests that may wait for a worker; more are refused with ``RESOURCE_EXHAUSTED``.
        max_request_bytes: largest request message (gRPC) or body (bridge), in bytes.
        max_pixels: largest photo (full-resolution pixel count) decoded.
        max_files: most photos one ``WriteSidecars``/``Revert`` call may cover.
        grace_s: seconds in-flight calls get to finish at shutdown.
        reflection: serve gRPC server reflection.
        run_dir: parent folder of the run folders of trainings started through the daemon.
        train_command: the training worker command (argv prefix; the spec file path is appended).
        torch_threads: set torch's intra-op threads to this at start (``None`` = leave them).
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_GRPC_PORT
    http_port: int | None = DEFAULT_HTTP_PORT
    roots: tuple[Path, ...] = ()
    token: str | None = None
    allow_remote: bool = False
    style_dirs: tuple[Path, ...] | None = None
    workers: int = field(default_factory=default_workers)
    queue: int = 32
    max_request_bytes: int = 64 << 20
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_files: int = 100_000
    grace_s: float = 5.0
    reflection: bool = True
    run_dir: Path = field(default_factory=default_run_dir)
    train_command: tuple[str, ...] = (sys.executable, "-m", "trainer.daemon_worker")
    torch_threads: int | None = None
