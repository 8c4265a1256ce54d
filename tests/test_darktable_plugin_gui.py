"""The darktable plugin inside a real darktable 4.2 GUI (under ``xvfb-run``), end to end.

One darktable session with a throw-away config, cache and library: the plugin is installed as a user would
(``<configdir>/lua/autoretouch.lua`` and its ``<configdir>/lua/autoretouch/`` folder, the modules it
requires, plus ``require "autoretouch"`` in ``<configdir>/luarc``), its command
path comes from darktable's preferences (``--conf lua/autoretouch/cli_path=...``; the daemon started on demand
is switched off, ``start_daemon=FALSE``: this test is about the per-batch command line), and a ``--luacmd`` driver
imports generated PNGs and calls the plugin's entry point (what the lighttable button calls):

* photo A already has a user history (a sharpen entry); a +1 EV recipe is applied;
* photo B goes through the style flow (one ``apply --style`` call) with a throw-away random style;
* photo A again: skipped, because it already carries autoretouch's entries;
* photo C: the recipe is applied, the history is reset in darktable (``image:reset()``, which leaves our
  ``autoretouch:`` record in the sidecar), and the plugin runs twice more: the first run applies our module
  again (the CLI drops the stale record, with a warning), the second is skipped.

Before and after, the plug-in's health check runs against the real command line, and a screenshot of the
lighttable (Xvfb's own screen file, ``-fbdir``) is kept as a test artefact in ``test-artifacts/``.

Then darktable quits (from Lua) and the test reads the library's ``history`` table and the sidecars darktable
wrote, and renders A with ``darktable-cli`` (with and without its sidecar) to see the +1 EV.

Paths with spaces, quotes and ``$`` are used on purpose, so the plugin's shell quoting runs for real.
Needs darktable, darktable-cli and xvfb-run: skipped when missing, a failure under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from testing.darktable_gui import require_darktable_gui
from testing.darktable_plugin import REPO, run_plugin_session

pytestmark = [pytest.mark.host, pytest.mark.slow]

#: Where the lighttable screenshot is kept (``$AUTORETOUCH_TEST_ARTIFACTS``, else ``test-artifacts/``).
ARTIFACTS = Path(os.environ.get("AUTORETOUCH_TEST_ARTIFACTS") or REPO / "test-artifacts")
#: Hard limit for the whole darktable session in seconds (it normally takes 10-20 s).
SESSION_TIMEOUT_S = 150


#: The driver's work (see write_driver): the runs, each one's rows in ``result``, and the screenshot.
DRIVER = """
  local function rows(summary, message)
    if not summary then
      return {{ error = message }}
    end
    local out = {{}}
    for i, d in ipairs(summary.details) do
      out[i] = {{ photo = d.photo, action = d.action, reason = d.reason, warnings = d.warnings }}
    end
    return out
  end
  local check = ar.check_autoretouch({{ style = "throwaway" }})
  result.check = {{ ok = check.ok, styles = check.styles, style_ok = check.style_ok, message = check.message }}
  local a = dt.database.import({photo_a})
  local b = dt.database.import({photo_b})
  local function read(path)
    local f = io.open(path, "rb")
    local text = f:read("*a")
    f:close()
    return text
  end
  -- a pause between the steps, as between a user's clicks: darktable 4.2 re-imports an image to reload its
  -- sidecar and then refreshes its thumbnail in the background; re-importing the same image again while
  -- that job runs has crashed or hung darktable under load
  local function settle()
    dt.control.sleep(1500)
  end
  result.recipe_run = rows(ar.apply_to_images({{ a }}, {{ recipe = {recipe}, strength = 1 }}))
  result.a_first_sidecar = read(a.sidecar)
  settle()
  result.style_run = rows(ar.apply_to_images({{ b }}, {{ recipe = "", style = "throwaway", strength = 1 }}))
  settle()
  result.again = rows(ar.apply_to_images({{ a }}, {{ recipe = {recipe}, strength = 0.5 }}))
  result.a_again_sidecar = read(a.sidecar)
  settle()
  result.revert_a = rows(ar.revert_images({{ a }}))
  settle()
  local c = dt.database.import({photo_c})
  result.c_first = rows(ar.apply_to_images({{ c }}, {{ recipe = {recipe}, strength = 1 }}))
  settle()
  c:reset()
  settle()
  result.c_after_reset = rows(ar.apply_to_images({{ c }}, {{ recipe = {recipe}, strength = 1 }}))
  settle()
  result.c_again = rows(ar.apply_to_images({{ c }}, {{ recipe = {recipe}, strength = 1 }}))
  settle()
  -- the screenshot: the lighttable with the plug-in's buttons in "selected image[s]" and its last message
  dt.gui.libs.image.expanded = true
  dt.control.sleep(2000)
  local fb = io.open({framebuffer}, "rb")
  if fb then
    local shot = io.open({screenshot}, "wb")
    shot:write(fb:read("*a"))
    shot:close()
    fb:close()
  end
