"""A style from the photographer's darktable edits (``train --darktable DIR``), rendered by real darktable-cli.

Needs darktable-cli: skipped when it is missing, a failure under CI=true.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from backend.agent.rollout import rollout
from backend.agent.style import load_style
from backend.agent.thumbnail import make_thumbnail
from backend.encode import write_image
from backend.recipe import Recipe
from backend.render.pipeline import render
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from testing.darktable_cli import darktable_cli_path
from testing.needs import missing
from testing.training import tiny_pairs_config
from trainer.config import config_from_dict
from trainer.synthetic import smooth_images
from trainer.train import train

pytestmark = pytest.mark.host

if darktable_cli_path() is None:
    missing("darktable-cli is not installed (apt-get install darktable)", module_level=True)

LOOK_EV = 0.6


def test_darktable_edits_teach_a_style_that_reads_each_photo(tmp_path: Path) -> None:
    folder = tmp_path / "darktable"
    folder.mkdir()
    n = 10
    scenes = smooth_images(n, 48, seed=9)
    shots = torch.linspace(-0.9, 0.9, n)
    for i in range(n):
        photo = folder / f"d{i:02d}.png"
        with torch.no_grad():
            write_image(photo, render(scenes[i : i + 1], {"exposure": float(shots[i])}), bit_depth=16)
        # the photographer's edit in darktable: the exposure that gives every scene the same brightness
        edit = Recipe.from_settings({"exposure": round(LOOK_EV - float(shots[i]), 3), "saturation": 15.0})
        assert [o.action for o in apply_to_photo(photo, edit, host="darktable", info=PhotoInfo(False, 48))] == [
            "written"
        ]
    write_image(folder / "unedited.png", scenes[:1], bit_depth=16)  # no sidecar: reported and skipped
    cfg = config_from_dict(tiny_pairs_config(["exposure", "saturation"], "dt"))
    result = train(cfg, targets=None, darktable=folder, run_dir=tmp_path / "run", install_dir=tmp_path / "styles")
    assert result.rejected is None
    style = load_style(tmp_path / "styles" / "dt.safetensors")
    t = style.training
    assert t["learned_from"] == "darktable sidecars" and t["pairs"] == n
    assert [m.split(":")[0] for m in t["darktable_skipped"]] == ["unedited.png"]
    assert t["modules"]["ours_mapped"] == ["colorbalancergb", "exposure"] and t["modules"]["not_ours"] == []
    assert t["fit_psnr_mean"] > 28.0  # our renderer reproduces darktable's render of our own modules
    # the mapped history is the nearest-edits label: the photographer's own exposure for each photo
    first = {s["slider"]: s["value"] for s in style.examples["recipes"][0]}
    assert first["exposure"] == pytest.approx(LOOK_EV - float(shots[0]), abs=1e-3)
    with torch.no_grad():
        dark, bright = render(scenes[:4], {"exposure": -1.0}), render(scenes[:4], {"exposure": 1.0})
        up = rollout(style.net, make_thumbnail(dark, 32), render_final=False).settings["exposure"]
        down = rollout(style.net, make_thumbnail(bright, 32), render_final=False).settings["exposure"]
    assert float(up.mean()) > LOOK_EV + 0.4 and float(down.mean()) < LOOK_EV - 0.4, (up, down)
