"""Renderer stage ``colorbalancergb``: darktable 4.2.1's *color balance rgb* module, in PyTorch.

Sliders: ``contrast``, ``highlights``, ``shadows``, ``vibrance``, ``saturation``, ``black_and_white``.
They become module fields through :func:`colorbalancergb_params` (the one conversion the renderer and
the darktable translator share); every other field stays at darktable's default (4-ways wheels and
perceptual saturation/brilliance 0, fall-offs 1, fulcrums 0.1845, white fulcrum 0 EV, saturation
formula darktable UCS).

Per pixel, as darktable's ``process()`` does it (``src/iop/colorbalancergb.c``):

1. clip negative RGB, go to CIE 2006 LMS D65 (XYZ D50 -> CAT16 -> LMS) and Filmlight Ych;
2. shadows / highlights opacity masks from ``Y ** 0.41`` (sigmoids of slope 4 around grey 0.1845);
3. chroma ``c *= max(1 + chroma_global + vibrance * (1 - c ** |vibrance|), 0)``, then the Yrg gamut
   check (chroma reduced until grading RGB is non-negative);
4. grading RGB multiplied by ``(1 - beta) * ((1 - alpha) + alpha * (1 + shadows_Y)) + beta * (1 + highlights_Y)``
   (lift/gain "luminance" of the 4-ways tab: a luminance change at constant chromaticity);
5. fulcrum contrast on Yrg luminance: ``Y = 0.1845 * (Y / 0.1845) ** (1 + contrast)``;
6. darktable UCS: saturation/brilliance step (at our zero settings it only soft-clips chroma where
   ``B < sqrt(3) C``), then the gamut mapping that soft-clips the HSB saturation from 80 % of the
   working-space boundary at that hue; back to RGB and clip negatives.

Dropped because they are exact no-ops at the default fields: hue rotation (``hue_angle = 0``), the
global offset and the shadows/highlights/power colour wheels (``*_C = 0`` gives ``RGB_norm`` exactly),
the power (``midtones`` exponent 1 with ``white_fulcrum = 0`` EV) and the per-mask chroma, saturation and
brilliance terms (weights 0). Steps 1, 3 (gamut check), 6 and the final clip act even when every field
is at its default, so darktable's module is *not* an exact identity at all-zero sliders: the 80 %
gamut soft clip desaturates colours near the Rec.2020 boundary (sRGB primaries lose up to about
1.2 dE2000; muted colours are unchanged to 1e-7). This renderer returns the input unchanged when every
slider is exactly at identity and no gradient is needed, and darktable's module otherwise. Without a
gradient, an inference fast path computes the same math about ten times faster (see its section).

Conventions: input and output ``(N, 3, H, W)`` linear Rec.2020 (scene-referred, not clamped above);
slider values Lightroom-like -100..100 (``black_and_white`` 0..100) as Python floats, 0-d tensors or
``(N,)`` tensors. Matches darktable's ``colorbalancergb`` (module version 5) to float precision, not
Lightroom's proprietary Contrast/Highlights/Shadows/Vibrance/Saturation.

Example:
    >>> import torch
    >>> image = torch.rand(1, 3, 8, 8)
    >>> apply_colorbalancergb_slider("contrast", image, 30.0).shape
    torch.Size([1, 3, 8, 8])
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from backend.errors import InvalidRecipeError
from backend.render import colorbalance_math as cb
from backend.sliders.catalog import iter_sliders

__all__ = [
    "COLORBALANCERGB_FIELDS",
    "apply_colorbalancergb_slider",
    "apply_colorbalancergb_stage",
    "colorbalancergb_params",
]

_STAGE = "colorbalancergb"

# --- slider -> field mapping: the only place these constants live -------------------------------------
#: contrast field per contrast slider unit (``contrast = value / 200``).
CONTRAST_PER_UNIT = 1.0 / 200.0
#: highlights_Y / shadows_Y field per slider unit (``value / 200``).
TONE_Y_PER_UNIT = 1.0 / 200.0
#: vibrance field per vibrance slider unit, before the black & white factor.
VIBRANCE_PER_UNIT = 1.0 / 100.0
#: chroma scale per saturation slider unit (``1 + value / 100``).
SATURATION_PER_UNIT = 1.0 / 100.0
#: colour removed per black & white unit (chroma and vibrance scale by ``1 - value / 100``).
BLACK_AND_WHITE_PER_UNIT = 1.0 / 100.0

#: The 33 fields of ``dt_iop_colorbalancergb_params_t`` v5 (132 bytes, one 4-byte field each, in
#: struct order) with darktable's defaults. ``saturation_formula`` is the enum {JZAZBZ 0, DTUCS 1}.
COLORBALANCERGB_FIELDS: tuple[tuple[str, float], ...] = (
    ("shadows_Y", 0.0),
    ("shadows_C", 0.0),
    ("shadows_H", 0.0),
    ("midtones_Y", 0.0),
    ("midtones_C", 0.0),
    ("midtones_H", 0.0),
    ("highlights_Y", 0.0),
    ("highlights_C", 0.0),
    ("highlights_H", 0.0),
    ("global_Y", 0.0),
    ("global_C", 0.0),
    ("global_H", 0.0),
    ("shadows_weight", 1.0),
    ("white_fulcrum", 0.0),
    ("highlights_weight", 1.0),
    ("chroma_shadows", 0.0),
    ("chroma_highlights", 0.0),
    ("chroma_global", 0.0),
    ("chroma_midtones", 0.0),
    ("saturation_global", 0.0),
    ("saturation_highlights", 0.0),
    ("saturation_midtones", 0.0),
    ("saturation_shadows", 0.0),
    ("hue_angle", 0.0),
    ("brilliance_global", 0.0),
    ("brilliance_highlights", 0.0),
    ("brilliance_midtones", 0.0),
    ("brilliance_shadows", 0.0),
    ("mask_grey_fulcrum", 0.1845),
    ("vibrance", 0.0),
    ("grey_fulcrum", 0.1845),
    ("contrast", 0.0),
    ("saturation_formula", 1.0),
)
_DEFAULTS = dict(COLORBALANCERGB_FIELDS)
#: Fields our sliders set; all others must stay at their defaults for :func:`_process`.
_DRIVEN_FIELDS = ("contrast", "highlights_Y", "shadows_Y", "vibrance", "chroma_global")

# --- constants of the module at default fields (commit_params) ----------------------------------------
_MASK_EXPONENT = 0.4101205819200422  # puts middle grey at 50 % of the mask range
_MASK_FULCRUM = _DEFAULTS["mask_grey_fulcrum"] ** _MASK_EXPONENT
_SHADOWS_SLOPE = 2.0 + 2.0 * _DEFAULTS["shadows_weight"]
_HIGHLIGHTS_SLOPE = 2.0 + 2.0 * _DEFAULTS["highlights_weight"]
_GREY_FULCRUM = _DEFAULTS["grey_fulcrum"]
_GAMUT_SOFT = 0.8  # gamut mapping starts at 80 % of the boundary saturation
_SATURATION_SOFT = 0.5  # saturation step's soft clip of its chroma factor


def _stage_sliders() -> tuple[str, ...]:
    return tuple(spec.name for spec in iter_sliders(_STAGE))


def _identity(name: str) -> float:
    for spec in iter_sliders(_STAGE):
        if spec.name == name:
            return float(spec.identity)  # type: ignore[arg-type]
    raise InvalidRecipeError(f"slider {name!r} is not a {_STAGE} slider")


def _batch_value(value: Tensor | float, n: int, like: Tensor, name: str) -> Tensor:
    """A slider value as an ``(n,)`` tensor of ``like``'s dtype and device."""
    v = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if v.ndim == 0:
        return v.expand(n)
    if v.shape != (n,):
        raise InvalidRecipeError(f"slider {name!r}: value shape {tuple(v.shape)} is neither () nor ({n},)")
    return v


