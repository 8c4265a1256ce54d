"""Edits whose frame is not their original's: those turned back onto it, and why a poor fit's frames differ.

Used by the pair loaders of :mod:`trainer.restore_pairs` and :mod:`trainer.darktable_pairs`: an edit that is its
original rotated by 90, 180 or 270 degrees (:mod:`trainer.data.rotation`) is turned back before it is fitted
(:func:`_turn_back`) and named in the run's summary (:func:`_record_turns`); a poorly fitted pair whose edit
has another aspect ratio than its original is said to be squeezed (:func:`_frame_text`). Edits that show a part of
their original (a crop) are found as the pairs are loaded (:func:`trainer.data.cropped_edits.cut_to_edit`) and
named by :func:`trainer.pairing_notes._record_crops`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

from trainer.config import TrainConfig
from trainer.data.pairs import Pair, PairedViews
from trainer.data.rotation import frame_turns, undo_turn
from trainer.pair_data import views_of
from trainer.pairing_notes import _kept_indices
from trainer.summary_lines import counted

log = logging.getLogger(__name__)


#: Long side (pixels) the photos of a poorly fitted pair are decoded at to compare their frames.
_FRAME_PROBE_SIDE = 32


def _decoded(path: Path, long_side: int) -> Tensor | None:
    """``(1, 3, H, W)`` linear Rec.2020 of a photo decoded at ``long_side``, or ``None`` when it cannot be."""
    from backend.decode import decode_preview
    from backend.errors import DecodeError, NotFoundError

    try:
        return decode_preview(path, long_side=long_side).image.float()
    except (DecodeError, NotFoundError):
        return None


def _decoded_size(path: Path) -> tuple[int, int] | None:
    """A photo's full ``(height, width)`` in pixels, orientation applied, or ``None`` when it cannot be decoded."""
    from backend.decode import decode_preview
    from backend.errors import DecodeError, NotFoundError

    try:
        decoded = decode_preview(path, long_side=_FRAME_PROBE_SIDE)
    except (DecodeError, NotFoundError):
        return None
    return int(decoded.full_height), int(decoded.full_width)


def _frame_text(original: Path, edit_size: tuple[int, int] | None, turn: str | None) -> str | None:
    """Why a poorly fitted pair's frames disagree (``"its frame (WxH) is not the original's (WxH)"``), or ``None``.

    Args:
        original: the original's file.
        edit_size: the edit's ``(height, width)`` in pixels as decoded (``None``: unknown).
        turn: what the edit was turned back by (:data:`trainer.data.rotation.TURNS`), or ``None``.

    Returns:
        ``None`` when the aspect ratios agree within 1 % (or a size is unknown): the edit shows the original's frame.
    """
    size = _decoded_size(original)
    if size is None or edit_size is None:
        return None
    (oh, ow), (eh, ew) = size, edit_size
    if turn is not None and "90" in turn:
        eh, ew = ew, eh
    if abs((ew / eh) / (ow / oh) - 1.0) <= 0.01:
        return None
    back = ", turned back" if turn is not None else ""
    return f"its frame ({ew}x{eh}{back}) is not the original's ({ow}x{oh}), so it was squeezed onto it"


def _turn_back(
    cfg: TrainConfig, pairs: Sequence[Pair], views: PairedViews, edit_of: Callable[[int], Tensor | None]
) -> tuple[PairedViews, dict[str, str]]:
    """Turn back the edits that are their original rotated (:func:`trainer.data.rotation.frame_turns`).

    The turn of each pair is found on its whole-frame views; a turned edit is fetched again (``edit_of``), turned
    back and cut into the same views as its original (:func:`load_paired_views` with the pair's own seed, so the
    original's views stay as they were, unless the edit turned back shows only a part of the original: its views
    are then cut from that part, :attr:`PairedViews.cropped`). Pairs that are not turned keep their views as they
    are.

    Args:
        cfg: the configuration (``data.*``, ``agent.thumb``, ``run.seed``).
        pairs: the pairs given to :func:`load_paired_views` (pair ``i`` was cut with seed ``run.seed + i``).
        views: what it made of them.
        edit_of: pair index in ``pairs`` -> its edit, ``(1, 3, H, W)`` linear Rec.2020 as first decoded (``None``:
            it cannot be had again; the pair is then left as it is).

    Returns:
        ``(views, {pair name: what was done to its original (a key of TURNS)})``.
    """
    from backend.errors import NotFoundError

    found = frame_turns(views.before_evals, views.after_evals)
    if all(t.turn is None for t in found):
        return views, {}
    index = _kept_indices(pairs, views)
    after_crops, after_evals = views.after_crops.clone(), views.after_evals.clone()
    before_crops, before_evals, cropped = views.before_crops, views.before_evals, list(views.cropped)
    turned: dict[str, str] = {}
    for j, (pair, t) in enumerate(zip(views.pairs, found, strict=True)):
        i = index[j]
        edit = None if t.turn is None or i is None else edit_of(i)
        if t.turn is None or i is None or edit is None:
            continue
        try:
            redo = views_of(cfg, [pair], seed_offset=i, after_images=[undo_turn(edit, t.turn)])
        except NotFoundError:  # the original is gone since: the pair stays as it was
            continue
        after_crops[j], after_evals[j] = redo.after_crops[0], redo.after_evals[0]
        if redo.cropped and redo.cropped[0] is not None:  # turned and cropped: the original cut to the edit's part
            if before_crops is views.before_crops:
                before_crops, before_evals = before_crops.clone(), before_evals.clone()
            before_crops[j], before_evals[j] = redo.before_crops[0], redo.before_evals[0]
            if len(cropped) == len(views.pairs):
                cropped[j] = redo.cropped[0]
        turned[pair.name] = t.turn
        log.warning(
            "%s: the edit is the original %s (structure correlation %.2f, %.2f as it is); turned back onto the "
            "original's frame before fitting",
            pair.name,
            t.turn,
            t.correlation,
            t.unturned,
        )
    redone = dataclasses.replace(
        views,
        before_crops=before_crops,
        before_evals=before_evals,
        after_crops=after_crops,
        after_evals=after_evals,
        cropped=tuple(cropped),
    )
    return redone, turned


def _record_turns(source: dict[str, Any], turned: Mapping[str, str]) -> None:
    """Name the edits turned back in ``source`` (``frames_turned_back`` and a note); unchanged when there are none."""
    if not turned:
        return
    source["frames_turned_back"] = dict(turned)
    shown = ", ".join(f"{name} ({turn})" for name, turn in list(turned.items())[:8])
    more = f" and {len(turned) - 8} more" if len(turned) > 8 else ""
    source["notes"] = [
        *source.get("notes", []),
        f"{counted(len(turned), 'edit')} turned back onto the original's frame before fitting (the edit was the "
        f"original turned): {shown}{more}",
    ]
