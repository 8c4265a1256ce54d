"""The WGAN-GP penalty is per sample over C*H*W (house-style section 3), one- or two-sided, with adaptive lambda."""

from __future__ import annotations

import pytest
import torch

from trainer.losses import AdaptiveLambda, critic_loss, gradient_penalty, interpolate


class LinearCritic(torch.nn.Module):
    """D(x) = <w, x> over all of C, H, W: its input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(dim=1)


def _weights(norm: float, shape: tuple[int, int, int] = (3, 8, 8), seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=g)
    return w * (norm / w.norm())


def _images(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(4, 3, 8, 8, generator=g), torch.rand(4, 3, 8, 8, generator=g)


@pytest.mark.parametrize("norm", [0.3, 0.9, 1.7, 4.0])
def test_two_sided_equals_lambda_times_squared_excess(norm: float) -> None:
    critic = LinearCritic(_weights(norm))
    real, fake = _images()
    lam = 7.5
    gp = gradient_penalty(critic, real, fake, lam=lam, one_sided=False, generator=torch.Generator().manual_seed(3))
    expected = lam * (norm - 1.0) ** 2
    assert gp.penalty.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert torch.allclose(gp.norms, torch.full((4,), norm), rtol=1e-5)


@pytest.mark.parametrize("norm", [0.1, 0.5, 0.99])
def test_one_sided_is_zero_below_one(norm: float) -> None:
    critic = LinearCritic(_weights(norm))
    real, fake = _images()
    gp = gradient_penalty(critic, real, fake, lam=10.0, one_sided=True)
    assert gp.penalty.item() == 0.0
    two = gradient_penalty(critic, real, fake, lam=10.0, one_sided=False)
    assert two.penalty.item() > 0.0


def test_one_sided_equals_two_sided_above_one() -> None:
    critic = LinearCritic(_weights(2.5))
    real, fake = _images()
    one = gradient_penalty(critic, real, fake, lam=10.0, one_sided=True).penalty.item()
    assert one == pytest.approx(10.0 * 1.5**2, rel=1e-5)


def test_per_channel_norm_would_give_a_different_answer() -> None:
    """The pinning value is discriminative: the common per-pixel channel norm misses it by far."""
    norm, lam = 1.7, 10.0
    w = _weights(norm)
    per_pixel = w.unsqueeze(0).norm(dim=1)  # (1, H, W), the bug
    wrong = lam * (per_pixel - 1.0).square().mean().item()
    right = gradient_penalty(LinearCritic(w), *_images(), lam=lam, one_sided=False).penalty.item()
    assert right == pytest.approx(lam * (norm - 1.0) ** 2, rel=1e-5)
    assert abs(wrong - right) > 1.0


def test_penalty_gradient_reaches_the_critic_weights() -> None:
    """create_graph=True: d/dw of lambda*(||w|| - 1)^2 is 2*lambda*(||w|| - 1) * w/||w||."""
    norm, lam = 2.0, 3.0
    critic = LinearCritic(_weights(norm))
    gp = gradient_penalty(critic, *_images(), lam=lam, one_sided=False)
    gp.penalty.backward()
    w = critic.w.detach()
    expected = 2.0 * lam * (norm - 1.0) * w / w.norm()
    assert critic.w.grad is not None
    assert torch.allclose(critic.w.grad, expected, atol=1e-5)


def test_interpolates_use_one_alpha_per_sample() -> None:
    real, fake = _images()
    x_hat = interpolate(real, fake, torch.Generator().manual_seed(0))
    assert x_hat.requires_grad and x_hat.dtype == torch.float32
    d, r = (real - fake).flatten(1), (x_hat.detach() - fake).flatten(1)
    alpha = (d * r).sum(1) / d.square().sum(1)  # least-squares alpha per sample
    assert torch.allclose(r, alpha[:, None] * d, atol=1e-6)  # one alpha explains every element of a sample
    assert alpha.unique().numel() == 4  # different alphas for different samples
    assert bool(((alpha >= 0) & (alpha <= 1)).all())


def test_penalty_is_float32_for_double_precision_inputs_too() -> None:
    critic = LinearCritic(_weights(1.5).double())
    real, fake = (t.double() for t in _images())
    gp = gradient_penalty(lambda x: critic(x.double()), real, fake, lam=1.0, one_sided=False)
    assert gp.norms.dtype == torch.float32
    assert gp.penalty.item() == pytest.approx(0.25, rel=1e-5)


def test_critic_loss_is_fake_minus_real_plus_penalty() -> None:
    loss, w = critic_loss(torch.tensor([3.0, 5.0]), torch.tensor([1.0, 1.0]), torch.tensor(0.5))
    assert w.item() == pytest.approx(3.0)
    assert loss.item() == pytest.approx(-2.5)


def test_adaptive_lambda_grows_above_and_shrinks_below_the_bounds() -> None:
    rule = AdaptiveLambda(10.0, window=5, bounds=(1.001, 1.05), growth=2.0, decrease=True)
    for _ in range(4):
        assert rule.update(1.5) == 10.0  # window not full yet
    assert rule.update(1.5) == 20.0
    for _ in range(5):
        lam = rule.update(1.02)  # inside the bounds: unchanged
    assert lam == 20.0
    for _ in range(5):
        lam = rule.update(0.5)
    assert lam == 10.0
    only_up = AdaptiveLambda(10.0, window=3, decrease=False)
    for _ in range(6):
        lam = only_up.update(0.2)
    assert lam == 10.0
    restored = AdaptiveLambda(1.0, window=5)
    restored.load_state(rule.state())
    assert restored.lam == rule.lam
