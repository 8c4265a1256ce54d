"""Apply a recipe to a photo's sidecars (Lightroom ``NAME.xmp``, darktable ``NAME.EXT.xmp``).

Rules (see DESIGN.md, "Rules that protect the user's photos"):

* The image file is never opened for writing; only ``.xmp`` paths are written.
* Lightroom sidecars only for proprietary raws: for DNG, JPEG, TIFF, PNG, ... Lightroom reads the XMP
  embedded in the file and ignores a sidecar, so that host is skipped with the reason
  :data:`EMBEDDED_REASON` (the plugin applies those through ``applyDevelopSettings``).
* Existing edits are kept unless ``overwrite``: a Lightroom sidecar that already has develop settings, or
  a sidecar that already holds autoretouch's settings, is skipped with a reason. With ``overwrite``, a
  previous autoretouch application is reverted first; other settings are replaced and remembered for
  :func:`~backend.sidecar.revert.revert_photo`. The user's darktable history is never dropped: ours is
  appended (at ``history_end``); applied again, ours goes where our earlier entries were, so the user's steps
  after them stay after ours and keep their effect.
* darktable entries of ours without our record (darktable's "copy" of an image, a sidecar darktable wrote
  afresh), found by their instance name :data:`~backend.sidecar.darktable_doc.MARK` (the first so named of each
  module instance; the later ones are the user's changes of it), count as an earlier application: skipped
  (:data:`MARKED_SKIP`), or taken out and replaced with ``overwrite`` (:data:`MARKED_NOTE` names each).
* A *stale* darktable record - darktable keeps our ``autoretouch:`` record when the user resets or
  discards the history, but none of the entries it lists is in the active history any more - is dropped
  and the recipe applied afresh, with :data:`STALE_NOTE` among the outcome's warnings (with or without
  ``overwrite``). While one of our entries is still active, the record is current: skipped, or replaced
  with ``overwrite``.
* A darktable virtual copy (``duplicate`` N > 0) has its own sidecar, ``NAME_NN.EXT.xmp``
  (:func:`~backend.sidecar.darktable_doc.darktable_sidecar_path`); the same rules hold for it, and one whose
  ``xmpMM:DerivedFrom`` names another file (``b_01.png``'s own sidecar) is skipped, and so is one that names no
  file (or does not exist yet) while a file ``b_01.png`` lies next to the photo (:func:`copy_conflict`). Only
  darktable has copies: a ``duplicate`` with another host is refused.
* A recipe that changes nothing (``--strength 0``) is written nowhere (:data:`NOTHING_REASON`); with ``overwrite``
  it takes autoretouch's earlier edit out of the sidecar, as ``overwrite`` does before placing a new one, record
  included, and places nothing (:data:`TOOK_OUT_REASON`): "try another strength" at 0 leaves no autoretouch edit.
* Every write: lock, temp file, fsync, atomic rename, previous version kept as ``<sidecar>.autoretouch.bak``
  (:mod:`backend.sidecar.atomic`); ``dry_run`` computes everything and writes nothing (no lock file either).
* Only a regular sidecar file with one link is read and replaced: a symbolic link, a hard-linked file, a named
  pipe, device or folder in its place is a ``failed`` outcome naming it and saying why, and stays untouched.

Problems with one host's sidecar (malformed XML, a lock held elsewhere, a failed write) become a
``failed`` :class:`Outcome` naming the file, and the other host still proceeds; a photo that cannot be
decoded raises its :class:`~backend.errors.DecodeError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from backend.errors import AutoretouchError, ErrorKind, InvalidRecipeError, NotFoundError
from backend.recipe import Recipe
from backend.sidecar.atomic import atomic_write, check_sidecar_name, remove_with_backup, sidecar_lock
from backend.sidecar.darktable_doc import (
    MARK,
    DarktableRevert,
    apply_darktable,
    darktable_sidecar_path,
    derived_from,
    derived_from_other,
    marked_labels,
    record_is_stale,
    remove_undone_entries,
    revert_darktable,
    take_out_marked,
)
from backend.sidecar.darktable_xmp import FRESH_STACK_NOTE
from backend.sidecar.lightroom_doc import (
    EMBEDDED_XMP_SUFFIXES,
    apply_lightroom,
    existing_owner,
    has_develop_settings,
    lightroom_sidecar_path,
    revert_lightroom,
)
from backend.sidecar.provenance import Provenance, find_provenance, remove_provenance, write_provenance
from backend.sidecar.xmp import NS, XmpDocument, new_document, read_sidecar, serialize
from backend.translate.darktable import HistoryEntry, recipe_to_history
from backend.translate.lightroom import AsShot, recipe_to_develop_settings

__all__ = [
    "EMBEDDED_REASON",
    "HOSTS",
    "KEPT_NOTE",
    "MARKED_NOTE",
    "MARKED_SKIP",
    "NOTHING_REASON",
    "REPLACED_FRESH_NOTE",
    "SAVED_NOTE",
    "STALE_NOTE",
    "TOOK_OUT_REASON",
    "Action",
    "DarktableEarlier",
    "Outcome",
    "PhotoInfo",
    "SkipKind",
    "apply_to_photo",
    "check_duplicate",
    "copy_conflict",
    "darktable_earlier",
    "embedded_skip",
    "hosts_for",
    "kept_remark",
    "locked",
    "nothing_skip",
    "probe_photo",
    "revert_host",
    "sidecar_conflict",
    "sidecar_path",
    "stale_darktable_record",
]

HOSTS: tuple[str, ...] = ("lightroom", "darktable")
EMBEDDED_REASON = "Lightroom reads embedded XMP for this format; use the plugin"
#: The outcome's warning when a stale darktable record was dropped (``{timestamp}``: the record's time).
STALE_NOTE = (
    "dropped the autoretouch record of {timestamp}: none of its darktable modules is in the active history "
    "any more (history reset, discarded or undone in darktable); applied afresh"
)

#: Why apply skips a darktable sidecar with entries named as ours but without our record (``{entries}``: what
#: ``--overwrite`` or revert would take out, :func:`~backend.sidecar.darktable_doc.take_out_marked`).
MARKED_SKIP = (
    f"has darktable entries named '{MARK}' but no autoretouch record: {{entries}}. They are autoretouch's when "
    "darktable copied the image or wrote the sidecar afresh (both drop the record), or yours if you or a style named "
    "them so; use --overwrite to replace exactly these, or revert to take them out"
)
#: The warning of ``apply --overwrite`` that took such entries out before applying (``{entries}``: each of them).
MARKED_NOTE = (
    "no autoretouch record in this sidecar (darktable drops it when it copies the image or writes the sidecar "
    f"afresh): took out, as autoretouch's earlier ones, the darktable entries named '{MARK}': {{entries}}"
)

#: Why a recipe without steps (``--strength 0``, or a recipe that changes nothing) is not written: a sidecar holding
#: only our record would still change the photo in darktable (a fresh stack stops darktable's default presets) and
#: make it count as edited. ``{why}``: ``strength 0`` or ``the recipe changes nothing``.
NOTHING_REASON = "nothing to write ({why})"
#: The reason of ``apply --overwrite`` with such a recipe where autoretouch's earlier edit was there: taken out,
#: exactly as ``--overwrite`` takes it out before placing a new one, and nothing placed (``{why}`` as above). The
#: record goes with it, so ``revert`` has nothing left to undo. A dry run says ``would take out ...``.
TOOK_OUT_REASON = "took out the earlier autoretouch edit ({why})"
#: Added to :data:`TOOK_OUT_REASON` when autoretouch had created the sidecar and nothing else is in it: it is
#: removed (kept as ``<sidecar>.autoretouch.bak``), as ``revert`` removes it.
_CREATED_NOTE = "autoretouch created this sidecar"

#: The note instead of :data:`~backend.sidecar.darktable_xmp.FRESH_STACK_NOTE` when ``apply --overwrite`` took
#: autoretouch's earlier darktable edit out and nothing of darktable's was left (autoretouch had written the only
#: darktable data the sidecar held): the new entries make a fresh stack again, exactly ours, as the first apply did.
REPLACED_FRESH_NOTE = (
    "replaced autoretouch's earlier darktable edit (the only darktable data here): wrote a fresh stack"
)

#: darktable's notes as a real write words them -> as a dry run does (which writes nothing).
_DRY_RUN_NOTES = {
    FRESH_STACK_NOTE: "no darktable data yet: would write a fresh darktable stack",
    REPLACED_FRESH_NOTE: (
        "would replace autoretouch's earlier darktable edit (the only darktable data here): would write a fresh stack"
    ),
}

#: What happened to one sidecar.
Action = Literal["written", "would-write", "skipped", "reverted", "would-revert", "deleted", "would-delete", "failed"]
#: Which skip an outcome is, for the two whose reason is the same whatever the sidecar holds:
#: ``embedded-xmp`` (:data:`EMBEDDED_REASON`, :func:`embedded_skip`) and ``nothing-to-write``
#: (:data:`NOTHING_REASON`, :func:`nothing_skip`).
SkipKind = Literal["embedded-xmp", "nothing-to-write"]


@dataclass(frozen=True)
class PhotoInfo:
    """What the translators need to know about a photo.

    Attributes:
        is_raw: a camera raw (absolute white balance; darktable pixelpipe order 2).
        long_side_px: long side of the full-resolution image in pixels (radii of local sliders).
        as_shot: the raw's as-shot white balance (Kelvin/Tint), if known.
    """

    is_raw: bool
    long_side_px: int
    as_shot: AsShot | None = None


@dataclass(frozen=True)
class Outcome:
    """The result for one photo and one host.

    Attributes:
        photo: the photo.
        host: ``"lightroom"`` or ``"darktable"``.
        sidecar: the sidecar path concerned.
        action: what happened (:data:`Action`).
        reason: why it was skipped or failed, or a remark.
        warnings: translation notes (left-out or clamped values, overridden darktable instances).
        error: for a ``failed`` outcome, the kind of error when known (its exit status); not part of equality
            or of :meth:`to_json`.
        skip_kind: for a ``skipped`` outcome with :data:`EMBEDDED_REASON` or :data:`NOTHING_REASON`, which of the two
            (:data:`SkipKind`; ``None`` for any other outcome), so that a caller need not match the reason's words;
            not part of equality or of :meth:`to_json`.
    """

    photo: Path
    host: str
    sidecar: Path
    action: Action
    reason: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)
    error: ErrorKind | None = field(default=None, compare=False)
    skip_kind: SkipKind | None = field(default=None, compare=False)

    @property
    def failed(self) -> bool:
        """Whether this host failed for this photo."""
        return self.action == "failed"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (what ``--json`` prints)."""
        return {
            "photo": str(self.photo),
            "host": self.host,
            "sidecar": str(self.sidecar),
            "action": self.action,
            "reason": self.reason,
            "warnings": list(self.warnings),
        }


