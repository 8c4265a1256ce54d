"""The Lightroom Classic plug-in (``lightroom_plugin/``): busted specs, luacheck, the packaged zip, and the
plug-in's Lua client against a real daemon.

The unit specs run under Lua 5.1 with a stubbed SDK. The integration specs talk to a daemon started here on a
loopback port (LrHttp stubbed with LuaSocket) and must apply exactly the settings that ``autoretouch suggest
--json`` plus the Lightroom translator give in-process for the same photo, style and strength; the flow spec
trains a style through the plug-in first (the daemon's real worker, made to train for seconds), then previews,
applies variant 2 and reverts. Without busted, luacheck or lua5.1 the tests skip, except under ``CI=true``,
where they fail.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from backend.cli.main import main
from backend.recipe import Recipe
from backend.sliders.catalog import CATALOG
from backend.translate.lightroom import DevelopSettings, recipe_to_develop_settings
from testing.daemon import config_for, make_style_dir, start_daemon
from testing.needs import missing
from testing.training import TINY_RESTORE_OVERRIDES

pytestmark = pytest.mark.host

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "lightroom_plugin"
PACKAGE = PLUGIN / "autoretouch.lrplugin"
TOKEN = "lr-plugin-test-token"
STYLES = ("default", "warm")
STRENGTH = 0.7
TIMEOUT_S = 90


def _missing(what: str) -> None:
    """Skip because ``what`` is not installed; fail instead under CI=true."""
    message = f"{what} is not installed (Debian: lua5.1, lua-busted, lua-check, lua-socket, lua-dkjson)"
    missing(message)


def _need(program: str) -> str:
    """The program's path; skip (fail under CI=true) when it is missing."""
    path = shutil.which(program)
    if path is None:
        _missing(program)
    return str(path)


