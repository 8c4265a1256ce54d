"""``train --pairs`` with edits that are their original rotated: turned back before fitting.

A photographer who rotates photos in the editor (or exports portraits of landscape raws that carry no
orientation tag) hands the trainer edits whose pixels are the originals' turned a quarter turn. The trainer turns
each back onto its original's frame before fitting, names it in the log and the summary, and learns what it would
have learnt from the unrotated edits; an edit that is a crop keeps the poor-fit handling, with a message that says
the frames differ; when no pair fits well the summary says so.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from backend.agent.style import load_style
from backend.agent.suggest import suggest_for_photo
from backend.encode import write_image
from backend.render.pipeline import render
from testing.training import run_tiny_train, tiny_pairs_toml
from trainer.data.rotation import TURNS, frame_turns, undo_turn
from trainer.synthetic import smooth_images

#: A seconds-long paired run (as tests/test_train_summary_unreadable_pairs.py), fitting exposure and temperature.
TINY_TOML = tiny_pairs_toml(("exposure", "temperature"), fit_iters=40)
#: The edit: brighter and warmer.
EDIT = {"exposure": 0.7, "temperature": 25.0}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _write_pairs(root: Path, n: int, *, turn: str | None = None, crop: bool = False) -> tuple[Path, Path]:
    """``n`` landscape 48x32 TIFF originals and JPEG edits (:data:`EDIT`), the edits turned or cropped."""
    before, after = root / "before", root / "after"
    before.mkdir(parents=True)
    after.mkdir(parents=True)
    scenes = smooth_images(n, 48, seed=5, grid=8)[..., 8:40, :]
    shots = torch.linspace(-0.6, 0.6, n)
    with torch.no_grad():
        for i in range(n):
            original = render(scenes[i : i + 1], {"exposure": float(shots[i])})
            edit = render(scenes[i : i + 1], EDIT)
            if turn is not None:
                edit = TURNS[turn][0](edit).contiguous()
            if crop:
                edit = edit[..., 2:18, 4:40].contiguous()
            write_image(before / f"p{i}.tif", original, bit_depth=16)
            write_image(after / f"p{i}.jpg", edit)
    return before, after


def _train(tmp_path: Path, before: Path, after: Path, *more: str) -> tuple[int, Path]:
    done = run_tiny_train(tmp_path, ["--pairs", str(before), str(after)], *more, toml=TINY_TOML)
    return done.rc, done.run


def _notes(out: str) -> list[str]:
    return [line.removeprefix("  note: ") for line in out.splitlines() if line.startswith("  note: ")]


def test_turns_are_found_and_undone_on_squeezed_frames() -> None:
    from backend.agent.thumbnail import make_thumbnail

    scenes = smooth_images(8, 48, seed=2)[..., 8:40, :]
    with torch.no_grad():
        edits = render(scenes, EDIT)
    squeeze = lambda t: make_thumbnail(t, 32)  # noqa: E731
    assert all(t.turn is None for t in frame_turns(squeeze(scenes), squeeze(edits)))
    for name, (turn, _) in TURNS.items():
        found = frame_turns(squeeze(scenes), squeeze(turn(edits)))
        assert [t.turn for t in found] == [name] * 8
        assert all(t.correlation > 0.9 > t.unturned + 0.2 for t in found)
        assert torch.equal(undo_turn(turn(edits), name), edits)


def test_rotated_edits_train_the_style_the_unrotated_ones_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    plain = _write_pairs(tmp_path / "plain", 4)
    turned = _write_pairs(tmp_path / "turned", 4, turn="rotated 90° clockwise")
    rc, run_plain = _train(tmp_path, *plain, "--quiet")
    assert rc == 0
    capsys.readouterr()
    with caplog.at_level(logging.WARNING, logger="trainer.pair_frames"):  # the frames turned back
        rc, run_turned = _train(tmp_path, *turned, "--quiet")
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "p0: the edit is the original rotated 90° clockwise" in caplog.text
    assert "turned back onto the original's frame before fitting" in caplog.text
    notes = _notes(out)
    assert any(
        n.startswith("4 edits turned back onto the original's frame before fitting")
        and "p3 (rotated 90° clockwise)" in n
        for n in notes
    ), notes
    records = [
        json.loads((r / "style" / "s.json").read_text(encoding="utf-8"))["training"] for r in (run_plain, run_turned)
    ]
    assert records[1]["frames_turned_back"] == {f"p{i}": "rotated 90° clockwise" for i in range(4)}
    assert "frames_turned_back" not in records[0]
    assert records[1]["poor_fits"] == [] and records[1]["fit_psnr_mean"] > 30.0
    assert abs(records[1]["fit_psnr_mean"] - records[0]["fit_psnr_mean"]) < 3.0
    # what the two styles suggest for a new photo: the same edit
    photo = tmp_path / "new.tif"
    with torch.no_grad():
        write_image(photo, smooth_images(1, 48, seed=9)[..., 8:40, :], bit_depth=16)
    got = [
        suggest_for_photo(photo, [(load_style(r / "style" / "s.safetensors"), 1.0)])[0] for r in (run_plain, run_turned)
    ]
    exposure = [float(g.settings().get("exposure", 0.0)) for g in got]
    temperature = [float(g.settings().get("temperature", 0.0)) for g in got]
    assert exposure[0] > 0.2 and exposure[1] > 0.2, exposure
    assert abs(exposure[0] - exposure[1]) < 0.1, exposure
    assert abs(temperature[0] - temperature[1]) < 4.0, temperature


def test_cropped_edits_say_the_frames_differ_and_that_none_fits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    before, after = _write_pairs(tmp_path / "crop", 4, crop=True)
    # the poor fits (restore_pairs), and the frames that were not turned back (pair_frames)
    with (
        caplog.at_level(logging.WARNING, logger="trainer.restore_pairs"),
        caplog.at_level(logging.WARNING, logger="trainer.pair_frames"),
    ):
        rc, run = _train(tmp_path, before, after, "--quiet", "--set", "restore.poor_fit_db=35")  # smooth scenes
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "turned back" not in caplog.text
    assert "p0: our sliders reproduce this edit only to" in caplog.text
    assert "its frame (36x16) is not the original's (48x32), so it was squeezed onto it (a crop?)" in caplog.text
    training = json.loads((run / "style" / "s.json").read_text(encoding="utf-8"))["training"]
    assert len(training["poor_fits"]) == 4 and training["all_fits_poor"] is True
    assert training["poor_fits"][0]["frame"].startswith("its frame (36x16)")
    assert any(
        n.startswith("our sliders do not reproduce any of the 4 edits well (all below 35 dB") for n in _notes(out)
    )


def test_good_pairs_keep_their_record() -> None:
    """Nothing turned, nothing poor: none of the new keys (covered by the plain run above; this names the rule)."""
    from trainer.restore_pairs import _record_turns

    source: dict[str, object] = {}
    _record_turns(source, {})
    assert source == {}
