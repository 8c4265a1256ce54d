"""TrainStyle: streamed progress, the new style installed and served, cancellation kills the worker, one at a time.

A real training takes minutes, so the daemon is pointed at a stand-in worker (written below) that speaks
the worker protocol of ``trainer.daemon_worker``; the real worker's wiring to the trainer is checked
on a failing run (empty favourites folder), which ends quickly.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import grpc
import pytest

from backend.rpc import pb, pb_grpc
from testing.daemon import config_for, make_photos, make_style_dir, start_daemon
from testing.daemon_train import wait_until_idle
from trainer import daemon_worker as train_worker

FAKE_WORKER = """
import json, os, sys, time
spec = json.load(open(sys.argv[1]))
mode = dict(o.split("=", 1) for o in spec["overrides"]).get("fake.mode", "finish")
def emit(event):
    sys.stdout.write(json.dumps(event) + "\\n"); sys.stdout.flush()
if mode == "fail":
    emit({"event": "error", "code": "NOT_FOUND", "message": "no photos in the favourites", "type": "NotFoundError",
          "exit_code": 6})
    sys.exit(6)
steps = spec["steps"] or 3
for step in range(1, steps + 1 if mode == "finish" else 10**6):
    emit({"event": "progress", "phase": "training", "step": step, "total_steps": steps,
          "metrics": {"pid": os.getpid(), "wasserstein": 0.5 / step}})
    time.sleep(0.05 if mode == "finish" else 0.1)
import torch
from backend.agent.network import AgentNet
from backend.agent.style import Style, save_style
torch.manual_seed(7)
save_style(Style(name=spec["name"], net=AgentNet().eval(), description=spec["description"]), spec["install_dir"])
emit({"event": "finished", "run_dir": spec["run_dir"], "steps": steps, "stopped_by": "steps",
      "metrics": {"look_dist_after": 0.25}})
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("train")
    root = base / "root"
    photos = make_photos(root)
    styles = make_style_dir(base / "styles", ("default",))
    worker = base / "fake_worker.py"
    worker.write_text(FAKE_WORKER)
    config = config_for(root, styles, train_command=(sys.executable, str(worker)))
    daemon, ports = start_daemon(config)
    assert daemon.wait_until_serving(30)
    channel = grpc.insecure_channel(f"127.0.0.1:{ports.grpc}")
    yield {"root": root, "photos": photos, "daemon": daemon, "stub": pb_grpc.RetoucherStub(channel)}
    channel.close()
    daemon.stop(0.5)


def _request(env: dict[str, Any], name: str, mode: str, steps: int = 3) -> pb.TrainStyleRequest:
    return pb.TrainStyleRequest(
        protocol_version=1,
        name=name,
        favourites=str(env["root"]),
        steps=steps,
        description=f"trained in a test ({mode})",
        overrides=[f"fake.mode={mode}"],
    )


def test_train_streams_progress_installs_and_serves_the_style(env: dict[str, Any]) -> None:
    stub = env["stub"]
    messages = list(stub.TrainStyle(_request(env, "mine", "finish", steps=4), timeout=60))
    kinds = [m.WhichOneof("event") for m in messages]
    assert kinds[-1] == "finished" and kinds.count("finished") == 1
    steps = [m.progress.step for m in messages if m.WhichOneof("event") == "progress"]
    assert steps == [0, 1, 2, 3, 4] and messages[1].progress.total_steps == 4
    assert messages[2].progress.metrics["wasserstein"] == pytest.approx(0.25)
    done = messages[-1]
    assert done.finished.steps == 4 and done.finished.style.name == "mine" and done.finished.style.loaded
    assert done.model_version == "mine@1" and done.finished.metrics["look_dist_after"] == pytest.approx(0.25)
    assert Path(done.finished.run_dir).parent == env["daemon"].config.run_dir
    listed = {s.name for s in stub.ListStyles(pb.ListStylesRequest(protocol_version=1), timeout=10).styles}
    assert "mine" in listed
    resp = stub.Suggest(pb.SuggestRequest(protocol_version=1, path=str(env["photos"]["jpg"]), style="mine"), timeout=30)
    assert resp.model_version == "mine@1"
    wait_until_idle(env["daemon"], timeout=15.0)


def test_cancelling_the_call_kills_the_worker_and_installs_nothing(env: dict[str, Any]) -> None:
    stub = env["stub"]
    call = stub.TrainStyle(_request(env, "cancelled", "slow"))
    pid = None
    for message in call:
        if message.progress.step >= 2:
            pid = int(message.progress.metrics["pid"])
            break
    assert pid is not None
    # while it runs, a second training is refused
    with pytest.raises(grpc.RpcError) as excinfo:
        list(stub.TrainStyle(_request(env, "second", "finish"), timeout=10))
    assert excinfo.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    call.cancel()
    wait_until_idle(env["daemon"], timeout=15.0)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    listed = {s.name for s in stub.ListStyles(pb.ListStylesRequest(protocol_version=1), timeout=10).styles}
    assert "cancelled" not in listed


def test_worker_errors_keep_their_status(env: dict[str, Any]) -> None:
    with pytest.raises(grpc.RpcError) as excinfo:
        list(env["stub"].TrainStyle(_request(env, "failing", "fail"), timeout=30))
    assert excinfo.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    meta = dict(excinfo.value.trailing_metadata())  # type: ignore[attr-defined]
    assert meta["autoretouch-error-type"] == "NotFoundError" and meta["autoretouch-exit-code"] == "6"
    wait_until_idle(env["daemon"], timeout=15.0)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"name": "../evil"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"favourites": "/etc"}, grpc.StatusCode.PERMISSION_DENIED),
        ({"favourites": "MISSING"}, grpc.StatusCode.NOT_FOUND),
        ({"minutes": -1.0}, grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_bad_train_requests(env: dict[str, Any], changes: dict[str, Any], code: grpc.StatusCode) -> None:
    req = _request(env, "bad", "finish")
    for key, value in changes.items():
        setattr(req, key, str(env["root"] / "missing") if value == "MISSING" else value)
    with pytest.raises(grpc.RpcError) as excinfo:
        list(env["stub"].TrainStyle(req, timeout=10))
    assert excinfo.value.code() == code  # type: ignore[attr-defined]


def test_real_worker_reports_trainer_errors_as_typed_events(tmp_path: Path) -> None:
    empty = tmp_path / "favourites"
    empty.mkdir()
    spec = {
        "name": "w",
        "favourites": str(empty),
        "sources": None,
        "steps": 2,
        "minutes": 0,
        "description": "d, with = signs",
        "overrides": ["agent.thumb=32"],
        "run_dir": str(tmp_path / "run"),
        "install_dir": str(tmp_path / "styles"),
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    out = io.StringIO()
    with redirect_stdout(out):
        status = train_worker.main([str(tmp_path / "spec.json")])
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events[0]["event"] == "progress" and events[0]["total_steps"] == 2
    assert events[-1]["event"] == "error" and events[-1]["code"] == "NOT_FOUND" and status == 6
    assert not (tmp_path / "styles").exists()
