"""Exposure-style actor-critic losses for one batch of rolled-out episodes.

Notation: ``s_0`` is the unedited thumbnail, ``s_{t+1}`` the thumbnail rendered with the settings after decision
``t`` (a stop leaves it unchanged), ``D`` the frozen WGAN critic and ``V`` the agent's state-value head. The
reward of decision ``t`` (only for items still editing) is

    r_t = reward_scale * (D(s_{t+1}) - sg(D(s_t)))
          - overexposure_penalty * (over(s_{t+1}) - sg(over(s_t)))
          - step_penalty * [an edit]  - early_stop_penalty * [stop before max_steps]

with ``over(x)`` = mean over pixels of ``max(max_c x - 1, 0)`` (linear light above 1; the fraction of such pixels
is logged) and ``sg`` = stop-gradient. Reusing a slider cannot happen (the policy masks used sliders), so
Exposure's reuse penalty has no counterpart.

* **Slider values** (deterministic policy gradient): ``-sum_t r_t`` is minimised by back-propagating through
  the critic and the differentiable renderer into the value heads (the states carry the gradient, the discrete
  choices are fixed). This is the analytic return of the episode instead of Exposure's bootstrapped ``Q``
  through a separate value network: our value head shares the agent's trunk, so it is not used as a
  differentiable critic of the values.
* **Slider choice** (policy gradient): ``A_t = sg(r_t) + sg(V(s_{t+1})) - V(s_t)`` (TD(0), ``gamma = 1``;
  ``V = 0`` after the last decision), policy loss ``-log pi(a_t) sg(A_t)``, value loss ``A_t^2``, minus an
  entropy bonus.

**All actions** (``cfg.all_actions``, the default): the renderer is a known, deterministic environment, so at
every decision the trainer scores *every* allowed slider instead of only the sampled one (:func:`action_gains`):
``Q(s_t, a) = reward_scale * (D(s_t (+) a) - D(s_t)) - overexposure_penalty * (over(s_t (+) a) - over(s_t))
- step_penalty`` where ``s_t (+) a`` applies the value the net proposes for slider ``a`` alone to ``s_t``
(exact when ``a``'s stage comes after those already used, an approximation otherwise); ``Q(s_t, stop) =
-early_stop_penalty`` before the last step, else 0. The gains are computed without gradients for the first
``all_actions_items`` items of the batch, and the policy follows the expected policy gradient
``-sum_a pi(a|s_t) A_a`` on them, with ``A`` the gains standardised over the allowed actions of each state (no
sampling noise, scale-free). The sampled policy term above is then left out; slider values and ``V`` are
trained as above.

The agent's network must see *detached* states (``rollout(..., detach_state=True)`` semantics) so that the
policy and value losses do not leak into earlier slider values through its input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from backend.agent.rollout import Trajectory
from backend.render.pipeline import apply_slider
from trainer.config import RLConfig
from trainer.critic import Critic

__all__ = ["EpisodeLosses", "action_gains", "clipped_fraction", "episode_losses", "overexposure"]


def overexposure(image: Tensor) -> Tensor:
    """``(N,)`` mean over pixels of ``max(max_c image - 1, 0)`` for ``(N, 3, H, W)`` linear images."""
    return (image.amax(dim=1) - 1.0).clamp_min(0.0).flatten(1).mean(dim=1)


def clipped_fraction(image: Tensor) -> Tensor:
    """``(N,)`` fraction of pixels with a channel above 1 (linear light)."""
    return (image.amax(dim=1) > 1.0).flatten(1).float().mean(dim=1)


def action_gains(
    state: Tensor,
    proposals: dict[str, Tensor],
    sliders: Sequence[str],
    critic: Critic,
    cfg: RLConfig,
    *,
    last_step: bool,
) -> Tensor:
    """One-step gain of every action: each proposed slider value applied alone to ``state``, and stop.

    Args:
        state: ``(N, 3, h, w)`` the state images (the caller detaches them).
        proposals: slider name -> ``(N, *shape)`` the values the net proposes (differentiable).
        sliders: the agent's sliders in action order.
        critic: the frozen critic.
        cfg: reward weights.
        last_step: this is the last allowed decision (stopping then is not early).

    Returns:
        ``(N, S + 1)`` gains ``Q(s, a)`` (see the module docstring).
    """
    n = state.shape[0]
    edited = torch.cat([apply_slider(name, state, proposals[name]) for name in sliders])
    scores = critic(torch.cat((state, edited))).view(len(sliders) + 1, n)
    over = overexposure(torch.cat((state, edited))).view(len(sliders) + 1, n)
    q = (
        cfg.reward_scale * (scores[1:] - scores[:1].detach())
        - cfg.overexposure_penalty * (over[1:] - over[:1].detach())
        - cfg.step_penalty
    )
    stop = torch.full((1, n), 0.0 if last_step else -cfg.early_stop_penalty, dtype=q.dtype, device=q.device)
    return torch.cat((q, stop)).T


def _expected_policy_loss(logits: Tensor, gains: Tensor, rows: Tensor) -> Tensor:
    """Sum over the rows of ``-sum_a pi(a) A_a``.

    ``A`` standardises the gains over each row's allowed actions (finite logits); ``rows`` (N,) weights the
    items (0 for those no longer editing).
    """
    allowed = torch.isfinite(logits)
    g = gains.detach().masked_fill(~allowed, 0.0)
    count = allowed.sum(dim=1, keepdim=True).clamp_min(1)
    mean = g.sum(dim=1, keepdim=True) / count
    std = ((g - mean).square().masked_fill(~allowed, 0.0).sum(dim=1, keepdim=True) / count).sqrt()
    adv = ((g - mean) / (std + 1e-6)).masked_fill(~allowed, 0.0)
    probs = torch.softmax(logits, dim=1)
    return -((probs * adv).sum(dim=1) * rows).sum()


@dataclass(frozen=True)
class EpisodeLosses:
    """Losses of one batch of episodes.

    Attributes:
        loss: the scalar to back-propagate (``actor + policy + value_weight * value - entropy_weight * entropy``).
        metrics: detached numbers for the log (see :func:`episode_losses`).
    """

    loss: Tensor
    metrics: dict[str, float]


# Long: the RL losses of one episode (returns, advantages, policy, value, entropy), written out as in the paper so that each term can be followed.
def episode_losses(
    traj: Trajectory,
    states: Sequence[Tensor],
    critic: Critic,
    cfg: RLConfig,
    *,
    n_sliders: int,
    max_steps: int,
    entropy_weight: float,
    sliders: Sequence[str] | None = None,
) -> EpisodeLosses:
    """Actor-critic losses of a rolled-out batch.

    Args:
        traj: the rollout (``len(traj.steps) = k`` decisions).
        states: ``k + 1`` images ``(N, 3, h, w)``: ``s_0`` .. ``s_k``, differentiable w.r.t. the slider values.
        critic: the WGAN critic (its parameters frozen by the caller).
        cfg: reward and loss weights.
        n_sliders: number of sliders of the agent (the stop action's index).
        max_steps: the episode length limit.
        entropy_weight: current entropy bonus weight (after any decay).
        sliders: the agent's sliders in action order (needed with ``cfg.all_actions``).

    Returns:
        :class:`EpisodeLosses`; metrics: ``reward`` (mean per active decision), ``return`` (mean per episode),
        ``score_gain`` (``D(s_k) - D(s_0)``), ``actor``, ``policy``, ``value``, ``entropy``, ``edits`` (per
        photo), ``stop_early`` (fraction of episodes that stopped before ``max_steps``), ``overexposure`` and
        ``clipped`` of the final images.
    """
    k = len(traj.steps)
    if len(states) != k + 1:
        raise ValueError(f"expected {k + 1} states for {k} decisions, got {len(states)}")
    scores = [critic(s) for s in states]
    over = [overexposure(s) for s in states]
    n = states[0].shape[0]
    zero = torch.zeros(n, dtype=scores[0].dtype, device=scores[0].device)
    ret = zero
    value_sum = policy_sum = entropy_sum = zero.sum()
    n_active = zero.sum()
    edits = zero
    stop_early = zero
    all_actions = cfg.all_actions and sliders is not None
    n_policy = zero.sum()
    for t, step in enumerate(traj.steps):
        active = step.active.to(zero.dtype)
        edit = (step.action != n_sliders) & step.active
        stop = (step.action == n_sliders) & step.active
        early = stop & (t < max_steps - 1)
        r = (
            cfg.reward_scale * (scores[t + 1] - scores[t].detach())
            - cfg.overexposure_penalty * (over[t + 1] - over[t].detach())
            - cfg.step_penalty * edit.to(zero.dtype)
            - cfg.early_stop_penalty * early.to(zero.dtype)
        ) * active
        if t + 1 < k:
            v_next = traj.steps[t + 1].state_value.detach() * (edit & traj.steps[t + 1].active).to(zero.dtype)
        else:
            v_next = zero
        advantage = r.detach() + v_next - step.state_value
        value_sum = value_sum + (advantage.square() * active).sum()
        if all_actions:
            assert sliders is not None
            m = min(n, cfg.all_actions_items)
            with torch.no_grad():
                proposals = {name: v[:m] for name, v in step.proposals.items()}
                gains = action_gains(states[t][:m], proposals, sliders, critic, cfg, last_step=t == max_steps - 1)
            policy_sum = policy_sum + _expected_policy_loss(step.logits[:m], gains, active[:m])
            n_policy = n_policy + active[:m].sum()
        else:
            policy_sum = policy_sum - (step.log_prob * advantage.detach() * active).sum()
            n_policy = n_policy + active.sum()
        entropy_sum = entropy_sum + (step.entropy * active).sum()
        n_active = n_active + active.sum()
        ret = ret + r
        edits = edits + edit.to(zero.dtype)
        stop_early = torch.maximum(stop_early, early.to(zero.dtype))
    denom = n_active.clamp_min(1.0)
    actor = -ret.mean()
    policy = policy_sum / n_policy.clamp_min(1.0)
    value = value_sum / denom
    entropy = entropy_sum / denom
    loss = actor + policy + cfg.value_weight * value - entropy_weight * entropy
    final = states[-1].detach()
    metrics = {
        "reward": float((ret.detach().sum() / denom).item()),
        "return": float(ret.detach().mean().item()),
        "score_gain": float((scores[-1] - scores[0]).detach().mean().item()),
        "actor": float(actor.detach().item()),
        "policy": float(policy.detach().item()),
        "value": float(value.detach().item()),
        "entropy": float(entropy.detach().item()),
        "edits": float(edits.mean().item()),
        "stop_early": float(stop_early.mean().item()),
        "overexposure": float(overexposure(final).mean().item()),
        "clipped": float(clipped_fraction(final).mean().item()),
    }
    return EpisodeLosses(loss=loss, metrics=metrics)
