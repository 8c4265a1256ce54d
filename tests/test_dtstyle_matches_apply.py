"""A preview (``suggest --dtstyle``, applied by darktable to a virtual copy) looks like ``apply --host=darktable``.

The plug-in's preview copies hold the photo's history; the suggestion's ``.dtstyle`` is applied after it with
``dt.styles.apply``. ``apply`` appends to the same history through ``append_history``, which keeps darktable's
auto-applied default exposure of a raw (ours goes on top, as a second instance) and moves ``colorin`` first on a
non-raw file in darktable's V30 order. The style files once held the plain translated entries: on such photos
the preview replaced darktable's +0.7 EV default exposure (0.4 EV darker than ``apply``) or ran exposure on
gamma-encoded values (a +0.5 EV suggestion brightened the PNG x2.2 instead of x1.44).

The fast tests compare the style's entries with the sidecar entries ``apply`` writes. The slow one renders the
same photos with darktable-cli twice: the sidecar ``apply`` wrote, and the sidecar real darktable 4.2 (under
Xvfb) wrote for a virtual copy made and styled as the plug-in's preview does; the renders must be equal.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from backend.cli.dtstyle_output import preview_history, write_dtstyles
from backend.recipe import Recipe
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from backend.sidecar.darktable_xmp import DT_NS, RDF_NS, entry_from_li
from backend.translate.darktable import HistoryEntry, recipe_to_history
from testing.dt_sidecar import darktable_raw_defaults, history_sidecar
from testing.dt_virtual_copy import FIRST, SECOND, SIDE, sliders_recipe, user_sharpen
from testing.fixtures import make_dng, make_jpeg, make_png, make_tiff


def _recipe() -> Recipe:
    """:data:`~testing.dt_virtual_copy.FIRST`: exposure, colorbalancergb, and rgbcurve instances 0 and 1 (a second
    instance: darktable names it "1")."""
    return sliders_recipe(FIRST)


def _sidecar(photo: Path) -> Path:
    return photo.with_name(photo.name + ".xmp")


def _photo(folder: Path, case: str) -> tuple[Path, str | None, bool]:
    """One case's photo in ``folder`` with its sidecar before autoretouch: (photo, sidecar text or None, is_raw)."""
    folder.mkdir(parents=True, exist_ok=True)
    if case == "raw_defaults":  # darktable's auto-applied filmic rgb and +0.7 EV default exposure (order V30)
        photo, text, raw = make_dng(folder, "r.dng", height=64, width=SIDE), None, True
        text = history_sidecar(darktable_raw_defaults(), iop_order_version=2)
    elif case == "tiff_v30":  # a user's sharpen in the order darktable gives any file (V30: exposure before colorin)
        photo, raw = make_tiff(folder, "t.tif", icc=None, height=64, width=SIDE), False
        text = history_sidecar(user_sharpen(), iop_order_version=2)
    elif case == "jpeg_v30_jpg":  # a user's sharpen in darktable's order for JPEGs (colorin first): nothing moves
        photo, raw = make_jpeg(folder, "j.jpg", orientation=None, height=64, width=SIDE), False
        text = history_sidecar(user_sharpen(), iop_order_version=3)
    elif case == "png_fresh":  # no sidecar: apply writes a fresh stack
        photo, text, raw = make_png(folder, "p.png", width=SIDE, height=64), None, False
    else:
        raise AssertionError(case)
    if text is not None:
        _sidecar(photo).write_text(text, encoding="utf-8")
    return photo, text, raw


