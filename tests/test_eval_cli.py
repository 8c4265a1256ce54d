"""``autoretouch eval``, the auto baseline and the metrics, on generated photo sets (no shared data)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from backend.agent.style import load_style
from backend.agent.suggest import suggest_for_photo
from backend.cli.main import EXIT_PARTIAL, main
from backend.encode import write_image
from backend.recipe import Recipe, render_recipe
from backend.render.color import SRGB_TO_REC2020, apply_matrix, srgb_decode
from testing.styles import isolate_style_store, save_random_style
from trainer.baselines import auto_recipe, grey_world_white_balance, mid_grey_exposure
from trainer.eval_cli import evaluate_pairs, find_pairs
from trainer.metrics import Prepared, as_srgb, delta_e00, delta_e76, image_metrics, psnr, ssim

H, W = 48, 64
#: The cast applied to the generated scenes: warmer, greener, 1.2 EV darker.
CAST = {"temperature": 40.0, "tint": -20.0, "exposure": -1.2}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user style folder with one random (untrained) style; no shipped styles."""
    styles = tmp_path / "styles"
    for seed, name in ((3, "throwaway"), (4, "second")):
        save_random_style(styles, name, seed)
    isolate_style_store(monkeypatch, styles, tmp_path / "no-shipped-styles")
    return styles


def _scene(seed: int) -> torch.Tensor:
    """A ``(1, 3, H, W)`` linear Rec.2020 scene whose mean colour is neutral and whose log-average is mid grey."""
    g = torch.Generator().manual_seed(seed)
    coarse = 0.25 + 0.5 * torch.rand(1, 3, 4, 5, generator=g)
    srgb_lin = torch.nn.functional.interpolate(coarse, size=(H, W), mode="bilinear", align_corners=False)
    srgb_lin = srgb_lin * (0.6 + 0.4 * torch.linspace(0, 1, W).view(1, 1, 1, W))
    srgb_lin = srgb_lin / srgb_lin.mean(dim=(2, 3), keepdim=True) * srgb_lin.mean()  # grey world holds
    lin = apply_matrix(srgb_lin.double(), SRGB_TO_REC2020)
    y = (lin * torch.tensor([0.2627, 0.6780, 0.0593], dtype=lin.dtype).view(1, 3, 1, 1)).sum(1)
    return (lin * 0.1845 / torch.exp(torch.log(y).mean())).float()


def _write_sets(root: Path, n: int = 4) -> tuple[Path, Path]:
    """inputs/ = scenes with :data:`CAST` applied, refs/ = the scenes (16-bit sRGB PNG)."""
    inputs, refs = root / "inputs", root / "refs"
    inputs.mkdir(parents=True)
    refs.mkdir(parents=True)
    cast = Recipe.from_settings(CAST)
    for i in range(n):
        scene = _scene(i)
        write_image(refs / f"p{i}.png", scene, bit_depth=16)
        write_image(inputs / f"p{i}.png", render_recipe(scene, cast), bit_depth=16)
    return inputs, refs


def _eval_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object], str]:
    code = main(["eval", *argv, "--json"])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else {}), out.err


# -- metrics -----------------------------------------------------------------------------------------


def test_identical_images_give_inf_psnr_ssim_one_and_zero_delta_e() -> None:
    img = np.random.default_rng(0).integers(0, 256, (2, 20, 24, 3), dtype=np.uint8)
    m = image_metrics(img, img.copy())
    assert np.isinf(m["psnr"]).all() and (m["psnr"] > 0).all()
    assert m["ssim"] == pytest.approx([1.0, 1.0])
    assert m["delta_e00"] == pytest.approx([0.0, 0.0], abs=1e-9)
    assert m["delta_e76"] == pytest.approx([0.0, 0.0], abs=1e-9)


def test_psnr_of_a_known_error_and_noise_level() -> None:
    a = np.full((16, 16, 3), 0.5)
    b = a + np.where(np.indices((16, 16, 3)).sum(0) % 2 == 0, 0.1, -0.1)  # |error| 0.1 everywhere: MSE 0.01
    assert psnr(a, b, quantize=False)[0] == pytest.approx(20.0, abs=1e-9)
    rng = np.random.default_rng(1)
    clean = rng.integers(40, 216, (64, 64, 3)).astype(np.float64)
    noisy = clean + rng.normal(0.0, 5.0, clean.shape)  # sigma 5 of 255: 20 log10(255 / 5) = 34.15 dB
    value = psnr(clean.astype(np.uint8), np.clip(np.round(noisy), 0, 255).astype(np.uint8))[0]
    assert value == pytest.approx(20 * math.log10(255 / 5), abs=0.3)


