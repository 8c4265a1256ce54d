"""apply / revert on darktable histories that darktable or the user changed after autoretouch wrote them.

Each case starts from a user's own darktable edit (written as darktable 4.2 lays it out) and changes the sidecar
the way darktable does: "compress history", a later edit of the user's, a copied or rewritten sidecar.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from backend.recipe import Recipe, scale
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from backend.sidecar.darktable_doc import active_history
from backend.sidecar.provenance import find_provenance
from backend.sidecar.revert import revert_photo
from backend.sidecar.xmp import read_sidecar
from backend.translate.darktable import HistoryEntry, recipe_to_history
from testing.dt_sidecar import (
    DEFAULT_EXPOSURE,
    blend_params,
    compress_history,
    darktable_appends,
    darktable_raw_defaults,
    history_sidecar,
)

INFO = PhotoInfo(is_raw=False, long_side_px=96)


def recipe(**sliders: Any) -> Recipe:
    return Recipe.from_dict({"version": 1, "steps": [{"slider": k, "value": v} for k, v in sliders.items()]})


def entries(**sliders: Any) -> list[HistoryEntry]:
    """Our translator's entries for the sliders (what a user's own module settings look like here)."""
    return recipe_to_history(recipe(**sliders), is_raw=False, long_side_px=96)


def user_exposure_blended() -> HistoryEntry:
    """The user's own +1 EV exposure, blended at 50 % opacity."""
    return dataclasses.replace(entries(exposure=1.0)[0], blendop_params=blend_params(opacity=50.0))


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "y.png"
    path.write_bytes(b"not decoded: the tests pass PhotoInfo")
    return path


def sidecar_of(photo: Path) -> Path:
    return photo.with_name(photo.name + ".xmp")


def active(photo: Path) -> list[HistoryEntry]:
    return active_history(read_sidecar(sidecar_of(photo)))


def ops(history: list[HistoryEntry]) -> list[tuple[str, int]]:
    return [e.instance for e in history]


# -- F3: darktable's "compress history" after apply, then revert ----------------------------------------------


