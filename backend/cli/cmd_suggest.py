"""``autoretouch suggest``: let a style's agent propose slider recipes for photos (nothing is written).

Each photo is decoded through the fast preview path (reduced JPEG decode / embedded raw preview), squeezed
to the agent's 64x64 linear thumbnail, and the agent picks a few sliders and their values. Variants: the
first recipe is the deterministic one, the others come from dropout kept on (seeded by ``--seed``, so they
are reproducible). ``--mix`` runs several styles and blends their recipes in slider space; ``--strength``
scales every slider toward "no change". A photo that fails is reported on stderr (the message names the
file) and the others carry on; the exit status is then 9. ``--dtstyle DIR`` also writes each recipe as a
darktable ``.dtstyle`` (see :mod:`backend.cli.dtstyle_output`; the darktable plug-in's previews); with
``--duplicate N`` the files preview darktable's virtual copy N (its own history, ``NAME_NN.EXT.xmp``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from backend.agent.suggest import MAX_VARIANTS
from backend.batch.walk import is_folder
from backend.cli.argtypes import int_arg
from backend.cli.batch_report import run_photo_batch
from backend.cli.dtstyle_output import dtstyle_dir
from backend.cli.duplicate_option import add_duplicate_option, checked_preview_duplicate
from backend.cli.outcome_report import catalog_hint
from backend.cli.server_options import add_server_options
from backend.cli.style_options import add_strength_option, add_style_options, load_styles
from backend.cli.suggestion_report import format_recipe, print_suggestions
from backend.errors import UnsupportedFormatError
from backend.torch_threads import torch_threads

if TYPE_CHECKING:
    from backend.recipe import Recipe

__all__ = ["format_recipe", "register", "run"]

_EPILOG = """\
examples:
  autoretouch suggest IMG_0001.CR2                      # default style
  autoretouch suggest *.jpg --style warm --strength 0.6 --json
  autoretouch suggest IMG_0001.CR2 --variants 4 --seed 7
  autoretouch suggest IMG_0001.CR2 --mix warm:0.7,film:0.3
  autoretouch suggest IMG_0001.CR2 --variants 2 --dtstyle /tmp/previews --json
  autoretouch suggest IMG_0001.CR2 --dtstyle /tmp/previews --duplicate 2   # on virtual copy 2's history

--style takes a style name (see `autoretouch styles`) or a path to NAME.safetensors. With --json, one
JSON object per photo and line: {"photo", "ok", "recipes": [recipe, ...], "style", "strength"} (or
{"photo", "ok": false, "error"}). Exit status 9 means some photos of the batch failed; when every photo
failed, the error's own status (e.g. 6 not found, 5 undecodable).

--dtstyle DIR (an existing folder) also writes each recipe as a darktable style file,
DIR/<stem>.<variant>.<token>.dtstyle, named "autoretouch preview <stem> <variant> <token>" (a random token:
darktable refuses a style name it already has), holding the modules `apply --host=darktable` would append.
JSON rows then carry each file as the recipe's "dtstyle" field. With --server the daemon translates and the
files are written here. The darktable plug-in applies them to virtual copies as previews.

--duplicate N (with --dtstyle) builds the style files on darktable's virtual copy N of each photo: the history
in its own sidecar NAME_NN.EXT.xmp, as `apply --host darktable --duplicate N --overwrite` would extend it (a
copy without a sidecar: as a photo without one). The recipes are the same for every copy, so --duplicate
without --dtstyle is a usage error (exit status 2). With --server the sidecar is read on this machine.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``suggest`` sub-command to the CLI."""
    parser = subparsers.add_parser(
        "suggest",
        help="propose slider recipes for photos with a learned style (prints them; writes nothing)",
        description=(
            "Run a style's agent on one or more photos (raw, TIFF, JPEG, PNG) and print the recipes it "
            "proposes: a few global sliders and their values. Feed a recipe to `render` or `apply`."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument("photos", nargs="+", type=Path, metavar="PHOTO", help="photo files")
    add_style_options(
        parser.add_mutually_exclusive_group(),
        style_help="style name or NAME.safetensors path (default: 'default')",
        mix_help="blend several styles' recipes with these weights (slider space)",
    )
    add_strength_option(parser)  # --strength A
    parser.add_argument(
        "--variants",
        type=int_arg(1, MAX_VARIANTS, name="variants"),
        default=1,
        metavar="K",
        help=f"number of recipes per photo, 1 to {MAX_VARIANTS} (default 1)",
    )
    parser.add_argument(
        "--seed",
        type=int_arg(-(1 << 63), (1 << 63) - 1, name="seed"),  # a 64-bit signed integer, as the daemon's proto
        default=0,
        metavar="N",
        help="seed of the variants, a 64-bit signed integer (default 0)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per photo instead of text")
    parser.add_argument(
        "--dtstyle",
        type=dtstyle_dir,
        metavar="DIR",
        help="also write each recipe as a darktable .dtstyle into the existing folder DIR (see below)",
    )
    add_duplicate_option(parser, preview=True)  # --duplicate N
    add_server_options(parser)  # --server HOST:PORT, --token T
    parser.set_defaults(func=run, _parser=parser)


def run(args: argparse.Namespace) -> int:
    """Suggest recipes for every photo; returns 0, the error's exit code (single photo) or 9 (some failed).

    Raises:
        DuplicateOptionError: ``--duplicate`` above 0 without ``--dtstyle`` (exit status 2), before any photo.
    """
    checked_preview_duplicate(args)
    if getattr(args, "server", None):
        from backend.cli.remote import remote_suggest

        return remote_suggest(args)
    with torch_threads(1):  # 64x64 work: more intra-op threads only add synchronisation cost
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from backend.agent.suggest import mix_label, suggest_for_photo
    from backend.cli.dtstyle_output import suggest_with_entries, write_dtstyles

    styles = load_styles(args.style, args.mix)
    label = mix_label(styles)
    folder = getattr(args, "dtstyle", None)
    duplicate = int(args.duplicate)  # with --dtstyle only (checked_preview_duplicate in run)

    def suggest(photo: Path) -> tuple[list[Recipe], list[Path] | None]:
        if folder is None:
            return suggest_for_photo(
                photo, styles, strength=args.strength, variants=args.variants, seed=args.seed
            ), None
        recipes, entries, info = suggest_with_entries(
            photo, styles, strength=args.strength, variants=args.variants, seed=args.seed
        )
        written = write_dtstyles(
            folder,
            photo,
            entries,
            label,
            args.strength,
            is_raw=info.is_raw,
            long_side_px=info.long_side_px,
            duplicate=duplicate,
        )
        return recipes, written

    def attempt(photo: Path) -> tuple[list[Recipe], list[Path] | None]:
        try:
            return suggest(photo)
        except UnsupportedFormatError as exc:
            if not is_folder(photo):
                raise
            # "a directory, not a photo": the command for folders, in the words apply uses (FolderGivenError)
            raise UnsupportedFormatError(photo, f"{exc.reason}; {catalog_hint(photo)}") from None

    def done(photo: Path, result: tuple[list[Recipe], list[Path] | None]) -> None:
        recipes, files = result
        print_suggestions(photo, recipes, label, args.strength, as_json=args.json, dtstyles=files)

    return run_photo_batch(args.photos, lambda photo: photo, attempt, done, as_json=args.json)
