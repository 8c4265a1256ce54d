"""apply_to_photo / revert_photo: preservation, skipping, overwrite, dry run, failures, exact revert."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
from pathlib import Path

import pytest

from backend.decode.types import AsShotWhiteBalance
from backend.errors import InvalidRecipeError, NotFoundError
from backend.recipe import Recipe
from backend.sidecar import apply as apply_mod
from backend.sidecar.apply import EMBEDDED_REASON, PhotoInfo, apply_to_photo
from backend.sidecar.atomic import sidecar_lock
from backend.sidecar.provenance import find_provenance, remove_provenance, write_provenance
from backend.sidecar.revert import revert_photo
from backend.sidecar.xmp import NS, get_simple, parse_sidecar, read_sidecar, serialize
from backend.translate.darktable import recipe_to_history
from backend.translate.lightroom import recipe_to_develop_settings
from testing.dt_sidecar import user_history
from testing.xmp_canonical import canonical

RDF, CRS, DT = NS["rdf"], NS["crs"], NS["darktable"]
AS_SHOT = AsShotWhiteBalance((2.0, 1.0, 1.5), (0.5, 1.0, 0.667), kelvin=5000.0, tint=5.0)
RAW_INFO = PhotoInfo(is_raw=True, long_side_px=6000, as_shot=AS_SHOT)
RECIPE = Recipe.from_dict(
    {
        "version": 1,
        "steps": [
            {"slider": "exposure", "value": 0.4},
            {"slider": "contrast", "value": 20},
            {"slider": "temperature", "value": 12},
            {"slider": "tone_curve", "value": [0.0, 0.03, 0.1, 0.22, 0.4, 0.7, 1.0]},
            {"slider": "rgb_curves", "value": [[0.0, 0.03, 0.1, 0.22, 0.4, 0.7, 1.0]] * 3},
            {"slider": "sharpen", "value": 30},
        ],
        "style": "warm",
        "model": "warm@2",
        "strength": 0.8,
    }
)
OTHER = Recipe.from_dict({"version": 1, "steps": [{"slider": "exposure", "value": -0.7}]})

FOREIGN_LR = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="{RDF}">
  <!-- written by Bridge -->
  <rdf:Description rdf:about=""
    xmlns:xmp="{NS["xmp"]}" xmlns:dc="{NS["dc"]}" xmlns:lr="{NS["lr"]}"
    xmlns:acme="http://acme.example/ns/1.0/"
   xmp:Rating="4" xmp:Label="Red" acme:Flag="yes">
   <dc:subject><rdf:Bag><rdf:li>fjord</rdf:li><rdf:li>norway</rdf:li></rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>Places|Norway|Fjord</rdf:li></rdf:Bag></lr:hierarchicalSubject>
   <acme:Note>keep &amp; me</acme:Note>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
""".encode()

# Lightroom settings the user already has, in exiftool's element form and Lightroom's attribute form.
USER_SETTINGS_LR = f"""<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="{RDF}">
  <rdf:Description rdf:about="" xmlns:xmp="{NS["xmp"]}" xmp:Rating="2"/>
  <rdf:Description rdf:about="" xmlns:crs="{CRS}" xmlns:photoshop="{NS["photoshop"]}"
    crs:Exposure2012="+1.50" crs:HasSettings="True" photoshop:SidecarForExtension="CR2">
   <crs:Contrast2012>-33</crs:Contrast2012>
   <crs:ToneCurvePV2012><rdf:Seq><rdf:li>0, 0</rdf:li><rdf:li>128, 140</rdf:li><rdf:li>255, 255</rdf:li></rdf:Seq></crs:ToneCurvePV2012>
   <crs:Sharpness>25</crs:Sharpness>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
""".encode()

USER_DT = f"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="{RDF}">
  <rdf:Description rdf:about=""
    xmlns:xmp="{NS["xmp"]}" xmlns:dc="{NS["dc"]}" xmlns:lr="{NS["lr"]}" xmlns:darktable="{DT}"
    xmlns:acme="http://acme.example/ns/1.0/"
   xmp:Rating="3" xmp:Label="Green" acme:Flag="1"
   darktable:xmp_version="5" darktable:raw_params="0" darktable:auto_presets_applied="1"
   darktable:history_end="{{end}}" darktable:iop_order_version="2">
   <dc:subject><rdf:Bag><rdf:li>mine</rdf:li></rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>A|B</rdf:li></rdf:Bag></lr:hierarchicalSubject>
   <darktable:masks_history><rdf:Seq/></darktable:masks_history>
{user_history("exposure", "flip", "vignette")}  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    photo = tmp_path / "IMG_0001.CR2"
    photo.write_bytes(b"II*\x00 not really a raw, never to be modified")
    os.utime(photo, (1_000_000_000, 1_000_000_000))
    return photo


