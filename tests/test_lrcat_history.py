from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from testing.lrcat_fixtures import FIVEK_HISTORY_ORDER, make_fivek_catalog
from trainer.lrcat import (
    CANONICAL_ORDER,
    AsShotWhiteBalance,
    HistoryStep,
    expert_recipes,
    settings_to_recipe,
    slider_moves,
)

# What each of the fixture's history steps moves, in our sliders (independent of the module's name table).
FIXTURE_STEP_SLIDERS = {
    "Exposure": ["exposure"],
    "Contrast": ["contrast"],
    "Brightness": ["tone_curve"],
    "White Balance": ["temperature", "tint"],
    "Fill Light": ["shadows"],
    "Highlight Recovery": ["highlights"],
    "Vibrance": ["vibrance"],
}
BASE = {"Version": "5.4", "ToneCurveName": "Linear", "ToneCurve": [0, 0, 255, 255], "Sharpness": 0}


def step(i: int, name: str, settings: dict[str, Any] | None) -> HistoryStep:
    return HistoryStep(id=100 + i, name=name, date=None, settings=settings or {})


@pytest.mark.parametrize("expert", ["A", "B", "C", "D", "E"])
def test_expert_recipe_order_follows_history(tmp_path: Path, expert: str) -> None:
    fx = make_fivek_catalog(tmp_path / "fivek.lrcat", photos=2, experts=(expert,))
    results = list(expert_recipes(fx.path, expert, expected_count=2))
    assert len(results) == 2
    for (photo, mapped), written in zip(results, fx.photos, strict=True):
        assert photo.id == written.experts[expert][0]
        # the import step sets default sharpening (Sharpness 25) first, then the named steps in order
        moved = [slider for name in FIVEK_HISTORY_ORDER[expert] for slider in FIXTURE_STEP_SLIDERS[name]]
        expected = ["sharpen", *moved]
        assert [s.slider for s in mapped.recipe.steps] == expected
        assert mapped.ordered_by == "history"
        assert mapped.recipe.style == f"fivek-{expert}"
        settings = written.experts[expert][1]
        if "White Balance" in FIVEK_HISTORY_ORDER[expert]:
            kelvin, tint = written.as_shot
            assert mapped.recipe.value("temperature") == pytest.approx(1e6 / kelvin - 1e6 / settings["Temperature"])
            assert mapped.recipe.value("tint") == pytest.approx(settings["Tint"] - tint)
        assert mapped.recipe.value("exposure") == pytest.approx(settings["Exposure"])


def test_no_history_gives_canonical_order() -> None:
    settings = {**BASE, "Vibrance": 10, "Exposure": 0.5, "Contrast": 40, "FillLight": 12}
    mapped = settings_to_recipe(settings)
    names = [s.slider for s in mapped.recipe.steps]
    assert names == sorted(names, key=CANONICAL_ORDER.index) == ["exposure", "contrast", "shadows", "vibrance"]
    assert mapped.ordered_by == "canonical" and mapped.first_moved == {}


def test_first_move_counts_and_unexplained_sliders_go_last() -> None:
    s0 = {**BASE}
    s1 = {**BASE, "Vibrance": 10}
    s2 = {**BASE, "Vibrance": 10, "Exposure": 0.3}
    s3 = {**BASE, "Vibrance": 25, "Exposure": 0.3}  # vibrance moved again: keeps its first position
    s4 = {**BASE, "Vibrance": 25, "Exposure": 0.3, "Clarity": 15}
    s5 = {**BASE, "Vibrance": 25, "Exposure": 0.3}  # clarity back to 0: not in the recipe
    history = [
        step(i, n, s)
        for i, (n, s) in enumerate([("Import", s0), ("V", s1), ("E", s2), ("V", s3), ("C", s4), ("C", s5)])
    ]
    final = {**s5, "Contrast": 50, "Saturation": 5}  # never seen in the history
    mapped = settings_to_recipe(final, history)
    assert [s.slider for s in mapped.recipe.steps] == ["vibrance", "exposure", "contrast", "saturation"]
    assert mapped.first_moved == {"vibrance": 1, "exposure": 2}
    assert mapped.ordered_by == "history"


def test_steps_without_text_are_matched_by_name() -> None:
    history = [
        step(0, "Import (07/02/2012 22:58:22)", None),
        step(1, "Fill Light", None),
        step(2, "Exposure +0.50", None),
        step(3, "Highlight Recovery", None),
    ]
    assert slider_moves(history) == {"shadows": 1, "exposure": 2, "highlights": 3}
    final = {**BASE, "Exposure": 0.5, "HighlightRecovery": 20, "FillLight": 10}
    assert [s.slider for s in settings_to_recipe(final, history).recipe.steps] == ["shadows", "exposure", "highlights"]


def test_import_defaults_move_at_step_zero() -> None:
    imported = {"Version": "5.4", "ToneCurveName": "Medium Contrast", "Sharpness": 25}
    edited = {**imported, "Exposure": 0.7}
    history = [step(0, "Import", imported), step(1, "Exposure", edited)]
    mapped = settings_to_recipe(edited, history)
    assert [s.slider for s in mapped.recipe.steps] == ["tone_curve", "sharpen", "exposure"]
    assert mapped.first_moved == {"tone_curve": 0, "sharpen": 0, "exposure": 1}


def test_white_balance_step_needs_as_shot_to_be_ordered() -> None:
    s0 = {**BASE, "WhiteBalance": "As Shot"}
    s1 = {**BASE, "WhiteBalance": "As Shot", "Exposure": 0.4}
    s2 = {**s1, "WhiteBalance": "Custom", "Temperature": 6000, "Tint": 5}
    history = [step(0, "Import", s0), step(1, "Exposure", s1), step(2, "White Balance", s2)]
    with_wb = settings_to_recipe(s2, history, as_shot=AsShotWhiteBalance(5000, 0))
    assert [s.slider for s in with_wb.recipe.steps] == ["exposure", "temperature", "tint"]
    without = settings_to_recipe(s2, history)
    assert [s.slider for s in without.recipe.steps] == ["exposure"]
    assert any("as-shot" in n for n in without.notes)
