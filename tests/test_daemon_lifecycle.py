"""Daemon lifecycle and limits: NOT_SERVING until loaded, shutdown order, busy/deadline, token, binding, logs."""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from backend.daemon import DaemonConfig, create_server
from backend.daemon.errors import BusyError, DeadlineError
from backend.daemon.limits import Call, Limiter
from backend.errors import PermissionDeniedError
from backend.rpc import PROTOCOL_VERSION, SERVICE_NAME, pb, pb_grpc
from testing.daemon import config_for, health_status, make_photos, make_style_dir, start_daemon

V = PROTOCOL_VERSION
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Any]:
    root = tmp_path / "root"
    return {"root": root, "photos": make_photos(root), "styles": make_style_dir(tmp_path / "styles", ("default",))}


def test_not_serving_until_styles_are_loaded(setup: dict[str, Any]) -> None:
    release = threading.Event()
    loaded: list[bool] = []

    def slow_load() -> None:
        assert release.wait(20)
        daemon.service.registry.load()
        loaded.append(True)

    daemon, ports = start_daemon(config_for(setup["root"], setup["styles"]), load_styles=slow_load)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
            assert health_status(channel) == NOT_SERVING
            assert health_status(channel, SERVICE_NAME) == NOT_SERVING
            with pytest.raises(urllib.error.HTTPError) as http_err:
                urllib.request.urlopen(f"http://127.0.0.1:{ports.http}/healthz", timeout=5)
            assert http_err.value.code == 503
            http_err.value.close()
            stub = pb_grpc.RetoucherStub(channel)
            req = pb.SuggestRequest(protocol_version=V, path=str(setup["photos"]["jpg"]))
            with pytest.raises(grpc.RpcError) as excinfo:
                stub.Suggest(req, timeout=10)
            assert excinfo.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
            release.set()
            assert daemon.wait_until_serving(20) and loaded == [True]
            deadline = time.monotonic() + 10
            while health_status(channel) != SERVING and time.monotonic() < deadline:
                time.sleep(0.05)
            assert health_status(channel, SERVICE_NAME) == SERVING
            with urllib.request.urlopen(f"http://127.0.0.1:{ports.http}/healthz", timeout=5) as r:
                assert r.status == 200
            assert stub.Suggest(req, timeout=30).suggestions
    finally:
        release.set()
        daemon.stop(0.5)


def test_shutdown_flips_health_before_stopping_the_server(setup: dict[str, Any]) -> None:
    daemon, ports = start_daemon(config_for(setup["root"], setup["styles"]))
    assert daemon.wait_until_serving(30)
    seen: list[int] = []
    with grpc.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
        first = next(watch)
        seen.append(first.status)
        stopper = threading.Thread(target=daemon.stop, args=(1.0,))
        stopper.start()
        try:
            for update in watch:
                seen.append(update.status)
        except grpc.RpcError:
            pass  # the stream ends when the server stops
        stopper.join(20)
    assert seen[0] == SERVING and NOT_SERVING in seen[1:]
    events = daemon.events
    assert events.index("health:NOT_SERVING", events.index("health:SERVING")) < events.index("grpc:stopped")
    assert events.index("bridge:stopped") < events.index("grpc:stopped")


def test_in_flight_call_finishes_during_grace(setup: dict[str, Any]) -> None:
    daemon, ports = start_daemon(config_for(setup["root"], setup["styles"], workers=1, queue=2))
    assert daemon.wait_until_serving(30)
    results: list[Any] = []
    limiter = daemon.service.limiter
    with grpc.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
        stub = pb_grpc.RetoucherStub(channel)
        req = pb.SuggestRequest(protocol_version=V, path=str(setup["photos"]["png"]))
        with limiter.admit(), limiter.slot(Call()):  # hold the only worker: the call waits in the queue
            caller = threading.Thread(target=lambda: results.append(stub.Suggest(req, timeout=30)))
            caller.start()
            deadline = time.monotonic() + 10
            while limiter.admitted < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            stopper = threading.Thread(target=daemon.stop, args=(10.0,))
            stopper.start()
            time.sleep(0.2)
        caller.join(30)
        stopper.join(30)
    assert len(results) == 1 and results[0].suggestions


def test_busy_and_deadline(setup: dict[str, Any]) -> None:
    daemon, ports = start_daemon(config_for(setup["root"], setup["styles"], workers=1, queue=0))
    assert daemon.wait_until_serving(30)
    limiter = daemon.service.limiter
    try:
        with grpc.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
            stub = pb_grpc.RetoucherStub(channel)
            req = pb.SuggestRequest(protocol_version=V, path=str(setup["photos"]["jpg"]))
            with limiter.admit(), limiter.slot(Call()):
                with pytest.raises(grpc.RpcError) as excinfo:
                    stub.Suggest(req, timeout=10)
                assert excinfo.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
                body = b'{"protocol_version": 1, "path": "%s"}' % str(setup["photos"]["jpg"]).encode()
                http = urllib.request.Request(
                    f"http://127.0.0.1:{ports.http}/v1/suggest", data=body, headers={"Content-Type": "application/json"}
                )
                with pytest.raises(urllib.error.HTTPError) as http_err:
                    urllib.request.urlopen(http, timeout=10)
                assert http_err.value.code == 429
                http_err.value.close()
                assert health_status(channel) == SERVING
            assert stub.Suggest(req, timeout=30).suggestions  # free again
    finally:
        daemon.stop(0.5)


def test_limiter_queue_and_deadline() -> None:
    limiter = Limiter(workers=1, queue=1)
    with limiter.admit(), limiter.slot(Call()), limiter.admit():
        start = time.monotonic()
        with pytest.raises(DeadlineError), limiter.slot(Call(timeout_s=0.3)):
            pass
        assert 0.25 <= time.monotonic() - start < 2.0
        with pytest.raises(BusyError), limiter.admit():
            pass
    assert limiter.admitted == 0 and limiter.running == 0


