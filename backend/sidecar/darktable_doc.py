"""darktable history in a sidecar document: append with a record, revert.

:func:`apply_darktable` hands the description to
:func:`backend.sidecar.darktable_xmp.append_history` (which inserts our entries at ``history_end``, or where
our earlier ones were, and never drops the user's entries) and records, in the common "replaced" format
(:mod:`backend.sidecar.replaced`), the previous value of every description attribute the append changed
(``history_end``, ``iop_order_list``, ``history_current_hash``; all darktable attributes for a fresh
stack) and the previous ``darktable:history`` / ``darktable:masks_history`` elements, plus a fingerprint
of the history as written, a digest of each entry it added (``operation`` and the decoded ``params``), so
that :func:`record_is_stale` can tell later whether those entries are still in the active history, and a digest
of each whole entry (:func:`~backend.sidecar.darktable_ours.step_digest`: also on/off, blending, name), by which
a revert tells ours from the user's later steps on our modules.

:func:`revert_darktable` restores those exactly, so the user's history, masks and attributes come back
as they were. When the history no longer matches the fingerprint (darktable rewrote the sidecar, e.g. after
the plug-in reloaded it, or the user edited the photo since), it takes out just our entries, found by their
digests (:func:`~backend.sidecar.darktable_ours.match_record`), and leaves everything else as darktable wrote
it; when one of ours is gone or was changed, it refuses (:class:`~backend.errors.SidecarError`, sidecar
untouched): undo in darktable's history stack then. The user's later steps on our modules are sorted by
:func:`~backend.sidecar.darktable_ours.later_steps`: a switch of ours off or on goes with ours (:data:`GONE_NOTE`),
the user's blend, mask, name or settings stay, and one still named :data:`MARK` gets darktable's own label
(:data:`KEPT_LATER_NOTE`), so that it is never taken for ours afterwards.
A user's entry that one of ours overrode (same module instance) and that darktable dropped since (its
"compress history" keeps only the last entry of each instance) is put back in our entry's place from the
record's copy of the history, so the user's edit is never lost; one with a drawn mask, whose shapes may be gone
with it, makes the revert refuse instead. The revert also says where our entries were when the user's steps
follow them (:class:`DarktableRevert`), so that ``apply --overwrite`` puts the new ones there.

Our entries are named :data:`MARK` (``multi_name``; ``autoretouch 1``, ``my curve (autoretouch)``), which darktable
shows in the module header and keeps when it copies an image or writes a sidecar afresh (both lose our record):
:func:`take_out_marked` finds and removes them without the record, the first marked entry
of each module instance only; the later ones of that instance are the user's changes of ours (they inherit the
name) and are sorted like the user's later steps above.
"""

from __future__ import annotations

import copy
import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.errors import InvalidRecipeError, SidecarError
from backend.sidecar.darktable_ours import (
    MARK,
    MASK_DRAWN,
    LaterSteps,
    blend_fields,
    entry_digest,
    first_marked,
    instance_of,
    is_marked,
    later_steps,
    match_record,
    params_digest,
    same_look,
    step_digest,
    unmarked_name,
)
from backend.sidecar.darktable_xmp import AppendResult, append_history, entry_from_li
from backend.sidecar.replaced import occurrence, restore_replaced, short_name
from backend.sidecar.xmp import NS, PreviousValue, XmpDocument, get_simple, insert_child
from backend.translate.darktable import HistoryEntry

__all__ = [
    "GONE_NOTE",
    "KEPT_LATER_NOTE",
    "MARK",
    "RESTORED_NOTE",
    "DarktableRevert",
    "active_entry_digests",
    "active_history",
    "apply_darktable",
    "darktable_sidecar_path",
    "derived_from",
    "derived_from_other",
    "entry_digest",
    "history_description",
    "history_fingerprint",
    "instance_label",
    "marked_labels",
    "record_is_stale",
    "remove_undone_entries",
    "revert_darktable",
    "take_out_marked",
]

_DT = NS["darktable"]
_TRACKED = (f"{{{_DT}}}history", f"{{{_DT}}}masks_history")
_LI = f"{{{NS['rdf']}}}li"