def embedded_skip(photo: Path, host: str, sidecar: Path) -> Outcome:
    """``skipped`` with :data:`EMBEDDED_REASON` (Lightroom and a photo whose XMP is embedded), ``skip_kind`` set."""
    return Outcome(photo, host, sidecar, "skipped", EMBEDDED_REASON, skip_kind="embedded-xmp")


def nothing_skip(photo: Path, host: str, sidecar: Path, why: str) -> Outcome:
    """``skipped`` with :data:`NOTHING_REASON` (``{why}``: ``why``), ``skip_kind`` set."""
    return Outcome(photo, host, sidecar, "skipped", NOTHING_REASON.format(why=why), skip_kind="nothing-to-write")


def sidecar_path(photo: Path, host: str, duplicate: int = 0) -> Path:
    """The sidecar of ``photo`` for ``host``: NAME.xmp (Lightroom), NAME.EXT.xmp or NAME_NN.EXT.xmp (darktable).

    NAME_NN.EXT.xmp is darktable's virtual copy ``duplicate`` N > 0.
    """
    return lightroom_sidecar_path(photo) if host == "lightroom" else darktable_sidecar_path(photo, duplicate)


def check_duplicate(hosts: tuple[str, ...], duplicate: int) -> None:
    """A virtual copy's number is for darktable alone, and 0 (the original) or more.

    Raises:
        InvalidRecipeError: ``duplicate`` is negative, or above 0 with a host other than darktable.
    """
    if duplicate < 0:
        raise InvalidRecipeError(f"a darktable duplicate number is 0 or more, got {duplicate}")
    if duplicate and hosts != ("darktable",):
        raise InvalidRecipeError("a virtual copy (duplicate) is darktable's alone: use host darktable")


