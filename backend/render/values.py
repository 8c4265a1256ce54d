"""Small helpers shared by the renderer stages for slider values."""

from __future__ import annotations

import torch
from torch import Tensor

from backend.errors import InvalidRecipeError

__all__ = ["scalar_batch"]


def scalar_batch(value: Tensor | float, image: Tensor) -> Tensor:
    """A scalar slider value as a ``(N,)`` tensor of the image's dtype and device (differentiable).

    Args:
        value: a number, a 0-d tensor, or a ``(N,)`` tensor (one value per image).
        image: the ``(N, 3, H, W)`` batch the value applies to.

    Raises:
        InvalidRecipeError: the value has another shape.
    """
    v = torch.as_tensor(value, device=image.device).to(image.dtype)
    n = image.shape[0]
    if v.ndim == 0:
        return v.expand(n)
    if tuple(v.shape) != (n,):
        raise InvalidRecipeError(f"slider value must be a scalar or have shape ({n},), got {tuple(v.shape)}")
    return v
