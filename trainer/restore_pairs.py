"""Training data from the photographer's own before/after pairs (``autoretouch train --pairs BEFORE AFTER``).

The restoration trainer (:mod:`trainer.restore`) learns from (input, wanted result) pairs through the
differentiable renderer. Without pairs it makes them by un-editing favourites; with ``--pairs`` it has real
ones: an original and the photographer's own edit of it. This module builds that pool:

* pairs are matched by file stem (:func:`trainer.data.pairs.match_pairs`) and cut into aligned views
  (:func:`trainer.data.pairs.load_paired_views`); files without a partner, names whose photo is unclear (two raws,
  a JPEG and a TIFF export of one edit) and pairs with a file that cannot be decoded are left out, logged and named
  in the run's summary (``unmatched_photos_skipped``, ``ambiguous_pairs_skipped``, ``unreadable_pairs_skipped``
  and the command's notes; so are a catalog's and darktable's photos that cannot be found or read,
  :func:`_record_left_out`); the choices the matching made (a raw paired rather than the camera's JPEG beside it,
  names that differ in case, the camera's JPEG used where that raw cannot be decoded) are named too
  (``pairing_choices`` and a note, :func:`_record_pairing_choices`, :func:`_choices_as_made`);
* every pair's recipe is **fitted** through the renderer (:func:`trainer.pseudo_labels.fit_recipes`, on
  ``restore.fit_size`` thumbnails, the agent's sliders). The fit says how well our sliders can express that
  edit: a pair fitted worse than ``restore.poor_fit_db`` (a crop, a local brush, another raw converter) is
  reported (saying so where its edit's frame is not the original's) and its weight in the loss shrinks by 0.1 per
  dB below the threshold (never below 0.1); when no pair fits well the summary says so (the style is still
  judged by the check, which scores against the edits themselves). With ``--minutes`` the fit takes at most
  :data:`_FIT_SHARE` of the time left after decoding (:func:`fit_pairs`); fits cut short are named in the summary;
* an edit that is its original rotated by 90, 180 or 270 degrees (``--pairs`` and darktable's
  renders; :mod:`trainer.data.rotation`) is turned back onto the original's frame before it is fitted, and named
  in the log and the summary (``frames_turned_back``);
* training views: each training pair gives ``restore.pool_per_target`` aligned views; on a share
  ``restore.pair_jitter`` of them the original is first rendered with a small zero-centred camera change
  (:func:`trainer.data.unedit.jitter_settings`) while the edit stays the target, so the agent has to read
  exposure and white balance off each photo; ``restore.self_share`` adds views made as without pairs (an
  un-edited edit, restored to the edit);
* the check (:func:`crossfit_check`): with ``restore.check_folds`` >= 2 (and at least twice as many pairs),
  the recipe is first scored **cross-fitted**: the pairs are split into that many groups, an agent is trained
  on all but one group (``restore.check_share`` of the run's time, shared by the groups) and scored on the
  group it did not see, so every pair is scored once by an agent that never saw it. The style itself is then
  trained on every pair (the rest of the time; its last weights) and installed only if the cross-fitted score
  beats doing nothing. Otherwise ``restore.val_fraction`` of the pairs is held out, selects the checkpoint and
  decides. (Holding out a fifth of 16 pairs measured worse: the 3 held-out photos decide too noisily, and the
  style loses them as training data.);
* the fitted recipes of all pairs and a look descriptor of each original are kept as the style's
  **examples**: the "nearest edits" baseline (:func:`backend.agent.nearest.nearest_recipe`) that ``autoretouch
  eval`` reports beside the learned style, and the recipe that the style's suggestions mix with its agent's
  (:func:`backend.agent.nearest.mix_recipe`: by default, slider by slider, the weighted median of all the
  pairs' recipes, ``restore.mix_k`` and ``restore.mix_centre``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from backend.agent.look import EXAMPLES_DESCRIPTOR, example_features
from backend.agent.nearest import mix_recipe
from backend.agent.network import AgentNet
from backend.agent.rollout import rollout
from backend.agent.thumbnail import make_thumbnail
from backend.fsio import file_sha256
from backend.recipe import Recipe, blend, render_recipe
from trainer.config import ConfigError, RestoreConfig, TrainConfig
from trainer.darktable_pairs import _darktable_histories as _darktable_histories  # re-exported (tests)
from trainer.darktable_pairs import load_darktable_pair_set
from trainer.data.dataset import cache_size_of
from trainer.data.folders import decode_long_side
from trainer.data.pairs import Pair, PairedViews, PairMatch, load_paired_views, match_pairs
from trainer.data.rotation import frame_turns, undo_turn
from trainer.data.unedit import jitter_settings
from trainer.distributed import DistInfo
from trainer.metrics import pooled_psnr, psnr
from trainer.pseudo_labels import FitResult, fit_recipes
from trainer.restore_core import (
    RestoreData,
    UneditSampler,
    new_restore_net,
    optimise,
    restore_images,
    split_held_out,
    unedit_batch,
)
from trainer.restore_fit import look_descriptor
from trainer.result import paired_left_out_notes
from trainer.summary_lines import counted

__all__ = [
    "MAX_EXAMPLES",
    "PairSet",
    "crossfit_check",
    "example_indices",
    "fit_pairs",
    "load_pair_set",
    "pair_weight",
    "paired_data",
    "split_pairs",
]

log = logging.getLogger(__name__)

#: A style keeps at most this many training photos as nearest-edits examples.
MAX_EXAMPLES = 1000
#: Fitted pairs are fitted this many at a time (memory).
_FIT_BATCH = 16
#: With ``--minutes``, the share of the run's time left after decoding that fitting the recipes may take (the rest
#: is the check's and the training's).
_FIT_SHARE = 0.5
#: With ``--minutes``, every pair's fit has at least this many iterations (or ``restore.fit_iters`` if fewer), even
#: where they overrun the fit's deadline: a fit cut to a handful of iterations calls good edits poor, and their
#: recipes, weights and the style's typical edit with them (measured in :func:`fit_pairs`).
_MIN_FIT_ITERS = 30
#: ... but not where that floor would overrun ``--minutes`` by more than this share of the time the run had left
#: when fitting began (or :data:`_FIT_OVERRUN_GRACE_S`, whichever is more): many pairs on a slow machine (1000
#: pairs are 63 batches) then get a lower floor, down to :data:`_LOWEST_FIT_FLOOR` (:func:`fit_floor`).
_FIT_OVERRUN_SHARE = 0.25
#: Seconds the floor may always overrun ``--minutes`` by, however short the run.
_FIT_OVERRUN_GRACE_S = 15.0
#: The floor is never lowered below this many iterations (or ``restore.fit_iters`` if fewer).
_LOWEST_FIT_FLOOR = 10
#: The pairing's messages keep the logger :func:`trainer.data.pairs.find_pairs` gives them.
_PAIRING_LOG = logging.getLogger("trainer.data.pairs")
#: Long side (pixels) the photos of a poorly fitted pair are decoded at to compare their frames.
_FRAME_PROBE_SIDE = 32


def pair_weight(fit_psnr: float, poor_fit_db: float) -> float:
    """Loss weight of a pair whose fitted recipe reproduces the edit at ``fit_psnr`` dB (see the module docstring)."""
    if fit_psnr >= poor_fit_db:
        return 1.0
    return max(0.1, 1.0 - 0.1 * (poor_fit_db - fit_psnr))


def fit_floor(overrun_s: float, batches: int, seconds_per_iter: float | None) -> int:
    """The fewest iterations each pair's fit has past the deadline, so that all of them overrun by ``overrun_s``.

    :data:`_MIN_FIT_ITERS`, lowered where ``batches`` batches of that many iterations at ``seconds_per_iter``
    would take more than ``overrun_s`` seconds, but never below :data:`_LOWEST_FIT_FLOOR` (a fit of fewer
    iterations calls good edits poor).

    Args:
        overrun_s: the seconds the fits may overrun the deadline by, all together.
        batches: the batches of :data:`_FIT_BATCH` pairs fitted one after another.
        seconds_per_iter: the measured time of one iteration of a batch; ``None`` (not measured yet) or ``0``:
            :data:`_MIN_FIT_ITERS`.

    Returns:
        The floor, from :data:`_LOWEST_FIT_FLOOR` to :data:`_MIN_FIT_ITERS`.

    >>> fit_floor(15.0, 63, 0.15), fit_floor(150.0, 63, 0.15), fit_floor(15.0, 2, 0.15), fit_floor(15.0, 63, None)
    (10, 15, 30, 30)
    """
    if not seconds_per_iter or seconds_per_iter <= 0 or batches <= 0:
        return _MIN_FIT_ITERS
    fits = min(float(_MIN_FIT_ITERS), max(overrun_s, 0.0) / (batches * seconds_per_iter))
    return max(_LOWEST_FIT_FLOOR, int(fits))


def fit_pairs(
    views: PairedViews,
    sliders: tuple[str, ...],
    cfg: TrainConfig,
    *,
    deadline: float | None = None,
    overrun_s: float = math.inf,
) -> list[FitResult]:
    """Fit every pair's recipe through the renderer (``restore.fit_size`` thumbnails, ``restore.fit_iters``).

    Args:
        views: the pairs' views (their whole-frame evaluation views are fitted).
        sliders: the sliders fitted.
        cfg: the configuration (``restore.fit_size``, ``restore.fit_iters``).
        deadline: :func:`time.monotonic` time (seconds) by which fitting ends, or ``None`` (every batch gets all
            ``restore.fit_iters`` iterations, deterministic). The pairs are fitted :data:`_FIT_BATCH` at a time,
            and each batch gets an equal share of the time still left; a batch that finishes early leaves its time
            to the others (:func:`trainer.pseudo_labels.fit_recipes`). Every pair has at least
            ``min(restore.fit_iters, _MIN_FIT_ITERS)`` iterations even where that overruns the deadline (on a
            loaded machine with a small ``--minutes``, by about 0.1-0.2 s per iteration and batch of
            :data:`_FIT_BATCH` pairs at ``fit_size`` 64), so that no pair is called a poor fit, and weighed down,
            only because its fit had no time. After the first batch, whose time per iteration is measured, that
            floor is lowered (:func:`fit_floor`) where all the batches' floors would overrun by more than
            ``overrun_s`` seconds.
        overrun_s: the seconds the fits' floors may overrun ``deadline`` by, all together (with a deadline).

    Returns:
        One fit per pair, in order (:attr:`~trainer.pseudo_labels.FitResult.iters`: the iterations it had).
    """
    r = cfg.restore
    before = make_thumbnail(views.before_evals, r.fit_size)
    after = make_thumbnail(views.after_evals, r.fit_size)
    fits: list[FitResult] = []
    starts = list(range(0, before.shape[0], _FIT_BATCH))
    floor = _MIN_FIT_ITERS
    for b, i in enumerate(starts):
        j = min(i + _FIT_BATCH, before.shape[0])
        until = None
        now = time.monotonic()
        if deadline is not None:
            until = now + max(deadline - now, 0.0) / (len(starts) - b)
        batch = fit_recipes(
            before[i:j], after[i:j], [list(sliders)] * (j - i), iters=r.fit_iters, deadline=until, min_iters=floor
        )
        if b == 0 and deadline is not None:  # the first batch's time per iteration sets the others' floor
            floor = fit_floor(overrun_s, len(starts), (time.monotonic() - now) / (batch[0].iters + 1))
        fits += batch
    return fits


def _rounded(value: Any) -> Any:
    return [_rounded(v) for v in value] if isinstance(value, list) else round(float(value), 5)


def _examples(
    views: PairedViews,
    fits: list[FitResult],
    weights: list[float],
    r: RestoreConfig,
    labels: list[Any] | None = None,
    blend: float = 0.0,
) -> dict[str, Any]:
    """A style's ``examples`` metadata: descriptors and recipes, with ``k``, ``mix_k`` and ``mix_centre`` from ``r``."""
    features = example_features(views.before_evals)
    steps = labels if labels is not None else [Recipe.from_settings(f.values).to_dict()["steps"] for f in fits]
    keep = example_indices(len(fits))
    return {
        "descriptor": EXAMPLES_DESCRIPTOR,
        "k": r.nearest_k,
        "mix_k": r.mix_k,
        "mix_centre": r.mix_centre,
        "blend": blend,
        "names": [views.pairs[i].name for i in keep],
        "features": [[round(float(v), 5) for v in features[i]] for i in keep],
        "recipes": [[{"slider": st["slider"], "value": _rounded(st["value"])} for st in steps[i]] for i in keep],
        "fit_psnr": [round(fits[i].psnr_fit, 2) for i in keep],
        "weights": [round(weights[i], 3) for i in keep],
    }


