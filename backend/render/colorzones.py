"""Stage ``colorzones``: the ``hsl`` slider, following darktable 4.2.1's color zones (v5) in smooth mode.

darktable target: ``colorzones`` v5 (520 bytes), select by hue (``channel`` 2), mode SMOOTH, splines version V2
(periodic hue curves), strength 0. Each of the three output curves (lightness L, chroma C, hue h, in darktable's
channel order) has 8 nodes, one per Lightroom band, at the CIE LCh(ab) hue (D50, in turns) of the band's
reference colour: the fully saturated sRGB colour of HSV hue 0, 30, 60, 120, 180, 240, 270 and 300 degrees
(:data:`BAND_HUES`, increasing, so already sorted as darktable requires). The curves are periodic monotone
Hermite splines (``curve_type`` 2, the interpolation of darktable's own "HSL base setting" preset); darktable
builds them with ``monotone_hermite_spline_variant`` (``src/common/splines.cpp``), which never overshoots, so a
band move does not push neighbouring hues the opposite way.

Slider mapping (our own constants, in the spirit of darktable's Lightroom importer, which uses 4/9 for L and
3/9 for h): for a band with hue ``h``, saturation ``s`` and luminance ``l`` in -100..100,

* C curve ``y = 0.5 + s / 200``: chroma factor ``2 y`` = 0 (grey) .. 2 at the band hue;
* L curve ``y = 0.5 + K_LUMINANCE * l / 200`` with ``K_LUMINANCE = 1/3``: L* scales by up to 2**(+-2/3)
  (x1.59 / x0.63) for saturated colours;
* h curve ``y = 0.5 + K_HUE * h / 200`` with ``K_HUE = 1/6``: hue turns by up to +-1/12 turn (+-30 degrees),
  about the spacing of Lightroom's bands.

Per pixel (``process_v3`` of colorzones.c): Lab (D50) from working RGB; ``C = |ab|``, ``h = atan2(b, a)`` in
turns; ``blend = (1 - C/128)**2`` protects low-chroma pixels;
``L *= 2**(4 (blend/2 + (1 - blend) curveL(h) - 1/2))``; ``C *= 2 curveC(h)`` (no blend);
``h += blend/2 + (1 - blend) curveH(h) - 1/2``; back to Lab and working RGB. The curves are clamped to
``[0, 1]`` like darktable's LUT; the renderer evaluates them analytically (no 16-bit LUT), so it is
differentiable with respect to image and values. All-zero values are an exact no-op.
"""

from __future__ import annotations

import colorsys
import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from backend.errors import InvalidRecipeError
from backend.render.color import SRGB_TO_REC2020, apply_matrix, lab_to_rec2020, rec2020_to_lab, srgb_decode
from backend.render.values import exact_identity_items, one_slider_stage
from backend.sliders.catalog import HSL_COLOURS, get_slider

__all__ = [
    "BAND_HSV_DEGREES",
    "BAND_HUES",
    "CHANNEL_HUE",
    "CURVE_TYPE_CATMULL_ROM",
    "CURVE_TYPE_MONOTONE_HERMITE",
    "HSL",
    "HSL_CURVE_TYPE",
    "K_HUE",
    "K_LUMINANCE",
    "MAX_NODES",
    "MODE_SMOOTH",
    "SPLINES_V2",
    "apply_colorzones_stage",
    "apply_hsl",
    "colorzones_params",
    "hsl_curve_nodes",
]

#: darktable enums (colorzones.c, curve_tools.h).
CHANNEL_HUE = 2
CURVE_TYPE_CATMULL_ROM = 1
CURVE_TYPE_MONOTONE_HERMITE = 2
MODE_SMOOTH = 0
SPLINES_V2 = 1
MAX_NODES = 20

