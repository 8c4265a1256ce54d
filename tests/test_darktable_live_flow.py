"""One live darktable flow through a REAL daemon: train a style, preview it, apply the chosen variant, revert.

darktable 4.2 runs under ``xvfb-run`` with the plug-in installed as a user would and its preferences set through
``--conf`` (the style, strength, training name and minutes, 2 preview variants and their seed) with NO daemon
address: the plug-in's first call starts this checkout's ``autoretouch serve`` on demand on a free loopback port
(the port preference), and every later call goes through it. A ``--luacmd`` driver selects images in the
lighttable and runs the plug-in's actions on ``dt.gui.action_images`` (what its buttons are given), in order:

1. "train style from selected images" on three tiny generated photos whose sidecars hold the user's edit, with a
   half-minute budget (see TRAIN_MINUTES);
2. "check autoretouch and its styles": the new style is in the plug-in's style list;
3. "preview on virtual copies" of photo A with that style: 2 variants;
4. variant 2's copy selected, "apply chosen preview";
5. "revert auto-retouch" on A.

The test then checks the real world: every call the plug-in made (the CLI wrapper logs its arguments) carried
``--server`` to the started daemon, whose log shows the RPCs it served (no per-batch command-line fallback);
A's sidecar right after the apply holds the user's history followed by exactly variant 2's modules (their
parameter blobs, computed here in process from the installed style with the same seed; variant 1's differ); no
preview copy is left; after the revert, darktable's library and the sidecar hold the user's history alone; the
daemon process has ended once darktable quit. Needs darktable, darktable-cli and xvfb-run (skipped when one is
missing, a failure under ``CI=true``).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testing.darktable_gui import FIXED_MODULES, library_histories, require_darktable_gui, run_darktable
from testing.darktable_plugin import PREVIEW_COUNTER, cli_wrapper, driver_result, install_plugin, write_driver
from testing.processes import command, free_port, listening, running, wait_gone

if TYPE_CHECKING:
    from backend.translate.darktable import HistoryEntry

pytestmark = [pytest.mark.host, pytest.mark.slow]

#: The darktable session's limit (start, daemon start, training, preview, apply, revert: about a minute).
SESSION_TIMEOUT_S = 170
#: How long the stopped daemon may take to exit after darktable quit.
EXIT_WAIT_S = 15.0
STYLE = "live-tiny"
#: The training budget: the trainer's default configuration spends about 15 s on the darktable-cli renders and
#: the recipe fits of three tiny photos, then trains for the rest (some 50 steps, enough for the two preview
#: variants to differ); the preference's own minimum (1 minute) is for the GUI's slider only.
TRAIN_MINUTES = 0.5
#: The plug-in's preferences (``--conf lua/autoretouch/KEY=VALUE``) besides the command and the port.
PREFERENCES = {"server": "", "start_daemon": "TRUE", "style": STYLE, "strength": 1.0, "train_name": STYLE,
               "train_minutes": TRAIN_MINUTES, "preview_variants": 2, "preview_seed": 3}  # fmt: skip
DT_NS = "http://darktable.sf.net/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

#: The driver's work (see write_driver): the five actions in order on the lighttable's selection.
DRIVER = (
    PREVIEW_COUNTER
    + """
  local function read(path)
    local f = io.open(path, "r")
    if not f then
      return ""
    end
    local text = f:read("*a")
    f:close()
    return text
  end
  local function pid()
    return (ar.internals.state.daemon or {{}}).pid
  end
  local a = dt.database.import({photo_a})
  local b = dt.database.import({photo_b})
  local c = dt.database.import({photo_c})
  result.pids = {{}}
  dt.gui.selection({{ a, b, c }})
  result.settings = ar.internals.read_settings()
  local trained = assert(ar.train_from_images(dt.gui.action_images))
  result.train = {{ state = trained.state, used = trained.used, message = trained.message }}
  result.pids[#result.pids + 1] = pid()
  local check = ar.check_autoretouch()
  result.check = {{ ok = check.ok, styles = check.styles, style_ok = check.style_ok, message = check.message }}
  result.pids[#result.pids + 1] = pid()
  dt.gui.selection({{ a }})
  local s = assert(ar.preview_images(dt.gui.action_images))
  result.preview = {{ copies = #s.copies, failed = #s.failed, text = s.text }}
  result.titles = {{}}
  for i, copy in ipairs(s.copies) do
    result.titles[i] = copy.title
  end
  result.previews_made = previews()
  result.pids[#result.pids + 1] = pid()
  dt.gui.selection({{ s.copies[2] }})
  local applied = assert(ar.apply_chosen_previews(dt.gui.action_images))
  result.applied = {{ written = applied.written, skipped = applied.skipped, failed = applied.failed,
    removed = applied.previews_removed, kept = applied.previews_kept }}
  result.previews_left = previews()
  result.after_apply = read(a.sidecar)
  result.pids[#result.pids + 1] = pid()
  dt.gui.selection({{ a }})
  local reverted = assert(ar.revert_images(dt.gui.action_images))
  result.revert = {{}}
  for i, d in ipairs(reverted.details) do
    result.revert[i] = {{ action = d.action, reason = d.reason }}
  end
  result.after_revert = read(a.sidecar)
  result.pids[#result.pids + 1] = pid()
"""
)


def _sidecar_history(text: str) -> list[tuple[str, int, bytes]]:
    """``(operation, multi_priority, parameter blob)`` of a darktable sidecar's active history, FIXED_MODULES out."""
    from backend.translate.darktable_pack import decode_params

    assert text, "the sidecar was not there to read"
    desc = ET.fromstring(text).find(f".//{{{RDF_NS}}}Description")
    assert desc is not None, text
    end = int(desc.get(f"{{{DT_NS}}}history_end", "0"))
    out = []
    for li in desc.findall(f"{{{DT_NS}}}history/{{{RDF_NS}}}Seq/*")[:end]:
        op = li.get(f"{{{DT_NS}}}operation", "")
        if op not in FIXED_MODULES:
            prio = int(li.get(f"{{{DT_NS}}}multi_priority", "0"))
            out.append((op, prio, decode_params(li.get(f"{{{DT_NS}}}params", ""))))
    return out


def _user_photos(folder: Path) -> tuple[dict[str, Path], list[HistoryEntry]]:
    """Photos A, B and C (``photo_a`` ...: tiny generated PNGs) whose sidecars hold the user's own edit (sharpen,
    exposure +0.5 EV, not autoretouch's), and that edit's history entries."""
    from backend.recipe import Recipe
    from backend.sidecar.darktable_xmp import new_darktable_xmp, xmp_to_string
    from backend.translate.darktable import recipe_to_history
    from testing.fixtures import make_png

    folder.mkdir()
    user = Recipe.from_dict(
        {"version": 1, "steps": [{"slider": "sharpen", "value": 60.0}, {"slider": "exposure", "value": 0.5}]}
    )
    entries = recipe_to_history(user, is_raw=False, long_side_px=96)
    xmp = xmp_to_string(new_darktable_xmp(entries, is_raw=False))
    photos = {}
    for key in ("a", "b", "c"):
        photo = make_png(folder, f"{key} photo.png", width=96, height=64)
        photo.with_name(photo.name + ".xmp").write_text(xmp, encoding="utf-8")
        photos[f"photo_{key}"] = photo
    return photos, entries


def _run_session(root: Path, photos: dict[str, Path], port: int) -> tuple[dict[str, Any], str]:
    """darktable with the plug-in and the driver (see DRIVER): its result and output.

    Its command is this checkout's CLI (logging every call to ``root/calls.log``); styles go to ``root/styles``.
    """
    styles = root / "styles"
    styles.mkdir(parents=True)
    cli = cli_wrapper(root / "bin 'x' $y", calls=root / "calls.log")
    install_plugin(root / "config")
    result_path, driver = root / "result.json", root / "driver.lua"
    write_driver(driver, DRIVER, result_path, **photos)
    # the plug-in's preferences, as a user sets them: no daemon address, the port of the one it starts
    prefs = {**PREFERENCES, "cli_path": cli, "daemon_port": port}
    conf = tuple(f"lua/autoretouch/{key}={value}" for key, value in prefs.items())
    # one thread per process (the daemon and its training worker inherit it): tiny work, more threads only
    # fight over the CPU (several times slower on a loaded machine)
    env = {"AUTORETOUCH_STYLES": str(styles), "OMP_NUM_THREADS": "1"}
    status, log = run_darktable(root, driver, conf=conf, env=env, timeout_s=SESSION_TIMEOUT_S)
    return driver_result(status, log, result_path, SESSION_TIMEOUT_S), log


def _check_all_through_the_daemon(root: Path, server: str) -> None:
    """Every call the plug-in made went to the one daemon it started, which served each kind."""
    made = [json.loads(line) for line in (root / "calls.log").read_text(encoding="utf-8").splitlines()]
    batches = [argv for argv in made if argv and argv[0] != "serve"]
    assert len(made) - len(batches) == 1, made  # one daemon for the whole flow
    assert {argv[0] for argv in batches} >= {"train", "styles", "suggest", "apply", "revert"}, made
    assert all(f"--server={server}" in argv for argv in batches), batches  # none ran on its own
    daemon_log = (root / "cache" / "autoretouch-daemon.log").read_text(encoding="utf-8")
    for rpc in ("TrainStyle", "ListStyles", "Suggest", "WriteSidecars", "Revert"):  # apply: WriteSidecars
        assert f"rpc={rpc} code=OK" in daemon_log, (rpc, daemon_log[-4000:])
    assert "received SIGTERM" in daemon_log


def test_train_preview_apply_chosen_and_revert_through_the_started_daemon(tmp_path: Path) -> None:
    require_darktable_gui()
    from backend.agent.style import load_style
    from backend.agent.suggest import suggest_for_photo
    from backend.recipe import Recipe
    from backend.translate.darktable import recipe_to_history
    from backend.translate.darktable_pack import decode_params

    photos, user_entries = _user_photos(tmp_path / "photos it's")
    root, port = tmp_path / "dt", free_port()
    result, _log = _run_session(root, photos, port)
    pids = sorted({int(p) for p in result["pids"] if p})
    try:
        assert len(pids) == 1, result["pids"]  # started once, never restarted
        assert wait_gone(pids[0], EXIT_WAIT_S), f"the daemon (process {pids[0]}) still runs after darktable quit"
        assert not listening(port)
        assert result["settings"]["train_minutes"] == TRAIN_MINUTES and result["settings"]["server"] == "", result
        server = f"127.0.0.1:{port}"
        _check_all_through_the_daemon(root, server)
        # 1. trained and installed
        assert result["train"]["state"] == "finished" and result["train"]["used"] == 3, result["train"]
        style_file = root / "styles" / f"{STYLE}.safetensors"
        assert style_file.is_file()
        # 2. in the plug-in's style list, from the daemon it started
        check = result["check"]
        assert check["ok"] and check["style_ok"] and STYLE in check["styles"], check
        assert f"daemon started by the plug-in at {server}" in check["message"], check
        # 3. two preview copies, the second one variant 2
        assert result["preview"]["copies"] == 2 and result["preview"]["failed"] == 0, result["preview"]
        assert result["previews_made"] == 2 and "preview 2" in result["titles"][1], result["titles"]
        # 4. the chosen copy applied to A; both copies (neither edited since) removed
        assert result["applied"] == {"written": 1, "skipped": 0, "failed": 0, "removed": 2, "kept": 0}, result
        assert result["previews_left"] == 0
        photo_a = photos["photo_a"]
        first, second = suggest_for_photo(photo_a, [(load_style(style_file), 1.0)], strength=1.0, variants=2, seed=3)

        def blobs(recipe: Recipe) -> list[tuple[str, bytes]]:
            """(operation, parameter blob) of the modules apply appends for ``recipe``, sorted."""
            entries = recipe_to_history(recipe, is_raw=False, long_side_px=96)
            return sorted((e.operation, decode_params(e.params)) for e in entries)

        assert blobs(second) and blobs(second) != blobs(first), "the variants do not differ: the test proves nothing"
        users = sorted((e.operation, e.multi_priority, decode_params(e.params)) for e in user_entries)
        applied = _sidecar_history(result["after_apply"])  # the user's history first, then exactly variant 2's
        assert sorted(applied[: len(users)]) == users, applied
        assert sorted((op, params) for op, _, params in applied[len(users) :]) == blobs(second), applied
        # 5. reverted: the user's history alone, in the sidecar and in darktable's library
        assert [d["action"] for d in result["revert"]] == ["written"], result["revert"]  # the sidecar rewritten
        assert sorted(_sidecar_history(result["after_revert"])) == users
        history = library_histories(root / "library.db", columns=("operation", "multi_priority", "op_params"))
        assert sorted(k for k in history if k[0] == photo_a.name) == [(photo_a.name, 0)], history
        assert sorted((op, prio, bytes(p)) for op, prio, p in history[(photo_a.name, 0)]) == users
    finally:  # never leave a daemon behind, whatever failed
        for pid in pids:
            if running(pid) and f"--port={port}" in command(pid):
                os.kill(pid, 15)
