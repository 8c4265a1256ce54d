"""backend/cli/main.py: how the command line ends (exit statuses that no single command owns)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from backend.cli import cmd_sliders
from backend.cli.main import EXIT_BROKEN_PIPE, build_parser, main

_RUN = "import sys; from backend.cli.main import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize("argv", [["sliders"], ["sliders", "--json"]])
def test_a_reader_that_went_away_stops_the_command_quietly(argv: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # like `| head -1` once it has its line: every write now fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _RUN, *argv], stdout=write, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write)
    assert proc.returncode == EXIT_BROKEN_PIPE, proc.stderr
    assert proc.stderr == ""  # no traceback, no "internal error", no "Exception ignored" at exit


def test_a_broken_pipe_that_is_not_stdouts_is_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def gone(args: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")  # e.g. a pipe to a helper process, while stdout is fine

    monkeypatch.setattr(cmd_sliders, "run", gone)
    assert main(["sliders"]) == 1
    assert "internal error" in capsys.readouterr().err


def test_a_command_started_with_stdout_closed_still_succeeds() -> None:
    proc = subprocess.run(
        ["bash", "-c", f'"{sys.executable}" -c "{_RUN}" sliders >&-'], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "internal error" not in proc.stderr


def test_every_command_with_an_epilog_keeps_its_line_breaks() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    with_epilog = {name: parser for name, parser in sub.choices.items() if parser.epilog is not None}
    assert with_epilog  # train, eval, ... have examples laid out by hand
    for name, parser in with_epilog.items():
        assert parser.formatter_class is argparse.RawDescriptionHelpFormatter, name
