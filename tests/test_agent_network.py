"""AgentNet: shapes, masking of used sliders, bounded values, dropout control, size and speed budget."""

from __future__ import annotations

import pytest
import torch

from backend.agent.actions import AGENT_SLIDERS, STOP
from backend.agent.network import AgentNet, image_statistics, mc_dropout, set_dropout
from backend.errors import InvalidRecipeError
from backend.sliders.catalog import get_slider

S = len(AGENT_SLIDERS)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _net(seed: int = 0, **kwargs: object) -> AgentNet:
    torch.manual_seed(seed)
    return AgentNet(**kwargs).eval()  # type: ignore[arg-type]


def _inputs(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    thumb = torch.rand(n, 3, 64, 64, generator=g) * 0.8
    step = torch.randint(0, 5, (n,), generator=g)
    used = torch.rand(n, S, generator=g) < 0.3
    return thumb, step, used


@pytest.mark.parametrize("n", [1, 3])
def test_output_shapes(n: int) -> None:
    net = _net()
    out = net(*_inputs(n))
    assert out.logits.shape == (n, S + 1)
    assert out.state_value.shape == (n,)
    assert tuple(out.values) == AGENT_SLIDERS
    for name, value in out.values.items():
        spec = get_slider(name)
        assert value.shape == (n, *spec.shape)
        assert value.min() >= spec.minimum and value.max() <= spec.maximum


def test_used_sliders_are_masked_and_stop_is_always_allowed() -> None:
    net = _net()
    thumb, step, used = _inputs(6, seed=1)
    used[0] = True  # everything used: only stop remains
    used[1] = False
    with torch.no_grad():  # make the policy prefer exactly the sliders that are used
        net.policy_head.bias.copy_(torch.tensor([50.0] * S + [-50.0]))
    out = net(thumb, step, used)
    assert torch.isneginf(out.logits[:, :S][used]).all()
    assert torch.isfinite(out.logits[:, :S][~used]).all()
    assert torch.isfinite(out.logits[:, STOP]).all()
    choice = out.logits.argmax(dim=1)
    assert choice[0] == STOP
    for i in range(1, 6):
        assert choice[i] == STOP or not used[i, choice[i]]
    assert choice[1] != STOP  # nothing used and the policy prefers sliders


def test_subset_of_sliders_and_config() -> None:
    net = _net(sliders=("exposure", "tone_curve"), max_steps=3, width=8, dropout=0.2)
    assert net.config() == {
        "sliders": ["exposure", "tone_curve"],
        "max_steps": 3,
        "width": 8,
        "dropout": 0.2,
        "thumb": 64,
        "oneshot": False,
        "encoder": "cnn",
    }
    out = net(torch.rand(2, 3, 64, 64), torch.tensor([0, 7]), torch.zeros(2, 2, dtype=torch.bool))
    assert out.logits.shape == (2, 3) and set(out.values) == {"exposure", "tone_curve"}
    with pytest.raises(InvalidRecipeError):
        AgentNet(sliders=("clarity",))
    with pytest.raises(InvalidRecipeError):
        AgentNet(sliders=("exposure", "exposure"))
    with pytest.raises(ValueError):
        AgentNet(width=7)


def test_bad_inputs_are_refused() -> None:
    net = _net()
    thumb, step, used = _inputs(2)
    with pytest.raises(ValueError, match="thumb"):
        net(torch.rand(2, 3, 32, 32), step, used)
    with pytest.raises(ValueError, match="step"):
        net(thumb, step.float(), used)
    with pytest.raises(ValueError, match="used"):
        net(thumb, step, used[:, :3])


def test_eval_is_deterministic_and_dropout_variants_are_seeded() -> None:
    net = _net()
    inputs = _inputs(1, seed=2)
    a, b = net(*inputs), net(*inputs)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.values["exposure"], b.values["exposure"])
    rng_before = torch.random.get_rng_state()
    with mc_dropout(net, 5):
        v1 = net(*inputs).values["hsl"]
    with mc_dropout(net, 5):
        v2 = net(*inputs).values["hsl"]
    with mc_dropout(net, 6):
        v3 = net(*inputs).values["hsl"]
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    assert torch.equal(v1, v2)
    assert not torch.equal(v1, v3)
    assert not torch.equal(v1, a.values["hsl"])
    assert not any(m.training for m in net.modules())  # modes restored
    set_dropout(net, True)
    assert all(m.training for m in net.modules() if isinstance(m, torch.nn.Dropout))
    assert not net.encoder.training


def test_gradients_reach_every_head() -> None:
    net = _net().train()
    out = net(*_inputs(2, seed=3))
    finite = torch.isfinite(out.logits)
    loss = out.logits[finite].sum() + sum(v.sum() for v in out.values.values()) + out.state_value.sum()
    loss.backward()
    for module in (net.policy_head, net.value_head, net.critic_head, net.encoder[0]):
        assert module.weight.grad is not None and module.weight.grad.abs().sum() > 0


def test_image_statistics() -> None:
    grey = torch.full((1, 3, 16, 16), 0.18)
    stats = image_statistics(grey)
    expected = torch.log2(torch.tensor(0.18)) / 4
    assert stats.shape == (1, 9)
    assert torch.allclose(stats[0, 0], expected, atol=1e-6)  # mean
    assert stats[0, 1].abs() < 1e-6  # std
    assert torch.allclose(stats[0, 2:7], expected.expand(5), atol=1e-6)  # quantiles
    assert stats[0, 7] == 0 and stats[0, 8] == 0
    half = grey.clone()
    half[..., :8] = 1.0
    half_stats = image_statistics(half)
    assert half_stats[0, 7] == pytest.approx(0.5)  # half the pixels are clipped
    assert half_stats[0, 0] > stats[0, 0]
    ramp = torch.linspace(0.01, 1.0, 256).reshape(1, 1, 16, 16).expand(1, 3, 16, 16)
    q = image_statistics(ramp)[0, 2:7]
    assert (q[1:] > q[:-1]).all()


def test_network_is_small() -> None:
    net = _net()
    n_bytes = sum(p.numel() * p.element_size() for p in net.parameters())
    assert n_bytes < 4 << 20, f"{n_bytes} bytes of parameters"


def test_stats_encoder_has_no_convolutions_and_reads_colour() -> None:
    net = AgentNet(sliders=("exposure", "temperature"), width=8, thumb=32, dropout=0.0, encoder="stats")
    assert not any(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    assert net.config()["encoder"] == "stats"
    grey = torch.full((1, 3, 32, 32), 0.2)
    warm = grey * torch.tensor([1.3, 1.0, 0.7]).reshape(1, 3, 1, 1)
    step, used = torch.zeros(2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.bool)
    out = net(torch.cat((grey, warm)), step, used)
    assert not torch.allclose(out.values["temperature"][0], out.values["temperature"][1])  # colour reaches the MLP
    with pytest.raises(ValueError, match="encoder"):
        AgentNet(encoder="vit")


def test_an_untrained_oneshot_net_proposes_the_identity() -> None:
    net = AgentNet(sliders=("exposure", "tone_curve"), width=8, thumb=32, oneshot=True).eval()
    out = net(torch.rand(2, 3, 32, 32), torch.zeros(2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.bool))
    assert torch.equal(out.values["exposure"], torch.zeros(2))
    assert torch.allclose(out.values["tone_curve"], torch.tensor(get_slider("tone_curve").identity).expand(2, -1))
