"""Tests of the ``rgblevels`` renderer stage (darktable 4.2.1 rgb levels v1): slider ``whites``."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
import torch
from torch import Tensor

from backend.errors import InvalidRecipeError
from backend.render.color import REC2020_LUMINANCE
from backend.render.levels import (
    MIDDLE_GREY,
    WHITE_PER_UNIT,
    apply_whites,
    rgblevels_params,
    whites_to_levels,
)
from backend.sliders.catalog import get_slider, iter_sliders
from testing.dt_sidecar import assert_within_darktable_floor, one_entry_sidecar, render_darktable, synthetic_png
from testing.filter_checks import srgb_gamut_image as _image

#: dt_iop_rgblevels_params_t v1 (44 bytes): autoscale, preserve_colors, float levels[3][3].
RGBLEVELS_FIELDS = ("autoscale", "preserve_colors", "levels")
RGBLEVELS_FORMAT = "<ii9f"


def _pack(params: dict[str, Tensor], i: int = 0) -> bytes:
    levels = params["levels"][i].flatten().tolist()
    return struct.pack(RGBLEVELS_FORMAT, params["autoscale"][i].item(), params["preserve_colors"][i].item(), *levels)


def _darktable_levels(x: Tensor, black: float, grey: float, white: float) -> Tensor:
    """darktable's rgblevels formula per channel, written from its definition (exact power, no LUT)."""
    half = (white - black) / 2
    gamma = 10.0 ** ((grey - (black + half)) / half)
    p = ((x - black) / (white - black)).clamp_min(1e-300)
    return torch.where(x > black, p**gamma, torch.zeros_like(x))


# --- catalog, mapping, params --------------------------------------------------------------------------------


def test_stage_owns_exactly_the_catalog_sliders() -> None:
    assert {spec.name for spec in iter_sliders("rgblevels")} == {"whites"}


def test_mapping_is_the_catalog_note() -> None:
    note = get_slider("whites").darktable.note
    assert "1 - 0.4 * value / 100" in note and "0.1845" in note
    assert abs(WHITE_PER_UNIT * 100 + 0.4) < 1e-15 and MIDDLE_GREY == 0.1845
    white, grey, gamma = whites_to_levels(torch.tensor([-100.0, 0.0, 50.0, 100.0], dtype=torch.float64))
    torch.testing.assert_close(white, torch.tensor([1.4, 1.0, 0.8, 0.6], dtype=torch.float64))
    torch.testing.assert_close((MIDDLE_GREY / white) ** gamma, torch.full((4,), MIDDLE_GREY, dtype=torch.float64))
    # darktable derives gamma from the grey level: 10 ** ((grey - mid) / half) with black 0
    torch.testing.assert_close(10.0 ** ((grey - white / 2) / (white / 2)), gamma)
    assert grey[1].item() == pytest.approx(0.5) and gamma[1].item() == pytest.approx(1.0)


def test_params_fields_and_44_byte_pack() -> None:
    params = rgblevels_params({"whites": torch.tensor([30.0, -100.0])})
    assert tuple(params) == RGBLEVELS_FIELDS
    assert params["autoscale"].tolist() == [0, 0]  # linked channels
    assert params["preserve_colors"].tolist() == [0, 0]  # none: per channel
    assert params["levels"].shape == (2, 3, 3)
    white, grey, _ = whites_to_levels(torch.tensor([30.0, -100.0]))
    for i in range(2):
        for c in range(3):
            assert params["levels"][i, c].tolist() == pytest.approx([0.0, grey[i].item(), white[i].item()])
    blob = _pack(params, 1)
    assert len(blob) == 44
    assert struct.unpack(RGBLEVELS_FORMAT, blob)[2:5] == pytest.approx((0.0, grey[1].item(), 1.4), rel=1e-6)
    assert _pack(rgblevels_params({})) == struct.pack(RGBLEVELS_FORMAT, 0, 0, *([0.0, 0.5, 1.0] * 3))
    with pytest.raises(InvalidRecipeError):
        rgblevels_params({"whites": torch.zeros(2, 2)})


# --- formula ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("whites", [-100.0, -35.0, 40.0, 100.0])
def test_formula_matches_darktable(whites: float) -> None:
    image = torch.cat(
        [_image(1), torch.tensor([-0.3, 0.0, 2.5], dtype=torch.float64).view(1, 3, 1, 1).expand(1, 3, 5, 6)], dim=0
    )
    params = rgblevels_params({"whites": torch.tensor([whites], dtype=torch.float64)})
    black, grey, white = params["levels"][0, 0].tolist()
    out = apply_whites(image, whites)
    torch.testing.assert_close(out, _darktable_levels(image, black, grey, white))
    assert out[1, 0].eq(0).all() and out[1, 1].eq(0).all()  # at or below black -> 0
    assert out[1, 2, 0, 0].item() == pytest.approx((2.5 / white) ** (math.log(0.1845) / math.log(0.1845 / white)))


def test_middle_grey_and_white_point() -> None:
    values = torch.tensor([-100.0, 60.0], dtype=torch.float64)
    white, _, _ = whites_to_levels(values)
    image = torch.stack([torch.tensor([MIDDLE_GREY, white[i].item(), 0.05]) for i in range(2)]).double()
    out = apply_whites(image.view(2, 3, 1, 1), values).view(2, 3)
    torch.testing.assert_close(out[:, 0], torch.full((2,), MIDDLE_GREY, dtype=torch.float64))
    torch.testing.assert_close(out[:, 1], torch.ones(2, dtype=torch.float64))
    assert out[1, 2] < 0.05 < out[0, 2]  # +whites deepens below grey, -whites lifts


# --- brightness (the shared house-style checks are in tests/test_render_stages.py) ----------------------


def test_raising_whites_brightens_highlights_and_the_mean() -> None:
    # Not monotone in mean brightness for every image (tones below middle grey darken), so the catalog says 0.
    assert get_slider("whites").brightening == 0
    grid = torch.linspace(-100.0, 100.0, 9, dtype=torch.float64)
    ramp = torch.linspace(0.0, 1.0, 256, dtype=torch.float64).expand(1, 3, 1, 256)  # uniform in linear light
    weights = torch.as_tensor(REC2020_LUMINANCE).view(1, 3, 1, 1)
    means = torch.stack([(apply_whites(ramp, v.item()) * weights).sum(1).mean() for v in grid])
    assert bool((means.diff() > 0).all())
    above = ramp[..., ramp[0, 0, 0] > MIDDLE_GREY]
    outs = torch.stack([apply_whites(above, v.item()) for v in grid])
    assert bool((outs.diff(dim=0) > 0).all())  # every tone above middle grey rises with whites


# --- darktable-cli ------------------------------------------------------------------------------------------


@pytest.mark.host
def test_matches_darktable_cli(tmp_path: Path) -> None:
    png = tmp_path / "synthetic.png"
    reference = synthetic_png(png)
    values = (-100.0, 50.0, 100.0)
    items = {
        f"case{k}": (
            png,
            one_entry_sidecar(
                "rgblevels", 1, blendop_version=None, params=_pack(rgblevels_params({"whites": torch.tensor([v])}))
            ),
        )
        for k, v in enumerate(values)
    }
    result = render_darktable(items, tmp_path / "dt")
    for k, value in enumerate(values):
        # darktable's 65536-entry LUT adds <= gamma * p**(gamma - 1) / 65536 (< 1e-4 above p = 1e-5)
        assert_within_darktable_floor(apply_whites(reference, value), result.images[f"case{k}"], reference, value)
