"""What a training run returns, the version number a newly installed style gets, and installing it.

Shared by every training method (:mod:`trainer.train`: GAN + RL; :mod:`trainer.restore`: restoration;
:mod:`trainer.imitation`: slider histories), so none of them imports another for it.
"""

from __future__ import annotations

import filecmp
import functools
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from backend.agent.network import AgentNet
from backend.agent.style import Style, read_metadata, save_style
from backend.errors import AutoretouchError, PermissionDeniedError
from backend.fsio import write_with

__all__ = [
    "REPLACED_DIR",
    "TrainResult",
    "install_style",
    "keep_replaced",
    "next_model_version",
    "refuse_if_interrupted",
]

#: The style folder's subfolder where installing keeps the style pair it replaces (``NAME@N.safetensors`` and
#: ``NAME@N.json``, N its model version); style listings look at a style folder's top level only.
REPLACED_DIR = "replaced"


@dataclass
class TrainResult:
    """What :func:`trainer.train.train` returns.

    Attributes:
        run_dir: the run folder.
        step: generator steps done in total.
        stopped_by: ``"steps"`` or ``"minutes"``.
        style_path: the exported style's weights file in the run folder (``None`` on ranks other than 0).
        installed_path: the style's weights file in the style folder it was installed to, if any.
        metrics: the final evaluation numbers (rank 0).
        net: the trained agent.
        rejected: why the style was not installed (worse than doing nothing, degenerate moves), or ``None``.
        notes: what the command's summary should say besides (photos left out as duplicates or too small).
    """

    run_dir: Path
    step: int
    stopped_by: str
    style_path: Path | None
    installed_path: Path | None
    metrics: dict[str, float] = field(default_factory=dict)
    net: AgentNet | None = None
    rejected: str | None = None
    notes: list[str] = field(default_factory=list)


def next_model_version(directory: Path | None, name: str) -> int:
    """The model version for style ``name`` installed into ``directory``: one more than the installed one, else 1.

    An unreadable or incomplete installed metadata file counts as none.
    """
    meta = None if directory is None else directory / f"{name}.json"
    if meta is None or not meta.is_file():
        return 1
    try:
        return int(read_metadata(meta)["model_version"]) + 1
    except (AutoretouchError, KeyError, TypeError, ValueError):
        return 1


def refuse_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if the command got a Ctrl-C: called right before a style is installed.

    A Ctrl-C that a library swallowed (some catch ``BaseException`` while importing) would otherwise let an
    interrupted training run on and install its style (:func:`backend.cli.main.interrupted`).

    Raises:
        KeyboardInterrupt: the process got a SIGINT since the command started.
    """
    from backend.cli.main import interrupted

    if interrupted():
        raise KeyboardInterrupt


def keep_replaced(directory: str | Path, name: str) -> Path | None:
    """Copy the installed pair of style ``name`` to ``directory/replaced/NAME@N.*`` before it is replaced.

    N is the installed metadata's model version (``unknown`` where it cannot be read); where that name is taken
    by another pair (a version number used twice: a style deleted, then trained again), ``NAME@N-2``,
    ``NAME@N-3``, ... Each file is copied atomically, the weights first; a pair kept before with the same bytes
    (an installation retried) is not copied again.

    Returns:
        The kept weights file (``NAME@N.safetensors``, present where the installed weights were), or ``None``:
        nothing was installed under that name.

    Raises:
        PermissionDeniedError: the copy cannot be written (nothing is replaced then).
    """
    d = Path(directory)
    pair = [d / f"{name}.safetensors", d / f"{name}.json"]
    present = [p for p in pair if p.is_file()]
    if not present:
        return None
    try:
        version: object = int(read_metadata(pair[1])["model_version"])
    except (AutoretouchError, KeyError, OSError, TypeError, ValueError):
        version = "unknown"
    kept = d / REPLACED_DIR
    for n in range(1, 10_000):
        stem = f"{name}@{version}" if n == 1 else f"{name}@{version}-{n}"
        copies = {p: kept / f"{stem}{p.suffix}" for p in present}
        if all(c.is_file() and filecmp.cmp(p, c, shallow=False) for p, c in copies.items()):
            return kept / f"{stem}.safetensors"
        if not any(c.exists() or c.is_symlink() for c in (kept / f"{stem}.safetensors", kept / f"{stem}.json")):
            break
    try:
        kept.mkdir(exist_ok=True)
        for src, dst in copies.items():
            write_with(dst, functools.partial(shutil.copyfile, src))
    except PermissionError as exc:
        raise PermissionDeniedError(f"{kept}: cannot keep the style being replaced ({exc.strerror})") from None
    return kept / f"{stem}.safetensors"


def install_style(style: Style, directory: str | Path) -> Path:
    """Install ``style`` into the style folder ``directory``, keeping the pair it replaces (:func:`keep_replaced`).

    Returns:
        The installed weights file.

    Raises:
        KeyboardInterrupt: the command got a Ctrl-C (:func:`refuse_if_interrupted`): nothing is installed.
        PermissionDeniedError: the folder cannot be written.
    """
    refuse_if_interrupted()
    keep_replaced(directory, style.name)
    return save_style(style, directory)
