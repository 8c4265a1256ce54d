"""Training pairs from darktable edits (``autoretouch train --darktable``): each photo and darktable's render of it.

The photos' sidecars, and their virtual copies' (one more pair each), are read (:func:`_darktable_histories`),
darktable-cli renders each active history (:class:`trainer.darktable_cli.DarktableCli`), and the pairs are cut,
turned back where the render is the photo rotated, and fitted as ``--pairs`` are (:mod:`trainer.restore_pairs`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import Tensor

from backend.errors import SidecarError
from backend.recipe import Recipe
from trainer.config import TrainConfig
from trainer.data.darktable_copies import copy_label, copy_named, copy_sidecars
from trainer.pair_data import views_of
from trainer.pair_frames import _frame_text, _record_turns, _turn_back
from trainer.pairing_notes import (
    _kept_indices,
    _record_left_out,
    _record_skipped_edits,
    _record_unread_subfolders,
    _unreadable_pairs,
)
from trainer.summary_lines import counted

if TYPE_CHECKING:
    from trainer.pair_fit import PairSet

__all__ = ["DARKTABLE_EXPORT_SIZE", "load_darktable_pair_set"]

log = logging.getLogger(__name__)


#: darktable-cli exports the edits at most this many pixels wide and high for training.
DARKTABLE_EXPORT_SIZE = 768


class DarktableEdit(NamedTuple):
    """One darktable edit to learn from: a photo's history, or one of its virtual copies'.

    Attributes:
        photo: the photo file (a link to the user's own in a selection folder).
        text: the edit's sidecar text (darktable-cli renders it on the photo).
        values: its history mapped into our sliders (:func:`trainer.darktable_labels.history_to_settings`).
        modules: what was mapped: ``mapped``, ``approximate``, ``not_ours`` (module names).
        name: the pair's name: the photo's stem, ``"STEM (virtual copy N)"`` for darktable's copy N.
    """

    photo: Path
    text: str
    values: dict[str, Any]
    modules: dict[str, Any]
    name: str


def _photo_edits(photo: Path, names: Collection[str], selection: bool) -> list[tuple[int, Path]]:
    """``(copy number, sidecar)`` of each darktable edit of ``photo`` by name: its own (0) if any, then its copies'.

    Args:
        photo: the photo file (a link to the user's own in a selection folder).
        names: the file names in ``photo``'s folder (for its copies; its own sidecar is looked for on disk, so that
            ``IMG.JPG.xmp`` serves ``IMG.JPG`` on a case-insensitive disk however the listing spells it).
        selection: ``photo``'s folder is a selection of links: a sidecar there is the photo's only if it links to
            the sidecar of that name beside the user's own photo (:func:`_beside`), the file linked to or the one
            it resolves to (a chain of links), not to one of another folder's (a copy's sidecar whose photo is
            missing, or another photo's of the same name).
    """
    from backend.sidecar.darktable_doc import darktable_sidecar_path
    from trainer.data.selection import link_target

    user, real = link_target(photo), photo.resolve()

    def ours(sidecar: Path, number: int) -> bool:
        return not selection or _beside(sidecar, user, number) or _beside(sidecar, real, number)

    sidecar = darktable_sidecar_path(photo)
    edits = [(0, sidecar)] if sidecar.is_file() and ours(sidecar, 0) else []
    for c in copy_sidecars(photo, names):
        if c.sidecar.is_file() and ours(c.sidecar, c.number):
            edits.append((c.number, c.sidecar))
    return edits


def _beside(link: Path, photo: Path, number: int) -> bool:
    """Whether selection link ``link`` stands for the sidecar of edit ``number`` of the user's ``photo``.

    That is, it links to the file named as darktable names that edit's sidecar (``IMG.jpg.xmp``, ``IMG_NN.jpg.xmp``)
    in ``photo``'s own folder (the folders compared resolved, the file names as the user has them).
    :func:`_photo_edits` asks for the photo the link names and for the file it resolves to (a chain of links:
    ``links/a.png -> lib2/a.png -> lib/a.png`` with ``links/a.png.xmp -> lib/a.png.xmp``).
    """
    from backend.sidecar.darktable_doc import darktable_sidecar_path
    from trainer.data.selection import link_target

    target, wanted = link_target(link), darktable_sidecar_path(photo, number)
    return target.name == wanted.name and target.parent.resolve() == wanted.parent.resolve()


def _beside_real_file(
    photo: Path, photos: Sequence[Path], listings: dict[Path, set[str]]
) -> tuple[list[tuple[int, Path]], Path | None]:
    """The edits of photo link ``photo`` in a user's folder read beside the file it resolves to, where none is by it.

    A folder of links to photos only (``links/a.png -> lib/a.png``, no sidecar linked) learns the sidecars that
    darktable keeps beside the photos (``lib/a.png.xmp``, ``lib/a_01.png.xmp``), as the photos' own folder would.
    Only in a user's folder, not in a selection autoretouch linked (:func:`_is_selection`: there a photo given
    alone, linked without a sidecar of its own, stands for its own edit only, not its virtual copies'), only for a
    photo that is a symbolic link, and only where no sidecar (its own, a copy's) is beside ``photo`` by name and no
    other photo of ``photos`` resolves to the same file. Whose each sidecar is (a virtual copy's or a namesake
    file's) is then judged in the real file's folder (:func:`_read_histories`), as darktable reads that folder. A
    folder that cannot be listed or read there has no sidecars for it (the photo is then named as one without any).

    Args:
        photo: a photo of a user's folder.
        photos: the folder's photos.
        listings: the file names of each folder listed so far (by folder; the real file's folder is added).

    Returns:
        ``(copy number, sidecar)`` as :func:`_photo_edits` gives them, or none; and the other photo of ``photos``
        that is the same file where that is why the real file's sidecars are not read for ``photo`` (its skip
        message says so), else ``None``.
    """
    from backend.sidecar.darktable_doc import darktable_sidecar_path

    if not photo.is_symlink():
        return [], None
    real = photo.resolve()
    if os.path.lexists(darktable_sidecar_path(photo)) or copy_sidecars(photo, _listing(photo.parent, listings)):
        return [], None
    try:
        edits = _photo_edits(real, _listing(real.parent, listings), False) if real.is_file() else []
    except OSError:  # the folder can be entered but not listed (or not read): no sidecars beside the file
        return [], None
    twin = next((p for p in photos if p != photo and p.resolve() == real), None)
    return (edits, None) if twin is None else ([], twin if edits else None)


def _listing(folder: Path, listings: dict[Path, set[str]]) -> set[str]:
    """The file names in ``folder``, listed once and kept in ``listings``."""
    names = listings.get(folder)
    if names is None:
        names = listings[folder] = {p.name for p in folder.iterdir()}
    return names


def _is_selection(folder: Path) -> bool:
    """Whether ``folder`` is a selection autoretouch linked (``train --darktable A B``, the daemon's darktable files).

    Known by the marker :func:`trainer.data.selection.linked_folder` writes there, and by it only, made for
    darktable edits (:func:`trainer.data.selection.is_selection`; the daemon's favourite photos are not one). In a
    selection, a sidecar linked beside a photo's link is that photo's only where it links to the one beside the
    user's photo (:func:`_photo_edits`), messages name the user's files, a photo link without a sidecar linked
    beside it has no edit given (nothing is read beside the file it resolves to), and copies' sidecars whose photo
    is missing are named (:func:`_lone_copies`). Any other
    folder, a user's folder of links too (whatever its name, its links relative or absolute), is read as the
    user's: the sidecars by name beside its photos, messages naming its photos by their names there, and, for a
    photo link with none beside it, those beside the file it resolves to (:func:`_beside_real_file`).
    """
    from trainer.data.selection import is_selection

    return is_selection(folder, with_sidecars=True)


def _darktable_histories(photos: list[Path], selection: bool) -> tuple[list[DarktableEdit], list[str], list[str]]:
    """The usable edits, the skip messages and those unreadable, as :func:`_read_histories` gives them."""
    found = _read_histories(photos, selection)
    return found.chosen, found.skipped, found.unreadable


class _Histories(NamedTuple):
    """What :func:`_read_histories` found.

    Attributes:
        chosen: the usable edits.
        skipped: the skip messages (``"PHOTO: why"``, every edit skipped).
        unreadable: those skipped because the photo or its sidecar could not be read (``"PHOTO (why)"``).
        noted: the skip messages the run's notes name (:func:`trainer.pairing_notes._record_skipped_edits`): all
            but the unreadable ones (a note of their own) and, in a folder given, its photos without any sidecar
            (not edited in darktable).
        broken: the sidecars that could not be read (:class:`backend.errors.SidecarError`: not XML, unsafe), one
            per skip message of theirs (:func:`_broken_only`).
        unedited: how many skip messages are for a photo without any sidecar (not edited in darktable: no edit of
            its own left out).
    """

    chosen: list[DarktableEdit]
    skipped: list[str]
    unreadable: list[str]
    noted: list[str]
    broken: list[SidecarError]
    unedited: int


# Long: one loop over the photos and their copies, each step's failure worded as the summary names it.
def _read_histories(photos: list[Path], selection: bool) -> _Histories:
    """Each photo's darktable edits (its own history, its virtual copies'), mapped into our sliders, or why not.

    A photo's virtual copy N (sidecar ``NAME_NN.EXT.xmp``, :mod:`trainer.data.darktable_copies`) is one more edit
    of it, named ``NAME (virtual copy N)`` (``NAME.EXT (virtual copy N)`` in messages); a sidecar of that name
    that is another file's (``xmpMM:DerivedFrom``, :func:`backend.sidecar.apply.copy_conflict`, checked against
    the photo's name as the user has it, its name in its folder or, in a selection, the file linked to, and also
    against the name of the file a link of the user's resolves to) is not a copy: left out, and reported in the
    skip messages unless the file it names (``NAME_NN.EXT``) is there to own it. A copy without an active history,
    or with the same one as an earlier edit of its photo, is skipped as a photo without an edit is. A photo whose
    only sidecars are its copies' (a selection of copies) is not skipped for want of its own; one whose every
    sidecar by name is another file's is (no darktable sidecar). A photo's own sidecar whose ``xmpMM:DerivedFrom``
    names the file whose virtual copy that name is, there beside it (``p_01.png.xmp`` naming ``p.png``), is that
    copy's, not the photo's (:func:`_others_own`). In a user's folder (not a selection), a photo link with no
    sidecar beside it reads those beside the file it resolves to (:func:`_beside_real_file`), and whose they are is
    judged there, against that file (``lib/b_01.png.xmp`` beside ``lib/b.png`` and a file ``lib/b_01.png`` is
    ``b_01.png``'s, whatever the link's folder holds), which is also the file decoded; messages still name the
    link. The photos are read each further link to a file after its first (:func:`_in_order`), their copies
    compared with the same file's edits.

    Args:
        photos: the folder's photos (links to the user's own files when ``selection``).
        selection: the folder is a selection autoretouch linked (``train --darktable A B``, :func:`_is_selection`):
            messages name the user's files.

    Returns:
        The usable edits, the skip messages (``"PHOTO: why"``, every edit skipped), those skipped because the
        photo or its sidecar could not be read (``"PHOTO (why)"``: an empty or truncated file, a malformed
        sidecar), and the skip messages for the run's notes (:class:`_Histories`).
    """
    from backend.decode import decode_preview
    from backend.errors import AutoretouchError
    from backend.sidecar.apply import copy_conflict
    from backend.sidecar.darktable_doc import active_history, darktable_sidecar_path, derived_from
    from backend.sidecar.xmp import read_sidecar_readonly
    from trainer.darktable_labels import history_to_settings
    from trainer.data.selection import link_target

    skipped: list[str] = []
    unreadable: list[str] = []
    chosen: list[DarktableEdit] = []
    broken: list[SidecarError] = []
    quiet: set[int] = set()  # indices into skipped of the messages the notes leave out (see _Histories.noted)
    unedited = 0  # of those, the photos without any sidecar
    listings: dict[Path, set[str]] = {}  # each folder listed once, however many photos it holds
    # by the file each photo resolves to: a copy linked beside a further link of its photo is compared with its own
    histories_of: dict[Path, dict[tuple[Any, ...], str]] = {}
    for photo in _in_order(photos):
        names = _listing(photo.parent, listings)
        # The photo as the user has it: in a selection, the user's file (messages name it, not the run's links;
        # normalised: links/../lib2/a.png is lib2/a.png).
        own = _user_file(photo) if selection else photo
        shown = str(own) if selection else photo.name
        edits = _photo_edits(photo, names, selection)
        judged = own  # the photo whose folder says whose a sidecar is (copy_conflict, _others_own) and decoded
        twin: Path | None = None  # another photo here, the same file: why the real file's sidecars are not read
        if not edits and not selection:  # a link of the user's with no sidecar by it: those by the file it links to
            edits, twin = _beside_real_file(photo, photos, listings)
            judged = photo.resolve() if edits else own  # lib/b_01.png beside lib/b.png owns lib/b_01.png.xmp
        others = 0  # edits left out as another file's sidecar
        owner: str | None = None  # the file the photo's own sidecar (by name) says it is of, when left out for it
        long_side: int | None = None  # the photo is decoded once, for its first usable edit
        histories = histories_of.setdefault(photo.resolve(), {})
        for number, sidecar in edits:
            label = copy_label(shown, number)
            step = "sidecar"
            try:
                doc = read_sidecar_readonly(link_target(sidecar))
                conflict = copy_conflict(doc, judged, number) if number else _others_own(doc, judged, sidecar)
                # named after the file a link resolves to, or after the photo as the user has it (the link's name),
                # unless a file of that name beside the one judged is the photo the sidecar names
                if conflict is not None and derived_from(doc) not in _own_names(photo, own, judged):
                    others += 1
                    if number:
                        _left_out(label, conflict, darktable_sidecar_path(judged, number).with_suffix(""), skipped)
                    else:
                        owner = conflict
                    continue
                entries = active_history(doc)
                if not entries:
                    skipped.append(f"{label}: the sidecar has no active history")
                    continue
                if tuple(entries) in histories:
                    skipped.append(f"{label}: the same history as {histories[tuple(entries)]}")
                    continue
                histories[tuple(entries)] = label
                step = "photo"
                if long_side is None:
                    info = decode_preview(judged, long_side=64)
                    long_side = max(info.full_width, info.full_height)
                step = "history"
                mapped = history_to_settings(entries, long_side_px=long_side)
            except AutoretouchError as exc:
                who = shown if step == "photo" else label  # the photo: none of its edits can be learnt from
                skipped.append(f"{who}: {exc}")
                if step != "history":
                    quiet.add(
                        len(skipped) - 1
                    )  # the photo or its sidecar could not be read (not: a history we cannot map)
                    why = getattr(exc, "reason", None) or str(exc)
                    unreadable.append(f"{who} ({'the sidecar: ' if step == 'sidecar' else ''}{why})")
                    if step == "sidecar" and isinstance(exc, SidecarError):
                        broken.append(exc)
                if step == "photo":
                    break
                continue
            for why in mapped.unreadable:  # trained on all the same: darktable-cli renders what the sidecar says
                log.warning("%s: the sidecar's %s; learnt from darktable's render of it only", label, why)
            modules = {
                "mapped": list(mapped.mapped),
                "approximate": [name for name, _ in mapped.approximate],
                "not_ours": list(mapped.not_ours),
            }
            name = copy_label(photo.stem, number)
            chosen.append(DarktableEdit(photo, sidecar.read_text(encoding="utf-8"), dict(mapped.values), modules, name))
        if others == len(edits):  # none, or each another file's (IMG_01.jpg's own sidecar beside IMG.jpg)
            skipped.append(f"{shown}: {_no_sidecar(judged, selection, owner, judged != own, twin)}")
            if not edits:  # a photo not edited in darktable (a folder's, or one given): the log and the record
                quiet.add(len(skipped) - 1)  # name it; a note would count a folder's every unedited photo
                unedited += 1
    noted = [m for i, m in enumerate(skipped) if i not in quiet]
    return _Histories(chosen, skipped, unreadable, noted, broken, unedited)


def _own_names(photo: Path, own: Path, judged: Path) -> tuple[str, ...]:
    """The names a sidecar's ``xmpMM:DerivedFrom`` may give and still be ``photo``'s, though its name is another's.

    The file ``photo`` resolves to, and the photo as the user has it (``own``, a link's name) unless a file of that
    name lies beside the photo judged (``judged``) and is not that same file: ``links/p.png -> lib/p_01.png``
    must not learn ``lib/p_01.png.xmp`` naming ``p.png`` when ``lib/p.png`` is there (that is its copy). A photo
    there of that name (a file, as :func:`_others_own` counts one: a broken link is none; the same file under
    another name or case is no other photo) makes the sidecar another's whatever its name: when in doubt, another
    photo's edit is not learnt.
    """
    real = photo.resolve()
    namesake = judged.parent / own.name
    if own.name == real.name or (namesake.is_file() and not os.path.samefile(namesake, real)):
        return (real.name,)
    return (real.name, own.name)


def _user_file(link: Path) -> Path:
    """The user's file behind selection link ``link`` (:func:`trainer.data.selection.link_target`), normalised.

    A relative link reads ``links/../lib2/a.png``; messages name ``lib2/a.png``, unless ``..`` there follows a
    link to a folder (normalising it would name another file: then the path is kept as it is).
    """
    from trainer.data.selection import link_target

    target = link_target(link)
    tidy = Path(os.path.normpath(target))
    return tidy if tidy == target or tidy.resolve() == target.resolve() else target


def _in_order(photos: Sequence[Path]) -> list[Path]:
    """``photos`` in order, each further link to a file right after the first one that has its own sidecar.

    A selection links a virtual copy whose sidecar name is another file's beside a further link of its photo
    (:func:`trainer.data.selection.linked_folder`); its photo's own edit comes first, so that a copy with the same
    history is the one skipped as the same history as an earlier edit.
    """
    from backend.sidecar.darktable_doc import darktable_sidecar_path

    first: dict[Path, int] = {}
    for i, p in enumerate(photos):
        first.setdefault(p.resolve(), i)
    order = sorted(
        range(len(photos)),
        key=lambda i: (first[photos[i].resolve()], not os.path.lexists(darktable_sidecar_path(photos[i])), i),
    )
    return [photos[i] for i in order]


def _others_own(doc: Any, own: Path, sidecar: Path) -> str | None:
    """Why a photo's own sidecar (by name) is another file's, or ``None``: its ``xmpMM:DerivedFrom`` names a file there.

    ``p_01.png.xmp`` is also the sidecar of ``p.png``'s virtual copy 1; when it names ``p.png`` and ``p.png`` is
    beside ``own`` (or beside the sidecar's own file), it is that copy's (trained as such), not ``p_01.png``'s. Only
    the photo whose own sidecar name is that copy's name (:func:`trainer.data.darktable_copies.copy_named`) is
    asked: another name (a renamed file's sidecar naming its old name) stays the photo's.

    Args:
        doc: the sidecar read (:class:`backend.sidecar.xmp.XmpDocument`).
        own: the photo as the user has it.
        sidecar: the sidecar (a link to the user's in a selection).
    """
    from backend.sidecar.darktable_doc import darktable_sidecar_path, derived_from_other

    owner, copy = derived_from_other(doc, own), copy_named(darktable_sidecar_path(own))
    if owner is None or copy is None or copy.photo.name != owner:  # only a copy's name: p.png's copy 1, p_01.png.xmp
        return None
    folders = (own.parent, Path(os.path.realpath(sidecar)).parent)
    return f"this sidecar belongs to {owner}" if any((f / owner).is_file() for f in folders) else None


def _no_sidecar(own: Path, selection: bool, owner: str | None, far: bool = False, twin: Path | None = None) -> str:
    """Why photo ``own`` (as the user has it) has no edit to learn: no sidecar, or its sidecar is another file's.

    Args:
        own: the photo as the user has it (normalised in a selection), or the file a user's photo link resolves
            to where its sidecars were read there (``far``).
        selection: ``own`` was linked in a selection folder: the sidecar is named by its whole path, and one that
            is there but not linked beside the photo's link is said to be so.
        owner: why its own sidecar by name is another file's (:func:`_others_own`), if it is.
        far: ``own`` is the file a user's link resolves to, in another folder: the sidecar is named by its whole
            path (``lib/b_01.png.xmp``, not ``b_01.png.xmp`` as if beside the link).
        twin: for a user's link, another photo of its folder that is the same file, for which the sidecars beside
            that file were not read for the link (:func:`_beside_real_file`): said so, naming both.
    """
    from backend.sidecar.darktable_doc import darktable_sidecar_path

    sidecar = darktable_sidecar_path(own)
    where = str(sidecar) if selection or far else sidecar.name
    if owner is not None:
        return f"no darktable sidecar of its own ({where}: {owner})"
    if selection and sidecar.is_file():
        return f"no darktable sidecar linked ({where} is not in the selection)"
    if twin is not None:
        return (
            f"no darktable sidecar ({where}; those beside the file it links to, {twin.resolve()}, are not read "
            f"for it: {twin.name} here is the same file)"
        )
    return f"no darktable sidecar ({where})"


def _left_out(label: str, why: str, namesake: Path, skipped: list[str]) -> None:
    """Note a copy's sidecar (by name) left out as another file's: logged, or added to ``skipped``.

    Args:
        label: the copy, as messages name it (``IMG.jpg (virtual copy 1)``).
        why: why it is another file's (:func:`backend.sidecar.apply.copy_conflict`).
        namesake: the file ``IMG_01.jpg`` whose own sidecar it is by name; when it is there (a photo trained on its
            own sidecar), the copy is only logged, else it goes into ``skipped`` (the summary names it).
        skipped: the skip messages.
    """
    if namesake.exists():
        log.info("%s: not learnt from: %s", label, why)
    else:
        skipped.append(f"{label}: not learnt from: {why}")


def _read_as_selection(folder: Path) -> bool:
    """Whether ``folder`` is read as a selection (:func:`_is_selection`); warns where it looks like one, unmarked.

    A folder that looks like a selection an earlier autoretouch linked, without the marker
    (:func:`trainer.data.selection.unmarked_selection`), is read as the user's, with a warning (:data:`_UNMARKED`).
    """
    from trainer.data.selection import MARKER, unmarked_selection

    if _is_selection(folder):
        return True
    if unmarked_selection(folder):
        log.warning(_UNMARKED, folder, MARKER)
    return False


#: The warning for a folder that looks like a selection an earlier autoretouch linked (no marker): read as the user's.
_UNMARKED = (
    "%s: read as your own folder of links: it has no %s, so it is not a selection this autoretouch linked (an "
    "earlier version's?); a photo linked there without its sidecar learns every darktable edit beside its own "
    "file, its virtual copies too. To train on the photos you chose only, give them again: train --darktable PHOTO..."
)


def load_darktable_pair_set(
    cfg: TrainConfig, folder: str | Path, sliders: tuple[str, ...], *, deadline: float | None = None
) -> PairSet:
    """Pairs from a darktable folder: each photo edited in darktable, and darktable's render of each of its edits.

    A photo's edits are its own history (sidecar ``IMG.ext.xmp``) and each of its virtual copies'
    (``IMG_NN.ext.xmp``, a pair named ``IMG (virtual copy N)``, :func:`_darktable_histories`); a selection folder
    holds the copies chosen, and a copy's sidecar there whose photo is missing is named and skipped
    (:func:`_lone_copies`). ``data.max_images`` caps the edits. The edit of each pair is what darktable makes of
    that active history (darktable-cli, headless, at most :data:`DARKTABLE_EXPORT_SIZE` pixels), so every
    module the photographer used counts, ours or not; the history entries of our own modules are also mapped
    back into our sliders (:func:`trainer.darktable_labels.history_to_settings`) and serve as the nearest-edits
    labels (the image-space fit where an edit has none of ours). Photos without a sidecar, edits without an
    active history, and files that cannot be read or decoded, are reported, skipped and named in the summary
    (:func:`trainer.pairing_notes._record_left_out`, :func:`trainer.pairing_notes._record_skipped_edits`). A render
    that is its photo rotated is turned back onto the photo's frame (:func:`trainer.pair_frames._turn_back`).
    ``deadline``: :func:`time.monotonic` time (s) the run ends, or ``None`` (:func:`trainer.pair_fit._fitted`).

    The record names the folder, or what the user gave for a selection (:func:`trainer.data.given.folder_record`);
    subfolders with photos, not read, are noted (:func:`trainer.pairing_notes._record_unread_subfolders`).

    Raises:
        NotFoundError: the folder is missing or holds no usable photo (photos in subfolders only: named).
        SidecarError: every edit's sidecar could not be read (not XML, unsafe: :func:`_broken_only`).
        DarktableCliError: darktable-cli is not installed or fails.
    """
    from backend.errors import NotFoundError
    from trainer.data.folders import list_photos
    from trainer.data.given import folder_record
    from trainer.data.pairs import Pair
    from trainer.pair_fit import _fitted

    d = cfg.data
    t0 = time.monotonic()
    photos = list_photos(folder, d.max_images, several=True)
    selection = _read_as_selection(Path(folder))  # the links autoretouch made to the photos given (--darktable A B)
    chosen, skipped, unreadable, noted, broken, unedited = _read_histories(photos, selection)
    if d.max_images > 0:  # a photo's copies count as photos
        chosen = chosen[: d.max_images]
    lone = _lone_copies(Path(folder)) if selection else []  # copies' sidecars whose photo is missing
    skipped, noted = [*skipped, *lone], [*noted, *lone]
    for message in skipped:  # a selection's name the user's files; a folder's, its photos by name there
        log.warning("%sskipped: %s", "" if selection else f"{folder}: ", message)
    if not chosen:
        given = "the photo given has no" if len(photos) == 1 else f"none of the {len(photos)} photos given has a"
        lead = given if selection else f"{folder}: no photo with a"
        raise _broken_only(broken, len(skipped) - unedited, lead) or NotFoundError(
            f"{lead} darktable history ({'; '.join(skipped[:3])})"
        )
    afters = _renders(chosen)
    pairs = [Pair(e.name, e.photo, e.photo) for e in chosen]
    views = views_of(cfg, pairs, after_images=afters)
    modules = {
        key: sorted({m for e in chosen for m in e.modules[kind]})
        for key, kind in (("ours_mapped", "mapped"), ("ours_approximate", "approximate"), ("not_ours", "not_ours"))
    }
    record = folder_record("darktable", folder, with_sidecars=True)  # a favourites selection: the user's folder
    source = {**record, "darktable_skipped": skipped, "modules": modules}
    for message in views.skipped:
        log.warning("skipping a photo: %s", message)
    lost = _unreadable_pairs(pairs, views, short=False)
    _record_left_out(source, "darktable sidecars", [*unreadable, *lost])
    _record_skipped_edits(source, noted)
    _record_unread_subfolders(source, [folder], with_sidecars=True)
    views, turned = _turn_back(cfg, pairs, views, lambda i: afters[i])
    _record_turns(source, turned)
    index_of = _kept_indices(pairs, views)

    def frames(j: int) -> str | None:
        pair, i = views.pairs[j], index_of[j]
        size = None if i is None else (int(afters[i].shape[-2]), int(afters[i].shape[-1]))
        return _frame_text(pair.input, size, turned.get(pair.name))

    ps = _fitted(cfg, views, sliders, 0, t0, source, deadline=deadline, frames=frames)
    # by index, not by name: a.png and a.jpg share the stem a
    labels = [chosen[i].values if i is not None else {} for i in index_of]
    ps.labels = [Recipe.from_settings(v or f.values).to_dict()["steps"] for v, f in zip(labels, ps.fits, strict=True)]
    return ps


def _broken_only(broken: Sequence[SidecarError], edits: int, lead: str) -> SidecarError | None:
    """The error of a darktable training whose every edit was left out because its sidecar could not be read.

    ``train --darktable IMG.jpg`` whose ``IMG.jpg.xmp`` is not XML fails as ``apply`` does on it (the sidecar's
    error and exit status, 8), not as a photo not found; so does a film roll whose one edited photo's sidecar is
    not XML, beside photos without a sidecar (not edited: no edit of theirs left out). Where some edit was left
    out for another reason (an empty history, another file's sidecar, a copy whose photo is missing, a photo that
    cannot be decoded) the run's "no darktable history" error stands.

    Args:
        broken: the sidecars that could not be read (:attr:`_Histories.broken`).
        edits: how many edits were left out: the skip messages but those of photos without any sidecar
            (:attr:`_Histories.unedited`).
        lead: the refusal's words for what was given (``"the photo given has no"``).

    Returns:
        The first sidecar's error, saying what the run lacks for it and counting the others; ``None`` otherwise.
    """
    if not broken or len(broken) != edits:
        return None
    first = broken[0]
    more = f"; {counted(len(broken) - 1, 'other sidecar')} could not be read either" if len(broken) > 1 else ""
    return SidecarError(first.path, f"{first.reason}; {lead} darktable history{more}")


def _renders(chosen: Sequence[DarktableEdit]) -> list[Tensor]:
    """darktable-cli's render of each edit on its photo: ``(1, 3, H, W)`` linear Rec.2020, unclamped.

    At most :data:`DARKTABLE_EXPORT_SIZE` pixels wide and high (:meth:`DarktableCli.render_batch`).

    Raises:
        DarktableCliError: darktable-cli is not installed or fails.
    """
    import tempfile

    from trainer.darktable_cli import DarktableCli
    from trainer.data.selection import link_target

    with tempfile.TemporaryDirectory(prefix="autoretouch-dt-") as scratch:
        dt = DarktableCli(Path(scratch))
        items = {f"p{i:05d}": (link_target(e.photo), e.text) for i, e in enumerate(chosen)}
        result = dt.render_batch(items, max_size=DARKTABLE_EXPORT_SIZE)
    return [torch.from_numpy(result.images[k]).permute(2, 0, 1)[None].contiguous() for k in items]


def _lone_copies(folder: Path) -> list[str]:
    """``"SIDECAR: why"`` for each virtual copy's sidecar linked in selection ``folder`` whose photo is missing.

    ``train --darktable IMG_01.jpg.xmp`` links that copy's sidecar even when ``IMG.jpg`` is missing
    (:func:`trainer.data.selection.darktable_selection`), so that it is named and skipped, not the run refused.
    The user's sidecar is read by its own name and folder, whatever its link is called (no photo of the selection
    takes it for its copy: :func:`_beside`); a photo ``IMG_01.jpg``'s own sidecar is not a copy's.
    """
    lone = []
    for link in sorted(folder.iterdir(), key=lambda p: p.name):
        own = _user_file(link)
        copy = copy_named(own) if link.is_symlink() else None
        if copy is None or copy.photo.is_file() or own.with_suffix("").is_file():
            continue
        lone.append(f"{own}: a darktable virtual copy's sidecar, and its photo {copy.photo} is not there")
    return lone
