"""What a training run returns, the version number a newly installed style gets, and installing it.

Shared by every training method (:mod:`trainer.train`: GAN + RL; :mod:`trainer.restore`: restoration;
:mod:`trainer.imitation`: slider histories), so none of them imports another for it.
"""

from __future__ import annotations

import errno
import filecmp
import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from backend.agent.network import AgentNet
from backend.agent.style import Style, read_metadata, save_style
from backend.errors import AutoretouchError, OutputError, PermissionDeniedError
from backend.fsio import fsync_folder, replacing, write_failure
from trainer.data.folders import MIN_PHOTO_SIDE, unread_subfolders_note
from trainer.summary_lines import counted

__all__ = [
    "REPLACED_DIR",
    "Installed",
    "ReplacedNotKeptError",
    "TrainResult",
    "install_keeping",
    "install_style",
    "keep_replaced",
    "left_out_notes",
    "next_model_version",
    "paired_left_out_notes",
    "refuse_if_interrupted",
    "summary_left_out_notes",
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
        kept_path: the copy kept of the style that installing replaced (:attr:`Installed.kept`), if any; the
            restoration sets it, the GAN run (:mod:`trainer.train`) does not yet.
        metrics: the final evaluation numbers (rank 0).
        net: the trained agent.
        rejected: why the style was not installed (worse than doing nothing, degenerate moves), or ``None``.
        notes: what the command's summary should say besides (photos left out as duplicates, too small or
            unreadable). They name the photos as they are (``--json``, the training record); the printed summary
            escapes their control characters (:func:`trainer.summary_lines.note_lines`).
    """

    run_dir: Path
    step: int
    stopped_by: str
    style_path: Path | None
    installed_path: Path | None
    kept_path: Path | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    net: AgentNet | None = None
    rejected: str | None = None
    notes: list[str] = field(default_factory=list)


def left_out_notes(
    duplicate_targets: Sequence[str],
    duplicate_sources: Sequence[str] = (),
    too_small: Sequence[str] = (),
    unreadable_targets: Sequence[str] = (),
    unreadable_sources: Sequence[str] = (),
) -> list[str]:
    """The summary's notes (:attr:`TrainResult.notes`) on the photos a run left out; none when it left out none.

    Args:
        duplicate_targets: the favourites left out as duplicates (``"NAME (the same bytes as OTHER)"``).
        duplicate_sources: the same for the sources.
        too_small: the favourites too small to learn from (``"NAME (WxH)"``).
        unreadable_targets: the favourites that could not be decoded (``"NAME (why)"``).
        unreadable_sources: the same for the sources.
    """
    notes = []
    if unreadable_targets:
        notes.append(
            f"{counted(len(unreadable_targets), 'favourite')} could not be read, left out: "
            + ", ".join(unreadable_targets)
        )
    if unreadable_sources:
        notes.append(
            f"{counted(len(unreadable_sources), 'source')} could not be read, left out: "
            + ", ".join(unreadable_sources)
        )
    if duplicate_targets:
        notes.append(
            f"{counted(len(duplicate_targets), 'duplicate favourite')} left out: " + ", ".join(duplicate_targets)
        )
    if duplicate_sources:
        notes.append(f"{counted(len(duplicate_sources), 'duplicate source')} left out: " + ", ".join(duplicate_sources))
    if too_small:
        notes.append(
            f"{counted(len(too_small), 'favourite')} too small to learn from (under {MIN_PHOTO_SIDE} pixels a side) "
            "left out: " + ", ".join(too_small)
        )
    return notes


def summary_left_out_notes(summary: Mapping[str, Any]) -> list[str]:
    """:func:`left_out_notes` of a data summary's lists of the photos left out.

    The keys are ``duplicate_targets_dropped``, ``duplicate_sources_dropped``, ``too_small_targets_skipped``,
    ``unreadable_targets_skipped`` and ``unreadable_sources_skipped``. The GAN's and the restoration's data summaries
    name the photos they left out under the same keys (each only where it left some out), and under
    ``subfolders_not_read`` the subfolders with photos of the folders given, which training does not read (one
    more note: :func:`trainer.data.folders.unread_subfolders_note`).
    """
    notes = left_out_notes(
        summary.get("duplicate_targets_dropped", []),
        summary.get("duplicate_sources_dropped", []),
        summary.get("too_small_targets_skipped", []),
        summary.get("unreadable_targets_skipped", []),
        summary.get("unreadable_sources_skipped", []),
    )
    unread = unread_subfolders_note(summary.get("subfolders_not_read", []))
    return notes if unread is None else [*notes, unread]


#: What a run from the photographer's own edits calls its examples in the notes, by its summary's
#: ``learned_from``: (one, several, what went wrong with those left out as unreadable).
_PAIRED_NOUNS: dict[str, tuple[str, str, str]] = {
    "pairs": ("before/after pair", "before/after pairs", "could not be read"),
    "lightroom catalog": ("favourite of the catalog", "favourites of the catalog", "could not be found or read"),
    "lightroom edits": ("photo", "photos", "could not be read"),
    "darktable sidecars": ("photo edited in darktable", "photos edited in darktable", "could not be read"),
}


def paired_left_out_notes(
    learned_from: str,
    unreadable: Sequence[str] = (),
    unmatched: Sequence[str] = (),
    duplicates: Sequence[str] = (),
    ambiguous: Sequence[str] = (),
) -> list[str]:
    """The notes on the examples a run from the photographer's own edits left out; none when it left out none.

    Worded as :func:`left_out_notes`; the reasons are free text, so the names are separated by ``"; "``.

    Args:
        learned_from: the summary's ``learned_from``: ``"pairs"``, ``"lightroom catalog"``, ``"lightroom edits"``
            or ``"darktable sidecars"``.
        unreadable: the pairs left out because a file of theirs could not be found or decoded (``"NAME (why)"``).
        unmatched: the photos of ``--pairs`` without a partner of the same name (``"FILE (why)"``).
        duplicates: the pairs left out as duplicates of another (``"NAME (the same original and edit as OTHER)"``).
        ambiguous: the names of ``--pairs`` left out because which photo is meant is unclear (``"NAME (FILE / FILE
            in FOLDER)"``: two raws, a JPEG and a TIFF export of one edit).
    """
    one, several, why = _PAIRED_NOUNS.get(learned_from, ("photo", "photos", "could not be read"))
    notes = []
    if unreadable:
        notes.append(f"{counted(len(unreadable), one, several)} {why}, left out: " + "; ".join(unreadable))
    if unmatched:
        notes.append(
            f"{counted(len(unmatched), 'photo')} without a partner of the same name in the other folder, left out: "
            + "; ".join(unmatched)
        )
    if duplicates:
        notes.append(
            f"{counted(len(duplicates), 'duplicate ' + one, 'duplicate ' + several)} left out: " + ", ".join(duplicates)
        )
    if ambiguous:
        notes.append(
            f"{counted(len(ambiguous), 'name')} left out, which photo is meant is unclear: " + "; ".join(ambiguous)
        )
    return notes


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


class ReplacedNotKeptError(OutputError):
    """The style a training replaces could not be kept, so the trained style was not installed (nothing was replaced).

    Why: ``replaced`` is a file, the disk is full, the file system is read-only, every name is taken. The message
    says which, and where the trained style stays (its run folder's ``style/``); a permission refusal is
    :class:`PermissionDeniedError` with the same message.
    """


#: Most names :func:`keep_replaced` tries for one version (``NAME@N``, ``NAME@N-2``, ... ``NAME@N-9999``).
_MAX_KEPT_NAMES = 9_999


def _kept_stem(kept: Path, name: str, version: object, present: list[Path]) -> tuple[str, list[Path]]:
    """The name in ``kept`` for the installed files ``present`` (the .json first), and those of them to copy there.

    A name whose every file is byte-identical to ours (an installation retried, or one killed half-way: the half
    kept is completed) is used again, copying only what is missing. A name holding anything else is taken and
    skipped, alone or paired, weights or .json: each copy is atomic and a pair's .json goes first, so a file that
    differs (even weights without their .json) is an earlier kept style, never a half-finished copy of this one,
    and ``replaced/`` is never pruned; nor is our .json put beside weights that are not ours.

    Raises:
        OSError: every name up to ``NAME@N-9999`` is taken (``EEXIST``).
    """
    for n in range(1, _MAX_KEPT_NAMES + 1):
        stem = f"{name}@{version}" if n == 1 else f"{name}@{version}-{n}"
        targets = {suffix: kept / f"{stem}{suffix}" for suffix in (".json", ".safetensors")}
        taken = {s: t for s, t in targets.items() if t.exists() or t.is_symlink()}
        sources = {p.suffix: p for p in present}
        if not taken:
            return stem, present
        if all(
            s in sources and not t.is_symlink() and t.is_file() and filecmp.cmp(sources[s], t, shallow=False)
            for s, t in taken.items()
        ):
            return stem, [p for p in present if p.suffix not in taken]
    raise OSError(errno.EEXIST, f"{name}@{version} to {name}@{version}-{_MAX_KEPT_NAMES} are all taken")


def _stays_in(trained_in: str | Path | None) -> str:
    """Where the trained style stays when installing it is refused: ``RUN/style/``."""
    return f"{trained_in}{os.sep}" if trained_in is not None else f"the run folder's style{os.sep} subfolder"


def _not_kept(kept: Path, exc: OSError, trained_in: str | Path | None, copying: Path | None) -> AutoretouchError:
    """The typed error for ``exc`` raised while keeping a copy in ``kept`` (``copying``: the copy being written)."""
    if kept.exists() and not kept.is_dir():
        reason = f"it is not a folder (move it away, or rename it); {exc.strerror or exc}"
    elif copying is not None:  # the OS names the source and the temporary file: name the copy instead
        reason = f"{copying}: {write_failure(exc)}"
    else:
        reason = write_failure(exc) if exc.filename is None else f"{exc.filename}: {write_failure(exc)}"
    where = _stays_in(trained_in)
    message = (
        f"cannot keep a copy of the style being replaced ({reason}); the trained style was not installed "
        f"and nothing was replaced: it stays in {where}"
    )
    if isinstance(exc, PermissionError):
        return PermissionDeniedError(f"{kept}: {message}")
    return ReplacedNotKeptError(kept, message)


def keep_replaced(directory: str | Path, name: str, *, trained_in: str | Path | None = None) -> Path | None:
    """Copy the installed pair of style ``name`` to ``directory/replaced/NAME@N.*`` before it is replaced.

    N is the installed metadata's model version (``unknown`` where it cannot be read); where that name is taken
    by another pair (a version number used twice: a style deleted, then trained again), ``NAME@N-2``,
    ``NAME@N-3``, ... up to ``NAME@N-9999`` (past that nothing is overwritten: refused). Each file is copied
    atomically with its own permission bits, the .json first; the copies are flushed to disk (the folder's entries
    too) before this returns, so the swap that follows never loses the replaced style. A pair kept before with the
    same bytes (an installation retried) is not copied again; one half kept (a copy killed half-way) is completed.

    Args:
        directory: the style folder.
        name: the style name.
        trained_in: where the trained style stays when this refuses (named in the error).

    Returns:
        The kept weights file (``NAME@N.safetensors``), or its ``.json`` where only that was installed; ``None``:
        nothing was installed under that name.

    Raises:
        ReplacedNotKeptError: the copy cannot be written (``replaced`` is a file, no space left, a read-only file
            system, every name taken): nothing is replaced then.
        PermissionDeniedError: the same, refused for permission.
    """
    d = Path(directory)
    pair = [d / f"{name}.json", d / f"{name}.safetensors"]
    present = [p for p in pair if p.is_file()]
    if not present:
        return None
    try:
        version: object = int(read_metadata(pair[0])["model_version"])
    except (AutoretouchError, KeyError, OSError, TypeError, ValueError):
        version = "unknown"
    kept = d / REPLACED_DIR
    copying = None
    try:
        stem, to_copy = _kept_stem(kept, name, version, present)
        if to_copy:
            if not kept.is_dir():
                kept.mkdir()
                fsync_folder(d)
            for src in to_copy:
                copying = kept / f"{stem}{src.suffix}"
                with replacing(copying, mode=stat.S_IMODE(src.stat().st_mode)) as tmp:
                    shutil.copyfile(src, tmp)
            copying = None
            fsync_folder(kept)
    except OSError as exc:
        raise _not_kept(kept, exc, trained_in, copying) from None
    return kept / f"{stem}{present[-1].suffix}"


class Installed(NamedTuple):
    """Where :func:`install_keeping` installed a style, and the copy it kept of the style it replaced.

    Attributes:
        path: the installed weights file.
        kept: the kept copy of the replaced style (:func:`keep_replaced`'s return: its weights file, or its
            ``.json`` where only that was installed), or ``None``: it replaced none.
    """

    path: Path
    kept: Path | None


def install_keeping(style: Style, directory: str | Path, *, trained_in: str | Path | None = None) -> Installed:
    """Install ``style`` into the style folder ``directory``, keeping the pair it replaces (:func:`keep_replaced`).

    Args:
        style: the trained style.
        directory: the style folder.
        trained_in: the folder the style was saved to in its run folder (``RUN/style``), named where installing
            is refused.

    Returns:
        The installed weights file and the kept copy of the style it replaced (the summary names it).

    Raises:
        KeyboardInterrupt: the command got a Ctrl-C (:func:`refuse_if_interrupted`): nothing is installed.
        ReplacedNotKeptError: the replaced style could not be kept (:func:`keep_replaced`): nothing is installed.
        OutputError: the style cannot be written into the folder (no space left, file too large, ...): the
            installed pair is left as it was (:func:`save_style` replaces both or neither), and the message says
            so and where the trained style stays; in the rare case that only the weights were replaced (the
            .json's move failed) it says where the kept copy of the replaced pair is.
        PermissionDeniedError: the folder cannot be written.
    """
    refuse_if_interrupted()
    kept = keep_replaced(directory, style.name, trained_in=trained_in)
    weights = Path(directory) / f"{style.name}.safetensors"
    before = _identity(weights)
    try:
        return Installed(save_style(style, directory), kept)
    except (OutputError, PermissionDeniedError) as exc:
        raise _not_installed(exc, weights, kept, trained_in, mixed=_identity(weights) != before) from None


def _identity(path: Path) -> tuple[int, int, int] | None:
    """Which file ``path`` is (device, inode, modification time), or None where there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns


def _not_installed(
    exc: OutputError | PermissionDeniedError,
    weights: Path,
    kept: Path | None,
    trained_in: str | Path | None,
    *,
    mixed: bool,
) -> AutoretouchError:
    """``exc`` (:func:`save_style` could not write into the style folder), with what it means for the user.

    ``mixed``: the installed weights were replaced (the .json was not); else the installed pair is as it was.
    """
    name = weights.stem
    message = f"the trained style was not installed: it stays in {_stays_in(trained_in)}"
    if not mixed:
        message += "; nothing was replaced" if kept is None else f"; the installed {name} was left as it was"
    elif kept is not None:
        old = kept.with_suffix("")
        message += f"; the replaced {name} is kept as {old}.* (copy them back as {name}.safetensors and {name}.json)"
    else:
        message += f"; remove {weights}, which has no .json"
    if isinstance(exc, OutputError):
        return OutputError(exc.path, f"{exc.reason}; {message}")
    return PermissionDeniedError(f"{exc}; {message}")


def install_style(style: Style, directory: str | Path, *, trained_in: str | Path | None = None) -> Path:
    """:func:`install_keeping`'s installed weights file alone, for a caller that does not name the kept copy.

    Raises:
        KeyboardInterrupt: the command got a Ctrl-C (:func:`refuse_if_interrupted`): nothing is installed.
        ReplacedNotKeptError: the replaced style could not be kept (:func:`keep_replaced`): nothing is installed.
        PermissionDeniedError: the folder cannot be written.
    """
    return install_keeping(style, directory, trained_in=trained_in).path
