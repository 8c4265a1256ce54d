"""A style's files are opened with the flags the platform has: no ``O_NONBLOCK`` on Windows, ``O_BINARY`` there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from backend.agent.network import AgentNet
from backend.agent.style import Style, StyleStore, load_style, save_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _saved(folder: Path) -> Path:
    torch.manual_seed(0)
    net = AgentNet(sliders=("exposure", "contrast"), max_steps=2, width=8).eval()  # type: ignore[arg-type]
    return save_style(Style(name="warm", net=net, description="", training={}, metrics={}, model_version=1), folder)


def test_styles_load_and_list_without_o_nonblock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = _saved(tmp_path)
    monkeypatch.delattr(os, "O_NONBLOCK")  # as on Windows
    assert load_style(weights).name == "warm"
    assert [s.name for s in StyleStore([tmp_path]).list()] == ["warm"]


def test_styles_are_read_in_binary_mode_where_the_platform_has_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = _saved(tmp_path)
    binary = 1 << 29  # stands for Windows' O_BINARY; taken off again before the real open
    real_open = os.open
    flags_seen: list[int] = []

    def spy(path: object, flags: int, *args: object, **kw: object) -> int:
        flags_seen.append(flags)
        return real_open(path, flags & ~binary, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "O_BINARY", binary, raising=False)
    monkeypatch.setattr(os, "open", spy)
    assert load_style(weights).name == "warm"
    assert flags_seen and all(f & binary for f in flags_seen)
