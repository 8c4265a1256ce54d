"""backend/fsio.py: whole files replaced atomically (old or new, never half), with a plain file's permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from backend.fsio import (
    NAME_MAX,
    NEW_FILE_MODE,
    read_limited,
    replacing,
    temp_prefix,
    write_bytes_atomic,
    write_text_atomic,
)


def test_write_replaces_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    target.write_text("old")
    write_text_atomic(target, "new é")
    assert target.read_text(encoding="utf-8") == "new é"
    assert (target.stat().st_mode & 0o777) == NEW_FILE_MODE
    write_bytes_atomic(target, b"\x00\x01", mode=0o600)
    assert target.read_bytes() == b"\x00\x01" and (target.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_failure_keeps_the_old_file_and_removes_the_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="half written"), replacing(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("half written")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
    with pytest.raises(FileNotFoundError):
        write_bytes_atomic(tmp_path / "missing" / "x.bin", b"x")


def test_a_file_with_the_longest_legal_name_is_replaced_through_a_short_enough_temp_file(tmp_path: Path) -> None:
    target = tmp_path / ("é" * 120 + ".json")  # 245 bytes: legal; ".NAME.xxxxxxxx.tmp" would be 259
    seen: list[str] = []
    with replacing(target) as tmp:
        seen.append(tmp.name)
        tmp.write_text("{}")
    assert target.read_text() == "{}"
    assert len(os.fsencode(seen[0])) <= NAME_MAX and seen[0].startswith(".é") and ".json." in seen[0]
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert temp_prefix("IMG_1.jpg.xmp") == ".IMG_1.jpg.xmp."  # short names unchanged


class _RefusedError(Exception):
    """What the callers of ``read_limited`` below raise, so each test sees which callable made the error."""


def _read(path: Path, limit: int | None, **kw: object) -> bytes:
    return read_limited(
        path,
        limit,
        refuse=lambda info: None if stat.S_ISREG(info.st_mode) else _RefusedError(f"refused {info.st_mode:o}"),
        too_large=lambda size: _RefusedError(f"too large: {size}"),
        open_failed=lambda exc: _RefusedError(f"open failed: {type(exc).__name__}"),
        read_failed=lambda exc: exc,
        **kw,  # type: ignore[arg-type]
    )


def test_read_limited_reads_a_regular_file_within_its_limit(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"12345")
    assert _read(target, None) == b"12345"
    assert _read(target, 5) == b"12345"
    with pytest.raises(_RefusedError, match=r"^too large: 5$"):
        _read(target, 4)
    with pytest.raises(_RefusedError, match=r"^open failed: FileNotFoundError$"):
        _read(tmp_path / "missing", 4)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_read_limited_refuses_a_named_pipe_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(_RefusedError, match=r"^refused 1"):  # S_IFIFO: 0o010000
        _read(fifo, 10)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="no /proc/self/fd here to count open files")
def test_read_limited_refuses_a_folder_by_the_callers_error_and_keeps_no_file_open(tmp_path: Path) -> None:
    folder = tmp_path / "x.json"
    folder.mkdir()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):  # POSIX opens a folder read-only: the open descriptor is checked, then closed
        with pytest.raises(_RefusedError, match=r"^refused 4"):  # S_IFDIR: 0o040000
            _read(folder, 10)
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="no O_NOFOLLOW here")
def test_read_limited_follows_a_symbolic_link_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"x")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert _read(link, 10) == b"x"
    with pytest.raises(_RefusedError, match=r"^open failed: OSError$"):  # ELOOP
        _read(link, 10, follow_links=False)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="no /proc here")
def test_read_limited_refuses_a_file_that_holds_more_than_its_fstat_said() -> None:
    # /proc files are regular with st_size 0: as a file that grew past the limit after the fstat
    with pytest.raises(_RefusedError, match=r"^too large: None$"):
        _read(Path("/proc/self/status"), 10)
