"""The agent's view of a photo: a square thumbnail of the unedited image, area-averaged in linear light.

Training and inference must build thumbnails the same way, so both use these functions. The photo is
squeezed to ``size x size`` (aspect ratio not kept: the agent's sliders are global, so only the
distribution of colours matters, and every pixel of the photo contributes).
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor
from torch.nn import functional

__all__ = ["PREVIEW_LONG_SIDE", "THUMB_SIZE", "load_thumbnail", "make_thumbnail"]

#: Side of the agent's thumbnail in pixels.
THUMB_SIZE = 64
#: Long side of the decoded preview the thumbnail is averaged from (2x the thumbnail: the last
#: reduction happens in linear light).
PREVIEW_LONG_SIDE = 128


def make_thumbnail(image: Tensor, size: int = THUMB_SIZE) -> Tensor:
    """Resize a linear image to ``size x size``: area average when shrinking, bilinear when enlarging.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020 (not clamped).
        size: side of the thumbnail in pixels.

    Returns:
        ``(N, 3, size, size)`` linear Rec.2020, same dtype (averages of linear values; nothing clamped).
    """
    h, w = image.shape[-2:]
    if (h, w) == (size, size):
        return image
    if h >= size and w >= size:
        return functional.adaptive_avg_pool2d(image, (size, size))
    return functional.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def load_thumbnail(path: str | Path, size: int = THUMB_SIZE, *, long_side: int = PREVIEW_LONG_SIDE) -> Tensor:
    """Decode a photo quickly (preview path) and make its thumbnail.

    Args:
        path: a photo file (raw, TIFF, JPEG, PNG).
        size: side of the thumbnail in pixels.
        long_side: long side of the decoded preview (>= ``size``).

    Returns:
        ``(1, 3, size, size)`` float32 linear Rec.2020.

    Raises:
        The typed errors of :func:`backend.decode.decode_preview` (they name the file).
    """
    from backend.decode import decode_preview  # decoding pulls in rawpy/OpenCV; import on use

    decoded = decode_preview(path, long_side=max(long_side, size))
    return make_thumbnail(decoded.image.float(), size)
