"""A photo whose folder cannot be written: the error names the folder and the OS's words, and is permission denied
(exit 7), not "cannot lock the sidecar" (exit 8); other lock failures stay sidecar errors (QA round D).

A folder is made unwritable with ``chmod 0o500``; as root, which chmod does not stop, with ``chattr +i`` (ext2/3/4,
XFS, btrfs ...). Where neither stops a write the real-folder tests skip with the reason (a failure under ``CI=true``,
:func:`testing.needs.missing`); the others simulate the OS's refusal and run everywhere.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.errors import EXIT_PARTIAL, PermissionDeniedError, SidecarError
from backend.sidecar import atomic
from backend.sidecar.atomic import SidecarPermissionError, lock_path, sidecar_lock
from backend.sidecar.darktable_doc import darktable_sidecar_path
from testing.daemon import run_main, serving
from testing.fixtures import make_png
from testing.needs import missing

RECIPE = {"version": 1, "steps": [{"slider": "exposure", "value": 0.3}]}
DENIED = ("Permission denied", "Operation not permitted")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder holding ``a.png`` that this process cannot create files in."""
    with _read_only_folder(tmp_path / "locked") as folder:
        yield folder


@contextlib.contextmanager
def _read_only_folder(folder: Path) -> Iterator[Path]:
    """Make ``folder`` with ``a.png`` in it, unwritable while the block runs."""
    folder.mkdir(parents=True)
    make_png(folder, "a.png")
    undo: list[str] = []
    if os.geteuid() != 0:
        folder.chmod(0o500)
    else:
        chattr = shutil.which("chattr")
        if chattr is None:
            missing("running as root, where chmod 0o500 does not stop writes, and chattr is not installed (e2fsprogs)")
        made = subprocess.run([chattr, "+i", str(folder)], capture_output=True, text=True, check=False)
        if made.returncode != 0:
            missing(f"running as root, and chattr +i does not work here: {made.stderr.strip()}")
        undo = [chattr, "-i", str(folder)]
    try:
        probe = folder / "probe.txt"
        try:
            probe.write_text("x")
        except PermissionError:
            pass
        else:
            probe.unlink()
            missing(f"{folder} is still writable after making it read-only (file system without permissions?)")
        yield folder
    finally:
        if undo:
            subprocess.run(undo, check=True)
        folder.chmod(0o700)


def test_apply_in_a_folder_that_cannot_be_written_is_permission_denied(
    read_only: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.json").write_text(json.dumps(RECIPE))
    photo = read_only / "a.png"
    code, out, err = run_main(
        capsys, ["apply", str(photo), "--recipe", str(tmp_path / "r.json"), "--host", "darktable"]
    )
    assert code == PermissionDeniedError.exit_code, (out, err)  # 7, not the sidecar's 8
    assert any(f"{read_only}: cannot write beside the photo ({why})" in err for why in DENIED), err
    assert "cannot lock" not in err and not darktable_sidecar_path(photo).exists()
    # beside a photo that was written: a partial failure
    other = make_png(tmp_path, "b.png")
    argv = ["apply", str(photo), str(other), "--recipe", str(tmp_path / "r.json"), "--host", "darktable", "--json"]
    code, out, _ = run_main(capsys, argv)
    assert code == EXIT_PARTIAL and [r["action"] for r in json.loads(out)["results"]] == ["failed", "written"]


def test_through_the_daemon_it_is_permission_denied_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serving(tmp_path / "srv", photos=False) as served, _read_only_folder(served.root / "locked") as folder:
        argv = ["apply", str(folder / "a.png"), "--recipe", str(_recipe_file(tmp_path)), "--host", "darktable"]
        code, out, err = run_main(capsys, [*argv, "--json", "--server", served.server])
    assert code == PermissionDeniedError.exit_code, (out, err)
    (result,) = json.loads(out)["results"]
    assert result["action"] == "failed", result
    assert any(f"{folder}: cannot write beside the photo ({why})" in result["reason"] for why in DENIED), result


def _recipe_file(folder: Path) -> Path:
    path = folder / "r.json"
    path.write_text(json.dumps(RECIPE))
    return path


def test_the_lock_of_an_unwritable_folder_is_a_sidecar_error_of_permission_denied(read_only: Path) -> None:
    with pytest.raises(SidecarPermissionError) as caught, sidecar_lock(read_only / "a.png.xmp"):
        pytest.fail("locked in a folder that cannot be written")
    error = caught.value
    assert isinstance(error, SidecarError) and isinstance(error, PermissionDeniedError)
    assert (error.exit_code, error.grpc_status) == (7, "PERMISSION_DENIED") and error.path == read_only


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM])
def test_a_refused_folder_is_named_with_the_os_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    def refused(lock: Path, sidecar: Path, timeout: float) -> None:
        raise OSError(code, os.strerror(code), str(lock))

    monkeypatch.setattr(atomic, "_flock" if atomic.HAS_FLOCK else "_exclusive_file", refused)
    with pytest.raises(SidecarPermissionError) as caught, sidecar_lock(tmp_path / "a.png.xmp"):
        pass
    assert str(caught.value) == f"{tmp_path}: cannot write beside the photo ({os.strerror(code)})"
    assert caught.value.exit_code == 7


def test_a_refused_lock_file_that_is_there_is_named_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sidecar = tmp_path / "a.png.xmp"
    lock_path(sidecar).write_text("")  # another user's, say

    def refused(lock: Path, sidecar: Path, timeout: float) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(lock))

    monkeypatch.setattr(atomic, "_flock" if atomic.HAS_FLOCK else "_exclusive_file", refused)
    denied = r"\.autoretouch\.lock: cannot open the sidecar's lock file"
    with pytest.raises(SidecarPermissionError, match=denied), sidecar_lock(sidecar):
        pass


def test_other_lock_failures_stay_sidecar_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only_fs(lock: Path, sidecar: Path, timeout: float) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(lock))

    monkeypatch.setattr(atomic, "_flock" if atomic.HAS_FLOCK else "_exclusive_file", read_only_fs)
    sidecar = tmp_path / "a.png.xmp"
    with pytest.raises(SidecarError) as caught, sidecar_lock(sidecar):
        pass
    assert not isinstance(caught.value, PermissionDeniedError) and caught.value.exit_code == 8
    assert str(caught.value) == f"{sidecar}: cannot lock the sidecar (Read-only file system)"
