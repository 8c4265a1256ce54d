"""A run folder that cannot be claimed is refused plainly, and a run that fails before training leaves nothing.

``--run-dir`` as a link to a folder that does not exist, or under a file, is a run configuration error (exit status
3) that names the path and what is wrong (it was "in use by another training" after the claim's retries, or an
internal ``NotADirectoryError``). A run refused before training (an unknown ``--set`` key, ``--resume`` with
nothing to resume) takes away the run folder and the parents its claim made (an empty ``runs/`` was left). Under
torchrun a failed broadcast of the run folder gives rank 0's claim back too (:func:`trainer.cli._held_run_dir`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

import trainer.cli
from backend.cli.main import main
from trainer.config import ConfigError
from trainer.distributed import DistInfo
from trainer.run_lock import LOCK_NAME, claim_run_dir


def _train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *more: str) -> int:
    """``train`` of style ``g`` on an empty favourites folder ``favs``, in ``tmp_path`` as the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "favs").mkdir(exist_ok=True)
    return main(["train", "--style", "g", "--targets", "favs", "--quiet", *more])


def test_a_link_to_a_missing_folder_as_run_dir_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dl").symlink_to(tmp_path / "nowhere" / "x")
    assert _train(tmp_path, monkeypatch, "--run-dir", "dl") == 3
    err = capsys.readouterr().err
    assert f"dl: a link to a folder that does not exist ({tmp_path / 'nowhere' / 'x'})" in err, err
    assert "in use" not in err
    assert _train(tmp_path, monkeypatch, "--run-dir", os.path.join("dl", "sub")) == 3
    err = capsys.readouterr().err
    assert f"{Path('dl', 'sub')}: dl is a link to a folder that does not exist" in err, err
    assert not (tmp_path / "nowhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl", "favs"]


def test_a_run_dir_under_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    assert _train(tmp_path, monkeypatch, "--run-dir", os.path.join("afile", "sub", "run")) == 3  # was exit 1
    err = capsys.readouterr().err
    assert f"{Path('afile', 'sub', 'run')}: afile is a file, not a folder, so it cannot hold the run folder" in err
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "x"
    with pytest.raises(ConfigError, match="afile is a file, not a folder"):
        claim_run_dir("g", runs=tmp_path / "afile" / "runs")


@pytest.mark.parametrize(
    ("more", "status"),
    [
        (["--set", "run.nonexistent_key=3"], 3),
        (["--resume", "--set", "run.method=gan"], 6),  # nothing to resume
        (["--run-dir", os.path.join("a", "b", "c"), "--set", "run.nonexistent_key=3"], 3),
        (["--runs-dir", "myruns", "--resume", "--set", "run.method=gan"], 6),
    ],
)
def test_a_run_refused_before_training_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, more: list[str], status: int
) -> None:
    assert _train(tmp_path, monkeypatch, *more) == status
    assert sorted(p.name for p in tmp_path.iterdir()) == ["favs"]  # no empty runs/, a/b/c or myruns/


def test_the_claim_takes_away_only_the_empty_folders_it_made(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    with claim_run_dir("g", run_dir=tmp_path / "runs" / "x" / "y"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # there before the claim: kept
    assert list((tmp_path / "runs").iterdir()) == []
    with claim_run_dir("g", run_dir=tmp_path / "a" / "b" / "c"):
        (tmp_path / "a" / "note.txt").write_text("mine", encoding="utf-8")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "a").rglob("*")) == ["a/note.txt"]


def test_a_failed_broadcast_gives_rank_0s_claim_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared: list[Path | None] = []

    def broken(run_dir: Path | None, info: DistInfo) -> Path | None:
        shared.append(run_dir)
        raise RuntimeError("the broadcast failed")

    monkeypatch.setattr(trainer.cli, "_share_run_dir", broken)
    args = argparse.Namespace(style="g", runs_dir=tmp_path / "runs", run_dir=None, resume=False, darktable=None)
    with pytest.raises(RuntimeError, match="the broadcast failed"):
        trainer.cli._held_run_dir(args, DistInfo(rank=0, world=2))
    assert shared == [tmp_path / "runs" / "g"]  # broadcast once: not again after it failed
    assert not (tmp_path / "runs" / "g" / LOCK_NAME).exists()
    assert list(tmp_path.iterdir()) == []  # the folder and runs/ the claim made: taken away
    with claim_run_dir("g", runs=tmp_path / "runs") as lock:  # not held any more by this process
        assert lock.folder == tmp_path / "runs" / "g"
