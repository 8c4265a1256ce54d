"""Which photo and virtual copy a darktable sidecar's name stands for: the reverse of darktable's naming.

darktable keeps virtual copy N (N >= 1, its ``duplicate_index``) of ``IMG.jpg`` in its own sidecar
``IMG_NN.jpg.xmp``, named by :func:`backend.sidecar.darktable_doc.darktable_sidecar_path` (N as darktable 4.2 writes
it, ``_%02d``: at least two digits, no other leading zero). :func:`copy_named` reads a name back by that same rule: a
name is copy N's of a photo only if ``darktable_sidecar_path(photo, N)`` gives that name again, so a camera's
``IMG_0001.jpg.xmp`` is no copy of ``IMG.jpg``. The daemon (:mod:`backend.daemon.training`) and the trainer
(:mod:`trainer.data.darktable_copies`) both read names here, so they agree on what a copy's sidecar is.

Such a name is also that of a file really called ``IMG_NN.jpg``'s sidecar; the sidecar's ``xmpMM:DerivedFrom`` tells
the two apart (:func:`backend.sidecar.apply.copy_conflict`, checked where the sidecar is read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from backend.sidecar.darktable_doc import darktable_sidecar_path

__all__ = ["VirtualCopy", "copy_named"]

#: ``NAME_NN.EXT.xmp``: the shape of a virtual copy's sidecar name (NN: digits); :func:`copy_named` also wants the
#: name darktable would write for it.
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
    The name must be the one darktable writes for that copy (:func:`darktable_sidecar_path`: ``_01``, ``_12``,
    ``_100``, and ``.xmp`` in lower case), not ``_001`` nor ``_0001`` (a camera's ``IMG_0001.jpg.xmp`` is no copy of
    ``IMG.jpg``) nor ``_00`` (copy 0 is the photo itself, ``IMG.jpg.xmp``).
    """
    m = _COPY_SIDECAR.match(sidecar.name)
    if m is None:
        return None
    number = int(m["number"])
    photo = sidecar.with_name(m["stem"] + m["suffix"])
    if number < 1 or darktable_sidecar_path(photo, number).name != sidecar.name:
        return None
    return VirtualCopy(photo, number, sidecar)
