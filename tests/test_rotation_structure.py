""":func:`trainer.data.rotation.frame_turns` compares structure, not tone.

A graduated filter or an inverted (negative) look on a scene bright at the top and dark at the bottom turns its tone
upside down, but not its edges: such an edit is no turn of its original. A real quarter or half turn, with an
exposure and colour edit on top, is still found, also on landscape frames squeezed to square thumbnails.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from backend.agent.thumbnail import make_thumbnail
from backend.render.pipeline import render
from trainer.data.rotation import MIN_CORRELATION, MIN_MARGIN, TURNS, frame_turns
from trainer.synthetic import smooth_images

#: The tone edit put on top of the turned edits.
EDIT = {"exposure": -0.8, "temperature": -20.0}


def _lit_from_above(n: int, side: int, *, seed: int) -> Tensor:
    """``(n, 3, side, side)`` soft scenes three stops brighter at the top than at the bottom."""
    ramp = torch.exp2(torch.linspace(1.5, -1.5, side)).reshape(1, 1, side, 1)
    return smooth_images(n, side, seed=seed, grid=6) * ramp


def _graduated(images: Tensor, top: float, bottom: float) -> Tensor:
    """A graduated filter: ``top`` EV at the top row to ``bottom`` EV at the bottom one."""
    side = images.shape[-2]
    return images * torch.exp2(torch.linspace(top, bottom, side)).reshape(1, 1, side, 1)


def _inverted(images: Tensor) -> Tensor:
    """A negative look: luminance inverted in log (bright becomes dark), mid grey kept."""
    return (0.18 * 0.18 / (images + 1e-3)).clamp(max=4.0)


def _assert_unturned(before: Tensor, after: Tensor) -> None:
    found = frame_turns(before, after)
    assert [t.turn for t in found] == [None] * before.shape[0], found
    assert all(t.correlation == t.unturned for t in found)


def test_a_graduated_filter_is_no_half_turn() -> None:
    scenes = _lit_from_above(6, 64, seed=3)
    _assert_unturned(scenes, _graduated(scenes, -3.0, 2.0))
    found = frame_turns(scenes, _graduated(scenes, -3.0, 2.0))
    assert all(t.unturned > 0.8 for t in found)


def test_a_soft_graduated_filter_over_the_middle_is_no_half_turn() -> None:
    scenes = _lit_from_above(6, 64, seed=4)
    stops = -3.0 + 5.0 * torch.sigmoid(torch.linspace(-4.0, 4.0, 64)).reshape(1, 1, 64, 1)
    _assert_unturned(scenes, scenes * torch.exp2(stops))


def test_an_inverted_look_is_no_half_turn() -> None:
    scenes = _lit_from_above(6, 64, seed=5)
    _assert_unturned(scenes, _inverted(scenes))
    assert all(t.unturned > 0.8 for t in frame_turns(scenes, _inverted(scenes)))


@pytest.mark.parametrize("exposure, contrast", [(2.5, 0.0), (-2.5, 0.0), (0.0, 80.0), (1.5, -60.0)])
def test_strong_global_edits_of_a_symmetric_scene_stay_unturned(exposure: float, contrast: float) -> None:
    half = smooth_images(4, 32, seed=6, grid=4)
    top = torch.cat([half, half.flip(-1)], dim=-1)
    scenes = torch.cat([top, top.flip(-2)], dim=-2)  # the same under a half turn and under mirrors
    with torch.no_grad():
        edits = render(scenes, {"exposure": exposure, "contrast": contrast})
    _assert_unturned(scenes, edits)


@pytest.mark.parametrize("name", list(TURNS))
def test_real_turns_with_a_tone_edit_are_found(name: str) -> None:
    scenes = torch.cat([_lit_from_above(3, 64, seed=7), smooth_images(3, 64, seed=8, grid=5)])
    with torch.no_grad():
        edits = TURNS[name][0](render(scenes, EDIT))
    found = frame_turns(scenes, edits)
    assert [t.turn for t in found] == [name] * 6
    assert all(t.correlation >= max(0.9, MIN_CORRELATION, t.unturned + MIN_MARGIN) for t in found)


@pytest.mark.parametrize("name", list(TURNS))
def test_turns_of_squeezed_landscape_frames_are_found(name: str) -> None:
    ramp = torch.exp2(torch.linspace(1.0, -1.0, 64)).reshape(1, 1, 64, 1)
    originals = smooth_images(4, 96, seed=9, grid=6)[..., 16:80, :] * ramp  # 96 wide, 64 high
    with torch.no_grad():
        edits = TURNS[name][0](_graduated(render(originals, EDIT), -1.0, 1.0))
    squeeze = lambda t: make_thumbnail(t, 64)  # noqa: E731
    found = frame_turns(squeeze(originals), squeeze(edits))
    assert [t.turn for t in found] == [name] * 4
    assert all(t.correlation > 0.8 for t in found)


def test_too_small_thumbnails_are_refused() -> None:
    scenes = smooth_images(1, 16, seed=1)
    with pytest.raises(ValueError, match="at least 3"):
        frame_turns(scenes, scenes, size=2)


def test_a_vignette_on_a_smooth_sky_is_no_quarter_turn() -> None:
    """An almost textureless sky (a smooth ramp) with a vignette: structure alone took it for a quarter turn.

    What is left of the ramp's curve, scaled to unit norm, is all such a sky's structure map holds, and a vignette
    matched it turned (review: 18 of these 36 cases, e.g. correlation 0.87 turned against 0.01 unturned); the tone,
    whose structure map is then only that residue, is now too smooth to tell (trainer.data.rotation.MIN_TEXTURE).
    """
    side = 128
    y = torch.linspace(0.0, 1.0, side).reshape(side, 1)
    x = torch.linspace(0.0, 1.0, side).reshape(1, side)
    befores, afters = [], []
    for slope in (0.5, 1.0, 2.5, 4.0):
        for base in (0.02, 0.08, 0.2):
            sky = (base * torch.exp(slope * y)).expand(side, side)
            for strength in (0.3, 0.6, 1.2):
                edit = sky * (1.0 - strength * ((x - 0.5) ** 2 + (y - 0.5) ** 2)).clamp_min(0.0)
                befores.append(sky.expand(3, side, side))
                afters.append(edit.expand(3, side, side))
    _assert_unturned(torch.stack(befores), torch.stack(afters))
