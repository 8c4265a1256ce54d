"""Test images of the spatial one-slider stages (``clarity``, ``sharpen``, ``vignette``), one definition each.

Their own test modules and the shared house-style checks (``tests/test_render_spatial_stages.py``) draw the same
images from here: random values uniform in ``[low, low + 0.8)`` (see :func:`testing.filter_checks.uniform_image`)
with a per-slider lower bound and default size.
"""

from __future__ import annotations

import torch
from torch import Tensor

from testing.filter_checks import uniform_image

__all__ = ["SHARPEN_STRIP_PX", "SPATIAL_IMAGES", "sharpen_strip", "spatial_image"]

#: Slider -> (lower bound of the random values, default height, default width in px) of its test images.
SPATIAL_IMAGES: dict[str, tuple[float, int, int]] = {
    "clarity": (0.05, 24, 32),
    "sharpen": (0.1, 12, 14),
    "vignette": (0.1, 12, 16),
}
#: Long side of sharpen's test strips in px: the catalog radius is then exactly 1 px (kernel half width 3).
SHARPEN_STRIP_PX = 2000


def spatial_image(
    slider: str,
    n: int = 1,
    h: int | None = None,
    w: int | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Slider ``slider``'s random test image, ``(n, 3, h, w)`` (``h``, ``w`` default from :data:`SPATIAL_IMAGES`)."""
    low, default_h, default_w = SPATIAL_IMAGES[slider]
    return uniform_image(n, default_h if h is None else h, default_w if w is None else w, seed, dtype, low=low)


def sharpen_strip(n: int = 1, h: int = 9, seed: int = 0, dtype: torch.dtype = torch.float64) -> Tensor:
    """A random ``h x 2000`` sharpen test strip, ``(n, 3, h, 2000)`` (see :data:`SHARPEN_STRIP_PX`)."""
    return spatial_image("sharpen", n, h, SHARPEN_STRIP_PX, seed, dtype)
