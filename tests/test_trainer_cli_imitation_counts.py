"""The imitation line of ``train --lrcat --expert``'s summary words its counts singular for one ("1 target")."""

from __future__ import annotations

from typing import Any

import pytest

from trainer.cli import _print_summary


def _summary(photos: int, targets: int) -> dict[str, Any]:
    imitation_summary = {"expert": "C", "photos": photos, "targets": targets, "fit_psnr": None}
    losses = {"ce": 1.0, "value": 0.5, "first_slider_accuracy": 0.5}
    return {
        "style": "s",
        "run_dir": "runs/s",
        "mode": "imitation",
        "steps": 1,
        "stopped_by": "steps",
        "style_path": None,
        "installed_path": None,
        "metrics": {},
        "imitation": {"summary": imitation_summary, "steps": 1, "before": losses, "after": losses},
    }


@pytest.mark.parametrize(("targets", "words"), [(1, "1 target"), (3, "3 targets"), (0, "0 targets")])
def test_the_imitation_line_counts_targets_in_the_singular_for_one(
    targets: int, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _print_summary(_summary(1, targets))
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"imitated expert C: 1 photo, {words}"
