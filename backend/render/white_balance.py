"""White-balance stage: ``temperature`` and ``tint`` as a diagonal darktable ``channelmixerrgb`` (v3).

Slider semantics (relative to the photo's as-shot white balance, like Lightroom's Temperature/Tint):

* ``temperature``: one unit is one **mired** of shift of the assumed scene illuminant; ``+`` is warmer.
  The assumed illuminant moves from ``mired_ref`` to ``mired_ref - temperature`` (a higher colour
  temperature), so the correction warms the picture; Lightroom: ``K' = 1e6 / (1e6 / K - temperature)``.
* ``tint``: one unit is ``1/3000`` Duv; ``+`` is magenta. The assumed illuminant moves by
  ``+tint / 3000`` Duv, i.e. towards green (Duv > 0 is above the Planckian locus, Ohno's sign), so the
  correction removes green. Adobe's Tint of an illuminant is ``+3000 * Duv`` in that sign convention
  (D65, Duv = +0.00326, is "Tint +9.8"), so Lightroom's ``Tint' = Tint + tint`` is the same move.

The as-shot illuminant is modelled as the working-space white, **D65** (x, y = 0.3127, 0.3290; the
image is white-balanced to it), written as :data:`REFERENCE_CCT` / :data:`REFERENCE_DUV`: the exact
inverse of D65 through the locus model below (6504.3 K, Duv +0.003207; Robertson, as Adobe computes
it, gives 6503.7 K, +0.003257 = Tint +9.8). Per-channel gains in linear Rec.2020 are
``rgb(reference white) / rgb(target white)``, then normalised so that neutral grey keeps its luminance:
``sum_c Y_c * g_c = 1`` with ``Y`` the Rec.2020 luminance row.

Locus model (smooth, differentiable in torch): Planck's law integrated against the CIE 1931 2-degree
colour-matching functions tabulated every 5 nm from 360 to 830 nm (c2 = 1.4388e-2 m K), giving CIE 1960
(u, v); Duv is applied along the unit normal of the locus (the analytic dT-derivative of the same
integral), then (u, v) -> (x, y) -> XYZ (Y = 1) -> linear Rec.2020. Against colour-science's
``CCT_to_uv_Ohno2013`` (1 nm data) it agrees within 1e-5 in (u, v) over 1667..25000 K, |Duv| <= 0.03.

darktable target: ``channelmixerrgb`` v3 with ``adaptation = DT_ADAPTATION_RGB`` ("none (bypass)": no
chromatic adaptation; the illuminant fields are then ignored), a diagonal matrix ``red = [gR, 0, 0, 0]``,
``green = [0, gG, 0, 0]``, ``blue = [0, 0, gB, 0]``, no normalisation, saturation/lightness/grey 0
(grey 0 also disables the monochrome path), ``gamut = 0`` (no gamut compression) and ``clip = FALSE``,
``version = CHANNELMIXERRGB_V_3``. In the V30_JPG and V30 orders it sits right after ``colorin`` (and
after ``exposure``), in the pipeline's working RGB (linear Rec.2020). What remains of the module besides
the matrix is its "gamut mapping" pass through XYZ (D50) and xyY, which for ``gamut = 0`` only
(a) outputs black where ``Y <= 0`` or ``X + Y + Z <= 0`` and (b) raises a negative ``Z`` to 0; the
renderer reproduces both (they only touch out-of-gamut pixels with negative components). Its
chroma/lightness pass with zero coefficients is the identity (up to a 1e-6 floor on the RGB norm).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from backend.errors import InvalidRecipeError
from backend.render.color import REC2020_LUMINANCE, REC2020_TO_XYZ_D50, REC2020_TO_XYZ_D65, apply_matrix
from backend.render.values import scalar_batch
from backend.sliders.catalog import scalar_identity

__all__ = [
    "REFERENCE_CCT",
    "REFERENCE_DUV",
    "TINT_PER_DUV",
    "apply_channelmixerrgb_stage",
    "apply_temperature",
    "apply_tint",
    "cct_duv_to_uv",
    "channelmixerrgb_params",
    "kelvin_tint_after_shift",
    "uv_to_rec2020",
    "white_balance_gains",
]

#: Adobe Tint units per unit of Duv (Adobe Tint = +3000 * Duv, Duv > 0 above the locus = greener light).
TINT_PER_DUV = 3000.0
#: The as-shot (reference) illuminant, D65, as CCT (K) and Duv in this module's locus model.
REFERENCE_CCT = 6504.296441316876
REFERENCE_DUV = 0.00320740595855736

#: Lightroom's absolute Temperature (K) and Tint ranges (Camera Raw, process version 2012+).
_LR_KELVIN = (2000.0, 50000.0)
_LR_TINT = (-150.0, 150.0)

_C2_UM_K = 1.4388e4  # second radiation constant in micrometre kelvin
_WAVELENGTHS_UM = tuple((360 + 5 * i) / 1000.0 for i in range(95))

# CIE 1931 2-degree standard observer, 360..830 nm every 5 nm (CIE 015 data, 6 significant digits).
# fmt: off
_CMF_X = (
    0.0001299, 0.0002321, 0.0004149, 0.0007416, 0.001368, 0.002236, 0.004243, 0.00765, 0.01431, 0.02319, 0.04351,
    0.07763, 0.13438, 0.21477, 0.2839, 0.3285, 0.34828, 0.34806, 0.3362, 0.3187, 0.2908, 0.2511, 0.19536, 0.1421,
    0.09564, 0.05795, 0.03201, 0.0147, 0.0049, 0.0024, 0.0093, 0.0291, 0.06327, 0.1096, 0.1655, 0.22575, 0.2904,
    0.3597, 0.43345, 0.51205, 0.5945, 0.6784, 0.7621, 0.8425, 0.9163, 0.9786, 1.0263, 1.0567, 1.0622, 1.0456,
    1.0026, 0.9384, 0.85445, 0.7514, 0.6424, 0.5419, 0.4479, 0.3608, 0.2835, 0.2187, 0.1649, 0.1212, 0.0874, 0.0636,
    0.04677, 0.0329, 0.0227, 0.01584, 0.0113592, 0.00811092, 0.00579035, 0.00410946, 0.00289933, 0.00204919,
    0.00143997, 0.000999949, 0.000690079, 0.000476021, 0.000332301, 0.000234826, 0.000166151, 0.000117413,
    8.30753e-05, 5.87065e-05, 4.15099e-05, 2.93533e-05, 2.06738e-05, 1.45598e-05, 1.0254e-05, 7.22146e-06,
    5.08587e-06, 3.58165e-06, 2.52252e-06, 1.77651e-06, 1.25114e-06,
)
_CMF_Y = (
    3.917e-06, 6.965e-06, 1.239e-05, 2.202e-05, 3.9e-05, 6.4e-05, 0.00012, 0.000217, 0.000396, 0.00064, 0.00121,
    0.00218, 0.004, 0.0073, 0.0116, 0.01684, 0.023, 0.0298, 0.038, 0.048, 0.06, 0.0739, 0.09098, 0.1126, 0.13902,
    0.1693, 0.20802, 0.2586, 0.323, 0.4073, 0.503, 0.6082, 0.71, 0.7932, 0.862, 0.91485, 0.954, 0.9803, 0.99495,
    1.0, 0.995, 0.9786, 0.952, 0.9154, 0.87, 0.8163, 0.757, 0.6949, 0.631, 0.5668, 0.503, 0.4412, 0.381, 0.321,
    0.265, 0.217, 0.175, 0.1382, 0.107, 0.0816, 0.061, 0.04458, 0.032, 0.0232, 0.017, 0.01192, 0.00821, 0.005723,
    0.004102, 0.002929, 0.002091, 0.001484, 0.001047, 0.00074, 0.00052, 0.0003611, 0.0002492, 0.0001719, 0.00012,
    8.48e-05, 6e-05, 4.24e-05, 3e-05, 2.12e-05, 1.499e-05, 1.06e-05, 7.4657e-06, 5.2578e-06, 3.7029e-06, 2.6078e-06,
    1.8366e-06, 1.2934e-06, 9.1093e-07, 6.4153e-07, 4.5181e-07,
)
_CMF_Z = (
    0.0006061, 0.001086, 0.001946, 0.003486, 0.00645, 0.01055, 0.02005, 0.03621, 0.06785, 0.1102, 0.2074, 0.3713,
    0.6456, 1.03905, 1.3856, 1.62296, 1.74706, 1.7826, 1.77211, 1.7441, 1.6692, 1.5281, 1.28764, 1.0419, 0.81295,
    0.6162, 0.46518, 0.3533, 0.272, 0.2123, 0.1582, 0.1117, 0.07825, 0.05725, 0.04216, 0.02984, 0.0203, 0.0134,
    0.00875, 0.00575, 0.0039, 0.00275, 0.0021, 0.0018, 0.00165, 0.0014, 0.0011, 0.001, 0.0008, 0.0006, 0.00034,
    0.00024, 0.00019, 0.0001, 5e-05, 3e-05, 2e-05, 1e-05,
) + (0.0,) * 37  # 0 from 650 nm on
# fmt: on

_XYZ_TO_REC2020 = np.linalg.inv(REC2020_TO_XYZ_D65)
_XYZ_D50_TO_REC2020 = np.linalg.inv(REC2020_TO_XYZ_D50)


def _planck_uv(cct: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """CIE 1960 (u, v) of a black body and their derivatives with respect to temperature.

    Args:
        cct: temperatures in kelvin, any shape, float64.

    Returns:
        ``(u, v, du/dT, dv/dT)``, each of the input's shape.
    """
    lam = torch.tensor(_WAVELENGTHS_UM, dtype=cct.dtype, device=cct.device)
    cmf = torch.tensor((_CMF_X, _CMF_Y, _CMF_Z), dtype=cct.dtype, device=cct.device)  # (3, 95)
    t = cct.unsqueeze(-1)
    x = _C2_UM_K / (lam * t)
    radiance = lam.pow(-5) / torch.expm1(x)  # Planck's law without its constant factor
    d_radiance = radiance * (x / t) / -torch.expm1(-x)  # d/dT
    # weighted sums as multiply-and-add: a BLAS call for a (N, 95) x (95, 3) product costs more than it saves
    X, Y, Z = (radiance.unsqueeze(-2) * cmf).sum(-1).unbind(-1)
    dX, dY, dZ = (d_radiance.unsqueeze(-2) * cmf).sum(-1).unbind(-1)
    den = X + 15.0 * Y + 3.0 * Z
    d_den = dX + 15.0 * dY + 3.0 * dZ
    u = 4.0 * X / den
    v = 6.0 * Y / den
    du = 4.0 * (dX * den - X * d_den) / den**2
    dv = 6.0 * (dY * den - Y * d_den) / den**2
    return u, v, du, dv


def cct_duv_to_uv(cct: Tensor, duv: Tensor) -> Tensor:
    """CIE 1960 (u, v) of the point at ``duv`` from the Planckian locus at ``cct``.

    Args:
        cct: correlated colour temperature in kelvin (about 1000..50000), any shape.
        duv: signed distance from the locus in (u, v), positive above it (greenish), same shape.

    Returns:
        ``(*shape, 2)`` tensor of (u, v), in the dtype of ``cct``; differentiable in both inputs.
    """
    u, v, du, dv = _planck_uv(cct)
    norm = torch.hypot(du, dv)
    # the unit normal (dv, -du) / |.| points to larger v, since u falls as T rises
    return torch.stack((u + duv * dv / norm, v - duv * du / norm), dim=-1)


def uv_to_rec2020(uv: Tensor) -> Tensor:
    """Linear Rec.2020 of the colour with CIE 1960 chromaticity ``uv`` and luminance Y = 1.

    Args:
        uv: ``(*, 2)`` tensor.

    Returns:
        ``(*, 3)`` tensor (R, G, B), D65 white -> (1, 1, 1).
    """
    u, v = uv.unbind(-1)
    den = 2.0 * u - 8.0 * v + 4.0
    x = 3.0 * u / den
    y = 2.0 * v / den
    xyz = torch.stack((x / y, torch.ones_like(x), (1.0 - x - y) / y), dim=-1)
    m = torch.as_tensor(_XYZ_TO_REC2020, dtype=uv.dtype, device=uv.device)
    return (xyz.unsqueeze(-2) * m).sum(-1)  # m @ xyz per colour


def _illuminant_rgb(temperature: Tensor, tint: Tensor) -> Tensor:
    """Rec.2020 (Y = 1) of the assumed illuminant after a relative shift; float64 ``(N,)`` inputs."""
    mired = 1e6 / REFERENCE_CCT - temperature
    if bool((mired <= 0).any()):
        raise InvalidRecipeError(f"temperature shift must stay below {1e6 / REFERENCE_CCT:.1f} mired")
    duv = REFERENCE_DUV + tint / TINT_PER_DUV
    return uv_to_rec2020(cct_duv_to_uv(1e6 / mired, duv))


def white_balance_gains(temperature: Tensor | float, tint: Tensor | float) -> Tensor:
    """Per-channel linear Rec.2020 gains for a relative temperature/tint shift.

    Args:
        temperature: mired shift, + warmer (slider units, -100..100), scalar or ``(N,)``.
        tint: 1/3000 Duv, + magenta (slider units, -100..100), scalar or ``(N,)``.

    Returns:
        ``(N, 3)`` gains ``rgb(D65) / rgb(target)`` scaled so that ``REC2020_LUMINANCE @ g == 1``;
        ``(1, 1, 1)`` at (0, 0). dtype of the inputs when they are floating tensors, else float64.
        Differentiable in both inputs.
    """
    floats = [a.dtype for a in (temperature, tint) if isinstance(a, Tensor) and a.is_floating_point()]
    dtype = torch.promote_types(*floats) if len(floats) == 2 else (floats[0] if floats else torch.float64)
    t = torch.atleast_1d(torch.as_tensor(temperature, dtype=torch.float64))
    ti = torch.atleast_1d(torch.as_tensor(tint, dtype=torch.float64, device=t.device))
    t, ti = torch.broadcast_tensors(t, ti)
    if t.ndim != 1:
        raise InvalidRecipeError(f"temperature/tint must be scalars or (N,) tensors, got shape {tuple(t.shape)}")
    reference = _illuminant_rgb(torch.zeros_like(t[:1]), torch.zeros_like(ti[:1]))  # (1, 3), same arithmetic
    gains = reference / _illuminant_rgb(t, ti)
    luminance = torch.as_tensor(REC2020_LUMINANCE, dtype=torch.float64, device=t.device)
    gains = gains / (gains * luminance).sum(-1, keepdim=True)
    return gains.to(dtype)


def kelvin_tint_after_shift(
    as_shot_kelvin: float, as_shot_tint: float, temperature: float, tint: float
) -> tuple[float, float]:
    """Adobe-style absolute Temperature/Tint after this module's relative shift.

    Args:
        as_shot_kelvin: the photo's as-shot Temperature in kelvin (> 0).
        as_shot_tint: the photo's as-shot Tint (Adobe units, + magenta).
        temperature: ``temperature`` slider value (mired, + warmer).
        tint: ``tint`` slider value (+ magenta).

    Returns:
        ``(kelvin, tint)``: ``1e6 / (1e6 / as_shot_kelvin - temperature)`` and ``as_shot_tint + tint``,
        clamped to Lightroom's ranges 2000..50000 K and -150..150 (not rounded).

    Raises:
        InvalidRecipeError: a non-positive or non-finite as-shot temperature.
    """
    if not (math.isfinite(as_shot_kelvin) and as_shot_kelvin > 0):
        raise InvalidRecipeError(f"as-shot temperature must be a positive number of kelvin, got {as_shot_kelvin}")
    mired = 1e6 / as_shot_kelvin - temperature
    kelvin = _LR_KELVIN[1] if mired <= 1e6 / _LR_KELVIN[1] else 1e6 / mired
    kelvin = min(max(kelvin, _LR_KELVIN[0]), _LR_KELVIN[1])
    new_tint = min(max(as_shot_tint + tint, _LR_TINT[0]), _LR_TINT[1])
    return kelvin, new_tint


def _is_identity(values: Mapping[str, Tensor]) -> bool:
    for name in ("temperature", "tint"):
        v = values.get(name)
        if v is not None and (v.requires_grad or bool((v != scalar_identity(name)).any())):
            return False
    return True


def _darktable_gamut_guard(image: Tensor) -> Tensor:
    """What channelmixerrgb's gamut pass (gamut 0, no clip) does: black if Y <= 0 or X+Y+Z <= 0, Z >= 0."""
    xyz = apply_matrix(image, REC2020_TO_XYZ_D50)
    X, Y, Z = xyz.unbind(-3)
    valid = (Y > 0) & (X + Y + Z > 0)
    lift = torch.relu(-Z).unsqueeze(-3)  # raise a negative Z to 0
    back = torch.as_tensor(_XYZ_D50_TO_REC2020[:, 2], dtype=image.dtype, device=image.device).view(3, 1, 1)
    return torch.where(valid.unsqueeze(-3), image + back * lift, torch.zeros_like(image))


