"""The pieces ``revert``, ``apply`` and the catalog share instead of repeating them.

* :func:`~backend.sidecar.darktable_doc.marked_labels` names what
  :func:`~backend.sidecar.darktable_doc.take_out_marked` would take out, and changes nothing.
* :func:`~backend.sidecar.revert.take_out_ours` is the one take-out behind ``revert`` and ``apply --overwrite`` of a
  recipe that changes nothing.
* :attr:`~backend.sidecar.apply.Outcome.skip_kind` tells the skips that do not depend on the sidecar, which the
  catalog's journal records without a sidecar state, without matching the reason's words.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from backend.batch.batch import _sidecar_free_skip
from backend.recipe import scale
from backend.sidecar.apply import EMBEDDED_REASON, NOTHING_REASON, Outcome, apply_to_photo, embedded_skip, nothing_skip
from backend.sidecar.darktable_doc import active_history, marked_labels, take_out_marked
from backend.sidecar.revert import NO_SETTINGS_REASON, TakenOut, revert_photo, take_out_ours
from backend.sidecar.xmp import new_document, read_sidecar, serialize
from testing.dt_sidecar import darktable_appends, history_sidecar
from tests.test_sidecar_apply import RAW_INFO, RECIPE
from tests.test_sidecar_darktable_edits import INFO, active, entries, lose_the_record, recipe, sidecar_of


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "y.png"
    path.write_bytes(b"not decoded: the tests pass PhotoInfo")
    return path


def _record_lost(photo: Path, tmp_path: Path, *, switch_off: bool = True) -> Path:
    """A copy of ``photo`` whose darktable sidecar holds ours (named so), the user's switch-off of it, no record."""
    sidecar_of(photo).write_text(history_sidecar(entries(sharpen=60.0)), encoding="utf-8")
    apply_to_photo(photo, recipe(saturation=20.0, exposure=0.5), host="darktable", info=INFO)
    if switch_off:
        darktable_appends(sidecar_of(photo), dataclasses.replace(active(photo)[-1], enabled=False))
    (tmp_path / "other").mkdir()
    return lose_the_record(photo, tmp_path / "other" / photo.name)


# -- marked_labels -------------------------------------------------------------------------------------------


def test_marked_labels_names_what_take_out_marked_takes_out_and_changes_nothing(photo: Path, tmp_path: Path) -> None:
    doc = read_sidecar(sidecar_of(_record_lost(photo, tmp_path)))
    before = serialize(doc)
    labels = marked_labels(doc)
    assert serialize(doc) == before  # read-only
    assert labels == [
        'exposure (instance 0 "autoretouch")',
        'colorbalancergb (instance 0 "autoretouch")',
        'colorbalancergb (instance 0 "autoretouch") switched off',
    ]
    assert marked_labels(doc) == labels  # asking again gives the same
    taken, _ = take_out_marked(doc)
    assert taken == labels and serialize(doc) != before
    assert marked_labels(doc) == []  # taken out: none left


def test_marked_labels_is_empty_without_entries_named_as_ours(photo: Path) -> None:
    sidecar_of(photo).write_text(history_sidecar(entries(sharpen=60.0)), encoding="utf-8")
    doc = read_sidecar(sidecar_of(photo))
    assert marked_labels(doc) == []
    assert marked_labels(new_document(packet_wrapper=False)) == []  # no darktable history at all


# -- take_out_ours -------------------------------------------------------------------------------------------


def test_take_out_ours_says_why_nothing_was_taken_out_and_leaves_the_doc_alone(photo: Path) -> None:
    sidecar_of(photo).write_text(history_sidecar(entries(sharpen=60.0)), encoding="utf-8")
    doc = read_sidecar(sidecar_of(photo))
    before = serialize(doc)
    assert take_out_ours(doc, "darktable") == NO_SETTINGS_REASON
    assert take_out_ours(doc, "lightroom") == NO_SETTINGS_REASON
    assert serialize(doc) == before

    apply_to_photo(photo, recipe(exposure=0.5), host="darktable", info=INFO)
    doc = read_sidecar(sidecar_of(photo))
    before = serialize(doc)
    assert take_out_ours(doc, "lightroom") == "the autoretouch settings here are for darktable"
    assert serialize(doc) == before


