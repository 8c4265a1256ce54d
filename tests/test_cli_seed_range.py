"""``--seed`` is checked by the parser (exit 2): a 64-bit signed integer for ``suggest``, 0..2^32-1 for ``train``
(whose generators' seeds are derived from it by products that must stay in torch's range)."""

from __future__ import annotations

import pytest

from backend.cli.main import build_parser, main

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

_COMMANDS = [
    ["suggest", "photo.jpg"],
    ["suggest", "photo.jpg", "--server", "127.0.0.1:9"],  # refused before any connection (was: ValueError, exit 1)
]
_TRAIN = ["train", "--favourites", "favs/", "--style", "mine"]


@pytest.mark.parametrize("command", _COMMANDS, ids=["suggest", "suggest-server"])
@pytest.mark.parametrize("seed", [_INT64_MAX + 1, _INT64_MIN - 1, 1 << 70])
def test_seed_outside_int64_is_a_usage_error(command: list[str], seed: int, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, "--seed", str(seed)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"seed must lie in {_INT64_MIN}..{_INT64_MAX}, got {seed}" in err


@pytest.mark.parametrize("command", _COMMANDS, ids=["suggest", "suggest-server"])
@pytest.mark.parametrize("seed", [_INT64_MIN, -1, 0, 7, _INT64_MAX])
def test_seed_inside_int64_is_accepted(command: list[str], seed: int) -> None:
    args = build_parser().parse_args([*command, "--seed", str(seed)])
    assert args.seed == seed


def test_suggest_seed_default_is_zero() -> None:
    assert build_parser().parse_args(["suggest", "photo.jpg"]).seed == 0


@pytest.mark.parametrize("seed", [-1, 1 << 32, _INT64_MAX])
def test_a_train_seed_outside_its_range_is_a_usage_error(seed: int, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*_TRAIN, "--seed", str(seed)])
    assert info.value.code == 2
    assert f"seed must lie in 0..{(1 << 32) - 1}, got {seed}" in capsys.readouterr().err


def test_a_train_seed_inside_its_range_is_accepted_and_the_config_checks_it_too() -> None:
    from trainer.config import ConfigError, apply_overrides, config_from_dict

    assert build_parser().parse_args([*_TRAIN, "--seed", str((1 << 32) - 1)]).seed == (1 << 32) - 1
    with pytest.raises(ConfigError, match=r"run.seed must be in 0..4294967295"):
        apply_overrides(config_from_dict({}), [f"run.seed={1 << 40}"])
