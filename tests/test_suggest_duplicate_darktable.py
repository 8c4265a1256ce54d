"""Real darktable: the preview of a user's virtual copy 2 (``suggest --dtstyle --duplicate 2``) renders as ``apply
--host=darktable --duplicate 2 --overwrite`` makes copy 2 look.

darktable 4.2 (under Xvfb) imports the photo, and with it copy 2 from its sidecar ``NAME_02.EXT.xmp``; a preview copy
of copy 2 is made as the plug-in makes one (a style of copy 2's history applied to a fresh virtual copy, then the
suggestion's style) and darktable-cli renders the sidecar darktable wrote for it, next to the one ``apply`` wrote.
A preview built on the original's sidecar (the style ``suggest`` wrote before ``--duplicate``) is rendered too: it
must look different, or the test would not show the copy's history matters. Mirrors
``tests/test_dtstyle_matches_apply.py::test_darktable_renders_the_preview_copy_as_apply`` (the original).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from backend.cli.dtstyle_output import write_dtstyles
from backend.recipe import Recipe
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from backend.sidecar.darktable_doc import darktable_sidecar_path
from backend.translate.darktable import recipe_to_history
from testing.dt_virtual_copy import COPY, FIRST, SECOND, SIDE, sliders_recipe, tiff_with_copy


def _photo(folder: Path, case: Literal["earlier", "order"]) -> tuple[Path, Recipe]:
    """One case's photo, its sidecar and copy 2's, in ``folder`` (see :func:`~testing.dt_virtual_copy.tiff_with_copy`:
    ``earlier``, copy 2 holds autoretouch's :data:`~testing.dt_virtual_copy.FIRST`, its curves must go; ``order``,
    copy 2 still has darktable's V30 order); the recipe previewed."""
    return tiff_with_copy(folder, case), sliders_recipe(SECOND if case == "earlier" else FIRST)


BODY = """
  for _, case in ipairs({{ {cases} }}) do
    local img = dt.database.import(case[1])
    local source
    for _, other in ipairs(dt.database) do
      if other.path == img.path and other.filename == img.filename and other.duplicate_index == {copy} then
        source = other
      end
    end
    if not source then error("darktable did not import virtual copy {copy} of " .. case[1]) end
    local made = {{}}
    for k = 2, 3 do
      local before = {{}}
      for _, s in ipairs(dt.styles) do before[s.name] = true end
      dt.styles.import(case[k])
      local style
      for _, s in ipairs(dt.styles) do
        if not before[s.name] then style = s end
      end
      local copy = source:duplicate()
      if source.is_altered then
        local own = dt.styles.create(source, "preview base " .. source.id .. " " .. k, "")
        dt.styles.apply(own, copy)
        own:delete()
      end
      dt.styles.apply(style, copy)
      style:delete()
      made[#made + 1] = tostring(copy.duplicate_index)
    end
    local f = io.open(case[4], "w")
    f:write(table.concat(made, " "))
    f:close()
  end
"""


@pytest.mark.host
@pytest.mark.slow
def test_darktable_renders_the_preview_of_copy_2_as_apply_duplicate_2(tmp_path: Path) -> None:
    from testing.darktable_gui import lua_string, require_darktable_gui, run_lua_body
    from testing.dt_sidecar import render_darktable

    require_darktable_gui()
    cases: tuple[Literal["earlier", "order"], ...] = ("earlier", "order")
    styles = tmp_path / "styles"
    styles.mkdir()
    lua_cases, items = [], {}
    for case in cases:
        photo, recipe = _photo(tmp_path / "preview" / case, case)
        before = darktable_sidecar_path(photo, COPY).read_text(encoding="utf-8")
        applied, _ = _photo(tmp_path / "apply" / case, case)
        (outcome,) = apply_to_photo(
            applied, recipe, host="darktable", overwrite=True, duplicate=COPY, info=PhotoInfo(False, SIDE)
        )
        assert outcome.action == "written", outcome.reason
        entries = [recipe_to_history(recipe, is_raw=False, long_side_px=SIDE)]
        (right,) = write_dtstyles(styles, photo, entries, "test", 1.0, long_side_px=SIDE, duplicate=COPY)
        (wrong,) = write_dtstyles(styles, photo, entries, "test", 1.0, long_side_px=SIDE)  # the original's history
        indices = tmp_path / f"{case}.txt"
        lua_cases.append("{ " + ", ".join(lua_string(str(p)) for p in (photo, right, wrong, indices)) + " }")
        items[f"{case}_apply"] = (applied, darktable_sidecar_path(applied, COPY).read_text(encoding="utf-8"))
        items[f"{case}_before"] = (photo, before)
    run_lua_body(tmp_path, BODY.format(cases=", ".join(lua_cases), copy=COPY))

    for case in cases:
        photo = tmp_path / "preview" / case / "t.tif"
        right, wrong = (int(i) for i in (tmp_path / f"{case}.txt").read_text().split())
        assert COPY not in (right, wrong)
        items[f"{case}_preview"] = (photo, darktable_sidecar_path(photo, right).read_text(encoding="utf-8"))
        items[f"{case}_wrong"] = (photo, darktable_sidecar_path(photo, wrong).read_text(encoding="utf-8"))
    result = render_darktable(items, tmp_path / "render")
    for case in cases:
        shown, wanted, before, wrong = (result.images[f"{case}_{k}"] for k in ("preview", "apply", "before", "wrong"))
        assert np.abs(wanted - before).mean() > 0.01, case  # the recipe visibly changes copy 2
        assert np.abs(shown - wanted).max() < 1e-5, (case, float(np.abs(shown - wanted).max()))
        assert np.abs(wrong - wanted).mean() > 0.005, (case, float(np.abs(wrong - wanted).mean()))
    shutil.rmtree(tmp_path / "dt", ignore_errors=True)
