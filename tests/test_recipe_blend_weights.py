"""Mix weights whose sum is not a finite positive number are refused by ``blend`` and by ``--mix``."""

from __future__ import annotations

import math

import pytest

from backend.agent.suggest import parse_mix
from backend.cli.main import main
from backend.errors import InvalidRecipeError
from backend.recipe import Recipe, Step, blend, median

_A = Recipe((Step("exposure", 1.0),))
_B = Recipe((Step("exposure", -0.5), Step("contrast", 20.0)))


@pytest.mark.parametrize("combine", [blend, median])
def test_weights_whose_sum_overflows_are_refused(combine: object) -> None:
    with pytest.raises(InvalidRecipeError, match=r"must add up to a finite positive number, got \[1e\+308, 1e\+308\]"):
        combine([_A, _B], [1e308, 1e308])  # type: ignore[operator]


@pytest.mark.parametrize("combine", [blend, median])
def test_all_zero_weights_are_refused(combine: object) -> None:
    with pytest.raises(InvalidRecipeError, match="must add up to a finite positive number"):
        combine([_A, _B], [0.0, 0.0])  # type: ignore[operator]


@pytest.mark.parametrize("weights", [[math.nan, 1.0], [math.inf, 1.0], [-1.0, 2.0]])
def test_non_finite_or_negative_weights_say_finite(weights: list[float]) -> None:
    with pytest.raises(InvalidRecipeError, match="blend weights must be finite and non-negative"):
        blend([_A, _B], weights)


def test_large_finite_weights_still_blend() -> None:
    mixed = blend([_A, _B], [1e307, 1e307])
    assert mixed.value("exposure") == pytest.approx(0.25)
    assert mixed.value("contrast") == pytest.approx(10.0)


def test_parse_mix_refuses_an_overflowing_sum() -> None:
    with pytest.raises(
        InvalidRecipeError, match=r"--mix weights must add up to a finite positive number, got \[1e\+308"
    ):
        parse_mix("default:1e308,p1:1e308")
    with pytest.raises(InvalidRecipeError, match="must add up to a finite positive number"):
        parse_mix("a:0,b:0")
    with pytest.raises(InvalidRecipeError, match="weight must be a finite non-negative number"):
        parse_mix("a:nan,b:1")


@pytest.mark.parametrize("command", ["suggest", "render", "apply"])
def test_cli_mix_with_an_overflowing_sum_is_a_usage_error(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "photo.jpg", "--mix", "default:1e308,p1:1e308"])
    assert info.value.code == 2
    assert "must add up to a finite positive number" in capsys.readouterr().err