def _applied_entries(photo: Path, raw: bool) -> tuple[list[HistoryEntry], ET.Element]:
    """The entries ``apply --host=darktable`` appended to the photo's sidecar, and its description."""
    before = _sidecar(photo).read_text(encoding="utf-8") if _sidecar(photo).exists() else None
    count = 0 if before is None else len(ET.fromstring(before).findall(f".//{{{DT_NS}}}history/{{{RDF_NS}}}Seq/*"))
    (outcome,) = apply_to_photo(photo, _recipe(), host="darktable", info=PhotoInfo(raw, SIDE))
    assert outcome.action == "written", outcome.reason
    root = ET.fromstring(_sidecar(photo).read_text(encoding="utf-8"))
    desc = next(d for d in root.iter(f"{{{RDF_NS}}}Description") if d.find(f"{{{DT_NS}}}history") is not None)
    lis = desc.findall(f"{{{DT_NS}}}history/{{{RDF_NS}}}Seq/*")
    return [entry_from_li(li) for li in lis[count:]], desc


def _unnamed(entries: list[HistoryEntry]) -> list[tuple[str, int, str, bool]]:
    """What renders: operation, instance, params, enabled (names aside: apply marks ours, the style matches)."""
    return [(e.operation, e.multi_priority, e.params, e.enabled) for e in entries]


@pytest.mark.parametrize("case", ["raw_defaults", "tiff_v30", "jpeg_v30_jpg", "png_fresh"])
def test_the_style_holds_the_entries_apply_appends(tmp_path: Path, case: str) -> None:
    photo, _, raw = _photo(tmp_path / "preview", case)
    plain = recipe_to_history(_recipe(), is_raw=raw, long_side_px=SIDE)
    styled, iop_list = preview_history(photo, plain, is_raw=raw)
    applied, desc = _applied_entries(_photo(tmp_path / "apply", case)[0], raw)
    assert _unnamed(styled) == _unnamed(applied)
    exposure = [e for e in styled if e.operation == "exposure"]
    if case == "raw_defaults":  # on top of darktable's default exposure, named apart from it for dt.styles.apply
        assert [(e.multi_priority, e.multi_name) for e in exposure] == [(1, "autoretouch 1")]
    else:
        assert [(e.multi_priority, e.multi_name) for e in exposure] == [(0, "")]
    if case == "tiff_v30":  # the order apply gives the file (colorin right after demosaic), as the style's order
        assert desc.get(f"{{{DT_NS}}}iop_order_version") == "3"
        assert (
            iop_list is not None
            and iop_list.startswith("rawprepare,0,invert,0,")
            and ",demosaic,0,colorin,0," in iop_list
        )
    else:
        assert iop_list is None
    if case in ("png_fresh", "jpeg_v30_jpg"):  # nothing to adapt: the plain translation
        assert styled == plain


def test_the_written_file_carries_the_order_and_the_moved_exposure(tmp_path: Path) -> None:
    from backend.sidecar.darktable_ours import MARK

    styles = tmp_path / "styles"
    styles.mkdir()
    for case in ("raw_defaults", "tiff_v30"):
        photo, _, raw = _photo(tmp_path / case, case)
        (path,) = write_dtstyles(styles, photo, [recipe_to_history(_recipe(), is_raw=raw, long_side_px=SIDE)], "s", 1.0)
        root = ET.fromstring(path.read_text(encoding="utf-8"))  # well-formed, darktable's layout
        assert root.tag == "darktable_style" and root.get("version") == "1.0"
        plugins = [
            (p.findtext("operation"), p.findtext("multi_priority"), p.findtext("multi_name"))
            for p in root.iter("plugin")
        ]
        if case == "raw_defaults":
            assert ("exposure", "1", f"{MARK} 1") in plugins and root.findtext("info/iop_list") is None
        else:
            assert ("exposure", "0", "") in plugins and "colorin,0" in (root.findtext("info/iop_list") or "")


# -- a photo that holds autoretouch's earlier entries: the preview shows apply --overwrite's result ------------------


def _recipe_b() -> Recipe:
    """:data:`~testing.dt_virtual_copy.SECOND`, a second suggestion for a photo that already holds :func:`_recipe`'s
    entries: another exposure, no curves (so the earlier rgbcurve instances 0 and 1 go), the same saturation module
    (colorbalancergb) with another value."""
    return sliders_recipe(SECOND)