def _apply(photo: Path, recipe: Recipe = RECIPE, **kw: object) -> list[apply_mod.Outcome]:
    return apply_to_photo(photo, recipe, info=RAW_INFO, **kw)  # type: ignore[arg-type]


def test_fresh_sidecars_for_both_hosts_and_revert_deletes_them(raw: Path) -> None:
    before = raw.read_bytes(), raw.stat().st_mtime_ns
    outcomes = _apply(raw, host="both")
    assert [(o.host, o.action) for o in outcomes] == [("lightroom", "written"), ("darktable", "written")]
    lr, dt = raw.with_suffix(".xmp"), raw.with_name(raw.name + ".xmp")
    assert {o.sidecar for o in outcomes} == {lr, dt}
    assert (raw.read_bytes(), raw.stat().st_mtime_ns) == before  # the image is never touched

    doc = read_sidecar(lr)
    desc = doc.descriptions()[0]
    settings = recipe_to_develop_settings(RECIPE, is_raw=True, as_shot=AS_SHOT)
    assert get_simple(desc, f"{{{CRS}}}Exposure2012") == "+0.40"
    assert get_simple(desc, f"{{{CRS}}}Temperature") == str(settings["Temperature"])
    assert get_simple(desc, f"{{{CRS}}}WhiteBalance") == "Custom"
    assert get_simple(desc, f"{{{CRS}}}RawFileName") == "IMG_0001.CR2"
    found = find_provenance(doc)
    assert found is not None
    prov = found[1]
    assert prov.host == "lightroom" and prov.recipe == RECIPE and prov.created
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", prov.timestamp)
    assert get_simple(found[0], f"{{{NS['autoretouch']}}}Strength") == "0.8"
    assert get_simple(found[0], f"{{{NS['autoretouch']}}}Style") == "warm"
    assert get_simple(found[0], f"{{{NS['autoretouch']}}}ModelVersion") == "warm@2"

    dt_doc = read_sidecar(dt)
    lis = dt_doc.descriptions()[0].findall(f"{{{DT}}}history/{{{RDF}}}Seq/{{{RDF}}}li")
    expected = recipe_to_history(RECIPE, is_raw=True, long_side_px=6000)
    assert [li.get(f"{{{DT}}}params") for li in lis] == [e.params for e in expected]
    assert not dt_doc.packet_wrapper  # darktable style: XML declaration

    outcomes = revert_photo(raw)
    assert [o.action for o in outcomes] == ["deleted", "deleted"]
    assert not lr.exists() and not dt.exists()
    assert sorted(listing(raw.parent)) == [
        "IMG_0001.CR2",
        "IMG_0001.CR2.xmp.autoretouch.bak",
        "IMG_0001.xmp.autoretouch.bak",
    ]
    assert (raw.read_bytes(), raw.stat().st_mtime_ns) == before


def test_foreign_nodes_survive_apply_and_revert_restores_them(raw: Path) -> None:
    lr, dt = raw.with_suffix(".xmp"), raw.with_name(raw.name + ".xmp")
    lr.write_bytes(FOREIGN_LR)
    user_dt = USER_DT.replace("{end}", "3").encode()
    dt.write_bytes(user_dt)
    assert [o.action for o in _apply(raw, host="both")] == ["written", "written"]

    for path in (lr, dt):
        text = path.read_text()
        for needle in ('xmp:Rating="', 'xmp:Label="', "<rdf:li>", "lr:hierarchicalSubject", 'acme:Flag="'):
            assert needle in text, (path, needle)
    assert "Places|Norway|Fjord" in lr.read_text() and "keep &amp; me" in lr.read_text()
    assert "<!-- written by Bridge -->" in lr.read_text()
    assert lr.with_name(lr.name + ".autoretouch.bak").read_bytes() == FOREIGN_LR  # previous version kept

    # the user's darktable history is kept in front of ours, untouched
    desc = read_sidecar(dt).descriptions()[0]
    lis = desc.findall(f"{{{DT}}}history/{{{RDF}}}Seq/{{{RDF}}}li")
    ours = recipe_to_history(RECIPE, is_raw=True, long_side_px=6000)
    assert [li.get(f"{{{DT}}}operation") for li in lis[:3]] == ["exposure", "flip", "vignette"]
    assert lis[0].get(f"{{{DT}}}params") == "00000000000000000000803f00004842000080c000000000"
    assert len(lis) == 3 + len(ours)
    assert desc.get(f"{{{DT}}}history_end") == str(3 + len(ours))

    assert [o.action for o in revert_photo(raw)] == ["reverted", "reverted"]
    assert canonical(lr.read_bytes()) == canonical(FOREIGN_LR)
    assert canonical(dt.read_bytes()) == canonical(user_dt)


