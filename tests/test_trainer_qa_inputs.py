"""QA round A on ``train``'s inputs: the shipped prior, duplicate and tiny favourites, folder messages, notes.

Seconds-long, on generated photos (:func:`trainer.synthetic.write_style_folders`).
"""

from __future__ import annotations

import argparse
import copy
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from backend.agent.style import SHIPPED_STYLES_DIR, Style, StyleStore, load_style, save_style
from backend.cli.main import main
from backend.errors import NotFoundError
from testing.training import TINY_TOML, config_with, two_step_restore_config
from trainer.cli import TrainUsageError, _check_mode, _warn_same_sources, register
from trainer.data.folders import MIN_PHOTO_SIDE, CroppedPhotos, list_photos, load_folder, unique_photos
from trainer.install_notes import install_notes, installed_before
from trainer.restore import _build_data, _record_skipped, load_prior
from trainer.restore_core import new_restore_net
from trainer.result import REPLACED_DIR, install_keeping, install_style, keep_replaced, left_out_notes
from trainer.synthetic import write_style_folders
from trainer.train import train

TINY = {
    "agent": {"sliders": ["exposure", "contrast", "temperature"], "width": 16, "thumb": 32, "dropout": 0.0},
    "data": {"crops_per_image": 2, "eval_size": 48},
    "restore": {"batch": 8, "pool_per_target": 4, "eval_every": 4, "lr": 1e-2, "val_unedits": 2},
    "run": {"style": "qa", "steps": 4, "seed": 0, "threads": 1, "log_every": 2},
}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_prior_default_is_the_shipped_style_even_when_a_user_style_shadows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config_with(TINY)
    user = tmp_path / "user-styles"
    net = new_restore_net(cfg)
    # a user's own "default", trained from favourites: it carries a prior of its own
    save_style(Style(name="default", net=net, prior=copy.deepcopy(net), prior_share=0.5, prior_from="x@1"), user)
    monkeypatch.setenv("AUTORETOUCH_STYLES", str(user))
    assert load_style("default").prior is not None  # the user's style shadows the shipped one for the commands
    prior = load_prior(cfg)  # before the fix: "it has a prior of its own; name a general style"
    assert prior is not None
    shipped = load_style(SHIPPED_STYLES_DIR / "default.safetensors")
    for key, value in shipped.net.state_dict().items():
        assert torch.equal(prior.net.state_dict()[key], value), key