def test_tensor_and_array_layouts_agree() -> None:
    rng = np.random.default_rng(2)
    a8 = rng.integers(0, 256, (12, 14, 3), dtype=np.uint8)
    b8 = np.clip(a8.astype(int) + rng.integers(-9, 10, a8.shape), 0, 255).astype(np.uint8)

    def linear(x: np.ndarray) -> torch.Tensor:
        enc = torch.from_numpy(x.astype(np.float64) / 255.0).permute(2, 0, 1)[None]
        return apply_matrix(srgb_decode(enc), SRGB_TO_REC2020)

    assert np.array_equal(as_srgb(linear(a8))[0], a8 / 255.0)  # 8-bit round trip through linear Rec.2020
    for fn in (psnr, ssim, delta_e00, delta_e76):
        assert fn(linear(a8), linear(b8))[0] == pytest.approx(fn(a8, b8)[0], rel=1e-9)


def test_delta_e_of_two_greys_matches_the_formulas() -> None:
    def lightness(v: float) -> float:
        y = v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
        return 116 * y ** (1 / 3) - 16 if y > 216 / 24389 else 24389 / 27 * y

    l1, l2 = lightness(100 / 255), lightness(160 / 255)
    mean = (l1 + l2) / 2
    expected00 = abs(l2 - l1) / (1 + 0.015 * (mean - 50) ** 2 / math.sqrt(20 + (mean - 50) ** 2))
    a = np.full((8, 8, 3), 100, np.uint8)
    b = np.full((8, 8, 3), 160, np.uint8)
    assert delta_e76(a, b)[0] == pytest.approx(abs(l2 - l1), abs=1e-3)
    assert delta_e00(a, b)[0] == pytest.approx(expected00, abs=1e-3)


def test_ssim_falls_as_noise_grows_and_prepared_references_are_reused() -> None:
    rng = np.random.default_rng(3)
    clean = rng.random((1, 32, 32, 3))
    scores = [ssim(clean, np.clip(clean + rng.normal(0, s, clean.shape), 0, 1))[0] for s in (0.02, 0.08, 0.2)]
    assert 1.0 > scores[0] > scores[1] > scores[2]
    ref = Prepared(clean)
    assert image_metrics(clean, ref)["delta_e00"][0] == 0.0
    assert ref.lab.shape == (1, 32, 32, 3)


# -- the auto baseline -------------------------------------------------------------------------------


def test_auto_recipe_undoes_a_known_cast() -> None:
    scene = _scene(7)
    cast = render_recipe(scene, Recipe.from_settings(CAST))
    temperature, tint = grey_world_white_balance(cast)
    assert temperature < -20.0 and tint > 10.0  # cools and adds magenta against a warm, green cast
    assert grey_world_white_balance(scene) == pytest.approx((0.0, 0.0), abs=0.05)
    recipe = auto_recipe(cast)
    assert recipe.style == "auto" and set(recipe.settings()) == {"temperature", "tint", "exposure"}
    assert recipe.settings()["exposure"] == pytest.approx(-CAST["exposure"], abs=0.1)
    fixed = render_recipe(cast, recipe).double()
    mean = fixed.mean(dim=(0, 2, 3))
    assert (mean / mean.mean()).tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-3)  # grey world holds
    y = (fixed * torch.tensor([0.2627, 0.6780, 0.0593], dtype=torch.float64).view(1, 3, 1, 1)).sum(1)
    assert float(torch.exp(torch.log(y).mean())) == pytest.approx(0.1845, rel=1e-3)  # key at middle grey
    assert mid_grey_exposure(scene) == pytest.approx(0.0, abs=1e-6)
    assert psnr(fixed, scene)[0] > psnr(cast, scene)[0] + 10.0


# -- the command -------------------------------------------------------------------------------------


