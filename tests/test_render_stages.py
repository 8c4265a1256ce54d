"""House-style filter tests (house style §2.6) shared by the per-pixel stages with one number per slider.

The stages ``exposure`` (sliders ``exposure``, ``blacks``), ``channelmixerrgb`` (``temperature``, ``tint``) and
``rgblevels`` (``whites``) are all checked the same way on :func:`~testing.filter_checks.srgb_gamut_image`
images, so the checks are one parametrised test each; every case names its slider and the values it uses.
Each stage's own behaviour (formula, params, darktable-cli match) stays in its ``tests/test_render_<stage>.py``.
"""

from __future__ import annotations

import pytest
import torch

from backend.errors import InvalidRecipeError
from backend.render.exposure import apply_blacks, apply_exposure
from backend.render.levels import apply_whites
from backend.render.pipeline import SliderModule
from backend.render.stages import STAGE_TABLE
from backend.render.white_balance import apply_temperature, apply_tint
from testing.filter_checks import (
    Apply,
    check_commutes_with_4x_downscaling,
    check_gradcheck,
    check_identity,
    check_per_image_values,
    check_smoke,
    check_stage_gradcheck,
    stage_of,
)
from testing.filter_checks import srgb_gamut_image as _image

#: Slider name -> its one-slider function, for the per-pixel stages tested here.
SLIDERS: dict[str, Apply] = {
    "exposure": apply_exposure,
    "blacks": apply_blacks,
    "temperature": apply_temperature,
    "tint": apply_tint,
    "whites": apply_whites,
}


@pytest.mark.parametrize(
    ("name", "value"),
    [("exposure", 0.6), ("blacks", 50.0), ("temperature", 40.0), ("tint", -30.0), ("whites", 45.0)],
)
def test_smoke(name: str, value: float) -> None:
    check_smoke(SLIDERS[name], _image(dtype=torch.float32), value)


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (1, 3, 7, 5), (2, 3, 4, 9), (2, 3, 16, 16)])
@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("exposure", -0.5, 0.9),
        ("blacks", -40.0, 72.0),
        ("temperature", -70.0, 90.0),
        ("tint", -70.0, 90.0),
        ("whites", -80.0, 70.0),
    ],
)
def test_cardinality_and_per_image_values(name: str, low: float, high: float, shape: tuple[int, int, int, int]) -> None:
    values = torch.linspace(low, high, shape[0], dtype=torch.float64)
    check_per_image_values(SLIDERS[name], _image(shape[0], shape[2], shape[3]), values)


@pytest.mark.parametrize(
    ("name", "rtol"), [("exposure", 0), ("blacks", 0), ("temperature", 1e-12), ("tint", 1e-12), ("whites", 1e-12)]
)
def test_identity_returns_the_input(name: str, rtol: float) -> None:
    check_identity(SLIDERS[name], stage_of(name), _image(), rtol=rtol)


@pytest.mark.parametrize("name", ["exposure", "tint", "whites"])
def test_bad_value_shape(name: str) -> None:
    with pytest.raises(InvalidRecipeError):
        SLIDERS[name](_image(2), torch.zeros(3))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("exposure", 0.4),
        ("exposure", -1.7),
        ("blacks", 30.0),
        ("blacks", -70.0),
        ("temperature", 35.0),
        ("temperature", -80.0),
        ("tint", 20.0),
        ("tint", -65.0),
        ("whites", -70.0),
        ("whites", 25.0),
        ("whites", 90.0),
    ],
)
def test_gradcheck(name: str, value: float) -> None:
    check_gradcheck(SLIDERS[name], _image(2, 3, 4), value)


@pytest.mark.parametrize(
    ("stage", "size", "values"),
    [
        ("exposure", (3, 3), {"exposure": 0.3, "blacks": -25.0}),
        ("channelmixerrgb", (2, 3), {"temperature": -15.0, "tint": 12.0}),
    ],
)
def test_gradcheck_both_sliders(stage: str, size: tuple[int, int], values: dict[str, float]) -> None:
    check_stage_gradcheck(STAGE_TABLE[stage].apply, _image(1, *size), values)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("exposure", (0.35, -0.6)),
        ("blacks", (35.0, -60.0)),
        ("temperature", (35.0, -60.0)),
        ("tint", (35.0, -60.0)),
        ("whites", (35.0, -60.0)),
    ],
)
def test_module_equals_function(name: str, values: tuple[float, float]) -> None:
    image = _image()
    value = torch.tensor(values, dtype=torch.float64)
    torch.testing.assert_close(SliderModule(name)(image, value), SLIDERS[name](image, value))


@pytest.mark.parametrize(
    ("name", "value"),
    [("exposure", 1.3), ("blacks", -80.0), ("temperature", 60.0), ("tint", -45.0), ("whites", 70.0)],
)
def test_commutes_with_4x_downscaling(name: str, value: float) -> None:
    check_commutes_with_4x_downscaling(SLIDERS[name], _image(2, 3, 5, seed=3), value)
