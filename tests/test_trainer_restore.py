"""The restoration trainer: seconds-long runs on generated photos (trainer.restore, trainer.restore_fit)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.agent.network import AgentNet
from backend.agent.rollout import rollout
from backend.agent.style import Style, load_style, save_style
from backend.agent.suggest import suggest_for_image
from backend.agent.thumbnail import make_thumbnail
from backend.recipe import blend
from backend.render.pipeline import render
from testing.training import config_with
from trainer.data.unedit import PHOTOGRAPHER_UNEDIT, photographer_unedit_settings
from trainer.restore import degenerate_moves
from trainer.restore_fit import fit_unedit_centre
from trainer.synthetic import HIDDEN_RECIPE, write_style_folders
from trainer.train import train

TINY = {
    "agent": {"sliders": ["exposure", "contrast", "temperature"], "width": 16, "thumb": 32, "dropout": 0.0},
    "data": {"crops_per_image": 2, "eval_size": 48},
    "restore": {"batch": 8, "pool_per_target": 12, "eval_every": 40, "lr": 1e-2, "val_unedits": 4, "overexposed": 1.0},
    "run": {"style": "restored", "steps": 160, "seed": 0, "threads": 1, "log_every": 20},
}


def _exposure(net: AgentNet, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        traj = rollout(net, make_thumbnail(images, net.thumb), render_final=False)
    return traj.settings["exposure"]


def test_restoration_makes_exposure_depend_on_the_photo(tmp_path: Path) -> None:
    targets, _, heldout = write_style_folders(tmp_path / "data", n_targets=16, n_sources=1, size=48, seed=1)
    styles = tmp_path / "styles"
    result = train(config_with(TINY), targets=targets, run_dir=tmp_path / "run", install_dir=styles)
    assert result.step == 160 and result.rejected is None
    style = load_style(styles / "restored.safetensors")
    assert style.net.oneshot and style.training["method"] == "restore"

    # photos with the favourites' look, un-edited in opposite directions, get opposite exposure moves
    with torch.no_grad():
        look = render(heldout, HIDDEN_RECIPE)
        dark = render(look, {"exposure": -1.0})
        bright = render(look, {"exposure": 1.0})
    up, down = _exposure(style.net, dark), _exposure(style.net, bright)
    assert float(up.mean()) > 0.4, up
    assert float(down.mean()) < -0.2, down
    assert bool((up > down).all())

    # the style carries a copy of the shipped default agent as its prior, and suggests the blend of both
    default = load_style("default")
    assert style.prior is not None and style.prior_share == 0.5 and style.prior_from == default.model
    prior, shipped = style.prior.state_dict(), default.net.state_dict()
    assert prior.keys() == shipped.keys() and all(torch.equal(prior[k], shipped[k]) for k in prior)
    photo = dark[:1]
    alone = dataclasses.replace(style, prior=None)
    mine, theirs = suggest_for_image(photo, [(alone, 1.0)])[0], suggest_for_image(photo, [(default, 1.0)])[0]
    expected = blend([mine, theirs], [0.5, 0.5])
    got = suggest_for_image(photo, [(style, 1.0)])[0]
    assert got.model == style.model and [s.slider for s in got.steps] == [s.slider for s in expected.steps]
    for step in got.steps:
        assert np.allclose(step.value, expected.value(step.slider), atol=1e-5), step.slider
    assert got.value("exposure") != pytest.approx(mine.value("exposure"), abs=1e-3)  # the prior does move it

    run = result.run_dir
    for name in ("config.toml", "metrics.csv", "curves.png", "contact_sheet.png", "eval.json"):
        assert (run / name).is_file(), name
    report = json.loads((run / "eval.json").read_text())
    assert report["val_gain_db"] > 0.0 and report["installed"] and report["degenerate"] == []
    assert report["val_psnr"] == pytest.approx(style.metrics["val_psnr"], abs=1e-5)
    assert "val_psnr_agent_alone" in report  # the check scores the blend, as it will suggest


def test_a_style_worse_than_doing_nothing_is_not_installed_unless_forced(tmp_path: Path) -> None:
    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=6, n_sources=1, size=32, seed=2)
    impossible = {"restore": {"min_gain_db": 99.0}, "run": {"steps": 20}}
    styles = tmp_path / "styles"
    result = train(config_with(TINY, **impossible), targets=targets, run_dir=tmp_path / "a", install_dir=styles)
    assert result.installed_path is None and result.rejected is not None
    assert "doing nothing" in result.rejected
    assert not (styles / "restored.safetensors").exists()
    assert (tmp_path / "a" / "style" / "restored.safetensors").is_file()  # kept in the run folder
    assert json.loads((tmp_path / "a" / "eval.json").read_text())["installed"] is False

    forced = {"restore": {"min_gain_db": 99.0, "prior": ""}, "run": {"steps": 20, "force": True}}
    result = train(config_with(TINY, **forced), targets=targets, run_dir=tmp_path / "b", install_dir=styles)
    assert result.rejected is None and (styles / "restored.safetensors").is_file()
    assert load_style(styles / "restored.safetensors").prior is None  # restore.prior = "": the agent alone


def test_degenerate_moves_are_detected() -> None:
    photos = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.05
    photos[:, 0] *= 0.5  # coloured
    net = AgentNet(sliders=("black_and_white", "exposure"), thumb=32, width=8, dropout=0.0, oneshot=True).eval()
    assert degenerate_moves(net, photos) == []  # an untrained net is close to the identity
    with torch.no_grad():
        net.value_head.bias[0] = 5.0  # black and white at ~100
        net.value_head.bias[1] = 3.0  # and +5 EV: everything clips to white
    reasons = degenerate_moves(net, photos)
    assert any("black and white" in r for r in reasons) and any("clips" in r for r in reasons)


def test_the_unedit_centre_fitted_to_sources_inverts_a_hidden_edit() -> None:
    gen = torch.Generator().manual_seed(3)
    base = torch.rand(24, 3, 8, 8, generator=gen)
    photos = torch.nn.functional.interpolate(base, size=32, mode="bilinear", align_corners=False) * 0.5 + 0.02
    favourites, plain = photos[:12], photos[12:]
    styled = render(favourites, {"exposure": 0.8, "temperature": 20.0})
    centre = fit_unedit_centre(styled, plain)
    assert centre["exposure"] == pytest.approx(-0.8, abs=0.25)
    assert centre["temperature"] < -8.0


def test_photographer_unedits_darken_on_average_and_sometimes_overexpose() -> None:
    rng = np.random.default_rng(0)
    draws = [photographer_unedit_settings(rng) for _ in range(2000)]
    ev = np.array([d["exposure"] for d in draws])
    assert ev.mean() == pytest.approx(0.75 * PHOTOGRAPHER_UNEDIT["exposure"][0], abs=0.08)
    assert (ev > 0.5).mean() > 0.05  # the over-exposed share
    centred = photographer_unedit_settings(rng, scale=0.0, overexposed=0.0, centre={"exposure": 0.3})
    assert centred["exposure"] == pytest.approx(0.3) and centred["contrast"] == PHOTOGRAPHER_UNEDIT["contrast"][0]


def test_oneshot_style_round_trip_and_negligible_moves(tmp_path: Path) -> None:
    net = AgentNet(sliders=("exposure", "contrast", "tone_curve"), thumb=32, width=8, oneshot=True).eval()
    with torch.no_grad():
        net.value_head.weight.zero_()
        net.value_head.bias.zero_()
        net.value_head.bias[0] = 0.1  # exposure 0.5 EV; contrast and the curve stay at the identity
    path = save_style(Style(name="one", net=net), tmp_path)
    loaded = load_style(path)
    assert loaded.net.oneshot
    recipe = rollout(loaded.net, torch.full((1, 3, 32, 32), 0.2), render_final=False).recipe()
    assert [s.slider for s in recipe.steps] == ["exposure"]
    assert recipe.steps[0].value == pytest.approx(5.0 * np.tanh(0.1), rel=1e-5)


def test_the_sources_look_decides_how_much_of_the_prior_a_style_keeps() -> None:
    from backend.agent.look import look_descriptor
    from trainer.restore import Prior, RestoreData, fit_prior_share

    default = load_style("default")
    prior = Prior(default.net, 0.5, default.model)
    agent = AgentNet(sliders=("exposure",), max_steps=1, oneshot=True, encoder="stats", thumb=32).eval()  # identity
    g = torch.Generator().manual_seed(3)
    sources = render(torch.rand(6, 3, 48, 48, generator=g) * 0.6, {"exposure": -1.5})  # dark, unedited photos
    empty = torch.zeros(0, 3, 8, 8)

    def data(favourite_look: torch.Tensor) -> RestoreData:
        return RestoreData(empty, empty, None, empty, empty, sources, None, favourite_look, {})

    with torch.no_grad():
        brightened = render(sources, {"exposure": float(_exposure(default.net, sources).mean())})
    # favourites that look like the prior's results: keep all of it; like the dark sources themselves: none
    kept, distances = fit_prior_share(agent, data(look_descriptor(brightened).mean(dim=0)), prior)
    assert kept is not None and kept.share == 0.5 and set(distances) == {"0", "0.25", "0.5"}
    assert distances["0.5"] < distances["0.25"] < distances["0"]
    dropped, distances = fit_prior_share(agent, data(look_descriptor(sources).mean(dim=0)), prior)
    assert dropped is None and distances["0"] < distances["0.5"]
