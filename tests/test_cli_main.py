"""backend/cli/main.py: how the command line ends (exit statuses that no single command owns)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from backend.cli import cmd_sliders
from backend.cli.main import EXIT_BROKEN_PIPE, main

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


def test_broken_pipe_in_a_command_is_not_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def gone(args: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cmd_sliders, "run", gone)
    assert main(["sliders"]) == EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""
