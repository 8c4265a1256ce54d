"""crs: develop settings read from XMP (sidecars, embedded packets) and mapped back into our sliders.

The round trip goes through our own Lightroom translator: recipe -> develop settings -> crs: sidecar ->
:func:`crs_settings` -> :func:`map_settings` -> the same recipe, within the tolerances Lightroom's integer
values and 8-bit point curves leave. The embedded case needs exiftool (skipped when it is missing, a failure
under CI=true).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from backend.decode.types import AsShotWhiteBalance as DecodedAsShot
from backend.recipe import Recipe
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from testing.fixtures import make_jpeg
from testing.needs import missing
from testing.recipes import every_slider_recipe
from trainer.lrcat.pv2003 import map_settings
from trainer.lrcat.records import AsShotWhiteBalance
from trainer.lrcat.xmp_settings import MAX_XMP_BYTES, XmpSettingsError, crs_settings, embedded_xmp

AS_SHOT = DecodedAsShot((2.1, 1.0, 1.4), (0.476, 1.0, 0.714), kelvin=4850.0, tint=6.0)
RECIPE = every_slider_recipe(without=("black_and_white",))
#: Largest difference per slider after the round trip (catalog units), and why.
TOLERANCE = {
    "hsl": 0.5,  # Lightroom's HSL sliders are whole numbers
    "temperature": 0.05,  # Lightroom stores whole kelvin: a fraction of a mired
    "tone_curve": 0.005,  # point curves are stored as whole 0..255 values
    "rgb_curves": 0.005,
}


def _flat(value: object) -> list[float]:
    if isinstance(value, tuple | list):
        return [x for v in value for x in _flat(v)]
    return [float(value)]  # type: ignore[arg-type]


def _sidecar(tmp_path: Path, recipe: Recipe) -> Path:
    photo = tmp_path / "DSC_0042.NEF"
    photo.write_bytes(b"not a real raw")
    outcomes = apply_to_photo(photo, recipe, host="lightroom", info=PhotoInfo(True, 6000, AS_SHOT))
    assert [o.action for o in outcomes] == ["written"]
    return photo.with_suffix(".xmp")


def test_our_lightroom_sidecar_maps_back_to_the_recipe(tmp_path: Path) -> None:
    settings = crs_settings(_sidecar(tmp_path, RECIPE).read_bytes())
    assert settings["ProcessVersion"] == 11.0 and settings["WhiteBalance"] == "Custom"
    assert settings["ToneCurvePV2012"][:4] == [0.0, 0.0, 42.0, 39.0]  # rdf:Seq of "x, y" -> flat numbers
    mapped = map_settings(settings, as_shot=AsShotWhiteBalance(4850.0, 6.0))
    assert mapped.process == "PV2012" and mapped.notes == ()
    for step in RECIPE.steps:
        got = mapped.values[step.slider]
        tol = TOLERANCE.get(step.slider, 1e-6)
        diffs = [abs(a - b) for a, b in zip(_flat(got), _flat(step.value), strict=True)]
        assert max(diffs) <= tol, (step.slider, step.value, got)


def test_black_and_white_survives_only_as_full_grayscale(tmp_path: Path) -> None:
    full = Recipe.from_settings({"black_and_white": 100.0})
    settings = crs_settings(_sidecar(tmp_path, full).read_bytes())
    assert settings["ConvertToGrayscale"] is True
    assert map_settings(settings).values["black_and_white"] == 100.0


def test_hostile_or_empty_xmp(tmp_path: Path) -> None:
    assert crs_settings(b"") == {} and crs_settings("<x:xmpmeta xmlns:x='adobe:ns:meta/'/>") == {}
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>'
    )
    with pytest.raises(XmpSettingsError, match="forbidden XML"):
        crs_settings(bomb, where="bomb.xmp")
    with pytest.raises(XmpSettingsError, match=r"bad\.xmp: the XMP packet is not well-formed"):
        crs_settings("<x:xmpmeta", where="bad.xmp")
    with pytest.raises(XmpSettingsError, match="larger than"):
        crs_settings(b" " * (MAX_XMP_BYTES + 1))
    odd = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" crs:Exposure2012="os.system">'
        "<crs:ToneCurvePV2012><rdf:Seq><rdf:li>0, 0</rdf:li><rdf:li>__import__</rdf:li></rdf:Seq></crs:ToneCurvePV2012>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    settings = crs_settings(odd)  # text stays text, a malformed curve is left out: data, never code
    assert settings == {"Exposure2012": "os.system"}
    assert "exposure" not in map_settings(settings).values


EXIFTOOL = shutil.which("exiftool")


@pytest.mark.host
def test_settings_embedded_in_an_export_are_read(tmp_path: Path) -> None:
    if EXIFTOOL is None:
        missing("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    sidecar = _sidecar(tmp_path, RECIPE)
    export = make_jpeg(tmp_path, "export.jpg", orientation=None)
    assert embedded_xmp(export) == b""  # no XMP yet
    done = subprocess.run(
        [EXIFTOOL, "-q", "-overwrite_original", "-tagsfromfile", str(sidecar), "-xmp-crs:all", str(export)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    embedded = crs_settings(embedded_xmp(export), where=str(export))
    expected = crs_settings(sidecar.read_bytes())
    assert {k: embedded.get(k) for k in ("Exposure2012", "Temperature", "ToneCurvePV2012", "Vibrance")} == {
        k: expected[k] for k in ("Exposure2012", "Temperature", "ToneCurvePV2012", "Vibrance")
    }
    with pytest.raises(XmpSettingsError, match=r"missing\.jpg"):
        embedded_xmp(tmp_path / "missing.jpg")