"""


@dataclass
class Session:
    """What the darktable session left behind."""

    result: dict[str, Any]
    library: Path
    photo_a: Path
    photo_b: Path
    photo_c: Path
    user_sidecar_text: str
    log: str
    screenshot: Path


def _user_sidecar(photo: Path) -> str:
    """A darktable sidecar as darktable would hold it for a user's edit: one sharpen entry, no autoretouch."""
    from backend.recipe import Recipe
    from backend.sidecar.darktable_xmp import new_darktable_xmp, xmp_to_string
    from backend.translate.darktable import recipe_to_history

    recipe = Recipe.from_dict({"version": 1, "steps": [{"slider": "sharpen", "value": 60.0}]})
    entries = recipe_to_history(recipe, is_raw=False, long_side_px=64)
    text = xmp_to_string(new_darktable_xmp(entries, is_raw=False))
    photo.with_name(photo.name + ".xmp").write_text(text, encoding="utf-8")
    return text


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    require_darktable_gui()
    from testing.fixtures import make_png

    root = tmp_path_factory.mktemp("dt plugin")
    photos = root / "photos it's $HOME"
    photos.mkdir()
    photo_a = make_png(photos, "a photo.png", width=96, height=64)
    photo_b = make_png(photos, "b.png", width=96, height=64)
    photo_c = make_png(photos, "c.png", width=96, height=64)
    user_text = _user_sidecar(photo_a)
    recipe = root / "plus 1 EV.json"
    recipe.write_text(json.dumps({"version": 1, "steps": [{"slider": "exposure", "value": 1.0}]}), encoding="utf-8")
    # Xvfb keeps its screen in an XWD file here (-fbdir); xvfb-run splits its server options at spaces
    framebuffer = tmp_path_factory.mktemp("xvfb_screen")
    assert " " not in str(framebuffer)
    result, log = run_plugin_session(
        root, DRIVER, timeout_s=SESSION_TIMEOUT_S, xvfb=f"-screen 0 1280x800x24 -fbdir {framebuffer}",
        photo_a=photo_a, photo_b=photo_b, photo_c=photo_c, recipe=recipe,
        framebuffer=framebuffer / "Xvfb_screen0", screenshot=root / "lighttable.xwd",
    )  # fmt: skip
    return Session(result, root / "library.db", photo_a, photo_b, photo_c, user_text, log, root / "lighttable.xwd")


def _history(library: Path, photo: Path) -> tuple[list[str], int]:
    """(operations in history order, history_end) of a photo in darktable's library."""
    with sqlite3.connect(library) as db:
        (image_id, history_end) = db.execute(
            "SELECT id, history_end FROM images WHERE filename = ?", (photo.name,)
        ).fetchone()
        ops = [op for (op,) in db.execute("SELECT operation FROM history WHERE imgid = ? ORDER BY num", (image_id,))]
    return ops, history_end


def test_recipe_run_appends_our_entry_after_the_users_history(session: Session) -> None:
    (row,) = session.result["recipe_run"]
    assert row["action"] == "written", row
    assert row["photo"] == str(session.photo_a)
    sidecar = session.result["a_first_sidecar"]
    assert 'darktable:operation="sharpen"' in sidecar and 'darktable:operation="exposure"' in sidecar
    assert 'darktable:history_end="2"' in sidecar


def test_style_run_suggests_and_applies(session: Session) -> None:
    (row,) = session.result["style_run"]
    assert row["action"] == "written", row
    sidecar = session.photo_b.with_name(session.photo_b.name + ".xmp").read_text(encoding="utf-8")
    assert "throwaway" in sidecar  # the recipe's provenance names the style that suggested it
    ops, history_end = _history(session.library, session.photo_b)
    assert history_end == len(ops)
    assert len(ops) >= 1 or "&quot;steps&quot;: []" in sidecar  # an empty suggestion adds no module


