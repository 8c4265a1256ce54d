"""Tests of the rgbcurve stage (tone_curve, rgb_curves): darktable 4.2.1 rgb curve math."""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn.functional import avg_pool2d

from backend.errors import InvalidRecipeError
from backend.render.color import REC2020_LUMINANCE, SRGB_TO_REC2020, apply_matrix, srgb_decode
from backend.render.curves import (
    RGBCurves,
    ToneCurve,
    _rgbcurve_map,
    apply_rgb_curves,
    apply_rgbcurve_stage,
    apply_tone_curve,
    monotone_hermite,
    rgbcurve_params,
)
from backend.sliders.catalog import CURVE_KNOTS
from testing.dt_sidecar import gz_params
from testing.filter_checks import check_smoke
from testing.needs import need_program

KNOTS = torch.tensor(CURVE_KNOTS, dtype=torch.float64)


def _lin(encoded: list[float]) -> torch.Tensor:
    """Curve y given as sRGB-encoded values (how a photographer draws them) -> linear values."""
    return srgb_decode(torch.tensor(encoded, dtype=torch.float64))


S_CURVE = _lin([0.0, 0.12, 0.28, 0.5, 0.72, 0.88, 1.0])
LIFT = _lin([0.05, 0.22, 0.38, 0.54, 0.69, 0.85, 1.0])
FADE = _lin([0.0, 0.17, 0.33, 0.5, 0.65, 0.78, 0.9])


def _random_monotone(gen: torch.Generator, n: int) -> torch.Tensor:
    """(n, 7) random non-decreasing curves in [0, 1] with random end points."""
    steps = torch.rand(n, 7, generator=gen, dtype=torch.float64) + 0.05
    y = torch.cumsum(steps, dim=1)
    lo = torch.rand(n, 1, generator=gen, dtype=torch.float64) * 0.2
    hi = 0.7 + torch.rand(n, 1, generator=gen, dtype=torch.float64) * 0.3
    return lo + (y - y[:, :1]) / (y[:, -1:] - y[:, :1]) * (hi - lo)


def _luminance(image: torch.Tensor) -> torch.Tensor:
    w = torch.as_tensor(REC2020_LUMINANCE, dtype=image.dtype).view(1, 3, 1, 1)
    return (image * w).sum(dim=1)


# --- smoke and cardinality -----------------------------------------------------------------------------


def test_smoke() -> None:
    check_smoke(apply_tone_curve, torch.rand(2, 3, 5, 6), S_CURVE)


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (2, 3, 5, 7), (4, 3, 16, 9)])
@pytest.mark.parametrize("per_item", [False, True])
def test_cardinality(shape: tuple[int, ...], per_item: bool) -> None:
    image = torch.rand(*shape) * 1.5
    n = shape[0]
    tone = S_CURVE.expand(n, 7) if per_item else S_CURVE
    rgb = torch.stack((S_CURVE, LIFT, FADE)).expand(n, 3, 7) if per_item else torch.stack((S_CURVE, LIFT, FADE))
    assert apply_tone_curve(image, tone).shape == shape
    assert apply_rgb_curves(image, rgb).shape == shape


def test_wrong_value_shape_is_a_typed_error() -> None:
    with pytest.raises(InvalidRecipeError):
        apply_tone_curve(torch.rand(2, 3, 2, 2), torch.zeros(3, 7))
    with pytest.raises(InvalidRecipeError):
        apply_rgb_curves(torch.rand(2, 3, 2, 2), torch.zeros(7))


# --- identity -----------------------------------------------------------------------------------------------


def test_identity_returns_the_input_object() -> None:
    image = torch.randn(2, 3, 4, 4)  # negative values too: darktable would clip them, but no module is written
    assert apply_tone_curve(image, KNOTS.float()) is image
    assert apply_rgb_curves(image, KNOTS.float().expand(3, 7)) is image
    values = {"tone_curve": KNOTS.float().expand(2, 7), "rgb_curves": KNOTS.float().expand(2, 3, 7)}
    assert apply_rgbcurve_stage(image, values) is image
    assert apply_rgbcurve_stage(image, {}) is image


def test_identity_with_gradient_is_exact_and_differentiable() -> None:
    image = torch.randn(2, 3, 4, 4, dtype=torch.float64) * 2
    value = KNOTS.clone().expand(2, 3, 7).clone().requires_grad_(True)
    out = apply_rgb_curves(image, value)
    assert torch.equal(out, image)
    (out * torch.rand_like(out)).sum().backward()
    assert value.grad is not None and torch.isfinite(value.grad).all() and value.grad.abs().sum() > 0


