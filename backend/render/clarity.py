"""Stage ``bilat``: darktable's ``local contrast`` module (bilat v3) in local Laplacian mode.

darktable 4.2 (``src/iop/bilat.c`` + ``src/common/locallaplacian.c``) works on Lab lightness ``x = L / 100``
(a and b are copied) and calls ``local_laplacian(sigma = midtone, shadows = sigma_s, highlights = sigma_r,
clarity = detail)``. The renderer reimplements that filter in torch, step by step:

1. ``n = min(30, floor(log2(min(H, W))))`` pyramid levels, so the coarsest level is a fixed fraction (between
   1/2 and 1) of the short side at every resolution; ``x`` is padded by replication with ``2^(n-1)`` pixels.
2. Six remapped copies ``r_k = curve(x; g_k)`` for the grey levels ``g_k = (k + 1/2) / 6``, where, with
   ``c = x - g``, ``curve`` is a quadratic Bezier blend (within ``2 sigma`` of g) into lines of slope
   ``shadows`` (above) / ``highlights`` (below), plus the clarity term ``detail * c * exp(-c^2 / (2 sigma^2 / 3))``.
3. Gaussian pyramids (binomial 1 4 6 4 1) of the padded input and of each ``r_k``; the output pyramid starts from
   the input's coarsest level and, coarse to fine, adds at every pixel the Laplacian coefficient of the ``r_k``
   linearly interpolated between the two grey levels that bracket the input's Gaussian level at that pixel.
4. ``L_out = 100 * collapse`` cropped to the image.

With ``shadows = highlights = 1`` the Bezier part is the identity, so the only effect left is the clarity term;
the module is then an exact no-op at ``detail = 0`` (darktable's GUI default 50 %/50 % for shadows/highlights
would compress the tonal range even at zero detail, which is why the catalog uses the neutral 100 %).

Catalog mapping (``clarity`` slider, -100..100, identity 0): mode local Laplacian, ``detail = 0.65 * value / 100``
(darktable's own Lightroom-import factor), ``sigma_r = sigma_s = 1`` (100 %, neutral), ``midtone = 0.5``
(default).

Differences from darktable: none in the algorithm (same level count, padding, pyramid stencils and border fills,
grey levels, interpolation, curve with the exact ``expf``); against darktable-cli 4.2.1 on a 124x93 texture the
result differs by at most 4e-5 (float32 rounding; see ``tests/test_render_clarity.py``). It is therefore not an
approximation, but it is only piecewise smooth: the grey-level interpolation and its clamp put kinks where the
input's Gaussian level crosses a grey level ``g_k``. darktable's darkroom preview shortcut (a coarse pyramid
borrowed from the preview pipe) is not reproduced; exports do not use it either.
Resolution independence comes from the full-depth pyramid: the coarsest level is always 1/2..1 of the short side
and every band is treated alike, so rendering small and downscaling a large render agree to about 1 % of the
effect (the finest band of the large image has no counterpart in the small one).
Cost: the padded image (short side about doubled) and three of its pyramids at a time, times the 6 grey levels
in time; a 1024x768 image takes about 2 s on one CPU core.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.nn.functional import pad

from backend.render.color import lab_to_rec2020, rec2020_to_lab
from backend.render.filters import pyramid_expand, pyramid_reduce
from backend.render.values import one_slider_filter, one_slider_stage, params_value

__all__ = [
    "BILAT_FIXED_FIELDS",
    "DETAIL_PER_UNIT",
    "NUM_GREY_LEVELS",
    "Clarity",
    "apply_bilat_stage",
    "apply_clarity",
    "bilat_params",
    "local_laplacian_levels",
    "local_laplacian_lightness",
]

#: darktable ``detail`` per slider unit (darktable's Lightroom import maps Clarity 100 to 0.65).
DETAIL_PER_UNIT = 0.65 / 100.0
#: Number of remapping grey levels (darktable's ``num_gamma``).
NUM_GREY_LEVELS = 6
#: darktable's cap on the number of pyramid levels.
_MAX_LEVELS = 30

#: The fields the catalog fixes (names as in darktable-4.2-params.json; the enum ``mode`` as a number).
BILAT_FIXED_FIELDS: dict[str, float] = {
    "mode": 1.0,  # s_mode_local_laplacian
    "sigma_r": 1.0,  # highlights 100 % (neutral)
    "sigma_s": 1.0,  # shadows 100 % (neutral)
    "midtone": 0.5,  # default mid-tone range
}


def bilat_params(values: Mapping[str, Tensor], image_long_side_px: int) -> dict[str, Tensor]:
    """darktable ``bilat`` v3 fields for the slider value.

    Args:
        values: ``{"clarity": (N,)}`` slider values -100..100 (missing means identity, 0).
        image_long_side_px: long side of the full-resolution image in pixels (unused: the local Laplacian's
            scales follow the image size by construction).

    Returns:
        ``{"mode", "sigma_r", "sigma_s", "detail", "midtone"}``, each ``(N,)``.
    """
    del image_long_side_px
    value = params_value(values, "clarity")
    fields = {name: torch.full_like(value, v) for name, v in BILAT_FIXED_FIELDS.items()}
    fields["detail"] = value * DETAIL_PER_UNIT
    return fields


def local_laplacian_levels(height: int, width: int) -> int:
    """darktable's pyramid depth ``min(30, floor(log2(min(H, W))))`` for an ``H x W`` image."""
    return min(_MAX_LEVELS, math.floor(math.log2(min(height, width)))) if min(height, width) >= 1 else 0