def test_auto_beats_identity_and_style_matches_suggest(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, refs = _write_sets(tmp_path)
    code, data, err = _eval_json(
        capsys, "--style", "throwaway", "--inputs", str(inputs), "--references", str(refs), "--size", "64"
    )
    assert code == 0, err
    assert data["photos"] == 4 and data["failures"] == [] and data["style"] == "throwaway"
    methods = data["methods"]
    assert isinstance(methods, dict)
    assert methods["auto"]["psnr"] > methods["identity"]["psnr"] + 6.0
    assert methods["auto"]["delta_e00"] < 0.5 * methods["identity"]["delta_e00"]
    assert methods["auto"]["ssim"] > methods["identity"]["ssim"]
    assert data["psnr_gain_over_identity"] == pytest.approx(methods["style"]["psnr"] - methods["identity"]["psnr"])
    style = load_style(store / "throwaway.safetensors")
    for row in data["per_photo"]:  # type: ignore[union-attr]
        (expected,) = suggest_for_photo(row["input"], [(style, 1.0)])
        assert Recipe.from_dict(row["recipes"]["style"]) == Recipe.from_dict(expected.to_dict())
    # the spread of the suggestions over the photos, slider by slider, from the same recipes
    spread = data["slider_spread"]
    assert isinstance(spread, dict) and spread
    recipes = [Recipe.from_dict(row["recipes"]["style"]) for row in data["per_photo"]]  # type: ignore[union-attr]
    for name, row in spread.items():
        used = [r.settings().get(name) for r in recipes]
        assert row["used"] == pytest.approx(sum(v is not None for v in used) / len(recipes))
        if "mean" in row:
            values = np.array([0.0 if v is None else float(v) for v in used])  # scalar identities are 0
            assert row["mean"] == pytest.approx(values.mean(), abs=1e-5)
            assert row["sd"] == pytest.approx(values.std(), abs=1e-5)
            assert row["min"] <= row["mean"] <= row["max"]


def test_strength_zero_equals_identity_and_text_table(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, refs = _write_sets(tmp_path, n=2)
    code, data, _ = _eval_json(
        capsys, "--inputs", str(inputs), "--references", str(refs), "--style", "throwaway", "--strength", "0"
    )
    assert code == 0
    assert data["methods"]["style"] == data["methods"]["identity"]  # type: ignore[index]
    assert main(["eval", "--style", "throwaway", "--inputs", str(inputs), "--references", str(inputs)]) == 0
    out = capsys.readouterr().out
    identity_row = next(line for line in out.splitlines() if line.startswith("identity"))
    assert identity_row.split()[2] == "100.00"  # identical photos: the pooled PSNR's cap, not infinity


def test_mix_blends_like_suggest(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, refs = _write_sets(tmp_path, n=1)
    code, data, _ = _eval_json(
        capsys, "--mix", "throwaway:0.5,second:0.5", "--inputs", str(inputs), "--references", str(refs)
    )
    assert code == 0 and data["style"] == "throwaway:0.5,second:0.5"
    styles = [(load_style(store / f"{n}.safetensors"), 0.5) for n in ("throwaway", "second")]
    (expected,) = suggest_for_photo(inputs / "p0.png", styles)
    (row,) = data["per_photo"]  # type: ignore[misc]
    assert Recipe.from_dict(row["recipes"]["style"]) == Recipe.from_dict(expected.to_dict())


def test_identical_sets_write_the_psnr_cap_as_a_number(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, _ = _write_sets(tmp_path, n=2)
    code, data, _ = _eval_json(capsys, "--style", "throwaway", "--inputs", str(inputs), "--references", str(inputs))
    assert code == 0
    assert data["methods"]["identity"]["psnr"] == 100.0  # type: ignore[index]
    assert all(r["metrics"]["identity"]["psnr"] == 100.0 for r in data["per_photo"])  # type: ignore[union-attr]
    assert data["methods"]["identity"]["delta_e00"] == 0.0  # type: ignore[index]


def test_unmatched_files_are_named(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, refs = _write_sets(tmp_path, n=3)
    (refs / "p1.png").rename(refs / "other.png")
    code = main(["eval", "--style", "throwaway", "--inputs", str(inputs), "--references", str(refs)])
    err = capsys.readouterr().err
    assert code == 6
    assert "p1.png" in err and "other.png" in err
    code, data, err = _eval_json(
        capsys, "--style", "throwaway", "--inputs", str(inputs), "--references", str(refs), "--allow-unmatched"
    )
    assert code == 0 and data["photos"] == 2
    assert "p1.png" in err and "other.png" in err  # still reported, as warnings
    pairs, unmatched = find_pairs(inputs, refs, allow_unmatched=True)
    assert [p.name for p in pairs] == ["p0", "p2"] and {p.name for p in unmatched} == {"p1.png", "other.png"}


def test_duplicate_stems_are_ambiguous(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, refs = _write_sets(tmp_path, n=2)
    shutil.copyfile(inputs / "p0.png", inputs / "p0.tif")
    assert main(["eval", "--style", "throwaway", "--inputs", str(inputs), "--references", str(refs)]) == 3
    assert "p0.png / p0.tif" in capsys.readouterr().err


def test_bad_files_are_reported_and_the_batch_goes_on(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, refs = _write_sets(tmp_path, n=3)
    (inputs / "p1.png").write_bytes(b"")  # empty input
    cv2.imwrite(str(refs / "p2.png"), np.zeros((H, H, 3), np.uint8))  # reference of another shape
    code, data, err = _eval_json(capsys, "--style", "throwaway", "--inputs", str(inputs), "--references", str(refs))
    assert code == EXIT_PARTIAL
    assert data["photos"] == 1 and [r["name"] for r in data["per_photo"]] == ["p0"]  # type: ignore[union-attr]
    failed = {Path(f["photo"]).name: f["error"] for f in data["failures"]}  # type: ignore[union-attr]
    assert set(failed) == {"p1.png", "p2.png"}
    assert "p1.png" in failed["p1.png"] and "does not match" in failed["p2.png"]
    assert "p1.png" in err and "p2.png" in err
    (inputs / "p0.png").write_bytes(b"")
    (inputs / "p2.png").write_bytes(b"")
    assert main(["eval", "--style", "throwaway", "--inputs", str(inputs), "--references", str(refs)]) == 5


def test_a_reference_exported_at_another_size_is_compared_at_the_smaller_size(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # photos smaller than --size 512: a reference at half and one at double the input's size, same aspect ratio
    inputs, refs = tmp_path / "before", tmp_path / "after"
    inputs.mkdir()
    refs.mkdir()
    for i, scale in enumerate((0.5, 2.0)):
        scene = _scene(i)
        write_image(inputs / f"p{i}.png", scene, bit_depth=16)
        other = torch.nn.functional.interpolate(scene, scale_factor=scale, mode="bilinear", antialias=True)
        write_image(refs / f"p{i}.png", other, bit_depth=16)
    argv = ["--style", "throwaway", "--inputs", str(inputs), "--references", str(refs)]
    code, data, err = _eval_json(capsys, *argv)
    assert code == 0, err
    rows = {r["name"]: r for r in data["per_photo"]}  # type: ignore[union-attr]
    assert rows["p0"]["long_side"] == W // 2 and rows["p1"]["long_side"] == W  # the smaller of the two
    assert all(float(r["metrics"]["identity"]["psnr"]) > 30.0 for r in rows.values())  # the same picture, resized
    assert main(["eval", *argv]) == 0
    out = capsys.readouterr().out
    assert f"2 photos at {W // 2}-{W} px long side (--size 512; photos smaller than that keep their size)" in out
    # a reference of another aspect ratio is refused, and the message says so (not a size at --size)
    cv2.imwrite(str(refs / "p1.png"), np.zeros((W, W, 3), np.uint8))
    code, data, err = _eval_json(capsys, *argv)
    assert code == EXIT_PARTIAL
    (failure,) = data["failures"]  # type: ignore[misc]
    assert (
        f"p1.png: its frame ({W}x{W}, aspect ratio 1.000) does not match its input p1.png ({W}x{H},"
        in (failure["error"])
    )
    assert "a crop or a rotation?" in failure["error"] and "evaluation size" not in failure["error"]


def test_contact_sheet_and_out_dir(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, refs = _write_sets(tmp_path, n=3)
    sheet, out_dir = tmp_path / "sheet.png", tmp_path / "out"
    argv = ["--style", "throwaway", "--inputs", str(inputs), "--references", str(refs), "--sheet-photos", "2"]
    code = main(["eval", *argv, "--contact-sheet", str(sheet), "--out-dir", str(out_dir)])
    assert code == 0
    assert f"contact sheet: {sheet}" in capsys.readouterr().out
    image = cv2.imread(str(sheet))
    assert image is not None
    tile = 192
    assert image.shape[0] == 2 * tile + 4  # two photos, one gap
    assert image.shape[1] == 4 * round(W * tile / H) + 3 * 4  # input | auto | style | reference
    data = json.loads((out_dir / "eval.json").read_text())
    assert data["photos"] == 3
    for i in range(3):
        for method in ("auto", "style"):
            assert (out_dir / f"p{i}.{method}.png").is_file()
            Recipe.from_json((out_dir / f"p{i}.{method}.recipe.json").read_text())


def test_fixed_recipe_methods_in_the_library(tmp_path: Path) -> None:
    inputs, refs = _write_sets(tmp_path, n=2)
    pairs, _ = find_pairs(inputs, refs)
    oracle = Recipe.from_settings({k: -v for k, v in CAST.items()})
    result = evaluate_pairs(pairs, None, size=64, fixed={"oracle": oracle})
    assert result.methods == ["identity", "auto", "oracle"]
    summary = result.summary()
    assert summary["oracle"]["psnr"] > summary["identity"]["psnr"] + 6.0


def test_a_pair_too_small_for_ssim_fails_alone(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pair under 3 pixels a side at the evaluation size (a panorama at a small --size, a 1x1 or 1x64 photo)
    fails that pair (exit 9), named, and the other pairs are scored."""
    inputs, refs = _write_sets(tmp_path, n=2)
    for name, (h, w) in {"pano": (16, 128), "dot": (1, 1), "line": (1, 64)}.items():
        for folder in (inputs, refs):
            write_image(folder / f"{name}.png", torch.full((1, 3, h, w), 0.2), bit_depth=16)
    argv = ["--style", "throwaway", "--inputs", str(inputs), "--references", str(refs), "--size", "16"]
    code, data, err = _eval_json(capsys, *argv)
    assert code == EXIT_PARTIAL, err
    assert [r["name"] for r in data["per_photo"]] == ["p0", "p1"]  # type: ignore[union-attr]
    failed = {Path(f["photo"]).name: f["error"] for f in data["failures"]}  # type: ignore[union-attr]
    assert set(failed) == {"pano.png", "dot.png", "line.png"}
    assert "pano.png: compared at 16x2 pixels, too small for SSIM (at least 3x3)" in failed["pano.png"]
    assert "a larger --size" in failed["pano.png"]  # reduced to --size 16: a larger size gives it more rows
    assert "dot.png: compared at 1x1 pixels" in failed["dot.png"] and "--size" not in failed["dot.png"]
    assert "line.png: compared at 16x1 pixels" in failed["line.png"] and "Traceback" not in err
    assert "pano.png" in err and "dot.png" in err and "line.png" in err


def test_a_reference_left_as_shot_keeps_the_summary_finite(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One reference equal to its input: the summary PSNR is pooled (of the mean squared error over the pairs),
    finite, and the JSON holds numbers only (a perfect pair's PSNR is the 100 dB cap, not the string "inf")."""
    from trainer.metrics import pooled_psnr

    inputs, refs = _write_sets(tmp_path, n=3)
    shutil.copyfile(inputs / "p0.png", refs / "p0.png")  # this photo's "edit" left it as shot
    argv = ["--style", "throwaway", "--inputs", str(inputs), "--references", str(refs)]
    assert main(["eval", *argv, "--json"]) == 0
    text = capsys.readouterr().out

    def refuse(constant: str) -> None:
        raise AssertionError(f"not valid JSON: {constant}")

    data = json.loads(text, parse_constant=refuse)
    rows = {r["name"]: r["metrics"] for r in data["per_photo"]}
    assert rows["p0"]["identity"]["psnr"] == 100.0  # perfect: infinite, written as the cap
    for method in ("identity", "style"):
        pooled = pooled_psnr([rows[n][method]["psnr"] for n in ("p0", "p1", "p2")])
        assert data["methods"][method]["psnr"] == pytest.approx(pooled, abs=1e-5)
    identity = data["methods"]["identity"]["psnr"]
    assert isinstance(identity, float) and 10.0 < identity < 60.0
    gain = data["psnr_gain_over_identity"]
    assert isinstance(gain, float) and gain == pytest.approx(data["methods"]["style"]["psnr"] - identity, abs=1e-5)
    assert main(["eval", *argv]) == 0
    out = capsys.readouterr().out
    identity_row = next(line for line in out.splitlines() if line.startswith("identity"))
    assert float(identity_row.split()[2]) == pytest.approx(identity, abs=0.01)
    assert f"style vs identity: {gain:+.2f} dB PSNR" in out and "inf" not in out
