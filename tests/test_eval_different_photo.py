"""``autoretouch eval`` warns when a reference is implausibly different from its input (another photo), and scores it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from backend.cli.main import main
from trainer.data.pairs import Pair
from trainer.eval_cli import DIFFERENT_PHOTO_SSIM, evaluate_pairs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _scene(seed: int) -> np.ndarray:
    """A 48x64 8-bit BGR photo: smooth random colours over a ramp, with some texture."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(40, 220, size=(4, 5, 3)).astype(np.float32)
    img = cv2.resize(coarse, (64, 48), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 12, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    inputs, refs = tmp_path / "in", tmp_path / "ref"
    inputs.mkdir()
    refs.mkdir()
    for name, seed in (("same", 1), ("other", 2)):
        cv2.imwrite(str(inputs / f"{name}.png"), _scene(seed))
    brighter = np.clip(_scene(1).astype(np.float32) * 1.3 + 10, 0, 255).astype(np.uint8)  # an edit of "same"
    cv2.imwrite(str(refs / "same.png"), brighter)
    cv2.imwrite(str(refs / "other.png"), _scene(99))  # another photo under the same name
    return inputs, refs


def test_a_reference_that_is_another_photo_is_warned_about_and_still_scored(tmp_path: Path) -> None:
    inputs, refs = _folders(tmp_path)
    pairs = [Pair(n, inputs / f"{n}.png", refs / f"{n}.png") for n in ("other", "same")]
    warnings: list[str] = []
    result = evaluate_pairs(pairs, None, size=64, on_warning=warnings.append)
    assert [row["name"] for row in result.per_photo] == ["other", "same"]  # both scored
    assert len(warnings) == 1 and warnings[0].startswith(f"{refs / 'other.png'}: looks like a different photo")
    ssims = {row["name"]: row["metrics"]["identity"]["ssim"] for row in result.per_photo}
    assert ssims["other"] < DIFFERENT_PHOTO_SSIM <= ssims["same"]


def test_eval_prints_the_warning_per_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, refs = _folders(tmp_path)
    assert main(["eval", "--inputs", str(inputs), "--references", str(refs), "--size", "64"]) == 0
    err = capsys.readouterr().err
    assert err.count("looks like a different photo") == 1 and "other.png" in err and "scored anyway" in err
