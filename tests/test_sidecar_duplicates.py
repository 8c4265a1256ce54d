"""darktable virtual copies: ``apply`` / ``revert`` with ``duplicate`` N write the copy's ``NAME_NN.EXT.xmp``.

The copy's own history stays, one set of autoretouch's entries at a time, the original's sidecar is never
touched, and the sidecar rules (backup, lock, a sidecar of another file left alone) hold as for the original.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.cli.main import main
from backend.errors import InvalidRecipeError
from backend.recipe import Recipe
from backend.sidecar.apply import apply_to_photo
from backend.sidecar.darktable_doc import darktable_sidecar_path
from backend.sidecar.revert import revert_photo

PLUS_ONE = Recipe.from_dict({"version": 1, "steps": [{"slider": "exposure", "value": 1.0}]})


def _user_xmp(slider: str, value: float, derived_from: str) -> str:
    """A darktable sidecar with one user entry (``slider`` at ``value``), made for ``derived_from``."""
    from backend.sidecar.darktable_xmp import new_darktable_xmp, xmp_to_string
    from backend.translate.darktable import recipe_to_history

    recipe = Recipe.from_dict({"version": 1, "steps": [{"slider": slider, "value": value}]})
    text = xmp_to_string(new_darktable_xmp(recipe_to_history(recipe, is_raw=False, long_side_px=64), is_raw=False))
    return text.replace(
        '<rdf:Description rdf:about=""',
        f'<rdf:Description xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" xmpMM:DerivedFrom="{derived_from}" '
        'rdf:about=""',
    )


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """``p.png``, its sidecar (a sharpen entry) and its copy 1's (a contrast entry), with darktable's DerivedFrom."""
    from testing.fixtures import make_png

    path = make_png(tmp_path, "p.png", width=48, height=32)
    (tmp_path / "p.png.xmp").write_text(_user_xmp("sharpen", 60.0, "p.png"), encoding="utf-8")
    (tmp_path / "p_01.png.xmp").write_text(_user_xmp("contrast", 30.0, "p.png"), encoding="utf-8")
    return path


def _operations(sidecar: Path) -> list[str]:
    return _operations_of(sidecar.read_bytes())


def _operations_of(data: bytes) -> list[str]:
    """The darktable operations of a sidecar's history, in order."""
    text = data.decode("utf-8")
    return [part.split('"', 1)[0] for part in text.split('darktable:operation="')[1:]]


@pytest.mark.parametrize(
    ("name", "duplicate", "expected"),
    [
        ("IMG_0001.CR2", 0, "IMG_0001.CR2.xmp"),
        ("IMG_0001.CR2", 1, "IMG_0001_01.CR2.xmp"),
        ("IMG_0001.CR2", 12, "IMG_0001_12.CR2.xmp"),
        ("IMG_0001.CR2", 100, "IMG_0001_100.CR2.xmp"),
        ("a.b.png", 3, "a.b_03.png.xmp"),
    ],
)
def test_a_copys_sidecar_name_is_darktables(name: str, duplicate: int, expected: str) -> None:
    assert darktable_sidecar_path(Path("/x") / name, duplicate) == Path("/x") / expected


def test_a_negative_duplicate_is_refused() -> None:
    with pytest.raises(InvalidRecipeError):
        darktable_sidecar_path("/x/a.png", -1)


def test_apply_twice_then_revert_on_a_copy_keeps_its_history_and_the_original(photo: Path) -> None:
    original, copy = photo.with_name("p.png.xmp"), photo.with_name("p_01.png.xmp")
    original_bytes, copy_before = original.read_bytes(), copy.read_bytes()

    (first,) = apply_to_photo(photo, PLUS_ONE, host="darktable", duplicate=1)
    assert first.action == "written" and first.sidecar == copy
    assert _operations(copy) == ["colorbalancergb", "exposure"]  # the copy's own entry, then ours
    assert photo.with_name("p_01.png.xmp.autoretouch.bak").read_bytes() == copy_before

    half = Recipe.from_dict({"version": 1, "steps": [{"slider": "exposure", "value": 0.5}]})
    (again,) = apply_to_photo(photo, half, host="darktable", duplicate=1)
    assert again.action == "skipped" and "--overwrite" in again.reason  # as for an original
    (second,) = apply_to_photo(photo, half, host="darktable", duplicate=1, overwrite=True)
    assert second.action == "written"
    text = copy.read_text(encoding="utf-8")
    assert _operations(copy) == ["colorbalancergb", "exposure"]  # one set of ours, not two
    assert text.count("autoretouch:Timestamp=") == 1 and "&quot;value&quot;: 0.5" in text

    (undone,) = revert_photo(photo, host="darktable", duplicate=1)
    assert undone.action == "reverted" and undone.sidecar == copy
    assert _operations(copy) == ["colorbalancergb"] and "autoretouch:" not in copy.read_text(encoding="utf-8")
    assert original.read_bytes() == original_bytes  # the original's sidecar never touched
    assert not photo.with_name("p.png.xmp.autoretouch.bak").exists()


