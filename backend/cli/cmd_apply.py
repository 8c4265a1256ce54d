"""``autoretouch apply``: write a recipe into photos' sidecars as native Lightroom / darktable settings.

One line per photo and host (``written``, ``would-write``, ``skipped`` with the reason, ``failed`` with the
error), or one JSON document with ``--json``. A photo that cannot be read or a malformed sidecar is
reported with the file's name and the batch goes on; the exit status is then 9 (partial failure).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from backend.cli.main import EXIT_PARTIAL
from backend.errors import AutoretouchError
from backend.recipe import load_recipe, scale
from backend.sidecar.apply import Outcome, apply_to_photo, hosts_for
from backend.sidecar.darktable_doc import darktable_sidecar_path
from backend.sidecar.lightroom_doc import lightroom_sidecar_path

__all__ = ["format_outcome", "register", "report", "run", "run_batch"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``apply`` sub-command to the CLI."""
    parser = subparsers.add_parser(
        "apply",
        help="write a recipe into photos' XMP sidecars (Lightroom NAME.xmp, darktable NAME.EXT.xmp)",
        description=(
            "Translate a recipe into native develop settings and write them into each photo's sidecar: "
            "Lightroom crs: settings in NAME.xmp (proprietary raws only; Lightroom reads the XMP embedded in "
            "DNG/JPEG/TIFF, use the plugin for those) and/or a darktable 4.2 history in NAME.EXT.xmp. Image "
            "files are never modified; every write keeps the previous sidecar as SIDECAR.bak; "
            "'autoretouch revert' undoes it."
        ),
    )
    parser.add_argument("photos", nargs="+", metavar="PHOTO", type=Path, help="image files (raw, TIFF, JPEG, PNG)")
    parser.add_argument("--recipe", required=True, type=Path, metavar="R.json", help="the recipe JSON file")
    parser.add_argument(
        "--host", required=True, choices=("lightroom", "darktable", "both"), help="which sidecars to write"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing develop settings or an earlier autoretouch application (revert restores them)",
    )
    parser.add_argument("--dry-run", action="store_true", help="report what would be written; write nothing")
    parser.add_argument(
        "--strength",
        type=float,
        metavar="A",
        help="apply the recipe at strength A in [0, 1] (each slider moved toward its identity value)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    parser.add_argument(
        "--server", metavar="HOST:PORT", help="run on a running daemon (autoretouch serve) instead of in-process"
    )
    parser.set_defaults(func=run)


def format_outcome(o: Outcome) -> str:
    """One human line: ``ACTION  HOST  SIDECAR[: reason]`` plus indented warnings."""
    line = f"{o.action:<12} {o.host:<9} {o.sidecar}"
    if o.reason and not o.failed:
        line += f": {o.reason}"
    elif o.failed:
        line += f"\n  error: {o.reason}"
    return "\n".join([line, *(f"  note: {w}" for w in o.warnings)])


def _sidecar(photo: Path, host: str) -> Path:
    return lightroom_sidecar_path(photo) if host == "lightroom" else darktable_sidecar_path(photo)


def run_batch(photos: Sequence[Path], hosts: str, do: Callable[[Path], list[Outcome]]) -> list[Outcome]:
    """Run ``do`` on each photo; a typed error or OS error becomes ``failed`` outcomes naming the file."""
    outcomes: list[Outcome] = []
    for photo in photos:
        try:
            outcomes += do(photo)
        except (AutoretouchError, OSError) as exc:
            reason = str(exc) if str(photo) in str(exc) else f"{photo}: {exc}"
            outcomes += [Outcome(photo, h, _sidecar(photo, h), "failed", reason) for h in hosts_for(hosts)]
    return outcomes


def report(outcomes: list[Outcome], as_json: bool) -> int:
    """Print the outcomes; returns 0, or :data:`~backend.cli.main.EXIT_PARTIAL` when any failed."""
    failed = sum(o.failed for o in outcomes)
    if as_json:
        json.dump({"results": [o.to_json() for o in outcomes], "failed": failed}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for o in outcomes:
            print(format_outcome(o), file=sys.stderr if o.failed else sys.stdout)
    return EXIT_PARTIAL if failed else 0


def run(args: argparse.Namespace) -> int:
    """Apply the recipe to every photo; returns the exit status."""
    if getattr(args, "server", None):
        from backend.cli.remote import remote_apply

        return remote_apply(args)
    recipe = load_recipe(args.recipe)
    if args.strength is not None:
        recipe = scale(recipe, args.strength)
    outcomes = run_batch(
        args.photos,
        args.host,
        lambda p: apply_to_photo(p, recipe, host=args.host, overwrite=args.overwrite, dry_run=args.dry_run),
    )
    return report(outcomes, args.json)