def test_identity_math_is_y_equals_x() -> None:
    x = torch.linspace(0.0, 8.0, 4001, dtype=torch.float64).view(1, 1, 1, -1)
    y = _rgbcurve_map(x, KNOTS.view(1, 1, 1, 1, 7))
    assert (y - x).abs().max() < 1e-6
    y32 = _rgbcurve_map(x.float(), KNOTS.float().view(1, 1, 1, 1, 7))
    assert (y32 - x.float()).abs().max() < 1e-6


def test_mixed_batch_identity_item_is_untouched() -> None:
    image = torch.rand(2, 3, 3, 3)
    value = torch.stack((KNOTS, S_CURVE)).float()
    out = apply_tone_curve(image, value)
    assert torch.equal(out[0], image[0])
    assert not torch.allclose(out[1], image[1])


# --- gradients ------------------------------------------------------------------------------------------------


def _test_pixels(gen: torch.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    """Pixels away from the spline/power-law junction at 1.0 and from 0 (kinks of darktable's curve)."""
    low = 0.02 + 0.9 * torch.rand(shape, generator=gen, dtype=torch.float64)
    high = 1.05 + 2.0 * torch.rand(shape, generator=gen, dtype=torch.float64)
    pick = torch.rand(shape, generator=gen, dtype=torch.float64) < 0.7
    return torch.where(pick, low, high)


def test_gradcheck_tone_curve() -> None:
    gen = torch.Generator().manual_seed(1)
    image = _test_pixels(gen, (1, 3, 2, 3)).requires_grad_(True)
    value = FADE.clone().unsqueeze(0).requires_grad_(True)
    assert torch.autograd.gradcheck(apply_tone_curve, (image, value))


def test_gradcheck_rgb_curves() -> None:
    gen = torch.Generator().manual_seed(2)
    image = _test_pixels(gen, (2, 3, 2, 2)).requires_grad_(True)
    value = _random_monotone(gen, 6).view(2, 3, 7).requires_grad_(True)
    assert torch.autograd.gradcheck(apply_rgb_curves, (image, value))


# --- behaviour ------------------------------------------------------------------------------------------------


def test_spline_interpolates_nodes_and_keeps_flat_runs_flat() -> None:
    y = torch.tensor([0.0, 0.3, 0.3, 0.3, 0.8, 0.95, 1.0], dtype=torch.float64)
    assert torch.allclose(monotone_hermite(KNOTS, KNOTS, y), y, atol=1e-12)
    between = torch.linspace(float(KNOTS[1]), float(KNOTS[3]), 50, dtype=torch.float64)
    assert torch.allclose(monotone_hermite(between, KNOTS, y), torch.full_like(between, 0.3), atol=1e-12)


def test_steep_data_stays_monotone() -> None:
    # a jump between two close knots makes plain central-difference tangents overshoot; the limiter must not
    y = torch.tensor([0.0, 0.01, 0.02, 0.9, 0.91, 0.92, 1.0], dtype=torch.float64)
    x = torch.linspace(0.0, 1.0, 5001, dtype=torch.float64)
    out = monotone_hermite(x, KNOTS, y)
    assert (out.diff() >= -1e-12).all()
    assert out.min() >= -1e-12 and out.max() <= 1.0 + 1e-12


def test_monotone_curves_give_monotone_output_along_a_ramp() -> None:
    gen = torch.Generator().manual_seed(3)
    ramp = torch.linspace(-0.5, 6.0, 3000, dtype=torch.float64).view(1, 1, 1, -1).expand(4, 3, 1, -1)
    out = apply_rgb_curves(ramp, _random_monotone(gen, 12).view(4, 3, 7))
    assert (out.diff(dim=-1) >= -1e-12).all()
    out = apply_tone_curve(ramp, _random_monotone(gen, 4))
    assert (out.diff(dim=-1) >= -1e-12).all()


def test_brighter_curve_raises_mean_luminance() -> None:
    gen = torch.Generator().manual_seed(4)
    image = torch.rand(3, 3, 8, 8, generator=gen, dtype=torch.float64) * 1.4
    darker = _random_monotone(gen, 3)
    brighter = darker + (1.0 - darker) * 0.3  # pointwise higher, still monotone
    low = _luminance(apply_tone_curve(image, darker)).mean(dim=(1, 2))
    high = _luminance(apply_tone_curve(image, brighter)).mean(dim=(1, 2))
    assert (high > low).all()
    assert _luminance(apply_tone_curve(image, LIFT.expand(3, 7))).mean() > _luminance(image).mean()


def test_negative_values_map_to_the_first_node_like_darktable() -> None:
    image = torch.full((1, 3, 1, 2), -0.25, dtype=torch.float64)
    out = apply_tone_curve(image, LIFT)
    assert torch.allclose(out, torch.full_like(out, float(LIFT[0])))


def test_tone_curve_applies_before_rgb_curves() -> None:
    image = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    rgb = torch.stack((S_CURVE, LIFT, FADE))
    both = apply_rgbcurve_stage(image, {"tone_curve": LIFT.unsqueeze(0), "rgb_curves": rgb.unsqueeze(0)})
    assert torch.allclose(both, apply_rgb_curves(apply_tone_curve(image, LIFT), rgb))
    assert not torch.allclose(both, apply_tone_curve(apply_rgb_curves(image, rgb), LIFT))


def test_downscale_commutes_on_constant_blocks() -> None:
    gen = torch.Generator().manual_seed(5)
    small = torch.rand(2, 3, 4, 5, generator=gen) * 1.6
    big = small.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)
    values = {"tone_curve": S_CURVE.float().expand(2, 7), "rgb_curves": torch.stack((LIFT, FADE, S_CURVE)).float()}
    values["rgb_curves"] = values["rgb_curves"].expand(2, 3, 7)
    out_big = avg_pool2d(apply_rgbcurve_stage(big, values), 4)
    assert (out_big - apply_rgbcurve_stage(small, values)).abs().max() < 1e-4


