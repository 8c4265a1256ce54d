"""Recipe -> Lightroom develop settings and crs: XMP.

Golden files: tests/data/lightroom/NAME.json holds a case ({"recipe", "is_raw", "as_shot", "photo_name"});
NAME.expected.json the settings table and warnings; NAME.expected.xmp the crs: packet. Regenerate after an
intended change with AUTORETOUCH_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backend.recipe import Recipe
from backend.render.color import srgb_encode
from backend.render.white_balance import kelvin_tint_after_shift
from backend.sidecar.lightroom_xmp import PROCESS_VERSION, apply_crs, crs_properties, format_crs_value
from backend.sidecar.xmp import NS, get_simple, new_document, parse_sidecar, serialize
from backend.sliders.catalog import CATALOG, CURVE_KNOTS, HSL_COLOURS, get_slider
from backend.translate.lightroom import curve_points, recipe_to_develop_settings
from testing.needs import update_golden

DATA = Path(__file__).parent / "data" / "lightroom"
CASES = sorted(p for p in DATA.glob("*.json") if not p.name.endswith(".expected.json"))
UPDATE = update_golden()
CRS = NS["crs"]
CATALOG_KEYS = {k for spec in CATALOG for k in spec.lightroom.keys}


@dataclass(frozen=True)
class AsShot:
    kelvin: float | None
    tint: float | None


def _half_away(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _load_case(path: Path) -> tuple[Recipe, bool, AsShot | None, str]:
    case = json.loads(path.read_text())
    shot = case["as_shot"]
    return (
        Recipe.from_dict(case["recipe"]),
        case["is_raw"],
        None if shot is None else AsShot(shot["kelvin"], shot["tint"]),
        case["photo_name"],
    )


def _xmp_for(settings: dict[str, Any], is_raw: bool, photo_name: str) -> bytes:
    doc = new_document()
    desc = doc.description_for(CRS)
    apply_crs(desc, settings, is_raw=is_raw, photo_name=photo_name)
    return serialize(doc)


def test_golden_cases_exist() -> None:
    assert len(CASES) >= 8


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_golden_settings_and_xmp(case: Path) -> None:
    recipe, is_raw, as_shot, photo_name = _load_case(case)
    settings = recipe_to_develop_settings(recipe, is_raw=is_raw, as_shot=as_shot)
    got = {"settings": dict(settings), "warnings": list(settings.warnings)}
    xmp = _xmp_for(settings, is_raw, photo_name)
    expected_json = case.with_name(case.stem + ".expected.json")
    expected_xmp = case.with_name(case.stem + ".expected.xmp")
    if UPDATE:
        expected_json.write_text(json.dumps(got, indent=2) + "\n")
        expected_xmp.write_bytes(xmp)
    assert got == json.loads(expected_json.read_text())
    assert xmp == expected_xmp.read_bytes()


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_settings_follow_the_catalog_mapping(case: Path) -> None:
    """Each value follows the documented mapping, computed here independently of the translator."""
    recipe, is_raw, as_shot, _ = _load_case(case)
    s = recipe.settings()
    out = recipe_to_develop_settings(recipe, is_raw=is_raw, as_shot=as_shot)
    assert set(out) <= CATALOG_KEYS  # never a key the catalog does not declare
    for key, value in out.items():  # Lightroom's types: float exposure, bool, str, list of ints, else int
        if key == "Exposure2012":
            assert isinstance(value, float)
        elif key.startswith("ToneCurvePV2012"):
            assert all(isinstance(v, int) and 0 <= v <= 255 for v in value)
        elif key not in ("ConvertToGrayscale", "ToneCurveName2012", "WhiteBalance"):
            assert type(value) is int, key
    if "exposure" in s:
        assert out["Exposure2012"] == pytest.approx(s["exposure"], abs=0.005)
    for name in ("contrast", "highlights", "shadows", "whites", "blacks", "clarity", "vibrance", "vignette"):
        if name in s:
            (key,) = get_slider(name).lightroom.keys
            assert abs(out[key] - s[name]) <= 0.5
    if "sharpen" in s:
        assert abs(out["Sharpness"] - 1.5 * s["sharpen"]) <= 0.5
        assert out.relative == {"Sharpness": (out["Sharpness"], 0, 150)}  # the plug-in adds it (default 40)
    assert set(out.relative) == {k for spec in CATALOG if spec.lightroom.relative for k in spec.lightroom.keys} & set(
        out
    )
    if "hsl" in s:
        for i, colour in enumerate(HSL_COLOURS):
            for j, kind in enumerate(("Hue", "Saturation", "Luminance")):
                assert abs(out[f"{kind}Adjustment{colour}"] - s["hsl"][i][j]) <= 0.5
    if "black_and_white" in s:
        bw, sat = s["black_and_white"], s.get("saturation", 0.0)
        assert out["ConvertToGrayscale"] is (bw >= 50)
        if bw < 50:
            assert abs(out["Saturation"] - 100 * ((1 + sat / 100) * (1 - bw / 100) - 1)) <= 0.5
    elif "saturation" in s:
        assert abs(out["Saturation"] - s["saturation"]) <= 0.5
    if "temperature" in s or "tint" in s:
        t, ti = s.get("temperature", 0.0), s.get("tint", 0.0)
        # Lightroom honours Temperature/Tint (and the incremental pair) only with WhiteBalance = Custom
        assert out.get("WhiteBalance") == ("Custom" if not is_raw or as_shot is not None else None)
        if not is_raw:
            assert (out["IncrementalTemperature"], out["IncrementalTint"]) == (_half_away(t), _half_away(ti))
            assert "Temperature" not in out
        elif as_shot is None:
            assert not {"Temperature", "Tint", "IncrementalTemperature", "IncrementalTint"} & set(out)
            assert any("white balance" in w for w in out.warnings)
        else:
            mired = 1e6 / as_shot.kelvin - t  # the catalog's note, within Lightroom's limits 2000..50000 K
            kelvin = 50000.0 if mired <= 1e6 / 50000 else 1e6 / mired
            assert out["Temperature"] == min(50000, max(2000, _half_away(kelvin)))
            assert out["Tint"] == min(150, max(-150, _half_away(as_shot.tint + ti)))
            assert "IncrementalTemperature" not in out


def test_curve_points_are_srgb_encoded_knots() -> None:
    import torch

    ys = [0.0, 0.012, 0.06, 0.19, 0.41, 0.70, 1.0]
    flat = curve_points(ys)
    xs_ref = (255 * srgb_encode(torch.tensor(CURVE_KNOTS, dtype=torch.float64))).tolist()
    ys_ref = (255 * srgb_encode(torch.tensor(ys, dtype=torch.float64))).tolist()
    assert len(flat) == 2 * len(CURVE_KNOTS)
    assert all(abs(a - b) <= 0.5 for a, b in zip(flat[0::2], xs_ref, strict=True))
    assert all(abs(a - b) <= 0.5 for a, b in zip(flat[1::2], ys_ref, strict=True))
    assert all(b > a for a, b in zip(flat[0::2], flat[2::2], strict=False))  # x strictly ascending
    identity = curve_points(list(CURVE_KNOTS))
    assert identity[0::2] == identity[1::2]  # the identity curve is the diagonal


def test_white_balance_raw_uses_the_white_balance_module() -> None:
    recipe = Recipe.from_dict({"version": 1, "steps": [{"slider": "temperature", "value": -30}]})
    out = recipe_to_develop_settings(recipe, is_raw=True, as_shot=AsShot(5500.0, -3.0))
    kelvin, tint = kelvin_tint_after_shift(5500.0, -3.0, -30.0, 0.0)
    assert (out["Temperature"], out["Tint"]) == (_half_away(kelvin), _half_away(tint))
    assert out["Temperature"] < 5500  # a negative (cooler) shift lowers the Kelvin value
    assert out.warnings == ()


def test_as_shot_with_unknown_kelvin_skips_white_balance() -> None:
    recipe = Recipe.from_dict({"version": 1, "steps": [{"slider": "tint", "value": 5}]})
    out = recipe_to_develop_settings(recipe, is_raw=True, as_shot=AsShot(None, None))
    assert out == {} and len(out.warnings) == 1


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("Exposure2012", 0.6, "+0.60"),
        ("Exposure2012", -1.25, "-1.25"),
        ("Exposure2012", 0.0, "0.00"),
        ("Contrast2012", 10, "+10"),
        ("Highlights2012", -55, "-55"),
        ("Shadows2012", 0, "0"),
        ("Temperature", 5200, "5200"),
        ("Sharpness", 60, "60"),
        ("ConvertToGrayscale", True, "True"),
        ("ConvertToGrayscale", False, "False"),
        ("ToneCurveName2012", "Custom", "Custom"),
        ("ToneCurvePV2012", [0, 0, 64, 56, 255, 255], ["0, 0", "64, 56", "255, 255"]),
    ],
)
def test_format_crs_value_as_lightroom_writes(key: str, value: Any, text: Any) -> None:
    assert format_crs_value(key, value) == text


def test_apply_crs_replaces_both_forms_and_reports_previous_values() -> None:
    packet = f"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{NS["rdf"]}">
  <rdf:Description rdf:about="" xmlns:crs="{CRS}" xmlns:xmp="{NS["xmp"]}"
    crs:Exposure2012="+1.00" xmp:Rating="3">
   <crs:Contrast2012>-20</crs:Contrast2012>
   <crs:ToneCurvePV2012><rdf:Seq><rdf:li>0, 0</rdf:li><rdf:li>255, 250</rdf:li></rdf:Seq></crs:ToneCurvePV2012>
  </rdf:Description></rdf:RDF></x:xmpmeta>""".encode()
    doc = parse_sidecar(packet, "x.xmp")
    desc = doc.descriptions()[0]
    settings = {
        "Exposure2012": 0.5,
        "Contrast2012": 12,
        "ToneCurveName2012": "Custom",
        "ToneCurvePV2012": [0, 5, 255, 255],
    }
    replaced = apply_crs(desc, settings, is_raw=True, photo_name="A.NEF")
    assert replaced[f"{{{CRS}}}Exposure2012"].attribute == "+1.00"
    prev_contrast = replaced[f"{{{CRS}}}Contrast2012"]
    assert prev_contrast.element is not None and prev_contrast.element.text == "-20"
    assert replaced[f"{{{CRS}}}HasSettings"] is None
    assert get_simple(desc, f"{{{CRS}}}Exposure2012") == "+0.50"
    assert get_simple(desc, f"{{{CRS}}}Contrast2012") == "+12"
    assert desc.get(f"{{{NS['xmp']}}}Rating") == "3"
    # exactly one occurrence of each property, curves as rdf:Seq of "x, y"
    assert len(desc.findall(f"{{{CRS}}}Contrast2012")) == 0
    (curve,) = desc.findall(f"{{{CRS}}}ToneCurvePV2012")
    assert [li.text for li in curve.iter(f"{{{NS['rdf']}}}li")] == ["0, 5", "255, 255"]
    assert desc.get(f"{{{CRS}}}ProcessVersion") == PROCESS_VERSION
    assert desc.get(f"{{{NS['photoshop']}}}SidecarForExtension") == "NEF"
    assert desc.get(f"{{{CRS}}}WhiteBalance") is None  # no white-balance key set