def test_token_is_required_when_configured(setup: dict[str, Any]) -> None:
    daemon, ports = start_daemon(config_for(setup["root"], setup["styles"], token="s3cret"))
    assert daemon.wait_until_serving(30)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
            stub = pb_grpc.RetoucherStub(channel)
            req = pb.ListStylesRequest(protocol_version=V)
            for meta in ((), (("authorization", "Bearer wrong"),)):
                with pytest.raises(grpc.RpcError) as excinfo:
                    stub.ListStyles(req, timeout=10, metadata=meta)
                assert excinfo.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
            assert stub.ListStyles(req, timeout=10, metadata=(("authorization", "Bearer s3cret"),)).styles
            assert stub.ListStyles(req, timeout=10, metadata=(("x-autoretouch-token", "s3cret"),)).styles
            assert health_status(channel) == SERVING  # health needs no token
        url = f"http://127.0.0.1:{ports.http}/v1/styles?protocol_version=1"
        with pytest.raises(urllib.error.HTTPError) as http_err:
            urllib.request.urlopen(url, timeout=5)
        assert http_err.value.code == 401
        http_err.value.close()
        ok = urllib.request.Request(url, headers={"Authorization": "Bearer s3cret"})
        with urllib.request.urlopen(ok, timeout=5) as r:
            assert r.status == 200
    finally:
        daemon.stop(0.5)


@pytest.mark.parametrize(
    ("host", "allow_remote", "token"),
    [("0.0.0.0", False, None), ("0.0.0.0", True, None), ("0.0.0.0", False, "t"), ("192.0.2.7", False, None)],
)
def test_non_loopback_needs_allow_remote_and_token(tmp_path: Path, host: str, allow_remote: bool, token: Any) -> None:
    config = DaemonConfig(host=host, port=0, http_port=None, allow_remote=allow_remote, token=token, roots=(tmp_path,))
    with pytest.raises(PermissionDeniedError, match="--allow-remote and --token"):
        create_server(config)


def test_missing_root_is_refused(tmp_path: Path) -> None:
    from backend.errors import NotFoundError

    with pytest.raises(NotFoundError):
        create_server(DaemonConfig(port=0, http_port=None, roots=(tmp_path / "nope",)))


def test_one_log_line_per_request_and_internal_errors_are_logged(
    setup: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="autoretouch.daemon")
    daemon, ports = start_daemon(config_for(setup["root"], setup["styles"]))
    assert daemon.wait_until_serving(30)

    def broken(*_: Any) -> Any:
        raise RuntimeError("boom in list_styles")

    try:
        with grpc.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
            stub = pb_grpc.RetoucherStub(channel)
            stub.Suggest(pb.SuggestRequest(protocol_version=V, path=str(setup["photos"]["jpg"])), timeout=30)
            daemon.service.list_styles = broken  # type: ignore[method-assign]
            with pytest.raises(grpc.RpcError) as excinfo:
                stub.ListStyles(pb.ListStylesRequest(protocol_version=V), timeout=10)
            assert excinfo.value.code() == grpc.StatusCode.INTERNAL  # type: ignore[attr-defined]
            assert "boom" not in (excinfo.value.details() or "")  # type: ignore[attr-defined]
            assert health_status(channel) == SERVING
    finally:
        daemon.stop(0.5)
    access = [r.getMessage() for r in caplog.records if r.name == "autoretouch.daemon.access"]
    suggest = [m for m in access if "rpc=Suggest" in m]
    assert len(suggest) == 1 and "code=OK" in suggest[0] and "transport=grpc" in suggest[0] and "ms=" in suggest[0]
    assert any("rpc=ListStyles" in m and "code=INTERNAL" in m for m in access)
    tracebacks = [r for r in caplog.records if r.exc_info and "boom in list_styles" in str(r.exc_info[1])]
    assert tracebacks


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_serve_command_stops_cleanly_on_sigterm_and_sigint(setup: dict[str, Any], name: str) -> None:
    import re
    import signal
    import subprocess
    import sys

    cmd = [
        sys.executable, "-m", "backend.cli.main", "serve", "--port", "0", "--http-port", "0",
        "--root", str(setup["root"]), "--styles", str(setup["styles"]), "--workers", "1",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"grpc=127\.0\.0\.1:(\d+) http=127\.0\.0\.1:(\d+)", line)
            port = int(match.group(1)) if match else None
        assert port is not None, "".join(lines)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            deadline = time.monotonic() + 30
            while health_status(channel) != SERVING and time.monotonic() < deadline:
                time.sleep(0.1)
            assert health_status(channel) == SERVING
        proc.send_signal(getattr(signal, name))
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    log = "".join(lines) + rest
    assert proc.returncode == 0, log
    assert f"received {name}" in log and log.rstrip().endswith("stopped")
    assert "interrupted" not in log and "Traceback" not in log
    assert "level=" not in log and "INFO autoretouch.daemon" in log


def test_serve_arguments_make_the_config(tmp_path: Path) -> None:
    from backend.cli.cmd_serve import config_from_args
    from backend.cli.main import build_parser

    args = build_parser().parse_args(
        ["serve", "--root", str(tmp_path), "--port", "0", "--no-http", "--token", "t", "--workers", "3"]
    )
    config = config_from_args(args)
    assert config.host == "127.0.0.1" and config.port == 0 and config.http_port is None
    assert config.roots == (tmp_path,) and config.token == "t" and config.workers == 3 and config.torch_threads == 1
    default = config_from_args(build_parser().parse_args(["serve"]))
    assert (default.port, default.http_port, default.roots) == (50051, 50052, ())
