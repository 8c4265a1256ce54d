"""An expert's slider history from a Lightroom catalog as training targets (imitation, :mod:`trainer.imitation`).

:func:`load_expert_data` reads the catalog (read-only), maps each photo's history into our sliders, decodes the
photos and, optionally, fits each photo's final recipe through the renderer (pseudo-labels).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from backend.agent.thumbnail import PREVIEW_LONG_SIDE, make_thumbnail
from backend.errors import DecodeError, NotFoundError
from backend.recipe import SliderValue
from trainer.config import ImitationConfig
from trainer.lrcat import LIGHTROOM_DEFAULTS, ZEROED, LightroomCatalog, expert_settings, photo_recipe
from trainer.lrcat.history import MappedRecipe
from trainer.lrcat.records import Photo
from trainer.pseudo_labels import FitResult, StemIndex, fit_recipes, load_squeezed, pipeline_rank, resolve_photo

__all__ = ["ExpertData", "ExpertTarget", "expert_order", "load_expert_data", "resolve_photo"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpertTarget:
    """What the agent should do on one photo.

    Attributes:
        name: the catalog photo's base name.
        image_id: ``Adobe_images.id_local`` of the expert's copy.
        input_path: the input photo file.
        rendition_path: the expert's rendition, or ``None``.
        order: the sliders in target order (at most ``max_steps``).
        values: target value of each slider of ``order`` (catalog units).
        mapped: the PV2003-mapped values of the agent's sliders (the fit's start).
        ordered_by: ``"history"`` when the history placed at least one slider, else ``"pipeline"``.
        source: ``"pseudo-label"`` or ``"pv2003"`` (where ``values`` come from).
        fit: the pseudo-label fit, or ``None``.
        notes: what the mapping or the fit left out.
    """

    name: str
    image_id: int
    input_path: Path
    rendition_path: Path | None
    order: tuple[str, ...]
    values: dict[str, SliderValue]
    mapped: dict[str, SliderValue]
    ordered_by: str
    source: str
    fit: FitResult | None = None
    notes: tuple[str, ...] = ()


@dataclass
class ExpertData:
    """An expert's targets with the input thumbnails.

    Attributes:
        targets: one per usable photo.
        thumbs: ``(P, 3, T, T)`` float32 linear Rec.2020 input thumbnails (``T = agent.thumb``).
        summary: JSON-ready description (catalog, expert, counts, fit PSNRs) for the style metadata.
    """

    targets: list[ExpertTarget]
    thumbs: Tensor
    summary: dict[str, Any] = field(default_factory=dict)


def expert_order(
    sliders: Sequence[str], first_moved: Mapping[str, int], allowed: Sequence[str], max_steps: int
) -> tuple[tuple[str, ...], str]:
    """Target order of a photo's sliders (module docstring, point 2).

    Args:
        sliders: the recipe's sliders (any order).
        first_moved: slider -> index of the history step that first moved it.
        allowed: the agent's sliders; others are dropped.
        max_steps: cap on the length.

    Returns:
        (order, ``"history"`` or ``"pipeline"``).
    """
    keep = [s for s in dict.fromkeys(sliders) if s in allowed]
    order = sorted(keep, key=lambda s: (first_moved.get(s, math.inf), pipeline_rank(s)))
    by = "history" if any(s in first_moved for s in keep) else "pipeline"
    return tuple(order[:max_steps]), by


def _decode_input(path: Path, thumb: int, fit_size: int | None) -> tuple[Tensor, Tensor | None]:
    from backend.decode import decode_preview

    long_side = max(PREVIEW_LONG_SIDE, 2 * fit_size if fit_size else 0, thumb)
    image = decode_preview(path, long_side=long_side).image.float()
    return make_thumbnail(image, thumb), (make_thumbnail(image, fit_size) if fit_size else None)


def _fit_queued(queue: list[tuple[dict[str, Any], Tensor, Tensor]], icfg: ImitationConfig) -> None:
    """Fit the pseudo-labels of the queued ``(item, input, rendition)`` thumbnails into each item's ``"fit"``.

    The queue is emptied: the fit thumbnails are not kept.
    """
    if not queue:
        return
    results = fit_recipes(
        torch.cat([q[1] for q in queue]),
        torch.cat([q[2] for q in queue]),
        [q[0]["order"] for q in queue],
        [q[0]["mapped"] for q in queue],
        iters=icfg.fit_iters,
        lr=icfg.fit_lr,
    )
    for q, result in zip(queue, results, strict=True):
        q[0]["fit"] = result
    queue.clear()


def _expert_item(
    photo: Photo,
    source: Path,
    rendition: Path | None,
    thumb_image: Tensor,
    mapped: MappedRecipe,
    sliders: Sequence[str],
    max_steps: int,
    icfg: ImitationConfig,
) -> dict[str, Any]:
    """One expert photo's entry: its mapped agent-slider values and the order the agent is taught to set them in.

    With a rendition, the ``imitation.fit_extra`` sliders the expert left alone are added, to be fitted.
    """
    values = {s.slider: s.value for s in mapped.recipe.steps if s.slider in sliders}
    candidates = list(values)
    if rendition is not None:
        candidates += [s for s in icfg.fit_extra if s in sliders and s not in values]
    order, by = expert_order(candidates, mapped.first_moved, sliders, max_steps)
    return {
        "photo": photo,
        "input": source,
        "rendition": rendition,
        "thumb": thumb_image,
        "mapped": values,
        "order": order,
        "by": by,
        "notes": mapped.notes,
        "fit": None,
    }


def load_expert_data(
    catalog: str | Path,
    expert: str,
    *,
    sliders: Sequence[str],
    max_steps: int,
    thumb: int,
    icfg: ImitationConfig,
    photos: str | Path | None = None,
    renditions: str | Path | None = None,
) -> ExpertData:
    """Read an expert's photos, map (and fit) their targets and decode the input thumbnails.

    Args:
        catalog: the ``.lrcat`` file.
        expert: the expert's collection or copy name (``"A"`` .. ``"E"`` in FiveK).
        sliders: the agent's sliders.
        max_steps: the agent's step cap.
        thumb: thumbnail side of the agent.
        icfg: the ``[imitation]`` configuration.
        photos: fallback folder of input photos (stem rule).
        renditions: folder of the expert's renditions (stem rule); pseudo-labels are fitted for the photos found.

    Returns:
        :class:`ExpertData`.

    Raises:
        CatalogError: the expert cannot be found or a row cannot be read.
        NotFoundError: a folder is missing, or no photo of the expert could be found and decoded.
    """
    cat_path = Path(catalog)
    photo_index = StemIndex(photos) if photos is not None else None
    rendition_index = StemIndex(renditions) if renditions is not None else None
    fit_size = icfg.fit_size if rendition_index is not None else None
    baseline = ZEROED if icfg.baseline == "zeroed" else LIGHTROOM_DEFAULTS
    pending: list[dict[str, Any]] = []
    queue: list[tuple[dict[str, Any], Tensor, Tensor]] = []  # (photo, input, rendition) waiting for the fit
    skipped: list[str] = []

    with LightroomCatalog(cat_path) as cat:
        for photo, _settings, _history in expert_settings(cat, expert, with_history=True):
            if icfg.max_photos and len(pending) >= icfg.max_photos:
                break
            source = resolve_photo(photo.path, photo.base_name, cat_path.resolve().parent, photo_index)
            if source is None:
                skipped.append(f"{photo.base_name}: input photo not found")
                continue
            rendition = rendition_index.find(photo.base_name) if rendition_index is not None else None
            try:
                thumb_image, fit_image = _decode_input(source, thumb, fit_size if rendition is not None else None)
                fit_target = load_squeezed(rendition, fit_size)[0] if rendition is not None and fit_size else None
            except DecodeError as exc:
                skipped.append(f"{photo.base_name}: {exc}")
                continue
            mapped = photo_recipe(cat, photo, baseline=baseline, style=f"{cat_path.stem}-{expert}")
            item = _expert_item(photo, source, rendition, thumb_image, mapped, sliders, max_steps, icfg)
            pending.append(item)
            if fit_target is not None and fit_image is not None:
                queue.append((item, fit_image, fit_target))
                if len(queue) >= icfg.fit_batch:
                    _fit_queued(queue, icfg)
        _fit_queued(queue, icfg)
    for reason in skipped:
        log.warning("skipped %s", reason)
    if not pending:
        raise NotFoundError(f"{cat_path}: no usable photo of expert {expert!r} ({len(skipped)} skipped)")
    targets = [_target(p) for p in pending]
    summary = _summary(targets, cat_path, expert, len(skipped), renditions)
    return ExpertData(targets=targets, thumbs=torch.cat([p["thumb"] for p in pending]), summary=summary)


def _target(p: dict[str, Any]) -> ExpertTarget:
    """One collected photo as its :class:`ExpertTarget` (the fit's values where there is a fit)."""
    fit = p["fit"]
    values = fit.values if fit is not None else {s: p["mapped"][s] for s in p["order"]}
    return ExpertTarget(
        name=p["photo"].base_name,
        image_id=p["photo"].id,
        input_path=p["input"],
        rendition_path=p["rendition"],
        order=p["order"],
        values=values,
        mapped=p["mapped"],
        ordered_by=p["by"],
        source="pseudo-label" if fit is not None else "pv2003",
        fit=fit,
        notes=tuple(p["notes"]),
    )


def _summary(
    targets: list[ExpertTarget], cat_path: Path, expert: str, skipped: int, renditions: str | Path | None
) -> dict[str, Any]:
    """The ``summary`` of :class:`ExpertData` (counts and the fits' mean PSNRs)."""
    fitted = [t.fit for t in targets if t.fit is not None]

    def mean(xs: list[float]) -> float | None:
        return round(sum(xs) / len(xs), 3) if xs else None

    return {
        "mode": "imitation",
        "catalog": str(cat_path),
        "expert": expert,
        "photos": len(targets),
        "skipped": skipped,
        "targets": "pseudo-labels" if fitted else "pv2003",
        "pseudo_labels": len(fitted),
        "renditions": None if renditions is None else str(renditions),
        "ordered_by_history": sum(t.ordered_by == "history" for t in targets),
        "mean_steps": round(sum(len(t.order) for t in targets) / len(targets), 3),
        "fit_psnr": mean([f.psnr_fit for f in fitted]),
        "fit_psnr_pv2003": mean([f.psnr_init for f in fitted]),
        "fit_psnr_identity": mean([f.psnr_identity for f in fitted]),
    }
