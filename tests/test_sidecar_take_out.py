"""``apply --overwrite`` of a recipe that changes nothing (``--strength 0``) takes autoretouch's earlier edit out.

The darktable plug-in's "try another strength" re-applies with ``apply --overwrite --strength=X``: at 0 the photo
must end with no autoretouch edit. What is taken out is what ``--overwrite`` takes out before placing a new recipe
(the user's own settings and later edits stay); the record goes too, so ``revert`` then has nothing to undo and says
so. Without ``--overwrite``, or with no earlier edit, the sidecar is left alone ("nothing to write").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.errors import DecodeError
from backend.recipe import Recipe, scale
from backend.sidecar.apply import (
    EMBEDDED_REASON,
    NOTHING_REASON,
    TOOK_OUT_REASON,
    Outcome,
    PhotoInfo,
    apply_to_photo,
)
from backend.sidecar.darktable_doc import MARK
from backend.sidecar.provenance import find_provenance, remove_provenance
from backend.sidecar.revert import revert_photo
from backend.sidecar.xmp import NS, get_simple, read_sidecar, serialize
from testing.xmp_canonical import canonical
from tests.test_sidecar_apply import RAW_INFO, RECIPE, USER_DT, USER_SETTINGS_LR

ZERO = scale(RECIPE, 0.0)
TOOK_OUT = TOOK_OUT_REASON.format(why="strength 0")
NOTHING = NOTHING_REASON.format(why="strength 0")
NO_RECORD = "no autoretouch settings in this sidecar"


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    photo = tmp_path / "IMG_0001.CR2"
    photo.write_bytes(b"II*\x00 not really a raw, never to be modified")
    return photo


def _apply(photo: Path, recipe: Recipe, **kw: object) -> list[Outcome]:
    """Without a probe, a recipe that changes nothing never decodes the photo (Lightroom's NAME.xmp sniffs it)."""
    if recipe.steps:
        kw["info"] = RAW_INFO
    return apply_to_photo(photo, recipe, **kw)  # type: ignore[arg-type]


def _sidecars(raw: Path) -> tuple[Path, Path]:
    return raw.with_suffix(".xmp"), raw.with_name(raw.name + ".xmp")


def test_strength_0_with_overwrite_takes_out_the_earlier_edit_in_both_hosts(raw: Path) -> None:
    lr, dt = _sidecars(raw)
    lr.write_bytes(USER_SETTINGS_LR)
    dt.write_bytes(USER_DT.replace("{end}", "3").encode())
    user_lr, user_dt = lr.read_bytes(), dt.read_bytes()
    assert [o.action for o in _apply(raw, RECIPE, host="both", overwrite=True)] == ["written", "written"]
    applied = lr.read_bytes(), dt.read_bytes()

    # without --overwrite: left alone
    assert [(o.action, o.reason) for o in _apply(raw, ZERO, host="both")] == [("skipped", NOTHING)] * 2
    # a dry run says what it would do, and writes nothing
    dry = _apply(raw, ZERO, host="both", overwrite=True, dry_run=True)
    assert [(o.action, o.reason) for o in dry] == [("would-write", f"would take out {TOOK_OUT[9:]}")] * 2
    assert dry[0].reason == "would take out the earlier autoretouch edit (strength 0)"
    assert (lr.read_bytes(), dt.read_bytes()) == applied

    outcomes = _apply(raw, ZERO, host="both", overwrite=True)
    assert [(o.action, o.reason) for o in outcomes] == [("written", TOOK_OUT)] * 2
    assert canonical(lr.read_bytes()) == canonical(user_lr)  # what the user had before autoretouch
    assert canonical(dt.read_bytes()) == canonical(user_dt)
    assert find_provenance(read_sidecar(lr)) is None and find_provenance(read_sidecar(dt)) is None
    # revert: nothing left to undo, said cleanly (exit 0 in the CLI)
    assert [(o.action, o.reason) for o in revert_photo(raw, host="both")] == [("skipped", NO_RECORD)] * 2
    # again: no earlier edit any more, so nothing to write
    assert [(o.action, o.reason) for o in _apply(raw, ZERO, host="both", overwrite=True)] == [("skipped", NOTHING)] * 2


def test_a_recipe_that_changes_nothing_says_so(raw: Path) -> None:
    lr, _ = _sidecars(raw)
    _apply(raw, RECIPE, host="lightroom")
    empty = Recipe.from_dict({"version": 1, "steps": []})
    (outcome,) = _apply(raw, empty, host="lightroom", overwrite=True)
    assert (outcome.action, outcome.reason) == (
        "deleted",
        "took out the earlier autoretouch edit (the recipe changes nothing); autoretouch created this sidecar",
    )
    assert not lr.exists()


def test_sidecars_autoretouch_created_are_removed_as_revert_removes_them(raw: Path) -> None:
    lr, dt = _sidecars(raw)
    _apply(raw, RECIPE, host="both")
    dry = _apply(raw, ZERO, host="both", overwrite=True, dry_run=True)
    assert [o.action for o in dry] == ["would-delete"] * 2
    assert dry[0].reason == "would take out the earlier autoretouch edit (strength 0); autoretouch created this sidecar"
    assert lr.exists() and dt.exists()
    outcomes = _apply(raw, ZERO, host="both", overwrite=True)
    assert [o.action for o in outcomes] == ["deleted"] * 2
    assert not lr.exists() and not dt.exists()
    assert Path(f"{lr}.autoretouch.bak").exists() and Path(f"{dt}.autoretouch.bak").exists()
    assert [o.reason for o in revert_photo(raw, host="both")] == ["no sidecar"] * 2


def test_the_users_later_lightroom_change_stays(raw: Path) -> None:
    lr, _ = _sidecars(raw)
    lr.write_bytes(USER_SETTINGS_LR)
    _apply(raw, RECIPE, host="lightroom", overwrite=True)
    lr.write_bytes(lr.read_bytes().replace(b'crs:Sharpness="45"', b'crs:Sharpness="60"'))
    assert get_simple(read_sidecar(lr).descriptions()[1], f"{{{NS['crs']}}}Sharpness") == "60"
    (outcome,) = _apply(raw, ZERO, host="lightroom", overwrite=True)
    assert (outcome.action, outcome.reason) == ("written", TOOK_OUT)
    assert outcome.warnings == ("kept the settings you changed since autoretouch wrote them: Sharpness",)
    doc = read_sidecar(lr)
    assert get_simple(doc.descriptions()[1], f"{{{NS['crs']}}}Sharpness") == "60"
    assert get_simple(doc.descriptions()[1], f"{{{NS['crs']}}}Contrast2012") == "-33"  # the user's own again


def test_darktable_entries_of_ours_without_our_record_are_taken_out(raw: Path) -> None:
    _, dt = _sidecars(raw)
    dt.write_bytes(USER_DT.replace("{end}", "3").encode())
    user = raw.parent / "user.xmp"
    user.write_bytes(dt.read_bytes())
    _apply(raw, RECIPE, host="darktable")
    doc = read_sidecar(dt)
    remove_provenance(doc)  # darktable copied the image: the record is gone, our named entries stay
    dt.write_bytes(serialize(doc))
    assert MARK.encode() in dt.read_bytes()
    (outcome,) = _apply(raw, ZERO, host="darktable")
    assert (outcome.action, outcome.reason) == ("skipped", NOTHING)
    (outcome,) = _apply(raw, ZERO, host="darktable", overwrite=True)
    assert (outcome.action, outcome.reason) == ("written", TOOK_OUT)
    assert outcome.warnings[0].startswith("no autoretouch record in this sidecar")
    # as revert takes them out: the user's entries stay, ours are gone (darktable's attributes are darktable's)
    assert MARK.encode() not in dt.read_bytes()
    entries = f"{{{NS['darktable']}}}history/{{{NS['rdf']}}}Seq/{{{NS['rdf']}}}li"
    ops = [li.get(f"{{{NS['darktable']}}}operation") for li in read_sidecar(dt).descriptions()[0].findall(entries)]
    user_ops = [
        li.get(f"{{{NS['darktable']}}}operation") for li in read_sidecar(user).descriptions()[0].findall(entries)
    ]
    assert ops == user_ops


def test_a_sidecar_without_an_earlier_edit_is_left_alone(raw: Path) -> None:
    lr, dt = _sidecars(raw)
    lr.write_bytes(USER_SETTINGS_LR)
    dt.write_bytes(USER_DT.replace("{end}", "3").encode())
    before = lr.read_bytes(), dt.read_bytes()
    outcomes = _apply(raw, ZERO, host="both", overwrite=True)
    assert [(o.action, o.reason) for o in outcomes] == [("skipped", NOTHING)] * 2
    assert (lr.read_bytes(), dt.read_bytes()) == before
    lr.unlink()
    dt.unlink()
    assert [(o.action, o.reason) for o in _apply(raw, ZERO, host="both", overwrite=True)] == [("skipped", NOTHING)] * 2
    assert not lr.exists() and not dt.exists()


def test_a_non_raw_photo_never_takes_out_of_name_xmp(raw: Path) -> None:
    """``b.jfif`` (a JPEG, outside the embedded-XMP suffixes) shares ``b.xmp`` with the raw ``b.CR2``: not its own."""
    import cv2
    import numpy as np

    photo = raw.with_name("IMG_0001.jfif")
    ok, buf = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
    assert ok
    photo.write_bytes(buf.tobytes())
    lr, _ = _sidecars(raw)
    assert [o.action for o in _apply(raw, RECIPE, host="lightroom")] == ["written"]  # the raw's edit in IMG_0001.xmp
    before = lr.read_bytes()
    (out,) = _apply(photo, ZERO, host="lightroom", overwrite=True)
    assert (out.action, out.reason) == ("skipped", EMBEDDED_REASON)
    assert lr.read_bytes() == before
    (dry,) = _apply(photo, ZERO, host="lightroom", overwrite=True, dry_run=True)
    assert (dry.action, dry.reason) == ("skipped", EMBEDDED_REASON)


@pytest.mark.parametrize("is_raw", [True, False])
def test_a_take_out_learns_the_photos_kind_from_the_probe_given(raw: Path, is_raw: bool) -> None:
    lr, dt = _sidecars(raw)
    _apply(raw, RECIPE, host="both")
    raw.write_bytes(b"")  # the first bytes would tell nothing: the probe (the daemon's decoder) is asked instead
    asked: list[Path] = []

    def probe(photo: Path) -> PhotoInfo:
        asked.append(photo)
        return PhotoInfo(is_raw=is_raw, long_side_px=64)

    outcomes = apply_to_photo(raw, ZERO, host="both", overwrite=True, probe=probe)
    assert asked == [raw]
    assert [o.action for o in outcomes] == (["deleted", "deleted"] if is_raw else ["skipped", "deleted"])
    assert lr.exists() != is_raw and not dt.exists()


@pytest.mark.parametrize("content", [b"", b"not a photo at all"])
def test_a_photo_of_unknown_kind_fails_only_lightroom_s_take_out(raw: Path, content: bytes) -> None:
    lr, dt = _sidecars(raw)
    _apply(raw, RECIPE, host="both")
    before = lr.read_bytes()
    raw.write_bytes(content)  # empty, or no photo: whether NAME.xmp is its sidecar is unknown
    lightroom, darktable = _apply(raw, ZERO, host="both", overwrite=True)
    assert lightroom.action == "failed" and str(raw) in lightroom.reason and lr.read_bytes() == before
    assert darktable.action == "deleted" and not dt.exists()  # darktable's take-out needs no photo kind

    def failing(photo: Path) -> PhotoInfo:
        raise DecodeError(photo, "cannot decode")

    _apply(raw, RECIPE, host="darktable")
    lightroom, darktable = apply_to_photo(raw, ZERO, host="both", overwrite=True, probe=failing)
    assert (lightroom.action, darktable.action) == ("failed", "deleted") and lr.read_bytes() == before
