"""Retraining a style without ``--run-dir`` goes to the next free ``runs/NAME-N``; earlier runs keep their files.

"I added edits, retrain": the second ``train --style s`` of a style whose ``runs/s`` holds a finished run trains
into ``runs/s-2`` (named in the summary), installs ``s@2`` over ``s@1`` (the old one kept in ``replaced/`` and its
run folder named), and leaves ``runs/s`` as it was. An explicit ``--run-dir`` that holds a trained style is still
refused (the user chose it). ``--resume`` continues the style's newest run folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from backend.agent.style import StyleStore
from backend.cli.main import main
from testing.training import folder_snapshot, tiny_gan_train_argv, tiny_pairs_run_here
from trainer.run_folder import default_run_dir


def _run_folder_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("  run folder: "))


def test_retraining_with_pairs_uses_the_next_run_folder_and_installs_the_next_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = tiny_pairs_run_here(tmp_path, monkeypatch)
    argv = ["train", "--style", "s", "--pairs", str(before), str(after), "--steps", "2", "--config", "tiny.toml"]
    argv += ["--install-dir", "styles", "--force", "--quiet"]

    assert main(argv) == 0
    first = capsys.readouterr().out
    assert _run_folder_line(first) == "  run folder: runs/s/"
    old = folder_snapshot(tmp_path / "runs" / "s")
    assert {"config.toml", "metrics.csv", "style/s.safetensors", "style/s.json"} <= set(old)
    assert StyleStore([tmp_path / "styles"]).load("s").model_version == 1

    assert main(argv) == 0  # retrain: was "runs/s: the run folder already holds a trained style", exit 3
    second = capsys.readouterr().out
    assert _run_folder_line(second) == "  run folder: runs/s-2/"
    assert folder_snapshot(tmp_path / "runs" / "s") == old  # the first run's files untouched
    new = folder_snapshot(tmp_path / "runs" / "s-2")
    assert {"config.toml", "metrics.csv", "style/s.safetensors", "style/s.json"} <= set(new)
    assert new["style/s.json"] != old["style/s.json"]  # its own style (created later)
    assert StyleStore([tmp_path / "styles"]).load("s").model_version == 2
    kept = load_file(tmp_path / "styles" / "replaced" / "s@1.safetensors")  # the first run's weights
    first_weights = load_file(tmp_path / "runs" / "s" / "style" / "s.safetensors")
    assert kept.keys() == first_weights.keys() and all(torch.equal(kept[k], first_weights[k]) for k in kept)
    replaced = [line for line in second.splitlines() if "s@1" in line and "replaced by s@2" in line]
    assert len(replaced) == 1 and f"trained in {(tmp_path / 'runs' / 's').resolve()}" in replaced[0], second

    # a third run, as JSON: runs/s-3, s@3
    assert main([*argv, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["run_dir"] == str(Path("runs") / "s-3")
    assert StyleStore([tmp_path / "styles"]).load("s").model_version == 3
    assert folder_snapshot(tmp_path / "runs" / "s-2") == new

    # an explicit --run-dir that holds a trained style is refused as before, and nothing in it changes
    for chosen in ("runs/s", "runs/s-2"):
        assert main([*argv, "--run-dir", chosen]) == 3
        err = capsys.readouterr().err
        assert f"{chosen}: the run folder already holds a trained style; use another --run-dir" in err
    assert folder_snapshot(tmp_path / "runs" / "s") == old and folder_snapshot(tmp_path / "runs" / "s-2") == new
    assert StyleStore([tmp_path / "styles"]).load("s").model_version == 3
    assert not (tmp_path / "runs" / "s-4").exists()


def test_retraining_a_gan_style_uses_the_next_run_folder_and_resume_continues_the_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = tiny_gan_train_argv(tmp_path, monkeypatch, "--seed", "3")

    assert main([*argv, "--steps", "2"]) == 0
    assert _run_folder_line(capsys.readouterr().out) == "  run folder: runs/g/"
    old = folder_snapshot(tmp_path / "runs" / "g")
    assert main([*argv, "--steps", "2"]) == 0  # was "the run folder already has checkpoints", exit 3
    assert _run_folder_line(capsys.readouterr().out) == "  run folder: runs/g-2/"
    assert folder_snapshot(tmp_path / "runs" / "g") == old
    assert StyleStore([tmp_path / "styles"]).load("g").model_version == 2

    # --resume continues the newest run (runs/g-2), not the first
    assert main([*argv, "--steps", "3", "--resume"]) == 0
    out = capsys.readouterr().out
    assert _run_folder_line(out) == "  run folder: runs/g-2/" and "trained style 'g': 3 steps" in out
    assert len((tmp_path / "runs" / "g-2" / "metrics.csv").read_text().splitlines()) == 1 + 3
    assert folder_snapshot(tmp_path / "runs" / "g") == old

    # an explicit --run-dir with checkpoints still needs --resume
    assert main([*argv, "--steps", "2", "--run-dir", "runs/g"]) == 3
    assert "runs/g: the run folder already has checkpoints; use --resume" in capsys.readouterr().err
    assert folder_snapshot(tmp_path / "runs" / "g") == old


def _finished(run: Path, style: str) -> None:
    """Make ``run`` look like a finished run of ``style`` (its config and a saved style)."""
    (run / "style").mkdir(parents=True)
    (run / "config.toml").write_text(f'[run]\nstyle = "{style}"\n', encoding="utf-8")
    (run / "style" / f"{style}.safetensors").write_bytes(b"x")


def test_the_default_run_folder_series(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert default_run_dir("s", runs=runs) == runs / "s"
    (runs / "s").mkdir(parents=True)
    (runs / "s" / "config.toml").write_text('[run]\nstyle = "s"\n', encoding="utf-8")
    assert default_run_dir("s", runs=runs) == runs / "s"  # an unfinished run: used again, as before
    (runs / "s" / "style").mkdir()
    (runs / "s" / "style" / "s.safetensors").write_bytes(b"x")
    assert default_run_dir("s", runs=runs) == runs / "s-2"
    assert default_run_dir("s", runs=runs, resume=True) == runs / "s"
    _finished(runs / "s-2", "s-2")  # the style "s-2"'s own run folder: not s's, and never used for it
    assert default_run_dir("s", runs=runs) == runs / "s-3"
    assert default_run_dir("s", runs=runs, resume=True) == runs / "s"
    assert default_run_dir("s-2", runs=runs) == runs / "s-2-2"
    _finished(runs / "s-3", "s")
    (runs / "s-4").mkdir()  # something else already there (no config, a file of the user's): skipped, never touched
    (runs / "s-4" / "notes.txt").write_text("mine", encoding="utf-8")
    assert default_run_dir("s", runs=runs) == runs / "s-5"
    assert default_run_dir("s", runs=runs, resume=True) == runs / "s-3"
    (runs / "s-10").mkdir()
    (runs / "s-10" / "config.toml").write_text('[run]\nstyle = "s"\n', encoding="utf-8")  # newest, unfinished
    assert default_run_dir("s", runs=runs) == runs / "s-10"
    assert default_run_dir("s", runs=runs, resume=True) == runs / "s-10"
