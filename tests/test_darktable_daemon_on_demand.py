"""The darktable plug-in starts a REAL ``autoretouch serve`` on demand, uses it, and stops it at darktable's exit.

A Lua 5.1 driver (``darktable_plugin/spec/helpers/live_daemon.lua``) loads the plug-in on the specs' stubbed
darktable with the installed ``autoretouch`` command and no daemon address set: the health check has the plug-in
start ``autoretouch serve --port=P --no-http --root=FOLDER`` on a free loopback port and list the styles through
``--server``; a revert batch then runs through the same daemon; darktable's "exit" event stops it. The test checks
the driver's report against the real world: the daemon's log, its process (gone after "exit") and its port
(closed). Needs ``lua5.1`` and ``autoretouch`` on the PATH: skipped when one is missing, a failure under
``CI=true``.

The same inside a real darktable 4.2 GUI (under ``xvfb-run``, with this checkout's CLI): the plug-in reads the
film rolls from ``dt.films``, logs to darktable's cache folder, applies a recipe to a virtual copy through the
daemon (the copy's own sidecar written, the original's not), and darktable's own "exit" event, when it quits,
stops the daemon. Needs darktable, darktable-cli and xvfb-run.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.darktable_plugin import REPO, cli_wrapper, driver_result, install_plugin, write_driver
from testing.needs import need_program
from testing.processes import command, free_port, listening, running, wait_gone

pytestmark = [pytest.mark.host, pytest.mark.slow]

PLUGIN_DIR = REPO / "darktable_plugin"
DRIVER = "spec/helpers/live_daemon.lua"
#: The driver's whole run (the daemon starts in 5-10 s on a loaded machine).
DRIVER_TIMEOUT_S = 90
#: How long the stopped daemon may take to exit (it gets SIGTERM and shuts down gracefully).
EXIT_WAIT_S = 10.0
#: The darktable session's limit (it normally takes 10-20 s).
SESSION_TIMEOUT_S = 150

#: The darktable session: import a photo, run the health check (which starts the daemon), a revert and an apply on a
#: virtual copy through the daemon, write what happened, quit (darktable then fires the "exit" event).
GUI_DRIVER = """
  local img = dt.database.import({photo})
  result.check = ar.check_autoretouch().message
  result.films = {{}}
  for i = 1, #dt.films do
    result.films[i] = dt.films[i].path
  end
  local daemon = ar.internals.state.daemon or {{}}
  result.pid, result.own, result.roots = daemon.pid, daemon.own, daemon.roots
  local summary = ar.revert_images({{ img }})
  result.revert = summary and summary.details[1].reason
  dt.control.sleep(1500)
  local copy = dt.database.duplicate(img)
  dt.control.sleep(1500)
  local applied = ar.apply_to_images({{ copy }}, {{ recipe = {recipe}, strength = 1 }})
  result.copy_apply = applied and applied.details[1].action
  result.copy_sidecar = copy.sidecar
