"""The slider catalog: the single source of truth for every editing move autoretouch knows.

One row per slider. Everything else reads this table: the renderer (which stage implements a slider),
the recipe validator (shape, range, identity), the Lightroom and darktable translators (which host keys
and module fields a slider becomes), the CLI (``autoretouch sliders --json``), the plugins' whitelists
(through the daemon) and the tests. Nothing else declares a range, an identity value or a host key.

Units:
    * ``exposure`` is in EV (stops), -5..+5.
    * Most tone and colour sliders are Lightroom-like, -100..+100, 0 = no change.
    * ``temperature`` and ``tint`` are relative to the photo's as-shot white balance, -100..+100
      (see :mod:`backend.render.white_balance` for the exact Kelvin/mired and channel-gain mapping:
      one temperature unit is one mired of illuminant shift, one tint unit is 1/3000 Duv).
    * Curves are lists of output values (0..1, linear working RGB) at the fixed input knots
      :data:`CURVE_KNOTS`; identity is ``y == x``; they must be non-decreasing.

Rendering order is not the order of steps in a recipe: like both host editors, the renderer applies
stages in the fixed pipeline order :data:`STAGE_ORDER`, which is darktable's pixelpipe order of the
modules the sliders become.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from backend.errors import UnknownSliderError

__all__ = [
    "BASIC_TONE_SLIDERS",
    "CATALOG",
    "CATALOG_VERSION",
    "CURVE_KNOTS",
    "HSL_COLOURS",
    "STAGE_ORDER",
    "DarktableTarget",
    "LightroomTarget",
    "SliderSpec",
    "catalog_as_json",
    "get_slider",
    "iter_sliders",
    "scalar_identity",
    "slider_names",
]

#: Bumped whenever a slider's meaning, range or host mapping changes; recorded in styles and sidecars.
CATALOG_VERSION = 1


def _srgb_decode(e: float) -> float:
    """sRGB-encoded value in [0, 1] to linear light (IEC 61966-2-1 transfer function)."""
    return e / 12.92 if e <= 0.04045 else ((e + 0.055) / 1.055) ** 2.4


#: Input knots of every curve slider, in linear working RGB: sRGB-encoded positions 0, 1/6, ..., 1
#: decoded to linear light, so the knots are spaced evenly in perceived lightness.
CURVE_KNOTS: tuple[float, ...] = tuple(round(_srgb_decode(i / 6), 6) for i in range(7))

#: The eight colour bands of the ``hsl`` slider, in Lightroom's order (rows of the (8, 3) value).
HSL_COLOURS: tuple[str, ...] = ("Red", "Orange", "Yellow", "Green", "Aqua", "Blue", "Purple", "Magenta")

#: The tone sliders of Lightroom's Basic panel (process version 2012+), top to bottom.
BASIC_TONE_SLIDERS: tuple[str, ...] = ("exposure", "contrast", "highlights", "shadows", "whites", "blacks")

#: Renderer stages in pipeline order. Each stage is one darktable module (instance) and one renderer
#: function in :mod:`backend.render`; a stage takes all of its sliders at once.
STAGE_ORDER: tuple[str, ...] = (
    "exposure",  # exposure module: exposure, blacks
    "channelmixerrgb",  # colour calibration in working RGB: temperature, tint
    "sharpen",  # sharpen (Lab L)
    "colorbalancergb",  # contrast, vibrance, saturation, black_and_white, shadows, highlights
    "rgbcurve",  # tone_curve (linked) then rgb_curves (second instance, per channel)
    "rgblevels",  # whites
    "bilat",  # clarity (local contrast)
    "colorzones",  # hsl
    "vignette",  # vignette
)


@dataclass(frozen=True)
class LightroomTarget:
    """Where a slider goes in Lightroom Classic / Camera Raw (process version 2012+).

    Attributes:
        keys: develop-setting keys (= ``crs:`` property names without the prefix) the slider sets.
        exact: ``True`` when the slider's meaning equals Lightroom's documented meaning; ``False`` when
            the mapping is an approximation of proprietary behaviour (see ``note``).
        note: how the value maps, in one or two sentences.
        relative: the keys' Lightroom default is not zero, so the plug-in adds the value to the photo's
            current one instead of setting it (XMP sidecars, written without Lightroom, set it).
    """

    keys: tuple[str, ...]
    exact: bool
    note: str
    relative: bool = False


@dataclass(frozen=True)
class DarktableTarget:
    """Where a slider goes in darktable 4.2.

    Attributes:
        module: darktable operation name (``darktable:operation``).
        instance: ``multi_priority`` of the module instance.
        fields: parameter-struct fields the slider sets (names as in darktable-4.2-params.json).
        note: how the value maps to the fields.
    """

    module: str
    instance: int
    fields: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class SliderSpec:
    """One slider of the catalog.

    Attributes:
        name: recipe name (``{"slider": name, ...}``).
        label: short human label.
        unit: unit of the value (``EV``, ``"-100..100"``, ``"mired"``, ``"linear RGB"`` ...).
        shape: shape of the value: ``()`` for scalars, ``(7,)`` for a curve, ``(3, 7)`` for per-channel
            curves, ``(8, 3)`` for HSL.
        minimum: smallest allowed value of every element.
        maximum: largest allowed value of every element.
        identity: the value that changes nothing (scalar, or nested tuples of ``shape``).
        stage: renderer stage (and darktable module) that implements it; one of :data:`STAGE_ORDER`.
        lightroom: Lightroom keys and mapping.
        darktable: darktable module, fields and mapping.
        is_global: ``True`` when the operation is per-pixel (commutes with downscaling); ``False`` for
            spatial ones whose radii are relative to the image size.
        brightening: ``+1`` if raising the value never darkens the mean luminance of an image (monotone
            test), ``-1`` if it never brightens, ``0`` when not monotone in brightness.
        monotone_curve: values must be non-decreasing along the last axis (curves).
        short: Exposure-style short filter name used in trajectory logs.
        description: what the slider does, for ``autoretouch sliders`` and the docs.
    """

    name: str
    label: str
    unit: str
    shape: tuple[int, ...]
    minimum: float
    maximum: float
    identity: float | tuple[float, ...] | tuple[tuple[float, ...], ...]
    stage: str
    lightroom: LightroomTarget
    darktable: DarktableTarget
    is_global: bool
    brightening: int
    short: str
    description: str
    monotone_curve: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def size(self) -> int:
        """Number of scalar elements of a value."""
        return math.prod(self.shape) if self.shape else 1

    @property
    def is_scalar(self) -> bool:
        """Whether the value is a single number."""
        return self.shape == ()


def _signed_percent(**fields: Any) -> SliderSpec:
    """A scalar slider in Lightroom's -100..100 units whose identity is 0 (the range written once)."""
    return SliderSpec(unit="-100..100", shape=(), minimum=-100.0, maximum=100.0, identity=0.0, **fields)