def test_training_a_style_named_default_says_it_shadows_the_shipped_one(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    installed = styles / "default.safetensors"
    notes = install_notes("default", styles, None, {"installed_path": str(installed), "run_dir": str(tmp_path)})
    assert len(notes) == 1 and "shadows the shipped default style" in notes[0] and str(installed) in notes[0]
    assert install_notes("mine", styles, None, {"installed_path": str(installed), "run_dir": str(tmp_path)}) == []
    # not installed (--no-install, or refused): nothing shadows anything
    assert install_notes("default", styles, None, {"installed_path": None, "run_dir": str(tmp_path)}) == []


def test_retraining_a_style_name_keeps_the_old_version_and_says_where(tmp_path: Path) -> None:
    cfg = config_with(TINY)
    runs, styles = tmp_path / "runs", tmp_path / "styles"
    old = Style(name="qa", net=new_restore_net(cfg), model_version=3)
    save_style(old, runs / "first" / "style")
    install_style(old, styles)
    assert not (styles / REPLACED_DIR).exists()  # a first installation replaces nothing
    before = installed_before(styles, "qa")
    assert before is not None and before["model_version"] == 3
    old_bytes = {s: (styles / f"qa{s}").read_bytes() for s in (".safetensors", ".json")}
    shutil.rmtree(runs / "first")  # the run folder that trained it is gone
    new = Style(name="qa", net=new_restore_net(cfg), model_version=4)
    save_style(new, runs / "second" / "style")
    kept = install_keeping(new, styles).kept
    assert kept == styles / REPLACED_DIR / "qa@3.safetensors"
    assert kept.read_bytes() == old_bytes[".safetensors"]
    assert kept.with_suffix(".json").read_bytes() == old_bytes[".json"]
    assert sorted(p.name for p in (styles / REPLACED_DIR).iterdir()) == ["qa@3.json", "qa@3.safetensors"]
    back = tmp_path / "back"  # a whole style: copied back under its name, it loads
    back.mkdir()
    shutil.copyfile(kept, back / "qa.safetensors")
    shutil.copyfile(kept.with_suffix(".json"), back / "qa.json")
    assert load_style(back / "qa.safetensors").model_version == 3
    assert installed_before(styles, "qa")["model_version"] == 4  # type: ignore[index]
    summary = {
        "installed_path": str(styles / "qa.safetensors"),
        "run_dir": str(runs / "second"),
        "kept_path": str(kept),
    }
    (note,) = install_notes("qa", styles, before, summary)
    assert "qa@3" in note and "is replaced by qa@4" in note
    assert f"the old version is kept as {kept} and its .json (copy both back as qa.safetensors and qa.json" in note
    assert "run folder" not in note and "trained in" not in note
    first = {**summary, "kept_path": None}
    assert install_notes("qa", styles, None, first) == []  # a first installation replaces nothing
    # the style folder lists the installed style only, never the kept ones
    assert [(i.name, i.error) for i in StyleStore([styles]).list()] == [("qa", None)]


def test_a_kept_version_is_never_overwritten_by_another_with_the_same_number(tmp_path: Path) -> None:
    cfg = config_with(TINY)
    styles = tmp_path / "styles"
    first, second = (Style(name="qa", net=new_restore_net(cfg), model_version=1) for _ in range(2))
    install_style(first, styles)
    install_style(second, styles)  # (a real retraining numbers it 2: here the user deleted it in between)
    kept = keep_replaced(styles, "qa")
    assert kept == styles / REPLACED_DIR / "qa@1-2.safetensors"
    assert keep_replaced(styles, "qa") == kept  # the same pair again: not copied twice
    assert len(list((styles / REPLACED_DIR).iterdir())) == 4
    assert keep_replaced(styles, "nothing-installed") is None


def test_training_twice_into_one_style_folder_keeps_the_first_style(tmp_path: Path) -> None:
    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=2, n_sources=1, size=40, seed=5)
    cfg = two_step_restore_config("twice")
    styles = tmp_path / "styles"
    train(cfg, targets=targets, run_dir=tmp_path / "run1", install_dir=styles)
    first = (styles / "twice.safetensors").read_bytes()
    before = installed_before(styles, "twice")
    second = train(cfg, targets=targets, run_dir=tmp_path / "run2", install_dir=styles)
    assert second.kept_path == styles / REPLACED_DIR / "twice@1.safetensors"
    assert second.kept_path.read_bytes() == first
    summary = {
        "installed_path": str(styles / "twice.safetensors"),
        "run_dir": str(tmp_path / "run2"),
        "kept_path": str(second.kept_path),
    }
    (note,) = install_notes("twice", styles, before, summary)
    assert f"kept as {styles / REPLACED_DIR / 'twice@1.safetensors'}" in note
    assert f"trained in {(tmp_path / 'run1' / 'style').resolve()}" in note  # its run folder is still there
    assert load_style(styles / "twice.safetensors").model_version == 2


def _twins(folder: Path) -> None:
    """Add a byte copy and a symbolic link of two favourites of ``folder``."""
    names = sorted(p.name for p in folder.iterdir())
    shutil.copyfile(folder / names[0], folder / f"zz_copy_of_{names[0]}")
    (folder / f"zz_link_to_{names[1]}").symlink_to(folder / names[1])


def test_duplicate_favourites_are_dropped_by_real_path_and_by_content(tmp_path: Path) -> None:
    targets, sources, _ = write_style_folders(tmp_path / "data", n_targets=5, n_sources=3, size=40, seed=2)
    names = sorted(p.name for p in targets.iterdir())
    _twins(targets)
    _twins(sources)
    kept, dropped = unique_photos(list_photos(targets))
    assert [p.name for p in kept] == names
    assert dropped == [f"zz_copy_of_{names[0]} (the same bytes as {names[0]})",
                       f"zz_link_to_{names[1]} (the same file as {names[1]})"]  # fmt: skip
    data = _build_data(config_with(TINY), targets, sources)
    s = data.summary
    assert s["target_names"] == names and s["targets"] == 5  # the twins neither train nor are held out
    assert not any(name.startswith("zz_") for name in s["held_out_targets"])
    assert len(s["duplicate_targets_dropped"]) == 2 and len(s["duplicate_sources_dropped"]) == 2
    assert s["sources"] == 3
    assert any("2 duplicate favourites left out" in n for n in s["notes"])


