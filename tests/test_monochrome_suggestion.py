"""Black-and-white photos get no colour moves (:mod:`backend.agent.monochrome`); toned and colour photos do.

Fixtures are made from the bundled sample ``samples/kodim03.png`` (on which the shipped default style proposes
temperature, tint and saturation): a grayscale JPEG (PIL mode ``L``), an RGB JPEG with equal channels, and a
slightly sepia-toned JPEG.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import backend.agent.suggest as suggest_mod
from backend.agent.monochrome import COLOUR_SLIDERS, is_near_neutral, without_colour
from backend.agent.style import SHIPPED_STYLES_DIR, load_style
from backend.agent.suggest import suggest_for_photo
from backend.agent.thumbnail import THUMB_SIZE, load_thumbnail
from backend.cli.main import main
from backend.daemon.convert import recipe_from_pb
from backend.recipe import Recipe, Step
from backend.rpc import PROTOCOL_VERSION, pb
from testing.daemon import serving
from testing.styles import isolate_style_store, save_random_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "kodim03.png"
#: The sepia fixture's channel gains (8-bit sRGB): a faint tone, 99th-percentile chroma about 5.
SEPIA = (1.0, 0.98, 0.94)


def _colour_sliders(recipe: Recipe) -> set[str]:
    found = {s.slider for s in recipe.steps if s.slider in COLOUR_SLIDERS}
    hsl = recipe.settings().get("hsl")
    if hsl is not None and any(row[0] or row[1] for row in hsl):  # type: ignore[union-attr]
        found.add("hsl hue/saturation")
    return found


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mono")
    gray = Image.open(SAMPLE).convert("L")
    level = np.asarray(gray).astype(np.float64)
    out = {"gray": folder / "gray.jpg", "rgbgray": folder / "rgbgray.jpg", "sepia": folder / "sepia.jpg"}
    gray.save(out["gray"], quality=92)
    Image.fromarray(np.stack([level] * 3, axis=-1).astype(np.uint8)).save(out["rgbgray"], quality=92)
    toned = np.round(np.stack([level * g for g in SEPIA], axis=-1)).astype(np.uint8)
    Image.fromarray(toned).save(out["sepia"], quality=92)
    out["colour"] = folder / "colour.png"
    shutil.copy(SAMPLE, out["colour"])
    # a gray wall with a small red sign: 0.5 % of the frame, a few pixels of the agent's 64 x 64 thumbnail
    wall = np.full((480, 640, 3), 128, np.uint8)
    wall[200:239, 300:339] = (200, 30, 30)
    out["redsign"] = folder / "redsign.png"
    Image.fromarray(wall).save(out["redsign"])
    # the colour photo 9 stops under (0.2 % of its linear light): its colours measure near 0 in absolute chroma
    srgb = np.asarray(Image.open(SAMPLE).convert("RGB")).astype(np.float64) / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4) * 0.002
    dark = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    out["dark"] = folder / "dark.png"
    Image.fromarray(np.round(dark * 255.0).astype(np.uint8)).save(out["dark"])
    # black-and-white scans: 5 stops dark with independent noise per channel (a colour scanner's), and one with
    # five red dust specks: both stay black and white
    rng = np.random.default_rng(0)
    under = np.where(level / 255.0 <= 0.04045, level / 255.0 / 12.92, ((level / 255.0 + 0.055) / 1.055) ** 2.4) / 32
    under = np.where(under <= 0.0031308, under * 12.92, 1.055 * under ** (1 / 2.4) - 0.055) * 255.0
    noisy = np.stack([under + rng.normal(0.0, 2.0, under.shape) for _ in range(3)], axis=-1)
    out["darkscan"] = folder / "darkscan.jpg"
    Image.fromarray(np.clip(np.round(noisy), 0, 255).astype(np.uint8)).save(out["darkscan"], quality=85)
    specks = np.stack([level] * 3, axis=-1)
    for y, x in rng.integers(0, 500, size=(5, 2)):
        specks[y : y + 3, x : x + 3] = (220, 40, 40)
    out["specks"] = folder / "specks.png"
    Image.fromarray(specks.astype(np.uint8)).save(out["specks"])
    return out


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user styles but a random ``alpha`` (for --mix); the real shipped styles (the default)."""
    user = tmp_path / "styles"
    save_random_style(user, "alpha", 3)
    isolate_style_store(monkeypatch, user, SHIPPED_STYLES_DIR)
    return user


def _unfiltered(monkeypatch: pytest.MonkeyPatch, photo: Path, **kwargs: object) -> list[Recipe]:
    """What the agent proposes for ``photo`` with the monochrome rule switched off."""
    with monkeypatch.context() as m:
        m.setattr(suggest_mod, "is_near_neutral", lambda thumb: False)
        return suggest_for_photo(photo, [(load_style("default"), 1.0)], **kwargs)  # type: ignore[arg-type]


# -- the rule -------------------------------------------------------------------------------------------