def copy_conflict(doc: XmpDocument, photo: Path, duplicate: int) -> str | None:
    """Why a virtual copy's sidecar ``doc`` (new or read) must be left alone, or None.

    ``NAME_NN.EXT.xmp`` is also the sidecar name of a file really called ``NAME_NN.EXT``: the sidecar is left alone
    when its ``xmpMM:DerivedFrom`` names another file than ``photo``, or names none (a new sidecar included) while
    such a file lies next to the photo (darktable would read it as that file's).
    """
    if not duplicate:
        return None
    owner = derived_from_other(doc, photo)
    if owner is not None:
        return f"this sidecar belongs to {owner}"
    namesake = darktable_sidecar_path(photo, duplicate).name.removesuffix(".xmp")
    if derived_from(doc) is None and (photo.parent / namesake).exists():
        return (
            f"{namesake} exists and this sidecar does not name {photo.name} as its image: "
            f"it may be {namesake}'s own, so it is left alone"
        )
    return None


def sidecar_conflict(doc: XmpDocument, photo: Path, host: str, duplicate: int) -> str | None:
    """Why ``host``'s sidecar ``doc`` of ``photo`` is another file's and must be left alone, or None.

    Lightroom: another photo owns it (:func:`~backend.sidecar.lightroom_doc.existing_owner`); darktable:
    :func:`copy_conflict`.
    """
    if host == "darktable":
        return copy_conflict(doc, photo, duplicate)
    owner = existing_owner(doc, photo)
    return None if owner is None else f"this sidecar belongs to {owner}"


