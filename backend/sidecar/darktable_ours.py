"""Which entries of a darktable history are autoretouch's, and which of the user's later steps follow from them.

darktable only ever appends to a history (a darkroom change, a switch, a blend, a name, a pasted module or style)
and its "compress history" only removes entries (all but the last of each module instance), keeping the order. So:

* **With the record** (:func:`match_record`): the record lists a digest of each whole entry we wrote
  (:func:`step_digest`: operation, params, on/off, blending, name, instance; ``"exact"``), or, in a record from
  before that, of its operation and params only (:func:`entry_digest`; ``"entries"``). Each of ours is the
  earliest active entry that matches, after as many matches as the history before ours already had (those are the
  user's); a user's later entry (a switch, a blend, a name of ours) is never taken for ours while ours is there.
  When darktable's compress may have removed such an earlier match, the entry cannot be told apart and nothing is
  taken; when it removed ours but kept the user's switch of it, that switch stands for ours (all that is left).
* **Without the record** (darktable's "copy" of an image, a sidecar darktable wrote afresh): our entries carry the
  instance name :data:`MARK` (:func:`mark_name`), which darktable keeps, and a user's darkroom change of our module
  inherits it. So only the first marked entry of each module instance is taken for ours (:func:`first_marked`);
  the later ones of that instance are the user's.
* **The user's later steps on our instances** (:func:`later_steps`): darktable writes a switch (off or on), a blend
  or drawn mask, or a new name of our module as a new entry holding our params. One that only switches ours off
  or on again goes with ours (taking ours out leaves the instance as the user had it before ours, which is what the
  switch was for); so does every such step when the instance ends as ours again (the user set it back). One that
  blends, masks or names ours is the user's work and stays, with our settings in it; every later step stays, and
  one still named :data:`MARK` gets darktable's own label (:func:`unmarked_name`) so that it is never taken for ours
  later on.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from backend.errors import InvalidRecipeError
from backend.sidecar.xmp import NS
from backend.translate.darktable import decode_params

__all__ = [
    "MARK",
    "MASK_DRAWN",
    "MASK_ENABLED",
    "MASK_PARAMETRIC",
    "MASK_RASTER",
    "LaterSteps",
    "blend_fields",
    "entry_digest",
    "first_marked",
    "instance_of",
    "is_marked",
    "later_steps",
    "mark_name",
    "match_record",
    "params_digest",
    "same_look",
    "step_digest",
    "unmarked_name",
]

_DT = NS["darktable"]

#: The instance name (``multi_name``) autoretouch gives its darktable entries: darktable shows it in the module's
#: header and keeps it when it copies an image or writes a sidecar afresh, where autoretouch's record is lost.
#: A module's instance N > 0 is ``autoretouch N``; an instance the user named keeps the name: ``my curve
#: (autoretouch)``.
MARK = "autoretouch"
_MARKED = re.compile(rf"{MARK}(?: (?P<number>[0-9]+))?|(?P<user>.*\S) \({MARK}\)", re.DOTALL)
#: darktable 4.2 keeps a module instance's name in ``char multi_name[128]``: at most 127 bytes of UTF-8.
_NAME_BYTES = 127


def mark_name(priority: int, user_name: str = "") -> str:
    """The name of our entry for a module instance: :data:`MARK`, ``autoretouch N``, or ``USER NAME (autoretouch)``.

    Args:
        priority: the instance (``multi_priority``).
        user_name: the name the user gave the instance ours overrides; darktable's own label of an instance
            (digits only), an empty one and one already marked do not count. A long one is shortened to fit
            darktable's 127 bytes with the suffix.
    """
    user = user_name.strip()
    if not user or user.isdigit() or is_marked(user):
        return MARK if not priority else f"{MARK} {priority}"
    suffix = f" ({MARK})"
    kept = user.encode("utf-8")[: _NAME_BYTES - len(suffix)].decode("utf-8", "ignore").rstrip()
    return f"{kept}{suffix}"


def is_marked(name: str) -> bool:
    """Whether an instance name is one :func:`mark_name` gives."""
    return _MARKED.fullmatch(name.strip()) is not None


def unmarked_name(name: str) -> str:
    """The name without our mark: the user's name (``my curve``), or darktable's label (``""``, ``"1"``).

    A name that is not marked is returned as it is.
    """
    found = _MARKED.fullmatch(name.strip())
    if found is None:
        return name
    return found["user"] or found["number"] or ""


def entry_digest(operation: str, params: str) -> tuple[str, str]:
    """``(operation, first 16 hex digits of SHA-256 over the decoded params bytes)`` of one history entry.

    The params are compared decoded, because darktable may write back the hex form of what we wrote in
    gz form or the other way round (its ``compress_xmp_tags`` preference); text that does not decode is
    hashed as it is.
    """
    try:
        blob = decode_params(params)
    except InvalidRecipeError:
        blob = params.strip().encode("utf-8")
    return operation, hashlib.sha256(blob).hexdigest()[:16]


def _attr(li: ET.Element, name: str) -> str:
    return (li.get(f"{{{_DT}}}{name}") or "").strip()


def instance_of(li: ET.Element) -> tuple[str, int]:
    """``(operation, multi_priority)`` of a history item (a missing or unreadable priority counts as 0)."""
    try:
        priority = int(_attr(li, "multi_priority") or "0")
    except ValueError:
        priority = 0
    return _attr(li, "operation"), priority


def params_digest(li: ET.Element) -> tuple[str, str]:
    """:func:`entry_digest` of a history item."""
    return entry_digest(_attr(li, "operation"), _attr(li, "params"))


#: Bits of a blend's ``mask_mode`` (``DEVELOP_MASK_*``): blending on, and the kinds of mask (a drawn mask's
#: shapes live in ``masks_history``).
MASK_ENABLED, MASK_DRAWN, MASK_PARAMETRIC, MASK_RASTER = 1, 2, 4, 8


def _unpack_blend(blob: bytes) -> tuple[int, float | None, int | None] | None:
    """``(mask_mode, opacity, mask_id)`` of decoded blend params; a field the blob is too short for is ``None``.

    ``None`` when the blob has no ``mask_mode`` (under 4 bytes).
    """
    if len(blob) < 4:
        return None
    mask_mode = struct.unpack_from("<I", blob, 0)[0]
    opacity = struct.unpack_from("<f", blob, 16)[0] if len(blob) >= 20 else None
    mask_id = struct.unpack_from("<I", blob, 24)[0] if len(blob) >= 28 else None
    return mask_mode, opacity, mask_id


def blend_fields(text: str) -> tuple[int, float | None, int | None] | None:
    """``(mask_mode, opacity, mask_id)`` of an item's ``blendop_params``; a field it is too short for is ``None``.

    ``None`` when there are no params, they cannot be decoded, or they have no ``mask_mode``.
    """
    if not text:
        return None
    try:
        blob = decode_params(text)
    except InvalidRecipeError:
        return None
    return _unpack_blend(blob)


def _blend_key(text: str) -> str:
    """The blending of an item, as darktable renders it; ``""`` when it blends nothing.

    That is no params, or ``mask_mode`` 0 (darktable writes its module default where we wrote none); else a digest of
    the decoded params.
    """
    if not text:
        return ""
    try:
        blob = decode_params(text)
    except InvalidRecipeError:
        return "text " + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    fields = _unpack_blend(blob)
    if fields is not None and fields[0] == 0:
        return ""
    return hashlib.sha256(blob).hexdigest()[:16]


def _look(li: ET.Element) -> list[Any]:
    """Everything of an item but its on/off switch: operation, params, blending, name, instance."""
    operation, priority = instance_of(li)
    return [operation, params_digest(li)[1], _blend_key(_attr(li, "blendop_params")), _attr(li, "multi_name"), priority]


def same_look(a: ET.Element, b: ET.Element) -> bool:
    """Whether two items differ at most in being switched on or off."""
    return _look(a) == _look(b)


def step_digest(li: ET.Element) -> str:
    """16 hex digits of SHA-256 over a whole history item: operation, params, on/off, blending, name, instance.

    Encodings darktable may change when it writes the sidecar back do not count (params and blending compared
    decoded; no blending and darktable's default blending are the same).
    """
    return _digest([*_look(li), _attr(li, "enabled") == "1"])


def _digest(whole: list[Any]) -> str:
    return hashlib.sha256(json.dumps(whole).encode()).hexdigest()[:16]


def _record_keys(record: dict[str, Any]) -> tuple[list[Any], bool] | None:
    """The record's keys of our entries, and whether they are whole-entry digests (``"exact"``); ``None``: none."""
    exact, listed = record.get("exact"), record.get("entries")
    if isinstance(exact, list) and exact and all(isinstance(k, str) for k in exact):
        return list(exact), True
    if isinstance(listed, list) and listed and all(isinstance(p, list) and len(p) == 2 for p in listed):
        return [[str(p[0]), str(p[1])] for p in listed], False
    return None


def match_record(
    items: Sequence[ET.Element], candidates: Iterable[int], record: dict[str, Any], before: Sequence[ET.Element]
) -> list[int] | None:
    """The history items (indices among ``candidates``) that are the record's entries, in the record's order.

    Args:
        items: the history items.
        candidates: where to look (the active items, or the undone ones).
        record: the record of the application (``"exact"`` or ``"entries"`` digests).
        before: the active history before our entries when we wrote them (the record's copy); as many matches of
            an entry as it had come first and are the user's.

    Returns:
        One index per entry of the record; ``None`` when the record lists none, or one is not there as we wrote it
        (or cannot be told apart from the user's: darktable's compress may have dropped the user's earlier match).
        Where darktable's compress dropped ours but kept the user's later switch of it (ours, switched off), that
        switch stands for ours: it is all that is left of ours on the instance.
    """
    keys = _record_keys(record)
    if keys is None:
        return None
    listed, exact = keys

    def key(li: ET.Element) -> Any:
        return step_digest(li) if exact else list(params_digest(li))

    pool = [(i, key(items[i])) for i in candidates]
    earlier = [key(li) for li in before]
    taken: list[int] = []
    for wanted in listed:
        found = [i for i, k in pool if k == wanted and i not in taken]
        skip = earlier.count(wanted)
        if exact and not found and not skip:  # compressed away, its switch of ours kept: that stands for ours
            found = [i for i, _ in pool if i not in taken and _digest([*_look(items[i]), True]) == wanted]
        if len(found) <= skip:
            return None
        taken.append(found[skip])
    return taken


def first_marked(items: Sequence[ET.Element], end: int) -> list[int]:
    """The first active item named :data:`MARK` of each module instance (ours, found without the record)."""
    first: dict[tuple[str, int], int] = {}
    for i in range(end):
        if is_marked(_attr(items[i], "multi_name")):
            first.setdefault(instance_of(items[i]), i)
    return sorted(first.values())


@dataclass(frozen=True)
class LaterSteps:
    """The user's steps after ours on our module instances (:func:`later_steps`).

    Attributes:
        going: those that go with ours (switches of ours; every step holding our params when the instance ends as
            ours again).
        staying: the others, oldest first (the user's blend, mask or name on ours; the user's own settings).
    """

    going: frozenset[int]
    staying: tuple[int, ...]


def later_steps(items: Sequence[ET.Element], stop: int, ours: Iterable[int]) -> LaterSteps:
    """Sort the user's steps after each of ours on its instance (up to ``stop``) into going and staying.

    The steps right after ours that hold our params are darktable's record of the user switching, blending,
    masking or naming our module. One that differs from ours only in being on or off goes with ours; when the
    last step of the instance is such a one (or ours), all of them go: the user had set the instance back to ours.
    The others stay (see the module docstring).
    """
    mine = set(ours)
    going: set[int] = set()
    staying: list[int] = []
    for i in sorted(mine):
        instance = instance_of(items[i])
        later = [j for j in range(i + 1, stop) if j not in mine and instance_of(items[j]) == instance]
        chain: list[int] = []
        for j in later:
            if params_digest(items[j]) != params_digest(items[i]):
                break
            chain.append(j)
        switches = {j for j in chain if same_look(items[j], items[i])}
        if chain and len(chain) == len(later) and chain[-1] in switches:
            switches = set(chain)
        going |= switches
        staying += [j for j in later if j not in switches]
    return LaterSteps(frozenset(going), tuple(sorted(staying)))