def test_crs_properties_flags() -> None:
    props = dict(crs_properties({"IncrementalTemperature": 5, "IncrementalTint": 0}, is_raw=False, photo_name="a.jpg"))
    assert props[f"{{{CRS}}}WhiteBalance"] == "Custom"
    assert props[f"{{{CRS}}}HasSettings"] == "True"
    assert props[f"{{{CRS}}}AlreadyApplied"] == "False"
    assert props[f"{{{CRS}}}RawFileName"] == "a.jpg"
    assert f"{{{NS['photoshop']}}}SidecarForExtension" not in props  # embedded XMP needs no owner


def test_golden_xmp_parses_back_to_the_settings() -> None:
    for case in CASES:
        recipe, is_raw, as_shot, name = _load_case(case)
        settings = recipe_to_develop_settings(recipe, is_raw=is_raw, as_shot=as_shot)
        desc = parse_sidecar(_xmp_for(settings, is_raw, name), case).descriptions()[0]
        for key, value in settings.items():
            if isinstance(value, list):
                elem = desc.find(f"{{{CRS}}}{key}")
                assert elem is not None
                items = [li.text or "" for li in elem.iter(f"{{{NS['rdf']}}}li")]
                assert [int(v) for item in items for v in item.split(",")] == value
            elif isinstance(value, bool):
                assert desc.get(f"{{{CRS}}}{key}") == str(value)
            elif isinstance(value, int | float):
                assert math.isclose(float(desc.get(f"{{{CRS}}}{key}", "nan")), value)
            else:
                assert desc.get(f"{{{CRS}}}{key}") == value
        assert isinstance(desc, ET.Element)
