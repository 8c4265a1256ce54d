"""Spatial helpers shared by the local renderer stages (sharpen, clarity).

Everything here works on ``(B, C, H, W)`` tensors of any floating dtype, per channel, is differentiable and
reproduces the exact discrete filters darktable 4.2 uses, including their border handling, so that the stages
built on them can be compared with ``darktable-cli`` pixel by pixel.

* :func:`gaussian_kernel1d` and :func:`separable_blur_valid`: the truncated, normalised Gaussian of
  darktable's ``sharpen`` module, evaluated only where the kernel fits inside the image.
* :func:`pyramid_reduce` and :func:`pyramid_expand`: the 5-tap binomial (1 4 6 4 1)/16 Gaussian-pyramid steps
  of ``src/common/locallaplacian.c`` (the coarse grid keeps every second fine pixel, starting with the first;
  a coarse side is ``(side - 1) // 2 + 1``; the outermost one or two rows/columns are filled by replication).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.functional import avg_pool2d, conv2d, conv_transpose2d, pad

__all__ = [
    "downscale_area",
    "gaussian_kernel1d",
    "pyramid_expand",
    "pyramid_reduce",
    "pyramid_size",
    "separable_blur_valid",
]

#: Binomial 5-tap weights of darktable's Gaussian pyramid (sum 1).
_BINOMIAL5 = (1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0)


def gaussian_kernel1d(sigma: float, radius: int, dtype: torch.dtype, device: torch.device | str) -> Tensor:
    """Normalised, truncated 1-D Gaussian ``exp(-l^2 / (2 sigma^2))`` for ``l = -radius..radius``.

    Args:
        sigma: standard deviation in pixels, > 0.
        radius: half width of the kernel in pixels (``2 * radius + 1`` taps), >= 0.
        dtype: floating dtype of the result.
        device: device of the result.

    Returns:
        ``(2 * radius + 1,)`` weights summing to 1.
    """
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-(offsets**2) / (2.0 * sigma * sigma))
    return (weights / weights.sum()).to(dtype=dtype, device=device)


def separable_blur_valid(image: Tensor, kernel: Tensor) -> Tensor:
    """Blur every channel with ``kernel`` along H then W, only where the kernel fits (no padding).

    Args:
        image: ``(B, C, H, W)``.
        kernel: ``(K,)`` 1-D weights, ``K = 2 r + 1`` with ``H, W >= K``.

    Returns:
        ``(B, C, H - 2 r, W - 2 r)``: output pixel ``(j, i)`` is the blur centred on input ``(j + r, i + r)``.
    """
    b, c, h, w = image.shape
    k = kernel.numel()
    flat = image.reshape(b * c, 1, h, w)
    flat = conv2d(flat, kernel.view(1, 1, k, 1))
    flat = conv2d(flat, kernel.view(1, 1, 1, k))
    return flat.reshape(b, c, h - k + 1, w - k + 1)


def pyramid_size(side: int) -> int:
    """Side length of the next coarser pyramid level: ``(side - 1) // 2 + 1``."""
    return (side - 1) // 2 + 1


def _binomial2d(scale: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    w = torch.tensor(_BINOMIAL5, dtype=torch.float64)
    return (torch.outer(w, w) * scale).to(dtype=dtype, device=device).view(1, 1, 5, 5)


def pyramid_reduce(image: Tensor) -> Tensor:
    """One Gaussian-pyramid step down, as darktable's ``gauss_reduce``.

    Coarse pixel ``(j, i)`` is the 5x5 binomial average centred on fine pixel ``(2 j, 2 i)`` for
    ``1 <= j < h' - 1``, ``1 <= i < w' - 1``; the outer ring of the coarse image is copied from its neighbours.

    Args:
        image: ``(B, C, H, W)`` with ``H, W >= 5``.

    Returns:
        ``(B, C, (H - 1) // 2 + 1, (W - 1) // 2 + 1)``.
    """
    b, c, h, w = image.shape
    flat = image.reshape(b * c, 1, h, w)
    inner = conv2d(flat, _binomial2d(1.0, image.dtype, image.device), stride=2)
    coarse = pad(inner, (1, 1, 1, 1), mode="replicate")
    return coarse.reshape(b, c, pyramid_size(h), pyramid_size(w))


def pyramid_expand(coarse: Tensor, height: int, width: int) -> Tensor:
    """One Gaussian-pyramid step up to ``(height, width)``, as darktable's ``gauss_expand``.

    Zero-insertion upsampling followed by the binomial filter (weights doubled per axis), evaluated on
    ``1 <= j < (height - 1) & ~1`` and ``1 <= i < (width - 1) & ~1``; the remaining one or two outer rows and
    columns replicate their neighbours (which is also what darktable's Laplacian lookup does with clamped indices).

    Args:
        coarse: ``(B, C, (height - 1) // 2 + 1, (width - 1) // 2 + 1)``.
        height: fine height, >= 4.
        width: fine width, >= 4.

    Returns:
        ``(B, C, height, width)``.
    """
    b, c, ch, cw = coarse.shape
    flat = coarse.reshape(b * c, 1, ch, cw)
    up = conv_transpose2d(flat, _binomial2d(4.0, coarse.dtype, coarse.device), stride=2)
    end_h = (height - 1) & ~1
    end_w = (width - 1) & ~1
    # transposed-conv output index o holds fine index o - 2
    inner = up[:, :, 3 : end_h + 2, 3 : end_w + 2]
    fine = pad(inner, (1, width - end_w, 1, height - end_h), mode="replicate")
    return fine.reshape(b, c, height, width)


def downscale_area(image: Tensor, factor: int) -> Tensor:
    """Box-average downscale by an integer factor (test and benchmark helper).

    Args:
        image: ``(B, C, H, W)`` with ``H`` and ``W`` divisible by ``factor`` (a remainder is dropped).
        factor: integer factor >= 1.

    Returns:
        ``(B, C, H / factor, W / factor)``.
    """
    return avg_pool2d(image, kernel_size=factor) if factor > 1 else image
