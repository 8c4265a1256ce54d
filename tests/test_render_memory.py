"""The memory check before a full-resolution render (``backend.render.memory``), and ``render`` refusing a photo
that does not fit while the rest of the batch carries on.

The machine's free memory is the one thing replaced here (a test cannot run a machine out of memory safely):
``available_bytes`` reads a meminfo file written by the test, and the process's own resident memory is taken as 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.cli.main import EXIT_PARTIAL, main
from backend.render import memory
from backend.render.memory import PROCESS_BYTES, STAGE_BYTES_PER_PIXEL, available_bytes, cgroup_room, render_bytes


def test_render_bytes_grows_with_pixels_and_with_whole_image_stages() -> None:
    flat = render_bytes(1000, 2000, ["exposure", "contrast"])
    assert flat == PROCESS_BYTES + 2_000_000 * STAGE_BYTES_PER_PIXEL[""]
    assert render_bytes(2000, 2000, ["exposure"]) - PROCESS_BYTES == 2 * (flat - PROCESS_BYTES)
    clarity = render_bytes(1000, 2000, ["exposure", "clarity"])
    both = render_bytes(1000, 2000, ["clarity", "sharpen", "vignette"])
    assert flat < render_bytes(1000, 2000, ["vignette"]) < clarity == both  # the peak is the largest stage's


def test_available_bytes_reads_free_memory_not_swap(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemAvailable:    2000000 kB\nSwapFree:        500000 kB\n")
    no_cgroup = tmp_path / "no-cgroup"
    assert available_bytes(meminfo, no_cgroup, no_cgroup / "cgroup") == 2_000_000 * 1024
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:         1000 kB\n")
    assert available_bytes(meminfo, no_cgroup, no_cgroup / "cgroup") is None  # no MemAvailable: not checked
    assert available_bytes(tmp_path / "absent") is None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_container_limit_caps_the_free_memory(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemAvailable:    8000000 kB\n")  # the host's 8 GB free
    # cgroup v2, the process in a slice limited to 3 GB with 1 GB used
    v2, membership = tmp_path / "v2", tmp_path / "cgroup-v2"
    membership.write_text("0::/user.slice/app\n")
    _write(v2 / "user.slice/app/memory.max", "3000000000\n")
    _write(v2 / "user.slice/app/memory.current", "1000000000\n")
    assert cgroup_room(v2, membership) == 2_000_000_000
    assert available_bytes(meminfo, v2, membership) == 2_000_000_000
    # no limit ("max"): the host's free memory
    _write(v2 / "user.slice/app/memory.max", "max\n")
    assert cgroup_room(v2, membership) is None
    assert available_bytes(meminfo, v2, membership) == 8_000_000 * 1024
    # cgroup v1 as a container sees it: the limit at the top of the memory hierarchy; over the limit counts as 0
    v1, membership1 = tmp_path / "v1", tmp_path / "cgroup-v1"
    membership1.write_text("4:memory:/docker/abc\n0::/\n")
    _write(v1 / "memory/memory.limit_in_bytes", "1000000000\n")
    _write(v1 / "memory/memory.usage_in_bytes", "1200000000\n")
    assert cgroup_room(v1, membership1) == 0
    _write(v1 / "memory/memory.limit_in_bytes", "9223372036854771712\n")  # v1's "no limit"
    assert cgroup_room(v1, membership1) is None


def _photo(path: Path, height: int, width: int) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((height, width, 3)) * 200 + 20).astype(np.uint8)).save(path)
    return path


def test_render_refuses_a_photo_too_large_for_free_memory_and_renders_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small = _photo(tmp_path / "small.png", 40, 60)
    big = _photo(tmp_path / "big.png", 200, 300)
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"version": 1, "steps": [{"slider": "clarity", "value": 40}]}))
    free = render_bytes(40, 60, ["clarity"]) + 1  # the small photo fits, the big one does not
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(f"MemAvailable: {free // 1024 + 1} kB\nSwapFree: 0 kB\n")
    no_cgroup = tmp_path / "no-cgroup"
    monkeypatch.setattr(memory, "available_bytes", lambda: available_bytes(meminfo, no_cgroup, no_cgroup / "cgroup"))
    monkeypatch.setattr(memory, "_resident_bytes", lambda: 0)
    out = tmp_path / "out"

    status = main(["render", str(big), str(small), "--recipe", str(recipe), "--out-dir", str(out)])

    err = capsys.readouterr().err
    assert status == EXIT_PARTIAL
    assert (out / "small.png").is_file() and not (out / "big.png").exists()
    assert f"{big}: rendering its 300x200 pixels with clarity needs about" in err
    assert "--long-side" in err
    # made smaller, it fits
    assert main(["render", str(big), "--recipe", str(recipe), "--out-dir", str(out), "--long-side", "60"]) == 0
    assert (out / "big.png").is_file()


def test_without_a_whole_image_stage_the_same_photo_needs_less(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = _photo(tmp_path / "big.png", 200, 300)
    free = render_bytes(200, 300, ["exposure"]) + 1
    monkeypatch.setattr(memory, "available_bytes", lambda: free)
    monkeypatch.setattr(memory, "_resident_bytes", lambda: 0)
    for slider, value, status in (("exposure", 0.5, 0), ("sharpen", 50, 5)):
        recipe = tmp_path / f"{slider}.json"
        recipe.write_text(json.dumps({"version": 1, "steps": [{"slider": slider, "value": value}]}))
        assert main(["render", str(big), "--recipe", str(recipe), "-o", str(tmp_path / f"{slider}.png")]) == status
