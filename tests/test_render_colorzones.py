"""Tests of the colorzones stage (hsl): darktable 4.2.1 color zones, select by hue, smooth mode."""

from __future__ import annotations

import colorsys
import itertools
import math
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn.functional import avg_pool2d

from backend.errors import InvalidRecipeError
from backend.render.color import SRGB_TO_REC2020, apply_matrix, rec2020_to_lab, srgb_decode
from backend.render.colorzones import (
    BAND_HUES,
    HSL,
    HSL_CURVE_TYPE,
    K_HUE,
    K_LUMINANCE,
    apply_colorzones_stage,
    apply_hsl,
    colorzones_params,
)
from backend.sliders.catalog import HSL_COLOURS
from testing.dt_sidecar import gz_params
from testing.filter_checks import check_smoke
from testing.needs import need_program

HUE, SAT, LUM = 0, 1, 2


def _hsl(**bands: tuple[float, float, float]) -> torch.Tensor:
    """(8, 3) hsl value with the named bands set to (hue, saturation, luminance)."""
    value = torch.zeros(len(HSL_COLOURS), 3, dtype=torch.float64)
    for name, triple in bands.items():
        value[HSL_COLOURS.index(name)] = torch.tensor(triple, dtype=torch.float64)
    return value


def _patch(hsv_degrees: float, saturation: float = 0.7, brightness: float = 0.8) -> torch.Tensor:
    """(1, 3, 1, 1) linear Rec.2020 pixel of an sRGB colour given in HSV."""
    rgb = colorsys.hsv_to_rgb(hsv_degrees / 360.0, saturation, brightness)
    encoded = torch.tensor(rgb, dtype=torch.float64).view(1, 3, 1, 1)
    return apply_matrix(srgb_decode(encoded), SRGB_TO_REC2020)


def _lch(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    lab = rec2020_to_lab(image)
    L, a, b = lab.unbind(1)
    return L, torch.hypot(a, b), torch.atan2(b, a)


def _colour_image(gen: torch.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    """Random coloured pixels (chroma well above 0) in linear Rec.2020."""
    encoded = 0.1 + 0.85 * torch.rand(shape, generator=gen, dtype=torch.float64)
    return apply_matrix(srgb_decode(encoded), SRGB_TO_REC2020)


# --- smoke and cardinality -----------------------------------------------------------------------------


def test_smoke() -> None:
    check_smoke(apply_hsl, torch.rand(2, 3, 5, 6), _hsl(Red=(20, 40, -30)).float())


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (2, 3, 5, 7), (3, 3, 16, 9)])
@pytest.mark.parametrize("per_item", [False, True])
def test_cardinality(shape: tuple[int, ...], per_item: bool) -> None:
    value = _hsl(Blue=(10, -20, 30), Green=(-40, 50, 0)).float()
    if per_item:
        value = value.expand(shape[0], 8, 3)
    assert apply_hsl(torch.rand(*shape), value).shape == shape


def test_wrong_value_shape_is_a_typed_error() -> None:
    with pytest.raises(InvalidRecipeError):
        apply_hsl(torch.rand(2, 3, 2, 2), torch.zeros(3, 8, 3))


# --- identity -----------------------------------------------------------------------------------------------


def test_identity_returns_the_input_object() -> None:
    image = torch.randn(2, 3, 4, 4)
    assert apply_hsl(image, torch.zeros(8, 3)) is image
    assert apply_colorzones_stage(image, {"hsl": torch.zeros(2, 8, 3)}) is image
    assert apply_colorzones_stage(image, {}) is image


def test_identity_with_gradient_is_exact_and_differentiable() -> None:
    image = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    value = torch.zeros(2, 8, 3, dtype=torch.float64, requires_grad=True)
    out = apply_hsl(image, value)
    assert torch.equal(out, image)
    (out * torch.rand_like(out)).sum().backward()
    assert value.grad is not None and torch.isfinite(value.grad).all() and value.grad.abs().sum() > 0


def test_identity_math_is_a_no_op() -> None:
    from backend.render.colorzones import _colorzones_map, hsl_curve_nodes

    gen = torch.Generator().manual_seed(0)
    image = _colour_image(gen, (2, 3, 8, 8))
    out = _colorzones_map(image, hsl_curve_nodes(torch.zeros(2, 8, 3, dtype=torch.float64)))
    assert (out - image).abs().max() < 1e-6


def test_mixed_batch_identity_item_is_untouched() -> None:
    image = torch.rand(2, 3, 3, 3, generator=torch.Generator().manual_seed(0))
    image[:, :, 0, 0] = torch.tensor([0.8, 0.1, 0.1]).view(1, 3)  # a red pixel: the Red band has something to move
    out = apply_hsl(image, torch.stack((torch.zeros(8, 3), _hsl(Red=(0, 80, 0)).float())))
    assert torch.equal(out[0], image[0])
    assert not torch.allclose(out[1], image[1])


