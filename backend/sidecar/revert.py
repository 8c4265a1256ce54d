"""Undo autoretouch's application in a photo's sidecars.

What "restored" means (and what the tests check):

* **Semantically equal.** The sidecar gets back the same XMP content it had before autoretouch wrote
  it: every description has the same properties with the same values in the same form (attribute or
  element, same position among the elements), the darktable history, masks and description attributes
  are the previous ones, and everything autoretouch never touched - including what others changed since
  (a new rating, keywords) - stays as it is now. Bytes are *not* promised to be identical: whitespace,
  attribute order and where namespaces are declared may differ from the original file.
* **Your later Lightroom edits stay.** A Lightroom setting autoretouch wrote that has another value now (you
  changed it in Lightroom) keeps that value, as do the properties that make Lightroom read it (the
  outcome's remark names them, :data:`~backend.sidecar.apply.KEPT_NOTE`); the others are restored.
* **Absent again.** When autoretouch created the sidecar and, after the revert, nothing else is in it,
  the file is removed (its last content kept as ``<sidecar>.autoretouch.bak``), which is exactly the state before.
* Every change keeps the version it replaces as ``<sidecar>.autoretouch.bak``, so right after a revert the backup
  holds the applied version.
* A sidecar that is a symbolic link, has several hard links or is no regular file (a named pipe is never opened)
  is neither rewritten nor removed: ``failed``, naming it and saying why.

A darktable revert is refused (``failed``, sidecar untouched) when the history changed after autoretouch
wrote it - darktable rewrites the history when the photo is edited - because restoring would drop those
edits; undo in darktable's history stack then. A *stale* darktable record (none of the entries it added is
in the active history any more, e.g. after a history reset in darktable; see
:func:`~backend.sidecar.darktable_doc.record_is_stale`) is only removed: the history is darktable's and
stays as it is (``reverted``, with :data:`STALE_REVERT_REASON`). A darktable sidecar that lost the record (darktable
copied the image, or wrote the sidecar afresh) but still holds entries named
:data:`~backend.sidecar.darktable_doc.MARK` has those taken out, the first so named of each module instance
(:data:`MARKED_REVERT_REASON` names each); the user's later changes of them stay, with darktable's own label.

A darktable virtual copy (``duplicate`` N > 0) is reverted in its own ``NAME_NN.EXT.xmp`` by the same rules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from backend.errors import AutoretouchError, ErrorKind, NotFoundError
from backend.sidecar.apply import (
    Outcome,
    check_duplicate,
    embedded_skip,
    hosts_for,
    kept_remark,
    locked,
    revert_host,
    sidecar_conflict,
    sidecar_path,
    stale_darktable_record,
)
from backend.sidecar.atomic import atomic_write, check_sidecar_name, remove_with_backup
from backend.sidecar.darktable_doc import MARK, remove_undone_entries, take_out_marked
from backend.sidecar.lightroom_doc import EMBEDDED_XMP_SUFFIXES
from backend.sidecar.provenance import find_provenance, remove_provenance
from backend.sidecar.xmp import NS, RDF_DESCRIPTION, XmpDocument, qname, read_sidecar, serialize

__all__ = [
    "MARKED_REVERT_REASON",
    "NO_SETTINGS_REASON",
    "NO_SUCH_PATH",
    "STALE_REVERT_REASON",
    "UNDONE_REVERT_REASON",
    "TakenOut",
    "is_empty_packet",
    "revert_photo",
    "take_out_ours",
]

_ABOUT = qname("rdf", "about")
#: The reason of a revert that took out darktable entries named as ours, without our record (``{entries}``: each).
MARKED_REVERT_REASON = (
    "no autoretouch record in this sidecar (darktable drops it when it copies the image or writes the sidecar "
    f"afresh): took out, as autoretouch's, the darktable entries named '{MARK}': {{entries}}; settings of yours they "
    "had replaced show again where darktable kept your entries"
)
#: The reason of a revert that only removed a stale darktable record.
STALE_REVERT_REASON = "its darktable modules were already gone from the history; removed autoretouch's record only"
#: The reason of a revert whose darktable entries the user had undone in darktable (still in the history, inactive).
UNDONE_REVERT_REASON = "its darktable modules had been undone in darktable; took them out of the history"
#: Why a revert fails a named path that is not there and has no sidecar either (not found, as ``apply`` fails it).
NO_SUCH_PATH = "no such photo or folder (and no sidecar of it)"
#: Why a revert skips a sidecar without autoretouch's record (and, darktable, without entries named as ours).
NO_SETTINGS_REASON = "no autoretouch settings in this sidecar"


def is_empty_packet(doc: XmpDocument) -> bool:
    """Whether the packet carries no metadata at all (descriptions without properties, nothing else)."""
    if any(k != qname("x", "xmptk") for k in doc.root.attrib):
        return False
    if any(isinstance(c.tag, str) and c.tag != f"{{{NS['rdf']}}}RDF" for c in doc.root):
        return False
    for child in doc.rdf:
        if not isinstance(child.tag, str):
            continue
        if child.tag != RDF_DESCRIPTION:
            return False
        if any(k != _ABOUT for k in child.attrib) or any(isinstance(c.tag, str) for c in child):
            return False
    return True


@dataclass(frozen=True)
class TakenOut:
    """What :func:`take_out_ours` took out of a sidecar document.

    Attributes:
        notes: what to say about it: the Lightroom settings kept (:func:`~backend.sidecar.apply.kept_remark`), the
            darktable revert's notes, or for a stale darktable record :data:`UNDONE_REVERT_REASON` or
            :data:`STALE_REVERT_REASON`; for entries found by their name, the notes of
            :func:`~backend.sidecar.darktable_doc.take_out_marked`.
        marked: the labels of the darktable entries named :data:`MARK` taken out without our record (empty when
            the record was found).
        created: autoretouch's record says it created the sidecar (never without the record).
    """

    notes: tuple[str, ...] = ()
    marked: tuple[str, ...] = ()
    created: bool = False


def take_out_ours(doc: XmpDocument, host: str) -> TakenOut | str:
    """Take autoretouch's application for ``host`` out of ``doc`` (in memory), record included.

    What ``revert`` and ``apply --overwrite`` of a recipe that changes nothing share: the record found is undone
    (:func:`~backend.sidecar.apply.revert_host`), or only removed when it is a stale darktable one (with our
    entries the user undid); without the record, darktable entries named :data:`MARK` are taken out
    (:func:`~backend.sidecar.darktable_doc.take_out_marked`).

    Returns:
        What was taken out, or why nothing was (``doc`` untouched): :data:`NO_SETTINGS_REASON`, or that the record
        is the other host's.

    Raises:
        SidecarError: the darktable history changed so that our entries cannot be taken out
            (:func:`~backend.sidecar.darktable_doc.revert_darktable`), or the record does not fit the document.
    """
    found = find_provenance(doc)
    if found is None:
        if host == "darktable":
            labels, done = take_out_marked(doc)  # changes nothing when there are none
            if labels:
                return TakenOut(done.notes, tuple(labels))
        return NO_SETTINGS_REASON
    prov = found[1]
    if prov.host != host:
        return f"the autoretouch settings here are for {prov.host}"
    if host == "darktable" and stale_darktable_record(doc, prov, None):
        # nothing of ours is active: undone in darktable (still there after history_end: taken out, so a
        # redo cannot bring it back), or gone (reset, discarded); the record goes either way
        note = UNDONE_REVERT_REASON if remove_undone_entries(doc, prov.replaced) else STALE_REVERT_REASON
        remove_provenance(doc)
        return TakenOut((note,), created=prov.created)
    kept, darktable = revert_host(host, doc, prov)
    return TakenOut(tuple(filter(None, (kept_remark(kept), *darktable.notes))), created=prov.created)


def _revert_one(photo: Path, host: str, sidecar: Path, dry_run: bool, duplicate: int = 0) -> Outcome:
    check_sidecar_name(sidecar)  # before lexists(), which would say "no sidecar" for "File name too long"
    if not os.path.lexists(sidecar):  # a dangling link is there: read_sidecar refuses it, by name
        reason = "no sidecar" if os.path.lexists(photo) else "no sidecar, and no such photo (a typing error?)"
        return Outcome(photo, host, sidecar, "skipped", reason)
    with locked(sidecar, dry_run):
        doc = read_sidecar(sidecar)
        conflict = sidecar_conflict(doc, photo, host, duplicate)
        if conflict is not None:
            return Outcome(photo, host, sidecar, "skipped", conflict)
        taken = take_out_ours(doc, host)
        if isinstance(taken, str):
            return Outcome(photo, host, sidecar, "skipped", taken)
        if taken.marked:  # ours, named so, in a sidecar that lost our record
            marked = MARKED_REVERT_REASON.format(entries=", ".join(taken.marked))
            return _write_reverted(photo, host, sidecar, doc, dry_run, "; ".join((marked, *taken.notes)))
        if taken.created and is_empty_packet(doc):
            if dry_run:
                return Outcome(photo, host, sidecar, "would-delete", "autoretouch created this sidecar")
            remove_with_backup(sidecar)
            return Outcome(photo, host, sidecar, "deleted", "autoretouch created this sidecar")
        return _write_reverted(photo, host, sidecar, doc, dry_run, "; ".join(taken.notes))


def _write_reverted(photo: Path, host: str, sidecar: Path, doc: XmpDocument, dry_run: bool, reason: str) -> Outcome:
    """Write the reverted sidecar (not in a dry run) and say so."""
    data = serialize(doc)
    if dry_run:
        return Outcome(photo, host, sidecar, "would-revert", reason)
    atomic_write(sidecar, data)
    return Outcome(photo, host, sidecar, "reverted", reason)


def _check_exists(photo: Path, hosts: tuple[str, ...], duplicate: int) -> None:
    """Refuse a path that is not there and has none of the sidecars ``hosts`` would revert (see :func:`revert_photo`).

    A photo deleted since ``apply`` left its sidecars behind: they are still reverted, so only a path with neither
    fails. Lightroom's ``NAME.xmp`` of a format with embedded XMP is not the photo's sidecar and does not count.

    Raises:
        NotFoundError: neither ``photo`` nor any of those sidecars exists.
    """
    if os.path.lexists(photo):
        return
    for h in hosts:
        if h == "lightroom" and photo.suffix.lower() in EMBEDDED_XMP_SUFFIXES:
            continue
        if os.path.lexists(sidecar_path(photo, h, duplicate)):
            return
    raise NotFoundError(f"{photo}: {NO_SUCH_PATH}")


def revert_photo(photo: str | Path, *, host: str = "both", dry_run: bool = False, duplicate: int = 0) -> list[Outcome]:
    """Restore the sidecars of ``photo`` to their state before autoretouch (see the module docstring).

    The photo itself need not exist any more; only its sidecars are read.

    Args:
        photo: the image file whose sidecars to revert.
        host: ``"lightroom"``, ``"darktable"`` or ``"both"``.
        dry_run: report what would happen, write nothing.
        duplicate: darktable's virtual copy N of the photo (its NAME_NN.EXT.xmp); 0 is the original.

    Returns:
        One :class:`~backend.sidecar.apply.Outcome` per host: ``reverted``, ``deleted``, ``skipped`` (no
        sidecar, nothing of ours) or ``failed`` (malformed sidecar, changed darktable history, write error).

    Raises:
        InvalidRecipeError: unknown ``host``; a ``duplicate`` below 0, or above 0 with another host than darktable.
        NotFoundError: neither ``photo`` nor a sidecar of it that ``host`` would revert exists (a typing error, a
            folder that is not there), as ``apply`` refuses a missing photo.
    """
    p = Path(photo)
    outcomes: list[Outcome] = []
    hosts = hosts_for(host)
    check_duplicate(hosts, duplicate)
    _check_exists(p, hosts, duplicate)
    for h in hosts:
        sidecar = sidecar_path(p, h, duplicate)
        if h == "lightroom" and p.suffix.lower() in EMBEDDED_XMP_SUFFIXES:
            outcomes.append(embedded_skip(p, h, sidecar))
            continue
        try:
            outcomes.append(_revert_one(p, h, sidecar, dry_run, duplicate))
        except AutoretouchError as exc:
            outcomes.append(Outcome(p, h, sidecar, "failed", str(exc), error=ErrorKind.known(exc)))
    return outcomes
