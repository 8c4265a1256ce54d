"""Behaviour cloning of an expert's slider sequence: teacher-forced samples, the loss, and its evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional

from backend.agent.network import AgentNet
from backend.agent.rollout import rollout
from backend.render.pipeline import render
from backend.sliders.catalog import get_slider
from trainer.imitation_data import ExpertData
from trainer.pseudo_labels import pipeline_rank

__all__ = ["Samples", "evaluate_imitation", "imitation_loss", "teacher_forcing"]


@dataclass
class Samples:
    """Teacher-forced states with their targets (``M`` states over all photos).

    Attributes:
        states: ``(M, 3, T, T)`` state images (input rendered with the expert's first ``t`` steps).
        steps: ``(M,)`` long, the step index ``t``.
        used: ``(M, S)`` bool, sliders set in the first ``t`` steps.
        actions: ``(M,)`` long, the expert's next action (slider index, or ``S`` for STOP).
        values: slider -> ``(M, *shape)`` target value (rows of other actions hold the identity).
        photo: ``(M,)`` long, index of the photo.
    """

    states: Tensor
    steps: Tensor
    used: Tensor
    actions: Tensor
    values: dict[str, Tensor]
    photo: Tensor

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    def take(self, index: Tensor) -> Samples:
        """The samples at ``index`` (a long tensor)."""
        return Samples(
            states=self.states[index],
            steps=self.steps[index],
            used=self.used[index],
            actions=self.actions[index],
            values={k: v[index] for k, v in self.values.items()},
            photo=self.photo[index],
        )


@torch.no_grad()
def teacher_forcing(data: ExpertData, sliders: Sequence[str], max_steps: int, *, chunk: int = 256) -> Samples:
    """The states and targets of every photo's expert sequence (module docstring, point 3).

    States are rendered in batches of ``chunk`` photos per step index (per-photo slider values; sliders a
    photo has not set yet are at identity). Samples are ordered by step index, then photo.
    """
    sliders = tuple(sliders)
    s = len(sliders)
    n_states = [len(t.order) + (1 if len(t.order) < max_steps else 0) for t in data.targets]
    states, steps, used, actions, photo = [], [], [], [], []
    values: dict[str, list[Tensor]] = {name: [] for name in sliders}
    identity = {name: torch.as_tensor(get_slider(name).identity, dtype=torch.float32) for name in sliders}
    for t in range(max(n_states)):
        rows = [p for p, k in enumerate(n_states) if k > t]
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            names = sorted({n for p in part for n in data.targets[p].order[:t]}, key=pipeline_rank)
            settings = {
                name: torch.stack(
                    [
                        torch.as_tensor(data.targets[p].values[name], dtype=torch.float32)
                        if name in data.targets[p].order[:t]
                        else identity[name]
                        for p in part
                    ]
                )
                for name in names
            }
            thumbs = data.thumbs[part]
            states.append(render(thumbs, settings) if settings else thumbs)
        for p in rows:
            target = data.targets[p]
            mask = torch.zeros(s, dtype=torch.bool)
            for name in target.order[:t]:
                mask[sliders.index(name)] = True
            chosen = target.order[t] if t < len(target.order) else None
            steps.append(t)
            used.append(mask)
            photo.append(p)
            actions.append(s if chosen is None else sliders.index(chosen))
            for other in sliders:
                values[other].append(
                    torch.as_tensor(target.values[other], dtype=torch.float32) if other == chosen else identity[other]
                )
    return Samples(
        states=torch.cat(states),
        steps=torch.tensor(steps, dtype=torch.long),
        used=torch.stack(used),
        actions=torch.tensor(actions, dtype=torch.long),
        values={k: torch.stack(v) for k, v in values.items()},
        photo=torch.tensor(photo, dtype=torch.long),
    )


def _loss_sums(net: AgentNet, batch: Samples) -> tuple[Tensor, Tensor, Tensor, int]:
    """Summed cross-entropy, summed normalised value error (over states with a slider target), correct choices."""
    out = net(batch.states, batch.steps, batch.used)
    ce = functional.cross_entropy(out.logits, batch.actions, reduction="sum")
    errors = []
    for k, name in enumerate(net.sliders):
        rows = batch.actions == k
        if not bool(rows.any()):
            continue
        spec = get_slider(name)
        err = (out.values[name][rows] - batch.values[name][rows]) / (spec.maximum - spec.minimum)
        errors.append(err.pow(2).flatten(1).mean(dim=1) if err.ndim > 1 else err.pow(2))
    value = torch.cat(errors).sum() if errors else ce.new_zeros(())
    correct = (out.logits.argmax(dim=1) == batch.actions).sum()
    return ce, value, correct, sum(len(e) for e in errors)


def imitation_loss(net: AgentNet, batch: Samples, value_weight: float) -> tuple[Tensor, dict[str, float]]:
    """Cross-entropy on the expert's choice plus the normalised value error of the chosen slider (module docstring).

    Returns:
        (loss, ``{"loss", "ce", "value", "accuracy"}`` as floats): ``ce`` is the mean over the states, ``value``
        the mean over the states whose target is a slider.
    """
    ce_sum, value_sum, correct, n_value = _loss_sums(net, batch)
    n = len(batch)
    ce, value = ce_sum / n, value_sum / max(n_value, 1)
    loss = ce + value_weight * value
    return loss, {"loss": loss.item(), "ce": ce.item(), "value": value.item(), "accuracy": correct.item() / n}


@torch.no_grad()
def evaluate_imitation(
    net: AgentNet, samples: Samples, data: ExpertData, value_weight: float, *, chunk: int = 256
) -> dict[str, float]:
    """Losses over all samples (dropout off) and the greedy policy's agreement with the expert.

    Returns:
        ``loss``, ``ce``, ``value``, ``accuracy`` (as :func:`imitation_loss`, over every state),
        ``first_slider_accuracy`` (the greedy rollout's first action is the expert's first, STOP when the expert
        did nothing) and ``sequence_accuracy`` (the same slider sequence).
    """
    was_training = net.training
    net.eval()
    try:
        ce = value = correct = 0.0
        n_value = 0
        for start in range(0, len(samples), chunk):
            sums = _loss_sums(net, samples.take(torch.arange(start, min(start + chunk, len(samples)))))
            ce, value, correct = ce + sums[0].item(), value + sums[1].item(), correct + sums[2].item()
            n_value += sums[3]
        n = len(samples)
        out = {"ce": ce / n, "value": value / max(n_value, 1), "accuracy": correct / n}
        out["loss"] = out["ce"] + value_weight * out["value"]
        orders: list[tuple[str, ...]] = []
        for start in range(0, data.thumbs.shape[0], chunk):
            orders += rollout(net, data.thumbs[start : start + chunk], greedy=True, render_final=False).orders
        pairs = list(zip(orders, data.targets, strict=True))
        first = [(o[0] if o else None) == (t.order[0] if t.order else None) for o, t in pairs]
        out["first_slider_accuracy"] = sum(first) / len(first)
        out["sequence_accuracy"] = sum(o == t.order for o, t in pairs) / len(pairs)
        return out
    finally:
        net.train(was_training)