def test_module_equals_function() -> None:
    image = torch.rand(2, 3, 3, 3)
    assert torch.equal(ToneCurve()(image, S_CURVE.float()), apply_tone_curve(image, S_CURVE.float()))
    rgb = torch.stack((S_CURVE, LIFT, FADE)).float()
    assert torch.equal(RGBCurves()(image, rgb), apply_rgb_curves(image, rgb))


# --- darktable parameters ----------------------------------------------------------------------------------------


def test_rgbcurve_params_fields() -> None:
    tone = torch.stack((S_CURVE, LIFT))
    rgb = torch.stack((S_CURVE, LIFT, FADE)).expand(2, 3, 7)
    first, second = rgbcurve_params({"tone_curve": tone, "rgb_curves": rgb})
    assert first["multi_priority"] == 0 and second["multi_priority"] == 1
    assert first["curve_autoscale"] == 0 and second["curve_autoscale"] == 1
    for p in (first, second):
        assert p["compensate_middle_grey"] == 0 and p["preserve_colors"] == 0
        nodes = p["curve_nodes"]
        assert isinstance(nodes, np.ndarray) and nodes.shape == (2, 3, 20, 2) and nodes.dtype == np.float32
        assert np.array_equal(p["curve_type"], np.full((2, 3), 2))
    assert np.array_equal(first["curve_num_nodes"], np.array([[7, 2, 2], [7, 2, 2]]))
    assert np.array_equal(second["curve_num_nodes"], np.full((2, 3), 7))
    nodes = first["curve_nodes"]
    assert np.allclose(nodes[1, 0, :7, 0], CURVE_KNOTS) and np.allclose(nodes[1, 0, :7, 1], LIFT.numpy())
    assert np.array_equal(nodes[0, 1, :2], [[0, 0], [1, 1]]) and not nodes[:, :, 7:].any()
    assert np.allclose(second["curve_nodes"][0, 2, :7, 1], FADE.numpy())
    assert [p["multi_priority"] for p in rgbcurve_params({"rgb_curves": rgb})] == [1]


# --- real darktable ------------------------------------------------------------------------------------------------

#: darktable 4.2.1's V30_JPG pixelpipe order (iop_order_version 3), read from libdarktable.so's v30_jpg_order table.
# fmt: off
V30_JPG_ORDER = (
    "rawprepare", "invert", "temperature", "highlights", "cacorrect", "hotpixels", "rawdenoise", "demosaic",
    "colorin", "denoiseprofile", "bilateral", "rotatepixels", "scalepixels", "lens", "cacorrectrgb", "hazeremoval",
    "ashift", "flip", "clipping", "liquify", "spots", "retouch", "exposure", "mask_manager", "tonemap", "toneequal",
    "crop", "graduatednd", "profile_gamma", "equalizer", "channelmixerrgb", "diffuse", "censorize", "negadoctor",
    "blurs", "nlmeans", "colorchecker", "defringe", "atrous", "lowpass", "highpass", "sharpen", "colortransfer",
    "colormapping", "channelmixer", "basicadj", "colorbalance", "colorbalancergb", "rgbcurve", "rgblevels",
    "basecurve", "filmic", "sigmoid", "filmicrgb", "lut3d", "colisa", "tonecurve", "levels", "shadhi", "zonesystem",
    "globaltonemap", "relight", "bilat", "colorcorrection", "colorcontrast", "velvia", "vibrance", "colorzones",
    "bloom", "colorize", "lowlight", "monochrome", "grain", "soften", "splittoning", "vignette", "colorreconstruct",
    "colorout", "clahe", "finalscale", "overexposed", "rawoverexposed", "dither", "borders", "watermark", "gamma"
)
# fmt: on


