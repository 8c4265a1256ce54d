"""``--duplicate N`` of ``apply``, ``revert`` and ``suggest``: darktable's virtual copy N of each photo.

darktable keeps virtual copy N (its version N, ``duplicate_index`` in its Lua) in its own sidecar,
``NAME_NN.EXT.xmp``; ``--duplicate N`` writes (or reverts) that one instead of the original's ``NAME.EXT.xmp``,
by the same sidecar rules. Only darktable has virtual copies. ``suggest --dtstyle`` writes nothing: there
``--duplicate N`` builds the previews on copy N's history, as ``apply --host darktable --duplicate N`` would
extend it (:func:`checked_preview_duplicate`).
"""

from __future__ import annotations

import argparse

from backend.cli.argtypes import int_arg
from backend.errors import AutoretouchError, InvalidRecipeError
from backend.sidecar.apply import check_duplicate, hosts_for

__all__ = ["DuplicateOptionError", "add_duplicate_option", "checked_duplicate", "checked_preview_duplicate"]


class DuplicateOptionError(AutoretouchError):
    """``--duplicate N`` with options it does not go with (another ``--host``; ``suggest`` without ``--dtstyle``).

    Exit status 2, as for other usage errors: the command line is wrong, not a recipe.
    """

    exit_code = 2


def add_duplicate_option(parser: argparse.ArgumentParser, *, implies_host: bool = False, preview: bool = False) -> None:
    """Add ``--duplicate N`` (default 0, the original) to ``parser``.

    Args:
        parser: the command's parser.
        implies_host: the command's ``--host`` is optional and becomes darktable with ``--duplicate`` (``revert``).
        preview: the command writes no sidecar and ``--duplicate`` picks the history its ``--dtstyle`` previews
            are built on (``suggest``; :func:`checked_preview_duplicate`).
    """
    if preview:
        what, needs = "build the --dtstyle previews on darktable's virtual copy N of each photo", "needs --dtstyle"
    else:
        what = "darktable's virtual copy N of each photo"
        needs = "--host darktable, the default with it" if implies_host else "needs --host darktable"
    parser.add_argument(
        "--duplicate",
        type=int_arg(0, name="--duplicate"),
        default=0,
        metavar="N",
        help=f"{what}: its sidecar NAME_NN.EXT.xmp (N as in darktable's "
        f"duplicate manager; {needs}; default 0, the original's NAME.EXT.xmp)",
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


def checked_preview_duplicate(args: argparse.Namespace) -> int:
    """``suggest``'s ``--duplicate``, checked against ``--dtstyle`` before any photo is read (or the daemon called).

    The agent looks at the photo's pixels, which every virtual copy shares, so the recipes are the same for each
    copy; only the ``--dtstyle`` previews are built on a copy's history. Without ``--dtstyle`` a copy number would
    change nothing, and a photographer who asks for copy 2 must not be led to think the suggestion was for it.

    Raises:
        DuplicateOptionError: above 0 without ``--dtstyle`` (exit status 2).
    """
    duplicate = int(args.duplicate)
    if duplicate and getattr(args, "dtstyle", None) is None:
        raise DuplicateOptionError(
            f"--duplicate {duplicate} needs --dtstyle DIR: the recipes are the same for every virtual copy (the "
            "agent looks at the photo, not its history); --duplicate picks the history the --dtstyle previews "
            "are built on"
        )
    return duplicate