def test_revert_after_compress_history_brings_back_the_users_overridden_entry(photo: Path) -> None:
    user = [user_exposure_blended(), *entries(sharpen=60.0)]
    sidecar_of(photo).write_text(history_sidecar(user), encoding="utf-8")
    (applied,) = apply_to_photo(photo, recipe(exposure=0.3), host="darktable", info=INFO)
    assert applied.action == "written"
    # darktable keeps only the last entry per instance: ours; the user's blended exposure is gone from the sidecar
    sidecar_of(photo).write_text(compress_history(sidecar_of(photo).read_text(encoding="utf-8")), encoding="utf-8")
    assert ops(active(photo)) == [("sharpen", 0), ("exposure", 0)]

    (outcome,) = revert_photo(photo, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    assert "brought back your exposure (instance 0)" in outcome.reason
    history = active(photo)
    assert ops(history) == [("sharpen", 0), ("exposure", 0)]  # the user's exposure took our entry's place
    assert history[1] == user[0]  # its params and its 50 % blend, as the user had them
    assert history[0].params == user[1].params
    assert find_provenance(read_sidecar(sidecar_of(photo))) is None


def test_revert_after_compress_keeps_an_entry_darktable_still_has(photo: Path) -> None:
    user = entries(sharpen=60.0)  # nothing of the user's is overridden
    sidecar_of(photo).write_text(history_sidecar(user), encoding="utf-8")
    apply_to_photo(photo, recipe(exposure=0.3), host="darktable", info=INFO)
    sidecar_of(photo).write_text(compress_history(sidecar_of(photo).read_text(encoding="utf-8")), encoding="utf-8")
    (outcome,) = revert_photo(photo, host="darktable")
    assert (outcome.action, outcome.reason) == ("reverted", "")
    assert ops(active(photo)) == [("sharpen", 0)]


def test_revert_refuses_to_bring_back_an_entry_whose_drawn_mask_may_be_gone(photo: Path) -> None:
    masked = dataclasses.replace(entries(exposure=1.0)[0], blendop_params=blend_params(mask_mode=3, mask_id=17))
    sidecar_of(photo).write_text(history_sidecar([masked, *entries(sharpen=60.0)]), encoding="utf-8")
    apply_to_photo(photo, recipe(exposure=0.3), host="darktable", info=INFO)
    compressed = compress_history(sidecar_of(photo).read_text(encoding="utf-8"))
    sidecar_of(photo).write_text(compressed, encoding="utf-8")
    (outcome,) = revert_photo(photo, host="darktable")
    assert outcome.action == "failed"
    assert "compress history dropped your exposure (instance 0)" in outcome.reason and "drawn mask" in outcome.reason
    assert sidecar_of(photo).read_text(encoding="utf-8") == compressed  # untouched: never a silent loss


def test_apply_again_after_compress_keeps_the_users_entry_for_the_next_revert(photo: Path) -> None:
    user = [user_exposure_blended(), *entries(sharpen=60.0)]
    sidecar_of(photo).write_text(history_sidecar(user), encoding="utf-8")
    apply_to_photo(photo, recipe(exposure=0.3), host="darktable", info=INFO)
    sidecar_of(photo).write_text(compress_history(sidecar_of(photo).read_text(encoding="utf-8")), encoding="utf-8")
    (again,) = apply_to_photo(photo, recipe(exposure=0.6), host="darktable", info=INFO, overwrite=True)
    assert again.action == "written"
    assert any("brought back your exposure (instance 0)" in w for w in again.warnings)
    (outcome,) = revert_photo(photo, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    history = active(photo)
    assert ops(history) == [("sharpen", 0), ("exposure", 0)] and history[1] == user[0]


# -- F6: the user's later step after ours, then apply again (another strength) --------------------------------


def add_later_step(photo: Path, entry: HistoryEntry) -> None:
    """The user's step after ours, as darktable appends it (a darkroom change, a pasted or styled module)."""
    from backend.sidecar.darktable_xmp import entry_to_li
    from backend.sidecar.xmp import NS, serialize

    doc = read_sidecar(sidecar_of(photo))
    desc = next(d for d in doc.descriptions() if d.find(f"{{{NS['darktable']}}}history") is not None)
    seq = desc.find(f"{{{NS['darktable']}}}history/{{{NS['rdf']}}}Seq")
    assert seq is not None
    end = int(desc.get(f"{{{NS['darktable']}}}history_end", "0"))
    assert end == len(seq)
    seq.append(entry_to_li(dataclasses.replace(entry, blendop_params=blend_params(mask_mode=0)), end))
    desc.set(f"{{{NS['darktable']}}}history_end", str(end + 1))
    sidecar_of(photo).write_bytes(serialize(doc))


def test_apply_again_keeps_the_users_later_step_in_effect_and_revert_is_exact(photo: Path) -> None:
    user = [user_exposure_blended(), *entries(sharpen=60.0)]
    sidecar_of(photo).write_text(history_sidecar(user), encoding="utf-8")
    apply_to_photo(photo, recipe(exposure=0.3), host="darktable", info=INFO)
    tweak = entries(exposure=1.5)[0]
    add_later_step(photo, tweak)
    before_again = active(photo)
    assert ops(before_again) == [("exposure", 0), ("sharpen", 0), ("exposure", 0), ("exposure", 0)]

    (again,) = apply_to_photo(photo, scale(recipe(exposure=0.3), 0.5), host="darktable", info=INFO, overwrite=True)
    assert again.action == "written", again.reason
    history = active(photo)
    ours = recipe_to_history(scale(recipe(exposure=0.3), 0.5), is_raw=False, long_side_px=96)[0]
    # ours in the place of our earlier entry; the user's later +1.5 EV stays last, so it stays in effect
    assert [e.params for e in history] == [user[0].params, user[1].params, ours.params, tweak.params]
    assert any(w.startswith("kept your later darktable steps") and "exposure (instance 0)" in w for w in again.warnings)

    (outcome,) = revert_photo(photo, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    assert [e.params for e in active(photo)] == [user[0].params, user[1].params, tweak.params]


# -- F2: our entries on the user's own instances (blended, switched off, named) --------------------------------

LIFT = [0.0, 0.05, 0.14, 0.28, 0.47, 0.72, 1.0]
CURVE = [0.0, 0.03, 0.1, 0.23, 0.42, 0.68, 1.0]


def test_overriding_the_users_instances_keeps_their_names_and_the_note_lists_each(photo: Path) -> None:
    user = [
        user_exposure_blended(),
        dataclasses.replace(entries(saturation=40.0)[0], enabled=False),
        *entries(tone_curve=LIFT),
        dataclasses.replace(entries(rgb_curves=[LIFT, LIFT, LIFT])[0], multi_name="my curve"),
        *entries(sharpen=60.0),
    ]
    assert [e.instance for e in user][3] == ("rgbcurve", 1)
    from backend.translate.darktable_order import build_iop_order_list

    order = {"iop_order_list": build_iop_order_list(3, [e.instance for e in user])}
    sidecar_of(photo).write_text(history_sidecar(user, attributes=order), encoding="utf-8")
    ours = recipe(exposure=0.3, saturation=10.0, tone_curve=CURVE, rgb_curves=[CURVE] * 3)
    (outcome,) = apply_to_photo(photo, ours, host="darktable", info=INFO)
    assert outcome.action == "written", outcome.reason
    (note,) = [w for w in outcome.warnings if w.startswith("overrides the user's ")]
    assert note == (
        "overrides the user's colorbalancergb (instance 0, switched off: now on), "
        "exposure (instance 0, blended at 50 % opacity: blending not kept), "
        'rgbcurve (instance 0), rgbcurve (instance 1 "my curve")'
    )
    written = {e.instance: e for e in active(photo)[len(user) :]}
    # the user's name stays on the instance, marked as autoretouch's so that it is found without the record
    assert written[("rgbcurve", 1)].multi_name == "my curve (autoretouch)"
    assert written[("exposure", 0)].multi_name == written[("rgbcurve", 0)].multi_name == "autoretouch"
    (outcome,) = revert_photo(photo, host="darktable")
    assert active(photo) == user


# -- F9: darktable's "copy" of an image, or a sidecar darktable wrote afresh: our record is gone --------------


def lose_the_record(photo: Path, to: Path) -> Path:
    """The sidecar as darktable writes it for a copy of ``photo`` at ``to`` (or afresh): its history, no record."""
    from backend.sidecar.provenance import remove_provenance
    from backend.sidecar.xmp import serialize

    to.write_bytes(photo.read_bytes())
    doc = read_sidecar(sidecar_of(photo))
    remove_provenance(doc)
    sidecar_of(to).write_bytes(serialize(doc))
    return to


def test_revert_without_the_record_takes_out_our_entries_found_by_their_name(photo: Path, tmp_path: Path) -> None:
    user = entries(sharpen=60.0)
    sidecar_of(photo).write_text(history_sidecar(user), encoding="utf-8")
    apply_to_photo(photo, recipe(saturation=20.0, exposure=0.5), host="darktable", info=INFO)
    (tmp_path / "other").mkdir()
    copy = lose_the_record(photo, tmp_path / "other" / photo.name)
    assert [e.multi_name for e in active(copy)] == ["", "autoretouch", "autoretouch"]

    (outcome,) = revert_photo(copy, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    assert outcome.reason.startswith("no autoretouch record in this sidecar")
    assert 'exposure (instance 0 "autoretouch")' in outcome.reason
    assert [e.params for e in active(copy)] == [user[0].params]
    (again,) = revert_photo(copy, host="darktable")
    assert (again.action, again.reason) == ("skipped", "no autoretouch settings in this sidecar")


def test_apply_without_the_record_never_stacks_a_second_set(photo: Path, tmp_path: Path) -> None:
    user = [user_exposure_blended(), *entries(sharpen=60.0)]
    sidecar_of(photo).write_text(history_sidecar(user), encoding="utf-8")
    apply_to_photo(photo, recipe(saturation=20.0, exposure=0.5), host="darktable", info=INFO)
    (tmp_path / "other").mkdir()
    copy = lose_the_record(photo, tmp_path / "other" / photo.name)
    (skipped,) = apply_to_photo(copy, recipe(saturation=10.0, exposure=0.25), host="darktable", info=INFO)
    assert skipped.action == "skipped" and "but no autoretouch record" in skipped.reason

    (written,) = apply_to_photo(copy, recipe(saturation=10.0), host="darktable", info=INFO, overwrite=True)
    assert written.action == "written", written.reason
    assert any(w.startswith("no autoretouch record") for w in written.warnings)
    # one set of ours (colour balance only now), none of the earlier; the user's blended exposure is theirs again
    assert ops(active(copy)) == [("exposure", 0), ("sharpen", 0), ("colorbalancergb", 0)]
    assert active(copy)[0] == user[0]
    (outcome,) = revert_photo(copy, host="darktable")
    assert (outcome.action, outcome.reason) == ("reverted", "")
    assert active(copy) == user


# -- F4: a raw darktable imported without a sidecar: its auto-applied default exposure and filmic --------------


def test_ours_goes_on_top_of_darktables_default_exposure_not_in_its_place(tmp_path: Path) -> None:
    raw = tmp_path / "D1.NEF"
    raw.write_bytes(b"not decoded")
    sidecar_of(raw).write_text(history_sidecar(darktable_raw_defaults(), iop_order_version=2), encoding="utf-8")
    raw_info = PhotoInfo(is_raw=True, long_side_px=2000)
    (outcome,) = apply_to_photo(raw, recipe(exposure=0.5), host="darktable", info=raw_info)
    assert outcome.action == "written", outcome.reason
    assert not any(w.startswith("overrides the user's") for w in outcome.warnings)
    assert any("default exposure (+0.7 EV" in w and "(exposure (instance 1))" in w for w in outcome.warnings)
    history = active(raw)
    assert ops(history) == [("filmicrgb", 0), ("exposure", 0), ("flip", 0), ("exposure", 1)]
    assert history[1].params == DEFAULT_EXPOSURE  # darktable's default, untouched
    assert history[3].params == entries(exposure=0.5)[0].params
    desc = read_sidecar(sidecar_of(raw)).descriptions()[0]
    order = desc.get("{http://darktable.sf.net/}iop_order_list") or ""
    assert "exposure,0,exposure,1,mask_manager,0" in order  # the second instance right after the first

    (undo,) = revert_photo(raw, host="darktable")
    assert undo.action == "reverted" and active(raw) == darktable_raw_defaults()
    assert "{http://darktable.sf.net/}iop_order_list" not in read_sidecar(sidecar_of(raw)).descriptions()[0].attrib


def test_a_default_exposure_the_user_changed_is_theirs_and_overridden(tmp_path: Path) -> None:
    raw = tmp_path / "D1.NEF"
    raw.write_bytes(b"not decoded")
    changed = DEFAULT_EXPOSURE.replace("3333333f", "0000803f")  # the user set +1 EV in the same instance
    sidecar_of(raw).write_text(history_sidecar(darktable_raw_defaults(changed), iop_order_version=2), encoding="utf-8")
    (outcome,) = apply_to_photo(raw, recipe(exposure=0.5), host="darktable", info=PhotoInfo(True, 2000))
    assert any(w.startswith("overrides the user's exposure (instance 0") for w in outcome.warnings)
    assert ops(active(raw))[-1] == ("exposure", 0)


# -- F5: a JPEG/PNG darktable imported without a sidecar: module order V30 (exposure before colorin) -------------

DT_ATTR = "{http://darktable.sf.net/}"


def order_attributes(photo: Path) -> tuple[str | None, str | None]:
    desc = read_sidecar(sidecar_of(photo)).descriptions()[0]
    return desc.get(f"{DT_ATTR}iop_order_version"), desc.get(f"{DT_ATTR}iop_order_list")


def test_colorin_moves_first_when_none_of_the_users_modules_lies_in_between(photo: Path) -> None:
    user = [*entries(sharpen=60.0), *entries(vignette=-30.0), HistoryEntry("flip", 2, "ffffffff")]
    sidecar_of(photo).write_text(history_sidecar(user, iop_order_version=2), encoding="utf-8")
    (outcome,) = apply_to_photo(photo, recipe(exposure=0.5), host="darktable", info=INFO)
    assert any(w.startswith("darktable's module order for this file ran exposure before") for w in outcome.warnings)
    assert order_attributes(photo) == ("3", None)  # V30_JPG: colorin right after demosaic
    (undo,) = revert_photo(photo, host="darktable")
    assert undo.action == "reverted" and order_attributes(photo) == ("2", None) and active(photo) == user


def test_colorin_moves_in_the_users_own_order_list(photo: Path) -> None:
    from backend.translate.darktable_order import build_iop_order_list, parse_iop_order_list

    user = [*entries(rgb_curves=[LIFT] * 3), *entries(sharpen=60.0)]
    listed = build_iop_order_list(2, [e.instance for e in user])
    sidecar_of(photo).write_text(
        history_sidecar(user, iop_order_version=2, attributes={"iop_order_list": listed}), encoding="utf-8"
    )
    apply_to_photo(photo, recipe(exposure=0.5), host="darktable", info=INFO)
    version, text = order_attributes(photo)
    order = [op for op, _ in parse_iop_order_list(text or "")]
    assert version == "2" and order.index("colorin") == order.index("demosaic") + 1
    assert order.index("colorin") < order.index("exposure") and ("rgbcurve", 1) in parse_iop_order_list(text or "")


@pytest.mark.parametrize("module", ["exposure", "toneequal"])
def test_order_stays_when_a_users_module_would_change_and_the_note_says_what_the_user_sees(
    photo: Path, module: str
) -> None:
    mine = entries(exposure=-0.3)[0] if module == "exposure" else HistoryEntry("toneequal", 2, "00" * 72)
    sidecar_of(photo).write_text(history_sidecar([mine, *entries(sharpen=60.0)], iop_order_version=2))
    (outcome,) = apply_to_photo(photo, recipe(exposure=0.5), host="darktable", info=INFO)
    assert order_attributes(photo) == ("2", None)
    (note,) = [w for w in outcome.warnings if w.startswith("darktable's module order")]
    assert "runs exposure before the input colour profile" in note
    assert "(+0.5 EV: about x2.14 in linear light instead of x1.41)" in note and f"your {module} would" in note


# -- R1: the user's later steps on our module (a switch, a drawn mask, a name) are told from ours ---------------

MASKED_30 = blend_params(opacity=30.0, mask_mode=3, mask_id=5)  # blended at 30 % through a drawn shape (id 5)


def applied_with_a_later_step(photo: Path, **change: Any) -> tuple[list[HistoryEntry], HistoryEntry, HistoryEntry]:
    """The user's blended exposure and sharpen, ours (+0.3 EV) over the exposure, then the user's darkroom step on
    ours (``change``: ``enabled``, ``blendop_params``, ``multi_name``), darktable's sidecar after it.

    Returns:
        ``(the user's history, ours as written, the user's step)``.
    """
    user = [user_exposure_blended(), *entries(sharpen=60.0)]
    sidecar_of(photo).write_text(history_sidecar(user), encoding="utf-8")
    (applied,) = apply_to_photo(photo, recipe(exposure=0.3), host="darktable", info=INFO)
    assert applied.action == "written", applied.reason
    ours = active(photo)[-1]
    step = dataclasses.replace(ours, **change)
    darktable_appends(sidecar_of(photo), step, mask_shape=5 if "blendop_params" in change else None)
    return user, ours, step


def test_revert_takes_out_the_users_switch_off_of_ours_with_ours(photo: Path) -> None:
    """The user switched autoretouch's exposure off in the darkroom (a later entry: our params, off), then reverts.

    A photographer expects their photo as before autoretouch: their own blended exposure on, as it was. Taking out
    ours alone would leave their switch-off, which now switches off their own exposure; so it goes with ours, and
    the reason says so. (Before: the switch-off was taken for ours, and ours stayed, on.)
    """
    user, _, _ = applied_with_a_later_step(photo, enabled=False)
    (outcome,) = revert_photo(photo, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    assert 'exposure (instance 0 "autoretouch") switched off' in outcome.reason
    assert [dataclasses.replace(e, blendop_params=None) for e in active(photo)] == [
        dataclasses.replace(e, blendop_params=None) for e in user
    ]
    assert active(photo)[0].blendop_params == user[0].blendop_params  # their 50 % blend, as they had it


def test_revert_takes_out_a_switch_off_and_on_again_of_ours(photo: Path) -> None:
    """Off, then on again: the instance ends as autoretouch's, so revert leaves none of autoretouch's settings on."""
    user, _, off = applied_with_a_later_step(photo, enabled=False)
    darktable_appends(sidecar_of(photo), dataclasses.replace(off, enabled=True))
    (outcome,) = revert_photo(photo, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    assert [e.params for e in active(photo)] == [e.params for e in user]
    assert all(e.multi_name == "" for e in active(photo))


def test_revert_keeps_the_drawn_mask_the_user_put_on_ours(photo: Path) -> None:
    """The user masked autoretouch's exposure with a drawn shape at 30 % (a later entry: our params, their mask).

    The mask is the user's work: revert takes out our entry and keeps theirs, which still holds our settings, so the
    reason says so; its name 'autoretouch' becomes darktable's own label (instance 0: none), since it is theirs now
    and must not be taken for ours later. Its shape stays numbered with it. (Before: their masked step was taken
    out, and our unmasked entry stayed.)
    """
    user, ours, masked = applied_with_a_later_step(photo, blendop_params=MASKED_30)
    (outcome,) = revert_photo(photo, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    assert (
        "kept your later steps on autoretouch's modules, as they are yours: exposure (instance 0): renamed from "
        '"autoretouch", still with autoretouch\'s settings'
    ) in outcome.reason
    history = active(photo)
    assert [e.params for e in history] == [user[0].params, user[1].params, ours.params]
    assert history[2] == dataclasses.replace(masked, multi_name="")
    doc = read_sidecar(sidecar_of(photo))
    shape = doc.root.find(f".//{DT_ATTR}masks_history//{{http://www.w3.org/1999/02/22-rdf-syntax-ns#}}li")
    assert shape is not None and shape.get(f"{DT_ATTR}mask_num") == "2"  # follows the masked step (was 4)


def test_revert_keeps_ours_under_the_name_the_user_gave_it(photo: Path) -> None:
    """The user renamed autoretouch's exposure 'my look': they made it theirs; revert takes out our entry only, and
    'my look' keeps its settings (ours, which the reason says). (Before: 'my look' was taken out, ours stayed.)"""
    _, ours, _ = applied_with_a_later_step(photo, multi_name="my look")
    (outcome,) = revert_photo(photo, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    assert 'exposure (instance 0 "my look"): still with autoretouch\'s settings' in outcome.reason
    assert [e.multi_name for e in active(photo)] == ["", "", "my look"]
    assert active(photo)[2].params == ours.params


@pytest.mark.parametrize(
    ("change", "kept"),
    [
        ({"enabled": False}, None),
        ({"blendop_params": MASKED_30}, ""),
        ({"multi_name": "my look"}, "my look"),
    ],
    ids=["switched-off", "drawn-mask", "renamed"],
)
def test_apply_overwrite_replaces_ours_and_keeps_the_users_step_on_it(
    photo: Path, change: dict[str, Any], kept: str | None
) -> None:
    """apply --overwrite at another strength after the user's step on ours: ours is replaced in its place.

    A switch-off goes with our old entry (as in revert: the new exposure is on, the reason says the switch went).
    A mask or a name is the user's and stays after the new entry, so it stays in effect (the warning says so);
    revert then gives back exactly what the user had after the first revert. (Before: the user's step was deleted
    and our old entry kept, the new one in the user's step's place.)
    """
    user, ours, step = applied_with_a_later_step(photo, **change)
    (again,) = apply_to_photo(photo, recipe(exposure=0.6), host="darktable", info=INFO, overwrite=True)
    assert again.action == "written", again.reason
    new = entries(exposure=0.6)[0]
    history = active(photo)
    assert [e.params for e in history[:2]] == [user[0].params, user[1].params]
    assert (history[2].params, history[2].multi_name, history[2].enabled) == (new.params, "autoretouch", True)
    if kept is None:
        assert len(history) == 3 and any("switched off" in w for w in again.warnings)
    else:
        as_written = dataclasses.replace(
            step, multi_name=kept, blendop_params=step.blendop_params or blend_params(mask_mode=0)
        )
        assert len(history) == 4 and history[3] == as_written
        assert any(w.startswith("kept your later darktable steps") for w in again.warnings)
    assert ours.params not in [e.params for e in history[:3]]
    (undo,) = revert_photo(photo, host="darktable")
    assert undo.action == "reverted", undo.reason
    assert [e.params for e in active(photo)] == [e.params for e in user] + ([] if kept is None else [ours.params])


def test_a_record_from_before_whole_entry_digests_still_tells_ours_from_the_users_switch(photo: Path) -> None:
    """A record written before it kept whole-entry digests matches by params; the user's earlier exposure with the
    very settings of ours stays theirs, and their later switch-off goes with ours."""
    from backend.sidecar.provenance import write_provenance
    from backend.sidecar.xmp import serialize

    same = entries(exposure=0.3)[0]  # the user's own +0.3 EV, before ours
    user = [same, *entries(sharpen=60.0)]
    sidecar_of(photo).write_text(history_sidecar(user), encoding="utf-8")
    apply_to_photo(photo, recipe(exposure=0.3), host="darktable", info=INFO)
    doc = read_sidecar(sidecar_of(photo))
    found = find_provenance(doc)
    assert found is not None
    legacy = {k: v for k, v in found[1].replaced.items() if k != "exact"}
    write_provenance(found[0], dataclasses.replace(found[1], replaced=legacy))
    sidecar_of(photo).write_bytes(serialize(doc))
    darktable_appends(sidecar_of(photo), dataclasses.replace(active(photo)[-1], enabled=False))
    (outcome,) = revert_photo(photo, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    assert [(e.params, e.enabled, e.multi_name) for e in active(photo)] == [(e.params, True, "") for e in user]


# -- R2: without the record, only the first entry named 'autoretouch' of each instance is ours ---------------


def test_without_the_record_the_users_change_of_ours_stays_theirs(photo: Path, tmp_path: Path) -> None:
    """The user changed autoretouch's exposure in the darkroom (+1.5 EV: a later entry that inherits the name
    'autoretouch'); then darktable copied the image, which loses the record.

    Revert takes out ours (the first entry so named on that instance) and says exactly which; the user's +1.5 EV
    stays, with darktable's own label, and the reason says so. apply skips, naming only ours, in words that do not
    claim the entries are surely autoretouch's. (Before: both were taken out as autoretouch's.)
    """
    user = entries(sharpen=60.0)
    sidecar_of(photo).write_text(history_sidecar(user), encoding="utf-8")
    apply_to_photo(photo, recipe(exposure=0.3), host="darktable", info=INFO)
    tweak = dataclasses.replace(active(photo)[-1], params=entries(exposure=1.5)[0].params)
    darktable_appends(sidecar_of(photo), tweak)
    (tmp_path / "other").mkdir()
    copy = lose_the_record(photo, tmp_path / "other" / photo.name)

    (skipped,) = apply_to_photo(copy, recipe(exposure=0.3), host="darktable", info=INFO)
    assert skipped.action == "skipped"
    assert 'but no autoretouch record: exposure (instance 0 "autoretouch"). They are autoretouch\'s when' in (
        skipped.reason
    )
    assert "or yours if you or a style named them so" in skipped.reason

    (outcome,) = revert_photo(copy, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    assert "the darktable entries named 'autoretouch': exposure (instance 0 \"autoretouch\");" in outcome.reason
    assert (
        'kept your later steps on autoretouch\'s modules, as they are yours: exposure (instance 0): renamed from "autoretouch"'
        in (outcome.reason)
    )
    assert [(e.params, e.multi_name) for e in active(copy)] == [(user[0].params, ""), (tweak.params, "")]
    (again,) = revert_photo(copy, host="darktable")  # nothing is taken for ours any more
    assert (again.action, again.reason) == ("skipped", "no autoretouch settings in this sidecar")


def test_after_revert_the_users_change_of_ours_is_never_taken_for_ours(photo: Path) -> None:
    """Revert (with the record) keeps the user's +1.5 EV change of ours and gives it darktable's own label, so a
    later apply is not skipped as 'already applied' and a later revert cannot take it out as autoretouch's.
    (Before: it kept the name 'autoretouch': apply skipped, and the next revert deleted it.)"""
    user = entries(sharpen=60.0)
    sidecar_of(photo).write_text(history_sidecar(user), encoding="utf-8")
    apply_to_photo(photo, recipe(exposure=0.3), host="darktable", info=INFO)
    tweak = dataclasses.replace(active(photo)[-1], params=entries(exposure=1.5)[0].params)
    darktable_appends(sidecar_of(photo), tweak)
    (undo,) = revert_photo(photo, host="darktable")
    assert undo.action == "reverted" and 'renamed from "autoretouch"' in undo.reason
    theirs = [(e.params, e.multi_name) for e in active(photo)]
    assert theirs == [(user[0].params, ""), (tweak.params, "")]

    (applied,) = apply_to_photo(photo, recipe(exposure=0.3), host="darktable", info=INFO)
    assert applied.action == "written", applied.reason
    assert any(w.startswith("overrides the user's exposure (instance 0)") for w in applied.warnings)
    (undo,) = revert_photo(photo, host="darktable")
    assert (undo.action, undo.reason) == ("reverted", "")
    assert [(e.params, e.multi_name) for e in active(photo)] == theirs


def test_apply_overwrite_without_the_record_names_exactly_what_it_takes_out(photo: Path, tmp_path: Path) -> None:
    """Without the record, --overwrite takes out ours and the user's switch-off of it, names both, and keeps the
    user's later change of our curve (after the new entries, so it stays in effect)."""
    sidecar_of(photo).write_text(history_sidecar(entries(sharpen=60.0)), encoding="utf-8")
    apply_to_photo(photo, recipe(exposure=0.3, tone_curve=CURVE), host="darktable", info=INFO)
    exposure, curve = active(photo)[1:]
    darktable_appends(
        sidecar_of(photo),
        dataclasses.replace(exposure, enabled=False),
        dataclasses.replace(curve, params=entries(tone_curve=LIFT)[0].params),
    )
    (tmp_path / "other").mkdir()
    copy = lose_the_record(photo, tmp_path / "other" / photo.name)
    (written,) = apply_to_photo(copy, recipe(exposure=0.6), host="darktable", info=INFO, overwrite=True)
    assert written.action == "written", written.reason
    (note,) = [w for w in written.warnings if w.startswith("no autoretouch record")]
    assert note.endswith(
        "the darktable entries named 'autoretouch': exposure (instance 0 \"autoretouch\"), "
        'rgbcurve (instance 0 "autoretouch"), exposure (instance 0 "autoretouch") switched off'
    )
    history = active(copy)
    assert [(e.operation, e.multi_name) for e in history] == [
        ("sharpen", ""),
        ("exposure", "autoretouch"),
        ("rgbcurve", ""),
    ]
    assert history[2].params == entries(tone_curve=LIFT)[0].params


# -- R3: ours on an instance the user named is found without the record --------------------------------------


def test_ours_on_an_instance_the_user_named_is_found_without_the_record(photo: Path, tmp_path: Path) -> None:
    """On the user's rgb curve 'my curve', ours is named 'my curve (autoretouch)': darktable shows both names, and a
    copy that lost the record still finds it. Revert gives back exactly the user's history; apply never stacks a
    second curve. (Before: ours took the name 'my curve'; revert took out only the exposure and said 'reverted'
    while our curve stayed, and apply then stacked a second curve.)"""
    user = [dataclasses.replace(entries(tone_curve=LIFT)[0], multi_name="my curve"), *entries(sharpen=60.0)]
    sidecar_of(photo).write_text(history_sidecar(user), encoding="utf-8")
    apply_to_photo(photo, recipe(exposure=0.3, tone_curve=CURVE), host="darktable", info=INFO)
    assert active(photo)[-1].multi_name == "my curve (autoretouch)"
    (tmp_path / "other").mkdir()
    copy = lose_the_record(photo, tmp_path / "other" / photo.name)

    (skipped,) = apply_to_photo(copy, recipe(exposure=0.3, tone_curve=CURVE), host="darktable", info=INFO)
    assert skipped.action == "skipped" and 'rgbcurve (instance 0 "my curve (autoretouch)")' in skipped.reason
    (outcome,) = revert_photo(copy, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    assert active(copy) == user


def test_a_long_user_name_is_shortened_to_fit_darktables_name_field() -> None:
    from backend.sidecar.darktable_ours import is_marked, mark_name, unmarked_name

    long = "é" * 100  # 200 bytes of UTF-8
    named = mark_name(0, long)
    assert named.endswith(" (autoretouch)") and len(named.encode("utf-8")) <= 127 and is_marked(named)
    assert unmarked_name(named) == "é" * 56
    assert [mark_name(0), mark_name(2), mark_name(1, "1"), mark_name(1, "autoretouch 1")] == [
        "autoretouch",
        "autoretouch 2",
        "autoretouch 1",
        "autoretouch 1",
    ]
    assert [unmarked_name(n) for n in ("autoretouch", "autoretouch 2", "my curve (autoretouch)", "mine")] == [
        "",
        "2",
        "my curve",
        "mine",
    ]


# -- R4: ours on top of darktable's default exposure is named for the instance it is on ----------------------


def test_ours_on_top_of_darktables_default_exposure_is_named_for_its_instance(tmp_path: Path) -> None:
    """Ours is exposure instance 1 there, so it is 'autoretouch 1' (as every instance N > 0 of ours), and a copy
    that lost the record gives darktable's defaults back on revert. (Before: it was named 'autoretouch'.)"""
    raw = tmp_path / "D1.NEF"
    raw.write_bytes(b"not decoded")
    sidecar_of(raw).write_text(history_sidecar(darktable_raw_defaults(), iop_order_version=2), encoding="utf-8")
    apply_to_photo(raw, recipe(exposure=0.5), host="darktable", info=PhotoInfo(is_raw=True, long_side_px=2000))
    assert [(e.instance, e.multi_name) for e in active(raw)][-1] == (("exposure", 1), "autoretouch 1")
    (tmp_path / "other").mkdir()
    copy = lose_the_record(raw, tmp_path / "other" / raw.name)
    (outcome,) = revert_photo(copy, host="darktable")
    assert outcome.action == "reverted" and 'exposure (instance 1 "autoretouch 1")' in outcome.reason
    assert active(copy) == darktable_raw_defaults()


def test_revert_after_a_switch_off_of_ours_and_compress_history_gives_the_users_exposure_back(photo: Path) -> None:
    """Switched off, then compressed: darktable keeps only the switch-off (our params, off) of that instance. It is
    all that is left of ours there, so revert takes it out and brings the user's blended exposure back from the
    record: the photo as before autoretouch."""
    user, _, _ = applied_with_a_later_step(photo, enabled=False)
    sidecar_of(photo).write_text(compress_history(sidecar_of(photo).read_text(encoding="utf-8")), encoding="utf-8")
    (outcome,) = revert_photo(photo, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    assert "brought back your exposure (instance 0)" in outcome.reason
    assert [e.params for e in active(photo)] == [user[1].params, user[0].params]
    assert active(photo)[1] == user[0]


def test_a_whole_entry_digest_ignores_what_darktable_rewrites_and_sees_what_the_user_changes() -> None:
    """darktable writes our entries back with its default blending (off) and may re-encode params (hex or gz): the
    same entry. A switch, a blend, a name or another instance is another entry."""
    from backend.sidecar.darktable_ours import step_digest
    from backend.sidecar.darktable_xmp import entry_to_li
    from backend.translate.darktable import decode_params
    from testing.dt_sidecar import gz_params

    ours = dataclasses.replace(entries(exposure=0.3)[0], multi_name="autoretouch")
    rewritten = dataclasses.replace(
        ours, params=gz_params(decode_params(ours.params)), blendop_params=blend_params(mask_mode=0)
    )
    digest = step_digest(entry_to_li(ours, 0))
    assert step_digest(entry_to_li(rewritten, 3)) == digest
    for change in ({"enabled": False}, {"blendop_params": MASKED_30}, {"multi_name": "mine"}, {"multi_priority": 1}):
        assert step_digest(entry_to_li(dataclasses.replace(ours, **change), 0)) != digest, change
