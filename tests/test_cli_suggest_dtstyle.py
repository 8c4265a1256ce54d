"""``autoretouch suggest --dtstyle DIR``: one ``.dtstyle`` per photo and variant, in process and with ``--server``.

The files feed the darktable plug-in's previews on virtual copies (``dt.styles.import`` + ``dt.styles.apply``);
``tests/test_darktable_preview_gui.py`` applies them in a real darktable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree as SafeET

from backend.recipe import Recipe
from backend.translate.darktable import recipe_to_history
from testing.daemon import run_main, serving, use_daemon_env

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("dtstyle")
    with serving(base) as served:
        yield {"root": served.root, "photos": served.photos, "styles": served.styles, "server": served.server}


@pytest.fixture
def here(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return use_daemon_env(env, monkeypatch)


def _plugins(path: Path) -> tuple[str, list[tuple[str, str, int]]]:
    """The style's name and its plugins as (operation, op_params, multi_priority)."""
    root = SafeET.parse(path).getroot()
    assert root.tag == "darktable_style"
    name = root.findtext("info/name") or ""
    return name, [
        (p.findtext("operation") or "", p.findtext("op_params") or "", int(p.findtext("multi_priority") or -1))
        for p in root.iter("plugin")
    ]


def _expected(recipe_row: dict[str, Any], photo: Path) -> list[tuple[str, str, int]]:
    """What ``apply --host=darktable`` would append for this recipe (the photos here are small non-raws)."""
    import cv2

    h, w = cv2.imread(str(photo)).shape[:2]
    recipe = Recipe.from_dict({k: v for k, v in recipe_row.items() if k != "dtstyle"})
    return [
        (e.operation, e.params, e.multi_priority)
        for e in recipe_to_history(recipe, is_raw=False, long_side_px=max(h, w))
    ]


@pytest.mark.parametrize("remote", [False, True], ids=["in-process", "server"])
def test_one_dtstyle_per_variant_holding_the_recipes_modules(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], tmp_path: Path, remote: bool
) -> None:
    out_dir = tmp_path / "styles out"
    out_dir.mkdir()
    argv = ["suggest", "a.jpg", "b.png", "--variants", "2", "--seed", "3", "--json", "--dtstyle", str(out_dir)]
    code, out, err = run_main(capsys, [*argv, *(["--server", here["server"]] if remote else [])])
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["photo"] for r in rows] == ["a.jpg", "b.png"]
    names, files = set(), []
    for row in rows:
        assert len(row["recipes"]) == 2
        for k, recipe_row in enumerate(row["recipes"], start=1):
            path = Path(recipe_row["dtstyle"])
            assert path.is_absolute() and path.parent == out_dir.absolute() and path.suffix == ".dtstyle"
            name, plugins = _plugins(path)
            stem = Path(row["photo"]).stem
            assert name.startswith(f"autoretouch preview {stem} {k} ")
            assert plugins == _expected(recipe_row, here["root"] / row["photo"])
            assert plugins  # a random style proposes at least one slider
            names.add(name)
            files.append(path)
    assert len(names) == 4  # unique names: darktable refuses to import a name it has
    assert sorted(out_dir.iterdir()) == sorted(files)  # nothing else (no temp files left)
    # the recipes are those of a plain suggest (the option only adds the files)
    code, plain, _ = run_main(capsys, [a for a in argv if a not in ("--dtstyle", str(out_dir))])
    assert [[{k: v for k, v in r.items() if k != "dtstyle"} for r in row["recipes"]] for row in rows] == [
        json.loads(line)["recipes"] for line in plain.splitlines()
    ]


def test_text_output_names_the_file(capsys: pytest.CaptureFixture[str], here: dict[str, Any], tmp_path: Path) -> None:
    code, out, err = run_main(capsys, ["suggest", "a.jpg", "--dtstyle", str(tmp_path)])
    assert code == 0, err
    (line,) = [x for x in out.splitlines() if "dtstyle:" in x]
    assert Path(line.split("dtstyle:", 1)[1].strip()).is_file()


def test_a_missing_folder_is_refused_and_nothing_is_made(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exc:
        run_main(capsys, ["suggest", "a.jpg", "--dtstyle", str(tmp_path / "nope")])
    assert exc.value.code == 2
    assert "not a folder" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_a_failed_photo_writes_no_file_and_the_others_do(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], tmp_path: Path
) -> None:
    code, out, _ = run_main(capsys, ["suggest", "truncated.jpg", "a.jpg", "--json", "--dtstyle", str(tmp_path)])
    assert code == 9
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["ok"] for r in rows] == [False, True]
    assert [p.name.split(".")[0] for p in tmp_path.iterdir()] == ["a"]


