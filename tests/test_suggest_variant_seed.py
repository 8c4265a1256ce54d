"""Variant seeds: small seeds keep their variants; seeds that differ by a multiple of 2**32 no longer collide."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from backend.agent.style import load_style
from backend.agent.suggest import suggest_for_image, variant_seed
from testing.styles import save_random_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")

_LOW = (1 << 32) - 1


@pytest.mark.parametrize("seed", [0, 1, 7, 4295, 1 << 31, (1 << 32) - 1])
def test_small_seeds_keep_their_variant_seeds(seed: int) -> None:
    for k in range(1, 33):
        assert variant_seed(seed, k) == seed * 1_000_003 + k


@pytest.mark.parametrize(
    ("a", "b"),
    [(5, 5 + (1 << 32)), (5, 5 + (1 << 40)), (-1, (1 << 32) - 1), (0, -(1 << 63)), (1 << 33, 1 << 34)],
)
def test_seeds_a_multiple_of_2_32_apart_differ_in_the_bits_torch_keeps(a: int, b: int) -> None:
    for k in (1, 2, 31):
        assert variant_seed(a, k) & _LOW != variant_seed(b, k) & _LOW


@pytest.mark.parametrize("seed", [-(1 << 63), -1, 1 << 32, (1 << 63) - 1])
def test_large_and_negative_seeds_give_63_bit_seeds(seed: int) -> None:
    values = {variant_seed(seed, k) for k in range(1, 33)}
    assert len(values) == 32 and all(0 <= v < 1 << 63 for v in values)
    assert variant_seed(seed, 3) == variant_seed(seed, 3)  # deterministic


def test_variants_of_seeds_2_32_apart_differ(tmp_path: Path) -> None:
    style = load_style(save_random_style(tmp_path, "alpha", 1))
    image = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(0))

    def second(seed: int) -> object:
        return suggest_for_image(image, [(style, 1.0)], variants=2, seed=seed)[1]

    assert second(7) != second(7 + (1 << 32))
    assert second(7) == second(7)
