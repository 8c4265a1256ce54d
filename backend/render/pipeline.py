"""The renderer pipeline: slider settings -> stages in darktable's pixelpipe order.

Contract of every stage module (``backend/render/<file>.py``):

* ``apply_<stage>_stage(image, values) -> image``: ``image`` is ``(N, 3, H, W)`` linear Rec.2020;
  ``values`` maps the stage's slider names to tensors of shape ``(N, *spec.shape)`` (already broadcast and
  cast by :func:`prepare_settings`); sliders missing from ``values`` are at identity. The stage follows
  the math of the darktable module it becomes, is differentiable, does not clamp pixels where darktable
  does not, and returns ``image`` itself when every slider is at identity and none needs a gradient.
* ``<stage>_params(values, ...) -> dict``: the darktable module fields for those slider values (what the
  darktable translator packs). The renderer and the translator share this one conversion.
* ``apply_<slider>(image, value)``: the one-slider function, for each slider of the stage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from backend.errors import InvalidRecipeError
from backend.render.clarity import apply_bilat_stage
from backend.render.colorbalance import apply_colorbalancergb_stage
from backend.render.colorzones import apply_colorzones_stage
from backend.render.curves import apply_rgbcurve_stage
from backend.render.exposure import apply_exposure_stage
from backend.render.levels import apply_rgblevels_stage
from backend.render.sharpen import apply_sharpen_stage
from backend.render.vignette import apply_vignette_stage
from backend.render.white_balance import apply_channelmixerrgb_stage
from backend.sliders.catalog import STAGE_ORDER, get_slider, iter_sliders

__all__ = ["STAGES", "Renderer", "SliderModule", "apply_slider", "prepare_settings", "render"]

StageFn = Callable[[Tensor, Mapping[str, Tensor]], Tensor]

#: Stage name -> stage function. Explicit on purpose: one implementation per stage.
STAGES: dict[str, StageFn] = {
    "exposure": apply_exposure_stage,
    "channelmixerrgb": apply_channelmixerrgb_stage,
    "sharpen": apply_sharpen_stage,
    "colorbalancergb": apply_colorbalancergb_stage,
    "rgbcurve": apply_rgbcurve_stage,
    "rgblevels": apply_rgblevels_stage,
    "bilat": apply_bilat_stage,
    "colorzones": apply_colorzones_stage,
    "vignette": apply_vignette_stage,
}

assert tuple(STAGES) == STAGE_ORDER, "STAGES must follow the catalog's STAGE_ORDER"


def _check_image(image: Tensor) -> None:
    if image.ndim != 4 or image.shape[1] != 3:
        raise InvalidRecipeError(f"image must have shape (N, 3, H, W), got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise InvalidRecipeError(f"image must be float32 or float64, got {image.dtype}")


def prepare_settings(
    settings: Mapping[str, Tensor | float | list[object]], n: int, dtype: torch.dtype, device: torch.device
) -> dict[str, Tensor]:
    """Validate shapes and broadcast slider values to ``(n, *spec.shape)``.

    Args:
        settings: slider name -> value; a value may be a Python number or nested list of the slider's
            shape, a tensor of that shape, or a tensor of shape ``(n, *shape)`` (one value per image).
        n: batch size.
        dtype: floating dtype of the image.
        device: device of the image.

    Returns:
        Slider name -> tensor ``(n, *shape)``. Ranges are not checked here (recipes check them); the
        renderer accepts any finite value so that gradients exist at the range edges.

    Raises:
        UnknownSliderError: unknown slider name.
        InvalidRecipeError: a value of the wrong shape.
    """
    out: dict[str, Tensor] = {}
    for name, raw in settings.items():
        spec = get_slider(name)
        value = torch.as_tensor(raw, dtype=dtype, device=device)
        if tuple(value.shape) == spec.shape:
            value = value.expand(n, *spec.shape)
        elif tuple(value.shape) != (n, *spec.shape):
            raise InvalidRecipeError(
                f"slider {name!r}: value shape {tuple(value.shape)} is neither {spec.shape} nor {(n, *spec.shape)}"
            )
        out[name] = value
    return out


def render(image: Tensor, settings: Mapping[str, Tensor | float | list[object]]) -> Tensor:
    """Render slider settings onto a batch of images.

    Stages run in :data:`~backend.sliders.catalog.STAGE_ORDER` (darktable's pixelpipe order), whatever
    the order of the settings.

    Args:
        image: ``(N, 3, H, W)`` float32/float64, linear Rec.2020, scene-referred (not clamped).
        settings: slider name -> value (see :func:`prepare_settings`); missing sliders are identity.

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020, not clamped (the caller encodes and clips for display).
    """
    _check_image(image)
    values = prepare_settings(settings, image.shape[0], image.dtype, image.device)
    for stage, fn in STAGES.items():
        stage_values = {spec.name: values[spec.name] for spec in iter_sliders(stage) if spec.name in values}
        if stage_values:
            image = fn(image, stage_values)
    return image


def apply_slider(name: str, image: Tensor, value: Tensor | float | list[object]) -> Tensor:
    """Apply one slider alone (all others at identity).

    Args:
        name: slider name from the catalog.
        image: ``(N, 3, H, W)`` linear Rec.2020.
        value: the slider's value, shape ``spec.shape`` or ``(N, *spec.shape)``.

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020.
    """
    return render(image, {name: value})


class Renderer(nn.Module):
    """Thin module around :func:`render` (no parameters)."""

    def forward(self, image: Tensor, settings: Mapping[str, Tensor | float | list[object]]) -> Tensor:
        """See :func:`render`."""
        return render(image, settings)


class SliderModule(nn.Module):
    """Thin module that applies one slider, named at construction."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.spec = get_slider(name)

    def forward(self, image: Tensor, value: Tensor | float | list[object]) -> Tensor:
        """See :func:`apply_slider`."""
        return apply_slider(self.spec.name, image, value)
