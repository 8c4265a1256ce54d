"""The house-style checks of a renderer filter ``apply(image, value) -> image`` (house style §2.6), and test images.

A filter test module calls these with its own filter and values; each check asserts what the separate tests
used to assert inline:

* :func:`check_smoke`: shape, dtype, finite, and the value changes the image.
* :func:`check_per_image_values`: a batch with one value per image equals the images rendered one by one
  (the batch through the filter itself, or through its stage: :func:`stage_filter` of :func:`stage_of`).
* :func:`check_identity`: the identity value returns the input object (a differentiable zero: the same values).
* :func:`check_gradcheck`: float64 gradcheck with respect to the image and a per-image value;
  :func:`check_stage_gradcheck`: the same for a whole stage and several of its sliders at once.
* :func:`check_commutes_with_4x_downscaling`: on 4x4 constant blocks, filtering then pooling = pooling then filtering.

Images: :func:`srgb_gamut_image` (random sRGB-gamut colours in linear Rec.2020), :func:`uniform_image` (random
values in a range) and :func:`pixel_centres` (relative coordinates for smooth test content).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor
from torch.nn.functional import avg_pool2d

from backend.render.color import SRGB_TO_REC2020, apply_matrix, srgb_decode
from backend.render.stages import STAGE_TABLE, StageFn
from backend.sliders.catalog import get_slider

__all__ = [
    "Apply",
    "check_commutes_with_4x_downscaling",
    "check_gradcheck",
    "check_identity",
    "check_per_image_values",
    "check_smoke",
    "check_stage_gradcheck",
    "pixel_centres",
    "srgb_gamut_image",
    "stage_filter",
    "stage_of",
    "uniform_image",
]

#: A filter: ``(image (N, 3, H, W), value (scalar or (N,))) -> image``.
Apply = Callable[[Tensor, Tensor | float], Tensor]


def srgb_gamut_image(n: int = 2, h: int = 5, w: int = 6, seed: int = 0, dtype: torch.dtype = torch.float64) -> Tensor:
    """Random linear Rec.2020 image of sRGB-gamut colours in (0, 1), ``(n, 3, h, w)``."""
    gen = torch.Generator().manual_seed(seed)
    encoded = torch.rand(n, 3, h, w, generator=gen, dtype=torch.float64) * 0.9 + 0.05
    return apply_matrix(srgb_decode(encoded), SRGB_TO_REC2020).to(dtype)


def uniform_image(
    n: int, h: int, w: int, seed: int = 0, dtype: torch.dtype = torch.float64, *, low: float, span: float = 0.8
) -> Tensor:
    """Random ``(n, 3, h, w)`` values uniform in ``[low, low + span)`` (drawn in float64, then cast to ``dtype``)."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, h, w, generator=gen, dtype=torch.float64) * span + low).to(dtype)


def pixel_centres(h: int, w: int) -> tuple[Tensor, Tensor]:
    """Relative coordinates of the pixel centres, ``(yy, xx)``, each ``(h, w)`` float64 in (0, 1)."""
    y = (torch.arange(h, dtype=torch.float64) + 0.5) / h
    x = (torch.arange(w, dtype=torch.float64) + 0.5) / w
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    return yy, xx


def check_smoke(apply: Callable[[Tensor, Any], Tensor], image: Tensor, value: Any) -> None:
    """``apply(image, value)`` keeps the shape and dtype, is finite, and changes the image (``value`` may be a
    number or a filter's tensor of parameters, e.g. curve nodes)."""
    out = apply(image, value)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert torch.isfinite(out).all()
    assert not torch.equal(out, image)


def stage_filter(stage: Callable[[Tensor, Mapping[str, Tensor]], Tensor], slider: str) -> Apply:
    """The filter that runs ``stage`` with ``slider`` alone: ``(image, values) -> stage(image, {slider: values})``."""
    return lambda image, values: stage(image, {slider: torch.as_tensor(values)})


def stage_of(slider: str) -> StageFn:
    """The stage function (from the renderer's stage table) that owns ``slider``."""
    return STAGE_TABLE[get_slider(slider).stage].apply


def check_per_image_values(apply: Apply, image: Tensor, values: Tensor, *, batched: Apply | None = None) -> None:
    """``batched`` (default ``apply``) on a batch with ``values`` (one per image) equals ``apply`` on each image
    with its value (e.g. ``batched`` = :func:`stage_filter` of the filter's stage)."""
    out = (batched or apply)(image, values)
    assert out.shape == image.shape
    for i in range(image.shape[0]):
        torch.testing.assert_close(out[i : i + 1], apply(image[i : i + 1], values[i].item()))


def check_identity(
    apply: Apply,
    stage: Callable[[Tensor, Mapping[str, Tensor]], Tensor],
    image: Tensor,
    *,
    rtol: float,
    atol: float = 0.0,
    slider: str | None = None,
) -> None:
    """The identity value 0 returns ``image`` itself (as a float, a zero tensor, or an empty stage), and a zero that
    needs a gradient returns a new tensor equal to ``image`` within ``rtol`` and ``atol``.

    Args:
        apply: the filter.
        stage: the stage the filter belongs to, ``(image, {slider: values}) -> image``.
        image: ``(N, 3, H, W)`` float64.
        rtol: relative tolerance of the differentiable identity (0 = exact).
        atol: absolute tolerance of the differentiable identity (0 = exact).
        slider: the filter's slider, to check too that the stage given float64 zeros for it returns ``image``.
    """
    n = image.shape[0]
    assert apply(image, 0.0) is image
    assert apply(image, torch.zeros(n)) is image
    assert stage(image, {}) is image
    if slider is not None:
        assert stage(image, {slider: torch.zeros(n, dtype=torch.float64)}) is image
    zero = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    out = apply(image, zero)
    assert out is not image
    torch.testing.assert_close(out, image, rtol=rtol, atol=atol)


def check_gradcheck(apply: Apply, image: Tensor, value: float) -> None:
    """float64 gradcheck of ``apply`` with respect to a 2-image ``image`` and the values ``(value, value / 2)``."""
    image = image.requires_grad_(True)
    v = torch.tensor([value, 0.5 * value], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, p: apply(x, p), (image, v))


def check_stage_gradcheck(
    stage: Callable[[Tensor, Mapping[str, Tensor]], Tensor], image: Tensor, values: Mapping[str, float]
) -> None:
    """float64 gradcheck of ``stage`` with respect to ``image`` and each slider's value in ``values`` (one image)."""
    names = list(values)
    params = [torch.tensor([values[name]], dtype=torch.float64, requires_grad=True) for name in names]

    def fn(x: Tensor, *p: Tensor) -> Tensor:
        return stage(x, dict(zip(names, p, strict=True)))

    assert torch.autograd.gradcheck(fn, (image.requires_grad_(True), *params))


def check_commutes_with_4x_downscaling(apply: Apply, small: Tensor, value: float) -> None:
    """On ``small`` blown up into 4x4 constant blocks, filtering then 4x average pooling equals pooling then
    filtering (within 1e-4 absolute)."""
    big = small.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)  # 4x4 constant blocks
    down = avg_pool2d(big, 4)
    torch.testing.assert_close(down, small)
    torch.testing.assert_close(apply(down, value), avg_pool2d(apply(big, value), 4), rtol=0, atol=1e-4)
