"""Throw-away styles for tests: seeded, untrained agents saved as style files, and an isolated style store.

* :func:`save_random_style`: a freshly initialised :class:`~backend.agent.network.AgentNet` (seeded, eval
  mode) saved as ``NAME.safetensors`` + ``NAME.json``.
* :func:`isolate_style_store`: point the default :class:`~backend.agent.style.StyleStore` at one user folder
  and hide the shipped styles, for the duration of a test (``monkeypatch``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import backend.agent.style as style_mod
from backend.agent.network import AgentNet
from backend.agent.style import Style, save_style

__all__ = ["isolate_style_store", "save_random_style"]


def save_random_style(directory: Path, name: str, seed: int, **fields: Any) -> Path:
    """Save an untrained, seeded style into ``directory`` (created if missing).

    Args:
        directory: the style folder.
        name: the style name (file stem).
        seed: ``torch.manual_seed`` value set right before the network is built (same seed, same weights).
        **fields: further :class:`~backend.agent.style.Style` fields (``description``, ``training``, ``metrics``).

    Returns:
        The weights path ``directory / f"{name}.safetensors"``.
    """
    torch.manual_seed(seed)
    return save_style(Style(name=name, net=AgentNet().eval(), **fields), directory)


def isolate_style_store(monkeypatch: pytest.MonkeyPatch, user_dir: Path, shipped_dir: Path) -> None:
    """Make ``user_dir`` the only user style folder and ``shipped_dir`` the shipped one (for this test).

    Args:
        monkeypatch: the test's monkeypatch (undone after the test).
        user_dir: value of ``AUTORETOUCH_STYLES``.
        shipped_dir: replaces :data:`backend.agent.style.SHIPPED_STYLES_DIR` (usually a missing folder).
    """
    monkeypatch.setenv("AUTORETOUCH_STYLES", str(user_dir))
    monkeypatch.setattr(style_mod, "SHIPPED_STYLES_DIR", shipped_dir)
