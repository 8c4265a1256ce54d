"""Where real unedited photos sit relative to the favourites: the un-edit centre fitted to ``--sources``.

With ``--sources`` the restoration trainer knows what the photos it will retouch look like before editing. It fits
one global recipe ``g`` (a few scalar sliders) such that the favourites rendered with ``g`` have, on average, the
same look statistics as the sources (:func:`look_descriptor`: log-luminance mean, spread and quantiles, mean
CIELAB a*/b* and chroma). ``g`` is the typical "un-edit" that separates the two sets, and the un-edit distribution
of :mod:`trainer.data.unedit` is centred on it: an agent that learns to undo those un-edits applies the inverse of
``g``, adapted to each photo. Content differences between the two sets average out over the photos; a small
penalty keeps ``g`` near the identity where the statistics do not decide.
"""

from __future__ import annotations

import torch
from torch import Tensor

from backend.agent.actions import bound_value
from backend.agent.look import look_descriptor
from backend.render.pipeline import render

__all__ = ["FIT_SLIDERS", "fit_unedit_centre", "look_descriptor"]

#: Sliders of the fitted un-edit centre.
FIT_SLIDERS: tuple[str, ...] = ("exposure", "contrast", "saturation", "temperature", "tint")


def fit_unedit_centre(
    targets: Tensor,
    sources: Tensor,
    *,
    iters: int = 150,
    lr: float = 0.05,
    penalty: float = 0.1,
    sliders: tuple[str, ...] = FIT_SLIDERS,
) -> dict[str, float]:
    """Fit the global recipe that makes the favourites look like the sources on average.

    Args:
        targets: ``(Nt, 3, S, S)`` favourites, linear Rec.2020 (small thumbnails suffice, e.g. 32 px).
        sources: ``(Ns, 3, S', S')`` unedited photos, linear Rec.2020.
        iters: Adam iterations.
        lr: Adam learning rate on the unbounded slider parameters.
        penalty: weight of ``sum z^2`` on the unbounded parameters (pulls towards the identity).
        sliders: the sliders to fit (a subset of :data:`FIT_SLIDERS`).

    Returns:
        slider name -> value in catalog units.
    """
    with torch.no_grad():
        goal = look_descriptor(sources.float()).mean(dim=0)
    z = torch.zeros(len(sliders), requires_grad=True)
    opt = torch.optim.Adam([z], lr=lr)
    targets = targets.float()
    for _ in range(iters):
        settings = {name: bound_value(name, z[i : i + 1])[0] for i, name in enumerate(sliders)}
        got = look_descriptor(render(targets, settings)).mean(dim=0)
        loss = ((got - goal) ** 2).sum() + penalty * (z**2).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return {name: float(bound_value(name, z[i : i + 1].detach())[0]) for i, name in enumerate(sliders)}
