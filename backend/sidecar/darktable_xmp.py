"""darktable history stacks in XMP and ``.dtstyle`` form: pure functions on ElementTree elements and strings.

File IO, locking, atomic writes, backups and provenance belong to :mod:`backend.sidecar`; it parses the user's
sidecar safely, hands the ``rdf:Description`` element to :func:`append_history` (or builds a fresh one with
:func:`new_darktable_description`), and writes the tree back.

Decisions (darktable 4.2.1 semantics, see ``src/common/exif.cc`` and ``src/develop/develop.c``):

``auto_presets_applied``
    A fresh sidecar gets ``"1"``: the stack is exactly ours. For a raw, darktable then adds only its mandatory
    modules (rawprepare, demosaic, colorin, colorout, gamma, temperature, highlights, flip) and *no* workflow
    presets (no filmic, no +0.7 EV exposure), so the result is what the renderer computes. When we append to
    an existing darktable sidecar we keep the user's value: their history already reflects it.

``history_end`` below the entry count (the user undid steps)
    darktable keeps undone entries at ``num >= history_end`` as a redo branch. Appending after them with
    ``history_end = count`` would silently re-apply edits the user had undone; leaving ``history_end`` alone
    would leave ours inactive. We therefore **insert our entries at ``history_end``**: the image shows the
    user's current state plus ours, every undone entry is kept (still inactive, above the new
    ``history_end``), nothing is dropped or replaced. The undone entries' ``darktable:num`` (and the
    ``darktable:mask_num`` of their ``masks_history`` items) shift up by the number of entries we add, their
    content is untouched.

Same module instance
    An entry for an ``(operation, multi_priority)`` the user already has overrides the user's settings of that
    instance from our entry on (darktable keeps the last entry per instance), exactly like applying a style;
    the user's entry stays in the history. :class:`AppendResult` lists such instances, and the note names each
    (with the name the user gave it, and when ours switches it on or drops its blending). Our entry keeps the
    instance's name (``multi_name``) when the user named it (with ``mark``: ``my curve (autoretouch)``, so that it
    is still found as ours without the record); its blending is the module default (none), as our settings were
    made for the whole image.

darktable's auto-applied default exposure
    darktable adds its "scene-referred default" exposure (+0.7 EV, the camera's exposure bias compensated) and
    filmic rgb to a raw it imports without a sidecar. That exposure is part of how darktable shows the photo, not
    a user's edit: overriding it would drop the +0.7 EV and the compensation, and a "+0.5 EV" suggestion would
    darken the photo. So when the exposure instance ours would override is exactly that default, ours becomes the
    next exposure instance on top of it (with an ``iop_order_list``), and a note says so.

Applying again (``at``)
    A re-application goes where our earlier entries were (``append_history(..., at=...)``), not after the
    user's history: the user's steps after ours (a later exposure tweak) stay after ours and keep their effect.

``iop_order``
    Appending keeps the user's ``iop_order_version``; a ``darktable:iop_order_list`` is written or extended
    only when our entries use an instance the order does not have yet (``rgbcurve`` instance 1). One exception:
    on a non-raw file whose order runs one of ours before ``colorin`` (V30, which darktable gives a JPEG/PNG it
    imports without a sidecar: exposure would scale gamma-encoded values), ``colorin`` moves right after
    ``demosaic`` (V30_JPG's order, what a fresh sidecar gets) when none of the user's modules lies between them,
    so none renders differently; otherwise the order stays and the note says what the user will see.

History hashes
    darktable copies ``history_current_hash`` from the XMP into its library. After we change the history the
    stored value would be stale (an image that looked unedited would stay flagged as unedited, and its
    thumbnail may be taken from the embedded JPEG), so when the attribute exists we replace it with an MD5
    over the new active history; darktable recomputes its own value when it next writes the history.
    ``history_basic_hash`` and ``history_auto_hash`` are left as they are.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from backend.errors import InvalidRecipeError, SidecarError
from backend.sidecar.darktable_ours import (
    MASK_DRAWN,
    MASK_ENABLED,
    MASK_PARAMETRIC,
    MASK_RASTER,
    blend_fields,
    mark_name,
)
from backend.translate.darktable_history import HistoryEntry
from backend.translate.darktable_order import (
    IOP_ORDER_CUSTOM,
    IOP_ORDER_LEGACY,
    IOP_ORDER_SEQUENCES,
    build_iop_order_list,
    iop_order_version_for,
    merge_instances,
    parse_iop_order_list,
    serialize_iop_order_list,
)
from backend.translate.darktable_pack import decode_params, unpack_params

__all__ = [
    "COLORIN_KEPT_NOTE",
    "COLORIN_MOVED_NOTE",
    "DEFAULT_EXPOSURE_NOTE",
    "DT_NS",
    "FRESH_STACK_NOTE",
    "LATER_NOTE",
    "OVERRIDES_NOTE",
    "RDF_NS",
    "XMPMM_NS",
    "XMP_NS",
    "XMP_VERSION",
    "X_NS",
    "AppendResult",
    "append_history",
    "current_order",
    "entry_from_li",
    "entry_to_li",
    "history_to_dtstyle",
    "new_darktable_description",
    "new_darktable_xmp",
    "xmp_to_string",
]

#: The darktable namespace; darktable matches this exact string.
DT_NS = "http://darktable.sf.net/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
X_NS = "adobe:ns:meta/"
XMP_NS = "http://ns.adobe.com/xap/1.0/"
XMPMM_NS = "http://ns.adobe.com/xap/1.0/mm/"

#: ``DT_XMP_EXIF_VERSION`` written by darktable 4.2.
XMP_VERSION = 5

for _prefix, _uri in (("x", X_NS), ("rdf", RDF_NS), ("darktable", DT_NS), ("xmp", XMP_NS), ("xmpMM", XMPMM_NS)):
    ET.register_namespace(_prefix, _uri)


def _dt(name: str) -> str:
    return f"{{{DT_NS}}}{name}"


def _rdf(name: str) -> str:
    return f"{{{RDF_NS}}}{name}"


@dataclass(frozen=True)
class AppendResult:
    """What :func:`append_history` did.

    Attributes:
        added: number of entries we added.
        first_num: ``darktable:num`` of our first entry.
        history_end_before: the user's effective ``history_end`` (``min(history_end, count)``).
        history_end_after: the new ``history_end`` (= ``history_end_before + added``).
        shifted: number of undone (inactive) user entries moved after ours (their ``num`` + ``added``).
        overridden: ``(operation, multi_priority)`` of the user's active module instances our entries override.
        iop_order_version: ``iop_order_version`` after the change.
        iop_order_list_changed: whether ``iop_order_list`` was written or extended.
        auto_presets_applied: the value now in the sidecar.
        notes: human-readable remarks for logs and the CLI.
    """

    added: int
    first_num: int
    history_end_before: int
    history_end_after: int
    shifted: int
    overridden: tuple[tuple[str, int], ...]
    iop_order_version: int
    iop_order_list_changed: bool
    auto_presets_applied: str
    notes: tuple[str, ...] = field(default_factory=tuple)


def entry_to_li(entry: HistoryEntry, num: int) -> ET.Element:
    """One ``rdf:li`` of ``darktable:history`` (attribute order as darktable 4.2 writes it)."""
    li = ET.Element(_rdf("li"))
    li.set(_dt("num"), str(num))
    li.set(_dt("operation"), entry.operation)
    li.set(_dt("enabled"), "1" if entry.enabled else "0")
    li.set(_dt("modversion"), str(entry.modversion))
    li.set(_dt("params"), entry.params)
    li.set(_dt("multi_name"), entry.multi_name)
    li.set(_dt("multi_priority"), str(entry.multi_priority))
    li.set(_dt("blendop_version"), str(entry.blendop_version))
    if entry.blendop_params is not None:
        li.set(_dt("blendop_params"), entry.blendop_params)
    return li


def entry_from_li(li: ET.Element) -> HistoryEntry:
    """Read a ``darktable:history`` ``rdf:li`` back into a :class:`HistoryEntry` (attribute form only).

    Raises:
        SidecarError: ``operation``, ``modversion`` or ``params`` is missing (darktable would reject the
            whole history) or not a number where one is needed.
    """
    try:
        op, mv, params = li.attrib[_dt("operation")], li.attrib[_dt("modversion")], li.attrib[_dt("params")]
        return HistoryEntry(
            operation=op,
            modversion=int(mv),
            params=params,
            enabled=li.get(_dt("enabled")) == "1",
            multi_name=li.get(_dt("multi_name"), ""),
            multi_priority=int(li.get(_dt("multi_priority"), "0")),
            blendop_version=int(li.get(_dt("blendop_version"), "1")),
            blendop_params=li.get(_dt("blendop_params")),
        )
    except KeyError as exc:
        raise SidecarError("<xmp>", f"darktable history entry lacks {exc.args[0]}") from None
    except ValueError as exc:
        raise SidecarError("<xmp>", f"darktable history entry has a bad number: {exc}") from None


def _order_attrs(entries: Sequence[HistoryEntry], is_raw: bool) -> dict[str, str]:
    version = iop_order_version_for(is_raw)
    attrs = {_dt("iop_order_version"): str(version)}
    extra = [e.instance for e in entries if e.multi_priority > 0]
    if extra:
        attrs[_dt("iop_order_list")] = build_iop_order_list(version, [e.instance for e in entries])
    return attrs


def _current_hash(entries: Iterable[HistoryEntry]) -> str:
    h = hashlib.md5(usedforsecurity=False)
    for e in entries:
        h.update(f"{e.operation}\0{e.multi_priority}\0{int(e.enabled)}\0{e.params}\0".encode())
    return h.hexdigest()


def new_darktable_description(entries: Sequence[HistoryEntry], *, is_raw: bool) -> ET.Element:
    """A fresh ``rdf:Description`` holding exactly our stack (``auto_presets_applied="1"``).

    Args:
        entries: history entries in pipeline order (from :func:`recipe_to_history`); may be empty.
        is_raw: selects ``iop_order_version`` 2 (raw) or 3 (JPEG/PNG/TIFF).

    Returns:
        An ``rdf:Description`` element with the darktable attributes, an empty ``darktable:masks_history``
        and ``darktable:history``. With no entries, ``history_end`` is 0 and ``auto_presets_applied`` is
        ``"0"`` (darktable ignores the flag without history and would print a warning).
    """
    desc = ET.Element(_rdf("Description"), {_rdf("about"): ""})
    desc.set(_dt("xmp_version"), str(XMP_VERSION))
    desc.set(_dt("raw_params"), "0")
    desc.set(_dt("auto_presets_applied"), "1" if entries else "0")
    desc.set(_dt("history_end"), str(len(entries)))
    for k, v in _order_attrs(entries, is_raw).items():
        desc.set(k, v)
    masks = ET.SubElement(desc, _dt("masks_history"))
    ET.SubElement(masks, _rdf("Seq"))
    history = ET.SubElement(desc, _dt("history"))
    seq = ET.SubElement(history, _rdf("Seq"))
    for i, entry in enumerate(entries):
        seq.append(entry_to_li(entry, i))
    return desc


def new_darktable_xmp(entries: Sequence[HistoryEntry], *, is_raw: bool) -> ET.Element:
    """A complete ``x:xmpmeta`` tree (``x:xmpmeta/rdf:RDF/rdf:Description``) for a fresh sidecar."""
    root = ET.Element(f"{{{X_NS}}}xmpmeta")
    rdf = ET.SubElement(root, _rdf("RDF"))
    rdf.append(new_darktable_description(entries, is_raw=is_raw))
    return root


def xmp_to_string(root: ET.Element) -> str:
    """Serialise an XMP tree as darktable-readable UTF-8 text with an XML declaration (indented)."""
    tree = ET.ElementTree(root)
    ET.indent(tree, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _history_seq(desc: ET.Element, create: bool) -> ET.Element | None:
    history = desc.find(_dt("history"))
    if history is None:
        if not create:
            return None
        history = ET.SubElement(desc, _dt("history"))
    seq = history.find(_rdf("Seq"))
    if seq is None and create:
        seq = ET.SubElement(history, _rdf("Seq"))
    return seq


def _int_attr(desc: ET.Element, name: str, source: str) -> int | None:
    raw = desc.get(_dt(name))
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise SidecarError(source, f"darktable:{name} is not an integer: {raw!r}") from None


#: The note when the sidecar had no darktable data: our entries make a fresh darktable stack.
FRESH_STACK_NOTE = "no darktable data yet: wrote a fresh darktable stack"


def _append_fresh(description: ET.Element, entries: Sequence[HistoryEntry], is_raw: bool) -> AppendResult:
    """A description without darktable data: a fresh stack of our entries."""
    fresh = new_darktable_description(entries, is_raw=is_raw)
    for k, v in fresh.attrib.items():
        if k != _rdf("about"):
            description.set(k, v)
    if description.find(_dt("masks_history")) is None:
        masks = ET.SubElement(description, _dt("masks_history"))
        ET.SubElement(masks, _rdf("Seq"))
    new_seq = _history_seq(description, create=True)
    assert new_seq is not None
    for i, entry in enumerate(entries):
        new_seq.append(entry_to_li(entry, i))
    return AppendResult(
        added=len(entries),
        first_num=0,
        history_end_before=0,
        history_end_after=len(entries),
        shifted=0,
        overridden=(),
        iop_order_version=int(fresh.get(_dt("iop_order_version"), "0")),
        iop_order_list_changed=fresh.get(_dt("iop_order_list")) is not None,
        auto_presets_applied=fresh.get(_dt("auto_presets_applied"), "0"),
        notes=(FRESH_STACK_NOTE,),
    )


def _user_history(description: ET.Element, lis: Sequence[ET.Element], src: str) -> list[HistoryEntry]:
    """The user's entries, after checking that we can extend them (nothing is changed before this passes).

    Raises:
        SidecarError: an ``xmp_version`` other than 4 or 5, entries in element form, or a bad ``num``.
    """
    xmp_version = _int_attr(description, "xmp_version", src)
    if xmp_version not in (4, 5):
        raise SidecarError(
            src,
            f"darktable xmp_version {xmp_version} is not 4 or 5 (written by darktable < 3.0); "
            "open the photo in darktable once so it rewrites the sidecar",
        )
    for i, li in enumerate(lis):
        if li.get(_dt("operation")) is None or li.get(_dt("params")) is None:
            raise SidecarError(src, f"darktable history item {i} is not in attribute form (or lacks operation)")
        num_raw = li.get(_dt("num"))
        if num_raw is not None and num_raw.strip() != str(i):
            raise SidecarError(src, f"darktable history item {i} has darktable:num={num_raw!r}, expected {i}")
    try:
        return [entry_from_li(li) for li in lis]
    except SidecarError as exc:
        raise SidecarError(src, exc.reason) from None


#: Modules whose effect does not depend on which side of ``colorin`` they run: they move whole pixels or none
#: (flip, crop) or process none (mask_manager).
_ORDER_NEUTRAL = frozenset({"flip", "crop", "mask_manager"})


@dataclass(frozen=True)
class _OrderPlan:
    """The pipe order a non-raw file's history gets so that our modules before ``colorin`` act on linear light.

    Attributes:
        version: the ``iop_order_version`` to write (``None``: unchanged).
        list_text: the ``iop_order_list`` to start from (``None``: the description's own).
        note: what the outcome says (the order changed, or why not and what the user sees).
    """

    version: int | None = None
    list_text: str | None = None
    note: str | None = None


def current_order(description: ET.Element, src: str) -> list[tuple[str, int]] | None:
    """The history's pipe order: its ``iop_order_list``, or its version's built-in order (``None``: unknown).

    Raises:
        SidecarError: ``iop_order_version`` is not an integer (a malformed list gives ``None``).
    """
    list_text = description.get(_dt("iop_order_list"))
    if list_text is not None:
        try:
            return parse_iop_order_list(list_text)
        except InvalidRecipeError:
            return None  # _order_after reports it
    version = _int_attr(description, "iop_order_version", src)
    sequence = IOP_ORDER_SEQUENCES.get(IOP_ORDER_LEGACY if version is None else version)
    return None if sequence is None else [(op, 0) for op in sequence]


def _exposure_gain(entries: Sequence[HistoryEntry]) -> str:
    """``' (+0.5 EV: about x2.14 in linear light instead of x1.41)'`` for our exposure, ``''`` without one."""
    for e in entries:
        if e.operation == "exposure":
            ev = float(unpack_params("exposure", decode_params(e.params))["exposure"])
            return f" ({ev:+.2g} EV: about x{2 ** (2.2 * ev):.2f} in linear light instead of x{2**ev:.2f})"
    return ""


def _colorin_first(
    description: ET.Element, user: Sequence[HistoryEntry], entries: Sequence[HistoryEntry], is_raw: bool, src: str
) -> _OrderPlan:
    """Move ``colorin`` right after ``demosaic`` (as V30_JPG has it) when ours on a non-raw file would run before it.

    darktable gives a JPEG/PNG it imports without a sidecar order V30, where exposure runs before the input colour
    profile, on display-encoded values: +0.5 EV then multiplies linear light by about 2.1 instead of 1.41. Moving
    ``colorin`` changes nothing for the user's modules when none of them lies between ``demosaic`` and
    ``colorin`` (the neutral flip, crop and mask_manager aside; undone entries count too): then the order becomes
    V30_JPG's. Otherwise it stays, and the note says what the user will see.
    """
    order = None if is_raw else current_order(description, src)
    where = {inst: i for i, inst in enumerate(order or [])}
    colorin, demosaic = where.get(("colorin", 0)), where.get(("demosaic", 0))
    if order is None or colorin is None or demosaic is None:
        return _OrderPlan()
    early = [e for e in entries if where.get((e.operation, 0), colorin) < colorin]
    if not early:
        return _OrderPlan()
    between = {op for (op, _), i in where.items() if demosaic < i < colorin} - _ORDER_NEUTRAL
    blocking = sorted({e.operation for e in user if e.operation in between})
    names = ", ".join(dict.fromkeys(e.operation for e in early))
    if blocking:
        return _OrderPlan(
            note=COLORIN_KEPT_NOTE.format(ours=names, gain=_exposure_gain(early), users=", ".join(blocking))
        )
    moved = [inst for inst in order if inst != ("colorin", 0)]
    moved.insert(moved.index(("demosaic", 0)) + 1, ("colorin", 0))
    note = COLORIN_MOVED_NOTE.format(ours=names)
    if description.get(_dt("iop_order_list")) is None and moved == [(op, 0) for op in IOP_ORDER_SEQUENCES[3]]:
        return _OrderPlan(version=3, note=note)
    return _OrderPlan(list_text=serialize_iop_order_list(moved), note=note)


#: The note when the order of a non-raw file's history changed so that ours acts on linear light.
COLORIN_MOVED_NOTE = (
    "darktable's module order for this file ran {ours} before the input colour profile (on gamma-encoded values); "
    "changed it to darktable's order for JPEG/non-raw input (colour profile first), so autoretouch's settings act as "
    "intended; none of your modules is affected by the change"
)
#: The note when it could not change (``{users}``: the user's modules that would render differently).
COLORIN_KEPT_NOTE = (
    "darktable's module order for this file runs {ours} before the input colour profile, on gamma-encoded values, so "
    "autoretouch's exposure acts much more strongly than intended{gain}; the order was left as it is because your "
    "{users} would render differently after a change. To fix it, choose darktable's order for JPEG/non-raw input in "
    "the module order module and apply again"
)


def _order_after(
    description: ET.Element, entries: Sequence[HistoryEntry], src: str, plan: _OrderPlan
) -> tuple[int, str | None, str | None]:
    """``(iop_order_version, the current list or None, the new list or None)`` for the plan and our extra instances.

    Raises:
        SidecarError: a malformed ``iop_order_list``, or an unknown ``iop_order_version`` without a list.
    """
    order_version = _int_attr(description, "iop_order_version", src) if plan.version is None else plan.version
    if order_version is None:
        order_version = IOP_ORDER_LEGACY  # what darktable assumes for xmp_version 4/5 without the attribute
    list_text = description.get(_dt("iop_order_list"))
    base = list_text if plan.list_text is None else plan.list_text
    needed = [e.instance for e in entries if e.multi_priority > 0]
    new_list = plan.list_text
    if needed:
        if base is not None:
            try:
                current = parse_iop_order_list(base)
                merged = merge_instances(current, needed)
            except InvalidRecipeError as exc:
                raise SidecarError(src, f"darktable:iop_order_list: {exc}") from None
            if merged != current or plan.list_text is not None:
                new_list = serialize_iop_order_list(merged)
        elif order_version in IOP_ORDER_SEQUENCES:
            new_list = build_iop_order_list(order_version, needed)
        else:
            raise SidecarError(src, f"iop_order_version {order_version} has no list and no built-in order")
    return order_version, list_text, new_list


def _insert_entries(
    description: ET.Element, lis: Sequence[ET.Element], at: int, end: int, entries: Sequence[HistoryEntry]
) -> int:
    """Insert our entries at place ``at`` of the active history (at most ``history_end``).

    The entries from there on (the user's later steps, the undone ones) and their masks shift above ours.

    Returns:
        How many undone entries were shifted.
    """
    k = len(entries)
    seq = _history_seq(description, create=True)
    assert seq is not None
    for i, li in enumerate(lis[at:], start=at):
        if li.get(_dt("num")) is not None:
            li.set(_dt("num"), str(i + k))
    masks_seq = description.find(f"{_dt('masks_history')}/{_rdf('Seq')}")
    for m in [] if masks_seq is None or at == len(lis) else masks_seq:
        raw = m.get(_dt("mask_num"))
        if raw is not None and raw.strip().lstrip("-").isdigit() and int(raw) >= at:
            m.set(_dt("mask_num"), str(int(raw) + k))
    insert_at = list(seq).index(lis[at]) if at < len(lis) else len(list(seq))
    for j, entry in enumerate(entries):
        seq.insert(insert_at + j, entry_to_li(entry, at + j))
    description.set(_dt("history_end"), str(end + k))
    return len(lis) - end


#: Begins the note naming the user's instances our entries override (their settings are kept for revert).
OVERRIDES_NOTE = "overrides the user's "
#: Begins the note naming the user's later steps that stay after ours, and so keep their effect.
LATER_NOTE = "kept your later darktable steps after autoretouch's, so they stay in effect: "

#: The kinds of mask a blend's ``mask_mode`` may use, as the note names them.
_MASK_KINDS = ((MASK_DRAWN, "a drawn mask"), (MASK_PARAMETRIC, "a parametric mask"), (MASK_RASTER, "a raster mask"))


def _blend_summary(blendop_params: str | None) -> str | None:
    """How a user's entry blends (``"blended at 50 % opacity with a drawn mask"``); ``None`` when it does not."""
    fields = blend_fields(blendop_params or "")
    if fields is None or fields[1] is None:
        return None
    mask_mode, opacity, _ = fields
    if not mask_mode & MASK_ENABLED:
        return None
    masks = [name for bit, name in _MASK_KINDS if mask_mode & bit]
    return f"blended at {opacity:g} % opacity" + (f" with {' and '.join(masks)}" if masks else "")


def _overridden_label(user: HistoryEntry) -> str:
    """How the note names a user's instance ours overrides, with what ours changes beyond its settings.

    ``exposure (instance 0, blended at 50 % opacity: blending not kept)``,
    ``colorbalancergb (instance 0, switched off: now on)``, ``rgbcurve (instance 1 "my curve")``.
    """
    details = []
    if not user.enabled:
        details.append("switched off: now on")
    blend = _blend_summary(user.blendop_params)
    if blend is not None:
        details.append(f"{blend}: blending not kept")
    name = f' "{user.multi_name}"' if user.multi_name else ""
    return f"{user.operation} (instance {user.multi_priority}{name}{''.join(', ' + d for d in details)})"


def _keep_user_names(
    user: Sequence[HistoryEntry], entries: Sequence[HistoryEntry], *, mark: bool = False
) -> list[HistoryEntry]:
    """Our entries, each taking the name the user gave the instance it overrides (``multi_name``).

    A name of digits only is darktable's own label of a new instance (``1``), not the user's: ours keeps its own.
    With ``mark``, each of ours is named as autoretouch's for the instance it ends up on
    (:func:`~backend.sidecar.darktable_ours.mark_name`: ``autoretouch``, ``autoretouch 1``, or the user's name with
    `` (autoretouch)``), so that it is found without the record.
    """
    names = {e.instance: e.multi_name for e in user if e.multi_name.strip() and not e.multi_name.strip().isdigit()}
    if mark:
        return [replace(e, multi_name=mark_name(e.multi_priority, names.get(e.instance, ""))) for e in entries]
    return [replace(e, multi_name=names[e.instance]) if e.instance in names else e for e in entries]


#: The note when ours goes on top of darktable's auto-applied default exposure (``{instance}``: ours).
DEFAULT_EXPOSURE_NOTE = (
    "darktable's scene-referred default exposure (+0.7 EV, the camera's exposure bias compensated) stays: "
    "autoretouch's exposure is a second instance on top of it ({instance}), so it brightens or darkens the photo "
    "as darktable shows it now"
)
#: ... and when darktable's filmic rgb is in the history too.
FILMIC_NOTE = "; darktable's filmic rgb still tone-maps the result"


def _is_default_exposure(entry: HistoryEntry) -> bool:
    """Whether an entry is darktable 4.2's "scene-referred default" exposure, as it auto-applies it to a raw.

    That is instance 0, on, unnamed, unblended, at module version 6: manual mode, black −2⁻¹², +0.7 EV with the
    camera's exposure bias compensated. A user who changed any of it made it their own edit.
    """
    if entry.instance != ("exposure", 0) or not entry.enabled or entry.multi_name or entry.modversion != 6:
        return False
    if _blend_summary(entry.blendop_params) is not None:
        return False
    try:
        fields = unpack_params("exposure", decode_params(entry.params))
    except InvalidRecipeError:
        return False
    wanted = {
        "mode": 0,
        "black": -(2.0**-12),
        "exposure": struct.unpack("<f", struct.pack("<f", 0.7))[0],
        "compensate_exposure_bias": 1,
    }
    return all(fields[k] == v for k, v in wanted.items())


def _over_default_exposure(
    user: Sequence[HistoryEntry], active: int, entries: Sequence[HistoryEntry]
) -> tuple[list[HistoryEntry], list[str]]:
    """Our exposure as a new instance when the one we would override is darktable's auto-applied default.

    darktable adds the default (with filmic rgb) to a raw it imports without a sidecar; it is part of how the photo
    looks in darktable, not a user's edit. Overriding it would drop its +0.7 EV and the bias compensation, so a
    "+0.5 EV" suggestion would darken the photo. Ours goes on top instead (the next free instance).

    Args:
        user: the user's whole history (instance numbers in use, undone entries included).
        active: how many of them come before ours (the user's state ours is applied to).
        entries: ours.

    Returns:
        Our entries (the exposure one moved to its new instance) and the notes saying so.
    """
    last = {e.instance: e for e in user[:active]}
    default = last.get(("exposure", 0))
    if default is None or not _is_default_exposure(default) or ("exposure", 0) not in {e.instance for e in entries}:
        return list(entries), []
    free = 1 + max(e.multi_priority for e in user if e.operation == "exposure")
    moved = [replace(e, multi_priority=free) if e.instance == ("exposure", 0) else e for e in entries]
    filmic = any(e.operation == "filmicrgb" and e.enabled for e in last.values())
    return moved, [
        DEFAULT_EXPOSURE_NOTE.format(instance=f"exposure (instance {free})") + (FILMIC_NOTE if filmic else "")
    ]


def _instance_notes(user: Sequence[HistoryEntry], at: int, end: int, entries: Sequence[HistoryEntry]) -> list[str]:
    """The notes on the user's module instances that ours meet.

    An instance the user set before ours is overridden (the note names each, with its name, and says when ours
    switches it on or drops its blending); one the user set again after ours stays in effect.
    """
    ours = {e.instance for e in entries}
    last = {e.instance: e for e in user[:at]}
    overridden = [last[i] for i in sorted(set(last) & ours)]
    later = sorted({e.instance for e in user[at:end]} & ours)
    notes = [OVERRIDES_NOTE + ", ".join(_overridden_label(e) for e in overridden)] if overridden else []
    if later:
        notes.append(LATER_NOTE + ", ".join(f"{op} (instance {p})" for op, p in later))
    return notes


def append_history(
    description: ET.Element,
    entries: Sequence[HistoryEntry],
    *,
    is_raw: bool,
    source: str | Path = "<sidecar>",
    at: int | None = None,
    mark: bool = False,
) -> AppendResult:
    """Add our entries to the darktable history of an existing ``rdf:Description``, in place.

    Nothing of the user's is removed or replaced: their entries, masks and every foreign attribute stay. See
    the module docstring for the ``history_end``, instance, order and hash decisions.

    Args:
        description: the sidecar's ``rdf:Description`` element (modified in place).
        entries: our entries in pipeline order.
        is_raw: used only when the description has no darktable data yet (order version 2 or 3).
        source: the sidecar's path, for error messages.
        at: where in the active history our entries go (``None``: at ``history_end``, after the user's history).
            Re-applying gives the place our earlier entries had, so the user's steps after them stay after ours.
        mark: name our entries as autoretouch's (``autoretouch``, ``autoretouch N``, ``my curve (autoretouch)``)
            for the instance each ends up on, after a move onto darktable's default exposure; without it ours
            keep their names, except that one on an instance the user named takes the user's name.

    Returns:
        An :class:`AppendResult`.

    Raises:
        SidecarError: darktable data we cannot extend safely: ``xmp_version`` other than 4 or 5 (darktable
            < 3.0 layouts), history entries in element form or with a bad ``num``, an unknown
            ``iop_order_version`` without a list, or a malformed ``iop_order_list``.
    """
    src = str(source)
    seq = _history_seq(description, create=False)
    lis = [] if seq is None else [c for c in seq if c.tag == _rdf("li")]
    if not lis and description.get(_dt("xmp_version")) is None:
        return _append_fresh(description, _keep_user_names([], entries, mark=mark), is_raw)
    # Validate everything before touching the tree, so that an error leaves it unchanged.
    user_entries = _user_history(description, lis, src)
    end_attr = _int_attr(description, "history_end", src)
    end = len(lis) if end_attr is None else max(0, min(end_attr, len(lis)))
    at = end if at is None else max(0, min(at, end))
    entries, notes = _over_default_exposure(user_entries, at, entries)
    plan = _colorin_first(description, user_entries, entries, is_raw, src)
    order_version, list_text, new_list = _order_after(description, entries, src, plan)
    notes += [plan.note] if plan.note else []

    entries = _keep_user_names(user_entries[:at], entries, mark=mark)
    notes += _instance_notes(user_entries, at, end, entries)
    shifted = _insert_entries(description, lis, at, end, entries)
    if shifted:
        notes.append(f"{shifted} undone darktable step(s) kept after our entries (still inactive)")
    if plan.version is not None:
        description.set(_dt("iop_order_version"), str(plan.version))
    if new_list is not None:
        description.set(_dt("iop_order_list"), new_list)
    if order_version == IOP_ORDER_CUSTOM and list_text is None and new_list is None:
        notes.append("iop_order_version 0 (custom) without a list: darktable falls back to its default order")
    if description.get(_dt("history_current_hash")) is not None:
        active = [*user_entries[:at], *entries, *user_entries[at:end]]
        description.set(_dt("history_current_hash"), _current_hash(active))
    return AppendResult(
        added=len(entries),
        first_num=at,
        history_end_before=end,
        history_end_after=end + len(entries),
        shifted=shifted,
        overridden=tuple(sorted({e.instance for e in user_entries[:at]} & {e.instance for e in entries})),
        iop_order_version=order_version,
        iop_order_list_changed=new_list is not None,
        auto_presets_applied=description.get(_dt("auto_presets_applied"), ""),
        notes=tuple(notes),
    )


def history_to_dtstyle(
    entries: Sequence[HistoryEntry], name: str, description: str = "", *, iop_list: str | None = None
) -> str:
    """A darktable 4.2 ``.dtstyle`` document holding our entries (for ``dt.styles.import`` + apply).

    When darktable applies the style (append mode), each item overrides a disabled instance of its module or
    becomes a new instance after the existing ones, so ``rgbcurve`` instance 1 needs no ``iop_list``.

    Args:
        entries: history entries in pipeline order.
        name: style name (must be unique in the user's library; darktable refuses to import a duplicate).
        description: free text shown in darktable's style tooltip.
        iop_list: optional ``<iop_list>`` (an ``iop_order_list`` text); omitted by default.

    Returns:
        The XML text (UTF-8 declaration, no trailing data).
    """
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<darktable_style version="1.0">',
        "<info>",
        f"  <name>{escape(name)}</name>",
        f"  <description>{escape(description)}</description>",
    ]
    if iop_list:
        lines.append(f"  <iop_list>{escape(iop_list)}</iop_list>")
    lines += ["</info>", "<style>"]
    for i, e in enumerate(entries):
        lines += [
            "  <plugin>",
            f"    <num>{i}</num>",
            f"    <module>{e.modversion}</module>",
            f"    <operation>{escape(e.operation)}</operation>",
            f"    <op_params>{escape(e.params)}</op_params>",
            f"    <enabled>{1 if e.enabled else 0}</enabled>",
            f"    <blendop_params>{escape(e.blendop_params or '')}</blendop_params>",
            f"    <blendop_version>{e.blendop_version}</blendop_version>",
            f"    <multi_priority>{e.multi_priority}</multi_priority>",
            f"    <multi_name>{escape(e.multi_name)}</multi_name>",
            "  </plugin>",
        ]
    lines += ["</style>", "</darktable_style>"]
    return "\n".join(lines) + "\n"
