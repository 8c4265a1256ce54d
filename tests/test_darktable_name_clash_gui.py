"""darktable 4.2's sidecar naming clash in a real darktable GUI (under ``xvfb-run``): ``NAME_NN.EXT.xmp``.

darktable names virtual copy NN's sidecar ``NAME_NN.EXT.xmp``, as it names that of a file called ``NAME_NN.EXT``;
and importing ``NAME.EXT`` reads every ``NAME_`` + digits + ``.EXT.xmp`` beside it as the sidecar of ``NAME.EXT``'s
version NN. darktable 4.2 has no ``image:apply_sidecar``, so the plug-in reloads a sidecar by importing the file
again: for ``a.png``, with a file ``a_01.png`` in the library, that import would make a virtual copy 1 of ``a.png``
out of ``a_01.png``'s history. Checked here: with ``a.png`` and ``a_01.png`` (its own history, an exposure entry)
in the library, auto-retouch on ``a.png`` is refused, saying why, and leaves the library as it was; the import the
reload would have made does add ``a.png`` version 1 with ``a_01.png``'s exposure entry (what the refusal prevents).

Needs darktable, darktable-cli and xvfb-run: skipped when missing, a failure under ``CI=true``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testing.darktable_gui import FIXED_MODULES, gui_photo, history_xmp, library_histories, require_darktable_gui
from testing.darktable_plugin import COPY_FILE, run_plugin_session

pytestmark = [pytest.mark.host, pytest.mark.slow]

#: Hard limit for the darktable session in seconds (it normally takes 10-20 s).
SESSION_TIMEOUT_S = 150

#: The driver (see testing.darktable_plugin.write_driver): a.png imported, then a_01.png with its own sidecar;
#: auto-retouch on a.png; then the import of a.png that darktable 4.2's reload would be.
DRIVER = (
    COPY_FILE
    + """
  local function images()
    local out = {{}}
    for _, i in ipairs(dt.database) do
      out[#out + 1] = {{ file = i.filename, index = i.duplicate_index }}
    end
    return out
  end
  local a = dt.database.import({photo})
  dt.control.sleep(1500)
  copy_file({named_history}, {named_sidecar}) -- a_01.png's own history, in its sidecar before it is imported
  dt.database.import({named})
  dt.control.sleep(1500)
  result.before = images()
  local summary, message = ar.apply_to_images({{ a }}, {{ recipe = {recipe}, strength = 1 }})
  result.apply = summary and {{ written = summary.written, skipped = summary.skipped,
    reason = summary.details[1] and summary.details[1].reason }} or {{ error = message }}
  result.after_apply = images()
  dt.database.import({photo})
  dt.control.sleep(2000)
  result.after_import = images()
"""
)


def test_apply_refuses_a_file_whose_reload_would_read_another_files_sidecar_as_its_copy(tmp_path: Path) -> None:
    require_darktable_gui()
    photos = tmp_path / "photos"
    photo = gui_photo(photos, "a.png")
    named = gui_photo(photos, "a_01.png")
    named_history = tmp_path / "named.xmp"
    named_history.write_text(history_xmp([{"slider": "exposure", "value": 0.5}]), encoding="utf-8")
    recipe = tmp_path / "plus1ev.json"
    recipe.write_text(json.dumps({"version": 1, "steps": [{"slider": "exposure", "value": 1.0}]}), encoding="utf-8")
    named_sidecar = photos / "a_01.png.xmp"
    result, log = run_plugin_session(
        tmp_path / "dt",
        DRIVER,
        timeout_s=SESSION_TIMEOUT_S,
        photo=photo,
        named=named,
        named_history=named_history,
        named_sidecar=named_sidecar,
        recipe=recipe,
    )

    def files(step: str) -> list[tuple[str, int]]:
        return sorted((i["file"], i["index"]) for i in result[step])

    assert files("before") == [("a.png", 0), ("a_01.png", 0)]
    assert result["apply"] == {
        "written": 0,
        "skipped": 1,
        "reason": f"this darktable (before 5.2) re-reads a changed sidecar only by importing {photo} again, which "
        f"also reads {named_sidecar}, the sidecar of the file {named} in darktable's library, as that of this file's "
        "virtual copy 1 (its import reads each NAME_<digits>.EXT.xmp beside NAME.EXT as the sidecar of version "
        "<digits>), and so would give that file's history to it: not changed",
    }, log[-3000:]
    assert files("after_apply") == files("before")  # the refusal left the library alone
    # what the refusal prevents: the reload's import makes a.png's copy 1 out of a_01.png's sidecar
    assert files("after_import") == [("a.png", 0), ("a.png", 1), ("a_01.png", 0)]
    histories = library_histories(tmp_path / "dt" / "library.db")
    assert [op for op, _ in histories[("a.png", 1)] if op not in FIXED_MODULES] == ["exposure"]
    assert [op for op, _ in histories[("a_01.png", 0)]] == ["exposure"]
    assert [op for op, _ in histories[("a.png", 0)]] == []