def test_greys_are_untouched() -> None:
    grey = torch.linspace(0.0, 2.0, 11, dtype=torch.float64).view(1, 1, 1, -1).expand(1, 3, 1, -1)
    out = apply_hsl(grey, _hsl(Red=(90, 90, 90), Aqua=(-90, -90, -90)))
    assert (out - grey).abs().max() < 1e-9


# --- gradients ------------------------------------------------------------------------------------------------


def test_gradcheck_image_and_value() -> None:
    gen = torch.Generator().manual_seed(1)
    image = _colour_image(gen, (2, 3, 2, 3)).requires_grad_(True)
    value = ((torch.rand(2, 8, 3, generator=gen, dtype=torch.float64) - 0.5) * 160).requires_grad_(True)
    assert torch.autograd.gradcheck(apply_hsl, (image, value))


# --- behaviour ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("band", range(8))
def test_band_saturation_raises_that_band_more_than_the_opposite_hue(band: int) -> None:
    hsv = (0.0, 30.0, 60.0, 120.0, 180.0, 240.0, 270.0, 300.0)[band]
    image = torch.cat((_patch(hsv), _patch((hsv + 180.0) % 360.0)), dim=3)
    out = apply_hsl(image, _hsl(**{HSL_COLOURS[band]: (0.0, 80.0, 0.0)}))
    _, c_in, _ = _lch(image)
    _, c_out, _ = _lch(out)
    gain = (c_out / c_in).flatten()
    assert gain[0] > 1.2
    assert gain[0] > gain[1] + 0.2


def test_band_luminance_and_hue_move_that_band() -> None:
    image = _patch(240.0, 0.8, 0.9)  # a blue patch
    L_in, _, h_in = _lch(image)
    L_up, _, _ = _lch(apply_hsl(image, _hsl(Blue=(0, 0, 80))))
    L_down, _, _ = _lch(apply_hsl(image, _hsl(Blue=(0, 0, -80))))
    assert L_up > L_in + 3 and L_down < L_in - 3
    _, _, h_plus = _lch(apply_hsl(image, _hsl(Blue=(80, 0, 0))))
    _, _, h_minus = _lch(apply_hsl(image, _hsl(Blue=(-80, 0, 0))))
    turn = lambda d: torch.remainder(d + math.pi, 2 * math.pi) - math.pi  # noqa: E731
    assert turn(h_plus - h_in) > 0.1 and turn(h_minus - h_in) < -0.1


def test_full_desaturation_of_a_band_reaches_grey_at_its_hue() -> None:
    hue = BAND_HUES[HSL_COLOURS.index("Green")] * 2 * math.pi
    lab = torch.tensor([60.0, 70.0 * math.cos(hue), 70.0 * math.sin(hue)], dtype=torch.float64).view(1, 3, 1, 1)
    from backend.render.color import lab_to_rec2020

    out = apply_hsl(lab_to_rec2020(lab), _hsl(Green=(0, -100, 0)))
    _, chroma, _ = _lch(out)
    assert chroma.max() < 1e-3


def test_downscale_commutes_on_constant_blocks() -> None:
    gen = torch.Generator().manual_seed(2)
    small = _colour_image(gen, (2, 3, 4, 5)).float()
    big = small.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)
    value = _hsl(Red=(30, 40, -20), Aqua=(-40, 60, 30), Magenta=(80, -50, 40)).float().expand(2, 8, 3)
    out_big = avg_pool2d(apply_hsl(big, value), 4)
    assert (out_big - apply_hsl(small, value)).abs().max() < 1e-4


def test_module_equals_function() -> None:
    image = torch.rand(2, 3, 3, 3)
    value = _hsl(Yellow=(10, 20, 30)).float()
    assert torch.equal(HSL()(image, value), apply_hsl(image, value))


# --- darktable parameters ----------------------------------------------------------------------------------------


def test_band_hues_are_sorted_and_separated() -> None:
    assert len(BAND_HUES) == 8
    assert all(0.0 <= h < 1.0 for h in BAND_HUES)
    assert min(b - a for a, b in itertools.pairwise(BAND_HUES)) > 0.0025  # darktable's node spacing


