"""Only virtual copies' sidecars whose photo is missing, given to ``train --darktable``: the error names the photo.

A virtual copy's sidecar ``IMG_01.jpg.xmp`` is copy 1 of ``IMG.jpg`` (:mod:`trainer.data.darktable_copies`), so
the refusal says ``IMG.jpg`` is not there (it said ``IMG_01.jpg``, a file that is no part of it, in the words
an autoretouch too old to learn from copies used, so the darktable plug-in called it too old). Needs no
darktable: the selection is refused before any sidecar is read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.cli.main import main
from trainer.data.selection import SelectionError, darktable_selection


def _lone_copy(folder: Path, name: str) -> Path:
    """A virtual copy's sidecar ``folder/name`` whose photo is not there (its content is never read here)."""
    folder.mkdir(parents=True, exist_ok=True)
    sidecar = folder / name
    sidecar.write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'/>\n", encoding="utf-8")
    return sidecar


def test_the_refusal_names_the_copys_photo(tmp_path: Path) -> None:
    sidecar = _lone_copy(tmp_path / "dt", "IMG_01.jpg.xmp")
    _lone_copy(tmp_path / "dt", "IMG_02.jpg.xmp")
    with pytest.raises(SelectionError) as refused:
        darktable_selection([sidecar, tmp_path / "dt" / "IMG_02.jpg.xmp"])
    assert str(refused.value) == (
        f"{sidecar}: a darktable virtual copy's sidecar, and its photo IMG.jpg is not there; "
        "the photo is needed beside it"
    )
    # not the refusal of an autoretouch too old to learn from copies, which the darktable plug-in looks for
    assert f"{sidecar}: not a photo: a darktable sidecar" not in str(refused.value)
    assert refused.value.path == sidecar


def test_train_darktable_names_the_copys_photo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sidecar = _lone_copy(tmp_path / "dt", "scan.v2_12.tiff.xmp")
    argv = ["train", "--style", "g", "--darktable", str(sidecar), "--run-dir", str(tmp_path / "run"), "--quiet"]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "its photo scan.v2.tiff is not there" in err, err
    assert "scan.v2_12.tiff is not" not in err
