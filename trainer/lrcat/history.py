"""Recipes from Lightroom settings, with the step order the develop history shows.

Imitation learning trains on the order in which a photographer reached for the sliders, so a recipe's
step order comes from the history when it can:

1. Every history step with settings text is mapped to slider values (:func:`~trainer.lrcat.pv2003.map_settings`,
   same as-shot white balance and baseline as the final settings). A slider *moves* at a step when its
   value differs (by more than ``tolerance`` in any element) from its value after the previous step; before
   the first step every slider is at its identity, so values set at import (a default Medium Contrast
   curve, default sharpening) move at step 0.
2. A step without text is matched by its name (``"Exposure"``, ``"Fill Light"``, ``"Tone Curve"``, ...;
   :data:`STEP_NAME_SLIDERS`) to the sliders it moves.
3. The recipe holds the *final* settings' non-identity sliders, ordered by the index of the step that
   first moved them; ties, and sliders the history never shows moving, follow
   :data:`~trainer.lrcat.pv2003.CANONICAL_ORDER` (Lightroom's panel order), the latter after all the
   others. With no usable history the order is the canonical one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backend.recipe import Recipe, SliderValue
from backend.sliders.catalog import get_slider
from trainer.lrcat.pv2003 import CANONICAL_ORDER, LIGHTROOM_DEFAULTS, LegacyBaseline, map_settings
from trainer.lrcat.reader import AS_SHOT, LightroomCatalog
from trainer.lrcat.records import AsShotWhiteBalance, HistoryStep, Photo

__all__ = ["STEP_NAME_SLIDERS", "MappedRecipe", "photo_recipe", "settings_to_recipe", "slider_moves"]

#: Lightroom history-step names (lower case, value stripped) -> the sliders such a step moves.
STEP_NAME_SLIDERS: dict[str, tuple[str, ...]] = {
    "exposure": ("exposure",),
    "contrast": ("contrast",),
    "brightness": ("tone_curve",),
    "recovery": ("highlights",),
    "highlight recovery": ("highlights",),
    "highlights": ("highlights",),
    "fill light": ("shadows",),
    "shadows": ("shadows",),
    "whites": ("whites",),
    "blacks": ("blacks",),
    "clarity": ("clarity",),
    "vibrance": ("vibrance",),
    "saturation": ("saturation",),
    "temperature": ("temperature",),
    "tint": ("tint",),
    "white balance": ("temperature", "tint"),
    "tone curve": ("tone_curve",),
    "point curve": ("tone_curve",),
    "sharpening": ("sharpen",),
    "sharpness": ("sharpen",),
    "post-crop vignetting": ("vignette",),
    "vignette": ("vignette",),
    "convert to grayscale": ("black_and_white",),
    "convert to black & white": ("black_and_white",),
}
_STEP_NAME = re.compile(r"[A-Za-z][A-Za-z &/-]*")


@dataclass(frozen=True)
class MappedRecipe:
    """A recipe mapped from Lightroom settings.

    Attributes:
        recipe: the steps (non-identity sliders, clamped), ordered as the module docstring says.
        process: ``"PV2003"``, ``"PV2010"`` or ``"PV2012"`` of the final settings.
        notes: what the mapping left out, clamped or could not map.
        ordered_by: ``"history"`` when at least one step's position comes from the history, else
            ``"canonical"``.
        first_moved: slider -> index (into the history) of the step that first moved it, for the recipe's
            sliders the history shows moving.
    """

    recipe: Recipe
    process: str
    notes: tuple[str, ...]
    ordered_by: str
    first_moved: dict[str, int]


def _flat(value: SliderValue) -> list[float]:
    if isinstance(value, tuple):
        return [x for v in value for x in _flat(v)]
    return [float(value)]


def _identity(name: str) -> SliderValue:
    identity = get_slider(name).identity
    return identity if isinstance(identity, tuple) else float(identity)


def _differs(a: SliderValue, b: SliderValue, tolerance: float) -> bool:
    return any(abs(x - y) > tolerance for x, y in zip(_flat(a), _flat(b), strict=True))


def step_name_sliders(name: str) -> tuple[str, ...]:
    """The sliders a history step moves, judged by its name alone (``()`` when the name is not known)."""
    m = _STEP_NAME.match(name.strip())
    if m is None:
        return ()
    return STEP_NAME_SLIDERS.get(m.group().strip(" -").lower(), ())


def slider_moves(
    history: Sequence[HistoryStep],
    *,
    as_shot: AsShotWhiteBalance | None = None,
    baseline: LegacyBaseline = LIGHTROOM_DEFAULTS,
    tolerance: float = 1e-6,
) -> dict[str, int]:
    """Index of the history step that first moved each slider (module docstring, points 1 and 2).

    Args:
        history: the photo's history steps, oldest first.
        as_shot: the photo's as-shot white balance (to map absolute Temperature/Tint).
        baseline: legacy baseline, as for the final settings.
        tolerance: smallest change (slider units, any element) that counts as a move.

    Returns:
        slider name -> step index, for the sliders the history shows moving.
    """
    previous: dict[str, SliderValue] = {}
    first: dict[str, int] = {}
    for index, step in enumerate(history):
        if step.settings:
            current = map_settings(step.settings, as_shot=as_shot, baseline=baseline).values
            for name, value in current.items():
                if name not in first and _differs(value, previous.get(name, _identity(name)), tolerance):
                    first[name] = index
            previous.update(current)
        else:
            for name in step_name_sliders(step.name):
                first.setdefault(name, index)
    return first


def settings_to_recipe(
    settings: Mapping[str, Any],
    history: Sequence[HistoryStep] = (),
    *,
    as_shot: AsShotWhiteBalance | None = None,
    baseline: LegacyBaseline = LIGHTROOM_DEFAULTS,
    style: str | None = None,
    model: str | None = None,
    tolerance: float = 1e-6,
) -> MappedRecipe:
    """Map final settings to a :class:`~backend.recipe.Recipe`, ordered by the history.

    Args:
        settings: the photo's current develop settings.
        history: its history steps, oldest first (may be empty).
        as_shot: the photo's as-shot white balance (else absolute Temperature/Tint are left out).
        baseline: legacy values that mean "no change" (:mod:`trainer.lrcat.pv2003`).
        style: provenance name for the recipe (e.g. ``"fivek-C"``).
        model: provenance model string.
        tolerance: smallest change that counts as a move in the history.

    Returns:
        The recipe with its notes and how it was ordered.
    """
    mapped = map_settings(settings, as_shot=as_shot, baseline=baseline)
    first = slider_moves(history, as_shot=as_shot, baseline=baseline, tolerance=tolerance)
    rank = {name: i for i, name in enumerate(CANONICAL_ORDER)}
    names = sorted(mapped.values, key=lambda n: (first.get(n, math.inf), rank[n]))
    recipe = Recipe.from_settings({n: mapped.values[n] for n in names}, style=style, model=model)
    moved = {s.slider: first[s.slider] for s in recipe.steps if s.slider in first}
    return MappedRecipe(recipe, mapped.process, mapped.notes, "history" if moved else "canonical", moved)


def _needs_as_shot(settings: Mapping[str, Any]) -> bool:
    """Whether mapping these settings needs the as-shot white balance (an absolute, non-as-shot WB)."""
    keys = get_slider("temperature").lightroom.keys
    if len(keys) > 1 and keys[1] in settings:
        return False
    if settings.get("WhiteBalance") == AS_SHOT:
        return False
    return keys[0] in settings or "CustomTemperature" in settings


def photo_recipe(
    catalog: LightroomCatalog,
    photo: Photo,
    *,
    baseline: LegacyBaseline = LIGHTROOM_DEFAULTS,
    style: str | None = None,
    model: str | None = None,
) -> MappedRecipe:
    """:func:`settings_to_recipe` for a catalog photo, finding its as-shot white balance in the catalog.

    The history is the photo's own (read it with ``with_history=True``); the as-shot white balance comes
    from :meth:`~trainer.lrcat.reader.LightroomCatalog.as_shot_white_balance` when the settings need it.
    """
    needs = _needs_as_shot(photo.settings) or any(_needs_as_shot(s.settings) for s in photo.history)
    as_shot = catalog.as_shot_white_balance(photo) if needs else None
    return settings_to_recipe(
        photo.settings, photo.history, as_shot=as_shot, baseline=baseline, style=style, model=model
    )
