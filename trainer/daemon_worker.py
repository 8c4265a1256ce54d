"""The training worker the daemon starts for TrainStyle: ``python -m trainer.daemon_worker SPEC.json``.

It calls the trainer's Python API (:func:`trainer.train.train`; the ``trainer`` package is imported only
here, in the worker process, as ``autoretouch train`` does) and reports on stdout, one JSON object per line:

* ``{"event": "progress", "phase": "preparing data"|"training", "step": N, "total_steps": N, "metrics": {...}}``
  (the training numbers are the newest row of the run's ``metrics.csv``, polled every second);
* ``{"event": "finished", "run_dir": ..., "steps": N, "stopped_by": "steps"|"minutes", "metrics": {...},
  "installed_path": ..., "kept_path": ..., "rejected": ..., "notes": [...]}`` at the end (``notes``: the
  summary's notes as a local ``train`` makes them, names unescaped: the photos left out and why, the installed
  version it replaced and where that is kept);
* ``{"event": "error", "code": GRPC_CODE, "message": ..., "type": CLASS, "exit_code": N}`` on failure.

The spec file (written by :mod:`backend.daemon.training`) holds ``name``, ``favourites``, ``sources`` (or
null), ``pairs`` (``[originals, edits]`` or null), ``catalog`` (``[lrcat, selection, photos or null]`` or
null), ``darktable`` (a folder or null; with any of these three, ``favourites`` is null), ``favourite_files`` /
``darktable_files`` (lists of photo files, linked into ``run_dir/selection`` and used like the folders; a
darktable list may also hold sidecars: a photo's, standing for it, or a virtual copy's ``NAME_NN.EXT.xmp``, that
copy's edit), ``darktable_given`` (what the user gave for ``darktable_files``, the folders and files before the
client listed the folders' photos, or null: the record names those, and the unread subfolders of the folders among
them; :func:`darktable_files_folder`),
``lightroom_edits`` (``{"path", "settings"}`` each, learnt as pairs), ``steps`` (0 = the
trainer's default), ``minutes``, ``description``, ``overrides`` (``section.key=value``), ``run_dir``,
``install_dir`` and ``roots`` (the daemon's ``--root`` folders). SIGTERM ends the worker at once (the run folder
keeps its checkpoints).

The daemon checked every path of the request against its roots; the worker checks what those paths lead
to, with the same guard (:class:`backend.daemon.security.Roots`): the photos and sidecars inside the folders
(a symbolic link there to a file outside every root refuses the run, naming it) and a catalog's originals
(:func:`trainer.lrcat.favourites.originals_within`: an original outside every root is skipped and named in
``catalog_skipped``, like the other unusable photos, and never decoded).
"""

from __future__ import annotations

import csv
import json
import sys
import threading
import traceback
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from backend.daemon.errors import describe
from backend.daemon.security import Roots
from backend.errors import AutoretouchError, PermissionDeniedError
from trainer.data.selection import darktable_selection, linked_folder
from trainer.lrcat.favourites import originals_within

__all__ = ["check_folders", "darktable_files_folder", "main"]

_lock = threading.Lock()


def _emit(event: dict[str, Any]) -> None:
    with _lock:
        sys.stdout.write(json.dumps(event, default=str) + "\n")
        sys.stdout.flush()


def _last_row(path: Path) -> dict[str, str] | None:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    return rows[-1] if rows else None


