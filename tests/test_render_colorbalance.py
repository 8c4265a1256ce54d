"""Tests of the ``colorbalancergb`` renderer stage (darktable 4.2.1 color balance rgb)."""

from __future__ import annotations

import functools
import itertools
import os
import struct
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn.functional import avg_pool2d

from backend.errors import InvalidRecipeError
from backend.render import colorbalance_math as cb
from backend.render.color import (
    REC2020_LUMINANCE,
    REC2020_TO_SRGB,
    SRGB_TO_REC2020,
    apply_matrix,
    rec2020_to_lab,
    srgb_decode,
    srgb_encode,
)
from backend.render.colorbalance import (
    COLORBALANCERGB_FIELDS,
    apply_colorbalancergb_slider,
    apply_colorbalancergb_stage,
    colorbalancergb_params,
)
from backend.sliders.catalog import iter_sliders
from testing.dt_sidecar import one_entry_sidecar
from testing.filter_checks import check_smoke, srgb_gamut_image
from testing.needs import need_program

SLIDERS = ("contrast", "highlights", "shadows", "vibrance", "saturation", "black_and_white")
#: Each slider alone: ``(image, value) -> image``.
APPLY = {name: functools.partial(apply_colorbalancergb_slider, name) for name in SLIDERS}


def _image(n: int = 2, h: int = 6, w: int = 5, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return srgb_gamut_image(n, h, w, seed, dtype)


def _luminance(image: torch.Tensor) -> torch.Tensor:
    weights = torch.as_tensor(REC2020_LUMINANCE, dtype=image.dtype).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1)


def _chroma(image: torch.Tensor) -> torch.Tensor:
    lab = rec2020_to_lab(image)
    return torch.hypot(lab[:, 1], lab[:, 2])


# --- the slider catalog and the params -----------------------------------------------------------------


def test_stage_owns_exactly_the_catalog_sliders() -> None:
    assert {spec.name for spec in iter_sliders("colorbalancergb")} == set(SLIDERS)


def test_params_cover_the_132_byte_v5_struct() -> None:
    names = [name for name, _ in COLORBALANCERGB_FIELDS]
    assert len(names) == 33 and len(set(names)) == 33
    assert names[0] == "shadows_Y" and names[28] == "mask_grey_fulcrum" and names[-1] == "saturation_formula"
    params = colorbalancergb_params({})
    assert list(params) == names
    assert params["saturation_formula"].item() == 1  # DTUCS
    assert params["grey_fulcrum"].item() == pytest.approx(0.1845)
    assert params["mask_grey_fulcrum"].item() == pytest.approx(0.1845)
    assert params["shadows_weight"].item() == params["highlights_weight"].item() == 1.0
    blob = b"".join(struct.pack("<f", float(v)) for v in params.values())
    assert len(blob) == 132


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        ({"contrast": 50.0}, "contrast", 0.25),
        ({"highlights": -100.0}, "highlights_Y", -0.5),
        ({"shadows": 40.0}, "shadows_Y", 0.2),
        ({"vibrance": 60.0, "black_and_white": 50.0}, "vibrance", 0.3),
        ({"saturation": 50.0, "black_and_white": 50.0}, "chroma_global", -0.25),
        ({"saturation": -100.0}, "chroma_global", -1.0),
        ({"black_and_white": 100.0, "saturation": 80.0}, "chroma_global", -1.0),
        ({"black_and_white": 100.0, "vibrance": 80.0}, "vibrance", 0.0),
    ],
)
def test_params_mapping(values: dict[str, float], field: str, expected: float) -> None:
    assert colorbalancergb_params(values)[field].item() == pytest.approx(expected)


def test_params_batch_and_errors() -> None:
    params = colorbalancergb_params({"contrast": torch.tensor([0.0, 100.0]), "saturation": 10.0})
    assert all(t.shape == (2,) for t in params.values())
    assert params["contrast"].tolist() == [0.0, 0.5]
    with pytest.raises(InvalidRecipeError):
        colorbalancergb_params({"exposure": 1.0})
    with pytest.raises(InvalidRecipeError):
        colorbalancergb_params({"contrast": torch.zeros(2), "saturation": torch.zeros(3)})
    with pytest.raises(InvalidRecipeError):
        APPLY["contrast"](_image(n=2), torch.zeros(3))


