"""Stage ``vignette``: darktable's ``vignette`` module (v4), in pipeline (working) RGB.

darktable 4.2 (``src/iop/vignette.c``, ``process``) works on the pipeline's working RGB (linear Rec.2020 by
default, the renderer's working space) and, per pixel at integer index ``(i, j)`` of a ``W x H`` image:

* centre ``(W/2 (1 + center.x), H/2 (1 + center.y))``; with ``autoratio`` off, both axes are scaled by
  ``2 / max(W, H)`` and then ``whratio <= 1`` stretches x by ``1 / whratio`` while ``whratio > 1`` stretches y
  by ``1 / (2 - whratio)``; with ``autoratio`` on, x is scaled by ``2 / W`` and y by ``2 / H``;
* ``d = (|x|^(2/shape) + |y|^(2/shape))^(shape/2)`` (shape 1: a circle, clamped below at 0.001);
* ``w = clamp((d - scale/100) / (max(falloff_scale, 100/min(W, H)) / 100), 0, 1)``. With dithering off the
  weight stays this linear ramp; the smoothstep ``0.5 - cos(pi w)/2`` is only applied together with dithering
  (a darktable 4.2 quirk), which the renderer does not implement (the catalog keeps dithering off);
* ``brightness < 0``: ``c = c (1 + w brightness)``; ``brightness >= 0``: ``c = c + w brightness`` (additive);
* then, unless ``unbound``, a clip to [0, 1]; ``c = c - (mean(rgb) - c) w saturation``; again the optional clip.

Catalog mapping (``vignette`` slider, -100..100, identity 0): ``brightness = value / 100``, scale 80 %,
falloff_scale 50 %, saturation 0, centre (0, 0), autoratio off, whratio 1, shape 1, dithering off, unbound on.
Geometry is relative to the image size, so the weight of a given relative position is the same at every
resolution (up to darktable's half-pixel convention of integer pixel indices).
The weight has a kink at ``d == scale/100`` and at ``w == 1``; the brightness derivative jumps at 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from backend.render.values import one_slider_filter, one_slider_stage, params_value

__all__ = [
    "BRIGHTNESS_PER_UNIT",
    "VIGNETTE_FIXED_FIELDS",
    "Vignette",
    "apply_vignette",
    "apply_vignette_stage",
    "vignette_params",
    "vignette_rgb",
    "vignette_weight",
]

#: darktable ``brightness`` per slider unit.
BRIGHTNESS_PER_UNIT = 1.0 / 100.0

#: The fields the catalog fixes (names as in darktable-4.2-params.json; bools/enums as numbers).
VIGNETTE_FIXED_FIELDS: dict[str, float] = {
    "scale": 80.0,
    "falloff_scale": 50.0,
    "saturation": 0.0,
    "center.x": 0.0,
    "center.y": 0.0,
    "autoratio": 0.0,
    "whratio": 1.0,
    "shape": 1.0,
    "dithering": 0.0,
    "unbound": 1.0,
}


def vignette_params(values: Mapping[str, Tensor], image_long_side_px: int) -> dict[str, Tensor]:
    """darktable ``vignette`` v4 fields for the slider value.

    Args:
        values: ``{"vignette": (N,)}`` slider values -100..100 (missing means identity, 0).
        image_long_side_px: long side of the full-resolution image in pixels (unused: the geometry is relative).

    Returns:
        Every field of the module: ``brightness`` ``(N,)`` plus the fixed fields of
        :data:`VIGNETTE_FIXED_FIELDS`, each ``(N,)``.
    """
    del image_long_side_px
    value = params_value(values, "vignette")
    fields = {name: torch.full_like(value, v) for name, v in VIGNETTE_FIXED_FIELDS.items()}
    fields["brightness"] = value * BRIGHTNESS_PER_UNIT
    return fields


def vignette_weight(
    height: int,
    width: int,
    *,
    scale: float = VIGNETTE_FIXED_FIELDS["scale"],
    falloff_scale: float = VIGNETTE_FIXED_FIELDS["falloff_scale"],
    center: tuple[float, float] = (0.0, 0.0),
    autoratio: bool = False,
    whratio: float = VIGNETTE_FIXED_FIELDS["whratio"],
    shape: float = VIGNETTE_FIXED_FIELDS["shape"],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> Tensor:
    """darktable's per-pixel vignette weight ``w`` in [0, 1] (dithering off).

    Args:
        height: image height H in pixels.
        width: image width W in pixels.
        scale: inner radius, percent (0..200) of half the long side.
        falloff_scale: fall-off width, percent (0..200).
        center: ``(center.x, center.y)`` in -1..1 (fractions of half width/height).
        autoratio: follow the image aspect ratio instead of ``whratio``.
        whratio: width/height ratio 0..2 (1 = circle on the long-side basis).
        shape: 0..5 (1 circle, 2 diamond, towards 0 a rectangle).
        dtype: floating dtype of the result.
        device: device of the result.

    Returns:
        ``(H, W)`` weights; 0 inside the inner radius, 1 beyond the fall-off.
    """
    if autoratio:
        xscale, yscale = 2.0 / width, 2.0 / height
    else:
        basis = 2.0 / max(height, width)
        if whratio <= 1.0:
            xscale, yscale = basis / whratio, basis
        else:
            xscale, yscale = basis, basis / (2.0 - whratio)
    cx = 0.5 * width * (1.0 + center[0])
    cy = 0.5 * height * (1.0 + center[1])
    xs = (torch.arange(width, dtype=torch.float64) - cx).abs() * xscale
    ys = (torch.arange(height, dtype=torch.float64) - cy).abs() * yscale
    shape = max(shape, 0.001)
    dist = (xs.view(1, -1) ** (2.0 / shape) + ys.view(-1, 1) ** (2.0 / shape)) ** (shape / 2.0)
    fscale = max(falloff_scale, 100.0 / min(height, width)) / 100.0
    weight = ((dist - scale / 100.0) / fscale).clamp(0.0, 1.0)
    return weight.to(dtype=dtype, device=device)


def vignette_rgb(
    image: Tensor, brightness: Tensor | float, weight: Tensor, saturation: float = 0.0, unbound: bool = True
) -> Tensor:
    """Apply darktable's vignette formula for a given weight map.

    Args:
        image: ``(N, 3, H, W)`` pipeline RGB (linear Rec.2020).
        brightness: darktable ``brightness`` -1..1, float or ``(N,)``: < 0 multiplies by ``1 + w b``, >= 0 adds
            ``w b``.
        weight: ``(H, W)`` weights from :func:`vignette_weight`.
        saturation: darktable ``saturation`` -1..1 (applied only when non-zero, so 0 is exact).
        unbound: ``False`` clips to [0, 1] after each step, as darktable does.

    Returns:
        ``(N, 3, H, W)``.
    """
    b = torch.as_tensor(brightness, dtype=image.dtype, device=image.device)
    if b.ndim == 1:
        b = b.view(-1, 1, 1, 1)
    w = weight.to(dtype=image.dtype, device=image.device)
    out = torch.where(b < 0, image * (1.0 + w * b), image + w * b)
    if not unbound:
        out = out.clamp(0.0, 1.0)
    if saturation != 0.0:
        mean = out.mean(dim=-3, keepdim=True)
        out = out - (mean - out) * (w * saturation)
        if not unbound:
            out = out.clamp(0.0, 1.0)
    return out


@one_slider_filter
def apply_vignette(image: Tensor, value: Tensor) -> Tensor:
    """Vignette slider (-100..100, identity 0) as darktable ``vignette`` v4 with the catalog mapping.

    Matches darktable 4.2 ``vignette`` with ``brightness = value / 100`` and the fields of
    :data:`VIGNETTE_FIXED_FIELDS`: negative values darken the corners multiplicatively, positive values add
    light (additive in linear RGB, as darktable does). Exact no-op at 0 (:func:`one_slider_filter`). Not clamped.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020.
        value: ``(N,)`` vignette, -100..100 (a number or 0-d tensor stands for every image).

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020.

    Example:
        >>> img = torch.full((1, 3, 6, 8), 0.5)
        >>> out = apply_vignette(img, -100.0)
        >>> bool(out[0, 0, 0, 0] < out[0, 0, 3, 4])
        True
    """
    f = VIGNETTE_FIXED_FIELDS
    weight = vignette_weight(
        image.shape[-2],
        image.shape[-1],
        scale=f["scale"],
        falloff_scale=f["falloff_scale"],
        center=(f["center.x"], f["center.y"]),
        autoratio=bool(f["autoratio"]),
        whratio=f["whratio"],
        shape=f["shape"],
        dtype=image.dtype,
        device=image.device,
    )
    return vignette_rgb(image, value * BRIGHTNESS_PER_UNIT, weight, f["saturation"], bool(f["unbound"]))


#: Stage function (see :mod:`backend.render.pipeline`): ``values`` may hold ``"vignette"`` of shape ``(N,)``.
apply_vignette_stage = one_slider_stage("vignette", apply_vignette, "apply_vignette_stage")


class Vignette(nn.Module):
    """Thin module around :func:`apply_vignette` (no parameters)."""

    def forward(self, image: Tensor, value: Tensor | float) -> Tensor:
        """See :func:`apply_vignette`."""
        return apply_vignette(image, value)
