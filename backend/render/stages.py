"""The one table of the renderer's stages: how each renders, what darktable module fields it stands for.

Both the pipeline (:mod:`backend.render.pipeline`, ``apply``) and the darktable translator
(:mod:`backend.translate.darktable_history`, ``params``) read this table, so the translator's dependency on the
renderer's math is an import, not a string. Order: :data:`~backend.sliders.catalog.STAGE_ORDER` (darktable's
pixelpipe order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from backend.render.clarity import apply_bilat_stage, bilat_params
from backend.render.colorbalance import apply_colorbalancergb_stage, colorbalancergb_params
from backend.render.colorzones import apply_colorzones_stage, colorzones_params
from backend.render.curves import apply_rgbcurve_stage, rgbcurve_params
from backend.render.exposure import apply_exposure_stage, exposure_params
from backend.render.levels import apply_rgblevels_stage, rgblevels_params
from backend.render.sharpen import apply_sharpen_stage, sharpen_params
from backend.render.vignette import apply_vignette_stage, vignette_params
from backend.render.white_balance import apply_channelmixerrgb_stage, channelmixerrgb_params
from backend.sliders.catalog import STAGE_ORDER

__all__ = ["STAGE_TABLE", "Stage", "StageFn", "StageParams"]

#: ``(image (N, 3, H, W) linear Rec.2020, slider name -> (N, *shape) values) -> image``.
StageFn = Callable[[Tensor, Mapping[str, Tensor]], Tensor]

#: What a ``<stage>_params`` returns: one module instance's fields, or (``rgbcurve``) a list of per-instance dicts.
StageParams = Mapping[str, Any] | list[dict[str, object]]


@dataclass(frozen=True)
class Stage:
    """One stage of the renderer.

    Attributes:
        apply: renders the stage (``apply_<stage>_stage``).
        params: the darktable module's fields for slider values (``<stage>_params``; batched).
        needs_long_side: ``params`` also takes the image's long side in pixels (radii scale with the image).
    """

    apply: StageFn
    params: Callable[..., StageParams]
    needs_long_side: bool


#: Stage name -> :class:`Stage`, in pixelpipe order.
STAGE_TABLE: dict[str, Stage] = {
    "exposure": Stage(apply_exposure_stage, exposure_params, False),
    "channelmixerrgb": Stage(apply_channelmixerrgb_stage, channelmixerrgb_params, False),
    "sharpen": Stage(apply_sharpen_stage, sharpen_params, True),
    "colorbalancergb": Stage(apply_colorbalancergb_stage, colorbalancergb_params, False),
    "rgbcurve": Stage(apply_rgbcurve_stage, rgbcurve_params, False),
    "rgblevels": Stage(apply_rgblevels_stage, rgblevels_params, False),
    "bilat": Stage(apply_bilat_stage, bilat_params, True),
    "colorzones": Stage(apply_colorzones_stage, colorzones_params, False),
    "vignette": Stage(apply_vignette_stage, vignette_params, True),
}

assert tuple(STAGE_TABLE) == STAGE_ORDER, "STAGE_TABLE must follow the catalog's STAGE_ORDER"
