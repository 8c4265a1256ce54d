"""``autoretouch catalog``: a style's suggestion written into the sidecars of whole folders or a Lightroom catalog.

Thin wrapper over :func:`backend.batch.run_batch`: parses the options, shows a progress bar on stderr
(when stderr is a terminal), prints failures as they happen (stderr) and a summary at the end (stdout; one
JSON document with ``--json``). Exit status 0, or 9 when some photos failed, 130 when interrupted, or the
exit status of a typed error that stops the whole run.

With ``--server HOST:PORT`` the batch runs on the daemon (``WriteSidecars`` with a style, which runs the same
catalog batch there); the per-photo results stream back and are shown and summed up exactly as above.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.cli.argtypes import int_arg
from backend.cli.printable import printable
from backend.cli.server_options import add_server_options
from backend.cli.style_options import add_strength_option, parse_style_arg

if TYPE_CHECKING:
    from backend.batch import BatchSummary, PhotoOutcome

__all__ = ["format_summary", "register", "run"]

_EPILOG = """\
examples:
  autoretouch catalog ~/Photos/2024 --style warm --strength 0.7      # darktable sidecars, resumable
  autoretouch catalog --lrcat ~/Lightroom/Main.lrcat --style warm     # Lightroom NAME.xmp for the raws
  autoretouch catalog ~/Photos --host both --dry-run --json
  autoretouch catalog ~/Photos/2024 --style warm --server 127.0.0.1:50051  # on a running daemon

What is processed: folders are walked recursively (photos recognised by extension or content; sidecars,
backups, hidden folders and autoretouch's temp files are left alone; symbolic links to folders are not
followed, and they, broken symbolic links, FIFOs and sockets are listed as skipped with the reason), or the
photo files a Lightroom catalog lists (read-only; PATHs then narrow it down to the photos under them; a photo
not where the catalog records it is looked for below the catalog's folder, as when both moved together, and
one that two catalog photos would share is reported, not written). Default host: lightroom with --lrcat,
darktable otherwise. Each photo: preview decode -> the style's suggestion at --strength -> sidecars
(Lightroom NAME.xmp for proprietary raws, darktable NAME.EXT.xmp); existing edits are kept unless
--overwrite, and every write keeps the previous sidecar as SIDECAR.autoretouch.bak ('autoretouch revert' undoes it).

