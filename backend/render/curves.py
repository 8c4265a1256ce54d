"""Stage ``rgbcurve``: the ``tone_curve`` and ``rgb_curves`` sliders, following darktable 4.2.1's rgb curve.

darktable target (rgbcurve v1, 516-byte params, ``compensate_middle_grey`` off, so node coordinates are
linear working-RGB values):

* ``tone_curve`` -> instance 0 (``multi_priority`` 0): one curve on channel 0, ``curve_autoscale``
  AUTOMATIC_RGB (linked) with ``preserve_colors`` NONE, i.e. the same curve applied to R, G and B separately.
* ``rgb_curves`` -> instance 1 (``multi_priority`` 1): ``curve_autoscale`` MANUAL_RGB, one curve per channel.

The pipeline applies instance 0 first, then instance 1 (the darktable translator must list ``rgbcurve,0``
before ``rgbcurve,1`` in the ``iop_order_list``).

The math, per channel value ``x`` and curve nodes ``(knots, y)`` (``knots`` = catalog ``CURVE_KNOTS``,
first 0, last 1), as darktable evaluates it through its 65536-entry LUT:

* ``x < knots[0]``: ``y[0]`` (the LUT's first entry; negative values are flattened);
* ``knots[0] <= x < knots[-1]``: the monotone cubic Hermite spline of ``src/common/curve_tools.c``
  (tangent rule in :func:`monotone_hermite_tangents`), clamped to ``[0, 1]`` like the LUT;
* ``x >= knots[-1]``: the power law ``y0 * (x / x0) ** g`` fitted by darktable's ``dt_iop_estimate_exp`` on the
  curve at ``0.7, 0.8, 0.9, 1.0`` times the last node: ``(x0, y0)`` is the last node and ``g`` the mean of
  ``log(f(x_k) / y0) / log(x_k / x0)`` over the three inner samples with ``f(x_k) / y0 > 0``.

The renderer evaluates this analytically (no LUT, no 16-bit quantisation), so it is differentiable with respect
to the image and to the y-values; darktable's LUT differs by at most about 2e-5. Without a gradient, float32
images read the exact spline from a 65536-entry table on [0, 1] instead, as darktable does (linear interpolation,
about 1e-9 from the spline; see the fast-path section). No output clamping beyond what
darktable does; y-values are not clamped or sorted here (the recipe validator checks monotonicity).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from backend.errors import InvalidRecipeError
from backend.render.values import exact_identity_items
from backend.sliders.catalog import CURVE_KNOTS, get_slider

__all__ = [
    "AUTOSCALE_AUTOMATIC_RGB",
    "AUTOSCALE_MANUAL_RGB",
    "CURVE_TYPE_MONOTONE_HERMITE",
    "MAX_NODES",
    "RGB_NORM_NONE",
    "RGBCurves",
    "ToneCurve",
    "apply_rgb_curves",
    "apply_rgbcurve_stage",
    "apply_tone_curve",
    "monotone_hermite",
    "monotone_hermite_tangents",
    "rgbcurve_params",
]

#: darktable ``curve_type`` value of the monotone Hermite spline (``src/common/curve_tools.h``).
CURVE_TYPE_MONOTONE_HERMITE = 2
#: ``curve_autoscale``: linked channels (channel 0 curve for all) / independent R, G, B curves.
AUTOSCALE_AUTOMATIC_RGB = 0
AUTOSCALE_MANUAL_RGB = 1
#: ``preserve_colors`` NONE (``DT_RGB_NORM_NONE``): the linked curve is applied per channel.
RGB_NORM_NONE = 0
#: Nodes per channel in the params struct.
MAX_NODES = 20

# curve_tools.c treats slopes below 2 * FLT_MIN as flat.
_FLAT_SLOPE = 2.0 * float(np.finfo(np.float32).tiny)
# Fractions of the last node at which darktable samples the curve to fit the extrapolation.
_EXTRAPOLATION_FRACTIONS = (0.7, 0.8, 0.9)


def _knots_tensor(knots_x: Tensor | Sequence[float], like: Tensor) -> Tensor:
    kx = torch.as_tensor(knots_x, dtype=like.dtype, device=like.device)
    if kx.ndim != 1 or kx.numel() < 2:
        raise InvalidRecipeError(
            f"curve knots must be a 1-D sequence of at least 2 values, got shape {tuple(kx.shape)}"
        )
    return kx


def monotone_hermite_tangents(knots_x: Tensor | Sequence[float], knots_y: Tensor) -> Tensor:
    """Node tangents of darktable's monotone Hermite spline (``monotone_hermite_set`` in curve_tools.c).

    Secants ``d_i`` between nodes (the last one repeated), tangents ``m_0 = d_0``, ``m_{K-1} = d_{K-2}``,
    ``m_i = (d_{i-1} + d_i) / 2`` inside; then, node by node in order, a flat secant zeroes both of its
    tangents and ``tau = (m_i / d_i)**2 + (m_{i+1} / d_i)**2 > 9`` rescales both by ``3 / sqrt(tau)``
    (Fritsch-Carlson). There is no sign test: for non-decreasing y the result is monotone.

    Args:
        knots_x: ``(K,)`` strictly increasing node abscissae.
        knots_y: ``(*, K)`` node ordinates.

    Returns:
        ``(*, K)`` tangents (dy/dx at the nodes), same dtype as ``knots_y``.
    """
    kx = _knots_tensor(knots_x, knots_y)
    k = kx.numel()
    delta = (knots_y[..., 1:] - knots_y[..., :-1]) / (kx[1:] - kx[:-1])
    secants = [*delta.unbind(-1), delta[..., -1]]
    m = [secants[0], *((secants[i - 1] + secants[i]) * 0.5 for i in range(1, k - 1)), secants[k - 1]]
    m.append(torch.zeros_like(secants[0]))
    for i in range(k):
        d = secants[i]
        flat = d.abs() < _FLAT_SLOPE
        d_safe = torch.where(flat, torch.ones_like(d), d)
        tau = (m[i] / d_safe) ** 2 + (m[i + 1] / d_safe) ** 2
        steep = ~flat & (tau > 9.0)
        scale = 3.0 / torch.sqrt(torch.where(steep, tau, torch.full_like(tau, 9.0)))
        zero = torch.zeros_like(d)
        m[i], m[i + 1] = (
            torch.where(flat, zero, torch.where(steep, m[i] * scale, m[i])),
            torch.where(flat, zero, torch.where(steep, m[i + 1] * scale, m[i + 1])),
        )
    return torch.stack(m[:k], dim=-1)


def _hermite_segments(x: Tensor, kx: Tensor, knots_y: Tensor, tangents: Tensor) -> Tensor:
    """Evaluate the cubic Hermite pieces at ``x`` (darktable's ``catmull_rom_val``, extrapolating the end pieces).

    Each value looks up its segment's node values with ``take`` from the small ``(*, K)`` tables, so the backward
    pass accumulates into those tables instead of materialising per-pixel copies.
    """
    k = kx.numel()
    batch = knots_y.shape[:-1]
    # broadcast_tensors, not broadcast_shapes: the latter imports sympy (half a second) on first use
    shape = torch.broadcast_tensors(x, x.new_empty(batch))[0].shape
    x = x.expand(shape)
    # segment i holds x < kx[i + 1] (first match), the last segment everything beyond
    idx = torch.searchsorted(kx[1:-1].contiguous(), x.detach().contiguous(), right=True)
    x_lo = kx[idx]
    h = kx[idx + 1] - x_lo
    t = (x - x_lo) / h
    t2 = t * t
    t3 = t2 * t
    row = torch.arange(math.prod(batch), device=x.device).reshape(batch) * k
    flat = row.expand(shape) + idx
    y_table = knots_y.reshape(-1)
    m_table = tangents.reshape(-1)
    return (
        (2 * t3 - 3 * t2 + 1) * y_table.take(flat)
        + (t3 - 2 * t2 + t) * h * m_table.take(flat)
        + (-2 * t3 + 3 * t2) * y_table.take(flat + 1)
        + (t3 - t2) * h * m_table.take(flat + 1)
    )


def monotone_hermite(x: Tensor, knots_x: Tensor | Sequence[float], knots_y: Tensor) -> Tensor:
    """darktable's monotone Hermite spline through ``(knots_x, knots_y)``, evaluated at ``x``.

    Outside ``[knots_x[0], knots_x[-1]]`` the value is held constant at the end nodes' y (as darktable's curve
    sampler does); :func:`apply_tone_curve` adds rgbcurve's power-law extrapolation above the last node.
    Differentiable with respect to ``x`` and ``knots_y``; nothing is clamped.

    Args:
        x: values to map, any shape ``S``.
        knots_x: ``(K,)`` strictly increasing node abscissae.
        knots_y: ``(*, K)`` node ordinates, ``*`` broadcastable to ``S`` (e.g. ``(N, 1, 1, 1, K)`` for
            one curve per image applied to ``(N, 3, H, W)``).

    Returns:
        Tensor of the broadcast shape of ``S`` and ``*``.

    Example:
        >>> y = monotone_hermite(torch.tensor([0.25, 0.5]), [0.0, 0.5, 1.0], torch.tensor([0.0, 0.5, 1.0]))
        >>> torch.allclose(y, torch.tensor([0.25, 0.5]))
        True
    """
    kx = _knots_tensor(knots_x, knots_y)
    tangents = monotone_hermite_tangents(kx, knots_y)
    return _hermite_segments(x.clamp(kx[0], kx[-1]), kx, knots_y, tangents)


def _extrapolation(kx: Tensor, knots_y: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
    """darktable's power law above the last node: ``(y0, g)`` of ``y0 * (x / x0) ** g``, each ``knots_y.shape[:-1]``."""
    x0 = kx[-1]
    y0 = knots_y[..., -1].clamp(0.0, 1.0)
    positive = y0 > 0
    y0_safe = torch.where(positive, y0, torch.ones_like(y0))
    g_sum = torch.zeros_like(y0)
    count = torch.zeros_like(y0)
    for frac in _EXTRAPOLATION_FRACTIONS:
        xk = x0 * frac
        yk = _hermite_segments(xk.expand_as(y0), kx, knots_y, tangents).clamp(0.0, 1.0)
        valid = positive & (yk > 0)
        ratio = torch.where(valid, yk / y0_safe, torch.ones_like(yk))
        g_sum = g_sum + torch.where(valid, torch.log(ratio) / math.log(frac), torch.zeros_like(yk))
        count = count + valid.to(y0.dtype)
    g = torch.where(count > 0, g_sum / count.clamp_min(1.0), torch.ones_like(g_sum))
    return y0, g


