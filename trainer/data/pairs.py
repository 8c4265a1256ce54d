"""Before/after pairs: two folders matched by file stem, decoded at one size, cut into aligned views.

Used by ``autoretouch eval`` (inputs and reference edits) and by ``autoretouch train --pairs`` (a photographer's
originals and their edited exports). A pair is two files with the same stem (``IMG_1.CR2`` with ``IMG_1.jpg``),
one in each folder (not recursive). Stems are compared in Unicode NFC (``Noël`` as macOS writes it, NFD, pairs
with ``Noël`` in NFC); a stem without a partner of exactly that name pairs with the only one that differs from it
in case alone (``IMG_0.JPG`` with ``img_0.jpg``), and that is noted. A raw and the camera's JPEG of one stem
among the originals (shot RAW+JPEG into one folder) pair the raw, and the choice is noted (where that raw
cannot be decoded, damaged or from a camera LibRaw does not support, the JPEG is used instead, and noted:
:func:`decode_original`); a name whose file is still unclear (two raws, a PNG and a JPEG original, a JPEG and a
TIFF export of one edit) is left out alone with a note (:func:`match_pairs`).

For evaluation (:func:`load_pair`) both are decoded at the evaluation size and compared at one frame: a reference
exported at another size (half, double) or a rounding pixel or two off is compared with its input at the smaller
of the two sizes; only a different aspect ratio is refused (a crop that keeps the aspect ratio passes, resized
onto the input's frame: ``eval`` names it, :func:`trainer.data.framing.frame_offset`). For training
(:func:`load_paired_views`), a rendition whose size or aspect ratio differs (a crop, a rotation, an export at another
aspect) is squeezed onto the input's frame all the same: its recipe fit then stays poor, and the trainer reports and
down-weights it; except that an edit with the input's aspect ratio that shows only a part of it (a crop, a small
straightening crop) has its original cut to that part first (:func:`trainer.data.cropped_edits.cut_to_edit`).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional

from backend.decode import RAW_EXTENSIONS
from backend.errors import AutoretouchError, NotFoundError

if TYPE_CHECKING:
    from trainer.data.framing import FrameOffset

__all__ = [
    "Pair",
    "PairMatch",
    "PairedViews",
    "check_pairs",
    "find_pairs",
    "load_pair",
    "load_paired_views",
    "match_pairs",
]

log = logging.getLogger(__name__)

#: Size mismatch (pixels per side) between a reference and its input that is resized away.
_SIZE_SLACK = 2


@dataclass(frozen=True)
class Pair:
    """An input photo and its reference edit.

    Attributes:
        name: the shared file stem.
        input: the unedited photo.
        reference: the reference edit.
        alternative: the other original of the name, tried where ``input`` (a raw preferred to the camera's JPEG
            beside it) cannot be decoded (damaged, or a camera LibRaw does not support); ``None`` where there is none.
    """

    name: str
    input: Path
    reference: Path
    alternative: Path | None = None


def _is_raw(path: Path) -> bool:
    """Whether ``path`` names a camera raw, by extension (:data:`backend.decode.RAW_EXTENSIONS`)."""
    return path.suffix.lower().lstrip(".") in RAW_EXTENSIONS


def _stem_key(path: Path) -> str:
    """The key a file is paired by: its stem in Unicode NFC (a macOS export's NFD ``Noël`` matches ``Noël``)."""
    return unicodedata.normalize("NFC", path.stem)


def _folded(key: str) -> str:
    """``key`` in lower case (NFC again), for pairing names that differ only in case.

    ``str.lower``, not ``casefold``: casefolding also equates ``ß`` with ``ss`` and the ligature ``ﬃ`` with
    ``ffi``, which are other spellings, not other cases.
    """
    return unicodedata.normalize("NFC", key.lower())


def _forms_note(files: Sequence[Path]) -> str:
    """``"; the names differ only in Unicode form (NFC / NFD)"`` where some of ``files`` do, else ``""``.

    Stems are compared in NFC, so ``Noël.jpg`` written composed and decomposed are one name, shown twice alike.
    """
    names = [f.name for f in files]
    return (
        "; the names differ only in Unicode form (NFC / NFD)"
        if len(set(names)) > len({unicodedata.normalize("NFC", n) for n in names})
        else ""
    )


def _by_stem(files: Sequence[Path]) -> dict[str, list[Path]]:
    """The files by :func:`_stem_key`, each list sorted by name."""
    out: dict[str, list[Path]] = {}
    for f in sorted(files, key=lambda p: p.name):
        out.setdefault(_stem_key(f), []).append(f)
    return out


def _names(paths: Sequence[Path], limit: int = 8) -> str:
    shown = ", ".join(p.name for p in paths[:limit])
    return shown + (f" (and {len(paths) - limit} more)" if len(paths) > limit else "")


def _choose_original(name: str, files: Sequence[Path], folder: Path) -> tuple[Path | None, str, Path | None]:
    """The original a pair uses among ``files`` (one stem in the originals' ``folder``), and a note on the choice.

    The raw is preferred (the photographer edits the raw; a camera JPEG of the same name beside it, shot RAW+JPEG,
    is a rendition of it). Two raws, or several files and no raw (a PNG and a JPEG), are ambiguous.

    Returns:
        ``(file, note, alternative)``: the file and ``""`` when there is one; the raw, a note naming the choice and
        the other file where there is exactly one (tried where the raw cannot be decoded); or ``None`` and why
        (``"NAME (FILE / FILE in FOLDER: why)"``) when which file was edited is unclear.
    """
    if len(files) == 1:
        return files[0], "", None
    raws = [f for f in files if _is_raw(f)]
    if len(raws) == 1:
        rest = [f for f in files if f is not raws[0]]
        others = " / ".join(f.name for f in rest)
        return raws[0], f"{name}: the raw {raws[0].name} is paired, not {others}", rest[0] if len(rest) == 1 else None
    what = "raw" if raws else "photo"
    shown = " / ".join(f.name for f in (raws or files))
    return None, f"{name} ({shown} in {folder}: which {what} was edited is unclear{_forms_note(files)})", None


@dataclass(frozen=True)
class PairMatch:
    """How the photos of two folders were paired (:func:`match_pairs`).

    Attributes:
        pairs: the pairs, sorted by name.
        lonely_inputs: the files of the first folder without a partner of the same name in the other.
        lonely_references: the files of the second folder without a partner of the same name in the first.
        ambiguous: the names left out because which file is meant is unclear (``"NAME (FILES in FOLDER: why)"``):
            two raws, several originals and no raw among them, or several edits of one name (a JPEG and a TIFF
            export).
        notes: the choices made (``"NAME: the raw NAME.CR2 is paired, not NAME.jpg"``) and the names paired
            although their case differs (``"IMG_0.JPG is paired with img_0.jpg (the names differ in case)"``).
    """

    pairs: tuple[Pair, ...]
    lonely_inputs: tuple[Path, ...] = ()
    lonely_references: tuple[Path, ...] = ()
    ambiguous: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def unmatched(self) -> tuple[Path, ...]:
        """The files without a partner, those of the first folder first."""
        return self.lonely_inputs + self.lonely_references


def _case_partners(
    src: Sequence[str], ref: Sequence[str], src_left: Sequence[str], ref_left: Sequence[str]
) -> list[tuple[str, str]]:
    """``(src key, ref key)`` of the keys left unpaired that differ only in case, each alone in its case group.

    The case groups are those of each whole folder (``src``, ``ref``), before the exact matches are taken out: a
    folder holding both ``IMG_1`` and ``img_1`` shows that case matters there, so none of that group is paired
    by case alone.

    Args:
        src: every key of the first folder.
        ref: every key of the second folder.
        src_left: the first folder's keys without an exact partner.
        ref_left: the second folder's keys without an exact partner.
    """
    by_src: dict[str, list[str]] = {}
    by_ref: dict[str, list[str]] = {}
    for key in src:
        by_src.setdefault(_folded(key), []).append(key)
    for key in ref:
        by_ref.setdefault(_folded(key), []).append(key)
    left_src, left_ref = set(src_left), set(ref_left)
    return [
        (keys[0], by_ref[fold][0])
        for fold, keys in sorted(by_src.items())
        if len(keys) == 1 and len(by_ref.get(fold, ())) == 1 and keys[0] in left_src and by_ref[fold][0] in left_ref
    ]


def match_pairs(inputs: str | Path, references: str | Path) -> PairMatch:
    """Pair the photos of two folders by file stem, naming every choice made (see the module docstring).

    Stems are compared in Unicode NFC; a stem without a partner of exactly that name is paired with one that
    differs from it only in case (``str.lower``: ``ß`` is not ``ss``) when each is the only name of its case group
    in its whole folder (noted; a folder holding ``IMG_1`` and ``img_1`` shows case matters there). Names that
    differ only in Unicode form (NFC / NFD) are one name; several files of it are left out as ambiguous, saying so.
    A raw and the camera's JPEG of one stem in ``inputs`` give the pair the raw (noted); two raws, several files
    and no raw, or several files of one stem in ``references`` (a JPEG and a TIFF export), leave only that name out
    (:attr:`PairMatch.ambiguous`).

    Args:
        inputs: folder of unedited photos (not recursive).
        references: folder of reference edits.

    Raises:
        NotFoundError: a folder is missing or holds no photos.
    """
    from trainer.data.folders import list_photos

    src_dir, ref_dir = Path(inputs), Path(references)
    src, ref = _by_stem(list_photos(src_dir)), _by_stem(list_photos(ref_dir))
    matched = [(k, k) for k in sorted(set(src) & set(ref))]
    matched += _case_partners(sorted(src), sorted(ref), sorted(set(src) - set(ref)), sorted(set(ref) - set(src)))
    pairs: list[Pair] = []
    ambiguous: list[str] = []
    notes: list[str] = []
    for s, r in sorted(matched):
        original, why, alternative = _choose_original(s, src[s], src_dir)
        if original is not None and len(ref[r]) > 1:
            shown = " / ".join(f.name for f in ref[r])
            original, why = None, f"{s} ({shown} in {ref_dir}: which one is meant is unclear{_forms_note(ref[r])})"
        if original is None:
            ambiguous.append(why)
            continue
        notes += [why] if why else []
        if s != r:
            notes.append(f"{original.name} is paired with {ref[r][0].name} (the names differ in case)")
        pairs.append(Pair(s, original, ref[r][0], alternative))
    done_src, done_ref = {s for s, _ in matched}, {r for _, r in matched}
    return PairMatch(
        pairs=tuple(pairs),
        lonely_inputs=tuple(f for k in sorted(set(src) - done_src) for f in src[k]),
        lonely_references=tuple(f for k in sorted(set(ref) - done_ref) for f in ref[k]),
        ambiguous=tuple(ambiguous),
        notes=tuple(notes),
    )


def check_pairs(inputs: str | Path, references: str | Path, *, allow_unmatched: bool = False) -> PairMatch:
    """Pair the photos of two folders by file stem (:func:`match_pairs`), refusing what the caller does not allow.

    Nothing is logged: the caller reports :attr:`PairMatch.notes` and :attr:`PairMatch.ambiguous` (as
    :func:`find_pairs` does, or ``eval`` in its own words).

    Args:
        inputs: folder of unedited photos (not recursive).
        references: folder of reference edits.
        allow_unmatched: keep going when some photos have no partner or the file a name means is unclear.

    Returns:
        The match (with at least one pair).

    Raises:
        NotFoundError: a folder is missing or holds no photos; some photos have no partner (naming them)
            unless ``allow_unmatched``; no pair at all.
        AutoretouchError: which file of a name is meant is unclear (two raws, several edits), unless
            ``allow_unmatched``.
    """
    src_dir, ref_dir = Path(inputs), Path(references)
    match = match_pairs(src_dir, ref_dir)
    lonely_in, lonely_ref = list(match.lonely_inputs), list(match.lonely_references)
    if match.ambiguous and not allow_unmatched:
        raise AutoretouchError(
            "several photos share a name, so pairing is ambiguous: "
            + "; ".join(match.ambiguous)
            + " (use --allow-unmatched to skip them)"
        )
    if (lonely_in or lonely_ref) and not allow_unmatched:
        parts = []
        if lonely_in:
            parts.append(f"inputs without a reference in {ref_dir}: {_names(lonely_in)}")
        if lonely_ref:
            parts.append(f"references without an input in {src_dir}: {_names(lonely_ref)}")
        raise NotFoundError(
            "photos are paired by file name (stem); " + "; ".join(parts) + " (use --allow-unmatched to skip them)"
        )
    if not match.pairs:
        raise NotFoundError(
            f"no photo in {src_dir} has a partner of the same name (without extension) in {ref_dir}"
            + (f"; left out as ambiguous: {'; '.join(match.ambiguous)}" if match.ambiguous else "")
        )
    return match


def find_pairs(
    inputs: str | Path, references: str | Path, *, allow_unmatched: bool = False
) -> tuple[list[Pair], list[Path]]:
    """Pair the photos of two folders by file stem (:func:`check_pairs`), logging the choices made.

    The choices (a raw preferred to the camera's JPEG of one name, names paired although their case differs) and
    the names left out as ambiguous (two raws, several edits of one name) are logged as warnings.

    Args:
        inputs: folder of unedited photos (not recursive).
        references: folder of reference edits.
        allow_unmatched: keep going when some photos have no partner or the file a name means is unclear (they
            are returned, not paired, or logged and left out).

    Returns:
        ``(pairs sorted by name, unmatched files)``; the files of names left out as ambiguous are in neither.

    Raises:
        NotFoundError: a folder is missing or holds no photos; some photos have no partner (naming them)
            unless ``allow_unmatched``; no pair at all.
        AutoretouchError: which file of a name is meant is unclear (two raws, several edits), unless
            ``allow_unmatched``.
    """
    match = check_pairs(inputs, references, allow_unmatched=allow_unmatched)
    for note in match.notes:
        log.warning("%s", note)
    for why in match.ambiguous:
        log.warning("left out, pairing is ambiguous: %s", why)
    return list(match.pairs), list(match.unmatched)


def _common_frame(x: tuple[int, int], ref: tuple[int, int]) -> tuple[int, int] | None:
    """The ``(H, W)`` both photos of a pair are compared at, or ``None`` when their aspect ratios differ.

    The smaller of the two frames (by long side; the input's on a tie): the larger one, scaled to it, must match it
    within :data:`_SIZE_SLACK` pixels per side (a reference exported at half or double the size, or a rounding
    pixel or two off).
    """
    small, large = sorted((x, ref), key=max)
    scale = max(small) / max(large)
    if all(abs(n * scale - m) <= _SIZE_SLACK for n, m in zip(large, small, strict=True)):
        return small
    return None


def decode_original(pair: Pair, long_side: int) -> tuple[Pair, Tensor, str]:
    """Decode the pair's original; where that raw cannot be decoded, the other original of the name (noted).

    A raw is preferred to the camera's JPEG of the same name (:func:`match_pairs`); when the raw turns out to be
    damaged, or from a camera LibRaw does not support, :attr:`Pair.alternative` is decoded instead.

    Args:
        pair: the pair.
        long_side: the long side the photo is decoded at.

    Returns:
        ``(pair, image, note)``: the pair as used (``input`` the alternative where it was used), the
        ``(1, 3, H, W)`` float32 linear Rec.2020 original, and ``""`` or a note naming the switch.

    Raises:
        The decode errors of :func:`backend.decode.decode_preview`: the raw's where the alternative fails too.
    """
    from backend.decode import decode_preview
    from backend.errors import DecodeError

    try:
        return pair, decode_preview(pair.input, long_side=long_side).image.float(), ""
    except DecodeError as exc:
        if pair.alternative is None:
            raise
        try:
            x = decode_preview(pair.alternative, long_side=long_side).image.float()
        except AutoretouchError:
            raise exc from None
        reason = getattr(exc, "reason", None) or str(exc)
        note = (
            f"{pair.name}: the raw {pair.input.name} cannot be decoded ({reason}); "
            f"{pair.alternative.name} is paired instead"
        )
        return Pair(pair.name, pair.alternative, pair.reference), x, note


def load_pair_noted(pair: Pair, size: int) -> tuple[Pair, Tensor, Tensor, str]:
    """:func:`load_pair`, with the pair as used and a note where its raw gave way (:func:`decode_original`).

    Args:
        pair: the pair.
        size: long side in pixels (images smaller than that keep their size).

    Returns:
        ``(pair, input, reference, note)``.

    Raises:
        As :func:`load_pair`.
    """
    from backend.decode import decode_preview

    pair, x, note = decode_original(pair, size)
    ref = decode_preview(pair.reference, long_side=size).image.float()
    x, ref = _one_frame(pair, x, ref)
    return pair, x, ref, note


def _one_frame(pair: Pair, x: Tensor, ref: Tensor) -> tuple[Tensor, Tensor]:
    """``x`` and ``ref`` brought to :func:`_common_frame` (AutoretouchError where their aspect ratios differ)."""
    (h, w), (rh, rw) = x.shape[-2:], ref.shape[-2:]
    frame = _common_frame((h, w), (rh, rw))
    if frame is None:
        raise AutoretouchError(
            f"{pair.reference}: its frame ({rw}x{rh}, aspect ratio {rw / rh:.3f}) does not match its input "
            f"{pair.input.name} ({w}x{h}, aspect ratio {w / h:.3f}); a crop or a rotation? The reference must "
            "show the input's whole frame"
        )
    if (h, w) != frame:
        x = functional.interpolate(x, size=frame, mode="bilinear", align_corners=False, antialias=True)
    if (rh, rw) != frame:
        ref = functional.interpolate(ref, size=frame, mode="bilinear", align_corners=False, antialias=True)
    return x, ref


def load_pair(pair: Pair, size: int) -> tuple[Tensor, Tensor]:
    """Decode a pair at the evaluation size, both photos brought to one frame.

    A reference exported at another size than its input (half, double), or one that a photo smaller than
    ``size`` keeps, is compared at the smaller of the two sizes: the larger photo is resized down to it. Only
    their aspect ratios must agree (within a rounding pixel or two).

    Args:
        pair: the pair.
        size: long side in pixels (images smaller than that keep their size).

    Returns:
        ``(input, reference)``, each ``(1, 3, H, W)`` float32 linear Rec.2020 of the same size.

    Raises:
        The decode errors of :func:`backend.decode.decode_preview` (naming the file), or
        AutoretouchError when the reference's aspect ratio does not match the input's (a crop, a rotation).
    """
    _, x, ref, _ = load_pair_noted(pair, size)
    return x, ref


@dataclass(frozen=True)
class PairedViews:
    """Aligned views of before/after pairs (the same windows of both photos), float32 linear Rec.2020.

    Attributes:
        before_crops: ``(P, K, 3, C, C)`` training views of the originals (the first view is the whole frame).
        after_crops: ``(P, K, 3, C, C)`` the same windows of the edited versions.
        before_evals: ``(P, 3, E, E)`` whole originals squeezed to the evaluation size.
        after_evals: ``(P, 3, E, E)`` whole edited versions, likewise.
        pairs: the P pairs that could be decoded.
        skipped: one message per pair that could not (``"FILE: why"``, naming the file and the problem; ``"FILE:
            not found"`` for a file gone since the pairs were matched, ``"FILE: permission denied"`` for one the
            process may not read).
        notes: one note per pair whose raw could not be decoded and whose other original (the camera's JPEG) is
            used instead (:func:`decode_original`); that pair's entry in ``pairs`` names the file used.
        cropped: one entry per pair of ``pairs``: how its edit's frame lies in the original's where the edit shows
            only a part of it and the original's views were cut from that part
            (:func:`trainer.data.cropped_edits.cut_to_edit`), else ``None``; empty where that was not looked for.
    """

    before_crops: Tensor
    after_crops: Tensor
    before_evals: Tensor
    after_evals: Tensor
    pairs: tuple[Pair, ...]
    skipped: tuple[str, ...]
    notes: tuple[str, ...] = ()
    cropped: tuple[FrameOffset | None, ...] = ()


def _pair_images(
    pair: Pair, long_side: int, render: Mapping[str, Any] | None, after: Tensor | None
) -> tuple[Pair, Tensor, Tensor, str] | str:
    """Decode one pair's original and get its edit, for :func:`load_paired_views`.

    Args:
        pair: the pair.
        long_side: the long side the photos are decoded at.
        render: the edit as a recipe (slider -> value) rendered on the original, or ``None``.
        after: the edit as a ``(1, 3, H, W)`` image, or ``None``; with neither, the ``reference`` file is decoded.

    Returns:
        ``(pair, original, edit, note)``: the pair as used (its other original where its raw cannot be decoded,
        :func:`decode_original`, and ``note`` names that), float32 linear Rec.2020 images (the edit not yet on the
        original's frame); or why the pair
        is left out (``"FILE: why"``): a file that cannot be decoded, ``"FILE: not found"`` for one gone since
        the pairs were matched (deleted, moved, a symbolic link left dangling), or ``"FILE: permission denied"``
        for one the process may not read.
    """
    from backend.decode import decode_preview
    from backend.errors import DecodeError, PermissionDeniedError
    from backend.recipe import Recipe, render_recipe

    reading = pair.input  # the file being decoded, named when it is not found
    try:
        used, x, note = decode_original(pair, long_side)
        if render is not None:
            with torch.no_grad():
                return used, x, render_recipe(x, Recipe.from_settings(render)), note
        if after is not None:
            return used, x, after.float(), note
        reading = pair.reference
        return used, x, decode_preview(reading, long_side=long_side).image.float(), note
    except DecodeError as exc:
        return str(exc)
    except NotFoundError:
        return f"{reading}: not found"
    except PermissionDeniedError:
        return f"{reading}: permission denied"


def _edit_on_frame(x: Tensor, y: Tensor, look: bool) -> tuple[Tensor, Tensor, FrameOffset | None]:
    """An original and its edit on one frame, for :func:`load_paired_views`.

    Args:
        x: ``(1, 3, H, W)`` the original as decoded.
        y: ``(1, 3, h, w)`` its edit, resized onto ``x``'s frame (squeezed where its aspect ratio differs).
        look: whether to look for an edit with ``x``'s aspect ratio that shows a part of it
            (:func:`trainer.data.cropped_edits.cut_to_edit`).

    Returns:
        ``(original, edit, offset)``: ``original`` is ``x``, or ``x`` cut to the part the edit shows, then
        ``offset`` says where that part lies (else ``None``).
    """
    from trainer.data.cropped_edits import cut_to_edit

    (h, w), (eh, ew) = x.shape[-2:], y.shape[-2:]
    same_aspect = _common_frame((h, w), (eh, ew)) is not None  # a crop of another aspect ratio is not cut
    if (eh, ew) != (h, w):
        y = functional.interpolate(y, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    cut = cut_to_edit(x, y) if look and same_aspect else None
    return (x, y, None) if cut is None else (cut[0], y, cut[1])


# Long: one loop decodes, frames and cuts every pair, collecting five per-pair records; its steps are helpers
def load_paired_views(
    pairs: Sequence[Pair],
    *,
    cache_size: int,
    eval_size: int,
    crops: int,
    seed: int,
    renders: Sequence[Mapping[str, Any]] | None = None,
    after_images: Sequence[Tensor] | None = None,
    cut_cropped: bool = True,
) -> PairedViews:
    """Decode pairs with ``decode_preview`` and cut the same views out of both photos of each.

    The edited version is resized onto the original's frame (the module docstring; where it shows a part of the
    original, the original is cut to that part first: :func:`_edit_on_frame`), then both are cut by
    :func:`trainer.data.folders.crop_photo` with one random source, so view ``k`` of both shows the same part of
    the scene. A pair with a file that cannot be decoded, may not be read (permission denied) or can no longer be
    found (deleted, moved or left a dangling symbolic link since the pairs were matched) is left out and named in
    :attr:`PairedViews.skipped`; the others are loaded.

    Args:
        pairs: the pairs (e.g. from :func:`find_pairs`).
        cache_size: side of the training views in pixels.
        eval_size: side of the evaluation views in pixels.
        crops: views per pair (the first is the whole frame).
        seed: seed of the view positions (pair ``i`` uses ``seed + i``).
        renders: one recipe (slider -> value) per pair: the edit is then that recipe rendered on the original
            by our renderer (a catalog's develop settings), and the pair's ``reference`` file is not read.
        after_images: one ``(1, 3, H, W)`` linear Rec.2020 image per pair (e.g. darktable-cli's render of the
            photo's sidecar), used as the edit instead of the ``reference`` file (resized onto the original).
        cut_cropped: look for edits that show a part of their original (:attr:`PairedViews.cropped`); never
            for ``renders``, our own renders of the whole frame. ``False``: every edit is only resized.

    Raises:
        NotFoundError: not a single pair could be found and decoded.
    """
    from trainer.data.folders import crop_photo, decode_long_side

    if renders is not None and len(renders) != len(pairs):
        raise ValueError(f"{len(renders)} recipes for {len(pairs)} pairs")
    if after_images is not None and len(after_images) != len(pairs):
        raise ValueError(f"{len(after_images)} edited images for {len(pairs)} pairs")
    long_side = decode_long_side(cache_size, eval_size)
    views: list[Tensor] = []
    evals: list[Tensor] = []
    kept: list[Pair] = []
    skipped: list[str] = []
    notes: list[str] = []
    cropped: list[FrameOffset | None] = []
    for i, pair in enumerate(pairs):
        render = None if renders is None else renders[i]
        images = _pair_images(pair, long_side, render, None if after_images is None else after_images[i])
        if isinstance(images, str):
            skipped.append(images)
            continue
        used, x, y, note = images
        if note:
            log.warning("%s", note)
            notes.append(note)
        x, y, offset = _edit_on_frame(x, y, cut_cropped and render is None)
        rng = np.random.default_rng(seed + i)
        train, ev = crop_photo(
            torch.cat((x, y), dim=1), cache_size=cache_size, eval_size=eval_size, crops=crops, rng=rng
        )
        views.append(train)
        evals.append(ev)
        kept.append(used)
        cropped.append(offset)
    if not kept:
        detail = f": {skipped[0]}" if skipped else ""
        raise NotFoundError(f"none of the {len(pairs)} before/after pairs could be decoded{detail}")
    v, e = torch.stack(views), torch.stack(evals)
    return PairedViews(
        before_crops=v[:, :, :3].contiguous(),
        after_crops=v[:, :, 3:].contiguous(),
        before_evals=e[:, :3].contiguous(),
        after_evals=e[:, 3:].contiguous(),
        pairs=tuple(kept),
        skipped=tuple(skipped),
        notes=tuple(notes),
        cropped=tuple(cropped),
    )
