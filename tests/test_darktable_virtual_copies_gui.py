"""Virtual copies (duplicates) in a real darktable 4.2 GUI (under ``xvfb-run``).

darktable keeps a virtual copy's history in its own sidecar, ``NAME_NN.EXT.xmp`` (NN: the copy's version,
``duplicate_index`` in Lua, two digits). darktable 4.2's Lua has no ``image:apply_sidecar``; the plug-in makes
darktable read a sidecar again with ``dt.database.import(original path)``. What that does for a copy is
checked here, for each value of the "write sidecar file for each image" preference: a copy is made, its
sidecar is written from outside darktable twice (as ``autoretouch apply`` would), each time followed by an
import of the original's path; the library's history of the copy (read inside the session through a style
made from the copy, and from ``library.db`` afterwards) is the sidecar's each time, the copy keeps its id,
no image is added, and the original's history stays its own -- here, where the original's sidecar matches
the library. The same import also re-reads the original's sidecar: one older than the library (write-sidecar
"never") would replace the original's newer history, which is why the plug-in refuses to reload in that mode
(tested below).

Then the plug-in end to end on a virtual copy with its own history (a contrast entry; the original has a sharpen
entry): apply a +1 EV recipe, apply it again at strength 0.5, revert. The copy's sidecar holds its own entry and
one set of ours with the second strength, darktable's library follows each step, the revert leaves the copy's own
history alone, and the original's history and sidecar never get anything of ours. Then a preview of the original
and "discard previews": after those reloads (each imports the file again) darktable 4.2 gives a new copy the
user's copy's number, 1, and writes its sidecar over the user's copy's; the preview copy must get another number,
and the user's copy's sidecar must be as it was, after the preview and after the discard. Last, another photo's
copy whose original was removed from the library (its file stays): apply must skip it, since the reload (an import
of the file) would make that copy the original with the original's history.

Needs darktable, darktable-cli and xvfb-run: skipped when missing, a failure under ``CI=true``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from testing.darktable_gui import (
    FIXED_MODULES,
    gui_photo,
    history_xmp,
    library_histories,
    require_darktable_gui,
    run_darktable,
)
from testing.darktable_plugin import (
    COPY_FILE,
    OWN_VIRTUAL_COPY,
    READ_FILE,
    driver_result,
    install_plugin,
    run_plugin_session,
    write_driver,
)

pytestmark = [pytest.mark.host, pytest.mark.slow]

#: Hard limit for one darktable session in seconds (it normally takes 10-20 s).
SESSION_TIMEOUT_S = 150

#: Lua for a driver's body (see write_driver): ``operations(img, name)``, the sorted operation names of img's
#: history in the library, read through a style ``name`` made from it.
OPERATIONS = """
  local function operations(img, name)
    local style = dt.styles.create(img, name, "")
    local out = {{}}
    for i = 1, style and #style or 0 do
      out[#out + 1] = style[i].name
    end
    table.sort(out)
    return out
  end
"""

#: The reload driver (see write_driver): a virtual copy, its sidecar replaced from outside twice, each time
#: followed by dt.database.import of the original's path.
RELOAD_DRIVER = (
    OPERATIONS
    + COPY_FILE
    + """
  local function images()
    local out = {{}}
    for _, i in ipairs(dt.database) do
      out[#out + 1] = {{ id = i.id, index = i.duplicate_index, sidecar = i.sidecar }}
    end
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
)


def _edits(ops: list[str]) -> list[str]:
    """A library history's operations without the modules darktable adds on its own (whenever it develops the
    image in the background, so their presence depends on timing). A style item's name is the operation followed by
    the instance's name, if any (``exposure autoretouch``): the operation alone is kept."""
    return [op.split(" ", 1)[0] for op in ops if op.split(" ", 1)[0] not in FIXED_MODULES]


@pytest.mark.parametrize("write_sidecars", ["on import", "after edit", "never"])
def test_importing_the_original_rereads_a_virtual_copys_sidecar(tmp_path: Path, write_sidecars: str) -> None:
    require_darktable_gui()
    photos = tmp_path / "photos"
    photo = gui_photo(photos, "p.png", [{"slider": "sharpen", "value": 60.0}])
    first, second = tmp_path / "first.xmp", tmp_path / "second.xmp"
    first.write_text(history_xmp([{"slider": "exposure", "value": 0.5}]), encoding="utf-8")
    second.write_text(
        history_xmp([{"slider": "exposure", "value": 0.5}, {"slider": "contrast", "value": 30.0}]), encoding="utf-8"
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
    assert _edits(result["first"]["ops"]) == ["exposure"]  # the sidecar written from outside, in the library
    assert _edits(result["second"]["ops"]) == ["colorbalancergb", "exposure"]  # and again after the second write
    histories = library_histories(tmp_path / "library.db")
    assert histories[("p.png", 1)] == [("exposure", 0), ("colorbalancergb", 0)]
    assert histories[("p.png", 0)] == [("sharpen", 0)]  # the original keeps its own history


#: The plug-in driver: a copy with its own history (OWN_VIRTUAL_COPY: its sidecar written from outside, re-read by an
#: import), then apply, apply again at strength 0.5, revert, each with the plug-in's entry points.
PLUGIN_DRIVER = (
    OPERATIONS
    + READ_FILE
    + OWN_VIRTUAL_COPY
    + """
  local function rows(summary, message)
    if not summary then
      return {{ {{ error = message }} }}
    end
    local out = {{}}
    for i, d in ipairs(summary.details) do
      out[i] = {{ photo = d.photo, action = d.action, reason = d.reason, index = d.image.duplicate_index }}
    end
    return out
  end
  result.copy = {{ id = copy.id, index = copy.duplicate_index, ops = operations(copy, "probe own") }}
  result.first = rows(ar.apply_to_images({{ copy }}, {{ recipe = {recipe}, strength = 1 }}))
  result.first_sidecar = read(copy.sidecar)
  result.first_ops = operations(copy, "probe first")
  settle()
  result.second = rows(ar.apply_to_images({{ copy }}, {{ recipe = {recipe}, strength = 0.5 }}))
  result.second_sidecar = read(copy.sidecar)
  result.second_ops = operations(copy, "probe second")
  settle()
  result.revert = rows(ar.revert_images({{ copy }}))
  result.revert_sidecar = read(copy.sidecar)
  settle()
  -- each reload imported the file again, which sets darktable's count of copies back: a preview of the original
  -- now gets copy number 1 from dt.database.duplicate, the user's copy's
  local own = read(copy.sidecar)
  local s = assert(ar.preview_images({{ img }}, {{ style = "throwaway", strength = 1 }}))
  result.preview = {{ copies = #s.copies, index = s.copies[1] and s.copies[1].duplicate_index,
    sidecar = s.copies[1] and s.copies[1].sidecar }}
  result.own_after_preview = read(copy.sidecar) == own
  settle()
  result.discarded = ar.discard_previews()
  result.own_after_discard = read(copy.sidecar) == own
  result.own_ops = operations(copy, "probe after previews")
  result.images = {{}}
  for _, i in ipairs(dt.database) do
    result.images[#result.images + 1] = {{ id = i.id, index = i.duplicate_index, file = i.filename }}
  end
  result.original_sidecar = read(img.sidecar)
  -- another photo's copy whose original is removed from the library (its file and sidecar stay on disk): importing
  -- the file to reload the copy would make the copy the original, with the original's sidecar
  local other = dt.database.import({other})
  settle()
  local orphan = dt.database.duplicate(other)
  settle()
  other:delete()
  settle()
  local refused = ar.apply_to_images({{ orphan }}, {{ recipe = {recipe}, strength = 1 }})
  result.orphan = {{ id = orphan.id, row = rows(refused)[1] }}
  settle()
  result.orphan_images = {{}}
  for _, i in ipairs(dt.database) do
    if i.filename == orphan.filename then
      result.orphan_images[#result.orphan_images + 1] = {{ id = i.id, index = i.duplicate_index }}
    end
  end
"""
)


@pytest.fixture(scope="module")
def copy_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """The plug-in driver's result and darktable's library."""
    require_darktable_gui()
    import json

    root = tmp_path_factory.mktemp("dt copies")
    photos = root / "photos it's $HOME"
    photo = gui_photo(photos, "a photo.png", [{"slider": "sharpen", "value": 60.0}])
    other = gui_photo(photos, "other.png", [{"slider": "vignette", "value": -40.0}])
    copy_history = root / "copy history.xmp"
    copy_history.write_text(history_xmp([{"slider": "contrast", "value": 30.0}]), encoding="utf-8")
    recipe = root / "plus 1 EV.json"
    recipe.write_text(json.dumps({"version": 1, "steps": [{"slider": "exposure", "value": 1.0}]}), encoding="utf-8")
    result, _log = run_plugin_session(
        root, PLUGIN_DRIVER, timeout_s=SESSION_TIMEOUT_S, photo=photo, other=other, copy_history=copy_history,
        recipe=recipe,
    )  # fmt: skip
    return result, root / "library.db"


def _operations(sidecar: str) -> list[str]:
    return [part.split('"', 1)[0] for part in sidecar.split('darktable:operation="')[1:]]


def test_plugin_applies_twice_to_a_virtual_copy_keeping_its_own_history(
    copy_session: tuple[dict[str, Any], Path],
) -> None:
    result, _library = copy_session
    assert result["copy"]["index"] == 1 and _edits(result["copy"]["ops"]) == ["colorbalancergb"]  # its own history
    ((first,), (second,)) = result["first"], result["second"]
    assert first["action"] == "written" and first["index"] == 1, first
    assert second["action"] == "written" and second["index"] == 1, second
    assert "exposure" in _operations(result["first_sidecar"])
    assert _edits(result["first_ops"]) == ["colorbalancergb", "exposure"]  # in darktable's library after the reload
    sidecar = result["second_sidecar"]
    ops = _operations(sidecar)
    assert ops.count("exposure") == 1 and ops.index("colorbalancergb") < ops.index("exposure"), ops  # one set of ours
    assert "&quot;strength&quot;: 0.5" in sidecar and sidecar.count("autoretouch:Timestamp=") == 1
    assert _edits(result["second_ops"]) == ["colorbalancergb", "exposure"]


def test_plugin_revert_on_a_virtual_copy_leaves_its_own_history(copy_session: tuple[dict[str, Any], Path]) -> None:
    result, library = copy_session
    (row,) = result["revert"]
    assert row["action"] == "written" and row["index"] == 1, row  # reverted and reloaded
    assert "exposure" not in _operations(result["revert_sidecar"]) and "autoretouch:" not in result["revert_sidecar"]
    histories = library_histories(library)
    assert histories[("a photo.png", 1)] == [("colorbalancergb", 0)]  # the copy's own history alone
    images = sorted((i["id"], i["index"]) for i in result["images"] if i["file"] == "a photo.png")
    assert images == [(1, 0), (result["copy"]["id"], 1)], images  # the same copy, no image added


def test_plugin_preview_after_a_reload_leaves_the_users_copy_and_its_sidecar_alone(
    copy_session: tuple[dict[str, Any], Path],
) -> None:
    """darktable 4.2 numbers a copy made after a re-import as copy 1 again, writing its sidecar over the user's."""
    result, library = copy_session
    preview = result["preview"]
    assert preview["copies"] == 1 and preview["index"] > 1, preview  # not the user's copy's number
    assert preview["sidecar"].endswith(f"a photo_{preview['index']:02d}.png.xmp"), preview
    assert result["own_after_preview"] is True  # the user's copy's sidecar is as it was (put back)
    assert result["discarded"] == 1 and result["own_after_discard"] is True  # and not deleted with the preview
    assert _edits(result["own_ops"]) == ["colorbalancergb"]  # the copy's own history, in the library
    assert library_histories(library)[("a photo.png", 1)] == [("colorbalancergb", 0)]
    assert not Path(preview["sidecar"]).exists()


def test_plugin_leaves_a_copy_alone_whose_original_was_removed_from_the_library(
    copy_session: tuple[dict[str, Any], Path],
) -> None:
    """The reload would import the original's file again: darktable would make the copy the original (number 0, the
    original's sidecar's history) and put the copy's sidecar into a new image."""
    result, library = copy_session
    orphan = result["orphan"]
    assert orphan["row"]["action"] == "skipped", orphan
    assert "original image of this virtual copy is not in darktable's library" in orphan["row"]["reason"], orphan
    assert result["orphan_images"] == [{"id": orphan["id"], "index": 1}]  # still copy 1, and no image added
    histories = library_histories(library)
    assert ("other.png", 0) not in histories and histories[("other.png", 1)] == []  # no other image's history


def test_plugin_on_a_virtual_copy_leaves_the_original_alone(copy_session: tuple[dict[str, Any], Path]) -> None:
    result, library = copy_session
    assert library_histories(library)[("a photo.png", 0)] == [("sharpen", 0)]
    original = result["original_sidecar"]
    assert _operations(original) == ["sharpen"] and "autoretouch:" not in original


def _never_mode_photos(tmp_path: Path, *, copy_sidecar: bool) -> tuple[Path, Path, Path]:
    """The "never" tests' files: ``p.png`` (a sharpen history; with ``copy_sidecar`` also its copy 1's older
    sidecar), ``o.png`` (a contrast history, the user's look) and a +1 EV recipe. Returns (photo, other, recipe)."""
    import json

    photos = tmp_path / "photos"
    photo = gui_photo(photos, "p.png", [{"slider": "sharpen", "value": 60.0}])
    other = gui_photo(photos, "o.png", [{"slider": "contrast", "value": 30.0}])
    if copy_sidecar:
        copy = photo.with_name("p_01.png.xmp")
        copy.write_text(history_xmp([{"slider": "sharpen", "value": 30.0}]), encoding="utf-8")
    recipe = tmp_path / "plus1.json"
    recipe.write_text(json.dumps({"version": 1, "steps": [{"slider": "exposure", "value": 1.0}]}), encoding="utf-8")
    return photo, other, recipe


#: The start of the "never" drivers: the probe, then the photo (``img``) and the user's look (``other``) imported.
NEVER_START = (
    OPERATIONS
    + """
  local img = dt.database.import({photo})
  local other = dt.database.import({other})
  dt.control.sleep(1500)"""
)

#: The "never" driver: the user edits the original in darktable (a style applied; with sidecars off, only the
#: library has it), makes a virtual copy and discards its history, and runs the plug-in's apply, then revert, on the
#: copy.
NEVER_DRIVER = (
    NEVER_START
    + """
  dt.styles.apply(dt.styles.create(other, "user look", ""), img)
  dt.control.sleep(1500)
  result.before = operations(img, "probe before")
  local copy = dt.database.duplicate(img)
  dt.control.sleep(1500)
  copy:reset() -- its history discarded: nothing of the copy's own that its (unwritten) sidecar could lose
  dt.control.sleep(1500)
  local applied = ar.apply_to_images({{ copy }}, {{ recipe = {recipe}, strength = 1 }})
  result.applied = {{ skipped = applied.skipped, reason = applied.details[1].reason }}
  local reverted = ar.revert_images({{ copy }})
  result.reverted = {{ skipped = reverted.skipped }}
  dt.control.sleep(1500)
  result.after = operations(img, "probe after")
"""
)


def test_plugin_leaves_a_copy_alone_when_darktable_writes_no_sidecars(tmp_path: Path) -> None:
    """Reloading a copy imports the original's file again, which would put the original's older sidecar back."""
    require_darktable_gui()
    photo, other, recipe = _never_mode_photos(tmp_path, copy_sidecar=False)
    root = tmp_path / "dt"
    result, _log = run_plugin_session(
        root, NEVER_DRIVER, timeout_s=SESSION_TIMEOUT_S, write_sidecars="never", photo=photo, other=other,
        recipe=recipe,
    )  # fmt: skip
    assert "colorbalancergb" in result["before"] and "sharpen" in result["before"], result
    assert result["applied"]["skipped"] == 1 and "writes no sidecars" in result["applied"]["reason"], result
    assert result["reverted"]["skipped"] == 1, result
    assert result["after"] == result["before"], result  # the original's edit, in the library only, is still there
    histories = library_histories(root / "library.db")
    assert ("p.png", 1) not in histories or histories[("p.png", 1)] == []
    assert sorted(op for op, _ in histories[("p.png", 0)]) == ["colorbalancergb", "sharpen"], histories
    assert not photo.with_name("p_01.png.xmp").exists()


#: The "never" driver for an original: its copy 1 (a sidecar from before sidecars were turned off) edited in
#: darktable since (a style applied), the original's history discarded; the plug-in's apply on the original.
NEVER_ORIGINAL_DRIVER = (
    NEVER_START
    + """
  local copy
  for _, i in ipairs(dt.database) do
    if i.duplicate_index == 1 then
      copy = i
    end
  end
  dt.styles.apply(dt.styles.create(other, "user look", ""), copy)
  dt.control.sleep(1500)
  img:reset()
  dt.control.sleep(1500)
  result.before = operations(copy, "probe before")
  local applied = ar.apply_to_images({{ img }}, {{ recipe = {recipe}, strength = 1 }})
  result.applied = {{ skipped = applied.skipped, reason = applied.details[1].reason }}
  dt.control.sleep(1500)
  result.after = operations(copy, "probe after")
"""
)


def test_plugin_leaves_an_original_alone_when_darktable_writes_no_sidecars(tmp_path: Path) -> None:
    """Reloading the original imports its file again, which would put its copy's older sidecar back."""
    require_darktable_gui()
    photo, other, recipe = _never_mode_photos(tmp_path, copy_sidecar=True)
    photos = photo.parent
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    root = tmp_path / "dt"
    result, _log = run_plugin_session(
        root, NEVER_ORIGINAL_DRIVER, timeout_s=SESSION_TIMEOUT_S, write_sidecars="never", photo=photo, other=other,
        recipe=recipe,
    )  # fmt: skip
    assert "colorbalancergb" in result["before"], result
    assert result["applied"]["skipped"] == 1 and "writes no sidecars" in result["applied"]["reason"], result
    assert result["after"] == result["before"], result  # the copy's edit, in the library only, is still there
    histories = library_histories(root / "library.db")
    assert sorted(op for op, _ in histories[("p.png", 1)]) == ["colorbalancergb", "sharpen"], histories
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before  # no sidecar written
