"""Fault test: ``kill -9`` a real ``autoretouch catalog`` run midway, run it again, and check every photo.

After the rerun each photo has exactly one darktable sidecar holding the style's recipe applied once (our
record + our history entries, after the user's own entries where there were some), foreign XMP content
of pre-existing sidecars is kept, and no temp or lock file is left, including ones a killed writer left
behind. The workers of the killed run must exit by themselves. A third run changes nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.sidecar.xmp import NS
from tests.test_batch_support import (
    FOREIGN_DT,
    JOURNAL,
    check_darktable_sidecar,
    expected_recipe,
    make_photos,
    make_style,
    snapshot,
)

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = 30
FOREIGN = ("IMG_0000.jpg", "IMG_0013.jpg", "IMG_0029.jpg")  # photos with a sidecar of someone else's


def _children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    kids = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(entry.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _records(journal: Path) -> int:
    if not journal.exists():
        return 0
    return max(0, journal.read_bytes().count(b"\n") - 1)


def _catalog(folder: Path, style: Path, jobs: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "backend", "catalog", str(folder), "--host", "darktable"]
    cmd += ["--style", str(style), "--strength", "0.9", "--jobs", str(jobs), "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AUTORETOUCH_STYLES": str(style.parent)}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow  # starts worker processes (Python + torch) several times
def test_kill_9_midway_then_resume(tmp_path: Path) -> None:
    style = make_style(tmp_path / "styles")
    folder = tmp_path / "shoot"
    photos = make_photos(folder, PHOTOS)
    for name in FOREIGN:
        (folder / f"{name}.xmp").write_text(FOREIGN_DT, encoding="utf-8")
    originals = {p.name: p.read_bytes() for p in photos}
    journal = folder / JOURNAL

    # 1. start a real run (process pool) and kill -9 it once the journal shows some photos done
    proc = _catalog(folder, style, jobs=2)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while _records(journal) < 3:
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()[1].decode()}"
        assert time.monotonic() < deadline, "no photo was journaled within 120 s"
        workers = _children(proc.pid) or workers
        time.sleep(0.01)
    workers = _children(proc.pid) or workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    done_when_killed = _records(journal)
    assert 3 <= done_when_killed < PHOTOS, "the run was not killed midway"
    if Path("/proc").is_dir():  # the orphaned workers notice and exit by themselves
        pool = [pid for pid in workers if pid != proc.pid]
        assert pool, "no worker processes were seen"
        end = time.monotonic() + 10
        while any(_alive(pid) for pid in pool) and time.monotonic() < end:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in pool), "worker processes outlived the killed batch"

    # 2. what a writer killed inside a sidecar write leaves: a temp file and a lock file (no live holder)
    victim = folder / "IMG_0021.jpg.xmp"
    (folder / ".IMG_0021.jpg.xmp.autoretouch-q1w2e3r4.tmp").write_text("<x:xmpmeta half written")
    (folder / "IMG_0021.jpg.xmp.autoretouch.lock").write_text("")
    (folder / ".IMG_0001.jpg.xmp.autoretouch-zz9_aa11.tmp").write_text(
        "stale, next to a photo that may be done already"
    )

    # 3. rerun (in one process: quicker to start): completes, every photo ends with one correct sidecar
    proc = _catalog(folder, style, jobs=1)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["counts"]["failed"] == 0
    assert summary["counts"]["written"] + summary["counts"]["skipped"] == PHOTOS
    assert summary["counts"]["written"] <= PHOTOS - done_when_killed + 2 * 2  # at most the in-flight redone
    for photo in photos:
        assert photo.read_bytes() == originals[photo.name]  # images are never modified
        foreign = photo.name in FOREIGN
        desc = check_darktable_sidecar(photo, expected_recipe(photo, style, 0.9), foreign_entries=2 if foreign else 0)
        if foreign:
            assert desc.get(f"{{{NS['xmp']}}}Rating") == "4" and desc.get(f"{{{NS['xmp']}}}Label") == "Blue"
            assert desc.get("{http://acme.example/ns/1.0/}Flag") == "keep-me"
            text = photo.with_name(photo.name + ".xmp").read_text(encoding="utf-8")
            assert "foreign &amp; precious" in text and "<rdf:li>fjord</rdf:li>" in text
            assert photo.with_name(photo.name + ".xmp.autoretouch.bak").read_text(encoding="utf-8") == FOREIGN_DT
    assert victim.is_file()
    names = sorted(p.name for p in folder.iterdir())
    expected = sorted(
        [JOURNAL]
        + [p.name for p in photos]
        + [f"{p.name}.xmp" for p in photos]
        + [f"{name}.xmp.autoretouch.bak" for name in FOREIGN]
    )
    assert names == expected  # no *.tmp, no *.lock, no second sidecar of any kind
    records = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    assert {r["photo"] for r in records} == {str(p) for p in photos}

    # 4. a third run finds everything done and changes nothing
    before = snapshot(folder)
    proc = _catalog(folder, style, jobs=2)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["skipped_reasons"] == {"already done": PHOTOS}
    assert snapshot(folder) == before


@pytest.fixture(autouse=True)
def _linux_only() -> None:
    if sys.platform == "win32":  # pragma: no cover
        pytest.skip("kill -9 and /proc are POSIX/Linux")