def darktable_sidecar_path(photo: str | Path, duplicate: int = 0) -> Path:
    """darktable's sidecar name: ``.xmp`` appended to the full file name (``IMG_0001.CR2.xmp``).

    A virtual copy (``duplicate`` N > 0: darktable's version of the image, ``duplicate_index`` in its Lua) has its
    own, ``NAME_NN.EXT.xmp`` (``IMG_0001_01.CR2.xmp``; at least two digits). The reverse, a name to its photo and
    copy number, is :func:`backend.sidecar.darktable_copies.copy_named`.
    """
    p = Path(photo)
    if duplicate < 0:
        raise InvalidRecipeError(f"a darktable duplicate number is 0 or more, got {duplicate}")
    if duplicate == 0:
        return p.with_name(p.name + ".xmp")
    return p.with_name(f"{p.stem}_{duplicate:02d}{p.suffix}.xmp")


def derived_from(doc: XmpDocument) -> str | None:
    """The file a darktable sidecar says it was made for (``xmpMM:DerivedFrom``), or None when it names none."""
    for desc in doc.descriptions():
        name = get_simple(desc, f"{{{NS['xmpMM']}}}DerivedFrom")
        if name is not None and name.strip():
            return name.strip()
    return None


def derived_from_other(doc: XmpDocument, photo: Path) -> str | None:
    """The file a darktable sidecar says it was made for (``xmpMM:DerivedFrom``), when that is not ``photo``.

    ``b_01.png.xmp`` is both the sidecar of ``b_01.png`` and that of ``b.png``'s first virtual copy; darktable
    records the image's own file name there, which tells the two apart.
    """
    name = derived_from(doc)
    return name if name is not None and name != photo.name else None


def history_description(doc: XmpDocument) -> ET.Element:
    """The ``rdf:Description`` that holds (or will hold) the darktable history.

    The first with a history, else the first using darktable's namespace, else the first (one is added when the
    document has none): :meth:`~backend.sidecar.xmp.XmpDocument.description_for`.
    """
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


def _active_items(doc: XmpDocument) -> list[ET.Element]:
    """The ``rdf:li`` of the active darktable history (``num < history_end``), oldest first.

    A missing or unreadable ``history_end`` counts as "all entries"; items without ``operation`` are left out.
    """
    out: list[ET.Element] = []
    for desc in doc.descriptions():
        history = desc.find(_TRACKED[0])
        if history is None:
            continue
        lis, end = _items_and_end(desc, history)
        out += lis[: len(lis) if end is None else end]
    return out


def _items_and_end(desc: ET.Element, history: ET.Element) -> tuple[list[ET.Element], int | None]:
    """The history's items that have an ``operation``, and ``history_end``.

    A missing ``history_end`` counts as all items; one that is not a number gives ``None``.
    """
    items = [li for li in history.iter(_LI) if li.get(f"{{{_DT}}}operation") is not None]
    try:
        return items, max(0, int((desc.get(f"{{{_DT}}}history_end") or str(len(items))).strip()))
    except ValueError:
        return items, None


def active_entry_digests(doc: XmpDocument) -> set[tuple[str, str]]:
    """:func:`entry_digest` of every entry of the active darktable history (``num < history_end``).

    A missing or unreadable ``history_end`` counts as "all entries"; entries without ``operation`` or
    ``params`` are left out. An empty set when the sidecar has no darktable history.
    """
    return {
        entry_digest(li.get(f"{{{_DT}}}operation", ""), params)
        for li in _active_items(doc)
        if (params := li.get(f"{{{_DT}}}params")) is not None
    }


def active_history(doc: XmpDocument) -> list[HistoryEntry]:
    """The active darktable history (entries with ``num < history_end``), oldest first, as :class:`HistoryEntry`.

    A missing or unreadable ``history_end`` counts as "all entries". An empty list when the sidecar has no
    darktable history.

    Raises:
        SidecarError: an active entry lacks ``operation``, ``modversion`` or ``params`` (darktable would reject
            the whole history).
    """
    return [entry_from_li(li) for li in _active_items(doc)]