# --- smoke, cardinality, identity ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SLIDERS)
def test_smoke(name: str) -> None:
    check_smoke(APPLY[name], _image(), 60.0)


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (2, 3, 5, 7), (3, 3, 16, 4)])
def test_cardinality_and_per_image_values(shape: tuple[int, int, int, int]) -> None:
    n = shape[0]
    image = _image(n, shape[2], shape[3], seed=3)
    values = torch.linspace(-80.0, 90.0, n, dtype=torch.float64)
    out = apply_colorbalancergb_stage(image, {"contrast": values, "saturation": -values / 2})
    assert out.shape == shape
    for i in range(n):
        single = apply_colorbalancergb_stage(image[i : i + 1], {"contrast": values[i], "saturation": -values[i] / 2})
        torch.testing.assert_close(out[i : i + 1], single)


def test_float32_matches_float64() -> None:
    image = _image(seed=5)
    values = {"contrast": 40.0, "shadows": 30.0, "highlights": -30.0, "vibrance": 20.0, "saturation": 25.0}
    out64 = apply_colorbalancergb_stage(image, values)
    out32 = apply_colorbalancergb_stage(image.float(), values)
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), out64, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("name", SLIDERS)
def test_identity_is_exact_noop(name: str) -> None:
    image = _image()
    assert APPLY[name](image, 0.0) is image
    assert APPLY[name](image, torch.zeros(2, dtype=torch.float64)) is image
    everything = {n: 0.0 for n in SLIDERS}
    assert apply_colorbalancergb_stage(image, everything) is image


def test_zero_fields_change_only_near_the_gamut_boundary() -> None:
    """darktable's module is not an identity at zero fields: it gamut-maps saturated colours.

    Muted colours pass through (up to darktable's rounded matrix inverses); a saturated sRGB blue
    loses chroma, as darktable 4.2.1 renders it (measured: about 6 dE).
    """
    muted = apply_matrix(torch.tensor([0.5, 0.4, 0.3], dtype=torch.float64).view(1, 3, 1, 1), SRGB_TO_REC2020)
    blue = apply_matrix(torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).view(1, 3, 1, 1), SRGB_TO_REC2020)
    zero = {"contrast": torch.zeros((), dtype=torch.float64, requires_grad=True)}  # forces the full module
    torch.testing.assert_close(apply_colorbalancergb_stage(muted, zero), muted, atol=1e-6, rtol=0)
    assert _chroma(apply_colorbalancergb_stage(blue, zero)).item() < _chroma(blue).item() - 1.0


# --- gradients -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [(s, 37.0) for s in SLIDERS] + [("contrast", -45.0), ("vibrance", -55.0)])
def test_gradcheck(name: str, value: float) -> None:
    image = _image(n=1, h=4, w=4, seed=7).requires_grad_(True)
    v = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda img, val: APPLY[name](img, val), (image, v), eps=1e-6, atol=1e-5, fast_mode=True
    )


def test_gradients_finite_at_degenerate_pixels() -> None:
    """Black, neutral and saturated pixels (guarded branches of darktable's math) give finite gradients."""
    pixels = torch.tensor(
        [[0.0, 0.0, 0.0], [0.18, 0.18, 0.18], [1.0, 1.0, 1.0], [0.9, 0.0, 0.0], [0.0, 0.0, 0.05], [2.0, 0.1, 0.0]],
        dtype=torch.float64,
    )
    image = pixels.T.reshape(1, 3, 2, 3).clone().requires_grad_(True)
    values = {s: torch.tensor(30.0, dtype=torch.float64, requires_grad=True) for s in SLIDERS}
    out = apply_colorbalancergb_stage(image, values)
    assert torch.isfinite(out).all()
    assert out[..., 0, 0].abs().max() == 0.0  # black stays black
    out.sum().backward()
    assert torch.isfinite(image.grad).all()
    assert all(torch.isfinite(v.grad) for v in values.values())


