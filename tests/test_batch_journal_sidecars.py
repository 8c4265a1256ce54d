"""The catalog journal against sidecars changed since a run (QA round B): revert, edits, deletion; bad journal names.

A journal line records each host's sidecar as the run left it (``sidecar_stat``); "done" holds while the
sidecar is unchanged. Where the journal wrote autoretouch's edit and the sidecar changed since, a run without
``--overwrite`` applies it again only where the sidecar was deleted (its backup gone too, or not the sidecar as our
latest write left it: an older one, or one a later write left alone; a missing sidecar is looked at again each
run): one the user took it out of (``autoretouch revert``, also where it removed a sidecar autoretouch created;
darktable's discard or undo; a ``--strength 0 --overwrite`` take-out) is skipped with ``TAKEN_OUT``, one that still
holds it is done, and neither is decoded.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from backend.batch import ALREADY_DONE, TAKEN_OUT, JournalError, run_batch
from backend.batch.journal import UNRECORDED, HostRecord, Journal, JournalEntry, PhotoStat, RunConfig, sidecar_state
from backend.cli.main import main
from backend.sidecar.atomic import backup_path
from backend.sidecar.provenance import find_provenance
from backend.sidecar.revert import revert_photo
from backend.sidecar.xmp import read_sidecar
from tests.test_batch_support import FOREIGN_DT, JOURNAL, make_photos, make_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def style(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_style(tmp_path_factory.mktemp("styles"))


def _run(folder: Path, style: Path, jobs: int = 1, **kw: object):  # type: ignore[no-untyped-def]
    return run_batch([folder], hosts="darktable", style=style, jobs=jobs, **kw)  # type: ignore[arg-type]


def _ours(sidecar: Path) -> bool:
    return sidecar.is_file() and find_provenance(read_sidecar(sidecar)) is not None


def _forbid_suggest(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """From now on the photo's suggestion (decode + model) records its photo and fails: nothing may need it."""
    import backend.retouch

    called: list[Path] = []

    def fail(photo: Path, *args: object, **kw: object) -> None:
        called.append(Path(photo))
        raise AssertionError(f"{photo} was decoded and suggested for")

    monkeypatch.setattr(backend.retouch, "suggest_photo", fail)
    return called


@pytest.mark.parametrize("jobs", [1, 2])
def test_revert_then_catalog_leaves_the_users_sidecar_without_our_edit_and_says_why(
    tmp_path: Path, style: Path, jobs: int
) -> None:
    folder = tmp_path / "r1"
    a, b = make_photos(folder, 2)
    b_xmp = Path(f"{b}.xmp")
    b_xmp.write_text(FOREIGN_DT)  # the user's own darktable sidecar
    assert _run(folder, style, jobs=jobs).counts["written"] == 2
    for photo in (a, b):
        revert_photo(photo, host="darktable")
    a_xmp = Path(f"{a}.xmp")
    assert not a_xmp.exists() and _ours(backup_path(a_xmp)) and b_xmp.is_file() and not _ours(b_xmp)
    reverted = b_xmp.read_bytes()
    again = _run(folder, style, jobs=jobs)
    # the sidecar autoretouch created was removed by revert (kept as its backup, which holds our edit): not a
    # deletion by the user; the user's own sidecar lost our edit since it was written: both are left so, and
    # each photo says why and how
    assert again.counts["written"] == 0 and again.skipped_reasons == {TAKEN_OUT: 2}
    assert not a_xmp.exists() and b_xmp.read_bytes() == reverted
    assert _run(folder, style, jobs=jobs).skipped_reasons == {TAKEN_OUT: 2}  # the same reason next time
    forced = _run(folder, style, jobs=jobs, overwrite=True)
    assert forced.counts["written"] == 2 and _ours(a_xmp) and _ours(b_xmp)  # --overwrite applies it again
    assert _run(folder, style, jobs=jobs).skipped_reasons == {ALREADY_DONE: 2}


