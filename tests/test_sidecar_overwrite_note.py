"""``apply --overwrite`` of autoretouch's own earlier darktable edit says so, not "no darktable data yet" (QA round D).

The darktable stack written is the same (a fresh one, exactly ours, where ours was the only darktable data); only
the note changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.sidecar.apply import REPLACED_FRESH_NOTE, apply_to_photo
from backend.sidecar.darktable_doc import darktable_sidecar_path
from backend.sidecar.darktable_xmp import FRESH_STACK_NOTE
from testing.daemon import run_main
from testing.fixtures import make_png
from tests.test_sidecar_apply import RAW_INFO, RECIPE, USER_DT

OTHER = {"version": 1, "steps": [{"slider": "exposure", "value": -0.3}]}


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    photo = tmp_path / "IMG_0001.CR2"
    photo.write_bytes(b"II*\x00 not really a raw, never to be modified")
    return photo


def test_overwriting_our_own_fresh_stack_says_it_replaced_it(raw: Path) -> None:
    (first,) = apply_to_photo(raw, RECIPE, host="darktable", info=RAW_INFO)
    assert first.warnings == (FRESH_STACK_NOTE,)  # really no darktable data before
    sidecar = darktable_sidecar_path(raw)
    for dry_run in (True, False):
        (again,) = apply_to_photo(raw, RECIPE, host="darktable", info=RAW_INFO, overwrite=True, dry_run=dry_run)
        assert again.action == ("would-write" if dry_run else "written")
        assert not any("no darktable data yet" in w for w in again.warnings), again.warnings
        if dry_run:
            assert again.warnings == (
                "would replace " + REPLACED_FRESH_NOTE.removeprefix("replaced ").replace("wrote", "would write"),
            )
        else:
            assert again.warnings == (REPLACED_FRESH_NOTE,)
    assert "autoretouch" in sidecar.read_text()


def test_overwrite_over_the_users_history_has_no_fresh_stack_note(raw: Path) -> None:
    darktable_sidecar_path(raw).write_text(USER_DT.replace("{end}", "3"))
    apply_to_photo(raw, RECIPE, host="darktable", info=RAW_INFO)
    (again,) = apply_to_photo(raw, RECIPE, host="darktable", info=RAW_INFO, overwrite=True)
    assert again.action == "written"
    assert not any(w in (FRESH_STACK_NOTE, REPLACED_FRESH_NOTE) for w in again.warnings), again.warnings


def test_cli_apply_overwrite_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = make_png(tmp_path, "a.png")
    recipe, other = tmp_path / "r.json", tmp_path / "o.json"
    recipe.write_text(json.dumps(RECIPE.to_dict()))
    other.write_text(json.dumps(OTHER))
    apply = ["apply", str(photo), "--host", "darktable"]
    code, out, _ = run_main(capsys, [*apply, "--recipe", str(recipe)])
    assert code == 0 and f"note: {FRESH_STACK_NOTE}" in out
    code, out, _ = run_main(capsys, [*apply, "--recipe", str(other), "--overwrite"])
    assert code == 0 and f"note: {REPLACED_FRESH_NOTE}" in out and "no darktable data yet" not in out
