"""``apply``/``revert`` exit with the error's own status when every photo failed, 9 when some did (in-process and
through a daemon); ``--strength 0`` writes nothing (with ``--overwrite`` it takes out autoretouch's earlier edit); ``revert FOLDER --server`` walks as in-process; the daemon's
folder walk names what it leaves out (QA round C)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.errors import EXIT_PARTIAL, SidecarError
from backend.sidecar.darktable_doc import darktable_sidecar_path
from testing.daemon import run_main, serving, use_daemon_env
from testing.xmp_canonical import canonical
from tests.test_sidecar_apply import USER_DT

EXIT_SIDECAR = SidecarError.exit_code  # 8
RECIPE = {"version": 1, "steps": [{"slider": "exposure", "value": 0.3}]}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("exit_codes")
    (base / "root").mkdir()
    (base / "root" / "recipe.json").write_text(json.dumps(RECIPE))
    with serving(base) as served:
        yield {"root": served.root, "photos": served.photos, "styles": served.styles, "server": served.server}


@pytest.fixture
def here(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    yield use_daemon_env(env, monkeypatch)
    for name in ("a.jpg", "b.png", "sub/c.jpg"):  # every test starts without sidecars
        for leftover in (env["root"] / name).parent.glob(f"{Path(name).name}*.xmp*"):
            leftover.unlink()


def _both(capsys: pytest.CaptureFixture[str], here: dict[str, Any], argv: list[str]) -> list[tuple[int, str, str]]:
    return [run_main(capsys, argv), run_main(capsys, [*argv, "--server", here["server"]])]


def _malformed(photo: Path) -> Path:
    sidecar = darktable_sidecar_path(photo)
    sidecar.write_text("<x:xmpmeta")
    return sidecar


@pytest.mark.parametrize("source", [["--recipe", "recipe.json"], ["--style", "default"]], ids=["recipe", "style"])
def test_apply_to_a_malformed_sidecar_exits_8_naming_it_in_process_and_remote(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], source: list[str]
) -> None:
    sidecar = _malformed(here["root"] / "b.png")
    for host in ("darktable", "both"):  # both: Lightroom is skipped for a PNG, the photo still failed
        local, remote = _both(capsys, here, ["apply", "b.png", *source, "--host", host])
        assert local[0] == EXIT_SIDECAR, local
        assert remote == local
        assert "b.png.xmp: not well-formed XML" in local[2]
        assert sidecar.read_text() == "<x:xmpmeta"  # left untouched
    # one photo of two failed: 9, in-process and remote
    local, remote = _both(capsys, here, ["apply", "b.png", "a.jpg", *source, "--host", "darktable", "--dry-run"])
    assert local[0] == EXIT_PARTIAL and remote == local


def test_every_photo_failing_exits_with_the_first_error_and_9_when_the_kinds_differ_only_partly(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    apply = ["apply", "--recipe", "recipe.json", "--host", "darktable"]
    local, remote = _both(capsys, here, [*apply, "missing.jpg"])
    assert local[0] == 6 and remote == local  # not found
    _malformed(here["root"] / "b.png")
    local, remote = _both(capsys, here, [*apply, "b.png", "missing.jpg"])
    assert local[0] == EXIT_SIDECAR and remote == local  # every photo failed: the first one's error


def test_revert_of_a_hand_corrupted_record_exits_8(capsys: pytest.CaptureFixture[str], here: dict[str, Any]) -> None:
    assert run_main(capsys, ["apply", "a.jpg", "--recipe", "recipe.json", "--host", "darktable"])[0] == 0
    sidecar = darktable_sidecar_path(here["root"] / "a.jpg")
    text = sidecar.read_text()
    sidecar.write_text(text.replace('autoretouch:Recipe="', 'autoretouch:Recipe="{broken'))
    corrupted = sidecar.read_text()
    local, remote = _both(capsys, here, ["revert", "a.jpg", "--host", "darktable"])
    assert local[0] == EXIT_SIDECAR, local
    assert remote == local and "a.jpg.xmp" in local[2]
    assert sidecar.read_text() == corrupted
    local, remote = _both(capsys, here, ["revert", "a.jpg", "b.png", "--host", "darktable", "--json"])
    assert local[0] == EXIT_PARTIAL and remote == local


def test_strength_0_writes_nothing_and_a_dry_run_says_would_write(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    for extra in ([], ["--dry-run"]):
        argv = ["apply", "b.png", "--style", "default", "--host", "darktable", "--strength", "0", *extra]
        local, remote = _both(capsys, here, argv)
        assert local[0] == 0 and remote == local
        assert "skipped      darktable b.png.xmp: nothing to write (strength 0)" in local[1]
        assert "wrote" not in local[1] and not darktable_sidecar_path(here["root"] / "b.png").exists()
    code, out, _ = run_main(capsys, ["apply", "b.png", "--style", "default", "--host", "darktable", "--dry-run"])
    assert code == 0 and "note: no darktable data yet: would write a fresh darktable stack" in out
    assert "wrote" not in out and not darktable_sidecar_path(here["root"] / "b.png").exists()
    code, out, _ = run_main(capsys, ["apply", "b.png", "--style", "default", "--host", "darktable"])
    assert code == 0 and "note: no darktable data yet: wrote a fresh darktable stack" in out


def test_catalog_at_strength_0_writes_nothing_either(capsys: pytest.CaptureFixture[str], here: dict[str, Any]) -> None:
    folder = here["root"] / "zero"
    folder.mkdir()
    shutil.copyfile(here["root"] / "a.jpg", folder / "a.jpg")
    code, out, err = run_main(capsys, ["catalog", "zero", "--strength", "0", "--json", "--jobs", "1"])
    assert code == 0, err
    (photo,) = json.loads(out)["photos"]
    assert photo["status"] == "skipped" and photo["reason"] == "nothing to write (strength 0)"
    assert not darktable_sidecar_path(folder / "a.jpg").exists()


_TOOK_OUT = "took out the earlier autoretouch edit (strength 0)"


@pytest.mark.parametrize("remote", [False, True], ids=["in-process", "daemon"])
def test_apply_overwrite_at_strength_0_takes_out_the_earlier_edit(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], remote: bool
) -> None:
    """The darktable plug-in's "try another strength" at 0: no autoretouch edit left, the user's own stays."""
    sidecar = darktable_sidecar_path(here["root"] / "b.png")
    user = USER_DT.replace("{end}", "3").encode()
    sidecar.write_bytes(user)
    assert run_main(capsys, ["apply", "b.png", "--style", "default", "--host", "darktable"])[0] == 0
    applied = sidecar.read_bytes()
    server = ["--server", here["server"]] if remote else []
    zero = ["apply", "b.png", "--style", "default", "--host", "darktable", "--strength", "0", *server]
    code, out, _ = run_main(capsys, zero)  # without --overwrite: left alone
    assert code == 0 and "skipped      darktable b.png.xmp: nothing to write (strength 0)" in out
    code, out, _ = run_main(capsys, [*zero, "--overwrite", "--dry-run"])
    assert code == 0 and f"would-write  darktable b.png.xmp: would take out {_TOOK_OUT[9:]}" in out, out
    assert sidecar.read_bytes() == applied
    code, out, _ = run_main(capsys, [*zero, "--overwrite", "--json"])  # as the plug-in calls it
    (row,) = json.loads(out)["results"]
    assert code == 0 and (row["action"], row["reason"]) == ("written", _TOOK_OUT)
    assert canonical(sidecar.read_bytes()) == canonical(user)
    code, out, _ = run_main(capsys, ["revert", "b.png", "--host", "darktable", *server])
    assert code == 0 and "skipped      darktable b.png.xmp: no autoretouch settings in this sidecar" in out
    code, out, _ = run_main(capsys, [*zero, "--overwrite"])  # nothing of ours left
    assert code == 0 and "skipped      darktable b.png.xmp: nothing to write (strength 0)" in out
    # a sidecar autoretouch created goes, as revert removes it
    sidecar.unlink()
    assert run_main(capsys, ["apply", "b.png", "--style", "default", "--host", "darktable"])[0] == 0
    code, out, _ = run_main(capsys, [*zero, "--overwrite"])
    assert code == 0 and f"deleted      darktable b.png.xmp: {_TOOK_OUT}; autoretouch created this sidecar" in out
    assert not sidecar.exists()


def test_catalog_overwrite_at_strength_0_takes_out_the_earlier_edit(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    folder = here["root"] / "zero_again"
    folder.mkdir()
    shutil.copyfile(here["root"] / "a.jpg", folder / "a.jpg")
    sidecar = darktable_sidecar_path(folder / "a.jpg")
    user = USER_DT.replace("{end}", "3").encode()
    sidecar.write_bytes(user)
    catalog = ["catalog", "zero_again", "--json", "--jobs", "1"]
    assert run_main(capsys, catalog)[0] == 0
    code, out, _ = run_main(capsys, [*catalog, "--strength", "0"])
    (photo,) = json.loads(out)["photos"]
    assert code == 0 and (photo["status"], photo["reason"]) == ("skipped", "nothing to write (strength 0)")
    code, out, err = run_main(capsys, [*catalog, "--strength", "0", "--overwrite"])
    assert code == 0, err
    (photo,) = json.loads(out)["photos"]
    assert photo["status"] == "written" and photo["hosts"][0]["reason"] == _TOOK_OUT
    assert canonical(sidecar.read_bytes()) == canonical(user)


def test_catalog_refuses_an_empty_style_name(capsys: pytest.CaptureFixture[str], here: dict[str, Any]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_main(capsys, ["catalog", "zero", "--style", ""])
    assert exc.value.code == 2 and "empty style name" in capsys.readouterr().err


def _folder_with_specials(root: Path) -> Path:
    folder = root / "shoot"
    (folder / "day2").mkdir(parents=True)
    (folder / "empty").mkdir()
    shutil.copyfile(root / "a.jpg", folder / "a.jpg")
    shutil.copyfile(root / "a.jpg", folder / "day2" / "c.jpg")
    os.symlink(folder / "nowhere.jpg", folder / "broken.jpg")
    os.mkfifo(folder / "pipe.jpg")
    return folder


def test_revert_of_a_folder_through_a_daemon_walks_it_as_in_process(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    folder = _folder_with_specials(here["root"])
    try:
        photos = [folder / "a.jpg", folder / "day2" / "c.jpg"]
        apply = ["apply", *map(str, photos), "--recipe", "recipe.json", "--host", "darktable"]
        assert run_main(capsys, apply)[0] == 0
        for argv in (["revert", "shoot", "--dry-run"], ["revert", "shoot", "shoot/empty", "--dry-run", "--json"]):
            local, remote = _both(capsys, here, argv)
            assert local[0] == 0 and remote == local, (local, remote)
            assert "broken symbolic link" in local[1] and "FIFO" in local[1] and local[1].count("would-delete") == 2
        assert "no photos in this folder" in local[1]
        code, out, err = run_main(capsys, ["revert", "shoot", "--host", "darktable", "--server", here["server"]])
        assert code == 0, err
        assert out.count("deleted") == 2 and not any(darktable_sidecar_path(p).exists() for p in photos)
    finally:
        shutil.rmtree(folder)


def test_the_daemons_folder_walk_reports_what_it_leaves_out(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    from backend.daemon.walk import expand_paths

    folder = _folder_with_specials(here["root"])
    try:
        skipped: list[tuple[Path, str]] = []
        found = expand_paths([folder], recursive=True, limit=100, skipped=skipped)
        assert found == [folder / "a.jpg", folder / "day2" / "c.jpg"]
        assert [p.name for p, _ in skipped] == ["broken.jpg", "pipe.jpg"]
        # remote catalog (WriteSidecars with a style) lists them skipped, as a local catalog does
        argv = ["catalog", "shoot", "--dry-run", "--json"]
        code, out, err = run_main(capsys, [*argv, "--server", here["server"]])
        assert code == 0, err
        rows = {Path(p["photo"]).name: p for p in json.loads(out)["photos"]}
        assert rows["broken.jpg"]["status"] == "skipped" and "broken symbolic link" in rows["broken.jpg"]["reason"]
        assert rows["pipe.jpg"]["status"] == "skipped" and "FIFO" in rows["pipe.jpg"]["reason"]
        local = run_main(capsys, [*argv, "--jobs", "1"])
        local_rows = {Path(p["photo"]).name: p for p in json.loads(local[1])["photos"]}
        assert {n: r["reason"] for n, r in local_rows.items()} == {n: r["reason"] for n, r in rows.items()}
        # a folder without photos: nothing listed by a catalog run, here or through the daemon
        argv = ["catalog", "shoot/empty", "--dry-run", "--json"]
        remote = run_main(capsys, [*argv, "--server", here["server"]])
        assert remote[0] == 0 and json.loads(remote[1])["photos"] == []
        assert json.loads(run_main(capsys, [*argv, "--jobs", "1"])[1])["photos"] == []
    finally:
        shutil.rmtree(folder)


def test_a_folder_the_daemon_cannot_list_fails_as_permission_denied(tmp_path: Path) -> None:
    from backend.daemon.convert import outcome_from_pb
    from backend.daemon.sidecar_batch import walk_results
    from backend.errors import PermissionDeniedError

    why = f"{tmp_path}: cannot list the folder (Permission denied)"
    skipped = f"{tmp_path / 'pipe.jpg'}: a FIFO (named pipe), not a photo file"
    failed, left_out = walk_results(
        [(tmp_path, why, True), (tmp_path / "pipe.jpg", skipped, False)], ("darktable",), named=False
    )
    assert failed.error.exit_code == PermissionDeniedError.exit_code and failed.error.message == why
    assert [outcome_from_pb(o).reason for o in failed.outcomes] == [why]  # whole, as `revert FOLDER` prints it
    (o,) = (outcome_from_pb(m) for m in left_out.outcomes)
    assert (o.action, o.reason, o.sidecar) == (
        "skipped",
        "a FIFO (named pipe), not a photo file",
        tmp_path / "pipe.jpg",
    )


def test_apply_of_a_folder_through_a_daemon_fails_it_alone_as_in_process(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    local, remote = _both(
        capsys, here, ["apply", "sub", "b.png", "--recipe", "recipe.json", "--host", "darktable", "--dry-run"]
    )
    assert local[0] == EXIT_PARTIAL and remote == local and "sub: is a folder" in local[2]
    local, remote = _both(capsys, here, ["apply", "sub", "--recipe", "recipe.json", "--host", "darktable"])
    assert local[0] == 3 and remote == local and not any((here["root"] / "sub").glob("*.xmp"))
