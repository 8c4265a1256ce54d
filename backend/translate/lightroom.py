"""Recipe -> Lightroom Classic / Camera Raw develop settings (process version 2012+).

:func:`recipe_to_develop_settings` gives the table for the SDK's ``photo:applyDevelopSettings`` (keys = ``crs:``
property names without the prefix; integers where Lightroom stores integers; point curves as flat
``[x1, y1, x2, y2, ...]`` lists of integers 0..255). Pure values, no XML: :mod:`backend.sidecar.lightroom_xmp`
writes the same table as ``crs:`` properties into a sidecar.

Every key comes from the slider catalog (:class:`~backend.sliders.catalog.LightroomTarget`); this module
declares none. Values are rounded to Lightroom's storage (integers; exposure to 0.01 EV) and clamped to
Lightroom's own limits, which only the absolute white balance can reach.

Per-slider mapping (``exact`` = the number means the same thing in Lightroom as in our renderer):

=================  ===================================================  =========================================
slider             Lightroom keys                                       exact / approximate
=================  ===================================================  =========================================
exposure           Exposure2012 = v (EV, 2 decimals)                    exact (a linear gain of 2**v in both)
contrast           Contrast2012 = round(v)                              approximate: Lightroom's curve is
                                                                        proprietary; same sign and scale
highlights         Highlights2012 = round(v)                            approximate: Lightroom's is local
shadows            Shadows2012 = round(v)                               approximate: Lightroom's is local
whites             Whites2012 = round(v)                                approximate
blacks             Blacks2012 = round(v)                                approximate
clarity            Clarity2012 = round(v)                               approximate (different local filter)
vibrance           Vibrance = round(v)                                  approximate
saturation         Saturation = round(v)                                approximate (Lightroom's is not Ych)
temperature, tint  raw: Temperature/Tint = as-shot Kelvin/Tint moved     approximate: the as-shot Kelvin/Tint is
                   by the shift (white_balance.kelvin_tint_after_shift), ours (camera matrix), Lightroom's comes
                   integers, always both, and WhiteBalance "Custom";    from its DCP profile; the shift itself
                   rendered files: IncrementalTemperature/-Tint =      is exact in mired/Duv units. Incremental
                   round(v)                                             values are Adobe's own scale
tone_curve         ToneCurveName2012 "Custom", ToneCurvePV2012 points   approximate: points are exact at the
                   (255 srgb(knot), 255 srgb(y)), rounded to integers   7 knots (to 1/255); Lightroom's spline
                                                                        between them differs
rgb_curves         ToneCurvePV2012Red/Green/Blue, same points           approximate, as tone_curve
hsl                24 keys {Hue,Saturation,Luminance}Adjustment{Colour}  approximate (band shapes differ)
                   = round(v)
black_and_white    ConvertToGrayscale = v >= 50; below 50 folded into   approximate: a partial desaturation has
                   Saturation = 100 ((1 + s/100)(1 - v/100) - 1)        no Lightroom slider of its own
sharpen            Sharpness = round(1.5 v); relative: the plug-in      approximate (different radius/detail)
                   adds it to the photo's current Sharpness (0..150)
vignette           PostCropVignetteAmount = round(v)                    approximate (default midpoint/feather)
=================  ===================================================  =========================================

White balance of a raw needs the photo's as-shot Kelvin/Tint; without it the white-balance steps are
left out and the result's ``warnings`` says so (writing an incremental value on a raw would be wrong:
Lightroom ignores it there).
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import torch

from backend.recipe import Recipe
from backend.render.color import srgb_encode
from backend.render.white_balance import kelvin_tint_after_shift
from backend.sliders.catalog import CURVE_KNOTS, get_slider

__all__ = [
    "UNSIGNED_KEYS",
    "WHITE_BALANCE_KEYS",
    "AsShot",
    "DevelopSettings",
    "curve_points",
    "recipe_to_develop_settings",
]

# Lightroom's own limits of the absolute white balance (raw files).
_TEMPERATURE_RANGE = (2000, 50000)
_TINT_RANGE = (-150, 150)
#: Lightroom's limits of the keys the plug-in sets relative to the photo's current value.
_RELATIVE_RANGES = {"Sharpness": (0, 150)}


def _key(slider: str, i: int = 0) -> str:
    return get_slider(slider).lightroom.keys[i]


_EXPOSURE = _key("exposure")
_TEMPERATURE, _INCR_TEMPERATURE = _key("temperature", 0), _key("temperature", 1)
_TINT, _INCR_TINT = _key("tint", 0), _key("tint", 1)
_WHITE_BALANCE = _key("temperature", 2)
_CURVE_NAME, _CURVE = _key("tone_curve", 0), _key("tone_curve", 1)
_GRAYSCALE, _BW_SATURATION = _key("black_and_white", 0), _key("black_and_white", 1)
_SATURATION = _key("saturation")
#: Integer keys Lightroom writes without a sign (their range does not include negative values).
UNSIGNED_KEYS = frozenset({_TEMPERATURE, _key("sharpen")})
#: Keys of the white balance: the absolute pair (raws), the incremental pair (rendered files), the mode.
WHITE_BALANCE_KEYS = (_TEMPERATURE, _TINT, _INCR_TEMPERATURE, _INCR_TINT, _WHITE_BALANCE)
#: Sliders whose value goes to its single key as a rounded integer, unchanged in scale.
_PLAIN_INT = ("contrast", "highlights", "shadows", "whites", "blacks", "clarity", "vibrance", "vignette")


class AsShot(Protocol):
    """What the translator needs of a photo's as-shot white balance (``decode``'s ``AsShotWhiteBalance``).

    Attributes:
        kelvin: as-shot correlated colour temperature in Kelvin, or ``None`` when unknown.
        tint: as-shot tint on Adobe's scale (Duv x -3000), or ``None`` when unknown.
    """

    @property
    def kelvin(self) -> float | None:
        """As-shot colour temperature in Kelvin, or ``None``."""

    @property
    def tint(self) -> float | None:
        """As-shot tint (Adobe scale), or ``None``."""


class DevelopSettings(dict[str, Any]):
    """The ``applyDevelopSettings`` table (a plain dict) plus the translator's warnings and relative keys.

    Attributes:
        warnings: what was left out or clamped, in words for the user.
        relative: for the keys of sliders whose Lightroom default is not zero (``LightroomTarget.relative``):
            key -> ``(amount to add to the photo's current value, Lightroom's minimum, maximum)``. The table
            itself holds the absolute value an XMP sidecar gets; the plug-in adds ``amount`` instead.
    """

    def __init__(
        self,
        *args: Any,
        warnings: tuple[str, ...] = (),
        relative: dict[str, tuple[int, int, int]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.warnings = warnings
        self.relative = dict(relative or {})


def _round(x: float) -> int:
    """Round half away from zero (Python's ``round`` rounds half to even)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _clamp(x: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, x))


def curve_points(values: tuple[float, ...] | list[float]) -> list[int]:
    """A curve slider's outputs at :data:`CURVE_KNOTS` -> Lightroom's flat point list.

    Args:
        values: linear-RGB outputs in [0, 1], one per knot.

    Returns:
        ``[x1, y1, x2, y2, ...]``: sRGB-encoded knot and output, times 255, rounded to integers
        0..255 (x strictly ascending; y non-decreasing when ``values`` is).
    """
    xs = srgb_encode(torch.tensor(CURVE_KNOTS, dtype=torch.float64)).tolist()
    ys = srgb_encode(torch.tensor(values, dtype=torch.float64).clamp(0.0, 1.0)).tolist()
    flat: list[int] = []
    for x, y in zip(xs, ys, strict=True):
        flat += [_clamp(_round(255 * x), 0, 255), _clamp(_round(255 * y), 0, 255)]
    return flat


def _scalar(settings: dict[str, Any], name: str) -> float:
    """A scalar slider's value (0.0 when the recipe does not set it)."""
    return float(settings.get(name, 0.0))


def _white_balance(
    settings: dict[str, Any], is_raw: bool, as_shot: AsShot | None, warnings: list[str]
) -> dict[str, Any]:
    temperature, tint = _scalar(settings, "temperature"), _scalar(settings, "tint")
    if not is_raw:
        return {_INCR_TEMPERATURE: _round(temperature), _INCR_TINT: _round(tint)}
    if as_shot is None or as_shot.kelvin is None or as_shot.tint is None:
        warnings.append(
            "white balance left out: the photo's as-shot Kelvin/Tint is unknown, and a raw needs absolute "
            "Temperature/Tint"
        )
        return {}
    kelvin, new_tint = kelvin_tint_after_shift(float(as_shot.kelvin), float(as_shot.tint), temperature, tint)
    k = _clamp(_round(kelvin), *_TEMPERATURE_RANGE)
    t = _clamp(_round(new_tint), *_TINT_RANGE)
    if k in _TEMPERATURE_RANGE or t in _TINT_RANGE:
        warnings.append(f"white balance reaches Lightroom's limit ({k} K, tint {t:+d}); the shift is cut there")
    return {_TEMPERATURE: k, _TINT: t}


def recipe_to_develop_settings(recipe: Recipe, *, is_raw: bool, as_shot: AsShot | None = None) -> DevelopSettings:
    """The ``photo:applyDevelopSettings`` table of a recipe.

    Args:
        recipe: the recipe (values already at the wanted strength).
        is_raw: the photo is a raw (absolute ``Temperature``/``Tint``) rather than a rendered file
            (``IncrementalTemperature``/``IncrementalTint``).
        as_shot: the photo's as-shot white balance; needed for a raw's white balance.

    Returns:
        Key -> value (``float`` exposure, ``int`` sliders, ``bool`` ConvertToGrayscale, ``str`` curve name,
        ``list[int]`` curves), in catalog order; ``warnings`` lists what was left out or clamped.
        Sliders at identity are not in the recipe and so not in the table.
    """
    s: dict[str, Any] = dict(recipe.settings())
    out: dict[str, Any] = {}
    warnings: list[str] = []
    if "exposure" in s:
        out[_EXPOSURE] = _round(100.0 * _scalar(s, "exposure")) / 100.0
    for name in _PLAIN_INT:
        if name in s:
            out[_key(name)] = _round(_scalar(s, name))
    if "saturation" in s:
        out[_SATURATION] = _round(_scalar(s, "saturation"))
    if "temperature" in s or "tint" in s:
        balance = _white_balance(s, is_raw, as_shot, warnings)
        if balance:  # Lightroom honours Temperature/Tint only with WhiteBalance = Custom
            out[_WHITE_BALANCE] = "Custom"
        out.update(balance)
    if "tone_curve" in s:
        out[_CURVE_NAME] = "Custom"
        out[_CURVE] = curve_points(s["tone_curve"])
    if "rgb_curves" in s:
        for i, row in enumerate(s["rgb_curves"]):
            out[_key("rgb_curves", i)] = curve_points(row)
    if "hsl" in s:
        keys = get_slider("hsl").lightroom.keys
        flat = [float(x) for row in s["hsl"] for x in row]
        out.update({k: _round(v) for k, v in zip(keys, flat, strict=True)})
    if "black_and_white" in s:
        bw = _scalar(s, "black_and_white")
        out[_GRAYSCALE] = bw >= 50.0
        if 0.0 < bw < 50.0:
            sat = _scalar(s, "saturation")
            out[_BW_SATURATION] = _clamp(_round(100.0 * ((1 + sat / 100) * (1 - bw / 100) - 1)), -100, 100)
    relative: dict[str, tuple[int, int, int]] = {}
    if "sharpen" in s:
        key = _key("sharpen")
        out[key] = _round(1.5 * _scalar(s, "sharpen"))
        relative[key] = (out[key], *_RELATIVE_RANGES[key])
    return DevelopSettings(out, warnings=tuple(warnings), relative=relative)
