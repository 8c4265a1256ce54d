"""Monochrome photos stay neutral: the moves that add colour are left out of their suggestions.

A style learnt on colour photos proposes white-balance and saturation moves for every photo; on a black-and-white
photo (a grayscale JPEG, or an RGB file whose channels are equal) they would give it a colour cast. So
:func:`backend.agent.suggest.suggest_for_image`, which every suggestion goes through (``suggest``, ``render``,
``apply``, ``catalog``, the daemon), asks :func:`is_near_neutral` about the photo and, for a near-neutral one,
passes each recipe through :func:`without_colour`.

Near-neutral: the 99.5th percentile of the CIELAB (D50) chroma ``sqrt(a*² + b*²)`` of the agent's 64 x 64
thumbnail (linear Rec.2020, clamped to [0, 1]) lies below :data:`NEUTRAL_CHROMA` = 2, measured after the
thumbnail is brightened so that its 99th-percentile luminance is 0.5 (a gain of 1 to 64): chroma is absolute, so
an underexposed colour photo would otherwise measure near 0, and a small coloured object (a red sign on a grey
wall: some 20 thumbnail pixels) would fall under a lower percentile, while a higher one would take a few
coloured dust specks on a black-and-white scan, or a dark scan's per-channel noise made visible by the gain, for
colour. A decoded grayscale photo measures 0; a toned print (sepia, selenium, cyanotype) measures well above 2
and keeps its colour moves, as do all colour photos. A raw shot in a camera's monochrome mode counts as
monochrome too: its embedded preview, which the agent sees, is gray, so the agent could not read any colour off
it anyway.

Left out: :data:`COLOUR_SLIDERS` (temperature, tint, vibrance, saturation and the per-channel ``rgb_curves``)
and the hue and saturation columns of ``hsl``. Kept: the luminance moves (exposure, contrast, highlights,
shadows, whites, blacks, clarity, tone_curve, hsl luminance, black_and_white, sharpen, vignette).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from backend.recipe import Recipe, Step
from backend.render.color import rec2020_to_lab

__all__ = ["COLOUR_SLIDERS", "NEUTRAL_CHROMA", "NEUTRAL_QUANTILE", "is_near_neutral", "without_colour"]

#: A photo is near-neutral when this quantile of its (brightened) thumbnail's CIELAB chroma ...
NEUTRAL_QUANTILE = 0.995
#: ... lies below this chroma (CIELAB units; about the smallest tint an eye notices on a gray print).
NEUTRAL_CHROMA = 2.0
#: Sliders that only move colour; left out of a near-neutral photo's recipe.
COLOUR_SLIDERS = frozenset({"temperature", "tint", "vibrance", "saturation", "rgb_curves"})
#: The thumbnail is brightened so that this quantile of its luminance ...
_BRIGHT_QUANTILE = 0.99
#: ... reaches this linear luminance, by a gain of at most :data:`_MAX_GAIN` (never darkened).
_BRIGHT_TARGET = 0.5
_MAX_GAIN = 64.0
#: Rec.2020 luminance weights (ITU-R BT.2020).
_LUMA = (0.2627, 0.6780, 0.0593)
_HSL_LUMINANCE = 2  # the column of the hsl slider's (8, 3) value that is kept (hue 0 and saturation 1 go)


def is_near_neutral(thumb: Tensor) -> bool:
    """Whether a photo is monochrome: its brightened thumbnail's 99.5th-percentile CIELAB chroma is below 2.

    Args:
        thumb: ``(N, 3, H, W)`` linear Rec.2020, the agent's thumbnail of one photo (all pixels are pooled).

    Returns:
        True for a black-and-white photo (equal channels give chroma 0), False for a colour or toned one.

    Example:
        >>> warm = torch.tensor([0.2, 0.18, 0.1]).view(1, 3, 1, 1)
        >>> is_near_neutral(torch.full((1, 3, 4, 4), 0.18)), is_near_neutral(warm)
        (True, False)
    """
    rgb = thumb.float().clamp(0.0, 1.0)
    luma = (rgb * torch.tensor(_LUMA).view(1, 3, 1, 1)).sum(dim=1).flatten()
    bright = float(torch.quantile(luma, _BRIGHT_QUANTILE))
    gain = min(_MAX_GAIN, _BRIGHT_TARGET / bright) if bright > 0 else _MAX_GAIN
    lab = rec2020_to_lab((rgb * max(1.0, gain)).clamp(0.0, 1.0))
    chroma = torch.hypot(lab[:, 1], lab[:, 2]).flatten()
    return bool(torch.quantile(chroma, NEUTRAL_QUANTILE) < NEUTRAL_CHROMA)


def without_colour(recipe: Recipe) -> Recipe:
    """``recipe`` less the moves that add colour: :data:`COLOUR_SLIDERS` and hsl's hue and saturation columns.

    The other steps keep their values and order; an hsl step left with only zeros is dropped; the provenance
    (style, strength, model) is kept.
    """
    steps: list[Step] = []
    for step in recipe.steps:
        if step.slider in COLOUR_SLIDERS:
            continue
        if step.slider == "hsl":
            rows: tuple[tuple[float, ...], ...] = step.value  # type: ignore[assignment]
            step = Step("hsl", tuple(tuple(v if c == _HSL_LUMINANCE else 0.0 for c, v in enumerate(r)) for r in rows))
            if step.is_identity():
                continue
        steps.append(step)
    return dataclasses.replace(recipe, steps=tuple(steps))
