"""The catalog journal against sidecars changed since a run (QA round B): revert, edits, deletion; bad journal names.

A journal line records each host's sidecar as the run left it (``sidecar_stat``); "done" holds only while the
sidecar is unchanged, so ``autoretouch revert`` followed by ``autoretouch catalog`` applies again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backend.batch import ALREADY_DONE, JournalError, run_batch
from backend.batch.journal import UNRECORDED, HostRecord, Journal, JournalEntry, PhotoStat, RunConfig
from backend.cli.main import main
from backend.sidecar.provenance import find_provenance
from backend.sidecar.revert import revert_photo
from backend.sidecar.xmp import read_sidecar
from tests.test_batch_support import FOREIGN_DT, JOURNAL, make_photos, make_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def style(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_style(tmp_path_factory.mktemp("styles"))


def _run(folder: Path, style: Path, **kw: object):  # type: ignore[no-untyped-def]
    return run_batch([folder], hosts="darktable", style=style, jobs=1, **kw)  # type: ignore[arg-type]


def _ours(sidecar: Path) -> bool:
    return sidecar.is_file() and find_provenance(read_sidecar(sidecar)) is not None


def test_revert_then_catalog_applies_again_to_the_users_own_and_to_created_sidecars(
    tmp_path: Path, style: Path
) -> None:
    folder = tmp_path / "r1"
    a, b = make_photos(folder, 2)
    b_xmp = Path(f"{b}.xmp")
    b_xmp.write_text(FOREIGN_DT)  # the user's own darktable sidecar
    assert _run(folder, style).counts["written"] == 2
    for photo in (a, b):
        revert_photo(photo, host="darktable")
    assert not Path(f"{a}.xmp").exists() and b_xmp.is_file() and not _ours(b_xmp)
    again = _run(folder, style)
    assert again.counts["written"] == 2 and ALREADY_DONE not in again.skipped_reasons
    assert _ours(Path(f"{a}.xmp")) and _ours(b_xmp)
    assert _run(folder, style).skipped_reasons == {ALREADY_DONE: 2}  # now unchanged since: done


def test_the_journal_records_each_sidecar_as_the_run_left_it(tmp_path: Path, style: Path) -> None:
    folder = tmp_path / "shoot"
    (photo,) = make_photos(folder, 1)
    _run(folder, style)
    line = json.loads((folder / JOURNAL).read_text().splitlines()[-1])
    st = os.lstat(f"{photo}.xmp")
    assert line["hosts"]["darktable"]["sidecar_stat"] == {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def test_a_sidecar_touched_since_means_the_photo_is_examined_again(tmp_path: Path, style: Path) -> None:
    folder = tmp_path / "shoot"
    (photo,) = make_photos(folder, 1)
    _run(folder, style)
    sidecar = Path(f"{photo}.xmp")
    st = sidecar.stat()
    os.utime(sidecar, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # e.g. darktable wrote it again
    again = _run(folder, style)
    # examined again: the sidecar still holds this very recipe, so it is left alone (never applied twice)
    assert ALREADY_DONE not in again.skipped_reasons and again.counts["skipped"] == 1
    assert _run(folder, style).skipped_reasons == {ALREADY_DONE: 1}


def _entry(photo: Path, stat: PhotoStat, run: RunConfig, record: HostRecord) -> JournalEntry:
    return JournalEntry(str(photo), stat, run.to_json(), {"darktable": record})


def test_skipped_hosts_count_as_done_only_while_the_sidecar_is_as_it_was(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    sidecar = tmp_path / "a.jpg.xmp"
    run = RunConfig("s", "s@1", "abc", 1.0, False)
    stat = PhotoStat.of(photo)
    with Journal(tmp_path / JOURNAL) as jr:
        jr.record(_entry(photo, stat, run, HostRecord("skipped", "has edits", str(sidecar), None)))
        assert jr.is_done(photo, "darktable", stat, run)  # still no sidecar
        sidecar.write_text("<x/>")
        assert not jr.is_done(photo, "darktable", stat, run)  # one appeared: look again


def test_an_old_journal_line_without_sidecar_stat_is_trusted_as_before(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    sidecar = tmp_path / "a.jpg.xmp"
    sidecar.write_text("<x/>")
    run = RunConfig("s", "s@1", "abc", 1.0, False)
    stat = PhotoStat.of(photo)
    old = {
        "photo": str(photo),
        "size": stat.size,
        "mtime_ns": stat.mtime_ns,
        "config": run.to_json(),
        "recipe": None,
        "error": None,
        "hosts": {"darktable": {"action": "written", "reason": "", "sidecar": str(sidecar)}},
        "time": "2024-05-01T12:00:00Z",
    }
    header = {"format": "autoretouch-catalog-journal", "version": 1, "created": "2024-05-01T12:00:00Z"}
    (tmp_path / JOURNAL).write_text(json.dumps(header) + "\n" + json.dumps(old) + "\n")
    with Journal(tmp_path / JOURNAL, readonly=True) as jr:
        last = jr.last(photo, "darktable")
        assert last is not None and last.hosts["darktable"].sidecar_stat == UNRECORDED
        assert jr.is_done(photo, "darktable", stat, run)
        sidecar.write_text("<y/>")  # changes are not detectable for such a line: as before, done while it exists
        assert jr.is_done(photo, "darktable", stat, run)
        sidecar.unlink()
        assert not jr.is_done(photo, "darktable", stat, run)


@pytest.mark.parametrize("name", ["b.png.xmp", "B.XMP", "IMG_0001.cr2", "shot.jpg"])
def test_a_journal_named_like_a_sidecar_or_photo_is_refused(
    tmp_path: Path, style: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "shoot"
    make_photos(folder, 1)
    with pytest.raises(JournalError, match="journal cannot be"):
        _run(folder, style, journal=folder / name)
    code = main(["catalog", str(folder), "--style", str(style), "--jobs", "1", "--journal", str(folder / name)])
    assert code == 3 and "journal cannot be" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["IMG_0000.jpg"]  # nothing written, no sidecar