def hosts_for(host: str) -> tuple[str, ...]:
    """``"lightroom"``, ``"darktable"`` or ``"both"`` -> the hosts to handle.

    Raises:
        InvalidRecipeError: any other value.
    """
    if host == "both":
        return HOSTS
    if host in HOSTS:
        return (host,)
    raise InvalidRecipeError(f"unknown host {host!r} (expected lightroom, darktable or both)")


def probe_photo(photo: str | Path) -> PhotoInfo:
    """Decode a photo's preview for what the translators need (the file is only read).

    Raises:
        DecodeError: the photo cannot be decoded (names the file).
    """
    from backend.decode import decode_preview  # heavy (rawpy, OpenCV); only when needed

    decoded = decode_preview(Path(photo), long_side=64)  # only the metadata matters here
    return PhotoInfo(
        is_raw=decoded.is_raw,
        long_side_px=max(decoded.full_width, decoded.full_height),
        as_shot=decoded.as_shot,
    )


@contextlib.contextmanager
def locked(sidecar: Path, dry_run: bool) -> Iterator[None]:
    """The sidecar's lock, or nothing in a dry run (which must not create even a lock file).

    A dry run still refuses a sidecar name that could not exist, in the words a real run uses.
    """
    if dry_run:
        check_sidecar_name(sidecar)
        yield
    else:
        with sidecar_lock(sidecar):
            yield


def _load(sidecar: Path, *, packet_wrapper: bool) -> tuple[XmpDocument, bool]:
    """The sidecar's document, and whether it is new (no file yet).

    Raises:
        SidecarError: the sidecar is a symbolic link (a dangling one too), has several hard links or is no regular
            file (a named pipe is never opened), or cannot be parsed: see :func:`read_sidecar`.
    """
    try:
        return read_sidecar(sidecar), False
    except FileNotFoundError:
        return new_document(packet_wrapper=packet_wrapper), True