def apply_channelmixerrgb_stage(image: Tensor, values: Mapping[str, Tensor]) -> Tensor:
    """Apply the white-balance stage (diagonal darktable ``channelmixerrgb``, adaptation bypassed).

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020, float32/float64.
        values: ``{"temperature": (N,), "tint": (N,)}`` in slider units; missing means identity (0).

    Returns:
        ``(N, 3, H, W)`` ``image * gains`` (see :func:`white_balance_gains`), with darktable's gamut pass
        (black where Y <= 0 or X+Y+Z <= 0; negative Z raised to 0); not clamped otherwise. ``image``
        itself when both sliders are exactly 0 and neither requires grad.
    """
    if _is_identity(values):
        return image
    zero = image.new_zeros(image.shape[0])
    temperature, tint = values.get("temperature", zero), values.get("tint", zero)
    if torch.is_grad_enabled() and (image.requires_grad or temperature.requires_grad or tint.requires_grad):
        gains = white_balance_gains(temperature.to(image.dtype), tint)
        return _darktable_gamut_guard(image * gains.to(image.dtype).view(-1, 3, 1, 1))
    key = tuple(zip(temperature.to(image.dtype).tolist(), tint.tolist(), strict=True))
    gains = _cached_gains(key, image.dtype, tint.dtype if tint.is_floating_point() else torch.float64)
    out = image * gains.to(image.device).view(-1, 3, 1, 1)
    return _darktable_gamut_guard(out) if _guard_acts(out) else out


