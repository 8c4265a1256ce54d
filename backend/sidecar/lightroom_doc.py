"""Lightroom (``crs:``) settings in a sidecar document: detect, apply with a record, revert.

The record of an application (``autoretouch:Replaced``) is ``{"replaced": ..., "written": ...}``:
``replaced`` lists every property autoretouch set with its previous occurrences (format in
:mod:`backend.sidecar.replaced`), ``written`` the value autoretouch gave it (text, or the items of an
``rdf:Seq``). Reverting removes each property and puts those occurrences back, so the descriptions get the
same properties with the same values and the same attribute/element form as before, except that a develop
setting whose value changed since (the photographer edited it in Lightroom) keeps its new value, and with it
the settings Lightroom reads together with it (white balance and Temperature/Tint, the tone curve's name and
points, ...) and the properties that make Lightroom read them (versions, ``HasSettings``). Records written
before ``written`` existed (a flat ``replaced`` mapping) are restored as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backend.sidecar.lightroom_xmp import apply_crs, crs_properties
from backend.sidecar.replaced import occurrence, restore_replaced, short_name
from backend.sidecar.xmp import NS, XmpDocument, get_simple, qname
from backend.sidecar.xmp import take_property as _take
from backend.sliders.catalog import CATALOG

__all__ = [
    "EMBEDDED_XMP_SUFFIXES",
    "apply_lightroom",
    "existing_owner",
    "has_develop_settings",
    "lightroom_sidecar_path",
    "revert_lightroom",
]

#: Formats whose XMP Lightroom keeps inside the file (it ignores ``.xmp`` sidecars for them).
EMBEDDED_XMP_SUFFIXES = frozenset(
    {".dng", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".png", ".psd", ".psb", ".heic", ".heif", ".avif", ".jxl"}
)

_CRS = NS["crs"]
#: Keys whose presence means "this sidecar carries develop settings": every key of the catalog.
_DEVELOP_KEYS = frozenset(k for spec in CATALOG for k in spec.lightroom.keys)
#: Develop keys Lightroom reads together: those of one slider (white balance with Temperature and Tint, black &
#: white with Saturation, all of HSL), and the tone curve's name with its curves. A setting kept on revert keeps
#: its whole group, so that the sidecar shows what the photographer last saw in Lightroom.
_LINKED = (*(spec.lightroom.keys for spec in CATALOG), ("ToneCurveName2012", "ToneCurvePV2012", "ToneCurvePV2012Red"))


def _key_groups(linked: tuple[tuple[str, ...], ...]) -> dict[str, frozenset[str]]:
    """Each key -> every key linked to it, directly or through others (union of overlapping key sets)."""
    groups: dict[str, frozenset[str]] = {}
    for keys in linked:
        merged = frozenset(keys).union(*(groups.get(k, frozenset()) for k in keys))
        for k in merged:
            groups[k] = merged
    return groups


_GROUPS = _key_groups(_LINKED)


def lightroom_sidecar_path(photo: str | Path) -> Path:
    """Adobe's sidecar name: the photo's extension replaced by ``.xmp`` (``IMG_0001.CR2`` -> ``IMG_0001.xmp``)."""
    return Path(photo).with_suffix(".xmp")


def has_develop_settings(doc: XmpDocument) -> bool:
    """Whether the sidecar already carries Lightroom develop settings (``crs:HasSettings`` True or any tone key)."""
    for desc in doc.descriptions():
        if (get_simple(desc, f"{{{_CRS}}}HasSettings") or "").strip().lower() == "true":
            return True
        names = {a for a in desc.attrib} | {c.tag for c in desc if isinstance(c.tag, str)}
        if any(n.startswith(f"{{{_CRS}}}") and n[len(_CRS) + 2 :] in _DEVELOP_KEYS for n in names):
            return True
    return False


def existing_owner(doc: XmpDocument, photo: Path) -> str | None:
    """The file another raw's sidecar says it belongs to, when that is not ``photo`` (RAW pairs with one base name)."""
    for desc in doc.descriptions():
        ext = get_simple(desc, f"{{{NS['photoshop']}}}SidecarForExtension")
        if ext and ext.strip().lower() != photo.suffix.lstrip(".").lower():
            return f"{photo.stem}.{ext.strip()}"
    return None