def record_is_stale(doc: XmpDocument, record: dict[str, Any], fallback: Sequence[HistoryEntry] = ()) -> bool:
    """Whether none of the entries an :func:`apply_darktable` record added is in the active history any more.

    That is what the sidecar looks like after the user reset or discarded the history in darktable (or
    undid our steps): darktable rewrites the history but keeps our ``autoretouch:`` record, which then
    describes nothing. One entry still there (enabled or not, at any position) makes the record current.

    Args:
        doc: the sidecar.
        record: the record (``Provenance.replaced``) of the darktable application.
        fallback: our entries for a record written before the record kept their digests (``"entries"``):
            the record's recipe translated again for this photo.

    Returns:
        ``True`` only when the record added at least one entry and none of them is active; a record with
        no entries (an empty recipe) is never stale.
    """
    listed = record.get("entries")
    if isinstance(listed, list):
        ours = {(str(e[0]), str(e[1])) for e in listed if isinstance(e, list | tuple) and len(e) == 2}
    else:
        ours = {entry_digest(e.operation, e.params) for e in fallback}
    if not ours:
        return False
    return not (ours & active_entry_digests(doc))


def _tidy(desc: ET.Element, children_before: list[ET.Element]) -> None:
    """Indent the history elements; re-insert the ones ``append_history`` created so their tails fit."""
    new = [c for c in desc if c.tag in _TRACKED and not any(c is b for b in children_before)]
    for elem in new:
        desc.remove(elem)
    for elem in new:
        insert_child(desc, elem, level=2)
    for tag in _TRACKED:
        found = desc.find(tag)
        if found is not None:
            ET.indent(found, space=" ", level=3)


def apply_darktable(
    doc: XmpDocument,
    entries: list[HistoryEntry],
    *,
    is_raw: bool,
    image_name: str | None = None,
    at: int | None = None,
) -> tuple[dict[str, Any], AppendResult]:
    """Append our entries to the document's darktable history, named :data:`MARK` (``append_history(mark=True)``).

    An entry of ours on an instance the user named keeps the user's name, marked: ``my curve (autoretouch)``.

    Args:
        doc: the sidecar (modified in place; a description is created when there is none).
        entries: our history entries (:func:`backend.translate.darktable.recipe_to_history`).
        is_raw: the photo is a raw (pixelpipe order of a fresh stack).
        image_name: the image's file name, recorded as ``xmpMM:DerivedFrom`` (as darktable does) when the sidecar
            names none; given for a virtual copy's sidecar, whose name a file of that name could claim. Revert
            removes it again like every attribute the append changed.
        at: where in the active history our entries go (:func:`~backend.sidecar.darktable_xmp.append_history`;
            ``None``: after the user's history); a re-application gives the place of our earlier entries.

    Returns:
        ``(record, result)``: the JSON-ready revert record ``{"replaced": ..., "fingerprint": ...,
        "added": n, "first_num": k, "entries": [[operation, digest], ...], "exact": [digest, ...]}`` (see
        :func:`~backend.sidecar.darktable_ours.entry_digest` and
        :func:`~backend.sidecar.darktable_ours.step_digest`: the entries as written, named and on their instance)
        and the translator's :class:`AppendResult`.

    Raises:
        SidecarError: darktable data that cannot be extended safely (from ``append_history``).
    """
    desc = history_description(doc)
    d = doc.descriptions().index(desc)
    attrs_before = dict(desc.attrib)
    children = [c for c in desc if isinstance(c.tag, str)]
    # Snapshot the tracked elements, in descending position (each index then stays valid at "removal").
    snap = sorted(((list(desc).index(c), c.tag, copy.deepcopy(c)) for c in children if c.tag in _TRACKED), reverse=True)
    result = append_history(desc, entries, is_raw=is_raw, source=doc.path or "<sidecar>", at=at, mark=True)
    if image_name is not None and derived_from(doc) is None:
        desc.set(f"{{{NS['xmpMM']}}}DerivedFrom", image_name)
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
    history = desc.find(_TRACKED[0])
    written = [] if history is None else _items_and_end(desc, history)[0]
    record = {
        "replaced": replaced,
        "fingerprint": history_fingerprint(desc),
        "added": result.added,
        "first_num": result.first_num,
        "entries": [list(entry_digest(e.operation, e.params)) for e in entries],
        "exact": [step_digest(li) for li in written[result.first_num : result.first_num + result.added]],
    }
    return record, result


def instance_label(operation: str, priority: int, name: str = "") -> str:
    """How a note names a module instance: ``exposure (instance 0)``, ``rgbcurve (instance 1 "my curve")``."""
    return f'{operation} (instance {priority} "{name}")' if name else f"{operation} (instance {priority})"


def _label_of(li: ET.Element) -> str:
    return instance_label(*instance_of(li), li.get(f"{{{_DT}}}multi_name", ""))


