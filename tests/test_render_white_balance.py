"""Tests of the white-balance renderer stage (diagonal darktable 4.2.1 channelmixerrgb): ``temperature``, ``tint``."""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from torch import Tensor

from backend.errors import InvalidRecipeError
from backend.render.color import (
    REC2020_LUMINANCE,
    REC2020_TO_XYZ_D50,
    REC2020_TO_XYZ_D65,
    apply_matrix,
)
from backend.render.white_balance import (
    REFERENCE_CCT,
    REFERENCE_DUV,
    TINT_PER_DUV,
    apply_channelmixerrgb_stage,
    apply_temperature,
    apply_tint,
    cct_duv_to_uv,
    channelmixerrgb_params,
    kelvin_tint_after_shift,
    uv_to_rec2020,
    white_balance_gains,
)
from backend.sliders.catalog import get_slider, iter_sliders
from testing.dt_sidecar import (
    DT_ATOL,
    DT_RTOL,
    as_batch,
    assert_within_darktable_floor,
    one_entry_sidecar,
    render_darktable,
    synthetic_png,
)
from testing.filter_checks import srgb_gamut_image as _image

APPLY: dict[str, Callable[[Tensor, Tensor | float], Tensor]] = {"temperature": apply_temperature, "tint": apply_tint}
#: dt_iop_channelmixer_rgb_params_t v3 (160 bytes): (field, struct format) in memory order.
CHANNELMIXERRGB_LAYOUT = (
    ("red", "4f"),
    ("green", "4f"),
    ("blue", "4f"),
    ("saturation", "4f"),
    ("lightness", "4f"),
    ("grey", "4f"),
    ("normalize_R", "i"),
    ("normalize_G", "i"),
    ("normalize_B", "i"),
    ("normalize_sat", "i"),
    ("normalize_light", "i"),
    ("normalize_grey", "i"),
    ("illuminant", "i"),
    ("illum_fluo", "i"),
    ("illum_led", "i"),
    ("adaptation", "i"),
    ("x", "f"),
    ("y", "f"),
    ("temperature", "f"),
    ("gamut", "f"),
    ("clip", "i"),
    ("version", "i"),
)
D65_XY = (0.3127, 0.3290)


def _colour() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # colour warns that matplotlib is missing
        import colour
    return colour


def _pack(params: dict[str, Tensor], i: int = 0) -> bytes:
    blob = b""
    for name, fmt in CHANNELMIXERRGB_LAYOUT:
        value = params[name][i]
        blob += struct.pack("<" + fmt, *(value.tolist() if value.ndim else [value.item()]))
    return blob


def _uv_to_xy(uv: np.ndarray) -> np.ndarray:
    u, v = uv[..., 0], uv[..., 1]
    den = 2 * u - 8 * v + 4
    return np.stack([3 * u / den, 2 * v / den], axis=-1)


def _xy_to_rec2020(xy: np.ndarray) -> np.ndarray:
    x, y = xy
    return np.linalg.solve(REC2020_TO_XYZ_D65, np.array([x / y, 1.0, (1 - x - y) / y]))


# --- the locus model and the reference white ---------------------------------------------------------------


def test_locus_matches_colour_science_ohno2013() -> None:
    colour = _colour()
    cct = np.geomspace(1667.0, 25000.0, 23)
    for duv in (-0.03, -0.01, 0.0, 0.01, 0.03):
        ours = cct_duv_to_uv(torch.from_numpy(cct), torch.full((cct.size,), duv, dtype=torch.float64)).numpy()
        theirs = np.stack([colour.temperature.CCT_to_uv_Ohno2013(np.array([t, duv])) for t in cct])
        # 5 nm vs 1 nm colour-matching functions: measured <= 7.8e-6 over this range
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1.5e-5)
        # Robertson 1968 (Adobe's method) is itself an approximation of the locus: measured <= 1.0e-4
        robertson = np.stack([colour.temperature.CCT_to_uv_Robertson1968(np.array([t, duv])) for t in cct])
        np.testing.assert_allclose(ours, robertson, rtol=0, atol=2e-4)


def test_reference_is_d65_and_agrees_with_colour_and_adobe() -> None:
    colour = _colour()
    uv = cct_duv_to_uv(
        torch.tensor(REFERENCE_CCT, dtype=torch.float64), torch.tensor(REFERENCE_DUV, dtype=torch.float64)
    )
    np.testing.assert_allclose(_uv_to_xy(uv.numpy()), D65_XY, rtol=0, atol=1e-12)
    np.testing.assert_allclose(uv_to_rec2020(uv).numpy(), [1.0, 1.0, 1.0], rtol=0, atol=1e-9)
    d65_uv = colour.xy_to_UCS_uv(np.array(D65_XY))
    cct, duv = colour.temperature.uv_to_CCT_Ohno2013(d65_uv)
    assert abs(REFERENCE_CCT - cct) < 0.1
    assert abs(REFERENCE_DUV - duv) < 2e-6
    # Adobe (Robertson) calls D65 "6504 K, Tint +9.8" (lightroom.md §12.3): Tint = +TINT_PER_DUV * Duv
    cct_r, duv_r = colour.temperature.uv_to_CCT_Robertson1968(d65_uv)
    assert round(cct_r) == 6504 and round(TINT_PER_DUV * duv_r, 1) == 9.8


