"""Lightroom (``crs:``) settings in a sidecar document: detect, apply with a record, revert.

The record of an application (``autoretouch:Replaced``, format in :mod:`backend.sidecar.replaced`) lists
every property autoretouch set with its previous occurrences. Reverting removes each property and puts
those occurrences back, so the descriptions get the same properties with the same values and the same
attribute/element form as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backend.sidecar.lightroom_xmp import apply_crs, crs_properties
from backend.sidecar.replaced import occurrence, restore_replaced, short_name
from backend.sidecar.xmp import NS, XmpDocument, get_simple
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
    """
    target = doc.description_for(_CRS)
    descriptions = doc.descriptions()
    names = [n for n, _ in crs_properties(settings, is_raw=is_raw, photo_name=photo_name)]
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
    return record


def revert_lightroom(doc: XmpDocument, record: dict[str, Any]) -> None:
    """Undo :func:`apply_lightroom` from its record (see :mod:`backend.sidecar.replaced`).

    Raises:
        SidecarError: the record does not describe this document.
    """
    restore_replaced(doc, record)
