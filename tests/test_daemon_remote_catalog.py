"""``autoretouch catalog --server``: the batch runs on a real daemon (loopback port) with local-run output.

The daemon here has a token (``--token`` is exercised) and ``max_pixels`` = 1,000,000, so the 1.1-MP
``big/huge.png`` of ``make_photos`` shows that the daemon's pixel limit reaches the catalog batch.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.batch import ALREADY_DONE, DEFAULT_JOURNAL_NAME
from backend.cli.main import EXIT_PARTIAL
from backend.daemon.errors import describe
from backend.errors import PermissionDeniedError
from backend.sidecar.darktable_doc import darktable_sidecar_path
from backend.sidecar.provenance import find_provenance
from backend.sidecar.xmp import read_sidecar
from testing.daemon import config_for, run_main, serving, start_daemon, use_daemon_env
from testing.lrcat_fixtures import CatalogBuilder

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("remote_catalog")
    with serving(base, outside=True, token=TOKEN, http_port=None) as served:
        yield {"root": served.root, "photos": served.photos, "styles": served.styles, "outside": served.outside,
               "daemon": served.daemon, "server": served.server}  # fmt: skip


@pytest.fixture
def here(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return use_daemon_env(env, monkeypatch)  # the local runs use the daemon's styles


def _remote(env: dict[str, Any], *argv: str) -> list[str]:
    return ["catalog", *argv, "--server", env["server"], "--token", TOKEN]


def _shoot(folder: Path, env: dict[str, Any], *, corrupt: bool = False) -> Path:
    (folder / "sub").mkdir(parents=True)
    shutil.copy(env["photos"]["jpg"], folder / "a.jpg")
    shutil.copy(env["photos"]["png"], folder / "b.png")
    shutil.copy(env["photos"]["nested"], folder / "sub" / "c.jpg")
    if corrupt:
        shutil.copy(env["photos"]["truncated"], folder / "truncated.jpg")
    return folder


def _recipe(photo: Path) -> dict[str, Any]:
    found = find_provenance(read_sidecar(darktable_sidecar_path(photo)))
    assert found is not None, photo
    return found[1].recipe.to_dict()  # type: ignore[no-any-return]


def _numbers(value: Any) -> list[float]:
    return [float(value)] if not isinstance(value, list) else [x for v in value for x in _numbers(v)]


def _same_recipe(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal recipes up to float32 rounding (the daemon's threads may sum in another order)."""
    if {k: v for k, v in a.items() if k != "steps"} != {k: v for k, v in b.items() if k != "steps"}:
        return False
    if [s["slider"] for s in a["steps"]] != [s["slider"] for s in b["steps"]]:
        return False
    return all(
        _numbers(x["value"]) == pytest.approx(_numbers(y["value"]), rel=1e-5, abs=1e-6)
        for x, y in zip(a["steps"], b["steps"], strict=True)
    )


def _timeless(text: str) -> str:
    return re.sub(r"in [\d.]+ s \([\d.]+ photos/s", "in T s (R photos/s", text)


