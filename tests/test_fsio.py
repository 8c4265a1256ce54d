"""backend/fsio.py: whole files replaced atomically (old or new, never half), with a plain file's permissions."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.fsio import NEW_FILE_MODE, replacing, write_bytes_atomic, write_text_atomic


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
