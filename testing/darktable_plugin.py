"""Helpers for tests that run the darktable plug-in inside a real darktable: install it, a CLI wrapper, a style."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

__all__ = ["PLUGIN", "PLUGIN_MODULES", "REPO", "cli_wrapper", "install_plugin", "throwaway_style"]

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "darktable_plugin" / "autoretouch.lua"
#: The plug-in's helper modules (``require "autoretouch/json"``), installed next to the script.
PLUGIN_MODULES = REPO / "darktable_plugin" / "autoretouch"


def install_plugin(config: Path) -> None:
    """Install the plug-in into darktable's ``config`` folder as a user would, loaded from ``luarc``."""
    (config / "lua").mkdir(parents=True)
    shutil.copyfile(PLUGIN, config / "lua" / "autoretouch.lua")
    shutil.copytree(PLUGIN_MODULES, config / "lua" / "autoretouch")
    (config / "luarc").write_text('require "autoretouch"\n', encoding="utf-8")


def cli_wrapper(directory: Path) -> Path:
    """An ``autoretouch`` executable (``directory/autoretouch cli``) running this checkout's CLI with this Python."""
    directory.mkdir(parents=True)
    path = directory / "autoretouch cli"
    path.write_text(
        f'#!/bin/sh\nPYTHONPATH={shlex.quote(str(REPO))} exec {shlex.quote(sys.executable)} -m backend "$@"\n',
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


def throwaway_style(directory: Path, name: str = "throwaway", seed: int = 7) -> None:
    """A style with a random (seeded) agent, saved as ``directory/NAME.safetensors``."""
    import torch

    from backend.agent.network import AgentNet
    from backend.agent.style import Style, save_style

    torch.manual_seed(seed)
    save_style(Style(name, AgentNet().eval(), training={"photos": 0}, metrics={}), directory)
