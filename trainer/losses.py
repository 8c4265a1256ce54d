"""WGAN-GP losses: the per-sample gradient penalty and DPE's adaptive penalty weight.

The penalty constrains the critic's gradient with respect to its **whole input** at random interpolates
``x_hat = alpha * real + (1 - alpha) * fake`` (one ``alpha`` per sample): the norm of each sample's gradient is
taken over all of C, H and W (``grad.flatten(1).norm(dim=1)``, shape ``(B,)``), in float32, then
``(norm - 1)^2`` (two-sided, Gulrajani et al.) or ``max(norm - 1, 0)^2`` (one-sided, Exposure) is averaged over
the batch and weighted by lambda. A per-pixel channel norm (``grad.norm(dim=1)``) would be a different, much
stronger constraint; ``tests/test_gradient_penalty.py`` pins the per-sample form with a linear critic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["AdaptiveLambda", "GradientPenalty", "critic_loss", "gradient_penalty", "interpolate"]


def interpolate(real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Random per-sample interpolates between real and fake images.

    Args:
        real: ``(B, C, H, W)`` real images.
        fake: ``(B, C, H, W)`` generated images (detached by the caller).
        generator: random source for ``alpha`` (reproducible runs).

    Returns:
        ``(B, C, H, W)`` float32 ``alpha * real + (1 - alpha) * fake`` with ``alpha ~ U[0, 1)`` of shape
        ``(B, 1, 1, 1)``, one value per sample; it requires grad.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    real32 = real.detach().float()
    fake32 = fake.detach().float()
    alpha = torch.rand((real.shape[0], *([1] * (real.ndim - 1))), generator=generator, device=real.device)
    return (alpha * real32 + (1.0 - alpha) * fake32).requires_grad_(True)


@dataclass(frozen=True)
class GradientPenalty:
    """Result of :func:`gradient_penalty`.

    Attributes:
        penalty: scalar ``lambda * mean(...)``, differentiable w.r.t. the critic's parameters.
        norms: ``(B,)`` per-sample gradient norms (detached), for logging and the adaptive lambda.
    """

    penalty: Tensor
    norms: Tensor


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    lam: float = 10.0,
    one_sided: bool = True,
    generator: torch.Generator | None = None,
    points: Tensor | None = None,
) -> GradientPenalty:
    """WGAN-GP penalty with the per-sample gradient norm over C, H and W.

    Args:
        critic: maps ``(B, C, H, W)`` float32 to scores of shape ``(B,)`` or ``(B, 1)``.
        real: ``(B, C, H, W)`` real images.
        fake: ``(B, C, H, W)`` fake images.
        lam: penalty weight lambda (>= 0).
        one_sided: ``max(||g|| - 1, 0)^2`` when True, ``(||g|| - 1)^2`` otherwise.
        generator: random source for the interpolation weights.
        points: evaluate at these ``(B, C, H, W)`` points instead of random interpolates (tests).

    Returns:
        :class:`GradientPenalty` (the penalty keeps the graph: ``create_graph=True``).
    """
    x_hat = interpolate(real, fake, generator) if points is None else points.detach().float().requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.float().flatten(1).norm(dim=1)
    excess = norms - 1.0
    if one_sided:
        excess = excess.clamp_min(0.0)
    penalty = lam * excess.square().mean()
    return GradientPenalty(penalty=penalty, norms=norms.detach())


def critic_loss(score_real: Tensor, score_fake: Tensor, penalty: Tensor) -> tuple[Tensor, Tensor]:
    """WGAN critic loss ``E[D(fake)] - E[D(real)] + penalty``.

    Args:
        score_real: ``(B,)`` critic scores of real images.
        score_fake: ``(B,)`` critic scores of fake images.
        penalty: scalar gradient penalty.

    Returns:
        (loss, wasserstein estimate ``E[D(real)] - E[D(fake)]`` detached).
    """
    wasserstein = score_real.mean() - score_fake.mean()
    return -wasserstein + penalty, wasserstein.detach()


class AdaptiveLambda:
    """DPE's adaptive WGAN (A-WGAN) rule for the penalty weight.

    Keeps the moving average of the critic's mean gradient norm over the last ``window`` updates inside
    ``[low, high]``: when the average exceeds ``high`` lambda is multiplied by ``growth`` (and the window is
    cleared so the effect can be observed); when it falls below ``low`` and ``decrease`` is set, lambda is
    divided by ``growth``. DPE's released code only increases; the paper describes both directions.

    Args:
        lam: initial lambda.
        window: moving-window length in updates.
        bounds: (low, high).
        growth: multiplicative step (> 1).
        decrease: allow decreasing lambda.
        lam_min: floor for lambda.
        lam_max: ceiling for lambda.
    """

    def __init__(
        self,
        lam: float,
        *,
        window: int = 50,
        bounds: tuple[float, float] = (1.001, 1.05),
        growth: float = 2.0,
        decrease: bool = True,
        lam_min: float = 1e-3,
        lam_max: float = 1e5,
    ) -> None:
        self.lam = float(lam)
        self.window = int(window)
        self.low, self.high = float(bounds[0]), float(bounds[1])
        self.growth = float(growth)
        self.decrease = bool(decrease)
        self.lam_min = float(lam_min)
        self.lam_max = float(lam_max)
        self._history: deque[float] = deque(maxlen=self.window)

    def update(self, mean_norm: float) -> float:
        """Record one update's mean gradient norm; returns lambda for the next update."""
        self._history.append(float(mean_norm))
        if len(self._history) < self.window:
            return self.lam
        average = sum(self._history) / len(self._history)
        if average > self.high:
            self.lam = min(self.lam * self.growth, self.lam_max)
            self._history.clear()
        elif self.decrease and average < self.low:
            self.lam = max(self.lam / self.growth, self.lam_min)
            self._history.clear()
        return self.lam

    def state(self) -> dict[str, object]:
        """JSON-serialisable state (for checkpoints)."""
        return {"lam": self.lam, "history": list(self._history)}

    def load_state(self, state: dict[str, object]) -> None:
        """Restore :meth:`state`."""
        self.lam = float(state["lam"])  # type: ignore[arg-type]
        history = state.get("history", [])
        if not isinstance(history, Iterable):
            raise TypeError(f"history is not iterable: {type(history).__name__}")
        self._history = deque((float(v) for v in history), maxlen=self.window)
