"""``--duplicate N`` of ``apply`` and ``revert``: darktable's virtual copy N of each photo.

darktable keeps virtual copy N (its version N, ``duplicate_index`` in its Lua) in its own sidecar,
``NAME_NN.EXT.xmp``; ``--duplicate N`` writes (or reverts) that one instead of the original's ``NAME.EXT.xmp``,
by the same sidecar rules. Only darktable has virtual copies.
"""

from __future__ import annotations

import argparse

from backend.cli.argtypes import int_arg
from backend.sidecar.apply import check_duplicate, hosts_for

__all__ = ["add_duplicate_option", "checked_duplicate"]


def add_duplicate_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--duplicate N`` (default 0, the original) to ``parser``."""
    parser.add_argument(
        "--duplicate",
        type=int_arg(0, name="--duplicate"),
        default=0,
        metavar="N",
        help="darktable's virtual copy N of each photo: its sidecar NAME_NN.EXT.xmp (N as in darktable's "
        "duplicate manager; needs --host darktable; default 0, the original's NAME.EXT.xmp)",
    )


def checked_duplicate(args: argparse.Namespace) -> int:
    """``--duplicate``, checked against ``--host`` before any photo is touched.

    Raises:
        InvalidRecipeError: above 0 with a host other than darktable.
    """
    check_duplicate(hosts_for(args.host), args.duplicate)
    return int(args.duplicate)
