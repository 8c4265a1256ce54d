"""House-style filter tests (house style §2.6) shared by the spatial stages with one number per slider.

The stages ``bilat`` (slider ``clarity``), ``sharpen`` and ``vignette`` are checked the same way on
:mod:`testing.spatial_images` images: per-image values against the stage function, the exact
no-op at 0, and the thin module against the function and :func:`~backend.render.pipeline.render`; every case
names its slider, image and values. Each stage's own behaviour (formula, params, resolution independence,
darktable-cli match) stays in its ``tests/test_render_<stage>.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from backend.render.clarity import Clarity, apply_clarity
from backend.render.pipeline import render
from backend.render.sharpen import Sharpen, apply_sharpen
from backend.render.vignette import Vignette, apply_vignette
from testing.filter_checks import Apply, check_identity, check_per_image_values, stage_filter, stage_of
from testing.spatial_images import sharpen_strip, spatial_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: Slider name -> its one-slider function and its thin module.
SLIDERS: dict[str, tuple[Apply, type[nn.Module]]] = {
    "clarity": (apply_clarity, Clarity),
    "sharpen": (apply_sharpen, Sharpen),
    "vignette": (apply_vignette, Vignette),
}
#: Slider name -> its test image (sharpen's: a strip whose long side makes the catalog radius exactly 1 px).
IMAGES: dict[str, Callable[..., Tensor]] = {
    "clarity": functools.partial(spatial_image, "clarity"),
    "sharpen": sharpen_strip,
    "vignette": functools.partial(spatial_image, "vignette"),
}


@pytest.mark.parametrize(
    ("name", "shape", "low", "high", "dtype"),
    [
        ("clarity", (1, 3, 8, 8), -90.0, 70.0, torch.float64),
        ("clarity", (2, 3, 24, 32), -90.0, 70.0, torch.float64),
        ("clarity", (3, 3, 17, 11), -90.0, 70.0, torch.float64),
        ("sharpen", (1, 3, 9, 2000), 20.0, 100.0, torch.float32),
        ("sharpen", (2, 3, 2000, 8), 20.0, 100.0, torch.float32),
        ("sharpen", (3, 3, 12, 2000), 20.0, 100.0, torch.float32),
        ("vignette", (1, 3, 8, 8), -80.0, 60.0, torch.float64),
        ("vignette", (2, 3, 12, 16), -80.0, 60.0, torch.float64),
        ("vignette", (3, 3, 17, 5), -80.0, 60.0, torch.float64),
    ],
)
def test_cardinality_and_per_image_values(
    name: str, shape: tuple[int, int, int, int], low: float, high: float, dtype: torch.dtype
) -> None:
    values = torch.linspace(low, high, shape[0], dtype=dtype)
    image = spatial_image(name, shape[0], shape[2], shape[3], dtype=dtype)
    check_per_image_values(SLIDERS[name][0], image, values, batched=stage_filter(stage_of(name), name))


# vignette: rtol = atol = 0, as + 0 * w is exact
@pytest.mark.parametrize(("name", "atol"), [("clarity", 1e-12), ("sharpen", 1e-12), ("vignette", 0.0)])
def test_identity_is_exact_noop(name: str, atol: float) -> None:
    check_identity(SLIDERS[name][0], stage_of(name), IMAGES[name](), rtol=0, atol=atol, slider=name)


@pytest.mark.parametrize(
    ("name", "values"), [("clarity", (-30.0, 60.0)), ("sharpen", (30.0, 90.0)), ("vignette", (-30.0, 40.0))]
)
def test_module_equals_function(name: str, values: tuple[float, float]) -> None:
    apply, module = SLIDERS[name]
    image = IMAGES[name](2)
    value = torch.tensor(values, dtype=torch.float64)
    torch.testing.assert_close(module()(image, value), apply(image, value))
    torch.testing.assert_close(render(image, {name: value}), apply(image, value))
