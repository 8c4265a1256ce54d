"""``--duplicate N`` of ``apply`` and ``revert``: darktable's virtual copy N of each photo.

darktable keeps virtual copy N (its version N, ``duplicate_index`` in its Lua) in its own sidecar,
``NAME_NN.EXT.xmp``; ``--duplicate N`` writes (or reverts) that one instead of the original's ``NAME.EXT.xmp``,
by the same sidecar rules. Only darktable has virtual copies.
"""

from __future__ import annotations

import argparse

from backend.cli.argtypes import int_arg
from backend.errors import AutoretouchError, InvalidRecipeError
from backend.sidecar.apply import check_duplicate, hosts_for

__all__ = ["DuplicateOptionError", "add_duplicate_option", "checked_duplicate"]


class DuplicateOptionError(AutoretouchError):
    """``--duplicate N`` with options it does not go with (a ``--host`` other than darktable).

    Exit status 2, as for other usage errors: the command line is wrong, not a recipe.
    """

    exit_code = 2


def add_duplicate_option(parser: argparse.ArgumentParser, *, implies_host: bool = False) -> None:
    """Add ``--duplicate N`` (default 0, the original) to ``parser``.

    ``implies_host``: the command's ``--host`` is optional and becomes darktable with ``--duplicate`` (``revert``).
    """
    host = "--host darktable, the default with it" if implies_host else "needs --host darktable"
    parser.add_argument(
        "--duplicate",
        type=int_arg(0, name="--duplicate"),
        default=0,
        metavar="N",
        help="darktable's virtual copy N of each photo: its sidecar NAME_NN.EXT.xmp (N as in darktable's "
        f"duplicate manager; {host}; default 0, the original's NAME.EXT.xmp)",
    )


def checked_duplicate(args: argparse.Namespace) -> int:
    """``--duplicate``, checked against ``--host`` before any photo is touched (and before ``--server`` is called).

    Raises:
        DuplicateOptionError: above 0 with a host other than darktable (exit status 2).
    """
    try:
        check_duplicate(hosts_for(args.host), args.duplicate)
    except InvalidRecipeError as exc:  # the library's check; on the command line it is a usage error
        raise DuplicateOptionError(f"--duplicate {args.duplicate} --host {args.host}: {exc}") from None
    return int(args.duplicate)