#: Interpolation of the three hue curves (written to ``curve_type`` and used by the renderer).
HSL_CURVE_TYPE = CURVE_TYPE_MONOTONE_HERMITE
#: Luminance and hue strength constants of the slider mapping (see the module docstring).
K_LUMINANCE = 1.0 / 3.0
K_HUE = 1.0 / 6.0

#: HSV hue (degrees) of the reference colour of each Lightroom band, in :data:`HSL_COLOURS` order.
BAND_HSV_DEGREES: tuple[float, ...] = (0.0, 30.0, 60.0, 120.0, 180.0, 240.0, 270.0, 300.0)

# chroma at which darktable's low-chroma blend weight (1 - C/128)**2 reaches 0
_BLEND_CHROMA = 128.0


def _band_hue(hsv_degrees: float) -> float:
    """LCh(ab) D50 hue, in turns (0..1), of the fully saturated sRGB colour of an HSV hue."""
    rgb = colorsys.hsv_to_rgb(hsv_degrees / 360.0, 1.0, 1.0)
    encoded = torch.tensor(rgb, dtype=torch.float64).view(3, 1, 1)
    lab = rec2020_to_lab(apply_matrix(srgb_decode(encoded), SRGB_TO_REC2020)).flatten()
    return round(math.atan2(float(lab[2]), float(lab[1])) / (2.0 * math.pi) % 1.0, 6)


#: Node x (hue in turns) of each band, in :data:`HSL_COLOURS` order; strictly increasing.
BAND_HUES: tuple[float, ...] = tuple(_band_hue(d) for d in BAND_HSV_DEGREES)

assert len(BAND_HUES) == len(HSL_COLOURS)
assert all(a < b for a, b in itertools.pairwise(BAND_HUES)), "band hues must increase"


def hsl_curve_nodes(value: Tensor) -> Tensor:
    """Node y of the L, C and h curves for ``hsl`` values.

    Args:
        value: ``(N, 8, 3)`` (rows = bands, columns = hue, saturation, luminance; -100..100).

    Returns:
        ``(N, 3, 8)``: rows L, C, h (darktable channel order), columns the bands at :data:`BAND_HUES`.
    """
    hue, sat, lum = value.unbind(-1)
    return torch.stack((0.5 + K_LUMINANCE * lum / 200.0, 0.5 + sat / 200.0, 0.5 + K_HUE * hue / 200.0), dim=-2)


def _periodic_tangents(x: Tensor, y: Tensor, curve_type: int) -> Tensor:
    """Node tangents of darktable's periodic splines (period 1), ``splines.cpp``.

    Args:
        x: ``(K,)`` increasing node positions in [0, 1).
        y: ``(*, K)`` node values.
        curve_type: :data:`CURVE_TYPE_MONOTONE_HERMITE` (the "variant" with the weighted harmonic mean of
            Fritsch and Butland) or :data:`CURVE_TYPE_CATMULL_ROM` (central differences).

    Returns:
        ``(*, K)`` tangents.
    """
    h = torch.cat((x[1:] - x[:-1], (x[:1] - x[-1:]) + 1.0))  # (K,), h[i] from node i to node i+1 (wrapping)
    y_next = torch.roll(y, -1, dims=-1)
    delta = (y_next - y) / h  # (*, K)
    delta_prev = torch.roll(delta, 1, dims=-1)
    h_prev = torch.roll(h, 1, dims=0)
    if curve_type == CURVE_TYPE_CATMULL_ROM:
        return (y_next - torch.roll(y, 1, dims=-1)) / (h + h_prev)
    if curve_type != CURVE_TYPE_MONOTONE_HERMITE:
        raise InvalidRecipeError(f"unsupported colorzones curve type {curve_type}")
    alpha = (h_prev + 2.0 * h) / (3.0 * (h_prev + h))
    same_sign = delta_prev * delta > 0
    denom = alpha * delta + (1.0 - alpha) * delta_prev
    denom_safe = torch.where(same_sign, denom, torch.ones_like(denom))
    return torch.where(same_sign, delta_prev * delta / denom_safe, torch.zeros_like(denom))