def _numbers(row: dict[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in row.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def _watch(metrics_csv: Path, total: int, done: threading.Event) -> None:
    last_step = -1
    while not done.wait(1.0):
        row = _last_row(metrics_csv)
        if row is None:
            continue
        numbers = _numbers(row)
        step = int(numbers.get("step", 0))
        if step != last_step:
            last_step = step
            _emit({"event": "progress", "phase": "training", "step": step, "total_steps": total, "metrics": numbers})


def _train(spec: dict[str, Any]) -> dict[str, Any]:
    from trainer.config import load_config
    from trainer.install_notes import install_notes, installed_before
    from trainer.train import train

    overrides = [*spec.get("overrides", []), f"run.style={spec['name']}"]
    if spec.get("steps"):
        overrides.append(f"run.steps={int(spec['steps'])}")
    if spec.get("minutes"):
        overrides.append(f"run.minutes={float(spec['minutes'])}")
    if spec.get("description"):
        overrides.append(f"run.description={spec['description']}")
    cfg = load_config(None, overrides)
    run_dir = Path(spec["run_dir"])
    _emit({"event": "progress", "phase": "preparing data", "step": 0, "total_steps": cfg.run.steps, "metrics": {}})
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(run_dir / "metrics.csv", cfg.run.steps, done), daemon=True)
    watcher.start()
    favourites, darktable = spec.get("favourites"), spec.get("darktable")
    if spec.get("favourite_files"):
        favourites = str(linked_folder(run_dir / "selection", spec["favourite_files"], with_sidecars=False))
    roots = _roots(spec)
    if spec.get("darktable_files"):
        given = spec.get("darktable_given")
        darktable = str(darktable_files_folder(spec["darktable_files"], run_dir, given=given, roots=roots))
    before = installed_before(spec["install_dir"], cfg.run.style)  # for the notes on the version it replaces
    try:
        if roots is not None:
            folders = [favourites, spec.get("sources"), *(spec.get("pairs") or ()), darktable]
            check_folders([Path(f) for f in folders if f], roots)
        with originals_within(roots.check) if roots is not None else nullcontext():
            result = train(
                cfg,
                targets=favourites,
                sources=spec.get("sources"),
                pairs=tuple(spec["pairs"]) if spec.get("pairs") else None,
                catalog=tuple(spec["catalog"]) if spec.get("catalog") else None,
                darktable=darktable,
                edits=spec.get("lightroom_edits") or None,
                run_dir=run_dir,
                install_dir=spec["install_dir"],
                progress=False,
            )
    finally:
        done.set()
        watcher.join()
    finished = {
        "event": "finished",
        "run_dir": str(result.run_dir),
        "steps": result.step,
        "stopped_by": result.stopped_by,
        "metrics": result.metrics,
        "installed_path": None if result.installed_path is None else str(result.installed_path),
        "kept_path": None if result.kept_path is None else str(result.kept_path),
        "rejected": result.rejected or "",
    }
    # The summary's notes, as a local `train` makes them: what was left out, then the version it replaced.
    finished["notes"] = [*result.notes, *install_notes(cfg.run.style, spec["install_dir"], before, finished)]
    return finished


def _roots(spec: dict[str, Any]) -> Roots | None:
    """The daemon's roots from the spec (``None`` when the spec names none: not restricted, as for the CLI)."""
    roots = spec.get("roots")
    return None if roots is None else Roots([str(r) for r in roots])


def check_folders(folders: Sequence[Path], roots: Roots) -> None:
    """Check that the photos (and darktable sidecars) the training reads in ``folders`` lie under the roots.

    The daemon checked the folders themselves; a photo inside one may still be a symbolic link to a file
    outside every root, which the trainer would follow. Files are those the trainer lists: directly inside
    the folder, not hidden, photo extensions and ``.xmp`` sidecars.

    Raises:
        PermissionDeniedError: such a file resolves outside every root (it names the file).
    """
    from trainer.data.folders import PHOTO_EXTENSIONS

    for folder in folders:
        if not folder.is_dir():
            continue  # the trainer reports it
        for entry in sorted(folder.iterdir()):
            ext = entry.suffix.lower().lstrip(".")
            if entry.name.startswith(".") or (ext not in PHOTO_EXTENSIONS and ext != "xmp"):
                continue
            roots.check(entry)


def darktable_files_folder(
    files: Sequence[str], run_dir: Path, *, given: Sequence[str] | None = None, roots: Roots | None = None
) -> Path:
    """The selection folder for a request's ``darktable_files``, as ``train --darktable PHOTO...`` builds it.

    A photo's sidecar listed in place of it (``NAME.EXT.xmp``) stands for the photo; a darktable virtual copy's
    sidecar (``NAME_NN.EXT.xmp``) stands for that copy: linked beside its photo's link, it is trained as a pair of
    its own, ``NAME (virtual copy N)`` (:func:`trainer.data.selection.darktable_selection`,
    :mod:`trainer.darktable_pairs`). Duplicates count once. The selection's marker records ``given`` (what the
    user typed, folders included, which ``train --server`` expanded into ``files``), or ``files`` as listed where
    ``given`` is ``None`` or empty: the style's record names them (:func:`trainer.data.given.given_record`), and
    the unread subfolders of the folders among them (:func:`trainer.data.given.unread_subfolders`). With
    ``roots``, ``given`` is checked again as the worker sees it (the daemon checked it before; a folder since
    replaced by a symbolic link out of the roots would have its subfolders listed): where a path of it lies
    outside every root, the marker records ``files`` instead (the record names the photos, no subfolder is
    looked for; what is trained is the same).

    Raises:
        NotFoundError: a listed file does not exist.
        SelectionError: a listed file is not a photo (a sidecar that is no copy's and whose photo is missing,
            another file), or only copies' sidecars whose photos are missing are listed.
    """
    photos = darktable_selection([Path(f) for f in files])
    shown = list(given) if given and (roots is None or _within(given, roots)) else list(files)
    return linked_folder(run_dir / "selection", [str(p) for p in photos], with_sidecars=True, given=shown)


def _within(paths: Sequence[str], roots: Roots) -> bool:
    """Whether every one of ``paths``, its symbolic links resolved, lies under one of ``roots``."""
    try:
        roots.check_all(Path(p) for p in paths)
    except PermissionDeniedError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the training described by the spec file ``argv[0]``; returns the exit status (0 = finished)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m trainer.daemon_worker SPEC.json", file=sys.stderr)
        return 2
    try:
        spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
        _emit(_train(spec))
        return 0
    except AutoretouchError as exc:
        info = describe(exc)
        _emit(
            {
                "event": "error",
                "code": info.code,
                "message": info.message,
                "type": info.type,
                "exit_code": info.exit_code,
            }
        )
        return info.exit_code
    except Exception:
        traceback.print_exc()
        _emit({"event": "error", "code": "INTERNAL", "message": "the training failed (see the worker log)",
               "type": "InternalError", "exit_code": 1})  # fmt: skip
        return 1


if __name__ == "__main__":
    sys.exit(main())
