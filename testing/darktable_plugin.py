"""Helpers for tests that run the darktable plug-in inside a real darktable.

Install it, a CLI wrapper, a style; write a ``--luacmd`` driver that ends by writing its result and quitting,
and read that result; or all of it at once (run_plugin_session). Lua a driver's body may start with: COPY_FILE,
PREVIEW_COUNTER, READ_FILE and SETTLE (a function each), and OWN_VIRTUAL_COPY (a photo's copy with its own history).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from testing.darktable_gui import lua_string, run_darktable

__all__ = [
    "COPY_FILE",
    "OWN_VIRTUAL_COPY",
    "PLUGIN",
    "PLUGIN_MODULES",
    "PREVIEW_COUNTER",
    "READ_FILE",
    "REPO",
    "SETTLE",
    "cli_wrapper",
    "driver_result",
    "install_plugin",
    "run_plugin_session",
    "throwaway_style",
    "write_driver",
]

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "darktable_plugin" / "autoretouch.lua"
#: The plug-in's modules (``require "autoretouch/json"``, ``"autoretouch/daemon"``, ...), installed next to the script.
PLUGIN_MODULES = REPO / "darktable_plugin" / "autoretouch"


def install_plugin(config: Path) -> None:
    """Install the plug-in into darktable's ``config`` folder as a user would, loaded from ``luarc``."""
    (config / "lua").mkdir(parents=True)
    shutil.copyfile(PLUGIN, config / "lua" / "autoretouch.lua")
    shutil.copytree(PLUGIN_MODULES, config / "lua" / "autoretouch")
    (config / "luarc").write_text('require "autoretouch"\n', encoding="utf-8")


#: The start of every driver: its work runs in a ``pcall`` with ``dt`` (darktable), ``ar`` (the plug-in) and the
#: table ``result`` in scope.
_DRIVER_START = """
local dt = require "darktable"
local result = {}
local ok, err = pcall(function()
  local ar = require "autoretouch"
"""

#: The end of every driver: ``result`` is written to ``{result_path}`` as JSON (with the plug-in's codec,
#: ``require "autoretouch/json"``), or ``ERROR <the error>`` when the driver's ``pcall`` failed; then darktable quits.
_WRITE_RESULT_AND_QUIT = """end)
local f = io.open({result_path}, "w")
if ok then
  f:write(require("autoretouch/json").encode(result))
else
  f:write("ERROR " .. tostring(err))
end
f:close()
dt.gui.action("global/quit", 0, "", "", 1.0)
"""


#: Lua for a driver's body (see write_driver): ``previews()`` counts the virtual copies carrying the preview tag.
PREVIEW_COUNTER = """
  local function previews()
    local tag = dt.tags.find("autoretouch|preview")
    local n = 0
    for i = 1, tag and #tag or 0 do
      if tag[i].duplicate_index > 0 then
        n = n + 1
      end
    end
    return n
  end
"""

#: Lua for a driver's body (see write_driver): ``read(path)``, the file's bytes, nil when it cannot be opened.
READ_FILE = """
  local function read(path)
    local f = io.open(path, "rb")
    local text = f and f:read("*a")
    if f then
      f:close()
    end
    return text
  end
"""

#: Lua for a driver's body (see write_driver): ``copy_file(src, dst)`` writes the bytes of ``src`` to ``dst``, as a
#: program outside darktable would (an error when either cannot be opened).
COPY_FILE = """
  local function copy_file(src, dst)
    local f = io.open(src, "rb")
    local text = f:read("*a")
    f:close()
    local g = io.open(dst, "wb")
    g:write(text)
    g:close()
  end
"""

#: Lua for a driver's body (see write_driver): ``settle()``, a pause of 1.5 s between steps, as between a user's
#: clicks: darktable 4.2 reloads a sidecar by importing the image again and then refreshes its thumbnail in the
#: background; importing the same image again while that job runs has crashed or hung darktable under load.
SETTLE = """
  local function settle()
    dt.control.sleep(1500)
  end
"""

#: Lua for a driver's body (see write_driver; it brings SETTLE and COPY_FILE): the user's own virtual copy of the
#: photo ``{photo}``, with a history of its own: ``img``, the photo imported, and ``copy``, its virtual copy, whose
#: sidecar is then written from the file ``{copy_history}`` (from outside, as a program would) and read back into
#: darktable's library by importing the photo again.
OWN_VIRTUAL_COPY = (
    SETTLE
    + COPY_FILE
    + """
  local img = dt.database.import({photo})
  settle()
  local copy = dt.database.duplicate(img)
  settle()
  copy_file({copy_history}, copy.sidecar)
  dt.database.import({photo}) -- darktable 4.2 re-reads the copy's sidecar into its library
  settle()
"""
)


