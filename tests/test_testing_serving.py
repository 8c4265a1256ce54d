"""The test daemon helper refuses what it cannot make: an outside folder without the root's photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.daemon import serving


def test_serving_an_outside_folder_without_photos_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs photos=True"), serving(tmp_path, outside=True, photos=False):
        pytest.fail("a daemon was started")
    assert list(tmp_path.iterdir()) == []
