"""``--server HOST:PORT``: run ``suggest``, ``apply``, ``revert``, ``catalog`` and ``train`` on a running daemon.

The output and the exit status are those of the in-process commands: the same lines (or JSON), the same
per-photo error messages (the daemon's absolute paths are shown as the paths you typed), and a failed call
exits with the status the CLI uses for the daemon's error class (sent as ``autoretouch-exit-code``).
Differences: photos and folders are named to the daemon by absolute path, so they must lie under the
daemon's ``--root`` folders on the daemon's machine; ``--style`` takes the name of a style installed on the
daemon (not a file path). The token, if the daemon has one, comes from ``--token`` where a command has it,
else from the environment variable ``AUTORETOUCH_TOKEN``. ``catalog --server`` lives in
:mod:`backend.cli.cmd_catalog`; ``train --server`` in :mod:`trainer.remote_train`; the client itself in
:mod:`backend.daemon.client`.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from backend.batch.walk import is_folder
from backend.cli.server_options import RemoteOptionError, add_server_options, refuse_options
from backend.daemon.client import (
    HOSTS,
    TOKEN_ENV,
    RemoteClient,
    RemoteError,
    UnsendablePathError,
    check_styles,
    daemon_path,
    daemon_paths,
    pb_recipe,
)
from backend.errors import UnsupportedFormatError
from backend.recipe import Recipe
from backend.rpc import DUPLICATE_PROTOCOL_VERSION, PROTOCOL_VERSION, pb

__all__ = [
    "HOSTS",
    "TOKEN_ENV",
    "RemoteClient",
    "RemoteError",
    "RemoteOptionError",
    "add_server_options",
    "check_styles",
    "pb_recipe",
    "refuse_options",
    "remote_apply",
    "remote_revert",
    "remote_suggest",
]


def _with_unsendable(
    outcomes: list[Any],
    photos: Sequence[Path],
    unsendable: list[Path],
    host: str,
    duplicate: int = 0,
    folders: Sequence[Path] = (),
) -> list[Any]:
    """The daemon's outcomes with a failed one per host for each photo that could not be sent, in photo order.

    ``folders``: folders given to ``apply``, not sent: each fails alone as in-process
    (:class:`~backend.cli.outcome_report.FolderGivenError`).
    """
    if not unsendable and not folders:
        return outcomes
    from backend.cli.outcome_report import FolderGivenError, failed_outcomes
    from backend.errors import ErrorKind, naming_file
    from backend.sidecar.apply import Outcome, hosts_for, sidecar_path

    by_photo: dict[Path, list[Any]] = {}
    for o in outcomes:
        by_photo.setdefault(o.photo, []).append(o)
    for photo in unsendable:
        exc = UnsendablePathError(photo)
        by_photo[photo] = [
            Outcome(photo, h, sidecar_path(photo, h, duplicate), "failed", str(exc), error=ErrorKind.known(exc))
            for h in hosts_for(host)
        ]
    for folder in folders:
        given = FolderGivenError(folder)
        by_photo[folder] = failed_outcomes(folder, host, naming_file(folder, str(given)), ErrorKind.known(given))
    ordered = [o for photo in dict.fromkeys(photos) for o in by_photo.pop(photo, [])]
    return ordered + [o for rest in by_photo.values() for o in rest]


def _shown(text: str, names: dict[str, Path]) -> str:
    for absolute, typed in names.items():
        if absolute != str(typed):
            text = text.replace(absolute, str(typed))
    return text


# -- suggest ------------------------------------------------------------------------------------------


def remote_suggest(args: argparse.Namespace) -> int:
    """``autoretouch suggest --server``: same output and exit status as in-process."""
    from backend.agent.style import DEFAULT_STYLE
    from backend.cli.batch_report import run_photo_batch
    from backend.cli.suggestion_report import print_suggestions

    request = pb.SuggestRequest(protocol_version=PROTOCOL_VERSION, strength=args.strength, variants=args.variants)
    request.seed = args.seed
    folder = getattr(args, "dtstyle", None)
    duplicate = int(args.duplicate)  # with --dtstyle only (checked_preview_duplicate): the copy the files preview
    if folder is not None:  # --dtstyle: the daemon, which decodes the photo, translates; the files are written here
        request.hosts.append(pb.HOST_DARKTABLE)
    if args.mix:
        request.mix.entries.extend(pb.StyleWeight(style=n, weight=w) for n, w in args.mix)
        names = [n for n, _ in args.mix]
        label = names[0] if len(args.mix) == 1 else ",".join(f"{n}:{w:g}" for n, w in args.mix)
    else:
        request.style = args.style or DEFAULT_STYLE
        names, label = [request.style], request.style
    with RemoteClient(args.server, token=getattr(args, "token", None)) as client:
        check_styles(client, names)

        def attempt(photo: Path) -> tuple[list[Recipe], list[Path] | None]:
            request.path = daemon_path(photo)
            return _suggest_one(client, request, photo, folder, label, args.strength, duplicate)

        def done(photo: Path, result: tuple[list[Recipe], list[Path] | None]) -> None:
            recipes, files = result
            print_suggestions(photo, recipes, label, args.strength, as_json=args.json, dtstyles=files)

        return run_photo_batch(args.photos, lambda photo: photo, attempt, done, as_json=args.json)


def _suggest_one(
    client: RemoteClient,
    request: pb.SuggestRequest,
    photo: Path,
    folder: Path | None,
    label: str,
    strength: float,
    duplicate: int = 0,
) -> tuple[list[Recipe], list[Path] | None]:
    """One photo's recipes from the daemon and, with ``--dtstyle``, the style files written from its entries.

    The style files are built on the darktable sidecar here (virtual copy ``duplicate``'s with ``--duplicate``):
    the daemon only translates, so no request field carries the copy's number.

    Raises:
        RemoteError: the daemon refused the photo (the message names ``photo`` as the user typed it).
        OutputError: a style file could not be written.
    """
    try:
        response = client.suggest(request)
    except RemoteError as raw:
        shown = _shown(str(raw), {request.path: photo})
        if raw.error_type == UnsupportedFormatError.__name__ and is_folder(photo):  # "a directory, not a photo"
            from backend.cli.outcome_report import catalog_hint

            shown = f"{shown}; {catalog_hint(photo)}"  # as in-process (the daemon's folder is this machine's)
        raise RemoteError(shown, code=raw.code, error_type=raw.error_type, exit_code=raw.exit_code) from None
    recipes = [pb_recipe(s.recipe) for s in response.suggestions]
    if folder is None:
        return recipes, None
    from backend.cli.dtstyle_output import write_dtstyles
    from backend.daemon.convert import history_from_pb

    entries = [[history_from_pb(h) for h in s.darktable_history] for s in response.suggestions]
    return recipes, write_dtstyles(folder, Path(photo), entries, label, strength, duplicate=duplicate)


# -- apply / revert -----------------------------------------------------------------------------------


def _outcomes(files: Iterator[pb.FileResult], names: dict[str, Path]) -> list[Any]:
    """The daemon's results as the outcomes the in-process command has, the photos named as typed.

    A failed photo's ``error`` (its type and exit status; see :func:`backend.daemon.sidecar_batch.photo_error`)
    goes on its failed outcomes, so the exit status is the in-process one.
    """
    from dataclasses import replace

    from backend.daemon.convert import outcome_from_pb
    from backend.errors import ErrorKind

    out = []
    for result in files:
        typed = names.get(result.photo, Path(result.photo))
        error = None
        if result.HasField("error"):
            error = ErrorKind(result.error.type, result.error.code, result.error.exit_code)
        for message in result.outcomes:
            o = outcome_from_pb(message)
            sidecar = typed.parent / o.sidecar.name if o.photo == Path(result.photo) else o.sidecar
            kind = error if o.failed else None
            out.append(replace(o, photo=typed, sidecar=sidecar, reason=_shown(o.reason, names), error=kind))
    return out


def _sidecar_fields(args: argparse.Namespace, names: dict[str, Path]) -> dict[str, Any]:
    """The request fields of ``apply`` and ``revert``: the photos (``names``), ``--host``, ``--dry-run``, ``--duplicate``."""
    return {
        # a virtual copy's request is one an older daemon (which would write the original's sidecar) refuses
        "protocol_version": DUPLICATE_PROTOCOL_VERSION if args.duplicate else PROTOCOL_VERSION,
        "paths": list(names),
        "hosts": HOSTS[args.host],
        "dry_run": args.dry_run,
        "duplicate": args.duplicate,
    }


def remote_apply(args: argparse.Namespace, recipe: Recipe | None) -> int:
    """``autoretouch apply --server``: same output and exit status as in-process.

    ``--recipe`` sends ``recipe`` (``WriteSidecarsRequest.recipe``; loaded and scaled by ``--strength`` in
    :func:`backend.cli.cmd_apply.run`, ``None`` without ``--recipe``). ``--style S`` and ``--mix`` send a style
    blend (``mix``; ``--style S`` as the one-entry blend ``S:1``, which the daemon treats exactly as style
    ``S``): that source is handled photo by photo as ``apply`` does, whereas the request's ``style`` source
    runs the catalog batch (photos a folder run's journal next to them remembers are skipped as ``already
    done`` even after the user removed the edit in the host).
    """
    from backend.batch.walk import is_folder
    from backend.cli.outcome_report import check_strength, report
    from backend.daemon.convert import recipe_to_pb

    folders = [p for p in args.photos if is_folder(p)]  # fail alone, as in-process: `catalog` is for folders
    names, unsendable = daemon_paths([p for p in args.photos if p not in folders])
    request = pb.WriteSidecarsRequest(**_sidecar_fields(args, names), overwrite=args.overwrite)
    styles: list[tuple[str, float]] = []
    if recipe is not None:
        request.recipe.CopyFrom(recipe_to_pb(recipe))
        if recipe.strength == 0:  # proto3 reads a recipe's strength 0 as "not given" (1): say it in the request
            request.strength = 0.0
    else:
        styles = list(args.mix or [(args.style, 1.0)])
        request.mix.entries.extend(pb.StyleWeight(style=n, weight=w) for n, w in styles)
        request.strength = check_strength(args.strength)
    recipes: dict[Path, Recipe] | None = None if recipe is not None else {}
    with RemoteClient(args.server, token=getattr(args, "token", None)) as client:
        if styles:
            check_styles(client, [n for n, _ in styles])
        results = []
        for message in client.write_sidecars(request) if names else ():
            if message.WhichOneof("event") != "file":
                continue
            results.append(message.file)
            if recipes is not None and message.file.HasField("recipe") and not message.file.HasField("error"):
                recipes[names.get(message.file.photo, Path(message.file.photo))] = pb_recipe(message.file.recipe)
        outcomes = _with_unsendable(
            _outcomes(iter(results), names), args.photos, unsendable, args.host, args.duplicate, folders
        )
    return report(outcomes, args.json, recipes)


def remote_revert(args: argparse.Namespace) -> int:
    """``autoretouch revert --server``: same output and exit status as in-process.

    Folders are walked by the daemon (``recursive``), as ``catalog --server`` has them walked, with the walk of
    ``revert FOLDER`` in-process: what it leaves out comes back skipped with the reason, and the photos found (and
    a folder itself, when it holds none) are shown by their absolute path, as in-process.
    """
    from backend.batch.walk import is_folder
    from backend.cli.outcome_report import report

    names, unsendable = daemon_paths(args.photos)
    names = {sent: Path(sent) if is_folder(typed) else typed for sent, typed in names.items()}
    request = pb.RevertRequest(**_sidecar_fields(args, names), recursive=True)
    files: list[pb.FileResult] = []
    if names:
        with RemoteClient(args.server, token=getattr(args, "token", None)) as client:
            files = list(client.revert(request).files)
    return report(
        _with_unsendable(_outcomes(iter(files), names), args.photos, unsendable, args.host, args.duplicate), args.json
    )
