from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

from testing.lrcat_fixtures import default_import_settings, lua_settings_text
from trainer.lrcat.blob import cell_text, compress_settings_text
from trainer.lrcat.errors import CatalogError, SettingsParseError
from trainer.lrcat.luatext import parse_lua_table, parse_settings

LR3_ROW = """s = { AutoGrayscaleMix = true,
Brightness = 58,
CameraProfile = "ACR 4.4",
Contrast = 31,
CropLeft = 8.3e-05,
CropAngle = -0.79,
Exposure = 0.42,
RedEyeInfo = {  },
ToneCurve = { 0,
0,
255,
255 },
ToneCurveName = "Linear",
WhiteBalance = "Custom" }
"""


def test_lightroom_row_layout() -> None:
    s = parse_settings(LR3_ROW)
    assert s["Brightness"] == 58 and isinstance(s["Brightness"], int)
    assert s["Exposure"] == pytest.approx(0.42) and isinstance(s["Exposure"], float)
    assert s["CropLeft"] == pytest.approx(8.3e-05)
    assert s["CropAngle"] == pytest.approx(-0.79)
    assert s["AutoGrayscaleMix"] is True
    assert s["RedEyeInfo"] == {}
    assert s["ToneCurve"] == [0, 0, 255, 255]
    assert s["WhiteBalance"] == "Custom"


def test_optional_prefix_and_return() -> None:
    body = '{ Exposure = -1.5, Name = "x" }'
    assert parse_settings(body) == parse_settings("s = " + body) == parse_settings("return " + body)
    assert parse_settings("s = " + body + ";")["Exposure"] == -1.5
    assert parse_settings("\ufeffs = " + body.replace(" ", "\r\n"))["Name"] == "x"  # BOM, CRLF


def test_roundtrip_with_fixture_writer() -> None:
    settings = {**default_import_settings(), "Look": {"Group": {"x-default": "Profiles"}, "Amount": 1}}
    assert parse_settings(lua_settings_text(settings)) == settings


def test_values_of_every_kind() -> None:
    text = r"""{ a = 'it\'s \65\x42\n', b = [==[
long]]x]==], c = nil, d = false, e = 1E3, f = 0x1F, g = .5, h = -0, ["spaced key"] = 2,
    [3] = "three", [-2.0] = "minus two", nested = { { 1, 2 }, { x = { y = { z = true } } } }, -- comment
    --[[ block
    comment ]] last = "\\ \" \t" ; }"""
    t = parse_lua_table(text)
    assert isinstance(t, dict)
    assert t["a"] == "it's AB\n"
    assert t["b"] == "long]]x"
    assert t["c"] is None
    assert t["d"] is False
    assert t["e"] == 1000.0 and t["f"] == 31 and t["g"] == 0.5 and t["h"] == 0
    assert t["spaced key"] == 2 and t[3] == "three" and t[-2] == "minus two"
    assert t["nested"] == [[1, 2], {"x": {"y": {"z": True}}}]
    assert t["last"] == '\\ " \t'


def test_mixed_table_uses_lua_indices() -> None:
    assert parse_lua_table('{ "a", "b", k = 1 }') == {1: "a", 2: "b", "k": 1}
    assert parse_lua_table("{ 10, 20, }") == [10, 20]
    assert parse_lua_table("{ }") == {}


def test_utf8_decimal_escapes() -> None:
    assert parse_settings(r'{ Name = "caf\195\169" }')["Name"] == "café"


