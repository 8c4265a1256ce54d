"""``autoretouch train --server HOST:PORT``: train a style on a running daemon (TrainStyle), with progress.

Moved out of the run-time package: only the trainer's command line uses it. The options the daemon decides
itself are refused (:data:`TRAIN_LOCAL_ONLY`); a local ``--config`` file is sent as ``section.key=value``
overrides (:func:`config_overrides`); output and exit status are those of the local ``train``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from backend.cli.server_options import refuse_options
from backend.daemon.client import RemoteClient, RemoteError
from backend.errors import EXIT_STYLE_REJECTED
from backend.rpc import PROTOCOL_VERSION, pb
from trainer.learned_from import learned_from
from trainer.summary_lines import counted, outcome_lines

__all__ = ["TRAIN_LOCAL_ONLY", "config_overrides", "remote_train", "train_request"]


#: ``autoretouch train`` options the daemon decides itself (attribute -> why).
TRAIN_LOCAL_ONLY: dict[str, str] = {
    "resume": "the daemon starts a new run folder for every training",
    "run_dir": "the daemon keeps its run folders in its own run directory",
    "install_dir": "the daemon installs the style into its own style folder",
    "no_install": "the daemon installs every finished style",
}


def _override_value(value: Any, where: str) -> str:
    from backend.daemon.errors import BadRequestError
    from trainer.config import number_text

    number = number_text(value)
    if number is not None:
        return number
    if isinstance(value, str) and "\n" not in value:
        return value
    if isinstance(value, list) and all(isinstance(v, bool | int | float | str) for v in value):
        items = [_override_value(v, where) for v in value]
        if not any("," in item for item in items):
            return ",".join(items)
    raise BadRequestError(f"{where}: {value!r} cannot be sent to the daemon as a section.key=value override")


def config_overrides(path: str | Path) -> list[str]:
    """A trainer configuration file (TOML) as ``section.key=value`` overrides for ``TrainStyleRequest``.

    The daemon's trainer converts each value by the field's declared type, as for ``--set``, so the file
    means the same as with ``autoretouch train --config`` (unknown keys and bad values are refused there,
    with exit status 3). Tables must be one level deep (``[section]`` of keys), as the trainer's are.

    Args:
        path: the TOML file on this machine.

    Returns:
        One override per key, in file order.

    Raises:
        NotFoundError: no such file.
        ConfigError: not TOML (exit status 3, ``INVALID_ARGUMENT``, as a bad request).
        BadRequestError: a value that cannot be written as an override (nested tables, multi-line strings,
            list items holding commas).
    """
    from backend.daemon.errors import BadRequestError
    from trainer.config import read_config_file

    p = Path(path)
    data = read_config_file(p)
    out: list[str] = []
    for section, table in data.items():
        if not isinstance(table, dict):
            raise BadRequestError(f"{p}: {section!r} must be a [section] table of keys")
        for key, value in table.items():
            out.append(f"{section}.{key}={_override_value(value, f'{p}: {section}.{key}')}")
    return out


def train_request(args: argparse.Namespace) -> pb.TrainStyleRequest:
    """The ``TrainStyleRequest`` of a parsed ``autoretouch train`` command line (``--server`` given).

    ``--darktable`` with several paths (or one photo) is sent as ``darktable_files``, the photos and sidecars that
    the folders and sidecars given stand for where they are visible here, and as ``darktable_given``, the paths
    as typed (absolute), which the style's record names (with the unread subfolders of the folders among them).

    Raises:
        BadRequestError: an option the daemon cannot take (e.g. ``--steps 0``, an unusable config file).
        ConfigError: the config file is not TOML.
    """
    from backend.daemon.errors import BadRequestError

    refuse_options(args, TRAIN_LOCAL_ONLY)
    config = getattr(args, "config", None)
    overrides = config_overrides(config) if config is not None else []
    overrides += list(getattr(args, "overrides", None) or [])
    for key in ("seed", "threads"):
        value = getattr(args, key, None)
        if value is not None:
            overrides.append(f"run.{key}={value}")
    if getattr(args, "force", False):
        overrides.append("run.force=true")
    steps = getattr(args, "steps", None)
    minutes = getattr(args, "minutes", None)
    if steps is not None and steps < 1:
        raise BadRequestError(f"--steps must be at least 1, got {steps}")
    sources = getattr(args, "sources", None)
    pairs = getattr(args, "pairs", None)
    targets = getattr(args, "targets", None)
    lrcat, selection, photos = (getattr(args, k, None) for k in ("lrcat", "favourites", "photos"))
    darktable = getattr(args, "darktable", None)
    darktable_files: list[str] = []
    darktable_given: list[str] = []
    if isinstance(darktable, list):  # `train --darktable DIR` or `--darktable PHOTO...`
        if len(darktable) == 1 and os.path.isdir(darktable[0]):
            darktable = darktable[0]
        else:
            from trainer.data.selection import darktable_selection

            given = [Path(p) for p in darktable]
            darktable_given = [os.path.abspath(p) for p in given]  # as typed: the style's record names these
            if all(p.exists() for p in given):  # visible here: folders and sidecars become photo files
                darktable_files = [str(p) for p in darktable_selection(given)]
            else:  # paths on the daemon's machine: it checks them
                darktable_files = list(darktable_given)
            darktable = None
    return pb.TrainStyleRequest(
        protocol_version=PROTOCOL_VERSION,
        name=args.style,
        favourites=os.path.abspath(targets) if targets is not None else "",
        sources=os.path.abspath(sources) if sources is not None else "",
        pairs_before=os.path.abspath(pairs[0]) if pairs else "",
        pairs_after=os.path.abspath(pairs[1]) if pairs else "",
        lrcat=os.path.abspath(lrcat) if lrcat is not None and selection else "",
        lrcat_favourites=selection or "",
        photos=os.path.abspath(photos) if photos is not None and selection else "",
        darktable=os.path.abspath(darktable) if darktable is not None else "",
        darktable_files=darktable_files,
        darktable_given=darktable_given,
        steps=steps or 0,
        minutes=minutes or 0.0,
        overrides=overrides,
    )


def _show_train_progress(progress: pb.TrainProgress, bar: Any, name: str) -> Any:
    """Update (or start) the tqdm bar of a remote training, as the local trainer draws it."""
    if bar is None:
        from tqdm import tqdm

        bar = tqdm(total=progress.total_steps or None, desc=name, unit="step", dynamic_ncols=True, file=sys.stderr)
    if progress.total_steps and bar.total != progress.total_steps:
        bar.total = progress.total_steps
    if progress.step > bar.n:
        bar.update(progress.step - bar.n)
    bar.set_description(name if progress.phase in ("", "training") else f"{name} ({progress.phase})", refresh=False)
    m = progress.metrics
    if all(k in m for k in ("wasserstein", "return", "edits")):
        bar.set_postfix(W=f"{m['wasserstein']:.3f}", ret=f"{m['return']:.3f}", edits=f"{m['edits']:.1f}")
    else:
        bar.refresh()
    return bar


def _print_trained(args: argparse.Namespace, finished: pb.TrainFinished) -> None:
    installed = finished.style.path or None
    metrics = dict(finished.metrics)
    edits = learned_from(
        pairs=getattr(args, "pairs", None),
        catalog=getattr(args, "favourites", None),
        darktable=getattr(args, "darktable", None),
    )
    if getattr(args, "json", False):
        summary = {
            "style": args.style,
            "run_dir": finished.run_dir,
            "steps": finished.steps,
            "stopped_by": finished.stopped_by,
            "style_path": None,  # the run folder's copy lies on the daemon, inside run_dir
            "installed_path": installed,
            "kept_path": None,  # the daemon's TrainFinished does not name the copy of a replaced style it kept
            "metrics": metrics,
            "rejected": finished.rejected or None,
            "learned_from": edits,
            "notes": list(finished.notes),  # as the local summary's (names unescaped); none from an older daemon
        }
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    print(f"trained style {args.style!r}: {counted(finished.steps, 'step')} (stopped by {finished.stopped_by})")
    # as a local run prints it (names escaped); a style not installed: the run folder's copy, on the daemon's machine
    run_style = _run_style_path(finished.run_dir, args.style) if finished.rejected else None
    lines = outcome_lines(
        finished.run_dir, run_style, installed, metrics=metrics, from_edits=edits is not None, notes=finished.notes
    )
    for line in lines:
        print(line)


def _run_style_path(run_dir: str, style: str) -> str:
    """The style file a run leaves in its run folder (``RUN/style/NAME.safetensors``), as a local run names it."""
    return f"{run_dir}{os.sep}style{os.sep}{style}.safetensors"


def remote_train(args: argparse.Namespace) -> int:
    """``autoretouch train --server``: train a style on the daemon (``TrainStyle``), as ``train`` does locally.

    Reads the ``train`` command's attributes: ``server``, ``token``, ``style`` (the new style's name),
    ``targets`` (favourites folder) and ``sources``, or ``pairs`` (originals and edits folders), or ``lrcat``,
    ``favourites`` (the selection) and ``photos`` -- paths on the daemon's machine, under its roots --
    ``steps`` or ``minutes``, ``config`` (a TOML file on this machine, sent as overrides, see
    :func:`config_overrides`), ``overrides`` (``--set``), ``seed``, ``threads``, ``quiet`` and ``json``. The
    daemon chooses the run folder and installs the finished style into its style folder, so ``resume``,
    ``run_dir``, ``install_dir`` and ``no_install`` are refused (:class:`RemoteOptionError`, exit 2).

    Progress: a tqdm bar on stderr (when stderr is a terminal and not ``quiet``), from the streamed
    progress. Ctrl-C cancels the call, which stops the training on the daemon (its run folder keeps the
    checkpoints; no style is installed), and exits with 130. The result is printed as the local command
    prints it (``--json``: the same keys; ``style_path`` is null, the run folder's copy being on the daemon).

    Returns:
        0 when the style was trained and installed; :data:`backend.errors.EXIT_STYLE_REJECTED` (10) when the daemon did not
        install it (worse than doing nothing on the held-out check, or degenerate moves; ``--force`` overrides).

    Raises:
        RemoteError: the daemon refused or failed the training (its message; the exit status of its error
            class, e.g. 6 for a missing folder, 3 for a bad override, 3 when a training is already running).
        RemoteOptionError: an option the daemon decides itself.
        KeyboardInterrupt: Ctrl-C, after the call was cancelled.
    """
    request = train_request(args)
    show = not getattr(args, "quiet", False) and sys.stderr.isatty()
    finished: pb.TrainFinished | None = None
    bar: Any = None
    with RemoteClient(args.server, token=getattr(args, "token", None)) as client:
        stream = client.train_style(request)
        try:
            for message in stream:
                event = message.WhichOneof("event")
                if event == "progress" and show:
                    bar = _show_train_progress(message.progress, bar, args.style)
                elif event == "finished":
                    finished = message.finished
        except KeyboardInterrupt:
            stream.close()  # cancels the call: the daemon stops the training
            if bar is not None:
                bar.close()
                bar = None
            print("autoretouch: the training on the daemon was cancelled (no style installed)", file=sys.stderr)
            raise
        finally:
            if bar is not None:
                bar.close()
    if finished is None:
        raise RemoteError(
            f"the daemon at {args.server} ended the training without a result",
            code="INTERNAL",
            error_type="RemoteError",
            exit_code=1,
        )
    _print_trained(args, finished)
    if finished.rejected:
        print(
            f"autoretouch train: style {args.style!r} not installed: {finished.rejected}; it stays in "
            f"{finished.run_dir}{os.sep}style{os.sep} (--force installs it anyway)",
            file=sys.stderr,
        )
        return EXIT_STYLE_REJECTED
    return 0
