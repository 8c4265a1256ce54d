"""Evaluation on the held-out inputs: critic gap, look statistics against the favourites, slider usage.

There are no ground-truth pairs in unpaired training, so the numbers compare *distributions*:

* ``critic_gap_before`` / ``critic_gap_after``: ``mean D(favourites) - mean D(inputs)`` and the same for the
  agent's results (smaller after = the critic finds the results closer to the favourites);
* ``look_dist_before`` / ``look_dist_after``: Euclidean distance between the mean "look" vector of the
  favourites and that of the inputs / results. The look of an image (:func:`look_statistics`) is its mean and
  spread of log2 luminance (stops), its mean chroma and its warmth, in sRGB-encoded values;
* ``edits``: sliders used per photo, and ``use_<slider>``: the fraction of photos that use each slider.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from backend.agent.network import AgentNet
from backend.agent.rollout import rollout
from backend.agent.thumbnail import make_thumbnail
from backend.render.color import REC2020_LUMINANCE, srgb_encode
from backend.render.pipeline import render
from backend.sliders.catalog import get_slider
from trainer.critic import Critic

__all__ = ["Evaluation", "evaluate", "look_statistics"]


def look_statistics(image: Tensor) -> Tensor:
    """``(N, 4)`` look of ``(N, 3, H, W)`` linear Rec.2020 images.

    Columns: mean and standard deviation of ``log2(max(Y, 2^-10))`` (stops), mean chroma
    (``max - min`` of the sRGB-encoded channels, 0..1) and warmth (mean encoded ``R - B``, -1..1).
    """
    w = torch.as_tensor(REC2020_LUMINANCE, dtype=image.dtype, device=image.device)
    lum = torch.einsum("c,nchw->nhw", w, image).clamp_min(2.0**-10).log2().flatten(1)
    enc = srgb_encode(image.clamp(0.0, 1.0))
    chroma = (enc.amax(dim=1) - enc.amin(dim=1)).flatten(1).mean(dim=1)
    warmth = (enc[:, 0] - enc[:, 2]).flatten(1).mean(dim=1)
    return torch.stack((lum.mean(dim=1), lum.std(dim=1, unbiased=False), chroma, warmth), dim=1)


@dataclass(frozen=True)
class Evaluation:
    """Result of :func:`evaluate`.

    Attributes:
        metrics: the numbers (see the module docstring).
        before: ``(E, 3, S, S)`` the inputs at the evaluation size.
        after: ``(E, 3, S, S)`` the agent's results at the evaluation size.
        captions: per photo, the short names of the sliders used in decision order.
    """

    metrics: dict[str, float]
    before: Tensor
    after: Tensor
    captions: tuple[str, ...]


@torch.no_grad()
def evaluate(net: AgentNet, critic: Critic, sources: Tensor, targets: Tensor, *, chunk: int = 32) -> Evaluation:
    """Run the agent greedily (dropout off) on held-out inputs and compare with the favourites.

    Args:
        net: the agent (its train/eval mode is restored afterwards).
        critic: the critic.
        sources: ``(E, 3, S, S)`` held-out inputs (linear Rec.2020).
        targets: ``(T, 3, S, S)`` favourites.
        chunk: photos per rollout batch.

    Returns:
        :class:`Evaluation`.
    """
    was_training = net.training
    net.eval()
    try:
        afters, captions, usage = [], [], {name: 0.0 for name in net.sliders}
        edits = 0.0
        for i in range(0, sources.shape[0], chunk):
            src = sources[i : i + chunk]
            traj = rollout(net, make_thumbnail(src, net.thumb), greedy=True, render_final=False)
            afters.append(render(src, traj.settings))
            for order in traj.orders:
                captions.append(" ".join(get_slider(name).short for name in order) or "(none)")
                edits += len(order)
                for name in order:
                    usage[name] += 1.0
        after = torch.cat(afters)
    finally:
        net.train(was_training)
    e = max(sources.shape[0], 1)
    t_thumb = make_thumbnail(targets, net.thumb)
    s_thumb = make_thumbnail(sources, net.thumb)
    a_thumb = make_thumbnail(after, net.thumb)
    d_t, d_s, d_a = (critic(x).mean().item() for x in (t_thumb, s_thumb, a_thumb))
    look_t = look_statistics(targets).mean(dim=0)
    metrics = {
        "critic_gap_before": d_t - d_s,
        "critic_gap_after": d_t - d_a,
        "look_dist_before": float((look_statistics(sources).mean(dim=0) - look_t).norm().item()),
        "look_dist_after": float((look_statistics(after).mean(dim=0) - look_t).norm().item()),
        "edits": edits / e,
    } | {f"use_{name}": count / e for name, count in usage.items()}
    return Evaluation(metrics=metrics, before=sources, after=after, captions=tuple(captions))
