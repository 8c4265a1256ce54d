"""darktable history -> our sliders (trainer.darktable_labels): the inverse of the translator, round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.recipe import Recipe
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from backend.sidecar.darktable_doc import active_history, darktable_sidecar_path
from backend.sidecar.xmp import read_sidecar
from backend.translate.darktable import HistoryEntry, decode_params, recipe_to_history, unpack_params
from testing.recipes import every_slider_recipe
from trainer.darktable_labels import history_to_settings

EVERYTHING = every_slider_recipe(without=("black_and_white",))
#: Largest difference after the round trip, per slider (catalog units); everything else within 1e-4.
TOLERANCE = {"hsl": 1e-3}
#: Sliders that all scale colorbalancergb's chroma: the module state does not tell them apart (a few units of
#: saturation trade against vibrance for the same fields), so they are compared by the state they give.
SHARED = ("vibrance", "saturation", "black_and_white")


def _max_diff(a: object, b: object) -> float:
    return float(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).max())


def test_every_module_we_write_maps_back_to_its_sliders() -> None:
    mapped = history_to_settings(recipe_to_history(EVERYTHING, is_raw=False, long_side_px=4000), long_side_px=4000)
    assert mapped.approximate == () and mapped.not_ours == ()
    assert set(mapped.mapped) == {
        "exposure", "channelmixerrgb", "sharpen", "colorbalancergb", "rgbcurve", "rgbcurve#1", "rgblevels", "bilat",
        "colorzones", "vignette",
    }  # fmt: skip
    for step in EVERYTHING.steps:
        if step.slider not in SHARED:
            assert _max_diff(mapped.values[step.slider], step.value) <= TOLERANCE.get(step.slider, 1e-4), step.slider
    _same_colorbalance(EVERYTHING, Recipe.from_settings(mapped.values))


def _same_colorbalance(a: Recipe, b: Recipe) -> None:
    def fields(r: Recipe) -> dict:
        (entry,) = [
            e for e in recipe_to_history(r, is_raw=False, long_side_px=1000) if e.operation == "colorbalancergb"
        ]
        return unpack_params("colorbalancergb", decode_params(entry.params))

    fa, fb = fields(a), fields(b)
    assert max(_max_diff(fa[k], fb[k]) for k in fa) < 1e-3


def test_sliders_that_share_fields_map_to_the_same_fields() -> None:
    # black & white, saturation and vibrance all scale colorbalancergb's chroma: one module state, several
    # slider combinations. The mapping finds one that gives the same module state, which is what matters.
    recipe = Recipe.from_settings({"saturation": -3.0, "vibrance": 12.0, "black_and_white": 20.0})
    entries = recipe_to_history(recipe, is_raw=False, long_side_px=1000)
    assert len(entries) == 1
    mapped = history_to_settings(entries, long_side_px=1000)
    assert mapped.mapped == ("colorbalancergb",)
    _same_colorbalance(recipe, Recipe.from_settings(mapped.values))


def test_a_sidecar_written_by_apply_maps_back(tmp_path: Path) -> None:
    photo = tmp_path / "IMG_0001.JPG"
    photo.write_bytes(b"not decoded here")
    recipe = Recipe.from_settings({"exposure": 0.7, "contrast": 15.0, "temperature": 12.0, "saturation": 10.0})
    outcomes = apply_to_photo(photo, recipe, host="darktable", info=PhotoInfo(False, 3000))
    assert [o.action for o in outcomes] == ["written"]
    entries = active_history(read_sidecar(darktable_sidecar_path(photo)))
    mapped = history_to_settings(entries, long_side_px=3000)
    for step in recipe.steps:
        assert mapped.values[step.slider] == pytest.approx(step.value, abs=1e-4), step.slider


def test_foreign_disabled_and_later_entries() -> None:
    first = recipe_to_history(Recipe.from_settings({"exposure": 0.5}), is_raw=False, long_side_px=1000)[0]
    later = recipe_to_history(Recipe.from_settings({"exposure": -0.25}), is_raw=False, long_side_px=1000)[0]
    foreign = HistoryEntry(operation="filmicrgb", modversion=6, params="00" * 8)
    off = HistoryEntry(**{**first.__dict__, "operation": "vignette", "enabled": False, "params": "00"})
    mapped = history_to_settings([first, foreign, later, off], long_side_px=1000)
    assert mapped.values["exposure"] == pytest.approx(-0.25, abs=1e-6)  # the last entry of an instance counts
    assert mapped.not_ours == ("filmicrgb",) and "vignette" not in mapped.values  # a disabled entry is identity
    bad = HistoryEntry(operation="exposure", modversion=6, params="0102")
    assert history_to_settings([bad], long_side_px=1000).approximate[0][0].startswith("exposure (")


def test_a_sidecar_entry_of_ours_that_cannot_be_read_is_named_with_its_photo(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import re

    from PIL import Image

    from trainer.restore_pairs import _darktable_histories

    photo = tmp_path / "shortp.png"
    Image.new("RGB", (48, 32), (120, 90, 60)).save(photo)
    apply_to_photo(photo, Recipe.from_settings({"exposure": 0.5}), host="darktable", info=PhotoInfo(False, 48))
    sidecar = darktable_sidecar_path(photo)
    text = sidecar.read_text(encoding="utf-8")
    sidecar.write_text(re.sub(r'darktable:params="[^"]*"', 'darktable:params="0102"', text, count=1), encoding="utf-8")
    with caplog.at_level("WARNING", logger="trainer.darktable_pairs"):
        chosen, skipped, unreadable = _darktable_histories([photo], selection=False)
    assert skipped == [] and unreadable == [] and len(chosen) == 1  # trained on all the same, from darktable's render
    assert any(r.getMessage().startswith("shortp.png: the sidecar's exposure: ") for r in caplog.records), caplog.text