def revert_host(host: str, doc: XmpDocument, prov: Provenance) -> tuple[tuple[str, ...], DarktableRevert]:
    """Undo autoretouch's application recorded in ``prov`` and remove the record (in memory).

    Returns:
        ``(kept, darktable)``: the Lightroom settings kept because they were changed since autoretouch wrote them
        (:func:`~backend.sidecar.lightroom_doc.revert_lightroom`; empty for darktable or when none was), and
        what the darktable revert did (:func:`~backend.sidecar.darktable_doc.revert_darktable`: its notes, where
        a new application goes; empty for Lightroom).
    """
    kept: tuple[str, ...] = ()
    darktable = DarktableRevert()
    if host == "lightroom":
        kept = revert_lightroom(doc, prov.replaced)
    else:
        darktable = revert_darktable(doc, prov.replaced)
    remove_provenance(doc)
    return kept, darktable


#: Begins the remark naming the Lightroom settings a revert kept (changed since autoretouch wrote them).
KEPT_NOTE = "kept the settings you changed since autoretouch wrote them"
#: Begins the warning of ``apply --overwrite`` naming such settings that the new recipe sets again.
SAVED_NOTE = "replaced the settings you changed since autoretouch's earlier ones (revert brings your values back)"


def kept_remark(kept: tuple[str, ...]) -> str:
    """The outcome's remark for the settings a revert kept (``""`` when none)."""
    return f"{KEPT_NOTE}: {', '.join(kept)}" if kept else ""


#: What an earlier autoretouch application is called in a host's skip reason.
_EARLIER = {"lightroom": "settings", "darktable": "entries"}


def _replace_earlier(
    photo: Path, host: str, sidecar: Path, doc: XmpDocument, prov: Provenance, overwrite: bool
) -> Outcome | tuple[tuple[str, ...], DarktableRevert]:
    """Undo autoretouch's earlier application ``prov`` (in memory) before a new one, with ``--overwrite``.

    Returns:
        When it was undone, what :func:`revert_host` returned (the settings kept, the notes); without
        ``overwrite`` the ``skipped`` outcome, and ``doc`` is untouched.
    """
    if not overwrite:
        reason = f"already has autoretouch {_EARLIER[host]} ({prov.timestamp}); use --overwrite to replace them"
        return Outcome(photo, host, sidecar, "skipped", reason)
    return revert_host(host, doc, prov)


def _apply_lightroom(photo: Path, recipe: Recipe, info: PhotoInfo, overwrite: bool, dry_run: bool) -> Outcome:
    sidecar = lightroom_sidecar_path(photo)
    settings = recipe_to_develop_settings(recipe, is_raw=True, as_shot=info.as_shot)
    with locked(sidecar, dry_run):
        doc, created = _load(sidecar, packet_wrapper=True)
        owner = existing_owner(doc, photo)
        if owner is not None:
            return Outcome(photo, "lightroom", sidecar, "skipped", f"this sidecar belongs to {owner}")
        found = find_provenance(doc)
        warnings = settings.warnings
        earlier: tuple[str, ...] = ()  # the settings changed since our earlier application (--overwrite)
        if found is not None:
            replaced = _replace_earlier(photo, "lightroom", sidecar, doc, found[1], overwrite)
            if isinstance(replaced, Outcome):
                return replaced
            earlier, created = replaced[0], found[1].created
        elif has_develop_settings(doc) and not overwrite:
            reason = "already has Lightroom develop settings; use --overwrite to replace them (revert restores them)"
            return Outcome(photo, "lightroom", sidecar, "skipped", reason)
        record = apply_lightroom(doc, settings, is_raw=True, photo_name=photo.name)
        rewritten = {key.partition(":")[2] for key in record["written"]}  # crs:Exposure2012 -> Exposure2012
        kept = tuple(k for k in earlier if k not in rewritten)
        saved = tuple(k for k in earlier if k in rewritten)
        warnings += (kept_remark(kept),) if kept else ()
        warnings += (f"{SAVED_NOTE}: {', '.join(saved)}",) if saved else ()
        write_provenance(doc.description_for(NS["crs"]), Provenance("lightroom", recipe, record, created=created))
        return _write(photo, "lightroom", sidecar, doc, dry_run, warnings)