def colorbalancergb_params(values: Mapping[str, Tensor | float]) -> dict[str, Tensor]:
    """darktable ``colorbalancergb`` v5 fields for the stage's slider values.

    Mapping (slider values in their catalog units; missing sliders at identity)::

        contrast      = contrast / 200
        highlights_Y  = highlights / 200
        shadows_Y     = shadows / 200
        vibrance      = vibrance / 100 * (1 - black_and_white / 100)
        chroma_global = (1 + saturation / 100) * (1 - black_and_white / 100) - 1

    Args:
        values: slider name -> value, each a float, a 0-d tensor or an ``(N,)`` tensor (all of one
            batch size). Names outside this stage raise.

    Returns:
        All 33 fields in struct order (see :data:`COLORBALANCERGB_FIELDS`), each a tensor of shape
        ``(N,)`` (``()`` when every value is scalar), float64 unless a value tensor sets the dtype.
        ``saturation_formula`` holds the integral enum value 1 (DTUCS).

    Raises:
        InvalidRecipeError: a slider of another stage, or values of different batch sizes.
    """
    known = _stage_sliders()
    tensors: dict[str, Tensor] = {}
    dtype = torch.float64
    device = torch.device("cpu")
    for name, raw in values.items():
        if name not in known:
            raise InvalidRecipeError(f"slider {name!r} is not a {_STAGE} slider")
        if isinstance(raw, Tensor):
            if raw.is_floating_point():
                dtype = raw.dtype
            device = raw.device
    for name, raw in values.items():
        tensors[name] = torch.as_tensor(raw, dtype=dtype, device=device)
    try:
        # broadcast_tensors, not broadcast_shapes: the latter imports sympy (half a second) on first use
        shape = torch.broadcast_tensors(*tensors.values())[0].shape if tensors else ()
    except RuntimeError as exc:
        raise InvalidRecipeError(f"{_STAGE} slider values have different batch sizes: {exc}") from None

    def get(name: str) -> Tensor:
        if name in tensors:
            return tensors[name].expand(shape)
        return torch.full(shape, _identity(name), dtype=dtype, device=device)

    keep_colour = 1.0 - get("black_and_white") * BLACK_AND_WHITE_PER_UNIT
    driven = {
        "contrast": get("contrast") * CONTRAST_PER_UNIT,
        "highlights_Y": get("highlights") * TONE_Y_PER_UNIT,
        "shadows_Y": get("shadows") * TONE_Y_PER_UNIT,
        "vibrance": get("vibrance") * VIBRANCE_PER_UNIT * keep_colour,
        "chroma_global": (1.0 + get("saturation") * SATURATION_PER_UNIT) * keep_colour - 1.0,
    }
    out: dict[str, Tensor] = {}
    for field, default in COLORBALANCERGB_FIELDS:
        if field in driven:
            out[field] = driven[field]
        else:
            out[field] = torch.full(shape, default, dtype=dtype, device=device)
    return out


