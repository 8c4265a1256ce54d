"""``train --pairs --minutes``: the recipe fits keep within the run's time; with ``--steps`` they are as before.

The README promises that with pairs ``--minutes`` bounds the whole run, fitting included. A fit given a deadline
(:func:`trainer.pseudo_labels.fit_recipes`) plans fewer iterations when the ones asked for would not fit, stops at
the deadline, and keeps each photo's best iterate; the run's summary says when fits were cut short. Without a
deadline the fit is the old one, bit for bit.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from backend.cli.main import main
from testing.recipe_fits import FIT_SLIDERS, three_edited_scenes
from testing.training import write_tiny_pairs_toml
from trainer.pseudo_labels import fit_recipes
from trainer.synthetic import write_pair_folders

#: The fitted recipes of :func:`~testing.recipe_fits.three_edited_scenes` with 20 iterations as the code before
#: deadlines gave them (commit 547041c).
OLD_RECIPES = [
    {"exposure": 0.5416651964187622, "contrast": -18.69283676147461, "temperature": 15.654559135437012},
    {"exposure": 0.5056664347648621, "contrast": -11.48835563659668, "temperature": 19.524877548217773},
    {"exposure": 0.6587815284729004, "contrast": -26.072729110717773, "temperature": 17.749425888061523},
]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_without_a_deadline_the_fit_is_the_old_one() -> None:
    x, y = three_edited_scenes()
    plain = fit_recipes(x, y, [FIT_SLIDERS] * 3, iters=20)
    far = fit_recipes(x, y, [FIT_SLIDERS] * 3, iters=20, deadline=time.monotonic() + 1e6)
    assert [f.values for f in plain] == [f.values for f in far]  # bit-identical: the deadline never bit
    assert [f.iters for f in plain] == [20, 20, 20] == [f.iters for f in far]
    for fit, old in zip(plain, OLD_RECIPES, strict=True):
        assert fit.values == pytest.approx(old, rel=1e-6, abs=1e-6)  # exact on CPU; the slack is for other BLAS


def test_a_deadline_passed_keeps_the_start_and_says_so() -> None:
    x, y = three_edited_scenes()
    fits = fit_recipes(x, y, [FIT_SLIDERS] * 3, iters=20, deadline=time.monotonic() - 1.0)
    start = fit_recipes(x, y, [FIT_SLIDERS] * 3, iters=0)
    assert [f.iters for f in fits] == [0, 0, 0]
    assert [f.values for f in fits] == [f.values for f in start]


def test_minutes_cut_the_fits_short_and_the_summary_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after, _ = write_pair_folders(tmp_path / "data", n_pairs=40, size=32, seed=4)
    config = tmp_path / "tiny.toml"
    write_tiny_pairs_toml(config, ["exposure", "temperature"], fit_iters=100000)
    run = tmp_path / "run"
    argv = ["train", "--style", "s", "--pairs", str(before), str(after), "--minutes", "0.1", "--config", str(config)]
    t0 = time.monotonic()
    rc = main([*argv, "--run-dir", str(run), "--no-install", "--force", "--json", "--quiet"])
    seconds = time.monotonic() - t0
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0
    training = json.loads((run / "style" / "s.json").read_text(encoding="utf-8"))["training"]
    cut = training["fit_cut_short"]
    assert cut["pairs"] == 40 and cut["fit_iters"] == 100000 and cut["fewest_iters"] < 100000
    assert training["fit_seconds"] < 60.0  # 100000 iterations of 3 batches would take hours; 3 s are planned
    assert any(
        n.startswith("the recipe fits of 40 pairs were cut short to keep within --minutes") for n in summary["notes"]
    )
    assert seconds < 300.0  # a generous bound: the run is planned to take 6 s


def test_steps_runs_fit_every_iteration(tmp_path: Path) -> None:
    from testing.training import config_with
    from trainer.restore_pairs import load_pair_set

    before, after, _ = write_pair_folders(tmp_path / "data", n_pairs=4, size=32, seed=4)
    cfg = config_with({"restore": {"fit_iters": 5, "fit_size": 16}, "data": {"eval_size": 32}})
    ps = load_pair_set(cfg, before, after, ("exposure",))
    assert [f.iters for f in ps.fits] == [5] * 4
    assert "fit_cut_short" not in ps.source and "all_fits_poor" not in ps.source
