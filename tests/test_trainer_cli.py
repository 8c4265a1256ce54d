"""``autoretouch train``: the command trains, exports and installs a style, and resumes its run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.agent.style import StyleStore
from backend.cli.main import main
from testing.training import TINY_TOML
from trainer.synthetic import write_style_folders


def test_train_command_trains_installs_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=3, n_sources=1, n_heldout=0, size=24)
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    run, styles = tmp_path / "runs" / "cli", tmp_path / "styles"
    common = ["--style", "cli", "--targets", str(targets), "--run-dir", str(run), "--install-dir", str(styles)]
    rc = main(["train", *common, "--config", str(config), "--steps", "2", "--seed", "3", "--json", "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    out = json.loads(captured.out)
    assert rc == 0 and out["steps"] == 2 and out["stopped_by"] == "steps"
    assert Path(out["installed_path"]) == styles / "cli.safetensors"
    assert "seed = 3" in (run / "config.toml").read_text()
    style = StyleStore([styles]).load("cli")
    assert style.net.sliders == ("exposure", "tint") and style.model_version == 1
    assert style.training["sources"] == "built-in un-edited pool"

    # running again into the same folder needs --resume; --resume reuses the run's config and continues
    assert main(["train", *common, "--steps", "3", "--quiet"]) == 3
    capsys.readouterr()
    rc = main(["train", *common, "--resume", "--steps", "3", "--set", "rl.step_penalty=0.01", "--quiet"])
    assert rc == 0
    assert "trained style 'cli': 3 steps" in capsys.readouterr().out
    assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 3
    assert StyleStore([styles]).load("cli").model_version == 2  # retraining bumps the installed version


def test_bad_options_are_reported_with_an_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=2, n_sources=1, n_heldout=0, size=24)
    base = ["train", "--style", "x", "--targets", str(targets), "--run-dir", str(tmp_path / "r"), "--no-install"]
    assert main([*base, "--set", "critic.n_critic=lots"]) == 3
    assert "n_critic" in capsys.readouterr().err
    assert main([*base[:4], str(tmp_path / "missing"), *base[5:]]) == 6
    assert main(["train", "--style", "bad name!", "--targets", str(targets), "--run-dir", str(tmp_path / "b"),
                 "--no-install", "--steps", "1", "--set", "agent.thumb=16"]) == 3  # fmt: skip
    assert "style name" in capsys.readouterr().err


def test_restoration_style_worse_than_identity_exits_10_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=5, n_sources=1, n_heldout=0, size=24)
    styles = tmp_path / "styles"
    base = ["train", "--style", "r", "--targets", str(targets), "--install-dir", str(styles), "--steps", "3"]
    tiny = ["--set", "agent.thumb=16", "--set", "agent.width=8", "--set", "restore.pool_per_target=2", "--quiet"]
    impossible = ["--set", "restore.min_gain_db=99"]  # the restoration trainer is the default method
    rc = main([*base, "--run-dir", str(tmp_path / "a"), *tiny, *impossible])
    captured = capsys.readouterr()
    assert rc == 10, captured.err
    assert "not installed" in captured.err and "doing nothing" in captured.err and "--force" in captured.err
    assert "held-out favourites, un-edited and restored" in captured.out
    assert not (styles / "r.safetensors").exists()
    rc = main([*base, "--run-dir", str(tmp_path / "b"), *tiny, *impossible, "--force"])
    assert rc == 0 and (styles / "r.safetensors").is_file()
    assert StyleStore([styles]).load("r").net.oneshot
