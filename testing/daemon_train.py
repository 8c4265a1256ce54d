"""A test daemon that trains: tiny training inputs, a loopback daemon over them, and its JSON bridge's training calls.

Shared by ``tests/test_daemon_train_selection.py`` and ``tests/test_daemon_train_notes.py``; :data:`QUICK_RESTORE`
and :func:`wait_until_idle` also by ``tests/test_daemon_train_roots.py``, ``tests/test_daemon_remote_train.py`` and
``tests/test_daemon_train.py``.

* :data:`QUICK_RESTORE`: overrides that make a restoration run of the tiny inputs end in a second or two.
* :class:`TrainingDaemon`, :func:`training_daemon`: :func:`~testing.training.write_training_inputs` under a
  scratch folder and a daemon serving its root (one random ``default`` style, no photos of its own).
* :func:`bridge_call`: one HTTP request to the daemon's JSON bridge on loopback.
* :func:`train_status`, :func:`wait_until_not_running`: ``GET /v1/train/status``, polled until a background
  training ends.
* :func:`wait_until_idle`: wait until the daemon's training slot is free again.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testing.daemon import Served, serving
from testing.training import TrainingInputs, write_training_inputs

if TYPE_CHECKING:
    from backend.daemon import Daemon

__all__ = [
    "QUICK_RESTORE",
    "TrainingDaemon",
    "bridge_call",
    "train_status",
    "training_daemon",
    "wait_until_idle",
    "wait_until_not_running",
]

#: A restoration run (as ``section.key=value`` overrides on top of the tiny config) that ends in a second or two:
#: 2 pool crops per target, 16-px thumbnails, recipes fitted on 16-px thumbnails in 5 iterations, installed
#: whatever its check says.
QUICK_RESTORE: tuple[str, ...] = (
    "run.method=restore",
    "restore.pool_per_target=2",
    "agent.thumb=16",
    "restore.fit_size=16",
    "restore.fit_iters=5",
    "run.force=true",
)


@dataclass(frozen=True)
class TrainingDaemon:
    """What :func:`training_daemon` made.

    Attributes:
        inputs: the tiny favourites, pairs and config (under ``base/root``; the config is ``base/tiny.toml``).
        served: the started daemon serving ``base/root``.
        tiny: the config as ``section.key=value`` overrides (what a bridge request's ``overrides`` takes).
    """

    inputs: TrainingInputs
    served: Served
    tiny: list[str]

    @property
    def port(self) -> int:
        """The JSON bridge's HTTP port on 127.0.0.1."""
        assert self.served.ports.http is not None
        return self.served.ports.http

    @property
    def daemon(self) -> Daemon:
        """The daemon itself."""
        return self.served.daemon


@contextmanager
def training_daemon(base: Path) -> Iterator[TrainingDaemon]:
    """Write :func:`~testing.training.write_training_inputs` under ``base`` and serve ``base/root`` (HTTP bridge on,
    one random ``default`` style, no generated photos) until the ``with`` block ends."""
    from trainer.remote_train import config_overrides

    inputs = write_training_inputs(base)
    with serving(base, photos=False, style_names=("default",)) as served:
        yield TrainingDaemon(inputs, served, config_overrides(inputs.config))


def bridge_call(port: int, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    """One request to the JSON bridge at ``127.0.0.1:port`` (a JSON ``body`` if given; 120 s socket timeout).

    Returns:
        The HTTP status and the whole response body.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def train_status(port: int) -> dict[str, Any]:
    """``GET /v1/train/status`` (protocol 1), asserted to answer 200; its JSON."""
    code, raw = bridge_call(port, "GET", "/v1/train/status?protocol_version=1")
    assert code == 200, raw
    return json.loads(raw)


def wait_until_not_running(port: int, timeout: float = 120.0) -> dict[str, Any]:
    """Poll :func:`train_status` every 0.2 s until its state is no longer ``running``; that status.

    Raises:
        AssertionError: still running after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = train_status(port)
        if status["state"] != "running":
            return status
        time.sleep(0.2)
    raise AssertionError("the background training did not end")


def wait_until_idle(daemon: Daemon, timeout: float = 30.0) -> None:
    """Wait (polling every 0.05 s, at most ``timeout`` seconds) until ``daemon`` trains nothing; asserts it."""
    deadline = time.monotonic() + timeout
    while daemon.service.training.busy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not daemon.service.training.busy
