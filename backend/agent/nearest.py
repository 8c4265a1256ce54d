"""The "nearest edits" baseline: the settings of the most similar training photos, averaged in slider space.

This is what a simple "learn from my edits" tool does (find the saved edits whose photos look most like this
one and average their sliders), and the bar a learned style from the same pairs has to clear. A style trained
from the photographer's own edits (``train --pairs``, ``--lrcat --favourites``, ``--darktable``) stores its
training photos' recipes and image descriptors as ``examples`` in its metadata; for a new photo:

1. its descriptor is :func:`backend.agent.look.example_features` (look statistics of the whole frame);
2. distance to each example: Euclidean, after dividing every descriptor column by its standard deviation over
   the examples (floored at 0.05, so a column on which all examples agree cannot dominate);
3. the ``k`` nearest examples' recipes (``k`` stored with the style, at most the number of examples) are
   averaged slider by slider (:func:`backend.recipe.blend`), each weighted by its pair's fit weight.

Such a style's suggestion mixes its agent's recipe with its examples' (``examples.blend``, that recipe's share,
:func:`blend_share`; :func:`mix_recipe`): 0.5 by default, where on the development split of the FiveK benchmark
the mix was better than either alone; the trainer's cross-fitted check picks another share where it wins clearly
(1 for a look that is the same on every photo; README, "Learning from your own edits"). The mixed recipe averages
``examples.mix_k`` nearest examples; 0 (or at least as many as there are) means all of them: their weighted
median edit (``examples.mix_centre = "median"``, the default of new styles) or mean edit (``"mean"``, or no
``mix_centre``: styles trained before it existed); styles from before ``mix_k`` existed mix the ``k`` nearest.
``autoretouch eval`` reports the ``k``-nearest baseline alone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from backend.errors import AutoretouchError
from backend.recipe import RECIPE_VERSION, Recipe, blend, median

__all__ = ["MIX_CENTRES", "NEAREST_STYLE", "blend_share", "has_examples", "mix_recipe", "nearest_recipe"]

#: ``style`` of the baseline's recipes.
NEAREST_STYLE = "nearest"
#: How :func:`mix_recipe` combines all the examples (``examples.mix_centre``; ``"mean"`` when absent).
MIX_CENTRES = ("mean", "median")
_SD_FLOOR = 0.05


def has_examples(examples: Any) -> bool:
    """Whether a style's ``examples`` metadata can drive the baseline."""
    return isinstance(examples, dict) and bool(examples.get("recipes")) and bool(examples.get("features"))


def blend_share(examples: Any) -> float:
    """The nearest recipe's share in a style's suggestion (``examples.blend`` in [0, 1]; 0 without examples)."""
    if not has_examples(examples):
        return 0.0
    share = examples.get("blend", 0.0)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 <= share <= 1.0:
        raise AutoretouchError(f"the style's examples.blend must be a number in [0, 1], got {share!r}")
    return float(share)


@dataclass(frozen=True)
class _Parsed:
    """A style's examples, validated once: descriptors, their column scales, recipes, weights, ``k``."""

    feats: Tensor
    scale: Tensor
    recipes: list[Recipe]
    weights: list[float]
    k: int

    @functools.cached_property
    def mean(self) -> Recipe:
        """Every example's recipe averaged, weighted by its fit weight (the mean edit; the same for every photo)."""
        return blend(self.recipes, [max(w, 1e-3) for w in self.weights], style=NEAREST_STYLE)

    @functools.cached_property
    def median(self) -> Recipe:
        """Every example's recipe, slider by slider the weighted median (the median edit; the same for every photo)."""
        return median(self.recipes, [max(w, 1e-3) for w in self.weights], style=NEAREST_STYLE)


#: Parsed examples by ``id`` of the metadata object (kept with it, so an id is never reused while cached).
_PARSED: dict[int, tuple[dict[str, Any], _Parsed]] = {}
_PARSED_MAX = 16


