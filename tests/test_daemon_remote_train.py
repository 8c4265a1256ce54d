"""``autoretouch train --server``: :func:`trainer.remote_train.remote_train` against a real daemon and trainer.

The daemon runs its real training worker (``python -m trainer.daemon_worker``) on a tiny generated
favourites folder with a tiny configuration sent from a local ``--config`` file, so a training takes a few
seconds. The ``train`` parser does not have ``--server`` yet (``trainer/cli.py`` is wired separately), so
the tests parse a real ``train`` command line and add ``server``/``token`` as that option would.
"""

from __future__ import annotations

import _thread
import argparse
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.cli.main import build_parser
from backend.cli.server_options import RemoteOptionError
from backend.daemon.client import RemoteError
from backend.daemon.errors import BadRequestError
from backend.rpc import pb
from testing.daemon import serving
from testing.daemon_train import wait_until_idle
from testing.training import write_training_inputs
from trainer.remote_train import config_overrides, remote_train


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("remote_train")
    inputs = write_training_inputs(base)
    with serving(base, photos=False, style_names=("default",), http_port=None) as served:
        yield {"root": served.root, "targets": inputs.targets, "pairs": (inputs.before, inputs.after),
               "styles": served.styles, "config": inputs.config, "daemon": served.daemon, "server": served.server,
               "stub": served.stub}  # fmt: skip


def _args(env: dict[str, Any], *argv: str) -> argparse.Namespace:
    args = build_parser().parse_args(["train", "--targets", str(env["targets"]), "--config", str(env["config"]), *argv])
    args.server, args.token = env["server"], None
    return args


def _listed(env: dict[str, Any]) -> dict[str, Any]:
    styles = env["stub"].ListStyles(pb.ListStylesRequest(protocol_version=1), timeout=10).styles
    return {s.name: s for s in styles}


def test_config_file_becomes_typed_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[agent]\nsliders = ["exposure", "tint"]\nwidth = 8\n[rl]\nstep_penalty = 0.01\n[run]\nx = true\n')
    assert config_overrides(path) == [
        "agent.sliders=exposure,tint", "agent.width=8", "rl.step_penalty=0.01", "run.x=true"
    ]  # fmt: skip
    path.write_text("top = 1\n")
    with pytest.raises(BadRequestError, match="section"):
        config_overrides(path)