_HSL_KEYS = tuple(f"{kind}Adjustment{colour}" for colour in HSL_COLOURS for kind in ("Hue", "Saturation", "Luminance"))

CATALOG: tuple[SliderSpec, ...] = (
    SliderSpec(
        name="exposure",
        label="Exposure",
        unit="EV",
        shape=(),
        minimum=-5.0,
        maximum=5.0,
        identity=0.0,
        stage="exposure",
        lightroom=LightroomTarget(("Exposure2012",), True, "Exposure2012 = value, in EV."),
        darktable=DarktableTarget("exposure", 0, ("exposure",), "exposure = value (EV); linear gain 2**value."),
        is_global=True,
        brightening=1,
        short="E",
        description="Multiplies linear light by 2**value.",
    ),
    _signed_percent(
        name="contrast",
        label="Contrast",
        stage="colorbalancergb",
        lightroom=LightroomTarget(("Contrast2012",), False, "Contrast2012 = value (Lightroom's curve is proprietary)."),
        darktable=DarktableTarget(
            "colorbalancergb", 0, ("contrast",), "contrast = value / 200: luminance power around grey 18.45 %."
        ),
        is_global=True,
        brightening=0,
        short="Ct",
        description="Expands (+) or compresses (-) luminance around middle grey, keeping chromaticity.",
    ),
    _signed_percent(
        name="highlights",
        label="Highlights",
        stage="colorbalancergb",
        lightroom=LightroomTarget(("Highlights2012",), False, "Highlights2012 = value (Lightroom's is local)."),
        darktable=DarktableTarget(
            "colorbalancergb", 0, ("highlights_Y",), "highlights_Y (gain luminance) = value / 200."
        ),
        is_global=True,
        brightening=1,
        short="Hl",
        description="Brightens (+) or darkens (-) the bright tones through a luminance mask.",
    ),
    _signed_percent(
        name="shadows",
        label="Shadows",
        stage="colorbalancergb",
        lightroom=LightroomTarget(("Shadows2012",), False, "Shadows2012 = value (Lightroom's is local)."),
        darktable=DarktableTarget("colorbalancergb", 0, ("shadows_Y",), "shadows_Y (lift luminance) = value / 200."),
        is_global=True,
        brightening=1,
        short="Sh",
        description="Lifts (+) or deepens (-) the dark tones through a luminance mask.",
    ),
    _signed_percent(
        name="whites",
        label="Whites",
        stage="rgblevels",
        lightroom=LightroomTarget(("Whites2012",), False, "Whites2012 = value."),
        darktable=DarktableTarget(
            "rgblevels",
            0,
            ("levels",),
            "white = 1 - 0.4 * value / 100, grey chosen so that middle grey 0.1845 stays put; black 0.",
        ),
        is_global=True,
        brightening=0,  # + brightens tones above middle grey and darkens those below it
        short="Wh",
        description="Moves the white point; middle grey is kept.",
    ),
    _signed_percent(
        name="blacks",
        label="Blacks",
        stage="exposure",
        lightroom=LightroomTarget(("Blacks2012",), False, "Blacks2012 = value."),
        darktable=DarktableTarget("exposure", 0, ("black",), "black = -0.015 * value / 100 (linear black level)."),
        is_global=True,
        brightening=1,
        short="Bk",
        description="Moves the black level: + lifts blacks, - crushes them.",
    ),
    _signed_percent(
        name="clarity",
        label="Clarity",
        stage="bilat",
        lightroom=LightroomTarget(("Clarity2012",), False, "Clarity2012 = value."),
        darktable=DarktableTarget(
            "bilat",
            0,
            ("detail",),
            "local laplacian mode, sigma_r = sigma_s = 1.0 (neutral 100 %), midtone 0.5; detail = 0.65 * value / 100.",
        ),
        is_global=False,
        brightening=0,
        short="Cl",
        description="Local mid-tone contrast; radius relative to the image size.",
    ),
    _signed_percent(
        name="vibrance",
        label="Vibrance",
        stage="colorbalancergb",
        lightroom=LightroomTarget(("Vibrance",), False, "Vibrance = value."),
        darktable=DarktableTarget(
            "colorbalancergb", 0, ("vibrance",), "vibrance = value / 100 * (1 - black_and_white / 100)."
        ),
        is_global=True,
        brightening=0,
        short="V",
        description="Raises (+) or lowers (-) chroma, more for muted colours than for saturated ones.",
    ),
    _signed_percent(
        name="saturation",
        label="Saturation",
        stage="colorbalancergb",
        lightroom=LightroomTarget(("Saturation",), False, "Saturation = value."),
        darktable=DarktableTarget(
            "colorbalancergb",
            0,
            ("chroma_global",),
            "chroma_global = (1 + value / 100) * (1 - black_and_white / 100) - 1 (chroma scale in Ych).",
        ),
        is_global=True,
        brightening=0,
        short="S",
        description="Scales chroma uniformly at constant luminance.",
    ),
    SliderSpec(
        name="temperature",
        label="Temperature",
        unit="mired shift (relative to as-shot), +warmer",
        shape=(),
        minimum=-100.0,
        maximum=100.0,
        identity=0.0,
        stage="channelmixerrgb",
        lightroom=LightroomTarget(
            ("Temperature", "IncrementalTemperature", "WhiteBalance"),
            False,
            "raw: Temperature = 1e6 / (1e6 / as_shot_K - value) K; rendered files: IncrementalTemperature = value; "
            "WhiteBalance = Custom.",
        ),
        darktable=DarktableTarget(
            "channelmixerrgb",
            0,
            ("red", "green", "blue"),
            "diagonal RGB gains in the working space, bypassing chromatic adaptation (see white_balance).",
        ),
        is_global=True,
        brightening=0,
        short="W",
        description="Warms (+) or cools (-) relative to the as-shot white balance; luminance of grey is kept.",
    ),
    SliderSpec(
        name="tint",
        label="Tint",
        unit="1/3000 Duv (relative to as-shot), +magenta",
        shape=(),
        minimum=-100.0,
        maximum=100.0,
        identity=0.0,
        stage="channelmixerrgb",
        lightroom=LightroomTarget(
            ("Tint", "IncrementalTint", "WhiteBalance"),
            False,
            "raw: Tint = as_shot_tint + value; rendered files: IncrementalTint = value; WhiteBalance = Custom.",
        ),
        darktable=DarktableTarget(
            "channelmixerrgb", 0, ("red", "green", "blue"), "combined with temperature into diagonal gains."
        ),
        is_global=True,
        brightening=0,
        short="T",
        description="Shifts towards magenta (+) or green (-) relative to the as-shot white balance.",
    ),
    SliderSpec(
        name="tone_curve",
        label="Tone curve",
        unit="linear RGB output at CURVE_KNOTS",
        shape=(len(CURVE_KNOTS),),
        minimum=0.0,
        maximum=1.0,
        identity=CURVE_KNOTS,
        stage="rgbcurve",
        lightroom=LightroomTarget(
            ("ToneCurveName2012", "ToneCurvePV2012"),
            False,
            "points (255 * srgb(x), 255 * srgb(y)); Lightroom interpolates differently between them.",
        ),
        darktable=DarktableTarget(
            "rgbcurve",
            0,
            ("curve_nodes", "curve_num_nodes", "curve_type"),
            "channel 0, 7 nodes, monotone Hermite, linked RGB, preserve colours none (per channel).",
        ),
        is_global=True,
        brightening=1,
        short="C",
        description="Master monotone curve applied to each channel in linear light.",
        monotone_curve=True,
    ),
    SliderSpec(
        name="rgb_curves",
        label="RGB curves",
        unit="linear RGB output at CURVE_KNOTS, per channel R, G, B",
        shape=(3, len(CURVE_KNOTS)),
        minimum=0.0,
        maximum=1.0,
        identity=(CURVE_KNOTS, CURVE_KNOTS, CURVE_KNOTS),
        stage="rgbcurve",
        lightroom=LightroomTarget(
            ("ToneCurvePV2012Red", "ToneCurvePV2012Green", "ToneCurvePV2012Blue"),
            False,
            "points (255 * srgb(x), 255 * srgb(y)) per channel.",
        ),
        darktable=DarktableTarget(
            "rgbcurve",
            1,
            ("curve_nodes", "curve_num_nodes", "curve_type", "curve_autoscale"),
            "second instance, manual RGB (independent channels), monotone Hermite.",
        ),
        is_global=True,
        brightening=1,
        short="RGB",
        description="One monotone curve per channel.",
        monotone_curve=True,
    ),
    SliderSpec(
        name="hsl",
        label="HSL",
        unit="-100..100 per colour band (rows) x hue/saturation/luminance (columns)",
        shape=(len(HSL_COLOURS), 3),
        minimum=-100.0,
        maximum=100.0,
        identity=tuple((0.0, 0.0, 0.0) for _ in HSL_COLOURS),
        stage="colorzones",
        lightroom=LightroomTarget(_HSL_KEYS, False, "{Hue,Saturation,Luminance}Adjustment{Colour} = value."),
        darktable=DarktableTarget(
            "colorzones", 0, ("curve",), "select by hue; 8 nodes at the LCh hues of Lightroom's bands."
        ),
        is_global=True,
        brightening=0,
        short="HSL",
        description="Per-colour hue shift, saturation and luminance.",
    ),
    SliderSpec(
        name="black_and_white",
        label="Black & white",
        unit="% desaturation",
        shape=(),
        minimum=0.0,
        maximum=100.0,
        identity=0.0,
        stage="colorbalancergb",
        lightroom=LightroomTarget(
            ("ConvertToGrayscale", "Saturation"),
            False,
            "ConvertToGrayscale = value >= 50; below that folded into Saturation.",
        ),
        darktable=DarktableTarget(
            "colorbalancergb", 0, ("chroma_global", "vibrance"), "scales chroma by (1 - value / 100)."
        ),
        is_global=True,
        brightening=0,
        short="BW",
        description="Removes colour at constant luminance; 100 is fully monochrome.",
    ),
    SliderSpec(
        name="sharpen",
        label="Sharpen",
        unit="0..100",
        shape=(),
        minimum=0.0,
        maximum=100.0,
        identity=0.0,
        stage="sharpen",
        lightroom=LightroomTarget(
            ("Sharpness",),
            False,
            "Sharpness = 1.5 * value in XMP sidecars; the plug-in adds 1.5 * value to the photo's current "
            "Sharpness (Lightroom's default for raws is 40).",
            relative=True,
        ),
        darktable=DarktableTarget(
            "sharpen", 0, ("amount", "radius"), "amount = value / 50; radius = 0.0005 x long side in pixels."
        ),
        is_global=False,
        brightening=0,
        short="Sp",
        description="Unsharp mask on lightness; radius relative to the image size.",
    ),
    _signed_percent(
        name="vignette",
        label="Vignette",
        stage="vignette",
        lightroom=LightroomTarget(("PostCropVignetteAmount",), False, "PostCropVignetteAmount = value."),
        darktable=DarktableTarget(
            "vignette", 0, ("brightness",), "brightness = value / 100; scale 80 %, falloff 50 %, saturation 0."
        ),
        is_global=False,
        brightening=1,
        short="Vg",
        description="Darkens (-) or lightens (+) the corners; geometry relative to the image size.",
    ),
)