def write_driver(path: Path, body: str, result_path: Path, **paths: Path) -> None:
    """Write a ``--luacmd`` driver for ``run_darktable``: ``body`` in a ``pcall``, then its result, then quit.

    Args:
        path: the driver file.
        body: the driver's work, Lua run with ``dt`` (darktable), ``ar`` (the plug-in, ``require "autoretouch"``)
            and the table ``result`` in scope; a ``str.format`` template (literal braces doubled).
        result_path: where ``result`` goes (read it with driver_result).
        paths: the template's other ``{name}`` fields, each filled in as a Lua string literal.
    """
    values = {name: lua_string(str(value)) for name, value in paths.items()}
    values["result_path"] = lua_string(str(result_path))
    text = _DRIVER_START + (body.lstrip("\n") + _WRITE_RESULT_AND_QUIT).format(**values)
    path.write_text(text, encoding="utf-8")


def driver_result(status: int | None, log: str, result_path: Path, timeout_s: float) -> dict[str, Any]:
    """The JSON result of a driver written by write_driver, from ``run_darktable``'s ``(status, log)``.

    Fails the test, with the end of darktable's log, when darktable did not quit within ``timeout_s`` seconds
    (``status`` None), when the driver wrote nothing, or when it wrote an error.
    """
    if status is None:
        done = "it had written the driver's result" if result_path.exists() else "the driver had not finished"
        pytest.fail(f"darktable did not quit within {timeout_s} s ({done}); log:\n{log[-4000:]}")
    assert result_path.exists(), f"the Lua driver wrote nothing (status {status}); log:\n{log[-4000:]}"
    text = result_path.read_text(encoding="utf-8")
    assert not text.startswith("ERROR"), f"{text}\nlog:\n{log[-4000:]}"
    return json.loads(text)


def cli_wrapper(directory: Path, name: str = "autoretouch cli", calls: Path | None = None) -> Path:
    """An ``autoretouch`` executable (``directory/NAME``) running this checkout's CLI with this Python.

    With ``calls``, each call first appends its arguments to that file, one JSON list a line.
    """
    directory.mkdir(parents=True)
    path = directory / name
    python = shlex.quote(sys.executable)
    log = ""
    if calls is not None:
        code = f"import json, sys; open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + chr(10))"
        log = f'{python} -c {shlex.quote(code)} "$@"\n'
    path.write_text(
        f'#!/bin/sh\n{log}PYTHONPATH={shlex.quote(str(REPO))} exec {python} -m backend "$@"\n', encoding="utf-8"
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


def run_plugin_session(
    root: Path, body: str, *, timeout_s: float, xvfb: str = "", write_sidecars: str = "on import", **paths: Path
) -> tuple[dict[str, Any], str]:
    """Run darktable once with the plug-in and the driver ``body``: the driver's result and darktable's output.

    darktable's folders and library are in ``root`` (see ``run_darktable``), with the plug-in installed there;
    its command is this checkout's CLI (``root/bin 'x' $y/autoretouch cli``, the daemon started on demand off:
    every call runs the command line), and a throw-away style is installed (``root/styles``, named
    ``throwaway``, through ``$AUTORETOUCH_STYLES``).

    Args:
        root: the session's folder.
        body: the driver's work (see write_driver).
        timeout_s: the session's limit in seconds.
        xvfb: extra Xvfb server options (see ``run_darktable``).
        write_sidecars: darktable's "write sidecar file for each image" preference (see ``run_darktable``).
        paths: the driver's other ``{name}`` fields (see write_driver).

    Returns:
        ``(the driver's result (see driver_result), darktable's output)``.
    """
    styles = root / "styles"
    throwaway_style(styles)
    cli = cli_wrapper(root / "bin 'x' $y")
    install_plugin(root / "config")
    result_path, driver = root / "result.json", root / "driver.lua"
    write_driver(driver, body, result_path, **paths)
    conf = (f"lua/autoretouch/cli_path={cli}", "lua/autoretouch/start_daemon=FALSE")
    env = {"AUTORETOUCH_STYLES": str(styles)}
    status, log = run_darktable(
        root, driver, conf=conf, xvfb=xvfb, env=env, timeout_s=timeout_s, write_sidecars=write_sidecars
    )
    return driver_result(status, log, result_path, timeout_s), log
