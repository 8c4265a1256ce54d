"""``autoretouch suggest --dtstyle DIR``: each recipe also as a darktable ``.dtstyle`` file, for previews.

The darktable plug-in previews a suggestion on a virtual copy: it imports the file with ``dt.styles.import``,
applies it to the copy (which holds the photo's history) with ``dt.styles.apply`` and deletes the imported style
again. So that the preview shows what ``apply --host=darktable`` would do, the style holds the entries ``apply``
appends to the photo's darktable sidecar as :func:`backend.sidecar.darktable_xmp.append_history` places them
there (:func:`preview_history`: the same call on a copy of the sidecar, nothing written): on a raw whose history
has darktable's auto-applied default exposure, ours is the next exposure instance on top of it; on a non-raw file
whose order runs our modules before ``colorin`` (V30), the style's ``<iop_list>`` is the order ``apply`` gives
it. darktable's ``dt.styles.apply`` lands a style item on the image's instance of the same name, so each entry
is named as the instance it overrides is, and one on a new instance of a module the history already has gets
autoretouch's name for it (``autoretouch 1``).

Each file holds one recipe (one variant of one photo). darktable refuses to import a style whose name it
already has, so every name carries a random token: ``autoretouch preview <stem> <variant> <token>``; the file is
``<stem>.<variant>.<token>.dtstyle``, written atomically (temp file, ``os.replace``). With ``--server`` the
daemon translates (``SuggestRequest.hosts = [HOST_DARKTABLE]``: it decoded the photo) and the CLI writes the
files locally, into DIR on the CLI's machine.
"""

from __future__ import annotations

import argparse
import copy
import os
import secrets
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from backend.errors import OutputError
from backend.fsio import utf8_text, write_text_atomic

if TYPE_CHECKING:
    from backend.agent.style import Style
    from backend.recipe import Recipe
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
) -> tuple[list[Recipe], list[list[HistoryEntry]]]:
    """The recipes of :func:`backend.agent.suggest.suggest_for_photo` and each one's darktable history entries.

    One preview decode gives the agent's input and the photo information the translation needs (raw or not,
    the full long side), as in :func:`backend.retouch.suggest_photo`.

    Raises:
        The typed decode and suggestion errors, naming the file.
    """
    from backend.agent.suggest import suggest_for_image
    from backend.decode import decode_preview
    from backend.retouch import preview_side
    from backend.translate.darktable import recipe_to_history

    decoded = decode_preview(photo, long_side=preview_side(styles))
    recipes = suggest_for_image(decoded.image, styles, strength=strength, variants=variants, seed=seed)
    long_side = max(1, decoded.full_width, decoded.full_height)
    return recipes, [recipe_to_history(r, is_raw=decoded.is_raw, long_side_px=long_side) for r in recipes]


def _sidecar_history(photo: Path) -> ET.Element | None:
    """A copy of the ``rdf:Description`` of the photo's darktable sidecar that ``apply`` would extend, or ``None``.

    ``None`` when there is no sidecar or it cannot be read (``apply`` would then write a fresh stack, or refuse).
    """
    from backend.errors import SidecarError
    from backend.sidecar.darktable_doc import darktable_sidecar_path
    from backend.sidecar.xmp import read_sidecar_readonly

    try:
        doc = read_sidecar_readonly(darktable_sidecar_path(photo))
    except (OSError, SidecarError):
        return None
    dt_history = "{http://darktable.sf.net/}history"
    found = [d for d in doc.descriptions() if d.find(dt_history) is not None]
    return copy.deepcopy(found[0]) if found else None


