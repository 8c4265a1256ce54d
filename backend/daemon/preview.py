"""Preview images for the editors: the photo before and after each suggested variant, as small JPEGs.

The images come from the daemon's own renderer (:func:`backend.recipe.render_recipe`) on the decoded preview,
the same one the suggestion was made from, so they show what the recipe does, not what the host will render
exactly (see the README, "How sliders become host settings": most sliders are close, a few approximate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import torch
from torch import Tensor
from torch.nn import functional

from backend.daemon.errors import BadRequestError
from backend.encode import srgb_planes
from backend.recipe import Recipe, render_recipe, scale

__all__ = ["DEFAULT_SIZE", "DEFAULT_STRENGTHS", "check_preview", "jpeg_of", "render_preview"]

#: Long side of preview images unless the request says otherwise, in pixels.
DEFAULT_SIZE = 384
#: Strengths each variant is rendered at unless the request says otherwise.
DEFAULT_STRENGTHS = (0.25, 0.5, 0.75, 1.0)
_MAX_STRENGTHS = 8
_SIZE_RANGE = (64, 1024)
_JPEG_QUALITY = 88


def check_preview(strengths: Sequence[float], size: int) -> tuple[list[float], int]:
    """The request's strengths and size, defaults filled in.

    Raises:
        BadRequestError: a strength outside [0, 1] (or not finite), more than 8 of them, or a size outside 64..1024.
    """
    values = list(strengths) or list(DEFAULT_STRENGTHS)
    if len(values) > _MAX_STRENGTHS:
        raise BadRequestError(f"at most {_MAX_STRENGTHS} preview strengths, got {len(values)}")
    for s in values:
        if not math.isfinite(s) or not 0.0 <= s <= 1.0:
            raise BadRequestError(f"preview strengths must lie in [0, 1], got {s}")
    size = size or DEFAULT_SIZE
    if not _SIZE_RANGE[0] <= size <= _SIZE_RANGE[1]:
        raise BadRequestError(f"the preview size must lie in {_SIZE_RANGE[0]}..{_SIZE_RANGE[1]} pixels, got {size}")
    return values, size


def _resized(image: Tensor, size: int) -> Tensor:
    h, w = image.shape[-2:]
    if max(h, w) <= size:
        return image
    factor = size / max(h, w)
    new = (max(1, round(h * factor)), max(1, round(w * factor)))
    return functional.interpolate(image, size=new, mode="area")


def render_preview(
    image: Tensor, recipes: Sequence[Recipe], strengths: Sequence[float], size: int
) -> tuple[Tensor, list[list[Tensor]]]:
    """The photo shrunk to ``size`` and each recipe rendered on it at each strength.

    Args:
        image: ``(1, 3, H, W)`` linear Rec.2020, the decoded preview.
        recipes: the variants at strength 1.
        strengths: in [0, 1].
        size: long side of the images in pixels.

    Returns:
        ``(before, afters)``: ``(1, 3, h, w)`` linear Rec.2020, and per recipe one such image per strength.
    """
    with torch.inference_mode():
        before = _resized(image.float(), size)
        afters = [[render_recipe(before, scale(r, s)) if s > 0 else before for s in strengths] for r in recipes]
    return before, afters


def jpeg_of(image: Tensor) -> bytes:
    """A ``(1, 3, h, w)`` linear Rec.2020 image as an sRGB JPEG (clipped to the sRGB gamut)."""
    bgr = cv2.merge(srgb_planes(image, 255)[::-1])
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()
