"""Virtual copies (duplicates) in a real darktable 4.2 GUI (under ``xvfb-run``).

darktable keeps a virtual copy's history in its own sidecar, ``NAME_NN.EXT.xmp`` (NN: the copy's version,
``duplicate_index`` in Lua, two digits). darktable 4.2's Lua has no ``image:apply_sidecar``; the plug-in makes
darktable read a sidecar again with ``dt.database.import(original path)``. What that does for a copy is
checked here, for each value of the "write sidecar file for each image" preference: a copy is made, its
sidecar is written from outside darktable twice (as ``autoretouch apply`` would), each time followed by an
import of the original's path; the library's history of the copy (read inside the session through a style
made from the copy, and from ``library.db`` afterwards) is the sidecar's each time, the copy keeps its id,
no image is added, and the original's history stays its own.

Needs darktable, darktable-cli and xvfb-run: skipped when missing, a failure under ``CI=true``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from testing.darktable_gui import library_histories, require_darktable_gui, run_darktable
from testing.darktable_plugin import driver_result, install_plugin, write_driver

pytestmark = [pytest.mark.host, pytest.mark.slow]

#: Hard limit for one darktable session in seconds (it normally takes 10-20 s).
SESSION_TIMEOUT_S = 150

#: The reload driver (see write_driver): a virtual copy, its sidecar replaced from outside twice, each time
#: followed by dt.database.import of the original's path.
RELOAD_DRIVER = """
  local function copy_file(src, dst)
    local f = io.open(src, "rb")
    local text = f:read("*a")
    f:close()
    local g = io.open(dst, "wb")
    g:write(text)
    g:close()
  end
  local function images()
    local out = {{}}
    for _, i in ipairs(dt.database) do
      out[#out + 1] = {{ id = i.id, index = i.duplicate_index, sidecar = i.sidecar }}
    end
    return out
  end
  local function operations(img, name) -- the library's history of img, through a style made from it
    local style = dt.styles.create(img, name, "")
    local out = {{}}
    for i = 1, style and #style or 0 do
      out[#out + 1] = style[i].name
    end
    table.sort(out)
    return out
  end
  local img = dt.database.import({photo})
  dt.control.sleep(1500)
  local copy = dt.database.duplicate(img)
  dt.control.sleep(1500)
  result.copy = {{ id = copy.id, index = copy.duplicate_index, sidecar = copy.sidecar }}
  result.copy_sidecar_made = io.open(copy.sidecar, "rb") ~= nil
  copy_file({first}, copy.sidecar)
  dt.database.import({photo})
  dt.control.sleep(2000)
  result.first = {{ images = images(), ops = operations(copy, "probe first") }}
  copy_file({second}, copy.sidecar)
  dt.database.import({photo})
  dt.control.sleep(2000)
  result.second = {{ images = images(), ops = operations(copy, "probe second") }}
"""


def _history_xmp(steps: list[dict[str, Any]]) -> str:
    """A darktable sidecar whose history is ``steps`` translated (no autoretouch record)."""
    from backend.recipe import Recipe
    from backend.sidecar.darktable_xmp import new_darktable_xmp, xmp_to_string
    from backend.translate.darktable import recipe_to_history

    recipe = Recipe.from_dict({"version": 1, "steps": steps})
    entries = recipe_to_history(recipe, is_raw=False, long_side_px=64)
    return xmp_to_string(new_darktable_xmp(entries, is_raw=False))


@pytest.mark.parametrize("write_sidecars", ["on import", "after edit", "never"])
def test_importing_the_original_rereads_a_virtual_copys_sidecar(tmp_path: Path, write_sidecars: str) -> None:
    require_darktable_gui()
    from testing.fixtures import make_png

    photos = tmp_path / "photos"
    photos.mkdir()
    photo = make_png(photos, "p.png", width=96, height=64)
    (photos / "p.png.xmp").write_text(_history_xmp([{"slider": "sharpen", "value": 60.0}]), encoding="utf-8")
    first, second = tmp_path / "first.xmp", tmp_path / "second.xmp"
    first.write_text(_history_xmp([{"slider": "exposure", "value": 0.5}]), encoding="utf-8")
    second.write_text(
        _history_xmp([{"slider": "exposure", "value": 0.5}, {"slider": "contrast", "value": 30.0}]), encoding="utf-8"
    )
    install_plugin(tmp_path / "config")
    result_path, driver = tmp_path / "result.json", tmp_path / "driver.lua"
    write_driver(driver, RELOAD_DRIVER, result_path, photo=photo, first=first, second=second)
    status, log = run_darktable(tmp_path, driver, timeout_s=SESSION_TIMEOUT_S, write_sidecars=write_sidecars)
    result = driver_result(status, log, result_path, SESSION_TIMEOUT_S)

    copy = result["copy"]
    assert copy["index"] == 1 and copy["sidecar"] == str(photos / "p_01.png.xmp")
    # darktable writes the copy's sidecar when it makes the copy, unless sidecar writing is off
    assert result["copy_sidecar_made"] == (write_sidecars != "never")
    for step in ("first", "second"):
        images = sorted((i["id"], i["index"]) for i in result[step]["images"])
        assert len(images) == 2 and (copy["id"], 1) in images, (step, images)  # same copy, no new image
    assert result["first"]["ops"] == ["exposure"]  # the sidecar written from outside, in the library
    assert result["second"]["ops"] == ["colorbalancergb", "exposure"]  # and again after the second write
    histories = library_histories(tmp_path / "library.db")
    assert histories[("p.png", 1)] == [("exposure", 0), ("colorbalancergb", 0)]
    assert histories[("p.png", 0)] == [("sharpen", 0)]  # the original keeps its own history