def _rewrite_items(
    desc: ET.Element, history: ET.Element, items: list[ET.Element], taken: set[int], back: dict[int, ET.Element]
) -> None:
    """Remove the history items ``taken``, put ``back[i]`` in the place of item ``i``, renumber every item in order.

    The ``darktable:mask_num`` of the masks of kept items follow their items' new numbers.
    """
    parents = {child: parent for parent in history.iter() for child in parent}
    renumbered: dict[int, int] = {}
    for i in range(len(items)):
        if i not in taken or i in back:
            renumbered[i] = len(renumbered)
    for i in sorted(taken, reverse=True):
        parent = parents[items[i]]
        if i in back:
            parent.insert(list(parent).index(items[i]), back[i])
        parent.remove(items[i])
    for n, li in enumerate(li for li in history.iter(_LI) if li.get(f"{{{_DT}}}operation") is not None):
        li.set(f"{{{_DT}}}num", str(n))
    masks = desc.find(f"{_TRACKED[1]}/{{{NS['rdf']}}}Seq")
    for mask in [] if masks is None else list(masks):
        raw = (mask.get(f"{{{_DT}}}mask_num") or "").strip()
        if raw.isdigit() and int(raw) in renumbered and int(raw) not in taken:
            mask.set(f"{{{_DT}}}mask_num", str(renumbered[int(raw)]))
    ET.indent(history, space=" ", level=3)


def _recorded_history(record: dict[str, Any], where: str | Path) -> list[ET.Element]:
    """The active history items before our application, as the record keeps them (oldest first).

    Raises:
        SidecarError: the record's copy of the history is damaged.
    """
    replaced = record.get("replaced")
    occurrences = replaced.get(short_name(_TRACKED[0])) if isinstance(replaced, dict) else None
    if not isinstance(replaced, dict) or not isinstance(occurrences, list) or not occurrences:
        return []
    try:
        element = PreviousValue.from_json(occurrences[0]).element
        ends = replaced.get(short_name(f"{{{_DT}}}history_end"))
        end = int(ends[0]["attribute"]) if isinstance(ends, list) and ends else None
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise SidecarError(
            where, f"cannot revert: the autoretouch record's copy of the history is damaged ({exc})"
        ) from None
    lis = [] if element is None else [li for li in element.iter(_LI) if li.get(f"{{{_DT}}}operation") is not None]
    return lis[: len(lis) if end is None else max(0, end)]


def _drawn_mask(li: ET.Element) -> bool:
    """Whether a history item's blending uses a drawn mask (shapes autoretouch does not keep)."""
    fields = blend_fields(li.get(f"{{{_DT}}}blendop_params") or "")
    if fields is None or fields[2] is None:
        return False
    mask_mode, _, mask_id = fields
    return bool(mask_mode & MASK_DRAWN) and mask_id != 0


def _dropped_user_items(
    items: list[ET.Element], end: int, taken: set[int], record: dict[str, Any], where: str | Path
) -> dict[int, ET.Element]:
    """The user's entries our entries ``taken`` had overridden and darktable has dropped since, by our item's place.

    darktable's "compress history" keeps only the last entry of each module instance: with ours last, the user's
    entry of that instance is gone from the sidecar, and taking ours out would lose the user's settings for good.
    So for each of ours whose instance has no other active entry left, the user's last active entry of that
    instance before our application (kept in the record's copy of the history) takes our entry's place.

    Raises:
        SidecarError: such an entry used a drawn mask (its shapes may be gone with it); nothing is changed then.
    """
    present = {instance_of(items[i]) for i in range(end) if i not in taken}
    last = {instance_of(li): li for li in _recorded_history(record, where)}
    back: dict[int, ET.Element] = {}
    for i in sorted(taken):
        instance = instance_of(items[i])
        if instance in present or instance not in last:
            continue
        present.add(instance)
        if _drawn_mask(last[instance]):
            raise SidecarError(
                where,
                f"cannot revert: darktable's compress history dropped your {_label_of(last[instance])}, which "
                "autoretouch's entry had replaced, and it used a drawn mask that autoretouch cannot bring back; "
                "the sidecar is unchanged (your entry's settings are kept in autoretouch's record)",
            )
        back[i] = copy.deepcopy(last[instance])
        back[i].tail = None
    return back