def _remap(x: Tensor, grey: float, sigma: float, shadows: float, highlights: float, detail: Tensor) -> Tensor:
    """darktable's ``curve_scalar`` around one grey level.

    Args:
        x: ``(N, 1, H, W)`` lightness in [0, 1] (unbounded).
        grey: the grey level g.
        sigma: mid-tone range.
        shadows: slope far above the grey level.
        highlights: slope far below the grey level.
        detail: ``(N, 1, 1, 1)`` or scalar clarity.

    Returns:
        ``(N, 1, H, W)``.
    """
    c = x - grey
    clarity = detail * c * torch.exp(c * c * (-1.5 / (sigma * sigma)))
    if shadows == 1.0 and highlights == 1.0:  # the Bezier blend is then the identity
        return x + clarity
    t_up = (c / (2.0 * sigma)).clamp(0.0, 1.0)
    t_dn = (-c / (2.0 * sigma)).clamp(0.0, 1.0)
    upper = grey + 2.0 * sigma * t_up * (1.0 - t_up) + t_up * t_up * (sigma + sigma * shadows)
    lower = grey - 2.0 * sigma * t_dn * (1.0 - t_dn) + t_dn * t_dn * (-sigma - sigma * highlights)
    val = torch.where(c > 0, upper, lower)
    val = torch.where(c > 2.0 * sigma, grey + sigma + shadows * (c - sigma), val)
    val = torch.where(c < -2.0 * sigma, grey - sigma + highlights * (c + sigma), val)
    return val + clarity


def _grey_weight(gauss_level: Tensor, k: int) -> Tensor:
    """Weight of grey level ``k`` at every pixel of one Gaussian level: ``max(0, 1 - |pos - k|)``.

    ``pos`` is the position of the pixel's Gaussian value between the grey levels ``(j + 1/2) / K``, clamped to
    ``[0, K - 1]``: the linear interpolation between the two grey levels that bracket it. Worked out per level
    and grey level rather than kept, which saves a padded pyramid of memory.
    """
    pos = (gauss_level * NUM_GREY_LEVELS - 0.5).clamp(0.0, NUM_GREY_LEVELS - 1.0)
    return (1.0 - (pos - k).abs()).clamp_min(0.0)


