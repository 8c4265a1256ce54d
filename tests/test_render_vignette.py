"""Tests of the ``vignette`` renderer stage (darktable 4.2.1 vignette v4, catalog mapping)."""

from __future__ import annotations

import functools
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn.functional import avg_pool2d

from backend.render.vignette import (
    VIGNETTE_FIXED_FIELDS,
    apply_vignette,
    vignette_params,
    vignette_weight,
)
from backend.sliders.catalog import iter_sliders
from testing.dt_sidecar import as_batch, assert_close_to_darktable, one_entry_sidecar, render_darktable, write_png16
from testing.filter_checks import pixel_centres
from testing.spatial_images import spatial_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")
_image = functools.partial(spatial_image, "vignette")


def _smooth(h: int, w: int) -> torch.Tensor:
    """Smooth colour content defined on relative coordinates (pixel centres), ``(1, 3, h, w)`` float64."""
    yy, xx = pixel_centres(h, w)
    r = 0.3 + 0.15 * torch.sin(2 * math.pi * xx) * torch.cos(2 * math.pi * yy)
    return torch.stack((r, 0.9 * r + 0.05 * yy, 0.7 * r + 0.1 * xx))[None]


# --- catalog and params -----------------------------------------------------------------------------------


def test_stage_owns_exactly_the_catalog_slider() -> None:
    assert [spec.name for spec in iter_sliders("vignette")] == ["vignette"]


def test_params_are_the_complete_v4_struct() -> None:
    params = vignette_params({"vignette": torch.tensor([-100.0, -40.0, 0.0, 70.0])}, 4000)
    expected_names = {"brightness", *VIGNETTE_FIXED_FIELDS}
    assert set(params) == expected_names and len(expected_names) == 11
    torch.testing.assert_close(params["brightness"], torch.tensor([-1.0, -0.4, 0.0, 0.7]))
    assert params["scale"].eq(80).all() and params["falloff_scale"].eq(50).all()
    assert params["saturation"].eq(0).all() and params["dithering"].eq(0).all() and params["unbound"].eq(1).all()
    assert params["whratio"].eq(1).all() and params["shape"].eq(1).all() and params["autoratio"].eq(0).all()
    assert float(vignette_params({}, 4000)["brightness"]) == 0.0


# --- the darktable weight ------------------------------------------------------------------------------------


def test_weight_follows_darktables_geometry() -> None:
    # 128 x 96: both axes scaled by 2 / 128 around (64, 48); inner radius 0.8, fall-off width 0.5.
    w = vignette_weight(96, 128, dtype=torch.float64)
    assert w[48, 64] == 0.0
    assert w[0, 0].item() == pytest.approx((math.hypot(1.0, 0.75) - 0.8) / 0.5)  # 0.9
    assert w[48, 0].item() == pytest.approx((1.0 - 0.8) / 0.5)  # long-side edge: 0.4
    assert w[0, 64].item() == 0.0  # short-side edge at 0.75 < 0.8
    assert bool(((w >= 0) & (w <= 1)).all())
    # portrait: the same numbers transposed (normalisation by the longest side)
    wp = vignette_weight(128, 96, dtype=torch.float64)
    assert wp[0, 0].item() == pytest.approx(w[0, 0].item())
    assert wp[0, 48].item() == pytest.approx(w[48, 0].item())


def test_weight_ratio_shape_and_autoratio() -> None:
    base = 2.0 / 128
    narrow = vignette_weight(96, 128, whratio=0.5, dtype=torch.float64)  # x stretched by 2
    assert narrow[48, 0].item() == pytest.approx(1.0)  # x distance 2 -> clamped
    assert narrow[48, 30].item() == pytest.approx((34 * base * 2 - 0.8) / 0.5)
    diamond = vignette_weight(96, 128, shape=2.0, dtype=torch.float64)  # |x| + |y|
    assert diamond[20, 30].item() == pytest.approx(((34 + 28) * base - 0.8) / 0.5)
    auto = vignette_weight(96, 128, autoratio=True, dtype=torch.float64)  # x by 2/W, y by 2/H
    assert auto[0, 64].item() == pytest.approx((1.0 - 0.8) / 0.5)


# --- behaviour (the shared house-style checks are in tests/test_render_spatial_stages.py) --------------------


