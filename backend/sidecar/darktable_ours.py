"""How autoretouch names its darktable entries, so that they are found without its record.

darktable's "copy" of an image and a sidecar darktable writes afresh lose autoretouch's record, but keep each
entry's instance name (``multi_name``), which darktable shows in the module's header. So our entries are named
:data:`MARK` (:func:`mark_name`): ``autoretouch``, ``autoretouch N`` for a module's instance N > 0, and, on an
instance the user named, the user's name with `` (autoretouch)``, so that ours stays findable there too.
:func:`is_marked` tells such a name, :func:`unmarked_name` gives the name without the mark.
"""

from __future__ import annotations

import re

__all__ = ["MARK", "is_marked", "mark_name", "unmarked_name"]

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