def example_indices(n: int, cap: int = MAX_EXAMPLES) -> list[int]:
    """Which of ``n`` training photos a style keeps as examples: all, or ``cap`` evenly spaced ones.

    The cap keeps a style's metadata well under its 1 MiB limit (an example takes about 0.6 kB).
    """
    if n <= cap:
        return list(range(n))
    return sorted({round(i * (n - 1) / (cap - 1)) for i in range(cap)})


@dataclass
class PairSet:
    """Before/after pairs ready for training: aligned views, fitted recipes, weights (see the module docstring)."""

    views: PairedViews
    fits: list[FitResult]
    weights: list[float]
    poor: list[dict[str, Any]]
    unmatched: int
    source: dict[str, Any]
    fit_seconds: float
    load_seconds: float
    labels: list[dict[str, Any]] | None = None  # the nearest-edits recipes (default: the fitted ones)

    @property
    def names(self) -> list[str]:
        """The pairs' file stems."""
        return [p.name for p in self.views.pairs]


def load_pair_set(
    cfg: TrainConfig,
    before: str | Path,
    after: str | Path,
    sliders: tuple[str, ...],
    *,
    deadline: float | None = None,
) -> PairSet:
    """Match, decode, cut and fit the pairs of two folders.

    An edit that is its original rotated is turned back onto the original's frame before it is fitted
    (:func:`_turn_back`).

    Args:
        cfg: the experiment configuration (``restore.*``, ``data.*``, ``run.seed``).
        before: folder of originals (raws, TIFFs, JPEGs).
        after: folder of the photographer's edits, same file stems.
        sliders: the agent's sliders (the fit uses the same ones).
        deadline: :func:`time.monotonic` time (s) the run ends (``--minutes``), or ``None`` (:func:`_fitted`).

    Raises:
        NotFoundError: a folder is missing or empty, no file has a partner, or no pair can be decoded.
        ConfigError: ``before`` and ``after`` are the same folder.
    """
    if Path(before).resolve() == Path(after).resolve():
        raise ConfigError(f"{before}: the originals and the edits are the same folder; give two folders")
    d, seed = cfg.data, cfg.run.seed
    t0 = time.monotonic()
    match = _matched(before, after)
    unmatched = list(match.unmatched)
    pairs, dropped = _unique_pairs(match.pairs)
    if d.max_images > 0:
        pairs = pairs[: d.max_images]
    csize = cache_size_of(d, cfg.agent.thumb)
    views = load_paired_views(pairs, cache_size=csize, eval_size=d.eval_size, crops=d.crops_per_image, seed=seed)
    for message in views.skipped:
        log.warning("skipping a pair: %s", message)
    source: dict[str, Any] = {"before_dir": str(Path(before).resolve()), "after_dir": str(Path(after).resolve())}
    if dropped:  # only then: the style's metadata is otherwise as before
        source["duplicate_pairs_dropped"] = dropped
    lonely = [_unmatched_text(path, Path(before)) for path in unmatched]
    ambiguous = [_ambiguous_text(why) for why in match.ambiguous]
    if ambiguous:
        source["ambiguous_pairs_skipped"] = ambiguous
    shown = [_ambiguous_text(why, short=True) for why in match.ambiguous]
    _record_left_out(source, "pairs", _unreadable_pairs(pairs, views, short=True), lonely, dropped, shown)
    _record_pairing_choices(source, _choices_as_made(match.notes, pairs, views))
    long_side = decode_long_side(csize, d.eval_size)
    views, turned = _turn_back(cfg, pairs, views, lambda i: _decoded(pairs[i].reference, long_side))
    _record_turns(source, turned)

    def frames(j: int) -> str | None:
        pair = views.pairs[j]
        return _frame_text(pair.input, _decoded_size(pair.reference), turned.get(pair.name))

    return _fitted(cfg, views, sliders, len(unmatched), t0, source, deadline=deadline, frames=frames)


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
    original's views stay as they were). Pairs that are not turned keep their views as they are.

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
    d = cfg.data
    index = _kept_indices(pairs, views)
    after_crops, after_evals = views.after_crops.clone(), views.after_evals.clone()
    turned: dict[str, str] = {}
    for j, (pair, t) in enumerate(zip(views.pairs, found, strict=True)):
        i = index[j]
        edit = None if t.turn is None or i is None else edit_of(i)
        if t.turn is None or i is None or edit is None:
            continue
        try:
            redo = load_paired_views(
                [pair],
                cache_size=cache_size_of(d, cfg.agent.thumb),
                eval_size=d.eval_size,
                crops=d.crops_per_image,
                seed=cfg.run.seed + i,
                after_images=[undo_turn(edit, t.turn)],
            )
        except NotFoundError:  # the original is gone since: the pair stays as it was
            continue
        after_crops[j], after_evals[j] = redo.after_crops[0], redo.after_evals[0]
        turned[pair.name] = t.turn
        log.warning(
            "%s: the edit is the original %s (structure correlation %.2f, %.2f as it is); turned back onto the "
            "original's frame before fitting",
            pair.name,
            t.turn,
            t.correlation,
            t.unturned,
        )
    return dataclasses.replace(views, after_crops=after_crops, after_evals=after_evals), turned


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


