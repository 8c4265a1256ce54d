"""Retouch one photo: decode its preview, suggest a recipe, learn what the hosts need, write the sidecars.

The one implementation of that sequence, used by ``autoretouch apply --style``, the catalog batch's workers
and the daemon's ``WriteSidecars``:

* :func:`preview_side`: how large a preview the styles need;
* :func:`suggest_photo`: decode (preview path) -> the styles' recipe at a strength -> the photo's
  :class:`~backend.sidecar.apply.PhotoInfo` (raw or not, long side, as-shot white balance), from one decode;
* :func:`retouch_photo`: that plus :func:`~backend.sidecar.apply.apply_to_photo` (or a given recipe applied).

Callers choose how suggestions run (``suggest``: e.g. the daemon's inference gate) and handle errors their way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from backend.decode.types import DEFAULT_MAX_PIXELS
from backend.recipe import Recipe
from backend.sidecar.apply import Outcome, PhotoInfo, apply_to_photo, check_duplicate, hosts_for

if TYPE_CHECKING:
    from torch import Tensor

    from backend.agent.style import Style

__all__ = ["Suggest", "preview_side", "retouch_photo", "suggest_photo"]

#: ``(image (1, 3, H, W) linear Rec.2020, styles, strength) -> recipe``; default :func:`default_suggest`.
Suggest = Callable[["Tensor", Sequence[tuple["Style", float]], float], Recipe]


def default_suggest(image: Tensor, styles: Sequence[tuple[Style, float]], strength: float) -> Recipe:
    """The deterministic suggestion of :func:`backend.agent.suggest.suggest_for_image`."""
    from backend.agent.suggest import suggest_for_image

    (recipe,) = suggest_for_image(image, styles, strength=strength)
    return recipe


def preview_side(styles: Sequence[tuple[Style, float]]) -> int:
    """Long side of the preview to decode for ``styles``: the agent's preview, or a larger thumbnail's."""
    from backend.agent.thumbnail import PREVIEW_LONG_SIDE

    return max(PREVIEW_LONG_SIDE, *(s.thumb for s, _ in styles))


def suggest_photo(
    photo: str | Path,
    styles: Sequence[tuple[Style, float]],
    *,
    strength: float,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    suggest: Suggest | None = None,
) -> tuple[Recipe, PhotoInfo]:
    """The styles' recipe for a photo and what the hosts need to know of it, from one preview decode.

    Raises:
        The typed errors of :func:`backend.decode.decode_preview` (naming the file) and of the suggestion.
    """
    from backend.decode import decode_preview  # rawpy/OpenCV: imported where photos are decoded

    decoded = decode_preview(photo, long_side=preview_side(styles), max_pixels=max_pixels)
    recipe = (suggest or default_suggest)(decoded.image, styles, strength)
    info = PhotoInfo(decoded.is_raw, max(decoded.full_width, decoded.full_height), decoded.as_shot)
    return recipe, info


def retouch_photo(
    photo: str | Path,
    *,
    host: str,
    styles: Sequence[tuple[Style, float]] = (),
    recipe: Recipe | None = None,
    strength: float = 1.0,
    overwrite: bool = False,
    dry_run: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    suggest: Suggest | None = None,
    probe: Callable[[Path], PhotoInfo] | None = None,
    duplicate: int = 0,
) -> tuple[list[Outcome], Recipe]:
    """Write a photo's sidecars: the styles' suggestion (``recipe`` None), or ``recipe`` as given.

    Args:
        photo: the photo.
        host: ``"lightroom"``, ``"darktable"`` or ``"both"``.
        styles: the style or mix to suggest with (when ``recipe`` is None).
        recipe: a fixed recipe instead (already at its strength); the photo is then only probed if a host needs it.
        strength: the suggestion's strength in [0, 1].
        overwrite: replace existing settings / an earlier autoretouch application.
        dry_run: report, write nothing.
        max_pixels: largest photo decoded.
        suggest: how to run the suggestion (default :func:`default_suggest`).
        probe: how to learn a photo's info for a fixed recipe (default :func:`backend.sidecar.apply.probe_photo`).
        duplicate: darktable's virtual copy N of the photo (its NAME_NN.EXT.xmp); 0 is the original.

    Returns:
        The outcomes (one per host) and the recipe used.
    """
    check_duplicate(hosts_for(host), duplicate)  # before the photo is decoded
    if recipe is not None:
        outcomes = apply_to_photo(
            photo, recipe, host=host, overwrite=overwrite, dry_run=dry_run, probe=probe, duplicate=duplicate
        )
        return outcomes, recipe
    used, info = suggest_photo(photo, styles, strength=strength, max_pixels=max_pixels, suggest=suggest)
    outcomes = apply_to_photo(
        photo, used, host=host, overwrite=overwrite, dry_run=dry_run, info=info, duplicate=duplicate
    )
    return outcomes, used
