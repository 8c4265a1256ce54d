"""The nearest-edits share of a style learnt from pairs, chosen by its cross-fitted check (``restore.nearest_blends``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.agent.style import load_style
from testing.training import config_with
from trainer.distributed import DistInfo
from trainer.restore_pairs import _choose_blend, crossfit_check, load_pair_set
from trainer.synthetic import write_pair_folders
from trainer.train import train

TINY = {
    "agent": {"sliders": ["exposure", "contrast", "temperature"], "width": 16, "thumb": 32, "dropout": 0.0},
    "data": {"crops_per_image": 2, "eval_size": 48},
    "restore": {"batch": 8, "pool_per_target": 12, "eval_every": 40, "lr": 1e-2, "fit_size": 32, "fit_iters": 150},
    "run": {"style": "mine", "steps": 1, "seed": 0, "threads": 1, "log_every": 20},
}


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
    assert check["val_psnr"] == pytest.approx(by_share["1"], abs=0.01)
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
