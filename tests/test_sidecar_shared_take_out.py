"""The pieces ``revert``, ``apply`` and the catalog share instead of repeating them.

* :func:`~backend.sidecar.darktable_doc.marked_labels` names what
  :func:`~backend.sidecar.darktable_doc.take_out_marked` would take out, and changes nothing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from backend.sidecar.apply import (
    apply_to_photo,
)
from backend.sidecar.darktable_doc import marked_labels, take_out_marked
from backend.sidecar.xmp import new_document, read_sidecar, serialize
from testing.dt_sidecar import darktable_appends, history_sidecar
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