_BY_NAME: dict[str, SliderSpec] = {spec.name: spec for spec in CATALOG}


def get_slider(name: str) -> SliderSpec:
    """Return the catalog row of ``name``.

    Raises:
        UnknownSliderError: when the catalog has no such slider.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownSliderError(name) from None


def scalar_identity(name: str) -> float:
    """The identity value of the scalar slider ``name``.

    Raises:
        UnknownSliderError: when the catalog has no such slider.
        TypeError: ``name`` is a curve or table slider (its identity is a tuple).
    """
    identity = get_slider(name).identity
    if not isinstance(identity, float):
        raise TypeError(f"slider {name!r} is not scalar")
    return identity


def slider_names() -> tuple[str, ...]:
    """All slider names, in catalog order."""
    return tuple(_BY_NAME)


def iter_sliders(stage: str | None = None) -> Iterator[SliderSpec]:
    """Iterate over the catalog, optionally only the sliders of one renderer stage."""
    return (spec for spec in CATALOG if stage is None or spec.stage == stage)


def catalog_as_json() -> dict[str, object]:
    """The catalog as plain JSON-serialisable data (what ``autoretouch sliders --json`` prints)."""
    return {
        "catalog_version": CATALOG_VERSION,
        "curve_knots": list(CURVE_KNOTS),
        "hsl_colours": list(HSL_COLOURS),
        "stage_order": list(STAGE_ORDER),
        "sliders": [
            {
                "name": s.name,
                "label": s.label,
                "unit": s.unit,
                "shape": list(s.shape),
                "minimum": s.minimum,
                "maximum": s.maximum,
                "identity": s.identity,
                "stage": s.stage,
                "global": s.is_global,
                "short": s.short,
                "description": s.description,
                "monotone_curve": s.monotone_curve,
                "lightroom": {
                    "keys": list(s.lightroom.keys),
                    "exact": s.lightroom.exact,
                    "note": s.lightroom.note,
                    "relative": s.lightroom.relative,
                },
                "darktable": {
                    "module": s.darktable.module,
                    "instance": s.darktable.instance,
                    "fields": list(s.darktable.fields),
                    "note": s.darktable.note,
                },
            }
            for s in CATALOG
        ],
    }
