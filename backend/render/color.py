"""Colour spaces and transfer functions shared by the renderer, the decoders and the translators.

The working space is **linear Rec.2020 with a D65 white**, the default working profile of darktable's
pixelpipe. darktable's ICC profiles are D50-adapted (Bradford), but a conversion from another
D65-based RGB space (sRGB, Adobe RGB) into its working space cancels the adaptation, so the direct
matrices below give the same numbers as darktable's ``colorin``. Lab is CIE L*a*b* relative to D50 as
darktable computes it (working RGB -> XYZ D50 through the Bradford-adapted profile -> Lab).

All functions take and return tensors whose third-from-last axis is the channel axis (``(*, 3, H, W)``)
unless said otherwise, work in float32 or float64, and are differentiable. None of them clamps.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "D50_XYZ",
    "D65_XYZ",
    "PROPHOTO_TO_REC2020",
    "REC2020_LUMINANCE",
    "REC2020_TO_SRGB",
    "REC2020_TO_XYZ_D50",
    "REC2020_TO_XYZ_D65",
    "SRGB_TO_REC2020",
    "apply_matrix",
    "lab_to_rec2020",
    "lab_to_xyz_d50",
    "rec2020_to_lab",
    "rgb_to_xyz_matrix",
    "srgb_decode",
    "srgb_encode",
    "xyz_d50_to_lab",
]

_D65_XY = (0.3127, 0.3290)
_D50_XY = (0.3457, 0.3585)

#: XYZ of D65 and of darktable's D50 (Y = 1).
D65_XYZ = np.array([_D65_XY[0] / _D65_XY[1], 1.0, (1 - _D65_XY[0] - _D65_XY[1]) / _D65_XY[1]])
D50_XYZ = np.array([0.9642, 1.0, 0.8249])

_BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]], dtype=np.float64
)


def rgb_to_xyz_matrix(primaries: tuple[tuple[float, float], ...], white_xy: tuple[float, float]) -> np.ndarray:
    """3x3 matrix from linear RGB with the given xy primaries and white to XYZ (white Y = 1).

    Args:
        primaries: ((xr, yr), (xg, yg), (xb, yb)) chromaticities.
        white_xy: (x, y) of the white point.

    Returns:
        (3, 3) float64 matrix M with ``XYZ = M @ rgb``.
    """
    cols = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    wx, wy = white_xy
    white = np.array([wx / wy, 1.0, (1 - wx - wy) / wy])
    scale = np.linalg.solve(cols, white)
    return cols * scale


def _bradford(src_white: np.ndarray, dst_white: np.ndarray) -> np.ndarray:
    """Bradford chromatic adaptation matrix from ``src_white`` XYZ to ``dst_white`` XYZ."""
    lms_src = _BRADFORD @ src_white
    lms_dst = _BRADFORD @ dst_white
    return np.linalg.inv(_BRADFORD) @ np.diag(lms_dst / lms_src) @ _BRADFORD


_SRGB_PRIMARIES = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
_REC2020_PRIMARIES = ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046))
_PROPHOTO_PRIMARIES = ((0.734699, 0.265301), (0.159597, 0.840403), (0.036598, 0.000105))

_SRGB_TO_XYZ = rgb_to_xyz_matrix(_SRGB_PRIMARIES, _D65_XY)
REC2020_TO_XYZ_D65: np.ndarray = rgb_to_xyz_matrix(_REC2020_PRIMARIES, _D65_XY)
_PROPHOTO_TO_XYZ_D50 = rgb_to_xyz_matrix(_PROPHOTO_PRIMARIES, _D50_XY)

#: Linear sRGB (Rec.709 primaries) -> linear Rec.2020, both D65.
SRGB_TO_REC2020: np.ndarray = np.linalg.inv(REC2020_TO_XYZ_D65) @ _SRGB_TO_XYZ
#: Linear Rec.2020 -> linear sRGB.
REC2020_TO_SRGB: np.ndarray = np.linalg.inv(SRGB_TO_REC2020)
#: Linear Rec.2020 (D65) -> XYZ relative to D50, Bradford-adapted as in darktable's ICC profile.
REC2020_TO_XYZ_D50: np.ndarray = _bradford(D65_XYZ, D50_XYZ) @ REC2020_TO_XYZ_D65
#: Linear ProPhoto RGB (D50, as in ROMM/ICC) -> linear Rec.2020 (D65), Bradford-adapted.
PROPHOTO_TO_REC2020: np.ndarray = np.linalg.inv(REC2020_TO_XYZ_D50) @ _PROPHOTO_TO_XYZ_D50
#: Luminance (Y) weights of linear Rec.2020.
REC2020_LUMINANCE: np.ndarray = REC2020_TO_XYZ_D65[1].copy()


def apply_matrix(image: Tensor, matrix: np.ndarray | Tensor) -> Tensor:
    """Apply a 3x3 colour matrix on the channel axis.

    Args:
        image: ``(*, 3, H, W)`` tensor.
        matrix: ``(3, 3)`` matrix M; the result is ``M @ pixel``.

    Returns:
        ``(*, 3, H, W)`` tensor of the same dtype and device.
    """
    m = torch.as_tensor(matrix, dtype=image.dtype, device=image.device)
    return torch.einsum("ij,...jhw->...ihw", m, image)


def srgb_decode(encoded: Tensor) -> Tensor:
    """sRGB transfer function, encoded -> linear (IEC 61966-2-1), odd-extended below 0.

    Args:
        encoded: values in [0, 1] for in-gamut colours (any shape).

    Returns:
        Linear-light values, same shape.
    """
    a = encoded.abs()
    lin = torch.where(a <= 0.04045, a / 12.92, ((a.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)
    return torch.copysign(lin, encoded)


def srgb_encode(linear: Tensor) -> Tensor:
    """Inverse of :func:`srgb_decode`: linear -> sRGB-encoded, odd-extended below 0 (no clamp)."""
    a = linear.abs()
    enc = torch.where(a <= 0.0031308, a * 12.92, 1.055 * a.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)
    return torch.copysign(enc, linear)


_LAB_EPS = 216.0 / 24389.0
_LAB_KAPPA = 24389.0 / 27.0


def _lab_f(t: Tensor) -> Tensor:
    return torch.where(t > _LAB_EPS, t.clamp_min(_LAB_EPS) ** (1.0 / 3.0), (_LAB_KAPPA * t + 16.0) / 116.0)


def _lab_f_inv(f: Tensor) -> Tensor:
    f3 = f**3
    return torch.where(f3 > _LAB_EPS, f3, (116.0 * f - 16.0) / _LAB_KAPPA)


def xyz_d50_to_lab(xyz: Tensor) -> Tensor:
    """XYZ (D50, Y of white = 1) -> CIE L*a*b* with L in 0..100.

    Args:
        xyz: ``(*, 3, H, W)``.

    Returns:
        ``(*, 3, H, W)`` with channels L, a, b.
    """
    white = torch.as_tensor(D50_XYZ, dtype=xyz.dtype, device=xyz.device).view(3, 1, 1)
    f = _lab_f(xyz / white)
    fx, fy, fz = f.unbind(-3)
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)


def lab_to_xyz_d50(lab: Tensor) -> Tensor:
    """Inverse of :func:`xyz_d50_to_lab`."""
    L, a, b = lab.unbind(-3)
    fy = (L + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0
    white = torch.as_tensor(D50_XYZ, dtype=lab.dtype, device=lab.device).view(3, 1, 1)
    return torch.stack((_lab_f_inv(fx), _lab_f_inv(fy), _lab_f_inv(fz)), dim=-3) * white


def rec2020_to_lab(image: Tensor) -> Tensor:
    """Linear Rec.2020 ``(*, 3, H, W)`` -> Lab (D50), as darktable's Lab modules see the pixels."""
    return xyz_d50_to_lab(apply_matrix(image, REC2020_TO_XYZ_D50))


def lab_to_rec2020(lab: Tensor) -> Tensor:
    """Lab (D50) ``(*, 3, H, W)`` -> linear Rec.2020."""
    return apply_matrix(lab_to_xyz_d50(lab), np.linalg.inv(REC2020_TO_XYZ_D50))