def test_the_taken_out_reason_names_the_photo_not_the_folder() -> None:
    assert "autoretouch catalog PHOTO --overwrite" in TAKEN_OUT


def _catalogued(folder: Path, style: Path, *, users: bool = True) -> Path:
    """One photo in ``folder`` (with the user's own darktable sidecar unless not ``users``), catalogued once.

    Returns:
        its darktable sidecar, holding our edit.
    """
    (photo,) = make_photos(folder, 1)
    sidecar = Path(f"{photo}.xmp")
    if users:
        sidecar.write_text(FOREIGN_DT)
    assert _run(folder, style).counts["written"] == 1 and _ours(sidecar)
    return sidecar


def _touch(sidecar: Path) -> None:
    """A newer mtime, as when darktable writes the sidecar again (a rating change)."""
    st = sidecar.stat()
    os.utime(sidecar, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_history_discarded_in_darktable_is_not_undone_by_the_next_catalog(
    tmp_path: Path, style: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sidecar = _catalogued(tmp_path / "dt", style)
    sidecar.write_text(FOREIGN_DT)  # darktable wrote it afresh: our entries and record gone, the user's history kept
    called = _forbid_suggest(monkeypatch)
    again = _run(sidecar.parent, style)
    assert again.skipped_reasons == {TAKEN_OUT: 1} and sidecar.read_text() == FOREIGN_DT and not called
    _touch(sidecar)
    assert _run(sidecar.parent, style).skipped_reasons == {TAKEN_OUT: 1} and sidecar.read_text() == FOREIGN_DT


def test_our_entries_undone_in_darktable_leave_a_stale_record_that_is_skipped_too(tmp_path: Path, style: Path) -> None:
    sidecar = _catalogued(tmp_path / "undo", style)
    text = sidecar.read_text()
    assert 'darktable:history_end="2"' not in text
    undone = re.sub(r'darktable:history_end="\d+"', 'darktable:history_end="2"', text)  # back to the user's 2
    sidecar.write_text(undone)
    assert _run(sidecar.parent, style).skipped_reasons == {TAKEN_OUT: 1} and sidecar.read_text() == undone


def test_a_deleted_sidecar_gets_the_edit_again(tmp_path: Path, style: Path) -> None:
    sidecar = _catalogued(tmp_path / "gone", style, users=False)
    sidecar.unlink()
    assert _run(sidecar.parent, style).counts["written"] == 1 and _ours(sidecar)


def test_a_reverted_sidecar_deleted_with_its_backup_gets_the_edit_again(tmp_path: Path, style: Path) -> None:
    sidecar = _catalogued(tmp_path / "both", style, users=False)
    revert_photo(sidecar.parent / sidecar.stem, host="darktable")
    backup_path(sidecar).unlink()  # the user deleted both: nothing is left to respect
    assert _run(sidecar.parent, style).counts["written"] == 1 and _ours(sidecar)


def test_a_backup_of_another_recipe_does_not_keep_a_deleted_sidecar_out(tmp_path: Path, style: Path) -> None:
    sidecar = _catalogued(tmp_path / "older", style, users=False)
    assert _run(sidecar.parent, style, strength=0.5, overwrite=True).counts["written"] == 1
    assert _ours(backup_path(sidecar))  # the earlier write's version, with the edit at the default strength
    sidecar.unlink()  # the user deleted the sidecar: its backup is no take-out of the latest edit
    assert _run(sidecar.parent, style, strength=0.5).counts["written"] == 1 and _ours(sidecar)


@pytest.mark.parametrize("users", [True, False])
def test_a_take_out_at_strength_0_is_kept_out_until_overwrite(tmp_path: Path, style: Path, users: bool) -> None:
    sidecar = _catalogued(tmp_path / "zero", style, users=users)
    out = _run(sidecar.parent, style, strength=0.0, overwrite=True)
    assert out.counts["failed"] == 0 and not _ours(sidecar) and sidecar.is_file() == users  # the user's removal
    again = _run(sidecar.parent, style)
    assert again.skipped_reasons == {TAKEN_OUT: 1} and not _ours(sidecar)  # a plain catalog leaves it out
    assert _run(sidecar.parent, style, overwrite=True).counts["written"] == 1 and _ours(sidecar)  # puts it back


def test_the_journal_records_each_sidecar_as_the_run_left_it(tmp_path: Path, style: Path) -> None:
    sidecar = _catalogued(tmp_path / "shoot", style, users=False)
    line = json.loads((sidecar.parent / JOURNAL).read_text().splitlines()[-1])
    st = os.lstat(sidecar)
    assert line["hosts"]["darktable"]["sidecar_stat"] == {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def test_a_sidecar_touched_since_that_still_holds_our_edit_is_done_without_decoding(
    tmp_path: Path, style: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sidecar = _catalogued(tmp_path / "shoot", style, users=False)
    _touch(sidecar)
    called = _forbid_suggest(monkeypatch)
    assert _run(sidecar.parent, style).skipped_reasons == {ALREADY_DONE: 1} and not called
    assert _run(sidecar.parent, style).skipped_reasons == {ALREADY_DONE: 1}


def test_skips_that_do_not_depend_on_the_sidecar_record_no_sidecar_state(
    tmp_path: Path, style: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "jpeg"
    (photo,) = make_photos(folder, 1)
    run_batch([folder], hosts="both", style=style, jobs=1)
    line = json.loads((folder / JOURNAL).read_text().splitlines()[-1])
    assert "sidecar_stat" not in line["hosts"]["lightroom"] and "sidecar_stat" in line["hosts"]["darktable"]
    (folder / f"{photo.stem}.xmp").write_text("<x/>")  # NAME.xmp appears (a raw's of the same name): no matter
    called = _forbid_suggest(monkeypatch)
    again = run_batch([folder], hosts="both", style=style, jobs=1)
    assert again.skipped_reasons == {ALREADY_DONE: 1} and not called


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


def test_a_lightroom_sidecar_revert_removed_is_taken_out_not_deleted(tmp_path: Path) -> None:
    """The usual case for raws: autoretouch created ``NAME.xmp``, and ``revert`` removed it (kept as its backup)."""
    from backend.batch.worker import PhotoProcessor
    from backend.sidecar.apply import apply_to_photo
    from tests.test_sidecar_apply import RAW_INFO, RECIPE

    raw = tmp_path / "IMG_0001.CR2"
    raw.write_bytes(b"II*\x00 not really a raw")
    sidecar = raw.with_suffix(".xmp")
    (written,) = apply_to_photo(raw, RECIPE, host="lightroom", info=RAW_INFO)
    assert written.action == "written" and _ours(sidecar)
    left = sidecar_state(sidecar)  # as the write left it (the journal's record)
    revert_photo(raw, host="lightroom")
    assert not sidecar.exists() and _ours(backup_path(sidecar)) and sidecar_state(backup_path(sidecar)) == left
    for recipe in (RECIPE.to_dict(), None):  # the journal's recipe, or (another run's) not known
        out = PhotoProcessor._written_before(raw, "lightroom", recipe, left)
        assert out is not None and (out.action, out.reason) == ("skipped", TAKEN_OUT)
    assert left is not None
    other = PhotoStat(left.size, left.mtime_ns + 1)  # a backup not from removing the latest write: deleted
    assert PhotoProcessor._written_before(raw, "lightroom", RECIPE.to_dict(), other) is None
    assert PhotoProcessor._written_before(raw, "lightroom", RECIPE.to_dict(), None) is None  # nothing known
    old = PhotoProcessor._written_before(raw, "lightroom", RECIPE.to_dict(), UNRECORDED)  # an old journal line
    assert old is not None and old.reason == TAKEN_OUT
    assert PhotoProcessor._written_before(raw, "lightroom", None, UNRECORDED) is None
    backup_path(sidecar).unlink()  # both gone: the normal rules apply it again
    assert PhotoProcessor._written_before(raw, "lightroom", RECIPE.to_dict(), left) is None


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_reverted_sidecar_whose_backup_is_deleted_after_a_taken_out_run_gets_the_edit_again(
    tmp_path: Path, style: Path, jobs: int
) -> None:
    sidecar = _catalogued(tmp_path / "later", style, users=False)
    revert_photo(sidecar.parent / sidecar.stem, host="darktable")
    assert _run(sidecar.parent, style, jobs=jobs).skipped_reasons == {TAKEN_OUT: 1} and not sidecar.exists()
    assert _run(sidecar.parent, style, jobs=jobs).skipped_reasons == {TAKEN_OUT: 1}  # as long as the backup is
    backup_path(sidecar).unlink()  # then the user deletes the backup too: nothing is left to respect
    assert _run(sidecar.parent, style, jobs=jobs).counts["written"] == 1 and _ours(sidecar)
    assert _run(sidecar.parent, style, jobs=jobs).skipped_reasons == {ALREADY_DONE: 1}


def test_a_strength_0_take_out_whose_backup_is_deleted_after_a_taken_out_run_gets_the_edit_again(
    tmp_path: Path, style: Path
) -> None:
    sidecar = _catalogued(tmp_path / "zero_later", style, users=False)
    assert _run(sidecar.parent, style, strength=0.0, overwrite=True).counts["failed"] == 0
    assert not sidecar.exists() and _ours(backup_path(sidecar))  # the sidecar autoretouch created was removed
    assert _run(sidecar.parent, style).skipped_reasons == {TAKEN_OUT: 1} and not sidecar.exists()
    backup_path(sidecar).unlink()
    assert _run(sidecar.parent, style).counts["written"] == 1 and _ours(sidecar)


def test_an_old_backup_left_by_a_later_write_does_not_keep_a_deleted_sidecar_out(tmp_path: Path, style: Path) -> None:
    sidecar = _catalogued(tmp_path / "rewritten", style, users=False)
    revert_photo(sidecar.parent / sidecar.stem, host="darktable")
    assert _run(sidecar.parent, style).skipped_reasons == {TAKEN_OUT: 1}
    (photo,) = (p for p in sidecar.parent.iterdir() if p.suffix == ".jpg")
    again = run_batch([photo], hosts="darktable", style=style, jobs=1, overwrite=True)  # catalog PHOTO --overwrite
    assert again.counts["written"] == 1 and _ours(sidecar) and _ours(backup_path(sidecar))  # the old backup stays
    sidecar.unlink()  # the user deletes the new sidecar: the old backup (same recipe) is no take-out of it
    assert _run(sidecar.parent, style).counts["written"] == 1 and _ours(sidecar)


def test_a_backup_of_an_earlier_write_does_not_keep_out_a_sidecar_deleted_after_another_run(
    tmp_path: Path, style: Path
) -> None:
    sidecar = _catalogued(tmp_path / "other_run", style, users=False)
    assert _run(sidecar.parent, style, strength=0.5, overwrite=True).counts["written"] == 1
    assert _ours(backup_path(sidecar))  # the first write's sidecar, holding our edit
    sidecar.unlink()  # the user deletes the sidecar; a plain run (another strength than the latest write's)
    assert _run(sidecar.parent, style).counts["written"] == 1 and _ours(sidecar)


def test_a_sidecar_touched_and_found_done_then_reverted_is_taken_out(tmp_path: Path, style: Path) -> None:
    sidecar = _catalogued(tmp_path / "touched", style, users=False)
    _touch(sidecar)
    assert _run(sidecar.parent, style).skipped_reasons == {ALREADY_DONE: 1}  # the journal notes it as it is now
    revert_photo(sidecar.parent / sidecar.stem, host="darktable")
    assert not sidecar.exists() and _ours(backup_path(sidecar))
    assert _run(sidecar.parent, style).skipped_reasons == {TAKEN_OUT: 1} and not sidecar.exists()