def local_laplacian_lightness(
    lightness: Tensor,
    detail: Tensor | float,
    sigma: float = BILAT_FIXED_FIELDS["midtone"],
    shadows: float = BILAT_FIXED_FIELDS["sigma_s"],
    highlights: float = BILAT_FIXED_FIELDS["sigma_r"],
) -> Tensor:
    """darktable's local Laplacian filter on lightness scaled to [0, 1].

    The grey levels are processed one after the other and their Laplacian coefficients accumulated, so the
    memory is a few padded-image pyramids whatever the number of grey levels (without autograd).

    Args:
        lightness: ``(N, 1, H, W)`` Lab L / 100 (not clamped).
        detail: darktable ``detail`` (clarity), float or ``(N,)``.
        sigma: darktable ``midtone`` (0.001..1).
        shadows: darktable ``sigma_s`` in local Laplacian mode (1 = neutral).
        highlights: darktable ``sigma_r`` in local Laplacian mode (1 = neutral).

    Returns:
        ``(N, 1, H, W)`` filtered lightness / 100. Images with a side below 4 pixels are returned unchanged
        (darktable needs at least two pyramid levels).
    """
    height, width = lightness.shape[-2:]
    levels = local_laplacian_levels(height, width)
    if levels < 2:
        return lightness
    last = levels - 1
    margin = 1 << last
    padded = pad(lightness, (margin, margin, margin, margin), mode="replicate")
    detail_t = torch.as_tensor(detail, dtype=lightness.dtype, device=lightness.device)
    detail_t = detail_t.view(-1, 1, 1, 1) if detail_t.ndim == 1 else detail_t

    gauss = [padded]
    for _ in range(last):
        gauss.append(pyramid_reduce(gauss[-1]))
    lean = not (torch.is_grad_enabled() and (lightness.requires_grad or detail_t.requires_grad))
    detail_sum = [torch.zeros_like(g) for g in gauss[:last]]
    for k in range(NUM_GREY_LEVELS):
        remapped = _remap(padded, (k + 0.5) / NUM_GREY_LEVELS, sigma, shadows, highlights, detail_t)
        for level in range(last):
            coarser = pyramid_reduce(remapped)
            h, w = remapped.shape[-2:]
            band = remapped - pyramid_expand(coarser, h, w)
            weight = _grey_weight(gauss[level], k)
            if lean:  # no gradient wanted: in place, a few planes fewer at full size (the same values)
                detail_sum[level].add_(band.mul_(weight))
            else:
                detail_sum[level] = detail_sum[level] + weight * band
            remapped = coarser

    out = gauss[last]
    for level in range(last - 1, -1, -1):
        h, w = gauss[level].shape[-2:]
        out = pyramid_expand(out, h, w) + detail_sum[level]
    return out[:, :, margin : margin + height, margin : margin + width]


@one_slider_filter
def apply_clarity(image: Tensor, value: Tensor) -> Tensor:
    """Clarity slider (-100..100, identity 0) as darktable ``bilat`` (local Laplacian) with the catalog mapping.

    Matches darktable 4.2 ``local contrast`` in local Laplacian mode with ``detail = 0.65 * value / 100``,
    neutral shadows/highlights (100 %) and mid-tone range 0.5: positive values raise mid-tone local contrast,
    negative values flatten it; Lab a and b are kept. Exact no-op at 0 (:func:`one_slider_filter`). Not clamped.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020.
        value: ``(N,)`` clarity, -100..100 (a number or 0-d tensor stands for every image).

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020; ``image`` itself below two pyramid levels (shorter side under 4 px).
    """
    if local_laplacian_levels(*image.shape[-2:]) < 2:
        return image
    lab = rec2020_to_lab(image)
    lightness = local_laplacian_lightness(lab[:, :1] / 100.0, value * DETAIL_PER_UNIT)
    return lab_to_rec2020(torch.cat((lightness * 100.0, lab[:, 1:]), dim=1))


#: Stage function (see :mod:`backend.render.pipeline`): ``values`` may hold ``"clarity"`` of shape ``(N,)``.
apply_bilat_stage = one_slider_stage("clarity", apply_clarity, "apply_bilat_stage")


class Clarity(nn.Module):
    """Thin module around :func:`apply_clarity` (no parameters)."""

    def forward(self, image: Tensor, value: Tensor | float) -> Tensor:
        """See :func:`apply_clarity`."""
        return apply_clarity(image, value)
