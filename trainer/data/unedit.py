"""The built-in pool of "unedited-looking" inputs, made by randomly un-editing the favourites.

Without ``--sources`` the trainer needs inputs to retouch. It makes them from the targets themselves, in our
own slider space, by rendering each target with random slider values that undo a typical edit
(:func:`random_unedit_settings`):

* ``exposure``: a random shift, uniform in ``[-unedit_exposure, +unedit_exposure]`` EV;
* ``tone_curve``: contrast flattened by an inverse S-curve. In sRGB-encoded values ``e`` the curve is
  ``e + k sin(2 pi e) / (2 pi)`` with ``k`` uniform in ``[0, unedit_flatten]`` (monotone for ``k < 1``,
  endpoints fixed: it brightens the shadows and darkens the highlights), sampled at the catalog's
  ``CURVE_KNOTS`` and decoded back to linear light;
* ``temperature`` / ``tint``: a random white-balance shift, uniform in ``[-x, +x]``;
* ``saturation``: desaturation, uniform in ``[-unedit_desaturate, 0]``.

Values are clamped to the catalog ranges. The agent then learns to edit such inputs back towards the look of
the favourites; since the training never pairs an un-edited input with its own target, this is still unpaired
training (the critic only ever compares distributions).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from backend.render.color import srgb_decode, srgb_encode
from backend.render.pipeline import render
from backend.sliders.catalog import CURVE_KNOTS, get_slider
from trainer.config import DataConfig

__all__ = ["apply_unedit", "inverse_s_curve", "random_unedit_settings"]


def inverse_s_curve(k: float) -> list[float]:
    """Tone-curve slider value (linear outputs at ``CURVE_KNOTS``) that flattens contrast with strength ``k``.

    Args:
        k: strength in ``[0, 1)``; 0 is the identity curve.

    Returns:
        7 non-decreasing linear values in [0, 1].
    """
    knots = torch.tensor(CURVE_KNOTS, dtype=torch.float64)
    e = srgb_encode(knots.reshape(1, 1, -1).expand(1, 3, -1))[0, 0]
    e_out = e + k * torch.sin(2.0 * math.pi * e) / (2.0 * math.pi)
    y = srgb_decode(e_out.clamp(0.0, 1.0).reshape(1, 1, -1).expand(1, 3, -1))[0, 0]
    y = torch.cummax(y, dim=0).values  # guard rounding: exactly non-decreasing
    return [float(v) for v in y]


def _clamp(name: str, value: float) -> float:
    spec = get_slider(name)
    return float(min(max(value, spec.minimum), spec.maximum))


def random_unedit_settings(cfg: DataConfig, rng: np.random.Generator) -> dict[str, float | list[float]]:
    """One random un-edit (see the module docstring), as renderer settings.

    Args:
        cfg: the data configuration (``unedit_*`` ranges).
        rng: random source.

    Returns:
        slider name -> value in catalog units.
    """
    return {
        "exposure": _clamp("exposure", rng.uniform(-cfg.unedit_exposure, cfg.unedit_exposure)),
        "tone_curve": inverse_s_curve(float(rng.uniform(0.0, cfg.unedit_flatten))),
        "temperature": _clamp("temperature", rng.uniform(-cfg.unedit_temperature, cfg.unedit_temperature)),
        "tint": _clamp("tint", rng.uniform(-cfg.unedit_tint, cfg.unedit_tint)),
        "saturation": _clamp("saturation", -rng.uniform(0.0, cfg.unedit_desaturate)),
    }


@torch.no_grad()
def apply_unedit(images: Tensor, settings: dict[str, float | list[float]]) -> Tensor:
    """Render an un-edit onto ``(N, 3, H, W)`` linear Rec.2020 images (returns the same shape, not clamped)."""
    return render(images, settings)
