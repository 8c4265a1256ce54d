"""RGB-levels stage: the ``whites`` slider as darktable 4.2's ``rgblevels`` module (v1).

darktable's math (``src/iop/rgblevels.c``), for levels ``(black, grey, white)`` of a channel::

    p     = (x - black) / (white - black)
    gamma = 10 ** ((grey - mid) / half),   half = (white - black) / 2,  mid = black + half
    out   = p ** gamma          for x > black (no upper clamp: above white the power law continues)
    out   = 0                   for x <= black

We write ``autoscale = LINKED`` and ``preserve_colors = NONE``: darktable then applies this curve to
each channel independently (the simplest path: no RGB norm, no work profile), and the renderer does the
same. (darktable evaluates ``p ** gamma`` through a 65536-entry lookup table indexed by
``floor(p * 65536)`` inside ``[black, white)``; the renderer uses the exact power, which differs by at
most ``gamma * p**(gamma - 1) / 65536``, i.e. < 1e-4 except in the deepest shadows.)

Catalog mapping of ``whites`` (-100..100): ``white = 1 - 0.4 * whites / 100`` (:data:`WHITE_PER_UNIT`),
``black = 0``, and ``grey`` chosen so that middle grey :data:`MIDDLE_GREY` maps to itself:
``gamma = ln(0.1845) / ln(0.1845 / white)``, ``grey = white / 2 * (1 + log10(gamma))``.
So +whites lowers the white point (brightening the highlights and, to keep grey fixed, slightly
deepening the tones below middle grey); -whites raises it. Images are linear Rec.2020 ``(N, 3, H, W)``;
negative values become 0 (darktable clips below black); nothing is clamped above.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from backend.errors import InvalidRecipeError
from backend.render.values import scalar_batch
from backend.sliders.catalog import scalar_identity

__all__ = [
    "MIDDLE_GREY",
    "WHITE_PER_UNIT",
    "apply_rgblevels_stage",
    "apply_whites",
    "rgblevels_params",
    "whites_to_levels",
]

#: Linear middle grey that the ``whites`` slider keeps in place.
MIDDLE_GREY = 0.1845
#: Change of the white level per unit of the ``whites`` slider (``white = 1 + WHITE_PER_UNIT * whites``).
WHITE_PER_UNIT = -0.4 / 100.0

_LN_GREY = math.log(MIDDLE_GREY)
_MIN_POSITIVE = 1e-12


def whites_to_levels(whites: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """White level, grey level and resulting power for a ``whites`` slider value (black level is 0).

    Args:
        whites: slider value(s), -100..100, any shape.

    Returns:
        ``(white, grey, gamma)``, each of the input's shape: ``white = 1 - 0.4 * whites / 100``,
        ``gamma = ln(0.1845) / ln(0.1845 / white)`` (so ``(0.1845 / white) ** gamma == 0.1845``) and
        ``grey = white / 2 * (1 + log10(gamma))`` (darktable's ``levels[c][1]``, from which it derives
        ``gamma = 10 ** ((grey - white / 2) / (white / 2))``).
    """
    white = 1.0 + WHITE_PER_UNIT * whites
    gamma = _LN_GREY / torch.log(MIDDLE_GREY / white)
    grey = 0.5 * white * (1.0 + torch.log10(gamma))
    return white, grey, gamma


def apply_rgblevels_stage(image: Tensor, values: Mapping[str, Tensor]) -> Tensor:
    """Apply the rgblevels stage (darktable ``rgblevels`` v1, linked, preserve colours NONE).

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020, float32/float64.
        values: ``{"whites": (N,) -100..100}``; missing means identity (0).

    Returns:
        ``(N, 3, H, W)``: per channel ``(x / white) ** gamma`` for ``x > 0``, else 0; not clamped above.
        ``image`` itself when ``whites`` is exactly 0 and does not require grad.
    """
    whites = values.get("whites")
    if whites is None or (not whites.requires_grad and not bool((whites != scalar_identity("whites")).any())):
        return image
    white, _, gamma = whites_to_levels(whites.to(image.dtype))
    if not (torch.is_grad_enabled() and (image.requires_grad or whites.requires_grad)):
        return _levels_fast(image, white, gamma)
    p = image.clamp_min(_MIN_POSITIVE) / white.view(-1, 1, 1, 1)
    return torch.where(image > 0, p ** gamma.view(-1, 1, 1, 1), torch.zeros_like(image))


def _levels_fast(image: Tensor, white: Tensor, gamma: Tensor) -> Tensor:
    """``(max(x, 0) / white) ** gamma`` as ``exp2(gamma * log2(.))`` (0 -> 0 as gamma > 0), without autograd.

    Differs from the reference only for ``0 < x < 1e-12``, which the reference raises to 1e-12 first.
    """
    if not bool((gamma > 0).all()):  # out-of-range whites: keep the reference's pow conventions
        p = image.clamp_min(_MIN_POSITIVE) / white.view(-1, 1, 1, 1)
        return torch.where(image > 0, p ** gamma.view(-1, 1, 1, 1), torch.zeros_like(image))
    out = image.clamp_min(0.0).div_(white.view(-1, 1, 1, 1)).log2_()
    return out.mul_(gamma.view(-1, 1, 1, 1)).exp2_()


def apply_whites(image: Tensor, value: Tensor | float) -> Tensor:
    """Whites slider alone: moves the white point, keeping middle grey (see the module docstring).

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020.
        value: -100..100, a float, 0-d tensor or ``(N,)`` tensor; identity 0.

    Returns:
        ``(N, 3, H, W)``; negative values become 0, nothing is clamped above.
    """
    return apply_rgblevels_stage(image, {"whites": scalar_batch(value, image)})


def rgblevels_params(values: Mapping[str, Tensor | float]) -> dict[str, Tensor]:
    """darktable ``rgblevels`` v1 fields (44 bytes) for the stage's slider values.

    Args:
        values: ``{"whites": (N,) or scalar}``; missing means identity.

    Returns:
        ``autoscale`` (N,) int32 0 (linked channels), ``preserve_colors`` (N,) int32 0 (none: per
        channel), ``levels`` (N, 3, 3): for each of R, G, B the same ``(black 0, grey, white)``.
    """
    whites = torch.atleast_1d(torch.as_tensor(values.get("whites", 0.0)))
    if whites.ndim != 1:
        raise InvalidRecipeError(f"whites must be a scalar or (N,) tensor, got shape {tuple(whites.shape)}")
    if not whites.is_floating_point():
        whites = whites.to(torch.float32)
    white, grey, _ = whites_to_levels(whites)
    row = torch.stack((torch.zeros_like(white), grey, white), dim=-1)  # (N, 3)
    n = whites.shape[0]
    int_zero = torch.zeros(n, dtype=torch.int32, device=whites.device)
    return {
        "autoscale": int_zero,
        "preserve_colors": int_zero.clone(),
        "levels": row.unsqueeze(1).expand(n, 3, 3).clone(),
    }
