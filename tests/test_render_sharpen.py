"""Tests of the ``sharpen`` renderer stage (darktable 4.2.1 sharpen v1, catalog mapping)."""

from __future__ import annotations

import functools
import math
import struct
from pathlib import Path

import pytest
import torch
from torch.nn.functional import avg_pool2d

from backend.render.color import rec2020_to_lab
from backend.render.sharpen import (
    apply_sharpen,
    sharpen_kernel_radius,
    sharpen_lab_lightness,
    sharpen_params,
)
from backend.sliders.catalog import iter_sliders
from testing.detail import lightness_detail
from testing.dt_sidecar import as_batch, assert_close_to_darktable, edges_png, one_entry_sidecar, render_darktable
from testing.filter_checks import pixel_centres
from testing.spatial_images import sharpen_strip as _strip
from testing.spatial_images import spatial_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")
_image = functools.partial(spatial_image, "sharpen")


def _detail(image: torch.Tensor, radius: float) -> torch.Tensor:
    """``L - blur(L)`` on the pixels darktable sharpens."""
    return lightness_detail(image, radius, sharpen_kernel_radius(radius))


# --- catalog and params -----------------------------------------------------------------------------------


def test_stage_owns_exactly_the_catalog_slider() -> None:
    assert [spec.name for spec in iter_sliders("sharpen")] == ["sharpen"]


def test_params() -> None:
    params = sharpen_params({"sharpen": torch.tensor([0.0, 50.0, 100.0])}, 4000)
    assert set(params) == {"radius", "amount", "threshold"}
    torch.testing.assert_close(params["amount"], torch.tensor([0.0, 1.0, 2.0]))
    torch.testing.assert_close(params["radius"], torch.full((3,), 2.0))  # 0.0005 x 4000 px
    torch.testing.assert_close(params["threshold"], torch.full((3,), 0.5))
    assert float(sharpen_params({}, 6000)["amount"]) == 0.0
    assert float(sharpen_params({}, 6000)["radius"]) == pytest.approx(3.0)


def test_kernel_radius_follows_darktable() -> None:
    assert sharpen_kernel_radius(2.0) == 5  # ceil(2.5 r)
    assert sharpen_kernel_radius(0.064) == 1
    assert sharpen_kernel_radius(4.8) == 12
    assert sharpen_kernel_radius(50.0) == 12  # darktable's MAXR
    assert sharpen_kernel_radius(0.0) == 0


# --- behaviour (the shared house-style checks are in tests/test_render_spatial_stages.py) --------------------


def test_smoke() -> None:
    image = _strip(dtype=torch.float32)
    out = apply_sharpen(image, 60.0)
    assert out.shape == image.shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert not torch.equal(out, image)


def test_only_sharpens_lightness_above_threshold_away_from_borders() -> None:
    image = _image(h=24, w=30)
    radius, rad = 1.5, sharpen_kernel_radius(1.5)
    out = sharpen_lab_lightness(image, 1.5, radius, threshold=0.5)
    changed = (out != image).any(dim=1)[0]
    detail = _detail(image, radius)[0, 0]
    inner = changed[rad:-rad, rad:-rad]
    assert torch.equal(inner, detail.abs() > 0.5)  # bit-identical wherever darktable copies the pixel
    assert inner.any() and not inner.all()
    border = torch.ones_like(changed)
    border[rad:-rad, rad:-rad] = False
    assert not changed[border].any()
    lab_in, lab_out = rec2020_to_lab(image), rec2020_to_lab(out)
    torch.testing.assert_close(lab_out[:, 1:], lab_in[:, 1:], atol=1e-9, rtol=0)  # a, b unchanged
    expected_l = lab_in[:, 0, rad:-rad, rad:-rad] + 1.5 * (detail - detail.clamp(-0.5, 0.5))
    torch.testing.assert_close(lab_out[:, 0, rad:-rad, rad:-rad], expected_l[0][None], atol=1e-9, rtol=0)


def test_raises_local_contrast_at_an_edge() -> None:
    x = torch.linspace(-1.0, 1.0, 40, dtype=torch.float64)
    row = 0.1 + 0.3 * torch.sigmoid(x * 20)
    image = row.view(1, 1, 1, -1).expand(1, 3, 16, 40).clone()
    out = sharpen_lab_lightness(image, 2.0, 2.0)
    assert out.max() > image.max() and out.min() < image.min()  # overshoot on both sides of the edge


