"""The local detail that sharpening and local contrast (clarity) change, measured the same way in their tests."""

from __future__ import annotations

from torch import Tensor

from backend.render.color import rec2020_to_lab
from backend.render.filters import gaussian_kernel1d, separable_blur_valid

__all__ = ["lightness_detail"]


def lightness_detail(image: Tensor, sigma: float, half_width: int) -> Tensor:
    """``L - blur(L)``: CIE L of ``image`` minus its Gaussian blur (``sigma`` px, kernel half width ``half_width``)
    on the pixels the whole kernel covers, ``(N, 1, H - 2 half_width, W - 2 half_width)``."""
    lightness = rec2020_to_lab(image)[:, :1]
    blurred = separable_blur_valid(lightness, gaussian_kernel1d(sigma, half_width, image.dtype, image.device))
    return lightness[..., half_width:-half_width, half_width:-half_width] - blurred