def _matched(before: str | Path, after: str | Path) -> PairMatch:
    """The pairs of ``--pairs`` by name (:func:`trainer.data.pairs.match_pairs`), the choices and leavings logged.

    Raises:
        NotFoundError: a folder is missing or holds no photos, or no photo has a partner.
    """
    from backend.errors import NotFoundError

    match = match_pairs(before, after)
    for path in match.unmatched:
        log.warning("%s: no partner of the same name in the other folder; skipped", path)
    for note in match.notes:
        _PAIRING_LOG.warning("%s", note)
    for why in match.ambiguous:
        _PAIRING_LOG.warning("left out, pairing is ambiguous: %s", why)
    if not match.pairs:
        raise NotFoundError(
            f"no photo in {before} has a partner of the same name (without extension) in {after}"
            + (f"; left out as ambiguous: {'; '.join(match.ambiguous)}" if match.ambiguous else "")
        )
    return match


#: :attr:`trainer.data.pairs.PairMatch.ambiguous`'s ``"NAME (FILES in FOLDER: why)"``.
_AMBIGUOUS = re.compile(r"^(?P<name>.*) \((?P<files>.*) in (?P<folder>.*): (?P<why>[^:()]*)\)$")


def _ambiguous_text(why: str, *, short: bool = False) -> str:
    """A name left out as ambiguous with its folder by name only: ``"NAME (FILES in FOLDER: why)"``.

    ``short``: without the why (``"IMG_0 (IMG_0.jpg / IMG_0.tif in after)"``, the note's lead says it). A text not
    in that form is returned as it is.
    """
    m = _AMBIGUOUS.match(why)
    if m is None:
        return why
    head = f"{m['name']} ({m['files']} in {Path(m['folder']).name}"
    return f"{head})" if short else f"{head}: {m['why']})"


def _record_pairing_choices(source: dict[str, Any], choices: Sequence[str]) -> None:
    """Name the choices the pairing by name made in ``source`` (``pairing_choices`` and one note); none: unchanged.

    The choices are :attr:`trainer.data.pairs.PairMatch.notes` as loading left them (:func:`_choices_as_made`): a
    raw paired rather than the camera's JPEG of the same name, or that JPEG where the raw cannot be decoded; names
    paired although their case differs.
    """
    if not choices:
        return
    source["pairing_choices"] = list(choices)
    source["notes"] = [
        *source.get("notes", []),
        f"{counted(len(choices), 'choice')} made pairing the photos by name: " + "; ".join(choices),
    ]


def _kept_indices(pairs: Sequence[Pair], views: PairedViews) -> list[int | None]:
    """For each pair of ``views`` (:func:`load_paired_views` of ``pairs``), its index in ``pairs``.

    The views keep the pairs they could load in order, each the very object given, except a pair whose raw gave
    way to the camera's JPEG beside it (:func:`trainer.data.pairs.decode_original`): that one comes back as a new
    :class:`Pair` of the same name and edit, its ``input`` the given pair's ``alternative``. Pairs are matched in
    order, by identity first, so pairs of one name (a catalog's virtual copies) stay apart.

    Returns:
        One index per pair of ``views``; ``None`` where one cannot be placed (not expected).
    """
    found: list[int | None] = []
    i = 0
    for kept in views.pairs:
        at = next((k for k in range(i, len(pairs)) if _same_pair(pairs[k], kept)), None)
        found.append(at)
        i = i if at is None else at + 1
    return found


def _same_pair(given: Pair, kept: Pair) -> bool:
    """Whether ``kept`` (a pair of :class:`PairedViews`) is ``given``, or ``given`` with its raw's JPEG used."""
    if kept is given:
        return True
    return (
        given.alternative is not None
        and kept.input == given.alternative
        and kept.name == given.name
        and kept.reference == given.reference
    )