def test_smoke() -> None:
    image = _image(dtype=torch.float32)
    out = apply_vignette(image, -60.0)
    assert out.shape == image.shape and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_negative_darkens_corners_more_than_centre() -> None:
    image = torch.full((1, 3, 48, 64), 0.4, dtype=torch.float64)
    out = apply_vignette(image, -70.0)
    corner, centre, edge = out[0, :, 0, 0], out[0, :, 24, 32], out[0, :, 24, 0]
    assert torch.equal(centre, image[0, :, 24, 32])
    assert bool((corner < edge).all() and (edge < centre).all())
    # multiplicative: the same factor 1 + w b on every channel
    coloured = _image(h=48, w=64)
    ratio = apply_vignette(coloured, -70.0) / coloured
    torch.testing.assert_close(ratio[:, 0], ratio[:, 2])
    w = vignette_weight(48, 64, dtype=torch.float64)
    torch.testing.assert_close(ratio[0, 1], 1.0 - 0.7 * w)


def test_positive_adds_light_in_the_corners() -> None:
    coloured = _image(h=48, w=64)
    delta = apply_vignette(coloured, 50.0) - coloured
    w = vignette_weight(48, 64, dtype=torch.float64)
    for c in range(3):  # additive in linear RGB, as darktable does for brightness >= 0
        torch.testing.assert_close(delta[0, c], 0.5 * w)
    assert delta[0, 0, 0, 0] > 0.4 and delta[0, 0, 24, 32] == 0.0


@pytest.mark.parametrize("value", [-55.0, 45.0])
def test_gradcheck(value: float) -> None:
    image = _image(h=10, w=12).requires_grad_(True)
    v = torch.tensor([value], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, s: apply_vignette(x, s), (image, v), fast_mode=True)


@pytest.mark.parametrize("value", [-100.0, 100.0])
def test_resolution_independence(value: float) -> None:
    big = _smooth(192, 256)
    small = avg_pool2d(big, 4)
    ours_small = apply_vignette(small, value)
    ours_big_pooled = avg_pool2d(apply_vignette(big, value), 4)
    # darktable measures positions at integer pixel indices from (W/2, H/2). A 4x4 block of the big image has
    # its mean position 0.375 small pixels from the small pixel's index, i.e. 0.375 * 2 / 64 per axis in
    # normalised units; over the fall-off width 0.5 that moves w by at most sqrt(2) * 0.0234 = 0.033.
    bound = math.sqrt(2) * 0.375 * 2 / 64 / 0.5 * abs(value) / 100
    scale = 1.0 if value > 0 else float(big.max())
    diff = (ours_small - ours_big_pooled).abs()
    assert diff.max().item() <= 1.02 * bound * scale
    assert diff.mean().item() < 0.25 * bound * scale
    assert (ours_small - small).abs().mean().item() > 5 * diff.mean().item()


# --- fidelity against darktable-cli ---------------------------------------------------------------------------


def _sidecar(params: dict[str, torch.Tensor]) -> str:
    f = {k: float(v.reshape(-1)[0]) for k, v in params.items()}
    blob = struct.pack(
        "<ffffffifffi",
        f["scale"],
        f["falloff_scale"],
        f["brightness"],
        f["saturation"],
        f["center.x"],
        f["center.y"],
        int(f["autoratio"]),
        f["whratio"],
        f["shape"],
        int(f["dithering"]),
        int(f["unbound"]),
    )
    return one_entry_sidecar("vignette", 4, blob)


@pytest.mark.host
def test_matches_darktable_cli(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    grey = write_png16(tmp_path / "grey.png", np.full((96, 128, 3), 0.5))
    texture = np.clip(0.45 + 0.3 * rng.random((128, 96, 3)) - 0.15, 0.0, 1.0)  # portrait, coloured noise
    noisy = write_png16(tmp_path / "noisy.png", texture)
    inputs = {"grey": (tmp_path / "grey.png", grey), "noisy": (tmp_path / "noisy.png", noisy)}
    cases = {f"{name}_{tag}": (name, value) for name in inputs for tag, value in (("m80", -80.0), ("p40", 40.0))}
    items = {
        case: (inputs[name][0], _sidecar(vignette_params({"vignette": torch.tensor([value])}, 4000)))
        for case, (name, value) in cases.items()
    }
    result = render_darktable(items, tmp_path / "dt")
    for case, (name, value) in cases.items():
        expected = as_batch(result.images[case])
        ours = apply_vignette(inputs[name][1], value)
        # darktable works in float32 and decodes the PNG through its own sRGB profile: measured max 1.4e-4,
        # mean 7e-6, mean CIEDE2000 0.0016 (the vignette itself moves pixels by up to 0.9).
        assert_close_to_darktable(ours, expected, case, max_abs=1e-3, mean_abs=5e-5, mean_de=0.02)
        assert (expected - inputs[name][1]).abs().max().item() > 0.05  # the module really did something
