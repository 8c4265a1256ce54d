"""trainer/summary_lines.py and its use by ``train --server``: the same metric lines as a local ``train``."""

from __future__ import annotations

import argparse

import pytest

from backend.rpc import pb
from trainer.remote_train import _print_trained
from trainer.summary_lines import metric_lines

PAIRS = {"val_psnr": 30.5, "val_psnr_identity": 25.25, "val_gain_db": 5.25, "val_unseen": 0.0, "pairs_fit_psnr": 68.4}


def test_pairs_scored_in_sample_say_so() -> None:
    lines = metric_lines(PAIRS, from_edits=True)
    assert lines[0] == (
        "  its training pairs (too few pairs to check on unseen ones), original -> edit: 30.50 dB PSNR, "
        "doing nothing 25.25 dB (+5.25 dB)"
    )
    assert "not checked on pairs it did not see" in lines[1]
    assert "68.4 dB on average; 0 poorly fitted" in lines[2]
    assert metric_lines({**PAIRS, "val_unseen": 1.0}, from_edits=True)[0].startswith("  pairs it did not see")
    assert metric_lines({}, from_edits=True) == []
    # a daemon leaves out metrics that are not finite: the lines that need them are left out, nothing fails
    assert metric_lines({"val_gain_db": 1.0, "look_dist_before": 0.3}, from_edits=False) == []


def test_favourites_lines_name_the_checkpoint() -> None:
    (line,) = metric_lines({**PAIRS, "val_unseen": 1.0, "best_step": 400.0}, from_edits=False)
    assert line.startswith("  held-out favourites, un-edited and restored: 30.50 dB") and "step 400" in line


def test_a_remote_training_prints_the_metric_lines_of_a_local_one(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(style="mine", json=False, pairs=None, favourites="picks", darktable=None)
    finished = pb.TrainFinished(run_dir="/runs/mine", steps=30, stopped_by="steps", metrics=PAIRS)
    _print_trained(args, finished)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "trained style 'mine': 30 steps (stopped by steps)"
    assert out[-3:] == metric_lines(PAIRS, from_edits=True)
