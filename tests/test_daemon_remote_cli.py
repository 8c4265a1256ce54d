"""``--server HOST:PORT`` gives the same output and exit status as the in-process commands."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.sidecar.darktable_doc import darktable_sidecar_path
from testing.daemon import run_main, serving, use_daemon_env


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("remote")
    (base / "root").mkdir()
    (base / "root" / "recipe.json").write_text(
        json.dumps({"version": 1, "steps": [{"slider": "exposure", "value": 0.3}]})
    )
    with serving(base) as served:
        yield {"root": served.root, "photos": served.photos, "styles": served.styles, "server": served.server}


@pytest.fixture
def here(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return use_daemon_env(env, monkeypatch)


def _both(capsys: pytest.CaptureFixture[str], env: dict[str, Any], argv: list[str]) -> tuple[Any, Any]:
    local = run_main(capsys, argv)
    remote = run_main(capsys, [*argv, "--server", env["server"]])
    return local, remote


@pytest.mark.parametrize(
    "argv",
    [
        ["suggest", "a.jpg"],
        ["suggest", "a.jpg", "b.png", "--json", "--strength", "0.5"],
        ["suggest", "b.png", "--variants", "3", "--seed", "4", "--style", "warm"],
        ["suggest", "a.jpg", "--mix", "default:0.7,warm:0.3", "--json"],
        ["suggest", "a.jpg", "truncated.jpg", "missing.jpg"],
        ["suggest", "missing.jpg"],
        ["suggest", "truncated.jpg", "--json"],
        ["suggest", "a.jpg", "--style", "nope"],
        ["suggest", "sub", "a.jpg"],  # a folder: the hint names `catalog`, as in-process
    ],
    ids=["text", "json-strength", "variants", "mix", "partial", "missing", "corrupt", "unknown-style", "folder"],
)
def test_suggest_matches_in_process(capsys: pytest.CaptureFixture[str], here: dict[str, Any], argv: list[str]) -> None:
    local, remote = _both(capsys, here, argv)
    assert remote[0] == local[0]
    assert remote[1] == local[1]
    if argv[-1] != "nope":  # the unknown-style hint names where the in-process CLI looked
        assert remote[2] == local[2]
    else:
        assert "nope" in remote[2] and remote[2].startswith("autoretouch: error:")


def test_apply_and_revert_match_in_process(capsys: pytest.CaptureFixture[str], here: dict[str, Any]) -> None:
    photos = ["a.jpg", "sub/c.jpg", "truncated.jpg", "missing.jpg"]
    apply = ["apply", *photos, "--recipe", "recipe.json", "--host", "both"]
    dry = _both(capsys, here, [*apply, "--dry-run", "--json"])
    assert dry[1] == dry[0] and dry[0][0] == 9
    for extra in ([], ["--json"]):
        local = run_main(capsys, [*apply, *extra])
        assert darktable_sidecar_path(here["root"] / "a.jpg").is_file()
        undo_local = run_main(capsys, ["revert", *photos, *extra])
        assert not darktable_sidecar_path(here["root"] / "a.jpg").exists()
        remote = run_main(capsys, [*apply, *extra, "--server", here["server"]])
        assert remote == local
        undo_remote = run_main(capsys, ["revert", *photos, *extra, "--server", here["server"]])
        assert undo_remote == undo_local
        assert not darktable_sidecar_path(here["root"] / "a.jpg").exists()


def test_apply_and_revert_on_a_virtual_copy_match_in_process(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    copy = darktable_sidecar_path(here["root"] / "b.png", 1)
    assert copy.name == "b_01.png.xmp"
    apply = ["apply", "b.png", "--recipe", "recipe.json", "--host", "darktable", "--duplicate", "1", "--json"]
    revert = ["revert", "b.png", "--host", "darktable", "--duplicate", "1", "--json"]
    local = run_main(capsys, apply)
    assert local[0] == 0 and copy.is_file() and not darktable_sidecar_path(here["root"] / "b.png").exists()
    undo_local = run_main(capsys, revert)
    assert undo_local[0] == 0 and not copy.exists()
    remote = run_main(capsys, [*apply, "--server", here["server"]])
    assert remote == local and copy.is_file()  # the daemon wrote the copy's sidecar, not the original's
    assert not darktable_sidecar_path(here["root"] / "b.png").exists()
    undo_remote = run_main(capsys, [*revert, "--server", here["server"]])
    assert undo_remote == undo_local and not copy.exists()
    style = ["apply", "b.png", "--style", "warm", "--host", "darktable", "--duplicate", "1", "--json"]
    local_style = run_main(capsys, style)
    run_main(capsys, revert)
    remote_style = run_main(capsys, [*style, "--server", here["server"]])
    # the suggestion's floats may differ in their last digits between processes; what was written may not
    assert json.loads(remote_style[1])["results"] == json.loads(local_style[1])["results"] and copy.is_file()
    run_main(capsys, revert)


def test_a_duplicate_with_lightroom_is_refused_by_the_daemon_too(here: dict[str, Any]) -> None:
    from backend.daemon.client import RemoteClient, RemoteError
    from backend.daemon.convert import recipe_to_pb
    from backend.recipe import Recipe
    from backend.rpc import PROTOCOL_VERSION, pb

    recipe = Recipe.from_dict({"version": 1, "steps": [{"slider": "exposure", "value": 0.3}]})
    path = str(here["root"] / "b.png")
    with RemoteClient(here["server"]) as client:
        request = pb.WriteSidecarsRequest(
            protocol_version=PROTOCOL_VERSION, paths=[path], hosts=[pb.HOST_LIGHTROOM], duplicate=1
        )
        request.recipe.CopyFrom(recipe_to_pb(recipe))
        with pytest.raises(RemoteError, match="darktable"):
            list(client.write_sidecars(request))
        style = pb.WriteSidecarsRequest(
            protocol_version=PROTOCOL_VERSION, paths=[path], hosts=[pb.HOST_DARKTABLE], duplicate=1, style="warm"
        )
        with pytest.raises(RemoteError, match="'recipe' or 'mix'"):
            list(client.write_sidecars(style))
        revert = pb.RevertRequest(protocol_version=PROTOCOL_VERSION, paths=[path], duplicate=1)
        with pytest.raises(RemoteError, match="darktable"):
            client.revert(revert)
    assert not darktable_sidecar_path(here["root"] / "b.png", 1).exists()


def test_a_daemon_older_than_duplicate_refuses_it_instead_of_writing_the_original(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a daemon of protocol version 1 alone predates WriteSidecarsRequest.duplicate: it would drop the unknown field
    # and write (or revert) the original's b.png.xmp; a request for a virtual copy must not be one it accepts
    monkeypatch.setattr("backend.daemon.checks.SUPPORTED_PROTOCOL_VERSIONS", frozenset({1}))
    original = darktable_sidecar_path(here["root"] / "b.png")
    original.write_text(_user_sidecar(), encoding="utf-8")
    before = {p.name: p.read_bytes() for p in here["root"].iterdir() if p.is_file()}
    common = ["b.png", "--host", "darktable", "--duplicate", "1", "--server", here["server"]]
    for argv in (["apply", *common, "--recipe", "recipe.json", "--overwrite"], ["revert", *common]):
        code, out, err = run_main(capsys, argv)
        assert code != 0 and not out and "protocol_version 2 is not supported" in err, (argv, code, out, err)
    assert {
        p.name: p.read_bytes() for p in here["root"].iterdir() if p.is_file()
    } == before  # nothing written, the original too
    original.unlink()


def _user_sidecar() -> str:
    """A darktable sidecar with the user's own exposure entry."""
    from backend.recipe import Recipe
    from backend.sidecar.darktable_xmp import new_darktable_xmp, xmp_to_string
    from backend.translate.darktable import recipe_to_history

    return xmp_to_string(
        new_darktable_xmp(
            recipe_to_history(
                Recipe.from_dict({"version": 1, "steps": [{"slider": "exposure", "value": 0.7}]}),
                is_raw=False,
                long_side_px=64,
            ),
            is_raw=False,
        )
    )