Journal: every photo's result is recorded (fsync-ed) in a JSON-lines journal right after its sidecars are
written: .autoretouch-journal.jsonl inside the first PATH (next to it for a file, next to the catalog with
only --lrcat), or --journal FILE (not a name ending in .xmp or a photo extension: that is a sidecar's or a
photo's name). Run the same command again after a crash or Ctrl-C and only what is missing is done; a photo
whose size or modification time changed, or another style or strength, is looked at again under the usual
rules (existing edits kept unless --overwrite; only our own earlier suggestion is replaced), not rewritten.
Where the journal wrote the edit and the sidecar changed since: still holding the edit, the photo is done;
edit taken out ('autoretouch revert', darktable's discard or undo, a Lightroom reset, --strength 0
--overwrite), it is skipped until --overwrite; sidecar deleted, the edit is applied again unless its backup is
the file our latest write left. Delete the journal to start over.

With --server HOST:PORT [--token T] the daemon does the work (its --root folders must hold the PATHs, given
as they are on the daemon's machine; --style names a style installed on the daemon). Folders are walked by
the daemon with the same rules as a local run; with --lrcat the catalog is read here and its
photo files are sent. Output and exit status are those of a local run; a refused call (daemon unreachable,
PATH outside its roots, wrong token, ...) exits non-zero with the daemon's message. Resuming: when a PATH
is a folder, the daemon keeps the same journal a local run would (.autoretouch-journal.jsonl in the first
PATH), so rerunning - locally or remotely - after a crash, a cancelled call or Ctrl-C skips the photos
already done ('already done'). A list of photo files (only file PATHs, or --lrcat, whose photo files are
sent) keeps no journal on the daemon (one a folder run left in the first photo's folder is still read); a
rerun skips the photos whose sidecar already holds the same recipe ('already applied'). A sidecar that
already carries an autoretouch record is skipped unless --overwrite. Ctrl-C cancels the call; the daemon
finishes the photo in progress (journalled for a folder run).
--jobs and --journal are the daemon's choice and cannot be given with --server.
"""


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
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="folders (walked recursively; symbolic links to folders not followed) and/or photo files",
    )
    parser.add_argument("--lrcat", type=Path, metavar="CATALOG", help="process the photos this .lrcat lists")
    parser.add_argument(
        "--host",
        choices=("lightroom", "darktable", "both"),
        help="which sidecars to write (default: lightroom with --lrcat, else darktable)",
    )
    parser.add_argument(
        "--style", type=parse_style_arg, default=None, metavar="S", help="style name or NAME.safetensors path"
    )
    add_strength_option(  # --strength A
        parser,
        help_text=(
            "scale every slider toward 'no change': 0 = nothing, 1 = the full style (default 1); at 0 no sidecar "
            "is written (each photo skipped: 'nothing to write (strength 0)'); with --overwrite, autoretouch's "
            "earlier edit is taken out ('took out the earlier autoretouch edit (strength 0)')"
        ),
    )
    parser.add_argument(
        "--jobs",
        type=int_arg(1, name="jobs"),
        default=None,
        metavar="N",
        help="worker processes (default: the CPU cores, fewer for small batches; 1 = no pool)",
    )
    parser.add_argument("--dry-run", action="store_true", help="report what would be written; write nothing")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help=(
            "replace existing develop settings or earlier autoretouch applications (revert restores them); "
            "at --strength 0: take autoretouch's earlier one out"
        ),
    )
    parser.add_argument("--journal", type=Path, metavar="FILE", help="journal file, not NAME.xmp (default: see below)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary instead of text")
    add_server_options(parser)
    parser.set_defaults(func=run, _parser=parser)


def format_summary(summary: BatchSummary) -> list[str]:
    """Human lines for a :class:`~backend.batch.results.BatchSummary`.

    Names and reasons are :func:`~backend.cli.printable.printable`: a line break or an escape sequence in a file name
    cannot split a line, forge one or drive the terminal (``--json`` has them as they are).
    """
    n = len(summary.photos)
    head = (
        f"catalog: {n} photo{'s' if n != 1 else ''} in {summary.elapsed_s:.1f} s ({summary.photos_per_s:.1f} photos/s, "
        f"{summary.jobs} job{'s' if summary.jobs != 1 else ''}); host {'+'.join(summary.hosts)}, "
        f"style {printable(summary.style)}, strength {summary.strength:g}{' (dry run: nothing written)' if summary.dry_run else ''}"
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
            lines += [f"    {count:>6}  {printable(reason)}" for reason, count in summary.skipped_reasons.items()]
    if summary.failures:
        lines.append("failed photos:")
        lines += [f"  {printable(reason)}" for _, reason in summary.failures]
    if summary.interrupted:
        lines.append("interrupted: run the same command again to continue")
    if summary.journal is not None:
        lines.append(f"journal: {printable(summary.journal)}")
    return lines


class _Progress:
    """The progress bar on stderr (a terminal only) and the failure lines (names escaped), as photos finish."""

    def __init__(self) -> None:
        self.bar: Any = None

    def __call__(self, outcome: PhotoOutcome) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=outcome.total, file=sys.stderr, unit="photo", disable=None, dynamic_ncols=True)
        self.bar.update(1)
        if outcome.failed:
            self.bar.write(f"autoretouch: error: {printable(outcome.reason)}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _report(summary: BatchSummary, as_json: bool) -> int:
    """Print the summary; the exit status 0, 9 (some photos failed) or 130 (interrupted)."""
    from backend.errors import EXIT_PARTIAL

    if as_json:
        json.dump(summary.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print("\n".join(format_summary(summary)))
    if summary.interrupted:
        return 130
    return EXIT_PARTIAL if summary.any_failed else 0


def run(args: argparse.Namespace) -> int:
    """Run the batch (here, or on the daemon with ``--server``); returns 0, 9 (some failed) or 130."""
    from backend.agent.style import DEFAULT_STYLE
    from backend.batch import run_batch

    if not args.paths and args.lrcat is None:
        args._parser.error("give at least one PATH or --lrcat CATALOG")
    host = args.host or ("lightroom" if args.lrcat is not None else "darktable")
    if args.server:
        return run_remote(args, host)
    progress = _Progress()
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
        progress.close()
    return _report(summary, args.json)


def _remote_outcome(result: Any, seconds: float) -> PhotoOutcome:
    """A daemon's ``FileResult`` as the :class:`PhotoOutcome` a local run would have reported."""
    from backend.batch import ErrorKind, PhotoOutcome
    from backend.daemon.client import pb_recipe
    from backend.daemon.convert import outcome_from_pb

    hosts = tuple(outcome_from_pb(o) for o in result.outcomes)
    error = result.error.message if result.HasField("error") else None
    status, reason = PhotoOutcome.summarise(hosts, error)
    kind = None if error is None else ErrorKind(result.error.type, result.error.code, result.error.exit_code)
    recipe = pb_recipe(result.recipe) if result.HasField("recipe") else None
    return PhotoOutcome(Path(result.photo), status, reason, hosts, recipe, seconds, error_kind=kind)


def _follow(stream: Any, summary: Any, emit: Any) -> None:
    """Read a WriteSidecars stream into ``summary`` (``emit(outcome, photos in the call)`` per photo).

    Ctrl-C closes the stream, which cancels the call: the daemon finishes the photo in progress (journalled for
    a folder run) and stops.
    """
    import time

    last = time.perf_counter()
    try:
        for message in stream:
            summary.model = summary.model or message.model_version
            if message.WhichOneof("event") == "summary":
                summary.interrupted = message.summary.cancelled
                continue
            now = time.perf_counter()
            emit(_remote_outcome(message.file, now - last), message.file.total)
            last = now
    except KeyboardInterrupt:
        stream.close()
        summary.interrupted = True


def run_remote(args: argparse.Namespace, host: str) -> int:
    """``autoretouch catalog --server``: the batch on the daemon, shown and summed up as a local run.

    Args:
        args: the parsed command line (``server``, ``token``, the batch options).
        host: ``lightroom``, ``darktable`` or ``both``.

    Returns:
        0, 9 (some photos failed) or 130 (Ctrl-C: the call is cancelled).

    Raises:
        RemoteError: the daemon refused or failed the call (its message and exit status).
        RemoteOptionError: ``--jobs`` or ``--journal`` (the daemon decides them).
        NotFoundError, LightroomCatalogError: with ``--lrcat``, a PATH or the catalog (read here).
    """
    import os
    import time

    from backend.agent.style import DEFAULT_STYLE
    from backend.batch import BatchSummary, PhotoOutcome, default_journal_path, select_photos
    from backend.batch.walk import is_folder
    from backend.cli.server_options import refuse_options
    from backend.daemon.client import HOSTS, RemoteClient, UnsendablePathError, check_styles, daemon_paths
    from backend.rpc import PROTOCOL_VERSION, pb
    from backend.sidecar.apply import hosts_for

    refuse_options(args, {"jobs": "the daemon runs its own workers", "journal": "the daemon keeps the journal"})
    style = args.style or DEFAULT_STYLE
    started = time.perf_counter()
    summary = BatchSummary(hosts=hosts_for(host), style=style, strength=args.strength, dry_run=args.dry_run)
    progress = _Progress()

    def emit(outcome: PhotoOutcome, total: int) -> None:
        from dataclasses import replace

        outcome = replace(outcome, index=len(summary.photos) + 1, total=total)
        summary.photos.append(outcome)
        progress(outcome)

    here: list[PhotoOutcome] = []  # what a catalog listing read here already settles
    if args.lrcat is not None:
        selection = select_photos(args.paths, args.lrcat)
        paths = [str(p) for p in selection.photos]
        here += [PhotoOutcome(p, "failed", why, error_kind=kind) for p, why, kind in selection.failed]
        here += [PhotoOutcome(p, "skipped", why) for p, why in selection.ignored]
    else:
        paths = [os.path.abspath(p) for p in args.paths]
    sent, unsendable = daemon_paths([Path(p) for p in paths])  # proto strings are UTF-8: the others fail alone
    here += [PhotoOutcome(p, "failed", str(UnsendablePathError(p))) for p in unsendable]
    paths = list(sent)
    request = pb.WriteSidecarsRequest(
        protocol_version=PROTOCOL_VERSION,
        paths=paths,
        recursive=args.lrcat is None,
        hosts=HOSTS[host],
        style=style,
        strength=args.strength,
        overwrite=args.overwrite,
        dry_run=args.dry_run,
    )
    try:
        with RemoteClient(args.server, token=args.token) as client:
            check_styles(client, [style])
            for outcome in here:
                emit(outcome, len(here) + len(paths))
            if paths:
                _follow(client.write_sidecars(request), summary, lambda o, total: emit(o, len(here) + total))
    finally:
        progress.close()
    if any(is_folder(p) for p in paths):  # a list of photo files keeps no journal on the daemon
        journal = default_journal_path(paths[:1])
        summary.journal = journal if journal.is_file() else None
    summary.elapsed_s = time.perf_counter() - started
    return _report(summary, args.json)
