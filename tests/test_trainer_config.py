"""Training configuration: TOML files into frozen dataclasses, typed overrides, no evaluation of code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from backend.errors import NotFoundError
from trainer.config import ConfigError, TrainConfig, apply_overrides, config_to_toml, load_config

TINY = """
[agent]
sliders = ["exposure", "temperature"]
max_steps = 2
thumb = 32

[critic]
gp_one_sided = false
gp_bounds = [1.0, 1.1]

[run]
style = "tiny"
steps = 7
"""

REPO = Path(__file__).resolve().parents[1]


def test_toml_file_loads_into_frozen_dataclasses(tmp_path: Path) -> None:
    p = tmp_path / "tiny.toml"
    p.write_text(TINY)
    cfg = load_config(p)
    assert cfg.agent.sliders == ("exposure", "temperature")
    assert cfg.agent.max_steps == 2 and cfg.run.steps == 7 and cfg.run.style == "tiny"
    assert cfg.critic.gp_one_sided is False and cfg.critic.gp_bounds == (1.0, 1.1)
    assert cfg.critic.n_critic == TrainConfig().critic.n_critic  # unspecified keys keep their defaults
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.run.steps = 3  # type: ignore[misc]


def test_resolved_config_round_trips_through_toml(tmp_path: Path) -> None:
    p = tmp_path / "tiny.toml"
    p.write_text(TINY)
    cfg = load_config(p, ["rl.entropy_weight=0.2", 'run.description=a "quoted" style'])
    out = tmp_path / "resolved.toml"
    out.write_text(config_to_toml(cfg))
    assert load_config(out) == cfg


def test_overrides_are_converted_by_the_declared_type() -> None:
    cfg = apply_overrides(
        TrainConfig(),
        ["critic.n_critic=3", "critic.gp_lambda=2.5", "critic.gp_adaptive=true", "agent.sliders=exposure,tint"],
    )
    assert cfg.critic.n_critic == 3 and isinstance(cfg.critic.n_critic, int)
    assert cfg.critic.gp_lambda == 2.5
    assert cfg.critic.gp_adaptive is True
    assert cfg.agent.sliders == ("exposure", "tint")


def test_mix_centre_takes_mean_or_median() -> None:
    assert TrainConfig().restore.mix_centre == "median"
    assert apply_overrides(TrainConfig(), ["restore.mix_centre=mean"]).restore.mix_centre == "mean"


@pytest.mark.parametrize(
    "override",
    [
        "critic.n_critic=1+1",  # never evaluated
        "critic.n_critic=__import__('os').getpid()",
        "critic.n_critic=2.5",
        "critic.gp_one_sided=maybe",
        "critic.gp_lambda=nan",
        "critic.nope=1",
        "nosection.x=1",
        "critic.n_critic",
        "critic.n_critic=0",  # invalid value
        "critic.gp_bounds=1.2,1.1",
        "run.style=../evil",
        "restore.mix_centre=average",
    ],
)
def test_bad_overrides_are_refused(override: str) -> None:
    with pytest.raises(ConfigError):
        apply_overrides(TrainConfig(), [override])


def test_unknown_keys_and_wrong_types_in_files_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text("[critic]\nn_critc = 3\n")
    with pytest.raises(ConfigError, match="n_critc"):
        load_config(p)
    p.write_text('[critic]\nn_critic = "five"\n')
    with pytest.raises(ConfigError, match="n_critic"):
        load_config(p)
    p.write_text("[critics]\n")
    with pytest.raises(ConfigError, match="critics"):
        load_config(p)
    p.write_text("[critic\n")
    with pytest.raises(ConfigError):
        load_config(p)
    with pytest.raises(NotFoundError):
        load_config(tmp_path / "missing.toml")


def test_shipped_configs_load() -> None:
    files = sorted((REPO / "configs").glob("*.toml"))
    assert files, "configs/*.toml missing"
    for f in files:
        load_config(f)
    assert load_config(REPO / "configs" / "default.toml") == TrainConfig()
