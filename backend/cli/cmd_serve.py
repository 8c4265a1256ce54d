"""``autoretouch serve``: run the daemon (gRPC on 127.0.0.1:50051, JSON bridge on 127.0.0.1:50052).

See :mod:`backend.daemon` for what it serves and :mod:`backend.daemon.bridge` for the JSON endpoints the
plugins use.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from backend.cli.argtypes import int_arg
from backend.daemon.config import DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT, DaemonConfig, default_run_dir, default_workers

__all__ = ["config_from_args", "register", "run"]

_EPILOG = """\
examples:
  autoretouch serve --root ~/Pictures                         # loopback only, default styles
  autoretouch serve --root /photos --styles ~/styles --workers 2 --port 0 --http-port 0
  autoretouch serve --host 0.0.0.0 --allow-remote --token "$SECRET" --root /photos

Every path a request names must lie under a --root folder (symlinks resolved); without --root the daemon
reads and writes nothing. Health: grpc.health.v1 (NOT_SERVING until the styles are loaded) and GET /healthz.
Stop with SIGTERM or Ctrl-C: health turns NOT_SERVING first, then in-flight calls get --grace seconds.
"""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must lie in 0..65535, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` sub-command to the CLI."""
    parser = subparsers.add_parser(
        "serve",
        help="run the daemon: gRPC service plus the loopback HTTP/JSON bridge the plugins use",
        description=(
            "Serve Suggest, Preview, WriteSidecars, Revert, ListStyles and TrainStyle over gRPC (with health and "
            "reflection) and over a loopback HTTP/1.1 JSON bridge. Binds 127.0.0.1 unless told otherwise."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="gRPC address to bind (default 127.0.0.1); the JSON bridge always stays on loopback",
    )
    parser.add_argument("--port", type=_port, default=DEFAULT_GRPC_PORT, help="gRPC port (0 = any free port)")
    bridge = parser.add_mutually_exclusive_group()
    bridge.add_argument(
        "--http-port", type=_port, default=DEFAULT_HTTP_PORT, help="JSON bridge port on loopback (0 = any free port)"
    )
    bridge.add_argument("--no-http", action="store_true", help="do not start the JSON bridge")
    parser.add_argument(
        "--root", action="append", type=Path, default=[], metavar="DIR", help="folder requests may touch (repeatable)"
    )
    parser.add_argument("--token", metavar="T", help="shared secret callers must send (Authorization: Bearer T)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="permit a non-loopback --host for gRPC (only together with --token); the JSON bridge, which the "
        "editor plug-ins use on the same machine, keeps listening on 127.0.0.1 only",
    )
    parser.add_argument(
        "--styles", action="append", type=Path, metavar="DIR", help="style folder (repeatable; default: the store's)"
    )
    parser.add_argument(
        "--workers", type=int_arg(1), default=default_workers(), help="photos processed at once (default: CPUs, max 4)"
    )
    parser.add_argument("--queue", type=int, default=32, help="requests that may wait for a worker (default 32)")
    parser.add_argument(
        "--max-request-mb", type=float, default=64.0, help="largest request (gRPC message or JSON body), MiB"
    )
    parser.add_argument("--max-megapixels", type=float, default=160.0, help="largest photo decoded, megapixels")
    parser.add_argument("--grace", type=float, default=5.0, help="seconds in-flight calls get at shutdown")
    parser.add_argument("--run-dir", type=Path, default=None, help="where TrainStyle keeps run folders")
    parser.add_argument("--no-reflection", action="store_true", help="do not serve gRPC reflection")
    parser.add_argument("--log-json", action="store_true", help="log one JSON object per line instead of key=value")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> DaemonConfig:
    """The :class:`DaemonConfig` of parsed ``serve`` arguments."""
    return DaemonConfig(
        host=args.host,
        port=args.port,
        http_port=None if args.no_http else args.http_port,
        roots=tuple(args.root),
        token=args.token,
        allow_remote=args.allow_remote,
        style_dirs=None if not args.styles else tuple(args.styles),
        workers=args.workers,
        queue=max(0, args.queue),
        max_request_bytes=int(args.max_request_mb * (1 << 20)),
        max_pixels=int(args.max_megapixels * 1_000_000),
        grace_s=args.grace,
        reflection=not args.no_reflection,
        run_dir=args.run_dir or default_run_dir(),
        torch_threads=1,  # concurrency comes from the worker slots; 64x64 work gains nothing from more
    )


def run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the exit status."""
    from backend.daemon.logs import configure_logging
    from backend.daemon.server import serve

    configure_logging(as_json=args.log_json, level=logging.DEBUG if args.verbose else logging.INFO)
    return serve(config_from_args(args))
