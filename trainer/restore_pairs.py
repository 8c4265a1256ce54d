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
  :data:`~trainer.pair_fit._FIT_SHARE` of the time left after decoding (:func:`trainer.pair_fit.fit_pairs`); fits
  cut short are named in the summary;
* an edit that is its original rotated by 90, 180 or 270 degrees (``--pairs`` and darktable's
  renders; :mod:`trainer.data.rotation`) is turned back onto the original's frame before it is fitted, and named
  in the log and the summary (``frames_turned_back``); an edit with its original's aspect ratio that shows only a
  part of it (a crop, a straightening crop: :mod:`trainer.data.cropped_edits`) has its original cut to that part
  before it is fitted, and is named in the log and the summary (``frames_cropped``), with its scale and shift;
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
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainer.config import ConfigError, TrainConfig
from trainer.darktable_pairs import _darktable_histories as _darktable_histories  # re-exported (tests)
from trainer.darktable_pairs import load_darktable_pair_set
from trainer.data.dataset import cache_size_of
from trainer.data.folders import decode_long_side
from trainer.data.pairs import PairMatch, match_pairs
from trainer.distributed import DistInfo
from trainer.lightroom_pairs import load_catalog_pair_set, load_settings_pair_set
from trainer.pair_check import _choose_blend as _choose_blend  # re-exported (tests)
from trainer.pair_check import _record_check_notes, crossfit_check
from trainer.pair_data import MAX_EXAMPLES, example_indices, paired_data, split_pairs, views_of
from trainer.pair_fit import _FIT_OVERRUN_GRACE_S as _FIT_OVERRUN_GRACE_S  # re-exported (tests)
from trainer.pair_fit import _LOWEST_FIT_FLOOR as _LOWEST_FIT_FLOOR  # re-exported (tests)
from trainer.pair_fit import _MIN_FIT_ITERS as _MIN_FIT_ITERS  # re-exported (tests)
from trainer.pair_fit import PairSet, _fitted, fit_pairs, pair_weight
from trainer.pair_frames import _decoded, _decoded_size, _frame_text, _record_turns, _turn_back
from trainer.pairing_notes import (
    _ambiguous_text,
    _choices_as_made,
    _record_left_out,
    _record_pairing_choices,
    _record_unread_subfolders,
    _unique_pairs,
    _unmatched_text,
    _unreadable_pairs,
)
from trainer.pairing_notes import _kept_indices as _kept_indices  # re-exported (tests)
from trainer.restore_core import (
    RestoreData,
)

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

#: The pairing's messages keep the logger :func:`trainer.data.pairs.find_pairs` gives them.
_PAIRING_LOG = logging.getLogger("trainer.data.pairs")


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
    (:func:`trainer.pair_frames._turn_back`). The folders are not read recursively: their subfolders that hold
    photos are named in the summary and its notes (:func:`trainer.pairing_notes._record_unread_subfolders`).

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
    d = cfg.data
    t0 = time.monotonic()
    match = _matched(before, after)
    unmatched = list(match.unmatched)
    pairs, dropped = _unique_pairs(match.pairs)
    if d.max_images > 0:
        pairs = pairs[: d.max_images]
    csize = cache_size_of(d, cfg.agent.thumb)
    views = views_of(cfg, pairs)
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
    _record_unread_subfolders(source, [before, after])
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