def _parse(examples: dict[str, Any]) -> _Parsed:
    """Validate and convert a style's examples (see :func:`nearest_recipe`); cached per metadata object."""
    hit = _PARSED.get(id(examples))
    if hit is not None and hit[0] is examples:
        return hit[1]
    try:
        feats = torch.tensor(examples["features"], dtype=torch.float32)
        recipes = [
            Recipe.from_dict({"version": RECIPE_VERSION, "steps": steps}, source="style examples")
            for steps in examples["recipes"]
        ]
        weights = [float(w) for w in examples.get("weights") or [1.0] * len(recipes)]
        k = int(examples.get("k", 5))
    except (KeyError, TypeError, ValueError) as exc:
        raise AutoretouchError(f"the style's nearest-edits examples are malformed ({exc})") from None
    if feats.ndim != 2 or feats.shape[0] != len(recipes) or len(weights) != len(recipes) or k < 1:
        raise AutoretouchError("the style's nearest-edits examples are malformed (counts disagree)")
    scale = feats.std(dim=0, unbiased=False).clamp_min(_SD_FLOOR) if feats.shape[0] > 1 else torch.ones(feats.shape[1])
    parsed = _Parsed(feats, scale, recipes, weights, k)
    if len(_PARSED) >= _PARSED_MAX:
        oldest = next(iter(_PARSED), None)  # None: another thread emptied it meanwhile
        if oldest is not None:
            _PARSED.pop(oldest, None)  # another thread may have evicted it first
    _PARSED[id(examples)] = (examples, parsed)
    return parsed


def nearest_recipe(examples: dict[str, Any], image: Tensor, k: int | None = None) -> Recipe:
    """The nearest-edits recipe for one photo.

    Args:
        examples: a style's ``examples`` metadata (``features``, ``recipes``, optional ``weights`` and ``k``);
            validated and converted once per metadata object.
        image: ``(1, 3, H, W)`` linear Rec.2020 (any size; a 512 px preview is plenty).
        k: number of neighbours (default: the style's ``k``, else 5).

    Returns:
        The weighted mean of the neighbours' recipes, ``style = "nearest"``.

    Raises:
        AutoretouchError: the examples are malformed, or ``k`` < 1.
    """
    from backend.agent.look import example_features

    ex = _parse(examples)
    k = ex.k if k is None else int(k)
    if k < 1:
        raise AutoretouchError(f"the number of nearest edits must be at least 1, got {k}")
    query = example_features(image)[0]
    dist = (((ex.feats - query) / ex.scale) ** 2).sum(dim=1)
    picked = dist.argsort()[: min(k, len(ex.recipes))].tolist()
    return blend([ex.recipes[i] for i in picked], [max(ex.weights[i], 1e-3) for i in picked], style=NEAREST_STYLE)


def mix_recipe(examples: dict[str, Any], image: Tensor) -> Recipe:
    """The examples' recipe that a style's suggestion mixes with its agent's (share :func:`blend_share`).

    Args:
        examples: a style's ``examples`` metadata; ``mix_k`` (an integer >= 0) is how many nearest examples are
            averaged; 0 (or at least the number of examples) means all of them, combined as ``mix_centre``
            says: ``"median"`` (slider by slider the fit-weighted median edit) or ``"mean"`` (the fit-weighted
            mean edit; also without ``mix_centre``), the same for every photo; without ``mix_k`` the style's
            ``k`` nearest (styles trained before ``mix_k`` existed).
        image: ``(1, 3, H, W)`` linear Rec.2020 (any size; a 512 px preview is plenty).

    Returns:
        That recipe, ``style = "nearest"``.

    Raises:
        AutoretouchError: the examples are malformed, ``mix_k`` is not an integer >= 0 or ``mix_centre`` is
            neither ``"mean"`` nor ``"median"``.
    """
    mix_k = examples.get("mix_k")
    if mix_k is None:
        return nearest_recipe(examples, image)
    if isinstance(mix_k, bool) or not isinstance(mix_k, int) or mix_k < 0:
        raise AutoretouchError(f"the style's examples.mix_k must be an integer >= 0, got {mix_k!r}")
    centre = examples.get("mix_centre", "mean")
    if centre not in MIX_CENTRES:
        raise AutoretouchError(f"the style's examples.mix_centre must be one of {list(MIX_CENTRES)}, got {centre!r}")
    ex = _parse(examples)
    if mix_k and mix_k < len(ex.recipes):
        return nearest_recipe(examples, image, k=mix_k)
    return ex.median if centre == "median" else ex.mean  # worked out once per parsed metadata object
