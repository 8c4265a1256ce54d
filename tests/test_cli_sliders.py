"""``autoretouch sliders``: the human table and the JSON catalog."""

from __future__ import annotations

import json

import pytest

from backend.cli.main import COMMANDS, main
from backend.sliders.catalog import CATALOG, STAGE_ORDER, catalog_as_json


def test_registered() -> None:
    assert "sliders" in COMMANDS and "render" in COMMANDS


def test_json_output_is_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sliders", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out) == json.loads(json.dumps(catalog_as_json()))


def test_table_lists_every_slider_with_range_stage_and_host_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sliders"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = lines[0].split()
    assert header[:4] == ["SLIDER", "RANGE", "IDENTITY", "STAGE"]
    rows = {line.split()[0]: line for line in lines[2 : 2 + len(CATALOG)]}
    assert list(rows) == [s.name for s in CATALOG]
    for spec in CATALOG:
        row = rows[spec.name]
        assert f"{spec.minimum:g}..{spec.maximum:g}" in row
        assert f" {spec.stage} " in row
        assert spec.lightroom.keys[0] in row
        assert spec.darktable.module in row
        assert spec.unit in row
    assert rows["exposure"].split()[2] == "0"  # identity
    assert "y = x" in rows["tone_curve"]
    assert "rgbcurve#1" in rows["rgb_curves"]  # second darktable instance
    assert " > ".join(STAGE_ORDER) in out


def test_help_mentions_json(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sliders", "--help"])
    assert info.value.code == 0
    assert "--json" in capsys.readouterr().out
