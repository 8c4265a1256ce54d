"""Stage ``sharpen``: darktable's ``sharpen`` module (v1, unsharp mask on Lab lightness).

darktable 4.2 (``src/iop/sharpen.c``) works in Lab and changes only L (0..100):

* ``sigma = radius`` pixels and a kernel half width ``rad = min(12, ceil(2.5 * radius))``; the 1-D weights
  ``exp(-l^2 / (2 sigma^2))``, ``l = -rad..rad``, are normalised to sum 1 and applied separably;
* ``d = L - blur(L)``; ``detail = sign(d) * (|d| - threshold)`` where ``|d| > threshold``, else 0;
* ``L_out = L + amount * detail``; a and b are unchanged;
* pixels closer than ``rad`` to a border are copied unchanged, and an image smaller than ``2 rad + 1`` on either
  side (or ``rad == 0``) passes through untouched.

Catalog mapping (``sharpen`` slider, 0..100, identity 0): ``amount = value / 50``, ``threshold = 0.5`` (darktable's
default) and ``radius = 0.0005 x`` the long side in pixels (2 px at 4000 px). The renderer takes the radius from
the long side of the tensor it renders, so the effect is relative to the image size.

Small images: below about 2000 px on the long side the radius is under one pixel; the discrete kernel then
puts almost all its weight on the centre tap (at 256 px, sigma = 0.128 px, the neighbour weight is ~1e-53), so
sharpening fades smoothly to nothing, exactly as darktable's own formula does at that radius. Radii below
1e-6 px are treated as no sharpening. At 9600 px and above darktable truncates the kernel at 12 px; so do we.
The threshold makes the operation non-differentiable where ``|d| == threshold`` (a kink, not a jump).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.functional import pad

from backend.render.color import lab_to_rec2020, rec2020_to_lab
from backend.render.filters import gaussian_kernel1d, separable_blur_valid
from backend.render.values import one_slider_filter, one_slider_stage, params_value

__all__ = [
    "AMOUNT_PER_UNIT",
    "MAX_KERNEL_RADIUS",
    "RADIUS_FRACTION",
    "THRESHOLD",
    "Sharpen",
    "apply_sharpen",
    "apply_sharpen_stage",
    "sharpen_kernel_radius",
    "sharpen_lab_lightness",
    "sharpen_params",
    "sharpen_radius_px",
]

#: darktable ``amount`` per slider unit (slider 100 -> amount 2, the field's maximum).
AMOUNT_PER_UNIT = 1.0 / 50.0
#: Radius as a fraction of the long image side (2 px at 4000 px).
RADIUS_FRACTION = 0.0005
#: darktable's default threshold, in L units (0..100).
THRESHOLD = 0.5
#: darktable's ``MAXR``: the kernel half width never exceeds 12 px.
MAX_KERNEL_RADIUS = 12
#: Below this radius (pixels) the kernel is a delta to machine precision; no sharpening.
_MIN_RADIUS_PX = 1e-6


def sharpen_radius_px(long_side_px: int) -> float:
    """darktable ``radius`` field (pixels) for an image whose long side is ``long_side_px`` pixels."""
    return RADIUS_FRACTION * float(long_side_px)


def sharpen_kernel_radius(radius_px: float) -> int:
    """darktable's kernel half width ``min(12, ceilf(2.5 * radius))`` (single-precision product)."""
    if radius_px <= 0.0:
        return 0
    return min(MAX_KERNEL_RADIUS, math.ceil(float(np.float32(2.5) * np.float32(radius_px))))


def sharpen_params(values: Mapping[str, Tensor], image_long_side_px: int) -> dict[str, Tensor]:
    """darktable ``sharpen`` v1 fields for the slider value.

    Args:
        values: ``{"sharpen": (N,)}`` slider values 0..100 (missing means identity, 0).
        image_long_side_px: long side in pixels of the full-resolution image the host will render.

    Returns:
        ``{"radius": (N,), "amount": (N,), "threshold": (N,)}`` (radius in pixels, threshold in L units).
    """
    value = params_value(values, "sharpen")
    return {
        "radius": torch.full_like(value, sharpen_radius_px(image_long_side_px)),
        "amount": value * AMOUNT_PER_UNIT,
        "threshold": torch.full_like(value, THRESHOLD),
    }


def sharpen_lab_lightness(
    image: Tensor, amount: Tensor | float, radius_px: float, threshold: float = THRESHOLD
) -> Tensor:
    """darktable's unsharp mask on Lab L with explicit module fields.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020 (any range; not clamped).
        amount: darktable ``amount``, a float or a tensor broadcastable to ``(N, 1, 1, 1)`` (e.g. ``(N,)``).
        radius_px: darktable ``radius`` at the resolution of ``image``, in pixels.
        threshold: darktable ``threshold`` in L units (0..100 scale).

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020. Pixels that darktable leaves alone (borders, ``|d| <= threshold``)
        are returned bit-identical; the result is ``image`` itself when nothing can change.
    """
    rad = sharpen_kernel_radius(radius_px)
    height, width = image.shape[-2:]
    if radius_px < _MIN_RADIUS_PX or rad == 0 or height < 2 * rad + 1 or width < 2 * rad + 1:
        return image
    amount_t = torch.as_tensor(amount, dtype=image.dtype, device=image.device)
    if amount_t.ndim == 1:
        amount_t = amount_t.view(-1, 1, 1, 1)
    lab = rec2020_to_lab(image)
    lightness = lab[:, :1]
    kernel = gaussian_kernel1d(radius_px, rad, image.dtype, image.device)
    blurred = separable_blur_valid(lightness, kernel)
    diff = lightness[:, :, rad : height - rad, rad : width - rad] - blurred
    detail = pad(diff - diff.clamp(-threshold, threshold), (rad, rad, rad, rad))
    sharpened = torch.cat((lightness + amount_t * detail, lab[:, 1:]), dim=1)
    return torch.where(detail != 0, lab_to_rec2020(sharpened), image)


@one_slider_filter
def apply_sharpen(image: Tensor, value: Tensor) -> Tensor:
    """Sharpen slider (0..100, identity 0) as darktable ``sharpen`` with the catalog mapping.

    Matches darktable 4.2 ``sharpen`` v1 with ``amount = value / 50``, ``threshold = 0.5`` and
    ``radius = 0.0005 * max(H, W)`` of ``image``. Exact no-op at 0 (:func:`one_slider_filter`).

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020.
        value: ``(N,)`` sharpen amount, 0..100 (a number or 0-d tensor stands for every image).

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020, not clamped.
    """
    radius = sharpen_radius_px(max(image.shape[-2:]))
    return sharpen_lab_lightness(image, value * AMOUNT_PER_UNIT, radius)


#: Stage function (see :mod:`backend.render.pipeline`): ``values`` may hold ``"sharpen"`` of shape ``(N,)``.
apply_sharpen_stage = one_slider_stage("sharpen", apply_sharpen, "apply_sharpen_stage")


class Sharpen(nn.Module):
    """Thin module around :func:`apply_sharpen` (no parameters)."""

    def forward(self, image: Tensor, value: Tensor | float) -> Tensor:
        """See :func:`apply_sharpen`."""
        return apply_sharpen(image, value)
