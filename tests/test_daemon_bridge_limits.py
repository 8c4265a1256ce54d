"""The JSON bridge under many idle connections and clients that hang up (real daemon on loopback)."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.daemon import config_for, make_photos, make_style_dir, start_daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Any, int]]:
    root = tmp_path / "root"
    make_photos(root)
    d, ports = start_daemon(config_for(root, make_style_dir(tmp_path / "styles"), workers=1, queue=1))
    assert d.wait_until_serving(30)
    yield d, ports.http
    d.stop(0.5)


def _ask(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_health_answers_while_idle_connections_fill_the_cap(daemon: tuple[Any, int]) -> None:
    _, port = daemon
    idle = []
    try:
        for _ in range(40):  # far more than workers + queue + spare threads
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        time.sleep(0.3)
        health = _ask(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert health.startswith(b"HTTP/1.1 200"), health[:80]
        assert json.loads(health.split(b"\r\n\r\n", 1)[1])["status"] == "SERVING"
        styles = _ask(port, b"GET /v1/styles?protocol_version=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert styles.startswith(b"HTTP/1.1 429")
    finally:
        for s in idle:
            s.close()


def test_a_client_that_hangs_up_leaves_no_traceback(
    daemon: tuple[Any, int], caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    _, port = daemon
    request = b"GET /v1/styles?protocol_version=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 200
    with caplog.at_level(logging.DEBUG, logger="autoretouch"):
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
            s.sendall(request)
            s.close()
        time.sleep(0.5)
    assert "Traceback" not in capfd.readouterr().err
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
