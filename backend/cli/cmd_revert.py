"""``autoretouch revert``: undo ``autoretouch apply`` in photos' sidecars.

A sidecar autoretouch created is removed again when nothing else was added to it; otherwise the
previous settings (and the user's darktable history) are restored, keeping everything written since by
others. A folder is walked as ``autoretouch catalog`` walks it (recursively, the same walker) and each of its
photos reverted, so ``autoretouch revert FOLDER`` undoes ``autoretouch catalog FOLDER``. Output and exit status
as for ``apply`` (with ``--host both``, the default, Lightroom's skips of JPEG/TIFF/PNG/DNG photos are one count
at the end): a named path that does not exist, with no sidecar of it either, fails as not found (exit 6 when
every path failed so, else 9); a photo deleted since ``apply`` is still reverted from the sidecars it left.
``--duplicate N`` without ``--host`` reverts darktable's virtual copy N (only darktable has them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from backend.cli.duplicate_option import add_duplicate_option, checked_duplicate
from backend.cli.outcome_report import expand_folders, report, run_batch
from backend.cli.server_options import add_server_options
from backend.sidecar.revert import revert_photo

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``revert`` sub-command to the CLI."""
    parser = subparsers.add_parser(
        "revert",
        help="undo 'autoretouch apply' in photos' sidecars",
        description=(
            "Restore each photo's sidecars to their state before 'autoretouch apply': the develop settings "
            "and darktable history that were there come back, a sidecar autoretouch created is removed. "
            "The current sidecar is kept as SIDECAR.autoretouch.bak, also when a sidecar autoretouch created is "
            "removed: that backup is how a later 'autoretouch catalog' knows you took the edit out (it does not "
            "apply it again; with the backup deleted too, it does). A folder is walked recursively as 'autoretouch catalog' "
            "walks it (hidden entries skipped, symbolic links to folders not followed) and every photo in it is "
            "reverted: 'autoretouch revert FOLDER' undoes 'autoretouch catalog FOLDER' (with --server the daemon "
            "walks it, by the same rules). A path that does not exist (and has no sidecar either) fails as not "
            "found; a photo deleted since 'apply' is still reverted from its sidecars. Exit status 9 means some "
            "photos of the batch failed; when every photo failed, the error's own status (e.g. 6 not found, 8 a "
            "malformed or unsafe sidecar)."
        ),
    )
    parser.add_argument(
        "photos",
        nargs="+",
        metavar="PHOTO",
        type=Path,
        help="image files whose sidecars to revert, or folders (their photos, recursively)",
    )
    parser.add_argument(
        "--host",
        default=None,  # resolved in run: both, or darktable with --duplicate (only darktable has virtual copies)
        choices=("lightroom", "darktable", "both"),
        help="which sidecars (default: both; with --duplicate N: darktable)",
    )
    parser.add_argument("--dry-run", action="store_true", help="report what would be reverted; write nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    add_duplicate_option(parser, implies_host=True)
    add_server_options(parser)  # --server HOST:PORT, --token T
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Revert every photo's sidecars; returns the exit status."""
    if args.host is None:  # not given: both hosts, but a virtual copy (--duplicate) is darktable's alone
        args.host = "darktable" if args.duplicate else "both"
    duplicate = checked_duplicate(args)  # --host lightroom/both given with --duplicate: still a usage error
    if getattr(args, "server", None):
        from backend.cli.remote import remote_revert

        return remote_revert(args)
    photos, walked = expand_folders(args.photos, args.host)
    outcomes = walked + run_batch(
        photos, args.host, lambda p: revert_photo(p, host=args.host, dry_run=args.dry_run, duplicate=duplicate)
    )
    return report(outcomes, args.json)
