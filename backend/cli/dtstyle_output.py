"""``autoretouch suggest --dtstyle DIR``: each recipe also as a darktable ``.dtstyle`` file, for previews.

The darktable plug-in previews a suggestion on a virtual copy: it imports the file with ``dt.styles.import``,
applies it to the copy with ``dt.styles.apply`` and deletes the imported style again. The entries are the ones
``apply --host=darktable`` appends to a sidecar (:func:`backend.translate.darktable.recipe_to_history`, same
photo information: raw or not, long side), so the preview shows what ``apply`` would do.

Each file holds one recipe (one variant of one photo). darktable refuses to import a style whose name it
already has, so every name carries a random token: ``autoretouch preview <stem> <variant> <token>``; the file is
``<stem>.<variant>.<token>.dtstyle``, written atomically (temp file, ``os.replace``). With ``--server`` the
daemon translates (``SuggestRequest.hosts = [HOST_DARKTABLE]``: it decoded the photo) and the CLI writes the
files locally, into DIR on the CLI's machine.
"""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from backend.errors import OutputError
from backend.fsio import utf8_text, write_text_atomic

if TYPE_CHECKING:
    from backend.agent.style import Style
    from backend.recipe import Recipe
    from backend.translate.darktable import HistoryEntry

__all__ = ["STYLE_PREFIX", "dtstyle_dir", "dtstyle_name", "safe_text", "suggest_with_entries", "write_dtstyles"]

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


def write_dtstyles(
    directory: Path, photo: Path, entries: Sequence[Sequence[HistoryEntry]], label: str, strength: float
) -> list[Path]:
    r"""Write one ``.dtstyle`` per variant into ``directory``; their paths, in variant order.

    The photo's name goes into the style's name, its description and the file's name in its :func:`safe_text`
    form, so a name that is not valid UTF-8 (``caf\xe9.jpg``, byte 0xE9) still gives a valid file with a UTF-8 name.

    Raises:
        OutputError: a file could not be written (the operating system's reason; the photo counts as failed).
    """
    from backend.sidecar.darktable_xmp import history_to_dtstyle

    token = secrets.token_hex(4)
    out = []
    for k, items in enumerate(entries, start=1):
        name = dtstyle_name(photo, k, token)
        description = safe_text(
            f"autoretouch suggestion for {photo.name}: style {label}, strength {strength:g}, variant {k}"
        )
        path = directory / f"{safe_text(photo.stem)}.{k}.{token}.dtstyle"
        try:
            write_text_atomic(path, history_to_dtstyle(list(items), name, description))
        except OSError as exc:
            raise OutputError(path, f"cannot write the style file: {exc.strerror or exc}") from exc
        out.append(path.absolute())
    return out
