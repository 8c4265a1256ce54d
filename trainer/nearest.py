"""The "nearest edits" baseline: the settings of the most similar training photos, averaged in slider space.

This is what a simple "learn from my edits" tool does (find the saved edits whose photos look most like this
one and average their sliders), and the bar a learned style from the same pairs has to clear. A style trained
with ``--pairs`` stores its training photos' fitted recipes and image descriptors as ``examples``
(:mod:`trainer.restore_pairs`); for a new photo:

1. its descriptor is :func:`trainer.restore_pairs.example_features` (look statistics of the whole frame);
2. distance to each example: Euclidean, after dividing every descriptor column by its standard deviation over
   the examples (floored at 0.05, so a column on which all examples agree cannot dominate);
3. the ``k`` nearest examples' recipes (``k`` stored with the style, at most the number of examples) are
   averaged slider by slider (:func:`backend.recipe.blend`), each weighted by its pair's fit weight.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from backend.errors import AutoretouchError
from backend.recipe import RECIPE_VERSION, Recipe, blend

__all__ = ["NEAREST_STYLE", "has_examples", "nearest_recipe"]

#: ``style`` of the baseline's recipes.
NEAREST_STYLE = "nearest"
_SD_FLOOR = 0.05


def has_examples(examples: Any) -> bool:
    """Whether a style's ``examples`` metadata can drive the baseline."""
    return isinstance(examples, dict) and bool(examples.get("recipes")) and bool(examples.get("features"))


def nearest_recipe(examples: dict[str, Any], image: Tensor, k: int | None = None) -> Recipe:
    """The nearest-edits recipe for one photo.

    Args:
        examples: a style's ``examples`` metadata (``features``, ``recipes``, optional ``weights`` and ``k``).
        image: ``(1, 3, H, W)`` linear Rec.2020 (any size; a 512 px preview is plenty).
        k: number of neighbours (default: the style's ``k``, else 5).

    Returns:
        The weighted mean of the neighbours' recipes, ``style = "nearest"``.

    Raises:
        AutoretouchError: the examples are malformed.
    """
    from trainer.restore_pairs import example_features

    try:
        feats = torch.tensor(examples["features"], dtype=torch.float32)
        recipes = [
            Recipe.from_dict({"version": RECIPE_VERSION, "steps": steps}, source="style examples")
            for steps in examples["recipes"]
        ]
        weights = [float(w) for w in examples.get("weights") or [1.0] * len(recipes)]
        k = int(k if k is not None else examples.get("k", 5))
    except (KeyError, TypeError, ValueError) as exc:
        raise AutoretouchError(f"the style's nearest-edits examples are malformed ({exc})") from None
    if feats.ndim != 2 or feats.shape[0] != len(recipes) or len(weights) != len(recipes) or k < 1:
        raise AutoretouchError("the style's nearest-edits examples are malformed (counts disagree)")
    query = example_features(image)[0]
    sd = feats.std(dim=0, unbiased=False).clamp_min(_SD_FLOOR) if feats.shape[0] > 1 else torch.ones(feats.shape[1])
    dist = (((feats - query) / sd) ** 2).sum(dim=1)
    picked = dist.argsort()[: min(k, len(recipes))].tolist()
    return blend([recipes[i] for i in picked], [max(weights[i], 1e-3) for i in picked], style=NEAREST_STYLE)