def test_gains_follow_the_mired_and_duv_definition() -> None:
    colour = _colour()
    reference = _xy_to_rec2020(np.array(D65_XY))
    weights = np.asarray(REC2020_LUMINANCE)
    for temperature, tint in [(-100.0, 0.0), (40.0, 0.0), (100.0, 0.0), (0.0, -100.0), (0.0, 60.0), (70.0, -30.0)]:
        cct = 1e6 / (1e6 / REFERENCE_CCT - temperature)
        uv = colour.temperature.CCT_to_uv_Ohno2013(np.array([cct, REFERENCE_DUV + tint / 3000.0]))
        expected = reference / _xy_to_rec2020(_uv_to_xy(uv))
        expected /= weights @ expected
        ours = white_balance_gains(temperature, tint)[0].numpy()
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=0)


def test_gain_directions_and_grey_luminance() -> None:
    gains = white_balance_gains(torch.tensor([0.0, 50.0, -50.0, 0.0, 0.0]), torch.tensor([0.0, 0.0, 0.0, 50.0, -50.0]))
    assert gains.dtype == torch.float32
    torch.testing.assert_close(gains[0], torch.ones(3))
    r, g, b = gains.unbind(-1)
    assert (r / b)[1] > 1 > (r / b)[2]  # + warmer, - cooler
    assert (g / torch.sqrt(r * b))[3] < 1 < (g / torch.sqrt(r * b))[4]  # + magenta, - green
    luminance = gains.double() @ torch.as_tensor(REC2020_LUMINANCE)
    torch.testing.assert_close(luminance, torch.ones(5, dtype=torch.float64), rtol=0, atol=1e-6)
    assert white_balance_gains(10.0, 5.0).dtype == torch.float64
    with pytest.raises(InvalidRecipeError):
        white_balance_gains(1e6 / REFERENCE_CCT + 1.0, 0.0)


def test_kelvin_tint_after_shift() -> None:
    kelvin, tint = kelvin_tint_after_shift(5000.0, 10.0, 20.0, 5.0)
    assert kelvin == pytest.approx(1e6 / (200.0 - 20.0)) and tint == 15.0
    kelvin, tint = kelvin_tint_after_shift(3000.0, -2.0, -50.0, -30.0)
    assert kelvin == pytest.approx(1e6 / (1e6 / 3000.0 + 50.0)) and tint == -32.0
    assert kelvin_tint_after_shift(30000.0, 140.0, 100.0, 100.0) == (50000.0, 150.0)  # Lightroom's limits
    assert kelvin_tint_after_shift(2100.0, -140.0, -100.0, -100.0) == (2000.0, -150.0)
    assert kelvin_tint_after_shift(5000.0, 3.0, 0.0, 0.0) == (pytest.approx(5000.0), 3.0)
    with pytest.raises(InvalidRecipeError):
        kelvin_tint_after_shift(0.0, 0.0, 0.0, 0.0)


# --- darktable params --------------------------------------------------------------------------------------


def test_params_cover_the_160_byte_v3_struct() -> None:
    params = channelmixerrgb_params({"temperature": torch.tensor([30.0, -80.0]), "tint": torch.tensor([0.0, 45.0])})
    assert tuple(params) == tuple(name for name, _ in CHANNELMIXERRGB_LAYOUT)
    assert len(_pack(params, 1)) == 160
    gains = white_balance_gains(torch.tensor([30.0, -80.0]), torch.tensor([0.0, 45.0]))
    mix = torch.stack((params["red"], params["green"], params["blue"]), dim=1)[..., :3]  # (N, 3, 3)
    torch.testing.assert_close(mix, torch.diag_embed(gains))
    assert params["red"][:, 3].eq(0).all() and params["blue"][:, 3].eq(0).all()
    for name in ("saturation", "lightness", "grey"):
        assert params[name].eq(0).all()  # grey 0 also disables the monochrome path
    for name in ("normalize_R", "normalize_G", "normalize_B", "normalize_sat", "normalize_light", "normalize_grey"):
        assert params[name].tolist() == [0, 0]
    assert params["adaptation"].tolist() == [4, 4]  # DT_ADAPTATION_RGB: bypass
    assert params["illuminant"].tolist() == [0, 0]  # DT_ILLUMINANT_PIPE
    assert params["gamut"].tolist() == [0.0, 0.0] and params["clip"].tolist() == [0, 0]
    assert params["version"].tolist() == [2, 2]  # CHANNELMIXERRGB_V_3


def test_params_identity() -> None:
    params = channelmixerrgb_params({})
    fields = struct.unpack("<24f10i4f2i", _pack(params))
    assert fields[:12] == (1.0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 1.0, 0)
    assert set(fields[12:24]) == {0.0}


