"""Training from before/after pairs (``train --pairs``): aligned views, recipe fits, weights, nearest edits."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.agent.nearest import nearest_recipe
from backend.agent.rollout import rollout
from backend.agent.style import StyleError, StyleStore, load_style, save_style, validate_metadata
from backend.agent.suggest import suggest_for_image
from backend.agent.thumbnail import make_thumbnail
from backend.encode import write_image
from backend.errors import AutoretouchError
from backend.recipe import RECIPE_VERSION, Recipe, blend, median
from backend.render.pipeline import render
from testing.training import config_with, write_tiny_pairs_toml
from trainer.data.pairs import find_pairs, load_paired_views
from trainer.distributed import DistInfo
from trainer.eval_cli import Pair, evaluate_pairs
from trainer.metrics import pooled_psnr
from trainer.restore_pairs import (
    MAX_EXAMPLES,
    _choose_blend,
    crossfit_check,
    example_indices,
    load_pair_set,
    pair_weight,
)
from trainer.synthetic import HIDDEN_RECIPE, smooth_images, write_pair_folders
from trainer.train import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {
    "agent": {"sliders": ["exposure", "contrast", "temperature"], "width": 16, "thumb": 32, "dropout": 0.0},
    "data": {"crops_per_image": 2, "eval_size": 48},
    "restore": {"batch": 8, "pool_per_target": 12, "eval_every": 40, "lr": 1e-2, "fit_size": 32, "fit_iters": 80},
    "run": {"style": "mine", "steps": 200, "seed": 0, "threads": 1, "log_every": 20},
}


def test_paired_views_cut_the_same_windows_of_both_photos(tmp_path: Path) -> None:
    scene = smooth_images(1, 64, seed=3)
    for sub in ("a", "b", "test/in", "test/ref"):
        (tmp_path / sub).mkdir(parents=True)
    write_image(tmp_path / "b" / "one.png", scene, bit_depth=16)
    write_image(tmp_path / "a" / "one.png", scene * 2.0, bit_depth=16)  # +1 EV, same framing
    # an edit exported at another size is squeezed onto the original's frame
    small = torch.nn.functional.interpolate(scene, size=(48, 40), mode="area")
    write_image(tmp_path / "b" / "two.png", scene, bit_depth=16)
    write_image(tmp_path / "a" / "two.png", small * 2.0, bit_depth=16)
    write_image(tmp_path / "a" / "lonely.png", scene, bit_depth=16)
    pairs, unmatched = find_pairs(tmp_path / "b", tmp_path / "a", allow_unmatched=True)
    assert [p.name for p in pairs] == ["one", "two"] and [u.name for u in unmatched] == ["lonely.png"]
    views = load_paired_views(pairs, cache_size=24, eval_size=32, crops=4, seed=0)
    assert views.before_crops.shape == views.after_crops.shape == (2, 4, 3, 24, 24)
    ratio = views.after_crops[0] / views.before_crops[0].clamp_min(1e-4)
    assert float((ratio - 2.0).abs().max()) < 0.02  # every view of the edit is the same window, twice as bright
    assert float((views.after_evals[1] / views.before_evals[1] - 2.0).abs().mean()) < 0.1


def test_a_style_keeps_at_most_max_examples_evenly_spaced() -> None:
    assert example_indices(5) == [0, 1, 2, 3, 4]
    many = example_indices(5000)
    assert len(many) == MAX_EXAMPLES and many[0] == 0 and many[-1] == 4999
    assert max(b - a for a, b in itertools.pairwise(many)) <= 6


def test_poorly_fitted_pairs_count_less() -> None:
    assert pair_weight(38.0, 25.0) == 1.0 and pair_weight(25.0, 25.0) == 1.0
    assert pair_weight(22.0, 25.0) == pytest.approx(0.7)
    assert pair_weight(5.0, 25.0) == pytest.approx(0.1)


def _exposure(net: object, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        traj = rollout(net, make_thumbnail(images, net.thumb), render_final=False)  # type: ignore[attr-defined]
    return traj.settings["exposure"]


def test_pairs_teach_an_exposure_that_depends_on_the_photo(tmp_path: Path) -> None:
    before, after, scenes = write_pair_folders(tmp_path / "data", n_pairs=16, size=48, seed=1, n_unfittable=1)
    styles = tmp_path / "styles"
    result = train(config_with(TINY), targets=None, pairs=(before, after), run_dir=tmp_path / "run", install_dir=styles)
    assert result.rejected is None and result.installed_path is not None
    style = load_style(styles / "mine.safetensors")
    t = style.training
    assert t["learned_from"] == "pairs" and t["pairs"] == 17 and t["fit_psnr_mean"] > 25.0
    assert [p["pair"] for p in t["poor_fits"]] == ["x000"] and t["poor_fits"][0]["weight"] < 1.0
    assert result.metrics["val_gain_db"] > 1.0

    # the same scene shot 1 EV too dark gets more exposure than shot 1 EV too bright
    with torch.no_grad():
        dark, bright = render(scenes, {"exposure": -1.0}), render(scenes, {"exposure": 1.0})
    up, down = _exposure(style.net, dark), _exposure(style.net, bright)
    assert float(up.mean()) > HIDDEN_RECIPE["exposure"] + 0.4, up
    assert float(down.mean()) < HIDDEN_RECIPE["exposure"] - 0.4, down

    # the fitted recipes travel with the style: nearest edits, and eval reports them beside the style
    ex = style.examples
    assert ex is not None and len(ex["recipes"]) == 17 and len(ex["features"][0]) == 10
    assert ex["weights"][ex["names"].index("x000")] < 1.0
    near = nearest_recipe(ex, dark[:1])
    # the style's suggestion mixes its agent, half and half (restore.nearest_blend), with the weighted median of
    # all its examples' recipes (restore.mix_k = 0, mix_centre = "median"), not with the mean of all of them nor
    # with the 5 nearest that eval reports as the baseline
    assert ex["blend"] == 0.5 and ex["mix_k"] == 0 and ex["mix_centre"] == "median" and ex["k"] == 5
    recipes = [Recipe.from_dict({"version": RECIPE_VERSION, "steps": st}) for st in ex["recipes"]]
    weights = [max(w, 1e-3) for w in ex["weights"]]
    median_edit, mean_edit = median(recipes, weights), blend(recipes, weights)
    for other in (near, mean_edit):
        assert median_edit.value("exposure") != pytest.approx(other.value("exposure"), abs=1e-3)
    (suggested,) = suggest_for_image(dark[:1], [(style, 1.0)])
    agent_only = float(_exposure(style.net, dark[:1])[0])
    mixed = 0.5 * agent_only + 0.5 * float(median_edit.value("exposure"))  # type: ignore[arg-type]
    assert float(suggested.value("exposure")) == pytest.approx(mixed, abs=1e-3)  # type: ignore[arg-type]
    assert suggested.style == "mine" and suggested.model == style.model
    for sub in ("test/in", "test/ref"):
        (tmp_path / sub).mkdir(parents=True)
    assert near.style == "nearest" and float(near.value("exposure")) > 0.3  # type: ignore[arg-type]
    write_image(tmp_path / "test" / "in" / "d.png", dark[:1], bit_depth=16)
    write_image(tmp_path / "test" / "ref" / "d.png", render(scenes[:1], HIDDEN_RECIPE), bit_depth=16)
    ev = evaluate_pairs([Pair("d", tmp_path / "test/in/d.png", tmp_path / "test/ref/d.png")], [(style, 1.0)], size=48)
    assert ev.methods == ["identity", "auto", "nearest", "style"]
    scores = ev.per_photo[0]["metrics"]
    assert scores["style"]["psnr"] > scores["identity"]["psnr"] + 3.0
    assert scores["nearest"]["psnr"] > scores["identity"]["psnr"]


def test_style_examples_round_trip_and_are_checked(tmp_path: Path) -> None:
    before, after, _ = write_pair_folders(tmp_path / "data", n_pairs=4, size=32, seed=2)
    result = train(
        config_with(TINY, run={"steps": 5}),
        targets=None,
        pairs=(before, after),
        run_dir=tmp_path / "r",
        install_dir=None,
    )
    style = load_style(result.style_path)
    assert style.examples is not None and style.examples["names"] == ["p000", "p001", "p002", "p003"]
    save_style(style, tmp_path / "again")
    assert load_style(tmp_path / "again" / "mine.safetensors").examples == style.examples
    meta = json.loads((tmp_path / "again" / "mine.json").read_text()) | {"examples": [1, 2]}
    with pytest.raises(StyleError, match="examples"):
        validate_metadata(meta, tmp_path / "again" / "mine.json")
    # malformed examples inside an object: the style lists (0 examples) and says what is wrong when it suggests
    odd = dataclasses.replace(style, examples={"recipes": "many", "features": "x", "blend": 0.5})
    save_style(odd, tmp_path / "odd")
    (info,) = StyleStore([tmp_path / "odd"]).list()
    assert info.error is None and info.to_dict()["examples"] == 0
    with pytest.raises(AutoretouchError, match="examples"):
        suggest_for_image(torch.rand(1, 3, 32, 32), [(load_style(tmp_path / "odd" / "mine.safetensors"), 1.0)])


def test_train_cli_pairs(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.cli.main import main

    monkeypatch.setenv("AUTORETOUCH_STYLES", str(tmp_path / "styles"))
    before, after, _ = write_pair_folders(tmp_path / "data", n_pairs=6, size=32, seed=4)
    assert (
        main(["train", "--style", "s", "--pairs", str(before), str(after), "--targets", str(after)]) == 2
    )  # a usage mistake
    assert "--pairs" in capsys.readouterr().err
    config = tmp_path / "tiny.toml"
    write_tiny_pairs_toml(config)
    args = ["train", "--style", "s", "--pairs", str(before), str(after), "--steps", "10", "--config", str(config)]
    assert main([*args, "--run-dir", str(tmp_path / "run"), "--json", "--force", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["learned_from"] == "pairs" and summary["steps"] == 10
    assert main(["styles", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    mine = next(s for s in listed["styles"] if s["name"] == "s")
    assert mine["examples"] == 6 and mine["training"]["learned_from"] == "pairs"


def test_three_pairs_are_scored_on_their_training_pairs_and_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from backend.cli.main import main

    before, after, _ = write_pair_folders(tmp_path / "data", n_pairs=3, size=32, seed=4)
    config = tmp_path / "tiny.toml"
    write_tiny_pairs_toml(config)
    args = ["train", "--style", "s", "--pairs", str(before), str(after), "--steps", "10", "--config", str(config),
            "--install-dir", str(tmp_path / "styles"), "--quiet"]  # fmt: skip
    assert main([*args, "--run-dir", str(tmp_path / "run")]) == 0  # installed: it beats doing nothing there
    out = capsys.readouterr().out
    assert "  its training pairs (too few pairs to check on unseen ones), original -> edit:" in out
    assert "not checked on pairs it did not see" in out and "pairs it did not see," not in out
    meta = json.loads((tmp_path / "styles" / "s.json").read_text(encoding="utf-8"))
    check = meta["training"]["check"]
    assert check["kind"] == "in-sample" and check["unseen"] is False and "too few pairs (3)" in check["reason"]
    assert check["psnr"] == pytest.approx(meta["metrics"]["val_psnr"], abs=0.01)
    assert meta["metrics"]["val_unseen"] == 0.0
    # refused in-sample: the message says where it was scored, not "on the held-out pairs"
    refused = main([*args, "--run-dir", str(tmp_path / "run2"), "--set", "restore.min_gain_db=99"])
    err = capsys.readouterr().err
    assert refused == 10
    assert "not installed: on its training pairs (too few pairs to check it on unseen ones) it scores" in err
    assert "held-out" not in err


def test_the_help_and_the_refusal_describe_the_cross_fitted_check() -> None:
    from types import SimpleNamespace

    from trainer.cli import _EPILOG
    from trainer.restore import _check_place

    assert "A fifth of the pairs is held out" not in _EPILOG and "The check is cross-fitted" in _EPILOG
    crossfit = SimpleNamespace(summary={"held_out_pairs": [], "check": {"kind": "2-fold cross-fitted"}})
    assert _check_place(crossfit) == "pairs it did not see (2-fold cross-fitted check)"  # type: ignore[arg-type]
    held = SimpleNamespace(summary={"held_out_targets": ["a"], "check": {"kind": "held-out"}})
    assert _check_place(held) == "the held-out favourites"  # type: ignore[arg-type]


def test_the_cross_fitted_check_chooses_the_nearest_share_that_scores_best(tmp_path: Path) -> None:
    look = {"contrast": 25.0, "temperature": 30.0}  # one look on every photo: the nearest edits are exact
    before, after, _ = write_pair_folders(tmp_path / "d", n_pairs=8, size=48, seed=2, recipe=look, exposure_spread=0.0)
    cfg = config_with(TINY, restore={"nearest_blends": [0.0, 0.5, 1.0]})
    ps = load_pair_set(cfg, before, after, ("exposure", "contrast", "temperature"))
    check = crossfit_check(cfg, ps, 2, steps=5, minutes=0.0, info=DistInfo())
    assert check["blend"] == 1.0 and check["summary"]["blend"] == 1.0
    by_share = check["summary"]["blend_psnr"]
    assert by_share["1"] > by_share["0.5"] > by_share["0"]
    for p in check["per_pair"]:
        # share 0 is the agent alone, as suggested (moves under 1 % of a slider's range are left out of a recipe)
        assert p["mixes"][0] == pytest.approx(p["agent"], abs=1.0)
        assert p["style"] == p["mixes"][2]
    assert by_share["1"] == pytest.approx(np.mean([p["style"] for p in check["per_pair"]]), abs=0.01)
    assert check["val_psnr"] == pytest.approx(pooled_psnr([p["style"] for p in check["per_pair"]]))
    plain = crossfit_check(
        config_with(TINY, restore={"nearest_blends": []}), ps, 2, steps=5, minutes=0.0, info=DistInfo()
    )
    assert plain["blend"] is None and "mixes" not in plain["per_pair"][0]


def test_a_style_from_pairs_keeps_the_share_its_check_chose(tmp_path: Path) -> None:
    look = {"contrast": 25.0, "temperature": 30.0}
    before, after, _ = write_pair_folders(tmp_path / "d", n_pairs=8, size=48, seed=2, recipe=look, exposure_spread=0.0)
    cfg = config_with(TINY, restore={"nearest_blends": [0.25, 1.0]}, run={"steps": 10})
    result = train(cfg, targets=None, pairs=(before, after), run_dir=tmp_path / "run", install_dir=tmp_path / "s")
    style = load_style(tmp_path / "s" / "mine.safetensors")
    assert style.examples is not None and style.examples["blend"] == 1.0
    assert result.metrics["val_psnr"] > result.metrics["val_psnr_identity"] + 10.0


def _pairs(*mixes: list[float]) -> list[dict[str, object]]:
    return [{"pair": f"p{i}", "style": 20.0, "identity": 18.0, "mixes": list(m)} for i, m in enumerate(mixes)]


def test_the_default_share_stays_unless_another_wins_clearly() -> None:
    # share 1 is best on average, but on one pair of four it loses a lot: not clear, the default (0.5) stays
    noisy = _pairs([20.0, 21.0, 24.0], [20.0, 21.0, 24.0], [20.0, 21.0, 23.0], [20.0, 21.0, 15.0])
    choice = _choose_blend(noisy, (0.0, 0.5, 1.0), 0.5)
    assert choice["blend"] == 0.5 and choice["blend_psnr"]["1"] > choice["blend_psnr"]["0.5"]
    assert [p["style"] for p in noisy] == [21.0] * 4 and [p["agent"] for p in noisy] == [20.0] * 4
    # better on every pair by a similar amount: chosen
    clear = _pairs([20.0, 21.0, 23.0], [20.0, 21.0, 23.5], [20.0, 21.0, 22.5], [20.0, 21.0, 23.2])
    choice = _choose_blend(clear, (0.0, 0.5, 1.0), 0.5)
    assert choice["blend"] == 1.0 and [p["style"] for p in clear] == [23.0, 23.5, 22.5, 23.2]
    gain, se = choice["blend_gain_se"]
    assert gain == pytest.approx(2.05, abs=0.01) and 0.0 < se < gain / 2


def _same_settings_on_eight_photos(folder: Path, settings: dict[str, object]) -> list[dict[str, object]]:
    photos = smooth_images(8, 64, seed=5)
    items: list[dict[str, object]] = []
    for i in range(8):
        path = folder / f"p{i}.png"
        write_image(path, photos[i : i + 1], bit_depth=16)
        items.append({"path": str(path), "settings": {"ProcessVersion": "11.0", **settings}})
    return items


def test_one_lightroom_preset_on_every_photo_trains_a_style_that_is_the_preset(tmp_path: Path) -> None:
    # the edits are our own renders of the mapped settings, so the nearest edits reproduce them exactly: the
    # check's scores are capped (not infinite), the style can be saved and it takes the preset whole
    items = _same_settings_on_eight_photos(tmp_path, {"Exposure2012": 1.0})
    cfg = config_with(TINY, run={"steps": 10})
    result = train(cfg, targets=None, edits=items, run_dir=tmp_path / "run", install_dir=tmp_path / "s")
    assert result.rejected is None and result.installed_path is not None
    meta = json.loads((tmp_path / "s" / "mine.json").read_text(encoding="utf-8"))
    check = meta["training"]["check"]
    assert check["blend"] == 1.0 and check["blend_psnr"]["1"] == 100.0
    assert meta["examples"]["blend"] == 1.0


def test_edits_that_changed_nothing_give_a_finite_check(tmp_path: Path) -> None:
    # doing nothing reproduces every "edit": its PSNR is capped like the rest, so the style's metadata can be saved
    items = _same_settings_on_eight_photos(tmp_path, {})
    cfg = config_with(TINY, run={"steps": 10, "force": True})
    result = train(cfg, targets=None, edits=items, run_dir=tmp_path / "run", install_dir=tmp_path / "s")
    check = json.loads((tmp_path / "run" / "style" / "mine.json").read_text(encoding="utf-8"))["training"]["check"]
    assert check["identity_psnr"] == 100.0 and result.style_path is not None


def test_one_pair_left_unedited_does_not_decide_the_check_alone(tmp_path: Path) -> None:
    """A favourite the photographer left as shot scores "perfect" for doing nothing; the pairs count together."""
    import shutil

    look = {"exposure": 0.8, "contrast": 40.0, "temperature": 40.0}
    before, after, _ = write_pair_folders(tmp_path / "d", n_pairs=4, size=48, seed=2, recipe=look, exposure_spread=0.0)
    shutil.copyfile(before / "p000.png", after / "p000.png")  # p000: left as shot
    cfg = config_with(TINY, restore={"nearest_blends": [1.0]})  # the style: the pairs' median recipe
    ps = load_pair_set(cfg, before, after, ("exposure", "contrast", "temperature"))
    check = crossfit_check(cfg, ps, 2, steps=5, minutes=0.0, info=DistInfo())
    by_pair = {p["pair"]: p for p in check["per_pair"]}
    assert by_pair["p000"]["identity"] == 100.0  # capped: doing nothing reproduces it exactly
    assert check["val_psnr_identity"] == pytest.approx(pooled_psnr([p["identity"] for p in check["per_pair"]]))
    edited = [p["identity"] for name, p in by_pair.items() if name != "p000"]
    assert check["val_psnr_identity"] < max(edited) + 1.5  # the mean in dB would be lifted by ~20 dB
    assert check["val_psnr"] > check["val_psnr_identity"] + 3.0  # the look on the three edited photos wins


def test_pooled_psnr_is_the_psnr_of_the_mean_squared_error() -> None:
    assert pooled_psnr([20.0, 20.0]) == pytest.approx(20.0)
    assert pooled_psnr([100.0, 20.0, 20.0, 20.0]) == pytest.approx(20.0 + 10 * np.log10(4 / 3))
    assert pooled_psnr([float("inf"), 30.0]) == pytest.approx(30.0 + 10 * np.log10(2))
    assert pooled_psnr([float("inf"), float("inf")]) == 100.0 and np.isnan(pooled_psnr([]))
    assert np.isnan(pooled_psnr([float("nan"), 20.0]))


def test_pairs_name_the_subfolders_they_do_not_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from testing.training import run_tiny_train, smooth_pair_folders, write_exposure_shots

    (tmp_path / "data").mkdir()
    before, after = smooth_pair_folders(tmp_path / "data")
    for sub in (before / "2024-05-01", after / ".cache", after / "2024-05-01"):
        sub.mkdir()
        write_exposure_shots(sub, smooth_images(1, 32, seed=1), ["x.png"])
    run = run_tiny_train(tmp_path, ["--pairs", str(before), str(after)])
    assert run.rc == 0 and run.record["pairs"] == 4  # the same pairs as without the subfolders
    unread = [str(before / "2024-05-01"), str(after / "2024-05-01")]  # the hidden folder is not named
    assert run.record["subfolders_not_read"] == unread
    note = f"2 subfolders with photos not read (training reads the photos directly in each folder given): {unread[0]}"
    assert f"  note: {note}, {unread[1]}\n" in capsys.readouterr().out
    # a folder of film rolls, no photo of its own: refused, naming them
    rolls = tmp_path / "rolls"
    for day in ("2024-05-01", "2024-05-02"):
        (rolls / day).mkdir(parents=True)
        write_exposure_shots(rolls / day, smooth_images(1, 32, seed=1), ["p0.png"])
    assert run_tiny_train(tmp_path, ["--pairs", str(rolls), str(after)]).rc == 6  # NotFoundError
    assert (
        f"{rolls}: no photo in this folder; its subfolders are not read (2024-05-01, 2024-05-02): give a subfolder"
        in capsys.readouterr().err
    )