def test_a_copy_without_a_sidecar_gets_one_and_revert_removes_it(photo: Path) -> None:
    (written,) = apply_to_photo(photo, PLUS_ONE, host="darktable", duplicate=2)
    fresh = photo.with_name("p_02.png.xmp")
    assert written.action == "written" and written.sidecar == fresh and _operations(fresh) == ["exposure"]
    (undone,) = revert_photo(photo, host="darktable", duplicate=2)
    assert undone.action == "deleted" and not fresh.exists()


def test_the_sidecar_of_another_photo_with_the_copys_name_is_left_alone(tmp_path: Path) -> None:
    from testing.fixtures import make_png

    photo = make_png(tmp_path, "b.png", width=48, height=32)
    make_png(tmp_path, "b_01.png", width=48, height=32)
    other = tmp_path / "b_01.png.xmp"  # b_01.png's own sidecar, the name b.png's copy 1 would have
    other.write_text(_user_xmp("sharpen", 60.0, "b_01.png"), encoding="utf-8")
    before = other.read_bytes()
    (applied,) = apply_to_photo(photo, PLUS_ONE, host="darktable", duplicate=1)
    assert applied.action == "skipped" and applied.reason == "this sidecar belongs to b_01.png"
    (reverted,) = revert_photo(photo, host="darktable", duplicate=1)
    assert reverted.action == "skipped" and reverted.reason == "this sidecar belongs to b_01.png"
    assert other.read_bytes() == before


@pytest.mark.parametrize("host", ["lightroom", "both"])
def test_a_duplicate_is_darktables_alone(photo: Path, host: str) -> None:
    with pytest.raises(InvalidRecipeError, match="darktable"):
        apply_to_photo(photo, PLUS_ONE, host=host, duplicate=1)
    with pytest.raises(InvalidRecipeError, match="darktable"):
        revert_photo(photo, host=host, duplicate=1)


def test_cli_apply_and_revert_with_duplicate(photo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = photo.with_name("plus1.json")
    recipe.write_text(json.dumps(PLUS_ONE.to_dict()), encoding="utf-8")
    original_bytes = photo.with_name("p.png.xmp").read_bytes()
    common = [str(photo), "--host", "darktable", "--duplicate", "1", "--json"]
    assert main(["apply", *common, "--recipe", str(recipe)]) == 0
    (row,) = json.loads(capsys.readouterr().out)["results"]
    assert row["action"] == "written" and row["sidecar"] == str(photo.with_name("p_01.png.xmp"))
    assert main(["apply", *common, "--recipe", str(recipe), "--overwrite", "--strength", "0.5"]) == 0
    capsys.readouterr()
    assert _operations(photo.with_name("p_01.png.xmp")) == ["colorbalancergb", "exposure"]
    assert main(["revert", *common]) == 0
    (row,) = json.loads(capsys.readouterr().out)["results"]
    assert row["action"] == "reverted" and _operations(photo.with_name("p_01.png.xmp")) == ["colorbalancergb"]
    assert photo.with_name("p.png.xmp").read_bytes() == original_bytes


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["apply", "--recipe", "r.json", "--host", "both", "--duplicate", "1"], 2, "host darktable"),
        (["apply", "--recipe", "r.json", "--host", "lightroom", "--duplicate", "1"], 2, "host darktable"),
        # with --server the CLI refuses it before it calls the daemon (none listens on port 1): the same status
        (
            ["apply", "--recipe", "r.json", "--host", "lightroom", "--duplicate", "1", "--server", "127.0.0.1:1"],
            2,
            "host darktable",
        ),
        # revert's default host is both, but --duplicate without --host means darktable: only one given refuses
        (["revert", "--host", "both", "--duplicate", "1"], 2, "host darktable"),
        (["revert", "--host", "lightroom", "--duplicate", "1", "--server", "127.0.0.1:1"], 2, "host darktable"),
        (["revert", "--host", "darktable", "--duplicate", "-1"], 2, "--duplicate must be at least 0"),
    ],
)
def test_cli_refuses_a_duplicate_it_cannot_write(
    photo: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    before = {p.name: p.read_bytes() for p in photo.parent.iterdir()}
    try:
        status = main([argv[0], str(photo), *argv[1:]])
    except SystemExit as exc:  # argparse's usage error
        status = exc.code
    assert status == code
    assert message in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in photo.parent.iterdir()} == before  # nothing written


