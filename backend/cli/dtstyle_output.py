"""``autoretouch suggest --dtstyle DIR``: each recipe also as a darktable ``.dtstyle`` file, for previews.

The darktable plug-in previews a suggestion on a virtual copy: it imports the file with ``dt.styles.import``,
applies it to the copy (which holds the photo's history) with ``dt.styles.apply`` and deletes the imported style
again. So that the preview shows what ``apply --host=darktable --overwrite`` would do, :func:`preview_history`
runs apply's own steps on a copy of the photo's darktable sidecar (nothing written): autoretouch's earlier
application, if any, is taken out (the user applied one suggestion and now previews another), and the entries are
appended as :func:`backend.sidecar.darktable_xmp.append_history` places them (on a raw whose history has
darktable's auto-applied default exposure, ours is the next exposure instance on top of it; on a non-raw file
whose order runs our modules before ``colorin`` (V30), the style's ``<iop_list>`` is the order ``apply`` gives
it). The style holds what the copy needs on top of the photo's history to show that result: the entries placed,
and an earlier instance of ours the new recipe lacks switched off. darktable's ``dt.styles.apply`` lands a style
item on the image's instance of the same name, so each entry is named as the copy's instance it overrides is
(an earlier one of ours: ``autoretouch``, ``autoretouch 1``), and one on a new instance of a module the history
already has gets autoretouch's name for it (``autoretouch 1``).

Each file holds one recipe (one variant of one photo). darktable refuses to import a style whose name it
already has, so every name carries a random token: ``autoretouch preview <stem> <variant> <token>``; the file is
``<stem>.<variant>.<token>.dtstyle``, written atomically (temp file, ``os.replace``). With ``--server`` the
daemon translates (``SuggestRequest.hosts = [HOST_DARKTABLE]``: it decoded the photo) and the CLI writes the
files locally, into DIR on the CLI's machine.

``suggest --dtstyle DIR --duplicate N`` previews darktable's virtual copy N of each photo (a copy the user made,
with its own history): the steps above run on that copy's sidecar, ``NAME_NN.EXT.xmp``, as ``apply --host=darktable
--duplicate N --overwrite`` would extend it (the plug-in's preview copy then holds copy N's history). A copy without
a sidecar gets the plain entries, as the original without one does (``apply`` writes a fresh stack); a sidecar of
that name that is another file's (``apply`` leaves it alone) too. The recipes are the same for every copy (the agent
looks at the photo's pixels). With ``--server`` the sidecar is read here too, where the files are written.
"""

from __future__ import annotations

import argparse
import copy
import os
import secrets
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal
from xml.etree import ElementTree as ET

from backend.errors import OutputError
from backend.fsio import utf8_text, write_failure, write_text_atomic

if TYPE_CHECKING:
    from backend.agent.style import Style
    from backend.recipe import Recipe
    from backend.sidecar.apply import PhotoInfo
    from backend.sidecar.xmp import XmpDocument
    from backend.translate.darktable import HistoryEntry

__all__ = [
    "STYLE_PREFIX",
    "dtstyle_dir",
    "dtstyle_name",
    "preview_history",
    "safe_text",
    "suggest_with_entries",
    "write_dtstyles",
]

#: The start of every preview style's name (the plug-in deletes the styles it imported by their object).
STYLE_PREFIX = "autoretouch preview"
_HISTORY_SEQ = "{http://darktable.sf.net/}history/{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Seq"


def dtstyle_dir(text: str) -> Path:
    """argparse type of ``--dtstyle DIR``: an existing, writable folder (nothing is created: a typo makes no folders).

    Raises:
        argparse.ArgumentTypeError: not a folder, or one this user cannot write into (a usage error, exit status 2).
    """
    directory = Path(text)
    if not directory.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a folder (create it first)")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: cannot write into this folder")
    return directory


def dtstyle_name(photo: Path, variant: int, token: str) -> str:
    """The style's name in darktable: ``autoretouch preview <photo stem> <variant, from 1> <token>``.

    The stem is in its :func:`safe_text` form (a name that is not valid UTF-8 still gives a valid style file).
    """
    return f"{STYLE_PREFIX} {safe_text(photo.stem)} {variant} {token}"


