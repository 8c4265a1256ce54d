"""``autoretouch eval`` warns when a reference is not its input's frame edited, and scores it all the same.

Another photo under the same name (identity SSIM under :data:`DIFFERENT_PHOTO_SSIM`), and a reference cropped,
straightened or shifted against its input with the same aspect ratio (:func:`trainer.data.framing.frame_offset`),
which used to be resized onto the input's frame and scored misaligned without a word. Strong tone edits and an
export at half the size must not be taken for a crop.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from backend.cli.main import main
from trainer.data.framing import frame_offset
from trainer.data.pairs import Pair, load_pair
from trainer.eval_cli import DIFFERENT_PHOTO_SSIM, evaluate_pairs
from trainer.metrics import Prepared, image_metrics

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


# -- a reference cropped, straightened or shifted against its input ------------------------------------------


def _shapes(seed: int, height: int = 320, width: int = 480) -> np.ndarray:
    """An 8-bit BGR photo with structure to match: soft ramps under 70 random rectangles and discs, a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([60 + 100 * x / width, 80 + 90 * y / height, 150 - 60 * x / width], axis=-1)
    for _ in range(70):
        colour = tuple(float(c) for c in rng.uniform(20, 235, 3))
        cx, cy, r = int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(6, 40))
        if rng.random() < 0.5:
            cv2.rectangle(img, (cx - r, cy - r // 2), (cx + r, cy + r // 2), colour, -1)
        else:
            cv2.circle(img, (cx, cy), r, colour, -1)
    img += rng.normal(0, 3, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _linear(bgr: np.ndarray) -> np.ndarray:
    v = bgr.astype(np.float32) / 255
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _encoded(linear: np.ndarray) -> np.ndarray:
    v = np.clip(linear, 0, 1)
    return np.round(255 * np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)).astype(np.uint8)


def _exposure(ev: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda bgr: _encoded(_linear(bgr) * 2.0**ev)


def _black_and_white(bgr: np.ndarray) -> np.ndarray:
    grey = _linear(bgr) @ np.array([0.1, 0.2, 0.7], np.float32)  # B, G, R: a red-filter mix, not the luminance
    return _encoded(np.repeat(grey[..., None], 3, axis=2))


def _s_curve(bgr: np.ndarray) -> np.ndarray:
    curve = 1 / (1 + np.exp(-8 * (bgr.astype(np.float32) / 255 - 0.5)))
    return np.round(255 * (curve - curve.min()) / (curve.max() - curve.min())).astype(np.uint8)


def _saturated(bgr: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * 2.5, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def _colour_cast(bgr: np.ndarray) -> np.ndarray:
    return _encoded(_linear(bgr) * np.array([0.5, 1.0, 1.6], np.float32))  # much warmer


def _half_size(bgr: np.ndarray) -> np.ndarray:
    return cv2.resize(bgr, (bgr.shape[1] // 2, bgr.shape[0] // 2), interpolation=cv2.INTER_AREA)


def _warped(bgr: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``bgr`` resampled so that the reference's pixel ``matrix @ (x, y, 1)`` shows the input's ``(x, y)``."""
    h, w = bgr.shape[:2]
    return cv2.warpAffine(bgr, matrix.astype(np.float32), (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def _crop_every_side(bgr: np.ndarray) -> np.ndarray:
    """10 % off every side, resized back to the frame: scale 1.25 about the centre, brighter by 0.5 EV."""
    h, w = bgr.shape[:2]
    inner = bgr[round(h * 0.1) : h - round(h * 0.1), round(w * 0.1) : w - round(w * 0.1)]
    return _exposure(0.5)(cv2.resize(inner, (w, h), interpolation=cv2.INTER_AREA))


def _crop_one_corner(bgr: np.ndarray) -> np.ndarray:
    """6 % off the left and top only (same aspect ratio): scale 1.06, the centre moved right and down by 3 %."""
    h, w = bgr.shape[:2]
    inner = bgr[round(h * 0.06) :, round(w * 0.06) :]
    return cv2.resize(inner, (w, h), interpolation=cv2.INTER_AREA)


def _straightened(bgr: np.ndarray) -> np.ndarray:
    """Turned 1.5° anticlockwise on screen and zoomed 4 % to hide the corners, as a straightening crop does."""
    h, w = bgr.shape[:2]
    return _warped(bgr, cv2.getRotationMatrix2D((w / 2, h / 2), 1.5, 1.04))


TONE_EDITS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "plus2ev": _exposure(2.0),
    "minus2ev": _exposure(-2.0),
    "bw": _black_and_white,
    "contrast": _s_curve,
    "saturation": _saturated,
    "cast": _colour_cast,
    "half": _half_size,
    "half_minus2ev": lambda bgr: _half_size(_exposure(-2.0)(bgr)),
}


def _write_pairs(tmp_path: Path, edits: dict[str, Callable[[np.ndarray], np.ndarray]]) -> tuple[Path, Path]:
    inputs, refs = tmp_path / "in", tmp_path / "ref"
    inputs.mkdir()
    refs.mkdir()
    for seed, (name, edit) in enumerate(edits.items()):
        photo = _shapes(seed)
        cv2.imwrite(str(inputs / f"{name}.png"), photo)
        cv2.imwrite(str(refs / f"{name}.png"), edit(photo))
    return inputs, refs


def test_a_cropped_straightened_or_shifted_reference_is_named_and_scored_unchanged(tmp_path: Path) -> None:
    edits = {"crop": _crop_every_side, "corner": _crop_one_corner, "straight": _straightened}
    inputs, refs = _write_pairs(tmp_path, edits)
    pairs = [Pair(n, inputs / f"{n}.png", refs / f"{n}.png") for n in edits]
    warnings: list[str] = []
    result = evaluate_pairs(pairs, None, size=480, on_warning=warnings.append)
    rows = {row["name"]: row for row in result.per_photo}
    assert sorted(rows) == sorted(edits)  # all scored
    assert len(warnings) == 3 and all("looks cropped or shifted against its input" in w for w in warnings)
    for name in edits:
        (said,) = [w for w in warnings if w.startswith(f"{refs / name}.png: ")]
        assert said == rows[name]["warnings"][0] and "scored anyway" in said
        assert rows[name]["frame_offset"]["misaligned"] is True
    crop, corner, straight = (rows[n]["frame_offset"] for n in ("crop", "corner", "straight"))
    assert crop["scale"] == pytest.approx(1.25, abs=0.01) and abs(crop["shift_x"]) < 0.005
    assert "scale 1.25, shift (" in rows["crop"]["warnings"][0]
    assert corner["scale"] == pytest.approx(1 / 0.94, abs=0.01)
    assert corner["shift_x"] == pytest.approx(0.03, abs=0.005) and corner["shift_y"] == pytest.approx(0.03, abs=0.005)
    assert re.search(
        r"scale 1\.06, shift \(\+(2\.9|3\.0|3\.1) %, \+(2\.9|3\.0|3\.1) %\)", rows["corner"]["warnings"][0]
    )
    assert straight["rotation_deg"] == pytest.approx(-1.5, abs=0.15)  # turned anticlockwise: negative
    assert "rotated -1.5°" in rows["straight"]["warnings"][0]
    # the scores are those of the pair as it is, misaligned: the check changes none
    x, ref = load_pair(pairs[0], 480)
    direct = {k: float(v[0]) for k, v in image_metrics(x, Prepared(ref)).items()}
    assert rows["crop"]["metrics"]["identity"] == direct


def test_strong_tone_edits_and_a_half_size_export_are_not_taken_for_a_crop(tmp_path: Path) -> None:
    # the check eval runs on each pair (evaluate_pairs: frame_offset on load_pair's frames), without the renders
    inputs, refs = _write_pairs(tmp_path, TONE_EDITS)
    for name in TONE_EDITS:
        x, ref = load_pair(Pair(name, inputs / f"{name}.png", refs / f"{name}.png"), 480)
        offset = frame_offset(x, ref)
        assert offset is not None, name  # the check could tell: it found the frames aligned
        assert not offset.misaligned and offset.scale == pytest.approx(1.0, abs=0.003), (name, offset)
        assert abs(offset.shift_x) < 0.003 and abs(offset.shift_y) < 0.003 and abs(offset.rotation_deg) < 0.1, name


def test_eval_prints_the_crop_warning_once_and_lists_it_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, refs = _write_pairs(tmp_path, {"crop": _crop_every_side, "edit": _exposure(1.0)})
    argv = ["eval", "--inputs", str(inputs), "--references", str(refs), "--size", "480", "--json"]
    assert main(argv) == 0
    out = capsys.readouterr()
    said = [line for line in out.err.splitlines() if "looks cropped or shifted" in line]
    assert len(said) == 1 and said[0].startswith(f"autoretouch: warning: {refs / 'crop.png'}: ")
    rows = {row["name"]: row for row in json.loads(out.out)["per_photo"]}
    assert rows["crop"]["frame_offset"]["misaligned"] is True and rows["crop"]["warnings"] == [said[0][22:]]
    assert rows["edit"]["frame_offset"]["misaligned"] is False and rows["edit"]["warnings"] == []