# --- named behaviours ----------------------------------------------------------------------------------

VALUES = (-100.0, -50.0, -10.0, 10.0, 50.0, 100.0)


def _assert_rises_with_the_value(name: str, measure: Callable[[torch.Tensor], torch.Tensor], seed: int) -> None:
    """The mean of ``measure`` over a random 16x16 image rises strictly with slider ``name`` across :data:`VALUES`."""
    image = _image(n=1, h=16, w=16, seed=seed)
    means = [measure(APPLY[name](image, v)).mean().item() for v in VALUES]
    assert all(a < b for a, b in itertools.pairwise(means)), means


@pytest.mark.parametrize("name", ["shadows", "highlights"])
def test_tone_sliders_raise_mean_luminance(name: str) -> None:
    _assert_rises_with_the_value(name, _luminance, seed=11)


def test_shadows_act_on_dark_and_highlights_on_bright_tones() -> None:
    greys = torch.tensor([0.02, 0.9], dtype=torch.float64).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    shadows = APPLY["shadows"](greys, 100.0) / greys
    highlights = APPLY["highlights"](greys, 100.0) / greys
    assert shadows[0, 1, 0, 0] > 1.3 and shadows[0, 1, 0, 1] < 1.1
    assert highlights[0, 1, 0, 1] > 1.3 and highlights[0, 1, 0, 0] < 1.1


def test_contrast_expands_around_middle_grey() -> None:
    greys = torch.tensor([0.03, 0.6], dtype=torch.float64).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    more = APPLY["contrast"](greys, 60.0)
    less = APPLY["contrast"](greys, -60.0)
    assert more[0, 1, 0, 0] < greys[0, 1, 0, 0] < less[0, 1, 0, 0]
    assert more[0, 1, 0, 1] > greys[0, 1, 0, 1] > less[0, 1, 0, 1]


@pytest.mark.parametrize("name", ["saturation", "vibrance"])
def test_colour_sliders_raise_mean_chroma(name: str) -> None:
    _assert_rises_with_the_value(name, _chroma, seed=13)


def test_vibrance_favours_muted_colours() -> None:
    colours = torch.tensor([[0.45, 0.40, 0.35], [0.6, 0.1, 0.05]], dtype=torch.float64)
    image = apply_matrix(colours.T.reshape(1, 3, 1, 2), SRGB_TO_REC2020)
    gain = _chroma(APPLY["vibrance"](image, 60.0)) / _chroma(image)
    assert gain[0, 0, 0] > gain[0, 0, 1] > 1.0


def test_black_and_white_100_is_neutral_at_constant_luminance() -> None:
    image = _image(n=2, h=8, w=8, seed=17)
    out = APPLY["black_and_white"](image, 100.0)
    spread = out.amax(dim=1) - out.amin(dim=1)
    assert spread.max().item() < 1e-5 * (1.0 + out.amax().item())
    # darktable removes chroma in Filmlight Yrg, at constant Yrg luminance
    y_in = cb.lms_to_yrg(cb.rec2020_to_lms(image.unbind(1)))[0]
    y_out = cb.lms_to_yrg(cb.rec2020_to_lms(out.unbind(1)))[0]
    torch.testing.assert_close(y_out, y_in, atol=1e-3, rtol=1e-2)
    assert _chroma(APPLY["black_and_white"](image, 50.0)).mean() < _chroma(image).mean()


def test_commutes_with_4x_downscaling() -> None:
    small = _image(n=2, h=3, w=4, seed=19)
    blocks = small.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)
    values = {"contrast": 35.0, "shadows": -20.0, "highlights": 45.0, "vibrance": 30.0, "saturation": -15.0}
    rendered_then_pooled = avg_pool2d(apply_colorbalancergb_stage(blocks, values), 4)
    pooled_then_rendered = apply_colorbalancergb_stage(avg_pool2d(blocks, 4), values)
    torch.testing.assert_close(rendered_then_pooled, pooled_then_rendered, atol=1e-4, rtol=0)


