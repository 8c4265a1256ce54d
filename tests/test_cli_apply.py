"""``autoretouch apply`` / ``autoretouch revert`` end to end (real decoding of generated JPEG/PNG files)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from backend.cli.main import COMMANDS, EXIT_PARTIAL, main
from backend.decode.types import AsShotWhiteBalance
from backend.sidecar import apply as apply_mod
from backend.sidecar.provenance import find_provenance
from backend.sidecar.xmp import NS, get_simple, read_sidecar

RECIPE = {
    "version": 1,
    "steps": [{"slider": "exposure", "value": 0.8}, {"slider": "contrast", "value": 30}],
    "style": "bright",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "recipe.json").write_text(json.dumps(RECIPE))
    image = np.tile(np.linspace(0, 255, 48, dtype=np.uint8)[None, :, None], (32, 1, 3))
    assert cv2.imwrite(str(tmp_path / "a.jpg"), image)
    assert cv2.imwrite(str(tmp_path / "b.png"), image)
    (tmp_path / "broken.jpg").write_bytes(b"")  # a 0-byte JPEG
    return tmp_path


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_commands_registered() -> None:
    assert "apply" in COMMANDS and "revert" in COMMANDS


def test_batch_goes_on_after_a_bad_photo(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images = {n: (folder / n).read_bytes() for n in ("a.jpg", "b.png", "broken.jpg")}
    argv = [
        "apply",
        str(folder / "a.jpg"),
        str(folder / "broken.jpg"),
        str(folder / "missing.jpg"),
        str(folder / "b.png"),
    ]
    code = main([*argv, "--recipe", str(folder / "recipe.json"), "--host", "darktable"])
    out, err = capsys.readouterr()
    assert code == EXIT_PARTIAL
    assert f"written      darktable {folder / 'a.jpg.xmp'}" in out
    assert f"written      darktable {folder / 'b.png.xmp'}" in out
    assert str(folder / "broken.jpg") in err and "empty file" in err
    assert str(folder / "missing.jpg") in err
    assert {n: (folder / n).read_bytes() for n in images} == images  # images untouched
    assert (folder / "a.jpg.xmp").exists() and not (folder / "broken.jpg.xmp").exists()
    desc = read_sidecar(folder / "a.jpg.xmp").descriptions()[0]
    assert desc.get(f"{{{NS['darktable']}}}iop_order_version") == "3"


def test_json_output_strength_and_revert(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _files(folder)
    photos = [str(folder / "a.jpg"), str(folder / "b.png")]
    common = ["--recipe", str(folder / "recipe.json"), "--host", "both", "--json"]
    assert main(["apply", *photos, *common, "--strength", "0.5"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["failed"] == 0
    actions = [(r["host"], r["action"], r["reason"]) for r in report["results"]]
    assert (
        actions
        == [
            ("lightroom", "skipped", apply_mod.EMBEDDED_REASON),
            ("darktable", "written", ""),
        ]
        * 2
    )
    found = find_provenance(read_sidecar(folder / "a.jpg.xmp"))
    assert found is not None
    assert found[1].recipe.strength == 0.5 and found[1].recipe.settings() == {"exposure": 0.4, "contrast": 15.0}

    assert main(["apply", *photos, *common]) == 0  # already applied: skipped, not an error
    assert {r["action"] for r in json.loads(capsys.readouterr().out)["results"]} == {"skipped"}

    assert main(["revert", *photos, "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["action"] for r in results] == ["skipped", "deleted"] * 2
    after = _files(folder)
    assert {k: v for k, v in after.items() if not k.endswith(".bak")} == before


def test_dry_run_writes_nothing(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _files(folder)
    code = main(
        ["apply", str(folder / "a.jpg"), "--recipe", str(folder / "recipe.json"), "--host", "both", "--dry-run"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "would-write  darktable" in out and "skipped      lightroom" in out
    assert _files(folder) == before


def test_raw_with_malformed_sidecar_fails_only_that_sidecar(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = folder / "IMG_1.NEF"
    raw.write_bytes(b"fake raw")
    bad = folder / "IMG_1.NEF.xmp"
    bad.write_bytes(b"<not-closed")
    shot = AsShotWhiteBalance((2.0, 1.0, 1.5), (0.5, 1.0, 0.667), kelvin=5200.0, tint=3.0)
    monkeypatch.setattr(apply_mod, "probe_photo", lambda p: apply_mod.PhotoInfo(True, 6000, shot))
    code = main(["apply", str(raw), "--recipe", str(folder / "recipe.json"), "--host", "both"])
    out, err = capsys.readouterr()
    assert code == EXIT_PARTIAL
    assert f"written      lightroom {folder / 'IMG_1.xmp'}" in out
    assert str(bad) in err and "not well-formed" in err
    assert bad.read_bytes() == b"<not-closed"
    desc = read_sidecar(folder / "IMG_1.xmp").descriptions()[0]
    assert get_simple(desc, f"{{{NS['crs']}}}Exposure2012") == "+0.80"

    assert main(["revert", str(raw), "--host", "lightroom"]) == 0
    assert not (folder / "IMG_1.xmp").exists()


def test_a_deeply_nested_sidecar_fails_that_photo_only(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 10,000 nested elements exhausted Python's recursion in the tree walks (RecursionError, exit 1, batch aborted)
    deep = folder / "a.jpg.xmp"
    body = b"<a>" * 10_000 + b"</a>" * 10_000
    deep.write_bytes(
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b"<rdf:Description>" + body + b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    before = deep.read_bytes()
    code = main(["apply", str(folder / "a.jpg"), str(folder / "b.png"), "--recipe", str(folder / "recipe.json"),
                 "--host", "darktable"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == EXIT_PARTIAL
    assert str(deep) in err and "nest deeper" in err
    assert deep.read_bytes() == before
    assert (folder / "b.png.xmp").is_file() and str(folder / "b.png.xmp") in out


def test_bad_recipe_and_strength_are_usage_errors(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = str(folder / "a.jpg")
    assert main(["apply", photo, "--recipe", str(folder / "nope.json"), "--host", "darktable"]) == 6
    assert "nope.json" in capsys.readouterr().err
    for strength in ("2", "1.5", "nan", "-0.1"):  # checked at argument parsing, as suggest and catalog do
        with pytest.raises(SystemExit) as exc:
            main(
                ["apply", photo, "--recipe", str(folder / "recipe.json"), "--host", "darktable", "--strength", strength]
            )
        assert exc.value.code == 2
        assert f"argument --strength: strength must lie in [0, 1], got {strength}" in capsys.readouterr().err
    assert not (folder / "a.jpg.xmp").exists()


# -- apply --style / --mix: suggest and write in one run ------------------------------------------------


@pytest.fixture
def styles(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user style folder with two random styles; no shipped styles."""
    from testing.styles import isolate_style_store, save_random_style

    directory = tmp_path_factory.mktemp("styles")  # outside the photo folder the tests list
    for seed, name in ((3, "alpha"), (4, "beta")):
        save_random_style(directory, name, seed, training={"photos": seed}, metrics={})
    isolate_style_store(monkeypatch, directory, directory / "no-shipped-styles")
    return directory


