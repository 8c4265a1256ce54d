"""``suggest --dtstyle --duplicate N``: a preview of darktable's virtual copy N is built on that copy's own history.

A virtual copy keeps its own sidecar, ``NAME_NN.EXT.xmp``. The preview style is what darktable needs on top of the
copy's history to show ``apply --host=darktable --duplicate N --overwrite``; it was once built on the original's
sidecar, so a copy holding autoretouch's earlier entries kept them under the preview (and a copy whose pipe order
differs from the original's got no order). Each test sets the original and copy 2 apart, then compares the style
with what ``apply --duplicate 2`` writes into the copy's sidecar.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from backend.cli.dtstyle_output import preview_history, write_dtstyles
from backend.recipe import Recipe
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from backend.sidecar.darktable_doc import darktable_sidecar_path
from backend.sidecar.darktable_xmp import DT_NS, RDF_NS, entry_from_li
from backend.translate.darktable import HistoryEntry, recipe_to_history
from testing.dt_sidecar import darktable_raw_defaults, history_sidecar
from testing.dt_virtual_copy import COPY, FIRST, SECOND, SIDE, sliders_recipe, tiff_with_copy, user_sharpen
from testing.fixtures import make_dng, make_tiff


def _placed(photo: Path, recipe: Recipe, raw: bool, *, first: int) -> list[HistoryEntry]:
    """The entries ``apply --host=darktable --duplicate 2 --overwrite`` of ``recipe`` writes from entry ``first`` on."""
    (outcome,) = apply_to_photo(
        photo, recipe, host="darktable", overwrite=True, duplicate=COPY, info=PhotoInfo(raw, SIDE)
    )
    assert outcome.action == "written", outcome.reason
    assert outcome.sidecar == darktable_sidecar_path(photo, COPY)
    lis = ET.fromstring(outcome.sidecar.read_text(encoding="utf-8")).findall(f".//{{{DT_NS}}}history/{{{RDF_NS}}}Seq/*")
    return [entry_from_li(li) for li in lis[first:]]


def _unnamed(entries: list[HistoryEntry]) -> list[tuple[str, int, str, bool]]:
    """What renders: operation, instance, params, enabled (names aside: apply marks ours, the style matches)."""
    return [(e.operation, e.multi_priority, e.params, e.enabled) for e in entries]


def test_the_copys_earlier_autoretouch_edit_is_replaced_not_the_originals_history(tmp_path: Path) -> None:
    photo = tiff_with_copy(tmp_path / "preview")
    original_before = darktable_sidecar_path(photo).read_bytes()
    copy_before = darktable_sidecar_path(photo, COPY).read_bytes()
    plain = recipe_to_history(sliders_recipe(SECOND), is_raw=False, long_side_px=SIDE)

    styled, iop_list = preview_history(photo, plain, is_raw=False, long_side_px=SIDE, duplicate=COPY)
    placed = _placed(tiff_with_copy(tmp_path / "apply"), sliders_recipe(SECOND), False, first=len(user_sharpen()))
    curves = [
        e
        for e in recipe_to_history(sliders_recipe(FIRST), is_raw=False, long_side_px=SIDE)
        if e.operation == "rgbcurve"
    ]
    assert [e.multi_priority for e in curves] == [0, 1]
    # what apply --duplicate 2 --overwrite places, then the copy's earlier curves switched off
    assert _unnamed(styled) == _unnamed(placed) + [(e.operation, e.multi_priority, e.params, False) for e in curves]
    assert iop_list is None
    # the preview of the original knows nothing of the copy's earlier edit: the plain entries on the sharpen
    original, _ = preview_history(photo, plain, is_raw=False, long_side_px=SIDE)
    assert _unnamed(original) == _unnamed(plain)
    assert _unnamed(original) != _unnamed(styled)
    # nothing written
    assert darktable_sidecar_path(photo).read_bytes() == original_before
    assert darktable_sidecar_path(photo, COPY).read_bytes() == copy_before


def test_the_copys_pipe_order_decides_the_styles_order(tmp_path: Path) -> None:
    """The original runs colorin first (apply's order, 3); the copy still has darktable's V30 order (2)."""
    photo = tiff_with_copy(tmp_path / "photo", "order")
    copy_text = darktable_sidecar_path(photo, COPY).read_text(encoding="utf-8")
    plain = recipe_to_history(sliders_recipe(FIRST), is_raw=False, long_side_px=SIDE)

    styled, iop_list = preview_history(photo, plain, is_raw=False, long_side_px=SIDE, duplicate=COPY)
    assert preview_history(photo, plain, is_raw=False, long_side_px=SIDE) == (plain, None)  # the original's
    applied = tmp_path / "apply"
    applied.mkdir()
    other = make_tiff(applied, "t.tif", icc=None, height=64, width=SIDE)
    darktable_sidecar_path(other, COPY).write_text(copy_text, encoding="utf-8")
    placed = _placed(other, sliders_recipe(FIRST), False, first=len(user_sharpen()))
    assert _unnamed(styled) == _unnamed(placed)
    written = ET.fromstring(darktable_sidecar_path(other, COPY).read_text(encoding="utf-8"))
    desc = next(d for d in written.iter(f"{{{RDF_NS}}}Description") if d.find(f"{{{DT_NS}}}history") is not None)
    assert iop_list is not None and iop_list == desc.get(f"{{{DT_NS}}}iop_order_list")  # apply's order, in the style


def test_a_raw_copy_with_darktables_default_exposure_gets_ours_on_top(tmp_path: Path) -> None:
    """The original has no sidecar (plain entries); copy 2 holds darktable's +0.7 EV default exposure."""
    folder = tmp_path / "raw"
    folder.mkdir()
    photo = make_dng(folder, "r.dng", height=64, width=SIDE)
    darktable_sidecar_path(photo, COPY).write_text(
        history_sidecar(darktable_raw_defaults(), iop_order_version=2), encoding="utf-8"
    )
    plain = recipe_to_history(sliders_recipe(SECOND), is_raw=True, long_side_px=SIDE)
    styled, _ = preview_history(photo, plain, is_raw=True, long_side_px=SIDE, duplicate=COPY)
    assert [(e.multi_priority, e.multi_name) for e in styled if e.operation == "exposure"] == [(1, "autoretouch 1")]
    original, _ = preview_history(photo, plain, is_raw=True, long_side_px=SIDE)
    assert [(e.multi_priority, e.multi_name) for e in original if e.operation == "exposure"] == [(0, "")]


def test_a_copy_without_a_sidecar_gets_what_apply_writes_afresh(tmp_path: Path) -> None:
    """No ``t_02.tif.xmp``: apply writes a fresh stack; the original's earlier autoretouch edit plays no part."""
    photo = tiff_with_copy(tmp_path / "photo")
    darktable_sidecar_path(photo, COPY).rename(darktable_sidecar_path(photo))  # the original holds FIRST now
    plain = recipe_to_history(sliders_recipe(SECOND), is_raw=False, long_side_px=SIDE)
    assert preview_history(photo, plain, is_raw=False, long_side_px=SIDE, duplicate=COPY) == (plain, None)
    assert preview_history(photo, plain, is_raw=False, long_side_px=SIDE) != (plain, None)  # the original: not plain
    placed = _placed(photo, sliders_recipe(SECOND), False, first=0)
    assert _unnamed(placed) == _unnamed(plain)


def test_a_sidecar_of_another_file_is_not_taken_for_the_copys(tmp_path: Path) -> None:
    """``t_02.tif.xmp`` names ``t_02.tif`` (a real file of that name) as its image: apply leaves it alone."""
    photo = tiff_with_copy(tmp_path / "photo")
    sidecar = darktable_sidecar_path(photo, COPY)
    text = sidecar.read_text(encoding="utf-8")
    assert 'xmpMM:DerivedFrom="t.tif"' in text
    sidecar.write_text(text.replace('xmpMM:DerivedFrom="t.tif"', 'xmpMM:DerivedFrom="t_02.tif"'), encoding="utf-8")
    plain = recipe_to_history(sliders_recipe(SECOND), is_raw=False, long_side_px=SIDE)
    assert preview_history(photo, plain, is_raw=False, long_side_px=SIDE, duplicate=COPY) == (plain, None)
    (outcome,) = apply_to_photo(
        photo, sliders_recipe(SECOND), host="darktable", overwrite=True, duplicate=COPY, info=PhotoInfo(False, SIDE)
    )
    assert outcome.action == "skipped" and "belongs to t_02.tif" in outcome.reason


def test_the_written_style_names_the_copy_and_holds_its_preview(tmp_path: Path) -> None:
    photo = tiff_with_copy(tmp_path / "photo")
    styles = tmp_path / "styles"
    styles.mkdir()
    plain = recipe_to_history(sliders_recipe(SECOND), is_raw=False, long_side_px=SIDE)
    (copy_style,) = write_dtstyles(styles, photo, [plain], "s", 1.0, long_side_px=SIDE, duplicate=COPY)
    (original_style,) = write_dtstyles(styles, photo, [plain], "s", 1.0, long_side_px=SIDE)
    copy_root, original_root = (ET.fromstring(p.read_text(encoding="utf-8")) for p in (copy_style, original_style))
    assert copy_root.findtext("info/description") == (
        "autoretouch suggestion for t.tif (virtual copy 2): style s, strength 1, variant 1"
    )
    assert (
        original_root.findtext("info/description") == "autoretouch suggestion for t.tif: style s, strength 1, variant 1"
    )
    styled, _ = preview_history(photo, plain, is_raw=False, long_side_px=SIDE, duplicate=COPY)
    plugins = [
        (p.findtext("operation"), p.findtext("op_params"), p.findtext("enabled")) for p in copy_root.iter("plugin")
    ]
    assert plugins == [(e.operation, e.params, str(int(e.enabled))) for e in styled]
    assert ("rgbcurve", styled[-1].params, "0") in plugins  # the copy's earlier curve, off
    assert all(p.findtext("enabled") == "1" for p in original_root.iter("plugin"))


@pytest.mark.parametrize("duplicate", [1, 12, 100])
def test_the_copys_sidecar_is_the_one_read(tmp_path: Path, duplicate: int) -> None:
    """Copy N's sidecar only: the same history under another copy's number gives the plain entries."""
    folder = tmp_path / "photo"
    folder.mkdir()
    photo = make_tiff(folder, "a.b.tif", icc=None, height=64, width=SIDE)
    darktable_sidecar_path(photo, duplicate).write_text(
        history_sidecar(user_sharpen(), iop_order_version=2), encoding="utf-8"
    )
    assert darktable_sidecar_path(photo, duplicate).name == f"a.b_{duplicate:02d}.tif.xmp"
    plain = recipe_to_history(sliders_recipe(FIRST), is_raw=False, long_side_px=SIDE)
    assert preview_history(photo, plain, is_raw=False, duplicate=duplicate)[1] is not None  # V30: an order
    assert preview_history(photo, plain, is_raw=False, duplicate=duplicate + 1) == (plain, None)
    assert preview_history(photo, plain, is_raw=False) == (plain, None)
