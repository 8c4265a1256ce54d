"""A style from the photographer's darktable edits (``train --darktable DIR``), rendered by real darktable-cli.

Needs darktable-cli: skipped when it is missing, a failure under CI=true.
"""

from __future__ import annotations

import json
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
from testing.training import TinyRun, tiny_pairs_config
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


def _train_darktable(tmp_path: Path, *paths: Path) -> TinyRun:
    """``train --darktable PATHS`` on a tiny config (2 steps, not installed): the exit status, run folder, record."""
    from testing.training import run_tiny_train

    return run_tiny_train(tmp_path, ["--darktable", *map(str, paths)])


def test_the_record_names_what_was_given_and_the_subfolders_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from testing.darktable_copies import edited_photo

    lib, roll = tmp_path / "lib", tmp_path / "roll"
    a = edited_photo(lib, "a.png", 1, 0.4, {})
    edited_photo(lib, "b.png", 2, -0.3, {1: 0.2})  # its virtual copy 1 given alone
    edited_photo(lib, "c.png", 3, 0.1, {})
    r = edited_photo(roll, "r.png", 4, 0.3, {})
    exported = roll / "darktable_exported"  # darktable's default export folder, beside the photos
    exported.mkdir()
    write_image(exported / "r.jpg", smooth_images(1, 16, seed=4))
    # photos given one by one and a folder, linked into runs/NAME/selection: the record names them as given
    run = _train_darktable(tmp_path, a, lib / "b_01.png.xmp", roll)
    assert run.rc == 0 and run.record["pairs"] == 3, capsys.readouterr().err
    assert run.record["darktable_dir"] is None
    assert run.record["darktable_given"] == [str(a), str(lib / "b_01.png.xmp"), str(roll)]
    assert "selection" not in json.dumps(run.record["darktable_given"])
    assert run.record["subfolders_not_read"] == [str(exported)]  # the folder given: its subfolders are named
    # every photo of a folder given one by one: the files are recorded, and that folder's subfolders not named
    run = _train_darktable(tmp_path, r, r.with_name("r.png.xmp"))
    assert run.rc == 0 and run.record["darktable_given"] == [str(r), str(r.with_name("r.png.xmp"))]
    assert "subfolders_not_read" not in run.record, run.record["subfolders_not_read"]
    # a folder given alone is recorded as it is; its subfolders with photos are named, not read
    edited_photo(lib / "2024-05-01", "d.png", 5, 0.2, {})
    edited_photo(lib / ".cache", "e.png", 6, 0.2, {})
    capsys.readouterr()
    run = _train_darktable(tmp_path, lib)
    assert run.rc == 0 and run.record["pairs"] == 4 and run.record["darktable_dir"] == str(lib)
    assert run.record["subfolders_not_read"] == [str(lib / "2024-05-01")]
    assert (
        f"  note: 1 subfolder with photos not read (training reads the photos directly in each folder given): "
        f"{lib / '2024-05-01'}\n" in capsys.readouterr().out
    )
    # a folder of film rolls, no photo of its own: refused, naming them
    assert _train_darktable(tmp_path, roll.parent).rc == 6  # NotFoundError
    err = capsys.readouterr().err
    assert (
        f"{tmp_path}: no photo in this folder; its subfolders are not read (lib, roll): give a subfolder, "
        "or several folders\n" in err
    ), err


def test_a_broken_sidecar_given_alone_fails_as_a_sidecar_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from backend.errors import SidecarError
    from testing.darktable_copies import edited_photo

    photo = edited_photo(tmp_path / "dt", "a.png", 1, 0.4, {})
    sidecar = photo.with_name("a.png.xmp")
    sidecar.write_text("not XML at all", encoding="utf-8")
    for given in (photo, sidecar, photo.parent):  # the photo, its sidecar for it, the folder: as apply fails on it
        assert _train_darktable(tmp_path, given).rc == SidecarError.exit_code == 8
        err = capsys.readouterr().err
        assert f"autoretouch: error: {sidecar}: not well-formed XML" in err, err
    # a film roll of unedited photos beside it (no sidecar: no edit of theirs): every edit's sidecar is unreadable
    for i in range(3):
        edited_photo(tmp_path / "dt", f"u{i}.png", 2 + i, None, {})
    assert _train_darktable(tmp_path, photo.parent).rc == 8
    assert f"autoretouch: error: {sidecar}: not well-formed XML" in capsys.readouterr().err
    # an edit left out for another reason (a virtual copy's empty history): not a sidecar error alone, the run's
    # own refusal
    edited_photo(tmp_path / "dt", "b.png", 6, None, {1: None})
    assert _train_darktable(tmp_path, photo.parent).rc == 6  # NotFoundError
    assert "no photo with a darktable history" in capsys.readouterr().err
