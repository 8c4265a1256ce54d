"""Ctrl-C during ``autoretouch train``: ``autoretouch: interrupted``, exit status 130, never a traceback, never lost.

A SIGINT while the command starts (importing torch and numpy, building the parser) is recorded, not raised (a
``KeyboardInterrupt`` there left half-imported modules: "module 'numpy' has no attribute 'matrix'"); one that a
library swallows still ends the command with 130; and a training that was interrupted never installs its style.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.cli import main as cli_main
from testing.training import config_with
from trainer.synthetic import write_style_folders
from trainer.train import train

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals"),
]


def _parser_running(func: object) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autoretouch")
    parser.set_defaults(func=func)
    return parser


@pytest.fixture
def python_sigint() -> None:
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("the test runner handles SIGINT itself")


@pytest.mark.usefixtures("python_sigint")
def test_an_interrupt_a_library_swallows_still_ends_the_command_with_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def swallowing(_args: argparse.Namespace) -> int:
        try:  # as some libraries do while importing
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        except BaseException:
            pass
        return 0

    monkeypatch.setattr(cli_main, "build_parser", lambda: _parser_running(swallowing))
    assert cli_main.main([]) == 130
    assert capsys.readouterr().err == "autoretouch: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back after an in-process call


@pytest.mark.usefixtures("python_sigint")
def test_an_interrupt_while_starting_is_not_raised_in_the_middle_of_imports(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[bool] = []

    def building() -> argparse.ArgumentParser:  # stands for the imports of the commands
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        return _parser_running(lambda _args: ran.append(True) or 0)

    monkeypatch.setattr(cli_main, "build_parser", building)
    try:
        code = cli_main.main([])
    except KeyboardInterrupt:
        pytest.fail("the Ctrl-C was raised while the command was starting")
    assert code == 130
    assert ran == [] and capsys.readouterr().err == "autoretouch: interrupted\n"


def test_an_interrupted_training_does_not_install_its_style(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=2, n_sources=1, size=40, seed=5)
    cfg = config_with({
        "agent": {"sliders": ["exposure"], "width": 8, "thumb": 32, "dropout": 0.0},
        "data": {"crops_per_image": 1, "eval_size": 48},
        "restore": {"batch": 4, "pool_per_target": 2, "eval_every": 2, "val_unedits": 1},
        "run": {"style": "cut", "steps": 2, "seed": 0, "threads": 1, "log_every": 1},
    })  # fmt: skip
    monkeypatch.setattr(cli_main._Interrupts, "seen", True)  # a Ctrl-C that a library swallowed
    styles = tmp_path / "styles"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, targets=targets, run_dir=tmp_path / "run", install_dir=styles)
    assert not (styles / "cut.safetensors").exists()
    assert (tmp_path / "run" / "style" / "cut.safetensors").is_file()  # kept in the run folder


@pytest.mark.parametrize("delay", [0.3, 0.6, 1.0])
def test_ctrl_c_early_in_train_gives_interrupted_and_130(tmp_path: Path, delay: float) -> None:
    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=2, n_sources=1, size=40, seed=6)
    env = os.environ | {"AUTORETOUCH_STYLES": str(tmp_path / "styles"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "backend", "train", "--style", "zq", "--targets", str(targets), "--steps", "100000",
               "--run-dir", str(tmp_path / "run"), "--threads", "1"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and err.rstrip().endswith("autoretouch: interrupted"), err[-2000:]
    assert not (tmp_path / "styles" / "zq.safetensors").exists()
