"""Refusals of a selection of one photo read as English: "the photo cannot be used", not "none of the 1 photo".

(Kept beside the rotated-edits tests of ``trainer.restore_pairs``, whose messages they check.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.errors import NotFoundError
from testing.darktable_selection import EMPTY_HISTORY, darktable_train_args, selected_photos
from testing.training import tiny_pairs_config
from trainer.config import config_from_dict


def test_one_unusable_lightroom_photo_is_worded_for_one(tmp_path: Path) -> None:
    from trainer.restore_pairs import load_settings_pair_set

    cfg = config_from_dict(tiny_pairs_config(["exposure"], "s"))
    items = [{"path": str(tmp_path / "gone.jpg"), "settings": {"Exposure2012": 0.5}}]
    with pytest.raises(NotFoundError) as caught:
        load_settings_pair_set(cfg, items, ("exposure",))
    assert str(caught.value).startswith("the photo cannot be used (")
    assert "none of the" not in str(caught.value)


def test_one_photo_without_a_darktable_history_is_worded_for_one(tmp_path: Path) -> None:
    from trainer.cli import _darktable_dir
    from trainer.restore_pairs import load_darktable_pair_set

    (a,) = selected_photos(tmp_path / "dt", "p4.jpg", sidecar=EMPTY_HISTORY)
    linked = _darktable_dir(darktable_train_args(a), tmp_path / "run")
    cfg = config_from_dict(tiny_pairs_config(["exposure"], "s"))
    with pytest.raises(NotFoundError) as caught:
        load_darktable_pair_set(cfg, linked, ("exposure",))
    assert str(caught.value).startswith("the photo given has no darktable history (")
