"""``train --pairs --minutes``: the cross-fitted check keeps to its share of the run's time.

It overran it on a loaded machine (24 pairs, ``--minutes 0.25``: 56 s for the check alone): each fold's first
scoring and the nearest-edits share choice (five renders per pair) were outside any deadline. With a deadline
(:func:`trainer.restore_pairs.crossfit_check`) each fold's training gets its share less its scoring, and once the
deadline has passed the check does the minimum, scoring every pair at the default share only, and says so. Without
one (``--steps``) it is as before. No test here depends on how fast the machine is: the deadlines are long past.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from testing.training import config_with, write_tiny_pairs_toml
from trainer.config import TrainConfig
from trainer.distributed import DistInfo
from trainer.restore_pairs import PairSet, _record_check_notes, crossfit_check, load_pair_set
from trainer.synthetic import write_pair_folders

SLIDERS = ("exposure", "temperature")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainConfig, PairSet]:
    before, after, _ = write_pair_folders(tmp_path_factory.mktemp("data"), n_pairs=6, size=32, seed=4)
    cfg = config_with(
        {
            "agent": {"sliders": list(SLIDERS), "width": 8, "thumb": 32},
            "data": {"crops_per_image": 2, "eval_size": 32},
            "restore": {"pool_per_target": 4, "fit_size": 16, "fit_iters": 5, "eval_every": 5},
        }
    )
    return cfg, load_pair_set(cfg, before, after, SLIDERS)


def test_a_check_out_of_time_does_the_minimum_and_says_so(pairs: tuple[TrainConfig, PairSet]) -> None:
    cfg, ps = pairs
    past = time.monotonic() - 1.0
    result = crossfit_check(cfg, ps, 2, steps=1000, minutes=0.5, info=DistInfo(), deadline=past)
    summary = result["summary"]
    assert summary["fold_steps"] == [0, 0] and summary["out_of_time"] is True
    assert summary["blend"] == 0.5 and result["blend"] == 0.5  # restore.nearest_blend kept, not chosen
    assert summary["blend_not_chosen"] == "no time left to compare the shares" and "blend_psnr" not in summary
    assert sorted(p["pair"] for p in result["per_pair"]) == sorted(ps.names)  # every pair is still scored
    for p in result["per_pair"]:  # at the default share only (shares 0, 0.25, 0.5, 0.75, 1)
        assert [m is not None for m in p["mixes"]] == [False, False, True, False, False]
        assert p["style"] == p["mixes"][2]
    notes: dict[str, list[str]] = {}
    _record_check_notes(notes, summary)
    assert notes["notes"] == [
        "the cross-fitted check ran out of --minutes: its agents were trained 0 and 0 steps; the nearest-edits "
        "share was not chosen (0.5 kept), so it says less about the style; more minutes make it a fair check"
    ]


def test_a_check_with_time_to_spare_chooses_the_share_and_says_nothing(pairs: tuple[TrainConfig, PairSet]) -> None:
    cfg, ps = pairs
    far = time.monotonic() + 3600.0
    result = crossfit_check(cfg, ps, 2, steps=3, minutes=0.0, info=DistInfo(), deadline=far)
    summary = result["summary"]
    assert summary["fold_steps"] == [3, 3] and "out_of_time" not in summary
    assert "blend_psnr" in summary and all(None not in p["mixes"] for p in result["per_pair"])
    notes: dict[str, list[str]] = {}
    _record_check_notes(notes, summary)
    assert notes == {}


def test_a_steps_check_is_as_before(pairs: tuple[TrainConfig, PairSet]) -> None:
    cfg, ps = pairs
    first = crossfit_check(cfg, ps, 2, steps=3, minutes=0.0, info=DistInfo())
    again = crossfit_check(cfg, ps, 2, steps=3, minutes=0.0, info=DistInfo())
    assert not {"fold_steps", "out_of_time", "blend_not_chosen"} & set(first["summary"])
    assert first["per_pair"] == again["per_pair"]  # deterministic, bit for bit
    timed = crossfit_check(
        cfg,
        ps,
        2,
        steps=3,
        minutes=0.0,
        info=DistInfo(),
        deadline=time.monotonic() + 3600.0,
    )
    assert timed["per_pair"] == first["per_pair"]  # a deadline that never bites changes no score


def test_a_tiny_minutes_run_notes_a_check_out_of_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real run whose --minutes are spent before the check: the check is cut, the run finishes and says so."""
    import json

    from backend.cli.main import main

    before, after, _ = write_pair_folders(tmp_path / "data", n_pairs=6, size=32, seed=4)
    config = tmp_path / "tiny.toml"
    write_tiny_pairs_toml(config, fit_iters=30)
    run = tmp_path / "run"
    argv = ["train", "--style", "s", "--pairs", str(before), str(after), "--minutes", "0.0001"]
    rc = main([*argv, "--config", str(config), "--run-dir", str(run), "--no-install", "--force", "--json", "--quiet"])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0
    check = json.loads((run / "style" / "s.json").read_text(encoding="utf-8"))["training"]["check"]
    assert check["out_of_time"] is True and check["fold_steps"] == [0, 0]
    assert any(n.startswith("the cross-fitted check ran out of --minutes") for n in summary["notes"])
    recorded: dict[str, list[str]] = {}
    _record_check_notes(recorded, check)  # the whole note of the recorded check, as the unit test above words it
    (note,) = recorded["notes"]
    assert note in summary["notes"] and "its agents were trained 0 and 0 steps" in note


def test_a_run_whose_check_trained_nothing_is_not_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --force, a run whose check (or whose style) trained 0 steps is refused: it was not judged.

    Its untrained agent proposes no edit, so it scores exactly as doing nothing (a gain of 0.00 dB, which
    ``restore.min_gain_db = 0`` alone would pass); the refusal says why and what to do (review).
    """
    import json

    from backend.cli.main import main

    before, after, _ = write_pair_folders(tmp_path / "data", n_pairs=6, size=32, seed=4)
    config = tmp_path / "tiny.toml"
    write_tiny_pairs_toml(config, fit_iters=30, more="nearest_blend = 0.0\nnearest_blends = []\n")
    run = tmp_path / "run"
    argv = ["train", "--style", "s", "--pairs", str(before), str(after), "--minutes", "0.0001"]
    styles = tmp_path / "styles"
    monkeypatch.setenv("AUTORETOUCH_STYLES", str(styles))
    rc = main([*argv, "--config", str(config), "--run-dir", str(run), "--json", "--quiet"])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 10 and summary["installed_path"] is None
    assert not list(styles.glob("s*.safetensors"))
    assert "it trained 0 steps in the time given" in summary["rejected"]
    assert "its cross-fitted check trained 0, 0 steps" in summary["rejected"]
    assert "give it more --minutes" in summary["rejected"]
