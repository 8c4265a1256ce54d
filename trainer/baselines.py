"""The "auto" baseline: grey-world white balance plus mid-grey exposure, as a Recipe of our own sliders.

It is what an ordinary one-click auto adjustment does with three of the catalog's sliders, so comparing a
learned style with it asks whether the style does better than the obvious editing moves:

1. **White balance (grey world).** The mean colour ``m`` (linear Rec.2020) of the photo's pixels, leaving out
   pixels with a channel at or above :data:`CLIP_LEVEL` (clipped highlights carry no colour), is taken to be
   the colour of the light. ``temperature`` and ``tint`` are solved so that the white-balance stage's gains
   make ``m`` neutral: ``g(temperature, tint) * m`` has equal R, G and B. The gains are exactly the
   renderer's (:func:`backend.render.white_balance.white_balance_gains`: one temperature unit is one mired
   of shift of the assumed illuminant, + warmer; one tint unit is 1/3000 Duv, + magenta; gains keep grey's
   luminance), found by damped Newton iterations on ``log(R/G)`` and ``log(B/G)`` of ``g * m`` in float64.
   A colour cast from the locus's side (a green or magenta scene) is only partly neutralised when the
   solution leaves the sliders' range (-100..100): the values are clamped to the catalog's range.
2. **Exposure (mid grey).** After the white balance, the exposure in EV that brings the photo's
   log-average luminance (geometric mean of Rec.2020 ``Y``, floored at 2^-12; Reinhard's "key") to middle
   grey :data:`~backend.render.levels.MIDDLE_GREY` (0.1845): ``exposure = log2(0.1845 / key)``, clamped to
   :data:`MAX_EV` and to the catalog's range. The exposure stage is a pure gain 2^EV (blacks untouched).

The recipe lists ``temperature``, ``tint`` and ``exposure`` (identity values dropped), with
``style = "auto"``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from backend.recipe import Recipe
from backend.render.color import REC2020_LUMINANCE
from backend.render.levels import MIDDLE_GREY
from backend.render.white_balance import white_balance_gains
from backend.sliders.catalog import get_slider

__all__ = ["AUTO_STYLE", "CLIP_LEVEL", "MAX_EV", "auto_recipe", "grey_world_white_balance", "mid_grey_exposure"]

#: ``style`` of the baseline's recipes.
AUTO_STYLE = "auto"
#: Pixels with any channel at or above this linear value are left out of the grey-world mean.
CLIP_LEVEL = 0.98
#: Largest exposure change the baseline makes, in EV (either way).
MAX_EV = 3.0
_LUM_FLOOR = 2.0**-12


def _range(name: str) -> tuple[float, float]:
    spec = get_slider(name)
    return spec.minimum, spec.maximum


def grey_world_white_balance(image: Tensor, *, iterations: int = 30) -> tuple[float, float]:
    """``(temperature, tint)`` slider values that make the mean colour of ``image`` neutral.

    Args:
        image: ``(1, 3, H, W)`` or ``(3, H, W)`` linear Rec.2020.
        iterations: Newton iterations at most (converges in a handful).

    Returns:
        ``(temperature, tint)`` in slider units (mired, + warmer; 1/3000 Duv, + magenta), clamped to the
        catalog's ranges; ``(0.0, 0.0)`` for an image without usable pixels.
    """
    x = image.detach().to("cpu", torch.float64).reshape(3, -1)
    keep = (x < CLIP_LEVEL).all(dim=0) & (x > 0).all(dim=0)
    if int(keep.sum()) == 0:
        keep = (x > 0).all(dim=0)
    if int(keep.sum()) == 0:
        return 0.0, 0.0
    mean = x[:, keep].mean(dim=1)
    if not bool(torch.isfinite(mean).all()) or float(mean.min()) <= 0:
        return 0.0, 0.0
    (t_lo, t_hi), (n_lo, n_hi) = _range("temperature"), _range("tint")

    def residual(p: Tensor) -> Tensor:
        out = white_balance_gains(p[0], p[1])[0] * mean
        return torch.stack((torch.log(out[0] / out[1]), torch.log(out[2] / out[1])))

    p = torch.zeros(2, dtype=torch.float64)
    for _ in range(iterations):
        r = residual(p)
        if float(r.abs().max()) < 1e-9:
            break
        jac = torch.autograd.functional.jacobian(residual, p)
        try:
            step = torch.linalg.solve(jac, -r)
        except RuntimeError:  # singular: give up where we are
            break
        step = step * min(1.0, 40.0 / float(step.abs().max()))  # damp huge first steps
        new = torch.stack((step[0] + p[0], step[1] + p[1]))
        new = torch.stack((new[0].clamp(t_lo, t_hi), new[1].clamp(n_lo, n_hi)))
        if float((new - p).abs().max()) < 1e-9:
            break
        p = new
    return float(p[0]), float(p[1])


def mid_grey_exposure(image: Tensor, temperature: float = 0.0, tint: float = 0.0) -> float:
    """Exposure (EV) that brings the log-average luminance to middle grey after a white-balance shift.

    Args:
        image: ``(1, 3, H, W)`` or ``(3, H, W)`` linear Rec.2020.
        temperature: white-balance shift applied first (slider units).
        tint: white-balance shift applied first (slider units).

    Returns:
        ``log2(0.1845 / key)`` clamped to ``±MAX_EV`` and the catalog's range; 0 for an empty image.
    """
    x = image.detach().to("cpu", torch.float64).reshape(3, -1)
    if x.shape[1] == 0:
        return 0.0
    gains = white_balance_gains(temperature, tint)[0]
    w = torch.as_tensor(REC2020_LUMINANCE, dtype=torch.float64)
    y = ((gains * w) @ x).clamp_min(_LUM_FLOOR)
    key = float(torch.exp(torch.log(y).mean()))
    lo, hi = _range("exposure")
    ev = math.log2(MIDDLE_GREY / key)
    return float(min(max(ev, -MAX_EV, lo), MAX_EV, hi))


def auto_recipe(image: Tensor) -> Recipe:
    """The auto baseline's recipe for one photo.

    Args:
        image: ``(1, 3, H, W)`` linear Rec.2020 (any size; a 512 px preview is plenty).

    Returns:
        A recipe setting ``temperature``, ``tint`` and ``exposure`` (identity values dropped),
        ``style = "auto"``.
    """
    temperature, tint = grey_world_white_balance(image)
    exposure = mid_grey_exposure(image, temperature, tint)
    settings = {"temperature": round(temperature, 4), "tint": round(tint, 4), "exposure": round(exposure, 4)}
    return Recipe.from_settings(settings, style=AUTO_STYLE)
