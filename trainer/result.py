"""What a training run returns, and the version number a newly installed style gets.

Shared by every training method (:mod:`trainer.train`: GAN + RL; :mod:`trainer.restore`: restoration;
:mod:`trainer.imitation`: slider histories), so none of them imports another for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from backend.agent.network import AgentNet
from backend.agent.style import read_metadata
from backend.errors import AutoretouchError

__all__ = ["TrainResult", "next_model_version", "refuse_if_interrupted"]


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
