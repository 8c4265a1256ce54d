"""Helpers for tests that drive a real darktable GUI under ``xvfb-run`` with a Lua driver (``--luacmd``).

Also the photos and sidecars such a session imports (:func:`history_xmp`, :func:`gui_photo`), and reading the
histories in the library darktable leaves behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from testing.needs import missing

__all__ = [
    "FIXED_MODULES",
    "gui_photo",
    "history_xmp",
    "library_histories",
    "lua_string",
    "require_darktable_gui",
    "run_darktable",
    "run_lua_body",
]

#: The modules darktable adds to every image's history on its own (left out by library_histories).
FIXED_MODULES = ("colorin", "colorout", "gamma", "flip")


def require_darktable_gui() -> None:
    """darktable, darktable-cli and xvfb-run on ``PATH``; else skip (fail under ``CI=true``)."""
    absent = [name for name in ("darktable", "darktable-cli", "xvfb-run") if shutil.which(name) is None]
    if absent:
        missing(f"{', '.join(absent)} not installed (apt-get install darktable xvfb)")


def lua_string(text: str) -> str:
    """A Lua string literal for ``text`` (every byte outside [A-Za-z0-9 /._-] as a decimal escape)."""
    safe = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 /._-")
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in text.encode("utf-8")) + '"'


def history_xmp(steps: Sequence[Mapping[str, Any]], *, long_side_px: int = 64) -> str:
    """A darktable sidecar whose history is the recipe ``steps`` translated, as a user's own edit (no autoretouch
    record).

    Args:
        steps: recipe steps, ``{"slider": NAME, "value": V}`` each.
        long_side_px: the photo's long side in pixels, for the modules whose radii scale with it (64 unless given:
            what these tests' sidecars have always used; their checks read only the modules' names).
    """
    from backend.recipe import Recipe
    from backend.sidecar.darktable_xmp import new_darktable_xmp, xmp_to_string
    from backend.translate.darktable import recipe_to_history

    recipe = Recipe.from_dict({"version": 1, "steps": list(steps)})
    entries = recipe_to_history(recipe, is_raw=False, long_side_px=long_side_px)
    return xmp_to_string(new_darktable_xmp(entries, is_raw=False))


def gui_photo(
    folder: Path, name: str, history: Sequence[Mapping[str, Any]] | None = None, *, long_side_px: int = 64
) -> Path:
    """``folder/name``: a 96 x 64 PNG for darktable to import (``folder`` made where missing), and with ``history``
    its sidecar ``NAME.xmp`` holding those recipe steps (see history_xmp; ``long_side_px`` as there).
    """
    from testing.fixtures import make_png

    folder.mkdir(parents=True, exist_ok=True)
    photo = make_png(folder, name, width=96, height=64)
    if history is not None:
        photo.with_name(name + ".xmp").write_text(history_xmp(history, long_side_px=long_side_px), encoding="utf-8")
    return photo


def library_histories(
    library: Path, columns: tuple[str, ...] = ("operation", "multi_priority")
) -> dict[tuple[str, int], list[tuple[object, ...]]]:
    """Every image's active history in a darktable library, FIXED_MODULES left out.

    Args:
        library: darktable's ``library.db``.
        columns: the columns of its ``history`` table to read, the first being ``operation``.

    Returns:
        ``(file name, version) -> [one tuple of columns per history item below history_end, in history order]``.
    """
    out = {}
    with sqlite3.connect(library) as db:
        for image_id, name, version, end in db.execute("SELECT id, filename, version, history_end FROM images"):
            rows = db.execute(
                f"SELECT {', '.join(columns)} FROM history WHERE imgid = ? AND num < ? ORDER BY num",
                (image_id, end),
            ).fetchall()
            out[(name, version)] = [r for r in rows if r[0] not in FIXED_MODULES]
    return out


def run_darktable(
    root: Path,
    driver: Path,
    *,
    conf: tuple[str, ...] = (),
    xvfb: str = "",
    env: dict[str, str] | None = None,
    timeout_s: float = 150.0,
    write_sidecars: str = "on import",
) -> tuple[int | None, str]:
    """Run darktable once with a throw-away config, cache and library under ``root``, driven by ``driver``.

    darktable under Xvfb now and then hangs while it starts, before it runs any Lua (one CI run in about thirty):
    a session whose driver never started is run once more from a clean library and cache. A session that hangs
    after its driver started is not run again: that may be ours.

    Args:
        root: scratch folder (``config/``, ``cache/``, ``home/`` and ``library.db`` are made there).
        driver: Lua file run with ``--luacmd dofile(...)``; it should quit darktable when done.
        conf: extra ``--conf key=value`` settings.
        xvfb: extra Xvfb server options (``xvfb-run -s``; no spaces inside paths).
        env: extra environment variables.
        timeout_s: each try's limit; darktable is killed past it.
        write_sidecars: darktable's "write sidecar file for each image" preference (``write_sidecar_files``:
            ``on import``, ``after edit`` or ``never``; only the first ``--conf`` of a key counts, so not in ``conf``).

    Returns:
        ``(exit status or None when killed, the combined output)``; when killed, the output ends with a line saying
        whether the driver had started.
    """
    started = root / "driver-started"
    started.unlink(missing_ok=True)  # from an earlier session in the same root
    status, log = _run_darktable_once(root, driver, started, conf, xvfb, env, timeout_s, write_sidecars)
    if status is None and not started.exists():
        # the killed darktable's database locks (library.db.lock, config/data.db.lock) would make the next one
        # stop at "database is locked"
        locks = [*root.glob("*.lock"), *(root / "config").glob("*.lock")]
        for stale in (root / "library.db", root / "cache", *locks):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
        first = log + f"\n[darktable hung before it ran the driver; killed after {timeout_s} s and started again]\n"
        status, log = _run_darktable_once(root, driver, started, conf, xvfb, env, timeout_s, write_sidecars)
        log = first + log
    if status is None:
        where = "after the driver started" if started.exists() else "again before it ran the driver"
        log += f"\n[darktable killed after {timeout_s} s: it hung {where}]\n"
    return status, log


def run_lua_body(root: Path, body: str) -> None:
    """Run darktable once (:func:`run_darktable` in ``root/dt``) on the Lua ``body`` and check that it ran through.

    ``body`` runs inside ``pcall`` with ``dt = require "darktable"`` in scope; a file ``root/done.txt`` then says
    ``OK`` or the error, and darktable quits. Fails the test (with the log's tail) when darktable did not quit or the
    body raised.
    """
    done, driver = root / "done.txt", root / "driver.lua"
    driver.write_text(
        'local dt = require "darktable"\nlocal ok, err = pcall(function()\n'
        + body.rstrip("\n")
        + f'\nend)\nlocal f = io.open({lua_string(str(done))}, "w")\n'
        + 'f:write(ok and "OK" or ("ERROR " .. tostring(err)))\nf:close()\n'
        + 'dt.gui.action("global/quit", 0, "", "", 1.0)\n',
        encoding="utf-8",
    )
    status, log = run_darktable(root / "dt", driver)
    assert status is not None, f"darktable did not quit; log:\n{log[-3000:]}"
    assert done.is_file() and done.read_text() == "OK", (done.read_text() if done.is_file() else "", log[-3000:])


def _run_darktable_once(
    root: Path,
    driver: Path,
    started: Path,
    conf: tuple[str, ...],
    xvfb: str,
    env: dict[str, str] | None,
    timeout_s: float,
    write_sidecars: str,
) -> tuple[int | None, str]:
    """One darktable session for run_darktable; ``started`` is created when darktable begins the driver."""
    config, cache, home = root / "config", root / "cache", root / "home"
    for d in (config / "lua", cache, home):
        d.mkdir(parents=True, exist_ok=True)
    cmd = ["xvfb-run", "-a", *(["-s", xvfb] if xvfb else []), "darktable",
           "--configdir", str(config), "--cachedir", str(cache), "--library", str(root / "library.db"),
           "--conf", f"write_sidecar_files={write_sidecars}", "--disable-opencl"]  # fmt: skip
    for item in conf:
        cmd += ["--conf", item]
    mark = f"io.open({lua_string(str(started))}, 'w'):close()"
    cmd += ["--luacmd", f"{mark} dofile({lua_string(str(driver))})"]
    full_env = dict(os.environ, HOME=str(home), LANG="C", LC_ALL="C", **(env or {}))
    full_env.pop("DISPLAY", None)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", env=full_env,
        start_new_session=True,
    )  # fmt: skip
    try:
        log, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        return None, log
    return proc.returncode, log
