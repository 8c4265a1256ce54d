"""Photos with darktable virtual copies for the ``train --darktable`` tests: edits written by our own ``apply``.

Shared by ``tests/test_train_darktable_virtual_copies.py`` (a copy is one more pair) and
``tests/test_train_darktable_copy_owners.py`` (which photo a copy's sidecar belongs to).

* :data:`EMPTY_HISTORY`: a darktable sidecar whose history is empty (``history_end="0"``).
* :func:`edited_photo`: a 32 px PNG, with an exposure edit in its sidecar and in each virtual copy's.
* :func:`darktable_args`: ``train --style s --darktable PATH...`` as the CLI parses it.
* :func:`exposure`: the exposure of a recipe's steps (a pair set's labels).
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["EMPTY_HISTORY", "darktable_args", "edited_photo", "exposure"]

#: A darktable sidecar with no history: darktable's attributes, ``history_end="0"``, no ``darktable:history``.
EMPTY_HISTORY = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:darktable="http://darktable.sf.net/" darktable:history_end="0"/></rdf:RDF></x:xmpmeta>'
)


def edited_photo(folder: Path, name: str, seed: int, value: float | None, copies: dict[int, float | None]) -> Path:
    """``folder/name``: a 32 px smooth scene (16-bit PNG, 8-bit JPEG) and its darktable edits.

    Args:
        folder: made where missing (with its parents).
        name: the photo's file name.
        seed: the scene's seed (:func:`trainer.synthetic.smooth_images`).
        value: the exposure (EV) of the photo's own edit (``NAME.EXT.xmp``, written by ``apply``); ``None``: no
            sidecar.
        copies: virtual copy number (1 or more) -> its exposure (EV, ``NAME_NN.EXT.xmp``); ``None``: a sidecar
            with an empty history (:data:`EMPTY_HISTORY`).

    Returns:
        The photo.
    """
    import torch

    from backend.encode import write_image
    from backend.recipe import Recipe
    from backend.render.pipeline import render
    from backend.sidecar.apply import PhotoInfo, apply_to_photo
    from trainer.synthetic import smooth_images

    folder.mkdir(parents=True, exist_ok=True)
    photo = folder / name
    with torch.no_grad():
        bits = 8 if photo.suffix == ".jpg" else 16
        write_image(photo, render(smooth_images(1, 32, seed=seed), {"exposure": 0.0}), bit_depth=bits)
    for n, ev in {0: value, **copies}.items():
        if ev is None:
            if n:
                photo.with_name(f"{photo.stem}_{n:02d}{photo.suffix}.xmp").write_text(EMPTY_HISTORY)
            continue
        recipe = Recipe.from_settings({"exposure": ev})
        outcome = apply_to_photo(photo, recipe, host="darktable", info=PhotoInfo(False, 32), duplicate=n)
        assert [o.action for o in outcome] == ["written"], outcome
    return photo


def darktable_args(*paths: Path) -> argparse.Namespace:
    """``autoretouch train --style s --darktable PATH...`` as the CLI parses it."""
    from backend.cli.main import build_parser

    return build_parser().parse_args(["train", "--style", "s", "--darktable", *map(str, paths)])


def exposure(steps: list[dict[str, object]]) -> float:
    """The exposure (EV) of a recipe's steps (``PairSet.labels``, one pair's)."""
    return float(next(s["value"] for s in steps if s["slider"] == "exposure"))  # type: ignore[arg-type]
