"""``autoretouch train``: the command trains, exports and installs a style, and resumes its run folder.

Also what it records of the folders given: their subfolders with photos are not read (named), a selection of
favourites is recorded as the user's files.
"""

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


def test_targets_and_sources_name_the_subfolders_they_do_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from testing.training import run_tiny_train, write_exposure_shots
    from trainer.synthetic import smooth_images

    favs, inbox = tmp_path / "favs", tmp_path / "inbox"
    for folder in (favs / "2024-05-01", favs / "2024-05-02", inbox / "roll 7", inbox / ".trash"):
        folder.mkdir(parents=True)
        write_exposure_shots(folder, smooth_images(1, 48, seed=1), ["x.png"])
    assert run_tiny_train(tmp_path, ["--targets", str(favs)]).rc == 6  # NotFoundError: no photo of its own
    assert (
        f"{favs}: no photo in this folder; its subfolders are not read (2024-05-01, 2024-05-02): give a subfolder\n"
        in (capsys.readouterr().err)
    )
    write_exposure_shots(favs, smooth_images(4, 48, seed=2), ["a.png", "b.png", "c.png", "d.png"])
    write_exposure_shots(inbox, smooth_images(2, 48, seed=3), ["s.png", "t.png"])
    run = run_tiny_train(tmp_path, ["--targets", str(favs), "--sources", str(inbox)])
    assert run.rc == 0 and run.record["targets"] == 4 and run.record["sources"] == 2
    unread = [str(favs / "2024-05-01"), str(favs / "2024-05-02"), str(inbox / "roll 7")]
    assert run.record["subfolders_not_read"] == unread
    assert (
        "  note: 3 subfolders with photos not read (training reads the photos directly in each folder given): "
        + ", ".join(unread)
        + "\n"
    ) in capsys.readouterr().out


def test_the_record_of_a_selection_of_favourites_names_the_users_files(tmp_path: Path) -> None:
    from testing.training import run_tiny_train, write_exposure_shots
    from trainer.synthetic import smooth_images

    (tmp_path / "lib" / "sub").mkdir(parents=True)
    picked = write_exposure_shots(tmp_path / "lib", smooth_images(4, 48, seed=2), ["a.png", "b.png", "c.png", "d.png"])
    write_exposure_shots(tmp_path / "lib" / "sub", smooth_images(1, 48, seed=1), ["x.png"])
    # the daemon's favourite files, linked into the run folder's selection (three photos of lib's four)
    from trainer.data.selection import linked_folder

    selection = linked_folder(tmp_path / "run" / "selection", picked[:3], with_sidecars=False)
    run = run_tiny_train(tmp_path, ["--targets", str(selection)])
    assert run.rc == 0 and run.record["targets"] == 3
    assert run.record["targets_dir"] is None and run.record["targets_given"] == [str(p) for p in picked[:3]]
    assert "subfolders_not_read" not in run.record  # the user gave files, not lib
    # every photo of a folder linked: still the files given, and that folder's subfolders are not named
    everything = linked_folder(tmp_path / "run" / "selection", picked, with_sidecars=False)
    whole = run_tiny_train(tmp_path, ["--targets", str(everything)]).record
    assert whole["targets_given"] == [str(p) for p in picked] and "subfolders_not_read" not in whole
    # a folder the user gave is named as it is
    assert run_tiny_train(tmp_path, ["--targets", str(tmp_path / "lib")]).record["targets_dir"] == str(tmp_path / "lib")
