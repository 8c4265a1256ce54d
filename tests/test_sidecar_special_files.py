"""What lies where a sidecar or autoretouch's own files go, and is not autoretouch's to replace.

* autoretouch's backup, lock and temp files carry ``autoretouch`` in their names, so a user's own
  ``NAME.xmp.bak`` (or ``NAME.xmp.lock``, ``.NAME.xmp.draft.tmp``) is never overwritten or deleted;
* a sidecar that is a symbolic link or has several hard links is never written, reverted or removed (``os.replace``
  would put a plain file in its place), and is refused by name;
* a named pipe where a sidecar goes is never opened (a pipe waits for a writer: apply, catalog and revert hung).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backend.batch.leftovers import find_leftovers, remove_leftovers
from backend.errors import SidecarError
from backend.recipe import Recipe
from backend.sidecar import atomic
from backend.sidecar.apply import Outcome, PhotoInfo, apply_to_photo
from backend.sidecar.atomic import (
    atomic_write,
    backup_path,
    lock_path,
    read_replaceable,
    remove_with_backup,
    sidecar_lock,
)
from backend.sidecar.revert import revert_photo
from backend.sidecar.xmp import read_sidecar
from testing.fixtures import make_png

PLUS_ONE = Recipe.from_dict({"version": 1, "steps": [{"slider": "exposure", "value": 1.0}]})
HALF = Recipe.from_dict({"version": 1, "steps": [{"slider": "exposure", "value": 0.5}]})
INFO = PhotoInfo(is_raw=False, long_side_px=64)
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")


def _apply(photo: Path, recipe: Recipe = PLUS_ONE, **kw: Any) -> Outcome:
    (outcome,) = apply_to_photo(photo, recipe, host="darktable", info=INFO, **kw)
    return outcome


def _revert(photo: Path, **kw: Any) -> Outcome:
    (outcome,) = revert_photo(photo, host="darktable", **kw)
    return outcome


def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _within(seconds: float, call: Callable[[], Any], fifo: Path) -> Any:
    """``call()``'s result; fails (instead of hanging the test run) when it does not return in time.

    A call stuck opening the named pipe ``fifo`` for reading is set free by opening the pipe for writing.
    """
    result: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # a reader waits: this frees it
        os.close(fd)
        worker.join(5)
        pytest.fail(f"blocked on the named pipe {fifo} for {seconds} s")
    if errors:
        raise errors[0]
    return result[0]


# -- 1. our backup, lock and temp files have names of our own ------------------------------------------------


def test_the_users_own_bak_file_is_never_overwritten(tmp_path: Path) -> None:
    photo = make_png(tmp_path, "a.png")
    sidecar, users = tmp_path / "a.png.xmp", tmp_path / "a.png.xmp.bak"
    users.write_text("my own notes, not autoretouch's")
    first = _apply(photo)
    assert first.action == "written", first.reason
    applied = sidecar.read_bytes()
    second = _apply(photo, HALF, overwrite=True)
    assert second.action == "written", second.reason
    latest = sidecar.read_bytes()
    assert users.read_text() == "my own notes, not autoretouch's"  # untouched
    assert backup_path(sidecar) == tmp_path / "a.png.xmp.autoretouch.bak"
    assert backup_path(sidecar).read_bytes() == applied  # the version just before our latest write
    assert _revert(photo).action == "deleted"  # autoretouch created the sidecar
    assert backup_path(sidecar).read_bytes() == latest  # the version just before the revert removed it
    assert users.read_text() == "my own notes, not autoretouch's"
    assert _listing(tmp_path) == {"a.png", "a.png.xmp.bak", "a.png.xmp.autoretouch.bak"}


def test_backup_lock_and_temp_names_carry_our_mark_within_name_max(tmp_path: Path) -> None:
    names: list[str] = []
    real = atomic._write_temp

    def spy(folder: Path, name: str, data: bytes, mode: int) -> Path:
        tmp = real(folder, name, data, mode)
        names.append(tmp.name)
        return tmp

    for sidecar in (tmp_path / "IMG_1.xmp", tmp_path / ("é" * 110 + ".jpg.xmp")):
        assert lock_path(sidecar).name.endswith(".xmp.autoretouch.lock")
        assert backup_path(sidecar).name.endswith(".xmp.autoretouch.bak")
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(atomic, "_write_temp", spy)
            for data in (b"one", b"two"):
                with sidecar_lock(sidecar):
                    assert lock_path(sidecar).exists()
                    atomic_write(sidecar, data)
        assert backup_path(sidecar).read_bytes() == b"one"
        for name in (lock_path(sidecar).name, backup_path(sidecar).name, *names):
            assert len(os.fsencode(name)) <= 255, name
    assert len(names) == 6 and all(".xmp.autoretouch-" in n and n.startswith(".") for n in names), names
    assert all(find_leftovers(tmp_path, names) for names in ([n] for n in names))  # the clean-up knows them


# -- 2. the clean-up deletes only files with our mark, and a lock only when nobody holds it ----------------------


def test_leftover_cleanup_deletes_only_our_marked_files(tmp_path: Path) -> None:
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    users = {
        ".IMG_1.jpg.xmp.draft.tmp": "the user's own temp file",
        ".IMG_1.jpg.xmp.abc12345.tmp": "named like our old temp files",
        "IMG_1.jpg.xmp.lock": "the user's own lock file",
        "IMG_1.jpg.xmp.bak": "the user's own backup",
        ".IMG_1.jpg.xmp.autoretouch-toolong123.tmp": "not tempfile's 8 characters",
    }
    for name, text in users.items():
        (tmp_path / name).write_text(text)
    assert find_leftovers(tmp_path) == {}
    assert remove_leftovers(sidecar) == []
    ours = [tmp_path / ".IMG_1.jpg.xmp.autoretouch-x7_ab2cd.tmp", lock_path(sidecar)]
    for path in ours:
        path.write_text("left by a killed autoretouch")
    assert sorted(remove_leftovers(sidecar)) == sorted(ours)
    assert _listing(tmp_path) == set(users)
    assert all((tmp_path / name).read_text() == text for name, text in users.items())


def test_a_lock_held_by_another_process_is_left_with_its_temp_files(tmp_path: Path) -> None:
    import subprocess
    import sys

    sidecar = tmp_path / "IMG_1.jpg.xmp"
    temp = tmp_path / ".IMG_1.jpg.xmp.autoretouch-x7_ab2cd.tmp"
    temp.write_text("being written")
    code = (
        "import sys, time\n"
        "from backend.sidecar.atomic import sidecar_lock\n"
        "with sidecar_lock(sys.argv[1]):\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code, str(sidecar)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdin is not None and holder.stdout is not None
        try:
            assert holder.stdout.readline().strip() == "held"
            assert remove_leftovers(sidecar) == []
            assert temp.exists() and lock_path(sidecar).exists()
        finally:
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(30)
    assert remove_leftovers(sidecar) == [temp]
    assert _listing(tmp_path) == set()


# -- 3. symbolic links and hard links are never replaced ------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_a_symlinked_sidecar_is_refused_by_name_and_the_link_stays(tmp_path: Path) -> None:
    (tmp_path / "sync").mkdir()
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    photo = make_png(shoot, "a.png")
    target = tmp_path / "sync" / "a.png.xmp"
    other = make_png(shoot, "b.png")
    assert _apply(other).action == "written"  # a user sidecar to link to
    target.write_bytes((shoot / "b.png.xmp").read_bytes())
    (shoot / "b.png.xmp").unlink()
    data = target.read_bytes()
    link = shoot / "a.png.xmp"
    link.symlink_to(Path("..") / "sync" / "a.png.xmp")
    for outcome in (_apply(photo), _apply(photo, overwrite=True), _apply(photo, dry_run=True), _revert(photo)):
        assert outcome.action == "failed"
        assert outcome.reason.startswith(f"{link}: is a symbolic link to ../sync/a.png.xmp; ")
        assert "autoretouch replaces only regular files" in outcome.reason
        assert link.is_symlink() and os.readlink(link) == os.path.join("..", "sync", "a.png.xmp")
        assert target.read_bytes() == data
    assert _listing(shoot) == {"a.png", "b.png", "a.png.xmp"}  # no backup, no lock file


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_a_link_to_another_photos_sidecar_is_neither_read_as_its_own_nor_deleted(tmp_path: Path) -> None:
    b, c = make_png(tmp_path, "b.png"), make_png(tmp_path, "c.png")
    assert _apply(b).action == "written"
    b_data = (tmp_path / "b.png.xmp").read_bytes()
    link = tmp_path / "c.png.xmp"
    link.symlink_to("b.png.xmp")
    applied = _apply(c, HALF, overwrite=True)
    assert applied.action == "failed" and "is a symbolic link to b.png.xmp" in applied.reason
    reverted = _revert(c)
    assert reverted.action == "failed" and "is a symbolic link to b.png.xmp" in reverted.reason
    assert link.is_symlink() and (tmp_path / "b.png.xmp").read_bytes() == b_data
    with pytest.raises(SidecarError, match="is a symbolic link"):
        read_sidecar(link)
    with pytest.raises(SidecarError, match="is a symbolic link"):
        remove_with_backup(link)
    assert link.is_symlink()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_a_dangling_symlinked_sidecar_is_not_replaced_by_a_new_file(tmp_path: Path) -> None:
    photo = make_png(tmp_path, "a.png")
    link = tmp_path / "a.png.xmp"
    link.symlink_to("../unmounted/a.png.xmp")
    outcome = _apply(photo)
    assert outcome.action == "failed" and "is a symbolic link to ../unmounted/a.png.xmp" in outcome.reason
    assert link.is_symlink() and not link.exists()
    assert _revert(photo).action == "failed"
    assert link.is_symlink()


def test_a_hard_linked_sidecar_is_refused_and_keeps_its_links(tmp_path: Path) -> None:
    photo = make_png(tmp_path, "a.png")
    assert _apply(photo).action == "written"
    sidecar = tmp_path / "a.png.xmp"
    backup_path(sidecar).unlink(missing_ok=True)
    other = tmp_path / "elsewhere.xmp"
    os.link(sidecar, other)
    data = sidecar.read_bytes()
    for outcome in (_apply(photo, HALF, overwrite=True), _revert(photo)):
        assert outcome.action == "failed"
        assert outcome.reason.startswith(f"{sidecar}: has 2 hard links; ")
        assert os.path.samefile(sidecar, other) and sidecar.stat().st_nlink == 2
        assert sidecar.read_bytes() == data
    with pytest.raises(SidecarError, match="has 2 hard links"):
        atomic_write(sidecar, b"x")
    with pytest.raises(SidecarError, match="has 2 hard links"):
        remove_with_backup(sidecar)
    assert _listing(tmp_path) == {"a.png", "a.png.xmp", "elsewhere.xmp"}


def test_the_rest_of_the_batch_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from backend.cli.main import main

    bad, good = make_png(tmp_path, "a.png"), make_png(tmp_path, "b.png")
    (tmp_path / "real.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""/></rdf:RDF></x:xmpmeta>'
    )
    os.link(tmp_path / "real.xmp", tmp_path / "a.png.xmp")
    data = (tmp_path / "real.xmp").read_bytes()
    recipe = tmp_path / "r.json"
    recipe.write_text('{"version": 1, "steps": [{"slider": "exposure", "value": 0.5}]}')
    code = main(["apply", "--recipe", str(recipe), "--host", "darktable", str(bad), str(good)])
    out = "".join(capsys.readouterr())
    assert code == 9, out  # partial: the other photo got its sidecar
    assert f"{tmp_path / 'a.png.xmp'}: has 2 hard links" in out, out
    assert (tmp_path / "b.png.xmp").is_file()
    assert (tmp_path / "a.png.xmp").stat().st_nlink == 2 and (tmp_path / "real.xmp").read_bytes() == data


# -- 4. a named pipe (or another special file) is never opened --------------------------------------------------


@needs_fifo
def test_a_fifo_sidecar_is_refused_without_blocking(tmp_path: Path) -> None:
    photo = make_png(tmp_path, "a.png")
    fifo = tmp_path / "a.png.xmp"
    os.mkfifo(fifo)
    for call in (lambda: _apply(photo), lambda: _apply(photo, dry_run=True), lambda: _revert(photo)):
        outcome = _within(10, call, fifo)
        assert outcome.action == "failed"
        assert outcome.reason == f"{fifo}: a named pipe (FIFO), not a regular file; left untouched"
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(SidecarError, match=r"a named pipe \(FIFO\), not a regular file"):
        _within(10, lambda: read_sidecar(fifo), fifo)
    with pytest.raises(SidecarError, match=r"a named pipe \(FIFO\)"):
        _within(10, lambda: atomic_write(fifo, b"x"), fifo)
    assert _listing(tmp_path) == {"a.png", "a.png.xmp"}


@needs_fifo
def test_a_fifo_swapped_in_after_the_check_is_not_waited_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "a.png.xmp"
    os.mkfifo(fifo)
    regular = os.lstat(make_png(tmp_path, "a.png"))
    monkeypatch.setattr(atomic, "check_replaceable", lambda path: regular)  # as if it was a file when checked
    with pytest.raises(SidecarError, match=r"a named pipe \(FIFO\), not a regular file"):
        _within(10, lambda: read_replaceable(fifo), fifo)


@needs_fifo
@pytest.mark.usefixtures("one_torch_thread")
def test_catalog_refuses_a_fifo_sidecar_and_does_the_other_photos(tmp_path: Path) -> None:
    from backend.batch import run_batch
    from tests.test_batch_support import make_style

    style = make_style(tmp_path / "styles")
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    make_png(shoot, "a.png")
    make_png(shoot, "b.png")
    fifo = shoot / "a.png.xmp"
    os.mkfifo(fifo)
    summary = _within(120, lambda: run_batch([shoot], hosts="darktable", style=style, jobs=1), fifo)
    assert summary.counts["failed"] == 1 and summary.counts["written"] == 1
    (failed,) = [p for p in summary.photos if p.status == "failed"]
    assert "a named pipe (FIFO), not a regular file" in failed.reason
    assert (shoot / "b.png.xmp").is_file() and stat.S_ISFIFO(os.lstat(fifo).st_mode)