@functools.lru_cache(maxsize=32)
def _cached_gains(key: tuple[tuple[float, float], ...], dtype: torch.dtype, tint_dtype: torch.dtype) -> Tensor:
    """The stage's gains for ``((temperature, tint), ...)`` per image (computed as the reference path does)."""
    temperature = torch.tensor([t for t, _ in key], dtype=dtype)
    tint = torch.tensor([t for _, t in key], dtype=tint_dtype)
    return white_balance_gains(temperature, tint).to(dtype)


def _guard_acts(image: Tensor) -> bool:
    """Whether :func:`_darktable_gamut_guard` may change ``image``: only with a negative channel or XYZ ``Z``.

    With every channel >= 0, ``Y > 0`` and ``X + Y + Z > 0`` unless the pixel is black (which the guard
    leaves black), since those rows of the matrix are positive; only ``Z`` has a negative (red) weight.
    """
    if float(image.min()) < 0.0:
        return True
    zr, zg, zb = (float(v) for v in REC2020_TO_XYZ_D50[2])
    red, green, blue = image.unbind(-3)
    return float(torch.mul(blue, zb).add_(green, alpha=zg).add_(red, alpha=zr).min()) < 0.0


def apply_temperature(image: Tensor, value: Tensor | float) -> Tensor:
    """Temperature slider alone: mired shift of the assumed illuminant, + warmer.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020.
        value: -100..100 (mired), a float, 0-d tensor or ``(N,)`` tensor; identity 0.

    Returns:
        ``(N, 3, H, W)``; grey keeps its luminance.
    """
    return apply_channelmixerrgb_stage(image, {"temperature": scalar_batch(value, image)})


