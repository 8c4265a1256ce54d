"""Training data: folder decoding into crop caches, the built-in un-edited pool, cache files, sampling, shards."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.encode import write_image
from backend.errors import NotFoundError
from backend.sliders.catalog import CURVE_KNOTS, get_slider
from trainer.config import DataConfig
from trainer.data.dataset import build_dataset, sample_crops
from trainer.data.folders import list_photos
from trainer.data.unedit import inverse_s_curve, random_unedit_settings
from trainer.evaluate import look_statistics
from trainer.synthetic import smooth_images

CFG = DataConfig(crops_per_image=2, eval_size=24, eval_images=2, unedit_per_target=2)


def _folder(path: Path, n: int, seed: int, size: int = 40) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    images = smooth_images(n, size, seed)
    for i in range(n):
        write_image(path / f"p{i:02d}.png", images[i : i + 1], bit_depth=16)
    return path


def _count_listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The folders ``os.scandir`` lists from now on (each call's path, in order), counted as the search runs."""
    import os

    listings: list[str] = []
    real = os.scandir

    def counted(path):  # type: ignore[no-untyped-def]
        listings.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", counted)
    return listings


def test_inverse_s_curve_flattens_contrast_and_is_identity_at_zero() -> None:
    assert inverse_s_curve(0.0) == pytest.approx(list(CURVE_KNOTS), abs=1e-6)
    y = inverse_s_curve(0.6)
    assert all(b >= a for a, b in itertools.pairwise(y))
    assert y[0] == pytest.approx(0.0, abs=1e-9) and y[-1] == pytest.approx(1.0, abs=1e-6)
    assert y[1] > CURVE_KNOTS[1] and y[2] > CURVE_KNOTS[2]  # shadows lifted
    assert y[4] < CURVE_KNOTS[4] and y[5] < CURVE_KNOTS[5]  # highlights lowered


def test_random_unedits_stay_inside_the_catalog_ranges() -> None:
    rng = np.random.default_rng(0)
    big = DataConfig(unedit_exposure=9.0, unedit_temperature=500.0, unedit_tint=500.0, unedit_desaturate=500.0)
    for _ in range(20):
        for name, value in random_unedit_settings(big, rng).items():
            spec = get_slider(name)
            values = value if isinstance(value, list) else [value]
            assert all(spec.minimum <= v <= spec.maximum for v in values), (name, value)