#: The note for the user's later steps that went with ours (``{entries}``: :func:`_step_label` of each).
GONE_NOTE = (
    "also took out your later steps that only switched autoretouch's module off or on again, or that you set back "
    "to autoretouch's: {entries}"
)
#: The note for the user's later steps on our modules that stay and that the user might take for ours
#: (``{entries}``): still named as ours (now darktable's own label or the user's name), or holding our settings.
KEPT_LATER_NOTE = "kept your later steps on autoretouch's modules, as they are yours: {entries}"


def _step_label(li: ET.Element, ours: ET.Element) -> str:
    """How a note names a user's later step that goes with ours: ``exposure (instance 0 "autoretouch") switched off``."""
    if not same_look(li, ours):
        what = "changed, then set back to autoretouch's"
    else:
        what = "switched on again" if (li.get(f"{{{_DT}}}enabled") or "").strip() == "1" else "switched off"
    return f"{_label_of(li)} {what}"


def _kept_label(li: ET.Element, ours: ET.Element) -> str | None:
    """How :data:`KEPT_LATER_NOTE` names a step that stays; ``None`` for one that needs no word (the user's own).

    ``exposure (instance 0): renamed from "autoretouch", still with autoretouch's settings``.
    """
    name = li.get(f"{{{_DT}}}multi_name") or ""
    details = [f'renamed from "{name}"'] if is_marked(name) else []
    if params_digest(li) == params_digest(ours):
        details.append("still with autoretouch's settings")
    if not details:
        return None
    return f"{instance_label(*instance_of(li), unmarked_name(name))}: {', '.join(details)}"


@dataclass(frozen=True)
class _Ours:
    """Our entries found in a history, and the user's later steps on them.

    Attributes:
        desc: the description holding the history.
        history: its ``darktable:history``.
        items: the history items.
        end: ``history_end`` (at most the number of items).
        ours: the indices of our entries.
        later: the user's later steps on our instances (:func:`~backend.sidecar.darktable_ours.later_steps`).
    """

    desc: ET.Element
    history: ET.Element
    items: list[ET.Element]
    end: int
    ours: list[int]
    later: LaterSteps

    @property
    def taken(self) -> set[int]:
        """What goes: ours and the user's steps that go with them."""
        return set(self.ours) | self.later.going

    def gone_labels(self) -> list[str]:
        """:func:`_step_label` of each of the user's steps that go with ours."""
        mine = {instance_of(self.items[i]): self.items[i] for i in self.ours}
        return [_step_label(self.items[j], mine[instance_of(self.items[j])]) for j in sorted(self.later.going)]

    def kept_note(self) -> str | None:
        """:data:`KEPT_LATER_NOTE` for the steps that stay, ``None`` when none needs a word."""
        mine = {instance_of(self.items[i]): self.items[i] for i in self.ours}
        kept = [_kept_label(self.items[j], mine[instance_of(self.items[j])]) for j in self.later.staying]
        named = [k for k in kept if k is not None]
        return KEPT_LATER_NOTE.format(entries="; ".join(named)) if named else None

    def labels(self) -> list[str]:
        """The labels of ours, then :meth:`gone_labels` (what a take-out of the marked entries names)."""
        return [*(_label_of(self.items[i]) for i in self.ours), *self.gone_labels()]

    def take_out(self, back: dict[int, ET.Element], *, active: bool) -> int:
        """Remove what goes (``back[i]`` in the place of item ``i``), unmark the steps that stay, renumber.

        Args:
            back: the user's entries to put back (:func:`_dropped_user_items`).
            active: ours were active: ``history_end`` shrinks by the difference (else it stays).

        Returns:
            The place (new numbering) right after where our last entry was.
        """
        for j in self.later.staying:
            name = self.items[j].get(f"{{{_DT}}}multi_name") or ""
            if is_marked(name):
                self.items[j].set(f"{{{_DT}}}multi_name", unmarked_name(name))
        taken = self.taken
        _rewrite_items(self.desc, self.history, self.items, taken, back)
        if active:
            self.desc.set(f"{{{_DT}}}history_end", str(self.end - len(taken) + len(back)))
        return sum(1 for i in range(max(self.ours) + 1) if i not in taken or i in back)