def test_no_copy_sidecar_is_made_where_a_file_of_that_name_would_claim_it(tmp_path: Path) -> None:
    from testing.fixtures import make_png

    photo = make_png(tmp_path, "b.png", width=48, height=32)
    make_png(tmp_path, "b_01.png", width=48, height=32)  # a real photo named like b.png's copy 1
    (applied,) = apply_to_photo(photo, PLUS_ONE, host="darktable", duplicate=1)
    assert applied.action == "skipped" and "b_01.png" in applied.reason
    assert not (tmp_path / "b_01.png.xmp").exists()  # darktable would read it as b_01.png's own sidecar


def test_a_sidecar_without_derived_from_next_to_its_namesake_is_left_alone(tmp_path: Path) -> None:
    from testing.fixtures import make_png

    photo = make_png(tmp_path, "b.png", width=48, height=32)
    namesake = make_png(tmp_path, "b_01.png", width=48, height=32)
    (own,) = apply_to_photo(namesake, PLUS_ONE, host="darktable")  # b_01.png's own sidecar, made by autoretouch
    assert own.action == "written" and "DerivedFrom" not in own.sidecar.read_text(encoding="utf-8")
    before = own.sidecar.read_bytes()
    half = Recipe.from_dict({"version": 1, "steps": [{"slider": "exposure", "value": 0.5}]})
    (applied,) = apply_to_photo(photo, half, host="darktable", duplicate=1, overwrite=True)
    assert applied.action == "skipped" and "b_01.png" in applied.reason
    (reverted,) = revert_photo(photo, host="darktable", duplicate=1)
    assert reverted.action == "skipped" and "b_01.png" in reverted.reason
    assert own.sidecar.read_bytes() == before


def test_a_copy_sidecar_naming_its_original_is_written_even_next_to_a_namesake(tmp_path: Path) -> None:
    from testing.fixtures import make_png

    photo = make_png(tmp_path, "b.png", width=48, height=32)
    make_png(tmp_path, "b_01.png", width=48, height=32)
    (tmp_path / "b_01.png.xmp").write_text(_user_xmp("contrast", 30.0, "b.png"), encoding="utf-8")
    (applied,) = apply_to_photo(photo, PLUS_ONE, host="darktable", duplicate=1)
    assert applied.action == "written" and _operations(tmp_path / "b_01.png.xmp") == ["colorbalancergb", "exposure"]


def test_a_copy_sidecar_autoretouch_creates_names_its_image(tmp_path: Path) -> None:
    """So a file named like the copy that appears later does not make the copy's own sidecar ambiguous."""
    from backend.sidecar.darktable_doc import derived_from
    from backend.sidecar.xmp import parse_sidecar
    from testing.fixtures import make_png

    photo = make_png(tmp_path, "b.png", width=48, height=32)
    (made,) = apply_to_photo(photo, PLUS_ONE, host="darktable", duplicate=1)
    assert made.action == "written" and derived_from(parse_sidecar(made.sidecar.read_bytes(), made.sidecar)) == "b.png"
    make_png(tmp_path, "b_01.png", width=48, height=32)  # a photo named like the copy, imported since
    half = Recipe.from_dict({"version": 1, "steps": [{"slider": "exposure", "value": 0.5}]})
    (again,) = apply_to_photo(photo, half, host="darktable", duplicate=1, overwrite=True)
    assert again.action == "written" and _operations(made.sidecar) == ["exposure"]
    (undone,) = revert_photo(photo, host="darktable", duplicate=1)
    assert undone.action == "deleted" and not made.sidecar.exists()


def test_derived_from_added_to_a_copys_sidecar_goes_again_with_revert(tmp_path: Path) -> None:
    from testing.fixtures import make_png

    photo = make_png(tmp_path, "b.png", width=48, height=32)
    copy = tmp_path / "b_01.png.xmp"  # the copy's own history, in a sidecar that names no image
    copy.write_text(_user_xmp("contrast", 30.0, "b.png").replace(' xmpMM:DerivedFrom="b.png"', ""), encoding="utf-8")
    before = copy.read_bytes()
    (applied,) = apply_to_photo(photo, PLUS_ONE, host="darktable", duplicate=1)
    assert applied.action == "written" and 'xmpMM:DerivedFrom="b.png"' in copy.read_text(encoding="utf-8")
    (reverted,) = revert_photo(photo, host="darktable", duplicate=1)
    assert reverted.action == "reverted" and "DerivedFrom" not in copy.read_text(encoding="utf-8")
    assert _operations(copy) == _operations_of(before)
