"""Two trainings never share a run folder (:mod:`trainer.run_lock`).

Another process holds a run folder (a training in progress there) while ``train`` starts: without ``--run-dir`` the
new run takes the style's next free folder and leaves the held one as it was; ``--run-dir`` or ``--resume`` on the
held folder is refused (exit status 3, the folder named). A run killed while it held its folder does not block it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from backend.cli.main import main
from testing.training import folder_snapshot, tiny_gan_train_argv
from trainer.run_lock import LOCK_NAME, RunFolderInUseError, claim_run_dir

#: A process that claims the run folder of style ``g`` under ``sys.argv[1]`` (or ``sys.argv[2]`` as ``--run-dir``),
#: prints it and holds it until its standard input closes.
_HOLDER = """
import sys
from pathlib import Path
from trainer.run_lock import claim_run_dir
run_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else None
lock = claim_run_dir("g", run_dir=run_dir, runs=Path(sys.argv[1]))
print(lock.folder, flush=True)
sys.stdin.read()
lock.release()
"""


@contextmanager
def _held(runs: Path, run_dir: Path | None = None) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """Another process holding style ``g``'s run folder under ``runs`` (or ``run_dir``) while the block runs."""
    args = [sys.executable, "-c", _HOLDER, str(runs), *([] if run_dir is None else [str(run_dir)])]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = proc.stdout.readline().strip()
        assert line, "the holder process did not claim a folder"
        yield Path(line), proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
        proc.stdout.close()


def test_a_second_training_of_the_style_takes_the_next_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = tiny_gan_train_argv(tmp_path, monkeypatch, "--steps", "2", "--json")
    runs = tmp_path / "runs"
    with _held(runs) as (held, _):
        assert held == runs / "g"
        (held / "config.toml").write_text('[run]\nstyle = "g"\n', encoding="utf-8")  # the other run's files
        (held / "metrics.csv").write_text("step\n1\n", encoding="utf-8")
        before = folder_snapshot(held)
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out)["run_dir"] == str(Path("runs", "g-2"))
        assert folder_snapshot(held) == before  # the held run's files untouched
        assert not (held / "style").exists()
        # a third one while the first still runs (the second one ended with a trained style): g-3
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out)["run_dir"] == str(Path("runs", "g-3"))
    assert not (runs / "g-2" / LOCK_NAME).exists()  # given back at the end of the run


def test_run_dir_or_resume_on_a_held_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = tiny_gan_train_argv(tmp_path, monkeypatch, "--steps", "2", "--set", "run.method=gan")
    mine = tmp_path / "mine"
    with _held(tmp_path / "runs", mine) as (held, proc):
        assert held == mine
        assert main([*argv, "--run-dir", str(mine)]) == 3
        err = capsys.readouterr().err
        assert f"{mine}: the run folder is in use by another training (process {proc.pid})" in err
        assert sorted(p.name for p in mine.iterdir()) == [LOCK_NAME]  # nothing written there
    with _held(tmp_path / "runs") as (held, proc):
        assert main([*argv, "--resume"]) == 3
        assert held == tmp_path / "runs" / "g"
        err = capsys.readouterr().err
        assert f"{Path('runs', 'g')}: the run folder is in use by another training (process {proc.pid})" in err


def test_the_claim_while_another_process_holds_the_folder(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with _held(runs) as (held, _):
        assert held == runs / "g"
        with claim_run_dir("g", runs=runs) as lock:
            assert lock.folder == runs / "g-2"
            assert (lock.folder / LOCK_NAME).read_text(encoding="ascii") == f"{os.getpid()}\n"
            with claim_run_dir("g", run_dir=lock.folder):  # re-entrant within one process
                pass
            assert (lock.folder / LOCK_NAME).is_file()  # still held by the outer claim
        assert not (runs / "g-2").exists()  # made by the claim, nothing written: taken away
        with pytest.raises(RunFolderInUseError, match="the run folder is in use") as refused:
            claim_run_dir("g", runs=runs, resume=True)
        assert refused.value.folder == held and refused.value.exit_code == 3
    with claim_run_dir("g", runs=runs) as lock:  # given back: the first folder again
        assert lock.folder == runs / "g"


def test_a_killed_holder_does_not_block_the_folder(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with _held(runs) as (held, proc):
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        assert (held / LOCK_NAME).is_file()  # left behind
        with claim_run_dir("g", runs=runs) as lock:
            assert lock.folder == held
        with claim_run_dir("g", runs=runs, resume=True) as lock:
            assert lock.folder == held


def test_a_file_as_run_dir_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "favs").mkdir()
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    argv = ["train", "--style", "g", "--targets", str(tmp_path / "favs"), "--run-dir", str(tmp_path / "a-file")]
    assert main([*argv, "--steps", "1", "--quiet"]) == 3  # was an internal error (exit 1)
    err = capsys.readouterr().err
    assert f"{tmp_path / 'a-file'}: not a folder, so it cannot be the run folder; give another --run-dir" in err
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "x"
