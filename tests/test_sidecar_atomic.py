"""Crash-safe sidecar writes (backend.sidecar.atomic)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from backend.errors import SidecarError
from backend.sidecar import atomic
from backend.sidecar.atomic import atomic_write, backup_path, lock_path, remove_with_backup, sidecar_lock


def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_write_new_then_replace_keeps_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "IMG_1.xmp"
    with sidecar_lock(path):
        atomic_write(path, b"one")
    assert path.read_bytes() == b"one" and not backup_path(path).exists()
    os.chmod(path, 0o600)
    with sidecar_lock(path):
        atomic_write(path, b"two")
    assert path.read_bytes() == b"two"
    assert backup_path(path).read_bytes() == b"one"
    assert (path.stat().st_mode & 0o777) == 0o600  # permissions carried over
    assert _listing(tmp_path) == {"IMG_1.xmp", "IMG_1.xmp.autoretouch.bak"}  # no temp or lock file left


def test_refuses_to_write_anything_but_xmp(tmp_path: Path) -> None:
    photo = tmp_path / "IMG_1.CR2"
    photo.write_bytes(b"raw")
    with pytest.raises(SidecarError, match=r"only writes \.xmp"):
        atomic_write(photo, b"x")
    with pytest.raises(SidecarError, match=r"only writes \.xmp"):
        remove_with_backup(photo)
    assert photo.read_bytes() == b"raw"


def test_failed_rename_leaves_the_previous_sidecar_and_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "IMG_1.xmp"
    path.write_bytes(b"previous")

    def boom(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(SidecarError, match="previous version kept") as info:
        atomic_write(path, b"new")
    assert info.value.path == path
    assert path.read_bytes() == b"previous"
    assert _listing(tmp_path) == {"IMG_1.xmp"}


def test_failure_on_the_final_rename_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "IMG_1.xmp"
    path.write_bytes(b"previous")
    real = os.replace

    def fail_on_target(src: str, dst: str) -> None:
        if Path(dst) == path:
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_target)
    with pytest.raises(SidecarError):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"previous"
    assert backup_path(path).read_bytes() == b"previous"
    assert _listing(tmp_path) == {"IMG_1.xmp", "IMG_1.xmp.autoretouch.bak"}


def test_failed_temp_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "IMG_1.xmp"
    path.write_bytes(b"previous")

    def no_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", no_fsync)
    with pytest.raises(SidecarError):
        atomic_write(path, b"new", backup=False)
    assert path.read_bytes() == b"previous"
    assert _listing(tmp_path) == {"IMG_1.xmp"}


def test_remove_with_backup(tmp_path: Path) -> None:
    path = tmp_path / "IMG_1.xmp"
    path.write_bytes(b"ours")
    with sidecar_lock(path):
        remove_with_backup(path)
    assert not path.exists() and backup_path(path).read_bytes() == b"ours"


def test_lock_excludes_a_second_holder_and_is_cleaned_up(tmp_path: Path) -> None:
    path = tmp_path / "IMG_1.xmp"
    with sidecar_lock(path):
        assert lock_path(path).exists()
        with pytest.raises(SidecarError, match="locked by another process"), sidecar_lock(path, timeout=0.2):
            pass
    assert not lock_path(path).exists()
    with sidecar_lock(path, timeout=0.2):  # free again
        pass


def test_without_flock_the_o_excl_lock_file_excludes_a_second_holder_and_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(atomic, "HAS_FLOCK", False)  # as on Windows: atomic imported the name, so patch it there
    path = tmp_path / "IMG_1.xmp"
    with sidecar_lock(path):
        assert lock_path(path).read_text() == str(os.getpid())  # the O_EXCL file names its holder; flock's is empty
        with pytest.raises(SidecarError, match="locked by another process"), sidecar_lock(path, timeout=0.2):
            pass
        assert lock_path(path).exists()  # the refused holder leaves the lock file to its owner
    assert not lock_path(path).exists()
    with sidecar_lock(path, timeout=0.2):  # free again
        pass
    assert not lock_path(path).exists()


def test_lock_waits_for_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "IMG_1.xmp"
    order: list[str] = []
    held = threading.Event()

    def holder() -> None:
        with sidecar_lock(path):
            held.set()
            time.sleep(0.3)
            order.append("first")

    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    with sidecar_lock(path, timeout=5):
        order.append("second")
    t.join()
    assert order == ["first", "second"]


def test_a_new_sidecar_gets_the_umask_mode_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    # a fresh process, so that fsio reads the umask set here (it reads it once, at import)
    code = (
        "import os, sys; os.umask(0o027)\n"
        "from pathlib import Path\n"
        "from backend.sidecar.atomic import atomic_write, sidecar_lock\n"
        "p = Path(sys.argv[1])\n"
        "with sidecar_lock(p):\n"
        "    atomic_write(p, b'one')\n"
    )
    path = tmp_path / "IMG_1.jpg.xmp"
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    assert path.stat().st_mode & 0o777 == 0o640  # 0666 & ~027, not mkstemp's 0600
    mask = os.umask(0o022)
    os.umask(mask)
    fresh = tmp_path / "IMG_2.jpg.xmp"
    with sidecar_lock(fresh):
        atomic_write(fresh, b"one")
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~mask
    os.chmod(fresh, 0o664)
    with sidecar_lock(fresh):
        atomic_write(fresh, b"two")
    assert fresh.stat().st_mode & 0o777 == 0o664
    assert backup_path(fresh).stat().st_mode & 0o777 == 0o664  # the .bak: the sidecar's own mode


@pytest.mark.parametrize("length", [238, 241, 246, 251])
def test_a_sidecar_with_the_longest_legal_name_can_be_written_and_replaced(tmp_path: Path, length: int) -> None:
    path = tmp_path / ("x" * length + ".xmp")  # up to 255 characters: legal, but its temp file's name is not
    with sidecar_lock(path):
        atomic_write(path, b"one")
    with sidecar_lock(path):
        atomic_write(path, b"two")
    assert path.read_bytes() == b"two" and backup_path(path).read_bytes() == b"one"
    assert len(backup_path(path).name) <= 255
    assert not [n for n in _listing(tmp_path) if n.endswith((".tmp", ".lock"))]  # temp and lock files gone
    long_a, long_b = tmp_path / ("y" * 250 + "a.xmp"), tmp_path / ("y" * 250 + "b.xmp")
    assert lock_path(long_a) != lock_path(long_b)  # shortened lock names stay distinct
    assert all(len(lock_path(p).name) <= 255 for p in (long_a, long_b))


def test_a_long_sidecar_names_leftover_temp_and_lock_files_are_found_and_removed(tmp_path: Path) -> None:
    from backend.batch.leftovers import remove_leftovers
    from backend.fsio import temp_prefix

    sidecar = tmp_path / ("z" * 246 + ".jpg.xmp")
    temp = tmp_path / (temp_prefix(sidecar.name, "autoretouch") + "x7_ab2cd.tmp")  # left by a killed writer
    temp.write_text("half a sidecar")
    lock_path(sidecar).write_text("")
    assert sorted(remove_leftovers(sidecar)) == sorted([temp, lock_path(sidecar)])
    assert _listing(tmp_path) == set()


def test_a_sidecar_name_over_the_limit_is_refused_by_name_and_the_batch_carries_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np
    from PIL import Image

    from backend.cli.main import main

    long_photo = tmp_path / ("b" * 248 + ".jpg")  # legal (252 bytes); its darktable sidecar would be 256
    short_photo = tmp_path / "IMG_1.jpg"
    for photo in (long_photo, short_photo):
        Image.fromarray((np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)).save(photo)
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"version": 1, "steps": [{"slider": "exposure", "value": 0.5}]}))
    code = main(["apply", "--recipe", str(recipe), "--host", "darktable", str(long_photo), str(short_photo)])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert code == 9  # partial failure: the other photo got its sidecar
    assert "the sidecar's name would be 256 bytes, longer than file systems allow (255)" in out, out
    assert "cannot lock" not in out
    assert (tmp_path / "IMG_1.jpg.xmp").is_file()
    assert _listing(tmp_path) == {long_photo.name, "IMG_1.jpg", "IMG_1.jpg.xmp", "r.json"}


def test_an_error_of_the_work_under_the_lock_is_not_called_a_lock_error(tmp_path: Path) -> None:
    path = tmp_path / "IMG_1.xmp"
    with pytest.raises(PermissionError, match="the work failed"), sidecar_lock(path):
        raise PermissionError("the work failed")
    assert not lock_path(path).exists()


def test_name_size_counts_bytes_here_and_utf16_units_on_windows() -> None:
    from backend.fsio import name_size

    cjk = "写" * 90 + ".jpg.xmp"  # 278 UTF-8 bytes, 98 UTF-16 units: too long here, legal on NTFS
    assert name_size(cjk, windows=False) == 278 and name_size(cjk, windows=True) == 98
    assert name_size("a" * 10, windows=True) == name_size("a" * 10, windows=False) == 10


@pytest.mark.parametrize("command", [["apply", "--dry-run"], ["revert"], ["revert", "--dry-run"]])
def test_a_dry_run_and_revert_name_an_over_long_sidecar_as_apply_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    import numpy as np
    from PIL import Image

    from backend.cli.main import main

    photo = tmp_path / ("b" * 248 + ".jpg")
    Image.fromarray((np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)).save(photo)
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"version": 1, "steps": [{"slider": "exposure", "value": 0.5}]}))
    extra = ["--recipe", str(recipe)] if command[0] == "apply" else []
    code = main([command[0], *command[1:], *extra, "--host", "darktable", str(photo)])
    captured = capsys.readouterr()
    assert code == 8, captured  # apply and revert: the only photo failed, so the sidecar error's own status
    assert "the sidecar's name would be 256 bytes, longer than file systems allow (255)" in captured.out + captured.err
    assert "File name too long" not in captured.out + captured.err


def test_both_reads_refuse_a_sidecar_over_the_limit_even_when_it_grows_while_read(tmp_path: Path) -> None:
    sidecar = tmp_path / "a.xmp"
    sidecar.write_bytes(b"x" * 11)
    for read in (atomic.read_replaceable, atomic.read_regular):
        assert read(sidecar, 11) == b"x" * 11
        with pytest.raises(SidecarError, match=r"sidecar is 11 bytes, over the 10-byte limit"):
            read(sidecar, 10)
    grows = Path("/proc/self/status")  # regular, one link, st_size 0: as a file that grew after the fstat
    if grows.is_file():
        for read in (atomic.read_replaceable, atomic.read_regular):
            with pytest.raises(SidecarError, match=r"sidecar is over the 10-byte limit"):
                read(grows, 10)
