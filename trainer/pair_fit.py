"""Fitting the pairs' recipes: each before/after pair's recipe fitted through the renderer, weighed and reported.

The fit says how well our sliders can express an edit (:func:`fit_pairs`, on ``restore.fit_size`` thumbnails);
a pair fitted worse than ``restore.poor_fit_db`` is reported and weighed down (:func:`pair_weight`). With
``--minutes`` the fit keeps to :data:`_FIT_SHARE` of the time left, with a floor of iterations per pair
(:func:`fit_floor`). :func:`_fitted` is what every source of pairs (``--pairs``, a Lightroom catalog, darktable
sidecars) ends with: it makes the :class:`PairSet` the trainer uses. Re-exported by :mod:`trainer.restore_pairs`;
this module imports no loader, so the loaders import it without a cycle.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backend.agent.thumbnail import make_thumbnail
from trainer.config import TrainConfig
from trainer.data.pairs import PairedViews
from trainer.pairing_notes import _record_crops
from trainer.pseudo_labels import FitResult, fit_recipes
from trainer.summary_lines import counted

__all__ = ["PairSet", "fit_floor", "fit_pairs", "pair_weight"]

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
        source: the run's summary entries so far; the edits fitted on the part of their original they show
            (:func:`trainer.pairing_notes._record_crops`) and the fit's notes (:func:`_record_fit_notes`) are
            added to it.
        deadline: :func:`time.monotonic` time (s) the run ends (``--minutes``): fitting then ends by
            :data:`_FIT_SHARE` of the time left; ``None``: every fit has all ``restore.fit_iters`` iterations.
        frames: pair index in ``views`` -> why its edit's frame is not the original's, or ``None`` when they
            agree; asked for the poorly fitted pairs only (``None``: not known, as for recipes rendered by us).
    """
    _record_crops(source, views)
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