def stale_darktable_record(doc: XmpDocument, prov: Provenance, info: PhotoInfo | None) -> bool:
    """Whether the darktable record ``prov`` in ``doc`` is stale (:func:`record_is_stale`).

    A record written before records kept their entries' digests is checked against its recipe translated
    again for this photo (``info``); without ``info``, or when that recipe no longer translates, it counts
    as current (the safe side: it is then skipped, never applied twice).
    """
    fallback: list[HistoryEntry] = []
    if not isinstance(prov.replaced.get("entries"), list) and info is not None:
        try:
            fallback = recipe_to_history(prov.recipe, is_raw=info.is_raw, long_side_px=info.long_side_px)
        except AutoretouchError:
            return False
    return record_is_stale(doc, prov.replaced, fallback)


@dataclass(frozen=True)
class DarktableEarlier:
    """What :func:`darktable_earlier` did to a darktable sidecar before a new application.

    Attributes:
        notes: the outcome's warnings for what was taken out or dropped.
        at: where in the active history the new entries go (``None``: after the user's history).
        created: whether autoretouch created the sidecar, from the record taken out (``None``: none was).
        replaced: autoretouch's earlier entries were taken out (its record's, or those named as ours); a dropped
            stale record alone is not.
    """

    notes: tuple[str, ...] = ()
    at: int | None = None
    created: bool | None = None
    replaced: bool = False


def darktable_earlier(
    photo: Path, sidecar: Path, doc: XmpDocument, info: PhotoInfo | None, overwrite: bool
) -> Outcome | DarktableEarlier:
    """Deal with autoretouch's earlier darktable application in ``doc`` (in memory) before a new one is appended.

    A stale record is dropped (with entries of ours the user undid); a current one is undone with ``overwrite``
    (:func:`_replace_earlier`), and so are entries named as ours without a record (:func:`take_out_marked`).

    Returns:
        The ``skipped`` outcome when there is an earlier application and no ``overwrite`` (``doc`` untouched),
        else what was done (nothing, when there was no earlier application).

    Raises:
        SidecarError: the earlier entries cannot be taken out (the history changed since autoretouch wrote them).
    """
    found = find_provenance(doc)
    if found is not None and stale_darktable_record(doc, found[1], info):
        # darktable rewrote the history without our entries (reset, discarded, undone) but kept our
        # record: the record describes nothing any more, so it goes and the recipe is applied afresh;
        # entries of ours the user undid (inactive, after history_end) go too, not kept as the user's.
        remove_undone_entries(doc, found[1].replaced)
        remove_provenance(doc)
        return DarktableEarlier((STALE_NOTE.format(timestamp=found[1].timestamp),))
    if found is not None:
        earlier = _replace_earlier(photo, "darktable", sidecar, doc, found[1], overwrite)
        if isinstance(earlier, Outcome):
            return earlier
        return DarktableEarlier(earlier[1].notes, earlier[1].at, found[1].created, replaced=True)
    if marked := marked_labels(doc):  # ours, named so, without our record: never stacked twice
        if not overwrite:
            return Outcome(photo, "darktable", sidecar, "skipped", MARKED_SKIP.format(entries=", ".join(marked)))
        labels, taken = take_out_marked(doc)  # the same labels
        return DarktableEarlier((MARKED_NOTE.format(entries=", ".join(labels)), *taken.notes), taken.at, replaced=True)
    return DarktableEarlier()


def _apply_darktable(
    photo: Path, recipe: Recipe, info: PhotoInfo, overwrite: bool, dry_run: bool, duplicate: int = 0
) -> Outcome:
    sidecar = darktable_sidecar_path(photo, duplicate)
    entries = recipe_to_history(recipe, is_raw=info.is_raw, long_side_px=info.long_side_px)
    with locked(sidecar, dry_run):
        doc, created = _load(sidecar, packet_wrapper=False)
        conflict = copy_conflict(doc, photo, duplicate)
        if conflict is not None:
            return Outcome(photo, "darktable", sidecar, "skipped", conflict)
        earlier = darktable_earlier(photo, sidecar, doc, info, overwrite)
        if isinstance(earlier, Outcome):
            return earlier
        notes, at, created = earlier.notes, earlier.at, created if earlier.created is None else earlier.created
        image_name = photo.name if duplicate else None
        record, result = apply_darktable(doc, entries, is_raw=info.is_raw, image_name=image_name, at=at)
        desc = next(d for d in doc.descriptions() if d.find(f"{{{NS['darktable']}}}history") is not None)
        write_provenance(desc, Provenance("darktable", recipe, record, created=created))
        fresh = REPLACED_FRESH_NOTE if earlier.replaced else FRESH_STACK_NOTE  # there was darktable data: ours
        warnings = tuple(fresh if w == FRESH_STACK_NOTE else w for w in result.notes)
        return _write(photo, "darktable", sidecar, doc, dry_run, (*notes, *warnings))