def test_builtin_pool_unedits_the_targets_and_is_cached(tmp_path: Path) -> None:
    targets = _folder(tmp_path / "favs", 4, seed=0)
    (targets / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")  # skipped, named in the log
    (targets / "notes.txt").write_text("not a photo")  # ignored by extension
    cache = tmp_path / "run"
    cache.mkdir()
    data = build_dataset(targets, None, CFG, thumb=32, seed=3, cache_dir=cache)
    assert data.targets.shape == (4, 2, 3, 40, 40)  # cache_size = 32 * 5 / 4
    assert data.sources.shape == (4 * 2 - 2, 2, 3, 40, 40)  # two un-edits per target, two held out
    assert data.eval_sources.shape == (2, 3, 24, 24) and data.eval_targets.shape == (4, 3, 24, 24)
    assert data.summary["targets"] == 4 and data.summary["sources"] == "built-in un-edited pool"
    # the un-edits changed the look (flatter, shifted) compared with the targets
    diff = (look_statistics(data.sources[:, 0]).mean(0) - look_statistics(data.targets[:, 0]).mean(0)).abs()
    assert float(diff.sum()) > 0.02
    assert (cache / "data_cache.safetensors").is_file()
    meta = json.loads((cache / "data_cache.json").read_text())
    assert len(meta["summary"]["unedits"]) == 8
    again = build_dataset(targets, None, CFG, thumb=32, seed=3, cache_dir=cache)
    assert torch.equal(again.sources, data.sources) and torch.equal(again.targets, data.targets)
    fresh = build_dataset(targets, None, CFG, thumb=32, seed=3, cache_dir=None)  # no cache: same data
    assert torch.equal(fresh.sources, data.sources)


def test_sources_folder_and_missing_folders(tmp_path: Path) -> None:
    targets = _folder(tmp_path / "favs", 3, seed=0)
    sources = _folder(tmp_path / "inbox", 5, seed=1)
    data = build_dataset(targets, sources, CFG, thumb=16, seed=0)
    assert data.sources.shape[0] == 3 and data.eval_sources.shape[0] == 2
    assert data.summary["source_names"] == [f"p{i:02d}.png" for i in range(5)]
    with pytest.raises(NotFoundError):
        list_photos(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError):
        build_dataset(tmp_path / "empty", None, CFG, thumb=16, seed=0)


def test_sampling_is_seeded_and_shards_are_disjoint() -> None:
    pool = torch.rand(6, 2, 3, 20, 20)
    a = sample_crops(pool, 5, 16, torch.Generator().manual_seed(1))
    b = sample_crops(pool, 5, 16, torch.Generator().manual_seed(1))
    c = sample_crops(pool, 5, 16, torch.Generator().manual_seed(2))
    assert a.shape == (5, 3, 16, 16) and torch.equal(a, b) and not torch.equal(a, c)
    from trainer.data.dataset import TrainingData

    data = TrainingData(targets=pool, sources=pool[:4], eval_sources=pool[:1, 0], eval_targets=pool[:1, 0])
    s0, s1 = data.shard(0, 2), data.shard(1, 2)
    assert s0.targets.shape[0] == s1.targets.shape[0] == 3
    assert torch.equal(torch.cat([s0.targets, s1.targets]).sort(0).values, pool.sort(0).values)
    assert torch.equal(s0.eval_sources, data.eval_sources)


def test_subfolders_with_photos_are_named_not_read(tmp_path: Path) -> None:
    from trainer.result import summary_left_out_notes

    rolls = tmp_path / "rolls"
    for day in ("2024-05-01", "2024-05-02", "2024-05-03", "2024-05-04", "2024-05-05"):
        _folder(rolls / day, 1, seed=0)
    _folder(rolls / "2023" / "12" / "24", 1, seed=0)  # a photo three folders down: 2023 counts
    _folder(rolls / ".thumbnails", 1, seed=0)  # hidden: never named
    _folder(rolls / "runs" / "mine" / "style", 1, seed=0)  # our own run folders: never named
    (rolls / "runs" / "mine" / "config.toml").write_text('[run]\nstyle = "mine"\n')
    (rolls / "empty").mkdir()  # no photo below it: not named
    with pytest.raises(NotFoundError) as refused:
        list_photos(rolls)
    assert str(refused.value) == (
        f"{rolls}: no photo in this folder; its subfolders are not read (2023, 2024-05-01, 2024-05-02, 2024-05-03 "
        "and 2 more): give a subfolder"
    )
    with pytest.raises(NotFoundError, match=r"\(2023, .* and 2 more\): give a subfolder, or several folders$"):
        list_photos(rolls, several=True)
    # with photos of its own, the folder trains on them alone; the summary names the subfolders left unread
    _folder(rolls, 3, seed=1)
    assert [p.name for p in list_photos(rolls)] == ["p00.png", "p01.png", "p02.png"]
    cache = tmp_path / "run"
    cache.mkdir()
    data = build_dataset(rolls, None, CFG, thumb=16, seed=0, cache_dir=cache)
    unread = [str(rolls / d) for d in ("2023", "2024-05-01", "2024-05-02", "2024-05-03", "2024-05-04", "2024-05-05")]
    assert data.summary["targets"] == 3 and data.summary["subfolders_not_read"] == unread
    assert summary_left_out_notes(data.summary) == [
        "6 subfolders with photos not read (training reads the photos directly in each folder given): "
        + ", ".join(unread[:4])
        + " and 2 more"
    ]
    # read from the cache, the subfolders are looked at afresh
    for day in unread[1:]:
        for photo in Path(day).iterdir():
            photo.unlink()
    again = build_dataset(rolls, None, CFG, thumb=16, seed=0, cache_dir=cache)
    assert torch.equal(again.targets, data.targets) and again.summary["subfolders_not_read"] == unread[:1]
    for photo in (rolls / "2023" / "12" / "24").iterdir():
        photo.unlink()
    assert "subfolders_not_read" not in build_dataset(rolls, None, CFG, thumb=16, seed=0, cache_dir=cache).summary


def test_a_cache_hit_records_the_folders_given_now(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The cache's key is the photos read (names, sizes, times): a copy elsewhere or a selection of them hits it."""
    import logging
    import shutil

    from trainer.data.selection import linked_folder

    lib = _folder(tmp_path / "lib", 3, seed=1)
    _folder(tmp_path / "moved" / "roll", 1, seed=2)
    cache = tmp_path / "run"
    cache.mkdir()
    first = build_dataset(lib, None, CFG, thumb=16, seed=0, cache_dir=cache)
    assert first.summary["targets_dir"] == str(lib.resolve()) and "subfolders_not_read" not in first.summary
    shutil.copytree(lib, tmp_path / "moved", dirs_exist_ok=True)  # the same names, sizes and times
    with caplog.at_level(logging.INFO, logger="trainer.data.dataset"):
        moved = build_dataset(tmp_path / "moved", None, CFG, thumb=16, seed=0, cache_dir=cache)
    assert "data: loaded cache" in caplog.text and torch.equal(moved.targets, first.targets)
    assert moved.summary["targets_dir"] == str((tmp_path / "moved").resolve())
    assert moved.summary["subfolders_not_read"] == [str(tmp_path / "moved" / "roll")]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    moved_fresh = build_dataset(tmp_path / "moved", None, CFG, thumb=16, seed=0, cache_dir=fresh).summary
    assert list(moved.summary) == list(moved_fresh)  # the same entries, in a fresh summary's order
    assert moved.summary == moved_fresh
    # the same photos linked as a selection (the daemon's favourite files): the record names the files given
    photos = sorted(lib.iterdir())
    selected = build_dataset(
        linked_folder(cache / "selection", photos, with_sidecars=False), None, CFG, thumb=16, seed=0, cache_dir=cache
    )
    assert torch.equal(selected.targets, first.targets)
    assert selected.summary["targets_dir"] is None and selected.summary["targets_given"] == [str(p) for p in photos]
    assert (
        list(selected.summary)[:2] == ["targets_dir", "targets_given"] and "subfolders_not_read" not in selected.summary
    )


def _touch(path: Path) -> Path:
    """An empty file at ``path`` (its folders made): enough of a photo for the subfolder search, which decodes none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_a_subfolder_that_cannot_be_opened_is_not_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A root-owned ``lost+found`` on an external drive: it cannot be listed, nor anything in it looked at (EACCES).

    The tests run as root, whom permissions do not stop: the system calls are made to refuse as they do for a user.
    """
    import errno
    import os

    from trainer.data.folders import photo_subfolders

    drive = tmp_path / "drive"
    (drive / "lost+found").mkdir(parents=True)
    _touch(drive / "roll" / "a.jpg")
    locked = str(drive / "lost+found")

    def refused(real, itself: bool):  # type: ignore[no-untyped-def]
        """``real``, refusing the paths inside ``locked`` (and ``locked`` itself, with ``itself``) with EACCES."""

        def call(path, *args, **kwargs):  # type: ignore[no-untyped-def]
            text = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else ""
            if (itself and text == locked) or text.startswith(locked + os.sep):
                raise PermissionError(errno.EACCES, "Permission denied", text)
            return real(path, *args, **kwargs)

        return call

    # listing it is refused, and looking at anything inside it (its config.toml); the folder itself can be stat'ed
    monkeypatch.setattr(os, "scandir", refused(os.scandir, True))
    monkeypatch.setattr(os, "listdir", refused(os.listdir, True))
    monkeypatch.setattr(os, "stat", refused(os.stat, False))
    with pytest.raises(PermissionError):  # the file system refuses as it does for a user
        (drive / "lost+found" / "config.toml").is_file()
    assert (drive / "lost+found").is_dir()
    assert photo_subfolders(drive) == [drive / "roll"]
    with pytest.raises(NotFoundError, match=r"its subfolders are not read \(roll\): give a subfolder$"):
        list_photos(drive)
    (drive / "roll" / "a.jpg").unlink()
    with pytest.raises(NotFoundError, match=r": no photos \(extensions"):  # the plain refusal, no traceback
        list_photos(drive)
    _touch(drive / "b.jpg")
    assert list_photos(drive) == [drive / "b.jpg"] and photo_subfolders(drive) == []


def test_the_subfolder_search_makes_a_bounded_number_of_listings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    from trainer.data import folders
    from trainer.data.folders import photo_subfolders

    rolls = tmp_path / "rolls"
    _touch(rolls / "a roll" / "a.jpg")
    for s in range(3):  # three subfolders of 100 empty folders each
        for i in range(100):
            (rolls / f"b{s}" / f"{i:03d}").mkdir(parents=True)
    _touch(rolls / "z roll" / "z.jpg")
    listings = _count_listings(monkeypatch)
    assert photo_subfolders(rolls) == [rolls / "a roll", rolls / "z roll"]
    # the folder, each roll once, and each empty subfolder given up after _SUBFOLDER_VISITS listings
    assert len(listings) == 1 + 1 + 3 * folders._SUBFOLDER_VISITS + 1
    listings.clear()
    monkeypatch.setattr(folders, "_SCAN_LISTINGS", 50)  # the whole call's budget spent in b0: z roll not named
    assert photo_subfolders(rolls) == [rolls / "a roll"] and len(listings) == 50


def test_a_users_runs_folder_costs_one_subfolders_listings_not_the_whole_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    from trainer.data import folders
    from trainer.data.folders import photo_subfolders

    lib = tmp_path / "lib"
    for i in range(1000):  # a user's own folder called runs (no run folder in it): 1,000 empty folders
        (lib / "runs" / f"race{i:04d}").mkdir(parents=True)
    _touch(lib / "zz" / "p.jpg")
    listings = _count_listings(monkeypatch)
    assert photo_subfolders(lib) == [lib / "zz"]  # was [] after 5c1b569: the runs look spent the whole budget
    # lib, runs and what it looks into (the subfolder's budget, each folder listed once), then zz
    assert len(listings) == 1 + folders._SUBFOLDER_VISITS + 1 and len(set(listings)) == len(listings)
    listings.clear()
    _touch(lib / "runs" / "race0003" / "p.jpg")  # a photo among those looked into: runs is named, nothing relisted
    assert photo_subfolders(lib) == [lib / "runs", lib / "zz"]
    assert len(listings) == 1 + folders._SUBFOLDER_VISITS + 1 and len(set(listings)) == len(listings)
    (lib / "runs" / "race0000" / "config.toml").write_text("")  # a run folder among them: autoretouch's runs
    assert photo_subfolders(lib) == [lib / "zz"]


def test_the_folders_of_one_training_share_one_listing_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    from trainer.data import folders
    from trainer.data.given import unread_subfolders

    given = []
    for f in range(30):  # 30 folders given, each with 2 empty subfolders of 40 empty folders and a roll
        for s in range(2):
            for i in range(40):
                (tmp_path / f"g{f:02d}" / f"e{s}" / f"{i:02d}").mkdir(parents=True)
        _touch(tmp_path / f"g{f:02d}" / "roll" / "r.jpg")
        given.append(tmp_path / f"g{f:02d}")
    listings = _count_listings(monkeypatch)
    monkeypatch.setattr(folders, "_SCAN_LISTINGS", 500)
    found = unread_subfolders(*given, with_sidecars=False)  # alone, each folder would list 84 folders
    assert len(listings) == 500 and len(set(listings)) == 500  # 30 x 84 before: one budget, none listed twice
    per_folder = 1 + 2 * 41 + 1
    assert found == [str(g / "roll") for g in given[: 500 // per_folder]]


def test_links_to_the_folder_or_above_it_are_not_named(tmp_path: Path) -> None:
    from trainer.data.folders import photo_subfolders

    favs = tmp_path / "favs"
    _touch(favs / "a.jpg")
    _touch(tmp_path / "elsewhere" / "roll" / "r.jpg")
    (favs / "self").symlink_to(".")
    (favs / "up").symlink_to("..")
    (favs / "top").symlink_to(tmp_path)
    (favs / "loop").symlink_to("loop")
    (favs / "roll link").symlink_to(tmp_path / "elsewhere" / "roll")  # a link to another folder: followed
    assert photo_subfolders(favs) == [favs / "roll link"]
    assert photo_subfolders(favs / "self") == [favs / "self" / "roll link"]  # given through a link: the same


def test_links_into_a_subfolder_named_already_are_not_named_again(tmp_path: Path) -> None:
    from trainer.data.folders import photo_subfolders

    favs = tmp_path / "favs"
    _touch(favs / "2024" / "05" / "a.jpg")
    _touch(favs / ".store" / "roll" / "s.jpg")
    (favs / "latest").symlink_to("2024")  # the subfolder itself, sorted after it
    (favs / "0 latest").symlink_to("2024")  # ... and before it
    (favs / "may").symlink_to(favs / "2024" / "05")  # a folder inside it
    (favs / "stored").symlink_to(".store/roll")  # a hidden folder's: not named otherwise
    assert photo_subfolders(favs) == [favs / "2024", favs / "stored"]


def test_run_folders_are_told_from_their_listing_not_a_look_per_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many empty folders cost their listings only (the budget), not a ``config.toml`` check each."""
    import os

    from trainer.data.folders import photo_subfolders

    big = tmp_path / "big"
    for i in range(2000):
        (big / "cache" / f"{i:04d}").mkdir(parents=True)
    _touch(big / "zroll" / "a.jpg")
    _touch(big / "runs" / "mine" / "style" / "p.jpg")  # our own run folders: never named
    (big / "runs" / "mine" / "config.toml").write_text('[run]\nstyle = "mine"\n')
    _touch(big / "run" / "p.jpg")
    (big / "run" / "config.toml").write_text('[run]\nstyle = "run"\n')
    looks: list[str] = []
    real = os.stat

    def counted(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        looks.append(os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counted)
    assert photo_subfolders(big) == [big / "zroll"]
    assert len(looks) < 20, looks[:5]  # was one per folder queued (2,000 and more)


def test_a_cached_summary_with_unread_subfolders_equals_the_fresh_one_in_order(tmp_path: Path) -> None:
    lib = _folder(tmp_path / "lib", 3, seed=1)
    _folder(lib / "roll", 1, seed=2)
    cache = tmp_path / "run"
    cache.mkdir()
    fresh = build_dataset(lib, None, CFG, thumb=16, seed=0, cache_dir=cache).summary
    assert fresh["subfolders_not_read"] == [str(lib / "roll")]
    cached = build_dataset(lib, None, CFG, thumb=16, seed=0, cache_dir=cache).summary
    assert list(cached) == list(fresh) and cached == fresh  # order included: the record written is the same
    keys = list(cached)
    assert keys.index("subfolders_not_read") == keys.index("training_sources") - 1