def test_undone_darktable_steps_stay_undone_and_revert_is_exact(raw: Path) -> None:
    dt = raw.with_name(raw.name + ".xmp")
    user_dt = USER_DT.replace("{end}", "1").encode()  # the user undid flip and vignette
    dt.write_bytes(user_dt)
    (outcome,) = _apply(raw, host="darktable")
    assert outcome.action == "written"
    desc = read_sidecar(dt).descriptions()[0]
    ops = [li.get(f"{{{DT}}}operation") for li in desc.iter(f"{{{RDF}}}li") if li.get(f"{{{DT}}}operation")]
    n = len(recipe_to_history(RECIPE, is_raw=True, long_side_px=6000))
    assert ops[0] == "exposure" and ops[-2:] == ["flip", "vignette"] and len(ops) == 3 + n
    assert desc.get(f"{{{DT}}}history_end") == str(1 + n)
    assert [o.action for o in revert_photo(raw, host="darktable")] == ["reverted"]
    assert canonical(dt.read_bytes()) == canonical(user_dt)


def test_existing_lightroom_settings_are_skipped_unless_overwrite(raw: Path) -> None:
    lr = raw.with_suffix(".xmp")
    lr.write_bytes(USER_SETTINGS_LR)
    (outcome,) = _apply(raw, host="lightroom")
    assert outcome.action == "skipped" and "already has Lightroom develop settings" in outcome.reason
    assert listing(raw.parent) == {raw.name: raw.read_bytes(), lr.name: USER_SETTINGS_LR}

    (outcome,) = _apply(raw, host="lightroom", overwrite=True)
    assert outcome.action == "written"
    doc = read_sidecar(lr)
    for name in ("Exposure2012", "Contrast2012", "ToneCurvePV2012", "Sharpness"):  # each property once
        count = sum((f"{{{CRS}}}{name}" in d.attrib) + len(d.findall(f"{{{CRS}}}{name}")) for d in doc.descriptions())
        assert count == 1, name
    crs_desc = doc.descriptions()[1]
    assert get_simple(crs_desc, f"{{{CRS}}}Contrast2012") == "+20"
    assert get_simple(crs_desc, f"{{{CRS}}}Sharpness") == "45"
    assert get_simple(doc.descriptions()[0], f"{{{NS['xmp']}}}Rating") == "2"

    assert [o.action for o in revert_photo(raw, host="lightroom")] == ["reverted"]
    assert canonical(lr.read_bytes()) == canonical(USER_SETTINGS_LR)  # element forms and positions too


def test_second_apply_is_skipped_and_overwrite_replaces_our_first_application(raw: Path) -> None:
    lr, dt = raw.with_suffix(".xmp"), raw.with_name(raw.name + ".xmp")
    lr.write_bytes(FOREIGN_LR)
    dt.write_bytes(USER_DT.replace("{end}", "3").encode())
    original = listing(raw.parent)
    _apply(raw, host="both")
    first = {lr.name: lr.read_bytes(), dt.name: dt.read_bytes()}
    outcomes = _apply(raw, OTHER, host="both")
    assert [o.action for o in outcomes] == ["skipped", "skipped"]
    assert all("already has autoretouch" in o.reason for o in outcomes)
    assert {lr.name: lr.read_bytes(), dt.name: dt.read_bytes()} == first

    assert [o.action for o in _apply(raw, OTHER, host="both", overwrite=True)] == ["written", "written"]
    lr_doc = read_sidecar(lr)
    assert get_simple(lr_doc.descriptions()[0], f"{{{CRS}}}Exposure2012") == "-0.70"
    assert get_simple(lr_doc.descriptions()[0], f"{{{CRS}}}Contrast2012") is None  # the first recipe is gone
    found = find_provenance(lr_doc)
    assert found is not None and found[1].recipe == OTHER and not found[1].created
    dt_lis = read_sidecar(dt).descriptions()[0].findall(f"{{{DT}}}history/{{{RDF}}}Seq/{{{RDF}}}li")
    assert len(dt_lis) == 3 + 1  # the user's three entries plus one exposure, not the first application

    revert_photo(raw)
    for name in (lr.name, dt.name):
        assert canonical((raw.parent / name).read_bytes()) == canonical(original[name])


def test_dry_run_writes_nothing(raw: Path) -> None:
    raw.with_suffix(".xmp").write_bytes(FOREIGN_LR)
    before = listing(raw.parent)
    outcomes = _apply(raw, host="both", dry_run=True)
    assert [o.action for o in outcomes] == ["would-write", "would-write"]
    assert listing(raw.parent) == before
    _apply(raw, host="both")
    applied = listing(raw.parent)
    assert [o.action for o in revert_photo(raw, dry_run=True)] == ["would-revert", "would-delete"]
    assert listing(raw.parent) == applied