def _choices_as_made(choices: Sequence[str], pairs: Sequence[Pair], views: PairedViews) -> list[str]:
    """The pairing's choices (:attr:`trainer.data.pairs.PairMatch.notes`) as loading the pairs left them.

    A name whose raw was chosen over the camera's JPEG but then could not be decoded (:attr:`PairedViews.notes`:
    ``"NAME: the raw FILE cannot be decoded (why); FILE is paired instead"``, one per such pair, in order) has its
    choice (``"NAME: the raw FILE is paired, not FILE"``) replaced by that note, in its place (a note without such
    a choice is added at the end), and a note that its raw is paired with an edit whose name differs in case names
    the JPEG instead. Without such notes ``choices`` is returned as it is.
    """
    if not views.notes:
        return list(choices)
    index = _kept_indices(pairs, views)
    given = [pairs[i] for j, i in enumerate(index) if i is not None and views.pairs[j] is not pairs[i]]
    if len(given) != len(views.notes):  # not one note per pair whose raw gave way: the notes added as they are
        return [*choices, *views.notes]
    swapped = {pair.name: (pair, note) for pair, note in zip(given, views.notes, strict=True)}
    raws = list(given)  # every pair whose raw gave way, also after its choice was replaced (popped) below
    out: list[str] = []
    for choice in choices:
        name = next((n for n in swapped if choice.startswith(f"{n}: the raw ")), None)
        if name is not None:
            out.append(swapped.pop(name)[1])
            continue
        raw = next((p for p in raws if choice.startswith(f"{p.input.name} is paired with ")), None)
        if raw is not None and raw.alternative is not None:
            choice = raw.alternative.name + choice[len(raw.input.name) :]
        out.append(choice)
    return [*out, *(note for _, note in swapped.values())]


def _unmatched_text(path: Path, before: Path) -> str:
    """``"FILE (why)"`` for a photo of ``--pairs`` left out for want of a partner (it lies in ``before`` or not)."""
    why = "an original without its edit" if path.parent == before else "an edit without its original"
    return f"{path.name} ({why})"


def _unreadable_pairs(pairs: Sequence[Pair], views: PairedViews, *, short: bool) -> list[str]:
    """``"NAME (why)"`` for each of ``pairs`` that :func:`load_paired_views` left out (a file could not be decoded).

    ``views.skipped`` holds one message (``"FILE: why"``) per pair left out, in order. ``short``: the file is named
    as ``original NAME.ext`` or ``edit NAME.ext`` (``--pairs``: the folders are known); else by its path.
    """
    kept = {i for i in _kept_indices(pairs, views) if i is not None}
    lost = [pair for i, pair in enumerate(pairs) if i not in kept]
    if len(lost) != len(views.skipped):  # not one message per pair left out: the messages as they are
        return list(views.skipped)
    named = []
    for pair, message in zip(lost, views.skipped, strict=True):
        for role, path in (("original", pair.input), ("edit", pair.reference)):
            if short and message.startswith(f"{path}: "):
                message = f"{role} {path.name}: {message[len(str(path)) + 2 :]}"
                break
        named.append(f"{pair.name} ({message})")
    return named


def _record_left_out(
    source: dict[str, Any],
    learned_from: str,
    unreadable: Sequence[str],
    unmatched: Sequence[str] = (),
    duplicates: Sequence[str] = (),
    ambiguous: Sequence[str] = (),
) -> None:
    """Name the examples left out in ``source`` (the run's summary): keys, and notes for the command's summary.

    Adds ``unreadable_pairs_skipped`` (a file could not be found or decoded) and ``unmatched_photos_skipped``
    (``--pairs``: no partner of the same name) where there are any, and their notes
    (:func:`trainer.result.paired_left_out_notes`, duplicates and names whose photo is unclear, ``ambiguous``,
    too); with nothing left out ``source`` is unchanged.
    """
    if unreadable:
        source["unreadable_pairs_skipped"] = list(unreadable)
    if unmatched:
        source["unmatched_photos_skipped"] = list(unmatched)
    notes = paired_left_out_notes(learned_from, unreadable, unmatched, duplicates, ambiguous)
    if notes:
        source["notes"] = notes


def _unique_pairs(pairs: Sequence[Pair]) -> tuple[list[Pair], list[str]]:
    """``pairs`` without a pair whose original and edit both duplicate an earlier pair's (by content or real path).

    A pair present twice (a byte copy or a link of both files under another name) would weigh double and could
    land in both halves of the cross-fitted check. Two edits of one original (virtual copies) are both kept.
    """
    kept: list[Pair] = []
    dropped: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    keys: dict[Path, str] = {}  # one hash per file, however many pairs share it (an original's virtual copies)
    for pair in pairs:
        key = (_file_key(pair.input, keys), _file_key(pair.reference, keys))
        if key in seen:
            dropped.append(f"{pair.name} (the same original and edit as {seen[key]})")
            log.warning("pair %s: the same original and edit as %s; left out", pair.name, seen[key])
            continue
        seen[key] = pair.name
        kept.append(pair)
    return kept, dropped


def _file_key(path: Path, memo: dict[Path, str]) -> str:
    """The sha256 of a file's bytes, or its real path when it cannot be read (its decoding reports it).

    ``memo`` holds the keys already worked out (by path), so that a file is read once per call of the caller.
    """
    key = memo.get(path)
    if key is None:
        key = memo[path] = file_sha256(path) or "path:" + os.path.realpath(path)
    return key


def load_catalog_pair_set(
    cfg: TrainConfig,
    lrcat: str | Path,
    selection: str,
    photos: str | Path | None,
    sliders: tuple[str, ...],
    *,
    deadline: float | None = None,
) -> PairSet:
    """Pairs from a Lightroom catalog's favourites: each original and its develop settings rendered on it.

    The settings are mapped into our sliders (:func:`trainer.lrcat.favourites.catalog_edits`) and the "edit" of
    each pair is that recipe rendered on the original by our renderer; the nearest-edits labels are the mapped
    recipes themselves. Skipped photos are reported in the log and the summary (``catalog_skipped``); those
    whose original cannot be found, read or decoded also in the command's notes (:func:`_record_left_out`).
    ``deadline``: :func:`time.monotonic` time (s) the run ends, or ``None`` (:func:`_fitted`).

    Raises:
        CatalogError / NotFoundError: the catalog cannot be read or the selection yields no usable photo.
    """
    from backend.errors import NotFoundError
    from trainer.lrcat.favourites import catalog_edits

    t0 = time.monotonic()
    missing: list[str] = []
    edits, skipped = catalog_edits(lrcat, selection, photos=photos, missing=missing)
    for message in skipped:
        log.warning("%s: skipped: %s", lrcat, message)
    if not edits:
        raise NotFoundError(f"{lrcat}: none of the selected photos can be used ({'; '.join(skipped[:3])})")
    source = {"lrcat": str(Path(lrcat).resolve()), "favourites": selection, "catalog_skipped": skipped}
    return _edit_pairs(cfg, edits, source, sliders, t0, "lightroom catalog", missing, deadline)


