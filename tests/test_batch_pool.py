"""Catalog batch with a ``spawn`` process pool: same results as in-process, and a worker crash costs one photo."""

from __future__ import annotations

from pathlib import Path

import pytest

import backend.batch.batch as batch_mod
from backend.batch import run_batch
from backend.batch.worker import ALREADY_APPLIED
from tests.test_batch_support import (
    check_darktable_sidecar,
    crashing_task,
    expected_recipe,
    make_jpeg,
    make_photos,
    make_style,
)


@pytest.mark.slow  # starts worker processes (Python + torch) several times
def test_pool_matches_in_process_and_survives_a_worker_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    style = make_style(tmp_path / "styles")
    folder = tmp_path / "shoot"
    photos = make_photos(folder, 6)
    crasher = make_jpeg(folder / "IMG_0003_crash.jpg", seed=3)  # kills whichever worker takes it
    monkeypatch.setattr(batch_mod, "POOL_TASK", crashing_task)
    summary = run_batch([folder], hosts="darktable", style=style, jobs=2)
    assert summary.jobs == 2
    status = {o.photo: o for o in summary.photos}
    assert status[crasher].status == "failed"
    assert str(crasher) in status[crasher].reason and batch_mod.CRASH_REASON in status[crasher].reason
    assert status[crasher].error_kind is not None and status[crasher].error_kind.type == "WorkerCrash"
    assert not crasher.with_name(crasher.name + ".xmp").exists()
    for photo in photos:  # the photos in flight with the crasher were retried, none lost or doubled
        outcome = status[photo]
        assert outcome.status == "written" or (outcome.status, outcome.reason) == ("skipped", ALREADY_APPLIED)
        check_darktable_sidecar(photo, expected_recipe(photo, style))  # spawn workers compute the same
    assert sorted(o.index for o in summary.photos) == list(range(1, 8))
    # the journal counts the crash as a failure (retried next time), everything else as done
    monkeypatch.setattr(batch_mod, "POOL_TASK", batch_mod.run_task)
    again = run_batch([folder], hosts="darktable", style=style, jobs=2)
    assert again.counts["skipped"] == 6
    assert [o.status for o in again.photos if o.photo == crasher] == ["written"]
