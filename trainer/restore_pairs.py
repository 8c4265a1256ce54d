"""Training data from the photographer's own before/after pairs (``autoretouch train --pairs BEFORE AFTER``).

The restoration trainer (:mod:`trainer.restore`) learns from (input, wanted result) pairs through the
differentiable renderer. Without pairs it makes them by un-editing favourites; with ``--pairs`` it has real
ones: an original and the photographer's own edit of it. This module builds that pool:

* pairs are matched by file stem (:func:`trainer.data.pairs.match_pairs`) and cut into aligned views
  (:func:`trainer.data.pairs.load_paired_views`); files without a partner, names whose photo is unclear (two raws,
  a JPEG and a TIFF export of one edit) and pairs with a file that cannot be decoded are left out, logged and named
  in the run's summary (``unmatched_photos_skipped``, ``ambiguous_pairs_skipped``, ``unreadable_pairs_skipped``
  and the command's notes; so are a catalog's and darktable's photos that cannot be found or read,
  :mod:`trainer.pairing_notes`); the choices the matching made (a raw paired rather than the camera's JPEG
  beside it, names that differ in case, the camera's JPEG used where that raw cannot be decoded) are named too
  (``pairing_choices`` and a note);
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
* the check (:mod:`trainer.pair_check`): with ``restore.check_folds`` >= 2 (and at least twice as many pairs),
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

This module holds ``--pairs`` loading, the fits and :func:`paired_run_data`; the rest lives beside it, its public
names importable from here too: :mod:`trainer.darktable_pairs` and :mod:`trainer.lightroom_pairs` (the other
sources of pairs), :mod:`trainer.pairing_notes` (what was left out or chosen, for the summary),
:mod:`trainer.pair_frames` (turned edits, frames), :mod:`trainer.pair_data` (the training views and examples)
and :mod:`trainer.pair_check` (the cross-fitted check).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from backend.agent.thumbnail import make_thumbnail
from trainer.config import ConfigError, TrainConfig
from trainer.darktable_pairs import _darktable_histories as _darktable_histories  # re-exported (tests)
from trainer.darktable_pairs import load_darktable_pair_set
from trainer.data.dataset import cache_size_of
from trainer.data.folders import decode_long_side
from trainer.data.pairs import PairedViews, PairMatch, load_paired_views, match_pairs
from trainer.distributed import DistInfo
from trainer.lightroom_pairs import load_catalog_pair_set, load_settings_pair_set
from trainer.pair_check import _choose_blend as _choose_blend  # re-exported (tests)
from trainer.pair_check import _record_check_notes, crossfit_check
from trainer.pair_data import MAX_EXAMPLES, example_indices, paired_data, split_pairs
from trainer.pair_frames import _decoded, _decoded_size, _frame_text, _record_turns, _turn_back
from trainer.pairing_notes import (
    _ambiguous_text,
    _choices_as_made,
    _record_left_out,
    _record_pairing_choices,
    _unique_pairs,
    _unmatched_text,
    _unreadable_pairs,
)
from trainer.pairing_notes import _kept_indices as _kept_indices  # re-exported (tests)
from trainer.pseudo_labels import FitResult, fit_recipes
from trainer.restore_core import (
    RestoreData,
)
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
    (:func:`trainer.pair_frames._turn_back`).

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
