"""What matching and loading the pairs left out and chose, named in the run's summary (``source``).

Used by the pair loaders (:mod:`trainer.restore_pairs`, :mod:`trainer.darktable_pairs`,
:mod:`trainer.lightroom_pairs`): pairs left out because a file cannot be decoded, has no partner, duplicates
another pair or has an unclear photo (:func:`_record_left_out`), darktable edits left out for another reason
(:func:`_record_skipped_edits`), the subfolders with photos not read (:func:`_record_unread_subfolders`), and the
choices the pairing by name made (:func:`_record_pairing_choices`, :func:`_choices_as_made`), and the edits that
show a part of their original, fitted on that part (:func:`_record_crops`). Pairs that
:func:`trainer.data.pairs.load_paired_views` kept are matched to the ones given by :func:`_kept_indices`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backend.fsio import file_sha256
from trainer.data.pairs import Pair, PairedViews
from trainer.result import paired_left_out_notes
from trainer.summary_lines import counted

log = logging.getLogger(__name__)


#: :attr:`trainer.data.pairs.PairMatch.ambiguous`'s ``"NAME (FILES in FOLDER: why)"``.
_AMBIGUOUS = re.compile(r"^(?P<name>.*) \((?P<files>.*) in (?P<folder>.*): (?P<why>[^:()]*)\)$")


def _ambiguous_text(why: str, *, short: bool = False) -> str:
    """A name left out as ambiguous with its folder by name only: ``"NAME (FILES in FOLDER: why)"``.

    ``short``: without the why (``"IMG_0 (IMG_0.jpg / IMG_0.tif in after)"``, the note's lead says it). A text not
    in that form is returned as it is.
    """
    m = _AMBIGUOUS.match(why)
    if m is None:
        return why
    head = f"{m['name']} ({m['files']} in {Path(m['folder']).name}"
    return f"{head})" if short else f"{head}: {m['why']})"


def _record_pairing_choices(source: dict[str, Any], choices: Sequence[str]) -> None:
    """Name the choices the pairing by name made in ``source`` (``pairing_choices`` and one note); none: unchanged.

    The choices are :attr:`trainer.data.pairs.PairMatch.notes` as loading left them (:func:`_choices_as_made`): a
    raw paired rather than the camera's JPEG of the same name, or that JPEG where the raw cannot be decoded; names
    paired although their case differs.
    """
    if not choices:
        return
    source["pairing_choices"] = list(choices)
    source["notes"] = [
        *source.get("notes", []),
        f"{counted(len(choices), 'choice')} made pairing the photos by name: " + "; ".join(choices),
    ]


def _kept_indices(pairs: Sequence[Pair], views: PairedViews) -> list[int | None]:
    """For each pair of ``views`` (:func:`load_paired_views` of ``pairs``), its index in ``pairs``.

    The views keep the pairs they could load in order, each the very object given, except a pair whose raw gave
    way to the camera's JPEG beside it (:func:`trainer.data.pairs.decode_original`): that one comes back as a new
    :class:`Pair` of the same name and edit, its ``input`` the given pair's ``alternative``. Pairs are matched in
    order, by identity first, so pairs of one name (a catalog's virtual copies) stay apart.

    Returns:
        One index per pair of ``views``; ``None`` where one cannot be placed (not expected).
    """
    found: list[int | None] = []
    i = 0
    for kept in views.pairs:
        at = next((k for k in range(i, len(pairs)) if _same_pair(pairs[k], kept)), None)
        found.append(at)
        i = i if at is None else at + 1
    return found


def _same_pair(given: Pair, kept: Pair) -> bool:
    """Whether ``kept`` (a pair of :class:`PairedViews`) is ``given``, or ``given`` with its raw's JPEG used."""
    if kept is given:
        return True
    return (
        given.alternative is not None
        and kept.input == given.alternative
        and kept.name == given.name
        and kept.reference == given.reference
    )


def _choices_as_made(choices: Sequence[str], pairs: Sequence[Pair], views: PairedViews) -> list[str]:
    """The pairing's choices (:attr:`trainer.data.pairs.PairMatch.notes`) as loading the pairs left them.

    A name whose raw was chosen over the camera's JPEG but then could not be decoded (:attr:`PairedViews.notes`:
    ``"NAME: the raw FILE cannot be decoded (why); FILE is paired instead"``, one per such pair, in order) has its
    choice (``"NAME: the raw FILE is paired, not FILE"``) replaced by that note, in its place (a note without such
    a choice is added at the end), and a note that its raw is paired with an edit whose name differs in case names
    the JPEG instead. Without such notes ``choices`` is returned as it is.
    """
    if not views.notes:
        return list(choices)
    index = _kept_indices(pairs, views)
    given = [pairs[i] for j, i in enumerate(index) if i is not None and views.pairs[j] is not pairs[i]]
    if len(given) != len(views.notes):  # not one note per pair whose raw gave way: the notes added as they are
        return [*choices, *views.notes]
    swapped = {pair.name: (pair, note) for pair, note in zip(given, views.notes, strict=True)}
    raws = list(given)  # every pair whose raw gave way, also after its choice was replaced (popped) below
    out: list[str] = []
    for choice in choices:
        name = next((n for n in swapped if choice.startswith(f"{n}: the raw ")), None)
        if name is not None:
            out.append(swapped.pop(name)[1])
            continue
        raw = next((p for p in raws if choice.startswith(f"{p.input.name} is paired with ")), None)
        if raw is not None and raw.alternative is not None:
            choice = raw.alternative.name + choice[len(raw.input.name) :]
        out.append(choice)
    return [*out, *(note for _, note in swapped.values())]


def _unmatched_text(path: Path, before: Path) -> str:
    """``"FILE (why)"`` for a photo of ``--pairs`` left out for want of a partner (it lies in ``before`` or not)."""
    why = "an original without its edit" if path.parent == before else "an edit without its original"
    return f"{path.name} ({why})"


def _unreadable_pairs(pairs: Sequence[Pair], views: PairedViews, *, short: bool) -> list[str]:
    """``"NAME (why)"`` for each of ``pairs`` that :func:`load_paired_views` left out (a file could not be decoded).

    ``views.skipped`` holds one message (``"FILE: why"``) per pair left out, in order. ``short``: the file is named
    as ``original NAME.ext`` or ``edit NAME.ext`` (``--pairs``: the folders are known); else by its path.
    """
    kept = {i for i in _kept_indices(pairs, views) if i is not None}
    lost = [pair for i, pair in enumerate(pairs) if i not in kept]
    if len(lost) != len(views.skipped):  # not one message per pair left out: the messages as they are
        return list(views.skipped)
    named = []
    for pair, message in zip(lost, views.skipped, strict=True):
        for role, path in (("original", pair.input), ("edit", pair.reference)):
            if short and message.startswith(f"{path}: "):
                message = f"{role} {path.name}: {message[len(str(path)) + 2 :]}"
                break
        named.append(f"{pair.name} ({message})")
    return named


def _record_left_out(
    source: dict[str, Any],
    learned_from: str,
    unreadable: Sequence[str],
    unmatched: Sequence[str] = (),
    duplicates: Sequence[str] = (),
    ambiguous: Sequence[str] = (),
) -> None:
    """Name the examples left out in ``source`` (the run's summary): keys, and notes for the command's summary.

    Adds ``unreadable_pairs_skipped`` (a file could not be found or decoded) and ``unmatched_photos_skipped``
    (``--pairs``: no partner of the same name) where there are any, and their notes
    (:func:`trainer.result.paired_left_out_notes`, duplicates and names whose photo is unclear, ``ambiguous``,
    too); with nothing left out ``source`` is unchanged.
    """
    if unreadable:
        source["unreadable_pairs_skipped"] = list(unreadable)
    if unmatched:
        source["unmatched_photos_skipped"] = list(unmatched)
    notes = paired_left_out_notes(learned_from, unreadable, unmatched, duplicates, ambiguous)
    if notes:
        source["notes"] = notes


#: How many of the darktable edits left out :func:`_record_skipped_edits`'s note names (the rest are counted).
_SKIPPED_SHOWN = 3


def _record_skipped_edits(source: dict[str, Any], skipped: Sequence[str]) -> None:
    """Add one note to ``source`` on the darktable edits left out for another reason than a file unreadable.

    A virtual copy whose photo is missing, a photo given without a sidecar, a sidecar that is another file's, a
    copy with an empty history or the same history as another edit (``train --darktable``'s skip messages,
    ``"PHOTO: why"``, also in ``darktable_skipped``). The note counts them all and names the first
    :data:`_SKIPPED_SHOWN`, so that a long list does not flood the summary; none: ``source`` is unchanged.
    """
    if not skipped:
        return
    shown = "; ".join(skipped[:_SKIPPED_SHOWN])
    rest = len(skipped) - _SKIPPED_SHOWN
    more = f"; and {rest} more (the run's darktable_skipped names each)" if rest > 0 else ""
    note = f"{counted(len(skipped), 'darktable edit')} left out: {shown}{more}"
    source["notes"] = [*source.get("notes", []), note]


def _record_unread_subfolders(
    source: dict[str, Any], folders: Sequence[str | Path], *, with_sidecars: bool | None = None
) -> None:
    """Name in ``source`` the subfolders with photos of ``folders`` that training did not read (it is not recursive).

    Adds ``subfolders_not_read`` (their paths) and one note (:func:`trainer.data.folders.unread_subfolders_note`)
    after the notes already there; hidden folders and autoretouch's run folders are not named, nor, for a selection
    autoretouch linked, the subfolders of the files' folders (:func:`trainer.data.given.unread_subfolders`). None:
    ``source`` is unchanged.

    Args:
        source: the run's summary of its pairs.
        folders: the folders given (``--pairs``' two, ``--darktable``'s).
        with_sidecars: what they were read for (``True``: darktable edits), as
            :func:`trainer.data.given.given_record` asks whether one is a selection.
    """
    from trainer.data.folders import unread_subfolders_note
    from trainer.data.given import unread_subfolders

    unread = unread_subfolders(*folders, with_sidecars=with_sidecars)
    note = unread_subfolders_note(unread)
    if note is None:
        return
    source["subfolders_not_read"] = unread
    source["notes"] = [*source.get("notes", []), note]


#: How many of the cropped edits :func:`_record_crops`'s note names (the rest are counted; the record names each).
_CROPS_SHOWN = 8


def _record_crops(source: dict[str, Any], views: PairedViews) -> None:
    """Name the edits that show a part of their original, whose original was cut to that part (one log line each).

    Adds ``frames_cropped`` (pair name -> ``scale``, ``rotation_deg``, ``shift_x``, ``shift_y`` of
    :class:`trainer.data.framing.FrameOffset`) and a note (``"2 edits were cropped: fitted on the part of the
    original they show (IMG_3: scale 1.25, shift (0.0 %, 0.0 %); ...)"``, the first :data:`_CROPS_SHOWN` named).
    None (:attr:`PairedViews.cropped` all ``None`` or empty): ``source`` is unchanged.

    Args:
        source: the run's summary of its pairs.
        views: the pairs' views as they are fitted (after :func:`trainer.pair_frames._turn_back`).
    """
    found = [(p.name, c) for p, c in zip(views.pairs, views.cropped, strict=False) if c is not None]
    if not found:
        return
    record: dict[str, dict[str, Any]] = {}
    for name, offset in found:
        log.warning(
            "%s: the edit shows a part of the original (%s); its recipe is fitted on that part of the original",
            name,
            offset.describe(),
        )
        record[name] = {
            k: v for k, v in offset.to_dict().items() if k in ("scale", "rotation_deg", "shift_x", "shift_y")
        }
    source["frames_cropped"] = record
    shown = "; ".join(f"{name}: {offset.describe()}" for name, offset in found[:_CROPS_SHOWN])
    more = f"; and {len(found) - _CROPS_SHOWN} more" if len(found) > _CROPS_SHOWN else ""
    were, they = ("was", "it shows") if len(found) == 1 else ("were", "they show")
    source["notes"] = [
        *source.get("notes", []),
        f"{counted(len(found), 'edit')} {were} cropped: fitted on the part of the original {they} ({shown}{more})",
    ]


def _unique_pairs(pairs: Sequence[Pair]) -> tuple[list[Pair], list[str]]:
    """``pairs`` without a pair whose original and edit both duplicate an earlier pair's (by content or real path).

    A pair present twice (a byte copy or a link of both files under another name) would weigh double and could
    land in both halves of the cross-fitted check. Two edits of one original (virtual copies) are both kept.
    """
    kept: list[Pair] = []
    dropped: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    keys: dict[Path, str] = {}  # one hash per file, however many pairs share it (an original's virtual copies)
    for pair in pairs:
        key = (_file_key(pair.input, keys), _file_key(pair.reference, keys))
        if key in seen:
            dropped.append(f"{pair.name} (the same original and edit as {seen[key]})")
            log.warning("pair %s: the same original and edit as %s; left out", pair.name, seen[key])
            continue
        seen[key] = pair.name
        kept.append(pair)
    return kept, dropped


def _file_key(path: Path, memo: dict[Path, str]) -> str:
    """The sha256 of a file's bytes, or its real path when it cannot be read (its decoding reports it).

    ``memo`` holds the keys already worked out (by path), so that a file is read once per call of the caller.
    """
    key = memo.get(path)
    if key is None:
        key = memo[path] = file_sha256(path) or "path:" + os.path.realpath(path)
    return key
