"""What ``autoretouch train`` says about the style it installs: the version it replaces, a shadowed shipped style.

* Retraining a style name replaces the installed style: the summary says ``NAME@N`` is replaced by ``NAME@N+1``
  and where the old version is kept: installing copies the replaced pair into the style folder's ``replaced/``
  subfolder (``NAME@N.safetensors`` and ``NAME@N.json``, :func:`trainer.result.keep_replaced`; no style listing
  looks there; the summary's ``kept_path`` names the copy made), and the run folder that trained it is named too
  where it is still there (found beside the new one by its creation time).
* A style named ``default`` installed into the user's style folder shadows the shipped default style for every
  command that names no style: the summary says so, and how to go back (it is not refused).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from backend.agent.style import SHIPPED_STYLES_DIR, read_metadata
from backend.errors import AutoretouchError

__all__ = ["install_notes", "installed_before"]


def installed_before(install_dir: str | Path | None, name: str) -> dict[str, Any] | None:
    """The metadata of style ``name`` installed in ``install_dir`` before training (``None``: none, or unreadable)."""
    if install_dir is None:
        return None
    meta = Path(install_dir) / f"{name}.json"
    try:
        return read_metadata(meta) if meta.is_file() else None
    except (AutoretouchError, OSError, ValueError):
        return None


def _old_run_folder(run_dir: Path, name: str, created: Any) -> Path | None:
    """The run folder beside ``run_dir`` whose style ``name`` has the installed one's creation time, if any."""
    if not created:
        return None
    try:
        candidates = sorted(run_dir.resolve().parent.glob(f"*/style/{name}.json"))
    except OSError:
        return None
    for meta in candidates:
        if meta.parents[1] == run_dir.resolve():
            continue
        try:
            if read_metadata(meta).get("created") == created:
                return meta.parent
        except (AutoretouchError, OSError, ValueError):
            continue
    return None


def install_notes(
    name: str, install_dir: str | Path | None, before: dict[str, Any] | None, summary: dict[str, Any]
) -> list[str]:
    """The summary's notes about installing style ``name``.

    Args:
        name: the style name.
        install_dir: the style folder it was installed to (``None``: not installed).
        before: :func:`installed_before`, read before training.
        summary: the command's, with ``installed_path``, ``run_dir`` and ``kept_path`` (the copy kept of the style
            installing replaced, :func:`trainer.result.install_keeping`; ``None`` or absent: none was kept).
    """
    installed = summary.get("installed_path")
    if installed is None or install_dir is None:
        return []
    notes = []
    kept_path = summary.get("kept_path")
    kept = Path(kept_path) if kept_path is not None else None
    if before is None and kept is not None:  # a style whose metadata could not be read was replaced
        notes.append(
            f"the style {name} replaced in {install_dir}{os.sep} (its metadata could not be read) is kept as {kept}"
        )
    if before is not None:
        new = installed_before(install_dir, name) or {}
        old_v, new_v = before.get("model_version", "?"), new.get("model_version", "?")
        old_dir = _old_run_folder(Path(summary["run_dir"]), name, before.get("created"))
        if kept is not None and kept.suffix == ".json":  # only the .json was installed: no weights to keep
            where = f"the old version's .json is kept as {kept} (it had no {name}.safetensors)"
            where += f", trained in {old_dir}{os.sep}" if old_dir is not None else ""
        elif kept is not None:
            where = (
                f"the old version is kept as {kept} and its .json (copy both back as {name}.safetensors and "
                f"{name}.json to go back to it)"
            )
            where += f", trained in {old_dir}{os.sep}" if old_dir is not None else ""
        elif old_dir is not None:
            where = f"the old version stays in {old_dir}{os.sep}"
        else:
            where = "no copy of the old version was kept"
        notes.append(
            f"{name}@{old_v} (created {before.get('created', '?')}) is replaced by {name}@{new_v} in "
            f"{install_dir}{os.sep}; {where}"
        )
    if name == "default" and Path(install_dir).resolve() != SHIPPED_STYLES_DIR.resolve():
        notes.append(
            f"style 'default' in {install_dir}{os.sep} shadows the shipped default style: every command that names "
            f"no style (suggest, apply, catalog, the plug-ins) now uses this one; delete {installed} and its .json "
            "to go back to the shipped default (training's restore.prior still uses the shipped one)"
        )
    return notes
