"""A recipe that moves every slider of the catalog, for translator round trips in tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from backend.recipe import Recipe

__all__ = ["every_slider_recipe"]


def every_slider_recipe(*, without: Sequence[str] = ()) -> Recipe:
    """Every slider at a non-identity value (HSL luminance in half steps), minus the sliders in ``without``."""
    recipe = Recipe.from_dict(
        {
            "version": 1,
            "steps": [
                {"slider": "exposure", "value": 0.6},
                {"slider": "contrast", "value": 10},
                {"slider": "highlights", "value": -55},
                {"slider": "shadows", "value": 30},
                {"slider": "whites", "value": 8},
                {"slider": "blacks", "value": -12},
                {"slider": "clarity", "value": 6},
                {"slider": "vibrance", "value": 12},
                {"slider": "saturation", "value": -3},
                {"slider": "temperature", "value": -20},
                {"slider": "tint", "value": 4},
                {"slider": "tone_curve", "value": [0.0, 0.02, 0.08, 0.2, 0.42, 0.7, 1.0]},
                {"slider": "rgb_curves", "value": [[0.0, 0.03, 0.1, 0.22, 0.4, 0.7, 1.0]] * 3},
                {"slider": "hsl", "value": [[i, -i, i / 2] for i in range(1, 9)]},
                {"slider": "black_and_white", "value": 20},
                {"slider": "sharpen", "value": 40},
                {"slider": "vignette", "value": -15},
            ],
            "style": "everything",
        }
    )
    return Recipe(tuple(s for s in recipe.steps if s.slider not in without), style=recipe.style)


def write_exposure_recipe(path: Path, value: float = 0.4) -> Path:
    """Write a one-step recipe file (``--recipe``): exposure ``value`` EV.

    Args:
        path: the ``.json`` file to write.
        value: the exposure, EV.

    Returns:
        ``path``.
    """
    path.write_text(json.dumps({"version": 1, "steps": [{"slider": "exposure", "value": value}]}))
    return path
