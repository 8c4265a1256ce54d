"""The renderer pipeline: stage order, identity, batching, shape checks, gradients, module == function."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import torch
from torch import Tensor

from backend.errors import InvalidRecipeError, UnknownSliderError
from backend.render import pipeline
from backend.render.color import REC2020_LUMINANCE
from backend.render.pipeline import STAGES, Renderer, SliderModule, apply_slider, prepare_settings, render
from backend.sliders.catalog import CATALOG, STAGE_ORDER, SliderSpec, get_slider, iter_sliders


def _image(n: int = 1, h: int = 12, w: int = 16, *, seed: int = 0, dtype: torch.dtype = torch.float64) -> Tensor:
    """Random colourful linear image in (0.02, 0.9): smooth gradients plus noise, so every hue is present."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack((xx, yy, 1 - 0.5 * (xx + yy)))
    noise = torch.rand(n, 3, h, w, generator=g)
    img = 0.02 + 0.88 * (0.6 * base + 0.4 * noise).clamp(0, 1)
    return img.to(dtype)


def _towards(spec: SliderSpec, frac: float) -> Tensor:
    """A value ``frac`` of the way from identity to the maximum (frac < 0: towards the minimum)."""
    ident = torch.tensor(spec.identity, dtype=torch.float64)
    end = spec.maximum if frac >= 0 else spec.minimum
    return ident + abs(frac) * (end - ident)


def _shape_for(spec: SliderSpec) -> tuple[int, int]:
    """A small (H, W) on which ``spec`` has a visible effect.

    ``sharpen``'s radius is 0.0005 x the long side, so below ~1000 px it is (correctly) a no-op.
    """
    return (6, 1600) if spec.name == "sharpen" else (6, 7)


def _one_per_stage() -> dict[str, Tensor]:
    return {next(iter_sliders(stage)).name: _towards(next(iter_sliders(stage)), 0.4) for stage in STAGE_ORDER}


# -- stage order -----------------------------------------------------------------------------------


def test_stages_run_in_stage_order_whatever_the_settings_order(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    for stage, fn in list(STAGES.items()):

        def spy(image: Tensor, values: Mapping[str, Tensor], _fn: Any = fn, _stage: str = stage) -> Tensor:
            calls.append(_stage)
            assert {get_slider(k).stage for k in values} == {_stage}
            return _fn(image, values)

        monkeypatch.setitem(pipeline.STAGES, stage, spy)
    image = _image()
    settings = {s.name: _towards(s, 0.3) for s in reversed(CATALOG)}
    render(image, settings)
    assert calls == list(STAGE_ORDER)
    calls.clear()
    render(image, {"vignette": 20.0, "exposure": 0.5})  # only the stages that have settings run
    assert calls == ["exposure", "vignette"]


def test_render_composes_stages_in_pipeline_order() -> None:
    image = _image(h=16, w=16)
    settings = _one_per_stage()
    forward = image
    for name in settings:  # catalog stage order
        forward = apply_slider(name, forward, settings[name])
    backward = image
    for name in reversed(settings):
        backward = apply_slider(name, backward, settings[name])
    reordered = dict(reversed(settings.items()))
    out = render(image, reordered)
    torch.testing.assert_close(out, forward, rtol=1e-9, atol=1e-9)
    assert not torch.allclose(out, backward, atol=1e-4)  # the order matters, so the check above means something


# -- identity --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_identity_settings_return_the_input_exactly(dtype: torch.dtype) -> None:
    image = _image(2, dtype=dtype)
    everything = {s.name: s.identity for s in CATALOG}
    out = render(image, everything)
    assert torch.equal(out, image)
    for spec in CATALOG:
        assert torch.equal(apply_slider(spec.name, image, spec.identity), image), spec.name  # type: ignore[arg-type]
    assert torch.equal(render(image, {}), image)


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: s.name)
def test_every_slider_changes_the_image(spec: SliderSpec) -> None:
    image = _image(1, *_shape_for(spec), dtype=torch.float32)
    out = apply_slider(spec.name, image, _towards(spec, 0.5))
    assert out.shape == image.shape and out.dtype == image.dtype
    assert torch.isfinite(out).all()
    assert (out - image).abs().max() > 1e-3


