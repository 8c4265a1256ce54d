"""``autoretouch catalog``: a style's suggestion written into the sidecars of whole folders or a Lightroom catalog.

Thin wrapper over :func:`backend.catalog.run_batch`: parses the options, shows a progress bar on stderr
(when stderr is a terminal), prints failures as they happen (stderr) and a summary at the end (stdout; one
JSON document with ``--json``). Exit status 0, or 9 when some photos failed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.catalog import BatchSummary, PhotoOutcome

__all__ = ["format_summary", "register", "run"]

_EPILOG = """\
examples:
  autoretouch catalog ~/Photos/2024 --style warm --strength 0.7      # darktable sidecars, resumable
  autoretouch catalog --lrcat ~/Lightroom/Main.lrcat --style warm     # Lightroom NAME.xmp for the raws
  autoretouch catalog ~/Photos --host both --dry-run --json

What is processed: folders are walked recursively (photos recognised by extension or content; sidecars,
backups, hidden folders and autoretouch's temp files are left alone), or the photo files a Lightroom catalog
lists (read-only; PATHs then narrow it down to the photos under them). Default host: lightroom with --lrcat,
darktable otherwise. Each photo: preview decode -> the style's suggestion at --strength -> sidecars
(Lightroom NAME.xmp for proprietary raws, darktable NAME.EXT.xmp); existing edits are kept unless
--overwrite, and every write keeps the previous sidecar as .bak ('autoretouch revert' undoes it).

Journal: every photo's result is recorded (fsync-ed) in a JSON-lines journal right after its sidecars are
written: .autoretouch-journal.jsonl inside the first PATH (next to it for a file, next to the catalog with
only --lrcat), or --journal FILE. Run the same command again after a crash or Ctrl-C and only what is
missing is done; photos whose size or modification time changed are done again. Delete the journal to
start over.
"""


def _strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"strength must lie in [0, 1], got {text}")
    return value


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"jobs must be at least 1, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``catalog`` sub-command to the CLI."""
    parser = subparsers.add_parser(
        "catalog",
        help="write a style's suggestions into the sidecars of whole folders or a Lightroom catalog (resumable)",
        description=(
            "Run a style's agent on every photo of folders (recursively) or of a Lightroom catalog and write "
            "the suggested settings into each photo's XMP sidecar, in parallel, with a journal so an "
            "interrupted run resumes where it stopped."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="folders and/or photo files")
    parser.add_argument("--lrcat", type=Path, metavar="CATALOG", help="process the photos this .lrcat lists")
    parser.add_argument(
        "--host",
        choices=("lightroom", "darktable", "both"),
        help="which sidecars to write (default: lightroom with --lrcat, else darktable)",
    )
    parser.add_argument("--style", default=None, metavar="S", help="style name or NAME.safetensors path")
    parser.add_argument(
        "--strength",
        type=_strength,
        default=1.0,
        metavar="A",
        help="scale every slider toward 'no change': 0 = nothing, 1 = the full style (default 1)",
    )
    parser.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="worker processes (default: the CPU cores, fewer for small batches; 1 = no pool)",
    )
    parser.add_argument("--dry-run", action="store_true", help="report what would be written; write nothing")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing develop settings or earlier autoretouch applications (revert restores them)",
    )
    parser.add_argument("--journal", type=Path, metavar="FILE", help="journal file (default: see below)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary instead of text")
    parser.set_defaults(func=run, _parser=parser)


def format_summary(summary: BatchSummary) -> list[str]:
    """Human lines for a :class:`~backend.catalog.results.BatchSummary`."""
    n = len(summary.photos)
    head = (
        f"catalog: {n} photo{'s' if n != 1 else ''} in {summary.elapsed_s:.1f} s ({summary.photos_per_s:.1f} photos/s, "
        f"{summary.jobs} job{'s' if summary.jobs != 1 else ''}); host {'+'.join(summary.hosts)}, "
        f"style {summary.style}, strength {summary.strength:g}{' (dry run: nothing written)' if summary.dry_run else ''}"
    )
    lines = [head]
    counts = summary.counts
    for status in ("written", "would-write", "skipped", "failed"):
        if status == "would-write" and not summary.dry_run:
            continue
        if status == "written" and summary.dry_run:
            continue
        lines.append(f"  {status:<12} {counts[status]:>6}")
        if status == "skipped":
            lines += [f"    {count:>6}  {reason}" for reason, count in summary.skipped_reasons.items()]
    if summary.failures:
        lines.append("failed photos:")
        lines += [f"  {reason}" for _, reason in summary.failures]
    if summary.interrupted:
        lines.append("interrupted: run the same command again to continue")
    if summary.journal is not None:
        lines.append(f"journal: {summary.journal}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Run the batch; returns 0, 9 (some photos failed) or 130 (interrupted)."""
    from tqdm import tqdm

    from backend.agent.style import DEFAULT_STYLE
    from backend.catalog import run_batch
    from backend.cli.main import EXIT_PARTIAL

    if not args.paths and args.lrcat is None:
        args._parser.error("give at least one PATH or --lrcat CATALOG")
    host = args.host or ("lightroom" if args.lrcat is not None else "darktable")
    bar: Any = None

    def progress(outcome: PhotoOutcome) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=outcome.total, file=sys.stderr, unit="photo", disable=None, dynamic_ncols=True)
        bar.update(1)
        if outcome.failed:
            bar.write(f"autoretouch: error: {outcome.reason}", file=sys.stderr)

    try:
        summary = run_batch(
            args.paths,
            lrcat=args.lrcat,
            hosts=host,
            style=args.style or DEFAULT_STYLE,
            strength=args.strength,
            jobs=args.jobs,
            dry_run=args.dry_run,
            overwrite=args.overwrite,
            journal=args.journal,
            progress=progress,
        )
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        json.dump(summary.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print("\n".join(format_summary(summary)))
    if summary.interrupted:
        return 130
    return EXIT_PARTIAL if summary.any_failed else 0
