"""'train style from selected images' on a virtual copy in a real darktable 4.2 GUI (under ``xvfb-run``).

The user's own virtual copy of a photo has a history of its own (an exposure entry; the original's is a sharpen
entry). Only the copy is selected and trained through this checkout's command line (the daemon started on demand
off): darktable writes the copy's sidecar first, the plug-in gives ``train --darktable`` that sidecar,
``NAME_01.EXT.xmp`` (not the photo, which would train the original's edit), and the trainer learns one pair, named
``a photo (virtual copy 1)`` in the style the run folder keeps (installed or not), its recipe the copy's exposure -1
EV without the original's sharpen. Needs darktable, darktable-cli and xvfb-run: skipped when missing, a failure
under ``CI=true``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testing.darktable_gui import gui_photo, history_xmp, require_darktable_gui, run_darktable
from testing.darktable_plugin import OWN_VIRTUAL_COPY, cli_wrapper, driver_result, install_plugin, write_driver

pytestmark = [pytest.mark.host, pytest.mark.slow]

#: The session's limit: darktable's start, the CLI's, darktable-cli's render of one photo and TRAIN_MINUTES.
SESSION_TIMEOUT_S = 170
STYLE = "copy-look"
#: The training budget (the preference's own minimum, 1 minute, is for the GUI's slider only).
TRAIN_MINUTES = 0.3

#: The driver (see write_driver): the user's virtual copy with its own history (OWN_VIRTUAL_COPY), selected alone
#: and trained.
DRIVER = (
    OWN_VIRTUAL_COPY
    + """
  result.copy = {{ index = copy.duplicate_index, sidecar = copy.sidecar, altered = copy.is_altered }}
  dt.gui.selection({{ copy }})
  local trained = assert(ar.train_from_images(dt.gui.action_images))
  result.train = {{ state = trained.state, used = trained.used, skipped = #trained.skipped,
    message = trained.message }}
"""
)


def test_training_a_selected_virtual_copy_learns_the_copys_own_edit(tmp_path: Path) -> None:
    require_darktable_gui()
    photos = tmp_path / "photos it's"
    photo = gui_photo(photos, "a photo.png", [{"slider": "sharpen", "value": 60.0}])
    copy_history = tmp_path / "copy history.xmp"
    copy_history.write_text(history_xmp([{"slider": "exposure", "value": -1.0}]), encoding="utf-8")
    root = tmp_path / "dt"
    calls = root / "calls.log"
    cli = cli_wrapper(root / "bin 'x' $y", calls=calls)
    install_plugin(root / "config")
    result_path, driver = root / "result.json", root / "driver.lua"
    write_driver(driver, DRIVER, result_path, photo=photo, copy_history=copy_history)
    prefs = {"cli_path": cli, "start_daemon": "FALSE", "server": "", "train_name": STYLE,
             "train_minutes": TRAIN_MINUTES}  # fmt: skip
    conf = tuple(f"lua/autoretouch/{key}={value}" for key, value in prefs.items())
    env = {"AUTORETOUCH_STYLES": str(root / "styles"), "OMP_NUM_THREADS": "1"}
    status, log = run_darktable(root, driver, conf=conf, env=env, timeout_s=SESSION_TIMEOUT_S)
    result = driver_result(status, log, result_path, SESSION_TIMEOUT_S)

    sidecar = photos / "a photo_01.png.xmp"
    assert result["copy"] == {"index": 1, "sidecar": str(sidecar), "altered": True}, result
    assert result["train"]["used"] == 1 and result["train"]["skipped"] == 0, result["train"]
    trains = [argv for argv in map(json.loads, calls.read_text(encoding="utf-8").splitlines()) if argv[0] == "train"]
    assert len(trains) == 1 and trains[0][-2:] == ["--darktable", str(sidecar)], trains  # the copy's sidecar
    assert result["train"]["state"] in ("finished", "rejected"), result["train"]  # rejected: worse than nothing
    kept = root / "cache" / "autoretouch" / "runs" / STYLE / "style" / f"{STYLE}.json"
    style = json.loads(kept.read_text(encoding="utf-8"))
    assert style["examples"]["names"] == ["a photo (virtual copy 1)"], style["examples"]
    (learnt,) = style["examples"]["recipes"]  # what was learnt: the copy's edit, not the original's
    values = {step["slider"]: step["value"] for step in learnt}
    assert abs(values.get("exposure", 0.0) + 1.0) < 0.05 and not values.get("sharpen"), learnt
