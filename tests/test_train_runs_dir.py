"""``train --runs-dir RUNS``: the default run folders' series in RUNS (RUNS/NAME, RUNS/NAME-2, ...), not ./runs.

The darktable plug-in keeps its trainings in darktable's cache folder this way, so that training a style a second
time from the same name goes to the next free folder (as without the option) instead of being refused as an
explicit ``--run-dir`` holding a trained style. ``--resume`` continues the style's newest run folder in RUNS.
``--runs-dir`` and ``--run-dir`` exclude each other; with ``--server`` it is refused (the daemon keeps its own).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.agent.style import StyleStore
from backend.cli.main import main
from testing.training import tiny_gan_train_argv, tiny_pairs_run_here


def test_two_pairs_runs_with_runs_dir_go_to_name_then_name_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = tiny_pairs_run_here(tmp_path, monkeypatch)
    runs = tmp_path / "cache" / "autoretouch" / "runs"  # not there yet: made with the first run folder
    argv = ["train", "--style", "s", "--pairs", str(before), str(after), "--steps", "2", "--config", "tiny.toml"]
    argv += ["--install-dir", "styles", "--force", "--quiet", "--json", f"--runs-dir={runs}"]

    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["run_dir"] == str(runs / "s")
    assert (runs / "s" / "style" / "s.safetensors").is_file()
    old = (runs / "s" / "style" / "s.json").read_bytes()

    assert main(argv) == 0  # the same name again: the next free run folder, not "already holds a trained style"
    second = json.loads(capsys.readouterr().out)
    assert second["run_dir"] == str(runs / "s-2")
    assert (runs / "s-2" / "style" / "s.safetensors").is_file()
    assert (runs / "s" / "style" / "s.json").read_bytes() == old  # the first run's files untouched
    assert StyleStore([tmp_path / "styles"]).load("s").model_version == 2
    assert not (tmp_path / "runs").exists()  # nothing in the working directory's runs/


def test_resume_continues_the_newest_run_folder_in_runs_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = tiny_gan_train_argv(tmp_path, monkeypatch, "--seed", "3", "--runs-dir", "elsewhere")

    assert main([*argv, "--steps", "2"]) == 0
    assert "  run folder: elsewhere/g/" in capsys.readouterr().out.splitlines()
    assert main([*argv, "--steps", "3", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "  run folder: elsewhere/g/" in out.splitlines() and "trained style 'g': 3 steps" in out
    assert len((tmp_path / "elsewhere" / "g" / "metrics.csv").read_text().splitlines()) == 1 + 3
    assert not (tmp_path / "runs").exists()


def test_runs_dir_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "favs").mkdir()
    base = ["train", "--style", "s", "--targets", "favs", "--steps", "1", "--quiet"]

    with pytest.raises(SystemExit) as exited:  # exclusive with --run-dir (argparse: exit 2)
        main([*base, "--runs-dir", "a", "--run-dir", "b"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err

    # --server: the daemon keeps its run folders in its own run directory (refused before any connection)
    assert main([*base, "--runs-dir", "a", "--server", "127.0.0.1:9"]) == 2
    assert "--runs-dir cannot be used with --server" in capsys.readouterr().err

    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    assert main([*base, "--runs-dir", "a-file"]) == 3
    assert "--runs-dir a-file: not a folder" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_help_names_runs_dir(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--runs-dir RUNS" in out
    assert "the folder that holds the default run folders, RUNS/STYLE, RUNS/STYLE-2, ..." in out
