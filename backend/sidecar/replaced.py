"""The "replaced" record: previous occurrences of the properties autoretouch set, and their restoration.

Both hosts use one format. The record maps a property name (``prefix:Name`` for known namespaces, else
``{uri}Name``) to the list of its occurrences before autoretouch's change, each
``{"d": description index, "attribute": text}`` or ``{"d": ..., "element": xml, "index": position}``;
an empty list means the property was absent. Occurrences are listed in the order they were taken out of
the document, each ``index`` counted at that moment, so restoring them in reverse order puts every
element back at its former position.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from backend.errors import SidecarError
from backend.sidecar.xmp import KNOWN_PREFIXES, NS, PreviousValue, XmpDocument, restore_property, take_property

__all__ = ["long_name", "occurrence", "restore_replaced", "short_name"]


def short_name(name: str) -> str:
    """``{uri}local`` -> ``prefix:local`` for known namespaces (the record's key)."""
    uri, _, local = name[1:].partition("}")
    prefix = KNOWN_PREFIXES.get(uri)
    return f"{prefix}:{local}" if prefix else name


def long_name(short: str) -> str:
    """Inverse of :func:`short_name`."""
    if short.startswith("{"):
        return short
    prefix, _, local = short.partition(":")
    return f"{{{NS[prefix]}}}{local}"


def occurrence(doc: XmpDocument, desc_index: int, prev: PreviousValue) -> dict[str, Any]:
    """One JSON-ready occurrence of a previous value."""
    return {"d": desc_index, **prev.to_json(doc.prefixes)}


def restore_replaced(doc: XmpDocument, record: dict[str, Any]) -> None:
    """Remove every recorded property from every description, then put the previous occurrences back.

    Raises:
        SidecarError: the record does not fit this document (names the sidecar).
    """
    where = doc.path or "<sidecar>"
    descriptions: list[ET.Element] = doc.descriptions()
    try:
        items = [
            (long_name(short), [(int(o["d"]), PreviousValue.from_json(o)) for o in occ])
            for short, occ in record.items()
        ]
        for name, _ in items:
            for desc in descriptions:
                take_property(desc, name)
        for name, previous in reversed(items):
            for d, prev in reversed(previous):
                restore_property(descriptions[d], name, prev)
    except (KeyError, IndexError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise SidecarError(
            where, f"cannot revert: the autoretouch record does not match this sidecar ({exc})"
        ) from None