def _periodic_curves(t: Tensor, x: Tensor, y: Tensor, curve_type: int) -> Tensor:
    """Evaluate periodic Hermite curves at ``t`` (turns), clamped to [0, 1] like darktable's LUT.

    Args:
        t: ``(N, H, W)`` positions in turns (any real; wrapped).
        x: ``(K,)`` node positions.
        y: ``(N, R, K)`` node values of R curves.
        curve_type: see :func:`_periodic_tangents`.

    Returns:
        ``(N, R, H, W)``.
    """
    n, r, k = y.shape
    m = _periodic_tangents(x, y, curve_type)
    t = torch.remainder(t, 1.0)
    t = torch.where(t < x[0], t + 1.0, t).unsqueeze(1)  # (N, 1, H, W), in [x[0], x[0] + 1)
    idx = torch.searchsorted(x.contiguous(), t.detach().contiguous(), right=True) - 1  # segment 0..K-1
    x_ext = torch.cat((x, x[:1] + 1.0))
    x_lo = x_ext[idx]
    h = x_ext[idx + 1] - x_lo
    s = (t - x_lo) / h
    s2 = s * s
    s3 = s2 * s
    # node tables with the first node repeated at the end, so segment K-1 wraps to node 0
    y_table = torch.cat((y, y[..., :1]), dim=-1).reshape(-1)
    m_table = torch.cat((m, m[..., :1]), dim=-1).reshape(-1)
    row = torch.arange(n * r, device=t.device).view(n, r, 1, 1) * (k + 1)
    flat = row + idx
    out = (
        (2 * s3 - 3 * s2 + 1) * y_table.take(flat)
        + (s3 - 2 * s2 + s) * h * m_table.take(flat)
        + (-2 * s3 + 3 * s2) * y_table.take(flat + 1)
        + (s3 - s2) * h * m_table.take(flat + 1)
    )
    return out.clamp(0.0, 1.0)


def _colorzones_map(image: Tensor, nodes_y: Tensor, curve_type: int = HSL_CURVE_TYPE) -> Tensor:
    """darktable colorzones (select by hue, smooth mode) on working RGB.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020.
        nodes_y: ``(N, 3, 8)`` node y of the L, C, h curves at :data:`BAND_HUES`.
        curve_type: spline type of the three curves.
    """
    lab = rec2020_to_lab(image)
    L, a, b = lab.unbind(1)
    r2 = a * a + b * b
    coloured = r2 > 0
    a_safe = torch.where(coloured, a, torch.ones_like(a))
    b_safe = torch.where(coloured, b, torch.zeros_like(b))
    chroma = torch.where(coloured, torch.sqrt(torch.where(coloured, r2, torch.ones_like(r2))), torch.zeros_like(r2))
    hue = torch.atan2(b_safe, a_safe) / (2.0 * math.pi)
    x = torch.as_tensor(BAND_HUES, dtype=image.dtype, device=image.device)
    curve_l, curve_c, curve_h = _periodic_curves(hue, x, nodes_y, curve_type).unbind(1)
    blend = (1.0 - chroma / _BLEND_CHROMA) ** 2
    l_mod = blend * 0.5 + (1.0 - blend) * curve_l - 0.5
    h_mod = blend * 0.5 + (1.0 - blend) * curve_h - 0.5
    c_mod = 2.0 * curve_c
    angle = 2.0 * math.pi * h_mod
    cos, sin = torch.cos(angle), torch.sin(angle)
    out = torch.stack(
        (L * torch.exp2(4.0 * l_mod), c_mod * (a * cos - b * sin), c_mod * (a * sin + b * cos)),
        dim=1,
    )
    return lab_to_rec2020(out)


