"""A user's darktable virtual copy for the ``--duplicate`` tests: ``t.tif`` and copy 2's own sidecar ``t_02.tif.xmp``.

Shared by ``tests/test_suggest_duplicate.py`` (the preview style built on the copy's history),
``tests/test_suggest_duplicate_darktable.py`` (real darktable renders it) and
``tests/test_darktable_preview_copy_gui.py`` (the plug-in previews it); its sliders, recipe and user sharpen also by
``tests/test_dtstyle_matches_apply.py`` (the preview style of a photo without copies).

* :data:`SIDE`, :data:`COPY`: the test photo's long side (px) and the virtual copy's number.
* :data:`LIFT`, :data:`FIRST`, :data:`SECOND`: a tone lift; the copy's earlier autoretouch edit (exposure,
  colorbalancergb, two rgbcurve instances) and the suggestion previewed on top of it (no curves).
* :func:`sliders_recipe`: a recipe of the given sliders, in their order.
* :func:`user_sharpen`: a user's own edit (a sharpen, and darktable's flip).
* :func:`tiff_with_copy`: the photo, its sidecar and copy 2's, as each test case needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from backend.recipe import Recipe
from backend.sliders.catalog import CURVE_KNOTS

if TYPE_CHECKING:
    from backend.translate.darktable import HistoryEntry

__all__ = ["COPY", "FIRST", "LIFT", "SECOND", "SIDE", "sliders_recipe", "tiff_with_copy", "user_sharpen"]

#: The test photo's long side in pixels (``t.tif`` is 64 x 96).
SIDE = 96
#: The user's virtual copy: its sidecar is ``t_02.tif.xmp``.
COPY = 2
#: A tone curve that lifts the shadows (7 knots, 0..1).
LIFT = [0.01, 0.04, 0.12, 0.27, 0.46, 0.69, 1.0]
#: The copy's earlier autoretouch edit: exposure, colorbalancergb and two rgbcurve instances.
FIRST: dict[str, Any] = {
    "exposure": 0.5,
    "saturation": 20.0,
    "tone_curve": LIFT,
    "rgb_curves": [LIFT, list(CURVE_KNOTS), list(CURVE_KNOTS)],
}
#: The suggestion previewed: no curves (the copy's earlier curves must go), another exposure and saturation.
SECOND: dict[str, Any] = {"exposure": -0.3, "saturation": -15.0}


def sliders_recipe(sliders: dict[str, Any]) -> Recipe:
    """A version-1 recipe setting each slider of ``sliders`` (catalog name -> value) in turn."""
    return Recipe.from_dict({"version": 1, "steps": [{"slider": k, "value": v} for k, v in sliders.items()]})


def user_sharpen(long_side_px: int = SIDE) -> list[HistoryEntry]:
    """A user's own edit: a sharpen (60), and darktable's flip; ``long_side_px``: the photo's long side."""
    from backend.translate.darktable import HistoryEntry, recipe_to_history

    sharpen = recipe_to_history({"sharpen": 60.0}, is_raw=False, long_side_px=long_side_px)
    return [*sharpen, HistoryEntry("flip", 2, "ffffffff")]


def tiff_with_copy(folder: Path, case: Literal["earlier", "order"] = "earlier") -> Path:
    """``folder/t.tif`` (``folder`` created) with the sidecars of the original and of copy :data:`COPY`.

    Args:
        folder: a folder that does not exist yet.
        case: ``earlier``: both sidecars hold :func:`user_sharpen` in apply's pipe order (iop order version 3),
            then autoretouch's :data:`FIRST` is applied to copy 2 (its curves must go under a new suggestion);
            ``order``: the original holds the sharpen in apply's order (3), copy 2 in darktable's V30 order (2).

    Returns:
        The photo's path.
    """
    from backend.sidecar.apply import PhotoInfo, apply_to_photo
    from backend.sidecar.darktable_doc import darktable_sidecar_path
    from testing.dt_sidecar import history_sidecar
    from testing.fixtures import make_tiff

    folder.mkdir(parents=True)
    photo = make_tiff(folder, "t.tif", icc=None, height=64, width=SIDE)
    darktable_sidecar_path(photo).write_text(history_sidecar(user_sharpen(), iop_order_version=3), encoding="utf-8")
    version = 3 if case == "earlier" else 2
    darktable_sidecar_path(photo, COPY).write_text(
        history_sidecar(user_sharpen(), iop_order_version=version), encoding="utf-8"
    )
    if case == "earlier":
        info = PhotoInfo(False, SIDE)
        (outcome,) = apply_to_photo(photo, sliders_recipe(FIRST), host="darktable", duplicate=COPY, info=info)
        assert outcome.action == "written", outcome.reason
    return photo