def load_settings_pair_set(
    cfg: TrainConfig, items: Sequence[Mapping[str, Any]], sliders: tuple[str, ...], *, deadline: float | None = None
) -> PairSet:
    """Pairs from photos sent with their Lightroom develop settings (the plug-in's "train from selection").

    Like :func:`load_catalog_pair_set`, with the settings given per photo
    (:func:`trainer.lrcat.favourites.settings_edits`) instead of read from a catalog. ``deadline``:
    :func:`time.monotonic` time (s) the run ends, or ``None`` (:func:`_fitted`).

    Raises:
        NotFoundError: no photo is usable (each skipped one is named in the message and the log).
    """
    from backend.errors import NotFoundError
    from trainer.lrcat.favourites import settings_edits

    t0 = time.monotonic()
    missing: list[str] = []
    edits, skipped = settings_edits(items, missing=missing)
    for message in skipped:
        log.warning("skipped: %s", message)
    if not edits:
        lead = "the photo cannot" if len(items) == 1 else f"none of the {len(items)} photos can"
        raise NotFoundError(f"{lead} be used ({'; '.join(skipped[:3])})")
    source = {"lightroom_edits": len(items), "edits_skipped": skipped}
    return _edit_pairs(cfg, edits, source, sliders, t0, "lightroom edits", missing, deadline)


def _edit_pairs(
    cfg: TrainConfig,
    edits: list[Any],
    source: dict[str, Any],
    sliders: tuple[str, ...],
    t0: float,
    learned_from: str,
    missing: Sequence[str],
    deadline: float | None = None,
) -> PairSet:
    """Pairs of originals and their mapped settings rendered on them (``CatalogEdit`` each).

    ``missing``: the photos already left out because their original could not be found or read (named in the
    summary with those that cannot be decoded here, :func:`_record_left_out`). ``deadline``:
    :func:`time.monotonic` time (s) the run ends, or ``None`` (:func:`_fitted`).
    """
    d, seed = cfg.data, cfg.run.seed
    if d.max_images > 0:
        edits = edits[: d.max_images]
    csize = cache_size_of(d, cfg.agent.thumb)
    pairs = [Pair(e.name, e.original, e.original) for e in edits]
    views = load_paired_views(
        pairs,
        cache_size=csize,
        eval_size=d.eval_size,
        crops=d.crops_per_image,
        seed=seed,
        renders=[e.values for e in edits],
    )
    for message in views.skipped:
        log.warning("skipping a photo: %s", message)
    _record_left_out(source, learned_from, [*missing, *_unreadable_pairs(pairs, views, short=False)])
    kept = {p.name for p in views.pairs}
    ps = _fitted(cfg, views, sliders, 0, t0, source, deadline=deadline)
    ps.labels = [Recipe.from_settings(e.values).to_dict()["steps"] for e in edits if e.name in kept]
    return ps


def _fitted(
    cfg: TrainConfig,
    views: PairedViews,
    sliders: tuple[str, ...],
    unmatched: int,
    t0: float,
    source: dict[str, Any],
    *,
    deadline: float | None = None,
    frames: Callable[[int], str | None] | None = None,
) -> PairSet:
    """Fit the pairs' recipes, weigh them and report the poor fits (the module docstring).

    Args:
        cfg: the configuration (``restore.*``).
        views: the pairs' views.
        sliders: the sliders fitted.
        unmatched: photos left out for want of a partner.
        t0: :func:`time.monotonic` time (s) the loading started.
        source: the run's summary entries so far; the fit's notes are added to it (:func:`_record_fit_notes`).
        deadline: :func:`time.monotonic` time (s) the run ends (``--minutes``): fitting then ends by
            :data:`_FIT_SHARE` of the time left; ``None``: every fit has all ``restore.fit_iters`` iterations.
        frames: pair index in ``views`` -> why its edit's frame is not the original's, or ``None`` when they
            agree; asked for the poorly fitted pairs only (``None``: not known, as for recipes rendered by us).
    """
    r = cfg.restore
    t_fit = time.monotonic()
    fit_deadline = None if deadline is None else t_fit + _FIT_SHARE * max(deadline - t_fit, 0.0)
    overrun_s = math.inf if deadline is None else max(_FIT_OVERRUN_GRACE_S, _FIT_OVERRUN_SHARE * (deadline - t_fit))
    fits = fit_pairs(views, sliders, cfg, deadline=fit_deadline, overrun_s=overrun_s)
    fit_seconds = time.monotonic() - t_fit
    weights = [pair_weight(f.psnr_fit, r.poor_fit_db) for f in fits]
    poor: list[dict[str, Any]] = []
    for j, (p, f, w) in enumerate(zip(views.pairs, fits, weights, strict=True)):
        if f.psnr_fit >= r.poor_fit_db:
            continue
        row: dict[str, Any] = {"pair": p.name, "fit_psnr": round(f.psnr_fit, 2), "weight": round(w, 2)}
        frame = frames(j) if frames is not None else None
        if frame is not None:
            row["frame"] = frame
            log.warning(
                "%s: our sliders reproduce this edit only to %.1f dB: %s (a crop?); its weight is %.2f",
                p.name,
                f.psnr_fit,
                frame,
                w,
            )
        else:
            log.warning(
                "%s: our sliders reproduce this edit only to %.1f dB (a crop, a local edit or another raw "
                "converter?); its weight is %.2f",
                p.name,
                f.psnr_fit,
                w,
            )
        poor.append(row)
    _record_fit_notes(cfg, source, fits, poor)
    return PairSet(
        views=views,
        fits=fits,
        weights=weights,
        poor=poor,
        unmatched=unmatched,
        source=source,
        fit_seconds=fit_seconds,
        load_seconds=time.monotonic() - t0,
    )


def _record_fit_notes(
    cfg: TrainConfig, source: dict[str, Any], fits: Sequence[FitResult], poor: Sequence[Mapping[str, Any]]
) -> None:
    """Say in ``source`` (the run's summary: keys and notes) when fits were cut short and when none fits well.

    * Fits that the run's deadline cut short (fewer than ``restore.fit_iters`` iterations): ``fit_cut_short``
      (``pairs``, ``fewest_iters``, ``fit_iters``) and a note.
    * Every pair fitted poorly: ``all_fits_poor`` and a note. The style is still trained, and installed when its
      check passes: the check scores it against the edits themselves, so a style that brings photos closer to
      them than doing nothing (a photographer whose edits come from another raw converter) is worth having; but
      our sliders reproduce none of the edits, which is rarely what the photographer meant (cropped or locally
      edited exports, edits of other originals), and the note says so rather than calling it a success silently.

    With neither, ``source`` is unchanged.
    """
    r = cfg.restore
    notes: list[str] = []
    cut = [f.iters for f in fits if 0 <= f.iters < r.fit_iters]
    if cut:
        source["fit_cut_short"] = {"pairs": len(cut), "fewest_iters": min(cut), "fit_iters": r.fit_iters}
        text = (
            f"the recipe fits of {counted(len(cut), 'pair')} were cut short to keep within --minutes "
            f"({min(cut)} of {r.fit_iters} iterations at the fewest); more minutes fit them closer"
        )
        if min(cut) < min(r.fit_iters, _MIN_FIT_ITERS):  # only fit_floor gives fewer than that
            source["fit_cut_short"]["floor_lowered"] = True
            text += (
                f"; so many pairs would have overrun --minutes by too much at {_MIN_FIT_ITERS} iterations each "
                f"that fits past the deadline had fewer (at least {_LOWEST_FIT_FLOOR})"
            )
        log.warning("%s", text)
        notes.append(text)
    if fits and len(poor) == len(fits):
        source["all_fits_poor"] = True
        mean = float(np.mean([f.psnr_fit for f in fits]))
        which = "the edit" if len(fits) == 1 else f"any of the {len(fits)} edits"
        why = (
            "their fits were cut short: give the run more minutes"
            if cut
            else "check that the edits show their originals' whole frame and were made from these originals"
        )
        text = (
            f"our sliders do not reproduce {which} well (all below {r.poor_fit_db:g} dB, {mean:.1f} dB on average): "
            f"the style learnt only what one recipe per photo can do; {why}"
        )
        log.warning("%s", text)
        notes.append(text)
    if notes:
        source["notes"] = [*source.get("notes", []), *notes]