def safe_text(text: str) -> str:
    r"""``text`` as valid UTF-8 XML text: each byte of a file name that is not UTF-8 becomes U+FFFD.

    Python gives such bytes as lone surrogates (``os.fsdecode``'s ``surrogateescape``), which UTF-8 cannot
    encode; control characters other than tab and newline, which XML 1.0 forbids, are replaced too.

    Example:
        >>> safe_text(os.fsdecode(b"caf\xe9")) == "caf\ufffd"
        True
    """
    return "".join("\ufffd" if ord(c) < 0x20 and c not in "\t\n" else c for c in utf8_text(text))


def suggest_with_entries(
    photo: Path, styles: Sequence[tuple[Style, float]], *, strength: float, variants: int, seed: int
) -> tuple[list[Recipe], list[list[HistoryEntry]], PhotoInfo]:
    """The recipes of :func:`backend.agent.suggest.suggest_for_photo`, their darktable entries, and the photo's info.

    The last (raw or not, the full long side) is for :func:`write_dtstyles`: the decoder found it, nothing is sniffed
    again, and an earlier autoretouch record without digests is judged as ``apply`` judges it.

    One preview decode gives the agent's input and the photo information the translation needs (raw or not,
    the full long side), as in :func:`backend.retouch.suggest_photo`.

    Raises:
        The typed decode and suggestion errors, naming the file.
    """
    from backend.agent.suggest import suggest_for_image
    from backend.decode import decode_preview
    from backend.retouch import preview_side
    from backend.sidecar.apply import PhotoInfo
    from backend.translate.darktable import recipe_to_history

    decoded = decode_preview(photo, long_side=preview_side(styles))
    recipes = suggest_for_image(decoded.image, styles, strength=strength, variants=variants, seed=seed)
    long_side = max(1, decoded.full_width, decoded.full_height)
    entries = [recipe_to_history(r, is_raw=decoded.is_raw, long_side_px=long_side) for r in recipes]
    return recipes, entries, PhotoInfo(decoded.is_raw, long_side)


def read_darktable_sidecar(photo: Path, duplicate: int = 0) -> XmpDocument | None:
    """The photo's darktable sidecar (copy ``duplicate``'s: ``NAME_NN.EXT.xmp``), read (never written), or ``None``.

    ``None`` when there is none or it cannot be read (``apply`` would then write a fresh stack, or refuse).
    """
    from backend.errors import SidecarError
    from backend.sidecar.darktable_doc import darktable_sidecar_path
    from backend.sidecar.xmp import read_sidecar_readonly

    try:
        return read_sidecar_readonly(darktable_sidecar_path(photo, duplicate))
    except (OSError, SidecarError):
        return None


def _order_change(before: ET.Element, after: ET.Element, source: Path) -> str | None:
    """``after``'s pipe order as an ``<iop_list>`` when it runs the instances both have in another order.

    Raises:
        SidecarError: an ``iop_order_version`` that is not an integer (as ``apply`` refuses it).
    """
    from backend.sidecar.darktable_xmp import current_order
    from backend.translate.darktable_order import serialize_iop_order_list

    order_before, order_after = current_order(before, str(source)), current_order(after, str(source))
    if order_before is None or order_after is None:
        return None
    common = set(order_before) & set(order_after)
    if [i for i in order_after if i in common] == [i for i in order_before if i in common]:
        return None
    return serialize_iop_order_list(order_after)


def _last_entries(entries: Sequence[HistoryEntry]) -> dict[tuple[str, int], HistoryEntry]:
    """Each module instance's last entry (the one darktable shows), in the order of the instances' first entries."""
    return {e.instance: e for e in entries}


def _same_look(a: HistoryEntry, b: HistoryEntry) -> bool:
    """Whether two entries render alike (the instance's name aside)."""
    return replace(a, multi_name="") == replace(b, multi_name="")


#: :func:`preview_history`'s default ``sidecar``: read the photo's.
READ: Final = "read"


