"""Tests of the ``exposure`` renderer stage (darktable 4.2.1 exposure v6): sliders ``exposure`` and ``blacks``."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import Tensor

from backend.errors import InvalidRecipeError
from backend.render.color import REC2020_LUMINANCE
from backend.render.exposure import (
    BLACK_PER_UNIT,
    apply_blacks,
    apply_exposure,
    apply_exposure_stage,
    blacks_to_black_level,
    exposure_params,
)
from backend.sliders.catalog import get_slider, iter_sliders
from testing.dt_sidecar import assert_within_darktable_floor, one_entry_sidecar, render_darktable, synthetic_png
from testing.filter_checks import srgb_gamut_image as _image

APPLY: dict[str, Callable[[Tensor, Tensor | float], Tensor]] = {"exposure": apply_exposure, "blacks": apply_blacks}
#: Field order of darktable 4.2's dt_iop_exposure_params_t (v6, 24 bytes) and its struct format.
EXPOSURE_FIELDS = (
    "mode",
    "black",
    "exposure",
    "deflicker_percentile",
    "deflicker_target_level",
    "compensate_exposure_bias",
)
EXPOSURE_FORMAT = "<iffffi"


def _mean_luminance(image: Tensor) -> Tensor:
    weights = torch.as_tensor(REC2020_LUMINANCE, dtype=image.dtype).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1).mean(dim=(1, 2))


def _pack(params: dict[str, Tensor], i: int = 0) -> bytes:
    return struct.pack(EXPOSURE_FORMAT, *(params[name][i].item() for name in EXPOSURE_FIELDS))


# --- catalog, constants, params ------------------------------------------------------------------------


def test_stage_owns_exactly_the_catalog_sliders() -> None:
    assert {spec.name for spec in iter_sliders("exposure")} == set(APPLY)


def test_black_constant_is_the_catalog_mapping() -> None:
    note = get_slider("blacks").darktable.note
    assert "-0.015 * value / 100" in note
    assert abs(BLACK_PER_UNIT * 100 + 0.015) < 1e-15
    levels = blacks_to_black_level(torch.tensor([-100.0, 0.0, 100.0], dtype=torch.float64))
    assert levels.tolist() == pytest.approx([0.015, 0.0, -0.015], abs=1e-15)


def test_params_fields_values_and_24_byte_pack() -> None:
    params = exposure_params({"exposure": torch.tensor([0.7, -1.5]), "blacks": torch.tensor([40.0, -100.0])})
    assert tuple(params) == EXPOSURE_FIELDS
    assert all(t.shape == (2,) for t in params.values())
    assert params["mode"].dtype == torch.int32 and params["compensate_exposure_bias"].dtype == torch.int32
    assert params["exposure"].tolist() == pytest.approx([0.7, -1.5])
    assert params["black"].tolist() == pytest.approx([-0.006, 0.015])
    blob = _pack(params, 1)
    assert len(blob) == 24
    assert struct.unpack(EXPOSURE_FORMAT, blob) == pytest.approx((0, 0.015, -1.5, 50.0, -4.0, 0))


def test_params_defaults_and_scalars() -> None:
    params = exposure_params({})
    assert _pack(params) == struct.pack(EXPOSURE_FORMAT, 0, 0.0, 0.0, 50.0, -4.0, 0)
    params = exposure_params({"exposure": 1.0})
    # darktable-4.2.md §2.2: +1 EV is 00000000 00000000 0000803f 00004842 000080c0 00000000
    assert _pack(params).hex() == "00000000000000000000803f00004842000080c000000000"
    with pytest.raises(InvalidRecipeError):
        exposure_params({"exposure": torch.zeros(2, 2)})


# --- formula -------------------------------------------------------------------------------------------


def test_formula_matches_darktable_v6() -> None:
    image = _image()
    ev, blacks = torch.tensor([0.8, -1.3], dtype=torch.float64), torch.tensor([35.0, -60.0], dtype=torch.float64)
    out = apply_exposure_stage(image, {"exposure": ev, "blacks": blacks})
    for i in range(2):
        black = -0.015 * blacks[i].item() / 100
        white = 2.0 ** -ev[i].item()
        torch.testing.assert_close(out[i], (image[i] - black) / (white - black))
    torch.testing.assert_close(apply_exposure(image, 1.0), 2.0 * image)


def test_no_clamping() -> None:
    image = torch.tensor([-0.2, 0.0, 3.0], dtype=torch.float64).view(1, 3, 1, 1)
    out = apply_exposure(apply_blacks(image, -100.0), 2.0)
    expected = (image - 0.015) / (1.0 - 0.015) * 4.0
    torch.testing.assert_close(out, expected)


# --- brightness (the shared house-style checks are in tests/test_render_stages.py) ----------------------


@pytest.mark.parametrize("name", list(APPLY))
def test_raising_the_value_raises_mean_luminance(name: str) -> None:
    assert get_slider(name).brightening == 1
    image = _image(1, 16, 16)  # values in (0, 1)
    spec = get_slider(name)
    grid = torch.linspace(spec.minimum, spec.maximum, 9, dtype=torch.float64)
    means = torch.stack([_mean_luminance(APPLY[name](image, v.item()))[0] for v in grid])
    assert bool((means.diff() > 0).all())


# --- darktable-cli ------------------------------------------------------------------------------------------


@pytest.mark.host
def test_matches_darktable_cli(tmp_path: Path) -> None:
    png = tmp_path / "synthetic.png"
    reference = synthetic_png(png)
    cases = [("exposure", -1.0), ("exposure", 0.5), ("exposure", 2.0), ("blacks", -100.0), ("blacks", 40.0)]
    cases += [("blacks", 100.0)]
    items = {}
    for k, (name, value) in enumerate(cases):
        blob = _pack(exposure_params({name: torch.tensor([value])}))
        items[f"case{k}"] = (png, one_entry_sidecar("exposure", 6, blob, blendop_version=None))
    result = render_darktable(items, tmp_path / "dt")
    for k, (name, value) in enumerate(cases):
        assert_within_darktable_floor(
            APPLY[name](reference, value), result.images[f"case{k}"], reference, (name, value)
        )
