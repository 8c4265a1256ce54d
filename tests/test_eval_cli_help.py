"""``eval --help`` states the exit status of a run where some pairs failed and of one where all did."""

from __future__ import annotations

import pytest

from backend.cli.main import main


def test_help_names_both_failure_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["eval", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "9 when some pairs failed" in text
    assert "the error's own status when all did" in text
    assert "Exit status 9 means some pairs failed" not in text
