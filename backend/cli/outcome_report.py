"""What the sidecar commands print: one line per photo and host, or one JSON document; their exit status.

Shared by ``apply`` and ``revert``, in-process and with ``--server`` (:mod:`backend.cli.remote`), so both print
the same thing.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from backend.batch.walk import FolderWalk, check_path_length, is_folder
from backend.cli.printable import printable
from backend.cli.suggestion_report import format_recipe
from backend.errors import EXIT_PARTIAL, AutoretouchError, ErrorKind, FileError, PermissionDeniedError, naming_file
from backend.recipe import Recipe
from backend.recipe import check_strength as check_recipe_strength
from backend.sidecar.apply import EMBEDDED_REASON, Outcome, hosts_for, sidecar_path

__all__ = [
    "EMBEDDED_SUMMARY",
    "UNLISTABLE",
    "FolderGivenError",
    "catalog_hint",
    "check_strength",
    "exit_status",
    "expand_folders",
    "failed_outcomes",
    "format_outcome",
    "report",
    "run_batch",
]


#: The kind of a folder that cannot be listed (the catalog batch's too).
UNLISTABLE = ErrorKind.of_class(PermissionDeniedError)
#: The one text line that stands for the Lightroom skips of photos whose XMP is inside the file, when each of them
#: has another host's line (``--host both``; ``{count}``: ``N photo(s)``). ``--json`` lists each skip.
EMBEDDED_SUMMARY = (
    "{count}: Lightroom reads the XMP embedded in the file for these formats (JPEG, TIFF, PNG, DNG, ...); "
    "use the plugin (--json lists each)"
)


class FolderGivenError(FileError):
    """A folder was given where a photo file is expected (``apply``); ``catalog`` is the command for folders.

    Attributes:
        path: the folder.
        reason: what to do instead.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, f"is a folder; {catalog_hint(path)}")


def catalog_hint(folder: str | Path) -> str:
    """What to run instead on a folder given where a photo is expected (``apply``, ``suggest``): ``catalog``."""
    return f"use `autoretouch catalog {folder}` to write the sidecars of its photos"


def failed_outcomes(photo: Path, hosts: str, reason: str, error: ErrorKind | None = None) -> list[Outcome]:
    """One ``failed`` outcome per host for ``photo`` (a folder or a path without a name stands as its own sidecar).

    ``error``: the kind of error (its exit status), when known.
    """
    out: list[Outcome] = []
    for h in hosts_for(hosts):
        try:
            sidecar = sidecar_path(photo, h)
        except ValueError:  # "." or "/": no name to derive a sidecar's from
            sidecar = Path(os.path.abspath(photo))
        out.append(Outcome(photo, h, sidecar, "failed", reason, error=error))
    return out


def expand_folders(paths: Sequence[Path], hosts: str) -> tuple[list[Path], list[Outcome]]:
    """``paths`` with each folder replaced by its photos, walked as ``autoretouch catalog`` walks it.

    The folder walk is :class:`~backend.batch.walk.FolderWalk` (recursive; hidden entries left out, symbolic links
    to folders not followed), as the daemon's ``Revert`` walks it. Files are kept as given, photo or not.

    Returns:
        The photo paths, in order, and outcomes for what the walk could not do: a folder (or sub-folder) that
        cannot be listed fails (one outcome per host); a folder without photos, and what the walk leaves out
        with a reason (symbolic links to folders, broken links, FIFOs, sockets: ``iter_photos``' ``skipped``),
        are skipped with that reason.
    """
    photos: list[Path] = []
    notes: list[Outcome] = []
    for path in paths:
        if not is_folder(path):
            photos.append(path)
            continue
        walk = FolderWalk(Path(os.path.abspath(path)), note_empty=True)
        photos += walk
        for where, why in walk.errors:  # counted as permission denied, as the catalog counts it
            notes += failed_outcomes(where, hosts, why, UNLISTABLE)
        for where, why in walk.skipped:  # a folder without photos last
            why = why.removeprefix(f"{where}: ")  # the line names the path already
            notes += [Outcome(where, h, where, "skipped", why) for h in hosts_for(hosts)]
    return photos, notes


def format_outcome(o: Outcome) -> str:
    """One human line: ``ACTION  HOST  SIDECAR[: reason]`` plus indented warnings.

    Names and messages are :func:`~backend.cli.printable.printable`: a line break in a file name cannot split
    the line or forge another.
    """
    line = f"{o.action:<12} {o.host:<9} {printable(o.sidecar)}"
    if o.reason and not o.failed:
        line += f": {printable(o.reason)}"
    elif o.failed:
        line += f"\n  error: {printable(o.reason)}"
    return "\n".join([line, *(f"  note: {printable(w)}" for w in o.warnings)])


def _is_embedded_skip(o: Outcome) -> bool:
    """Whether ``o`` is Lightroom's skip of a photo whose XMP is embedded (a daemon's outcome: by its reason)."""
    if o.skip_kind is not None:
        return o.skip_kind == "embedded-xmp"
    return o.action == "skipped" and o.host == "lightroom" and o.reason == EMBEDDED_REASON