def test_small_images_fade_to_no_sharpening() -> None:
    # below ~2000 px the catalog radius is sub-pixel: the kernel is a delta and nothing crosses the threshold
    image = _image(h=96, w=128)
    assert torch.equal(apply_sharpen(image, 100.0), image)
    assert sharpen_lab_lightness(image, 2.0, 1e-9) is image
    tiny = image[..., :4, :4]
    assert sharpen_lab_lightness(tiny, 2.0, 2.0) is tiny  # smaller than the kernel


def test_gradcheck_image_and_amount() -> None:
    image = _image(h=12, w=14, seed=4)
    margin = ((_detail(image, 1.0).abs() - 0.5).abs()).min().item()
    assert margin > 1e-3  # away from the threshold kink
    image.requires_grad_(True)
    amount = torch.tensor([1.3], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, a: sharpen_lab_lightness(x, a, 1.0), (image, amount), fast_mode=True)


def test_gradcheck_slider_value() -> None:
    image = _strip(h=7, seed=5)
    value = torch.tensor([60.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: apply_sharpen(image, v), (value,), fast_mode=True)


def _smooth(h: int, w: int) -> torch.Tensor:
    yy, xx = pixel_centres(h, w)
    v = 0.2 + 0.3 * torch.sigmoid((xx - 0.5) * 30) + 0.15 * torch.sin(2 * math.pi * 3 * yy) ** 2
    return torch.stack((v, 0.9 * v, 0.8 * v))[None]


def test_resolution_independence() -> None:
    big = _smooth(192, 256)
    small = avg_pool2d(big, 4)
    # the stage at preview sizes: radii of 0.032 px and 0.128 px -> no change at either size
    assert torch.equal(apply_sharpen(small, 100.0), small)
    assert torch.equal(avg_pool2d(apply_sharpen(big, 100.0), 4), avg_pool2d(big, 4))
    # the kernel itself scales with the image: radius 1 px on the small image ~ 4 px on the big one
    # (threshold 0 so that the comparison is linear). The small image's 7-tap kernel samples a Gaussian
    # of sigma 1 px coarsely, the big one's 21 taps finely: measured 4 % of the effect, allowed 10 %.
    ours_small = sharpen_lab_lightness(small, 2.0, 1.0, threshold=0.0)
    ours_big_pooled = avg_pool2d(sharpen_lab_lightness(big, 2.0, 4.0, threshold=0.0), 4)
    inner = (..., slice(3, -3), slice(3, -3))
    diff = (ours_small - ours_big_pooled)[inner].abs()
    effect = (ours_small - small)[inner].abs()
    assert diff.mean() < 0.1 * effect.mean()
    assert diff.max() < 0.15 * effect.max()


# --- fidelity against darktable-cli ---------------------------------------------------------------------------


def _sidecar(params: dict[str, torch.Tensor]) -> str:
    blob = struct.pack("<fff", *(float(params[k].reshape(-1)[0]) for k in ("radius", "amount", "threshold")))
    return one_entry_sidecar("sharpen", 1, blob)


@pytest.mark.host
def test_matches_darktable_cli(tmp_path: Path) -> None:
    png = tmp_path / "edges.png"
    linear = edges_png(png, 96, 128, (1.0, 0.9, 0.8), seed=0)
    # the 128 px chart stands for a crop of a 4000 px photo (radius 2 px, kernel half width 5), and, at its
    # own size, radius 0.064 px: a no-op in darktable as in the renderer
    cases = {"s50": (50.0, 4000), "s100": (100.0, 4000), "own_size": (100.0, 128)}
    items = {
        name: (png, _sidecar(sharpen_params({"sharpen": torch.tensor([v])}, long_side)))
        for name, (v, long_side) in cases.items()
    }
    result = render_darktable(items, tmp_path / "dt")
    for name, (value, long_side) in cases.items():
        expected = as_batch(result.images[name])
        params = sharpen_params({"sharpen": torch.tensor([value], dtype=torch.float64)}, long_side)
        ours = sharpen_lab_lightness(linear, params["amount"], float(params["radius"][0]))
        if long_side == 128:
            assert torch.equal(ours, linear)  # what apply_sharpen does at this size
        # float32 in darktable and its own sRGB decoding: measured max 9e-5, mean 5e-6, mean CIEDE2000 0.001,
        # against a sharpening effect of 0.02..0.04 mean absolute
        assert_close_to_darktable(ours, expected, name, max_abs=5e-4, mean_abs=3e-5, mean_de=0.01)
        if long_side == 4000:
            assert (expected - linear).abs().mean().item() > 0.01  # darktable really sharpened
