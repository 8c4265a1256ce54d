"""What the daemon tells the Lightroom plug-in: absolute settings, WhiteBalance Custom, and relative keys apart."""

from __future__ import annotations

from pathlib import Path

from google.protobuf.json_format import MessageToDict

from backend.daemon.service import RetouchService
from backend.decode import decode_preview
from backend.translate.lightroom import recipe_to_develop_settings
from testing.fixtures import make_dng, make_jpeg
from testing.recipes import every_slider_recipe


def test_relative_keys_travel_apart_from_the_absolute_settings(tmp_path: Path) -> None:
    recipe = every_slider_recipe()
    for photo in (make_jpeg(tmp_path, "a.jpg", orientation=1), make_dng(tmp_path, "b.dng")):
        decoded = decode_preview(photo, long_side=128)
        suggestion = MessageToDict(
            RetouchService._translate(recipe, decoded, ("lightroom",), 128), preserving_proto_field_name=True
        )
        settings, relative = suggestion["lightroom_settings"], suggestion["lightroom_relative"]
        expected = recipe_to_develop_settings(recipe, is_raw=decoded.is_raw, as_shot=decoded.as_shot)
        assert "Sharpness" not in settings  # set relative to the photo's current sharpening instead
        assert relative == {"Sharpness": {"add": expected["Sharpness"], "min": 0, "max": 150}}
        assert settings["WhiteBalance"] == "Custom"  # Lightroom ignores Temperature/Tint without it
        assert {k: v for k, v in expected.items() if k != "Sharpness"} == settings
        wb = ("Temperature", "Tint") if decoded.is_raw else ("IncrementalTemperature", "IncrementalTint")
        assert set(wb) <= set(settings)