def _text_lines(outcomes: Sequence[Outcome], recipes: Mapping[Path, Recipe] | None = None) -> list[tuple[str, bool]]:
    """The text report: ``(text, to stderr)`` per outcome, the embedded-XMP skips folded, a dry run's values shown.

    A Lightroom skip of a photo whose XMP is inside the file (:data:`~backend.sidecar.apply.EMBEDDED_REASON`) is
    left out where the same photo has another host's line (``--host both``: every JPEG would repeat it) and
    counted in one :data:`EMBEDDED_SUMMARY` line at the end; a photo with no other line keeps its own.

    A dry run (``would-write``) shows what it would write, as ``suggest`` lists a recipe
    (:func:`~backend.cli.suggestion_report.format_recipe`): each photo's own suggestion (``recipes``,
    ``--style``/``--mix``) in a ``  values:`` block after its lines (``apply --recipe`` lists its one recipe
    before the outcomes).
    """
    with_other_host = {o.photo for o in outcomes if not _is_embedded_skip(o)}
    folded = {o.photo for o in outcomes if _is_embedded_skip(o) and o.photo in with_other_host}
    would_write = {o.photo for o in outcomes if o.action == "would-write"}
    lines: list[tuple[str, bool]] = []
    for k, o in enumerate(outcomes):
        if not (_is_embedded_skip(o) and o.photo in folded):
            lines.append((format_outcome(o), o.failed))
        last_of_photo = k + 1 == len(outcomes) or outcomes[k + 1].photo != o.photo
        if last_of_photo and o.photo in would_write and recipes is not None and o.photo in recipes:
            lines += [("  values:", False), *((line, False) for line in format_recipe(recipes[o.photo], "    "))]
    if folded:
        count = f"{len(folded)} photo{'s' if len(folded) > 1 else ''}"
        lines.append((f"{'skipped':<12} {'lightroom':<9} {EMBEDDED_SUMMARY.format(count=count)}", False))
    return lines


def run_batch(photos: Sequence[Path], hosts: str, do: Callable[[Path], list[Outcome]]) -> list[Outcome]:
    """Run ``do`` on each photo; a typed error or OS error becomes ``failed`` outcomes naming the file.

    A photo path that cannot exist (a name in it too long, :func:`~backend.batch.walk.check_path_length`)
    fails alone as not found, and a folder fails alone (:class:`FolderGivenError`: ``apply`` writes the
    sidecars of photo files; ``revert`` walks folders first, :func:`expand_folders`), before ``do`` runs; the
    other photos carry on.
    """
    outcomes: list[Outcome] = []
    for photo in photos:
        try:
            check_path_length(photo)
            if is_folder(photo):
                raise FolderGivenError(photo)
            outcomes += do(photo)
        except AutoretouchError as exc:
            outcomes += failed_outcomes(photo, hosts, naming_file(photo, str(exc)), ErrorKind.known(exc))
        except OSError as exc:  # the OS's words, naming the file, without Python's "[Errno N]" prefix
            reason = naming_file(exc.filename or photo, exc.strerror or str(exc))
            outcomes += failed_outcomes(photo, hosts, reason, ErrorKind.known(exc))
    return outcomes


def exit_status(outcomes: Sequence[Outcome]) -> int:
    """The batch's exit status, by the rule of ``suggest`` and ``render``.

    0 when no sidecar failed; when every photo failed (a sidecar of it failed and none was written or reverted:
    the other host's may be skipped), the exit status of the first failure's error (e.g. 8 for a malformed
    sidecar, 5 for an undecodable photo; 9 when its kind is unknown); otherwise
    :data:`~backend.errors.EXIT_PARTIAL` (9): some photos failed, or one host's sidecar failed and the other's
    was written. What a folder walk skipped counts as a photo that did not fail.
    """
    failures = [o for o in outcomes if o.failed]
    if not failures:
        return 0
    done = {o.photo for o in outcomes if o.action not in ("failed", "skipped")}
    if done or {o.photo for o in failures} != {o.photo for o in outcomes}:
        return EXIT_PARTIAL
    error = failures[0].error
    return EXIT_PARTIAL if error is None else error.exit_code


def report(outcomes: list[Outcome], as_json: bool, recipes: Mapping[Path, Recipe] | None = None) -> int:
    """Print the outcomes; returns the exit status (:func:`exit_status`).

    The status is 0, the error's own when every photo failed, else 9.

    Args:
        outcomes: the outcomes, in photo order.
        as_json: print one JSON document instead of lines (in text, the Lightroom skips of JPEG/TIFF/...
            photos that have a darktable line are one count at the end, and a dry run shows each photo's
            suggestion it would write: :func:`_text_lines`).
        recipes: photo -> the suggestion written (``--style``/``--mix``); listed under ``"recipes"`` in the
            JSON document, in the order given. ``None`` (``--recipe``) adds no key.
    """
    failed = sum(o.failed for o in outcomes)
    if as_json:
        doc: dict[str, Any] = {"results": [o.to_json() for o in outcomes], "failed": failed}
        if recipes is not None:
            doc["recipes"] = [{"photo": str(p), "recipe": r.to_dict()} for p, r in recipes.items()]
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for line, to_stderr in _text_lines(outcomes, recipes):
            print(line, file=sys.stderr if to_stderr else sys.stdout)
    return exit_status(outcomes)


def check_strength(strength: float | None) -> float:
    """``--strength`` (default 1) checked before any photo is touched.

    Raises:
        InvalidRecipeError: not a finite number in [0, 1].
    """
    return check_recipe_strength(1.0 if strength is None else strength)