def _write(
    photo: Path,
    host: str,
    sidecar: Path,
    doc: XmpDocument,
    dry_run: bool,
    warnings: tuple[str, ...],
    reason: str = "",
) -> Outcome:
    data = serialize(doc)
    if dry_run:
        warnings = tuple(_DRY_RUN_NOTES.get(w, w) for w in warnings)
        return Outcome(photo, host, sidecar, "would-write", reason, warnings=warnings)
    atomic_write(sidecar, data)
    return Outcome(photo, host, sidecar, "written", reason, warnings=warnings)


def _take_out_earlier(photo: Path, host: str, sidecar: Path, dry_run: bool, duplicate: int, why: str) -> Outcome:
    """``apply --overwrite`` of a recipe that changes nothing: take autoretouch's earlier edit out, place nothing.

    What is taken out is what ``--overwrite`` takes out before placing a new recipe (:func:`_replace_earlier`, a
    stale darktable record, darktable entries named as ours without our record), with the same notes, by the steps
    ``revert`` takes (:func:`~backend.sidecar.revert.take_out_ours`); the user's own later edits stay (a Lightroom
    setting changed since is kept, :data:`KEPT_NOTE`). The record goes too: the
    sidecar holds what the user had before autoretouch's first apply, and ``revert`` finds nothing to undo. A
    sidecar autoretouch created that is empty then is removed (``deleted``), as ``revert`` removes it.

    Returns:
        ``written`` (``would-write``, ``deleted``, ``would-delete``) with :data:`TOOK_OUT_REASON`; ``skipped`` with
        :data:`NOTHING_REASON` when there is no sidecar or no earlier edit of autoretouch's in it, or with the
        reason the sidecar is another file's.

    Raises:
        SidecarError: the sidecar cannot be read or written, or (darktable) the history changed since autoretouch
            wrote it so that its entries cannot be taken out (as ``--overwrite`` and ``revert`` refuse it).
    """
    from backend.sidecar.revert import is_empty_packet, take_out_ours  # imports us

    nothing = nothing_skip(photo, host, sidecar, why)
    with locked(sidecar, dry_run):
        doc, absent = _load(sidecar, packet_wrapper=host == "lightroom")
        if absent:
            return nothing
        conflict = sidecar_conflict(doc, photo, host, duplicate)
        if conflict is not None:
            return Outcome(photo, host, sidecar, "skipped", conflict)
        taken = take_out_ours(doc, host)
        if isinstance(taken, str):  # no earlier edit of ours (or one for the other host)
            return nothing
        notes = taken.notes
        if taken.marked:
            notes = (MARKED_NOTE.format(entries=", ".join(taken.marked)), *notes)
        reason = TOOK_OUT_REASON.format(why=why)
        if taken.created and is_empty_packet(doc):
            reason = f"{reason}; {_CREATED_NOTE}"
            if dry_run:
                return Outcome(photo, host, sidecar, "would-delete", _would(reason), warnings=notes)
            remove_with_backup(sidecar)
            return Outcome(photo, host, sidecar, "deleted", reason, warnings=notes)
        return _write(photo, host, sidecar, doc, dry_run, notes, _would(reason) if dry_run else reason)


def _would(reason: str) -> str:
    """A take-out's reason as a dry run words it (``took out`` -> ``would take out``)."""
    return "would take out" + reason.removeprefix("took out")


def _is_raw(photo: Path, info: PhotoInfo | None) -> bool:
    """Whether ``photo`` is a camera raw: from ``info`` when known, else from its first bytes (nothing decoded).

    Raises:
        DecodeError, PermissionDeniedError: the photo is not one autoretouch reads, or cannot be read.
    """
    if info is not None:
        return info.is_raw
    from backend.decode import sniff_kind  # heavy package (rawpy, OpenCV): only when needed

    return sniff_kind(photo) == "raw"