def split_pairs(cfg: TrainConfig, n: int) -> tuple[list[int], list[int]]:
    """(training, held-out) pair indices by ``restore.val_fraction`` (the check without cross-fitting)."""
    return split_held_out(n, cfg.restore.val_fraction, cfg.run.seed)


def paired_data(
    cfg: TrainConfig, ps: PairSet, train_idx: list[int], val_idx: list[int], *, with_examples: bool = True
) -> RestoreData:
    """The restoration trainer's data: views of the training pairs, checks on ``val_idx`` (see the module docstring).

    ``val_idx`` may overlap ``train_idx`` (the check is then in-sample); empty means the training pairs.
    ``with_examples=False`` leaves out the nearest-edits memory (agents that are not exported do not need it).
    """
    r, seed = cfg.restore, cfg.run.seed
    views = ps.views
    rng = np.random.default_rng(seed + 7_919)
    pool_in, pool_out, pool_w = [], [], []
    k = views.before_crops.shape[1]
    for i in train_idx:
        pick = torch.arange(r.pool_per_target) % k
        ins, outs = views.before_crops[i][pick], views.after_crops[i][pick]
        jitter = torch.from_numpy(rng.uniform(size=r.pool_per_target) < r.pair_jitter)
        if bool(jitter.any()):
            draws = [
                jitter_settings(rng, exposure_ev=r.pair_jitter_ev, white_balance=r.pair_jitter_wb)
                for _ in range(int(jitter.sum()))
            ]
            ins = ins.clone()
            ins[jitter] = unedit_batch(ins[jitter], draws)
        pool_in.append(ins)
        pool_out.append(outs)
        pool_w.append(torch.full((r.pool_per_target,), ps.weights[i]))
    n_self = round(r.self_share * r.pool_per_target)
    if n_self > 0:
        sampler = UneditSampler(cfg)
        for i in train_idx:
            outs = views.after_crops[i][torch.arange(n_self) % k]
            pool_in.append(unedit_batch(outs, [sampler(rng) for _ in range(n_self)]))
            pool_out.append(outs)
            pool_w.append(torch.ones(n_self))
    check = val_idx or train_idx
    held_out = sorted(set(val_idx) - set(train_idx))
    fit_psnr = [f.psnr_fit for f in ps.fits]
    summary: dict[str, Any] = {
        "method": "restore",
        "learned_from": "lightroom catalog"
        if "lrcat" in ps.source
        else "lightroom edits"
        if "lightroom_edits" in ps.source
        else "darktable sidecars"
        if "darktable_dir" in ps.source
        else "pairs",
        **ps.source,
        "pairs": len(ps.names),
        "training_pairs": len(train_idx),
        "held_out_pairs": [ps.names[i] for i in held_out],
        "unmatched": ps.unmatched,
        "skipped": list(views.skipped),
        "fit_psnr_mean": round(float(np.mean(fit_psnr)), 2),
        "fit_psnr_min": round(float(np.min(fit_psnr)), 2),
        "poor_fits": ps.poor,
        "fit_seconds": round(ps.fit_seconds, 1),
        "data_seconds": round(ps.load_seconds, 1),
        "views": sum(t.shape[0] for t in pool_in),
    }
    return RestoreData(
        pool_in=torch.cat(pool_in).half().float(),
        pool_out=torch.cat(pool_out).half().float(),
        pool_w=torch.cat(pool_w),
        val_in=views.before_evals[check].half().float(),
        val_out=views.after_evals[check].half().float(),
        sources=None,
        source_crops=None,
        look=look_descriptor(views.after_evals[train_idx]).mean(dim=0),
        summary=summary,
        examples=_examples(views, ps.fits, ps.weights, r, ps.labels, r.nearest_blend) if with_examples else None,
    )


#: The highest PSNR (dB) the cross-fitted check scores (identical images give infinity otherwise).
_PSNR_CAP = 100.0


def _check_psnr(a: Tensor, b: Tensor) -> float:
    """PSNR (dB) of one ``(1, 3, E, E)`` result against its edit, capped at :data:`_PSNR_CAP`.

    Capped like the fits' PSNR: a result that reproduces the edit exactly (one preset on every photo with the edits
    rendered by our own renderer, or an "edit" that changed nothing) scores 100 dB, not infinity, so the check's
    means, errors and the style's metadata stay finite.
    """
    return min(float(psnr(a, b)[0]), _PSNR_CAP)


def _fold_examples(cfg: TrainConfig, ps: PairSet, idx: list[int]) -> dict[str, Any]:
    """The nearest-edits memory of the pairs ``idx`` alone (as :func:`paired_data` builds it for a style)."""
    views = dataclasses.replace(
        ps.views, before_evals=ps.views.before_evals[idx], pairs=tuple(ps.views.pairs[i] for i in idx)
    )
    labels = [ps.labels[i] for i in idx] if ps.labels is not None else None
    return _examples(views, [ps.fits[i] for i in idx], [ps.weights[i] for i in idx], cfg.restore, labels)


def _mix_scores(
    net: AgentNet,
    examples: dict[str, Any],
    before: Tensor,
    after: Tensor,
    shares: Sequence[float],
    *,
    deadline: float | None = None,
    default: float | None = None,
) -> list[list[float | None]]:
    """PSNR (dB, at most 100) of every ``(1, 3, E, E)`` photo of ``before`` under each share of the style's mix.

    Args:
        net: the fold's agent.
        examples: the nearest-edits memory of the pairs it was trained on.
        before: ``(N, 3, E, E)`` the originals scored, linear Rec.2020.
        after: ``(N, 3, E, E)`` their edits.
        shares: the nearest-edits shares scored, each in [0, 1].
        deadline: :func:`time.monotonic` time (s) after which a photo is scored at ``default`` only (the other
            shares are ``None``); ``None``: every photo at every share.
        default: the share scored after the deadline (one of ``shares``).

    Returns:
        ``[photo][share]``: the agent's recipe blended with the photo's nearest edits (share ``s`` of the
        nearest recipe), rendered on the original and scored against the edit, as a suggestion is; ``None``
        where the deadline left that share out.
    """
    net.eval()
    scores: list[list[float | None]] = []
    for j in range(before.shape[0]):
        photo = before[j : j + 1]
        late = deadline is not None and time.monotonic() >= deadline
        with torch.no_grad():
            agent = rollout(net, make_thumbnail(photo, net.thumb), render_final=False).recipe()
            near = mix_recipe(examples, photo)
            outs = [
                None if late and s != default else render_recipe(photo, blend([agent, near], [1.0 - s, s]))
                for s in shares
            ]
        scores.append([None if out is None else _check_psnr(out, after[j : j + 1]) for out in outs])
    return scores


