"""darktable translator: struct layouts and packing, encodings, iop order, golden history stacks, XMP merge, dtstyle.

Golden files: ``tests/data/darktable/<case>.json`` (recipe, is_raw, long_side_px) -> ``<case>.expected.json``
(history attributes and the decoded non-default struct fields) and ``<case>.xmp`` (a fresh sidecar). After an
intended change, regenerate with ``AUTORETOUCH_UPDATE_GOLDEN=1 pytest tests/test_translate_darktable.py`` and
review the diff.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pytest
import torch
from defusedxml import ElementTree as SafeET

from backend.errors import InvalidRecipeError, SidecarError
from backend.recipe import Recipe
from backend.render.stages import STAGE_TABLE
from backend.sidecar.darktable_xmp import (
    DT_NS,
    append_history,
    entry_from_li,
    history_to_dtstyle,
    new_darktable_description,
    new_darktable_xmp,
    xmp_to_string,
)
from backend.sliders.catalog import CATALOG, CURVE_KNOTS, STAGE_ORDER
from backend.translate import darktable_order as order
from backend.translate.darktable import (
    HistoryEntry,
    decode_params,
    encode_params,
    module_layout,
    module_layouts,
    pack_params,
    recipe_to_history,
    unpack_params,
)
from testing.dt_sidecar import user_history
from testing.needs import update_golden

GOLDEN = Path(__file__).parent / "data" / "darktable"
CASES = sorted(p.stem for p in GOLDEN.glob("*.json") if not p.name.endswith(".expected.json"))
UPDATE = update_golden()

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def dt(name: str) -> str:
    return f"{{{DT_NS}}}{name}"


def rdf(name: str) -> str:
    return f"{{{RDF}}}{name}"


# -- layouts and packing --------------------------------------------------------------------------------------


def test_layouts_cover_every_stage_module() -> None:
    assert set(module_layouts()) >= set(STAGE_ORDER)
    assert set(STAGE_TABLE) == set(STAGE_ORDER)


@pytest.mark.parametrize("op", sorted(module_layouts()))
def test_layout_fields_tile_the_struct(op: str) -> None:
    layout = module_layout(op)
    end = 0
    for f in layout.fields:
        assert f.offset == end, f"{op}.{f.name} starts at {f.offset}, previous field ends at {end} (gap/overlap)"
        assert len(f.default) == f.count
        end = f.offset + f.nbytes
    assert end == layout.size


@pytest.mark.parametrize("op", sorted(module_layouts()))
def test_packed_size_equals_struct_size_and_round_trips(op: str) -> None:
    layout = module_layout(op)
    blob = pack_params(op, {})
    assert len(blob) == layout.size
    fields = unpack_params(op, blob)
    assert pack_params(op, fields) == blob
    for f in layout.fields:  # defaults come back (float32 rounding aside)
        got = np.asarray(fields[f.name], dtype=np.float64).reshape(-1)
        np.testing.assert_allclose(got, np.asarray(f.default), rtol=1e-6, atol=1e-7)


def test_struct_sizes_and_versions_match_darktable_4_2_1() -> None:
    # sizeof / version() of darktable 4.2.1's params structs (reference §8.0); a regenerated table must agree.
    expected = {
        "exposure": (6, 24),
        "channelmixerrgb": (3, 160),
        "sharpen": (1, 12),
        "colorbalancergb": (5, 132),
        "rgbcurve": (1, 516),
        "rgblevels": (1, 44),
        "bilat": (3, 20),
        "colorzones": (5, 520),
        "vignette": (4, 44),
    }
    got = {op: (module_layout(op).modversion, module_layout(op).size) for op in expected}
    assert got == expected


def test_exposure_blob_matches_darktable_bytes() -> None:
    # darktable 4.2.1's own +1 EV exposure params (mode 0, black 0, +1 EV, percentile 50, target -4, no bias comp).
    assert pack_params("exposure", {"exposure": 1.0}).hex() == "00000000000000000000803f00004842000080c000000000"


def test_init_defaults_differ_from_introspection_where_darktable_init_does() -> None:
    rgb = unpack_params("rgbcurve", pack_params("rgbcurve", {}))
    assert rgb["curve_nodes"][0][:2] == [[0.0, 0.0], [1.0, 1.0]]
    assert rgb["curve_num_nodes"] == [2, 2, 2]
    mixer = unpack_params("channelmixerrgb", pack_params("channelmixerrgb", {}))
    assert mixer["red"] == [1.0, 0.0, 0.0, 0.0] and mixer["blue"] == [0.0, 0.0, 1.0, 0.0]
    levels = unpack_params("rgblevels", pack_params("rgblevels", {}))
    assert levels["levels"] == [[0.0, 0.5, 1.0]] * 3


def test_pack_accepts_tensors_blocks_members_and_enum_names() -> None:
    blob = pack_params(
        "rgbcurve",
        {
            "curve_nodes": torch.tensor([[[0.0, 0.0], [0.5, 0.6], [1.0, 1.0]]]),  # (1, 3, 2) block of (3, 20, 2)
            "curve_num_nodes": np.array([3, 2, 2]),
            "preserve_colors": "DT_RGB_NORM_NONE",
        },
    )
    fields = unpack_params("rgbcurve", blob)
    assert fields["curve_nodes"][0][1] == pytest.approx([0.5, 0.6])
    assert fields["curve_nodes"][1][1] == [1.0, 1.0]  # untouched channel keeps its default
    assert fields["curve_num_nodes"] == [3, 2, 2]
    assert fields["preserve_colors"] == 0
    vig = unpack_params("vignette", pack_params("vignette", {"center.y": -0.25}))
    assert vig["center"] == [0.0, -0.25]
    # -0.0 packs like 0.0, so equal values always give equal bytes
    assert pack_params("exposure", {"black": -0.0}) == pack_params("exposure", {"black": 0.0})


@pytest.mark.parametrize(
    ("op", "values", "match"),
    [
        ("exposure", {"exposure": float("nan")}, "non-finite"),
        ("exposure", {"no_such_field": 1.0}, "no parameter field"),
        ("exposure", {"mode": 0.5}, "integer field"),
        ("exposure", {"mode": "NOT_AN_ENUM"}, "unknown enum"),
        ("rgblevels", {"levels": [0.0, 0.5]}, "expected 9 values"),
        ("vignette", {"center.z": 1.0}, "no struct member"),
        ("nosuchmodule", {}, "no darktable 4.2 parameter layout"),
    ],
)
def test_pack_rejects_bad_values(op: str, values: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidRecipeError, match=match):
        pack_params(op, values)


def test_unpack_rejects_wrong_size() -> None:
    with pytest.raises(InvalidRecipeError, match="24"):
        unpack_params("exposure", b"\0" * 20)


# -- encodings ------------------------------------------------------------------------------------------------


def test_gz_encoding_reproduces_darktable_string() -> None:
    # darktable 4.2.1's default blend params (blend_cst NONE, 420 bytes) as it writes them.
    dt_string = "gz14eJxjYIAACQYYOOHEgAZY0QVwggZ7CB6pfNoAAE8gGQg="
    blob = decode_params(dt_string)
    assert len(blob) == 420
    assert encode_params(blob) == dt_string  # > 100 bytes: gz, factor 420 // 32 + 1 = 14, zlib level 6


@pytest.mark.parametrize("op", sorted(module_layouts()))
def test_both_encodings_round_trip(op: str) -> None:
    blob = pack_params(op, {})
    hex_text, gz_text = encode_params(blob, compress=False), encode_params(blob, compress=True)
    assert hex_text == blob.hex() and hex_text == hex_text.lower()
    assert gz_text.startswith("gz") and gz_text[2:4].isdigit()
    packed = base64.b64decode(gz_text[4:])
    assert zlib.decompress(packed) == blob
    assert int(gz_text[2:4]) == min(len(blob) // len(packed) + 1, 99)
    assert decode_params(hex_text) == blob == decode_params(gz_text)
    assert encode_params(blob).startswith("gz") == (len(blob) > 100)


@pytest.mark.parametrize("text", ["zz", "0", "gzXYabc", "gz10!!!!", "gz10" + base64.b64encode(b"not zlib").decode()])
def test_decode_rejects_garbage(text: str) -> None:
    with pytest.raises(InvalidRecipeError):
        decode_params(text)


# -- iop order ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2, 3])
def test_builtin_orders_are_sane(version: int) -> None:
    seq = order.IOP_ORDER_SEQUENCES[version]
    assert seq[0] == "rawprepare" and seq[-1] == "gamma"  # darktable's sanity check on lists
    assert len(set(seq)) == len(seq)
    assert set(STAGE_ORDER) <= set(seq)


def test_v30_jpg_is_v30_with_colorin_after_demosaic() -> None:
    v30, jpg = list(order.IOP_ORDER_SEQUENCES[2]), list(order.IOP_ORDER_SEQUENCES[3])
    v30.remove("colorin")
    v30.insert(v30.index("demosaic") + 1, "colorin")
    assert v30 == jpg
    assert jpg.index("colorin") < jpg.index("exposure")
    assert order.IOP_ORDER_SEQUENCES[2].index("exposure") < order.IOP_ORDER_SEQUENCES[2].index("colorin")


def test_stage_order_follows_darktable_pipe_order() -> None:
    for version in (2, 3):
        seq = order.IOP_ORDER_SEQUENCES[version]
        assert sorted(STAGE_ORDER, key=seq.index) == list(STAGE_ORDER)


def test_iop_order_list_places_new_instance_after_previous() -> None:
    text = order.build_iop_order_list(3, [("rgbcurve", 0), ("rgbcurve", 1), ("exposure", 0)])
    items = order.parse_iop_order_list(text)
    i = items.index(("rgbcurve", 0))
    assert items[i + 1] == ("rgbcurve", 1)
    assert items[0] == ("rawprepare", 0) and items[-1] == ("gamma", 0)
    assert len(items) == len(order.IOP_ORDER_SEQUENCES[3]) + 1
    merged = order.merge_instances(items, [("rgbcurve", 2), ("rgbcurve", 1)])
    assert merged[i : i + 3] == [("rgbcurve", 0), ("rgbcurve", 1), ("rgbcurve", 2)]
    with pytest.raises(InvalidRecipeError):
        order.build_iop_order_list(4, [])
    with pytest.raises(InvalidRecipeError):
        order.parse_iop_order_list("exposure,0,rgbcurve")
    with pytest.raises(InvalidRecipeError):
        order.merge_instances(items, [("notamodule", 1)])


# -- recipe -> history ----------------------------------------------------------------------------------------


def _fields(entry: HistoryEntry) -> dict[str, Any]:
    return unpack_params(entry.operation, decode_params(entry.params))


def test_every_slider_at_its_extremes_fits_the_struct_ranges() -> None:
    for spec in CATALOG:
        for end in (spec.minimum, spec.maximum):
            if spec.shape:
                value: Any = np.full(spec.shape, end).tolist()
                if spec.monotone_curve:
                    value = (np.zeros(spec.shape) + np.linspace(0, 1, spec.shape[-1]) * (end > 0)).tolist()
            else:
                value = end
            entries = recipe_to_history({spec.name: value}, is_raw=False, long_side_px=6000)
            if Recipe.from_settings({spec.name: value}).steps == ():
                assert entries == []
                continue
            assert [e.operation for e in entries] == [spec.darktable.module]
            assert entries[0].multi_priority == spec.darktable.instance
            layout = module_layout(spec.darktable.module)
            fields = _fields(entries[0])
            for f in layout.fields:
                vals = np.asarray(fields[f.name], dtype=np.float64).reshape(-1)
                assert np.all(np.isfinite(vals)), f"{spec.name}={end}: {f.name} not finite"
                if f.minimum is not None and f.maximum is not None:
                    assert vals.min() >= f.minimum - 1e-6 and vals.max() <= f.maximum + 1e-6, (
                        f"{spec.name}={end}: {f.name} {vals.min()}..{vals.max()} outside {f.minimum}..{f.maximum}"
                    )


def test_history_follows_pipeline_order_and_skips_identity() -> None:
    settings = {"vignette": -20.0, "exposure": 0.3, "contrast": 0.0, "temperature": 10.0, "tone_curve": CURVE_KNOTS}
    entries = recipe_to_history(settings, is_raw=True, long_side_px=3000)
    assert [e.operation for e in entries] == ["exposure", "channelmixerrgb", "vignette"]
    assert all(e.enabled and e.blendop_version == 11 and e.blendop_params is None for e in entries)
    assert all(e.modversion == module_layout(e.operation).modversion for e in entries)
    assert recipe_to_history(Recipe(), is_raw=False, long_side_px=100) == []


def test_history_values_follow_the_sliders() -> None:
    (e,) = recipe_to_history({"exposure": 0.75}, is_raw=False, long_side_px=1000)
    assert _fields(e)["exposure"] == pytest.approx(0.75)
    assert _fields(e)["compensate_exposure_bias"] == 0
    (c,) = recipe_to_history({"contrast": 40.0}, is_raw=False, long_side_px=1000)
    assert _fields(c)["contrast"] == pytest.approx(0.2)
    (s1,) = recipe_to_history({"sharpen": 50.0}, is_raw=False, long_side_px=2000)
    (s2,) = recipe_to_history({"sharpen": 50.0}, is_raw=False, long_side_px=4000)
    assert _fields(s2)["radius"] == pytest.approx(2 * _fields(s1)["radius"])


def test_two_rgbcurve_instances() -> None:
    curve = [0.0, 0.03, 0.11, 0.25, 0.44, 0.68, 1.0]
    entries = recipe_to_history(
        {"rgb_curves": [curve, list(CURVE_KNOTS), list(CURVE_KNOTS)], "tone_curve": curve},
        is_raw=False,
        long_side_px=1000,
    )
    assert [(e.operation, e.multi_priority, e.multi_name) for e in entries] == [
        ("rgbcurve", 0, ""),
        ("rgbcurve", 1, "1"),
    ]
    tone, per_channel = (_fields(e) for e in entries)
    assert tone["curve_autoscale"] == 0 and per_channel["curve_autoscale"] == 1
    assert [p[1] for p in tone["curve_nodes"][0][:7]] == pytest.approx(curve)
    assert [p[0] for p in per_channel["curve_nodes"][0][:7]] == pytest.approx(list(CURVE_KNOTS))


def test_bad_inputs_raise() -> None:
    with pytest.raises(InvalidRecipeError):
        recipe_to_history({"exposure": 99.0}, is_raw=False, long_side_px=100)
    with pytest.raises(InvalidRecipeError):
        recipe_to_history({"exposure": 1.0}, is_raw=False, long_side_px=0)
    with pytest.raises(InvalidRecipeError):
        recipe_to_history(["exposure"], is_raw=False, long_side_px=100)  # type: ignore[arg-type]


# -- golden files ---------------------------------------------------------------------------------------------


def _golden_record(case: dict[str, Any]) -> dict[str, Any]:
    recipe = Recipe.from_dict(case["recipe"])
    entries = recipe_to_history(recipe, is_raw=case["is_raw"], long_side_px=case["long_side_px"])
    desc = new_darktable_description(entries, is_raw=case["is_raw"])
    history = []
    for e in entries:
        layout = module_layout(e.operation)
        fields = _fields(e)
        defaults = unpack_params(e.operation, pack_params(e.operation, {}))
        changed = {f.name: fields[f.name] for f in layout.fields if fields[f.name] != defaults[f.name]}
        history.append(
            {
                "operation": e.operation,
                "modversion": e.modversion,
                "multi_priority": e.multi_priority,
                "multi_name": e.multi_name,
                "enabled": e.enabled,
                "params": e.params,
                "fields_changed_from_default": changed,
            }
        )
    attrs = {k.split("}")[1]: v for k, v in desc.attrib.items() if k.startswith(f"{{{DT_NS}}}")}
    return {"description": attrs, "history": history}


@pytest.mark.parametrize("case_name", CASES)
def test_golden_history(case_name: str) -> None:
    case = json.loads((GOLDEN / f"{case_name}.json").read_text(encoding="utf-8"))
    record = _golden_record(case)
    entries = recipe_to_history(
        Recipe.from_dict(case["recipe"]), is_raw=case["is_raw"], long_side_px=case["long_side_px"]
    )
    xmp_text = xmp_to_string(new_darktable_xmp(entries, is_raw=case["is_raw"]))
    expected_json, expected_xmp = GOLDEN / f"{case_name}.expected.json", GOLDEN / f"{case_name}.xmp"
    if UPDATE:
        expected_json.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        expected_xmp.write_text(xmp_text, encoding="utf-8")
    want = json.loads(expected_json.read_text(encoding="utf-8"))
    assert record["description"] == want["description"]
    assert [h["operation"] for h in record["history"]] == [h["operation"] for h in want["history"]]
    for got, exp in zip(record["history"], want["history"], strict=True):
        for key in ("modversion", "multi_priority", "multi_name", "enabled"):
            assert got[key] == exp[key], f"{got['operation']}.{key}"
        # a readable field-level diff first, then the exact bytes
        assert set(got["fields_changed_from_default"]) == set(exp["fields_changed_from_default"])
        for name, value in exp["fields_changed_from_default"].items():
            np.testing.assert_allclose(
                np.asarray(got["fields_changed_from_default"][name], dtype=np.float64),
                np.asarray(value, dtype=np.float64),
                rtol=1e-6,
                atol=1e-7,
                err_msg=f"{got['operation']}.{name}",
            )
        assert got["params"] == exp["params"]
    assert xmp_text == expected_xmp.read_text(encoding="utf-8")


def test_golden_cases_exist() -> None:
    assert len(CASES) >= 5


# -- fresh sidecar --------------------------------------------------------------------------------------------


def test_fresh_sidecar_structure_and_namespaces() -> None:
    entries = recipe_to_history(
        {"exposure": 1.0, "rgb_curves": [list(CURVE_KNOTS)] * 2 + [[0, 0.03, 0.1, 0.24, 0.43, 0.68, 1]]},
        is_raw=True,
        long_side_px=100,
    )
    text = xmp_to_string(new_darktable_xmp(entries, is_raw=True))
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert 'xmlns:darktable="http://darktable.sf.net/"' in text
    root = SafeET.fromstring(text)
    assert root.tag == "{adobe:ns:meta/}xmpmeta"
    desc = root.find(f"{rdf('RDF')}/{rdf('Description')}")
    assert desc is not None
    assert desc.get(dt("xmp_version")) == "5"
    assert desc.get(dt("auto_presets_applied")) == "1"
    assert desc.get(dt("history_end")) == "2"
    assert desc.get(dt("iop_order_version")) == "2"
    items = order.parse_iop_order_list(desc.get(dt("iop_order_list"), ""))
    assert items[0] == ("rawprepare", 0) and ("rgbcurve", 1) in items
    assert desc.find(f"{dt('masks_history')}/{rdf('Seq')}") is not None
    lis = desc.findall(f"{dt('history')}/{rdf('Seq')}/{rdf('li')}")
    assert [li.get(dt("num")) for li in lis] == ["0", "1"]
    assert [entry_from_li(li) for li in lis] == entries


def test_fresh_sidecar_without_multi_instance_has_no_list() -> None:
    desc = new_darktable_description(recipe_to_history({"exposure": 1.0}, is_raw=False, long_side_px=100), is_raw=False)
    assert desc.get(dt("iop_order_version")) == "3"
    assert desc.get(dt("iop_order_list")) is None
    empty = new_darktable_description([], is_raw=False)
    assert empty.get(dt("history_end")) == "0" and empty.get(dt("auto_presets_applied")) == "0"


# -- appending to a user's sidecar ------------------------------------------------------------------------------

#: The user's mask manager and RGB curve (``{rgbcurve}``: its parameters) after the exposure entry.
_USER_MORE = """\
     <rdf:li darktable:num="1" darktable:operation="mask_manager" darktable:enabled="0" darktable:modversion="1"
      darktable:params="" darktable:multi_name="" darktable:multi_priority="0" darktable:blendop_version="0"/>
     <rdf:li darktable:num="2" darktable:operation="rgbcurve" darktable:enabled="1" darktable:modversion="1"
      darktable:params="{rgbcurve}" darktable:multi_name=""
      darktable:multi_priority="0" darktable:blendop_version="11"/>