def _history_of(desc: ET.Element) -> tuple[ET.Element, list[ET.Element], int] | None:
    """``(history, items, history_end)`` of a description (``history_end`` at most the item count).

    ``None`` when it has no history or an unreadable ``history_end``.
    """
    history = desc.find(_TRACKED[0])
    if history is None:
        return None
    items, end = _items_and_end(desc, history)
    return None if end is None else (history, items, min(end, len(items)))


def _before_ours(record: dict[str, Any], where: str | Path) -> list[ET.Element]:
    """The active history items before our entries when we wrote them (the record's copy; ``first_num`` of them).

    Raises:
        SidecarError: the record's copy of the history is damaged.
    """
    recorded = _recorded_history(record, where)
    first = record.get("first_num")
    return recorded[:first] if isinstance(first, int) and first >= 0 else recorded


def _find_ours(desc: ET.Element, record: dict[str, Any], *, undone: bool, where: str | Path) -> _Ours | None:
    """Our entries in the active (``undone``: the inactive) history, by the record; ``None`` when not all are there.

    Raises:
        SidecarError: the record's copy of the history is damaged.
    """
    found = _history_of(desc)
    if found is None:
        return None
    history, items, end = found
    if undone:
        ours = match_record(items, range(end, len(items)), record, [])
    else:
        ours = match_record(items, range(end), record, _before_ours(record, where))
    if ours is None:
        return None
    return _Ours(desc, history, items, end, ours, later_steps(items, len(items) if undone else end, ours))


def _take_out(
    desc: ET.Element, record: dict[str, Any], *, undone: bool, where: str | Path = "<sidecar>"
) -> tuple[list[str], int] | None:
    """Remove the record's entries from the active (``undone``: the inactive) part of the history.

    Our entries are found by :func:`~backend.sidecar.darktable_ours.match_record`, the user's later steps on them
    sorted by :func:`~backend.sidecar.darktable_ours.later_steps`; what goes is removed and every item renumbered
    in order. Taken from the active history, a user's entry that one of ours had overridden and that darktable
    dropped since takes our entry's place (:func:`_dropped_user_items`), and ``history_end`` shrinks by the
    difference; from after it, it stays.

    Returns:
        The notes (:data:`RESTORED_NOTE`, :data:`GONE_NOTE`, :data:`KEPT_LATER_NOTE`) and the place (new numbering)
        right after where our last entry was; ``None`` (nothing changed) when one of ours is not there.

    Raises:
        SidecarError: a user's entry to bring back cannot be (:func:`_dropped_user_items`), or the record's copy of
            the history is damaged; nothing is changed.
    """
    found = _find_ours(desc, record, undone=undone, where=where)
    if found is None:
        return None
    back = {} if undone else _dropped_user_items(found.items, found.end, found.taken, record, where)
    gone, kept = found.gone_labels(), found.kept_note()
    notes = [RESTORED_NOTE.format(entries=", ".join(_label_of(li) for _, li in sorted(back.items())))] if back else []
    notes += [GONE_NOTE.format(entries=", ".join(gone))] if gone else []
    notes += [kept] if kept else []
    return notes, found.take_out(back, active=not undone)


#: The revert's note for the user's entries brought back (``{entries}``: their labels).
RESTORED_NOTE = (
    "brought back your {entries}: darktable had dropped it (compress history) while autoretouch's entry replaced it"
)


@dataclass(frozen=True)
class DarktableRevert:
    """What :func:`revert_darktable` did.

    Attributes:
        notes: the user's entries brought back after darktable had dropped them (:data:`RESTORED_NOTE`), the user's
            later steps that went with ours (:data:`GONE_NOTE`) or stayed (:data:`KEPT_LATER_NOTE`).
        at: where our entries were in the active history when the user's steps follow them (a new application
            goes there, so those steps keep their effect); ``None`` when they were last or the history was
            restored exactly.
    """

    notes: tuple[str, ...] = ()
    at: int | None = None


def _reverted(desc: ET.Element, notes: Sequence[str], place: int) -> DarktableRevert:
    """The :class:`DarktableRevert` of a take-out: ``at`` is ``place`` when the user's steps follow it."""
    found = _history_of(desc)
    later = found is not None and place < found[2]
    return DarktableRevert(tuple(notes), place if later else None)