def _darktable_cli() -> str:
    return need_program("darktable-cli", "darktable-cli not installed")


def _render_darktable(tmp: Path, png: Path, entries: list[tuple[str, int, bytes, int]], order: str) -> np.ndarray:
    tifffile = pytest.importorskip("tifffile")
    items = "".join(
        f'<rdf:li darktable:num="{i}" darktable:operation="{op}" darktable:enabled="1" '
        f'darktable:modversion="{ver}" darktable:params="{gz_params(blob)}" darktable:multi_name="" '
        f'darktable:multi_priority="{prio}"/>'
        for i, (op, ver, blob, prio) in enumerate(entries)
    )
    (tmp / "stack.xmp").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:darktable="http://darktable.sf.net/" darktable:xmp_version="5" '
        f'darktable:raw_params="0" darktable:auto_presets_applied="1" darktable:history_end="{len(entries)}" '
        f'darktable:iop_order_version="3" darktable:iop_order_list="{order}">'
        "<darktable:masks_history><rdf:Seq/></darktable:masks_history>"
        f"<darktable:history><rdf:Seq>{items}</rdf:Seq></darktable:history>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    out = tmp / "out.tif"
    home = tmp / "home"
    cmd = [
        _darktable_cli(), str(png), str(tmp / "stack.xmp"), str(out), "--icc-type", "LIN_REC2020",
        "--core", "--configdir", str(home / "c"), "--cachedir", str(home / "k"),
        "--conf", "plugins/imageio/format/tiff/bpp=32", "--conf", "plugins/imageio/format/tiff/compress=0",
    ]  # fmt: skip
    run = subprocess.run(cmd, env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0 and out.exists(), run.stdout + run.stderr
    return np.asarray(tifffile.imread(out))[..., :3]


def _fixture_png(path: Path) -> torch.Tensor:
    """64x48 16-bit sRGB PNG: grey ramps and colour patches; returns the decoded linear Rec.2020 image."""
    cv2 = pytest.importorskip("cv2")
    gen = np.random.default_rng(7)
    enc = np.zeros((48, 64, 3))
    enc[:16] = np.linspace(0.0, 1.0, 64)[None, :, None]
    enc[16:] = gen.random((4, 8, 3)).repeat(8, axis=0).repeat(8, axis=1)
    q = np.round(enc * 65535).astype(np.uint16)
    cv2.imwrite(str(path), q[:, :, ::-1])
    encoded = torch.from_numpy(q.astype(np.float64) / 65535).permute(2, 0, 1)[None]
    return apply_matrix(srgb_decode(encoded), SRGB_TO_REC2020)


def _pack_rgbcurve(p: dict[str, object]) -> bytes:
    head = np.asarray(p["curve_nodes"], dtype="<f4")[0].tobytes()
    ints = [*np.asarray(p["curve_num_nodes"])[0], *np.asarray(p["curve_type"])[0]]
    tail = struct.pack("<9i", *ints, p["curve_autoscale"], p["compensate_middle_grey"], p["preserve_colors"])
    return head + tail


@pytest.mark.host
def test_matches_darktable_cli(tmp_path: Path) -> None:
    _darktable_cli()
    image = _fixture_png(tmp_path / "in.png")
    ev = 1.0  # exposure +1 EV first, so the power-law extrapolation above 1 is exercised as well
    values = {"tone_curve": S_CURVE.unsqueeze(0), "rgb_curves": torch.stack((LIFT, KNOTS, FADE)).unsqueeze(0)}
    entries = [("exposure", 6, struct.pack("<iffffi", 0, 0.0, ev, 50.0, -4.0, 0), 0)]
    entries += [("rgbcurve", 1, _pack_rgbcurve(p), int(p["multi_priority"])) for p in rgbcurve_params(values)]
    order = ",".join(f"{op},{i}" for op in V30_JPG_ORDER for i in ((0, 1) if op == "rgbcurve" else (0,)))
    reference = _render_darktable(tmp_path, tmp_path / "in.png", entries, order)
    ours = apply_rgbcurve_stage(image * 2.0**ev, values)[0].permute(1, 2, 0).numpy()
    assert reference.shape == ours.shape and reference.max() > 1.2  # values above 1 reached darktable's curve
    diff = np.abs(reference - ours)
    assert diff.max() < 1e-3 and diff.mean() < 1e-4, (diff.max(), diff.mean())
