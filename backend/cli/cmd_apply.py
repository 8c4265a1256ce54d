"""``autoretouch apply``: write a recipe into photos' sidecars as native Lightroom / darktable settings.

What is written: one recipe file for every photo (``--recipe``), or each photo's own suggestion from a
style (``--style``) or a blend of styles (``--mix``), computed in the same process (or the same daemon call)
as ``autoretouch suggest`` computes its first, deterministic recipe; the photo is decoded once for both.

One line per photo and host (``written``, ``would-write``, ``skipped`` with the reason, ``failed`` with the
error), or one JSON document with ``--json``. Lightroom's skip of a photo whose XMP is inside the file (JPEG,
TIFF, PNG, DNG) is, where the photo has a darktable line (``--host both``), one count at the end; ``--json``
lists each. A dry run also lists the values it would write, as ``suggest`` lists a recipe. A photo that cannot be
read or a malformed sidecar is reported with the file's name and the batch goes on; the exit status is then the
error's own when every photo failed (8 for a malformed sidecar), else 9 (partial failure). A folder fails alone
(``FolderGivenError``: ``autoretouch catalog FOLDER`` is the command for folders).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from backend.cli.duplicate_option import add_duplicate_option, checked_duplicate
from backend.cli.outcome_report import check_strength, format_outcome, report, run_batch
from backend.cli.server_options import add_server_options
from backend.cli.style_options import add_recipe_or_style_options, add_strength_option, load_styles
from backend.cli.suggestion_report import format_recipe
from backend.recipe import Recipe, load_recipe, scale
from backend.sidecar.apply import Outcome, apply_to_photo
from backend.torch_threads import torch_threads

__all__ = ["check_strength", "format_outcome", "register", "report", "run", "run_batch"]

_EPILOG = """\
examples:
  autoretouch apply IMG_0001.CR2 --recipe plus1ev.json --host both
  autoretouch apply *.NEF --style warm --strength 0.6 --host darktable --json
  autoretouch apply IMG_0001.CR2 --mix warm:0.7,film:0.3 --host lightroom --dry-run
  autoretouch apply IMG_0001.CR2 --recipe plus1ev.json --host darktable --duplicate 1   # IMG_0001_01.CR2.xmp

