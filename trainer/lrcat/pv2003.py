"""Lightroom develop settings -> autoretouch slider values (legacy PV2003/PV2010 and PV2012+).

Every FiveK expert record is legacy process version 2003 (fivek.md §5), with the unsuffixed tone sliders
that our catalog does not know; modern catalogs use the PV2012 keys that our catalog names in
``get_slider(name).lightroom.keys``. :func:`map_settings` turns either into slider values (catalog units,
clamped to the catalog ranges) plus notes on what was left out.

Process version: ``ProcessVersion`` >= 6.6 is PV2012+ (its unsuffixed legacy twins are ignored,
lightroom.md §8); 5.7 is PV2010 and anything older, or a row without ``ProcessVersion`` and without
``...2012`` keys, is PV2003. PV2010 shares PV2003's sliders and is mapped with the same table. A
``ProcessVersion`` that is not a version (``"abc"``, a bare number) is guessed from the keys like a missing
one; :func:`unreadable_process_version` tells, so that modern-only callers can skip the row.

Missing keys mean the key's default (fivek.md §5.1: FiveK omits keys at their default, and the default
of most is 0; Brightness 50, Contrast 25, Shadows 5, Sharpness 25 and the Medium Contrast curve are the
legacy exceptions). A value of -999999 is Lightroom's "Auto" sentinel: the key is left out, with a note.

Legacy table (PV2003/PV2010; the names are Camera Raw's, declared here because the slider catalog only
knows PV2012 keys). ``b`` is the :class:`LegacyBaseline` (default: Lightroom's defaults, so a photo at
default settings maps to no tone step except the Medium Contrast curve):

====================  =========================  ===============================================================
Lightroom key         slider                     mapping (approximate unless stated)
====================  =========================  ===============================================================
Exposure (EV)         exposure                   same value (a linear gain in both; exact for the ramp's slope)
Brightness 0..150     tone_curve                 midtone gamma on display-encoded values before the point
                                                 curve: ``x -> x ** 2 ** (-(v - b.brightness) / 100)``
                                                 (150 vs 50 lifts encoded 0.5 to 0.71). Endpoints stay
                                                 fixed, as Brightness keeps black and white; uncalibrated
Contrast -50..100     contrast                   ``v - b.contrast`` (one Lightroom step = one slider step)
Shadows 0..100        blacks                     black level: Camera Raw subtracts ``0.001 * v`` of linear
                                                 white (DNG SDK ``dng_render``), our blacks subtract
                                                 ``-0.015 * blacks / 100``, so blacks = ``-(v - b.shadows) *
                                                 20 / 3`` (Shadows 20 vs 5 -> -100); exact in the linear part
HighlightRecovery     highlights                 ``-v`` (recovery only darkens highlights)
FillLight 0..100      shadows                    ``+v`` (fill light only lifts shadows)
Clarity               clarity                    same value
ToneCurve (points)    tone_curve                 natural cubic spline through the points (0..255,
                                                 display-encoded) at the encoded knots, sRGB-decoded
                                                 (:mod:`trainer.lrcat.curves`), after Brightness;
                                                 ToneCurveName ``Linear``/``Medium Contrast`` when no points
VignetteAmount        vignette                   when PostCropVignetteAmount is 0 or missing (lens
                                                 vignetting, same sign: - darkens corners)
====================  =========================  ===============================================================

Shared and PV2012 keys (taken from the slider catalog's ``lightroom.keys``):

===========================================  =================  ===============================================
Lightroom key                                slider             mapping
===========================================  =================  ===============================================
Exposure2012, Contrast2012, Highlights2012,  same-named slider  same value (the inverse of
Shadows2012, Whites2012, Blacks2012,                            :mod:`backend.translate.lightroom`)
Clarity2012, Vibrance, Saturation,
PostCropVignetteAmount
ToneCurvePV2012 (+ ToneCurveName2012)        tone_curve         points as above (no Brightness)
ToneCurvePV2012Red/Green/Blue                rgb_curves         points as above, per channel
{Hue,Saturation,Luminance}Adjustment{C}      hsl                same value, rows in HSL_COLOURS order
ConvertToGrayscale                           black_and_white    ``true`` -> 100, ``false`` -> 0
Sharpness 0..150                             sharpen            ``v / 1.5`` (inverse of the translator); a
                                                                missing key is 25 in legacy rows, left out
                                                                in PV2012 rows
WhiteBalance, Temperature, Tint              temperature, tint  ``As Shot`` (or no WB keys) -> 0, 0. Otherwise
(CustomTemperature/CustomTint preferred                         relative to the photo's as-shot values:
with WhiteBalance "Custom")                                     temperature = ``1e6/K_as_shot - 1e6/K`` (mired,
                                                                + warmer), tint = ``Tint - Tint_as_shot``;
                                                                left out (with a note) when the as-shot values
                                                                are unknown
IncrementalTemperature, IncrementalTint      temperature, tint  same value (rendered files)
===========================================  =================  ===============================================

Point curves that go down (a step between neighbouring points whose output decreases, as the inversion
``{ 0, 255, 255, 0 }`` of a film-negative workflow) have no slider value, since our curves never decrease:
such a curve is left out with a note and the row's other settings are kept (for a red, green or blue curve,
``rgb_curves`` as a whole is left out). Mapping it anyway would flatten it into a white frame.

Not mapped (no slider; a note lists non-default values): Texture, Dehaze, the parametric curve, split
toning and colour grading, the grayscale mixer, grain, crop, local corrections.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backend.recipe import SliderValue
from backend.sliders.catalog import BASIC_TONE_SLIDERS, HSL_COLOURS, get_slider, slider_names
from trainer.lrcat.curves import (
    IDENTITY_POINTS,
    MEDIUM_CONTRAST_POINTS,
    curve_to_knots,
    decreasing_step,
    parse_point_curve,
)
from trainer.lrcat.records import AsShotWhiteBalance

__all__ = [
    "AUTO_SENTINEL",
    "CANONICAL_ORDER",
    "LEGACY_DEFAULTS",
    "LEGACY_KEYS",
    "LIGHTROOM_DEFAULTS",
    "ZEROED",
    "LegacyBaseline",
    "MappedSettings",
    "map_settings",
    "process_version",
    "unreadable_process_version",
]

#: Value Lightroom stores for an "Auto" slider in FiveK's auto renditions (fivek.md §2).
AUTO_SENTINEL = -999999


@dataclass(frozen=True)
class LegacyBaseline:
    """Legacy slider values that map to our identity (the sliders whose neutral point is not 0).

    Attributes:
        brightness: Brightness that means "no midtone change" (0..150).
        contrast: Contrast that means contrast 0 (-50..100).
        shadows: Shadows (black clipping) that means blacks 0 (0..100).
    """

    brightness: float = 50.0
    contrast: float = 25.0
    shadows: float = 5.0


#: Lightroom's legacy defaults are our identity: a default-settings photo maps to no tone step but the curve.
LIGHTROOM_DEFAULTS = LegacyBaseline()
#: Lightroom's "Zeroed" settings are our identity (FiveK's ``InputAsShotZeroed`` renditions: every tone
#: slider 0); choose this when the model's input corresponds to those renditions.
ZEROED = LegacyBaseline(brightness=0.0, contrast=0.0, shadows=0.0)

#: Legacy (PV2003/PV2010) tone keys -> slider (the table in the module docstring).
LEGACY_KEYS: dict[str, str] = {
    "Exposure": "exposure",
    "Brightness": "tone_curve",
    "Contrast": "contrast",
    "Shadows": "blacks",
    "HighlightRecovery": "highlights",
    "FillLight": "shadows",
    "Clarity": "clarity",
    "ToneCurve": "tone_curve",
    "ToneCurveName": "tone_curve",
    "VignetteAmount": "vignette",
}
#: Value of a legacy key when the row omits it.
LEGACY_DEFAULTS: dict[str, Any] = {
    "Exposure": 0.0,
    "Brightness": 50.0,
    "Contrast": 25.0,
    "Shadows": 5.0,
    "HighlightRecovery": 0.0,
    "FillLight": 0.0,
    "Clarity": 0.0,
    "Sharpness": 25.0,
    "ToneCurveName": "Medium Contrast",
    "VignetteAmount": 0.0,
}

#: Order of recipe steps when the history does not say: Lightroom's Develop panels, top to bottom.
_PANEL_ORDER = (
    "temperature",
    "tint",
    *BASIC_TONE_SLIDERS,
    "clarity",
    "vibrance",
    "saturation",
    "tone_curve",
    "rgb_curves",
    "hsl",
    "black_and_white",
    "sharpen",
    "vignette",
)
#: Canonical step order: the panel order, then any catalog slider it does not list (catalog order).
CANONICAL_ORDER: tuple[str, ...] = tuple(n for n in _PANEL_ORDER if n in slider_names()) + tuple(
    n for n in slider_names() if n not in _PANEL_ORDER
)

# Camera Raw's black level per legacy Shadows unit (DNG SDK dng_render: black = Shadows * 0.001 of white)
# and our blacks slider's black level per unit (catalog: darktable exposure black = -0.015 * value / 100).
_CR_BLACK_PER_SHADOWS = 0.001
_OUR_BLACK_PER_BLACKS = 0.015 / 100.0
# The translator writes Sharpness = 1.5 * sharpen (catalog note of the sharpen slider).
_SHARPNESS_PER_SHARPEN = 1.5
# Brightness: encoded-value gamma exponent 2 ** (-(v - baseline) / _BRIGHTNESS_OCTAVE).
_BRIGHTNESS_OCTAVE = 100.0
_PV2012 = 6.6
_VERSION_TEXT = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,4})?")
_PV2010 = 5.7

_UNMAPPED_KEYS = (
    "Texture",
    "Dehaze",
    "ParametricShadows",
    "ParametricDarks",
    "ParametricLights",
    "ParametricHighlights",
    "SplitToningShadowSaturation",
    "SplitToningHighlightSaturation",
    "ColorGradeMidtoneSat",
    "ColorGradeGlobalSat",
    "ColorGradeShadowLum",
    "ColorGradeMidtoneLum",
    "ColorGradeHighlightLum",
    "ColorGradeGlobalLum",
    "GrainAmount",
    "HasCrop",
    "PaintBasedCorrections",
    "GradientBasedCorrections",
    "CircularGradientBasedCorrections",
    "MaskGroupBasedCorrections",
)


@dataclass(frozen=True)
class MappedSettings:
    """Slider values of one settings row.

    Attributes:
        values: slider -> value (catalog units, clamped), for every slider the settings determine
            (identity values included), in :data:`CANONICAL_ORDER`.
        process: ``"PV2003"``, ``"PV2010"`` or ``"PV2012"`` (2012 and later).
        notes: what was left out, clamped or not mapped, in words.
    """

    values: dict[str, SliderValue]
    process: str
    notes: tuple[str, ...]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)  # OverflowError: an int past the float range (settings sent as JSON)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def process_version(settings: Mapping[str, Any]) -> str:
    """``"PV2003"``, ``"PV2010"`` or ``"PV2012"`` (meaning 2012 or later) of a settings row (module docstring)."""
    pv = settings.get("ProcessVersion")
    try:
        number = float(pv) if isinstance(pv, str | int | float) and not isinstance(pv, bool) else None
    except (ValueError, OverflowError):
        number = None
    if number is None:
        return "PV2012" if any(k.endswith("2012") for k in settings) else "PV2003"
    if number >= _PV2012:
        return "PV2012"
    return "PV2010" if number >= _PV2010 else "PV2003"


def unreadable_process_version(settings: Mapping[str, Any]) -> str | None:
    """Why a row's ``ProcessVersion`` is not a version Lightroom writes, or ``None`` when it is one or absent.

    Lightroom writes the process version as text of digits and dots (``"11.0"``, ``"5.7"``). Anything else
    (``"abc"``, a bare number ``11``, ``true``, a table) is not one: :func:`process_version` then guesses from
    the keys, which suits FiveK's legacy rows, but a caller that uses only modern edits should skip the row
    (:func:`trainer.lrcat.favourites.catalog_edits` does).
    """
    if "ProcessVersion" not in settings:
        return None
    pv = settings["ProcessVersion"]
    if isinstance(pv, str) and _VERSION_TEXT.fullmatch(pv.strip()):
        return None
    if isinstance(pv, int | float) and not isinstance(pv, bool):
        what = "is a number, not text"
    else:
        what = "is not a process version"
    shown = repr(pv) if not isinstance(pv, dict | list) else "a table"
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"ProcessVersion {shown} {what} (Lightroom writes text such as '11.0')"


class _Mapper:
    """One mapping run: the settings, the notes and the values found so far."""

    def __init__(self, settings: Mapping[str, Any], as_shot: AsShotWhiteBalance | None) -> None:
        self.notes: list[str] = []
        self.values: dict[str, SliderValue] = {}
        self.as_shot = as_shot
        self.s: dict[str, Any] = {}
        for key, value in settings.items():
            if _number(value) == AUTO_SENTINEL:
                self.notes.append(f"{key} is 'Auto' in the catalog: left out")
            else:
                self.s[key] = value
        self.process = process_version(self.s)

    def num(self, key: str, default: float | None = 0.0) -> float | None:
        """Numeric value of ``key``; ``default`` when missing; a note and ``None`` when not a number."""
        if key not in self.s:
            return default
        value = _number(self.s[key])
        if value is None:
            shown = repr(self.s[key])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            self.notes.append(f"{key} = {shown} is not a number: ignored ({key} left out)")
        return value

    def set(self, slider: str, value: SliderValue, source: str) -> None:
        spec = get_slider(slider)
        if isinstance(value, float):
            clamped = min(max(value, spec.minimum), spec.maximum)
            if clamped != value:
                self.notes.append(f"{source} -> {slider} {value:g} clamped to {clamped:g}")
            value = clamped + 0.0  # no -0.0
        self.values[slider] = value

    def curve(self, points_key: str, name_key: str, brightness: float | None, slider: str) -> None:
        """A point curve (or its named default) and an optional Brightness lift -> a curve slider."""
        points: list[tuple[float, float]] | tuple[tuple[float, float], ...] | None
        if points_key in self.s:
            points = parse_point_curve(self.s[points_key])
            if points is None:
                self.notes.append(f"{points_key} is not a valid point curve: left out")
                return
        else:
            name = self.s.get(name_key, LEGACY_DEFAULTS["ToneCurveName"] if self.process != "PV2012" else "Linear")
            points = {"Linear": IDENTITY_POINTS, "Medium Contrast": MEDIUM_CONTRAST_POINTS}.get(str(name))
            if points is None:
                self.notes.append(f"{name_key} {name!r} without {points_key} points: curve left out")
                return
        if self.decreasing(points_key, points, slider):
            return
        pre = None
        if brightness is not None and brightness != 0.0:
            gamma = 2.0 ** (-brightness / _BRIGHTNESS_OCTAVE)

            def pre(x: float) -> float:
                return max(x, 0.0) ** gamma

        self.set(slider, curve_to_knots(points, pre=pre), points_key)

    def decreasing(self, key: str, points: Sequence[tuple[float, float]], slider: str) -> bool:
        """Whether the curve ``key`` goes down somewhere (no slider value can hold it); if so, a note."""
        step = decreasing_step(points)
        if step is not None:
            (x0, y0), (x1, y1) = step
            self.notes.append(
                f"{key} goes down ({x0:g},{y0:g} -> {x1:g},{y1:g}; an inverted curve?), which our {slider} cannot "
                f"do: {slider} left out"
            )
        return step is not None

    # -- tone sets ----------------------------------------------------------------------------------

    def legacy_tone(self, baseline: LegacyBaseline) -> None:
        d = LEGACY_DEFAULTS
        exposure = self.num("Exposure", d["Exposure"])
        if exposure is not None:
            self.set("exposure", exposure, "Exposure")
        contrast = self.num("Contrast", d["Contrast"])
        if contrast is not None:
            self.set("contrast", contrast - baseline.contrast, "Contrast")
        shadows = self.num("Shadows", d["Shadows"])
        if shadows is not None:
            blacks = -(shadows - baseline.shadows) * _CR_BLACK_PER_SHADOWS / _OUR_BLACK_PER_BLACKS
            self.set("blacks", blacks, "Shadows")
        recovery = self.num("HighlightRecovery", d["HighlightRecovery"])
        if recovery is not None:
            self.set("highlights", -recovery, "HighlightRecovery")
        fill = self.num("FillLight", d["FillLight"])
        if fill is not None:
            self.set("shadows", fill, "FillLight")
        clarity = self.num("Clarity", d["Clarity"])
        if clarity is not None:
            self.set("clarity", clarity, "Clarity")
        brightness = self.num("Brightness", d["Brightness"])
        lift = None if brightness is None else brightness - baseline.brightness
        self.curve("ToneCurve", "ToneCurveName", lift, "tone_curve")

    def pv2012_tone(self) -> None:
        for slider in (*BASIC_TONE_SLIDERS, "clarity"):
            key = get_slider(slider).lightroom.keys[0]
            value = self.num(key)
            if value is not None:
                self.set(slider, value, key)
        keys = get_slider("tone_curve").lightroom.keys  # (ToneCurveName2012, ToneCurvePV2012)
        self.curve(keys[1], keys[0], None, "tone_curve")
        rows = []
        for key in get_slider("rgb_curves").lightroom.keys:
            points = parse_point_curve(self.s[key]) if key in self.s else list(IDENTITY_POINTS)
            if points is None:
                self.notes.append(f"{key} is not a valid point curve: rgb_curves left out")
                return
            if self.decreasing(key, points, "rgb_curves"):
                return
            rows.append(curve_to_knots(points))
        self.set("rgb_curves", tuple(rows), "ToneCurvePV2012Red/Green/Blue")

    # -- shared keys --------------------------------------------------------------------------------

    def shared(self) -> None:
        for slider in ("vibrance", "saturation"):
            key = get_slider(slider).lightroom.keys[0]
            value = self.num(key)
            if value is not None:
                self.set(slider, value, key)
        hsl_keys = get_slider("hsl").lightroom.keys
        flat = [self.num(k) for k in hsl_keys]
        if all(v is not None for v in flat):
            spec = get_slider("hsl")
            clipped = [min(max(float(v), spec.minimum), spec.maximum) for v in flat]  # type: ignore[arg-type]
            if clipped != flat:
                self.notes.append("HSL adjustments clamped to -100..100")
            per_band = len(clipped) // len(HSL_COLOURS)
            self.set("hsl", tuple(tuple(clipped[i : i + per_band]) for i in range(0, len(clipped), per_band)), "HSL")
        grayscale_key = get_slider("black_and_white").lightroom.keys[0]
        grayscale = self.s.get(grayscale_key, False)
        if isinstance(grayscale, bool):
            self.set("black_and_white", 100.0 if grayscale else 0.0, grayscale_key)
        else:
            self.notes.append(f"{grayscale_key} = {grayscale!r} is not a boolean: left out")
        sharp_key = get_slider("sharpen").lightroom.keys[0]
        sharp_default = None if self.process == "PV2012" else LEGACY_DEFAULTS["Sharpness"]
        sharpness = self.num(sharp_key, sharp_default)
        if sharpness is not None:
            self.set("sharpen", sharpness / _SHARPNESS_PER_SHARPEN, sharp_key)
        vignette_key = get_slider("vignette").lightroom.keys[0]
        vignette = self.num(vignette_key)
        if not vignette and self.process != "PV2012":
            vignette = self.num("VignetteAmount", LEGACY_DEFAULTS["VignetteAmount"])
            vignette_key = "VignetteAmount"
        if vignette is not None:
            self.set("vignette", vignette, vignette_key)
        self.white_balance()

    def white_balance(self) -> None:
        temp_key, incr_temp_key = get_slider("temperature").lightroom.keys[:2]
        tint_key, incr_tint_key = get_slider("tint").lightroom.keys[:2]
        if incr_temp_key in self.s or incr_tint_key in self.s:
            t, n = self.num(incr_temp_key), self.num(incr_tint_key)
            if t is not None and n is not None:
                self.set("temperature", t, incr_temp_key)
                self.set("tint", n, incr_tint_key)
            return
        mode = self.s.get("WhiteBalance")
        if mode == "As Shot" or (mode is None and temp_key not in self.s and "CustomTemperature" not in self.s):
            self.set("temperature", 0.0, "WhiteBalance As Shot")
            self.set("tint", 0.0, "WhiteBalance As Shot")
            return
        if mode == "Custom" and "CustomTemperature" in self.s:
            temp_key, tint_key = "CustomTemperature", "CustomTint"
        kelvin, tint = self.num(temp_key, None), self.num(tint_key, None)
        if kelvin is None or kelvin <= 0:
            self.notes.append(f"white balance {mode!r} without a usable {temp_key}: temperature and tint left out")
            return
        if self.as_shot is None:
            self.notes.append(
                f"white balance {mode!r} ({kelvin:g} K) needs the photo's as-shot Temperature/Tint, which is "
                "unknown: temperature and tint left out"
            )
            return
        self.set("temperature", 1e6 / self.as_shot.kelvin - 1e6 / kelvin, temp_key)
        if tint is None:
            self.notes.append(f"{tint_key} missing: tint taken as as-shot")
            tint = self.as_shot.tint
        self.set("tint", tint - self.as_shot.tint, tint_key)

    def unmapped(self) -> None:
        found = []
        for key in _UNMAPPED_KEYS:
            value = self.s.get(key)
            if value in (None, 0, False, "", {}, []):
                continue
            found.append(f"{key}={value!r}" if not isinstance(value, dict | list) else key)
        found += [k for k, v in self.s.items() if k.startswith("GrayMixer") and _number(v)]
        if found:
            self.notes.append("not mapped (no slider): " + ", ".join(found))


def map_settings(
    settings: Mapping[str, Any],
    *,
    as_shot: AsShotWhiteBalance | None = None,
    baseline: LegacyBaseline = LIGHTROOM_DEFAULTS,
) -> MappedSettings:
    """Map one Lightroom settings row to slider values (tables in the module docstring).

    Args:
        settings: parsed develop settings (``Adobe_imageDevelopSettings.text`` or a history step's text).
        as_shot: the photo's as-shot white balance, needed to make an absolute Temperature/Tint relative.
        baseline: legacy slider values that mean "no change" (:data:`LIGHTROOM_DEFAULTS` or
            :data:`ZEROED`); ignored for PV2012 rows.

    Returns:
        The slider values, the process version and the notes.
    """
    m = _Mapper(settings, as_shot)
    if m.process == "PV2012":
        m.pv2012_tone()
    else:
        m.legacy_tone(baseline)
    m.shared()
    m.unmapped()
    ordered = {name: m.values[name] for name in CANONICAL_ORDER if name in m.values}
    return MappedSettings(ordered, m.process, tuple(m.notes))
