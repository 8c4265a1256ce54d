"""The nearest-edits examples: the parse cache stays bounded; the recipe a style mixes in (``mix_k``)."""

from __future__ import annotations

import pytest
import torch

from backend.agent import nearest
from backend.errors import AutoretouchError


def test_parsed_examples_cache_stays_bounded() -> None:
    held = [
        {"features": [[0.0, 1.0], [1.0, float(i)]], "recipes": [[], []], "k": 1} for i in range(nearest._PARSED_MAX + 4)
    ]
    parsed = [nearest._parse(ex) for ex in held]
    assert len(nearest._PARSED) <= nearest._PARSED_MAX
    assert nearest._parse(held[-1]) is parsed[-1]  # the newest is still cached
    assert float(parsed[3].feats[1, 1]) == 3.0


def test_mix_recipe_is_the_weighted_mean_edit_or_the_k_nearest() -> None:
    from backend.agent.look import example_features

    dark, bright = torch.full((1, 3, 8, 8), 0.01), torch.full((1, 3, 8, 8), 0.8)
    near, far = [float(v) for v in example_features(dark)[0]], [float(v) for v in example_features(bright)[0]]
    ex = {  # two dark photos brightened (+1, +2 EV), one bright photo darkened (-1 EV, weight 2); k = 2
        "features": [near, near, far],
        "recipes": [[{"slider": "exposure", "value": v}] for v in (1.0, 2.0, -1.0)],
        "weights": [1.0, 1.0, 2.0],
        "k": 2,
    }
    # without mix_k (styles trained before it): the k = 2 nearest, the two dark photos' edits
    assert float(nearest.mix_recipe(ex, dark).value("exposure")) == pytest.approx(1.5)  # type: ignore[arg-type]
    # mix_k = 0: every example, weighted: (1 + 2 - 2) / 4, whatever the photo
    every = {**ex, "mix_k": 0}
    for image in (dark, bright):
        mixed = nearest.mix_recipe(every, image)
        assert float(mixed.value("exposure")) == pytest.approx(0.25) and mixed.style == "nearest"  # type: ignore[arg-type]
    assert nearest.mix_recipe(every, bright) is nearest.mix_recipe(every, dark)  # worked out once per style
    assert float(nearest.mix_recipe({**ex, "mix_k": 7}, dark).value("exposure")) == pytest.approx(0.25)  # type: ignore[arg-type]
    assert float(nearest.mix_recipe({**ex, "mix_k": 1}, bright).value("exposure")) == pytest.approx(-1.0)  # type: ignore[arg-type]
    for bad in (-1, 1.5, True, "all"):
        with pytest.raises(AutoretouchError, match="mix_k"):
            nearest.mix_recipe({**ex, "mix_k": bad}, dark)


def test_mix_centre_median_is_the_weighted_median_edit() -> None:
    image = torch.full((1, 3, 8, 8), 0.2)
    feats = [[float(v) for v in range(10)]] * 4
    ex = {  # three photos brightened a little, one turned black and white and pushed +3 EV
        "features": feats,
        "recipes": [[{"slider": "exposure", "value": v}] for v in (0.3, 0.4, 0.5)]
        + [[{"slider": "exposure", "value": 3.0}, {"slider": "black_and_white", "value": 100.0}]],
        "weights": [1.0, 1.0, 1.0, 1.0],
        "k": 5,
        "mix_k": 0,
    }
    mean = nearest.mix_recipe(ex, image)  # no mix_centre: the mean edit, as styles trained before it
    assert float(mean.value("black_and_white")) == pytest.approx(25.0)  # type: ignore[arg-type]
    med = nearest.mix_recipe({**ex, "mix_centre": "median"}, image)
    assert med.settings() == pytest.approx({"exposure": 0.45}) and med.style == "nearest"
    for every in (4, 9):  # mix_k at least the number of examples takes them all, as 0 does
        assert nearest.mix_recipe({**ex, "mix_centre": "median", "mix_k": every}, image) == med
    assert float(nearest.mix_recipe({**ex, "mix_centre": "mean"}, image).value("exposure")) == pytest.approx(1.05)  # type: ignore[arg-type]
    for bad in ("average", 0, None):
        with pytest.raises(AutoretouchError, match="mix_centre"):
            nearest.mix_recipe({**ex, "mix_centre": bad}, image)