Exactly one of --recipe, --style, --mix. --style takes a style name (see `autoretouch styles`) or a path to
NAME.safetensors (with --server: a style installed on the daemon). With --json, one document: {"results":
[{"photo", "host", "sidecar", "action", "reason", "warnings"}, ...], "failed": N}, plus with --style/--mix
"recipes": [{"photo", "recipe"}, ...] (what was written, or would be). In text, with --host both, the
Lightroom skips of JPEG/TIFF/PNG/DNG photos (Lightroom reads the XMP inside those files) are one line at the end
("skipped lightroom N photos: ..."); --json lists each. --dry-run text lists the values it would write as
`suggest` does: each photo's own under its lines ("values:"), or --recipe's once before them ("values (every
photo):"). Exit status 9 means some photos of
the batch failed; when every photo failed (a sidecar failed and none was written), the error's own status
(e.g. 8 a malformed or unsafe sidecar, 6 not found, 5 undecodable). A folder given as PHOTO fails alone ("is
a folder; use `autoretouch catalog FOLDER`") and the other photos are done. --strength 0 (or a recipe that
changes nothing) writes nothing: each sidecar is skipped ("nothing to write (strength 0)"); with
--overwrite, a sidecar holding autoretouch's earlier edit has it taken out as --overwrite takes it out
before a new one, your own settings and later edits staying ("took out the earlier autoretouch edit
(strength 0)"; a sidecar autoretouch created is deleted; --dry-run: "would take out ..."), and revert then
has nothing to undo.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``apply`` sub-command to the CLI."""
    parser = subparsers.add_parser(
        "apply",
        help="write a recipe, or each photo's suggestion from a style, into photos' XMP sidecars",
        description=(
            "Translate a recipe - one file for every photo, or each photo's own suggestion from a style - into "
            "native develop settings and write them into each photo's sidecar: Lightroom crs: settings in "
            "NAME.xmp (proprietary raws only; Lightroom reads the XMP embedded in DNG/JPEG/TIFF, use the plugin "
            "for those) and/or a darktable 4.2 history in NAME.EXT.xmp. Image files are never modified; every "
            "write keeps the previous sidecar as SIDECAR.autoretouch.bak; 'autoretouch revert' undoes it."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument(
        "photos",
        nargs="+",
        metavar="PHOTO",
        type=Path,
        help="image files (raw, TIFF, JPEG, PNG); for folders use 'autoretouch catalog'",
    )
    add_recipe_or_style_options(
        parser,
        recipe_help="write this recipe JSON file (or one photo's saved `suggest --json` line) to every photo",
        style_help="write each photo's own suggestion from style S (name or NAME.safetensors)",
        mix_help="write each photo's suggestion from a blend of styles (weights)",
    )
    parser.add_argument(
        "--host", required=True, choices=("lightroom", "darktable", "both"), help="which sidecars to write"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help=(
            "replace existing develop settings or an earlier autoretouch application (revert restores them); "
            "at --strength 0: take autoretouch's earlier one out"
        ),
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="report what would be written, with the values as `autoretouch suggest` lists them; write nothing",
    )
    add_strength_option(
        parser,
        default=None,
        help_text=(
            "strength A in [0, 1]: every slider moved toward its identity value (default 1, the full recipe); "
            "at 0 nothing is written (each sidecar skipped: 'nothing to write (strength 0)'); with --overwrite, "
            "autoretouch's earlier edit is taken out ('took out the earlier autoretouch edit (strength 0)')"
        ),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    add_duplicate_option(parser)
    add_server_options(parser)  # --server HOST:PORT, --token T
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Apply the recipe (or each photo's suggestion) to every photo; returns the exit status.

    A dry run's text lists ``--recipe``'s values first (``values (every photo):``, in-process and with
    ``--server`` alike); each photo's suggestion (``--style``/``--mix``) is listed under its lines by
    :func:`~backend.cli.outcome_report.report`.
    """
    strength = check_strength(args.strength)
    duplicate = checked_duplicate(args)
    recipe = None
    if args.recipe is not None:
        recipe = load_recipe(args.recipe)
        recipe = scale(recipe, strength) if args.strength is not None else recipe
        if args.dry_run and not args.json:
            print("\n".join(["values (every photo):", *format_recipe(recipe, "  ")]), flush=True)
    if getattr(args, "server", None):
        from backend.cli.remote import remote_apply

        return remote_apply(args, recipe)
    if recipe is None:
        return _run_styles(args, strength, duplicate)
    options = {"host": args.host, "overwrite": args.overwrite, "dry_run": args.dry_run, "duplicate": duplicate}
    outcomes = run_batch(args.photos, args.host, lambda p: apply_to_photo(p, recipe, **options))
    return report(outcomes, args.json)


def _run_styles(args: argparse.Namespace, strength: float, duplicate: int) -> int:
    """``--style`` / ``--mix``: per photo, decode its preview once, suggest, and write the suggestion."""
    from backend.retouch import retouch_photo

    styles = load_styles(None, args.mix or [(args.style, 1.0)])
    recipes: dict[Path, Recipe] = {}

    def one(photo: Path) -> list[Outcome]:
        outcomes, recipes[photo] = retouch_photo(
            photo,
            host=args.host,
            styles=styles,
            strength=strength,
            overwrite=args.overwrite,
            dry_run=args.dry_run,
            duplicate=duplicate,
        )
        return outcomes

    with torch_threads(1):  # 64x64 work: more intra-op threads only add synchronisation cost
        outcomes = run_batch(args.photos, args.host, one)
    return report(outcomes, args.json, recipes)