def _opacities(y: Tensor) -> tuple[Tensor, Tensor]:
    """Shadows (alpha) and highlights (beta) opacities of darktable's luminance masks."""
    x = cb.safe_pow(y, _MASK_EXPONENT)
    offset_norm = (x - _MASK_FULCRUM) / _MASK_FULCRUM
    alpha = torch.sigmoid(-offset_norm * _SHADOWS_SLOPE)
    beta = torch.sigmoid(offset_norm * _HIGHLIGHTS_SLOPE)
    return alpha, beta


def _dt_ucs_saturation_and_gamut(xyz: cb.Channels) -> cb.Channels:
    """The DTUCS branch at zero saturation/brilliance: soft clips, then back to XYZ D65."""
    l_white = cb.DT_UCS_L_WHITE
    j, c, h = cb.xyy_to_dt_ucs_jch(cb.xyz_to_xyy(xyz), l_white)
    b = cb.hcb_brightness(j, c)

    # saturation step with a = 1, b = 1: rotation by T where tan T = C / B.
    radius = cb.safe_sqrt(c * c + b * b)
    positive = radius > 0
    radius_safe = torch.where(positive, radius, 1.0)
    sin_t = torch.where(positive, c / radius_safe, 0.0)
    cos_t = torch.where(positive, b / radius_safe, 0.0)
    p = c
    w = sin_t * c + cos_t * b
    has_p = p > 0
    max_a = torch.where(has_p, cb.safe_sqrt(p * p + w * w) / torch.where(has_p, p, 1.0), 4.0)
    a = cb.soft_clip(1.0, _SATURATION_SOFT * max_a, max_a)
    p_prime = (a - 1.0) * p
    w_prime = cb.safe_sqrt(p * p * (1.0 - a * a) + w * w)
    c = torch.clamp_min(cos_t * p_prime + sin_t * w_prime, 0.0)
    b = torch.clamp_min(-sin_t * p_prime + cos_t * w_prime, 0.0)
    j = cb.hcb_to_j(c, b)

    # gamut mapping: soft-clip the saturation S = C / B against the boundary at this hue and lightness
    lut = cb.gamut_lut_tensor(j.dtype, j.device)
    max_m2 = cb.lookup_gamut(lut, h)
    max_chroma = cb.chroma_at_colorfulness(j, max_m2, l_white)
    boundary_b = cb.hcb_brightness(j, max_chroma)
    boundary_s = torch.where(boundary_b > 0, max_chroma / torch.where(boundary_b > 0, boundary_b, 1.0), 0.0)
    s = torch.where(b > 0, c / torch.where(b > 0, b, 1.0), 0.0)
    s = cb.soft_clip(s, _GAMUT_SOFT * boundary_s, boundary_s)
    c = s * b
    j = cb.hcb_to_j(c, b)
    return cb.xyy_to_xyz(cb.dt_ucs_jch_to_xyy((j, c, h), l_white))