def _suggested(capsys: pytest.CaptureFixture[str], photos: list[str], *source: str) -> dict[str, object]:
    """What ``suggest --json`` proposes (first recipe) for each photo."""
    main(["suggest", *photos, *source, "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    return {r["photo"]: r["recipes"][0] for r in rows if r["ok"]}


def test_style_suggests_and_writes_each_photos_own_recipe(
    folder: Path, styles: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from backend.recipe import Recipe
    from backend.translate.darktable import recipe_to_history

    photos = [str(folder / "a.jpg"), str(folder / "broken.jpg"), str(folder / "b.png")]
    expected = _suggested(capsys, photos, "--style", "alpha", "--strength", "0.5")
    assert set(expected) == {photos[0], photos[2]}
    argv = ["apply", *photos, "--style", "alpha", "--strength", "0.5", "--host", "darktable", "--json"]
    assert main(argv) == EXIT_PARTIAL
    doc = json.loads(capsys.readouterr().out)
    assert [(r["photo"], r["action"]) for r in doc["results"]] == [
        (photos[0], "written"),
        (photos[1], "failed"),
        (photos[2], "written"),
    ]
    assert "empty file" in doc["results"][1]["reason"] and doc["failed"] == 1
    assert [r["photo"] for r in doc["recipes"]] == [photos[0], photos[2]]
    for row in doc["recipes"]:
        assert row["recipe"] == expected[row["photo"]]  # the same recipe `suggest` proposes
        recipe = Recipe.from_dict(row["recipe"])
        assert recipe.style == "alpha" and recipe.strength == 0.5
        found = find_provenance(read_sidecar(Path(row["photo"] + ".xmp")))
        assert found is not None and found[1].recipe == recipe
        desc = read_sidecar(Path(row["photo"] + ".xmp")).descriptions()[0]
        lis = desc.findall(f"{{{NS['darktable']}}}history/{{{NS['rdf']}}}Seq/{{{NS['rdf']}}}li")
        entries = recipe_to_history(recipe, is_raw=False, long_side_px=48)
        assert [li.get(f"{{{NS['darktable']}}}params") for li in lis] == [e.params for e in entries]
    assert not (folder / "broken.jpg.xmp").exists()

    assert main([*argv[:2], *argv[3:], "--dry-run"]) == 0  # a.jpg and b.png again: already applied
    assert {r["action"] for r in json.loads(capsys.readouterr().out)["results"]} == {"skipped"}


def test_mix_and_text_output(folder: Path, styles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = str(folder / "a.jpg")
    expected = _suggested(capsys, [photo], "--mix", "alpha:0.7,beta:0.3")[photo]
    assert main(["apply", photo, "--mix", "alpha:0.7,beta:0.3", "--host", "both"]) == 0
    out = capsys.readouterr().out
    assert f"written      darktable {photo}.xmp" in out and "skipped      lightroom" in out
    found = find_provenance(read_sidecar(folder / "a.jpg.xmp"))
    assert found is not None and found[1].recipe.to_dict() == expected
    assert found[1].recipe.style == "alpha:0.7,beta:0.3"


def test_style_usage_errors_write_nothing(folder: Path, styles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _files(folder)
    photo = str(folder / "a.jpg")
    for argv in (
        [photo, "--host", "darktable"],  # no source
        [photo, "--style", "alpha", "--recipe", str(folder / "recipe.json"), "--host", "darktable"],
        [photo, "--style", "alpha", "--mix", "beta:1", "--host", "darktable"],
        [photo, "--mix", "alpha", "--host", "darktable"],  # no weight
    ):
        with pytest.raises(SystemExit) as exc:
            main(["apply", *argv])
        assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["apply", photo, "--style", "alpha", "--strength", "1.5", "--host", "darktable"])
    assert exc.value.code == 2
    assert main(["apply", photo, "--style", "nope", "--host", "darktable"]) == 6
    err = capsys.readouterr().err
    assert "one of the arguments --recipe --style --mix is required" in err
    assert "not allowed with argument" in err and "strength must lie in [0, 1]" in err and "nope" in err
    assert _files(folder) == before


def test_help_names_every_source(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["apply", "--help"])
    text = capsys.readouterr().out
    for needle in ("--recipe R.json", "--style S", "--mix A:W,B:W", "--strength A", '"recipes"', "--server"):
        assert needle in text, needle