def _check_value(image: Tensor, value: Tensor | Sequence[Sequence[float]]) -> Tensor:
    spec = get_slider("hsl")
    v = torch.as_tensor(value, dtype=image.dtype, device=image.device)
    if tuple(v.shape) == spec.shape:
        v = v.expand(image.shape[0], *spec.shape)
    elif tuple(v.shape) != (image.shape[0], *spec.shape):
        raise InvalidRecipeError(f"slider 'hsl': value shape {tuple(v.shape)} is neither {spec.shape} nor (N, *shape)")
    return v


def apply_hsl(image: Tensor, value: Tensor | Sequence[Sequence[float]]) -> Tensor:
    """Per-colour hue, saturation and luminance (darktable color zones, select by hue).

    Convention: Lightroom's HSL panel (8 bands, -100..100), realised as darktable's color zones in smooth mode with
    nodes at the bands' LCh hues; strengths per the module docstring (Lightroom's own curves are proprietary).

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020, unbounded.
        value: ``(8, 3)`` or ``(N, 8, 3)``: rows Red, Orange, Yellow, Green, Aqua, Blue, Purple, Magenta; columns
            hue, saturation, luminance in -100..100; identity all zeros.

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020, not clamped; ``image`` itself when every item is identity and no
        gradient is needed.

    Example:
        >>> img = torch.rand(1, 3, 4, 4)
        >>> apply_hsl(img, torch.zeros(8, 3)) is img
        True
    """
    v = _check_value(image, value)
    is_identity = (v.detach() == 0).flatten(1).all(dim=1)
    if bool(is_identity.all()) and not v.requires_grad:
        return image
    nodes_y = hsl_curve_nodes(v)
    out = _colorzones_map(image, nodes_y)
    return exact_identity_items(image, out, is_identity, lambda x: _colorzones_map(x, nodes_y), v.requires_grad)


#: The ``colorzones`` stage (slider ``hsl``, ``(N, 8, 3)``; missing: identity), see :mod:`backend.render.pipeline`.
apply_colorzones_stage = one_slider_stage("hsl", apply_hsl, "apply_colorzones_stage")


def colorzones_params(values: Mapping[str, Tensor]) -> dict[str, object]:
    """All fields of darktable's colorzones v5 struct for ``hsl`` values.

    Args:
        values: ``{"hsl": (N, 8, 3) tensor}``; a missing ``hsl`` gives the identity (all zeros) for N = 1.

    Returns:
        ``channel`` (2, select by hue), ``curve`` ``(N, 3, 20, 2)`` float32 ({x, y} for the L, C, h curves; 8
        nodes at :data:`BAND_HUES`, unused nodes 0), ``curve_num_nodes`` ``(N, 3)`` int32 (8), ``curve_type``
        ``(N, 3)`` int32 (:data:`HSL_CURVE_TYPE`), ``strength`` 0.0, ``mode`` 0 (smooth), ``splines_version`` 1 (V2).
    """
    v = values["hsl"] if "hsl" in values else torch.zeros(1, *get_slider("hsl").shape)
    y = hsl_curve_nodes(v.detach().to(torch.float64)).cpu().numpy()
    n, k = y.shape[0], len(BAND_HUES)
    curve = np.zeros((n, 3, MAX_NODES, 2), dtype=np.float32)
    curve[:, :, :k, 0] = np.asarray(BAND_HUES, dtype=np.float32)
    curve[:, :, :k, 1] = y
    return {
        "channel": CHANNEL_HUE,
        "curve": curve,
        "curve_num_nodes": np.full((n, 3), k, dtype=np.int32),
        "curve_type": np.full((n, 3), HSL_CURVE_TYPE, dtype=np.int32),
        "strength": 0.0,
        "mode": MODE_SMOOTH,
        "splines_version": SPLINES_V2,
    }


class HSL(nn.Module):
    """Thin module around :func:`apply_hsl` (no parameters)."""

    def forward(self, image: Tensor, value: Tensor) -> Tensor:
        """See :func:`apply_hsl`."""
        return apply_hsl(image, value)