def _applied_first(folder: Path, case: str) -> tuple[Path, int, bool]:
    """One case's photo after ``apply`` of :func:`_recipe`: (photo, entries before it, is_raw)."""
    photo, text, raw = _photo(folder, case)
    count = 0 if text is None else len(ET.fromstring(text).findall(f".//{{{DT_NS}}}history/{{{RDF_NS}}}Seq/*"))
    (outcome,) = apply_to_photo(photo, _recipe(), host="darktable", info=PhotoInfo(raw, SIDE))
    assert outcome.action == "written", outcome.reason
    return photo, count, raw


def _photo_in(folder: Path) -> Path:
    """The one photo :func:`_photo` made in ``folder``."""
    (photo,) = [p for p in folder.iterdir() if p.suffix != ".xmp" and not p.name.endswith(".bak")]
    return photo


def _overwritten_entries(photo: Path, count: int, raw: bool) -> list[HistoryEntry]:
    """The entries ``apply --overwrite`` of :func:`_recipe_b` placed (where the earlier ones were: at ``count``)."""
    (outcome,) = apply_to_photo(photo, _recipe_b(), host="darktable", overwrite=True, info=PhotoInfo(raw, SIDE))
    assert outcome.action == "written", outcome.reason
    root = ET.fromstring(_sidecar(photo).read_text(encoding="utf-8"))
    lis = root.findall(f".//{{{DT_NS}}}history/{{{RDF_NS}}}Seq/*")
    return [entry_from_li(li) for li in lis[count:]]


@pytest.mark.parametrize("case", ["raw_defaults", "tiff_v30"])
def test_on_a_photo_with_our_earlier_entries_the_style_holds_what_overwrite_places(tmp_path: Path, case: str) -> None:
    from backend.sidecar.darktable_ours import mark_name

    photo, _, raw = _applied_first(tmp_path / "preview", case)
    plain = recipe_to_history(_recipe_b(), is_raw=raw, long_side_px=SIDE)
    styled, iop_list = preview_history(photo, plain, is_raw=raw)
    placed = _overwritten_entries(*_applied_first(tmp_path / "apply", case))
    earlier = recipe_to_history(_recipe(), is_raw=raw, long_side_px=SIDE)
    # what overwrite places, then the earlier curves (only the first application had them) switched off
    curves = [e for e in earlier if e.operation == "rgbcurve"]
    assert [e.multi_priority for e in curves] == [0, 1]
    assert _unnamed(styled) == _unnamed(placed) + [(e.operation, e.multi_priority, e.params, False) for e in curves]
    # each lands on the instance of ours it overrides: the names the earlier application gave them
    assert [(e.operation, e.multi_priority, e.multi_name) for e in styled] == [
        (e.operation, e.multi_priority, mark_name(e.multi_priority)) for e in styled
    ]
    exposure = [e.multi_priority for e in styled if e.operation == "exposure"]
    assert exposure == ([1] if case == "raw_defaults" else [0])  # not a third instance on top of ours
    assert iop_list is None  # the first application already gave the file apply's order


def _legacy_record_then_undone_and_edited(photo: Path, defaults: int) -> None:
    """Make the record an older version's (no entry digests), undo our steps in darktable, then edit (sharpen)."""
    import dataclasses

    from backend.sidecar.provenance import find_provenance, write_provenance
    from backend.sidecar.xmp import read_sidecar, serialize
    from testing.dt_sidecar import darktable_appends

    doc = read_sidecar(_sidecar(photo))
    found = find_provenance(doc)
    assert found is not None and "entries" in found[1].replaced
    legacy = {k: v for k, v in found[1].replaced.items() if k not in ("entries", "exact")}
    write_provenance(found[0], dataclasses.replace(found[1], replaced=legacy))
    text = serialize(doc).decode("utf-8")
    desc = 'darktable:history_end="'
    start = text.index(desc) + len(desc)
    text = text[:start] + str(defaults) + text[text.index('"', start) :]  # undone: darktable's defaults only
    _sidecar(photo).write_text(text, encoding="utf-8")
    darktable_appends(_sidecar(photo), *user_sharpen()[:1])  # a new step drops the undone ones (ours)


