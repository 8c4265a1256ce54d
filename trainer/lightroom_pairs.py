"""Training pairs from Lightroom develop settings: a catalog's favourites, or photos sent with their settings.

The settings are mapped into our sliders (:mod:`trainer.lrcat.favourites`) and rendered on each original by our
renderer; the pairs are then fitted as ``--pairs`` are (:func:`trainer.pair_fit._fitted`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.recipe import Recipe
from trainer.config import TrainConfig
from trainer.data.pairs import Pair
from trainer.pair_data import views_of
from trainer.pair_fit import _fitted
from trainer.pairing_notes import _record_left_out, _unreadable_pairs

if TYPE_CHECKING:
    from trainer.pair_fit import PairSet

log = logging.getLogger(__name__)


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
    whose original cannot be found, read or decoded also in the command's notes
    (:func:`trainer.pairing_notes._record_left_out`). ``deadline``: :func:`time.monotonic` time (s) the run ends,
    or ``None`` (:func:`trainer.pair_fit._fitted`).

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
    :func:`time.monotonic` time (s) the run ends, or ``None`` (:func:`trainer.pair_fit._fitted`).

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
    summary with those that cannot be decoded here, :func:`trainer.pairing_notes._record_left_out`). ``deadline``:
    :func:`time.monotonic` time (s) the run ends, or ``None`` (:func:`trainer.pair_fit._fitted`).
    """
    d = cfg.data
    if d.max_images > 0:
        edits = edits[: d.max_images]
    pairs = [Pair(e.name, e.original, e.original) for e in edits]
    views = views_of(cfg, pairs, renders=[e.values for e in edits])
    for message in views.skipped:
        log.warning("skipping a photo: %s", message)
    _record_left_out(source, learned_from, [*missing, *_unreadable_pairs(pairs, views, short=False)])
    kept = {p.name for p in views.pairs}

    ps = _fitted(cfg, views, sliders, 0, t0, source, deadline=deadline)
    ps.labels = [Recipe.from_settings(e.values).to_dict()["steps"] for e in edits if e.name in kept]
    return ps