def _rgbcurve_map(x: Tensor, knots_y: Tensor) -> Tensor:
    """One rgbcurve channel as darktable renders it: LUT domain, clamps and power-law extrapolation.

    Args:
        x: ``(N, C, H, W)`` channel values (C = 3 or 1).
        knots_y: ``(N, C', 1, 1, K)`` node y at :data:`CURVE_KNOTS`, C' = 1 or C.
    """
    kx = torch.as_tensor(CURVE_KNOTS, dtype=x.dtype, device=x.device)
    tangents = monotone_hermite_tangents(kx, knots_y)
    inside = _hermite_segments(x.clamp(kx[0], kx[-1]), kx, knots_y, tangents).clamp(0.0, 1.0)
    y0, g = _extrapolation(kx, knots_y, tangents)
    above = x >= kx[-1]
    base = torch.where(above, x / kx[-1], torch.ones_like(x))
    extrapolated = y0 * base**g
    return torch.where(above, extrapolated, inside)


# --- inference fast path -------------------------------------------------------------------------------
#
# Taken for float32 CPU images when nothing needs a gradient: like darktable, the curve on [0, 1] is read from a
# 65536-entry table, filled with the exact spline and interpolated linearly (about 1e-9 from the spline);
# below 0 the first entry holds, above 1 the table's last entry times ``x ** g`` is the power law exactly.
# float64 images take the reference math (a table would not reach float64 precision).