def _choose_blend(per_pair: list[dict[str, Any]], shares: Sequence[float], default: float) -> dict[str, Any]:
    """The nearest-edits share of the style's mix, chosen on the check's pairs.

    The share whose mix scores best on average replaces ``default`` (``restore.nearest_blend``) only where the
    evidence is clear: its gain over the default's mix, pair by pair, must be positive by more than twice its
    standard error (with 12-16 pairs the check's means of nearby shares differ by noise; a look that is the same
    on every photo makes the nearest edits win on every pair). Each pair's style score becomes the chosen mix's
    (the agent's alone is kept as ``agent``). Where some pair was not scored at every share (the check ran out of
    time, :func:`_mix_scores`), nothing is chosen: ``default`` stays and the style is scored as its mix.

    Returns:
        ``blend`` (the chosen share), ``blend_psnr`` (mean dB by share) and ``blend_gain_se`` (the best share's
        mean gain over the default's and its standard error, dB); or, with shares left unscored, ``blend`` and
        ``blend_not_chosen`` (why).
    """
    grid = list(shares)  # the default among them
    base = grid.index(default)
    if any(None in p["mixes"] for p in per_pair):
        for p in per_pair:
            p["agent"], p["style"] = p["style"], p["mixes"][base]
        log.warning("cross-fitted check: no time left to compare the nearest-edits shares; %g kept", default)
        return {"blend": default, "blend_not_chosen": "no time left to compare the shares"}
    means = [float(np.mean([p["mixes"][k] for p in per_pair])) for k in range(len(grid))]
    best = max(range(len(grid)), key=lambda k: means[k])
    gains = np.array([p["mixes"][best] - p["mixes"][base] for p in per_pair])
    se = float(gains.std(ddof=1) / np.sqrt(len(gains))) if len(gains) > 1 else float("inf")
    chosen = best if float(gains.mean()) > 2.0 * se else base
    for p in per_pair:
        p["agent"], p["style"] = p["style"], p["mixes"][chosen]
    by_share = {f"{s:g}": round(m, 2) for s, m in zip(grid, means, strict=True)}
    log.info(
        "cross-fitted check: nearest-edits share %g (PSNR by share: %s; the best share's gain over %g: %+.2f dB, "
        "standard error %.2f dB)",
        grid[chosen],
        by_share,
        default,
        float(gains.mean()),
        se,
    )
    return {
        "blend": grid[chosen],
        "blend_psnr": by_share,
        "blend_gain_se": [round(float(gains.mean()), 2), round(se, 2)],
    }


def _scored(
    cfg: TrainConfig,
    ps: PairSet,
    net: AgentNet,
    held: list[int],
    examples: dict[str, Any] | None,
    shares: Sequence[float],
    deadline: float | None,
) -> list[dict[str, Any]]:
    """The check's rows of the pairs ``held`` (name, style dB, identity dB, ``mixes``), scored by ``net``.

    ``examples``: the nearest-edits memory of the fold's training pairs (``None`` without ``shares``);
    ``deadline``: :func:`time.monotonic` time (s) after which the mixes are scored at ``restore.nearest_blend``
    only (:func:`_mix_scores`), or ``None``.
    """
    net.eval()
    before, after = ps.views.before_evals[held], ps.views.after_evals[held]
    out, _ = restore_images(net, before)
    mixes = None
    if shares and examples is not None:
        mixes = _mix_scores(net, examples, before, after, shares, deadline=deadline, default=cfg.restore.nearest_blend)
    return [
        {
            "pair": ps.names[i],
            "style": _check_psnr(out[j : j + 1], after[j : j + 1]),
            "identity": _check_psnr(before[j : j + 1], after[j : j + 1]),
        }
        | ({"mixes": mixes[j]} if mixes is not None else {})
        for j, i in enumerate(held)
    ]


def _fold_minutes(deadline: float, folds_left: int, scoring_s: float) -> float:
    """Minutes of training a fold of a time-bounded check gets (positive; tiny when no time is left).

    Args:
        deadline: :func:`time.monotonic` time (s) the check ends.
        folds_left: the folds still to do, this one included (>= 1).
        scoring_s: the seconds this fold's scoring is expected to take (>= 0).

    Returns:
        An equal share of the time left to the deadline, less ``scoring_s``, in minutes; at least 1e-6 (``minutes``
        0 would mean "no limit" to :func:`~trainer.restore_core.optimise`: such a fold trains 0 steps).
    """
    share_s = max(deadline - time.monotonic(), 0.0) / folds_left
    return max(share_s - scoring_s, 0.0) / 60.0 or 1e-6