def test_rendered_files_get_no_lightroom_sidecar(tmp_path: Path) -> None:
    photo = tmp_path / "IMG_0002.JPG"
    photo.write_bytes(b"\xff\xd8\xff fake jpeg")

    def probe(_: Path) -> PhotoInfo:
        return PhotoInfo(is_raw=False, long_side_px=4000)

    outcomes = apply_to_photo(photo, RECIPE, host="both", probe=probe)
    assert (outcomes[0].action, outcomes[0].reason) == ("skipped", EMBEDDED_REASON)
    assert outcomes[1].action == "written" and outcomes[1].sidecar == tmp_path / "IMG_0002.JPG.xmp"
    desc = read_sidecar(outcomes[1].sidecar).descriptions()[0]
    assert desc.get(f"{{{DT}}}iop_order_version") == "3"  # display-referred input
    assert not (tmp_path / "IMG_0002.xmp").exists()

    def no_probe(_: Path) -> PhotoInfo:
        raise AssertionError("a JPEG needs no decoding for Lightroom")

    (only,) = apply_to_photo(photo, RECIPE, host="lightroom", probe=no_probe)
    assert only.reason == EMBEDDED_REASON
    (rev,) = revert_photo(photo, host="lightroom")
    assert rev.action == "skipped"


def test_sidecar_of_another_raw_with_the_same_base_name_is_left_alone(raw: Path) -> None:
    lr = raw.with_suffix(".xmp")
    packet = FOREIGN_LR.replace(b'xmp:Rating="4"', b'xmp:Rating="4" photoshop:SidecarForExtension="NEF"').replace(
        b'xmlns:xmp="', b'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:xmp="'
    )
    lr.write_bytes(packet)
    (outcome,) = _apply(raw, host="lightroom", overwrite=True)
    assert outcome.action == "skipped" and "IMG_0001.NEF" in outcome.reason
    assert lr.read_bytes() == packet