def _effective_order(desc: ET.Element) -> list[tuple[str, int]] | None:
    """The pipe order a description's history asks for (its list, or its version's built-in order)."""
    from backend.errors import InvalidRecipeError
    from backend.translate.darktable_order import IOP_ORDER_LEGACY, IOP_ORDER_SEQUENCES, parse_iop_order_list

    text = desc.get("{http://darktable.sf.net/}iop_order_list")
    if text is not None:
        try:
            return parse_iop_order_list(text)
        except InvalidRecipeError:
            return None
    version = desc.get("{http://darktable.sf.net/}iop_order_version")
    sequence = IOP_ORDER_SEQUENCES.get(int(version) if version and version.strip().isdigit() else IOP_ORDER_LEGACY)
    return None if sequence is None else [(op, 0) for op in sequence]


def preview_history(
    photo: Path, entries: Sequence[HistoryEntry], *, is_raw: bool
) -> tuple[list[HistoryEntry], str | None]:
    """The entries (and ``<iop_list>``, or ``None``) of a preview style that looks like ``apply`` on ``photo``.

    :func:`~backend.sidecar.darktable_xmp.append_history`, the call ``apply --host=darktable`` makes, runs on a
    copy of the photo's darktable sidecar (nothing is written); the style takes our entries as it placed them
    (an exposure moved on top of darktable's default exposure), named for darktable's ``dt.styles.apply`` (see
    the module docstring), and the pipe order when ``append_history`` changed the order of the photo's modules.
    Without a sidecar that has darktable history (or one that cannot be read or extended), ``entries`` unchanged.
    """
    from backend.errors import SidecarError
    from backend.sidecar.darktable_ours import mark_name
    from backend.sidecar.darktable_xmp import append_history, entry_from_li
    from backend.translate.darktable_order import serialize_iop_order_list

    desc = _sidecar_history(photo)
    if desc is None or not entries:
        return list(entries), None
    history_seq = "{http://darktable.sf.net/}history/{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Seq"
    try:
        user = [entry_from_li(li) for li in desc.findall(f"{history_seq}/*")]
        order_before = _effective_order(desc)
        result = append_history(desc, entries, is_raw=is_raw, source=photo)
        placed = [entry_from_li(li) for li in desc.findall(f"{history_seq}/*")]
    except SidecarError:
        return list(entries), None
    placed = placed[result.first_num : result.first_num + result.added]
    names = {e.instance: e.multi_name for e in user}  # the name each instance has now (its last entry's)
    names.update({e.instance: e.multi_name for e in user[: result.history_end_before]})
    ops = {e.operation for e in user}
    styled = [
        replace(e, multi_name=names[e.instance])
        if e.instance in names
        else replace(e, multi_name=mark_name(e.multi_priority))
        if e.operation in ops
        else e
        for e in placed
    ]
    order_after = _effective_order(desc)
    if order_before is None or order_after is None:
        return styled, None
    kept = set(order_before)
    if [i for i in order_after if i in kept] == order_before:
        return styled, None
    return styled, serialize_iop_order_list(order_after)


def write_dtstyles(
    directory: Path,
    photo: Path,
    entries: Sequence[Sequence[HistoryEntry]],
    label: str,
    strength: float,
    *,
    is_raw: bool | None = None,
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

    Raises:
        OutputError: a file could not be written (the operating system's reason; the photo counts as failed).
    """
    from backend.sidecar.darktable_xmp import history_to_dtstyle

    if is_raw is None:
        is_raw = _is_raw(photo)
    token = secrets.token_hex(4)
    out = []
    for k, plain in enumerate(entries, start=1):
        items, iop_list = preview_history(photo, plain, is_raw=is_raw)
        name = dtstyle_name(photo, k, token)
        description = safe_text(
            f"autoretouch suggestion for {photo.name}: style {label}, strength {strength:g}, variant {k}"
        )
        path = directory / f"{safe_text(photo.stem)}.{k}.{token}.dtstyle"
        try:
            write_text_atomic(path, history_to_dtstyle(items, name, description, iop_list=iop_list))
        except OSError as exc:
            raise OutputError(path, f"cannot write the style file: {exc.strerror or exc}") from exc
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
