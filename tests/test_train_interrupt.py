"""Ctrl-C during ``autoretouch train``: ``autoretouch: interrupted``, exit status 130, never a traceback, never lost.

A SIGINT while the command starts (importing torch and numpy, building the parser) is recorded, not raised (a
``KeyboardInterrupt`` there left half-imported modules: "module 'numpy' has no attribute 'matrix'"), and a second
one stops a start-up that hangs; one that a library swallows still ends the command with 130; a training that was
interrupted never installs its style. ``main`` takes SIGINT over only while it runs: importing the module changes
nothing, and Python's own handler is back when it returns (a hang at the interpreter's exit stops on Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.cli import main as cli_main
from testing.training import two_step_restore_config
from trainer.result import refuse_if_interrupted
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
def python_sigint() -> Iterator[None]:
    """Python's own SIGINT handler in place, and put back afterwards (a failing test must not leave ours behind)."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("the test runner handles SIGINT itself")
    yield
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cli_main._Interrupts.seen = cli_main._Interrupts.raising = cli_main._Interrupts.active = False


@pytest.mark.usefixtures("python_sigint")
def test_an_interrupt_a_library_swallows_still_ends_the_command_with_130_and_is_then_forgotten(
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
    # and the Ctrl-C is forgotten: a notebook's later ``trainer.train(...)`` is not refused installation for it
    assert not cli_main.interrupted()
    refuse_if_interrupted()


@pytest.mark.usefixtures("python_sigint")
def test_main_gives_python_its_own_handler_back_where_it_found_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "build_parser", lambda: _parser_running(lambda _args: 0))
    signal.signal(signal.SIGINT, cli_main._Interrupts.handler)  # as left by an entry point that took it over
    try:
        assert cli_main.main([]) == 0
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.mark.usefixtures("python_sigint")
def test_a_second_ctrl_c_stops_a_start_up_that_hangs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[str] = []

    def hanging() -> argparse.ArgumentParser:  # an import that hangs; the user presses Ctrl-C twice
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.05)
        ran.append("hung through")
        return _parser_running(lambda _args: ran.append("command") or 0)

    monkeypatch.setattr(cli_main, "build_parser", hanging)
    assert cli_main.main([]) == 130
    assert ran == [] and capsys.readouterr().err == "autoretouch: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("python_sigint")
def test_a_nested_main_gives_back_exactly_the_handler_it_found_and_keeps_the_commands_state(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    after: list[object] = []

    def outer(_args: argparse.Namespace) -> int:
        cli_main._Interrupts.seen = True  # a Ctrl-C a library swallowed during the outer command
        monkeypatch.setattr(cli_main, "build_parser", lambda: _parser_running(lambda _args: 0))
        code = cli_main.main([])  # 130: the inner one sees the outer command's Ctrl-C too
        after.append(signal.getsignal(signal.SIGINT))
        after.append((cli_main._Interrupts.seen, cli_main._Interrupts.raising, cli_main.interrupted()))
        return code

    monkeypatch.setattr(cli_main, "build_parser", lambda: _parser_running(outer))
    assert cli_main.main([]) == 130  # the outer command's Ctrl-C is not forgotten by the inner main()
    assert after == [cli_main._Interrupts.handler, (True, True, True)]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert not cli_main.interrupted()
    capsys.readouterr()


@pytest.mark.usefixtures("python_sigint")
def test_main_in_another_thread_leaves_the_running_commands_state_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    states: list[tuple[bool, bool, bool]] = []

    def in_thread() -> None:
        monkeypatch.setattr(cli_main, "build_parser", lambda: _parser_running(lambda _args: 0))
        assert cli_main.main([]) == 0  # it cannot set a handler there, takes nothing over, and runs
        states.append((cli_main._Interrupts.seen, cli_main._Interrupts.raising, cli_main.interrupted()))

    def command(_args: argparse.Namespace) -> int:
        cli_main._Interrupts.seen = True  # a Ctrl-C a library swallowed
        thread = threading.Thread(target=in_thread)
        thread.start()
        thread.join()
        return 0

    monkeypatch.setattr(cli_main, "build_parser", lambda: _parser_running(command))
    assert cli_main.main([]) == 130
    # in the thread: the command's record and raising stay; interrupted() is False there (not the command's thread)
    assert states == [(True, True, False)]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_of_the_command_never_refuses_an_install_asked_from_another_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ``serve`` after a swallowed Ctrl-C: the daemon's threads (its training is a worker process of its own) never
    # consult the command's record
    monkeypatch.setattr(cli_main._Interrupts, "seen", True)
    errors: list[BaseException] = []

    def install() -> None:
        try:
            refuse_if_interrupted()
        except BaseException as exc:  # KeyboardInterrupt included
            errors.append(exc)

    thread = threading.Thread(target=install)
    thread.start()
    thread.join()
    assert errors == []
    with pytest.raises(KeyboardInterrupt):  # the command's own thread still refuses
        refuse_if_interrupted()


def _script(tmp_path: Path, body: str) -> subprocess.Popen[str]:
    """Run ``body`` as a script named like the command's own (``autoretouch_tool.py``), from the repository."""
    script = tmp_path / "autoretouch_tool.py"
    script.write_text(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n{body}", encoding="utf-8")
    return subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_script_that_imports_the_cli_keeps_its_ctrl_c(tmp_path: Path) -> None:
    proc = _script(
        tmp_path,
        """\
import os, signal, time
import backend.cli.main
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
    print("swallowed")
except KeyboardInterrupt:
    print("raised")
""",
    )
    out, err = proc.communicate(timeout=60)
    assert out.strip() == "raised", err


def test_a_ctrl_c_at_the_commands_exit_stops_a_thread_it_waits_for(tmp_path: Path) -> None:
    # a worker still running when the command returns (the batch's "second Ctrl-C: abort now"): the
    # interpreter's exit joins it (concurrent.futures' exit hook); one Ctrl-C there stops the wait
    proc = _script(
        tmp_path,
        """\
import argparse, concurrent.futures, threading, time
from backend.cli import main as cli

def command(_args):
    pool = concurrent.futures.ThreadPoolExecutor(1)
    pool.submit(time.sleep, 60)
    pool.shutdown(wait=False)
    threading._register_atexit(lambda: print("exiting", flush=True))  # runs before the pool's join
    return 0

def parser():
    p = argparse.ArgumentParser()
    p.set_defaults(func=command)
    return p

cli.build_parser = parser
sys.exit(cli.main([]))
""",
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "exiting"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert time.monotonic() - started < 20


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
    cfg = two_step_restore_config("cut")
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