def _busted(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run busted in lightroom_plugin/ with JSON output; returns the parsed report."""
    busted = _need("busted")
    _need("lua5.1")
    run = subprocess.run(
        [busted, "--output=json", *args],
        cwd=PLUGIN,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"busted printed no JSON report (exit {run.returncode}):\n{run.stdout}\n{run.stderr}")
    problems = [
        f"{item['name']}: {item.get('message') or item.get('trace', {}).get('message')}"
        for item in report["failures"] + report["errors"]
    ]
    assert run.returncode == 0 and not problems, "\n".join(problems) or run.stderr
    return report


@pytest.fixture(scope="module")
def catalog_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output of ``autoretouch sliders --json`` (run in-process) as a file: the whitelist's source."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["sliders", "--json"]) == 0
    path = tmp_path_factory.mktemp("lrplugin") / "catalog.json"
    path.write_text(out.getvalue())
    return path


def test_unit_specs_pass(catalog_json: Path) -> None:
    report = _busted({"AUTORETOUCH_CATALOG_JSON": str(catalog_json)})
    names = " | ".join(item["name"] for item in report["successes"])
    assert len(report["successes"]) >= 45 and not report["pendings"]
    for topic in (
        "asks for options and applies every selected photo in batches",  # the apply flow
        "applies exactly the daemon's settings table",
        "keeps going when one photo fails",
        "stops between batches when the progress scope is cancelled",
        "explains how to start the daemon",
        "drops and logs keys that are not in the slider catalog",
        "posts the selected paths once each",  # sidecars
    ):
        assert topic in names, topic


def test_luacheck_is_clean() -> None:
    luacheck = _need("luacheck")
    run = subprocess.run(
        [luacheck, ".", "--no-color", "--formatter=plain"],
        cwd=PLUGIN,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert run.returncode == 0 and run.stdout.strip() == "", run.stdout + run.stderr


def test_build_script_packages_an_installable_zip(tmp_path: Path, catalog_json: Path) -> None:
    _need("lua5.1")
    if not Path(os.environ.get("DKJSON", "/usr/share/lua/5.1/dkjson.lua")).is_file():
        _missing("dkjson.lua (lua-dkjson)")
    out = tmp_path / "dist"
    run = subprocess.run(
        ["bash", str(REPO / "scripts" / "build_lrplugin.sh"), "--out", str(out)],
        env={**os.environ, "CATALOG_JSON": str(catalog_json)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    archive = out / "autoretouch.lrplugin.zip"
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        assert all(name.startswith("autoretouch.lrplugin/") for name in names)
        sources = {f"autoretouch.lrplugin/{p.name}" for p in PACKAGE.glob("*.lua")}
        generated = {"autoretouch.lrplugin/dkjson.lua", "autoretouch.lrplugin/AutoretouchKeys.lua"}
        assert names == sources | generated | {"autoretouch.lrplugin/THIRD_PARTY_LICENSES.txt"}
        licences = zf.read("autoretouch.lrplugin/THIRD_PARTY_LICENSES.txt").decode()
        assert "dkjson" in licences and "MIT" in licences and "Permission is hereby granted" in licences
        keys_lua = zf.read("autoretouch.lrplugin/AutoretouchKeys.lua").decode()
        zf.extractall(tmp_path / "installed")
    keys = re.findall(r'^\s+"(\w+)",$', keys_lua, flags=re.MULTILINE)
    assert keys == sorted({k for spec in CATALOG for k in spec.lightroom.keys})
    # Unzipped, the folder is a plug-in Lightroom can load: every file compiles, Info.lua runs restricted.
    installed = tmp_path / "installed" / "autoretouch.lrplugin"
    for lua in installed.glob("*.lua"):
        check = subprocess.run(["luac5.1", "-p", str(lua)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr
    probe = (
        f"local f = assert(loadfile({json.dumps(str(installed / 'Info.lua'))})); setfenv(f, {{LOC = function(s)"
        " return (s:gsub('^%$%$%$/[^=]*=', '')) end, string = string}); local i = f();"
        " print(i.LrSdkMinimumVersion, i.LrLibraryMenuItems[1].title)"
    )
    info = subprocess.run(["lua5.1", "-e", probe], capture_output=True, text=True, check=False)
    assert info.stdout.split("\t") == ["6", "Auto-retouch (learned style)\n"], info.stderr
    # The bundled and generated files are never committed.
    tracked = subprocess.run(
        ["git", "ls-files", "lightroom_plugin"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert "dkjson.lua" not in tracked.stdout and "AutoretouchKeys.lua" not in tracked.stdout


# -- the live daemon ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real daemon (token, generated styles, trainings of seconds) serving a root with one generated JPEG."""
    base = tmp_path_factory.mktemp("lrlive")
    root = base / "root"
    root.mkdir()
    image = (np.random.default_rng(3).random((40, 56, 3)) * 200 + 25).astype(np.uint8)
    photo = root / "portrait shot.jpg"
    assert cv2.imwrite(str(photo), image)
    styles = make_style_dir(base / "styles")
    tiny_worker = (sys.executable, "-m", "testing.tiny_train_worker")
    daemon, ports = start_daemon(config_for(root, styles, token=TOKEN, train_command=tiny_worker))
    try:
        assert daemon.wait_until_serving(30)
        yield {"base": base, "photo": photo, "styles": styles, "url": f"http://127.0.0.1:{ports.http}"}
    finally:
        daemon.stop(0.5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _need_lua_socket() -> None:
    _need("busted")
    lua_socket = subprocess.run(["lua5.1", "-e", "require 'socket.http'"], capture_output=True, check=False)
    if lua_socket.returncode != 0:
        _missing("lua-socket (socket.http for lua5.1)")


def _suggested(
    capsys: pytest.CaptureFixture[str], photo: Path, style: str, strength: float, variants: int = 1
) -> list[DevelopSettings]:
    """What ``autoretouch suggest --json`` (in-process, $AUTORETOUCH_STYLES, seed 0) plus the Lightroom translator
    give for a JPEG (incremental white balance): one table per variant."""
    args = ["suggest", str(photo), "--style", style, "--strength", str(strength), "--json"]
    assert main([*args, "--variants", str(variants), "--seed", "0"]) == 0
    row = json.loads(capsys.readouterr().out)
    return [recipe_to_develop_settings(Recipe.from_dict(r), is_raw=False) for r in row["recipes"]]


def test_lua_client_applies_what_suggest_gives(
    live: dict[str, Any], catalog_json: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _need_lua_socket()
    monkeypatch.setenv("AUTORETOUCH_STYLES", str(live["styles"]))
    expected: dict[str, dict[str, Any]] = {}
    for style in STYLES:
        expected[style] = dict(_suggested(capsys, live["photo"], style, STRENGTH)[0])
        assert expected[style], f"style {style} must suggest at least one slider for the test photo"
    assert expected["default"] != expected["warm"]  # so the style the dialog picks is seen to matter
    assert isinstance(expected["default"].get("Exposure2012"), float)  # a fractional value crosses JSON too
    expected_file = live["base"] / "expected.json"
    expected_file.write_text(json.dumps(expected))
    env = {
        "AUTORETOUCH_CATALOG_JSON": str(catalog_json),
        "AUTORETOUCH_IT_URL": live["url"],
        "AUTORETOUCH_IT_TOKEN": TOKEN,
        "AUTORETOUCH_IT_PHOTO": str(live["photo"]),
        "AUTORETOUCH_IT_STYLES": ",".join(STYLES),
        "AUTORETOUCH_IT_STRENGTH": str(STRENGTH),
        "AUTORETOUCH_IT_EXPECTED": str(expected_file),
        "AUTORETOUCH_IT_DEAD_URL": f"http://127.0.0.1:{_free_port()}",
    }
    report = _busted(env, "--run=integration", "spec/integration/live_daemon_spec.lua")
    assert len(report["successes"]) == 4 and not report["pendings"], report["pendings"]


# -- the whole flow: train, list, preview, apply variant 2, revert ------------------------------------

FLOW_STYLE = "lr-flow"
FLOW_STRENGTH = 75  # percent; a strength the preview renders, so the picture shown is the one applied
FLOW_VARIANT = 2
#: The photo's develop settings before it is auto-retouched (a JPEG as Lightroom imports it, sharpened a little).
BEFORE = {"ProcessVersion": "11.0", "WhiteBalance": "As Shot", "Exposure2012": 0, "Contrast2012": 0, "Sharpness": 10,
          "IncrementalTemperature": 0, "IncrementalTint": 0}  # fmt: skip


def _flow_photos(folder: Path) -> tuple[list[dict[str, Any]], Path]:
    """Generated photos in ``folder``: three edited ones to learn from (JPEG, JPEG, TIFF) with their develop
    settings, and a new JPEG to auto-retouch."""
    folder.mkdir()
    rng = np.random.default_rng(11)
    train = []
    for i, name in enumerate(("beach 1.jpg", "beach 2.jpg", "dunes.tif")):
        path = folder / name
        assert cv2.imwrite(str(path), (rng.random((40, 56, 3)) * 150 + 30).astype(np.uint8))
        edits = {"Exposure2012": 0.6 + 0.1 * i, "Contrast2012": 20, "Sharpness": 30}
        train.append({"path": str(path), "develop": {**BEFORE, **edits}})
    photo = folder / "new shot.jpg"
    assert cv2.imwrite(str(photo), (rng.random((48, 40, 3)) * 120 + 20).astype(np.uint8))
    return train, photo


def _as_applied(settings: DevelopSettings, before: dict[str, Any]) -> dict[str, Any]:
    """The table the plug-in applies: the absolute keys, and each relative key added to the photo's value before,
    clamped to Lightroom's range."""
    out = {k: v for k, v in settings.items() if k not in settings.relative}
    for key, (add, lo, hi) in settings.relative.items():
        out[key] = max(lo, min(hi, int(before.get(key, 0)) + add))
    return out


def test_lua_flow_trains_previews_applies_a_variant_and_reverts(
    live: dict[str, Any], catalog_json: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _need_lua_socket()
    train, photo = _flow_photos(live["photo"].parent / "flow")
    steps = int(dict(o.split("=", 1) for o in TINY_RESTORE_OVERRIDES)["run.steps"])
    flow = {"url": live["url"], "token": TOKEN, "style": FLOW_STYLE, "steps": steps, "train": train,
            "photo": {"path": str(photo), "develop": BEFORE}, "strength": FLOW_STRENGTH, "variant": FLOW_VARIANT,
            "report": str(live["base"] / "flow-report.json")}  # fmt: skip
    flow_file = live["base"] / "flow.json"
    flow_file.write_text(json.dumps(flow))
    env = {"AUTORETOUCH_CATALOG_JSON": str(catalog_json), "AUTORETOUCH_IT_FLOW": str(flow_file)}
    report = _busted(env, "--run=integration", "spec/integration/live_flow_spec.lua")
    assert len(report["successes"]) == 1 and not report["pendings"], report["pendings"]
    got = json.loads(Path(flow["report"]).read_text())

    # The settings the photo received are the chosen variant's, as the CLI gives them in-process for the style
    # the plug-in trained (installed in the daemon's style folder), and not the first variant's.
    monkeypatch.setenv("AUTORETOUCH_STYLES", str(live["styles"]))
    variants = _suggested(capsys, photo, FLOW_STYLE, FLOW_STRENGTH / 100, variants=FLOW_VARIANT)
    expected = [_as_applied(v, BEFORE) for v in variants]
    assert expected[0] != expected[-1], "the trained style's variants must differ for the choice to be seen"
    assert got["applied"] == expected[-1]
    assert "Sharpness" in variants[-1].relative  # so a relative key (added to the photo's own value) is checked too

    # The preview pictures the dialog showed are JPEGs of the photo; variant 2's differs from variant 1's.
    previews = {k: cv2.imread(v) for k, v in got["previews"].items()}
    shutil.rmtree(Path(got["previews"]["before"]).parent)
    assert all(p is not None and p.shape[:2] == (48, 40) for p in previews.values()), {
        k: None if p is None else p.shape for k, p in previews.items()
    }
    assert not np.array_equal(previews["first"], previews["chosen"])
