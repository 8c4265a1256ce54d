"""Exposure stage: the ``exposure`` and ``blacks`` sliders as darktable 4.2's ``exposure`` module (v6).

darktable's math (manual mode, ``compensate_exposure_bias`` off), per channel and without clamping::

    white = 2 ** -exposure
    scale = 1 / (white - black)
    out   = (in - black) * scale

The ``blacks`` slider (-100..100) sets the black level linearly, as the catalog states:
``black = -0.015 * blacks / 100`` (:data:`BLACK_PER_UNIT`). Positive ``blacks`` gives a negative black
level, which lifts the shadows: ``out = (in + b) / (1 + b)`` with ``b = 0.015 * blacks / 100`` at 0 EV.
It brightens every value below 1 and (being an affine map that keeps 1 fixed) slightly darkens values
above 1. Images are linear Rec.2020 ``(N, 3, H, W)``, scene-referred; nothing is clamped.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from backend.errors import InvalidRecipeError
from backend.render.values import scalar_batch
from backend.sliders.catalog import scalar_identity

__all__ = [
    "BLACK_PER_UNIT",
    "apply_blacks",
    "apply_exposure",
    "apply_exposure_stage",
    "blacks_to_black_level",
    "exposure_params",
]

#: darktable ``exposure.black`` per unit of the ``blacks`` slider (the catalog's mapping
#: ``black = -0.015 * blacks / 100``). The one place this constant lives.
BLACK_PER_UNIT = -0.015 / 100.0

_SLIDERS = ("exposure", "blacks")


def _is_identity(values: Mapping[str, Tensor]) -> bool:
    for name in _SLIDERS:
        v = values.get(name)
        if v is None:
            continue
        if v.requires_grad or bool((v != scalar_identity(name)).any()):
            return False
    return True


def blacks_to_black_level(blacks: Tensor) -> Tensor:
    """darktable ``exposure.black`` (linear black level) for a ``blacks`` slider value.

    Args:
        blacks: slider value(s), -100..100, any shape.

    Returns:
        Black level, same shape: ``-0.015 * blacks / 100`` (``+0.015`` at -100, ``-0.015`` at +100).
    """
    return blacks * BLACK_PER_UNIT + 0.0  # + 0.0 turns -0.0 (blacks 0) into +0.0


def apply_exposure_stage(image: Tensor, values: Mapping[str, Tensor]) -> Tensor:
    """Apply the exposure stage (darktable ``exposure`` v6, manual mode).

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020, float32/float64, unclamped.
        values: ``{"exposure": (N,) EV, "blacks": (N,) -100..100}``; a missing slider is at identity (0).

    Returns:
        ``(N, 3, H, W)`` ``(image - black) / (2**-exposure - black)``, not clamped; ``image`` itself when
        both sliders are exactly 0 and neither requires grad.
    """
    if _is_identity(values):
        return image
    zero = image.new_zeros(image.shape[0])
    ev = values.get("exposure", zero).to(image.dtype)
    black = blacks_to_black_level(values.get("blacks", zero).to(image.dtype))
    white = torch.exp2(-ev)
    scale = 1.0 / (white - black)
    out = image - black.view(-1, 1, 1, 1)
    if out.requires_grad:
        return out * scale.view(-1, 1, 1, 1)
    return out.mul_(scale.view(-1, 1, 1, 1))  # no autograd graph: reuse the buffer (same numbers)


def apply_exposure(image: Tensor, value: Tensor | float) -> Tensor:
    """Exposure slider alone: multiplies linear light by ``2**value`` (Lightroom Exposure2012, in EV).

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020.
        value: EV, a float, 0-d tensor or ``(N,)`` tensor; identity 0.

    Returns:
        ``(N, 3, H, W)``, not clamped.
    """
    return apply_exposure_stage(image, {"exposure": scalar_batch(value, image)})


def apply_blacks(image: Tensor, value: Tensor | float) -> Tensor:
    """Blacks slider alone: moves the linear black level (see :data:`BLACK_PER_UNIT`).

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020.
        value: -100..100 (+ lifts the blacks), a float, 0-d tensor or ``(N,)`` tensor; identity 0.

    Returns:
        ``(N, 3, H, W)``, not clamped.
    """
    return apply_exposure_stage(image, {"blacks": scalar_batch(value, image)})


def _batched(values: Mapping[str, Tensor | float]) -> tuple[dict[str, Tensor], int, torch.dtype, torch.device]:
    present = {k: torch.atleast_1d(torch.as_tensor(values[k])) for k in _SLIDERS if k in values}
    if not present:
        return {}, 1, torch.float32, torch.device("cpu")
    tensors = torch.broadcast_tensors(*present.values())
    if tensors[0].ndim != 1:
        raise InvalidRecipeError(f"exposure stage values must be scalars or (N,) tensors, got {tensors[0].shape}")
    first = tensors[0]
    dtype = first.dtype if first.is_floating_point() else torch.float32
    return {k: t.to(dtype) for k, t in zip(present, tensors, strict=True)}, first.shape[0], dtype, first.device


def exposure_params(values: Mapping[str, Tensor | float]) -> dict[str, Tensor]:
    """darktable ``exposure`` v6 fields (24 bytes) for the stage's slider values.

    Args:
        values: ``{"exposure": (N,) or scalar, "blacks": (N,) or scalar}``; missing sliders are identity.

    Returns:
        Field name -> ``(N,)`` tensor: ``mode`` (int32, 0 = manual), ``black`` (linear level),
        ``exposure`` (EV), ``deflicker_percentile`` (50), ``deflicker_target_level`` (-4, unused in manual
        mode), ``compensate_exposure_bias`` (int32 0: the EXIF exposure bias is not subtracted).
    """
    vals, n, dtype, device = _batched(values)
    zeros = torch.zeros(n, dtype=dtype, device=device)
    int_zero = torch.zeros(n, dtype=torch.int32, device=device)
    return {
        "mode": int_zero,
        "black": blacks_to_black_level(vals.get("blacks", zeros)),
        "exposure": vals.get("exposure", zeros).clone(),
        "deflicker_percentile": torch.full((n,), 50.0, dtype=dtype, device=device),
        "deflicker_target_level": torch.full((n,), -4.0, dtype=dtype, device=device),
        "compensate_exposure_bias": int_zero.clone(),
    }
