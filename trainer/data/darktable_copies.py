"""darktable's virtual copies of a photo as training edits: their sidecars found by name, and how they are named.

darktable keeps virtual copy N (N >= 1, its ``duplicate_index``) of ``IMG.jpg`` in its own sidecar
``IMG_NN.jpg.xmp``. Which photo and copy a sidecar's name stands for is read by
:func:`backend.sidecar.darktable_copies.copy_named` (re-exported here with :class:`VirtualCopy`; the daemon reads
names there too): by darktable's own naming only (:func:`backend.sidecar.darktable_doc.darktable_sidecar_path`,
``_%02d``), so a camera's ``IMG_0001.jpg.xmp`` is no copy. Such a name is also that of a file really called
``IMG_NN.jpg``'s sidecar; the sidecar's ``xmpMM:DerivedFrom`` tells the two apart
(:func:`backend.sidecar.apply.copy_conflict`, checked where the sidecar is read). Copies are named in messages and
summaries as ``suggest --dtstyle --duplicate N`` names them: ``IMG.jpg (virtual copy N)``.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from backend.sidecar.darktable_copies import VirtualCopy, copy_named

__all__ = ["VirtualCopy", "copy_label", "copy_named", "copy_sidecars"]


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
