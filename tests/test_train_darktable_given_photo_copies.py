"""A photo given alone to ``train --darktable`` stands for its own edit only, never its virtual copies.

``train --darktable s2/plain.png``, where ``plain.png`` has no sidecar of its own but a virtual copy
(``plain_01.png.xmp``), was refused ("the photo given has no darktable history") until a folder of links to photos
only learnt the sidecars beside the photos' files: the run's own selection (``RUN_DIR/selection``, a link to
``plain.png`` alone) then read the copy beside the real file and trained on it. A user's folder of links still
learns them (``tests/test_train_darktable_link_chains.py``). Only the photo is decoded: no darktable-cli needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.cli.main import main
from backend.errors import NotFoundError
from testing.darktable_copies import darktable_args, edited_photo
from trainer.cli import _darktable_dir
from trainer.darktable_pairs import _darktable_histories, _is_selection
from trainer.data.folders import list_photos


def test_a_photo_given_alone_without_its_own_sidecar_learns_no_copy(tmp_path: Path) -> None:
    plain = edited_photo(tmp_path / "s2", "plain.png", 1, None, {1: -0.6})
    linked = _darktable_dir(darktable_args(plain), tmp_path / "run")
    chosen, skipped, unreadable = _darktable_histories(list_photos(linked), _is_selection(linked))
    assert [e.name for e in chosen] == []
    assert skipped == [f"{plain}: no darktable sidecar ({plain}.xmp)"]
    assert unreadable == []


def test_a_photo_given_alone_with_its_own_sidecar_learns_it_only(tmp_path: Path) -> None:
    photo = edited_photo(tmp_path / "s2", "p.png", 1, 0.4, {1: -0.6})
    linked = _darktable_dir(darktable_args(photo), tmp_path / "run")
    chosen, skipped, _ = _darktable_histories(list_photos(linked), _is_selection(linked))
    assert ([e.name for e in chosen], skipped) == (["p"], [])


def test_training_on_a_photo_given_alone_with_only_a_copys_sidecar_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = edited_photo(tmp_path / "s2", "plain.png", 1, None, {1: -0.6})
    argv = ["train", "--style", "x", "--darktable", str(plain), "--steps", "5"]
    rc = main([*argv, "--run-dir", str(tmp_path / "run"), "--force", "--quiet", "--no-install"])
    err = capsys.readouterr().err
    assert rc == NotFoundError.exit_code == 6, err
    assert "the photo given has no darktable history" in err, err
    assert not (tmp_path / "run" / "style" / "x.json").exists()
