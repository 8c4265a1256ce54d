"""What ``suggest`` prints for a photo: its recipes as readable lines, or one JSON row.

Shared by the in-process command and ``suggest --server`` (:mod:`backend.cli.remote`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backend.cli.printable import printable
from backend.recipe import Recipe
from backend.sliders.catalog import HSL_COLOURS, get_slider

__all__ = ["format_recipe", "format_value", "print_suggestions"]


def _format_number(x: float, decimals: int) -> str:
    return f"{x:+.{decimals}f}"


def format_value(slider: str, value: Any) -> str:
    """Human form of one slider value (sign and unit for scalars; rows for curves and HSL)."""
    spec = get_slider(slider)
    if spec.is_scalar:
        if spec.unit == "EV":
            return f"{_format_number(value, 2)} EV"
        return _format_number(value, 1)
    if spec.name == "hsl":
        rows = [
            f"{colour} h{_format_number(h, 0)} s{_format_number(s, 0)} l{_format_number(lum, 0)}"
            for colour, (h, s, lum) in zip(HSL_COLOURS, value, strict=True)
            if (h, s, lum) != (0.0, 0.0, 0.0)
        ]
        return ", ".join(rows) or "(no change)"
    rows = [value] if len(spec.shape) == 1 else list(value)
    return " | ".join(" ".join(f"{y:.3f}" for y in row) for row in rows)


def format_recipe(recipe: Recipe, indent: str = "  ") -> list[str]:
    """Lines of text for one recipe (``(no change)`` when empty)."""
    if not recipe.steps:
        return [f"{indent}(no change)"]
    width = max(len(s.slider) for s in recipe.steps)
    return [f"{indent}{s.slider:<{width}}  {format_value(s.slider, s.value)}" for s in recipe.steps]


def print_suggestions(
    photo: Path,
    recipes: list[Recipe],
    label: str,
    strength: float,
    *,
    as_json: bool,
    dtstyles: list[Path] | None = None,
) -> None:
    """Print one photo's recipes: a JSON row, or the readable listing (variants numbered).

    ``dtstyles`` (``suggest --dtstyle``): each recipe's ``.dtstyle`` file, a ``"dtstyle"`` field of its recipe
    in JSON, a ``dtstyle: PATH`` line in text. Names in text are :func:`~backend.cli.printable.printable`.
    """
    if as_json:
        recipe_rows = [r.to_dict() for r in recipes]
        for row_k, path in zip(recipe_rows, dtstyles or [], strict=False):
            row_k["dtstyle"] = str(path)
        row = {"photo": str(photo), "ok": True, "recipes": recipe_rows, "style": label, "strength": strength}
        print(json.dumps(row), flush=True)
        return
    print(f"{printable(photo)}  (style {printable(label)}, strength {strength:g})")
    for k, recipe in enumerate(recipes):
        if len(recipes) > 1:
            print(f"  variant {k + 1}{' (deterministic)' if k == 0 else ''}:")
        indent = "    " if len(recipes) > 1 else "  "
        print("\n".join(format_recipe(recipe, indent)), flush=True)
        if dtstyles:
            print(f"{indent}dtstyle: {printable(dtstyles[k])}", flush=True)
