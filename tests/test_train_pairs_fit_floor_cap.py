"""``train --pairs --minutes``: the fits' floor no longer overruns ``--minutes`` in proportion to the pairs.

Every pair's fit had at least 30 iterations past the deadline (``test_train_pairs_fit_floor``): 1000 pairs (63
batches) at 0.15 s an iteration overran a ``--minutes 1`` run by about 5 minutes. The floor is now lowered, not
below 10, where the batches' floors would overrun by more than a share of the time left
(:func:`trainer.pair_fit.fit_floor`), and the cut-short note says so. No test here depends on timing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from testing.training import config_with
from trainer import pair_fit
from trainer.pair_fit import _LOWEST_FIT_FLOOR, _MIN_FIT_ITERS, fit_floor
from trainer.restore_pairs import load_pair_set
from trainer.synthetic import write_pair_folders

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_floor_keeps_the_overrun_within_its_allowance() -> None:
    assert fit_floor(15.0, 63, 0.15) == _LOWEST_FIT_FLOOR  # 1000 pairs, --minutes 1: 10, not 30 (~95 s, not ~280)
    assert fit_floor(150.0, 63, 0.15) == 15  # 63 x 15 x 0.15 s = 142 s <= 150 s
    assert 63 * fit_floor(150.0, 63, 0.15) * 0.15 <= 150.0
    assert fit_floor(15.0, 2, 0.15) == _MIN_FIT_ITERS  # few pairs: as before
    assert fit_floor(15.0, 63, None) == fit_floor(15.0, 63, 0.0) == _MIN_FIT_ITERS  # not measured yet
    assert fit_floor(0.0, 63, 0.15) == _LOWEST_FIT_FLOOR  # never below
    assert fit_floor(float("inf"), 63, 0.15) == _MIN_FIT_ITERS  # never above


def test_a_lowered_floor_fits_the_later_batches_less_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, after, _ = write_pair_folders(tmp_path / "data", n_pairs=18, size=32, seed=4)  # two batches
    monkeypatch.setattr(pair_fit, "fit_floor", lambda *_: 12)  # as a slow machine with many pairs gets
    cfg = config_with({"restore": {"fit_iters": 200, "fit_size": 16}, "data": {"eval_size": 32}})
    ps = load_pair_set(cfg, before, after, ("exposure", "temperature"), deadline=time.monotonic() - 1.0)
    assert [f.iters for f in ps.fits] == [_MIN_FIT_ITERS] * 16 + [12] * 2  # the first batch measures the time
    assert ps.source["fit_cut_short"] == {"pairs": 18, "fewest_iters": 12, "fit_iters": 200, "floor_lowered": True}
    [note] = [n for n in ps.source["notes"] if n.startswith("the recipe fits of 18 pairs were cut short")]
    assert note.endswith(
        f"; so many pairs would have overrun --minutes by too much at {_MIN_FIT_ITERS} iterations each that fits "
        f"past the deadline had fewer (at least {_LOWEST_FIT_FLOOR})"
    )
