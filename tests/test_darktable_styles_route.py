"""Why the darktable plug-in writes sidecars instead of applying ``.dtstyle`` files with ``dt.styles``.

Issue: darktable's own style mechanism could replace the plug-in's sidecar-sync-then-reimport route. This test
applies two ``.dtstyle`` files made by our translator (``history_to_dtstyle``, entries named ``autoretouch``
as instance 1) with ``dt.styles.apply`` in a real darktable 4.2 GUI (under ``xvfb-run``) to a photo that has the
user's own sharpen and exposure, then to a virtual copy, and reads darktable's library. What it pins:

* the style's modules are appended after the user's history, and a named instance keeps the user's own
  exposure instance (with ``multi_priority`` 0 our exposure would have replaced the user's: checked too);
* a second run (a retry at another strength) is appended as more history items on the same instances: the
  effect replaces ours, but every retry lengthens the history, and nothing in ``dt.styles`` (4.2) removes items,
  so "revert auto-retouch" still needs the sidecar;
* applying works on a virtual copy, which the sidecar route skips (one sidecar per file).

So the plug-in keeps the sidecar route (revert, one set of our entries per image, the provenance record) and
this is the route to add for virtual copies.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from testing.darktable_gui import library_histories, lua_string, require_darktable_gui, run_lua_body

pytestmark = [pytest.mark.host, pytest.mark.slow]

BODY = """
  local image = dt.database.import({photo})
  local styles = {{}}
  for _, path in ipairs({{ {first}, {second}, {shared} }}) do
    dt.styles.import(path)
  end
  for _, s in ipairs(dt.styles) do
    styles[s.name] = s
  end
  dt.styles.apply(styles.ar_first, image)
  dt.control.sleep(800)
  dt.styles.apply(styles.ar_second, image)
  dt.control.sleep(800)
  local copy = image:duplicate()
  dt.styles.apply(styles.ar_first, copy)
  dt.control.sleep(800)
  local other = dt.database.import({other})
  dt.styles.apply(styles.ar_shared, other)
  dt.control.sleep(800)
  for _, s in pairs(styles) do
    s:delete()
  end
"""


def test_dt_styles_append_keep_named_instances_stack_retries_and_reach_virtual_copies(tmp_path: Path) -> None:
    require_darktable_gui()
    from backend.recipe import Recipe
    from backend.sidecar.darktable_xmp import history_to_dtstyle, new_darktable_xmp, xmp_to_string
    from backend.translate.darktable import recipe_to_history
    from testing.fixtures import make_png

    def entries(steps: list[dict[str, object]]) -> list:
        return recipe_to_history(Recipe.from_dict({"version": 1, "steps": steps}), is_raw=False, long_side_px=64)

    photos = tmp_path / "photos"
    photos.mkdir()
    photo, other = make_png(photos, "user.png", width=96, height=64), make_png(photos, "other.png", width=96, height=64)
    user = entries([{"slider": "sharpen", "value": 60.0}, {"slider": "exposure", "value": -0.5}])
    for p in (photo, other):
        p.with_name(p.name + ".xmp").write_text(xmp_to_string(new_darktable_xmp(user, is_raw=False)), encoding="utf-8")
    ours = [{"slider": "exposure", "value": 1.0}, {"slider": "saturation", "value": 20.0}]
    named = [dataclasses.replace(e, multi_priority=1, multi_name="autoretouch") for e in entries(ours)]
    files = {}
    for name, items in (("ar_first", named), ("ar_second", named), ("ar_shared", entries(ours))):
        files[name] = tmp_path / f"{name}.dtstyle"
        files[name].write_text(history_to_dtstyle(items, name, "autoretouch test"), encoding="utf-8")
    run_lua_body(
        tmp_path,
        BODY.format(
            photo=lua_string(str(photo)), other=lua_string(str(other)), first=lua_string(str(files["ar_first"])),
            second=lua_string(str(files["ar_second"])), shared=lua_string(str(files["ar_shared"])),
        ),
    )  # fmt: skip
    # (file name, version) -> the history items (operation, instance, instance name) up to history_end
    history = library_histories(tmp_path / "dt" / "library.db", ("operation", "multi_priority", "multi_name"))

    user_items = [("exposure", 0, ""), ("sharpen", 0, "")]
    ours_once = [("colorbalancergb", 0, "autoretouch"), ("exposure", 1, "autoretouch")]
    # appended after the user's history, the user's exposure instance kept; the retry stacks a second set
    assert history[("user.png", 0)] == [*user_items, *ours_once, *ours_once]
    # a virtual copy (no history of its own) takes the style: its exposure becomes instance 0
    assert history[("user.png", 1)] == [("colorbalancergb", 0, "autoretouch"), ("exposure", 0, "autoretouch")]
    # unnamed instance-0 entries land on the user's own exposure instance: the user's -0.5 EV is replaced
    assert history[("other.png", 0)] == [*user_items, ("colorbalancergb", 0, ""), ("exposure", 0, "")]