#: Entries of the fast path's table on [0, 1] (darktable's rgbcurve LUT size).
LUT_SIZE = 0x10000
#: Pixels per chunk of the fast path.
_FAST_CHUNK_PIXELS = 1 << 18


@functools.lru_cache(maxsize=32)
def _curve_table(knots_y: tuple[float, ...], dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor, float]:
    """The fast-path table of one curve, from node y given in ``dtype``'s precision.

    Returns:
        ``(value, slope, g)``: the clamped spline at ``i / (LUT_SIZE - 1)`` in ``dtype``, ``value[i + 1] -
        value[i]`` (0 at the end), and the extrapolation exponent as the reference computes it in ``dtype``.
    """
    y = torch.tensor(knots_y, dtype=torch.float64)
    kx = torch.as_tensor(CURVE_KNOTS, dtype=torch.float64)
    grid = torch.linspace(0.0, 1.0, LUT_SIZE, dtype=torch.float64)
    tangents = monotone_hermite_tangents(kx, y)
    value = _hermite_segments(grid, kx, y, tangents).clamp(0.0, 1.0).to(dtype=dtype, device=device)
    slope = torch.cat((value[1:] - value[:-1], value.new_zeros(1)))
    y_typed = y.to(dtype)
    _, g = _extrapolation(kx.to(dtype), y_typed, monotone_hermite_tangents(kx.to(dtype), y_typed))
    return value, slope, float(g)