@pytest.mark.parametrize("spec", [s for s in CATALOG if s.is_scalar and s.brightening], ids=lambda s: s.name)
def test_brightening_direction_matches_catalog(spec: SliderSpec) -> None:
    image = _image(h=24, w=32)
    lum = torch.as_tensor(REC2020_LUMINANCE, dtype=image.dtype).view(1, 3, 1, 1)
    means = [float((apply_slider(spec.name, image, _towards(spec, f)) * lum).sum(1).mean()) for f in (-0.8, 0, 0.8)]
    if spec.brightening < 0:
        means.reverse()
    assert means[0] <= means[1] + 1e-9 and means[1] <= means[2] + 1e-9
    assert means[2] > means[0]


# -- batching --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("h", "w"), [(9, 14), (16, 11)])
def test_batch_with_per_image_values_equals_one_by_one(h: int, w: int) -> None:
    n = 3
    images = torch.cat([_image(1, h, w, seed=i) for i in range(n)])
    fracs = torch.tensor([0.2, -0.4, 0.6], dtype=torch.float64)
    per_image: dict[str, Tensor] = {}
    for spec in CATALOG:
        rows = [_towards(spec, float(f) if spec.minimum < 0 or f > 0 else 0.3) for f in fracs]
        per_image[spec.name] = torch.stack(rows)
    batch = render(images, per_image)
    assert batch.shape == images.shape
    for i in range(n):
        single = render(images[i : i + 1], {k: v[i] for k, v in per_image.items()})
        torch.testing.assert_close(batch[i : i + 1], single, rtol=1e-10, atol=1e-10)
    shared = {k: v[0] for k, v in per_image.items()}
    torch.testing.assert_close(render(images, shared)[1:2], render(images[1:2], shared), rtol=1e-10, atol=1e-10)


# -- settings and image checks ---------------------------------------------------------------------


def test_prepare_settings_broadcasts_and_casts() -> None:
    spec = get_slider("rgb_curves")
    out = prepare_settings(
        {"exposure": 1, "contrast": [10.0, 20.0], "rgb_curves": [list(r) for r in spec.identity]},  # type: ignore[union-attr]
        2,
        torch.float64,
        torch.device("cpu"),
    )
    assert out["exposure"].shape == (2,) and out["exposure"].dtype == torch.float64
    assert out["contrast"].tolist() == [10.0, 20.0]
    assert out["rgb_curves"].shape == (2, 3, 7)


@pytest.mark.parametrize(
    ("settings", "n"),
    [
        ({"exposure": [1.0, 2.0]}, 3),
        ({"exposure": [[1.0]]}, 1),
        ({"tone_curve": [0.0, 0.5, 1.0]}, 1),
        ({"tone_curve": torch.zeros(2, 7)}, 3),
        ({"rgb_curves": torch.zeros(7)}, 1),
        ({"hsl": torch.zeros(3, 8)}, 1),
    ],
)
def test_prepare_settings_shape_errors(settings: dict[str, Any], n: int) -> None:
    with pytest.raises(InvalidRecipeError, match="shape"):
        prepare_settings(settings, n, torch.float32, torch.device("cpu"))


def test_unknown_slider_and_bad_images() -> None:
    with pytest.raises(UnknownSliderError):
        render(_image(), {"glow": 1.0})
    with pytest.raises(InvalidRecipeError, match="shape"):
        render(_image()[0], {"exposure": 1.0})
    with pytest.raises(InvalidRecipeError, match="shape"):
        render(torch.zeros(1, 4, 8, 8), {"exposure": 1.0})
    with pytest.raises(InvalidRecipeError, match="float"):
        render(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), {"exposure": 1.0})


# -- gradients and modules -------------------------------------------------------------------------


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: s.name)
def test_gradcheck_every_slider_through_render(spec: SliderSpec) -> None:
    image = _image(1, *_shape_for(spec), seed=3).requires_grad_(True)
    value = _towards(spec, 0.3).requires_grad_(True)

    def fn(img: Tensor, val: Tensor) -> Tensor:
        return render(img, {spec.name: val})

    # fast mode (random projections of the Jacobian) keeps the whole check to a few seconds on 2 cores
    assert torch.autograd.gradcheck(fn, (image, value), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)


def test_slider_module_equals_apply_slider_and_renderer_equals_render() -> None:
    image = _image(2, dtype=torch.float32)
    for spec in CATALOG:
        value = _towards(spec, 0.5).float()
        module = SliderModule(spec.name)
        assert module.spec is spec
        torch.testing.assert_close(module(image, value), apply_slider(spec.name, image, value), rtol=0, atol=0)
    settings = {s.name: _towards(s, 0.2).float() for s in CATALOG}
    torch.testing.assert_close(Renderer()(image, settings), render(image, settings), rtol=0, atol=0)
    assert list(Renderer().parameters()) == []
