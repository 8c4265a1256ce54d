"""A style never uses, resumes or overwrites a run folder whose ``config.toml`` names another style.

Style names may contain '-': ``runs/g-2`` is both the second run of style ``g`` and the default folder of a style
called ``g-2``. ``runs/NAME`` is the first run of ``NAME``'s series only where its ``config.toml`` names ``NAME`` (or
it holds nothing to lose: nothing, hidden files, the ``selection/`` links of a run that failed early); otherwise ``NAME``'s runs go to the first free ``runs/NAME-N``, and the other style's files
are never touched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.cli.main import main
from testing.training import folder_snapshot, smooth_pair_folders, tiny_gan_run_here
from trainer.run_folder import default_run_dir


def _config(run: Path, style: str) -> None:
    """Give ``run`` a ``config.toml`` written for ``style`` (an unfinished run of it)."""
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.toml").write_text(f'[run]\nstyle = "{style}"\n', encoding="utf-8")


def _finish(run: Path, style: str) -> None:
    """Make ``run`` a finished run of ``style`` (its config and a saved style)."""
    _config(run, style)
    (run / "style").mkdir(exist_ok=True)
    (run / "style" / f"{style}.safetensors").write_bytes(b"x")


def test_a_base_folder_of_another_style_is_never_used(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _finish(runs / "g", "g")
    _config(runs / "g-2", "g")  # g's retraining, unfinished (failed)
    for resume in (False, True):
        assert default_run_dir("g-2", runs=runs, resume=resume) == runs / "g-2-2"
    assert default_run_dir("g", runs=runs) == runs / "g-2"  # g itself still continues its own folder
    _finish(runs / "g-2", "g")
    assert default_run_dir("g-2", runs=runs) == runs / "g-2-2"
    assert default_run_dir("g-2", runs=runs, resume=True) == runs / "g-2-2"
    # g-2's own runs then form its series from runs/g-2-2 on
    _config(runs / "g-2-2", "g-2")
    assert default_run_dir("g-2", runs=runs) == runs / "g-2-2"
    assert default_run_dir("g-2", runs=runs, resume=True) == runs / "g-2-2"
    _finish(runs / "g-2-2", "g-2")
    assert default_run_dir("g-2", runs=runs) == runs / "g-2-3"
    assert default_run_dir("g-2", runs=runs, resume=True) == runs / "g-2-2"
    assert default_run_dir("g", runs=runs) == runs / "g-3"


def test_the_first_free_folder_skips_taken_ones(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _config(runs / "g-2", "g")  # g's failed retraining
    (runs / "g-2-2").mkdir()  # something else (no config, a file of the user's): skipped, never touched
    (runs / "g-2-2" / "notes.txt").write_text("mine", encoding="utf-8")
    _finish(runs / "g-2-3", "other")
    assert default_run_dir("g-2", runs=runs) == runs / "g-2-4"


def test_which_base_folders_count(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    (runs / "a").mkdir(parents=True)  # an empty folder made by hand: the style's first run goes there
    assert default_run_dir("a", runs=runs) == runs / "a"
    assert default_run_dir("a", runs=runs, resume=True) == runs / "a"
    (runs / "b").mkdir()  # files but no config.toml: nobody's, never used
    (runs / "b" / "notes.txt").write_text("mine", encoding="utf-8")
    assert default_run_dir("b", runs=runs) == runs / "b-2"
    (runs / "c").mkdir()
    (runs / "c" / "config.toml").write_text("not toml [", encoding="utf-8")  # unreadable: whose is unknown
    assert default_run_dir("c", runs=runs, resume=True) == runs / "c-2"
    (runs / "d").write_text("a file", encoding="utf-8")
    assert default_run_dir("d", runs=runs) == runs / "d-2"
    _config(runs / "e", "e")  # the style's own unfinished first run: used again, as before
    assert default_run_dir("e", runs=runs) == runs / "e"


def test_a_style_named_like_a_retraining_folder_leaves_that_run_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = tiny_gan_run_here(tmp_path, monkeypatch)
    common = ["--targets", str(targets), "--config", "tiny.toml", "--seed", "3", "--install-dir", "styles", "--force"]
    common.append("--quiet")

    assert main(["train", "--style", "g", *common, "--steps", "2"]) == 0
    assert main(["train", "--style", "g", *common, "--steps", "2"]) == 0
    capsys.readouterr()
    old = folder_snapshot(tmp_path / "runs" / "g-2")
    assert 'style = "g"' in old["config.toml"].decode()

    # was: exit 0 in runs/g-2, continuing g's checkpoints and overwriting its config.toml, metrics.csv, ...
    assert main(["train", "--style", "g-2", *common, "--steps", "3", "--resume"]) == 6
    assert "runs/g-2-2/checkpoints: no checkpoint to resume from" in capsys.readouterr().err
    assert folder_snapshot(tmp_path / "runs" / "g-2") == old

    assert main(["train", "--style", "g-2", *common, "--steps", "3"]) == 0
    assert "  run folder: runs/g-2-2/" in capsys.readouterr().out.splitlines()
    assert folder_snapshot(tmp_path / "runs" / "g-2") == old
    assert 'style = "g-2"' in (tmp_path / "runs" / "g-2-2" / "config.toml").read_text(encoding="utf-8")
    assert main(["train", "--style", "g", *common, "--steps", "2"]) == 0  # g's series goes on past both
    assert "  run folder: runs/g-3/" in capsys.readouterr().out.splitlines()
    assert folder_snapshot(tmp_path / "runs" / "g-2") == old


def test_a_folder_with_nothing_to_lose_is_used_again(tmp_path: Path) -> None:
    """A run that failed before its config.toml leaves only ``selection/`` (links); a file manager adds dotfiles.

    Such a base folder is used again by its style instead of being skipped forever, which moved every later run one
    number up (review); a ``runs/NAME-N`` that holds no ``config.toml`` yet may be another style's run starting
    (``runs/s-2`` is style ``s-2``'s first folder), so it is never taken for ``NAME`` (a later review).
    """
    runs = tmp_path / "runs"
    (runs / "mine" / "selection").mkdir(parents=True)
    (runs / "mine" / "selection" / "p1.png").symlink_to(tmp_path / "elsewhere.png")
    assert default_run_dir("mine", runs=runs) == runs / "mine"
    assert default_run_dir("mine", resume=True, runs=runs) == runs / "mine"
    (runs / "cam").mkdir()
    (runs / "cam" / ".DS_Store").write_bytes(b"\0")
    assert default_run_dir("cam", runs=runs) == runs / "cam"
    _finish(runs / "s", "s")
    (runs / "s-2" / "selection").mkdir(parents=True)  # maybe style "s-2"'s run starting: never taken for "s"
    assert default_run_dir("s", runs=runs) == runs / "s-3"
    assert default_run_dir("s-2", runs=runs) == runs / "s-2"
    (runs / "kept").mkdir()
    (runs / "kept" / "notes.txt").write_text("mine", encoding="utf-8")  # a file of the user's: not ours to use
    assert default_run_dir("kept", runs=runs) == runs / "kept-2"


def test_a_darktable_selection_claims_its_run_folder_first(tmp_path: Path) -> None:
    """``train --darktable`` writes a config.toml naming its style before it links its selection into the folder.

    Until the run's configuration was written, ``runs/s-2/selection`` alone was nobody's: style ``s`` could take the
    folder while style ``s-2``'s run was starting (review).
    """
    import argparse

    from trainer.cli import _darktable_dir

    photos = tmp_path / "photos"
    photos.mkdir()
    smooth = smooth_pair_folders(photos, n=2)[0]
    picked = sorted(p for p in smooth.iterdir() if p.is_file())
    run = tmp_path / "runs" / "s-2"
    _darktable_dir(argparse.Namespace(darktable=picked, style="s-2"), run)
    assert (run / "selection").is_dir()
    assert (run / "config.toml").read_text(encoding="utf-8") == '[run]\nstyle = "s-2"\n'  # claimed first
    assert default_run_dir("s-2", runs=tmp_path / "runs") == run
    _finish(tmp_path / "runs" / "s", "s")
    assert default_run_dir("s", runs=tmp_path / "runs") == tmp_path / "runs" / "s-3"
    kept = run / "config.toml"
    kept.write_text('[run]\nstyle = "s-2"\nseed = 7\n', encoding="utf-8")
    _darktable_dir(argparse.Namespace(darktable=picked, style="s-2"), run)
    assert kept.read_text(encoding="utf-8").endswith("seed = 7\n")  # an existing configuration is left as it is


def test_a_refused_darktable_run_leaves_no_claim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``config.toml`` is left where the selection is refused, or where the GAN refuses darktable edits (review).

    A ``selection/`` holding a file of the user's is refused after nothing was written to the user's folder; a
    ``--set run.method=gan`` run is refused before its folder is claimed for the style for good.
    """
    monkeypatch.setenv("AUTORETOUCH_STYLES", str(tmp_path / "styles"))
    photos = tmp_path / "photos"
    photos.mkdir()
    picked = [str(p) for p in sorted(smooth_pair_folders(photos, n=2)[0].iterdir())]
    mine = tmp_path / "mine"
    (mine / "selection").mkdir(parents=True)
    (mine / "selection" / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["train", "--style", "h", "--darktable", *picked, "--run-dir", str(mine), "--no-install"]) == 3
    assert sorted(p.name for p in mine.iterdir()) == ["selection"]
    runs = tmp_path / "runs"
    argv = ["train", "--style", "g", "--darktable", *picked, "--runs-dir", str(runs), "--no-install"]
    assert main([*argv, "--set", "run.method=gan"]) == 3
    assert not (runs / "g" / "config.toml").exists()
