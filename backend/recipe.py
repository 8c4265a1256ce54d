"""Recipes: the interchange format of autoretouch (CLI, daemon, sidecar provenance, plugins).

A recipe is an ordered list of steps ``{"slider": NAME, "value": V}`` plus provenance::

    {"version": 1,
     "steps": [{"slider": "exposure", "value": 0.4}, {"slider": "contrast", "value": 20}],
     "style": "default", "strength": 1.0, "model": "default@1"}

Semantics:
    * Each slider appears at most once; its value is absolute in the slider's unit (catalog), like a
      host editor's slider position. Step order records the agent's decisions; rendering and host
      translation apply the sliders in the fixed pipeline order (``catalog.STAGE_ORDER``), as both hosts do.
    * ``strength`` is provenance: the strength α already applied to the values. :func:`scale` applies a
      further α ∈ [0, 1] exactly in slider space: ``v' = identity + α (v - identity)``.
    * :func:`merge` lays one recipe over another (the later one wins per slider);
      :func:`blend` mixes several recipes with weights in slider space (style mixing).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from backend.errors import InvalidRecipeError, NotFoundError, UnknownSliderError
from backend.sliders.catalog import SliderSpec, get_slider

__all__ = [
    "RECIPE_VERSION",
    "Recipe",
    "SliderValue",
    "Step",
    "blend",
    "check_strength",
    "check_weights",
    "freeze_value",
    "load_recipe",
    "median",
    "merge",
    "render_recipe",
    "scale",
]

RECIPE_VERSION = 1

#: A slider value: a float, or nested tuples of floats with the slider's shape.
SliderValue = float | tuple[Any, ...]

_ABS_TOL = 1e-9


def freeze_value(value: Any) -> SliderValue:
    """Nested lists/tuples/tensors -> nested tuples of floats (hashable, immutable)."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().tolist()
    if isinstance(value, list | tuple):
        return tuple(freeze_value(v) for v in value)
    return float(value)


def _shape_of(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, bool) or value is None or isinstance(value, str | dict):
        raise InvalidRecipeError(f"{where}: value must be a number or a list of numbers, got {value!r}")
    if isinstance(value, int | float):
        return ()
    if isinstance(value, list | tuple):
        if not value:
            raise InvalidRecipeError(f"{where}: value is an empty list")
        inner = [_shape_of(v, where) for v in value]
        if any(s != inner[0] for s in inner):
            raise InvalidRecipeError(f"{where}: ragged list (rows of different lengths)")
        return (len(value), *inner[0])
    raise InvalidRecipeError(f"{where}: value must be a number or a list of numbers, got {type(value).__name__}")


def _flat(value: SliderValue) -> list[float]:
    if isinstance(value, tuple):
        return [x for v in value for x in _flat(v)]
    return [value]


def _unflat(flat: Sequence[float], shape: tuple[int, ...]) -> SliderValue:
    if not shape:
        return float(flat[0])
    step = math.prod(shape[1:]) if len(shape) > 1 else 1
    return tuple(_unflat(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0]))


def _catalog_slider(name: str, where: str) -> SliderSpec:
    """The catalog row of slider ``name``.

    Raises:
        UnknownSliderError: no such slider; the message starts with ``where`` (the recipe file and step).
    """
    try:
        return get_slider(name)
    except UnknownSliderError as exc:
        exc.args = (f"{where}: {exc}",)  # the same error (and its ``name``), naming where the slider was found
        raise


def _validate_value(spec: SliderSpec, raw: Any, where: str) -> SliderValue:
    shape = _shape_of(raw, where)
    if shape != spec.shape:
        raise InvalidRecipeError(f"{where}: slider {spec.name!r} needs a value of shape {spec.shape}, got {shape}")
    value = freeze_value(raw)
    flat = _flat(value)
    for x in flat:
        if not math.isfinite(x):
            raise InvalidRecipeError(f"{where}: slider {spec.name!r} has a non-finite value {x}")
        if x < spec.minimum - _ABS_TOL or x > spec.maximum + _ABS_TOL:
            raise InvalidRecipeError(
                f"{where}: slider {spec.name!r} value {x:g} is outside its range {spec.minimum:g}..{spec.maximum:g}"
            )
    if spec.monotone_curve:
        rows = [flat] if len(spec.shape) == 1 else [list(_flat(r)) for r in value]  # type: ignore[union-attr]
        for row in rows:
            if any(b < a - _ABS_TOL for a, b in itertools.pairwise(row)):
                raise InvalidRecipeError(f"{where}: curve {spec.name!r} must be non-decreasing, got {row}")
    return value


