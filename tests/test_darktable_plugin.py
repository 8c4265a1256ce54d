"""The darktable plugin's busted specs and luacheck, run from pytest.

The specs (``darktable_plugin/spec/``) drive ``autoretouch.lua`` against a stubbed ``darktable`` module and a
fake CLI run through the real shell (the script loads its modules from ``autoretouch/``), and test its JSON codec
(``autoretouch/json.lua``) directly. Needs ``busted`` and ``luacheck``: skipped when one is missing, a
failure under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from testing.needs import missing

pytestmark = pytest.mark.host

PLUGIN_DIR = Path(__file__).resolve().parent.parent / "darktable_plugin"


def _tool(name: str) -> str:
    """The program's path; skips (or fails under CI=true) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install lua-busted lua-check)"
        missing(message)
    return path


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LANG="C", LC_ALL="C")
    return subprocess.run(
        cmd, cwd=PLUGIN_DIR, capture_output=True, text=True, errors="replace", timeout=timeout, env=env, check=False
    )


def test_busted_specs_pass() -> None:
    busted = _tool("busted")
    if shutil.which("python3") is None:  # the specs' fake CLI is a Python script
        pytest.skip("python3 is not on the PATH")
    proc = _run([busted, "--output=TAP"], timeout=120)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    assert "not ok" not in report
    passed = sum(line.startswith("ok ") for line in proc.stdout.splitlines())
    assert passed >= 40, report  # the specs really ran (a config mistake would run none)


def test_luacheck_clean() -> None:
    luacheck = _tool("luacheck")
    proc = _run([luacheck, "--no-color", "--codes", "."], timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 warnings / 0 errors" in proc.stdout
    checked = {line.split()[1] for line in proc.stdout.splitlines() if line.startswith("Checking ")}
    assert "autoretouch.lua" in checked and any(name.startswith("spec/") for name in checked)
    assert "autoretouch/json.lua" in checked  # the plug-in's JSON codec (a helper module next to the script)
    modules = {f"autoretouch/{path.name}" for path in (PLUGIN_DIR / "autoretouch").glob("*.lua")}
    assert len(modules) > 1 and modules <= checked  # every module of the plug-in's folder is linted
