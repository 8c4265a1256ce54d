"""The renderer's inference fast path equals its differentiable path, stage by stage and for whole recipes.

The fast path runs when no tensor needs a gradient; the reference path runs when the image requires grad
(and grad mode is on). float64: equal to 1e-10. float32: both paths carry float32 rounding of about 1e-5
on these saturated test colours, so the fast path must stay that close to the reference and be at least
as close to the float64 result as the reference is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
import torch
from torch import Tensor

from backend.render import colorbalance, colorbalance_math, curves, pipeline
from backend.render.colorbalance import apply_colorbalancergb_stage
from backend.render.curves import apply_rgb_curves, apply_rgbcurve_stage, apply_tone_curve
from backend.render.exposure import apply_exposure_stage
from backend.render.levels import apply_rgblevels_stage
from backend.render.pipeline import render, render_banded, tune_allocator
from backend.render.white_balance import apply_channelmixerrgb_stage
from backend.sliders.catalog import CURVE_KNOTS

StageFn = Callable[[Tensor, Mapping[str, Tensor]], Tensor]

TONE = [0.0, 0.014, 0.0684, 0.214, 0.4623, 0.742, 1.0]
RGB_CURVES = [[0.0, 0.03, 0.1, 0.23, 0.42, 0.68, 1.0], TONE, [0.02, 0.01, 0.05, 0.15, 0.35, 0.7, 0.9]]


def _photo(n: int = 1, h: int = 48, w: int = 64, seed: int = 0) -> Tensor:
    """float64 linear Rec.2020 test image: saturated colours, greys, black, negatives and values above 1."""
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 3, h, w, generator=g, dtype=torch.float64) ** 3 * 1.6
    image[..., : h // 8, :] = image[..., : h // 8, :].mean(1, keepdim=True)  # neutral greys
    image[..., h // 8 : h // 6, :] = 0.0  # black
    image[..., h // 6 : h // 4, :] -= 0.04  # slightly negative channels
    return image


def _reference(fn: StageFn, image: Tensor, values: Mapping[str, Tensor]) -> Tensor:
    return fn(image.clone().requires_grad_(True), values).detach()


def _fast(fn: StageFn, image: Tensor, values: Mapping[str, Tensor]) -> Tensor:
    before = image.clone()
    with torch.no_grad():
        out = fn(image, values)
    assert torch.equal(image, before), "the fast path must not modify its input"
    return out


def _check(fast32: Tensor, ref32: Tensor, fast64: Tensor, ref64: Tensor, *, atol32: float) -> None:
    torch.testing.assert_close(fast64, ref64, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fast32, ref32, rtol=atol32, atol=atol32)
    fast_error = float((fast32.double() - ref64).abs().max())
    ref_error = float((ref32.double() - ref64).abs().max())
    assert fast_error <= 1.5 * ref_error + 1e-6, (fast_error, ref_error)


STAGE_CASES: list[tuple[str, StageFn, dict[str, object]]] = [
    ("exposure", apply_exposure_stage, {"exposure": 0.7, "blacks": -40.0}),
    ("white balance", apply_channelmixerrgb_stage, {"temperature": 35.0, "tint": -20.0}),
    ("white balance cool", apply_channelmixerrgb_stage, {"temperature": -60.0}),
    ("whites", apply_rgblevels_stage, {"whites": 45.0}),
    ("typical colour balance", apply_colorbalancergb_stage, {"contrast": 20, "shadows": 25, "highlights": -30}),
    ("vibrance", apply_colorbalancergb_stage, {"vibrance": 20.0}),
    ("saturation and vibrance", apply_colorbalancergb_stage, {"saturation": 60.0, "vibrance": -40.0}),
    ("black and white", apply_colorbalancergb_stage, {"black_and_white": 70.0, "contrast": -35.0}),
    (
        "colour balance extremes",
        apply_colorbalancergb_stage,
        {"contrast": -100, "shadows": -100, "highlights": 100, "vibrance": 100, "saturation": 100},
    ),
    ("tone curve", apply_rgbcurve_stage, {"tone_curve": TONE}),
    ("rgb curves", apply_rgbcurve_stage, {"rgb_curves": RGB_CURVES}),
]


@pytest.mark.parametrize(("fn", "values"), [c[1:] for c in STAGE_CASES], ids=[c[0] for c in STAGE_CASES])
def test_stage_fast_path_equals_reference(fn: StageFn, values: dict[str, object]) -> None:
    image = _photo(n=2)
    results = {}
    for dtype in (torch.float32, torch.float64):
        v = {k: torch.as_tensor(x, dtype=dtype).expand(2, *torch.as_tensor(x).shape) for k, x in values.items()}
        results[dtype] = (_fast(fn, image.to(dtype), v), _reference(fn, image.to(dtype), v))
    (fast32, ref32), (fast64, ref64) = results[torch.float32], results[torch.float64]
    assert (fast64 - image).abs().max() > 1e-3  # the stage does something here
    _check(fast32, ref32, fast64, ref64, atol32=3e-5)


@pytest.mark.parametrize("dense", [0.0, 1.01], ids=["whole chunk", "gathered pixels"])
def test_both_ways_of_running_the_ucs_step(monkeypatch: pytest.MonkeyPatch, dense: float) -> None:
    monkeypatch.setattr(colorbalance, "_FAST_DENSE_FRACTION", dense)
    image = _photo(seed=2)
    values = {"contrast": torch.tensor([25.0]), "vibrance": torch.tensor([60.0], dtype=torch.float64)}
    ref = _reference(apply_colorbalancergb_stage, image, values)
    torch.testing.assert_close(_fast(apply_colorbalancergb_stage, image, values), ref, rtol=1e-10, atol=1e-10)


def test_per_image_values_in_a_batch() -> None:
    image = _photo(n=3, h=24, w=32, seed=1)
    values = {
        "contrast": torch.tensor([30.0, 0.0, -50.0]),
        "vibrance": torch.tensor([0.0, 45.0, -20.0]),
        "shadows": torch.tensor([10.0, 0.0, 0.0]),
    }
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 3e-5)):
        v = {k: t.to(dtype) for k, t in values.items()}
        x = image.to(dtype)
        fast = _fast(apply_colorbalancergb_stage, x, v)
        torch.testing.assert_close(fast, _reference(apply_colorbalancergb_stage, x, v), rtol=tol, atol=tol)
        for i in range(3):  # each item as if rendered alone
            alone = _fast(apply_colorbalancergb_stage, x[i : i + 1], {k: t[i : i + 1] for k, t in v.items()})
            torch.testing.assert_close(fast[i : i + 1], alone, rtol=0, atol=0)
    curves_v = torch.tensor([TONE, list(CURVE_KNOTS), [0.05, 0.03, 0.1, 0.3, 0.5, 0.8, 0.95]])
    fast = _fast(apply_rgbcurve_stage, image.float(), {"tone_curve": curves_v.float()})
    ref = _reference(apply_rgbcurve_stage, image.float(), {"tone_curve": curves_v.float()})
    torch.testing.assert_close(fast, ref, rtol=1e-6, atol=1e-6)
    assert torch.equal(fast[1], image.float()[1])  # the identity item is untouched


def test_curve_table_matches_the_spline_inside_below_and_above() -> None:
    x = torch.linspace(-0.3, 3.0, 20001, dtype=torch.float32).view(1, 1, 1, -1).expand(1, 3, 1, -1).contiguous()
    for value in (torch.tensor(TONE), torch.tensor([0.1, 0.12, 0.2, 0.3, 0.5, 0.7, 0.85])):
        fast = _fast(apply_rgbcurve_stage, x, {"tone_curve": value.view(1, 7)})
        ref = _reference(apply_rgbcurve_stage, x, {"tone_curve": value.view(1, 7)})
        torch.testing.assert_close(fast, ref, rtol=1e-6, atol=1e-6)
        assert (fast[..., x[0, 0, 0] < 0] == float(value[0])).all()  # below 0: the first node's y


def test_colorbalance_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    image = _photo().float()
    values = {"contrast": torch.tensor([20.0])}
    reference = colorbalance._process

    def no_reference(*args: object) -> Tensor:
        raise AssertionError("reference path taken without a gradient")

    monkeypatch.setattr(colorbalance, "_process", no_reference)
    apply_colorbalancergb_stage(image, values)  # grad mode on, but nothing requires grad
    with torch.inference_mode():
        apply_colorbalancergb_stage(image, values)
    monkeypatch.setattr(colorbalance, "_process", reference)
    out = apply_colorbalancergb_stage(image.requires_grad_(True), values)
    assert out.requires_grad


def test_ucs_flags_are_conservative() -> None:
    """Every pixel the fast path leaves out is one the reference UCS step maps to itself."""
    g = torch.Generator().manual_seed(3)
    rgb = torch.rand(3, 20000, generator=g, dtype=torch.float64) ** 4 * 2.0
    rgb[:, ::2] = 0.3 * rgb[:, ::2] + 0.7 * rgb[:, ::2].mean(0)  # half of them muted
    xyz = colorbalance_math.lms_to_xyz(colorbalance_math.rec2020_to_lms(tuple(rgb)))
    total = xyz[0] + xyz[1] + xyz[2]
    x, y = xyz[0] / total, xyz[1] / total
    ux, uy, off = colorbalance_math._UCS_X, colorbalance_math._UCS_Y, colorbalance_math._UCS_OFFSET  # xy -> uv
    d = ux[2] * x + uy[2] * y + off[2]
    u = (ux[0] * x + uy[0] * y + off[0]) / d
    v = (ux[1] * x + uy[1] * y + off[1]) / d
    floor = colorbalance_math.fast_gamut_tables(torch.float64, torch.device("cpu"))[2]
    distance = colorbalance_math.fast_ucs_flags(u, v, xyz[1], floor, 0.5, 0.8)[0]
    kept = distance >= 0
    assert 0.2 < float(kept.double().mean()) < 0.95  # both kinds of pixels are present
    mapped = colorbalance._dt_ucs_saturation_and_gamut(xyz)
    for a, b in zip(mapped, xyz, strict=True):
        torch.testing.assert_close(a[kept], b[kept], rtol=1e-12, atol=1e-14)
        assert (a[~kept] - b[~kept]).abs().max() > 1e-3  # and the flagged ones include clipped colours


def test_recipe_fast_path_equals_reference() -> None:
    settings = {
        "exposure": 0.4,
        "blacks": 15.0,
        "temperature": 10.0,
        "contrast": 20.0,
        "shadows": 25.0,
        "highlights": -30.0,
        "vibrance": 20.0,
        "tone_curve": TONE,
        "rgb_curves": RGB_CURVES,
        "whites": -25.0,
    }
    image = _photo(n=2, seed=5)
    results = {}
    for dtype in (torch.float32, torch.float64):
        x = image.to(dtype)
        with torch.inference_mode():
            fast = render(x, settings)
        results[dtype] = (fast, render(x.clone().requires_grad_(True), settings).detach())
    (fast32, ref32), (fast64, ref64) = results[torch.float32], results[torch.float64]
    _check(fast32, ref32, fast64, ref64, atol32=5e-5)


def test_bands_and_workers_do_not_change_the_result() -> None:
    settings = {"exposure": 0.4, "contrast": 20.0, "vibrance": 30.0, "tone_curve": TONE, "vignette": -20.0}
    image = _photo(n=2, h=40, w=30, seed=7)
    with torch.no_grad():
        whole64 = render(image, settings, band_pixels=10**9)
        torch.testing.assert_close(render_banded(image, settings, band_pixels=30), whole64, rtol=1e-12, atol=1e-12)
        image = image.float()
        whole = render(image, settings, band_pixels=10**9)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # each worker runs single-threaded ops: compare with the same kernels
        try:
            single = {band: render_banded(image, settings, band_pixels=band) for band in (30, 90, 200)}
        finally:
            torch.set_num_threads(threads)
        for band, one in single.items():  # float32: equal up to rounding (vectorised vs. scalar kernel tails)
            torch.testing.assert_close(one, whole, rtol=1e-5, atol=1e-5)
            for workers in (2, 3):  # the same bands on threads: the very same numbers
                assert torch.equal(render_banded(image, settings, band_pixels=band, workers=workers), one)
        copy = image.clone()
        out = render(copy, settings, band_pixels=90, inplace=True, workers=2)
        assert torch.get_num_threads() == threads
        assert torch.equal(out, single[90])
    with torch.inference_mode():  # the workers take the caller's inference mode (in-place writes need it)
        out = render_banded(image.clone(), settings, band_pixels=90, inplace=True, workers=2)
    assert torch.equal(out, single[90])


def test_identity_is_compared_in_the_values_own_dtype() -> None:
    image = _photo()
    knots32 = torch.tensor(CURVE_KNOTS, dtype=torch.float32)
    assert not torch.equal(knots32.double(), torch.tensor(CURVE_KNOTS, dtype=torch.float64))  # the trap
    assert render(image, {"tone_curve": knots32}) is image
    assert apply_tone_curve(image, knots32) is image
    assert apply_rgb_curves(image, knots32.expand(3, -1)) is image
    per_item = torch.stack((knots32, torch.tensor(TONE, dtype=torch.float32)))
    out = render(image.expand(2, -1, -1, -1), {"tone_curve": per_item})
    assert torch.equal(out[0], image[0]) and not torch.equal(out[1], image[0])


def test_curve_tables_are_reused() -> None:
    curves._curve_table.cache_clear()
    image = _photo(h=256, w=512).float()
    with torch.no_grad():
        render(image, {"tone_curve": TONE, "rgb_curves": RGB_CURVES}, band_pixels=curves.LUT_SIZE)
    info = curves._curve_table.cache_info()
    assert info.misses == 3 and info.hits > 0  # built once per distinct curve (TONE twice), not per band


def test_small_images_skip_the_tables() -> None:
    """A table costs LUT_SIZE spline evaluations: thumbnails (fewer pixels) evaluate the spline directly."""
    curves._curve_table.cache_clear()
    image = _photo(n=4).float()
    with torch.no_grad():
        fast = render(image, {"tone_curve": TONE, "rgb_curves": RGB_CURVES})
    assert curves._curve_table.cache_info().misses == 0
    reference = render(image.double(), {"tone_curve": TONE, "rgb_curves": RGB_CURVES})
    assert torch.allclose(fast.double(), reference, atol=1e-5)


def test_tune_allocator_is_idempotent() -> None:
    first = tune_allocator()
    assert tune_allocator() == first
    assert pipeline.tune_allocator is tune_allocator
