"""Roll the agent out on thumbnails: a few steps of "pick a slider, set its value", then a recipe.

Step ``t`` (0-based) of :func:`rollout`: the net sees the current state image (the thumbnail rendered with
the settings chosen so far, in pipeline order, as :func:`backend.render.pipeline.render` does; the
:class:`IncrementalRenderer` re-runs only the stages from the first changed one), the step index
and the used-slider mask; it picks an action (argmax, or a sample from ``softmax(logits)`` drawn with
``generator``); the stop action ends that item's episode, any other action sets the chosen slider to the
value the net proposes for it. Each slider is used at most once; an episode lasts at most ``max_steps``
steps. Batches are rolled out together: items that stopped stay inactive (their later actions are
recorded as stop with zero log-probability and entropy).

Everything is differentiable when called with gradients enabled (the trainer relies on it): slider
values flow into the rendered states and the final image; log-probabilities and entropies are those of
the chosen actions. Inference wraps the call in ``torch.inference_mode()``.

A one-shot net (``net.oneshot``) makes a single decision: it sees the unedited thumbnail once and every one of its
sliders takes the value it proposes; each item's recipe lists, in pipeline order, the sliders whose value is not
negligible (:func:`~backend.agent.actions.is_negligible`), while ``Trajectory.settings`` and the rendered image use
every proposed value (the moves left out are too small to see).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from backend.agent.actions import identity_value, is_negligible
from backend.agent.network import AgentNet
from backend.recipe import Recipe
from backend.render.pipeline import STAGES, prepare_settings
from backend.sliders.catalog import get_slider

__all__ = ["IncrementalRenderer", "Trajectory", "TrajectoryStep", "rollout"]


@dataclass(frozen=True)
class TrajectoryStep:
    """One decision of a batch of episodes.

    Attributes:
        action: ``(N,)`` long, index into ``net.sliders`` or ``len(net.sliders)`` for stop (inactive items: stop).
        active: ``(N,)`` bool, whether the item was still editing at this step (before its action).
        logits: ``(N, S + 1)`` masked policy logits.
        log_prob: ``(N,)`` log-probability of ``action`` (0 for inactive items).
        entropy: ``(N,)`` entropy of the policy (0 for inactive items).
        state_value: ``(N,)`` critic estimate of the state before the action.
        values: slider name -> ``(N, *spec.shape)`` bounded value, for every slider some active item chose
            at this step (rows of the other items are the net's proposals, unused).
        sliders: per item, the slider it set at this step, or ``None`` (stop or inactive).
        proposals: slider name -> ``(N, *spec.shape)`` bounded value the net proposed for *every* slider at
            this step (chosen or not; the trainer scores all of them).
    """

    action: Tensor
    active: Tensor
    logits: Tensor
    log_prob: Tensor
    entropy: Tensor
    state_value: Tensor
    values: dict[str, Tensor]
    sliders: tuple[str | None, ...]
    proposals: dict[str, Tensor]

    @property
    def slider(self) -> str | None:
        """The slider set at this step (batches of one only; ``None`` for stop)."""
        _single(len(self.sliders))
        return self.sliders[0]

    @property
    def value(self) -> Tensor | None:
        """The value set at this step, shape ``spec.shape`` (batches of one only; ``None`` for stop)."""
        name = self.slider
        return None if name is None else self.values[name][0]


@dataclass(frozen=True)
class Trajectory:
    """A rolled-out batch of episodes.

    Attributes:
        steps: the decisions, in order (at most ``max_steps``).
        settings: slider name -> ``(N, *spec.shape)`` final values for every slider any item set (items
            that did not set it hold its identity), in order of first use.
        orders: per item, the sliders it set, in the order it set them.
        used: ``(N, S)`` bool, final used-slider mask over ``net.sliders``.
        image: ``(N, 3, h, w)`` the thumbnail rendered with ``settings``, or ``None`` when not asked for.
    """

    steps: tuple[TrajectoryStep, ...]
    settings: dict[str, Tensor]
    orders: tuple[tuple[str, ...], ...]
    used: Tensor
    image: Tensor | None

    @property
    def log_prob(self) -> Tensor:
        """``(N,)`` total log-probability of each item's actions."""
        return torch.stack([s.log_prob for s in self.steps]).sum(dim=0)

    @property
    def entropy(self) -> Tensor:
        """``(N,)`` summed policy entropy over each item's active steps."""
        return torch.stack([s.entropy for s in self.steps]).sum(dim=0)

    def recipes(self, *, style: str | None = None, model: str | None = None) -> list[Recipe]:
        """One :class:`~backend.recipe.Recipe` per item: its sliders in decision order, identity values dropped."""
        out = []
        for i, order in enumerate(self.orders):
            values = {name: self.settings[name][i].detach().cpu().tolist() for name in order}
            out.append(Recipe.from_settings(values, style=style, model=model))
        return out

    def recipe(self, *, style: str | None = None, model: str | None = None) -> Recipe:
        """The recipe of a batch of one."""
        _single(len(self.orders))
        return self.recipes(style=style, model=model)[0]


class IncrementalRenderer:
    """``render(image, settings)`` for a growing set of settings, re-running only the stages that changed.

    Gives exactly :func:`backend.render.pipeline.render`'s result (the same stage functions on the same
    inputs, in pipeline order) but keeps the image entering every stage from the previous call: when a
    step adds a slider of stage ``k``, stages before ``k`` are not computed again. A setting counts as
    changed when its tensor object is not the one of the previous call (so replace, never modify in place).

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020, the unedited image.
    """

    def __init__(self, image: Tensor) -> None:
        self.image = image
        self._stage_of: dict[str, int] = {}
        self._inputs: list[Tensor | None] = [None] * len(STAGES)
        self._inputs[0] = image
        self._last: dict[str, Tensor] = {}
        self._output: Tensor | None = None

    def __call__(self, settings: Mapping[str, Tensor]) -> Tensor:
        """The image rendered with ``settings`` (slider name -> ``(N, *shape)`` or ``shape`` tensor)."""
        stages = list(STAGES)
        changed = [
            stages.index(get_slider(name).stage)
            for name in {*settings, *self._last}
            if settings.get(name) is not self._last.get(name)
        ]
        if not changed and self._output is not None:
            return self._output
        first = 0 if self._output is None else min(changed)
        values = prepare_settings(settings, self.image.shape[0], self.image.dtype, self.image.device)
        image = self._inputs[first]
        assert image is not None
        for k in range(first, len(stages)):
            self._inputs[k] = image
            stage_values = {name: v for name, v in values.items() if get_slider(name).stage == stages[k]}
            if stage_values:
                image = STAGES[stages[k]](image, stage_values)
        self._last = dict(settings)
        self._output = image
        return image


def _single(n: int) -> None:
    if n != 1:
        raise ValueError(f"this property needs a batch of one, the trajectory has {n} items")


def _entropy(logits: Tensor) -> Tensor:
    logp = torch.log_softmax(logits, dim=1)
    finite = torch.isfinite(logp)
    logp = torch.where(finite, logp, torch.zeros_like(logp))  # masked actions: p = 0, no NaN gradient
    return -(logp.exp() * logp * finite).sum(dim=1)


def _choose(logits: Tensor, greedy: bool, generator: torch.Generator | None) -> Tensor:
    if greedy:
        return logits.argmax(dim=1)
    probs = torch.softmax(logits.detach(), dim=1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def _set_values(
    settings: Mapping[str, Tensor], values: Mapping[str, Tensor], chosen: Tensor, name: str, n: int
) -> Tensor:
    """``settings[name]`` with the rows where ``chosen`` is True replaced by the net's value."""
    value = values[name]
    prev = settings[name] if name in settings else identity_value(name, n, dtype=value.dtype, device=value.device)
    mask = chosen.reshape(n, *([1] * (value.ndim - 1)))
    return torch.where(mask, value, prev)


# Long: one decision loop (mask, sample, render, record per step); its state lives in the loop's locals, and the docstring states every argument.
def rollout(
    net: AgentNet,
    thumb: Tensor,
    *,
    max_steps: int | None = None,
    greedy: bool = True,
    generator: torch.Generator | None = None,
    render_final: bool = True,
    detach_state: bool = False,
) -> Trajectory:
    """Run the agent on a batch of thumbnails.

    Args:
        net: the agent (its train/eval mode and dropout state are used as they are).
        thumb: ``(N, 3, net.thumb, net.thumb)`` linear Rec.2020 thumbnails of the unedited photos.
        max_steps: at most this many decisions (default and upper bound: ``net.max_steps``).
        greedy: take the most likely action (``True``) or sample one from the policy.
        generator: random generator for sampling (``None``: torch's global one); ignored when greedy.
        render_final: also render the thumbnail with the final settings (``Trajectory.image``).
        detach_state: feed the net detached state images (no gradient through the net's input).

    Returns:
        The :class:`Trajectory`.
    """
    if net.oneshot:
        return _rollout_oneshot(net, thumb, render_final=render_final)
    steps_max = net.max_steps if max_steps is None else min(int(max_steps), net.max_steps)
    n, s = thumb.shape[0], len(net.sliders)
    device = thumb.device
    used = torch.zeros(n, s, dtype=torch.bool, device=device)
    active = torch.ones(n, dtype=torch.bool, device=device)
    stop = torch.full((n,), s, dtype=torch.long, device=device)
    settings: dict[str, Tensor] = {}
    orders: list[list[str]] = [[] for _ in range(n)]
    steps: list[TrajectoryStep] = []
    state = thumb
    renderer = IncrementalRenderer(thumb)
    for t in range(steps_max):
        out = net(state.detach() if detach_state else state, torch.full((n,), t, dtype=torch.long, device=device), used)
        action = torch.where(active, _choose(out.logits, greedy, generator), stop)
        logp_all = torch.log_softmax(out.logits, dim=1)
        log_prob = torch.where(
            active, logp_all.gather(1, action[:, None]).squeeze(1), torch.zeros_like(out.state_value)
        )
        entropy = torch.where(active, _entropy(out.logits), torch.zeros_like(out.state_value))
        actions = action.tolist()
        chosen_names = [net.sliders[a] if a < s else None for a in actions]
        step_values: dict[str, Tensor] = {}
        for name in dict.fromkeys(c for c in chosen_names if c is not None):
            chosen = action == net.sliders.index(name)
            settings[name] = _set_values(settings, out.values, chosen, name, n)
            step_values[name] = out.values[name]
        for i, name in enumerate(chosen_names):
            if name is not None:
                orders[i].append(name)
        steps.append(
            TrajectoryStep(
                action=action,
                active=active,
                logits=out.logits,
                log_prob=log_prob,
                entropy=entropy,
                state_value=out.state_value,
                values=step_values,
                sliders=tuple(chosen_names),
                proposals=dict(out.values),
            )
        )
        moved = active & (action != stop)
        used = used | torch.nn.functional.one_hot(action, s + 1)[:, :s].bool() & moved[:, None]
        active = moved
        if not bool(active.any()):
            break
        if t + 1 < steps_max:
            state = renderer(settings)
    image = renderer(settings) if render_final else None
    return Trajectory(
        steps=tuple(steps),
        settings=settings,
        orders=tuple(tuple(o) for o in orders),
        used=used,
        image=image,
    )


def pipeline_order(sliders: tuple[str, ...]) -> tuple[str, ...]:
    """``sliders`` sorted by the pipeline stage they belong to (ties keep their order)."""
    stages = list(STAGES)
    return tuple(sorted(sliders, key=lambda name: stages.index(get_slider(name).stage)))


def _rollout_oneshot(net: AgentNet, thumb: Tensor, *, render_final: bool) -> Trajectory:
    """One decision that sets every slider of a one-shot net (see the module docstring)."""
    n, s = thumb.shape[0], len(net.sliders)
    device = thumb.device
    used = torch.zeros(n, s, dtype=torch.bool, device=device)
    out = net(thumb, torch.zeros(n, dtype=torch.long, device=device), used)
    names = pipeline_order(net.sliders)
    settings = {name: out.values[name] for name in names}
    keep = {name: (~is_negligible(name, settings[name].detach())).tolist() for name in names}
    orders = tuple(tuple(name for name in names if keep[name][i]) for i in range(n))
    zeros = torch.zeros(n, dtype=out.state_value.dtype, device=device)
    step = TrajectoryStep(
        action=torch.full((n,), s, dtype=torch.long, device=device),
        active=torch.ones(n, dtype=torch.bool, device=device),
        logits=out.logits,
        log_prob=zeros,
        entropy=zeros,
        state_value=out.state_value,
        values=dict(settings),
        sliders=(None,) * n,
        proposals=dict(out.values),
    )
    used = torch.tensor([[name in order for name in net.sliders] for order in orders], dtype=torch.bool, device=device)
    image = IncrementalRenderer(thumb)(settings) if render_final else None
    return Trajectory(steps=(step,), settings=settings, orders=orders, used=used, image=image)
