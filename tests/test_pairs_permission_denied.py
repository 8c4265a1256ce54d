"""A pair whose file the process may not read is left out and named, as an undecodable one is (QA).

``backend.decode`` raises ``PermissionDeniedError`` (exit status 7) for EACCES; ``_pair_images`` used to let it
stop the whole ``train --pairs``. The file is made unreadable with ``chmod 000``; as root, which chmod does not
stop, the check runs in a child process without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (``setpriv``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing.training import TINY_PAIRS_TOML
from trainer.synthetic import write_pair_folders

_CAPS = "-dac_override,-dac_read_search"


def _unprivileged(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` so that file permissions apply (as root: without the capabilities that bypass them)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root, where chmod 000 does not stop reads, and setpriv is not installed")
        prefix = [setpriv, f"--inh-caps={_CAPS}", f"--bounding-set={_CAPS}"]
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    return subprocess.run([*prefix, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Four pairs; the second pair's original may not be read."""
    before, after, _ = write_pair_folders(tmp_path / "data", n_pairs=4, size=32, seed=4)
    denied = sorted(before.iterdir())[1]
    denied.chmod(0)
    return before, after, denied


def test_load_paired_views_leaves_an_unreadable_pair_out(tmp_path: Path, folders: tuple[Path, Path, Path]) -> None:
    before, after, denied = folders
    script = (
        "import sys\n"
        "from trainer.data.pairs import find_pairs, load_paired_views\n"
        "pairs, _ = find_pairs(sys.argv[1], sys.argv[2])\n"
        "v = load_paired_views(pairs, cache_size=16, eval_size=16, crops=1, seed=0)\n"
        "print(len(v.pairs))\n"
        "print('\\n'.join(v.skipped))\n"
    )
    done = _unprivileged([sys.executable, "-c", script, str(before), str(after)], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == ["3", f"{denied}: permission denied"]


def test_train_pairs_goes_on_without_an_unreadable_pair(tmp_path: Path, folders: tuple[Path, Path, Path]) -> None:
    before, after, denied = folders
    (tmp_path / "tiny.toml").write_text(TINY_PAIRS_TOML, encoding="utf-8")
    argv = [sys.executable, "-m", "backend", "train", "--style", "s", "--pairs", str(before), str(after)]
    argv += ["--steps", "2", "--config", "tiny.toml", "--install-dir", "styles", "--force", "--quiet"]
    done = _unprivileged(argv, tmp_path)
    assert done.returncode == 0, done.stderr  # was: exit 7, "permission denied", nothing trained
    assert denied.name in done.stdout + done.stderr and "permission denied" in done.stdout + done.stderr
    assert (tmp_path / "runs" / "s" / "style" / "s.safetensors").is_file()
    # named in the summary's notes as an undecodable pair is, and trained on the other three
    note = f"  note: 1 before/after pair could not be read, left out: {denied.stem} (original {denied.name}: "
    assert f"{note}permission denied)" in done.stdout.splitlines(), done.stdout
    training = json.loads((tmp_path / "runs" / "s" / "style" / "s.json").read_text(encoding="utf-8"))["training"]
    assert training["pairs"] == 3