def test_a_folder_that_cannot_be_written_is_refused(capsys: pytest.CaptureFixture[str], here: dict[str, Any]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_main(capsys, ["suggest", "a.jpg", "--dtstyle", "/proc/self"])  # a folder nobody may create files in
    assert exc.value.code == 2
    assert "/proc/self: cannot write into this folder" in capsys.readouterr().err


@pytest.mark.parametrize("refusal", ["disk full", "other"])
@pytest.mark.parametrize("remote", [False, True], ids=["in-process", "server"])
def test_a_failed_write_fails_that_photo_with_a_clear_error(
    capsys: pytest.CaptureFixture[str],
    here: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    remote: bool,
    refusal: str,
) -> None:
    # a full disk cannot be made here: the atomic writer fails as it would then (fsio's OutputError for want of
    # room, a plain OSError otherwise); both are worded alike
    import errno

    import backend.cli.dtstyle_output as dtstyle_output
    from backend.errors import OutputError

    def refused(path: Path, text: str) -> None:
        if refusal == "other":
            raise OSError(errno.EIO, "Input/output error")
        cause = OSError(errno.ENOSPC, "No space left on device")
        raise OutputError(path, "cannot write (No space left on device)") from cause  # as fsio words it

    monkeypatch.setattr(dtstyle_output, "write_text_atomic", refused)
    argv = ["suggest", "a.jpg", "b.png", "--json", "--dtstyle", str(tmp_path)]
    code, out, err = run_main(capsys, [*argv, *(["--server", here["server"]] if remote else [])])
    assert code == 3  # every photo failed: the error's own status (OutputError), not 1 ("internal error")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["ok"] for r in rows] == [False, False]
    why = "No space left on device" if refusal == "disk full" else "Input/output error"
    for row in rows:
        assert f"{tmp_path / Path(row['photo']).stem}.1." in row["error"]  # names the file it could not write
        assert row["error"].endswith(f": cannot write the style file: {why}"), row["error"]
    assert "internal error" not in err


def _darktable_sidecar(photo: Path, **attributes: str) -> None:
    """A darktable sidecar for ``photo`` holding a user's sharpen, with the given ``darktable:`` attributes."""
    from testing.dt_sidecar import history_sidecar

    sharpen = recipe_to_history({"sharpen": 60.0}, is_raw=False, long_side_px=64)
    photo.with_name(photo.name + ".xmp").write_text(history_sidecar(sharpen, attributes=attributes), encoding="utf-8")


def test_a_sidecar_apply_refuses_gives_the_plain_entries_and_the_batch_goes_on(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], tmp_path: Path
) -> None:
    # "\u00b2" is a digit to str.isdigit() but int() refuses it: apply reports a typed error for this sidecar
    _darktable_sidecar(here["root"] / "a.jpg", iop_order_version="\u00b2")
    try:
        code, out, err = run_main(capsys, ["suggest", "a.jpg", "b.png", "--json", "--dtstyle", str(tmp_path)])
    finally:
        (here["root"] / "a.jpg.xmp").unlink()
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["photo"], r["ok"]) for r in rows] == [("a.jpg", True), ("b.png", True)]
    for row in rows:
        recipe_row = row["recipes"][0]
        assert _plugins(Path(recipe_row["dtstyle"]))[1] == _expected(recipe_row, here["root"] / row["photo"])


def test_the_sidecar_is_read_once_per_photo_and_the_decoder_says_whether_it_is_raw(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import backend.cli.dtstyle_output as dtstyle_output
    import backend.sidecar.xmp as xmp

    reads: list[Path] = []
    read = xmp.read_sidecar_readonly

    def counted(path: str | Path) -> Any:
        reads.append(Path(path))
        return read(path)

    def sniffed(photo: Path) -> bool:
        raise AssertionError(f"{photo} sniffed again: the decoder knew whether it is a raw")

    monkeypatch.setattr(xmp, "read_sidecar_readonly", counted)
    monkeypatch.setattr(dtstyle_output, "_is_raw", sniffed)
    _darktable_sidecar(here["root"] / "a.jpg", iop_order_version="2")
    try:
        argv = ["suggest", "a.jpg", "--variants", "3", "--json", "--dtstyle", str(tmp_path)]
        code, out, err = run_main(capsys, argv)
    finally:
        (here["root"] / "a.jpg.xmp").unlink()
    assert code == 0, err
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["ok"] and len(row["recipes"]) == 3
    assert [p.name for p in reads] == ["a.jpg.xmp"]


def test_a_photo_name_that_is_not_utf8_gives_a_valid_file_and_the_batch_goes_on(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], tmp_path: Path
) -> None:
    import os
    import shutil

    odd = os.fsdecode(b"caf\xe9.jpg")  # a Latin-1 name: the byte 0xE9 is not UTF-8
    shutil.copyfile(here["root"] / "a.jpg", here["root"] / odd)
    try:
        code, out, err = run_main(capsys, ["suggest", odd, "b.png", "--json", "--dtstyle", str(tmp_path)])
    finally:
        (here["root"] / odd).unlink()
    assert code == 0, err
    rows = {json.loads(line)["photo"]: json.loads(line) for line in out.splitlines()}
    assert set(rows) == {odd, "b.png"} and all(r["ok"] for r in rows.values())
    path = Path(rows[odd]["recipes"][0]["dtstyle"])
    assert path.name.startswith("caf\ufffd.1.")  # a UTF-8 name, for the plug-in
    name, plugins = _plugins(path)
    assert name.startswith("autoretouch preview caf\ufffd 1 ") and plugins
    description = SafeET.parse(path).getroot().findtext("info/description") or ""
    assert "suggestion for caf\ufffd.jpg" in description
    assert len(list(tmp_path.iterdir())) == 2
