from __future__ import annotations

import itertools
from typing import Any

import pytest

from backend.recipe import Recipe, Step
from backend.sliders.catalog import CURVE_KNOTS, HSL_COLOURS, get_slider, slider_names
from backend.translate.lightroom import recipe_to_develop_settings
from testing.lrcat_fixtures import default_import_settings
from trainer.lrcat import (
    CANONICAL_ORDER,
    ZEROED,
    AsShotWhiteBalance,
    map_settings,
    process_version,
    settings_to_recipe,
)
from trainer.lrcat.curves import MEDIUM_CONTRAST_POINTS, curve_to_knots

MEDIUM = [0, 0, 32, 22, 64, 56, 128, 128, 192, 196, 255, 255]


def legacy(**keys: Any) -> dict[str, Any]:
    """A FiveK-style PV2003 row: no ProcessVersion, Linear curve, zero keys omitted."""
    return {"Version": "5.4", "ToneCurveName": "Linear", "ToneCurve": [0, 0, 255, 255], "Sharpness": 0, **keys}


def _flat(value: Any) -> list[float]:
    return [x for v in value for x in _flat(v)] if isinstance(value, tuple) else [float(value)]


def values(settings: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return map_settings(settings, **kwargs).values


def test_canonical_order_covers_the_catalog() -> None:
    assert sorted(CANONICAL_ORDER) == sorted(slider_names())


def test_process_version_detection() -> None:
    assert process_version({"Version": "5.4"}) == "PV2003"
    assert process_version({"ProcessVersion": "5.0"}) == "PV2003"
    assert process_version({"ProcessVersion": "5.7"}) == "PV2010"
    assert process_version({"ProcessVersion": "6.7"}) == "PV2012"
    assert process_version({"ProcessVersion": "15.4"}) == "PV2012"
    assert process_version({"Exposure2012": 0.3}) == "PV2012"


def test_exposure_plus_one() -> None:
    assert values(legacy(Exposure=1))["exposure"] == 1.0
    recipe = settings_to_recipe(legacy(Exposure=1)).recipe
    assert recipe.to_dict()["steps"] == [{"slider": "exposure", "value": 1.0}]


def test_neutral_legacy_row_is_an_empty_recipe() -> None:
    mapped = settings_to_recipe(legacy(Brightness=50, Contrast=25, Shadows=5, WhiteBalance="As Shot"))
    assert mapped.recipe.steps == ()
    assert mapped.process == "PV2003"
    assert mapped.notes == ()


def test_identity_tone_curve_is_identity() -> None:
    assert values(legacy())["tone_curve"] == CURVE_KNOTS
    assert values({"ProcessVersion": "11.0", "ToneCurvePV2012": [0, 0, 255, 255]})["tone_curve"] == CURVE_KNOTS


def test_medium_contrast_is_an_s_curve() -> None:
    curve = values(legacy(ToneCurveName="Medium Contrast", ToneCurve=MEDIUM))["tone_curve"]
    assert curve[0] == 0.0 and curve[-1] == pytest.approx(1.0)
    assert curve[1] < CURVE_KNOTS[1] and curve[2] < CURVE_KNOTS[2]  # darker shadows
    assert curve[4] > CURVE_KNOTS[4] and curve[5] > CURVE_KNOTS[5]  # brighter highlights
    assert all(b >= a for a, b in itertools.pairwise(curve))
    # encoded mid-grey (128) is a control point on the identity: the knot at 127.5 stays within 1/255
    assert abs(curve[3] - CURVE_KNOTS[3]) < 0.01
    # the named default is the same curve when the points are missing
    named = values({"Version": "5.4", "ToneCurveName": "Medium Contrast"})["tone_curve"]
    assert named == pytest.approx(curve)


def test_curve_points_at_knots_are_exact() -> None:
    # a curve whose control points sit on the encoded knots is reproduced exactly at those knots
    encoded = [255 * i / 6 for i in range(7)]
    target = [0.0, 0.02, 0.1, 0.25, 0.45, 0.7, 1.0]
    linear_to_encoded = [(v * 12.92 if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055) * 255 for v in target]
    points = [c for pair in zip(encoded, linear_to_encoded, strict=True) for c in pair]
    got = values({"ProcessVersion": "11.0", "ToneCurvePV2012": points})["tone_curve"]
    assert got == pytest.approx(target, abs=1e-6)  # CURVE_KNOTS are rounded to 6 decimals


def test_brightness_is_a_midtone_lift_with_fixed_endpoints() -> None:
    lifted = values(legacy(Brightness=100))["tone_curve"]
    darker = values(legacy(Brightness=0))["tone_curve"]
    assert lifted[0] == 0.0 and lifted[-1] == pytest.approx(1.0)
    assert all(lifted[i] > CURVE_KNOTS[i] > darker[i] for i in range(1, 6))
    assert values(legacy(Brightness=50))["tone_curve"] == CURVE_KNOTS
    # with the Zeroed baseline, Brightness 50 is a lift and 0 the identity
    assert values(legacy(Brightness=0), baseline=ZEROED)["tone_curve"] == CURVE_KNOTS
    assert values(legacy(Brightness=50), baseline=ZEROED)["tone_curve"][3] > CURVE_KNOTS[3]
    # Brightness happens before the point curve: both together differ from either alone
    both = values(legacy(Brightness=100, ToneCurveName="Medium Contrast", ToneCurve=MEDIUM))["tone_curve"]
    assert both != lifted and both != curve_to_knots(MEDIUM_CONTRAST_POINTS)


def test_contrast_relative_to_baseline() -> None:
    assert values(legacy(Contrast=25))["contrast"] == 0.0
    assert values(legacy(Contrast=60))["contrast"] == 35.0
    assert values(legacy(Contrast=-50))["contrast"] == -75.0
    assert values(legacy())["contrast"] == 0.0  # missing -> default 25
    assert values(legacy(Contrast=25), baseline=ZEROED)["contrast"] == 25.0


def test_shadows_black_level_to_blacks() -> None:
    assert values(legacy(Shadows=5))["blacks"] == 0.0
    assert values(legacy(Shadows=20))["blacks"] == pytest.approx(-100.0)  # 0.015 more linear black
    assert values(legacy(Shadows=8))["blacks"] == pytest.approx(-20.0)
    assert values(legacy(Shadows=0))["blacks"] == pytest.approx(100.0 / 3)
    mapped = map_settings(legacy(Shadows=40))
    assert mapped.values["blacks"] == -100.0
    assert any("clamped" in n for n in mapped.notes)


def test_recovery_fill_clarity_vibrance_saturation() -> None:
    v = values(legacy(HighlightRecovery=40, FillLight=30, Clarity=-20, Vibrance=14, Saturation=-7))
    assert (v["highlights"], v["shadows"], v["clarity"], v["vibrance"], v["saturation"]) == (-40, 30, -20, 14, -7)


def test_hsl_keys() -> None:
    v = values(legacy(SaturationAdjustmentBlue=-20, HueAdjustmentRed=5, LuminanceAdjustmentMagenta=33))
    hsl = v["hsl"]
    assert hsl[HSL_COLOURS.index("Blue")] == (0.0, -20.0, 0.0)
    assert hsl[HSL_COLOURS.index("Red")] == (5.0, 0.0, 0.0)
    assert hsl[HSL_COLOURS.index("Magenta")] == (0.0, 0.0, 33.0)


def test_white_balance_relative_to_as_shot() -> None:
    as_shot = AsShotWhiteBalance(5000.0, 3.0)
    v = values(legacy(WhiteBalance="Custom", Temperature=5500, Tint=10), as_shot=as_shot)
    assert v["temperature"] == pytest.approx(1e6 / 5000 - 1e6 / 5500)  # +18.2 mired: warmer
    assert v["tint"] == 7.0
    cooler = values(legacy(WhiteBalance="Custom", Temperature=4000, Tint=3), as_shot=as_shot)
    assert cooler["temperature"] < 0 and cooler["tint"] == 0.0
    # CustomTemperature wins with WhiteBalance "Custom"
    custom = values(
        legacy(WhiteBalance="Custom", Temperature=9999, Tint=0, CustomTemperature=5500, CustomTint=3), as_shot=as_shot
    )
    assert custom["temperature"] == pytest.approx(1e6 / 5000 - 1e6 / 5500)
    # as shot, or no WB keys at all: no shift, no as-shot needed
    for row in (legacy(WhiteBalance="As Shot", Temperature=6100, Tint=4), legacy()):
        assert (values(row)["temperature"], values(row)["tint"]) == (0.0, 0.0)
    # incremental values of rendered files are taken as they are
    assert values({"ProcessVersion": "11.0", "IncrementalTemperature": 12, "IncrementalTint": -4})["tint"] == -4.0


def test_white_balance_without_as_shot_is_left_out() -> None:
    mapped = map_settings(legacy(WhiteBalance="Daylight", Temperature=5500, Tint=10))
    assert "temperature" not in mapped.values and "tint" not in mapped.values
    assert any("as-shot" in n for n in mapped.notes)


def test_grayscale_sharpen_vignette() -> None:
    v = values(legacy(ConvertToGrayscale=True, Sharpness=60, PostCropVignetteAmount=-30))
    assert (v["black_and_white"], v["sharpen"], v["vignette"]) == (100.0, 40.0, -30.0)
    assert values({"Version": "5.4"})["sharpen"] == pytest.approx(25 / 1.5)  # legacy default 25
    assert "sharpen" not in values({"ProcessVersion": "11.0"})
    assert values(legacy(VignetteAmount=-15))["vignette"] == -15.0


def test_default_lr3_import_row() -> None:
    mapped = settings_to_recipe(default_import_settings(), as_shot=AsShotWhiteBalance(5650, -1))
    assert [s.slider for s in mapped.recipe.steps] == ["tone_curve", "sharpen"]
    assert mapped.process == "PV2010"


def test_auto_sentinel_and_unmapped_keys_are_noted() -> None:
    mapped = map_settings(legacy(Exposure=-999999, Dehaze=12, ParametricShadows=-15, GrayMixerRed=-8))
    assert mapped.values["exposure"] == 0.0
    joined = " ".join(mapped.notes)
    assert "'Auto'" in joined and "Dehaze=12" in joined and "ParametricShadows=-15" in joined
    assert "GrayMixerRed" in joined


def test_invalid_values_are_noted_not_raised() -> None:
    mapped = map_settings(legacy(Exposure="bright", ToneCurve=[0, 0, 100]))
    assert "exposure" not in mapped.values and "tone_curve" not in mapped.values
    assert len(mapped.notes) == 2


def test_pv2012_ignores_legacy_twins_and_clamps() -> None:
    row = {"ProcessVersion": "6.7", "Exposure": 2.0, "Brightness": 120, "Contrast": 80, "Exposure2012": 0.5}
    v = values(row)
    assert v["exposure"] == 0.5 and v["contrast"] == 0.0 and v["tone_curve"] == CURVE_KNOTS
    mapped = map_settings({"ProcessVersion": "11.0", "Exposure2012": 7.5, "Whites2012": -150})
    assert mapped.values["exposure"] == get_slider("exposure").maximum and mapped.values["whites"] == -100.0
    assert sum("clamped" in n for n in mapped.notes) == 2


def test_pv2012_roundtrip_through_the_translator() -> None:
    as_shot = AsShotWhiteBalance(5200.0, 4.0)
    hsl = tuple((0.0, 0.0, 0.0) if c != "Orange" else (-5.0, 20.0, 10.0) for c in HSL_COLOURS)
    recipe = Recipe(
        (
            Step("exposure", 0.37),
            Step("contrast", 18.0),
            Step("highlights", -42.0),
            Step("shadows", 31.0),
            Step("whites", 9.0),
            Step("blacks", -12.0),
            Step("clarity", 15.0),
            Step("vibrance", 22.0),
            Step("saturation", -6.0),
            Step("temperature", 14.0),
            Step("tint", -3.0),
            Step("tone_curve", (0.0, 0.03, 0.1, 0.23, 0.42, 0.68, 1.0)),
            Step("rgb_curves", (CURVE_KNOTS, (0.0, 0.03, 0.1, 0.22, 0.41, 0.67, 1.0), CURVE_KNOTS)),
            Step("hsl", hsl),
            Step("black_and_white", 100.0),
            Step("sharpen", 40.0),
            Step("vignette", -25.0),
        )
    )
    settings: dict[str, Any] = dict(recipe_to_develop_settings(recipe, is_raw=True, as_shot=as_shot))
    settings.update(ProcessVersion="11.0", WhiteBalance="Custom")
    back = settings_to_recipe(settings, as_shot=as_shot).recipe.settings()
    assert set(back) == set(recipe.settings())
    for name, value in recipe.settings().items():
        if name in ("tone_curve", "rgb_curves", "hsl"):
            assert _flat(back[name]) == pytest.approx(_flat(value), abs=0.004), name  # integer points/values
        elif name == "temperature":
            assert back[name] == pytest.approx(value, abs=0.05)  # integer kelvin
        elif name == "exposure":
            assert back[name] == pytest.approx(value, abs=0.005)
        else:
            assert back[name] == pytest.approx(value, abs=0.5), name


@pytest.mark.parametrize("curve", [[0, 255, 255, 0], [0, 255, 128, 0, 255, 255], [0, 0, 128, 140, 200, 120, 255, 255]])
def test_a_curve_that_goes_down_is_left_out_with_a_note_not_flattened_to_white(curve: list[int]) -> None:
    mapped = map_settings({"ProcessVersion": "11.0", "ToneCurvePV2012": curve, "Exposure2012": 0.7})
    assert "tone_curve" not in mapped.values  # was (1.0, ..., 1.0): a white frame fitted at 100 dB
    assert mapped.values["exposure"] == 0.7  # the photo's other settings are kept
    assert any("ToneCurvePV2012 goes down" in n and "tone_curve left out" in n for n in mapped.notes), mapped.notes
    legacy_row = map_settings(legacy(ToneCurve=curve))
    assert "tone_curve" not in legacy_row.values and any("ToneCurve goes down" in n for n in legacy_row.notes)


def test_a_channel_curve_that_goes_down_leaves_out_the_rgb_curves() -> None:
    mapped = map_settings({"ProcessVersion": "11.0", "ToneCurvePV2012Green": [0, 255, 255, 0], "Contrast2012": 10})
    assert "rgb_curves" not in mapped.values and mapped.values["contrast"] == 10.0
    assert any("ToneCurvePV2012Green goes down" in n for n in mapped.notes), mapped.notes


def test_a_flat_or_rising_curve_is_still_mapped() -> None:
    flat = map_settings({"ProcessVersion": "11.0", "ToneCurvePV2012": [0, 128, 255, 128]})
    assert flat.values["tone_curve"] == pytest.approx((flat.values["tone_curve"][0],) * len(CURVE_KNOTS))
    assert not flat.notes