def _remove_our_entries(desc: ET.Element, record: dict[str, Any], where: str | Path) -> DarktableRevert | None:
    """Take our entries out of a history darktable has rewritten since; ``None`` (nothing changed) when unsure.

    Our entries must all be in the active history (:func:`_take_out`); the user's entries, before or after
    ours, stay as darktable wrote them (but for switches of ours, which go with ours), and the user's entries ours
    had overridden that darktable dropped come back. When one of ours is gone or was changed (its params edited in
    darktable), nothing is removed.
    """
    found = _take_out(desc, record, undone=False, where=where)
    return None if found is None else _reverted(desc, *found)


def remove_undone_entries(doc: XmpDocument, record: dict[str, Any]) -> bool:
    """Take out our entries that the user undid in darktable; ``False`` (nothing changed) when they are not there.

    Undoing (clicking an earlier item of the history stack) only moves ``history_end`` before our entries:
    they stay in the sidecar, and a redo would bring them back. So when every entry the record lists is found
    after ``history_end`` as we wrote it, those items are removed (with the user's undone switches of them) and the
    others renumbered; ``history_end``, which lies before them, stays where the user put it.
    """
    descs = [d for d in doc.descriptions() if d.find(_TRACKED[0]) is not None]
    return len(descs) == 1 and _take_out(descs[0], record, undone=True) is not None


def _marked(doc: XmpDocument) -> _Ours | None:
    """Our entries found by their name: the first active item named :data:`MARK` of each module instance.

    ``None`` when there are none (or no single, readable darktable history).
    """
    descs = [d for d in doc.descriptions() if d.find(_TRACKED[0]) is not None]
    found = _history_of(descs[0]) if len(descs) == 1 else None
    if found is None:
        return None
    history, items, end = found
    ours = first_marked(items, end)
    return _Ours(descs[0], history, items, end, ours, later_steps(items, end, ours)) if ours else None


def marked_labels(doc: XmpDocument) -> list[str]:
    """What :func:`take_out_marked` would take out of ``doc`` (its labels), without changing ``doc``.

    Empty when there are no entries named :data:`MARK` that count as ours (or no single, readable darktable history).
    """
    found = _marked(doc)
    return [] if found is None else found.labels()


def take_out_marked(doc: XmpDocument) -> tuple[list[str], DarktableRevert]:
    """Take out the entries named :data:`MARK` that are ours, in a sidecar without the record.

    That is the first active entry named :data:`MARK` of each module instance, and the user's later steps that go
    with it (``... switched off``). The user's entries before or after them stay (the later ones named :data:`MARK`
    get darktable's own label, so that they are not taken for ours again); a user's entry one of them had overridden
    shows again where darktable kept it (without the record, one darktable dropped cannot come back).

    Returns:
        The labels of what was taken out (empty when there was nothing), and where they were, when the user's steps
        follow them (:attr:`DarktableRevert.at`), with the :data:`KEPT_LATER_NOTE` when it has something to say.
    """
    found = _marked(doc)
    if found is None:
        return [], DarktableRevert()
    labels = found.labels()
    kept = found.kept_note()
    return labels, _reverted(found.desc, [kept] if kept else [], found.take_out({}, active=True))


def revert_darktable(doc: XmpDocument, record: dict[str, Any], *, force: bool = False) -> DarktableRevert:
    """Undo :func:`apply_darktable` from its record.

    Args:
        doc: the sidecar (modified in place).
        record: the record :func:`apply_darktable` returned.
        force: restore even when the history changed since (drops whatever was added after us).

    Returns:
        The notes for the outcome and where a new application goes (:class:`DarktableRevert`).

    Raises:
        SidecarError: the history changed since autoretouch wrote it (and not ``force``), or the record
            does not fit the document.
    """
    where = doc.path or "<sidecar>"
    descs = [d for d in doc.descriptions() if d.find(_TRACKED[0]) is not None]
    if not force and (len(descs) != 1 or history_fingerprint(descs[0]) != record.get("fingerprint")):
        done = _remove_our_entries(descs[0], record, where) if len(descs) == 1 else None
        if done is not None:
            return done  # darktable rewrote the sidecar, our entries are still there as we wrote them: taken out
        raise SidecarError(
            where,
            "the darktable history changed since autoretouch applied its entries (darktable rewrites it when "
            "you edit the photo); undo them in darktable's history stack instead",
        )
    replaced = record.get("replaced")
    if not isinstance(replaced, dict):
        raise SidecarError(where, "cannot revert: the autoretouch record has no 'replaced' data")
    restore_replaced(doc, replaced)
    return DarktableRevert()
