"""``autoretouch eval`` warns when a reference is not its input's frame edited, and scores it all the same.

Another photo under the same name (identity SSIM under :data:`DIFFERENT_PHOTO_SSIM`), and a reference cropped,
straightened or shifted against its input with the same aspect ratio (:func:`trainer.data.framing.frame_offset`),
which used to be resized onto the input's frame and scored misaligned without a word. Strong tone edits and an
export at half the size must not be taken for a crop, nor a tone edit of a checkerboard (its corners all matched to
one gave "scale 0.00"); a mirrored reference gets no made-up numbers; a thin panorama or a broken image gets no fit
instead of an OpenCV error that ended the whole eval; names on stderr are escaped (:func:`backend.text.printable`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

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
    assert len(warnings) == 3 and all(
        "looks cropped, shifted or otherwise out of register against its input" in w for w in warnings
    )
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
    said = [line for line in out.err.splitlines() if "looks cropped, shifted or otherwise" in line]
    assert len(said) == 1 and said[0].startswith(f"autoretouch: warning: {refs / 'crop.png'}: ")
    rows = {row["name"]: row for row in json.loads(out.out)["per_photo"]}
    assert rows["crop"]["frame_offset"]["misaligned"] is True and rows["crop"]["warnings"] == [said[0][22:]]
    assert rows["edit"]["frame_offset"]["misaligned"] is False and rows["edit"]["warnings"] == []


def test_the_warning_names_a_reference_turned_upside_down_and_no_mirrored_numbers(tmp_path: Path) -> None:
    edits = {
        "upside_down": lambda bgr: np.ascontiguousarray(bgr[::-1, ::-1]),
        "mirrored": lambda bgr: np.ascontiguousarray(bgr[:, ::-1]),
    }
    inputs, refs = _write_pairs(tmp_path, edits)
    for name in edits:
        x, ref = load_pair(Pair(name, inputs / f"{name}.png", refs / f"{name}.png"), 480)
        offset = frame_offset(x, ref)
        if name == "mirrored":  # no similarity maps a photo onto its mirror image: no fit, no made-up numbers
            assert offset is None
            continue
        assert offset is not None and offset.misaligned and abs(offset.rotation_deg) == pytest.approx(180, abs=0.5)
        (said,) = evaluate_pairs([Pair(name, inputs / f"{name}.png", refs / f"{name}.png")], None, size=480).per_photo
        assert "looks cropped, shifted or otherwise out of register against its input" in said["warnings"][-1]
        assert re.search(r"rotated [+-]180\.0°", said["warnings"][-1])


# -- frames the check cannot read: no fit, and the batch carries on -------------------------------------------------


def _tensor(linear: np.ndarray) -> torch.Tensor:
    """``(H, W)`` or ``(H, W, 3)`` linear values as a ``(1, 3, H, W)`` float32 tensor."""
    rgb = np.repeat(linear[..., None], 3, axis=2) if linear.ndim == 2 else linear
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))[None]


def test_a_heavy_crop_is_still_found() -> None:
    # 28 % off every side (scale 2.27, under half the width left) was dropped as degenerate while the limit was 2
    scene = _shapes(3)
    h, w = scene.shape[:2]
    inner = scene[round(h * 0.28) : h - round(h * 0.28), round(w * 0.28) : w - round(w * 0.28)]
    cropped = _exposure(0.5)(cv2.resize(inner, (w, h), interpolation=cv2.INTER_AREA))
    offset = frame_offset(_tensor(_linear(scene)), _tensor(_linear(cropped)))
    assert offset is not None and offset.misaligned
    assert offset.scale == pytest.approx(w / inner.shape[1], rel=0.02)


def test_a_thin_panorama_or_a_broken_image_gets_no_fit_instead_of_an_opencv_error() -> None:
    rng = np.random.default_rng(0)
    for h, w in ((5, 3000), (3000, 5), (4, 2000), (1, 1), (40, 600)):  # ORB raised cv2.error on the first three
        strip = _tensor(rng.uniform(0.0, 1.0, (h, w)))
        assert frame_offset(strip, strip * 1.3) is None, (h, w)
    scene = _tensor(_linear(_shapes(0)))
    broken = scene.clone()
    broken[..., 10:20, 10:20] = float("nan")  # a few broken pixels: still read
    offset = frame_offset(scene, broken)
    assert offset is not None and not offset.misaligned
    assert frame_offset(torch.full_like(scene, float("nan")), scene) is None


def test_eval_of_a_thin_panorama_at_its_full_size_carries_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, refs = tmp_path / "in", tmp_path / "ref"
    inputs.mkdir()
    refs.mkdir()
    strip = np.random.default_rng(3).integers(20, 230, (5, 3000, 3), dtype=np.uint8)
    cv2.imwrite(str(inputs / "pano.png"), strip)
    cv2.imwrite(str(refs / "pano.png"), _exposure(1.0)(strip))
    argv = ["eval", "--inputs", str(inputs), "--references", str(refs), "--size", "3000", "--json"]
    assert main(argv) == 0  # was: "internal error", exit 1
    (row,) = json.loads(capsys.readouterr().out)["per_photo"]
    assert row["long_side"] == 3000 and row["frame_offset"] is None and row["warnings"] == []


# -- a repetitive pattern: one match per corner, and no degenerate fit ---------------------------------------------


def _board(period: int, height: int = 384, width: int = 512) -> np.ndarray:
    """A linear ``(H, W)`` checkerboard of ``period``-pixel squares (0.2 and 0.8), slightly blurred."""
    y, x = np.mgrid[0:height, 0:width]
    board = (0.2 + 0.6 * ((x // period + y // period) % 2)).astype(np.float32)
    return np.asarray(cv2.GaussianBlur(board, (3, 3), 0))


def _linear_crop(linear: np.ndarray, share: float) -> np.ndarray:
    """``share`` of the frame off every side, resized back (area average)."""
    h, w = linear.shape[:2]
    inner = linear[round(h * share) : h - round(h * share), round(w * share) : w - round(w * share)]
    return np.asarray(cv2.resize(inner, (w, h), interpolation=cv2.INTER_AREA))


def test_a_tone_edit_of_a_checkerboard_is_not_taken_for_a_crop() -> None:
    # before: many corners of the input matched one of the reference's, and RANSAC fitted "scale 0.00, shift
    # (-50 %, -50 %)" to them (+1 EV at 36 px squares)
    edits: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "plus1ev": lambda lin: np.clip(lin * 2.0, 0.0, 1.0),
        "gamma": lambda lin: lin**0.6,
        "darker": lambda lin: lin * 0.25,
        "blur": lambda lin: np.asarray(cv2.GaussianBlur(lin, (5, 5), 0)),
    }
    fits = 0
    for period in (24, 36, 48):
        board = _board(period)
        for name, edit in edits.items():
            offset = frame_offset(_tensor(board), _tensor(edit(board)))
            if offset is not None:  # no fit is allowed (the pattern repeats); a fit must be the identity
                fits += 1
                assert not offset.misaligned and offset.scale == pytest.approx(1.0, abs=0.003), (period, name)
    assert fits >= 6  # the check still reads most of them


def test_a_cropped_checkerboard_gets_no_fit_rather_than_a_degenerate_one() -> None:
    # a crop of a repeating pattern cannot be told from a shift by whole squares: no fit (before: "scale 0.00")
    for period in (24, 36, 48):
        board = _board(period)
        for share in (0.05, 0.1):
            assert frame_offset(_tensor(board), _tensor(_linear_crop(board, share))) is None, (period, share)


# -- names printed on stderr are escaped ----------------------------------------------------------------------------


def test_eval_escapes_the_names_in_its_warnings_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crop_name, other_name, broken_name = "crop\x1b[2J", "other\nautoretouch: forged", "broken\x1b]0;title\x07"
    inputs, refs = _write_pairs(tmp_path, {crop_name: _crop_every_side})
    cv2.imwrite(str(inputs / f"{other_name}.png"), _scene(1))
    cv2.imwrite(str(refs / f"{other_name}.png"), _scene(99))  # another photo under the same name
    cv2.imwrite(str(inputs / f"{broken_name}.png"), _shapes(9))
    (refs / f"{broken_name}.png").write_bytes(b"not a PNG")
    argv = ["eval", "--inputs", str(inputs), "--references", str(refs), "--size", "480", "--json"]
    assert main(argv) == 9  # the broken pair failed, the others were scored
    out = capsys.readouterr()
    assert "\x1b" not in out.err and "\x07" not in out.err
    lines = out.err.splitlines()
    assert all(line.startswith("autoretouch: ") for line in lines)
    assert any("crop\\x1b[2J.png: looks cropped" in line for line in lines)
    assert any("other\\nautoretouch: forged.png: looks like a different photo" in line for line in lines)
    assert any(line.startswith("autoretouch: error: ") and "broken\\x1b]0;title\\x07" in line for line in lines)
    rows = {row["name"]: row for row in json.loads(out.out)["per_photo"]}  # JSON: the names as they are
    assert f"{crop_name}.png: looks cropped" in rows[crop_name]["warnings"][0]
    assert f"{other_name}.png: looks like a different photo" in rows[other_name]["warnings"][0]
