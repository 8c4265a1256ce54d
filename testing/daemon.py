"""A real daemon for tests: throw-away styles and photos, a loopback server, and CLI runs against it.

* :func:`make_style_dir`, :func:`make_photos`: the daemon's style folder and its root of small photos.
* :func:`make_outside`: a folder next to the root (outside it) holding a copy of a photo.
* :func:`config_for`, :func:`start_daemon`: a :class:`~backend.daemon.DaemonConfig` on free loopback ports
  and a started daemon.
* :func:`serving`: all of that at once: a daemon over ``base/root`` (with :func:`make_photos`, and
  :func:`make_outside` if asked) and random styles, serving until the ``with`` block ends, and a gRPC channel to
  it (:attr:`Served.channel`, :attr:`Served.stub`).
* :func:`health_status`: the gRPC health check's answer.
* :func:`use_daemon_env`, :func:`run_main`: run ``autoretouch`` in-process from the daemon's root, with its
  styles, and capture what it printed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from backend.cli.main import main
from backend.daemon import Daemon, DaemonConfig, Ports, create_server
from backend.rpc import pb_grpc
from testing.styles import save_random_style

__all__ = [
    "Served",
    "config_for",
    "health_status",
    "make_outside",
    "make_photos",
    "make_style_dir",
    "run_main",
    "serving",
    "start_daemon",
    "use_daemon_env",
]


def make_style_dir(directory: Path, names: tuple[str, ...] = ("default", "warm")) -> Path:
    """Random seeded styles (no trained default exists) in ``directory``."""
    for i, name in enumerate(names):
        save_random_style(directory, name, 100 + i, description=f"test style {name}")
    return directory


def make_photos(folder: Path) -> dict[str, Path]:
    """Small generated photos: JPEG, PNG, a truncated JPEG, a non-image, a too-large PNG, a nested one."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    image = (rng.random((48, 64, 3)) * 200 + 20).astype(np.uint8)
    photos = {"jpg": folder / "a.jpg", "png": folder / "b.png"}
    assert cv2.imwrite(str(photos["jpg"]), image)
    assert cv2.imwrite(str(photos["png"]), image[:, ::-1].copy())
    data = photos["jpg"].read_bytes()
    photos["truncated"] = folder / "truncated.jpg"
    photos["truncated"].write_bytes(data[: len(data) // 3])
    photos["text"] = folder / "notes.png"
    photos["text"].write_text("this is not a photo\n")
    (folder / "big").mkdir(exist_ok=True)
    photos["big"] = folder / "big" / "huge.png"
    assert cv2.imwrite(str(photos["big"]), np.zeros((1100, 1000, 3), np.uint8))
    (folder / "sub").mkdir(exist_ok=True)
    photos["nested"] = folder / "sub" / "c.jpg"
    assert cv2.imwrite(str(photos["nested"]), image[::-1].copy())
    return photos


def make_outside(base: Path, photo: Path) -> Path:
    """``base/outside/`` (created; must not exist yet) holding a copy of ``photo`` as ``secret.jpg``."""
    outside = base / "outside"
    outside.mkdir()
    shutil.copy(photo, outside / "secret.jpg")
    return outside


def start_daemon(config: DaemonConfig, **kwargs: Any) -> tuple[Daemon, Ports]:
    """Create and start a daemon (``kwargs`` go to :func:`~backend.daemon.create_server`)."""
    daemon, ports = create_server(config, **kwargs)
    daemon.start()
    return daemon, ports


def config_for(root: Path, styles: Path, **overrides: Any) -> DaemonConfig:
    """A config serving ``root`` with the styles in ``styles`` on free ports, 2 workers, 1 MP pixel limit."""
    base: dict[str, Any] = {
        "port": 0,
        "http_port": 0,
        "roots": (root,),
        "style_dirs": (styles,),
        "workers": 2,
        "queue": 8,
        "max_request_bytes": 1 << 20,
        "max_pixels": 1_000_000,
        "grace_s": 1.0,
        "run_dir": root.parent / "runs",
    }
    return DaemonConfig(**(base | overrides))


@dataclass(frozen=True)
class Served:
    """A started test daemon (see :func:`serving`).

    Attributes:
        root: the folder it serves (``base/root``).
        styles: its style folder (``base/styles``).
        daemon: the daemon.
        ports: its gRPC and HTTP ports.
        channel: an insecure gRPC channel to :attr:`server`, open while the daemon serves (the tests' one way
            to talk to it; a test that needs a channel of its own opens it itself).
        photos: what :func:`make_photos` wrote under ``root`` (empty when asked for no photos).
        outside_dir: :func:`make_outside`'s folder when asked for (see :attr:`outside`), else None.
    """

    root: Path
    styles: Path
    daemon: Daemon
    ports: Ports
    channel: grpc.Channel
    photos: dict[str, Path] = field(default_factory=dict)
    outside_dir: Path | None = None

    @property
    def server(self) -> str:
        """The gRPC address, ``127.0.0.1:PORT`` (what ``--server`` takes)."""
        return f"127.0.0.1:{self.ports.grpc}"

    @property
    def stub(self) -> pb_grpc.RetoucherStub:
        """The Retoucher service's stub on :attr:`channel`."""
        return pb_grpc.RetoucherStub(self.channel)

    @property
    def outside(self) -> Path:
        """``base/outside``, holding the JPEG photo as ``secret.jpg`` (only with ``serving(..., outside=True)``)."""
        assert self.outside_dir is not None, "serving(..., outside=True) makes the outside folder"
        return self.outside_dir


@contextmanager
def serving(
    base: Path,
    *,
    photos: bool = True,
    outside: bool = False,
    style_names: tuple[str, ...] = ("default", "warm"),
    **overrides: Any,
) -> Iterator[Served]:
    """A daemon serving ``base/root`` with random styles in ``base/styles``, started and serving (within 30 s) on
    entry and stopped (grace 0.5 s) on exit, with a gRPC channel to it (:attr:`Served.channel`, its
    Retoucher stub :attr:`Served.stub`) opened on entry and closed on exit, before the daemon stops.

    Args:
        base: a scratch folder; ``base/root`` may already hold the test's files.
        photos: write :func:`make_photos` into the root first (else the root is only created).
        outside: also make :func:`make_outside`'s ``base/outside`` with a copy of the JPEG photo
            (:attr:`Served.outside`; needs ``photos``).
        style_names: the styles :func:`make_style_dir` writes.
        overrides: :func:`config_for` settings (``token``, ``http_port=None``, ``workers`` ...).

    Raises:
        ValueError: ``outside=True`` with ``photos=False`` (the outside folder copies the root's JPEG photo).
    """
    if outside and not photos:
        raise ValueError("serving(outside=True) copies the root's JPEG photo into base/outside: it needs photos=True")
    root = base / "root"
    made = make_photos(root) if photos else {}
    root.mkdir(parents=True, exist_ok=True)
    outside_dir = make_outside(base, made["jpg"]) if outside else None
    styles = make_style_dir(base / "styles", style_names)
    daemon, ports = start_daemon(config_for(root, styles, **overrides))
    try:
        assert daemon.wait_until_serving(30)
        with grpc.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
            yield Served(root, styles, daemon, ports, channel, made, outside_dir)
    finally:
        daemon.stop(0.5)


def health_status(channel: grpc.Channel, service: str = "") -> int:
    """The health service's status for ``service`` ("" = the whole server)."""
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


def use_daemon_env(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Work from ``env["root"]`` with the daemon's styles (``env["styles"]``) and no token in the environment."""
    monkeypatch.chdir(env["root"])
    monkeypatch.setenv("AUTORETOUCH_STYLES", str(env["styles"]))
    monkeypatch.delenv("AUTORETOUCH_TOKEN", raising=False)
    return env


def run_main(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    """Run ``autoretouch ARGV`` in-process; returns ``(exit status, stdout, stderr)``."""
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err