"""

USER_SIDECAR = f"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:other="http://example.com/other/"
   xmp:Rating="4"
   other:keep="yes"
   darktable:xmp_version="5"
   darktable:raw_params="0"
   darktable:auto_presets_applied="1"
   darktable:history_end="{{end}}"
   darktable:iop_order_version="{{version}}"{{extra}}
   darktable:history_basic_hash="0123456789abcdef0123456789abcdef"
   darktable:history_current_hash="fedcba9876543210fedcba9876543210">
   <dc:subject><rdf:Bag><rdf:li>holiday</rdf:li></rdf:Bag></dc:subject>
   <darktable:masks_history>
    <rdf:Seq>
     <rdf:li darktable:mask_num="1" darktable:mask_id="1701" darktable:mask_type="1" darktable:mask_name="circle #1"
      darktable:mask_version="6" darktable:mask_points="0000" darktable:mask_nb="1" darktable:mask_src="0000"/>
     <rdf:li darktable:mask_num="2" darktable:mask_id="1702" darktable:mask_type="1" darktable:mask_name="circle #2"
      darktable:mask_version="6" darktable:mask_points="0000" darktable:mask_nb="1" darktable:mask_src="0000"/>
    </rdf:Seq>
   </darktable:masks_history>
{user_history("exposure", more=_USER_MORE)}  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def _user(end: int = 3, version: int = 2, extra: str = "") -> ET.Element:
    text = USER_SIDECAR.format(
        end=end, version=version, extra=extra, rgbcurve=encode_params(pack_params("rgbcurve", {}))
    )
    root = SafeET.fromstring(text)
    desc = root.find(f"{rdf('RDF')}/{rdf('Description')}")
    assert desc is not None
    return desc


def _history(desc: ET.Element) -> list[ET.Element]:
    return desc.findall(f"{dt('history')}/{rdf('Seq')}/{rdf('li')}")


def _snapshot(desc: ET.Element) -> list[dict[str, str]]:
    return [dict(li.attrib) for li in _history(desc)]


def test_append_keeps_everything_and_numbers_ours_after() -> None:
    desc = _user(end=3)
    before = _snapshot(desc)
    entries = recipe_to_history({"exposure": 0.4, "temperature": 20.0}, is_raw=True, long_side_px=100)
    result = append_history(desc, entries, is_raw=True)
    lis = _history(desc)
    assert [dict(li.attrib) for li in lis[:3]] == before  # the user's entries, untouched
    assert [li.get(dt("num")) for li in lis] == ["0", "1", "2", "3", "4"]
    assert [entry_from_li(li) for li in lis[3:]] == entries
    assert desc.get(dt("history_end")) == "5"
    assert result.added == 2 and result.first_num == 3 and result.shifted == 0
    assert result.overridden == (("exposure", 0),)
    assert desc.get(dt("auto_presets_applied")) == "1" and result.auto_presets_applied == "1"
    assert desc.get(dt("iop_order_version")) == "2" and desc.get(dt("iop_order_list")) is None
    assert desc.get("{http://ns.adobe.com/xap/1.0/}Rating") == "4"
    assert desc.get("{http://example.com/other/}keep") == "yes"
    assert desc.find("{http://purl.org/dc/elements/1.1/}subject") is not None
    masks = desc.findall(f"{dt('masks_history')}/{rdf('Seq')}/{rdf('li')}")
    assert [m.get(dt("mask_num")) for m in masks] == ["1", "2"]
    assert desc.get(dt("history_basic_hash")) == "0123456789abcdef0123456789abcdef"
    new_hash = desc.get(dt("history_current_hash"))
    assert new_hash is not None and new_hash != "fedcba9876543210fedcba9876543210" and len(new_hash) == 32


def test_append_with_undone_steps_inserts_at_history_end() -> None:
    desc = _user(end=1)  # the user undid mask_manager and rgbcurve
    before = _snapshot(desc)
    entries = recipe_to_history({"contrast": 30.0}, is_raw=True, long_side_px=100)
    result = append_history(desc, entries, is_raw=True)
    lis = _history(desc)
    assert [li.get(dt("operation")) for li in lis] == ["exposure", "colorbalancergb", "mask_manager", "rgbcurve"]
    assert [li.get(dt("num")) for li in lis] == ["0", "1", "2", "3"]
    assert desc.get(dt("history_end")) == "2"  # user's active state + ours; undone steps stay inactive
    assert dict(lis[0].attrib) == before[0]
    for old, new in zip(before[1:], lis[2:], strict=True):  # only num moved
        assert {k: v for k, v in new.attrib.items() if k != dt("num")} == {
            k: v for k, v in old.items() if k != dt("num")
        }
    masks = desc.findall(f"{dt('masks_history')}/{rdf('Seq')}/{rdf('li')}")
    assert [m.get(dt("mask_num")) for m in masks] == ["2", "3"]  # masks follow their history items
    assert (result.shifted, result.first_num, result.history_end_before, result.history_end_after) == (2, 1, 1, 2)
    assert any("undone" in n for n in result.notes)


def test_append_second_rgbcurve_instance_extends_order() -> None:
    curve = [0.0, 0.03, 0.11, 0.25, 0.44, 0.68, 1.0]
    entries = recipe_to_history(
        {"rgb_curves": [curve, list(CURVE_KNOTS), list(CURVE_KNOTS)]}, is_raw=False, long_side_px=100
    )
    desc = _user(end=3, version=3)
    result = append_history(desc, entries, is_raw=False)
    items = order.parse_iop_order_list(desc.get(dt("iop_order_list"), ""))
    assert items[0] == ("rawprepare", 0) and items[-1] == ("gamma", 0)
    assert items[items.index(("rgbcurve", 0)) + 1] == ("rgbcurve", 1)
    assert [op for op, _ in items if op != "rgbcurve"] == [
        op for op in order.IOP_ORDER_SEQUENCES[3] if op != "rgbcurve"
    ]
    assert result.iop_order_list_changed and result.iop_order_version == 3
    # an existing custom list (user moved exposure after colorbalancergb) is extended, not replaced
    user_list = [
        ("rawprepare", 0),
        ("colorin", 0),
        ("colorbalancergb", 0),
        ("exposure", 0),
        ("rgbcurve", 0),
        ("gamma", 0),
    ]
    extra = f'\n   darktable:iop_order_list="{order.serialize_iop_order_list(user_list)}"'
    desc2 = _user(end=3, version=0, extra=extra)
    append_history(desc2, entries, is_raw=False)
    assert order.parse_iop_order_list(desc2.get(dt("iop_order_list"), "")) == [
        *user_list[:5],
        ("rgbcurve", 1),
        ("gamma", 0),
    ]


def test_append_to_description_without_darktable_data_writes_fresh_stack() -> None:
    root = SafeET.fromstring(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="2"/></rdf:RDF></x:xmpmeta>'
    )
    desc = root.find(f"{rdf('RDF')}/{rdf('Description')}")
    assert desc is not None
    entries = recipe_to_history({"exposure": 0.5}, is_raw=False, long_side_px=100)
    result = append_history(desc, entries, is_raw=False)
    assert desc.get(dt("auto_presets_applied")) == "1" and desc.get(dt("iop_order_version")) == "3"
    assert desc.get("{http://ns.adobe.com/xap/1.0/}Rating") == "2"
    assert [entry_from_li(li) for li in _history(desc)] == entries
    assert result.history_end_after == 1


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.set(dt("xmp_version"), "3"), "xmp_version"),
        (lambda d: d.set(dt("history_end"), "x"), "history_end"),
        (lambda d: _history(d)[1].set(dt("num"), "7"), "num"),
        (lambda d: d.set(dt("iop_order_list"), "exposure,0,rgbcurve"), "iop_order_list"),
        (lambda d: d.set(dt("iop_order_version"), "9"), "iop_order_version 9"),
        (lambda d: _history(d)[0].attrib.pop(dt("modversion")), "modversion"),
    ],
)
def test_append_refuses_what_it_cannot_extend_safely(mutate: Any, match: str) -> None:
    desc = _user(end=3)
    mutate(desc)
    entries = recipe_to_history(
        {"rgb_curves": [[0, 0.03, 0.11, 0.25, 0.44, 0.68, 1.0]] * 3}, is_raw=True, long_side_px=100
    )
    before = ET.tostring(desc)
    with pytest.raises(SidecarError, match=match) as info:
        append_history(desc, entries, is_raw=True, source="IMG_1.CR2.xmp")
    assert str(info.value.path) == "IMG_1.CR2.xmp"
    assert ET.tostring(desc) == before  # nothing half-written


# -- dtstyle --------------------------------------------------------------------------------------------------


def test_dtstyle_document() -> None:
    entries = recipe_to_history(
        {"exposure": 0.5, "rgb_curves": [[0, 0.03, 0.11, 0.25, 0.44, 0.68, 1.0]] * 3}, is_raw=False, long_side_px=100
    )
    text = history_to_dtstyle(entries, "autoretouch <warm & punchy>", 'desc "quoted"', iop_list="rawprepare,0,gamma,0")
    root = SafeET.fromstring(text.encode("utf-8"))
    assert root.tag == "darktable_style" and root.get("version") == "1.0"
    assert root.findtext("info/name") == "autoretouch <warm & punchy>"
    assert root.findtext("info/description") == 'desc "quoted"'
    assert root.findtext("info/iop_list") == "rawprepare,0,gamma,0"
    plugins = root.findall("style/plugin")
    assert len(plugins) == len(entries)
    for i, (p, e) in enumerate(zip(plugins, entries, strict=True)):
        assert p.findtext("num") == str(i)
        assert p.findtext("module") == str(e.modversion)
        assert p.findtext("operation") == e.operation
        assert decode_params(p.findtext("op_params") or "") == decode_params(e.params)
        assert p.findtext("enabled") == "1"
        assert p.findtext("blendop_version") == "11"
        assert p.findtext("multi_priority") == str(e.multi_priority)
        assert (p.findtext("multi_name") or "") == e.multi_name
    assert history_to_dtstyle([], "x").count("<plugin>") == 0
    assert "<iop_list>" not in history_to_dtstyle(entries, "x")


def test_float_params_are_float32_of_the_values() -> None:
    (e,) = recipe_to_history({"exposure": 1.1}, is_raw=False, long_side_px=100)
    raw = decode_params(e.params)
    assert struct.unpack_from("<f", raw, 8)[0] == np.float32(1.1)
    assert math.isclose(_fields(e)["exposure"], 1.1, rel_tol=1e-7)


# -- the layout generator (tools/gen_darktable_layouts.py), on a synthetic reference ---------------------------


def _generator() -> Any:
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tools" / "gen_darktable_layouts.py"
    spec = importlib.util.spec_from_file_location("gen_darktable_layouts", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_converts_arrays_structs_and_defaults(tmp_path: Path) -> None:
    gen = _generator()
    fake = {
        "op": "fake",
        "modversion": 7,
        "size": 60,
        "fields": [
            {
                "name": "mode",
                "kind": "enum",
                "offset": 0,
                "size": 4,
                "depth": 0,
                "default": 1.0,
                "enum": {"A": 0, "B": 1},
            },
            {"name": "nodes", "kind": "array", "offset": 4, "size": 48, "depth": 0, "count": 3, "elemtype": "array"},
            {
                "name": "nodes[0]",
                "kind": "array",
                "offset": 4,
                "size": 16,
                "depth": 1,
                "count": 2,
                "elemtype": "struct",
            },
            {"name": "nodes[0][0]", "kind": "struct", "offset": 4, "size": 8, "depth": 2},
            {
                "name": "nodes[0][0].x",
                "kind": "float",
                "offset": 4,
                "size": 4,
                "depth": 3,
                "min": 0.0,
                "max": 1.0,
                "default": 0.25,
            },
            {
                "name": "nodes[0][0].y",
                "kind": "float",
                "offset": 8,
                "size": 4,
                "depth": 3,
                "min": 0.0,
                "max": 1.0,
                "default": 0.5,
            },
            {
                "name": "count",
                "kind": "int",
                "offset": 52,
                "size": 4,
                "depth": 0,
                "min": -2147483648.0,
                "max": 2147483647.0,
                "default": 2.0,
            },
            {
                "name": "gain",
                "kind": "float",
                "offset": 56,
                "size": 4,
                "depth": 0,
                "min": -3.40282e38,
                "max": 3.40282e38,
                "default": 1.5,
            },
        ],
    }
    mod = gen.convert_module("fake", fake)
    assert (mod["modversion"], mod["size"]) == (7, 60)
    by_name = {f["name"]: f for f in mod["fields"]}
    assert by_name["mode"] == {
        "name": "mode",
        "type": "i",
        "offset": 0,
        "shape": [],
        "default": 1,
        "enum": {"A": 0, "B": 1},
    }
    nodes = by_name["nodes"]
    assert (nodes["type"], nodes["shape"], nodes["members"]) == ("f", [3, 2, 2], ["x", "y"])
    assert nodes["default"] == [[[0.25, 0.5]] * 2] * 3
    assert (nodes["min"], nodes["max"]) == (0.0, 1.0)
    assert by_name["count"]["type"] == "i" and "min" not in by_name["count"]
    assert "min" not in by_name["gain"]  # +-FLT_MAX means unbounded
    # the command line writes a table and --check detects a stale one
    ref, out = tmp_path / "ref.json", tmp_path / "layouts.json"
    ref.write_text(json.dumps({op: fake | {"op": op} for op in gen.MODULES}), encoding="utf-8")
    assert gen.main(["--reference", str(ref), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["modules"]["exposure"] == json.loads(json.dumps(mod))
    assert gen.main(["--reference", str(ref), "--out", str(out), "--check"]) == 0
    out.write_text(out.read_text().replace('"modversion": 7', '"modversion": 8', 1))
    assert gen.main(["--reference", str(ref), "--out", str(out), "--check"]) == 1
    with pytest.raises(SystemExit):
        gen.build({}, ("fake",))


def test_committed_table_is_what_the_generator_writes() -> None:
    gen = _generator()
    committed = (Path(__file__).resolve().parents[1] / "backend" / "translate" / "darktable_layouts.json").read_text()
    data = json.loads(committed)
    assert tuple(data["modules"]) == gen.MODULES
    assert gen.render_json(data) == committed  # same deterministic formatting (hand edits show up here)