def preview_history(
    photo: Path,
    entries: Sequence[HistoryEntry],
    *,
    is_raw: bool,
    long_side_px: int | None = None,
    sidecar: XmpDocument | Literal["read"] | None = READ,
    duplicate: int = 0,
) -> tuple[list[HistoryEntry], str | None]:
    """The entries (and ``<iop_list>``, or ``None``) of a preview style that looks like ``apply`` on ``photo``.

    What ``apply --host=darktable --overwrite`` does runs on a copy of the photo's darktable sidecar (nothing is
    written): autoretouch's earlier application is taken out (:func:`backend.sidecar.apply.darktable_earlier`)
    and the entries are appended where it was (:func:`backend.sidecar.darktable_doc.apply_darktable`). The
    preview copy holds the photo's history as it is, so the style holds what darktable needs on top of it to
    show that result: each entry ``apply`` placed (an exposure moved on top of darktable's default exposure),
    any other instance whose last active entry changed (one of the user's that our earlier application had
    overridden) and, for an instance only our earlier application had, its entry disabled. Each is named for
    darktable's ``dt.styles.apply`` (see the module docstring); the pipe order comes along when the result runs
    the photo's modules in another order. Without a sidecar, or with one ``apply`` would refuse (a typed error),
    ``entries`` unchanged; so too for a virtual copy's sidecar that ``apply`` leaves alone as another file's
    (:func:`backend.sidecar.apply.copy_conflict`).

    Args:
        photo: the photo.
        entries: the plain translated entries (:func:`backend.translate.darktable.recipe_to_history`).
        is_raw: whether the photo is a raw.
        long_side_px: the full-resolution long side (pixels), when known: with it an earlier autoretouch record
            that has no entry digests (an older version's) is judged current or stale exactly as ``apply`` judges
            it (by translating its recipe); without it, such a record counts as current.
        sidecar: the photo's darktable sidecar (:func:`read_darktable_sidecar`; not modified), ``None`` for none,
            or :data:`READ`: read it here.
        duplicate: darktable's virtual copy N of the photo whose history the preview goes on (0: the original);
            ``sidecar`` is that copy's (``NAME_NN.EXT.xmp``), as ``apply --duplicate N`` reads it.
    """
    from backend.errors import AutoretouchError

    doc = read_darktable_sidecar(photo, duplicate) if isinstance(sidecar, str) else sidecar
    if doc is None or not entries:
        return list(entries), None
    try:
        from backend.sidecar.apply import PhotoInfo

        info = None if long_side_px is None else PhotoInfo(is_raw, long_side_px)
        return _as_applied(photo, doc, entries, is_raw=is_raw, info=info, duplicate=duplicate)
    except (AutoretouchError, ValueError):  # apply refuses this sidecar (a typed error): the plain entries
        return list(entries), None


def _as_applied(
    photo: Path,
    doc: XmpDocument,
    entries: Sequence[HistoryEntry],
    *,
    is_raw: bool,
    info: PhotoInfo | None,
    duplicate: int = 0,
) -> tuple[list[HistoryEntry], str | None]:
    """:func:`preview_history` on a readable sidecar.

    Raises:
        AutoretouchError: ``apply --overwrite`` would refuse the sidecar (a ``SidecarError``).
        ValueError: data no check of ``apply``'s caught (the photo's preview then falls back the same way).
    """
    from backend.sidecar.apply import Outcome, copy_conflict, darktable_earlier
    from backend.sidecar.darktable_doc import (
        active_history,
        apply_darktable,
        darktable_sidecar_path,
        history_description,
    )
    from backend.sidecar.darktable_ours import mark_name, unmarked_name
    from backend.sidecar.darktable_xmp import FRESH_STACK_NOTE, entry_from_li

    sidecar = darktable_sidecar_path(photo, duplicate)
    if copy_conflict(doc, photo, duplicate) is not None:  # another file's sidecar: apply leaves it alone
        return list(entries), None
    base, work = copy.deepcopy(doc), copy.deepcopy(doc)  # the preview copy's sidecar; apply's result
    earlier = darktable_earlier(photo, sidecar, work, info, True)
    if isinstance(earlier, Outcome):  # skipped: only without overwrite
        return list(entries), None
    image_name = photo.name if duplicate else None  # as _apply_darktable (an attribute: no history changes)
    _, result = apply_darktable(work, list(entries), is_raw=is_raw, image_name=image_name, at=earlier.at)
    desc = history_description(work)
    lis = desc.findall(f"{_HISTORY_SEQ}/*")
    placed = [entry_from_li(li) for li in lis[result.first_num : result.first_num + result.added]]
    user = [entry_from_li(li) for li in history_description(base).findall(f"{_HISTORY_SEQ}/*")]
    before, after = _last_entries(active_history(base)), _last_entries(active_history(work))

    names = {e.instance: e.multi_name for e in user}  # the name each instance of the copy has (its last entry's)
    names.update({e.instance: e.multi_name for e in before.values()})
    ops = {e.operation for e in user}

    def named(e: HistoryEntry) -> HistoryEntry:
        if e.instance in names:  # darktable lands it on the copy's instance of that name
            return replace(e, multi_name=names[e.instance])
        if e.operation in ops:  # a new instance: a name none of the copy's instances has
            return replace(e, multi_name=mark_name(e.multi_priority))
        return replace(e, multi_name=unmarked_name(e.multi_name))  # the copy's only (default) instance

    ours = _last_entries(placed)
    changed = [
        e
        for inst, e in {**{i: after[i] for i in ours if i in after}, **after}.items()
        if (inst in ours and _same_look(e, ours[inst])) or inst not in before or not _same_look(e, before[inst])
    ]
    gone = [replace(e, enabled=False) for inst, e in before.items() if inst not in after]  # ours, taken out
    styled = [named(e) for e in [*changed, *gone]]
    if not user and FRESH_STACK_NOTE in result.notes:  # darktable gives a bare file the order apply writes
        return styled, None
    return styled, _order_change(history_description(base), desc, sidecar)