def apply_to_photo(
    photo: str | Path,
    recipe: Recipe,
    *,
    host: str,
    overwrite: bool = False,
    dry_run: bool = False,
    info: PhotoInfo | None = None,
    probe: Callable[[Path], PhotoInfo] | None = None,
    duplicate: int = 0,
) -> list[Outcome]:
    """Write a recipe into a photo's sidecars, as native host settings.

    Args:
        photo: the image file (never modified).
        recipe: the recipe, already at the wanted strength.
        host: ``"lightroom"``, ``"darktable"`` or ``"both"``.
        overwrite: replace existing develop settings / a previous autoretouch application.
        dry_run: compute and report, write nothing.
        info: what is known about the photo; by default the photo is decoded once (``probe``) when a host
            needs it.
        probe: how to learn ``info`` when it is not given (default :func:`probe_photo`).
        duplicate: darktable's virtual copy N of the photo (its NAME_NN.EXT.xmp); 0, the default, is the
            original.

    Returns:
        One :class:`Outcome` per host, in the order lightroom, darktable. A recipe without steps (strength 0, or
        one that changes nothing) is written nowhere: each host is ``skipped`` with :data:`NOTHING_REASON`, and the
        photo is not decoded; with ``overwrite``, autoretouch's earlier edit in a sidecar is taken out instead
        (``written`` with :data:`TOOK_OUT_REASON`, or ``deleted`` when autoretouch created the sidecar and
        nothing else is in it; see :func:`_take_out_earlier`), except Lightroom's ``NAME.xmp`` of a photo that is
        no raw (``info``, else ``probe`` when given, else its first bytes tell), skipped with
        :data:`EMBEDDED_REASON` as for any recipe; a photo that cannot be read or is no photo then fails the
        Lightroom host alone.

    Raises:
        NotFoundError: the photo does not exist.
        DecodeError: the photo cannot be decoded.
        InvalidRecipeError: unknown ``host``; a ``duplicate`` below 0, or above 0 with another host than darktable.
    """
    p = Path(photo)
    hosts = hosts_for(host)
    check_duplicate(hosts, duplicate)
    if not p.is_file():
        raise NotFoundError(f"{p}: photo not found")
    known = info
    outcomes: list[Outcome] = []
    for h in hosts:
        sidecar = sidecar_path(p, h, duplicate)
        if h == "lightroom" and p.suffix.lower() in EMBEDDED_XMP_SUFFIXES:
            outcomes.append(embedded_skip(p, h, sidecar))
            continue
        if not recipe.steps:
            why = "strength 0" if recipe.strength == 0 else "the recipe changes nothing"
            if not overwrite:
                outcomes.append(nothing_skip(p, h, sidecar, why))
                continue
            try:
                if h == "lightroom":  # only Lightroom's NAME.xmp depends on the photo's kind: it fails alone
                    known = known or (probe(p) if probe is not None else None)
                    if not _is_raw(p, known):  # NAME.xmp is no sidecar of this photo's: not touched
                        outcomes.append(embedded_skip(p, h, sidecar))
                        continue
                outcomes.append(_take_out_earlier(p, h, sidecar, dry_run, duplicate, why))
            except AutoretouchError as exc:
                outcomes.append(Outcome(p, h, sidecar, "failed", str(exc), error=ErrorKind.known(exc)))
            continue
        if known is None:
            known = (probe or probe_photo)(p)
        if h == "lightroom" and not known.is_raw:
            outcomes.append(embedded_skip(p, h, sidecar))
            continue
        try:
            if h == "lightroom":
                outcomes.append(_apply_lightroom(p, recipe, known, overwrite, dry_run))
            else:
                outcomes.append(_apply_darktable(p, recipe, known, overwrite, dry_run, duplicate))
        except AutoretouchError as exc:
            outcomes.append(Outcome(p, h, sidecar, "failed", str(exc), error=ErrorKind.known(exc)))
    return outcomes