def test_the_gan_run_notes_the_duplicates_it_left_out_as_the_restoration_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    targets, sources, _ = write_style_folders(tmp_path / "data", n_targets=3, n_sources=3, n_heldout=0, size=24)
    names = sorted(p.name for p in targets.iterdir())
    _twins(targets)
    _twins(sources)
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    argv = ["train", "--style", "dups", "--targets", str(targets), "--sources", str(sources), "--config", str(config)]
    argv += ["--run-dir", str(tmp_path / "run"), "--no-install", "--steps", "1", "--quiet"]
    rc = main([*argv, "--set", "run.method=gan"])
    out = capsys.readouterr().out
    assert rc == 0 and "trained style 'dups': 1 step (stopped by steps)" in out
    assert (
        f"  note: 2 duplicate favourites left out: zz_copy_of_{names[0]} (the same bytes as {names[0]}), "
        f"zz_link_to_{names[1]} (the same file as {names[1]})\n" in out
    )
    assert "  note: 2 duplicate sources left out: zz_copy_of_" in out


def _photos(too_small: tuple[str, ...] = (), unreadable: tuple[str, ...] = ()) -> CroppedPhotos:
    """A decoded set of no photos that left out ``too_small`` and ``unreadable`` (what _record_skipped reads)."""
    return CroppedPhotos(torch.zeros(0), torch.zeros(0), (), too_small=too_small, unreadable=unreadable)


def test_the_restoration_records_its_left_out_photos_with_the_shared_notes() -> None:
    lists = (["b.jpg (the same bytes as a.jpg)"], ["d.jpg (the same file as c.jpg)"], ["e.png (1x1)", "f.png (8x3000)"])
    bad = (["g.jpg (empty file)"], ["h.tif (not a TIFF)"])
    assert left_out_notes(*lists, *bad) == [
        "1 favourite could not be read, left out: g.jpg (empty file)",
        "1 source could not be read, left out: h.tif (not a TIFF)",
        "1 duplicate favourite left out: b.jpg (the same bytes as a.jpg)",
        "1 duplicate source left out: d.jpg (the same file as c.jpg)",
        f"2 favourites too small to learn from (under {MIN_PHOTO_SIDE} pixels a side) left out: "
        "e.png (1x1), f.png (8x3000)",
    ]
    summary: dict[str, object] = {}
    _record_skipped(summary, lists[0], lists[1], _photos(tuple(lists[2]), tuple(bad[0])), _photos((), tuple(bad[1])))
    assert summary == {
        "duplicate_targets_dropped": lists[0],
        "duplicate_sources_dropped": lists[1],
        "too_small_targets_skipped": lists[2],
        "unreadable_targets_skipped": bad[0],
        "unreadable_sources_skipped": bad[1],
        "notes": left_out_notes(*lists, *bad),
    }
    only_sources: dict[str, object] = {}
    _record_skipped(only_sources, [], lists[1], _photos(), None)
    assert only_sources == {"duplicate_sources_dropped": lists[1], "notes": [left_out_notes(*lists)[1]]}
    assert left_out_notes([], [], []) == []
    nothing: dict[str, object] = {}
    _record_skipped(nothing, [], [], _photos(), _photos())
    assert nothing == {}  # nothing left out: the style's metadata is unchanged


