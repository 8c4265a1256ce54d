"""``revert`` of a path that is not there fails as not found, as ``apply`` and ``suggest`` do; ``--duplicate N``
without ``--host`` means darktable's virtual copy N (QA round D)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.errors import EXIT_PARTIAL, NotFoundError
from backend.sidecar.darktable_doc import darktable_sidecar_path
from testing.daemon import run_main
from testing.fixtures import make_jpeg, make_png

RECIPE = {"version": 1, "steps": [{"slider": "exposure", "value": 0.3}]}
NOT_FOUND = NotFoundError.exit_code  # 6


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(RECIPE))
    return path


def test_revert_of_a_photo_that_does_not_exist_exits_6_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothere.jpg"
    code, out, err = run_main(capsys, ["revert", str(missing)])
    assert code == NOT_FOUND, (out, err)
    assert "skipped" not in out and f"{missing}: no such photo or folder" in err


def test_revert_of_a_folder_that_does_not_exist_exits_6_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, ["revert", f"{tmp_path / 'nodir'}/", "--host", "darktable"])
    assert code == NOT_FOUND, (out, err)
    assert "skipped" not in out and f"{tmp_path / 'nodir'}: no such photo or folder" in err


def test_a_missing_path_beside_a_photo_that_worked_is_a_partial_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recipe: Path
) -> None:
    photo = make_png(tmp_path, "a.png")
    assert run_main(capsys, ["apply", str(photo), "--recipe", str(recipe), "--host", "darktable"])[0] == 0
    code, out, err = run_main(capsys, ["revert", str(photo), str(tmp_path / "typo.png"), "--host", "darktable"])
    assert code == EXIT_PARTIAL, (out, err)
    assert "deleted" in out and not darktable_sidecar_path(photo).exists()
    assert f"{tmp_path / 'typo.png'}: no such photo or folder" in err
    # with --json too: the missing path is a failure with the not-found kind
    code, out, _ = run_main(capsys, ["revert", str(tmp_path / "typo.png"), "--host", "darktable", "--json"])
    doc = json.loads(out)
    assert code == NOT_FOUND and doc["failed"] == 1 and doc["results"][0]["action"] == "failed"


def test_an_existing_photo_without_our_sidecar_is_still_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = make_jpeg(tmp_path, "a.jpg")
    code, out, err = run_main(capsys, ["revert", str(photo)])
    assert code == 0 and not err
    assert f"skipped      darktable {photo}.xmp: no sidecar" in out


def test_a_photo_deleted_since_apply_is_still_reverted_from_its_sidecar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recipe: Path
) -> None:
    photo = make_png(tmp_path, "gone.png")
    assert run_main(capsys, ["apply", str(photo), "--recipe", str(recipe), "--host", "darktable"])[0] == 0
    photo.unlink()
    code, out, err = run_main(capsys, ["revert", str(photo)])
    assert code == 0, (out, err)
    assert "deleted" in out and not darktable_sidecar_path(photo).exists()


def test_revert_duplicate_without_host_means_darktable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recipe: Path
) -> None:
    photo = make_png(tmp_path, "a.png")
    apply = ["apply", str(photo), "--recipe", str(recipe), "--host", "darktable", "--duplicate", "1"]
    assert run_main(capsys, apply)[0] == 0
    copy = darktable_sidecar_path(photo, 1)
    assert copy.exists()
    code, out, err = run_main(capsys, ["revert", str(photo), "--duplicate", "1", "--dry-run"])
    assert code == 0, (out, err)
    assert f"would-delete darktable {copy}" in out and "lightroom" not in out and copy.exists()
    code, out, err = run_main(capsys, ["revert", str(photo), "--duplicate", "1"])
    assert code == 0 and not copy.exists(), (out, err)


@pytest.mark.parametrize("host", ["lightroom", "both"])
def test_revert_duplicate_with_another_host_given_is_still_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    photo = make_png(tmp_path, "a.png")
    code, _, err = run_main(capsys, ["revert", str(photo), "--duplicate", "1", "--host", host])
    assert code == 2 and "use host darktable" in err