HOSTILE = [
    ('s = { Exposure = os.execute("touch {marker}") }', "identifier 'os'"),
    ('s = { Exposure = io.open("{marker}", "w") }', "identifier 'io'"),
    ('s = { Exposure = (function() os.execute("touch {marker}") end)() }', "unexpected character '('"),
    ('s = { Exposure = loadstring("x") }', "identifier 'loadstring'"),
    ('s = { Exposure = require "os" }', "identifier 'require'"),
    ("s = { Exposure = 1 + 2 }", "unexpected character '+'"),
    ('s = { Name = "a" .. "b" }', "unexpected character '.'"),
    ("s = { Exposure = #t }", "unexpected character '#'"),
    ("s = { Exposure = x }", "identifier 'x'"),
    ("s = { function = 1 }", "reserved word"),
    ('os.execute("touch {marker}")', "unexpected character '.'"),
    ('os = { Exposure = 1 }; os.execute("touch {marker}")', "after the table"),
    ('s = { Exposure = 1 } os.execute("touch {marker}")', "after the table"),
    ("s = { Exposure = 1, Exposure = 2 }", "given twice"),
    ('s = { Name = "unterminated }', "unterminated string"),
    ("s = { Name = [[unterminated }", "unterminated long string"),
    ('s = { Name = "bad \\q escape" }', "invalid escape"),
    ("s = { Exposure = 1e999 }", "out of range"),
    pytest.param("s = { Exposure = " + "9" * 5000 + " }", "out of range", id="int-past-4300-digits"),
    pytest.param("s = { Exposure = -" + "9" * 400 + " }", "out of range", id="int-past-float-range"),
    pytest.param("s = { Exposure = 0x" + "f" * 300 + " }", "out of range", id="hex-past-float-range"),
    pytest.param("s = { [" + "9" * 5000 + "] = 1 }", "out of range", id="key-past-4300-digits"),
    ("s = { Exposure = 5x }", "malformed number"),
    ("s = { Exposure = - - 1 }", "expected a number"),
    ("s = { Exposure = 1 ", "expected ',' or '}'"),
    ("s = { [true] = 1 }", "a key in brackets"),
    ("{ 1, 2 }", "Key = value"),
]


@pytest.mark.parametrize(("template", "expected"), HOSTILE)
def test_hostile_text_is_a_parse_error_not_code(template: str, expected: str, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    text = template.replace("{marker}", str(marker))
    with pytest.raises(SettingsParseError, match=re.escape(expected)) as info:
        parse_settings(text, catalog="cat.lrcat", where="Adobe_imageDevelopSettings id_local=7")
    assert not marker.exists()
    message = str(info.value)
    assert "cat.lrcat" in message and "id_local=7" in message
    assert info.value.catalog == Path("cat.lrcat")


def test_error_position_is_line_and_column() -> None:
    with pytest.raises(SettingsParseError) as info:
        parse_settings("s = { A = 1,\nB = 2,\n  C = os.time() }")
    assert (info.value.line, info.value.column) == (3, 7)
    assert "line 3, column 7" in str(info.value)


def test_depth_limit() -> None:
    deep = "s = { a = " + "{ " * 40 + "}" * 40 + " }"
    assert parse_settings(deep, max_depth=64)
    with pytest.raises(SettingsParseError, match="nested deeper than 8"):
        parse_settings(deep, max_depth=8)
    with pytest.raises(SettingsParseError, match="nested deeper"):
        parse_lua_table("{" * 10_000 + "}" * 10_000)  # no RecursionError


def test_size_and_item_limits() -> None:
    text = lua_settings_text({f"K{i}": i for i in range(200)})
    assert len(parse_settings(text)) == 200
    with pytest.raises(SettingsParseError, match="over the 100 limit"):
        parse_settings(text, max_chars=100)
    with pytest.raises(SettingsParseError, match="more than 50 table items"):
        parse_lua_table(text, max_items=50)


def test_blank_text_is_no_settings() -> None:
    assert parse_settings("") == {}
    assert parse_settings("  \n ") == {}


def test_cell_text_forms() -> None:
    text = lua_settings_text(default_import_settings())
    assert cell_text(None) == ""
    assert cell_text(text) == text
    assert cell_text(compress_settings_text(text)) == text
    assert cell_text(zlib.compress(text.encode())) == text
    assert cell_text(text.encode()) == text
    assert parse_settings(cell_text(compress_settings_text(text)))["Contrast"] == 25


def test_cell_text_damaged_or_bomb() -> None:
    text = "s = { A = 1 }"
    blob = compress_settings_text(text)
    with pytest.raises(CatalogError, match="header says 999"):
        cell_text((999).to_bytes(4, "big") + blob[4:], catalog="x.lrcat", where="row 5")
    with pytest.raises(CatalogError, match=r"truncated|damaged"):
        cell_text(blob[:-4])
    bomb = (50_000_000).to_bytes(4, "big") + zlib.compress(b" " * 50_000_000)
    with pytest.raises(CatalogError, match="over the 1000000 limit"):
        cell_text(bomb, max_bytes=1_000_000)
    with pytest.raises(CatalogError, match="inflates past"):
        cell_text(zlib.compress(b" " * 2_000_000), max_bytes=1_000_000)
    with pytest.raises(CatalogError, match="not UTF-8"):
        cell_text(b"\xff\xfe\x00garbage")
    with pytest.raises(CatalogError, match="holds a int"):
        cell_text(5)