@pytest.mark.parametrize("method", ["restore", "gan"])
def test_unreadable_favourites_and_sources_are_named_in_the_summary(
    method: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    targets, sources, _ = write_style_folders(tmp_path / "data", n_targets=4, n_sources=3, n_heldout=0, size=24)
    (targets / "empty.jpg").write_bytes(b"")
    (sources / "text.png").write_text("not a photo")
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    argv = ["train", "--style", "bad", "--targets", str(targets), "--sources", str(sources), "--config", str(config)]
    argv += ["--run-dir", str(tmp_path / "run"), "--no-install", "--steps", "1", "--quiet", "--force"]
    rc = main([*argv, "--set", f"run.method={method}"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "  note: 1 favourite could not be read, left out: empty.jpg (" in out
    assert "  note: 1 source could not be read, left out: text.png (" in out


def test_a_folder_without_duplicates_keeps_its_summary_as_before(tmp_path: Path) -> None:
    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=4, n_sources=1, size=40, seed=3)
    s = _build_data(config_with(TINY), targets, None).summary
    assert not {"notes", "duplicate_targets_dropped", "too_small_targets_skipped"} & set(s)


def test_favourites_too_small_to_learn_from_are_skipped_and_named(tmp_path: Path) -> None:
    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=4, n_sources=1, size=40, seed=4)
    cv2.imwrite(str(targets / "one.png"), np.full((1, 1, 3), 128, np.uint8))
    cv2.imwrite(str(targets / "sliver.png"), np.full((8, 3000, 3), 128, np.uint8))
    photos = load_folder(list_photos(targets), cache_size=40, eval_size=48, crops=1, seed=0, min_side=MIN_PHOTO_SIDE)
    assert len(photos.names) == 4 and "one.png" not in photos.names and "sliver.png" not in photos.names
    assert photos.too_small[0] == "one.png (1x1)" and photos.too_small[1].startswith("sliver.png (")
    s = _build_data(config_with(TINY), targets, None).summary
    assert s["targets"] == 4 and len(s["too_small_targets_skipped"]) == 2
    assert any("too small to learn from" in n and "one.png" in n for n in s["notes"])
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    shutil.copy(targets / "one.png", tiny)
    with pytest.raises(NotFoundError, match=r"too small to learn from.*one\.png \(1x1\)"):
        load_folder(list_photos(tiny), cache_size=40, eval_size=48, crops=1, seed=0, min_side=MIN_PHOTO_SIDE)


def test_targets_that_are_a_file_or_only_broken_links_say_what_they_are(tmp_path: Path) -> None:
    photo = tmp_path / "a.png"
    cv2.imwrite(str(photo), np.full((20, 20, 3), 128, np.uint8))
    with pytest.raises(NotFoundError, match="is a file, not a folder"):
        list_photos(photo)
    loops = tmp_path / "loops"
    loops.mkdir()
    (loops / "a.png").symlink_to(loops / "b.png")
    (loops / "b.png").symlink_to(loops / "a.png")
    (loops / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    with pytest.raises(NotFoundError, match=r"no photos.*skipped 3 entries.*a\.png \(a symbolic link.*gone\.jpg"):
        list_photos(loops)


def _train_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="autoretouch")
    register(parser.add_subparsers())
    return parser.parse_args(["train", *argv])


def test_a_style_name_that_is_not_valid_is_refused_naming_the_style() -> None:
    with pytest.raises(TrainUsageError) as info:
        _check_mode(_train_args("--style", "my style", "--targets", "favs"))
    assert str(info.value).startswith("--style 'my style': not a valid style name")
    assert info.value.exit_code == 3  # a style error, as before


def test_minutes_zero_is_documented_as_no_limit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _train_args("--help")
    assert "0 = no time limit" in " ".join(capsys.readouterr().out.split())


def test_sources_that_are_the_targets_folder_are_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _warn_same_sources(_train_args("--style", "s", "--targets", str(tmp_path), "--sources", f"{tmp_path}/."))
    assert "is the --targets folder: there is nothing to learn from the sources" in capsys.readouterr().err
    _warn_same_sources(_train_args("--style", "s", "--targets", str(tmp_path), "--sources", str(tmp_path / "x")))
    assert capsys.readouterr().err == ""


def test_duplicate_before_after_pairs_are_dropped_but_two_edits_of_one_original_are_kept(tmp_path: Path) -> None:
    from trainer.data.pairs import find_pairs
    from trainer.restore_pairs import _unique_pairs, load_pair_set
    from trainer.synthetic import write_pair_folders

    before, after, _ = write_pair_folders(tmp_path / "pairs", n_pairs=4, size=32)
    first = sorted(before.iterdir())[0]
    edit = next(after.glob(f"{first.stem}.*"))
    shutil.copyfile(first, before / f"zz_copy{first.suffix}")  # the same pair under another name
    shutil.copyfile(edit, after / f"zz_copy{edit.suffix}")
    (before / f"zz_virtual{first.suffix}").symlink_to(first)  # the same original, another edit: kept
    shutil.copyfile(next(p for p in sorted(after.iterdir()) if p != edit), after / f"zz_virtual{edit.suffix}")
    pairs, _ = find_pairs(before, after)
    kept, dropped = _unique_pairs(pairs)
    assert [p.name for p in kept] == [p.name for p in pairs if p.name != "zz_copy"]
    assert dropped == [f"zz_copy (the same original and edit as {first.stem})"]
    cfg = config_with(TINY | {"restore": {**TINY["restore"], "fit_size": 32, "fit_iters": 5}})
    ps = load_pair_set(cfg, before, after, ("exposure", "contrast", "temperature"))
    assert "zz_copy" not in ps.names and ps.source["duplicate_pairs_dropped"] == dropped
    assert ps.source["notes"] == [f"1 duplicate before/after pair left out: {dropped[0]}"]
