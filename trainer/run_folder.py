"""Which run folder ``train`` uses when none is given: ``runs/NAME``, then ``runs/NAME-2``, ``runs/NAME-3``, ...

A style's runs without ``--run-dir`` form a series: ``runs/NAME`` first, and each retraining after a finished run
(one that saved a style, ``style/*.safetensors``) in the next free ``runs/NAME-N``, so that "I added edits,
retrain" works without deleting anything and every earlier run keeps its own files. The style's **newest** run
folder is the highest-numbered one of the series whose ``config.toml`` names the style (a folder ``runs/NAME-2``
of a style called ``NAME-2`` is not part of ``NAME``'s series, and is never used for it; ``train --darktable``
writes a ``config.toml`` naming its style as soon as it has linked its selection there, so that no other style
takes the folder should the run fail before writing its configuration). ``runs/NAME`` itself is the first run of
the series only where its ``config.toml`` names the style, or where it holds nothing to lose (nothing, hidden
files, or only the ``selection/`` links of a ``train --darktable`` run that failed before writing its
configuration): ``runs/g-2`` may be the second run of a style ``g``, and then a style called ``g-2`` starts its
series in the first free ``runs/g-2-N`` (N >= 2) instead, never using, resuming or overwriting ``g``'s run (a
folder without a ``config.toml`` that holds anything else, or whose ``config.toml`` cannot be read, is nobody's
and never used).

A new run goes to that newest folder while it holds no finished run and no other training holds it
(:mod:`trainer.run_lock`; an unfinished GAN run there is refused with "use --resume"), else to the first
``runs/NAME-N`` above it that does not exist; ``--resume`` continues the newest one. An explicit ``--run-dir`` is
used as given (a folder that holds a trained style is refused then: the user chose it). ``--runs-dir RUNS``
(exclusive with ``--run-dir``) puts the series, and the folder ``--resume`` continues, in ``RUNS`` instead of
:data:`RUNS_DIR` (the darktable plug-in keeps it in darktable's cache folder).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from pathlib import Path

from trainer.config import ConfigError

__all__ = ["RUNS_DIR", "default_run_dir", "holds_trained_style", "refuse_trained_run_dir"]

#: The folder that holds the default run folders (relative to the working directory; ``train --runs-dir`` names another).
RUNS_DIR = Path("runs")

#: How many run folders of one style the series looks at before refusing (far more than anyone keeps).
MAX_RUNS = 9999


def holds_trained_style(run: Path) -> bool:
    """Whether the run folder ``run`` holds a finished run: a trained style (``run/style/*.safetensors``).

    Args:
        run: the run folder.

    Returns:
        True where a style was saved there (installed or not).
    """
    style = run / "style"
    try:
        return style.is_dir() and any(style.glob("*.safetensors"))
    except OSError:
        return False


def refuse_trained_run_dir(run: Path) -> None:
    """Refuse a run folder that already holds a trained style (an earlier run's files are never overwritten).

    Args:
        run: the run folder.

    Raises:
        ConfigError: ``run`` holds a trained style (exit status 3).
    """
    if holds_trained_style(run):
        raise ConfigError(f"{run}: the run folder already holds a trained style; use another --run-dir")


def _names_style(run: Path, style: str) -> bool:
    """Whether the run folder's ``config.toml`` was written for style ``style`` (False where it cannot be read)."""
    try:
        with (run / "config.toml").open("rb") as f:
            return bool(tomllib.load(f).get("run", {}).get("style") == style)
    except (OSError, ValueError, AttributeError):
        return False


#: What a run folder may hold and still have nothing to lose: the links ``train --darktable`` makes before the run
#: writes its ``config.toml`` (a run that failed or was interrupted in between leaves only them) and hidden files
#: (a file manager's ``.DS_Store``).
_DISPOSABLE = frozenset({"selection"})


def _nothing_to_lose(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but :data:`_DISPOSABLE` entries and hidden files (or nothing at all).

    Such a folder ``runs/NAME`` (made by hand, or left by a run of older code that failed before its
    ``config.toml``) is style NAME's first run. A ``runs/NAME-N`` counts only where its ``config.toml`` names the
    style: it may be another style's first run folder (``runs/g-2``), and taking one that holds nothing yet could
    put two runs in one folder.
    """
    try:
        return all(entry.name in _DISPOSABLE or entry.name.startswith(".") for entry in folder.iterdir())
    except OSError:
        return False


def _base_is_ours(base: Path, style: str) -> bool:
    """Whether ``base`` (``runs/NAME``, an existing folder) is the first run of style ``style``'s series.

    It is where its ``config.toml`` names the style, or where it holds nothing to lose (:func:`_nothing_to_lose`: an
    empty folder made by hand, the links of a run that failed before writing its configuration, hidden files).
    A ``config.toml`` naming another style (``runs/g-2``: the second run of style ``g``), or one that cannot be read,
    or a folder that holds files but no ``config.toml``, belongs to someone else: never used or resumed for ``style``.

    Args:
        base: the folder ``runs/NAME``.
        style: the style name ``NAME``.

    Returns:
        True where ``style``'s runs may use ``base``.
    """
    config = base / "config.toml"
    if config.exists() or config.is_symlink():
        return _names_style(base, style)
    return _nothing_to_lose(base)


def _series(style: str, runs: Path) -> list[tuple[int, Path]]:
    """The style's existing run folders under ``runs``, ``(number, folder)`` by number (``runs/NAME`` is 1).

    ``runs/NAME`` is left out where it is not the style's (:func:`_base_is_ours`).
    """
    found: list[tuple[int, Path]] = []
    base = runs / style
    if base.is_dir() and _base_is_ours(base, style):
        found.append((1, base))
    pattern = re.compile(re.escape(style) + r"-([2-9]|[1-9][0-9]{1,3})")
    try:
        children = list(runs.iterdir()) if runs.is_dir() else []
    except OSError:
        children = []
    for child in children:
        m = pattern.fullmatch(child.name)
        if m is not None and child.is_dir() and _names_style(child, style):
            found.append((int(m.group(1)), child))
    return sorted(found)


def default_run_dir(style: str, *, resume: bool = False, runs: Path = RUNS_DIR, in_use: Collection[Path] = ()) -> Path:
    """The run folder of a ``train`` run of style ``style`` that names none (see the module docstring).

    Args:
        style: the style name (a valid one: no path separators).
        resume: the run continues the newest run (``--resume``): that folder, whatever it holds.
        runs: the folder of run folders (``train --runs-dir``; by default :data:`RUNS_DIR`).
        in_use: run folders another training holds (:mod:`trainer.run_lock`): a new run does not go to the newest
            one while it is among them, but to the first free ``runs/NAME-N`` above it.

    Returns:
        ``runs/NAME`` for the first run (the first free ``runs/NAME-N`` where ``runs/NAME`` is another style's
        folder), the newest run folder while it holds no finished run and is not in use, or with ``resume``, else
        the first free ``runs/NAME-N`` above the newest.

    Raises:
        ConfigError: every ``runs/NAME-N`` up to ``MAX_RUNS`` is taken (nothing is overwritten).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     default_run_dir("mine", runs=Path(d)).name
        'mine'
    """
    series = _series(style, runs)
    base = runs / style
    if not series and not base.exists() and not base.is_symlink():
        return base
    if series:
        number, newest = series[-1]
        if resume or (newest not in in_use and not holds_trained_style(newest)):
            return newest
    else:  # runs/NAME is another style's run (or nobody's): the series starts in the first free runs/NAME-N
        number = 1
    for n in range(number + 1, MAX_RUNS + 1):
        candidate = runs / f"{style}-{n}"
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
    raise ConfigError(
        f"{runs / style}-{MAX_RUNS}: every run folder of style {style!r} is taken; give --run-dir or delete old runs"
    )