def test_remote_run_writes_what_a_local_run_writes_and_resumes(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    local_dir = _shoot(here["root"] / "same_local", here)
    remote_dir = _shoot(here["root"] / "same_remote", here)
    options = ["--style", "warm", "--strength", "0.6", "--json"]
    local = run_main(capsys, ["catalog", str(local_dir), *options])
    remote = run_main(capsys, _remote(here, str(remote_dir), *options))
    assert local[0] == remote[0] == 0, remote[2]
    got, want = json.loads(remote[1]), json.loads(local[1])
    assert got["counts"] == want["counts"] == {"written": 3, "would-write": 0, "skipped": 0, "failed": 0}
    assert (got["style"], got["model"], got["strength"], got["hosts"]) == ("warm", "warm@1", 0.6, ["darktable"])
    assert got["journal"] == str(remote_dir / DEFAULT_JOURNAL_NAME)
    for name in ("a.jpg", "b.png", "sub/c.jpg"):
        recipe = _recipe(remote_dir / name)
        assert _same_recipe(recipe, _recipe(local_dir / name))  # the same record as the local run wrote
        assert recipe["style"] == "warm" and recipe["strength"] == 0.6 and recipe["steps"]
        row = next(p for p in got["photos"] if p["photo"] == str(remote_dir / name))
        assert row["status"] == "written" and row["recipe"] == recipe
    # resuming: a rerun - remote or local - finds the daemon's journal and skips every photo
    before = {p: p.read_bytes() for p in remote_dir.rglob("*.xmp")}
    for again in (_remote(here, str(remote_dir), *options), ["catalog", str(remote_dir), *options]):
        code, out, _ = run_main(capsys, again)
        assert code == 0 and json.loads(out)["skipped_reasons"] == {ALREADY_DONE: 3}
    assert {p: p.read_bytes() for p in remote_dir.rglob("*.xmp")} == before


def test_dry_run_and_a_corrupt_photo_match_the_local_run(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    folder = _shoot(here["root"] / "mixed", here, corrupt=True)
    local = run_main(capsys, ["catalog", str(folder), "--dry-run"])
    remote = run_main(capsys, _remote(here, str(folder), "--dry-run"))
    assert remote[0] == local[0] == EXIT_PARTIAL
    assert _timeless(remote[1]) == _timeless(local[1])
    assert remote[2] == local[2] and "truncated.jpg" in remote[2]
    assert "would-write       3" in remote[1] and str(folder / "truncated.jpg") in remote[1].split("failed photos:")[1]
    assert not list(folder.rglob("*.xmp")) and not (folder / DEFAULT_JOURNAL_NAME).exists()  # nothing written
    # for real: the corrupt photo fails alone, with its error kind, and the others are written
    code, out, err = run_main(capsys, _remote(here, str(folder), "--json"))
    summary = json.loads(out)
    assert code == EXIT_PARTIAL and summary["counts"]["written"] == 3 and summary["counts"]["failed"] == 1
    (failure,) = summary["failures"]
    assert failure["photo"] == str(folder / "truncated.jpg") and "truncated.jpg" in failure["reason"]
    row = next(p for p in summary["photos"] if p["status"] == "failed")
    assert row["error"] == {"type": "CorruptImageError", "grpc_status": "INVALID_ARGUMENT", "exit_code": 5}
    assert "truncated.jpg" in err and darktable_sidecar_path(folder / "a.jpg").is_file()


def test_the_daemons_pixel_limit_fails_a_large_photo_alone(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    folder = here["root"] / "big"
    code, out, _ = run_main(capsys, _remote(here, str(folder), "--dry-run", "--json"))
    summary = json.loads(out)
    assert code == EXIT_PARTIAL and summary["counts"]["failed"] == 1
    (row,) = summary["photos"]
    assert row["error"]["type"] == "ImageTooLargeError" and row["error"]["grpc_status"] == "RESOURCE_EXHAUSTED"
    assert "huge.png" in row["reason"]
    local = run_main(capsys, ["catalog", str(folder), "--dry-run", "--json"])  # no such limit here
    assert local[0] == 0 and json.loads(local[1])["counts"]["would-write"] == 1


def test_lrcat_is_read_here_and_its_photos_sent(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], tmp_path: Path
) -> None:
    folder = _shoot(here["root"] / "catalogued", here)
    with CatalogBuilder(tmp_path / "main.lrcat", schema="lr3") as b:
        top = b.add_folder(b.add_root(str(folder) + "/"), "")
        for stem in ("a", "gone"):
            b.add_image(b.add_file(top, stem, "jpg"), file_format="JPG")
    code, out, err = run_main(capsys, _remote(here, "--lrcat", str(tmp_path / "main.lrcat"), "--host", "darktable"))
    assert code == EXIT_PARTIAL, err
    assert "written           1" in out and f"{folder / 'gone.jpg'}: listed in the Lightroom catalog" in err
    assert darktable_sidecar_path(folder / "a.jpg").is_file() and not darktable_sidecar_path(folder / "b.png").exists()


def test_refused_calls_exit_with_the_daemons_message(capsys: pytest.CaptureFixture[str], here: dict[str, Any]) -> None:
    code, out, err = run_main(capsys, _remote(here, str(here["outside"])))
    assert code == describe(PermissionDeniedError("x")).exit_code == 7 and not out
    assert err.startswith("autoretouch: error: ") and "outside the daemon's --root folders" in err
    assert not list(here["outside"].glob("*.xmp"))
    code, out, err = run_main(capsys, ["catalog", "sub", "--server", here["server"]])  # no token
    assert code == 7 and not out and "token" in err
    code, out, err = run_main(capsys, ["catalog", "sub", "--server", "127.0.0.1:9", "--token", TOKEN])
    assert code != 0 and not out and "cannot reach the autoretouch daemon at 127.0.0.1:9" in err
    code, _, err = run_main(capsys, _remote(here, "sub", "--style", "nope"))
    assert code == 6 and "no style named 'nope'" in err
    code, _, err = run_main(capsys, _remote(here, "sub", "--jobs", "2"))
    assert code == 2 and "--jobs cannot be used with --server" in err
    assert here["daemon"].status == "SERVING"


def test_daemon_start_tunes_the_allocator(here: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import backend.render.pipeline as pipeline

    calls: list[int] = []
    monkeypatch.setattr(pipeline, "tune_allocator", lambda: calls.append(1) or True)
    daemon, _ = start_daemon(config_for(here["root"], here["styles"], http_port=None), load_styles=lambda: None)
    try:
        assert calls == [1] and daemon.events[0] == "allocator:tuned"
    finally:
        daemon.stop(0.1)


def test_suggest_apply_and_revert_take_the_token_option(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], tmp_path: Path
) -> None:
    photo = here["root"] / "token_case" / "t.jpg"
    photo.parent.mkdir(exist_ok=True)
    shutil.copy(here["photos"]["jpg"], photo)
    server = ["--server", here["server"]]
    code, _, err = run_main(capsys, ["suggest", str(photo), *server])  # no token: refused
    assert code == 7 and "token" in err
    code, out, err = run_main(capsys, ["suggest", str(photo), *server, "--token", TOKEN, "--json"])
    assert code == 0, err
    assert json.loads(out)["ok"] is True
    code, _, err = run_main(capsys, ["apply", str(photo), "--style", "default", "--host", "darktable", *server])
    assert code == 7 and "token" in err and not (photo.parent / "t.jpg.xmp").exists()
    code, _, err = run_main(capsys, ["apply", str(photo), "--style", "default", "--host", "darktable", *server,
                                     "--token", TOKEN])  # fmt: skip
    assert code == 0, err
    assert (photo.parent / "t.jpg.xmp").is_file()
    code, _, err = run_main(capsys, ["revert", str(photo), "--host", "darktable", *server, "--token", TOKEN])
    assert code == 0, err
