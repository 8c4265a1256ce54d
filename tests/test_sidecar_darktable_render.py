"""What darktable-cli 4.2 renders from sidecars that apply / revert wrote over a user's own darktable history.

Needs darktable-cli: skipped when it is missing, a failure under CI=true.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backend.recipe import Recipe
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from backend.sidecar.revert import revert_photo
from backend.translate.darktable import HistoryEntry, recipe_to_history
from testing.dt_sidecar import blend_params, compress_history, history_sidecar, render_darktable
from testing.fixtures import make_png

pytestmark = pytest.mark.host


def recipe(**sliders: Any) -> Recipe:
    return Recipe.from_dict({"version": 1, "steps": [{"slider": k, "value": v} for k, v in sliders.items()]})


def entries(**sliders: Any) -> list[HistoryEntry]:
    return recipe_to_history(recipe(**sliders), is_raw=False, long_side_px=96)


def sidecar_of(photo: Path) -> Path:
    return photo.with_name(photo.name + ".xmp")


def test_compress_history_then_revert_renders_the_users_edit_again(tmp_path: Path) -> None:
    photo = make_png(tmp_path, "y.png", width=96, height=64)
    user = [dataclasses.replace(entries(exposure=1.0)[0], blendop_params=blend_params(opacity=50.0))]
    user += entries(sharpen=60.0)
    original = history_sidecar(user)
    sidecar_of(photo).write_text(original, encoding="utf-8")
    apply_to_photo(photo, recipe(exposure=0.3), host="darktable", info=PhotoInfo(is_raw=False, long_side_px=96))
    compressed = compress_history(sidecar_of(photo).read_text(encoding="utf-8"))
    sidecar_of(photo).write_text(compressed, encoding="utf-8")
    (outcome,) = revert_photo(photo, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    reverted = sidecar_of(photo).read_text(encoding="utf-8")
    result = render_darktable(
        {"user": (photo, original), "compressed": (photo, compressed), "reverted": (photo, reverted)}, tmp_path / "dt"
    )
    user_img, ours_img, back = (result.images[k] for k in ("user", "compressed", "reverted"))
    assert np.abs(ours_img - user_img).mean() > 0.01  # ours (+0.3 EV, unblended) differs from the user's edit
    assert np.array_equal(back, user_img)  # after the revert darktable renders the user's edit exactly


def test_apply_again_renders_the_users_later_step_not_ours(tmp_path: Path) -> None:
    from backend.recipe import scale
    from backend.sidecar.darktable_xmp import entry_to_li
    from backend.sidecar.xmp import NS, read_sidecar, serialize

    photo = make_png(tmp_path, "x.png", width=96, height=64)
    sidecar_of(photo).write_text(history_sidecar(entries(sharpen=60.0)), encoding="utf-8")
    info = PhotoInfo(is_raw=False, long_side_px=96)
    apply_to_photo(photo, recipe(exposure=0.3), host="darktable", info=info)
    doc = read_sidecar(sidecar_of(photo))  # the user's +1.5 EV after ours, as darktable appends it
    desc = next(d for d in doc.descriptions() if d.find(f"{{{NS['darktable']}}}history") is not None)
    seq = desc.find(f"{{{NS['darktable']}}}history/{{{NS['rdf']}}}Seq")
    assert seq is not None
    seq.append(entry_to_li(entries(exposure=1.5)[0], len(seq)))
    desc.set(f"{{{NS['darktable']}}}history_end", str(len(seq)))
    sidecar_of(photo).write_bytes(serialize(doc))
    users_state = history_sidecar([*entries(sharpen=60.0), *entries(exposure=1.5)])

    (again,) = apply_to_photo(photo, scale(recipe(exposure=0.3), 0.5), host="darktable", info=info, overwrite=True)
    assert again.action == "written", again.reason
    result = render_darktable(
        {"again": (photo, sidecar_of(photo).read_text(encoding="utf-8")), "user": (photo, users_state)},
        tmp_path / "dt",
    )
    assert np.array_equal(result.images["again"], result.images["user"])  # the user's +1.5 EV wins, not ours


def test_suggested_exposure_brightens_a_raw_with_darktables_defaults(tmp_path: Path) -> None:
    """darktable's auto-applied +0.7 EV (bias compensated) and filmic stay; our +0.5 EV goes on top of them."""
    import struct

    from testing.dt_sidecar import DEFAULT_EXPOSURE, darktable_raw_defaults
    from testing.fixtures import make_dng

    raw = make_dng(tmp_path, "tiny.dng", height=64, width=96)  # EXIF exposure bias +0.3 EV
    defaults = history_sidecar(darktable_raw_defaults(), iop_order_version=2)
    sidecar_of(raw).write_text(defaults, encoding="utf-8")
    (outcome,) = apply_to_photo(raw, recipe(exposure=0.5), host="darktable", info=PhotoInfo(True, 96))
    assert outcome.action == "written", outcome.reason
    at_1_2 = DEFAULT_EXPOSURE.replace("3333333f", struct.pack("<f", 1.2).hex())  # the default, moved to +1.2 EV
    result = render_darktable(
        {
            "defaults": (raw, defaults),
            "ours": (raw, sidecar_of(raw).read_text(encoding="utf-8")),
            "defaults_at_1_2": (raw, history_sidecar(darktable_raw_defaults(at_1_2), iop_order_version=2)),
        },
        tmp_path / "dt",
    )
    before, ours, wanted = (result.images[k] for k in ("defaults", "ours", "defaults_at_1_2"))
    assert ours.mean() > 1.1 * before.mean()  # brighter than darktable's default look, never darker
    assert np.abs(ours - wanted).max() < 1e-3  # = darktable's default exposure 0.5 EV higher (filmic after both)


def test_exposure_on_a_png_in_darktables_v30_order_acts_on_linear_light(tmp_path: Path) -> None:
    """darktable gives a PNG it imports without a sidecar order V30 (exposure before colorin): apply moves colorin
    first; the user's own modules (sharpen, vignette, flip) render exactly as before, ours as +0.5 EV in linear light."""
    photo = make_png(tmp_path, "w.png", width=96, height=64)
    user = [*entries(sharpen=60.0), *entries(vignette=-30.0), HistoryEntry("flip", 2, "ffffffff")]
    users_v30 = history_sidecar(user, iop_order_version=2)
    sidecar_of(photo).write_text(users_v30, encoding="utf-8")
    (outcome,) = apply_to_photo(photo, recipe(exposure=0.5), host="darktable", info=PhotoInfo(False, 96))
    assert outcome.action == "written", outcome.reason
    applied = sidecar_of(photo).read_text(encoding="utf-8")
    (undo,) = revert_photo(photo, host="darktable")
    assert undo.action == "reverted"
    assert 'darktable:iop_order_version="3"' in applied
    users_moved = history_sidecar(user, iop_order_version=3)  # the user's history in the order apply wrote
    result = render_darktable(
        {"users": (photo, users_v30), "users_moved": (photo, users_moved), "applied": (photo, applied)},
        tmp_path / "dt",
    )
    users = result.images["users"]
    assert np.array_equal(result.images["users_moved"], users)  # the move changes nothing of the user's edit
    mid = (users > 0.05) & (users < 0.35)
    ratio = float(np.median(result.images["applied"][mid] / users[mid]))
    assert ratio == pytest.approx(2**0.5, rel=0.01)  # was 2.13 with exposure on gamma-encoded values