def test_unreachable_server_is_a_clear_error(capsys: pytest.CaptureFixture[str], here: dict[str, Any]) -> None:
    code, out, err = run_main(capsys, ["revert", "a.jpg", "--server", "127.0.0.1:9"])
    assert code != 0 and not out and "cannot reach the autoretouch daemon at 127.0.0.1:9" in err


def test_styles_lists_the_daemons_styles_like_the_local_ones(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    code, out, err = run_main(capsys, ["styles", "--json"])
    local = json.loads(out)
    code_r, out_r, err_r = run_main(capsys, ["styles", "--json", "--server", here["server"]])
    assert (code, code_r, err_r) == (0, 0, "")
    remote = json.loads(out_r)
    assert remote["server"] == here["server"] and local["server"] is None and remote["server_version"]
    assert remote["default"] == local["default"] == "default"
    shared = [s for s in local["styles"] if s["directory"] == str(here["styles"])]  # the daemon has no shipped dir
    assert [s["name"] for s in remote["styles"]] == [s["name"] for s in shared] == ["default", "warm"]
    for mine, theirs in zip(shared, remote["styles"], strict=True):
        assert set(mine) <= set(theirs)  # the same keys (plus "loaded")
        for key in ("path", "source", "description", "created", "model_version", "agent", "shadowed"):
            assert theirs[key] == mine[key], key
    warm = next(s for s in remote["styles"] if s["name"] == "warm")
    assert warm["loaded"] in (True, False) and warm["error"] is None
    code, text, _ = run_main(capsys, ["styles", "--server", here["server"]])
    assert code == 0 and text.startswith(f"styles of the daemon at {here['server']}") and "\nwarm  (" in text
    code, out, err = run_main(capsys, ["styles", "--json", "--server", "127.0.0.1:9"])
    assert code != 0 and not out and "cannot reach the autoretouch daemon at 127.0.0.1:9" in err


@pytest.mark.parametrize(
    "source",
    [["--style", "warm", "--strength", "0.7"], ["--mix", "default:0.6,warm:0.4"]],
    ids=["style", "mix"],
)
def test_apply_with_a_style_matches_in_process(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], source: list[str]
) -> None:
    photos = ["a.jpg", "sub/c.jpg", "truncated.jpg", "missing.jpg"]
    apply = ["apply", *photos, *source, "--host", "both"]
    outputs = []
    for extra in (["--json"], []):
        local = run_main(capsys, [*apply, *extra])
        assert local[0] == 9
        outputs.append(local[1])
        sidecar = darktable_sidecar_path(here["root"] / "a.jpg")
        written = sidecar.read_bytes()
        # missing.jpg (no photo, no sidecar) fails revert as not found: some photos failed
        assert run_main(capsys, ["revert", *photos])[0] == 9 and not sidecar.exists()
        remote = run_main(capsys, [*apply, *extra, "--server", here["server"]])
        assert remote == local
        assert _drop_timestamps(sidecar.read_bytes()) == _drop_timestamps(written)  # the same suggestion
        assert run_main(capsys, ["revert", *photos])[0] == 9
        assert not (here["root"] / ".autoretouch-journal.jsonl").exists()  # apply keeps no batch journal
    doc = json.loads(outputs[0])
    assert [r["photo"] for r in doc["recipes"]] == ["a.jpg", "sub/c.jpg"]
    assert [r["action"] for r in doc["results"]] == ["skipped", "written"] * 2 + ["failed"] * 4


