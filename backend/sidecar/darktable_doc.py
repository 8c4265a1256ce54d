"""darktable history in a sidecar document: append with a record, revert.

:func:`apply_darktable` hands the description to
:func:`backend.translate.darktable.append_history` (which inserts our entries at ``history_end`` and
never drops the user's entries) and records, in the common "replaced" format
(:mod:`backend.sidecar.replaced`), the previous value of every description attribute the append changed
(``history_end``, ``iop_order_list``, ``history_current_hash``; all darktable attributes for a fresh
stack) and the previous ``darktable:history`` / ``darktable:masks_history`` elements, plus a fingerprint
of the history as written.

:func:`revert_darktable` restores those exactly, so the user's history, masks and attributes come back
as they were. It refuses (:class:`~backend.errors.SidecarError`, sidecar untouched) when the history no
longer matches the fingerprint, e.g. after darktable itself rewrote the sidecar: undo in darktable's
history stack then.
"""

from __future__ import annotations

import copy
import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from backend.errors import SidecarError
from backend.sidecar.replaced import occurrence, restore_replaced, short_name
from backend.sidecar.xmp import NS, PreviousValue, XmpDocument, insert_child
from backend.translate.darktable import AppendResult, HistoryEntry, append_history

__all__ = ["apply_darktable", "darktable_sidecar_path", "history_fingerprint", "revert_darktable"]

_DT = NS["darktable"]
_TRACKED = (f"{{{_DT}}}history", f"{{{_DT}}}masks_history")


def darktable_sidecar_path(photo: str | Path) -> Path:
    """darktable's sidecar name: ``.xmp`` appended to the full file name (``IMG_0001.CR2.xmp``)."""
    p = Path(photo)
    return p.with_name(p.name + ".xmp")


def _history_description(doc: XmpDocument) -> ET.Element:
    for desc in doc.descriptions():
        if desc.find(_TRACKED[0]) is not None:
            return desc
    return doc.description_for(_DT)


def history_fingerprint(desc: ET.Element) -> str:
    """SHA-256 over the tracked elements' names, attributes and non-blank text (whitespace-insensitive)."""
    parts: list[Any] = []
    for tag in _TRACKED:
        elem = desc.find(tag)
        if elem is None:
            parts.append(None)
            continue
        parts.append(
            [
                [str(e.tag), sorted(e.attrib.items()), (e.text or "").strip()]
                for e in elem.iter()
                if isinstance(e.tag, str)
            ]
        )
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _tidy(desc: ET.Element, children_before: list[ET.Element]) -> None:
    """Indent the history elements; re-insert the ones ``append_history`` created so their tails fit."""
    new = [c for c in desc if c.tag in _TRACKED and not any(c is b for b in children_before)]
    for elem in new:
        desc.remove(elem)
    for elem in new:
        insert_child(desc, elem, level=2)
    for tag in _TRACKED:
        elem = desc.find(tag)
        if elem is not None:
            ET.indent(elem, space=" ", level=3)


def apply_darktable(
    doc: XmpDocument, entries: list[HistoryEntry], *, is_raw: bool
) -> tuple[dict[str, Any], AppendResult]:
    """Append our entries to the document's darktable history.

    Args:
        doc: the sidecar (modified in place; a description is created when there is none).
        entries: our history entries (:func:`backend.translate.darktable.recipe_to_history`).
        is_raw: the photo is a raw (pixelpipe order of a fresh stack).

    Returns:
        ``(record, result)``: the JSON-ready revert record ``{"replaced": ..., "fingerprint": ...,
        "added": n, "first_num": k}`` and the translator's :class:`AppendResult`.

    Raises:
        SidecarError: darktable data that cannot be extended safely (from ``append_history``).
    """
    desc = _history_description(doc)
    d = doc.descriptions().index(desc)
    attrs_before = dict(desc.attrib)
    children = [c for c in desc if isinstance(c.tag, str)]
    # Snapshot the tracked elements, in descending position (each index then stays valid at "removal").
    snap = sorted(((list(desc).index(c), c.tag, copy.deepcopy(c)) for c in children if c.tag in _TRACKED), reverse=True)
    result = append_history(desc, entries, is_raw=is_raw, source=doc.path or "<sidecar>")
    replaced: dict[str, list[dict[str, Any]]] = {}
    for name in dict.fromkeys([*attrs_before, *desc.attrib]):
        if attrs_before.get(name) != desc.attrib.get(name):
            old = attrs_before.get(name)
            replaced[short_name(name)] = [] if old is None else [occurrence(doc, d, PreviousValue(attribute=old))]
    for tag in _TRACKED:
        replaced[short_name(tag)] = []
    for index, tag, elem in snap:
        elem.tail = None
        replaced[short_name(tag)].append(occurrence(doc, d, PreviousValue(element=elem, index=index)))
    _tidy(desc, children)
    record = {
        "replaced": replaced,
        "fingerprint": history_fingerprint(desc),
        "added": result.added,
        "first_num": result.first_num,
    }
    return record, result


def revert_darktable(doc: XmpDocument, record: dict[str, Any], *, force: bool = False) -> None:
    """Undo :func:`apply_darktable` from its record.

    Args:
        doc: the sidecar (modified in place).
        record: the record :func:`apply_darktable` returned.
        force: restore even when the history changed since (drops whatever was added after us).

    Raises:
        SidecarError: the history changed since autoretouch wrote it (and not ``force``), or the record
            does not fit the document.
    """
    where = doc.path or "<sidecar>"
    descs = [d for d in doc.descriptions() if d.find(_TRACKED[0]) is not None]
    if not force and (len(descs) != 1 or history_fingerprint(descs[0]) != record.get("fingerprint")):
        raise SidecarError(
            where,
            "the darktable history changed since autoretouch applied its entries (darktable rewrites it when "
            "you edit the photo); undo them in darktable's history stack instead",
        )
    replaced = record.get("replaced")
    if not isinstance(replaced, dict):
        raise SidecarError(where, "cannot revert: the autoretouch record has no 'replaced' data")
    restore_replaced(doc, replaced)