# Long: the folds' loop with its time bookkeeping; the scoring and the share choice are helpers.
def crossfit_check(
    cfg: TrainConfig,
    ps: PairSet,
    folds: int,
    *,
    steps: int,
    minutes: float,
    info: DistInfo,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Score the training recipe on pairs it has not seen, every pair once (``restore.check_folds``).

    The pairs are split into ``folds`` groups by a fixed permutation; for each group a fresh agent is trained on
    the other pairs with the same recipe (``steps`` / ``minutes`` each, its last weights) and scored on that
    group's originals against the edits, beside doing nothing. The style itself is then trained on every pair;
    this check says how it can be expected to do on new photos, and decides whether it is installed.

    With ``deadline`` (``--minutes``) the check is bounded by the wall clock instead of ``minutes``: each fold
    gets an equal share of the time left, its training that share less the time its scoring is expected to take
    (measured on one photo before the first fold, then on the folds done); a fold with no time left trains 0 steps,
    and once the deadline has passed the photos are scored at ``restore.nearest_blend`` only and no share is chosen
    (:func:`_choose_blend`). The scoring itself is never skipped, so a check out of time still scores every pair
    (the minimum: untrained agents, one mix each), overrunning the deadline by that scoring; ``summary`` then says
    so (``out_of_time``). Without ``deadline`` the check is exactly as before (``--steps``: deterministic).

    Args:
        cfg: the configuration (``restore.*``, ``run.seed``).
        ps: the pairs.
        folds: the number of groups (>= 2; at most half the pairs).
        steps: training steps of each fold's agent.
        minutes: training minutes of each fold's agent (0: no limit); ignored with ``deadline``.
        info: the process's place in a distributed run.
        deadline: :func:`time.monotonic` time (s) the whole check ends, or ``None``.

    Returns:
        ``val_psnr`` and ``val_psnr_identity`` (PSNR in dB of every pair taken together,
        :func:`~trainer.metrics.pooled_psnr`, each pair scored by the agent that did not see it), ``per_pair`` (name,
        style dB, identity dB; with ``restore.nearest_blends`` also the mix's dB at each share, ``mixes``, ``None``
        where the deadline left a share out), ``summary`` for the style's metadata (with ``deadline`` also
        ``fold_steps``, each fold's training steps, and ``out_of_time`` where a fold trained 0 steps or no share
        was chosen) and ``blend``: the nearest-edits share chosen among ``restore.nearest_blends`` (the style is then
        scored as that mix), else ``None``.
    """
    n = len(ps.names)
    r = cfg.restore
    shares = tuple(sorted({*r.nearest_blends, r.nearest_blend})) if r.nearest_blends else ()
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.run.seed + 104_729)).tolist()
    groups = [sorted(perm[f::folds]) for f in range(folds)]
    per_pair: list[dict[str, Any]] = []
    fold_steps: list[int] = []
    per_photo_s: float | None = None  # seconds a held photo's scoring takes (time-bounded checks)
    t0 = time.monotonic()
    for f, held in enumerate(groups):
        train_idx = [i for i in range(n) if i not in held]
        examples = _fold_examples(cfg, ps, train_idx) if shares else None
        torch.manual_seed(cfg.run.seed + 31 * (f + 1))
        net = new_restore_net(cfg)
        if deadline is not None and per_photo_s is None and time.monotonic() < deadline:
            t_one = time.monotonic()  # time one photo's scoring (the untrained agent's)
            _scored(cfg, ps, net, held[:1], examples, shares, None)
            per_photo_s = time.monotonic() - t_one
        if deadline is not None and time.monotonic() >= deadline:
            fold_steps.append(0)  # no time left: the untrained agent (it proposes no edit) is scored
        else:
            data = paired_data(cfg, ps, train_idx, train_idx, with_examples=False)
            fold_minutes = minutes
            if deadline is not None:
                fold_minutes = _fold_minutes(deadline, folds - f, (per_photo_s or 0.0) * len(held))
            outcome = optimise(
                cfg,
                net,
                data,
                steps=steps,
                minutes=fold_minutes,
                seed=cfg.run.seed + 31 * (f + 1),
                info=info,
                checks=False,
            )
            fold_steps.append(outcome.step)
        t_score = time.monotonic()
        per_pair += _scored(cfg, ps, net, held, examples, shares, deadline)
        if deadline is not None and time.monotonic() < deadline:
            per_photo_s = (time.monotonic() - t_score) / len(held)
        log.info("cross-fitted check: fold %d of %d done (%.0f s)", f + 1, folds, time.monotonic() - t0)
    blend_choice = _choose_blend(per_pair, shares, r.nearest_blend) if shares else {}
    style = pooled_psnr([p["style"] for p in per_pair])  # taken together: an unedited pair does not decide alone
    identity = pooled_psnr([p["identity"] for p in per_pair])
    worst = min(per_pair, key=lambda p: p["style"] - p["identity"])
    summary = {
        "kind": f"{folds}-fold cross-fitted",
        "psnr": round(style, 2),
        "identity_psnr": round(identity, 2),
        "worst_pair": worst["pair"],
        "worst_gain_db": round(worst["style"] - worst["identity"], 2),
        "seconds": round(time.monotonic() - t0, 1),
        **blend_choice,
    }
    if deadline is not None:  # only then: a --steps check's metadata is as before
        summary["fold_steps"] = fold_steps
        if 0 in fold_steps or "blend_not_chosen" in blend_choice:
            summary["out_of_time"] = True
    log.info(
        "cross-fitted check: %.2f dB on pairs each agent did not see, doing nothing %.2f dB (worst pair %s %+.2f dB)",
        style,
        identity,
        worst["pair"],
        worst["style"] - worst["identity"],
    )
    return {
        "val_psnr": style,
        "val_psnr_identity": identity,
        "per_pair": per_pair,
        "summary": summary,
        "blend": blend_choice.get("blend"),
    }


def _record_check_notes(summary: dict[str, Any], check: Mapping[str, Any]) -> None:
    """Say in the run's ``summary`` (a note) when the cross-fitted check ``check`` ran out of ``--minutes``.

    Unchanged when it did not (:func:`crossfit_check`'s ``out_of_time``).
    """
    if not check.get("out_of_time"):
        return
    steps = " and ".join(str(s) for s in check.get("fold_steps", []))
    chose = f"; the nearest-edits share was not chosen ({check['blend']:g} kept)" if "blend_not_chosen" in check else ""
    text = (
        f"the cross-fitted check ran out of --minutes: its agents were trained {steps} steps{chose}, so it says "
        "less about the style; more minutes make it a fair check"
    )
    log.warning("%s", text)
    summary["notes"] = [*summary.get("notes", []), text]


#: With pairs, seconds of ``--minutes`` kept for the final checks and the export after training.
_FINISH_RESERVE_S = 8.0


def paired_run_data(
    cfg: TrainConfig,
    net: Any,
    info: DistInfo,
    t0: float,
    minutes: float,
    pairs: tuple[str | Path, str | Path] | None,
    catalog: tuple[str | Path, str, str | Path | None] | None,
    darktable: str | Path | None,
    edits: Sequence[Mapping[str, Any]] | None,
) -> tuple[RestoreData, dict[str, Any] | None, float]:
    """The data of a run from the photographer's own edits (called by :func:`trainer.restore.train_restore`), and the cross-fitted check when there are enough.

    Returns:
        ``(data, cross-fitted check or None, minutes left for the training)``: with pairs ``--minutes`` bounds the
        whole run, so decoding, fitting and the check are taken off it.
    """
    steps = cfg.run.steps
    finish = min(_FINISH_RESERVE_S, 0.05 * minutes * 60.0) / 60.0
    deadline = t0 + (minutes - finish) * 60.0 if minutes > 0 else None  # the fit takes a share of what is left
    if edits is not None:
        pair_set = load_settings_pair_set(cfg, edits, net.sliders, deadline=deadline)
    elif catalog is not None:
        pair_set = load_catalog_pair_set(cfg, catalog[0], catalog[1], catalog[2], net.sliders, deadline=deadline)
    elif darktable is not None:
        pair_set = load_darktable_pair_set(cfg, darktable, net.sliders, deadline=deadline)
    else:
        assert pairs is not None
        pair_set = load_pair_set(cfg, pairs[0], pairs[1], net.sliders, deadline=deadline)
    if minutes > 0:  # with pairs, --minutes bounds the whole run: decoding, fitting and finishing count too
        minutes = max(minutes - (time.monotonic() - t0) / 60.0 - finish, 0.05 * minutes)
    crossfit: dict[str, Any] | None = None
    folds = cfg.restore.check_folds
    if folds >= 2 and len(pair_set.names) >= 2 * folds:
        share = cfg.restore.check_share
        t_check = time.monotonic()
        crossfit = crossfit_check(
            cfg,
            pair_set,
            folds,
            steps=max(1, round(steps * share / folds)),
            minutes=minutes * share / folds,
            info=info,
            deadline=t_check + minutes * share * 60.0 if minutes > 0 else None,
        )
        everything = list(range(len(pair_set.names)))
        data = paired_data(cfg, pair_set, everything, everything)
        if crossfit["blend"] is not None and data.examples is not None:
            data.examples["blend"] = crossfit["blend"]
        if minutes > 0:  # the check and the training views made after it count too
            minutes = max(minutes - (time.monotonic() - t_check) / 60.0, 0.05 * minutes)
        _record_check_notes(data.summary, crossfit["summary"])
    else:
        data = paired_data(cfg, pair_set, *split_pairs(cfg, len(pair_set.names)))
    log.info(
        "restore: %d before/after pairs (%s; recipes fitted to %.1f dB on average), %d training views, "
        "data ready in %.1f s",
        data.summary["pairs"],
        f"{folds}-fold cross-fitted check" if crossfit else f"{len(data.summary['held_out_pairs'])} held out",
        data.summary["fit_psnr_mean"],
        data.pool_in.shape[0],
        time.monotonic() - t0,
    )
    return data, crossfit, minutes
