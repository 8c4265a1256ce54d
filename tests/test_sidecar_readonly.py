"""Reading a sidecar only to look at it (``train --darktable``) follows links; changing it does not.

``read_sidecar`` is for the sidecars autoretouch changes (apply, revert, take-out): a symbolic link or a hard-linked
file is refused there. ``read_sidecar_readonly`` writes nothing, so it reads both, and refuses only what is no
regular file (a named pipe is never waited on).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from backend.errors import SidecarError
from backend.recipe import Recipe
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from backend.sidecar.darktable_doc import darktable_sidecar_path
from backend.sidecar.xmp import read_sidecar, read_sidecar_readonly
from tests.test_sidecar_special_files import _within

PLUS_HALF = Recipe.from_settings({"exposure": 0.5})


def _photo_with_sidecar(folder: Path, name: str = "a.png") -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    photo = folder / name
    Image.new("RGB", (48, 32), (120, 90, 60)).save(photo)
    (outcome,) = apply_to_photo(photo, PLUS_HALF, host="darktable", info=PhotoInfo(False, 48))
    assert outcome.action == "written"
    return photo, darktable_sidecar_path(photo)


def _hard_linked(tmp_path: Path) -> tuple[Path, Path]:
    photo, sidecar = _photo_with_sidecar(tmp_path / "shoot")
    os.link(sidecar, tmp_path / "backup.xmp")
    return photo, sidecar


def _symlinked(tmp_path: Path) -> tuple[Path, Path]:
    _, real = _photo_with_sidecar(tmp_path / "sync")
    photo, sidecar = _photo_with_sidecar(tmp_path / "shoot")
    sidecar.unlink()
    sidecar.symlink_to(real)
    return photo, sidecar


LINKED = [
    pytest.param(_hard_linked, "has 2 hard links", id="hard-link"),
    pytest.param(
        _symlinked,
        "is a symbolic link",
        id="symlink",
        marks=pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links"),
    ),
]


@pytest.mark.parametrize(("make", "refusal"), LINKED)
def test_train_reads_a_linked_sidecar_that_apply_still_refuses(tmp_path: Path, make: object, refusal: str) -> None:
    from trainer.restore_pairs import _darktable_histories

    photo, sidecar = make(tmp_path)  # type: ignore[operator]
    before = sidecar.read_bytes()
    assert read_sidecar_readonly(sidecar).root is not None
    chosen, skipped, unreadable = _darktable_histories([photo], selection=False)
    assert (
        skipped == []
        and unreadable == []
        and len(chosen) == 1
        and chosen[0][2]["exposure"] == pytest.approx(0.5, abs=1e-3)
    )
    with pytest.raises(SidecarError, match=refusal):
        read_sidecar(sidecar)
    (outcome,) = apply_to_photo(photo, PLUS_HALF, host="darktable", overwrite=True, info=PhotoInfo(False, 48))
    assert outcome.action == "failed" and refusal in outcome.reason
    assert sidecar.read_bytes() == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "a.png.xmp"
    os.mkfifo(fifo)
    with pytest.raises(SidecarError, match=r"named pipe.*not a regular file; not read"):
        _within(5, lambda: read_sidecar_readonly(fifo), fifo)


def test_a_folder_is_refused_and_nothing_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "d.xmp").mkdir()
    with pytest.raises(SidecarError, match="not a regular file"):
        read_sidecar_readonly(tmp_path / "d.xmp")
    with pytest.raises(FileNotFoundError):
        read_sidecar_readonly(tmp_path / "none.xmp")
    if hasattr(os, "symlink"):
        (tmp_path / "dangling.xmp").symlink_to("gone.xmp")
        with pytest.raises(FileNotFoundError):
            read_sidecar_readonly(tmp_path / "dangling.xmp")
