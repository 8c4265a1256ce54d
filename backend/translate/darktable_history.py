"""Recipe -> darktable 4.2 history entries (one per module instance whose sliders are not at identity).

Each renderer stage is one darktable module (``catalog.STAGE_ORDER``). The stage module's
``<stage>_params(values, ...)`` gives the module's struct fields for the slider values (the one conversion the
renderer and this translator share); this file packs them (:mod:`darktable_pack`) into
:class:`HistoryEntry` objects in pipeline order.

Policy:
    * Only modules with a non-identity slider get an entry; an empty recipe gives an empty history.
    * ``tone_curve`` is ``rgbcurve`` instance 0, ``rgb_curves`` is ``rgbcurve`` instance 1 (the catalog's
      ``DarktableTarget.instance``); an entry's ``multi_name`` is ``""`` for instance 0 and the instance number
      otherwise, as darktable names new instances.
    * Blend parameters are left out (``blendop_params = None``): darktable then uses each module's default
      blend parameters (blending off), which is what a user gets when enabling the module by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from backend.errors import InvalidRecipeError
from backend.recipe import Recipe
from backend.sliders.catalog import STAGE_ORDER, get_slider, iter_sliders
from backend.translate.darktable_pack import encode_params, module_layout, pack_params

__all__ = ["BLENDOP_VERSION", "HistoryEntry", "history_instances", "recipe_to_history", "stage_params"]

#: ``DEVELOP_BLEND_VERSION`` of darktable 4.2.
BLENDOP_VERSION = 11


@dataclass(frozen=True)
class HistoryEntry:
    """One darktable history item, as written to ``darktable:history`` or a ``.dtstyle`` plugin.

    Attributes:
        operation: module name (``darktable:operation``).
        modversion: module version (``darktable:modversion``), darktable 4.2.1's.
        params: the encoded parameter struct (hex or gz form).
        enabled: whether the module is on.
        multi_name: instance label.
        multi_priority: instance number (0 = the module's first instance).
        blendop_version: blend params version (11 in darktable 4.2).
        blendop_params: encoded blend params, or ``None`` for the module's default blending.
    """

    operation: str
    modversion: int
    params: str
    enabled: bool = True
    multi_name: str = ""
    multi_priority: int = 0
    blendop_version: int = BLENDOP_VERSION
    blendop_params: str | None = None

    @property
    def instance(self) -> tuple[str, int]:
        """``(operation, multi_priority)``: what darktable keys module instances by."""
        return (self.operation, self.multi_priority)


def stage_params(
    stage: str, values: Mapping[str, torch.Tensor], long_side_px: int
) -> Mapping[str, Any] | list[dict[str, object]]:
    """The renderer's ``<stage>_params`` for batched slider values: the module fields darktable is given.

    One dict of fields, or (``rgbcurve``) a list of per-instance dicts (see :func:`_split_instances`).

    Args:
        stage: a stage (= darktable operation) of :data:`~backend.sliders.catalog.STAGE_ORDER`.
        values: slider name -> ``(N, *shape)`` tensor of slider values (in the slider's range).
        long_side_px: the photo's long side in pixels (stages whose fields scale with it use it).
    """
    from backend.render.stages import STAGE_TABLE  # the renderer's stage functions, only when a history is built

    info = STAGE_TABLE[stage]
    return info.params(values, long_side_px) if info.needs_long_side else info.params(values)


def _unbatch(fields: Mapping[str, Any], operation: str) -> dict[str, Any]:
    """Take batch item 0 of every field value (the stage functions are batched, we translate one image)."""
    layout = module_layout(operation)
    out: dict[str, Any] = {}
    for name, value in fields.items():
        base = name.split(".", 1)[0]
        ndim = len(layout.field(base).shape) if "." not in name else 0
        if isinstance(value, torch.Tensor | np.ndarray) and value.ndim == ndim + 1:
            if value.shape[0] != 1:
                raise InvalidRecipeError(f"darktable {operation}.{name}: expected batch size 1, got {value.shape[0]}")
            value = value[0]
        out[name] = value
    return out


def history_instances(recipe: Recipe) -> list[tuple[str, int]]:
    """The ``(operation, multi_priority)`` pairs a recipe becomes, in pipeline order."""
    wanted = {(s.spec.darktable.module, s.spec.darktable.instance) for s in recipe.steps if not s.is_identity()}
    order = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    return sorted(wanted, key=lambda x: (order[x[0]], x[1]))


def _to_recipe(recipe_or_settings: Recipe | Mapping[str, Any]) -> Recipe:
    if isinstance(recipe_or_settings, Recipe):
        return recipe_or_settings
    if isinstance(recipe_or_settings, Mapping):
        return Recipe.from_settings(recipe_or_settings)
    raise InvalidRecipeError(f"expected a Recipe or a slider mapping, got {type(recipe_or_settings).__name__}")


def recipe_to_history(
    recipe_or_settings: Recipe | Mapping[str, Any], *, is_raw: bool, long_side_px: int
) -> list[HistoryEntry]:
    """Translate a recipe into darktable 4.2 history entries.

    Args:
        recipe_or_settings: a :class:`~backend.recipe.Recipe`, or slider name -> value (validated like a recipe).
        is_raw: whether the photo is a camera raw. It does not change the params (every stage works on the
            same linear working RGB); it selects the pixelpipe order the entries are meant for (see
            :func:`~backend.translate.darktable_order.iop_order_version_for`), and is kept in the signature so
            that callers state it once for entries and sidecar.
        long_side_px: long side of the photo in pixels, for the stages whose radii are relative to the image
            size (sharpen, clarity, vignette).

    Returns:
        Entries in pipeline order, one per module instance with a non-identity slider.

    Raises:
        InvalidRecipeError: invalid recipe, or a stage produced fields that do not fit the 4.2 struct.
    """
    del is_raw  # the entries are the same; the order version is chosen by the sidecar writer
    if long_side_px <= 0:
        raise InvalidRecipeError(f"long_side_px must be positive, got {long_side_px}")
    recipe = _to_recipe(recipe_or_settings)
    settings = {s.slider: s.value for s in recipe.steps if not s.is_identity()}
    entries: list[HistoryEntry] = []
    for stage in STAGE_ORDER:
        names = [spec.name for spec in iter_sliders(stage) if spec.name in settings]
        if not names:
            continue
        # What backend.render.pipeline.prepare_settings gives for one image (values already validated).
        values = {n: torch.tensor(settings[n], dtype=torch.float64).unsqueeze(0) for n in names}
        with torch.no_grad():
            result = stage_params(stage, values, long_side_px)
        instances = sorted({get_slider(n).darktable.instance for n in names})
        per_instance = _split_instances(stage, result, instances)
        for inst in instances:
            fields = _unbatch(per_instance[inst], stage)
            blob = pack_params(stage, fields)
            entries.append(
                HistoryEntry(
                    operation=stage,
                    modversion=module_layout(stage).modversion,
                    params=encode_params(blob),
                    multi_name="" if inst == 0 else str(inst),
                    multi_priority=inst,
                )
            )
    return entries


def _split_instances(stage: str, result: Any, instances: list[int]) -> dict[int, Mapping[str, Any]]:
    """Map a stage's params result to instance numbers.

    A dict is instance 0 unless it names its instance under the key ``"multi_priority"`` (not a struct field;
    ``rgbcurve_params`` returns a list of such dicts). Unnamed list items are taken in instance order.
    """
    items = [result] if isinstance(result, Mapping) else list(result) if isinstance(result, list | tuple) else None
    if items is None or not all(isinstance(x, Mapping) for x in items):
        raise InvalidRecipeError(f"{stage}_params returned {type(result).__name__}, expected dicts of fields")
    named: dict[int, Mapping[str, Any]] = {}
    for pos, item in enumerate(items):
        fields = dict(item)
        inst = fields.pop("multi_priority", None)
        key = int(inst) if inst is not None else (instances[pos] if pos < len(instances) else pos)
        if key in named:
            raise InvalidRecipeError(f"{stage}_params returned instance {key} twice")
        named[key] = fields
    missing = [i for i in instances if i not in named]
    if missing:
        raise InvalidRecipeError(f"{stage}_params returned no fields for instance(s) {missing}")
    return named