def test_remote_train_installs_a_style_the_daemon_lists(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert remote_train(_args(env, "--style", "remote_one", "--steps", "2", "--seed", "3", "--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["style"] == "remote_one" and out["steps"] == 2 and out["stopped_by"] == "steps"
    assert Path(out["installed_path"]) == env["styles"] / "remote_one.safetensors"
    assert Path(out["run_dir"]).parent == env["daemon"].config.run_dir
    assert "seed = 3" in (Path(out["run_dir"]) / "config.toml").read_text()  # --seed reached the trainer
    info = _listed(env)["remote_one"]
    assert info.loaded and info.model == "remote_one@1"
    assert list(info.agent["sliders"]) == ["exposure", "tint"]  # the local --config file reached the trainer
    wait_until_idle(env["daemon"], timeout=15.0)


def test_ctrl_c_cancels_the_training_and_the_daemon_keeps_serving(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    daemon = env["daemon"]
    seen: dict[str, Any] = {}

    def interrupt_once_training() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            proc = daemon.service.training.process
            if proc is not None:  # the worker runs: the daemon has started the training
                seen["pid"] = proc.pid
                time.sleep(0.3)
                _thread.interrupt_main()  # what Ctrl-C does
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=interrupt_once_training, daemon=True)
    watcher.start()
    with pytest.raises(KeyboardInterrupt):  # ``autoretouch`` turns it into exit status 130
        remote_train(_args(env, "--style", "cancelled", "--steps", "100000"))
    watcher.join()
    assert "pid" in seen and "cancelled (no style installed)" in capsys.readouterr().err
    wait_until_idle(env["daemon"], timeout=15.0)
    assert daemon.service.training.process is None and daemon.status == "SERVING"
    with pytest.raises(ProcessLookupError):
        os.kill(seen["pid"], 0)  # the worker was stopped
    assert "cancelled" not in _listed(env)  # the daemon still answers, and installed nothing


def test_options_the_daemon_decides_and_trainer_errors(env: dict[str, Any]) -> None:
    with pytest.raises(RemoteOptionError, match="--resume cannot be used with --server") as excinfo:
        remote_train(_args(env, "--style", "x", "--resume"))
    assert excinfo.value.exit_code == 2
    with pytest.raises(RemoteError, match="n_critic") as bad:  # the trainer's typed error, through the daemon
        remote_train(_args(env, "--style", "x", "--steps", "1", "--set", "critic.n_critic=lots"))
    assert bad.value.exit_code == 3 and bad.value.code == "INVALID_ARGUMENT"
    wait_until_idle(env["daemon"], timeout=15.0)


def test_a_restoration_style_worse_than_doing_nothing_is_reported_and_not_installed(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    restore = ["--set", "run.method=restore", "--set", "restore.pool_per_target=2", "--set", "agent.thumb=16"]
    impossible = ["--set", "restore.min_gain_db=99"]
    args = _args(env, "--style", "remote_bad", "--steps", "2", *restore, *impossible)
    assert remote_train(args) == 10
    captured = capsys.readouterr()
    assert "not installed" in captured.err and "doing nothing" in captured.err
    # as a local run says it: where the style stays, and that the threshold asked for more than doing nothing
    assert "short of the +99.00 dB that restore.min_gain_db asks for" in captured.err
    assert f"; it stays in {os.sep}" in captured.err and "(--force installs it anyway)" in captured.err
    style_line = [line for line in captured.out.splitlines() if line.startswith("  style:")]
    assert len(style_line) == 1 and style_line[0].endswith(f"style{os.sep}remote_bad.safetensors")
    assert "not installed" not in captured.out
    assert "remote_bad" not in _listed(env)
    wait_until_idle(env["daemon"], timeout=15.0)
    assert remote_train(_args(env, "--style", "remote_forced", "--steps", "2", *restore, *impossible, "--force")) == 0
    capsys.readouterr()
    info = _listed(env)["remote_forced"]
    assert info.loaded and info.agent["oneshot"] is True
    wait_until_idle(env["daemon"], timeout=15.0)


def test_remote_train_from_before_after_pairs(env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    before, after = (str(p) for p in env["pairs"])
    restore = ["--set", "run.method=restore", "--set", "restore.pool_per_target=2", "--set", "agent.thumb=16"]
    fit = ["--set", "restore.fit_size=16", "--set", "restore.fit_iters=5"]
    argv = ["train", "--pairs", before, after, "--config", str(env["config"]), "--style", "remote_pairs"]
    args = build_parser().parse_args([*argv, "--steps", "2", "--force", "--json", *restore, *fit])
    args.server, args.token = env["server"], None
    assert remote_train(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["learned_from"] == "pairs" and out["steps"] == 2
    assert out["metrics"]["pairs_fit_psnr"] > 0 and _listed(env)["remote_pairs"].loaded
    wait_until_idle(env["daemon"], timeout=15.0)
    both = build_parser().parse_args([*argv, "--targets", str(env["targets"]), "--steps", "2", *restore])
    both.server, both.token = env["server"], None
    with pytest.raises(RemoteError, match="not several") as bad:  # the daemon refuses a mixed request
        remote_train(both)
    assert bad.value.code == "INVALID_ARGUMENT"
    wait_until_idle(env["daemon"], timeout=15.0)


def test_remote_train_from_a_catalogs_favourites(env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    from testing.lrcat_fixtures import CatalogBuilder

    before, _ = env["pairs"]
    lrcat = env["root"] / "mine.lrcat"
    with CatalogBuilder(lrcat, schema="modern") as b:
        folder = b.add_folder(b.add_root(str(before) + "/"), "")
        for i in range(4):
            image = b.add_image(b.add_file(folder, f"p{i:03d}", "png"), file_format="PNG", pick=1)
            b.set_settings(image, {"ProcessVersion": "11.0", "Exposure2012": 0.5 + 0.1 * i}, compressed=True)
    restore = ["--set", "run.method=restore", "--set", "restore.pool_per_target=2", "--set", "agent.thumb=16"]
    fit = ["--set", "restore.fit_size=16", "--set", "restore.fit_iters=5"]
    argv = ["train", "--lrcat", str(lrcat), "--favourites", "picks", "--config", str(env["config"])]
    args = build_parser().parse_args(
        [*argv, "--style", "remote_lrcat", "--steps", "2", "--force", "--json", *restore, *fit]
    )
    args.server, args.token = env["server"], None
    assert remote_train(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["learned_from"] == "lightroom catalog" and _listed(env)["remote_lrcat"].loaded
    wait_until_idle(env["daemon"], timeout=15.0)
    outside = build_parser().parse_args(["train", "--lrcat", "/etc/passwd", "--favourites", "picks", "--style", "x"])
    outside.server, outside.token = env["server"], None
    with pytest.raises(RemoteError) as refused:  # the catalog must lie under the daemon's roots
        remote_train(outside)
    assert refused.value.code == "PERMISSION_DENIED"
    wait_until_idle(env["daemon"], timeout=15.0)


def test_remote_train_from_darktable_edits_is_checked_by_the_daemon(env: dict[str, Any]) -> None:
    outside = build_parser().parse_args(["train", "--darktable", "/etc", "--style", "x", "--steps", "1"])
    outside.server, outside.token = env["server"], None
    with pytest.raises(RemoteError) as refused:  # the folder must lie under the daemon's roots
        remote_train(outside)
    assert refused.value.code == "PERMISSION_DENIED"
    mixed = build_parser().parse_args(
        ["train", "--darktable", str(env["pairs"][0]), "--targets", str(env["targets"]), "--style", "x"]
    )
    mixed.server, mixed.token = env["server"], None
    with pytest.raises(RemoteError, match="not several") as bad:
        remote_train(mixed)
    assert bad.value.code == "INVALID_ARGUMENT"
    wait_until_idle(env["daemon"], timeout=15.0)
