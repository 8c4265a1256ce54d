"""One folder walk: the daemon's batch requests find exactly the photos a local `catalog` run finds."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from backend.batch.walk import find_photos
from backend.daemon.walk import expand_paths
from testing.fixtures import make_jpeg, make_png


def test_daemon_and_cli_walk_a_folder_alike(tmp_path: Path) -> None:
    root = tmp_path / "shoot"
    (root / "day2").mkdir(parents=True)
    (root / ".hidden").mkdir()
    make_jpeg(root, "b.jpg")
    make_png(root / "day2", "a.png")
    shutil.copy(root / "b.jpg", root / "no_extension")  # a photo by content
    shutil.copy(root / "b.jpg", root / ".c.jpg")  # hidden: skipped
    shutil.copy(root / "b.jpg", root / ".hidden" / "d.jpg")  # in a hidden folder: skipped
    (root / "b.jpg.xmp").write_text("<x:xmpmeta/>")  # a sidecar: never a photo
    (root / "notes.txt").write_text("not a photo")
    os.symlink(root / "day2", root / "link_to_day2")  # a symlinked folder: not followed
    local = list(find_photos([root]).photos)
    remote = expand_paths([root], recursive=True, limit=100)
    assert remote == local == [root / "b.jpg", root / "no_extension", root / "day2" / "a.png"]
    assert expand_paths([root], recursive=False, limit=100) == [root / "b.jpg", root / "no_extension"]
