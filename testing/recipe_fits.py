"""The tiny fitting problem of the recipe-fit tests (``tests/test_train_pairs_fit_deadline.py``,
``tests/test_train_pairs_fit_floor.py``): three 16-px scenes and the same scenes edited by three sliders.

* :data:`FIT_SLIDERS`: the sliders each photo's recipe is fitted over.
* :func:`three_edited_scenes`: the originals and their edits, as :func:`trainer.pseudo_labels.fit_recipes` takes them.
"""

from __future__ import annotations

import torch

__all__ = ["FIT_SLIDERS", "three_edited_scenes"]

#: The sliders fitted (catalog names); the edit of :func:`three_edited_scenes` uses exactly these.
FIT_SLIDERS = ["exposure", "contrast", "temperature"]


def three_edited_scenes() -> tuple[torch.Tensor, torch.Tensor]:
    """Three smooth 16-px linear scenes (seed 3) and each rendered with exposure +0.6, temperature +20, contrast +10.

    Returns:
        ``(originals, edits)``, both ``(3, 3, 16, 16)`` float32 linear values in [0, 1].
    """
    from backend.render.pipeline import render
    from trainer.synthetic import smooth_images

    x = smooth_images(3, 16, seed=3)
    with torch.no_grad():
        return x, render(x, {"exposure": 0.6, "temperature": 20.0, "contrast": 10.0})