def apply_lightroom(doc: XmpDocument, settings: dict[str, Any], *, is_raw: bool, photo_name: str) -> dict[str, Any]:
    """Write ``settings`` into the document's ``crs:`` description and return the revert record.

    Properties autoretouch sets that also occur in other descriptions (exiftool writes one description per
    namespace) are moved out of them, so each property occurs once.

    Returns:
        ``{"replaced": previous occurrences by property, "written": the value written by property}``.
    """
    target = doc.description_for(_CRS)
    descriptions = doc.descriptions()
    props = crs_properties(settings, is_raw=is_raw, photo_name=photo_name)
    names = [n for n, _ in props]
    record: dict[str, list[dict[str, Any]]] = {short_name(n): [] for n in names}
    for i, desc in enumerate(descriptions):
        if desc is target:
            continue
        for n in names:
            prev = _take(desc, n)
            if prev is not None:
                record[short_name(n)].append(occurrence(doc, i, prev))
    t = descriptions.index(target)
    for n, prev in apply_crs(target, settings, is_raw=is_raw, photo_name=photo_name).items():
        if prev is not None:
            record[short_name(n)].append(occurrence(doc, t, prev))
    return {"replaced": record, "written": {short_name(n): v for n, v in props}}


def _current(doc: XmpDocument, name: str) -> str | list[str] | None:
    """A property's value now: its text, the items of its ``rdf:Seq``/``Bag``/``Alt``, or ``None`` when absent."""
    li = qname("rdf", "li")
    for desc in doc.descriptions():
        if name in desc.attrib:
            return desc.attrib[name]
        for child in desc:
            if child.tag == name:
                return (child.text or "") if len(child) == 0 else [item.text or "" for item in child.iter(li)]
    return None


def _same(now: object, written: object) -> bool:
    """Whether a property still has the value autoretouch wrote (numbers compared as numbers: ``+0.20`` = ``0.2``)."""
    if isinstance(now, list) or isinstance(written, list):
        return (
            isinstance(now, list)
            and isinstance(written, list)
            and len(now) == len(written)
            and all(_same(a, b) for a, b in zip(now, written, strict=True))
        )
    if not isinstance(now, str) or not isinstance(written, str):
        return now is None and written is None
    if now.strip().lower() == written.strip().lower():
        return True
    try:
        return [float(x) for x in now.split(",")] == [float(x) for x in written.split(",")]
    except ValueError:
        return False


def revert_lightroom(doc: XmpDocument, record: dict[str, Any]) -> tuple[str, ...]:
    """Undo :func:`apply_lightroom` from its record (module docstring).

    Returns:
        The develop settings kept because they changed since autoretouch wrote them (``Exposure2012``, ...);
        empty when everything was restored.

    Raises:
        SidecarError: the record does not describe this document.
    """
    replaced, written = record.get("replaced"), record.get("written")
    if not isinstance(replaced, dict) or not isinstance(written, dict):
        restore_replaced(doc, record)  # a record from before "written": restore everything
        return ()
    develop = {short: short[4:] for short in replaced if short.startswith("crs:") and short[4:] in _DEVELOP_KEYS}
    kept = [
        short for short, local in develop.items() if not _same(_current(doc, qname("crs", local)), written.get(short))
    ]
    keep = {f"crs:{k}" for short in kept for k in _GROUPS.get(develop[short], {develop[short]})}
    if kept:  # what makes Lightroom read the kept settings stays too
        keep |= {short for short in replaced if short not in develop}
    restore_replaced(doc, {k: v for k, v in replaced.items() if k not in keep})
    return tuple(develop[short] for short in kept)
