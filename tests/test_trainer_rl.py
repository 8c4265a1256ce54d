"""Actor-critic losses: hand-computed rewards/advantages, state capture, and the deterministic policy gradient."""

from __future__ import annotations

import pytest
import torch

from backend.agent.network import AgentNet
from backend.agent.rollout import Trajectory, TrajectoryStep
from backend.render.pipeline import render
from trainer.config import RLConfig
from trainer.rl import action_gains, clipped_fraction, episode_losses, overexposure
from trainer.train import rollout_with_states


class MeanCritic(torch.nn.Module):
    """D(x) = scale * mean(x): brighter is better."""

    def __init__(self, scale: float = 10.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x.flatten(1).mean(dim=1)


def _step(action: list[int], active: list[bool], v: list[float], logp: list[float], ent: list[float]) -> TrajectoryStep:
    return TrajectoryStep(
        action=torch.tensor(action),
        active=torch.tensor(active),
        logits=torch.zeros(2, 2),
        log_prob=torch.tensor(logp, requires_grad=True),
        entropy=torch.tensor(ent),
        state_value=torch.tensor(v, requires_grad=True),
        values={},
        sliders=tuple("exposure" if a == 0 else None for a in action),
        proposals={},
    )


def test_rewards_advantages_and_losses_match_a_hand_computation() -> None:
    # two items, one slider (index 0) + stop (index 1), max_steps 2.
    # item 0 edits at t=0 then stops at t=1 (last step: no early-stop penalty); item 1 stops at t=0 (early).
    s0 = torch.full((2, 3, 2, 2), 0.2)
    s1 = torch.stack([torch.full((3, 2, 2), 0.4), torch.full((3, 2, 2), 0.2)])
    s2 = s1.clone()
    steps = (
        _step([0, 1], [True, True], v=[0.3, 0.1], logp=[-0.5, -1.0], ent=[0.6, 0.6]),
        _step([1, 1], [True, False], v=[0.7, 0.0], logp=[-0.2, 0.0], ent=[0.5, 0.0]),
    )
    traj = Trajectory(
        steps=steps, settings={}, orders=(("exposure",), ()), used=torch.zeros(2, 1, dtype=torch.bool), image=s2
    )
    cfg = RLConfig(
        reward_scale=0.5, step_penalty=0.1, early_stop_penalty=0.2, overexposure_penalty=0.0, value_weight=1.0
    )
    out = episode_losses(traj, [s0, s1, s2], MeanCritic(), cfg, n_sliders=1, max_steps=2, entropy_weight=0.0)
    r00 = 0.5 * (4.0 - 2.0) - 0.1  # edit: score gain minus step penalty
    r01 = 0.0  # stop on the last step: free
    r10 = -0.2  # early stop
    a00 = r00 + 0.7 - 0.3  # bootstrap with V(s_1) of item 0
    a01 = r01 + 0.0 - 0.7
    a10 = r10 + 0.0 - 0.1
    value = (a00**2 + a01**2 + a10**2) / 3
    policy = -(-0.5 * a00 + -0.2 * a01 + -1.0 * a10) / 3
    actor = -((r00 + r01) + r10) / 2
    assert out.metrics["value"] == pytest.approx(value, rel=1e-5)
    assert out.metrics["policy"] == pytest.approx(policy, rel=1e-5)
    assert out.metrics["actor"] == pytest.approx(actor, rel=1e-5)
    assert out.metrics["edits"] == pytest.approx(0.5) and out.metrics["stop_early"] == pytest.approx(0.5)
    assert out.loss.item() == pytest.approx(actor + policy + value, rel=1e-5)
    out.loss.backward()
    # d(policy)/d(log_prob) = -A / n_active, only for active decisions
    assert steps[0].log_prob.grad is not None
    assert steps[0].log_prob.grad.tolist() == pytest.approx([-a00 / 3, -a10 / 3], rel=1e-5)
    assert steps[1].log_prob.grad.tolist() == pytest.approx([-a01 / 3, 0.0], abs=1e-6)


def test_overexposure_measures_light_above_one() -> None:
    img = torch.zeros(1, 3, 2, 2)
    img[0, 0, 0, 0] = 1.5  # one pixel, 0.5 above 1 in one channel
    assert overexposure(img).item() == pytest.approx(0.5 / 4)
    assert clipped_fraction(img).item() == pytest.approx(0.25)
    assert overexposure(torch.full((1, 3, 2, 2), 0.9)).item() == 0.0


def test_states_are_captured_with_gradients_while_the_net_sees_detached_ones() -> None:
    torch.manual_seed(0)
    net = AgentNet(sliders=("exposure", "contrast", "tint"), max_steps=3, width=8, thumb=16)
    thumb = torch.rand(4, 3, 16, 16) * 0.5
    seen: list[torch.Tensor] = []
    handle = net.register_forward_hook(lambda _m, args, _out: seen.append(args[0]))
    try:
        traj, states = rollout_with_states(net, thumb, greedy=False, generator=torch.Generator().manual_seed(0))
    finally:
        handle.remove()
    k = len(traj.steps)
    assert len(states) == k + 1 and torch.equal(states[0], thumb)
    assert all(s.grad_fn is None for s in seen)  # the net got detached inputs
    assert any(s.requires_grad for s in states[1:])
    with torch.no_grad():
        # the same edits, one stage at a time vs all at once: equal up to float32 rounding (2.4e-6 seen on one CPU)
        assert torch.allclose(states[-1], render(thumb, traj.settings), atol=1e-5)


def test_slider_values_follow_the_critic_through_the_renderer() -> None:
    """Deterministic policy gradient: with a critic that prefers brighter images, exposure goes up."""
    torch.manual_seed(0)
    net = AgentNet(sliders=("exposure",), max_steps=1, width=8, dropout=0.0, thumb=16)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    thumb = torch.rand(8, 3, 16, 16) * 0.2
    critic = MeanCritic()
    cfg = RLConfig(reward_scale=1.0, step_penalty=0.0, entropy_weight=0.0)

    def proposal() -> float:
        with torch.no_grad():
            out = net(thumb, torch.zeros(8, dtype=torch.long), torch.zeros(8, 1, dtype=torch.bool))
        return out.values["exposure"].mean().item()

    before = proposal()
    for _ in range(15):
        # force the edit (greedy on a policy whose stop logit is pushed down) to isolate the value gradient
        with torch.no_grad():
            net.policy_head.bias[1] = -20.0
        traj, states = rollout_with_states(net, thumb, greedy=True, generator=None)
        loss = episode_losses(traj, states, critic, cfg, n_sliders=1, max_steps=1, entropy_weight=0.0).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert proposal() > before + 0.3


def test_action_gains_score_every_proposal_and_stop() -> None:
    state = torch.full((2, 3, 4, 4), 0.2)
    proposals = {"exposure": torch.tensor([1.0, -1.0]), "tint": torch.tensor([0.0, 0.0])}
    cfg = RLConfig(reward_scale=0.5, step_penalty=0.1, early_stop_penalty=0.3, overexposure_penalty=0.0)
    q = action_gains(state, proposals, ("exposure", "tint"), MeanCritic(), cfg, last_step=False)
    # D = 10 * mean: +1 EV doubles the mean (2 -> 4), -1 EV halves it (2 -> 1); tint 0 changes nothing
    expected = [[0.5 * 2.0 - 0.1, -0.1, -0.3], [0.5 * -1.0 - 0.1, -0.1, -0.3]]
    assert torch.allclose(q, torch.tensor(expected), atol=1e-4)
    last = action_gains(state, proposals, ("exposure", "tint"), MeanCritic(), cfg, last_step=True)
    assert last[:, 2].tolist() == [0.0, 0.0]


def test_all_actions_teach_the_policy_the_better_slider() -> None:
    """With a critic that prefers brighter images, exposure becomes the first choice (and then its value goes up),
    although the policy starts out preferring another slider and greedy rollouts never try exposure."""
    torch.manual_seed(0)
    sliders = ("exposure", "saturation")
    net = AgentNet(sliders=sliders, max_steps=1, width=8, dropout=0.0, thumb=16)
    with torch.no_grad():
        net.policy_head.bias.copy_(torch.tensor([-2.0, 2.0, -5.0]))  # starts preferring saturation
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    thumb = torch.rand(8, 3, 16, 16) * 0.2
    cfg = RLConfig(reward_scale=1.0, step_penalty=0.0, entropy_weight=0.0, all_actions=True)
    zeros = (torch.zeros(8, dtype=torch.long), torch.zeros(8, 2, dtype=torch.bool))

    def probe() -> tuple[float, float]:
        with torch.no_grad():
            out = net(thumb, *zeros)
        return torch.softmax(out.logits, 1)[:, 0].mean().item(), out.values["exposure"].mean().item()

    p_before, v_before = probe()
    for _ in range(30):
        traj, states = rollout_with_states(net, thumb, greedy=True, generator=None)
        out = episode_losses(
            traj, states, MeanCritic(), cfg, n_sliders=2, max_steps=1, entropy_weight=0.0, sliders=sliders
        )
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    p_after, v_after = probe()
    assert p_before < 0.05 and p_after > 0.5
    assert v_after > v_before + 0.2
