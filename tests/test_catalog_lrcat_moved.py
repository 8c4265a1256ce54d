"""The rule that finds a catalog's photo on disk (:func:`backend.batch.lrcat_paths.locate_catalog_file`).

The path the catalog records, else its tail below the catalog's folder; ``train --lrcat`` uses it too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.batch.lrcat_paths import locate_catalog_file
from trainer.pseudo_labels import find_photo

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_locate_catalog_file(tmp_path: Path) -> None:
    (tmp_path / "cat" / "photos" / "2024").mkdir(parents=True)
    moved = tmp_path / "cat" / "photos" / "2024" / "p.jpg"
    moved.write_bytes(b"x")
    assert locate_catalog_file(moved, tmp_path / "cat") == (moved, "recorded")
    for recorded in ("/old/place/photos/2024/p.jpg", "C:\\Users\\me\\photos\\2024\\p.jpg"):
        assert locate_catalog_file(recorded, tmp_path / "cat") == (moved, "catalog folder")
    assert locate_catalog_file("/old/place/photos/2024/q.jpg", tmp_path / "cat") is None
    # train finds the originals by the same rule
    assert find_photo("/old/place/photos/2024/p.jpg", "p", tmp_path / "cat", None) == (moved, "catalog folder")