@pytest.mark.parametrize(
    "content",
    [b"not xml", b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', b"<wrong/>"],
    ids=["not-xml", "entity", "wrong-root"],
)
def test_malformed_sidecar_fails_that_host_only_and_stays_untouched(raw: Path, content: bytes) -> None:
    dt = raw.with_name(raw.name + ".xmp")
    dt.write_bytes(content)
    outcomes = _apply(raw, host="both")
    assert [o.action for o in outcomes] == ["written", "failed"]
    assert str(dt) in outcomes[1].reason
    assert dt.read_bytes() == content
    assert sorted(listing(raw.parent)) == ["IMG_0001.CR2", "IMG_0001.CR2.xmp", "IMG_0001.xmp"]
    rev = revert_photo(raw)
    assert [o.action for o in rev] == ["deleted", "failed"] and dt.read_bytes() == content


def test_failed_write_keeps_the_previous_sidecar(raw: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lr = raw.with_suffix(".xmp")
    lr.write_bytes(FOREIGN_LR)

    def boom(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    (outcome,) = _apply(raw, host="lightroom")
    assert outcome.action == "failed" and "No space left" in outcome.reason
    assert lr.read_bytes() == FOREIGN_LR
    assert sorted(listing(raw.parent)) == ["IMG_0001.CR2", "IMG_0001.xmp"]  # no temp, lock or backup files


def test_locked_sidecar_fails_with_a_clear_reason(raw: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("backend.sidecar.atomic.LOCK_TIMEOUT_S", 0.2)
    lr = raw.with_suffix(".xmp")
    with sidecar_lock(lr):
        (outcome,) = _apply(raw, host="lightroom")
    assert outcome.action == "failed" and "locked by another process" in outcome.reason
    assert not lr.exists()


def test_revert_after_the_user_changed_their_own_entry_takes_out_only_ours(raw: Path) -> None:
    dt = raw.with_name(raw.name + ".xmp")
    dt.write_bytes(USER_DT.replace("{end}", "3").encode())
    _apply(raw, host="darktable")
    ops_applied, _ = _ops(dt)
    text = dt.read_text()
    edited = text.replace('darktable:params="ffffffff"', 'darktable:params="00000000"')  # the user's flip, re-saved
    assert edited != text
    dt.write_text(edited)
    (outcome,) = revert_photo(raw, host="darktable")
    assert outcome.action == "reverted", outcome.reason
    ops, end = _ops(dt)
    assert ops == ops_applied[:3] and end == 3  # the user's three entries, ours gone
    after = dt.read_text()
    assert 'darktable:params="00000000"' in after and "autoretouch:" not in after  # their change kept


def test_changed_autoretouch_entry_is_not_reverted(raw: Path) -> None:
    dt = raw.with_name(raw.name + ".xmp")
    dt.write_bytes(USER_DT.replace("{end}", "3").encode())
    _apply(raw, host="darktable")
    doc = read_sidecar(dt)
    desc = next(d for d in doc.descriptions() if d.find(f"{{{DT}}}history") is not None)
    ours = [li for li in desc.iter(f"{{{RDF}}}li") if li.get(f"{{{DT}}}operation")][3]
    ours.set(f"{{{DT}}}params", "00000000000000000000803f00004842000080c000000000")  # edited in darktable
    edited = serialize(doc)
    dt.write_bytes(edited)
    (outcome,) = revert_photo(raw, host="darktable")
    assert outcome.action == "failed" and "history changed" in outcome.reason
    assert dt.read_bytes() == edited


def test_later_foreign_changes_survive_the_revert(raw: Path) -> None:
    lr = raw.with_suffix(".xmp")
    lr.write_bytes(FOREIGN_LR)
    _apply(raw, host="lightroom")
    lr.write_text(lr.read_text().replace('xmp:Rating="4"', 'xmp:Rating="5"'))  # the user re-rated since
    revert_photo(raw, host="lightroom")
    assert canonical(lr.read_bytes()) == canonical(FOREIGN_LR.replace(b'xmp:Rating="4"', b'xmp:Rating="5"'))


def _set_crs(sidecar: Path, **values: str) -> None:
    """Change crs: properties as Lightroom would when the user edits the photo and saves its metadata."""
    doc = read_sidecar(sidecar)
    for desc in doc.descriptions():
        for key, value in values.items():
            if f"{{{CRS}}}{key}" in desc.attrib:
                desc.set(f"{{{CRS}}}{key}", value)
    sidecar.write_bytes(serialize(doc))


def test_revert_keeps_lightroom_settings_the_user_changed_since(raw: Path) -> None:
    lr = raw.with_suffix(".xmp")
    lr.write_bytes(USER_SETTINGS_LR)
    _apply(raw, host="lightroom", overwrite=True)
    _set_crs(lr, Exposure2012="+1.11", Sharpness="77")  # edited in Lightroom after autoretouch
    (outcome,) = revert_photo(raw, host="lightroom")
    assert outcome.action == "reverted"
    assert outcome.reason == f"{apply_mod.KEPT_NOTE}: Exposure2012, Sharpness"
    doc = read_sidecar(lr)
    desc = doc.description_for(CRS)
    assert get_simple(desc, f"{{{CRS}}}Exposure2012") == "+1.11"  # the user's, not +1.50 from before
    assert get_simple(desc, f"{{{CRS}}}Sharpness") == "77"
    values = {
        name: sum(get_simple(d, f"{{{CRS}}}{name}") is not None for d in doc.descriptions())
        for name in ("Contrast2012", "HasSettings", "ProcessVersion", "WhiteBalance", "Temperature")
    }
    assert values == {"Contrast2012": 1, "HasSettings": 1, "ProcessVersion": 1, "WhiteBalance": 0, "Temperature": 0}
    assert [get_simple(d, f"{{{CRS}}}Contrast2012") for d in doc.descriptions()] == [None, "-33"]  # restored
    assert find_provenance(doc) is None


def test_a_kept_setting_keeps_the_settings_lightroom_reads_with_it(raw: Path) -> None:
    lr = raw.with_suffix(".xmp")
    lr.write_bytes(
        USER_SETTINGS_LR.replace(
            b'crs:HasSettings="True"',
            b'crs:HasSettings="True" crs:WhiteBalance="Daylight" crs:Temperature="5500" crs:Tint="+10" '
            b'crs:ToneCurveName2012="Medium Contrast"',
        )
    )
    _apply(raw, host="lightroom", overwrite=True)
    written = read_sidecar(lr).description_for(CRS)
    tint, curve = get_simple(written, f"{{{CRS}}}Tint"), written.find(f"{{{CRS}}}ToneCurvePV2012")
    assert tint is not None and tint != "+10" and curve is not None
    doc = read_sidecar(lr)
    desc = doc.description_for(CRS)
    desc.set(f"{{{CRS}}}Temperature", "6100")  # the user moved only Temperature (Tint stays as autoretouch set it)
    first = desc.find(f"{{{CRS}}}ToneCurvePV2012/{{{RDF}}}Seq/{{{RDF}}}li")
    assert first is not None
    first.text = "0, 12"  # and lifted the tone curve's black point
    lr.write_bytes(serialize(doc))
    (outcome,) = revert_photo(raw, host="lightroom")
    assert outcome.reason == f"{apply_mod.KEPT_NOTE}: Temperature, ToneCurvePV2012"
    desc = read_sidecar(lr).description_for(CRS)
    got = {k: get_simple(desc, f"{{{CRS}}}{k}") for k in ("WhiteBalance", "Temperature", "Tint", "ToneCurveName2012")}
    assert got == {"WhiteBalance": "Custom", "Temperature": "6100", "Tint": tint, "ToneCurveName2012": "Custom"}
    assert get_simple(desc, f"{{{CRS}}}Exposure2012") == "+1.50"  # unchanged since: restored


def test_revert_of_an_unchanged_application_restores_everything_and_numbers_compare_as_numbers(raw: Path) -> None:
    lr = raw.with_suffix(".xmp")
    lr.write_bytes(USER_SETTINGS_LR)
    _apply(raw, host="lightroom", overwrite=True)
    _set_crs(lr, Exposure2012="0.4", Contrast2012="20")  # the same values, written differently
    (outcome,) = revert_photo(raw, host="lightroom")
    assert (outcome.action, outcome.reason) == ("reverted", "")
    assert canonical(lr.read_bytes()) == canonical(USER_SETTINGS_LR)


def test_overwrite_keeps_the_users_later_change_for_the_next_revert(raw: Path) -> None:
    lr = raw.with_suffix(".xmp")
    lr.write_bytes(FOREIGN_LR)
    _apply(raw, host="lightroom")
    _set_crs(lr, Contrast2012="+55", Exposure2012="+1.11")
    (outcome,) = _apply(raw, OTHER, host="lightroom", overwrite=True)  # OTHER sets only exposure
    assert outcome.action == "written"
    assert f"{apply_mod.KEPT_NOTE}: Contrast2012" in outcome.warnings
    assert f"{apply_mod.SAVED_NOTE}: Exposure2012" in outcome.warnings
    desc = read_sidecar(lr).description_for(CRS)
    assert [get_simple(desc, f"{{{CRS}}}{k}") for k in ("Contrast2012", "Exposure2012")] == ["+55", "-0.70"]
    revert_photo(raw, host="lightroom")
    desc = read_sidecar(lr).description_for(CRS)
    assert [get_simple(desc, f"{{{CRS}}}{k}") for k in ("Contrast2012", "Exposure2012")] == ["+55", "+1.11"]


def test_record_from_before_written_values_still_reverts_everything(raw: Path) -> None:
    lr = raw.with_suffix(".xmp")
    lr.write_bytes(USER_SETTINGS_LR)
    _apply(raw, host="lightroom", overwrite=True)
    doc = read_sidecar(lr)
    desc, prov = find_provenance(doc)  # type: ignore[misc]
    remove_provenance(doc)
    write_provenance(desc, dataclasses.replace(prov, replaced=prov.replaced["replaced"]))  # the old, flat layout
    lr.write_bytes(serialize(doc))
    _set_crs(lr, Exposure2012="+1.11")
    assert [o.action for o in revert_photo(raw, host="lightroom")] == ["reverted"]
    assert canonical(lr.read_bytes()) == canonical(USER_SETTINGS_LR)


def test_revert_without_our_record_or_sidecar_skips(raw: Path) -> None:
    raw.with_suffix(".xmp").write_bytes(FOREIGN_LR)
    outcomes = revert_photo(raw)
    assert [(o.action, o.reason) for o in outcomes] == [
        ("skipped", "no autoretouch settings in this sidecar"),
        ("skipped", "no sidecar"),
    ]
    assert raw.with_suffix(".xmp").read_bytes() == FOREIGN_LR


def test_revert_of_a_photo_that_does_not_exist_says_so(raw: Path) -> None:
    typo = raw.with_name("typo.jpg")
    for host in ("darktable", "lightroom", "both"):  # a JPEG's NAME.xmp is no sidecar of it: not found either way
        with pytest.raises(NotFoundError, match=r"typo\.jpg: no such photo or folder \(and no sidecar of it\)"):
            revert_photo(typo, host=host)


def test_revert_of_a_photo_deleted_since_apply_still_reverts_its_sidecar(raw: Path) -> None:
    _apply(raw, host="darktable")
    raw.unlink()
    outcomes = revert_photo(raw)
    assert [(o.host, o.action) for o in outcomes] == [("lightroom", "skipped"), ("darktable", "deleted")]
    assert outcomes[0].reason == "no sidecar, and no such photo (a typing error?)"


def test_damaged_record_is_reported(raw: Path) -> None:
    _apply(raw, host="lightroom")
    lr = raw.with_suffix(".xmp")
    text = lr.read_text()
    lr.write_text(re.sub(r'autoretouch:Recipe="[^"]*"', 'autoretouch:Recipe="{oops"', text))
    (outcome,) = revert_photo(raw, host="lightroom")
    assert outcome.action == "failed" and "damaged" in outcome.reason


def test_missing_photo_and_bad_host(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        apply_to_photo(tmp_path / "nope.CR2", RECIPE, host="both", info=RAW_INFO)
    with pytest.raises(ValueError, match="unknown host"):
        apply_to_photo(tmp_path / "nope.CR2", RECIPE, host="photoshop", info=RAW_INFO)


def test_outcome_json(raw: Path) -> None:
    (outcome,) = _apply(raw, host="lightroom", dry_run=True)
    data = json.loads(json.dumps(outcome.to_json()))
    assert data == {
        "photo": str(raw),
        "host": "lightroom",
        "sidecar": str(raw.with_suffix(".xmp")),
        "action": "would-write",
        "reason": "",
        "warnings": [],
    }


def test_external_entity_in_a_sidecar_is_never_read(raw: Path) -> None:
    secret = raw.parent / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    dt = raw.with_name(raw.name + ".xmp")
    packet = (
        f'<?xml version="1.0"?><!DOCTYPE x:xmpmeta [<!ENTITY s SYSTEM "file://{secret}">]>'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}"><rdf:Description rdf:about="" '
        f'xmlns:dc="{NS["dc"]}"><dc:format>&s;</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>'
    ).encode()
    dt.write_bytes(packet)
    outcomes = _apply(raw, host="both")
    assert [o.action for o in outcomes] == ["written", "failed"]
    assert "TOP-SECRET-CONTENT" not in outcomes[1].reason
    assert dt.read_bytes() == packet
    leaked = [name for name, data in listing(raw.parent).items() if b"TOP-SECRET" in data and name != "secret.txt"]
    assert leaked == []


# -- stale darktable records: darktable rewrote the history without our entries but kept our record ---------


def _darktable_rewrite(sidecar: Path, *, keep: int | None = None, end: int | None = None, extra: bool = False) -> bytes:
    """Rewrite a darktable sidecar the way darktable does after an edit, keeping every ``autoretouch:`` property.

    Keeps the first ``keep`` history entries (all when ``None``), sets ``history_end`` to ``end`` (the entry
    count when ``None``), appends a user ``colorin`` entry when ``extra``, and writes every params string in
    the other encoding (hex <-> gz) where it decodes, as darktable's ``compress_xmp_tags`` may do.
    """
    from backend.translate.darktable import decode_params, encode_params

    doc = read_sidecar(sidecar)
    desc = next(d for d in doc.descriptions() if d.find(f"{{{DT}}}history") is not None)
    seq = desc.find(f"{{{DT}}}history/{{{RDF}}}Seq")
    assert seq is not None
    lis = [li for li in seq if li.tag == f"{{{RDF}}}li"]
    for li in lis[keep:] if keep is not None else []:
        seq.remove(li)
    lis = lis[:keep] if keep is not None else lis
    if extra:
        added = type(lis[0])(f"{{{RDF}}}li", dict(lis[0].attrib))
        added.set(f"{{{DT}}}operation", "colorin")
        seq.append(added)
        lis.append(added)
    for i, li in enumerate(lis):
        li.set(f"{{{DT}}}num", str(i))
        text = li.get(f"{{{DT}}}params", "")
        with contextlib.suppress(InvalidRecipeError):  # the fixture's vignette blob is not real gz data
            li.set(f"{{{DT}}}params", encode_params(decode_params(text), compress=not text.startswith("gz")))
    desc.set(f"{{{DT}}}history_end", str(len(lis) if end is None else end))
    data = serialize(doc)
    sidecar.write_bytes(data)
    return data


def _without_record(data: bytes) -> list[object]:
    doc = parse_sidecar(data, "x.xmp")
    remove_provenance(doc)
    return canonical(serialize(doc))


def _ops(sidecar: Path) -> tuple[list[str], int]:
    desc = next(d for d in read_sidecar(sidecar).descriptions() if d.find(f"{{{DT}}}history") is not None)
    lis = desc.findall(f"{{{DT}}}history/{{{RDF}}}Seq/{{{RDF}}}li")
    return [str(li.get(f"{{{DT}}}operation")) for li in lis], int(desc.get(f"{{{DT}}}history_end", "-1"))


def test_reset_history_makes_the_record_stale_and_apply_appends_afresh_once(raw: Path) -> None:
    dt = raw.with_name(raw.name + ".xmp")
    dt.write_bytes(USER_DT.replace("{end}", "3").encode())
    ours = [e.operation for e in recipe_to_history(RECIPE, is_raw=True, long_side_px=6000)]
    _apply(raw, host="darktable")
    reset = _darktable_rewrite(dt, keep=0)  # darktable: history discarded, our record kept
    assert find_provenance(read_sidecar(dt)) is not None

    (outcome,) = _apply(raw, host="darktable")
    assert outcome.action == "written", outcome
    assert any("dropped the autoretouch record" in w and "applied afresh" in w for w in outcome.warnings)
    assert _ops(dt) == (ours, len(ours))  # ours once, on the reset history
    found = find_provenance(read_sidecar(dt))
    assert found is not None and not found[1].created and len(found[1].replaced["entries"]) == len(ours)

    (again,) = _apply(raw, host="darktable")  # the fresh record is current: skipped as usual
    assert again.action == "skipped" and "already has autoretouch entries" in again.reason
    assert _ops(dt) == (ours, len(ours))

    (undo,) = revert_photo(raw, host="darktable")
    assert (undo.action, undo.reason) == ("reverted", "")
    assert canonical(dt.read_bytes()) == _without_record(reset)  # the reset state, without any record


def test_steps_undone_in_darktable_make_the_record_stale(raw: Path) -> None:
    dt = raw.with_name(raw.name + ".xmp")
    dt.write_bytes(USER_DT.replace("{end}", "3").encode())
    n = len(recipe_to_history(RECIPE, is_raw=True, long_side_px=6000))
    _apply(raw, host="darktable")
    _darktable_rewrite(dt, end=3)  # our entries kept, but above history_end (undone)
    (outcome,) = _apply(raw, host="darktable", dry_run=True)
    assert outcome.action == "would-write" and "dropped the autoretouch record" in outcome.warnings[0]
    (outcome,) = _apply(raw, host="darktable")
    assert outcome.action == "written"
    ops, end = _ops(dt)
    assert end == 3 + n and len(ops) == 3 + n  # the undone copy is taken out, not kept as the user's undone steps


def test_revert_after_our_steps_were_undone_in_darktable_gives_the_users_history_back(raw: Path) -> None:
    """Undone steps stay in the sidecar after history_end (a redo would bring them back): revert takes them out."""
    from backend.sidecar.revert import UNDONE_REVERT_REASON

    dt = raw.with_name(raw.name + ".xmp")
    original = USER_DT.replace("{end}", "3").encode()
    dt.write_bytes(original)
    _apply(raw, host="darktable")
    _darktable_rewrite(dt, end=3)  # the user clicked their own third step: ours are undone, still in the file
    (dry,) = revert_photo(raw, host="darktable", dry_run=True)
    assert dry.action == "would-revert" and dry.reason == UNDONE_REVERT_REASON
    (outcome,) = revert_photo(raw, host="darktable")
    assert (outcome.action, outcome.reason) == ("reverted", UNDONE_REVERT_REASON)
    assert _ops(dt) == (["exposure", "flip", "vignette"], 3)
    assert find_provenance(read_sidecar(dt)) is None


@pytest.mark.parametrize("keep", [None, 4], ids=["all-kept", "one-kept"])
def test_record_with_an_active_entry_is_current(raw: Path, keep: int | None) -> None:
    dt = raw.with_name(raw.name + ".xmp")
    dt.write_bytes(USER_DT.replace("{end}", "3").encode())
    _apply(raw, host="darktable")
    n = len(_ops(dt)[0]) - 3
    rewritten = _darktable_rewrite(dt, keep=keep, extra=True)  # re-encoded params, a later user entry
    (outcome,) = _apply(raw, OTHER, host="darktable")
    assert outcome.action == "skipped" and "already has autoretouch entries" in outcome.reason
    (outcome,) = _apply(raw, OTHER, host="darktable", overwrite=True)
    if keep is None:  # darktable rewrote it, ours all still there: ours replaced, the user's later entry kept
        assert outcome.action == "written", outcome.reason
        assert n >= 1
        # OTHER (one exposure) in the place of ours, the user's later entry still after it
        assert _ops(dt) == (["exposure", "flip", "vignette", "exposure", "colorin"], 5)
    else:  # one of ours is gone: not undoable here, nothing touched
        assert outcome.action == "failed" and "history changed" in outcome.reason
        assert dt.read_bytes() == rewritten


def test_record_without_entry_digests_is_checked_by_translating_its_recipe(raw: Path) -> None:
    dt = raw.with_name(raw.name + ".xmp")
    _apply(raw, host="darktable")
    doc = read_sidecar(dt)
    found = find_provenance(doc)
    assert found is not None and "entries" in found[1].replaced
    legacy = {k: v for k, v in found[1].replaced.items() if k != "entries"}  # a record from before the digests
    write_provenance(found[0], dataclasses.replace(found[1], replaced=legacy))
    dt.write_bytes(serialize(doc))
    (current,) = _apply(raw, host="darktable")
    assert current.action == "skipped"
    _darktable_rewrite(dt, keep=0)
    (outcome,) = _apply(raw, host="darktable")
    assert outcome.action == "written" and "dropped the autoretouch record" in outcome.warnings[0]


def test_revert_of_a_stale_record_removes_only_the_record(raw: Path) -> None:
    dt = raw.with_name(raw.name + ".xmp")
    dt.write_bytes(USER_DT.replace("{end}", "3").encode())
    _apply(raw, host="darktable")
    reset = _darktable_rewrite(dt, keep=2)  # the user's first two entries only: none of ours
    (dry,) = revert_photo(raw, host="darktable", dry_run=True)
    assert dry.action == "would-revert" and dt.read_bytes() == reset
    (outcome,) = revert_photo(raw, host="darktable")
    assert outcome.action == "reverted" and "already gone" in outcome.reason
    assert canonical(dt.read_bytes()) == _without_record(reset)
    assert find_provenance(read_sidecar(dt)) is None
