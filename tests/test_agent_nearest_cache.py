"""The nearest-edits examples cache evicts its oldest entry and stays bounded."""

from __future__ import annotations

from backend.agent import nearest


def test_parsed_examples_cache_stays_bounded() -> None:
    held = [
        {"features": [[0.0, 1.0], [1.0, float(i)]], "recipes": [[], []], "k": 1} for i in range(nearest._PARSED_MAX + 4)
    ]
    parsed = [nearest._parse(ex) for ex in held]
    assert len(nearest._PARSED) <= nearest._PARSED_MAX
    assert nearest._parse(held[-1]) is parsed[-1]  # the newest is still cached
    assert float(parsed[3].feats[1, 1]) == 3.0