def apply_tint(image: Tensor, value: Tensor | float) -> Tensor:
    """Tint slider alone: 1/3000 Duv shift of the assumed illuminant, + magenta.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020.
        value: -100..100, a float, 0-d tensor or ``(N,)`` tensor; identity 0.

    Returns:
        ``(N, 3, H, W)``; grey keeps its luminance.
    """
    return apply_channelmixerrgb_stage(image, {"tint": scalar_batch(value, image)})


def channelmixerrgb_params(values: Mapping[str, Tensor | float]) -> dict[str, Tensor]:
    """Every field of darktable's ``channelmixerrgb`` v3 struct (160 bytes) for the stage's values.

    Args:
        values: ``{"temperature": (N,) or scalar, "tint": (N,) or scalar}``; missing means identity.

    Returns:
        Field name -> tensor. ``red``/``green``/``blue``/``saturation``/``lightness``/``grey``: ``(N, 4)``
        (the diagonal gains; zeros elsewhere); the ``normalize_*`` flags, ``illuminant`` (0 = PIPE),
        ``illum_fluo`` (2 = F3), ``illum_led`` (4 = B5), ``adaptation`` (4 = RGB, bypass), ``clip`` (0) and
        ``version`` (2 = V_3): ``(N,)`` int32; ``x``, ``y`` (D50, 0.34567, 0.3585), ``temperature``
        (5003 K) and ``gamut`` (0): ``(N,)`` floats. Illuminant fields are inert with adaptation bypassed.
    """
    temperature = values.get("temperature", 0.0)
    tint = values.get("tint", 0.0)
    gains = white_balance_gains(temperature, tint)
    n = gains.shape[0]
    dtype, device = gains.dtype, gains.device
    rows = torch.zeros(n, 3, 4, dtype=dtype, device=device)
    rows[:, 0, 0], rows[:, 1, 1], rows[:, 2, 2] = gains.unbind(-1)

    def ints(value: int) -> Tensor:
        return torch.full((n,), value, dtype=torch.int32, device=device)

    def floats(value: float) -> Tensor:
        return torch.full((n,), value, dtype=dtype, device=device)

    zeros4 = torch.zeros(n, 4, dtype=dtype, device=device)
    return {
        "red": rows[:, 0],
        "green": rows[:, 1],
        "blue": rows[:, 2],
        "saturation": zeros4,
        "lightness": zeros4.clone(),
        "grey": zeros4.clone(),
        "normalize_R": ints(0),
        "normalize_G": ints(0),
        "normalize_B": ints(0),
        "normalize_sat": ints(0),
        "normalize_light": ints(0),
        "normalize_grey": ints(0),
        "illuminant": ints(0),
        "illum_fluo": ints(2),
        "illum_led": ints(4),
        "adaptation": ints(4),
        "x": floats(0.34567),
        "y": floats(0.35850),
        "temperature": floats(5003.0),
        "gamut": floats(0.0),
        "clip": ints(0),
        "version": ints(2),
    }
