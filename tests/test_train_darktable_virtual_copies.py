"""``train --darktable`` learns from darktable's virtual copies too: each copy's own history is one more pair.

darktable keeps virtual copy N of ``IMG.png`` in ``IMG_NN.png.xmp``. A folder's copies are pairs named
``IMG (virtual copy N)`` (the original photo before, darktable-cli's render of the copy's history after); a copy
without an active history, or with its photo's own, is skipped as a photo without an edit is; a sidecar of that
name that is a real ``IMG_NN.png``'s stays that photo's. A copy's sidecar given stands for that copy; one whose
photo is missing is named and skipped, the rest goes on. The sidecars are written by our own ``apply``. The
selection tests need no darktable; those that load the pairs need darktable-cli (skipped when it is missing, a
failure under CI=true).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.darktable_cli import darktable_cli_path
from testing.darktable_copies import darktable_args, edited_photo, exposure
from testing.needs import missing
from testing.training import tiny_pairs_config
from trainer.cli import _darktable_dir
from trainer.config import config_from_dict
from trainer.data.selection import MARKER, SelectionError, darktable_selection


def _needs_darktable() -> None:
    if darktable_cli_path() is None:
        missing("darktable-cli is not installed (apt-get install darktable)")


def test_a_folders_virtual_copies_are_pairs_of_their_own(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _needs_darktable()
    from trainer.restore_pairs import load_darktable_pair_set

    folder = tmp_path / "dt"
    # copy 1: another edit; copy 2: the original's own history again; copy 3: an empty history
    edited_photo(folder, "d0.png", 1, 0.4, {1: -0.6, 2: 0.4, 3: None})
    edited_photo(folder, "d1.png", 2, 0.2, {})
    edited_photo(folder, "d1_01.png", 3, -0.2, {})  # a photo of that name: its sidecar is its own, not d1's copy 1
    cfg = config_from_dict(tiny_pairs_config(["exposure"], "s"))
    with caplog.at_level("WARNING"):
        ps = load_darktable_pair_set(cfg, folder, ("exposure",))
    assert ps.names == ["d0", "d0 (virtual copy 1)", "d1", "d1_01"]
    assert ps.labels is not None
    assert [round(exposure(steps), 2) for steps in ps.labels] == [0.4, -0.6, 0.2, -0.2]
    after = ps.views.after_evals
    assert float(after[1].mean()) < 0.6 * float(after[0].mean())  # darktable rendered the copy's own history
    skipped = ps.source["darktable_skipped"]
    assert "d0.png (virtual copy 2): the same history as d0.png" in skipped, skipped
    assert "d0.png (virtual copy 3): the sidecar has no active history" in skipped, skipped
    assert "d0.png (virtual copy 3): the sidecar has no active history" in caplog.text


def test_a_copys_sidecar_given_trains_that_copy_and_a_lone_one_is_named(tmp_path: Path) -> None:
    _needs_darktable()
    from trainer.restore_pairs import load_darktable_pair_set

    folder = tmp_path / "dt"
    edited_photo(folder, "d0.png", 1, 0.4, {1: -0.6})
    d1 = edited_photo(folder, "d1.png", 2, 0.2, {})
    gone = edited_photo(tmp_path / "gone", "g.png", 4, 0.3, {1: 0.5})
    gone.unlink()  # its copy's sidecar is left
    lone = gone.with_name("g_01.png.xmp")
    linked = _darktable_dir(darktable_args(folder / "d0_01.png.xmp", lone, d1), tmp_path / "run")
    cfg = config_from_dict(tiny_pairs_config(["exposure"], "s"))
    ps = load_darktable_pair_set(cfg, linked, ("exposure",))
    assert ps.names == ["d0 (virtual copy 1)", "d1"]  # the original d0 was not given
    assert ps.labels is not None and round(exposure(ps.labels[0]), 2) == -0.6
    skipped = ps.source["darktable_skipped"]
    assert skipped == [f"{lone}: a darktable virtual copy's sidecar, and its photo {gone} is not there"], skipped


def test_a_selection_links_the_copies_chosen(tmp_path: Path) -> None:
    p0 = edited_photo(tmp_path / "dt", "p0.png", 1, 0.4, {1: -0.6, 2: 0.1})
    q0 = edited_photo(tmp_path / "dt2", "p0.png", 2, 0.2, {1: 0.3})
    # a folder's photos come with their copies; copies follow the photo's renamed link
    listed = darktable_selection([tmp_path / "dt", tmp_path / "dt2"])
    assert [p.name for p in listed] == ["p0.png", "p0_01.png.xmp", "p0_02.png.xmp", "p0.png", "p0_01.png.xmp"]
    linked = _darktable_dir(darktable_args(tmp_path / "dt", tmp_path / "dt2"), tmp_path / "run")
    names = sorted(p.name for p in linked.iterdir() if p.name != MARKER)
    assert names == [
        "p0-3.png",
        "p0-3.png.xmp",
        "p0-3_01.png.xmp",
        "p0.png",
        "p0.png.xmp",
        "p0_01.png.xmp",
        "p0_02.png.xmp",
    ]
    assert (linked / "p0-3_01.png.xmp").resolve() == q0.with_name("p0_01.png.xmp").resolve()
    # a copy's sidecar given alone: its photo is linked without the original's own sidecar
    linked = _darktable_dir(darktable_args(p0.with_name("p0_02.png.xmp")), tmp_path / "run")
    assert sorted(p.name for p in linked.iterdir() if p.name != MARKER) == ["p0.png", "p0_02.png.xmp"]
    # a photo given alone stands for its own edit, as before
    linked = _darktable_dir(darktable_args(p0), tmp_path / "run")
    assert sorted(p.name for p in linked.iterdir() if p.name != MARKER) == ["p0.png", "p0.png.xmp"]


def test_a_sidecar_named_like_a_copy_that_is_a_photos_own_stands_for_that_photo(tmp_path: Path) -> None:
    edited_photo(tmp_path / "dt", "d1.png", 2, 0.2, {})
    own = edited_photo(tmp_path / "dt", "d1_01.png", 3, -0.2, {})
    assert darktable_selection([Path(str(own) + ".xmp")]) == [own.absolute()]


def test_only_lone_copies_given_are_refused(tmp_path: Path) -> None:
    gone = edited_photo(tmp_path / "gone", "g.png", 4, 0.3, {1: 0.5})
    gone.unlink()
    with pytest.raises(
        SelectionError, match=r"g_01\.png\.xmp: a darktable virtual copy.s sidecar, and its photo g\.png is not there"
    ):
        _darktable_dir(darktable_args(gone.with_name("g_01.png.xmp")), tmp_path / "run")


def test_photos_sharing_a_stem_keep_their_own_labels(tmp_path: Path) -> None:
    _needs_darktable()
    from trainer.restore_pairs import load_darktable_pair_set

    folder = tmp_path / "dt"
    edited_photo(folder, "a.jpg", 1, -0.6, {})
    edited_photo(folder, "a.png", 2, 0.4, {})
    cfg = config_from_dict(tiny_pairs_config(["exposure"], "s"))
    ps = load_darktable_pair_set(cfg, folder, ("exposure",))
    assert ps.names == ["a", "a"] and ps.labels is not None
    assert [round(exposure(steps), 2) for steps in ps.labels] == [-0.6, 0.4]  # not both a.png's


def test_train_darktable_learns_a_copy_and_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _needs_darktable()
    import json

    from backend.cli.main import main
    from testing.training import write_tiny_pairs_toml

    folder = tmp_path / "dt"
    edited_photo(folder, "d0.png", 1, 0.4, {1: -0.6, 2: None})
    edited_photo(folder, "d1.png", 2, 0.2, {})
    config = tmp_path / "tiny.toml"
    write_tiny_pairs_toml(config)
    argv = ["train", "--style", "s", "--darktable", str(folder), "--steps", "2", "--config", str(config)]
    rc = main([*argv, "--run-dir", str(tmp_path / "run"), "--no-install", "--force", "--quiet"])
    assert rc == 0, capsys.readouterr().out
    training = json.loads((tmp_path / "run" / "style" / "s.json").read_text(encoding="utf-8"))["training"]
    assert training["pairs"] == 3
    assert training["darktable_skipped"] == ["d0.png (virtual copy 2): the sidecar has no active history"]
    style = json.loads((tmp_path / "run" / "style" / "s.json").read_text(encoding="utf-8"))
    assert style["examples"]["names"] == ["d0", "d0 (virtual copy 1)", "d1"]
