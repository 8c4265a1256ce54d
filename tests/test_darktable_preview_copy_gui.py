"""The plug-in's "preview on virtual copies" of a user's own virtual copy, in a real darktable 4.2 GUI (``xvfb-run``).

The user's virtual copy 2 of ``t.tif`` has its own history in its sidecar ``t_02.tif.xmp`` (a sharpen, and an
earlier autoretouch edit whose curves a new one must take out); the original has only the sharpen. darktable imports
the photo and, with it, copy 2. The plug-in (this checkout's real command line, no daemon) previews copy 2: its
``suggest`` call carries ``--duplicate=2``, so the preview style is built on copy 2's sidecar, and the preview copy
renders (darktable-cli) exactly as ``apply --host=darktable --duplicate 2 --overwrite`` of the same suggestion makes
copy 2 look. As a control, the same suggestion's style built on the original's sidecar (what the plug-in used
before) is applied to another copy of copy 2 in the same session, as the plug-in applies one: it must render
differently, or the test would not show that the copy's own sidecar matters. Mirrors
``tests/test_suggest_duplicate_darktable.py`` (there the Lua builds the preview; here the plug-in does).

Needs darktable, darktable-cli and xvfb-run: skipped when missing, a failure under ``CI=true``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from backend.recipe import Recipe
from backend.sidecar.apply import apply_to_photo
from backend.sidecar.darktable_doc import darktable_sidecar_path
from testing.darktable_gui import require_darktable_gui
from testing.darktable_plugin import run_plugin_session, throwaway_style
from testing.dt_virtual_copy import COPY, tiff_with_copy

pytestmark = [pytest.mark.host, pytest.mark.slow]

SESSION_TIMEOUT_S = 150
#: The driver (see write_driver): copy 2 previewed by the plug-in; the control style applied to another copy of it.
DRIVER = """
  local img = dt.database.import({photo})
  local source
  for _, other in ipairs(dt.database) do
    if other.filename == img.filename and other.duplicate_index == {copy} then
      source = other
    end
  end
  if not source then
    error("darktable did not import virtual copy {copy}")
  end
  result.source = {{ id = source.id, altered = source.is_altered }}
  local s = assert(ar.preview_images({{ source }}, {{ style = "throwaway", strength = 1.0, preview_variants = 1,
    preview_seed = 0 }}))
  local failed = {{}}
  for _, f in ipairs(s.failed) do
    failed[#failed + 1] = f.reason
  end
  result.failed = failed
  result.copies = #s.copies
  local copy = s.copies[1]
  result.preview = {{ index = copy.duplicate_index, leader = copy.group_leader.id }}
  local f = io.open(ar.internals.preview_recipe_path(copy), "r")
  result.kept = f:read("*a")
  f:close()
  -- the control: the same suggestion's style built on the original's sidecar, applied as the plug-in applies one
  local before = {{}}
  for _, st in ipairs(dt.styles) do
    before[st.name] = true
  end
  dt.styles.import({wrong})
  local wrong
  for _, st in ipairs(dt.styles) do
    if not before[st.name] then
      wrong = st
    end
  end
  local other = dt.database.duplicate(source)
  local own = dt.styles.create(source, "control base", "")
  dt.styles.apply(own, other)
  own:delete()
  dt.styles.apply(wrong, other)
  wrong:delete()
  result.wrong_index = other.duplicate_index
"""


def test_preview_of_the_users_copy_2_is_built_on_its_own_sidecar(tmp_path: Path) -> None:
    require_darktable_gui()
    from backend.agent.style import load_style
    from backend.cli.dtstyle_output import suggest_with_entries, write_dtstyles
    from testing.dt_sidecar import render_darktable

    photo = tiff_with_copy(tmp_path / "preview it's")
    before = darktable_sidecar_path(photo, COPY).read_text(encoding="utf-8")
    applied = tiff_with_copy(tmp_path / "apply")
    # the suggestion the plug-in's preview shows (the session's throw-away style is made with the same seed)
    throwaway_style(tmp_path / "styles")
    style = load_style(tmp_path / "styles" / "throwaway.safetensors")
    (recipe,), entries, info = suggest_with_entries(photo, [(style, 1.0)], strength=1.0, variants=1, seed=0)
    wrong_dir = tmp_path / "wrong"
    wrong_dir.mkdir()
    (wrong,) = write_dtstyles(
        wrong_dir, photo, entries, "throwaway", 1.0, is_raw=info.is_raw, long_side_px=info.long_side_px
    )  # the original's history: the preview before suggest --duplicate

    root = tmp_path / "dt"
    result, _log = run_plugin_session(
        root, DRIVER.replace("{copy}", str(COPY)), timeout_s=SESSION_TIMEOUT_S, photo=photo, wrong=wrong
    )
    assert result["copies"] == 1 and result["failed"] == [], result
    assert result["source"]["altered"] is True, result  # copy 2 came in with its own history
    index, wrong_index = result["preview"]["index"], result["wrong_index"]
    assert COPY not in (index, wrong_index) and index != wrong_index, result
    kept = Recipe.from_dict(json.loads(json.loads(result["kept"])["recipe"]))
    assert [s.slider for s in kept.steps] == [s.slider for s in recipe.steps]  # the suggestion computed here
    assert recipe.steps, "the throw-away style suggested no change: the test would prove less"
    assert json.loads(result["kept"])["original_id"] == result["source"]["id"]  # chosen, it goes to copy 2

    (outcome,) = apply_to_photo(applied, recipe, host="darktable", overwrite=True, duplicate=COPY, info=info)
    assert outcome.action == "written", outcome.reason
    items = {
        "preview": (photo, darktable_sidecar_path(photo, index).read_text(encoding="utf-8")),
        "apply": (applied, darktable_sidecar_path(applied, COPY).read_text(encoding="utf-8")),
        "before": (photo, before),
        "wrong": (photo, darktable_sidecar_path(photo, wrong_index).read_text(encoding="utf-8")),
    }
    rendered = render_darktable(items, tmp_path / "render")
    shown, wanted, was, control = (rendered.images[k] for k in ("preview", "apply", "before", "wrong"))
    assert np.abs(wanted - was).mean() > 0.01  # the new suggestion visibly changes copy 2 (its earlier edit goes)
    assert np.abs(shown - wanted).max() < 1e-5, float(np.abs(shown - wanted).max())
    assert np.abs(control - wanted).mean() > 0.005, float(np.abs(control - wanted).mean())
    shutil.rmtree(root, ignore_errors=True)
