"""A pair whose file is gone by the time it is loaded is left out, named, and training goes on (QA).

Between matching the two folders and decoding the pairs, a file can be deleted, moved or left a dangling symbolic
link. :func:`trainer.data.pairs.load_paired_views` used to let that ``NotFoundError`` stop the whole training;
now such a pair is left out as an undecodable one is: named in the summary's notes and the training record's
``unreadable_pairs_skipped`` with the reason ``not found``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backend.cli.main import main
from testing.training import TINY_PAIRS_TOML, write_exposure_pairs
from trainer.data import pairs as pairs_module
from trainer.data.pairs import Pair, PairMatch, find_pairs, load_paired_views, match_pairs
from trainer.synthetic import smooth_images

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture()
def pair_folders(tmp_path: Path) -> tuple[Path, Path]:
    """Five good TIFF/JPEG pairs, ``p0`` .. ``p4``."""
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    write_exposure_pairs(before, after, smooth_images(5, 32, seed=4), 5)
    return before, after


def _dangle(path: Path) -> None:
    """Replace ``path`` by a symbolic link to a file that does not exist."""
    path.unlink()
    path.symlink_to(path.with_name("gone-" + path.name))


def test_load_paired_views_leaves_out_a_pair_whose_file_is_not_found(pair_folders: tuple[Path, Path]) -> None:
    before, after = pair_folders
    pairs, _ = find_pairs(before, after)
    _dangle(before / "p1.tif")  # an original, after matching
    (after / "p3.jpg").unlink()  # an edit, likewise
    views = load_paired_views(pairs, cache_size=32, eval_size=32, crops=2, seed=0)
    assert [p.name for p in views.pairs] == ["p0", "p2", "p4"]
    assert views.skipped == (f"{before / 'p1.tif'}: not found", f"{after / 'p3.jpg'}: not found")
    assert views.before_crops.shape[:2] == (3, 2) and views.after_evals.shape[0] == 3

    lonely = [Pair("p1", before / "p1.tif", after / "p1.jpg")]
    with pytest.raises(pairs_module.NotFoundError, match=r"none of the 1 before/after pairs .*p1\.tif: not found"):
        load_paired_views(lonely, cache_size=32, eval_size=32, crops=2, seed=0)


def test_train_pairs_goes_on_without_a_pair_whose_original_dangles_at_load(
    pair_folders: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = pair_folders
    import trainer.restore_pairs

    def matched_then_gone(*args: Any, **kwargs: Any) -> PairMatch:
        found = match_pairs(*args, **kwargs)
        _dangle(before / "p1.tif")  # between matching and loading: the original's link now leads nowhere
        return found

    monkeypatch.setattr(trainer.restore_pairs, "match_pairs", matched_then_gone)
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_PAIRS_TOML, encoding="utf-8")
    run = tmp_path / "run"
    argv = ["train", "--style", "s", "--pairs", str(before), str(after), "--steps", "2", "--config", str(config)]
    rc = main([*argv, "--run-dir", str(run), "--no-install", "--force", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "trained style 's': 2 steps (stopped by steps)" in out
    notes = [line.removeprefix("  note: ") for line in out.splitlines() if line.startswith("  note: ")]
    assert notes == ["1 before/after pair could not be read, left out: p1 (original p1.tif: not found)"]
    training = json.loads((run / "style" / "s.json").read_text(encoding="utf-8"))["training"]
    assert training["pairs"] == 4  # trained on the rest
    assert training["unreadable_pairs_skipped"] == ["p1 (original p1.tif: not found)"]
    assert training["skipped"] == [f"{before / 'p1.tif'}: not found"]