def test_apply_with_an_unknown_style_on_the_daemon(capsys: pytest.CaptureFixture[str], here: dict[str, Any]) -> None:
    code, out, err = run_main(
        capsys, ["apply", "a.jpg", "--style", "nope", "--host", "darktable", "--server", here["server"]]
    )
    assert code == 6 and not out and "no style named 'nope'" in err
    assert not darktable_sidecar_path(here["root"] / "a.jpg").exists()


def _drop_timestamps(data: bytes) -> bytes:
    return re.sub(rb'autoretouch:Timestamp="[^"]*"', b"", data)


def test_a_photo_name_the_protocol_cannot_carry_fails_alone(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    import os
    import shutil

    odd = os.fsdecode(b"caf\xe9.jpg")  # a Latin-1 name: not UTF-8, which proto strings must be
    shutil.copyfile(here["root"] / "a.jpg", here["root"] / odd)
    try:
        code, out, err = run_main(capsys, ["suggest", "a.jpg", odd, "--server", here["server"]])
        assert code == 9 and "a.jpg" in out
        assert "is not valid UTF-8, which paths sent to a daemon must be" in err
        apply = ["apply", "a.jpg", odd, "--recipe", "recipe.json", "--host", "darktable", "--server", here["server"]]
        code, out, err = run_main(capsys, apply)
        assert code == 9 and "written" in out and "not valid UTF-8" in err
        assert darktable_sidecar_path(here["root"] / "a.jpg").is_file()
        assert not darktable_sidecar_path(here["root"] / odd).exists()
        code, out, err = run_main(capsys, ["revert", "a.jpg", odd, "--host", "darktable", "--server", here["server"]])
        assert code == 9 and not darktable_sidecar_path(here["root"] / "a.jpg").exists()
        assert out.index("a.jpg") >= 0 and "not valid UTF-8" in err
    finally:
        (here["root"] / odd).unlink()


def test_a_folder_with_a_name_that_is_not_utf8_is_written_whole_through_the_daemon(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    import os
    import shutil

    folder = here["root"] / "odd_names"
    folder.mkdir()
    odd = os.fsdecode(b"caf\xe9.jpg")
    for name in ("a.jpg", odd):
        shutil.copyfile(here["root"] / "a.jpg", folder / name)
    code, out, err = run_main(
        capsys, ["catalog", "odd_names", "--host", "darktable", "--json", "--server", here["server"]]
    )
    assert code == 0, err
    assert darktable_sidecar_path(folder / odd).is_file() and darktable_sidecar_path(folder / "a.jpg").is_file()
    assert "caf\ufffd.jpg" in json.loads(out)["photos"][1]["photo"]  # shown with U+FFFD: proto strings are UTF-8


def test_catalog_through_a_daemon_fails_a_photo_name_it_cannot_send_alone(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    import os
    import shutil

    odd = os.fsdecode(b"caf\xe9_catalog.jpg")
    shutil.copyfile(here["root"] / "a.jpg", here["root"] / odd)
    try:
        argv = ["catalog", "a.jpg", odd, "--host", "darktable", "--dry-run", "--json", "--server", here["server"]]
        code, out, err = run_main(capsys, argv)  # --json: ASCII output (capsys reads its buffer as UTF-8)
        assert code == 9, (out, err)
        rows = {Path(p["photo"]).name: p for p in json.loads(out)["photos"]}
        assert rows["a.jpg"]["status"] != "failed" and rows[odd]["status"] == "failed"
        assert "is not valid UTF-8, which paths sent to a daemon must be" in rows[odd]["reason"]
    finally:
        (here["root"] / odd).unlink()


# `apply --server --recipe R --strength 0` says what the in-process command says: strength 0, not "changes
# nothing" (proto3 reads a recipe's strength 0 as "not given"; the request's own optional strength carries it)
@pytest.mark.parametrize("extra", [[], ["--json"], ["--dry-run"]], ids=["text", "json", "dry-run"])
def test_strength_zero_reason_matches_in_process(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], extra: list[str]
) -> None:
    argv = ["apply", "a.jpg", "--recipe", "recipe.json", "--host", "darktable", "--strength", "0", *extra]
    local, remote = _both(capsys, here, argv)
    assert "strength 0" in local[1]
    assert remote[:2] == local[:2]


def test_strength_zero_over_an_earlier_edit_matches_in_process(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    base = ["apply", "b.png", "--recipe", "recipe.json", "--host", "darktable"]
    outs = []
    for server in ([], ["--server", here["server"]]):
        assert run_main(capsys, [*base, "--strength", "0.5", "--overwrite", *server])[0] == 0
        code, out, _ = run_main(capsys, [*base, "--strength", "0", "--overwrite", *server])
        outs.append((code, out))
    assert "took out the earlier autoretouch edit (strength 0)" in outs[0][1]
    assert outs[1] == outs[0]
