"""Look statistics of a photo: how bright, how contrasty, how colourful, as a short differentiable vector.

Used to compare photos cheaply: the restoration trainer matches them between favourites and sources
(:mod:`trainer.restore_fit`), and styles learnt from the photographer's own edits find the training photos most
like a new one (:mod:`backend.agent.nearest`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from backend.agent.network import colour_statistics
from backend.agent.thumbnail import make_thumbnail
from backend.render.color import REC2020_LUMINANCE

__all__ = ["EXAMPLES_DESCRIPTOR", "example_features", "look_descriptor"]

#: Name of the descriptor :func:`example_features` computes (stored with a style's examples).
EXAMPLES_DESCRIPTOR = "look10@64"
_FEATURE_SIZE = 64
_QUANTILES = (0.01, 0.1, 0.5, 0.9, 0.99)


def look_descriptor(image: Tensor) -> Tensor:
    """``(N, 10)`` differentiable look statistics of ``(N, 3, H, W)`` linear Rec.2020 images.

    Columns: mean and standard deviation of ``log2(max(Y, 2^-10))`` (stops), its 1/10/50/90/99 % quantiles
    (stops), and the mean CIELAB a*, b* and chroma of the clamped image divided by 20 (so that one unit is
    comparable to one stop).
    """
    w = torch.as_tensor(REC2020_LUMINANCE, dtype=image.dtype, device=image.device)
    lum = torch.einsum("c,nchw->nhw", w, image).clamp_min(2.0**-10).log2().flatten(1)
    ordered, _ = torch.sort(lum, dim=1)
    idx = torch.tensor([round(q * (lum.shape[1] - 1)) for q in _QUANTILES], device=image.device)
    colour = colour_statistics(image)[:, :3]  # mean a*, b*, chroma, / 20
    return torch.cat((lum.mean(dim=1, keepdim=True), lum.std(dim=1, keepdim=True), ordered[:, idx], colour), dim=1)


def example_features(images: Tensor) -> Tensor:
    """``(N, 10)`` descriptor of ``(N, 3, H, W)`` linear Rec.2020 photos for the nearest-edits lookup.

    :func:`look_descriptor` of the whole frame squeezed to 64 x 64 (area average in linear light).
    """
    return look_descriptor(make_thumbnail(images.float(), _FEATURE_SIZE))