def test_second_run_at_another_strength_replaces_ours_and_keeps_the_users(session: Session) -> None:
    (row,) = session.result["again"]
    assert row["action"] == "written", row
    sidecar = session.result["a_again_sidecar"]
    assert sidecar.count('darktable:operation="exposure"') == 1  # one set of our entries, not two
    assert 'darktable:operation="sharpen"' in sidecar and 'darktable:history_end="2"' in sidecar
    assert "&quot;strength&quot;: 0.5" in sidecar and sidecar.count("autoretouch:Timestamp=") == 1


def test_revert_leaves_the_users_history_alone(session: Session) -> None:
    (row,) = session.result["revert_a"]
    assert row["action"] == "written", row  # reverted (and reloaded)
    ops, history_end = _history(session.library, session.photo_a)
    assert ops == ["sharpen"] and history_end == 1  # in darktable's library too, after the reload
    sidecar = session.photo_a.with_name(session.photo_a.name + ".xmp").read_text(encoding="utf-8")
    assert 'darktable:operation="exposure"' not in sidecar and "autoretouch:" not in sidecar
    assert 'darktable:operation="sharpen"' in sidecar


def test_reset_in_darktable_then_rerun_applies_our_module_again_once(session: Session) -> None:
    (first,) = session.result["c_first"]
    (after_reset,) = session.result["c_after_reset"]
    (again,) = session.result["c_again"]
    assert first["action"] == "written", first
    assert after_reset["action"] == "written", after_reset  # no longer "already has autoretouch entries"
    assert any("dropped the autoretouch record" in w for w in after_reset["warnings"]), after_reset
    assert again["action"] == "written", again  # a rerun replaces ours
    ops, history_end = _history(session.library, session.photo_c)
    # darktable re-adds its mandatory modules (colorin, colorout, gamma, flip) to a reset image; ours comes once, last
    assert ops.count("exposure") == 1 and ops[-1] == "exposure" and history_end == len(ops), ops
    sidecar = session.photo_c.with_name(session.photo_c.name + ".xmp").read_text(encoding="utf-8")
    assert sidecar.count('darktable:operation="exposure"') == 1
    assert sidecar.count("autoretouch:Timestamp=") == 1  # one record: the stale one is gone


def test_darktable_cli_export_with_the_sidecar_is_brighter(session: Session, tmp_path: Path) -> None:
    from testing.darktable_cli import DarktableCli

    sidecar = session.result["a_first_sidecar"]  # the +1 EV run at strength 1, before the retry and revert
    dt = DarktableCli(tmp_path / "dtcli", timeout=120)
    result = dt.render_batch(
        {
            "edited": (session.photo_a, sidecar),
            "user": (session.photo_a, session.user_sidecar_text),
            "plain": (session.photo_a, None),
        }
    )
    assert result.problems == []
    edited, user, plain = result.images["edited"], result.images["user"], result.images["plain"]
    assert float(np.mean(edited)) > 1.5 * float(np.mean(plain))  # brighter than the unedited export
    unclipped = (user > 0.02) & (user < 0.4)  # x2 keeps these below 1
    ratio = float(np.median(edited[unclipped] / user[unclipped]))
    assert ratio == pytest.approx(2.0, rel=0.05)  # +1 EV in linear light, on top of the user's own edit


def test_health_check_lists_the_real_styles(session: Session) -> None:
    check = session.result["check"]
    assert check["ok"] and check["style_ok"], check
    assert {"throwaway", "default"} <= set(check["styles"])
    assert "autoretouch ready (command line)" in check["message"]
    assert "the style preference 'throwaway' is installed" in check["message"]


def test_screenshot_of_the_lighttable_is_kept_as_a_test_artefact(session: Session) -> None:
    from testing.xwd import read_xwd

    assert session.screenshot.is_file(), "the driver could not copy Xvfb's screen"
    image = read_xwd(session.screenshot.read_bytes())
    assert image.shape == (800, 1280, 3)
    assert float(image.std()) > 10.0  # darktable's window, not an empty screen
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    import cv2

    assert cv2.imwrite(str(ARTIFACTS / "darktable-lighttable.png"), image[:, :, ::-1])
