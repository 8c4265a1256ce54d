"""``autoretouch suggest`` and ``autoretouch styles`` end to end: generated JPEGs, random styles in a tmp store."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from backend.agent.style import load_style
from backend.agent.suggest import parse_mix, suggest_for_image, suggest_for_photo
from backend.cli.main import EXIT_PARTIAL, main
from backend.errors import InvalidRecipeError
from backend.recipe import Recipe, blend, scale
from testing.styles import isolate_style_store, save_random_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user style folder with two random styles; no shipped styles."""
    styles = tmp_path / "styles"
    for seed, name in ((1, "alpha"), (2, "beta")):
        save_random_style(styles, name, seed, training={"photos": seed}, metrics={"score": 0.5})
    isolate_style_store(monkeypatch, styles, tmp_path / "no-shipped-styles")
    return styles


def _jpeg(directory: Path, name: str = "photo.jpg", seed: int = 0, size: tuple[int, int] = (480, 640)) -> Path:
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w]).reshape(2, 1, 1)
    rgb = np.stack((0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.5 - 0.3 * xx * yy), axis=-1) + 0.05 * rng.random((h, w, 3))
    path = directory / name
    assert cv2.imwrite(str(path), np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)[..., ::-1])
    return path


def _json_rows(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_suggest_json_end_to_end(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = _jpeg(tmp_path)
    assert main(["suggest", str(photo), "--style", "alpha", "--json"]) == 0
    (row,) = _json_rows(capsys.readouterr().out)
    assert row["photo"] == str(photo) and row["ok"] is True
    assert row["style"] == "alpha" and row["strength"] == 1.0
    (recipe_dict,) = row["recipes"]  # type: ignore[misc]
    recipe = Recipe.from_dict(recipe_dict)
    assert 1 <= len(recipe.steps) <= 5
    assert recipe.style == "alpha" and recipe.model == "alpha@1"
    expected = suggest_for_photo(photo, [(load_style(store / "alpha.safetensors"), 1.0)])
    assert recipe == Recipe.from_dict(expected[0].to_dict())  # the CLI prints what the library computes


def test_suggest_text_output(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = _jpeg(tmp_path)
    assert main(["suggest", str(photo), "--style", str(store / "beta.safetensors")]) == 0
    out = capsys.readouterr().out
    (recipe,) = suggest_for_photo(photo, [(load_style(store / "beta.safetensors"), 1.0)])
    assert out.splitlines()[0].startswith(f"{photo}  (style beta, strength 1)")
    for step in recipe.steps:
        assert step.slider in out


def test_variants_are_reproducible(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = _jpeg(tmp_path)

    def variants(seed: int) -> list[object]:
        assert main(["suggest", str(photo), "--style", "alpha", "--variants", "3", "--seed", str(seed), "--json"]) == 0
        (row,) = _json_rows(capsys.readouterr().out)
        return row["recipes"]  # type: ignore[return-value]

    a, b, c = variants(7), variants(7), variants(8)
    assert len(a) == 3 and a == b
    assert a[0] == c[0]  # the first recipe is the deterministic one, whatever the seed
    assert a[1] != c[1] and a[1] != a[0] and a[1] != a[2]
    assert main(["suggest", str(photo), "--style", "alpha", "--json"]) == 0
    assert _json_rows(capsys.readouterr().out)[0]["recipes"] == [a[0]]


def test_strength(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = _jpeg(tmp_path)
    rows = {}
    for strength in ("0", "0.5", "1"):
        assert main(["suggest", str(photo), "--style", "alpha", "--strength", strength, "--json"]) == 0
        rows[strength] = _json_rows(capsys.readouterr().out)[0]
    zero = Recipe.from_dict(rows["0"]["recipes"][0])  # type: ignore[index]
    assert zero.steps == () and rows["0"]["strength"] == 0.0
    full = Recipe.from_dict(rows["1"]["recipes"][0])  # type: ignore[index]
    half = Recipe.from_dict(rows["0.5"]["recipes"][0])  # type: ignore[index]
    assert half == Recipe.from_dict(scale(full, 0.5).to_dict()) and half.strength == 0.5
    with pytest.raises(SystemExit) as info:
        main(["suggest", str(photo), "--style", "alpha", "--strength", "1.5"])
    assert info.value.code == 2


def test_mix_blends_in_slider_space(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = _jpeg(tmp_path)
    assert main(["suggest", str(photo), "--mix", "alpha:0.7,beta:0.3", "--json"]) == 0
    (row,) = _json_rows(capsys.readouterr().out)
    assert row["style"] == "alpha:0.7,beta:0.3"
    mixed = Recipe.from_dict(row["recipes"][0])  # type: ignore[index]
    alpha = suggest_for_photo(photo, [(load_style("alpha"), 1.0)])[0]
    beta = suggest_for_photo(photo, [(load_style("beta"), 1.0)])[0]
    expected = blend([alpha, beta], [0.7, 0.3], style="alpha:0.7,beta:0.3")
    assert {s.slider for s in mixed.steps} == {s.slider for s in expected.steps}
    for step in expected.steps:
        assert np.allclose(np.asarray(mixed.value(step.slider)), np.asarray(step.value), atol=1e-9)
    assert mixed.model == "alpha@1+beta@1"
    with pytest.raises(SystemExit):
        main(["suggest", str(photo), "--mix", "alpha:0.7,beta:0.3", "--style", "alpha"])
    for bad in ("alpha", "alpha:x", "alpha:-1", "alpha:0,beta:0", "alpha:1,alpha:2"):
        with pytest.raises(InvalidRecipeError):
            parse_mix(bad)
    assert parse_mix(" a:1 , b:2.5") == [("a", 1.0), ("b", 2.5)]


def test_missing_default_style_is_a_clear_error(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = _jpeg(tmp_path)
    assert main(["suggest", str(photo)]) == 6  # NotFoundError
    err = capsys.readouterr().err
    assert "no default style is installed" in err and "Traceback" not in err
    assert main(["suggest", str(photo), "--style", "nope"]) == 6
    assert "no style named 'nope'" in capsys.readouterr().err


def test_batch_with_a_bad_photo_carries_on(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _jpeg(tmp_path, "good.jpg")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.jpg"
    code = main(["suggest", str(empty), str(good), str(missing), "--style", "alpha", "--json"])
    assert code == EXIT_PARTIAL
    captured = capsys.readouterr()
    rows = _json_rows(captured.out)
    assert [r["photo"] for r in rows] == [str(empty), str(good), str(missing)]
    assert [r["ok"] for r in rows] == [False, True, False]
    assert str(empty) in captured.err and str(missing) in captured.err
    assert main(["suggest", str(empty), "--style", "alpha"]) == 5  # single photo: the decode error's code


def test_suggest_for_image_checks_arguments(store: Path) -> None:
    style = load_style("alpha")
    image = torch.rand(1, 3, 40, 60)
    assert len(suggest_for_image(image, [(style, 1.0)], variants=2)) == 2
    with pytest.raises(InvalidRecipeError):
        suggest_for_image(image, [(style, 1.0)], variants=0)
    with pytest.raises(InvalidRecipeError):
        suggest_for_image(image, [(style, 1.0)], strength=2.0)
    with pytest.raises(InvalidRecipeError):
        suggest_for_image(image, [])


def test_styles_command(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["styles", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["default"] == "default"
    assert [d["source"] for d in data["dirs"]] == ["user", "shipped"]
    names = {s["name"]: s for s in data["styles"]}
    assert set(names) == {"alpha", "beta"}
    assert names["beta"]["training"] == {"photos": 2} and names["beta"]["metrics"] == {"score": 0.5}
    assert names["alpha"]["directory"] == str(store) and names["alpha"]["source"] == "user"
    assert names["alpha"]["created"] and names["alpha"]["catalog_version"] == 1 and names["alpha"]["error"] is None
    assert main(["styles"]) == 0
    out = capsys.readouterr().out
    assert "alpha" in out and "beta" in out and "photos=2" in out and str(store) in out


def test_styles_command_with_nothing_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_style_store(monkeypatch, tmp_path / "none", tmp_path / "none-shipped")
    assert main(["styles"]) == 0
    assert "no styles installed" in capsys.readouterr().out


def test_a_saved_suggestion_is_a_recipe_for_render_and_apply(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = _jpeg(tmp_path)
    assert main(["suggest", str(photo), "--style", "alpha", "--variants", "2", "--json"]) == 0
    saved = tmp_path / "suggestion.json"
    saved.write_text(capsys.readouterr().out)
    (row,) = _json_rows(saved.read_text())
    first = Recipe.from_dict(row["recipes"][0])  # type: ignore[index]
    out = tmp_path / "out.png"
    assert main(["render", str(photo), "--recipe", str(saved), "-o", str(out)]) == 0
    want = tmp_path / "want.png"
    plain = tmp_path / "plain.json"
    plain.write_text(first.to_json())
    assert main(["render", str(photo), "--recipe", str(plain), "-o", str(want)]) == 0
    assert np.array_equal(cv2.imread(str(out), cv2.IMREAD_UNCHANGED), cv2.imread(str(want), cv2.IMREAD_UNCHANGED))
    assert main(["apply", str(photo), "--recipe", str(saved), "--host", "darktable", "--json"]) == 0
    capsys.readouterr()
    assert (tmp_path / "photo.jpg.xmp").is_file()

    # the suggestions for several photos, or a failed one, are refused with the file named
    other = _jpeg(tmp_path, "other.jpg", seed=1)
    assert main(["suggest", str(photo), str(other), "--style", "alpha", "--json"]) == 0
    several = tmp_path / "several.json"
    several.write_text(capsys.readouterr().out)
    assert main(["render", str(photo), "--recipe", str(several), "-o", str(tmp_path / "x.png")]) == 4
    assert "several.json" in capsys.readouterr().err
    failed = tmp_path / "failed.json"
    failed.write_text(json.dumps({"photo": "x.jpg", "ok": False, "error": "unreadable"}))
    assert main(["render", str(photo), "--recipe", str(failed), "-o", str(tmp_path / "y.png")]) == 4
    err = capsys.readouterr().err
    assert "failed.json" in err and "without a recipe" in err and "unreadable" in err