def test_colorzones_params_fields() -> None:
    value = torch.stack((_hsl(Red=(100, -50, 25)), torch.zeros(8, 3, dtype=torch.float64)))
    p = colorzones_params({"hsl": value})
    assert p["channel"] == 2 and p["mode"] == 0 and p["splines_version"] == 1 and p["strength"] == 0.0
    curve = p["curve"]
    assert isinstance(curve, np.ndarray) and curve.shape == (2, 3, 20, 2) and curve.dtype == np.float32
    assert np.array_equal(p["curve_num_nodes"], np.full((2, 3), 8))
    assert np.array_equal(p["curve_type"], np.full((2, 3), HSL_CURVE_TYPE))
    assert np.allclose(curve[:, :, :8, 0], np.asarray(BAND_HUES, dtype=np.float32)) and not curve[:, :, 8:].any()
    assert np.allclose(curve[1, :, :8, 1], 0.5)
    red = HSL_COLOURS.index("Red")
    assert np.isclose(curve[0, 1, red, 1], 0.5 - 50 / 200)  # C curve: saturation
    assert np.isclose(curve[0, 0, red, 1], 0.5 + K_LUMINANCE * 25 / 200)  # L curve: luminance
    assert np.isclose(curve[0, 2, red, 1], 0.5 + K_HUE * 100 / 200)  # h curve: hue


# --- real darktable ------------------------------------------------------------------------------------------------


def _darktable_cli() -> str:
    return need_program("darktable-cli", "darktable-cli not installed")


def _pack_colorzones(p: dict[str, object]) -> bytes:
    curve = np.asarray(p["curve"], dtype="<f4")[0].tobytes()
    ints = [*np.asarray(p["curve_num_nodes"])[0], *np.asarray(p["curve_type"])[0]]
    return (
        struct.pack("<i", p["channel"])
        + curve
        + struct.pack("<6i", *ints)
        + struct.pack("<fii", p["strength"], p["mode"], p["splines_version"])
    )


@pytest.mark.host
def test_matches_darktable_cli(tmp_path: Path) -> None:
    exe = _darktable_cli()
    cv2 = pytest.importorskip("cv2")
    tifffile = pytest.importorskip("tifffile")
    # 64x48 16-bit sRGB PNG: a grey ramp and 32 colour patches around the hue circle
    enc = np.zeros((48, 64, 3))
    enc[:16] = np.linspace(0.0, 1.0, 64)[None, :, None]
    for i in range(32):
        s, v = (1.0, 0.95) if i < 16 else (0.55, 0.7)
        enc[16 + 8 * (i // 8) : 24 + 8 * (i // 8), 8 * (i % 8) : 8 * (i % 8) + 8] = colorsys.hsv_to_rgb(
            i / 16 % 1, s, v
        )
    q = np.round(enc * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "in.png"), q[:, :, ::-1])
    image = apply_matrix(srgb_decode(torch.from_numpy(q / 65535.0).permute(2, 0, 1)[None]), SRGB_TO_REC2020)

    value = _hsl(Red=(30, 40, -20), Aqua=(-40, 60, 30), Magenta=(80, -50, 40))
    blob = _pack_colorzones(colorzones_params({"hsl": value[None]}))
    assert len(blob) == 520
    (tmp_path / "stack.xmp").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:darktable="http://darktable.sf.net/" darktable:xmp_version="5" '
        'darktable:raw_params="0" darktable:auto_presets_applied="1" darktable:history_end="1" '
        'darktable:iop_order_version="3"><darktable:masks_history><rdf:Seq/></darktable:masks_history>'
        '<darktable:history><rdf:Seq><rdf:li darktable:num="0" darktable:operation="colorzones" '
        f'darktable:enabled="1" darktable:modversion="5" darktable:params="{gz_params(blob)}" '
        'darktable:multi_name="" darktable:multi_priority="0"/></rdf:Seq></darktable:history>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    home, out = tmp_path / "home", tmp_path / "out.tif"
    cmd = [
        exe, str(tmp_path / "in.png"), str(tmp_path / "stack.xmp"), str(out), "--icc-type", "LIN_REC2020",
        "--core", "--configdir", str(home / "c"), "--cachedir", str(home / "k"),
        "--conf", "plugins/imageio/format/tiff/bpp=32", "--conf", "plugins/imageio/format/tiff/compress=0",
    ]  # fmt: skip
    run = subprocess.run(cmd, env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0 and out.exists(), run.stdout + run.stderr
    reference = torch.from_numpy(np.asarray(tifffile.imread(out))[..., :3].astype(np.float64)).permute(2, 0, 1)[None]

    ours = apply_hsl(image, value)
    assert (reference - image).abs().max() > 0.05  # the edit is visible in darktable's output
    diff = (reference - ours).abs()
    assert diff.max() < 1e-3 and diff.mean() < 1e-4, (float(diff.max()), float(diff.mean()))