# --- stage behaviour (the shared house-style checks are in tests/test_render_stages.py) --------------------


def test_stage_owns_exactly_the_catalog_sliders() -> None:
    assert {spec.name for spec in iter_sliders("channelmixerrgb")} == set(APPLY)


def test_stage_is_a_diagonal_gain_on_in_gamut_pixels() -> None:
    image = _image()
    values = {"temperature": torch.tensor([25.0, -60.0], dtype=torch.float64), "tint": torch.tensor([-10.0, 35.0])}
    out = apply_channelmixerrgb_stage(image, values)
    gains = white_balance_gains(values["temperature"], values["tint"].double())
    torch.testing.assert_close(out, image * gains.view(2, 3, 1, 1))


def test_darktable_gamut_pass_on_out_of_gamut_pixels() -> None:
    xyz_to_rgb = np.linalg.inv(REC2020_TO_XYZ_D50)
    pixels = np.stack(
        [
            xyz_to_rgb @ [0.3, -0.1, 0.4],  # Y < 0: black
            xyz_to_rgb @ [-0.5, 0.1, 0.2],  # X + Y + Z < 0: black
            xyz_to_rgb @ [0.5, 0.4, -0.1],  # Z < 0: Z raised to 0
            [0.2, 0.3, 0.4],  # in gamut: plain gain
        ],
        axis=-1,
    )
    image = torch.from_numpy(pixels).view(1, 3, 1, 4)
    out = apply_temperature(image, 1e-9)  # gains 1 + O(1e-11), but the module runs
    xyz = apply_matrix(out, REC2020_TO_XYZ_D50)[0, :, 0]
    torch.testing.assert_close(out[0, :, 0, :2], torch.zeros(3, 2, dtype=torch.float64))
    torch.testing.assert_close(xyz[:, 2], torch.tensor([0.5, 0.4, 0.0], dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(out[0, :, 0, 3], image[0, :, 0, 3], atol=1e-9, rtol=0)


@pytest.mark.parametrize("name", list(APPLY))
def test_neutral_grey_keeps_its_luminance(name: str) -> None:
    assert get_slider(name).brightening == 0
    grey = torch.full((1, 3, 2, 2), 0.1845, dtype=torch.float64)
    weights = torch.as_tensor(REC2020_LUMINANCE).view(1, 3, 1, 1)
    for value in (-100.0, -30.0, 45.0, 100.0):
        out = APPLY[name](grey, value)
        assert not torch.allclose(out, grey)
        torch.testing.assert_close((out * weights).sum(1), torch.full((1, 2, 2), 0.1845, dtype=torch.float64))


# --- darktable-cli ------------------------------------------------------------------------------------------


@pytest.mark.host
def test_matches_darktable_cli(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    png = tmp_path / "synthetic.png"
    reference = synthetic_png(png)
    cases = [("temperature", -100.0), ("temperature", 30.0), ("temperature", 100.0)]
    cases += [("tint", -100.0), ("tint", 25.0), ("tint", 100.0)]
    items = {}
    for k, (name, value) in enumerate(cases):
        blob = _pack(channelmixerrgb_params({name: torch.tensor([value])}))
        items[f"case{k}"] = (png, one_entry_sidecar("channelmixerrgb", 3, blendop_version=None, params=blob))
    # out-of-gamut pixels (negative components) through a float TIFF, against darktable's own 0 EV render
    tiff = tmp_path / "negative.tif"
    rng = np.random.default_rng(0)
    tifffile.imwrite(tiff, (rng.random((16, 16, 3)) * 1.6 - 0.4).astype(np.float32), photometric="rgb")
    items["tiff_base"] = (
        tiff,
        one_entry_sidecar(
            "exposure", 6, blendop_version=None, params=struct.pack("<iffffi", 0, 0.0, 0.0, 50.0, -4.0, 0)
        ),
    )
    gamut_cases = [("temperature", -60.0), ("tint", 40.0)]
    for k, (name, value) in enumerate(gamut_cases):
        blob = _pack(channelmixerrgb_params({name: torch.tensor([value])}))
        items[f"tiff{k}"] = (tiff, one_entry_sidecar("channelmixerrgb", 3, blendop_version=None, params=blob))
    result = render_darktable(items, tmp_path / "dt")
    base = as_batch(result.images["tiff_base"])
    assert (apply_matrix(base, REC2020_TO_XYZ_D50)[:, 1] <= 0).any()  # the guard has work to do
    for k, (name, value) in enumerate(gamut_cases):
        ours = APPLY[name](base, value)[0].permute(1, 2, 0).numpy()
        err = np.abs(result.images[f"tiff{k}"].astype(np.float64) - ours)
        assert (err <= DT_ATOL + DT_RTOL * np.abs(ours)).all(), (name, value, err.max())
    for k, (name, value) in enumerate(cases):
        assert_within_darktable_floor(
            APPLY[name](reference, value), result.images[f"case{k}"], reference, (name, value)
        )