def _apply_table(x: Tensor, out: Tensor, table: tuple[Tensor, Tensor, float]) -> None:
    """``out = curve(x)`` through one :func:`_curve_table`; ``out`` contiguous, same shape as ``x``."""
    value, slope, g = table
    t = x.clamp(0.0, 1.0).mul_(LUT_SIZE - 1)
    index = t.to(torch.int32).clamp_(0, LUT_SIZE - 1)  # floor, as t >= 0 (the clamp only catches NaN)
    frac = t.sub_(index)
    flat = index.view(-1)
    torch.index_select(value, 0, flat, out=out.view(-1))
    out.addcmul_(slope.index_select(0, flat).view_as(out), frac)
    if float(x.max()) > 1.0:  # power law above the last node: value[-1] * x ** g
        out.mul_(torch.log2(x.clamp_min(1.0)).mul_(g).exp2_())


def _curve_fast(image: Tensor, knots_y: Tensor) -> Tensor:
    """:func:`_rgbcurve_map` through tables, for float32 and no gradient; ``knots_y`` ``(N, C', K)``."""
    out = torch.empty_like(image, memory_format=torch.contiguous_format)
    height, width = image.shape[-2:]
    rows = max(1, _FAST_CHUNK_PIXELS // max(width, 1))
    for n in range(image.shape[0]):
        curves = [_curve_table(tuple(row), image.dtype, image.device) for row in knots_y[n].tolist()]
        for top in range(0, height, rows):
            src = image[n, :, top : top + rows, :]
            dst = out[n, :, top : top + rows, :]
            for c in range(image.shape[1]):
                _apply_table(src[c], dst[c], curves[c if len(curves) > 1 else 0])
    return out


def _identity_rows(value: Tensor) -> Tensor:
    """``(N,)`` bool: which batch items hold exactly the identity curve(s) (y == CURVE_KNOTS)."""
    knots = torch.as_tensor(CURVE_KNOTS, dtype=value.dtype, device=value.device)
    return (value.detach() == knots).flatten(1).all(dim=1)


def _curve_stage(image: Tensor, value: Tensor, knots_y: Tensor) -> Tensor:
    """Apply one rgbcurve instance; identity items are an exact no-op.

    Identity items return ``image`` plus a zero-valued term that carries d(curve)/d(values) when the values need
    a gradient (darktable has no module there, so d(out)/d(image) is exactly 1).
    """
    is_identity = _identity_rows(value)
    if bool(is_identity.all()) and not value.requires_grad:
        return image
    grad = torch.is_grad_enabled() and (image.requires_grad or value.requires_grad)
    # a table costs LUT_SIZE spline evaluations per distinct curve: only worth it for images larger than that
    large = image.shape[-2] * image.shape[-1] >= LUT_SIZE
    if not grad and large and image.dtype == torch.float32 and image.device.type == "cpu":
        out = _curve_fast(image, knots_y.reshape(image.shape[0], -1, knots_y.shape[-1]))
        if bool(is_identity.any()):
            out[is_identity] = image[is_identity]
        return out
    out = _rgbcurve_map(image, knots_y)
    return exact_identity_items(image, out, is_identity, lambda x: _rgbcurve_map(x, knots_y), value.requires_grad)


def _check_value(name: str, image: Tensor, value: Tensor | Sequence[float] | Sequence[Sequence[float]]) -> Tensor:
    spec = get_slider(name)
    v = torch.as_tensor(value, dtype=image.dtype, device=image.device)
    if isinstance(value, Tensor) and value.is_floating_point() and value.dtype != v.dtype and not value.requires_grad:
        # a curve that is the identity in its own dtype stays the exact identity in the image's dtype
        knots = torch.as_tensor(CURVE_KNOTS, dtype=value.dtype, device=value.device)
        same = (value == knots).all(-1, keepdim=True)
        v = torch.where(same.to(v.device), torch.as_tensor(CURVE_KNOTS, dtype=v.dtype, device=v.device), v)
    if tuple(v.shape) == spec.shape:
        v = v.expand(image.shape[0], *spec.shape)
    elif tuple(v.shape) != (image.shape[0], *spec.shape):
        raise InvalidRecipeError(
            f"slider {name!r}: value shape {tuple(v.shape)} is neither {spec.shape} nor (N, *shape)"
        )
    return v


def apply_tone_curve(image: Tensor, value: Tensor | Sequence[float]) -> Tensor:
    """Apply the master tone curve to each channel (darktable rgbcurve, linked, preserve colours none).

    Convention: matches darktable's rgb curve in "RGB, linked channels" mode with "preserve colors: none" and
    a 7-node monotone spline; the Lightroom point curve is approximated by the same points.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020, unbounded.
        value: ``(7,)`` or ``(N, 7)`` output values at :data:`~backend.sliders.catalog.CURVE_KNOTS`, linear RGB,
            non-decreasing, 0..1; identity is ``value == CURVE_KNOTS``.

    Returns:
        ``(N, 3, H, W)``; ``image`` itself when every item is identity and no gradient is needed. Values below 0
        map to ``value[0]``; above 1 the power-law extrapolation continues (not clamped).

    Example:
        >>> img = torch.rand(1, 3, 4, 4)
        >>> apply_tone_curve(img, CURVE_KNOTS) is img
        True
    """
    v = _check_value("tone_curve", image, value)
    return _curve_stage(image, v, v.reshape(v.shape[0], 1, 1, 1, -1))


def apply_rgb_curves(image: Tensor, value: Tensor | Sequence[Sequence[float]]) -> Tensor:
    """Apply one curve per channel (darktable rgbcurve, "RGB, independent channels").

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020, unbounded.
        value: ``(3, 7)`` or ``(N, 3, 7)`` output values at ``CURVE_KNOTS`` for R, G, B; identity is
            ``value[c] == CURVE_KNOTS``.

    Returns:
        ``(N, 3, H, W)`` (see :func:`apply_tone_curve` for the domain handling).
    """
    v = _check_value("rgb_curves", image, value)
    return _curve_stage(image, v, v.reshape(v.shape[0], 3, 1, 1, -1))


def apply_rgbcurve_stage(image: Tensor, values: Mapping[str, Tensor]) -> Tensor:
    """The ``rgbcurve`` stage: ``tone_curve`` (instance 0) then ``rgb_curves`` (instance 1).

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020.
        values: slider name -> ``(N, *shape)`` tensor; missing sliders are identity.

    Returns:
        ``(N, 3, H, W)``; ``image`` itself when both sliders are identity and need no gradient.
    """
    if "tone_curve" in values:
        image = apply_tone_curve(image, values["tone_curve"])
    if "rgb_curves" in values:
        image = apply_rgb_curves(image, values["rgb_curves"])
    return image


def _nodes_array(curves: np.ndarray) -> np.ndarray:
    """``(N, 3, K)`` y-values (NaN rows = default curve) -> ``(N, 3, 20, 2)`` float32 node array."""
    n = curves.shape[0]
    knots = np.asarray(CURVE_KNOTS, dtype=np.float32)
    nodes = np.zeros((n, 3, MAX_NODES, 2), dtype=np.float32)
    nodes[:, :, 1, :] = 1.0  # darktable's default two-node identity (0, 0), (1, 1)
    for c in range(3):
        rows = ~np.isnan(curves[:, c, 0])
        nodes[rows, c, : len(knots), 0] = knots
        nodes[rows, c, : len(knots), 1] = curves[rows, c]
        nodes[rows, c, len(knots) :, :] = 0.0
    return nodes


def rgbcurve_params(values: Mapping[str, Tensor]) -> list[dict[str, object]]:
    """darktable rgbcurve v1 fields for the ``tone_curve`` / ``rgb_curves`` values.

    One dict per slider present in ``values`` (identity values included; a translator may drop an instance whose
    curves are all identity), in pipeline order: ``tone_curve`` -> instance 0, ``rgb_curves`` -> instance 1.

    Args:
        values: slider name -> ``(N, 7)`` (``tone_curve``) / ``(N, 3, 7)`` (``rgb_curves``) tensors.

    Returns:
        List of dicts with the struct fields ``curve_nodes`` ``(N, 3, 20, 2)`` float32 ({x, y}; unused nodes 0),
        ``curve_num_nodes`` ``(N, 3)`` int32, ``curve_type`` ``(N, 3)`` int32 (2 = monotone Hermite),
        ``curve_autoscale``, ``compensate_middle_grey`` (0) and ``preserve_colors`` (0 = none) as ints, plus the
        key ``multi_priority`` (the instance number, not a struct field). With linked channels the G and B slots
        keep darktable's default two-node identity.
    """
    out: list[dict[str, object]] = []
    k = len(CURVE_KNOTS)
    for name, autoscale in (("tone_curve", AUTOSCALE_AUTOMATIC_RGB), ("rgb_curves", AUTOSCALE_MANUAL_RGB)):
        if name not in values:
            continue
        v = values[name].detach().to(torch.float64).cpu().numpy()
        n = v.shape[0]
        curves = np.full((n, 3, k), np.nan)
        num_nodes = np.full((n, 3), 2, dtype=np.int32)
        if name == "tone_curve":
            curves[:, 0] = v.reshape(n, k)
            num_nodes[:, 0] = k
        else:
            curves[:] = v.reshape(n, 3, k)
            num_nodes[:] = k
        out.append(
            {
                "multi_priority": get_slider(name).darktable.instance,
                "curve_nodes": _nodes_array(curves),
                "curve_num_nodes": num_nodes,
                "curve_type": np.full((n, 3), CURVE_TYPE_MONOTONE_HERMITE, dtype=np.int32),
                "curve_autoscale": autoscale,
                "compensate_middle_grey": 0,
                "preserve_colors": RGB_NORM_NONE,
            }
        )
    return out


class ToneCurve(nn.Module):
    """Thin module around :func:`apply_tone_curve` (no parameters)."""

    def forward(self, image: Tensor, value: Tensor) -> Tensor:
        """See :func:`apply_tone_curve`."""
        return apply_tone_curve(image, value)


class RGBCurves(nn.Module):
    """Thin module around :func:`apply_rgb_curves` (no parameters)."""

    def forward(self, image: Tensor, value: Tensor) -> Tensor:
        """See :func:`apply_rgb_curves`."""
        return apply_rgb_curves(image, value)