def _process(image: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
    """darktable's per-pixel ``process()`` for the driven fields, others at their defaults.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020.
        fields: ``contrast``, ``highlights_Y``, ``shadows_Y``, ``vibrance``, ``chroma_global``, each
            ``(N,)``.

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020, ``>= 0`` (darktable clips negatives at input and output).
    """

    def per_image(name: str) -> Tensor:
        return fields[name].to(image.dtype).reshape(-1, 1, 1)

    contrast = 1.0 + per_image("contrast")
    shadows = 1.0 + per_image("shadows_Y")
    highlights = 1.0 + per_image("highlights_Y")
    vibrance = per_image("vibrance")
    chroma_global = per_image("chroma_global")

    red, green, blue = torch.clamp_min(image, 0.0).unbind(-3)
    y, c, cos_h, sin_h = cb.yrg_to_ych(cb.lms_to_yrg(cb.rec2020_to_lms((red, green, blue))))
    y = torch.clamp_min(y, 0.0)
    alpha, beta = _opacities(y)

    # linear chroma and vibrance, then the Yrg gamut check
    vib = vibrance * (1.0 - cb.safe_pow(c, vibrance.abs()))
    c = c * torch.clamp_min(1.0 + chroma_global + vib, 0.0)
    c = cb.gamut_check_ych(c, cos_h, sin_h)

    # 4-ways lift/gain luminance in grading RGB (the hue/chroma of the wheels are 0)
    gr, gg, gb = cb.lms_to_grading_rgb(cb.yrg_to_lms(cb.ych_to_yrg(y, c, cos_h, sin_h)))
    gain = (1.0 - beta) * ((1.0 - alpha) + alpha * shadows) + beta * highlights
    y, r, g = cb.lms_to_yrg(cb.grading_rgb_to_lms((gr * gain, gg * gain, gb * gain)))

    # midtones power is identity at the defaults; its max(Y, 0) stays. Then fulcrum contrast.
    y = torch.clamp_min(y, 0.0)
    y = _GREY_FULCRUM * cb.safe_pow(y / _GREY_FULCRUM, contrast)

    xyz = cb.lms_to_xyz(cb.yrg_to_lms((y, r, g)))
    out = cb.xyz_to_rec2020(_dt_ucs_saturation_and_gamut(xyz))
    return torch.clamp_min(torch.stack(out, dim=-3), 0.0)


# --- inference fast path --------------------------------------------------------------------------------
#
# Taken on the CPU when no tensor needs a gradient. Same math as :func:`_process`, reorganised (see the section of
# colorbalance_math.py it calls): RGB -> Yrg in one (4, 3) product; the Yrg gamut check on the chroma scale
# factor; the lift/gain LMS round trip and the way back to RGB as ratios of ten linear forms of (r, g, 1);
# masks and powers through exp2/log2. The darktable UCS step maps XYZ to itself wherever neither of its soft
# clips acts, so it is evaluated only on the pixels that a conservative test flags.

#: Pixels per chunk of the fast path (its ~30 chunk-sized temporaries then stay in the L3 cache).
FAST_CHUNK_PIXELS = 1 << 18
#: Above this fraction of flagged pixels a chunk takes the UCS step on every pixel (then cheaper than gathering).
_FAST_DENSE_FRACTION = 0.8

assert _SHADOWS_SLOPE == _HIGHLIGHTS_SLOPE, "the fast path uses alpha = 1 - beta"


@functools.cache
def _fast_tables(dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """``(front (4, 3), forms (10, 3), log2 gamut floor (360,))`` in ``dtype``."""
    front = torch.as_tensor(cb.fast_front_matrix(), dtype=dtype, device=device)
    forms = torch.as_tensor(cb.fast_forms_matrix(), dtype=dtype, device=device)
    return front, forms, cb.fast_gamut_tables(dtype, device)[2]


def _yrg_gamut_scale(dr: Tensor, dg: Tensor, factor: Tensor | float) -> Tensor:
    """Chroma scale after :func:`~colorbalance_math.gamut_check_ych`, in units of the input chroma.

    The chroma vector ``(dr, dg)`` scaled by ``factor`` must keep ``r, g >= 0`` and ``r + g <= 1``: each
    bound that the scaled vector crosses caps the scale at the crossing (``inf`` when it cannot cross).
    """
    # relu(-0.0) may be -0.0; adding +0.0 makes it +0.0, so that a zero component gives +inf, never -inf
    scale = torch.neg(dr).relu_().add_(0.0).reciprocal_().mul_(cb.YRG_WHITE_R)
    scale = torch.minimum(scale, torch.neg(dg).relu_().add_(0.0).reciprocal_().mul_(cb.YRG_WHITE_G))
    blue = torch.add(dr, dg).relu_().add_(0.0).reciprocal_().mul_(1.0 - cb.YRG_WHITE_R - cb.YRG_WHITE_G)
    scale = torch.minimum(scale, blue)
    return scale.clamp_max_(factor) if isinstance(factor, float) else torch.minimum(scale, factor)


def _fast_chunk(rgb_in: Tensor, out: Tensor, params: tuple[float, ...]) -> None:
    """darktable's ``process()`` for one image chunk: ``rgb_in`` ``(3, P)`` -> ``out`` ``(3, P)`` (may alias)."""
    contrast, highlights_y, shadows_y, vibrance, chroma_global = params
    front, forms, gamut_floor = _fast_tables(rgb_in.dtype, rgb_in.device)
    tiny = torch.finfo(rgb_in.dtype).tiny
    yrg = torch.mm(front, rgb_in.clamp_min(0.0))
    y, total, dr, dg = yrg.unbind(0)
    total.clamp_min_(tiny)  # black: r = g = 0 in darktable, chroma 0 here; the pixel stays black either way
    dr.div_(total)
    dg.div_(total)

    # chroma * max(1 + chroma_global + vibrance (1 - chroma ** |vibrance|), 0), then the Yrg gamut check
    factor: Tensor | float
    if vibrance != 0.0:
        chroma = torch.mul(dr, dr).addcmul_(dg, dg).sqrt_().clamp_min_(tiny)
        factor = cb.fast_pow(chroma, abs(vibrance)).mul_(-vibrance).add_(1.0 + chroma_global + vibrance)
        factor.clamp_min_(0.0)
    else:
        factor = max(1.0 + chroma_global, 0.0)
    rg1 = torch.ones_like(rgb_in)  # rows r, g, 1 of the graded Yrg chromaticity
    r, g = rg1[0], rg1[1]
    torch.mul(dr, factor, out=r).add_(cb.YRG_WHITE_R)
    torch.mul(dg, factor, out=g).add_(cb.YRG_WHITE_G)
    if float(r.min()) < 0.0 or float(g.min()) < 0.0 or float(torch.add(r, g).max()) > 1.0:
        scale = _yrg_gamut_scale(dr, dg, factor)
        torch.mul(dr, scale, out=r).add_(cb.YRG_WHITE_R)
        torch.mul(dg, scale, out=g).add_(cb.YRG_WHITE_G)

    # 4-ways luminance gain (alpha = 1 - beta as both slopes are equal), the LMS round trip, contrast
    if highlights_y != 0.0 or shadows_y != 0.0:
        beta = cb.fast_pow(y, _MASK_EXPONENT).mul_(_HIGHLIGHTS_SLOPE / _MASK_FULCRUM).sub_(_HIGHLIGHTS_SLOPE)
        beta.sigmoid_()
        gain = torch.rsub(beta, 1.0).square_().mul_(shadows_y).add_(beta, alpha=highlights_y).add_(1.0)
        y.mul_(gain)
    lin = torch.mm(forms, rg1)
    y_num, y_den, out_den, _, _, _, u_num, v_num, uv_den, xyz_y = lin.unbind(0)
    y.mul_(y_num).div_(y_den).clamp_min_(0.0)
    if contrast != 0.0:
        if contrast > -1.0:
            y = cb.fast_pow(y.div_(_GREY_FULCRUM), 1.0 + contrast).mul_(_GREY_FULCRUM)
        else:  # exponent <= 0: keep pow's conventions at 0
            y = _GREY_FULCRUM * cb.safe_pow(y / _GREY_FULCRUM, 1.0 + contrast)
    scale = y.div_(out_den)
    torch.mul(lin[3:6], scale, out=out)
    out.clamp_min_(0.0)

    # darktable UCS saturation and gamut mapping: only where a soft clip may act
    xyz_y.mul_(scale)
    flags = cb.fast_ucs_flags(u_num.div_(uv_den), v_num.div_(uv_den), xyz_y, gamut_floor, _SATURATION_SOFT, _GAMUT_SOFT)
    distance = flags[0]
    if float(distance.min()) >= 0.0:
        return
    flagged = distance.numpy() < 0.0
    if flagged.mean() > _FAST_DENSE_FRACTION:  # every pixel, then keep the result where flagged
        xyz = cb.fast_dt_ucs_map(xyz_y, *flags[1:], _SATURATION_SOFT, _GAMUT_SOFT)
        weight = torch.from_numpy(flagged).to(out.dtype)
        mapped = torch.stack(cb.xyz_to_rec2020(xyz)).clamp_min_(0.0).mul_(weight)
        out.mul_(weight.neg_().add_(1.0)).add_(mapped)  # exactly ``mapped`` or ``out`` (both finite)
        return
    index = torch.from_numpy(np.flatnonzero(flagged))
    pick_y, pick_u, pick_v, pick_m2, pick_hue = (t.index_select(0, index) for t in (xyz_y, *flags[1:]))
    xyz = cb.fast_dt_ucs_map(pick_y, pick_u, pick_v, pick_m2, pick_hue, _SATURATION_SOFT, _GAMUT_SOFT)
    out.index_copy_(1, index, torch.stack(cb.xyz_to_rec2020(xyz)).clamp_min_(0.0))


def _process_fast(image: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
    """:func:`_process` without autograd support, chunk by chunk (see :func:`_fast_chunk`)."""
    out = torch.empty_like(image, memory_format=torch.contiguous_format)
    names = ("contrast", "highlights_Y", "shadows_Y", "vibrance", "chroma_global")
    per_image = torch.stack([fields[k].to(torch.float64).reshape(-1) for k in names], dim=1).tolist()
    height, width = image.shape[-2:]
    rows = max(1, FAST_CHUNK_PIXELS // max(width, 1))
    with torch.no_grad():
        for n, params in enumerate(per_image):
            for top in range(0, height, rows):
                src = image[n, :, top : top + rows, :].reshape(3, -1)
                dst = out[n, :, top : top + rows, :].view(3, -1)
                _fast_chunk(src, dst, tuple(params))
    return out


def apply_colorbalancergb_stage(image: Tensor, values: Mapping[str, Tensor]) -> Tensor:
    """Apply the stage's sliders at once, as one darktable ``colorbalancergb`` instance.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020, float32/float64.
        values: slider name -> value (``contrast``, ``highlights``, ``shadows``, ``vibrance``,
            ``saturation``: -100..100; ``black_and_white``: 0..100), each ``()`` or ``(N,)``; missing
            sliders are at identity.

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020; ``image`` itself when every slider is exactly at identity and
        neither the image nor any value requires a gradient. Otherwise darktable's output, which is
        clipped at 0 (as darktable does) but not above.
    """
    n = image.shape[0]
    batched = {name: _batch_value(v, n, image, name) for name, v in values.items()}
    needs_grad = image.requires_grad or any(v.requires_grad for v in batched.values())
    if not needs_grad and all(bool((v == _identity(name)).all()) for name, v in batched.items()):
        return image
    if (needs_grad and torch.is_grad_enabled()) or image.device.type != "cpu":
        return _process(image, colorbalancergb_params(batched))
    return _process_fast(image, colorbalancergb_params(batched))


def apply_colorbalancergb_slider(name: str, image: Tensor, value: Tensor | float) -> Tensor:
    """Apply one of the stage's sliders alone (the others at identity).

    The sliders and their darktable fields (0 is identity for each)::

        contrast         -100..100  fulcrum contrast around middle grey 18.45 % on Yrg luminance,
                                    contrast = value / 200
        highlights       -100..100  gain of the highlights mask (4-ways "gain luminance"), + brightens the
                                    bright tones, highlights_Y = value / 200
        shadows          -100..100  gain of the shadows mask (4-ways "lift luminance"), + lifts the dark
                                    tones, shadows_Y = value / 200
        vibrance         -100..100  chroma boost that favours muted colours (global vibrance),
                                    vibrance = value / 100
        saturation       -100..100  uniform chroma scale 1 + value / 100 at constant luminance, -100 removes
                                    all colour, chroma_global = value / 100
        black_and_white     0..100  removes value % of the colour at constant luminance, 100 is monochrome,
                                    chroma_global = -value / 100

    Args:
        name: one of the sliders above.
        image: ``(N, 3, H, W)`` linear Rec.2020.
        value: the slider value in the range above, a float, a 0-d tensor or ``(N,)``.

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020 (see :func:`apply_colorbalancergb_stage`).

    Raises:
        InvalidRecipeError: ``name`` is not one of the stage's sliders, or ``value`` has another shape.
    """
    return apply_colorbalancergb_stage(image, {name: _batch_value(value, image.shape[0], image, name)})