def test_an_older_record_that_darktable_dropped_is_judged_as_apply_judges_it(tmp_path: Path) -> None:
    """A record without entry digests is checked by translating its recipe, which needs the photo's long side."""
    runs = {}
    for name in ("preview", "apply"):
        photo, count, raw = _applied_first(tmp_path / name, "raw_defaults")
        _legacy_record_then_undone_and_edited(photo, count)
        runs[name] = (photo, count, raw)
    photo, count, raw = runs["preview"]
    plain = recipe_to_history(_recipe_b(), is_raw=raw, long_side_px=SIDE)
    styled, _ = preview_history(photo, plain, is_raw=raw, long_side_px=SIDE)
    apply_photo = runs["apply"][0]
    (outcome,) = apply_to_photo(apply_photo, _recipe_b(), host="darktable", overwrite=True, info=PhotoInfo(raw, SIDE))
    assert outcome.action == "written" and "dropped the autoretouch record" in " ".join(outcome.warnings)
    root = ET.fromstring(_sidecar(apply_photo).read_text(encoding="utf-8"))
    lis = root.findall(f".//{{{DT_NS}}}history/{{{RDF_NS}}}Seq/*")
    placed = [entry_from_li(li) for li in lis[count + 1 :]]  # after darktable's defaults and the user's sharpen
    assert _unnamed(styled) == _unnamed(placed)
    # ours on top of darktable's +0.7 EV default exposure, not in its place (the preview once replaced it)
    assert [(e.multi_priority, e.multi_name) for e in styled if e.operation == "exposure"] == [(1, "autoretouch 1")]


def test_a_history_written_off_in_darktable_takes_the_order_apply_gives(tmp_path: Path) -> None:
    """A sidecar with darktable's attributes but no history (discarded): apply extends that description."""
    folder = tmp_path / "photo"
    folder.mkdir()
    photo = make_tiff(folder, "t.tif", icc=None, height=64, width=SIDE)
    root = ET.fromstring(history_sidecar([], iop_order_version=2))
    desc = root.find(f".//{{{RDF_NS}}}Description")
    assert desc is not None
    desc.remove(desc.find(f"{{{DT_NS}}}history"))  # type: ignore[arg-type]
    text = ET.tostring(root, encoding="unicode")
    _sidecar(photo).write_text(text, encoding="utf-8")
    plain = recipe_to_history(_recipe(), is_raw=False, long_side_px=SIDE)
    styled, iop_list = preview_history(photo, plain, is_raw=False)
    applied = tmp_path / "apply"
    applied.mkdir()
    other = shutil.copy(photo, applied / photo.name)
    _sidecar(Path(other)).write_text(text, encoding="utf-8")
    entries, written = _applied_entries(Path(other), False)
    assert _unnamed(styled) == _unnamed(entries)
    assert written.get(f"{{{DT_NS}}}iop_order_list") is not None  # apply moved colorin first...
    assert iop_list == written.get(f"{{{DT_NS}}}iop_order_list")  # ...and the style carries that order


def test_an_unreadable_order_version_gives_the_plain_entries(tmp_path: Path) -> None:
    """An order version ``str.isdigit`` takes but ``int`` refuses ("²"): apply refuses the sidecar, the preview goes on."""
    photo, _, _ = _photo(tmp_path, "tiff_v30")
    text = _sidecar(photo).read_text(encoding="utf-8").replace('iop_order_version="2"', 'iop_order_version="\u00b2"')
    assert "\u00b2" in text
    _sidecar(photo).write_text(text, encoding="utf-8")
    plain = recipe_to_history(_recipe(), is_raw=False, long_side_px=SIDE)
    assert preview_history(photo, plain, is_raw=False) == (plain, None)


