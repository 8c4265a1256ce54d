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

The restoration trainer (:mod:`trainer.restore`) pairs them, and needs un-edits that look like real unedited
photos. :func:`photographer_unedit_settings` draws the *inverse of a real photographer's correction*: each move is
normal with the negated mean and the spread of the corrections in 3,449 real Lightroom PV2012 develop settings of one
photographer's catalog (``../shared/data/lightroom_edits``; only these summary numbers are used):

============  ===========================  ===============================================================
slider        real correction (mean, sd)   un-edit drawn here (mean, sd)
============  ===========================  ===============================================================
exposure      +0.87, 0.50 EV               -0.87, 0.50 EV (unedited camera output is about 1 EV too dark)
contrast      -3, 22                       +3, 22
highlights    -58, 34                      +29, 17  (half: see below)
shadows       +13, 23                      -6, 12   (half)
whites        -66, 34                      +33, 17  (half)
blacks        -17, 37                      +8, 18   (half)
vibrance      0, 9                         0, 9
saturation    +4, 8                        -4, 8
temperature   (mixed units in the data)    0, 15 mired
tint          +2, 16                       0, 8
tone_curve    --                           inverse S-curve, k uniform in [0, 0.5]
============  ===========================  ===============================================================

The four tone sliders are drawn at half the real magnitude: a photographer's -60 highlights recovers a raw file's
headroom, which a finished favourite no longer has, and the full inverse clips highlights that no slider can bring
back. A share ``overexposed`` of the un-edits draws exposure uniformly in +-``overexposed_ev`` instead, so that
over-exposed inputs are seen too. All moves are multiplied by ``scale`` around the centre, which may be replaced by
a recipe fitted to real unedited photos (:func:`trainer.restore_fit.fit_unedit_centre`).
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

__all__ = [
    "PHOTOGRAPHER_UNEDIT",
    "apply_unedit",
    "inverse_s_curve",
    "jitter_settings",
    "photographer_unedit_settings",
    "random_unedit_settings",
]

#: Un-edit moves of :func:`photographer_unedit_settings`: slider -> (mean, standard deviation), catalog units.
PHOTOGRAPHER_UNEDIT: dict[str, tuple[float, float]] = {
    "exposure": (-0.87, 0.50),
    "contrast": (3.0, 22.0),
    "highlights": (29.0, 17.0),
    "shadows": (-6.0, 12.0),
    "whites": (33.0, 17.0),
    "blacks": (8.0, 18.0),
    "vibrance": (0.0, 9.0),
    "saturation": (-4.0, 8.0),
    "temperature": (0.0, 15.0),
    "tint": (0.0, 8.0),
}
#: Largest strength of the inverse S-curve drawn by :func:`photographer_unedit_settings`.
PHOTOGRAPHER_FLATTEN = 0.5


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


def photographer_unedit_settings(
    rng: np.random.Generator,
    *,
    scale: float = 1.0,
    overexposed: float = 0.25,
    overexposed_ev: float = 1.5,
    centre: dict[str, float] | None = None,
    sliders: tuple[str, ...] = (),
    steepen: float = 0.0,
) -> dict[str, float | list[float]]:
    """One un-edit drawn from the inverse of real photographers' corrections (see the module docstring).

    Args:
        rng: random source.
        scale: multiplies every move's spread (0 gives the centre itself).
        overexposed: probability that exposure is drawn uniformly in ``[-overexposed_ev, +overexposed_ev]``.
        overexposed_ev: that range, in EV.
        centre: slider -> mean that replaces :data:`PHOTOGRAPHER_UNEDIT`'s mean (e.g. fitted to real unedited
            photos); sliders it lacks keep the prior's mean.
        sliders: un-edit only these sliders of :data:`PHOTOGRAPHER_UNEDIT` (empty: all of them).
        steepen: the tone curve's strength is uniform in ``[-steepen, 0.5]`` (negative: an S-curve, more contrast).

    Returns:
        slider name -> value in catalog units (clamped to the catalog ranges), the tone curve included.
    """
    out: dict[str, float | list[float]] = {}
    for name, (mean, sd) in PHOTOGRAPHER_UNEDIT.items():
        if sliders and name not in sliders:
            continue
        mu = mean if centre is None else centre.get(name, mean)
        out[name] = _clamp(name, mu + scale * sd * float(rng.standard_normal()))
    if rng.uniform() < overexposed:
        out["exposure"] = _clamp("exposure", float(rng.uniform(-overexposed_ev, overexposed_ev)))
    out["tone_curve"] = inverse_s_curve(float(rng.uniform(-steepen, PHOTOGRAPHER_FLATTEN) * min(scale, 1.0)))
    return out


def jitter_settings(rng: np.random.Generator, *, exposure_ev: float, white_balance: float) -> dict[str, float]:
    """A small zero-centred camera change for the originals of before/after pairs (``train --pairs``).

    The same scene shot a little darker or brighter, or under a slightly different light, should get the same
    finished look: the original is rendered with this and the photographer's edit stays the target, so the
    agent learns to read exposure and white balance off the photo instead of memorising the pairs' moves.

    Args:
        rng: random source.
        exposure_ev: exposure is uniform in ``[-exposure_ev, +exposure_ev]`` EV.
        white_balance: temperature is normal with this standard deviation (mired), tint with half of it.

    Returns:
        slider name -> value in catalog units (clamped to the catalog ranges).
    """
    return {
        "exposure": _clamp("exposure", float(rng.uniform(-exposure_ev, exposure_ev))),
        "temperature": _clamp("temperature", white_balance * float(rng.standard_normal())),
        "tint": _clamp("tint", 0.5 * white_balance * float(rng.standard_normal())),
    }
