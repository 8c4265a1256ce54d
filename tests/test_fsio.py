"""backend/fsio.py: whole files replaced atomically (old or new, never half), with a plain file's permissions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.fsio import (
    NAME_MAX,
    NEW_FILE_MODE,
    replacing,
    temp_prefix,
    write_bytes_atomic,
    write_text_atomic,
    write_with,
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
    write_with(target, lambda tmp: (seen.append(tmp.name), tmp.write_text("{}")))
    assert target.read_text() == "{}"
    assert len(os.fsencode(seen[0])) <= NAME_MAX and seen[0].startswith(".é") and ".json." in seen[0]
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert temp_prefix("IMG_1.jpg.xmp") == ".IMG_1.jpg.xmp."  # short names unchanged
