"""A darktable selection for ``train --darktable`` tests: placeholder photos with sidecars, and the parsed command.

Shared by ``tests/test_trainer_cli_sources.py`` (how the selection folder is made and refused) and
``tests/test_train_pairs_rotated_wording.py`` (the wording of a one-photo refusal).

* :data:`EMPTY_HISTORY`: a darktable sidecar whose history is empty (``history_end="0"``).
* :func:`selected_photos`: placeholder photos (not decodable), each with a sidecar beside it.
* :func:`darktable_train_args`: ``train --style s --darktable PATH...`` as the CLI parses it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["EMPTY_HISTORY", "darktable_train_args", "selected_photos"]

#: A darktable sidecar with no history: darktable's attributes, ``history_end="0"``, no ``darktable:history``.
EMPTY_HISTORY = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:darktable="http://darktable.sf.net/" darktable:history_end="0"/></rdf:RDF></x:xmpmeta>'
)


def selected_photos(folder: Path, *names: str, sidecar: str = "<x:xmpmeta/>") -> list[Path]:
    """Write ``folder/NAME`` (the 4 bytes ``jpeg``, not a photo) and ``folder/NAME.xmp`` (``sidecar``) per name.

    Args:
        folder: made where missing (with its parents).
        names: the photos' file names, in order.
        sidecar: each sidecar's text (default: an empty XMP packet).

    Returns:
        The photos' paths, in the order of ``names``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        (folder / name).write_bytes(b"jpeg")
        (folder / (name + ".xmp")).write_text(sidecar)
        out.append(folder / name)
    return out


def darktable_train_args(*paths: Path) -> argparse.Namespace:
    """``autoretouch train --style s --darktable PATH...`` parsed by the CLI's own parser (folders, photos or
    sidecars)."""
    from backend.cli.main import build_parser

    return build_parser().parse_args(["train", "--style", "s", "--darktable", *map(str, paths)])