"""


@pytest.fixture
def live_run(tmp_path: Path) -> Iterator[tuple[dict[str, Any], int, Path, Path]]:
    """Run the driver once: ``(its report, the port, the film roll folder, the daemon's log file)``."""
    need_program("lua5.1", "lua5.1 is not installed (apt-get install lua5.1)")
    cli = need_program("autoretouch", "the autoretouch command is not installed (pip install -e .)")
    port = free_port()
    folder = tmp_path / "photos it's $HOME"
    cache, styles = tmp_path / "cache", tmp_path / "styles"
    for d in (folder, cache, styles):
        d.mkdir()
    out = tmp_path / "report.json"
    # no user styles: the daemon lists the shipped ones
    env = dict(os.environ, LANG="C", LC_ALL="C", AUTORETOUCH_STYLES=str(styles))
    cmd = ["lua5.1", DRIVER, cli, str(port), str(folder), str(cache), str(out)]
    proc = subprocess.run(
        cmd, cwd=PLUGIN_DIR, capture_output=True, text=True, errors="replace", timeout=DRIVER_TIMEOUT_S, env=env,
        check=False,
    )  # fmt: skip
    report: dict[str, Any] = {}
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        report = json.loads(out.read_text(encoding="utf-8"))
        yield report, port, folder, cache / "autoretouch-daemon.log"
    finally:  # never leave a daemon behind, whatever failed
        pid = int((report.get("daemon") or {}).get("pid") or 0)
        if pid and running(pid) and f"--port={port}" in command(pid):
            os.kill(pid, 15)


def test_starts_the_real_daemon_uses_it_and_stops_it_at_exit(
    live_run: tuple[dict[str, Any], int, Path, Path],
) -> None:
    report, port, folder, log = live_run
    server = f"127.0.0.1:{port}"
    daemon = report["daemon"]
    assert daemon["own"] and daemon["server"] == server and daemon["roots"] == [str(folder)], daemon
    assert report["alive_after_start"]
    check = report["check"]
    assert check["ok"], check
    assert f"autoretouch ready (daemon started by the plug-in at {server}, autoretouch " in check["message"]
    assert "default" in check["styles"]
    # the styles came through --server (the health check's own answer), and the batch went there too
    commands = report["commands"]
    assert commands and all(f"'--server={server}'" in c for c in commands), commands
    assert any("'revert'" in c for c in commands)
    assert report["revert"] == {"action": "skipped", "reason": "no sidecar"}
    assert report["daemon_after_revert_pid"] == daemon["pid"]  # no second start
    # what the daemon itself wrote: its address, the film roll as its only root, the calls it served
    pid = int(daemon["pid"])
    assert wait_gone(pid, EXIT_WAIT_S), f"the daemon (process {pid}) still runs after darktable's exit event"
    assert not listening(port)
    text = log.read_text(encoding="utf-8")
    assert f"grpc={server} http=off roots={folder} " in text, text
    assert "rpc=ListStyles code=OK" in text and "rpc=Revert code=OK" in text, text
    assert "received SIGTERM" in text, text
    assert report["exit_event"] and not report["daemon_after_exit"]
    assert f"autoretouch: stopped the daemon it started (process {pid})" in report["logs"]
    assert f"(its output goes to {log})" in report["prints"][0]


def test_real_darktable_starts_the_daemon_and_stops_it_when_it_quits(tmp_path: Path) -> None:
    from testing.darktable_gui import require_darktable_gui, run_darktable
    from testing.fixtures import make_png

    require_darktable_gui()
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = make_png(photos, "a.png", width=96, height=64)
    install_plugin(tmp_path / "config")
    styles = tmp_path / "styles"
    styles.mkdir()
    result_path, driver = tmp_path / "result.json", tmp_path / "driver.lua"
    recipe = tmp_path / "plus1.json"
    recipe.write_text(json.dumps({"version": 1, "steps": [{"slider": "exposure", "value": 1.0}]}), encoding="utf-8")
    write_driver(driver, GUI_DRIVER, result_path, photo=photo, recipe=recipe)
    port = free_port()
    # this checkout's CLI (darktable gets its own HOME)
    cli = cli_wrapper(tmp_path / "bin", name="autoretouch")
    conf = (f"lua/autoretouch/cli_path={cli}", f"lua/autoretouch/daemon_port={port}")
    status, log = run_darktable(
        tmp_path, driver, conf=conf, env={"AUTORETOUCH_STYLES": str(styles)}, timeout_s=SESSION_TIMEOUT_S
    )
    result = driver_result(status, log, result_path, SESSION_TIMEOUT_S)
    pid = int(result["pid"] or 0)
    try:
        server = f"127.0.0.1:{port}"
        assert f"autoretouch ready (daemon started by the plug-in at {server}, " in result["check"], result
        assert result["films"] == [str(photos)] and result["roots"] == [str(photos)] and result["own"], result
        assert result["revert"] == "no autoretouch settings in this sidecar", result  # answered by the daemon
        assert result["copy_apply"] == "written" and result["copy_sidecar"] == str(photos / "a_01.png.xmp"), result
        assert 'darktable:operation="exposure"' in (photos / "a_01.png.xmp").read_text(encoding="utf-8")
        assert "autoretouch:" not in (photos / "a.png.xmp").read_text(encoding="utf-8")  # the original's: not ours
        assert wait_gone(pid, EXIT_WAIT_S), f"the daemon (process {pid}) still runs after darktable quit"
        assert not listening(port)
        daemon_log = (tmp_path / "cache" / "autoretouch-daemon.log").read_text(encoding="utf-8")
        assert "rpc=Revert code=OK" in daemon_log and "received SIGTERM" in daemon_log, daemon_log
        assert "rpc=WriteSidecars code=OK" in daemon_log, daemon_log  # the copy's apply went through the daemon
    finally:
        if pid and running(pid) and f"--port={port}" in command(pid):
            os.kill(pid, 15)