def test_take_out_ours_takes_out_the_record_or_the_marked_entries(photo: Path, tmp_path: Path) -> None:
    copy = _record_lost(photo, tmp_path, switch_off=False)
    doc = read_sidecar(sidecar_of(copy))
    labels = marked_labels(doc)
    assert take_out_ours(doc, "darktable") == TakenOut(marked=tuple(labels))
    assert marked_labels(doc) == [] and take_out_ours(doc, "darktable") == NO_SETTINGS_REASON

    doc = read_sidecar(sidecar_of(photo))  # the original keeps the record: undone from it
    assert take_out_ours(doc, "darktable") == TakenOut()
    assert [e.operation for e in active_history(doc)] == ["sharpen"]


# -- Outcome.skip_kind -----------------------------------------------------------------------------------------


def test_the_skips_that_do_not_depend_on_the_sidecar_say_so(tmp_path: Path) -> None:
    jpeg = tmp_path / "a.jpg"
    jpeg.write_bytes(b"not decoded: Lightroom's skip comes first")
    (lr,) = apply_to_photo(jpeg, RECIPE, host="lightroom", info=RAW_INFO)
    assert (lr.reason, lr.skip_kind) == (EMBEDDED_REASON, "embedded-xmp")
    (reverted,) = revert_photo(jpeg, host="lightroom")
    assert (reverted.reason, reverted.skip_kind) == (EMBEDDED_REASON, "embedded-xmp")

    raw = tmp_path / "IMG_0001.CR2"
    raw.write_bytes(b"II*\x00 not really a raw")
    zero = scale(RECIPE, 0.0)
    nothing = NOTHING_REASON.format(why="strength 0")
    for overwrite in (False, True):  # with --overwrite and no earlier edit there: the same skip
        outcomes = apply_to_photo(raw, zero, host="both", overwrite=overwrite)
        assert [(o.reason, o.skip_kind) for o in outcomes] == [(nothing, "nothing-to-write")] * 2
    written = apply_to_photo(raw, RECIPE, host="both", info=RAW_INFO)
    assert [(o.action, o.skip_kind) for o in written] == [("written", None)] * 2
    took_out = apply_to_photo(raw, zero, host="both", overwrite=True)
    assert [(o.action, o.skip_kind) for o in took_out] == [("deleted", None)] * 2  # autoretouch created them


def test_skip_kind_is_neither_in_the_json_nor_in_equality(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    flagged = embedded_skip(photo, "lightroom", tmp_path / "a.xmp")
    plain = Outcome(photo, "lightroom", tmp_path / "a.xmp", "skipped", EMBEDDED_REASON)
    assert flagged == plain and flagged.to_json() == plain.to_json()
    assert list(flagged.to_json()) == ["photo", "host", "sidecar", "action", "reason", "warnings"]


def test_the_journal_tells_a_sidecar_free_skip_by_its_kind_not_its_words(tmp_path: Path) -> None:
    photo, sidecar = tmp_path / "a.jpg", tmp_path / "a.jpg.xmp"
    embedded = embedded_skip(photo, "lightroom", sidecar)
    nothing = nothing_skip(photo, "darktable", sidecar, "strength 0")
    assert _sidecar_free_skip(embedded, False) and _sidecar_free_skip(embedded, True)
    assert _sidecar_free_skip(nothing, False)
    assert not _sidecar_free_skip(nothing, True)  # --overwrite takes an earlier edit out: depends on the sidecar
    # the same words without the kind (a reason that happens to read so) do not count
    assert not _sidecar_free_skip(Outcome(photo, "lightroom", sidecar, "skipped", EMBEDDED_REASON), False)
    assert not _sidecar_free_skip(Outcome(photo, "darktable", sidecar, "skipped", nothing.reason), False)
    assert not _sidecar_free_skip(dataclasses.replace(embedded, action="failed"), False)
