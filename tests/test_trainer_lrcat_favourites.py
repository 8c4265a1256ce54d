"""A style from the photographer's own Lightroom catalog: favourites by pick, rating, collection; settings as labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from backend.agent.rollout import rollout
from backend.agent.style import load_style
from backend.agent.thumbnail import make_thumbnail
from backend.encode import write_image
from backend.errors import CatalogError, NotFoundError
from backend.render.pipeline import render
from testing.lrcat_fixtures import CatalogBuilder
from testing.recipes import every_slider_recipe
from testing.training import tiny_pairs_config
from trainer.config import config_from_dict
from trainer.lrcat.favourites import catalog_edits, parse_selection, select_favourites
from trainer.lrcat.reader import open_catalog
from trainer.synthetic import smooth_images
from trainer.train import train

LOOK_EV = 0.8  # every edit brings its scene to the same brightness: exposure = LOOK_EV - (how the photo was shot)
N = 12


def _settings(exposure: float, pv: str = "11.0") -> dict[str, Any]:
    return {"ProcessVersion": pv, "WhiteBalance": "As Shot", "Exposure2012": exposure, "Vibrance": 10}


@pytest.fixture()
def catalog(tmp_path: Path) -> dict[str, Any]:
    photos = tmp_path / "Pictures"
    photos.mkdir()
    scenes = smooth_images(N + 3, 48, seed=5)
    shots = torch.linspace(-1.0, 1.0, N + 3)[torch.randperm(N + 3, generator=torch.Generator().manual_seed(1))]
    with torch.no_grad():
        for i in range(N + 3):
            write_image(
                photos / f"p{i:03d}.png", render(scenes[i : i + 1], {"exposure": float(shots[i])}), bit_depth=16
            )
    path = tmp_path / "My.lrcat"
    ids: dict[str, int] = {}
    with CatalogBuilder(path, schema="modern") as b:
        folder = b.add_folder(b.add_root(str(photos) + "/"), "")
        for i in range(N):
            image = b.add_image(b.add_file(folder, f"p{i:03d}", "png"), file_format="PNG", rating=4, pick=int(i < 2))
            b.set_settings(image, _settings(round(LOOK_EV - float(shots[i]), 2)), compressed=True)
            ids[f"p{i:03d}"] = image
        legacy = b.add_image(b.add_file(folder, f"p{N:03d}", "png"), file_format="PNG", rating=5)
        b.set_settings(legacy, {"ProcessVersion": "5.7", "Exposure": 1.0})
        missing = b.add_image(b.add_file(folder, "gone", "png"), file_format="PNG", rating=5)
        b.set_settings(missing, _settings(0.5))
        hostile = b.add_image(b.add_file(folder, f"p{N + 1:03d}", "png"), file_format="PNG", rating=5)
        b.set_settings(hostile, 's = { Exposure2012 = os.execute("touch /tmp/pwned") }')
        unrated = b.add_image(b.add_file(folder, f"p{N + 2:03d}", "png"), file_format="PNG", rating=1)
        b.set_settings(unrated, _settings(0.1))
        best = b.add_collection("Best", b.add_collection("Portfolio", kind="group"))
        for name in ("p003", "p004", "p005"):
            b.add_to_collection(best, ids[name])
    return {"path": path, "ids": ids, "scenes": scenes, "legacy": legacy, "hostile": hostile, "unrated": unrated}


def test_favourites_by_pick_rating_and_collection(catalog: dict[str, Any]) -> None:
    ids = catalog["ids"]
    with open_catalog(catalog["path"]) as cat:
        assert select_favourites(cat, "picks") == [ids["p000"], ids["p001"]]
        rated = select_favourites(cat, "rating:4")
        assert len(rated) == N + 3 and catalog["unrated"] not in rated
        assert select_favourites(cat, "rating:5") == sorted([catalog["legacy"], catalog["hostile"], rated[-2]])
        assert select_favourites(cat, "collection:Best") == sorted(ids[n] for n in ("p003", "p004", "p005"))
        assert select_favourites(cat, "collection:Portfolio/Best") == select_favourites(cat, "collection:Best")
        with pytest.raises(NotFoundError, match="no collection called 'Worst'"):
            select_favourites(cat, "collection:Worst")
    for bad in ("stars:3", "rating:9", "collection:", "pick"):
        with pytest.raises(CatalogError, match="picks, rating:N"):
            parse_selection(bad)


def test_catalog_edits_map_settings_and_report_what_they_skip(catalog: dict[str, Any], tmp_path: Path) -> None:
    edits, skipped = catalog_edits(catalog["path"], "rating:4")
    assert [e.name for e in edits] == [f"p{i:03d}" for i in range(N)]
    assert all(e.original.is_file() for e in edits)
    assert edits[0].values["vibrance"] == 10.0 and "exposure" in edits[0].values
    assert len(skipped) == 3, skipped
    text = "\n".join(skipped)
    assert "process version 2010" in text and "original not found" in text and "gone" in text
    assert f"image {catalog['hostile']}" in text and "identifier 'os' in value position" in text  # data only
    assert not Path("/tmp/pwned").exists()


def test_a_style_from_the_catalog_reads_each_photo(catalog: dict[str, Any], tmp_path: Path) -> None:
    cfg = config_from_dict(tiny_pairs_config(["exposure", "vibrance"], "mine"))
    result = train(cfg, targets=None, catalog=(catalog["path"], "rating:4", None), run_dir=tmp_path / "run",
                   install_dir=tmp_path / "styles")  # fmt: skip
    assert result.rejected is None
    style = load_style(tmp_path / "styles" / "mine.safetensors")
    t = style.training
    assert t["learned_from"] == "lightroom catalog" and t["pairs"] == N and t["favourites"] == "rating:4"
    assert len(t["catalog_skipped"]) == 3 and t["fit_psnr_mean"] > 30.0
    assert style.examples is not None and style.examples["recipes"][0][0]["slider"] == "exposure"
    with torch.no_grad():
        dark = render(catalog["scenes"][:4], {"exposure": -1.0})
        bright = render(catalog["scenes"][:4], {"exposure": 1.0})
        up = rollout(style.net, make_thumbnail(dark, 32), render_final=False).settings["exposure"]
        down = rollout(style.net, make_thumbnail(bright, 32), render_final=False).settings["exposure"]
    assert float(up.mean()) > LOOK_EV + 0.4 and float(down.mean()) < LOOK_EV - 0.4, (up, down)


def test_a_catalogs_settings_text_maps_back_slider_by_slider(tmp_path: Path) -> None:
    """Recipe -> our Lightroom translator -> settings text in a modern catalog -> catalog_edits -> the recipe."""
    from backend.decode.types import AsShotWhiteBalance as DecodedAsShot
    from backend.translate.lightroom import recipe_to_develop_settings
    from testing.lrcat_fixtures import default_import_settings

    recipe = every_slider_recipe(without=("black_and_white",))
    as_shot = DecodedAsShot((2.1, 1.0, 1.4), (0.476, 1.0, 0.714), kelvin=4850.0, tint=6.0)
    settings = dict(recipe_to_develop_settings(recipe, is_raw=True, as_shot=as_shot))
    settings |= {"Texture": 20, "Dehaze": 10}  # real PV2012 keys we have no slider for
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "DSC_0001.NEF").write_bytes(b"not decoded here")
    with CatalogBuilder(tmp_path / "c.lrcat", schema="modern") as b:
        folder = b.add_folder(b.add_root(str(tmp_path / "raw") + "/"), "")
        image = b.add_image(b.add_file(folder, "DSC_0001", "NEF"), rating=5)
        b.add_history_step(image, "Import", default_import_settings(kelvin=4850, tint=6))  # records the as-shot WB
        b.set_settings(image, settings, compressed=True)
    (edit,), skipped = catalog_edits(tmp_path / "c.lrcat", "rating:5")
    assert skipped == []
    assert any("Texture" in n and "Dehaze" in n for n in edit.notes), edit.notes  # dropped, and said so
    # whole kelvin; curve points stored as whole 0..255 values; whole HSL steps
    tolerance = {"temperature": 0.05, "tone_curve": 0.005, "rgb_curves": 0.005, "hsl": 0.5}
    for step in recipe.steps:
        got = torch.tensor(edit.values[step.slider], dtype=torch.float64)
        want = torch.tensor(step.value, dtype=torch.float64)
        assert float((got - want).abs().max()) <= tolerance.get(step.slider, 1e-6), (step.slider, got, want)
