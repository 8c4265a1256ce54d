"""The agent's action space and value bounds: identity at zero, ranges, monotone curves, gradients."""

from __future__ import annotations

import pytest
import torch

from backend.agent.actions import (
    AGENT_SLIDERS,
    STOP,
    ValueBounder,
    bound_value,
    head_shape,
    head_size,
    identity_value,
)
from backend.errors import UnknownSliderError
from backend.recipe import Recipe
from backend.sliders.catalog import CATALOG, get_slider

CURVES = [s for s in AGENT_SLIDERS if get_slider(s).monotone_curve]
MULTI_ROW_CURVES = [s for s in CURVES if len(get_slider(s).shape) > 1]


def _z(name: str, n: int, scale: float, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, *head_shape(name), generator=g, dtype=torch.float64) * scale).to(dtype)


def test_action_space_is_the_catalogs_global_sliders() -> None:
    assert tuple(s.name for s in CATALOG if s.is_global) == AGENT_SLIDERS
    assert {"clarity", "sharpen", "vignette"}.isdisjoint(AGENT_SLIDERS)
    assert len(AGENT_SLIDERS) == STOP
    with pytest.raises(UnknownSliderError):
        head_size("clarity")
    with pytest.raises(UnknownSliderError):
        bound_value("no_such_slider", torch.zeros(1))


def test_head_sizes() -> None:
    for name in AGENT_SLIDERS:
        spec = get_slider(name)
        if spec.monotone_curve:
            assert head_shape(name) == (*spec.shape[:-1], spec.shape[-1] - 1)
        else:
            assert head_shape(name) == spec.shape
        assert head_size(name) == max(1, torch.Size(head_shape(name)).numel())
    assert head_size("tone_curve") == 6 and head_size("rgb_curves") == 18 and head_size("hsl") == 24


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", AGENT_SLIDERS)
def test_zero_output_is_identity_exactly(name: str, dtype: torch.dtype) -> None:
    for flat in (False, True):
        z = torch.zeros(3, head_size(name), dtype=dtype) if flat else torch.zeros(3, *head_shape(name), dtype=dtype)
        value = bound_value(name, z)
        assert value.dtype == dtype
        assert torch.equal(value, identity_value(name, 3, dtype=dtype))


@pytest.mark.parametrize("name", AGENT_SLIDERS)
def test_always_within_range(name: str) -> None:
    spec = get_slider(name)
    for scale in (0.5, 3.0, 50.0):
        value = bound_value(name, _z(name, 64, scale, seed=int(scale)))
        assert value.shape == (64, *spec.shape)
        assert torch.isfinite(value).all()
        assert value.min() >= spec.minimum and value.max() <= spec.maximum
    # saturated outputs reach the ends of the range (one-sided sliders only their upper end)
    top = bound_value(name, torch.full((1, *head_shape(name)), 40.0))
    if not spec.monotone_curve:
        assert torch.allclose(top, torch.full_like(top, spec.maximum))
        bottom = bound_value(name, torch.full((1, *head_shape(name)), -40.0))
        assert torch.allclose(bottom, torch.full_like(bottom, spec.minimum))


def test_one_sided_slider_only_moves_up() -> None:
    z = torch.tensor([-3.0, -0.1, 0.0, 0.1, 3.0])
    value = bound_value("black_and_white", z)
    assert torch.equal(value[:3], torch.zeros(3))
    assert (value[3:] > 0).all()
    exposure = bound_value("exposure", z)
    assert torch.allclose(exposure, 5.0 * torch.tanh(z))


@pytest.mark.parametrize("name", CURVES)
def test_curves_monotone_with_fixed_endpoints(name: str) -> None:
    spec = get_slider(name)
    knots = torch.tensor(spec.identity)
    for scale in (0.3, 2.0, 30.0):
        y = bound_value(name, _z(name, 32, scale, seed=7))
        assert (y[..., 1:] >= y[..., :-1]).all()
        assert torch.equal(y[..., 0], knots[..., 0].expand_as(y[..., 0]))
        assert torch.equal(y[..., -1], knots[..., -1].expand_as(y[..., -1]))
    # raising one increment's output moves the curve's interior points up there (an S-curve handle)
    z = torch.zeros(1, *head_shape(name))
    z[..., 0] = 1.0
    assert (bound_value(name, z)[..., 1:-1] > knots[..., 1:-1]).all()


@pytest.mark.parametrize("name", MULTI_ROW_CURVES)
def test_per_channel_rows_are_independent(name: str) -> None:
    z = _z(name, 2, 1.0, seed=3)
    y = bound_value(name, z)
    for row in range(z.shape[1]):
        z2 = z.clone()
        z2[:, row] = 0.0
        y2 = bound_value(name, z2)
        assert torch.equal(y2[:, row], identity_value(name, 2)[:, row])
        others = [r for r in range(z.shape[1]) if r != row]
        assert torch.equal(y2[:, others], y[:, others])


@pytest.mark.parametrize("name", AGENT_SLIDERS)
def test_gradient_flows(name: str) -> None:
    z = _z(name, 2, 1.0, seed=11, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: bound_value(name, t), (z,))
    zp = z.detach().abs().add(0.1).requires_grad_(True)  # positive side: every slider moves
    bound_value(name, zp).sum().backward()
    assert zp.grad is not None and (zp.grad.abs() > 0).any()


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        bound_value("tone_curve", torch.zeros(2, 7))
    with pytest.raises(ValueError, match="shape"):
        bound_value("exposure", torch.zeros(2, 2))


def test_value_bounder_matches_bound_value() -> None:
    bounder = ValueBounder(AGENT_SLIDERS)
    total = sum(head_size(s) for s in AGENT_SLIDERS)
    z = torch.randn(5, total, generator=torch.Generator().manual_seed(4)) * 2
    out = bounder(z)
    assert tuple(out) == AGENT_SLIDERS
    offset = 0
    for name in AGENT_SLIDERS:
        size = head_size(name)
        assert torch.equal(out[name], bound_value(name, z[:, offset : offset + size]))
        offset += size
    zero = bounder(torch.zeros(1, total))
    for name in AGENT_SLIDERS:
        assert torch.equal(zero[name], identity_value(name, 1))


def test_extreme_values_make_valid_recipes() -> None:
    settings = {name: bound_value(name, _z(name, 1, 60.0, seed=5))[0].tolist() for name in AGENT_SLIDERS}
    recipe = Recipe.from_settings(settings)  # validates range, shape and monotone curves
    assert {s.slider for s in recipe.steps} <= set(AGENT_SLIDERS)
    assert len(recipe.steps) >= len(AGENT_SLIDERS) - 1  # black_and_white may sit at its identity