def test_gamut_lut_is_complete_and_positive() -> None:
    lut = cb.dt_ucs_gamut_lut()
    assert lut.shape == (cb.GAMUT_LUT_SIZE,)
    assert np.isfinite(lut).all() and (lut > 0).all()


# --- fidelity against darktable-cli --------------------------------------------------------------------


def _darktable_cli() -> str:
    return need_program("darktable-cli", "darktable-cli not installed")


def _strip_png(path: Path) -> np.ndarray:
    """A 64x24 16-bit sRGB PNG: grey ramp, saturated and muted hue sweeps, random patches."""
    cv2 = pytest.importorskip("cv2")
    w = 64
    hue = np.linspace(0.0, 360.0, w, endpoint=False, dtype=np.float32)
    rows = [np.repeat(np.linspace(0.0, 1.0, w)[None, :, None], 3, axis=2)]
    for sat, val in ((1.0, 1.0), (0.5, 0.8), (0.8, 0.3), (0.2, 0.6)):
        hsv = np.stack([hue, np.full(w, sat, np.float32), np.full(w, val, np.float32)], -1)[None]
        rows.append(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float64))
    rows.append(np.random.default_rng(1).random((1, w, 3)))
    srgb = np.repeat(np.concatenate(rows, axis=0), 4, axis=0)  # (24, 64, 3)
    img16 = np.round(np.clip(srgb, 0.0, 1.0) * 65535).astype(np.uint16)
    assert cv2.imwrite(str(path), np.ascontiguousarray(img16[..., ::-1]))
    return img16


def _sidecar(params: dict[str, torch.Tensor]) -> str:
    blob = b"".join(
        struct.pack("<i", int(v.item())) if name == "saturation_formula" else struct.pack("<f", float(v.item()))
        for name, v in params.items()
    )
    return one_entry_sidecar("colorbalancergb", 5, blob)


def _lab_of_display(image: torch.Tensor) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour

        encoded = srgb_encode(apply_matrix(image, REC2020_TO_SRGB)).clamp(0.0, 1.0)[0].permute(1, 2, 0).numpy()
        return np.asarray(colour.XYZ_to_Lab(colour.sRGB_to_XYZ(encoded)))


def _delta_e_2000(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour

        return np.asarray(colour.delta_E(a, b, method="CIE 2000"))


@pytest.mark.host
@pytest.mark.parametrize(
    "values",
    [
        {"contrast": 60.0, "shadows": 50.0, "highlights": -40.0, "saturation": 70.0, "vibrance": -40.0},
        {"contrast": -50.0, "shadows": -60.0, "highlights": 80.0, "vibrance": 90.0, "black_and_white": 30.0},
    ],
    ids=["set1", "set2"],
)
def test_matches_darktable_cli(values: dict[str, float], tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    exe = _darktable_cli()
    png = tmp_path / "strip.png"
    img16 = _strip_png(png)
    xmp = tmp_path / "stack.xmp"
    xmp.write_text(_sidecar(colorbalancergb_params(values)))
    out = tmp_path / "out.tif"
    home = tmp_path / "home"
    home.mkdir()
    cmd = [exe, str(png), str(xmp), str(out), "--icc-type", "LIN_REC2020", "--core"]
    cmd += ["--configdir", str(home / "config"), "--cachedir", str(home / "cache")]
    cmd += ["--conf", "plugins/imageio/format/tiff/bpp=32", "--conf", "plugins/imageio/format/tiff/compress=0"]
    env = {**os.environ, "HOME": str(home)}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and out.exists(), done.stderr

    expected = torch.from_numpy(tifffile.imread(out).astype(np.float64)).permute(2, 0, 1)[None]
    encoded = torch.from_numpy(img16.astype(np.float64) / 65535.0).permute(2, 0, 1)[None]
    ours = apply_colorbalancergb_stage(apply_matrix(srgb_decode(encoded), SRGB_TO_REC2020), values)
    assert expected.shape == ours.shape
    diff = (ours - expected).abs()
    assert diff.max().item() < 1e-3, diff.max().item()
    assert diff.mean().item() < 1e-4
    assert _delta_e_2000(_lab_of_display(ours), _lab_of_display(expected)).mean() < 0.02
