"""Synthetic photo folders for tests and benchmarks: smooth random images and a hidden "style" recipe.

:func:`smooth_images` makes soft colour fields (random low-resolution colours upsampled bicubically) inside the
sRGB gamut, in linear Rec.2020. :func:`write_style_folders` writes unpaired training folders: ``targets/`` holds
one set of images rendered with a hidden recipe (default :data:`HIDDEN_RECIPE`, +0.8 EV and warmer), ``sources/``
a *different* set left unedited, and ``heldout`` images (returned, not written) let a test measure how close the
learned agent gets to the hidden recipe. :func:`write_pair_folders` writes before/after pairs instead (``train
--pairs``): originals shot at random exposures, and their edits, all with the same finished look.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional

from backend.encode import write_image
from backend.render.color import SRGB_TO_REC2020, srgb_decode
from backend.render.pipeline import render

__all__ = ["HIDDEN_RECIPE", "smooth_images", "write_pair_folders", "write_style_folders"]

#: The hidden style of the synthetic benchmark: brighter and warmer.
HIDDEN_RECIPE: dict[str, float] = {"exposure": 0.8, "temperature": 30.0}


def smooth_images(n: int, size: int, seed: int, *, grid: int = 4) -> Tensor:
    """``(n, 3, size, size)`` float32 linear Rec.2020 soft colour fields (sRGB-encoded values in 0.18..0.6).

    The per-image base level is stratified (evenly spaced over 0.18..0.36 in a random order) so that two sets
    made with the same ``n`` have the same brightness distribution; colours within an image are random.

    Args:
        n: number of images.
        size: side in pixels.
        seed: random seed.
        grid: side of the random colour grid that is upsampled.
    """
    g = torch.Generator().manual_seed(seed)
    levels = 0.18 + 0.18 * (torch.arange(n, dtype=torch.float32) + 0.5) / n
    base = levels[torch.randperm(n, generator=g)].reshape(n, 1, 1, 1)  # per-image brightness
    spread = 0.12 + torch.rand(n, 1, 1, 1, generator=g) * 0.12
    cells = base + spread * torch.rand(n, 3, grid, grid, generator=g)
    enc = functional.interpolate(cells, size=(size, size), mode="bicubic", align_corners=False).clamp(0.0, 1.0)
    lin_srgb = srgb_decode(enc)
    m = torch.as_tensor(SRGB_TO_REC2020, dtype=torch.float32)
    return torch.einsum("ij,njhw->nihw", m, lin_srgb).contiguous()


def write_style_folders(
    root: str | Path,
    *,
    n_targets: int = 24,
    n_sources: int = 24,
    n_heldout: int = 8,
    size: int = 48,
    seed: int = 0,
    recipe: Mapping[str, float] | None = None,
) -> tuple[Path, Path, Tensor]:
    """Write ``root/targets`` (styled) and ``root/sources`` (unedited) as 16-bit PNGs.

    Args:
        root: folder to create them in.
        n_targets: styled images (a different random set from the sources).
        n_sources: unedited training inputs.
        n_heldout: extra unedited images returned for evaluation.
        size: image side in pixels.
        seed: random seed.
        recipe: the hidden recipe (default :data:`HIDDEN_RECIPE`).

    Returns:
        (targets folder, sources folder, ``(n_heldout, 3, size, size)`` held-out unedited images).
    """
    recipe = dict(HIDDEN_RECIPE if recipe is None else recipe)
    root = Path(root)
    tdir, sdir = root / "targets", root / "sources"
    tdir.mkdir(parents=True, exist_ok=True)
    sdir.mkdir(parents=True, exist_ok=True)
    originals = smooth_images(n_targets, size, seed)
    sources = smooth_images(n_sources, size, seed + 1)
    heldout = smooth_images(n_heldout, size, seed + 2)
    with torch.no_grad():
        styled = render(originals, recipe)
    for i in range(n_targets):
        write_image(tdir / f"t{i:03d}.png", styled[i : i + 1], bit_depth=16)
    for i in range(n_sources):
        write_image(sdir / f"s{i:03d}.png", sources[i : i + 1], bit_depth=16)
    return tdir, sdir, heldout


def write_pair_folders(
    root: str | Path,
    *,
    n_pairs: int = 16,
    size: int = 48,
    seed: int = 0,
    recipe: Mapping[str, float] | None = None,
    exposure_spread: float = 1.0,
    n_unfittable: int = 0,
) -> tuple[Path, Path, Tensor]:
    """Write before/after pairs ``root/before/pNNN.png`` and ``root/after/pNNN.png`` (16-bit PNGs).

    Every scene ``i`` is "shot" at an exposure ``e_i`` uniform in ``+-exposure_spread`` EV (the original), and
    edited to the same finished look: the scene rendered with ``recipe`` (default :data:`HIDDEN_RECIPE`). So
    the right edit of an original is ``exposure = recipe exposure - e_i``: it depends on the photo.

    Args:
        root: folder to create them in.
        n_pairs: pairs that the sliders can reproduce.
        size: image side in pixels.
        seed: random seed.
        recipe: the finished look (default :data:`HIDDEN_RECIPE`).
        exposure_spread: range of the originals' exposure, +- EV.
        n_unfittable: extra pairs ``xNNN`` whose "edit" is the scene mirrored left to right (as a crop or a
            local edit would be, no slider setting reproduces it).

    Returns:
        (before folder, after folder, ``(8, 3, size, size)`` unedited scenes of other photos).
    """
    recipe = dict(HIDDEN_RECIPE if recipe is None else recipe)
    root = Path(root)
    bdir, adir = root / "before", root / "after"
    bdir.mkdir(parents=True, exist_ok=True)
    adir.mkdir(parents=True, exist_ok=True)
    scenes = smooth_images(n_pairs + n_unfittable, size, seed)
    g = torch.Generator().manual_seed(seed + 17)
    shots = (torch.rand(n_pairs + n_unfittable, generator=g) * 2.0 - 1.0) * exposure_spread
    with torch.no_grad():
        originals = torch.cat([render(scenes[i : i + 1], {"exposure": float(shots[i])}) for i in range(len(shots))])
        edits = render(scenes, recipe)
    for i in range(n_pairs + n_unfittable):
        name = f"p{i:03d}.png" if i < n_pairs else f"x{i - n_pairs:03d}.png"
        edit = edits[i : i + 1] if i < n_pairs else edits[i : i + 1].flip(-1)
        write_image(bdir / name, originals[i : i + 1], bit_depth=16)
        write_image(adir / name, edit, bit_depth=16)
    return bdir, adir, smooth_images(8, size, seed + 2)
