"""The slider catalog is consistent: names, shapes, ranges, identities, stages and host keys."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from backend.errors import UnknownSliderError
from backend.sliders.catalog import (
    CATALOG,
    CURVE_KNOTS,
    HSL_COLOURS,
    STAGE_ORDER,
    SliderSpec,
    catalog_as_json,
    get_slider,
    iter_sliders,
    scalar_identity,
    slider_names,
)

#: darktable 4.2 operation names (``darktable:operation``) a slider may become. Kept here on purpose
#: (tests do not read ../shared); a new module must be added consciously.
DARKTABLE_42_MODULES = frozenset(
    {
        "exposure",
        "channelmixerrgb",
        "temperature",
        "sharpen",
        "colorbalancergb",
        "rgbcurve",
        "tonecurve",
        "rgblevels",
        "levels",
        "bilat",
        "colorzones",
        "vignette",
        "shadhi",
        "toneequal",
        "filmicrgb",
        "sigmoid",
        "velvia",
        "vibrance",
        "colisa",
        "monochrome",
    }
)

#: Lightroom keys that more than one slider writes, and which sliders share them. Any other sharing
#: is a catalog error: two sliders would overwrite each other's develop setting.
SHARED_LIGHTROOM_KEYS = {"Saturation": {"saturation", "black_and_white"}, "WhiteBalance": {"temperature", "tint"}}


def _shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, tuple):
        inner = {_shape(v) for v in value}
        assert len(inner) == 1, f"ragged identity {value}"
        return (len(value), *inner.pop())
    return ()


def _flat(value: Any) -> list[float]:
    return [x for v in value for x in _flat(v)] if isinstance(value, tuple) else [value]


def test_names_and_short_names_are_unique() -> None:
    names = [s.name for s in CATALOG]
    assert len(set(names)) == len(names)
    shorts = [s.short for s in CATALOG]
    assert len(set(shorts)) == len(shorts)
    assert slider_names() == tuple(names)
    for name in names:
        assert name.isidentifier() and name == name.lower()


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: s.name)
def test_shape_range_identity_consistent(spec: SliderSpec) -> None:
    assert spec.minimum < spec.maximum
    assert _shape(spec.identity) == spec.shape
    assert spec.size == len(_flat(spec.identity))
    assert all(isinstance(x, float) for x in _flat(spec.identity))
    assert all(spec.minimum <= x <= spec.maximum for x in _flat(spec.identity))
    assert spec.is_scalar == (spec.shape == ())
    assert spec.brightening in (-1, 0, 1)
    assert spec.label and spec.unit and spec.description and spec.short


@pytest.mark.parametrize("spec", [s for s in CATALOG if s.monotone_curve], ids=lambda s: s.name)
def test_curves_have_identity_y_equals_x_on_the_knots(spec: SliderSpec) -> None:
    assert spec.shape[-1] == len(CURVE_KNOTS)
    assert (spec.minimum, spec.maximum) == (0.0, 1.0)
    rows = [spec.identity] if len(spec.shape) == 1 else list(spec.identity)  # type: ignore[arg-type]
    for row in rows:
        assert tuple(row) == CURVE_KNOTS


def test_curve_knots_are_increasing_and_span_zero_to_one() -> None:
    assert CURVE_KNOTS[0] == 0.0 and CURVE_KNOTS[-1] == 1.0
    assert all(b > a for a, b in itertools.pairwise(CURVE_KNOTS))
    assert get_slider("hsl").shape == (len(HSL_COLOURS), 3)


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: s.name)
def test_stage_and_darktable_module(spec: SliderSpec) -> None:
    assert spec.stage in STAGE_ORDER
    assert spec.darktable.module in DARKTABLE_42_MODULES
    assert spec.darktable.module == spec.stage  # one stage = one darktable module
    assert spec.darktable.instance >= 0
    assert spec.darktable.fields and all(f.isidentifier() for f in spec.darktable.fields)


def test_every_stage_has_sliders_and_an_implementation() -> None:
    from backend.render.pipeline import STAGES

    assert tuple(STAGES) == STAGE_ORDER
    assert len(set(STAGE_ORDER)) == len(STAGE_ORDER)
    for stage in STAGE_ORDER:
        assert callable(STAGES[stage])
        assert list(iter_sliders(stage)), f"stage {stage} has no slider"
    assert sum(len(list(iter_sliders(s))) for s in STAGE_ORDER) == len(CATALOG)


def test_lightroom_keys_unique_across_sliders() -> None:
    owners: dict[str, set[str]] = {}
    for spec in CATALOG:
        assert spec.lightroom.keys, f"{spec.name} has no Lightroom key"
        assert len(set(spec.lightroom.keys)) == len(spec.lightroom.keys)
        for key in spec.lightroom.keys:
            assert key.isidentifier()
            owners.setdefault(key, set()).add(spec.name)
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    assert shared == SHARED_LIGHTROOM_KEYS


def test_each_darktable_module_instance_belongs_to_one_stage() -> None:
    # Several sliders of one stage may write the same fields (they are packed together), but two stages
    # never write the same module instance.
    stages_of: dict[tuple[str, int], set[str]] = {}
    for s in CATALOG:
        stages_of.setdefault((s.darktable.module, s.darktable.instance), set()).add(s.stage)
    assert {k: v for k, v in stages_of.items() if len(v) > 1} == {}
    assert ("rgbcurve", 0) in stages_of and ("rgbcurve", 1) in stages_of


def test_get_slider_unknown_raises_typed_error() -> None:
    assert get_slider("exposure").name == "exposure"
    with pytest.raises(UnknownSliderError, match="'glow'"):
        get_slider("glow")


def test_scalar_identity_of_scalar_sliders_and_refusal_for_curves() -> None:
    assert scalar_identity("exposure") == 0.0
    assert all(scalar_identity(s.name) == s.identity for s in CATALOG if s.shape == ())
    with pytest.raises(TypeError, match="tone_curve"):
        scalar_identity("tone_curve")
    with pytest.raises(UnknownSliderError):
        scalar_identity("no_such_slider")


def test_catalog_as_json_matches_catalog() -> None:
    data = json.loads(json.dumps(catalog_as_json()))
    assert data["stage_order"] == list(STAGE_ORDER)
    assert data["curve_knots"] == list(CURVE_KNOTS)
    assert [s["name"] for s in data["sliders"]] == [s.name for s in CATALOG]
    for row, spec in zip(data["sliders"], CATALOG, strict=True):
        assert (row["minimum"], row["maximum"], row["stage"]) == (spec.minimum, spec.maximum, spec.stage)
        assert tuple(row["shape"]) == spec.shape
        assert _flat_json(row["identity"]) == pytest.approx(_flat(spec.identity))
        assert row["lightroom"]["keys"] == list(spec.lightroom.keys)
        assert row["darktable"]["module"] == spec.darktable.module


def _flat_json(value: Any) -> list[float]:
    return [x for v in value for x in _flat_json(v)] if isinstance(value, list) else [value]