def write_dtstyles(
    directory: Path,
    photo: Path,
    entries: Sequence[Sequence[HistoryEntry]],
    label: str,
    strength: float,
    *,
    is_raw: bool | None = None,
    long_side_px: int | None = None,
    duplicate: int = 0,
) -> list[Path]:
    r"""Write one ``.dtstyle`` per variant into ``directory``; their paths, in variant order.

    Each style holds :func:`preview_history` of its entries (``apply``'s placement on the photo's sidecar).
    The photo's name goes into the style's name, its description and the file's name in its :func:`safe_text`
    form, so a name that is not valid UTF-8 (``caf\xe9.jpg``, byte 0xE9) still gives a valid file with a UTF-8 name.

    Args:
        directory: the ``--dtstyle`` folder.
        photo: the photo (its darktable sidecar is read, never written).
        entries: each variant's history entries (:func:`backend.translate.darktable.recipe_to_history`).
        label: the style or mix, for the description.
        strength: the strength, for the description.
        is_raw: whether the photo is a raw (``None``: found from its content, as the decoder does).
        long_side_px: the full-resolution long side, when known (:func:`preview_history`).
        duplicate: darktable's virtual copy N of the photo to preview (its ``NAME_NN.EXT.xmp`` is read; 0, the
            default: the original's). The description names the copy.

    Raises:
        OutputError: a file could not be written (the operating system's reason; the photo counts as failed).
    """
    from backend.sidecar.darktable_xmp import history_to_dtstyle

    if is_raw is None:
        is_raw = _is_raw(photo)
    sidecar = read_darktable_sidecar(photo, duplicate)  # once for all variants (each works on its own copy)
    target = f"{photo.name} (virtual copy {duplicate})" if duplicate else photo.name
    token = secrets.token_hex(4)
    out = []
    for k, plain in enumerate(entries, start=1):
        items, iop_list = preview_history(
            photo, plain, is_raw=is_raw, long_side_px=long_side_px, sidecar=sidecar, duplicate=duplicate
        )
        name = dtstyle_name(photo, k, token)
        description = safe_text(
            f"autoretouch suggestion for {target}: style {label}, strength {strength:g}, variant {k}"
        )
        path = directory / f"{safe_text(photo.stem)}.{k}.{token}.dtstyle"
        try:
            write_text_atomic(path, history_to_dtstyle(items, name, description, iop_list=iop_list))
        except OutputError as exc:  # no room (fsio's words: "cannot write (...)"): in this file's words
            cause = exc.__cause__
            why = write_failure(cause) if isinstance(cause, OSError) else exc.reason
            raise OutputError(path, f"cannot write the style file: {why}") from exc
        except OSError as exc:
            raise OutputError(path, f"cannot write the style file: {write_failure(exc)}") from exc
        out.append(path.absolute())
    return out


def _is_raw(photo: Path) -> bool:
    """Whether the photo is a camera raw, by content (``False`` when it cannot be read: no order change then)."""
    from backend.decode.sniff import sniff_kind
    from backend.errors import AutoretouchError

    try:
        return sniff_kind(photo) == "raw"
    except (OSError, AutoretouchError):
        return False