def test_near_neutral_is_measured_on_the_thumbnail(photos: dict[str, Path]) -> None:
    assert is_near_neutral(torch.full((1, 3, 8, 8), 0.3))
    assert is_near_neutral(torch.rand(1, 1, 8, 8).expand(1, 3, 8, 8))  # equal channels, any levels
    assert not is_near_neutral(torch.tensor([0.20, 0.18, 0.16]).view(1, 3, 1, 1))  # a faint warm tone
    assert is_near_neutral(load_thumbnail(photos["gray"], THUMB_SIZE))
    assert is_near_neutral(load_thumbnail(photos["rgbgray"], THUMB_SIZE))
    assert not is_near_neutral(load_thumbnail(photos["sepia"], THUMB_SIZE))
    assert not is_near_neutral(load_thumbnail(photos["colour"], THUMB_SIZE))
    assert not is_near_neutral(load_thumbnail(photos["redsign"], THUMB_SIZE))  # a small coloured object counts
    assert not is_near_neutral(load_thumbnail(photos["dark"], THUMB_SIZE))  # an underexposed colour photo too
    assert is_near_neutral(load_thumbnail(photos["darkscan"], THUMB_SIZE))  # a dark scan's noise is not colour
    assert is_near_neutral(load_thumbnail(photos["specks"], THUMB_SIZE))  # nor are a few dust specks


def test_without_colour_keeps_luminance_moves_and_provenance() -> None:
    hsl = tuple((10.0 * i, -5.0, 20.0 if i == 2 else 0.0) for i in range(8))
    recipe = Recipe(
        (
            Step("temperature", 5.0),
            Step("exposure", 0.3),
            Step("hsl", hsl),
            Step("saturation", 10.0),
            Step("black_and_white", 40.0),
            Step("tint", -3.0),
            Step("vibrance", 7.0),
        ),
        style="s",
        strength=0.5,
        model="s@1",
    )
    out = without_colour(recipe)
    assert [s.slider for s in out.steps] == ["exposure", "hsl", "black_and_white"]
    assert out.settings()["hsl"] == tuple((0.0, 0.0, 20.0 if i == 2 else 0.0) for i in range(8))
    assert (out.style, out.strength, out.model) == ("s", 0.5, "s@1")
    only_hue = Recipe((Step("hsl", tuple((5.0, 5.0, 0.0) for _ in range(8))), Step("contrast", 4.0)))
    assert [s.slider for s in without_colour(only_hue).steps] == ["contrast"]  # an all-zero hsl is dropped


# -- suggest, render ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gray", "rgbgray"])
def test_monochrome_photo_gets_no_colour_moves(
    name: str, photos: dict[str, Path], store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = photos[name]
    before = _unfiltered(monkeypatch, photo, variants=3, seed=4)
    assert _colour_sliders(before[0]), "the default style no longer proposes colour moves here: a weak test"
    assert main(["suggest", str(photo), "--style", "default", "--json", "--variants", "3", "--seed", "4"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    recipes = [Recipe.from_dict(r) for r in row["recipes"]]
    assert [_colour_sliders(r) for r in recipes] == [set()] * 3
    assert recipes == [without_colour(r) for r in before]  # the luminance moves are kept as they were
    assert main(["suggest", str(photo), "--mix", "default:0.6,alpha:0.4", "--json"]) == 0
    (mixed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert not _colour_sliders(Recipe.from_dict(mixed["recipes"][0]))


@pytest.mark.parametrize("name", ["gray", "rgbgray"])
def test_monochrome_photo_renders_neutral(name: str, photos: dict[str, Path], store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["render", str(photos[name]), "--style", "default", "--out-dir", str(out)]) == 0
    (written,) = out.iterdir()
    rgb = np.asarray(Image.open(written).convert("RGB")).astype(np.int32)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() <= 1
    assert np.abs(rgb[..., 1] - rgb[..., 2]).max() <= 1


@pytest.mark.parametrize("name", ["sepia", "colour", "redsign", "dark"])
def test_toned_and_colour_photos_keep_their_colour_moves(
    name: str, photos: dict[str, Path], store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _unfiltered(monkeypatch, photos[name], variants=2, seed=1)
    assert _colour_sliders(before[0])
    assert suggest_for_photo(photos[name], [(load_style("default"), 1.0)], variants=2, seed=1) == before


# -- the daemon -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon_env(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, Path]) -> Iterator[dict[str, object]]:
    base = tmp_path_factory.mktemp("mono-daemon")
    (base / "root").mkdir()
    for name in ("gray", "sepia"):
        shutil.copy(photos[name], base / "root" / photos[name].name)
    (base / "styles").mkdir()
    for suffix in (".safetensors", ".json"):  # the shipped default, beside a random style the helper writes
        shutil.copy(SHIPPED_STYLES_DIR / f"default{suffix}", base / "styles" / f"default{suffix}")
    with serving(base, photos=False, style_names=("warm",)) as served:
        yield {"root": served.root, "stub": served.stub}


@pytest.mark.parametrize("name", ["gray", "sepia"])
def test_daemon_suggest_equals_the_cli(
    name: str, daemon_env: dict[str, object], store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = Path(str(daemon_env["root"])) / f"{name}.jpg"
    req = pb.SuggestRequest(protocol_version=PROTOCOL_VERSION, path=str(photo), style="default", variants=2, seed=7)
    resp = daemon_env["stub"].Suggest(req, timeout=60)  # type: ignore[attr-defined]
    assert resp.model_version == "default@1"
    via_daemon = [recipe_from_pb(s.recipe) for s in resp.suggestions]
    assert main(["suggest", str(photo), "--style", "default", "--json", "--variants", "2", "--seed", "7"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert via_daemon == [Recipe.from_dict(r) for r in row["recipes"]]
    assert bool(_colour_sliders(via_daemon[0])) == (name == "sepia")
