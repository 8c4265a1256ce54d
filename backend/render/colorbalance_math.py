"""Colour-space helpers of darktable 4.2.1's *color balance rgb* module, in PyTorch.

darktable's ``colorbalancergb`` works in three spaces besides the pipeline's working RGB:

* **CIE 2006 LMS (D65)** and **Filmlight Yrg / Ych**: luminance ``Y`` plus chromaticity ``r, g``
  (Richard Kirk, "Chromaticity coordinates for graphic arts based on CIE 2006 LMS", 2019), reached from
  working RGB through XYZ D50 -> CAT16 adaptation to D65 -> LMS 2006.
* **darktable UCS 2022** (JCH / HCB / HSB, Aurélien Pierre): the perceptual space of the saturation,
  brilliance and gamut-mapping step (``saturation_formula = DTUCS``).

Numbers are darktable's (``src/common/colorspaces_inline_conversions.h``,
``src/common/chromatic_adaptation.h``, ``data/kernels/colorspace.h`` of release 4.2.1; the float32
matrices were checked byte for byte against the Debian ``libcolorbalancergb.so``); the code is our own.

Every function works on tuples of per-channel tensors of any (broadcastable) shape, in float32 or
float64, is differentiable and never produces NaN gradients at the degenerate points darktable guards
(zero chroma, zero luminance, black pixels): such points get the value darktable computes and a zero
gradient through the guarded branch.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor

from backend.render.color import REC2020_TO_XYZ_D50

__all__ = [
    "DT_UCS_L_WHITE",
    "FAST_FORMS",
    "GAMUT_LUT_SIZE",
    "LMS_TO_REC2020",
    "REC2020_TO_LMS",
    "XYZ_D50_TO_D65_CAT16",
    "XYZ_D65_TO_D50_CAT16",
    "YRG_WHITE_G",
    "YRG_WHITE_R",
    "Channels",
    "chroma_at_colorfulness",
    "dt_ucs_gamut_lut",
    "dt_ucs_jch_to_xyy",
    "dt_ucs_l_star_to_y",
    "fast_dt_ucs_map",
    "fast_forms_matrix",
    "fast_front_matrix",
    "fast_gamut_tables",
    "fast_pow",
    "fast_soft_clip",
    "fast_ucs_flags",
    "gamut_check_ych",
    "gamut_lut_tensor",
    "grading_rgb_to_lms",
    "hcb_brightness",
    "hcb_to_j",
    "lms_to_grading_rgb",
    "lms_to_xyz",
    "lms_to_yrg",
    "lookup_gamut",
    "rec2020_to_lms",
    "safe_pow",
    "safe_sqrt",
    "soft_clip",
    "xyy_to_dt_ucs_jch",
    "xyy_to_xyz",
    "xyz_to_rec2020",
    "xyz_to_xyy",
    "y_to_dt_ucs_l_star",
    "ych_to_yrg",
    "yrg_to_lms",
    "yrg_to_ych",
]

Channels = tuple[Tensor, Tensor, Tensor]

# --- matrices (rows: out_i = sum_j M[i, j] in_j) -------------------------------------------------------

#: XYZ D50 -> XYZ D65, CAT16 (chromatic_adaptation.h, ``XYZ_D50_to_D65_CAT16``).
XYZ_D50_TO_D65_CAT16 = np.array(
    [
        [9.89466254e-01, -4.00304626e-02, 4.40530317e-02],
        [-5.40518733e-03, 1.00666069e00, -1.75551955e-03],
        [-4.03920992e-04, 1.50768030e-02, 1.30210211e00],
    ]
)
#: XYZ D65 -> XYZ D50, CAT16 (``XYZ_D65_to_D50_CAT16``; not the exact inverse of the above in darktable).
XYZ_D65_TO_D50_CAT16 = np.array(
    [
        [1.01085433e00, 4.07086103e-02, -3.41445825e-02],
        [5.42814201e-03, 9.93581926e-01, 1.15592039e-03],
        [2.50722468e-04, -1.14918759e-02, 7.67964947e-01],
    ]
)
#: XYZ D65 (CIE 1931 2°) -> CIE 2006 LMS D65 (Kirk 2019).
XYZ_D65_TO_LMS_2006 = np.array(
    [[0.257085, 0.859943, -0.031061], [-0.394427, 1.175800, 0.106423], [0.064856, -0.076250, 0.559067]]
)
#: CIE 2006 LMS D65 -> XYZ D65 (darktable's rounded inverse).
LMS_2006_TO_XYZ_D65 = np.array(
    [
        [1.80794659, -1.29971660, 0.34785879],
        [0.61783960, 0.39595453, -0.04104687],
        [-0.12546960, 0.20478038, 1.74274183],
    ]
)
#: Filmlight grading RGB D65 -> LMS D65.
GRADING_RGB_TO_LMS = np.array([[0.95, 0.38, 0.00], [0.05, 0.62, 0.03], [0.00, 0.00, 0.97]])
#: LMS D65 -> Filmlight grading RGB D65 (darktable's rounded inverse).
LMS_TO_GRADING_RGB = np.array(
    [[1.0877193, -0.66666667, 0.02061856], [-0.0877193, 1.66666667, -0.05154639], [0.0, 0.0, 1.03092784]]
)

#: Pipeline RGB (linear Rec.2020, D50-adapted profile) -> LMS 2006 D65, premultiplied as in ``process()``.
REC2020_TO_LMS: np.ndarray = XYZ_D65_TO_LMS_2006 @ XYZ_D50_TO_D65_CAT16 @ REC2020_TO_XYZ_D50
#: Pipeline RGB -> XYZ D65 (used to build the gamut LUT).
REC2020_TO_XYZ_D65_CAT16: np.ndarray = XYZ_D50_TO_D65_CAT16 @ REC2020_TO_XYZ_D50
#: XYZ D65 -> pipeline RGB, premultiplied as in ``process()``.
XYZ_D65_TO_REC2020: np.ndarray = np.linalg.inv(REC2020_TO_XYZ_D50) @ XYZ_D65_TO_D50_CAT16
#: LMS 2006 D65 -> pipeline RGB (composition used by tests and the chroma-0 check).
LMS_TO_REC2020: np.ndarray = XYZ_D65_TO_REC2020 @ LMS_2006_TO_XYZ_D65

#: Luminance weights of LMS 2006 in Filmlight Yrg.
_Y_FROM_L = 0.68990272
_Y_FROM_M = 0.34832189
#: Yrg chromaticity of the D65 white (the Ych origin).
YRG_WHITE_R = 0.21902143
YRG_WHITE_G = 0.54371398

# --- darktable UCS 2022 constants ----------------------------------------------------------------------
_L_STAR_MAX = 2.098883786377
_L_STAR_HALF = 1.12426773749357
_L_STAR_EXP = 0.631651345306265
_L_STAR_INV_EXP = 1.5831518565279648
_Y_UPPER_LIMIT = 13237757000.0
_L_STAR_UPPER_LIMIT = 2.098883
_CHROMA_GAIN = 15.932993652962535
_CHROMA_L_EXP = 0.6523997524738018
_CHROMA_M2_EXP = 0.6007557017508491
_M_FROM_CHROMA_EXP = 0.8322850678616855
_HCB_EXP = 1.33654221029386
_UCS_X = (-0.783941002840055, 0.745273540913283, 0.318707282433486)
_UCS_Y = (0.277512987809202, -0.205375866083878, 2.16743692732158)
_UCS_OFFSET = (0.153836578598858, -0.165478376301988, 0.291320554395942)
_UCS_FACTORS = (1.39656225667, 1.4513954287)
_UCS_HALF = (1.49217352929, 1.52488637914)
_UCS_TO_PRIME = ((-1.124983854323892, -0.980483721769325), (1.86323315098672, 1.971853092390862))
_PRIME_TO_UCS = ((-5.037522385190711, -2.504856328185843), (4.760029407436461, 2.874012963239247))
_XY_FROM_U = (0.167171472114775, -0.150959086409163, 0.940254742367256)
_XY_FROM_V = (0.141299802443708, -0.155185060382272, 1.000000000000000)
_XY_OFFSET = (-0.00801531300850582, -0.00843312433578007, -0.0256325967652889)
_D65_XY = (0.31269999999999992, 0.32899999999999996)

#: Number of entries of the hue -> gamut-boundary LUT (1° resolution).
GAMUT_LUT_SIZE = 360


# --- guarded elementary functions ----------------------------------------------------------------------


def safe_pow(x: Tensor, p: Tensor | float) -> Tensor:
    """``x ** p`` for ``x >= 0`` with C ``powf`` semantics at 0 (``0 ** 0 = 1``) and no infinite gradient.

    Args:
        x: base, expected ``>= 0`` (negative values are treated as 0).
        p: exponent (tensor broadcastable to ``x`` or float).

    Returns:
        Tensor of ``x``'s shape.
    """
    pos = x > 0
    powered = torch.where(pos, x, 1.0) ** p
    at_zero = (torch.as_tensor(p, dtype=x.dtype, device=x.device) == 0).to(x.dtype)
    return torch.where(pos, powered, at_zero)


def safe_sqrt(x: Tensor) -> Tensor:
    """``sqrt(max(x, 0))`` with a zero (not infinite) gradient at 0."""
    pos = x > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, x, 1.0)), 0.0)


def _safe_div(num: Tensor, den: Tensor, fallback: float) -> Tensor:
    """``num / den`` where ``den != 0``, else ``fallback``; gradient-safe."""
    ok = den != 0
    return torch.where(ok, num / torch.where(ok, den, 1.0), fallback)


def soft_clip(x: Tensor | float, soft: Tensor, hard: Tensor) -> Tensor:
    """darktable's exponential soft clip: identity below ``soft``, asymptotic to ``hard`` above.

    ``soft + (1 - exp(-(x - soft) / (hard - soft))) * (hard - soft)`` when ``x > soft``, else ``x``.
    The function is C1 (value and slope continuous at ``soft``).

    Args:
        x: value to clip (a tensor, or one number for every element).
        soft: threshold where clipping starts (``< hard``).
        hard: asymptote.

    Returns:
        Clipped tensor.
    """
    above = x > soft
    norm = hard - soft
    excess = torch.where(above, x - soft, 0.0)
    norm_safe = torch.where(above & (norm > 0), norm, 1.0)
    clipped = soft + (1.0 - torch.exp(-excess / norm_safe)) * norm_safe
    # norm == 0 (degenerate boundary): the C code's exp(-inf) = 0 gives ``soft``.
    clipped = torch.where(norm > 0, clipped, soft)
    return torch.where(above, clipped, x)


def _matmul(m: np.ndarray, c: Channels) -> Channels:
    """Apply a 3x3 matrix to three channel tensors."""
    a, b, d = c
    return (
        m[0, 0] * a + m[0, 1] * b + m[0, 2] * d,
        m[1, 0] * a + m[1, 1] * b + m[1, 2] * d,
        m[2, 0] * a + m[2, 1] * b + m[2, 2] * d,
    )


# --- RGB / LMS / Yrg / Ych -------------------------------------------------------------------------------


def rec2020_to_lms(rgb: Channels) -> Channels:
    """Pipeline linear Rec.2020 -> CIE 2006 LMS D65 (through XYZ D50 and CAT16)."""
    return _matmul(REC2020_TO_LMS, rgb)


def lms_to_xyz(lms: Channels) -> Channels:
    """CIE 2006 LMS D65 -> CIE 1931 XYZ D65."""
    return _matmul(LMS_2006_TO_XYZ_D65, lms)


def xyz_to_rec2020(xyz: Channels) -> Channels:
    """XYZ D65 -> pipeline linear Rec.2020 (CAT16 to D50, then the profile's inverse matrix)."""
    return _matmul(XYZ_D65_TO_REC2020, xyz)


def lms_to_grading_rgb(lms: Channels) -> Channels:
    """LMS D65 -> Filmlight grading RGB."""
    return _matmul(LMS_TO_GRADING_RGB, lms)


def grading_rgb_to_lms(rgb: Channels) -> Channels:
    """Filmlight grading RGB -> LMS D65."""
    return _matmul(GRADING_RGB_TO_LMS, rgb)


def lms_to_yrg(lms: Channels) -> Channels:
    """LMS D65 -> Filmlight Yrg: luminance and normalised grading-RGB chromaticity ``r, g``."""
    long, medium, short = lms
    y = _Y_FROM_L * long + _Y_FROM_M * medium
    total = long + medium + short
    nl, nm, ns = (_safe_div(v, total, 0.0) for v in lms)
    r, g, _ = lms_to_grading_rgb((nl, nm, ns))
    return y, r, g


def yrg_to_lms(yrg: Channels) -> Channels:
    """Filmlight Yrg -> LMS D65 (``b = 1 - r - g``)."""
    y, r, g = yrg
    nl, nm, ns = grading_rgb_to_lms((r, g, 1.0 - r - g))
    scale = _safe_div(y, _Y_FROM_L * nl + _Y_FROM_M * nm, 0.0)
    return nl * scale, nm * scale, ns * scale


def yrg_to_ych(yrg: Channels) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Yrg -> (Y, chroma, cos h, sin h) around the D65 white; ``cos h = 1, sin h = 0`` at zero chroma."""
    y, r, g = yrg
    dr = r - YRG_WHITE_R
    dg = g - YRG_WHITE_G
    c = safe_sqrt(dr * dr + dg * dg)
    return y, c, _safe_div(dr, c, 1.0), _safe_div(dg, c, 0.0)


def ych_to_yrg(y: Tensor, c: Tensor, cos_h: Tensor, sin_h: Tensor) -> Channels:
    """(Y, chroma, cos h, sin h) -> Yrg."""
    return y, c * cos_h + YRG_WHITE_R, c * sin_h + YRG_WHITE_G


def gamut_check_ych(c: Tensor, cos_h: Tensor, sin_h: Tensor) -> Tensor:
    """darktable's ``gamut_check_Yrg``: the chroma reduced so that ``r >= 0, g >= 0, r + g <= 1``.

    Args:
        c: chroma.
        cos_h: cosine of the hue.
        sin_h: sine of the hue.

    Returns:
        The clipped chroma (luminance and hue are kept).
    """
    r = c * cos_h + YRG_WHITE_R
    g = c * sin_h + YRG_WHITE_G
    max_c = c
    limit_r = -YRG_WHITE_R / torch.where(cos_h != 0, cos_h, 1.0)
    max_c = torch.where(r < 0, torch.minimum(limit_r, max_c), max_c)
    limit_g = -YRG_WHITE_G / torch.where(sin_h != 0, sin_h, 1.0)
    max_c = torch.where(g < 0, torch.minimum(limit_g, max_c), max_c)
    cs = cos_h + sin_h
    limit_b = (1.0 - YRG_WHITE_R - YRG_WHITE_G) / torch.where(cs != 0, cs, 1.0)
    return torch.where(r + g > 1.0, torch.minimum(limit_b, max_c), max_c)


# --- xyY and darktable UCS 2022 ------------------------------------------------------------------------


def xyz_to_xyy(xyz: Channels) -> Channels:
    """XYZ -> xyY; a black pixel (``X + Y + Z == 0``) gets the D65 chromaticity instead of NaN."""
    x, y, z = xyz
    total = x + y + z
    return _safe_div(x, total, _D65_XY[0]), _safe_div(y, total, _D65_XY[1]), y


def xyy_to_xyz(xyy: Channels) -> Channels:
    """xyY -> XYZ."""
    x, y, big_y = xyy
    y_safe = torch.where(y != 0, y, 1.0)
    return big_y * x / y_safe, big_y, big_y * (1.0 - x - y) / y_safe


def y_to_dt_ucs_l_star(y: Tensor | float) -> Tensor:
    """Luminance Y (1 = diffuse white) -> darktable UCS lightness L*."""
    if not isinstance(y, Tensor):
        y = torch.tensor(y, dtype=torch.float64)
    y_hat = safe_pow(y, _L_STAR_EXP)
    return _L_STAR_MAX * y_hat / (y_hat + _L_STAR_HALF)


def dt_ucs_l_star_to_y(l_star: Tensor) -> Tensor:
    """darktable UCS lightness L* (``< 2.0989``) -> luminance Y."""
    return safe_pow(_L_STAR_HALF * l_star / (_L_STAR_MAX - l_star), _L_STAR_INV_EXP)


#: L* of the white (``white_fulcrum = 0`` EV, i.e. Y = 1): darktable's ``L_white``.
DT_UCS_L_WHITE: float = float(y_to_dt_ucs_l_star(1.0))


def _xy_to_ucs_uv(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """CIE xy -> darktable UCS U*', V*' (colourfulness plane)."""
    u = _UCS_X[0] * x + _UCS_Y[0] * y + _UCS_OFFSET[0]
    v = _UCS_X[1] * x + _UCS_Y[1] * y + _UCS_OFFSET[1]
    d = _UCS_X[2] * x + _UCS_Y[2] * y + _UCS_OFFSET[2]
    u = u / d
    v = v / d
    u_star = _UCS_FACTORS[0] * u / (u.abs() + _UCS_HALF[0])
    v_star = _UCS_FACTORS[1] * v / (v.abs() + _UCS_HALF[1])
    (a, b), (c, e) = _UCS_TO_PRIME
    return a * u_star + b * v_star, c * u_star + e * v_star


def xyy_to_dt_ucs_jch(xyy: Channels, l_white: float) -> Channels:
    """xyY (D65) -> darktable UCS (J lightness, C chroma, H hue angle in radians)."""
    x, y, big_y = xyy
    u, v = _xy_to_ucs_uv(x, y)
    l_star = y_to_dt_ucs_l_star(big_y.clamp(0.0, _Y_UPPER_LIMIT))
    m2 = u * u + v * v
    j = l_star / l_white
    c = _CHROMA_GAIN * safe_pow(l_star, _CHROMA_L_EXP) * safe_pow(m2, _CHROMA_M2_EXP) / l_white
    nonzero = m2 > 0
    h = torch.atan2(torch.where(nonzero, v, 0.0), torch.where(nonzero, u, 1.0))
    return j, c, h


def dt_ucs_jch_to_xyy(jch: Channels, l_white: float) -> Channels:
    """darktable UCS JCH -> xyY (D65)."""
    j, c, h = jch
    l_star = (j * l_white).clamp(0.0, _L_STAR_UPPER_LIMIT)
    ratio = _safe_div(c * l_white, _CHROMA_GAIN * safe_pow(l_star, _CHROMA_L_EXP), 0.0)
    m = torch.where(l_star != 0, safe_pow(ratio, _M_FROM_CHROMA_EXP), 0.0)
    u_p = m * torch.cos(h)
    v_p = m * torch.sin(h)
    (a, b), (c2, e) = _PRIME_TO_UCS
    u_star = a * u_p + b * v_p
    v_star = c2 * u_p + e * v_p
    u = -_UCS_HALF[0] * u_star / (u_star.abs() - _UCS_FACTORS[0])
    v = -_UCS_HALF[1] * v_star / (v_star.abs() - _UCS_FACTORS[1])
    xd = _XY_FROM_U[0] * u + _XY_FROM_V[0] * v + _XY_OFFSET[0]
    yd = _XY_FROM_U[1] * u + _XY_FROM_V[1] * v + _XY_OFFSET[1]
    dd = _XY_FROM_U[2] * u + _XY_FROM_V[2] * v + _XY_OFFSET[2]
    return xd / dd, yd / dd, dt_ucs_l_star_to_y(l_star)


def hcb_brightness(j: Tensor, c: Tensor) -> Tensor:
    """darktable UCS brightness ``B = J * (C ** 1.3365 + 1)`` (HCB and HSB share it)."""
    return j * (safe_pow(c, _HCB_EXP) + 1.0)


def hcb_to_j(c: Tensor, b: Tensor) -> Tensor:
    """Inverse of :func:`hcb_brightness`: lightness J from chroma C and brightness B."""
    return b / (safe_pow(c, _HCB_EXP) + 1.0)


def chroma_at_colorfulness(j: Tensor, m2: Tensor, l_white: float) -> Tensor:
    """darktable UCS chroma of lightness ``J`` and squared colourfulness ``M²`` (gamut boundary)."""
    return _CHROMA_GAIN * safe_pow(j * l_white, _CHROMA_L_EXP) * safe_pow(m2, _CHROMA_M2_EXP) / l_white


# --- the gamut LUT -------------------------------------------------------------------------------------


def _delta_h(h1: np.ndarray | float, h2: np.ndarray | float) -> np.ndarray:
    diff = np.asarray(h1, dtype=np.float64) - h2
    diff = diff + np.where(diff < -math.pi, 2 * math.pi, 0.0)
    return diff - np.where(diff > math.pi, 2 * math.pi, 0.0)


@functools.cache
def dt_ucs_gamut_lut() -> np.ndarray:
    """The hue -> squared boundary colourfulness LUT that ``commit_params`` builds for formula DTUCS.

    The boundary of the working space's chromaticity triangle (linear Rec.2020 via CAT16 to D65) is
    marched by rays from the D65 white at 0.02° steps in CIE xy; each ray whose darktable UCS hue lies
    within 0.02° of a whole degree writes ``M² = U*'² + V*'²`` to that degree's entry (the last such ray
    wins, as in the serial loop). Entry ``k`` holds hue ``k - 180`` degrees.

    Returns:
        (360,) float64 array.
    """
    xyz = REC2020_TO_XYZ_D65_CAT16  # columns: XYZ of the R, G, B primaries
    prim = [(xyz[0, k] / xyz[:, k].sum(), xyz[1, k] / xyz[:, k].sum()) for k in range(3)]
    wx, wy = _D65_XY
    h_r, h_g, h_b = (math.atan2(py - wy, px - wx) for px, py in prim)
    (rx, ry), (gx, gy), (bx, by) = prim

    steps = 50 * 360
    angle = -math.pi + np.arange(steps) / steps * 2 * math.pi
    tan_a = np.tan(angle)
    t1 = _delta_h(angle, h_b) / _delta_h(h_r, h_b)
    t2 = _delta_h(angle, h_r) / _delta_h(h_g, h_r)
    t3 = _delta_h(angle, h_g) / _delta_h(h_b, h_g)

    def edge(ax: float, ay: float, cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
        t = (wy - ay + tan_a * (ax - wx)) / (cy - ay + tan_a * (ax - cx))
        return ax + t * (cx - ax), ay + t * (cy - ay)

    in1 = (t1 >= 0) & (t1 <= 1)
    in2 = ~in1 & (t2 >= 0) & (t2 <= 1)
    in3 = ~in1 & ~in2 & (t3 >= 0) & (t3 <= 1)
    x_t = np.zeros(steps)
    y_t = np.zeros(steps)
    for mask, (ax, ay, cx, cy) in ((in1, (bx, by, rx, ry)), (in2, (rx, ry, gx, gy)), (in3, (gx, gy, bx, by))):
        ex, ey = edge(ax, ay, cx, cy)
        x_t = np.where(mask, ex, x_t)
        y_t = np.where(mask, ey, y_t)

    u, v = _xy_to_ucs_uv(torch.from_numpy(x_t), torch.from_numpy(y_t))
    u_np, v_np = u.numpy(), v.numpy()
    hue = np.degrees(np.arctan2(v_np, u_np))
    hue_round = np.round(hue)
    lut = np.full(GAMUT_LUT_SIZE, np.nan)
    for i in np.nonzero(np.abs(hue - hue_round) < 0.02)[0]:
        index = int(hue_round[i]) + 180
        index += 360 if index < 0 else 0
        index -= 360 if index > 359 else 0
        lut[index] = u_np[i] ** 2 + v_np[i] ** 2
    missing = np.isnan(lut)
    if missing.any():  # does not happen for Rec.2020; darktable would leave such entries uninitialised
        k = np.arange(GAMUT_LUT_SIZE)
        lut[missing] = np.interp(k[missing], k[~missing], lut[~missing], period=GAMUT_LUT_SIZE)
    return lut


def gamut_lut_tensor(dtype: torch.dtype, device: torch.device) -> Tensor:
    """:func:`dt_ucs_gamut_lut` as a tensor of ``dtype`` on ``device``."""
    return torch.as_tensor(dt_ucs_gamut_lut(), dtype=dtype, device=device)


def lookup_gamut(lut: Tensor, hue: Tensor) -> Tensor:
    """darktable's ``lookup_gamut``: linear interpolation of the 360-entry LUT at ``hue`` (radians).

    Note darktable maps ``[-pi, pi]`` onto ``[0, 359]`` (not 360), a slight stretch we keep.

    Args:
        lut: (360,) tensor.
        hue: hue angles in ``[-pi, pi]``, any shape.

    Returns:
        Interpolated values, shape of ``hue``.
    """
    n = GAMUT_LUT_SIZE
    x = (n - 1) * (hue + math.pi) / (2.0 * math.pi)
    x_prev = torch.floor(x)
    frac = x - x_prev
    i_prev = x_prev.long()
    i_next = torch.ceil(x).long()
    i_prev = torch.where(i_prev < 0, n - 1, torch.where(i_prev > n - 1, 0, i_prev))
    i_next = torch.where(i_next < 0, n - 1, torch.where(i_next > n - 1, 0, i_next))
    y_prev = lut[i_prev]
    return y_prev + frac * (lut[i_next] - y_prev)


# --- inference fast path ---------------------------------------------------------------------------------
#
# The functions below serve ``colorbalance``'s fast path (no gradient needed). They compute the same
# quantities as the functions above, reorganised for speed on the CPU: powers as ``exp2(p * log2(x))``
# (about 3x faster than ``torch.pow``), chained matrices folded into one, Yrg <-> LMS <-> XYZ round trips
# expressed as ratios of linear forms of ``(r, g, 1)``, and no ``torch.where`` on large tensors.


def fast_pow(x: Tensor, p: float) -> Tensor:
    """``x ** p`` for ``x >= 0`` and ``p > 0`` as ``exp2(p * log2(x))`` (0 gives 0); a new tensor.

    Relative error about ``|p * log2(x)|`` float ulps (``torch.pow`` on CPU is within a few ulps too).
    """
    return torch.log2(x).mul_(p).exp2_()


def _affine(forms: np.ndarray) -> np.ndarray:
    """Rows ``w`` acting on ``(r, g, 1 - r - g)`` -> the same forms acting on ``(r, g, 1)``."""
    return np.stack((forms[:, 0] - forms[:, 2], forms[:, 1] - forms[:, 2], forms[:, 2]), axis=1)


_Y_ROW = np.array([_Y_FROM_L, _Y_FROM_M, 0.0])
_ONES = np.ones(3)


def fast_front_matrix() -> np.ndarray:
    """The ``(4, 3)`` matrix from clipped pipeline RGB to Yrg quantities.

    Rows: Yrg ``Y``; ``L + M + S``; ``(r - r_white)`` and ``(g - g_white)`` times ``L + M + S`` (divide
    them by the second row to get the Yrg chroma vector).
    """
    chroma = LMS_TO_GRADING_RGB[:2] - np.array([[YRG_WHITE_R], [YRG_WHITE_G]]) * _ONES
    return np.vstack((_Y_ROW, _ONES, chroma)) @ REC2020_TO_LMS


#: Rows of :func:`fast_forms_matrix`, in order.
FAST_FORMS = ("y_num", "y_den", "out_den", "out_r", "out_g", "out_b", "u_num", "v_num", "uv_den", "xyz_y")


def fast_forms_matrix() -> np.ndarray:
    """``(10, 3)`` linear forms of ``(r, g, 1)`` (Yrg chromaticity after chroma grading) named by :data:`FAST_FORMS`.

    With ``v = (r, g, 1 - r - g)`` and ``Q = G2L @ L2G @ G2L`` (the lift/gain round trip grading RGB -> LMS ->
    grading RGB -> LMS):

    * ``Y_after_gain = Y * gain * y_num / y_den`` (``yrg_to_lms`` then ``lms_to_yrg`` of the gained grading RGB);
    * with ``Y'`` the luminance after contrast: pipeline RGB = ``Y' * out_rgb / out_den`` and XYZ Y =
      ``Y' * xyz_y / out_den`` (``yrg_to_lms`` of the new Yrg, ``lms_to_xyz``, ``xyz_to_rec2020``);
    * darktable UCS ``u = u_num / uv_den``, ``v = v_num / uv_den`` (``xyz_to_xyy`` then the xy -> uv map;
      the XYZ scale cancels).
    """
    q = GRADING_RGB_TO_LMS @ LMS_TO_GRADING_RGB @ GRADING_RGB_TO_LMS
    # Yrg (r, g, 1 - r - g) of the graded pixel, up to the common factor 1 / sum(Q v)
    yrg = np.vstack((LMS_TO_GRADING_RGB[:2], _ONES - LMS_TO_GRADING_RGB[0] - LMS_TO_GRADING_RGB[1])) @ q
    lms_per_y = GRADING_RGB_TO_LMS @ yrg  # LMS of that Yrg, up to the factor Y' / (Y row of it)
    xyz = LMS_2006_TO_XYZ_D65 @ lms_per_y
    uv = np.array([[_UCS_X[k], _UCS_Y[k], 0.0] for k in range(3)]) + np.array(_UCS_OFFSET)[:, None] * _ONES
    rows = np.vstack(
        (_Y_ROW @ q, _Y_ROW @ GRADING_RGB_TO_LMS, _Y_ROW @ lms_per_y, XYZ_D65_TO_REC2020 @ xyz, uv @ xyz, xyz[1])
    )
    return _affine(rows)


def fast_ucs_flags(
    u: Tensor, v: Tensor, y: Tensor, log2_gamut_floor: Tensor, saturation_soft: float, gamut_soft: float
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Which pixels darktable's UCS saturation and gamut steps may change (conservative), and their UCS coordinates.

    At zero saturation/brilliance the DTUCS step of ``colorbalancergb`` maps XYZ to itself exactly except
    where one of its two soft clips acts: the saturation step where ``B < sqrt(1 / soft**2 - 2) * C``
    (``B < sqrt(2) C`` for ``saturation_soft = 0.5``) and the gamut mapping where ``S > gamut_soft * S_boundary``.
    This tests both with a relative margin of 1e-3 and a lower bound of the boundary colourfulness, so that
    every pixel it does not flag is one where both clips are inactive.

    Args:
        u: darktable UCS ``u`` (before the compression to ``U*``), any shape.
        v: ``v``, same shape.
        y: XYZ luminance, same shape.
        log2_gamut_floor: ``(360,)`` ``log2`` of a lower bound of the gamut LUT on each 1-degree cell.
        saturation_soft: soft-clip start of the saturation step's chroma factor (0.5).
        gamut_soft: soft-clip start of the gamut mapping (0.8).

    Returns:
        ``(distance, u_prime, v_prime, m2, hue)``: ``distance < 0`` flags a pixel (NaN never flags; ``Y`` below
        0 or above darktable's upper limit flags too); the others are ``U*'``, ``V*'``, ``M^2 = U*'^2 +
        V*'^2`` and the hue angle ``atan2(V*', U*')``.
    """
    (a, b), (c, e) = _UCS_TO_PRIME
    us = u.abs().add_(_UCS_HALF[0]).reciprocal_().mul_(u).mul_(_UCS_FACTORS[0])
    vs = v.abs().add_(_UCS_HALF[1]).reciprocal_().mul_(v).mul_(_UCS_FACTORS[1])
    u_prime = torch.mul(us, a).add_(vs, alpha=b)
    v_prime = vs.mul_(e).add_(us, alpha=c)
    m2 = torch.mul(u_prime, u_prime).addcmul_(v_prime, v_prime)
    hue = torch.atan2(v_prime, u_prime)

    y_hat = fast_pow(y.clamp(0.0, _Y_UPPER_LIMIT), _L_STAR_EXP)
    l_star = torch.add(y_hat, _L_STAR_HALF).reciprocal_().mul_(y_hat).mul_(_L_STAR_MAX)
    l_white = DT_UCS_L_WHITE
    base = torch.log2(l_star).mul_(_CHROMA_L_EXP).add_(math.log2(_CHROMA_GAIN / l_white))
    log_c = torch.log2(m2).mul_(_CHROMA_M2_EXP).add_(base)
    cell = hue.add(math.pi).mul_((GAMUT_LUT_SIZE - 1) / (2.0 * math.pi)).to(torch.int32)
    log_max_c = log2_gamut_floor.index_select(0, cell.clamp_(0, GAMUT_LUT_SIZE - 1)).mul_(_CHROMA_M2_EXP).add_(base)

    chroma = torch.exp2(log_c)
    chroma_e1 = log_c.mul_(_HCB_EXP).exp2_().add_(1.0)  # C ** 1.3365 + 1
    max_chroma = torch.exp2(log_max_c)
    max_e1 = log_max_c.mul_(_HCB_EXP).exp2_().add_(1.0)
    # saturation step acts where its max_a = sqrt(2 + B^2 / C^2) < 1 / soft, i.e. B = J (C^e + 1) < C sqrt(1/soft^2 - 2)
    sat_ratio = math.sqrt(1.0 / saturation_soft**2 - 2.0) * (1.0 + 1e-3)
    d_sat = l_star.mul_(1.0 / l_white).mul_(chroma_e1).sub_(chroma, alpha=sat_ratio)
    # gamut mapping acts where C / B > soft * Cmax / Bmax, i.e. C (Cmax^e + 1) > soft Cmax (C^e + 1) (J cancels)
    d_gam = max_chroma.mul_(chroma_e1).mul_(gamut_soft * (1.0 - 1e-3)).sub_(chroma.mul_(max_e1))
    # Y outside [0, Y_UPPER_LIMIT] also needs the step (darktable clamps Y there)
    d_y = torch.minimum(y, torch.rsub(y, _Y_UPPER_LIMIT))
    return torch.minimum(torch.minimum(d_sat, d_gam), d_y), u_prime, v_prime, m2, hue


