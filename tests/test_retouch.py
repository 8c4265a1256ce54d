"""backend/retouch.py: the one "retouch a photo" used by apply, the catalog batch and the daemon."""

from __future__ import annotations

from pathlib import Path

from backend.agent.suggest import suggest_for_image
from backend.decode import decode_preview
from backend.recipe import Recipe
from backend.retouch import preview_side, retouch_photo, suggest_photo
from backend.sidecar.darktable_doc import darktable_sidecar_path
from testing.fixtures import make_dng, make_jpeg
from testing.styles import save_random_style


def test_suggest_photo_is_the_styles_suggestion_with_the_photos_info(tmp_path: Path) -> None:
    from backend.agent.style import load_style

    style = load_style(save_random_style(tmp_path / "styles", "s", 3))
    dng = make_dng(tmp_path, "raw.dng")
    recipe, info = suggest_photo(dng, [(style, 1.0)], strength=0.5)
    decoded = decode_preview(dng, long_side=preview_side([(style, 1.0)]))
    (expected,) = suggest_for_image(decoded.image, [(style, 1.0)], strength=0.5)
    assert recipe == expected and recipe.strength == 0.5
    assert info.is_raw and info.long_side_px == 64 and info.as_shot is not None


def test_retouch_photo_writes_the_suggestion_or_a_given_recipe(tmp_path: Path) -> None:
    from backend.agent.style import load_style

    style = load_style(save_random_style(tmp_path / "styles", "s", 4))
    photo = make_jpeg(tmp_path, "a.jpg", orientation=1)
    calls: list[float] = []

    def counting(image, styles, strength):  # type: ignore[no-untyped-def]
        calls.append(strength)
        (r,) = suggest_for_image(image, styles, strength=strength)
        return r

    outcomes, used = retouch_photo(photo, host="darktable", styles=[(style, 1.0)], strength=0.8, suggest=counting)
    assert [o.action for o in outcomes] == ["written"] and calls == [0.8] and used.strength == 0.8
    assert darktable_sidecar_path(photo).is_file()
    fixed = Recipe.from_dict({"version": 1, "steps": [{"slider": "exposure", "value": 0.5}]})
    outcomes, used = retouch_photo(photo, host="darktable", recipe=fixed, overwrite=True, suggest=counting)
    assert [o.action for o in outcomes] == ["written"] and used is fixed and calls == [0.8]  # no suggestion
