"""Recipe model: validation, strength scaling, merge, blend and JSON round trips."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest

from backend.errors import InvalidRecipeError, NotFoundError, UnknownSliderError
from backend.recipe import RECIPE_VERSION, Recipe, Step, blend, load_recipe, median, merge, scale
from backend.sliders.catalog import CATALOG, CURVE_KNOTS, get_slider

KNOTS = list(CURVE_KNOTS)
S_CURVE = [0.0, 0.014, 0.0684, 0.214, 0.4623, 0.742, 1.0]


def _doc(*steps: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    return {"version": RECIPE_VERSION, "steps": [{"slider": n, "value": v} for n, v in steps], **extra}


def _mid(spec_name: str) -> Any:
    """A valid non-identity value for any slider: 30 % of the way from identity to the maximum."""
    spec = get_slider(spec_name)

    def go(ident: Any) -> Any:
        if isinstance(ident, tuple):
            return [go(x) for x in ident]
        return ident + 0.3 * (spec.maximum - ident)

    return go(spec.identity)


def _flat(v: Any) -> list[float]:
    return [x for e in v for x in _flat(e)] if isinstance(v, list | tuple) else [float(v)]


# -- validation ----------------------------------------------------------------------------------


def test_valid_recipe_with_every_slider() -> None:
    doc = _doc(*((s.name, _mid(s.name)) for s in CATALOG), style="mine", strength=0.5, model="m@1")
    recipe = Recipe.from_dict(doc)
    assert [s.slider for s in recipe.steps] == [s.name for s in CATALOG]
    assert recipe.style == "mine" and recipe.model == "m@1" and recipe.strength == 0.5
    for spec in CATALOG:
        assert _flat(recipe.value(spec.name)) == pytest.approx(_flat(_mid(spec.name)))


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        (_doc(("exposur", 1.0)), "unknown slider 'exposur'"),
        (_doc(("exposure", 5.5)), "outside its range"),
        (_doc(("contrast", -100.5)), "outside its range"),
        (_doc(("tone_curve", [*KNOTS[:-1], 1.2])), "outside its range"),
        (_doc(("exposure", [1.0])), "shape"),
        (_doc(("tone_curve", KNOTS[:-1])), "shape"),
        (_doc(("rgb_curves", KNOTS)), "shape"),
        (_doc(("hsl", [[0.0, 0.0, 0.0]] * 7)), "shape"),
        (_doc(("rgb_curves", [KNOTS, KNOTS, KNOTS[:-1]])), "ragged"),
        (_doc(("exposure", float("nan"))), "non-finite"),
        (_doc(("exposure", float("inf"))), "non-finite"),
        (_doc(("exposure", True)), "must be a number"),
        (_doc(("exposure", "1")), "must be a number"),
        (_doc(("exposure", None)), "must be a number"),
        (_doc(("tone_curve", [])), "empty"),
        (_doc(("exposure", 1.0), ("contrast", 5), ("exposure", 0.5)), "appears twice"),
        (_doc(("tone_curve", [0.0, 0.03, 0.02, 0.2, 0.4, 0.7, 1.0])), "non-decreasing"),
        (_doc(("rgb_curves", [KNOTS, KNOTS, [0.0, 0.03, 0.09, 0.5, 0.4, 0.7, 1.0]])), "non-decreasing"),
        ({"version": 2, "steps": []}, "version"),
        ({"steps": []}, "version"),
        ({"version": "1", "steps": []}, "version"),
        (_doc(("exposure", 1.0), colour="warm"), "unknown recipe keys"),
        ({"version": 1, "steps": [{"slider": "exposure", "value": 1, "why": "x"}]}, "exactly 'slider' and 'value'"),
        ({"version": 1, "steps": [{"slider": 3, "value": 1}]}, "'slider' must be a string"),
        ({"version": 1, "steps": {"exposure": 1}}, "'steps' must be a list"),
        (_doc(strength=1.5), r"strength must lie in \[0, 1\]"),
        (_doc(strength=-0.1), r"strength must lie in \[0, 1\]"),
        (_doc(strength="full"), "'strength' must be a number"),
        (_doc(style=3), "'style' must be a string"),
        ([1, 2], "JSON object"),
    ],
)
def test_invalid_recipes_raise(doc: Any, match: str) -> None:
    with pytest.raises(InvalidRecipeError, match=match):
        Recipe.from_dict(doc)


def test_unknown_slider_is_typed_and_exit_code_4() -> None:
    with pytest.raises(UnknownSliderError) as info:
        Recipe.from_dict(_doc(("glow", 10)))
    assert info.value.name == "glow"
    assert info.value.exit_code == 4


def test_direct_construction_validates() -> None:
    with pytest.raises(InvalidRecipeError, match="appears twice"):
        Recipe((Step("exposure", 1.0), Step("exposure", 2.0)))
    with pytest.raises(InvalidRecipeError, match="outside"):
        Recipe((Step("vibrance", 101.0),))


@pytest.mark.parametrize("text", ["", "{", '{"version": 1, "steps": [}', "nan", "{'version': 1}"])
def test_bad_json_text(text: str) -> None:
    with pytest.raises(InvalidRecipeError, match=r"my\.json"):
        Recipe.from_json(text, source="my.json")


def test_load_recipe_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(NotFoundError, match=r"missing\.json"):
        load_recipe(missing)
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "steps": [{"slider": "exposure", "value": 9}]}', encoding="utf-8")
    with pytest.raises(InvalidRecipeError, match=r"bad\.json"):
        load_recipe(bad)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidRecipeError, match=r"binary\.json"):
        load_recipe(binary)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ((("exposure", 0.5), ("expo", 1.0)), "step 1: unknown slider 'expo'"),
        ((("exposure", 0.5), ("exposure", 1.0)), "step 1: slider 'exposure' appears twice"),
    ],
    ids=["unknown", "twice"],
)
@pytest.mark.parametrize("command", ["apply", "render"])
def test_slider_errors_name_the_recipe_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: tuple[tuple[str, Any], ...], message: str, command: str
) -> None:
    from backend.cli.main import main

    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(_doc(*steps)), encoding="utf-8")
    with pytest.raises(InvalidRecipeError) as info:
        load_recipe(recipe)
    assert str(info.value) == f"{recipe}: {message}" + ("; a recipe sets it once" if "twice" in message else "")
    extra = ["--host", "darktable", "--dry-run"] if command == "apply" else ["--out-dir", str(tmp_path / "out")]
    assert main([command, str(tmp_path / "p.jpg"), "--recipe", str(recipe), *extra]) == 4
    assert f"autoretouch: error: {recipe}: {message}" in capsys.readouterr().err


def test_an_unknown_slider_named_with_its_file_keeps_its_type() -> None:
    with pytest.raises(UnknownSliderError) as info:
        Recipe.from_dict(_doc(("glow", 10)), source="r.json")
    assert info.value.name == "glow" and str(info.value) == "r.json: step 0: unknown slider 'glow'"


# -- strength ------------------------------------------------------------------------------------


def _scaled_expectation(value: Any, identity: Any, alpha: float) -> list[float]:
    return [i + alpha * (v - i) for v, i in zip(_flat(value), _flat(identity), strict=True)]


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5, 0.8, 1.0])
def test_scale_is_exact_in_slider_space(alpha: float) -> None:
    recipe = Recipe.from_dict(
        _doc(("exposure", 1.2), ("contrast", -40), ("tone_curve", S_CURVE), ("hsl", _mid("hsl")), strength=0.5)
    )
    scaled = scale(recipe, alpha)
    assert scaled.strength == pytest.approx(0.5 * alpha)
    for step in recipe.steps:
        want = _scaled_expectation(step.value, step.spec.identity, alpha)
        assert _flat(scaled.value(step.slider)) == pytest.approx(want, abs=1e-12)
    if alpha == 0.0:
        assert scaled.steps == ()  # everything back at identity: nothing left to do
    if alpha == 1.0:
        assert scaled.steps == recipe.steps


def test_scale_keeps_curves_monotone() -> None:
    steep = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]  # extreme but valid
    recipe = Recipe.from_dict(_doc(("tone_curve", steep), ("rgb_curves", [steep, S_CURVE, KNOTS])))
    for alpha in (0.1, 0.33, 0.5, 0.9):
        scaled = scale(recipe, alpha)
        for step in scaled.steps:
            rows = [step.value] if step.slider == "tone_curve" else list(step.value)  # type: ignore[arg-type]
            for row in rows:
                assert all(b >= a for a, b in itertools.pairwise(row))  # type: ignore[arg-type]


@pytest.mark.parametrize("alpha", [-0.01, 1.01, math.nan, math.inf])
def test_scale_rejects_bad_alpha(alpha: float) -> None:
    with pytest.raises(InvalidRecipeError, match="strength"):
        scale(Recipe.from_dict(_doc(("exposure", 1.0))), alpha)


# -- merge and blend -----------------------------------------------------------------------------


def test_merge_later_recipe_wins_per_slider() -> None:
    base = Recipe.from_dict(_doc(("exposure", 1.0), ("contrast", 10), style="base", model="b@1"))
    over = Recipe.from_dict(_doc(("contrast", -30), ("vibrance", 20), strength=0.5))
    merged = merge(base, over)
    assert [s.slider for s in merged.steps] == ["exposure", "contrast", "vibrance"]
    assert merged.settings() == {"exposure": 1.0, "contrast": -30.0, "vibrance": 20.0}
    assert (merged.style, merged.model, merged.strength) == ("base", "b@1", 0.5)
    assert merge(over, base).settings()["contrast"] == 10.0  # not symmetric: the later one wins


def test_blend_is_weighted_mean_with_identity_for_unset() -> None:
    a = Recipe.from_dict(_doc(("exposure", 1.0), ("tone_curve", S_CURVE)))
    b = Recipe.from_dict(_doc(("exposure", -0.5), ("vibrance", 40)))
    mixed = blend([a, b], [3.0, 1.0], style="A:0.75,B:0.25")
    assert mixed.style == "A:0.75,B:0.25"
    assert [s.slider for s in mixed.steps] == ["exposure", "tone_curve", "vibrance"]
    assert mixed.value("exposure") == pytest.approx(0.75 * 1.0 + 0.25 * -0.5)
    assert mixed.value("vibrance") == pytest.approx(0.25 * 40)
    want_curve = [0.75 * s + 0.25 * k for s, k in zip(S_CURVE, KNOTS, strict=True)]
    assert _flat(mixed.value("tone_curve")) == pytest.approx(want_curve)


def test_blend_drops_sliders_that_cancel_and_checks_weights() -> None:
    a = Recipe.from_dict(_doc(("exposure", 1.0)))
    b = Recipe.from_dict(_doc(("exposure", -1.0)))
    assert blend([a, b], [1.0, 1.0]).steps == ()
    with pytest.raises(InvalidRecipeError):
        blend([a, b], [1.0])
    with pytest.raises(InvalidRecipeError):
        blend([a], [-1.0])
    with pytest.raises(InvalidRecipeError):
        blend([a, b], [0.0, 0.0])


def test_median_ignores_a_minority_of_different_edits() -> None:
    bw = Recipe.from_dict(_doc(("exposure", 2.0), ("black_and_white", 100), ("tone_curve", S_CURVE)))
    colour = [Recipe.from_dict(_doc(("exposure", v))) for v in (0.2, 0.5, 0.6)]
    med = median([bw, *colour], [1.0, 1.0, 1.0, 1.0], style="nearest")
    assert med.style == "nearest"
    assert [s.slider for s in med.steps] == ["exposure"]  # black & white and the curve of one photo in four: gone
    assert med.value("exposure") == pytest.approx(0.55)  # an exact tie of weights: the midpoint of 0.5 and 0.6
    assert blend([bw, *colour], [1.0] * 4).value("black_and_white") == pytest.approx(25.0)  # where the mean goes
    # weights count: the black & white photo weighing more than the others together wins every slider
    heavy = median([bw, *colour], [4.0, 1.0, 1.0, 1.0])
    assert heavy.value("black_and_white") == pytest.approx(100.0) and heavy.value("exposure") == pytest.approx(2.0)
    # curves element by element (each knot's median may come from another curve), and monotone ones stay monotone
    lift = [min(1.0, k + 0.1) if 0 < k < 1 else k for k in KNOTS]
    curves = [Recipe.from_dict(_doc(("tone_curve", c))) for c in (S_CURVE, KNOTS, lift)]
    flat = _flat(median(curves, [1.0, 1.0, 1.0]).value("tone_curve"))
    assert flat == pytest.approx([sorted(t)[1] for t in zip(S_CURVE, KNOTS, lift, strict=True)])
    assert flat != pytest.approx(list(S_CURVE)) and flat != pytest.approx(KNOTS) and flat == sorted(flat)
    # a recipe of weight 0 is left out, also from an exact tie
    assert median([colour[0], bw, colour[2]], [1.0, 0.0, 1.0]).value("exposure") == pytest.approx(0.4)
    with pytest.raises(InvalidRecipeError):
        median([bw], [1.0, 1.0])
    with pytest.raises(InvalidRecipeError):
        median([bw, bw], [0.0, 0.0])
    with pytest.raises(InvalidRecipeError):
        median([], [])


# -- round trips ---------------------------------------------------------------------------------


def test_json_round_trip_every_slider(tmp_path: Path) -> None:
    doc = _doc(*((s.name, _mid(s.name)) for s in reversed(CATALOG)), style="s", strength=0.7, model="m")
    recipe = Recipe.from_dict(doc)
    again = Recipe.from_json(recipe.to_json())
    assert again == recipe
    assert json.loads(recipe.to_json(indent=None)) == json.loads(json.dumps(doc))
    path = tmp_path / "r.json"
    path.write_text(recipe.to_json(), encoding="utf-8")
    assert load_recipe(path) == recipe


def test_from_settings_drops_identity_and_tensors_have_catalog_shapes() -> None:
    settings = {"exposure": 0.0, "contrast": 12, "tone_curve": KNOTS, "hsl": _mid("hsl")}
    recipe = Recipe.from_settings(settings, style="x")
    assert [s.slider for s in recipe.steps] == ["contrast", "hsl"]
    tensors = recipe.tensors()
    assert tuple(tensors["hsl"].shape) == get_slider("hsl").shape
    assert tensors["contrast"].shape == ()
    assert recipe.value("exposure") == 0.0  # unset -> identity
