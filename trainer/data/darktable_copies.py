"""darktable's virtual copies of a photo as training edits: their sidecars found by name, and how they are named.

darktable keeps virtual copy N (N >= 1, its ``duplicate_index``) of ``IMG.jpg`` in its own sidecar
``IMG_NN.jpg.xmp``: N written as darktable 4.2 writes it (``_%02d``: at least two digits, no other leading zero,
:func:`backend.sidecar.darktable_doc.darktable_sidecar_path`), so a camera's ``IMG_0001.jpg.xmp`` is no copy. Such a
name is also that of a file really called ``IMG_NN.jpg``'s sidecar; the sidecar's ``xmpMM:DerivedFrom`` tells
the two apart (:func:`backend.sidecar.apply.copy_conflict`, checked where the sidecar is read). Copies are named
in messages and summaries as ``suggest --dtstyle --duplicate N`` names them: ``IMG.jpg (virtual copy N)``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VirtualCopy", "copy_label", "copy_named", "copy_sidecars"]

#: ``NAME_NN.EXT.xmp``: a virtual copy's sidecar name (NN: two digits or more; :func:`copy_named` also wants no extra
#: leading zero).
_COPY_SIDECAR = re.compile(r"^(?P<stem>.+)_(?P<number>\d{2,})(?P<suffix>\.[^.]+)\.xmp$")


@dataclass(frozen=True)
class VirtualCopy:
    """darktable's virtual copy ``number`` of ``photo``, whose history is in ``sidecar``.

    Attributes:
        photo: the photo file (``IMG.jpg``), which may not exist.
        number: the copy's number, 1 or more (darktable's ``duplicate_index``).
        sidecar: its sidecar (``IMG_NN.jpg.xmp``).
    """

    photo: Path
    number: int
    sidecar: Path


def copy_named(sidecar: Path) -> VirtualCopy | None:
    """The virtual copy a sidecar's name says it holds (``IMG_01.jpg.xmp``: copy 1 of ``IMG.jpg``), or ``None``.

    Only the name is read: the photo may not exist, and the sidecar may be that of a file called ``IMG_01.jpg``.
    The number is read only as darktable writes it (``f"{n:02d}"``: ``_01``, ``_12``, ``_100``), not ``_001`` nor
    ``_0001`` (a camera's ``IMG_0001.jpg.xmp`` is no copy of ``IMG.jpg``).
    """
    m = _COPY_SIDECAR.match(sidecar.name)
    if m is None or int(m["number"]) < 1 or f"{int(m['number']):02d}" != m["number"]:
        return None
    return VirtualCopy(sidecar.with_name(m["stem"] + m["suffix"]), int(m["number"]), sidecar)


def copy_sidecars(photo: Path, names: Collection[str] | None = None) -> list[VirtualCopy]:
    """The sidecars of ``photo``'s virtual copies lying beside it, by copy number.

    Args:
        photo: the photo file.
        names: the file names in ``photo``'s folder (a listing shared by all its photos); ``None``: listed here.

    Returns:
        One :class:`VirtualCopy` per ``NAME_NN.EXT.xmp`` beside ``photo`` (by name only: whether each is the copy's
        or a file ``NAME_NN.EXT``'s is for its reader to check).
    """
    if names is None:
        names = [p.name for p in photo.parent.iterdir()] if photo.parent.is_dir() else []
    copies = []
    for name in names:
        if not (name.startswith(photo.stem + "_") and name.endswith(photo.suffix + ".xmp")):
            continue
        copy = copy_named(photo.with_name(name))
        if copy is not None and copy.photo.name == photo.name:
            copies.append(copy)
    return sorted(copies, key=lambda c: c.number)


def copy_label(name: str, number: int) -> str:
    """How a virtual copy is named in messages: ``"IMG.jpg (virtual copy 1)"``; ``number`` 0: ``name`` itself."""
    return f"{name} (virtual copy {number})" if number else name