@dataclass(frozen=True)
class Step:
    """One editing move: a slider and its absolute value (catalog units)."""

    slider: str
    value: SliderValue

    @property
    def spec(self) -> SliderSpec:
        """The catalog row of this step's slider."""
        return get_slider(self.slider)

    def is_identity(self) -> bool:
        """Whether the value equals the slider's identity (within 1e-9)."""
        ident = _flat(freeze_value(self.spec.identity))
        return all(abs(a - b) <= _ABS_TOL for a, b in zip(_flat(self.value), ident, strict=True))


@dataclass(frozen=True)
class Recipe:
    """An ordered list of slider steps plus provenance.

    Attributes:
        steps: the moves, at most one per slider, values already scaled by ``strength``.
        style: name of the style that produced the recipe, if any.
        strength: α ∈ [0, 1] already applied to the values (provenance; 1.0 = full style).
        model: model/style version string, if any.
    """

    steps: tuple[Step, ...] = ()
    style: str | None = None
    strength: float = 1.0
    model: str | None = None

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for i, step in enumerate(self.steps):
            where = f"step {i}"
            spec = get_slider(step.slider)
            object.__setattr__(step, "value", _validate_value(spec, step.value, where))
            if step.slider in seen:
                raise InvalidRecipeError(f"{where}: slider {step.slider!r} appears twice; a recipe sets it once")
            seen.add(step.slider)
        check_strength(self.strength)

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "recipe") -> Recipe:
        """Build and validate a recipe from parsed JSON.

        Raises:
            InvalidRecipeError: wrong version, wrong structure, unknown slider (``UnknownSliderError``),
                value of the wrong shape, out of range, non-monotone curve, duplicate slider.
        """
        if not isinstance(data, dict):
            raise InvalidRecipeError(f"{source}: a recipe is a JSON object, got {type(data).__name__}")
        unknown = set(data) - {"version", "steps", "style", "strength", "model"}
        if unknown:
            raise InvalidRecipeError(f"{source}: unknown recipe keys {sorted(unknown)}")
        if data.get("version") != RECIPE_VERSION:
            raise InvalidRecipeError(f"{source}: unsupported recipe version {data.get('version')!r} (expected 1)")
        raw_steps = data.get("steps")
        if not isinstance(raw_steps, list):
            raise InvalidRecipeError(f"{source}: 'steps' must be a list")
        steps: list[Step] = []
        for i, raw in enumerate(raw_steps):
            where = f"{source}: step {i}"
            if not isinstance(raw, dict) or set(raw) != {"slider", "value"}:
                raise InvalidRecipeError(f"{where} must be an object with exactly 'slider' and 'value'")
            if not isinstance(raw["slider"], str):
                raise InvalidRecipeError(f"{where}: 'slider' must be a string")
            spec = _catalog_slider(raw["slider"], where)
            if any(s.slider == spec.name for s in steps):
                raise InvalidRecipeError(f"{where}: slider {spec.name!r} appears twice; a recipe sets it once")
            steps.append(Step(spec.name, _validate_value(spec, raw["value"], where)))
        style, model, strength = data.get("style"), data.get("model"), data.get("strength", 1.0)
        if style is not None and not isinstance(style, str):
            raise InvalidRecipeError(f"{source}: 'style' must be a string")
        if model is not None and not isinstance(model, str):
            raise InvalidRecipeError(f"{source}: 'model' must be a string")
        if isinstance(strength, bool) or not isinstance(strength, int | float):
            raise InvalidRecipeError(f"{source}: 'strength' must be a number")
        return cls(tuple(steps), style=style, strength=float(strength), model=model)

    @classmethod
    def from_json(cls, text: str, *, source: str = "recipe") -> Recipe:
        """Parse and validate recipe JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidRecipeError(f"{source}: not valid JSON ({exc})") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, style: str | None = None, strength: float = 1.0, model: str | None = None
    ) -> Recipe:
        """Build a recipe from slider name -> value, in the mapping's order, dropping identity values."""
        steps = tuple(Step(name, freeze_value(v)) for name, v in settings.items())
        return cls(tuple(s for s in steps if not s.is_identity()), style=style, strength=strength, model=model)

    # -- views --------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The recipe as JSON-ready data (values as nested lists)."""

        def thaw(v: SliderValue) -> Any:
            return [thaw(x) for x in v] if isinstance(v, tuple) else v

        out: dict[str, Any] = {
            "version": RECIPE_VERSION,
            "steps": [{"slider": s.slider, "value": thaw(s.value)} for s in self.steps],
        }
        if self.style is not None:
            out["style"] = self.style
        out["strength"] = self.strength
        if self.model is not None:
            out["model"] = self.model
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialise to JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def settings(self) -> dict[str, SliderValue]:
        """Slider name -> value for the sliders this recipe sets (others are at identity)."""
        return {s.slider: s.value for s in self.steps}

    def tensors(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> dict[str, Tensor]:
        """Slider name -> tensor of the slider's shape, for :func:`backend.render.pipeline.render`."""
        return {s.slider: torch.tensor(s.value, dtype=dtype, device=device) for s in self.steps}

    def value(self, slider: str) -> SliderValue:
        """The value of ``slider`` (its identity when the recipe does not set it)."""
        for s in self.steps:
            if s.slider == slider:
                return s.value
        return freeze_value(get_slider(slider).identity)


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe JSON file, or the saved output of ``autoretouch suggest --json`` for one photo.

    A suggestion (``{"photo": ..., "ok": true, "recipes": [...]}``) gives its first recipe (the deterministic
    suggestion; variants follow it in the list).

    Raises:
        NotFoundError: the file does not exist.
        InvalidRecipeError: the file is not a valid recipe, a failed suggestion, or the suggestions for several
            photos (the message names the file).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{p}: recipe file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRecipeError(f"{p}: cannot read recipe ({exc})") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and all(line.lstrip().startswith('{"photo"') for line in lines):
        raise InvalidRecipeError(
            f"{p}: holds the suggestions for {len(lines)} photos (suggest --json, one line each); "
            "save one photo's line as the recipe"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRecipeError(f"{p}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and ("recipes" in data or "photo" in data) and "steps" not in data:
        recipes = data.get("recipes")
        if data.get("ok") is False or not isinstance(recipes, list) or not recipes:
            raise InvalidRecipeError(f"{p}: a suggestion without a recipe (the photo failed: {data.get('error')!r})")
        return Recipe.from_dict(recipes[0], source=f"{p} (first suggested recipe)")
    return Recipe.from_dict(data, source=str(p))


def _lerp(identity: SliderValue, value: SliderValue, alpha: float) -> SliderValue:
    if isinstance(value, tuple):
        assert isinstance(identity, tuple)
        return tuple(_lerp(i, v, alpha) for i, v in zip(identity, value, strict=True))
    assert isinstance(identity, float)
    return identity + alpha * (value - identity)


def check_strength(value: float) -> float:
    """A strength (how far toward the full recipe: 0 = no change, 1 = the recipe) checked once for everyone.

    Args:
        value: the strength.

    Returns:
        ``value`` as a float.

    Raises:
        InvalidRecipeError: not a finite number in [0, 1].
    """
    strength = float(value)
    if not math.isfinite(strength) or not 0.0 <= strength <= 1.0:
        raise InvalidRecipeError(f"strength must lie in [0, 1], got {value}")
    return strength


def scale(recipe: Recipe, alpha: float) -> Recipe:
    """Scale every step toward its identity value: ``v' = identity + α (v - identity)``.

    Exact in slider space; curves stay monotone (a convex combination of two monotone curves).

    Args:
        recipe: the recipe.
        alpha: strength in [0, 1]; 0 gives an empty (identity) recipe, 1 the recipe itself.

    Returns:
        The scaled recipe; ``strength`` becomes ``recipe.strength * alpha``.
    """
    check_strength(alpha)
    steps = tuple(Step(s.slider, _lerp(freeze_value(s.spec.identity), s.value, alpha)) for s in recipe.steps)
    steps = tuple(s for s in steps if not s.is_identity())
    return replace(recipe, steps=steps, strength=recipe.strength * alpha)


def merge(base: Recipe, over: Recipe) -> Recipe:
    """Lay ``over`` on top of ``base``: per slider the later recipe wins, as when a host applies a preset.

    Step order: ``base``'s steps (with ``over``'s values where both set a slider), then ``over``'s new
    sliders. Provenance fields come from ``over`` where it has them, else from ``base``.
    """
    over_values = over.settings()
    steps = [Step(s.slider, over_values.get(s.slider, s.value)) for s in base.steps]
    known = {s.slider for s in base.steps}
    steps += [s for s in over.steps if s.slider not in known]
    return Recipe(
        tuple(steps),
        style=over.style if over.style is not None else base.style,
        strength=over.strength,
        model=over.model if over.model is not None else base.model,
    )


def check_weights(weights: Sequence[float], what: str) -> None:
    """Refuse weights a blend cannot normalise: each finite and non-negative, their sum finite and positive.

    Args:
        weights: the weights.
        what: what they weigh, for the message (``"blend"``, ``"--mix"``, ``"mix"``).

    Raises:
        InvalidRecipeError: a negative or non-finite weight; all zero, or so large that their sum overflows.
    """
    if any(w < 0 or not math.isfinite(w) for w in weights):
        raise InvalidRecipeError(f"{what} weights must be finite and non-negative, got {list(weights)}")
    total = sum(weights)
    if not (math.isfinite(total) and total > 0):
        raise InvalidRecipeError(f"{what} weights must add up to a finite positive number, got {list(weights)}")


def _combine(
    what: str,
    combine: Callable[[Sequence[float], Sequence[float]], float],
    recipes: Sequence[Recipe],
    weights: Sequence[float],
    style: str | None,
) -> Recipe:
    """Combine recipes element by element (the body of :func:`blend` and :func:`median`).

    ``combine(values of one element, weights)`` gives every element of every slider any recipe sets (identity
    where a recipe leaves it unset); sliders that come out at the identity are dropped. ``what`` names the
    caller in the errors about the weights.
    """
    if not recipes or len(recipes) != len(weights):
        raise InvalidRecipeError(f"{what} needs one weight per recipe and at least one recipe")
    check_weights(weights, what)
    order: list[str] = []
    for r in recipes:
        order += [s.slider for s in r.steps if s.slider not in order]
    steps = []
    for name in order:
        columns = zip(*(_flat(r.value(name)) for r in recipes), strict=True)
        steps.append(Step(name, _unflat([combine(col, weights) for col in columns], get_slider(name).shape)))
    return Recipe(tuple(s for s in steps if not s.is_identity()), style=style, strength=1.0)


def blend(recipes: Sequence[Recipe], weights: Sequence[float], *, style: str | None = None) -> Recipe:
    """Mix recipes in slider space: each slider's value is the weighted mean (identity where unset).

    Args:
        recipes: one or more recipes.
        weights: finite non-negative weights, one per recipe, whose sum is finite and positive; normalised to
            sum to 1.
        style: provenance name of the mix (e.g. ``"A:0.7,B:0.3"``).

    Returns:
        The blended recipe; slider order is order of first appearance.

    Raises:
        InvalidRecipeError: no recipes, a weight per recipe missing, a weight negative or not finite, or weights
            whose sum is 0 or not finite (e.g. ``[1e308, 1e308]``).
    """
    total = float(sum(weights))

    def mean(xs: Sequence[float], ws: Sequence[float]) -> float:
        return sum((w / total) * x for x, w in zip(xs, ws, strict=True))

    return _combine("blend", mean, recipes, weights, style)


def _weighted_median(xs: Sequence[float], weights: Sequence[float]) -> float:
    """The value at which the cumulative weight of the sorted ``xs`` reaches half (midpoint on an exact tie).

    Values of weight 0 are left out; the weights' sum must be positive.
    """
    pairs = sorted((x, w) for x, w in zip(xs, weights, strict=True) if w > 0)
    half = 0.5 * sum(w for _, w in pairs)
    acc = 0.0
    for i, (x, w) in enumerate(pairs):
        acc += w
        if math.isclose(acc, half, rel_tol=1e-12) and i + 1 < len(pairs):
            return 0.5 * (x + pairs[i + 1][0])
        if acc > half:
            return x
    return pairs[-1][0]


def median(recipes: Sequence[Recipe], weights: Sequence[float], *, style: str | None = None) -> Recipe:
    """Mix recipes in slider space by weighted median, element by element (identity where unset).

    Each slider's value (each element of a curve or of a per-hue slider on its own) is the weighted median of the
    recipes' values.

    Unlike :func:`blend`, a minority of very different edits (a few photos turned black and white, one extreme
    exposure) does not pull the result towards them. The element-wise median of monotone curves is monotone.

    Args:
        recipes: one or more recipes.
        weights: non-negative weights, one per recipe (only their ratios matter; a recipe of weight 0 is left out).
        style: provenance name of the result.

    Returns:
        The median recipe; slider order is order of first appearance.

    Raises:
        InvalidRecipeError: no recipes, a weight per recipe missing, or weights negative, not finite, all 0 or
            with a sum that is not finite.
    """
    return _combine("median", _weighted_median, recipes, weights, style)


def render_recipe(image: Tensor, recipe: Recipe) -> Tensor:
    """Render a recipe onto ``image``.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020 float32/float64.
        recipe: the recipe (already at the wanted strength).

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020, unclamped.
    """
    from backend.render.pipeline import render  # the renderer is heavy; recipes alone are not

    return render(image, recipe.tensors(image.dtype, image.device))