# -- real darktable: the preview's render equals apply's ------------------------------------------------------------

BODY = """
  for _, pair in ipairs({{ {pairs} }}) do
    local img = dt.database.import(pair[1])
    local before = {{}}
    for _, s in ipairs(dt.styles) do before[s.name] = true end
    dt.styles.import(pair[2])
    local style
    for _, s in ipairs(dt.styles) do
      if not before[s.name] then style = s end
    end
    local copy = img:duplicate()
    if img.is_altered then
      local own = dt.styles.create(img, "preview base " .. img.id, "")
      dt.styles.apply(own, copy)
      own:delete()
    end
    dt.styles.apply(style, copy)
    style:delete()
  end
"""


@pytest.mark.host
@pytest.mark.slow
def test_darktable_renders_the_preview_copy_as_apply(tmp_path: Path) -> None:
    from testing.darktable_gui import lua_string, require_darktable_gui, run_lua_body
    from testing.dt_sidecar import render_darktable

    require_darktable_gui()
    # "_again": the photo holds the entries of an earlier apply of _recipe(); the preview of _recipe_b() must look
    # like apply --overwrite of it (the earlier entries taken out, its curves gone)
    cases = ("raw_defaults", "tiff_v30", "jpeg_v30_jpg", "raw_defaults_again", "tiff_v30_again")
    styles = tmp_path / "styles"
    styles.mkdir()
    made: dict[str, tuple[Path, Path, str | None]] = {}
    for case in cases:
        recipe = _recipe()
        if case.endswith("_again"):
            preview, _, raw = _applied_first(tmp_path / "preview" / case, case.removesuffix("_again"))
            before: str | None = _sidecar(preview).read_text(encoding="utf-8")
            _overwritten_entries(*_applied_first(tmp_path / "apply" / case, case.removesuffix("_again")))
            applied, recipe = _photo_in(tmp_path / "apply" / case), _recipe_b()
        else:
            preview, before, raw = _photo(tmp_path / "preview" / case, case)
            applied = _photo(tmp_path / "apply" / case, case)[0]
            _applied_entries(applied, raw)
        # what suggest --dtstyle writes for this photo and recipe (suggest_with_entries: the same translation)
        entries = [recipe_to_history(recipe, is_raw=raw, long_side_px=SIDE)]
        (style,) = write_dtstyles(styles, preview, entries, "test", 1.0)
        made[case] = (preview, style, before)
        made[case + "_applied"] = (applied, applied, None)
    pairs = ", ".join(f"{{ {lua_string(str(made[c][0]))}, {lua_string(str(made[c][1]))} }}" for c in cases)
    run_lua_body(tmp_path, BODY.format(pairs=pairs))

    items: dict[str, tuple[Path, str | None]] = {}
    for case in cases:
        preview, _, before = made[case]
        copy_sidecar = preview.with_name(f"{preview.stem}_01{preview.suffix}.xmp")  # darktable's, for the copy
        applied = made[case + "_applied"][0]
        items[f"{case}_preview"] = (preview, copy_sidecar.read_text(encoding="utf-8"))
        items[f"{case}_apply"] = (applied, _sidecar(applied).read_text(encoding="utf-8"))
        items[f"{case}_before"] = (preview, before)
    result = render_darktable(items, tmp_path / "render")
    for case in cases:
        shown, wanted, before = (result.images[f"{case}_{k}"] for k in ("preview", "apply", "before"))
        assert np.abs(wanted - before).mean() > 0.01, case  # the recipe visibly changes the photo
        assert np.abs(shown - wanted).max() < 1e-5, (case, float(np.abs(shown - wanted).max()))
    shutil.rmtree(tmp_path / "dt", ignore_errors=True)