def fast_soft_clip(x: Tensor, soft: Tensor, hard: Tensor) -> Tensor:
    """:func:`soft_clip` for ``hard >= soft`` without ``torch.where`` (a new tensor).

    ``min(x, soft) + n * (1 - exp(-max(x - soft, 0) / n))`` with ``n = hard - soft``: the second term is
    exactly 0 up to ``soft``, above it this is the reference formula, and ``n = 0`` gives ``soft``.
    """
    norm = hard - soft
    t = torch.sub(x, soft).relu_().div_(norm.clamp_min(torch.finfo(norm.dtype).tiny))
    return torch.minimum(x, soft).add_(torch.rsub(t.neg_().exp_(), 1.0).mul_(norm))


@functools.cache
def fast_gamut_tables(dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """The gamut LUT for the fast path: ``(value, slope, log2_floor)``.

    ``value`` is the LUT with its first entry repeated at the end (361 entries) and ``slope[i] = value[i + 1] -
    value[i]``, so that ``value[i] + f * slope[i]`` is :func:`lookup_gamut` (including its wrap); ``log2_floor``
    (360) is ``log2(min(value[i], value[i + 1]))``, a lower bound of the LUT on cell ``i``.
    """
    lut = gamut_lut_tensor(dtype, device)
    value = torch.cat((lut, lut[:1]))
    slope = torch.cat((value[1:] - value[:-1], value.new_zeros(1)))
    floor = torch.log2(torch.minimum(value[:-1], value[1:]))
    return value, slope, floor


# Long: one closed-form formula, kept in one piece in the order of its derivation so that it can be checked against darktable's.
def fast_dt_ucs_map(
    y: Tensor,
    u_prime: Tensor,
    v_prime: Tensor,
    m2: Tensor,
    hue: Tensor,
    saturation_soft: float,
    gamut_soft: float,
) -> Channels:
    """darktable UCS saturation (a = b = 1) and gamut mapping, XYZ in and out, for 1-D tensors of pixels.

    The same steps as ``colorbalance``'s reference path (``xyy_to_dt_ucs_jch``, the saturation rotation, the
    gamut soft clip, ``dt_ucs_jch_to_xyy``, ``xyy_to_xyz``) written with :func:`fast_pow` and starting from
    the UCS coordinates that :func:`fast_ucs_flags` already computed.

    Args:
        y: XYZ luminance ``(K,)``.
        u_prime: ``U*'`` ``(K,)``.
        v_prime: ``V*'`` ``(K,)``.
        m2: ``U*'^2 + V*'^2`` ``(K,)``.
        hue: ``atan2(V*', U*')`` ``(K,)``.
        saturation_soft: soft-clip start of the saturation step (0.5).
        gamut_soft: soft-clip start of the gamut mapping (0.8).

    Returns:
        XYZ (D65) after the step, three ``(K,)`` tensors.
    """
    tiny = torch.finfo(y.dtype).tiny
    l_white = DT_UCS_L_WHITE
    y_hat = fast_pow(y.clamp(0.0, _Y_UPPER_LIMIT), _L_STAR_EXP)
    l_star = torch.add(y_hat, _L_STAR_HALF).reciprocal_().mul_(y_hat).mul_(_L_STAR_MAX)
    j = l_star / l_white
    c = fast_pow(l_star, _CHROMA_L_EXP).mul_(fast_pow(m2, _CHROMA_M2_EXP)).mul_(_CHROMA_GAIN / l_white)
    b = fast_pow(c, _HCB_EXP).add_(1.0).mul_(j)

    # saturation step: rotation by T (tan T = C / B), soft clip of the chroma factor a. Where the reference
    # guards a zero denominator, dividing by ``tiny`` instead gives the same C and B: C = 0 there.
    cc = c * c
    radius = torch.mul(b, b).add_(cc).sqrt_().clamp_min_(tiny)
    sin_t = c / radius
    cos_t = radius.reciprocal_().mul_(b)
    w = torch.mul(sin_t, c).addcmul_(cos_t, b)
    max_a = torch.mul(w, w).add_(cc).sqrt_().div_(c.clamp_min_(tiny))
    a = fast_soft_clip(torch.ones_like(c), saturation_soft * max_a, max_a)
    w_prime = torch.mul(a, a).neg_().add_(1.0).mul_(cc).addcmul_(w, w).clamp_min_(0.0).sqrt_()
    p_prime = a.sub_(1.0).mul_(c)
    c = torch.mul(cos_t, p_prime).addcmul_(sin_t, w_prime).clamp_min_(0.0)
    b = cos_t.mul_(w_prime).addcmul_(sin_t, p_prime, value=-1.0).clamp_min_(0.0)
    j = fast_pow(c, _HCB_EXP).add_(1.0).reciprocal_().mul_(b)

    # gamut mapping against the boundary at this hue (B = 0 means C = 0: any finite S gives C = 0)
    value, slope, _ = fast_gamut_tables(y.dtype, y.device)
    x = hue.add(math.pi).mul_((GAMUT_LUT_SIZE - 1) / (2.0 * math.pi))
    cell = torch.floor(x)
    index = cell.to(torch.int64).clamp_(0, GAMUT_LUT_SIZE - 1)
    max_m2 = x.sub_(cell).mul_(slope[index]).add_(value[index])
    max_c = fast_pow(j * l_white, _CHROMA_L_EXP).mul_(fast_pow(max_m2, _CHROMA_M2_EXP)).mul_(_CHROMA_GAIN / l_white)
    boundary_s = fast_pow(max_c, _HCB_EXP).add_(1.0).mul_(j).clamp_min_(tiny).reciprocal_().mul_(max_c)
    s = fast_soft_clip(c.div_(b.clamp_min(tiny)), gamut_soft * boundary_s, boundary_s)
    c = s.mul_(b)
    j = fast_pow(c, _HCB_EXP).add_(1.0).reciprocal_().mul_(b)

    # back to xyY (dt_ucs_jch_to_xyy) and XYZ (xyy_to_xyz); L* = 0 only with C = 0, so the ratio is 0 there
    l_star = j.mul_(l_white).clamp_(0.0, _L_STAR_UPPER_LIMIT)
    ratio = fast_pow(l_star, _CHROMA_L_EXP).mul_(_CHROMA_GAIN).clamp_min_(tiny).reciprocal_().mul_(c).mul_(l_white)
    m = fast_pow(ratio, _M_FROM_CHROMA_EXP)
    u_p = torch.cos(hue).mul_(m)
    v_p = torch.sin(hue).mul_(m)
    (pa, pb), (pc, pe) = _PRIME_TO_UCS
    u_star = torch.mul(u_p, pa).add_(v_p, alpha=pb)
    v_star = v_p.mul_(pe).add_(u_p, alpha=pc)
    u = u_star.abs().sub_(_UCS_FACTORS[0]).reciprocal_().mul_(u_star).mul_(-_UCS_HALF[0])
    v = v_star.abs().sub_(_UCS_FACTORS[1]).reciprocal_().mul_(v_star).mul_(-_UCS_HALF[1])
    xd = torch.mul(u, _XY_FROM_U[0]).add_(v, alpha=_XY_FROM_V[0]).add_(_XY_OFFSET[0])
    yd = torch.mul(u, _XY_FROM_U[1]).add_(v, alpha=_XY_FROM_V[1]).add_(_XY_OFFSET[1])
    dd = u.mul_(_XY_FROM_U[2]).add_(v, alpha=_XY_FROM_V[2]).add_(_XY_OFFSET[2])
    x_c = xd.div_(dd)
    y_c = yd.div_(dd)
    big_y = torch.rsub(l_star, _L_STAR_MAX).reciprocal_().mul_(l_star).mul_(_L_STAR_HALF)
    big_y = fast_pow(big_y, _L_STAR_INV_EXP)
    y_safe = y_c + (y_c == 0)  # 1 where y = 0, as the reference
    return big_y * x_c / y_safe, big_y, big_y * (1.0 - x_c - y_c) / y_safe
