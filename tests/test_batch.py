"""Catalog batch in the calling process (``jobs=1``): walk, journal/resume, failures, dry run, overwrite, CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backend.batch import ALREADY_DONE, JournalError, find_photos, run_batch
from backend.batch.journal import Journal
from backend.batch.leftovers import remove_leftovers
from backend.batch.worker import ALREADY_APPLIED
from backend.cli.main import EXIT_PARTIAL, main
from backend.errors import NotFoundError
from backend.recipe import scale
from backend.sidecar.apply import EMBEDDED_REASON
from backend.sidecar.atomic import sidecar_lock
from backend.sidecar.provenance import find_provenance
from backend.sidecar.xmp import read_sidecar
from testing.fixtures import make_dng
from tests.test_batch_support import (
    JOURNAL,
    check_darktable_sidecar,
    expected_recipe,
    make_jpeg,
    make_photos,
    make_style,
    snapshot,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def style(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_style(tmp_path_factory.mktemp("styles"))


def _journal_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _run(folder: Path, style: Path, **kw: object):  # type: ignore[no-untyped-def]
    return run_batch([folder], hosts="darktable", style=style, jobs=1, **kw)  # type: ignore[arg-type]


# -- walking --------------------------------------------------------------------------------------------


def test_walk_finds_photos_by_extension_and_content(tmp_path: Path) -> None:
    root = tmp_path / "shoot"
    (root / "day1" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    photos = {
        make_jpeg(root / "a.jpg", 1),
        make_jpeg(root / "day1" / "B.JPEG", 2),
        make_jpeg(root / "day1" / "deeper" / "c.jpg", 3),
        make_jpeg(root / "day1" / "no_extension", 4),  # a JPEG by content
        make_jpeg(root / "day1" / "odd.dat", 5),  # unknown extension, JPEG content
    }
    (root / "broken.jpg").write_bytes(b"")  # a photo by name: the decoder will name the problem
    photos.add(root / "broken.jpg")
    make_jpeg(root / ".hidden" / "secret.jpg", 6)  # hidden folder
    make_jpeg(root / "._a.jpg", 7)  # hidden file (macOS resource fork)
    ours = ("a.jpg.xmp.autoretouch.bak", "a.jpg.xmp.autoretouch.lock", ".a.jpg.xmp.autoretouch-k2j4_x9q.tmp")
    for name in ("a.jpg.xmp", *ours, "a.jpg.xmp.bak", "a.jpg.xmp.lock", JOURNAL, "notes.txt"):
        (root / name).write_text("not a photo")
    (root / "README").write_text("plain text without an extension")
    os.symlink(root, root / "day1" / "loop")  # a folder link: not followed, no cycle
    result = find_photos([root])
    assert set(result.photos) == photos
    assert len(result.photos) == len(photos)
    loop = root / "day1" / "loop"  # the link not followed is named, with the reason
    assert result.errors == () and result.ignored == ((loop, f"{loop}: symbolic link to a folder, not followed"),)
    # the same photo twice (file + its folder) is listed once; a named sidecar is ignored with a reason
    again = find_photos([root / "a.jpg", root, root / "a.jpg.xmp"])
    assert again.photos[0] == root / "a.jpg" and len(again.photos) == len(photos)
    assert [(p.name, "not a photo" in why) for p, why in again.ignored] == [("loop", False), ("a.jpg.xmp", True)]
    with pytest.raises(NotFoundError, match="nope"):
        find_photos([root / "nope"])


def test_a_path_too_long_to_exist_is_a_not_found_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    too_long = tmp_path / ("y" * 300 + ".jpg")  # os.stat raises ENAMETOOLONG, not ENOENT
    with pytest.raises(NotFoundError, match="too long"):
        find_photos([too_long])
    with pytest.raises(NotFoundError, match="too long"):
        find_photos([tmp_path / "/".join(["z" * 200] * 21)])  # over 4,096 bytes in all
    make_jpeg(tmp_path / "ok.jpg", 1)
    listed = find_photos([too_long, tmp_path / "gone.jpg", tmp_path / "ok.jpg"], missing_fails=True)
    assert listed.photos == (tmp_path / "ok.jpg",)
    assert [(p, "too long" in why, "gone" in why) for p, why in listed.missing] == [
        (too_long, True, False),
        (tmp_path / "gone.jpg", False, True),
    ]
    code = main(["catalog", str(too_long), "--dry-run"])
    err = capsys.readouterr().err
    assert code == NotFoundError.exit_code and str(too_long) in err and "too long" in err
    assert "internal error" not in err and "Traceback" not in err


def test_revert_of_a_path_too_long_fails_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    too_long = tmp_path / ("y" * 300 + ".jpg")
    make_jpeg(tmp_path / "ok.jpg", 1)
    code = main(["revert", str(too_long), str(tmp_path / "ok.jpg"), "--host", "darktable", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == EXIT_PARTIAL and out["failed"] == 1
    bad, ok = out["results"]
    assert bad["action"] == "failed" and str(too_long) in bad["reason"] and "too long" in bad["reason"]
    assert "Errno" not in bad["reason"] and ok["action"] == "skipped"


# -- writing and resuming ----------------------------------------------------------------------------------


def test_batch_writes_every_photo_then_rerun_does_nothing(tmp_path: Path, style: Path) -> None:
    folder = tmp_path / "shoot"
    photos = make_photos(folder, 5)
    seen: list[tuple[int, int, str]] = []
    summary = _run(folder, style, progress=lambda o: seen.append((o.index, o.total, o.status)))
    assert summary.counts["written"] == 5 and not summary.any_failed
    assert seen == [(i, 5, "written") for i in range(1, 6)]
    for photo in photos:
        check_darktable_sidecar(photo, expected_recipe(photo, style))
    journal = folder / JOURNAL
    assert summary.journal == journal
    lines = _journal_lines(journal)
    assert lines[0]["format"] == "autoretouch-catalog-journal" and len(lines) == 1 + 5
    by_photo = {line["photo"]: line for line in lines[1:]}
    for photo in photos:
        line = by_photo[str(photo)]
        assert line["size"] == photo.stat().st_size and line["mtime_ns"] == photo.stat().st_mtime_ns
        assert line["hosts"]["darktable"]["action"] == "written"  # type: ignore[index]
        assert line["recipe"] == expected_recipe(photo, style).to_dict()

    before = snapshot(folder)
    again = _run(folder, style)
    assert again.counts["skipped"] == 5 and again.skipped_reasons == {ALREADY_DONE: 5}
    assert snapshot(folder) == before  # nothing rewritten, not even the journal


def test_resume_after_a_killed_run(tmp_path: Path, style: Path) -> None:
    """Journal with 2 records and a torn line; a third sidecar written but never journaled."""
    folder = tmp_path / "shoot"
    photos = make_photos(folder, 5)
    _run(folder, style)
    journal = folder / JOURNAL
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:3]) + lines[3][:40])  # header + 2 records + a cut-off record
    for photo in photos[3:]:
        photo.with_name(photo.name + ".xmp").unlink()  # never reached
    summary = _run(folder, style)
    status = {o.photo.name: (o.status, o.reason) for o in summary.photos}
    assert status[photos[0].name] == ("skipped", ALREADY_DONE)
    assert status[photos[1].name] == ("skipped", ALREADY_DONE)
    assert status[photos[2].name] == ("skipped", ALREADY_APPLIED)  # in place already: not applied twice
    assert status[photos[3].name] == ("written", "") and status[photos[4].name] == ("written", "")
    for photo in photos:
        check_darktable_sidecar(photo, expected_recipe(photo, style))
    records = _journal_lines(journal)[1:]  # the torn line was cut off: every line parses
    assert sorted(r["photo"] for r in records) == sorted(str(p) for p in photos)
    assert _run(folder, style).skipped_reasons == {ALREADY_DONE: 5}


def test_changed_photo_is_redone_and_replaces_our_own_stale_entries(tmp_path: Path, style: Path) -> None:
    folder = tmp_path / "shoot"
    photos = make_photos(folder, 3)
    _run(folder, style)
    old = expected_recipe(photos[1], style)
    make_jpeg(photos[1], seed=99, size=(120, 160))  # re-exported: new content, size and mtime
    new = expected_recipe(photos[1], style)
    assert new != old
    summary = _run(folder, style)
    status = {o.photo.name: o.status for o in summary.photos}
    assert status == {photos[0].name: "skipped", photos[1].name: "written", photos[2].name: "skipped"}
    check_darktable_sidecar(photos[1], new)  # our stale entries replaced, not stacked


def test_corrupt_photos_fail_alone_and_are_named(tmp_path: Path, style: Path) -> None:
    folder = tmp_path / "shoot"
    good = make_photos(folder, 3)
    truncated = folder / "cut.jpg"
    truncated.write_bytes(good[0].read_bytes()[:300])
    empty = folder / "empty.jpg"
    empty.write_bytes(b"")
    summary = _run(folder, style)
    assert summary.counts["written"] == 3 and summary.counts["failed"] == 2
    failures = dict(summary.failures)
    assert str(truncated) in failures[truncated] and str(empty) in failures[empty]
    assert "empty" in failures[empty]
    kinds = {o.photo: o.error_kind for o in summary.photos if o.failed}
    assert kinds[empty] is not None and kinds[empty].type == "CorruptImageError"
    assert kinds[truncated] is not None and kinds[truncated].exit_code == 5  # a DecodeError
    for photo in good:
        check_darktable_sidecar(photo, expected_recipe(photo, style))
    assert not truncated.with_name("cut.jpg.xmp").exists() and not empty.with_name("empty.jpg.xmp").exists()
    # a rerun retries the failures only
    again = _run(folder, style)
    assert again.counts == {"written": 0, "would-write": 0, "skipped": 3, "failed": 2}


def test_dry_run_writes_nothing(tmp_path: Path, style: Path) -> None:
    folder = tmp_path / "shoot"
    photos = make_photos(folder, 3)
    stale_temp = folder / f".{photos[0].name}.xmp.autoretouch-abc12_45.tmp"
    stale_temp.write_text("left by a crash")
    before = snapshot(folder)
    summary = _run(folder, style, dry_run=True)
    assert summary.counts["would-write"] == 3 and summary.journal is None
    assert snapshot(folder) == before  # no sidecar, journal, lock file, and no clean-up either
    # with a journal from a real run, a dry run reports what is already done
    _run(folder, style)
    assert not stale_temp.exists()  # a real run tidies what a killed run left
    photos[2].with_name(photos[2].name + ".xmp").unlink()
    before = snapshot(folder)
    summary = _run(folder, style, dry_run=True)
    assert [o.status for o in summary.photos] == ["skipped", "skipped", "would-write"]
    assert snapshot(folder) == before


def test_overwrite_replaces_our_earlier_application(tmp_path: Path, style: Path) -> None:
    folder = tmp_path / "shoot"
    (photo,) = make_photos(folder, 1)
    _run(folder, style)
    sidecar = photo.with_name(photo.name + ".xmp")
    first = sidecar.read_bytes()
    summary = _run(folder, style, strength=0.5)  # another strength: not done, but the sidecar rule holds
    (outcome,) = summary.photos
    assert outcome.status == "skipped" and "use --overwrite" in outcome.reason
    assert sidecar.read_bytes() == first
    summary = _run(folder, style, strength=0.5, overwrite=True)
    assert summary.photos[0].status == "written"
    half = scale(expected_recipe(photo, style), 0.5)
    assert half == expected_recipe(photo, style, strength=0.5)
    desc = check_darktable_sidecar(photo, half)
    assert desc is not None
    assert sidecar.with_name(sidecar.name + ".autoretouch.bak").read_bytes() == first  # previous version kept
    prov = find_provenance(read_sidecar(sidecar))
    assert prov is not None and prov[1].recipe.strength == 0.5
    assert _run(folder, style, strength=0.5, overwrite=True).skipped_reasons == {ALREADY_DONE: 1}


def test_hosts_are_journaled_separately(tmp_path: Path, style: Path) -> None:
    """darktable first, then both: darktable is done, Lightroom is new (raws only; JPEGs carry their XMP)."""
    folder = tmp_path / "shoot"
    (jpeg,) = make_photos(folder, 1)
    raw = make_dng(folder, "IMG_0001.NEF")  # a raw by content; .NEF: Lightroom reads a NAME.xmp sidecar
    assert _run(folder, style).counts["written"] == 2
    summary = run_batch([folder], hosts="both", style=style, jobs=1)
    hosts = {o.photo.name: [(h.host, h.action, h.reason) for h in o.hosts] for o in summary.photos}
    assert hosts[jpeg.name] == [("lightroom", "skipped", EMBEDDED_REASON), ("darktable", "skipped", ALREADY_DONE)]
    assert hosts[raw.name] == [("lightroom", "written", ""), ("darktable", "skipped", ALREADY_DONE)]
    found = find_provenance(read_sidecar(folder / "IMG_0001.xmp"))
    assert found is not None and found[1].host == "lightroom"
    assert found[1].recipe == expected_recipe(raw, style)
    check_darktable_sidecar(raw, expected_recipe(raw, style))
    again = run_batch([folder], hosts="both", style=style, jobs=1)
    assert again.skipped_reasons == {ALREADY_DONE: 2}


def test_journal_is_exclusive_and_never_appended_to_a_foreign_file(tmp_path: Path, style: Path) -> None:
    folder = tmp_path / "shoot"
    make_photos(folder, 1)
    journal = tmp_path / "elsewhere.jsonl"
    with Journal(journal), pytest.raises(JournalError, match="another autoretouch catalog run"):
        _run(folder, style, journal=journal)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    with pytest.raises(JournalError, match="not an autoretouch catalog journal"):
        _run(folder, style, journal=notes)
    assert notes.read_text() == "my notes\n"
    summary = _run(folder, style, journal=journal)
    assert summary.journal == journal and not (folder / JOURNAL).exists()


def test_an_explicit_photo_list_with_a_missing_photo_does_the_others(tmp_path: Path, style: Path) -> None:
    folder = tmp_path / "shoot"
    make_photos(folder, 1)
    (photo,) = sorted(folder.glob("*.jpg"))
    with pytest.raises(NotFoundError, match="gone"):  # a PATH typo stops a catalog run before it starts
        run_batch([folder / "gone.jpg", photo], hosts="darktable", style=style, jobs=1)
    summary = run_batch([folder / "gone.jpg", photo], hosts="darktable", style=style, jobs=1, missing_fails=True)
    gone, done = summary.photos
    assert (gone.status, done.status) == ("failed", "written") and "gone.jpg" in gone.reason
    assert gone.error_kind is not None and gone.error_kind.type == "NotFoundError"


def test_a_run_without_resume_reads_the_journal_but_never_locks_or_writes_it(tmp_path: Path, style: Path) -> None:
    folder = tmp_path / "shoot"
    make_photos(folder, 2)
    photos = sorted(folder.glob("*.jpg"))
    with Journal(folder / JOURNAL):  # another run holds the journal
        summary = run_batch(
            [photos[0], folder / "gone.jpg"], hosts="darktable", style=style, jobs=1, resume=False, missing_fails=True
        )
    assert summary.journal is None and [p.status for p in summary.photos] == ["failed", "written"]
    assert "gone.jpg" in summary.photos[0].reason and summary.photos[0].error_kind.type == "NotFoundError"
    assert len(_journal_lines(folder / JOURNAL)) == 1  # the header only: nothing recorded in the other run's file
    again = run_batch([photos[0]], hosts="darktable", style=style, jobs=1, resume=False)
    assert [(p.status, p.reason) for p in again.photos] == [("skipped", ALREADY_APPLIED)]  # never twice
    _run(folder, style)  # a folder run journals
    done = run_batch([photos[1]], hosts="darktable", style=style, jobs=1, resume=False)
    assert [p.reason for p in done.photos] == [ALREADY_DONE]  # read from the folder run's journal


def test_leftovers_removed_only_when_nobody_holds_the_lock(tmp_path: Path) -> None:
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    temp = tmp_path / ".IMG_1.jpg.xmp.autoretouch-x7_ab2cd.tmp"
    temp.write_text("half a sidecar")
    with sidecar_lock(sidecar):  # a live writer
        assert remove_leftovers(sidecar) == []
        assert temp.exists()
    lock = tmp_path / "IMG_1.jpg.xmp.autoretouch.lock"
    lock.write_text("")  # left by a killed process (its flock died with it)
    assert sorted(remove_leftovers(sidecar)) == sorted([temp, lock])
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# -- the command line -----------------------------------------------------------------------------------


def test_cli_json_summary_and_exit_status(tmp_path: Path, style: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "shoot"
    make_photos(folder, 2)
    (folder / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    argv = ["catalog", str(folder), "--style", str(style), "--jobs", "1", "--strength", "0.8"]
    assert main([*argv, "--json"]) == EXIT_PARTIAL
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["counts"] == {"written": 2, "would-write": 0, "skipped": 0, "failed": 1}
    assert data["hosts"] == ["darktable"] and data["strength"] == 0.8
    assert data["failures"][0]["photo"] == str(folder / "bad.jpg")
    (bad,) = [p for p in data["photos"] if p["status"] == "failed"]
    assert bad["error"]["grpc_status"] == "INVALID_ARGUMENT" and bad["error"]["exit_code"] == 5
    assert str(folder / "bad.jpg") in err
    assert main(argv) == EXIT_PARTIAL  # the bad photo fails again; the others are done
    out = capsys.readouterr().out
    assert "skipped" in out and f"{ALREADY_DONE}" in out and "failed photos:" in out
    (folder / "bad.jpg").unlink()
    assert main(argv) == 0


def test_a_darktable_reset_makes_the_next_fresh_run_apply_again(tmp_path: Path, style: Path) -> None:
    """darktable keeps our record after the user resets the history; a new batch applies the style afresh, once."""
    from backend.sidecar.xmp import NS, serialize

    DT_NS, RDF_NS = NS["darktable"], NS["rdf"]
    folder = tmp_path / "shoot"
    (photo,) = make_photos(folder, 1)
    assert _run(folder, style).counts["written"] == 1
    sidecar = photo.with_name(photo.name + ".xmp")
    doc = read_sidecar(sidecar)
    desc = next(d for d in doc.descriptions() if d.find(f"{{{DT_NS}}}history") is not None)
    seq = desc.find(f"{{{DT_NS}}}history/{{{RDF_NS}}}Seq")
    assert seq is not None
    ours = [li.get(f"{{{DT_NS}}}operation") for li in seq]
    for li in list(seq):
        seq.remove(li)  # what darktable writes after "discard history"
    desc.set(f"{{{DT_NS}}}history_end", "0")
    sidecar.write_bytes(serialize(doc))
    assert find_provenance(read_sidecar(sidecar)) is not None

    summary = _run(folder, style, journal=tmp_path / "second-run.jsonl")
    assert summary.counts["written"] == 1, summary
    seq = next(d for d in read_sidecar(sidecar).descriptions() if d.find(f"{{{DT_NS}}}history") is not None).find(
        f"{{{DT_NS}}}history/{{{RDF_NS}}}Seq"
    )
    assert seq is not None and [li.get(f"{{{DT_NS}}}operation") for li in seq] == ours
    again = _run(folder, style, journal=tmp_path / "third-run.jsonl")
    assert again.counts["skipped"] == 1


def test_a_dry_run_names_a_journal_it_cannot_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.errors import PermissionDeniedError

    journal = tmp_path / JOURNAL
    journal.write_bytes(b"")
    real_read = Path.read_bytes

    def refused(self: Path) -> bytes:
        if self == journal:
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", refused)
    with pytest.raises(PermissionDeniedError, match=r"cannot read the journal \(Permission denied\)"):
        Journal(journal, readonly=True)
