"""``autoretouch suggest --dtstyle DIR --duplicate N`` on the command line, in process and with ``--server``.

The style files preview darktable's virtual copy N: they are built on its sidecar ``NAME_NN.EXT.xmp`` (with
``--server`` too: the daemon translates, the sidecar is read where the files are written). ``--duplicate`` without
``--dtstyle`` would change nothing (the recipes are the same for every copy): a usage error, before any photo.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree as SafeET

from backend.cli.dtstyle_output import preview_history
from backend.recipe import Recipe
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from backend.sidecar.darktable_doc import darktable_sidecar_path
from backend.translate.darktable import HistoryEntry, recipe_to_history
from testing.daemon import run_main, serving, use_daemon_env
from testing.dt_sidecar import history_sidecar
from testing.dt_virtual_copy import COPY, LIFT, sliders_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LONG_SIDE = 64  # testing.daemon.make_photos: 64 x 48
#: Copy 2's earlier autoretouch edit: every module a suggestion can touch is then one the copy already has.
FIRST = sliders_recipe({"exposure": 0.5, "contrast": 20.0, "saturation": 20.0, "tone_curve": LIFT})


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("suggest_duplicate")
    with serving(base) as served:
        photo = served.root / "v.png"  # the original holds a user's sharpen; copy 2 the sharpen, then FIRST
        shutil.copy(served.root / "b.png", photo)
        sharpen = history_sidecar(recipe_to_history({"sharpen": 60.0}, is_raw=False, long_side_px=LONG_SIDE))
        darktable_sidecar_path(photo).write_text(sharpen, encoding="utf-8")
        darktable_sidecar_path(photo, COPY).write_text(sharpen, encoding="utf-8")
        info = PhotoInfo(False, LONG_SIDE)
        (outcome,) = apply_to_photo(photo, FIRST, host="darktable", duplicate=COPY, info=info)
        assert outcome.action == "written", outcome.reason
        yield {"root": served.root, "photos": served.photos, "styles": served.styles, "server": served.server}


@pytest.fixture
def here(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return use_daemon_env(env, monkeypatch)


def _plugins(path: Path) -> list[tuple[str, str, int, str, str]]:
    """The style's plugins as (operation, op_params, multi_priority, multi_name, enabled)."""
    root = SafeET.parse(path).getroot()
    return [
        (
            p.findtext("operation") or "",
            p.findtext("op_params") or "",
            int(p.findtext("multi_priority") or -1),
            p.findtext("multi_name") or "",
            p.findtext("enabled") or "",
        )
        for p in root.iter("plugin")
    ]


def _as_plugins(entries: list[HistoryEntry]) -> list[tuple[str, str, int, str, str]]:
    return [(e.operation, e.params, e.multi_priority, e.multi_name, str(int(e.enabled))) for e in entries]


@pytest.mark.parametrize("remote", [False, True], ids=["in-process", "server"])
def test_the_files_preview_the_copys_own_history(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], tmp_path: Path, remote: bool
) -> None:
    photo = here["root"] / "v.png"
    sidecars = {p: p.read_bytes() for p in (darktable_sidecar_path(photo), darktable_sidecar_path(photo, COPY))}
    argv = ["suggest", "v.png", "--variants", "2", "--json", "--dtstyle", str(tmp_path), "--duplicate", str(COPY)]
    code, out, err = run_main(capsys, [*argv, *(["--server", here["server"]] if remote else [])])
    assert code == 0, err
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["ok"] and len(row["recipes"]) == 2
    for recipe_row in row["recipes"]:
        recipe = Recipe.from_dict({k: v for k, v in recipe_row.items() if k != "dtstyle"})
        plain = recipe_to_history(recipe, is_raw=False, long_side_px=LONG_SIDE)
        assert plain  # a random style proposes at least one slider
        on_copy, _ = preview_history(photo, plain, is_raw=False, long_side_px=LONG_SIDE, duplicate=COPY)
        on_original, _ = preview_history(photo, plain, is_raw=False, long_side_px=LONG_SIDE)
        plugins = _plugins(Path(recipe_row["dtstyle"]))
        assert plugins == _as_plugins(on_copy)
        assert plugins != _as_plugins(on_original)  # the bug: the original's history under copy 2's preview
        # the copy's earlier edit shows: a module lands on the copy's instance of ours (named so) or that goes off
        assert any(name.startswith("autoretouch") or on == "0" for _, _, _, name, on in plugins), plugins
    assert {p: p.read_bytes() for p in sidecars} == sidecars  # nothing written next to the photo
    # the recipes are those of a plain suggest: the copy changes only the style files
    code, plain_out, _ = run_main(capsys, ["suggest", "v.png", "--variants", "2", "--json"])
    assert code == 0
    assert [{k: v for k, v in r.items() if k != "dtstyle"} for r in row["recipes"]] == json.loads(plain_out)["recipes"]


def test_a_copy_without_a_sidecar_gets_the_plain_translation(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], tmp_path: Path
) -> None:
    code, out, err = run_main(capsys, ["suggest", "v.png", "--json", "--dtstyle", str(tmp_path), "--duplicate", "5"])
    assert code == 0, err
    (recipe_row,) = json.loads(out)["recipes"]
    recipe = Recipe.from_dict({k: v for k, v in recipe_row.items() if k != "dtstyle"})
    assert _plugins(Path(recipe_row["dtstyle"])) == _as_plugins(
        recipe_to_history(recipe, is_raw=False, long_side_px=LONG_SIDE)
    )
    assert not darktable_sidecar_path(here["root"] / "v.png", 5).exists()


@pytest.mark.parametrize("remote", [False, True], ids=["in-process", "server"])
def test_duplicate_without_dtstyle_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], remote: bool
) -> None:
    server = ["--server", "127.0.0.1:9"] if remote else []  # refused before any connection (nothing listens on 9)
    code, out, err = run_main(capsys, ["suggest", "no such photo.png", "--duplicate", "2", *server])
    assert code == 2 and out == ""
    assert err.startswith("autoretouch: error: --duplicate 2 needs --dtstyle DIR"), err
    assert "no such photo" not in err  # before any photo


def test_duplicate_0_is_the_original_and_needs_nothing(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    code, out, err = run_main(capsys, ["suggest", "v.png", "--json", "--duplicate", "0"])
    assert code == 0, err
    assert json.loads(out)["ok"]
    code, plain_out, _ = run_main(capsys, ["suggest", "v.png", "--json"])
    assert code == 0 and json.loads(out) == json.loads(plain_out)  # the same as no --duplicate at all


def test_a_negative_copy_is_refused(capsys: pytest.CaptureFixture[str], here: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        run_main(capsys, ["suggest", "v.png", "--dtstyle", str(tmp_path), "--duplicate", "-1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert (
        err.splitlines()[-1]
        == "autoretouch suggest: error: argument --duplicate: --duplicate must be at least 0, got -1"
    )


def test_help_names_the_option() -> None:
    from backend.cli.main import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices["suggest"]  # type: ignore[union-attr]
    text = " ".join(sub.format_help().split())  # argparse wraps the help
    assert "--duplicate N build the --dtstyle previews on darktable's virtual copy N" in text
    assert "needs --dtstyle" in text and "NAME_NN.EXT.xmp" in text
