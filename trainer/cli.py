"""``autoretouch train``: learn a style from a folder of favourite photos (unpaired), or from an expert's slider history.

The ``trainer`` package imports ``backend``, never the reverse: this module joins the ``autoretouch`` command
line through the ``autoretouch.commands`` entry point (see ``pyproject.toml``).

Modes:

* ``--targets DIR`` (no ``--lrcat``): by default restoration training (``run.method = "restore"``,
  :mod:`trainer.restore`): a one-shot agent learns to undo realistic un-edits of the favourites, optionally
  centred on what ``--sources`` look like; the style is installed only if it beats doing nothing on held-out
  favourites (exit 10 otherwise; ``--force`` installs anyway). ``--set run.method=gan`` selects the unpaired
  GAN + RL trainer (:mod:`trainer.train`), which alone supports ``--resume`` and ``torchrun``.
* ``--pairs BEFORE AFTER``: restoration training from the photographer's own before/after pairs (originals and
  their edits, matched by file stem; :mod:`trainer.restore_pairs`): each pair's recipe is fitted through the
  renderer (poor fits are reported and down-weighted), the agent learns to turn each original, and slightly
  re-exposed copies of it, into the edit; a cross-fitted check (agents trained on half the pairs score the
  other half) decides, against doing nothing, whether it is installed; with 1-3 pairs the style is scored on
  its training pairs instead, and says so.
* ``--lrcat CATALOG --favourites picks|rating:N|collection:NAME``: the photographer's own edits in their catalog
  (:mod:`trainer.lrcat.favourites`): each favourite's current develop settings (process version 2012 or later),
  mapped into our sliders and rendered on its original by our renderer, are learnt as before/after pairs.
* ``--darktable DIR_OR_PHOTO...``: the photographer's darktable edits
  (:func:`trainer.darktable_pairs.load_darktable_pair_set`): each photo with a sidecar, and darktable-cli's render
  of it, learnt as a before/after pair; each of its virtual copies with a sidecar (``NAME_NN.EXT.xmp``) is one more
  pair, ``NAME (virtual copy N)`` (a folder brings all its photos' copies; a copy's sidecar given brings that copy,
  a photo given its own edit only). Several folders, photo files or sidecars are linked into a fresh
  ``RUN_DIR/selection`` (:mod:`trainer.data.selection`).
* ``--lrcat CATALOG --expert X``: imitation of the expert's slider history (:mod:`trainer.imitation`; targets
  are pseudo-labels fitted to ``--renditions DIR`` where given, else the PV2003-mapped settings). Then, when
  there are GAN targets (``--targets DIR``, else the ``--renditions`` folder) and ``imitation.finetune`` is on
  (``--no-finetune`` turns it off), GAN fine-tuning of ``run.steps`` steps starting from the imitation weights
  (sources: ``--sources``, else ``--photos``, else the built-in un-edited pool); otherwise the imitation agent
  is the style. In imitation-only mode ``--steps`` and ``--minutes`` bound behaviour cloning (unless
  ``--imitation-steps`` is given); with fine-tuning they bound the GAN phase. ``--resume`` continues the GAN
  phase of an earlier run (imitation is not repeated).

Configuration: the experiment file (``--config FILE``, TOML; ``configs/default.toml`` documents every key),
or on ``--resume`` the run folder's own ``config.toml``, or the built-in defaults; then ``--set section.key=value``
overrides (typed, never evaluated), then the dedicated flags (``--style``, ``--steps``, ``--minutes``,
``--seed``, ``--threads``). The same command runs data-parallel under ``torchrun``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.agent.style import STYLE_NAME_RE
from backend.cli.argtypes import int_arg
from backend.cli.server_options import add_server_options, refuse_options
from backend.errors import EXIT_STYLE_REJECTED, AutoretouchError, StyleError
from trainer.config import SEED_MAX
from trainer.install_notes import install_notes, installed_before
from trainer.learned_from import learned_from
from trainer.summary_lines import counted, outcome_lines

if TYPE_CHECKING:
    from trainer.config import TrainConfig
    from trainer.distributed import DistInfo
    from trainer.run_lock import RunFolderLock

__all__ = ["StyleNameError", "TrainUsageError", "register", "run"]


class TrainUsageError(AutoretouchError, ValueError):
    """Options of ``train`` that do not go together: a catalog without its selection, or with another source's options.

    A usage error: exit status 2, as argparse's own.
    """

    exit_code = 2


class StyleNameError(TrainUsageError):
    """``--style NAME`` is not a valid style name; the message starts with the name (exit status 3, a style error)."""

    exit_code = StyleError.exit_code


_EPILOG = """\
examples:
  autoretouch train --style mine --targets ~/Pictures/favourites --minutes 5
  autoretouch train --style mine --targets favs/ --sources inbox/ --minutes 5
  autoretouch train --style mine --pairs originals/ edited/ --minutes 5             # your own before/after pairs
  autoretouch train --style mine --lrcat ~/Lightroom/My.lrcat --favourites rating:4  # your catalog's edits
  autoretouch train --style mine --darktable ~/Pictures/2024/ --minutes 5           # your darktable edits
  autoretouch train --style mine --targets favs/ --set run.method=gan --steps 900   # the GAN + RL trainer
  autoretouch train --style mine --targets favs/ --set run.method=gan --resume      # continue runs/mine/
  torchrun --nproc-per-node 2 -m backend.cli.main train --style mine --targets favs/ --set run.method=gan

  autoretouch train --style expertC --lrcat fivek.lrcat --expert C                       # imitation only
  autoretouch train --style expertC --lrcat fivek.lrcat --expert C --renditions tiff16_c/ # + GAN fine-tuning

Restoration (the default): every favourite is "un-edited" with random moves drawn from the inverse of real
photographers' corrections (on average about 1 EV darker, flatter, highlights brighter, a little less
colourful; with --sources the exposure is centred on how much darker or brighter your unedited photos are),
and the agent learns to give each un-edited copy its favourite look back, through the renderer. A fifth of
the favourites is held out: they pick the best checkpoint and check the style against doing nothing (with
fewer than 4 favourites nothing is held out: the style is scored on its training favourites, and the summary
says so). A style that does worse than doing nothing there, or makes degenerate moves (black and white,
clipping, washing the colour out), is kept in the run folder but not installed (exit status 10) unless
--force is given. The run folder (default runs/STYLE/; retraining a style after a finished run, or training it
while another training uses its newest run folder, uses the next free runs/STYLE-2/, runs/STYLE-3/, ..., named
in the summary, and an earlier run's files are never touched; --runs-dir RUNS keeps this series in RUNS instead
of ./runs; an explicit --run-dir that already holds a trained style, or --run-dir or --resume on a folder
another training is using, is refused) receives config.toml, metrics.csv, curves.png, contact_sheet.png and
eval.json; the trained style goes to RUN_DIR/style/ and is installed into your style folder (see `autoretouch
styles`) unless --no-install is given. GAN runs (--set run.method=gan) also write checkpoints/.
Duplicates (favourites, sources, pairs), photos that cannot be decoded and (restoration) favourites under
16 px a side are left out and named in the summary. Retraining a style keeps the replaced one in
STYLES/replaced/NAME@N.*; Ctrl-C stops the run with exit status 130 and installs nothing.

Before/after pairs (--pairs BEFORE AFTER): an original in BEFORE (raw, TIFF, JPEG) and your edit of it in AFTER
(an exported JPEG/TIFF/PNG) share a file name without extension; files without a partner, and pairs with a
file that cannot be decoded, are left out and named in the summary. Every pair's recipe is first fitted
through the renderer: a pair our sliders reproduce worse than restore.poor_fit_db (25 dB; a crop, a local
brush, another raw converter) is reported and counts less. The agent then learns to turn each original -- and
copies of it shot a little darker, brighter, warmer or cooler -- into your edit. The check is cross-fitted:
with 4 pairs or more they are split in two halves, an agent trained on
each half scores the other (30 % of the time budget), so every pair is scored by an agent that never saw it;
the style itself is then trained on every pair and installed only if that score (the PSNR of all the pairs
taken together, so that a photo left as shot does not decide alone) beats doing nothing (exit status 10
otherwise; --force installs it anyway). With 1 to 3 pairs there is no check on unseen pairs: the
style is scored on its training pairs, installed if it beats doing nothing there, and the summary and the
style's metadata (training.check) say it was not checked on pairs it did not see. The fitted recipes travel
with the style: `autoretouch eval` reports them as the "nearest edits" baseline.

Your Lightroom catalog (--lrcat CATALOG --favourites SEL): the photos flagged as picks (picks), rated N stars or
more (rating:N) or in a regular collection (collection:NAME: every regular collection of that name in any
set, named in the log when there are several; SET/NAME picks one; not a smart collection, whose rules are
Lightroom's) are learnt from their current develop settings: the PV2012 sliders, white balance (relative to
the photo's as-shot), point curves, HSL, sharpening and vignette are mapped into our sliders (table in
trainer/lrcat/pv2003.py; Texture, Dehaze, colour grading, masks and point curves that go down are dropped,
named in the log with the values clamped or not numbers), rendered on the original and
learnt like --pairs. Legacy or unreadable process versions, photos without settings, originals that cannot be found (the
recorded path, its tail below the catalog's folder, else --photos DIR), a file found by name for photos of
different catalog folders (ambiguous) and, with --server, originals outside the daemon's --root folders are
reported and skipped; those whose original cannot be found, read or decoded are also named in the summary.
The catalog is opened read-only; its settings text is parsed as data.

Your darktable edits (--darktable DIR): every photo in DIR with a darktable sidecar (IMG.ext.xmp) and an active
history is rendered by darktable-cli (headless, at most 768 px), and learnt like --pairs with that render as the
edit, so every module counts, ours or not; the entries of the modules autoretouch writes are also mapped back
into our sliders (the inverse of our translator) for the nearest-edits baseline. Photos without a sidecar or
history are reported and skipped; photos that cannot be decoded and sidecars that cannot be read are also named
in the summary. darktable must be installed. Each virtual copy with its own sidecar (IMG_NN.ext.xmp) is one more
pair, "IMG (virtual copy N)": a folder brings its photos' copies, a photo given its own edit only. Several folders,
photo files, or both may be given (a sidecar IMG.ext.xmp given stands for its photo, a copy's IMG_NN.ext.xmp for
that copy alone); they are linked afresh into RUN_DIR/selection/ on every run.

Slider-history training (--lrcat --expert): the expert's photos are its collection Experts/X (FiveK) or its virtual
copies named X. Each photo's target is the order in which its develop history first moved our sliders
(pipeline order where the history says nothing), capped at agent.max_steps, then stop; the values are the
PV2003-mapped settings, or -- with --renditions DIR -- a recipe fitted through our renderer to the expert's
rendition (a file in DIR whose stem is the photo's base name, e.g. a0001-jmac_DSC1459.tif, or its FiveK id
a0001.tif). Input photos: the catalog's recorded path, else that path's tail below the catalog's folder,
else a file with the same stem in --photos DIR. Imitation writes runs/STYLE/imitation/ (labels.json with
every target and fit PSNR, metrics.csv, imitation.json). GAN fine-tuning follows when there are targets
(--targets DIR, else the renditions folder) unless --no-finetune; its sources are --sources, else --photos,
else the built-in un-edited pool. Without fine-tuning, --steps/--minutes bound the imitation
(--imitation-steps wins); with it they bound the GAN phase. --resume continues the GAN phase only.
"""


# Long: argparse declarations only, one statement per option of `train`.
def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``train`` sub-command to the CLI."""
    parser = subparsers.add_parser(
        "train",
        help="learn a style from favourite photos, from your own edits (pairs, Lightroom catalog, darktable) or an "
        "expert's slider history",
        description=(
            "Train an agent that edits photos with the catalog's sliders so that the results look like your "
            "favourites. By default it learns to restore un-edited copies of the favourites, so that it reads "
            "each photo and moves the sliders as far as that photo needs; the favourites need no unedited "
            "counterpart. It also learns from your own edits: before/after pairs (--pairs), the develop settings "
            "of your Lightroom favourites (--lrcat --favourites) or your darktable sidecars (--darktable). With "
            "--lrcat --expert the agent first imitates an expert's slider history in a Lightroom catalog."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument("--style", required=True, metavar="NAME", help="name of the style to train (file stem)")
    parser.add_argument(
        "--targets",
        type=Path,
        metavar="DIR",
        help="folder of favourite photos, not its subfolders (optional with --lrcat)",
    )
    parser.add_argument(
        "--darktable",
        type=Path,
        nargs="+",
        metavar="DIR_OR_PHOTO",
        help="your darktable edits: the photos of each folder, not its subfolders (with their virtual copies), and "
        "the photo files given (a sidecar IMG.ext.xmp given stands for its photo, a virtual copy's IMG_NN.ext.xmp for "
        "that copy), with their sidecars, rendered by darktable-cli",
    )
    parser.add_argument(
        "--pairs",
        nargs=2,
        type=Path,
        metavar=("BEFORE", "AFTER"),
        help="your own edits: originals in BEFORE, your edited versions (same file names) in AFTER (not subfolders)",
    )
    parser.add_argument(
        "--sources",
        type=Path,
        metavar="DIR",
        help="folder of unedited photos like the ones you will retouch, not its subfolders (default: un-edited "
        "favourites only)",
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--minutes",
        type=_minutes,
        metavar="M",
        help="stop after M minutes of this invocation (0 = no time limit; then --steps alone ends it)",
    )
    length.add_argument("--steps", type=_steps, metavar="N", help="generator steps in total (default from the config)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run folder's newest checkpoint (run.method=gan; without --run-dir the style's newest run "
        "folder, under --runs-dir)",
    )
    history = parser.add_argument_group(
        "Lightroom catalog: your own edits (--favourites) or an expert's slider history (--expert)"
    )
    history.add_argument("--lrcat", type=Path, metavar="CATALOG", help="Lightroom catalog (.lrcat, opened read-only)")
    history.add_argument(
        "--favourites",
        metavar="SEL",
        help="learn from the develop settings of these photos: picks, rating:N or collection:NAME",
    )
    history.add_argument(
        "--expert", metavar="X", help="the expert: collection Experts/X or virtual copies named X (FiveK: A..E)"
    )
    history.add_argument(
        "--renditions", type=Path, metavar="DIR", help="the expert's rendered photos: fit pseudo-labels to them"
    )
    history.add_argument("--photos", type=Path, metavar="DIR", help="input photos when the catalog's paths are gone")
    history.add_argument("--imitation-steps", type=int, metavar="N", help="behaviour-cloning steps (imitation.steps)")
    history.add_argument(
        "--no-finetune", action="store_true", help="imitation only, even when GAN targets are available"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--run-dir",
        type=Path,
        metavar="DIR",
        help="run folder (default RUNS/STYLE, or the next free RUNS/STYLE-N once it holds a finished run or another "
        "training is using it; a folder in use is refused)",
    )
    where.add_argument(
        "--runs-dir",
        type=Path,
        metavar="RUNS",
        help="the folder that holds the default run folders, RUNS/STYLE, RUNS/STYLE-2, ... (and the one --resume "
        "continues); default ./runs",
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="experiment configuration (TOML)")
    parser.add_argument(
        "--seed",
        type=int_arg(0, SEED_MAX, name="seed"),  # the trainer derives further seeds from it (run.seed's range)
        metavar="S",
        help=f"random seed, 0..{SEED_MAX} (default from the config)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        dest="overrides",
        help="override one config value, e.g. --set critic.n_critic=3 (repeatable)",
    )
    parser.add_argument("--threads", type=int, metavar="N", help="torch CPU threads per process (0 = default)")
    parser.add_argument("--install-dir", type=Path, metavar="DIR", help="style folder to install the style into")
    parser.add_argument(
        "--no-install", action="store_true", help="keep the style only in the run folder (do not install it)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="install the style even if it does worse than doing nothing in the check (run.force)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_server_options(parser)  # --server HOST:PORT, --token T: train on a running daemon
    parser.set_defaults(func=run)


def _steps(text: str) -> int:
    """``--steps N``: a whole number of at least 1 (the same refusal locally and with ``--server``)."""
    try:
        steps = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if steps < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {steps}")
    return steps


def _minutes(text: str) -> float:
    """``--minutes M``: a finite number of minutes, 0 or more (the same refusal locally and with ``--server``)."""
    try:
        minutes = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(minutes) or minutes < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more minutes, got {text}")
    return minutes


def _check_mode(args: argparse.Namespace) -> None:
    """Refuse options that do not go together, before anything starts (the same with ``--server``).

    Raises:
        TrainUsageError: options that do not go together or are missing (exit status 2): ``--favourites``
            without ``--lrcat`` or with another source's options, ``--lrcat`` with neither ``--favourites`` nor
            ``--expert``, a second source beside ``--darktable`` or ``--pairs``, ``--resume`` of a run that
            starts afresh, ``--pairs`` naming one folder twice, catalog-only options without ``--lrcat``, or no
            source at all.
        FavouritesSelectionError: a malformed ``--favourites`` (exit status 2).
    """
    from trainer.lrcat.favourites import parse_selection

    # The style name, as backend.agent.style accepts it: checked before anything starts, so that the error names
    # the style rather than the run folder.
    if not STYLE_NAME_RE.fullmatch(args.style):
        raise StyleNameError(
            f"--style {args.style!r}: not a valid style name (letters, digits, '_', '.', '-', starting with a letter "
            "or digit; at most 64)"
        )
    if args.favourites is not None:
        if args.lrcat is None:
            raise TrainUsageError("--favourites selects photos of a Lightroom catalog: give --lrcat CATALOG too")
        parse_selection(args.favourites)
        given = {"--expert": args.expert, "--renditions": args.renditions, "--targets": args.targets,
                 "--sources": args.sources, "--pairs": args.pairs, "--imitation-steps": args.imitation_steps}  # fmt: skip
        extra = [flag for flag, value in given.items() if value is not None]
        if extra or args.resume:
            raise TrainUsageError(f"--favourites trains from the catalog's own edits; {', '.join(extra) or '--resume'} "
                              "does not apply")  # fmt: skip
        return
    if args.darktable is not None:
        if args.targets is not None or args.sources is not None or args.lrcat is not None or args.pairs is not None:
            raise TrainUsageError(
                "--darktable DIR is a training source of its own (no --targets, --sources, --pairs, --lrcat)"
            )
        if args.resume:
            raise TrainUsageError("--resume continues a GAN run; a --darktable run starts afresh")
        return
    if args.pairs is not None:
        if args.targets is not None or args.sources is not None or args.lrcat is not None:
            raise TrainUsageError(
                "--pairs BEFORE AFTER is a training source of its own (no --targets, --sources, --lrcat)"
            )
        if args.resume:
            raise TrainUsageError("--resume continues a GAN run; a --pairs run starts afresh")
        before, after = args.pairs
        if before.resolve() == after.resolve():
            raise TrainUsageError(
                f"--pairs: the originals and the edits are the same folder ({before}); give BEFORE (the originals) "
                "and AFTER (your edited versions) as two folders"
            )
    if args.lrcat is None:
        if args.targets is None and args.pairs is None:
            raise TrainUsageError(
                "train needs --targets DIR (favourites), --pairs BEFORE AFTER, --darktable DIR or --lrcat CATALOG "
                "(--favourites SEL or --expert X)"
            )
        given = {
            "--expert": args.expert,
            "--renditions": args.renditions,
            "--photos": args.photos,
            "--imitation-steps": args.imitation_steps,
            "--no-finetune": args.no_finetune or None,
        }
        extra = [flag for flag, value in given.items() if value is not None]
        if extra:
            raise TrainUsageError(f"{', '.join(extra)} only apply with --lrcat")
    elif not args.expert:
        raise TrainUsageError(
            "--lrcat needs --favourites picks|rating:N|collection:NAME (your own edits) or --expert X (FiveK: A..E)"
        )


def run(args: argparse.Namespace) -> int:
    """Resolve the configuration, train, export the style; returns the exit status (0, or a style not installed)."""
    from trainer.distributed import cleanup_distributed, init_distributed

    _check_mode(args)
    _warn_same_sources(args)
    if args.server:
        from trainer.remote_train import remote_train

        if args.lrcat is not None and args.favourites is None:
            raise TrainUsageError("--lrcat --expert is not available through --server (train in-process instead)")
        # the daemon keeps its run folders in its own run directory (the options it refuses itself: TRAIN_LOCAL_ONLY)
        refuse_options(args, {"runs_dir": "the daemon keeps its run folders in its own run directory"})
        return remote_train(args)
    info = init_distributed()
    try:
        lock, run_dir = _held_run_dir(args, info)
        try:
            return _train_in(args, run_dir, info)
        finally:
            if lock is not None:
                lock.release()
    finally:
        cleanup_distributed(info)


def _train_in(args: argparse.Namespace, run_dir: Path, info: DistInfo) -> int:
    """:func:`run` in the held run folder ``run_dir``: train, install, print the summary; returns the exit status."""
    from backend.agent.style import user_style_dirs
    from trainer.config import apply_overrides, load_config

    base = args.config
    if base is None and args.resume and (run_dir / "config.toml").is_file():
        base = run_dir / "config.toml"
    cfg = load_config(base, _overrides(args))
    finetune = False
    if args.lrcat is not None and args.favourites is None:
        finetune = cfg.imitation.finetune and (args.targets or args.renditions) is not None
        if not finetune and args.steps is not None and args.imitation_steps is None:
            cfg = apply_overrides(cfg, [f"imitation.steps={args.steps}"])
        if finetune and not cfg.run.description:
            what = f"imitation of expert {args.expert} ({args.lrcat.name}) + GAN fine-tuning"
            cfg = apply_overrides(cfg, [f"run.description={what}"])
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO if info.is_main else logging.WARNING,
            format=f"%(asctime)s [rank {info.rank}] %(levelname)s %(name)s: %(message)s",
        )
    install_dir = None
    if not args.no_install:
        install_dir = args.install_dir or user_style_dirs()[0]
    before = installed_before(install_dir, cfg.run.style)
    if args.favourites is not None:
        catalog = (args.lrcat, args.favourites, args.photos)
        summary = _train_gan(args, cfg, run_dir, install_dir, info, targets=None, sources=None, catalog=catalog)
    elif args.darktable is not None:
        summary = _train_gan(
            args,
            cfg,
            run_dir,
            install_dir,
            info,
            targets=None,
            sources=None,
            darktable=_darktable_dir(args, run_dir, mark=cfg.run.method == "restore"),
        )
    elif args.lrcat is None:
        summary = _train_gan(
            args, cfg, run_dir, install_dir, info, targets=args.targets, sources=args.sources, pairs=args.pairs
        )
    else:
        summary = _train_history(args, cfg, run_dir, install_dir, info, finetune=finetune)
    if not info.is_main:
        return 0
    summary["notes"] = [*summary.get("notes", []), *install_notes(cfg.run.style, install_dir, before, summary)]
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_summary(summary)
    if summary.get("rejected"):
        where = "not installed" if install_dir is not None else "not fit to install"
        print(
            f"autoretouch train: style {cfg.run.style!r} {where}: {summary['rejected']}; it stays in "
            f"{summary['run_dir']}{os.sep}style{os.sep} (--force installs it anyway)",
            file=sys.stderr,
        )
        return EXIT_STYLE_REJECTED if install_dir is not None else 0
    return 0


def _held_run_dir(args: argparse.Namespace, info: DistInfo) -> tuple[RunFolderLock | None, Path]:
    """The run's folder, held for the run by rank 0: ``--run-dir``, else the style's default one under ``--runs-dir``.

    That is ``RUNS/STYLE`` (``RUNS``: ``--runs-dir``, by default ``runs``), or the next free ``RUNS/STYLE-N`` once
    the style's newest run folder there holds a finished run or another training holds it; with ``--resume`` the
    newest (:func:`trainer.run_lock.claim_run_dir`). Under torchrun the other ranks use rank 0's folder.

    Returns:
        The lock (``None`` on the other ranks) and the folder.

    Raises:
        ConfigError: ``--darktable`` into a folder that already holds a trained style (refused before the photos
            are linked into ``RUN_DIR/selection``, as training would refuse it after), no free run folder, a
            ``--runs-dir`` that is not a folder (a file; a missing one is made with the run folder, and taken away
            with it by a run that writes nothing there), or a ``--run-dir`` that is, or lies under, a file or a
            link to a folder that does not exist.
        RunFolderInUseError: ``--run-dir``, or the newest run folder with ``--resume``, is held by another training.
    """
    from trainer.config import ConfigError
    from trainer.run_folder import RUNS_DIR, refuse_trained_run_dir
    from trainer.run_lock import claim_run_dir

    lock = None
    shared = False
    try:
        if info.is_main:
            runs: Path = args.runs_dir if args.runs_dir is not None else RUNS_DIR
            if args.runs_dir is not None and (runs.exists() or runs.is_symlink()) and not runs.is_dir():
                raise ConfigError(f"--runs-dir {runs}: not a folder")
            lock = claim_run_dir(args.style, run_dir=args.run_dir, resume=args.resume, runs=runs)
            if args.darktable is not None:
                refuse_trained_run_dir(lock.folder)
        shared = True  # the broadcast below is the one the other ranks wait for, whether it goes through or not
        run_dir = _share_run_dir(None if lock is None else lock.folder, info)
    except BaseException:
        if lock is not None:
            lock.release()  # a failed broadcast too: the folder just made goes
        if not shared:
            _share_run_dir(None, info)  # the other ranks stop too
        raise
    if run_dir is None:
        raise ConfigError("rank 0 of this torchrun job could not claim the run folder (see its error)")
    return lock, run_dir


def _share_run_dir(run_dir: Path | None, info: DistInfo) -> Path | None:
    """Rank 0's ``run_dir`` on every rank (``None``: rank 0 failed to claim one)."""
    if not info.distributed:
        return run_dir
    import torch.distributed as dist

    box: list[str | None] = [None if run_dir is None else str(run_dir)]
    dist.broadcast_object_list(box, src=0)
    return None if box[0] is None else Path(box[0])


def _overrides(args: argparse.Namespace) -> list[str]:
    """The configuration overrides the command line asks for: the ``--set`` ones, then those of the other flags."""
    overrides = [*args.overrides, f"run.style={args.style}"]
    if args.steps is not None:
        overrides.append(f"run.steps={args.steps}")
    if args.minutes is not None:
        overrides.append(f"run.minutes={args.minutes}")
    if args.seed is not None:
        overrides.append(f"run.seed={args.seed}")
    if args.threads is not None:
        overrides.append(f"run.threads={args.threads}")
    if args.force:
        overrides.append("run.force=true")
    if args.imitation_steps is not None:
        overrides.append(f"imitation.steps={args.imitation_steps}")
    if args.no_finetune:
        overrides.append("imitation.finetune=false")
    return overrides


def _warn_same_sources(args: argparse.Namespace) -> None:
    """Warn when ``--sources`` is the ``--targets`` folder: the sources then teach nothing."""
    if args.sources is not None and args.targets is not None and args.sources.resolve() == args.targets.resolve():
        print(
            f"autoretouch train: warning: --sources {args.sources} is the --targets folder: there is nothing to learn "
            "from the sources that way (they should be unedited photos like those the style will retouch)",
            file=sys.stderr,
        )


def _darktable_dir(args: argparse.Namespace, run_dir: Path, *, mark: bool = True) -> Path:
    """``--darktable``'s folder: the one folder given, or a fresh folder of links to the photos given.

    Several folders, photo files, or both (a photo's sidecar ``NAME.EXT.xmp`` stands for the photo; a virtual copy's
    ``NAME_NN.EXT.xmp`` for that copy, linked beside its photo's link and trained as ``NAME (virtual copy N)`` by
    :mod:`trainer.darktable_pairs`) are linked into ``RUN_DIR/selection``
    (:func:`trainer.data.selection.linked_folder`), emptied of an earlier run's links first, its marker recording
    the paths as given (the record names them, and the unread subfolders of the folders among them only);
    with ``mark`` (a run that will go on: restoration, the one method that learns from darktable edits) the run
    folder is then marked as the style's (:func:`_mark_for_style`).

    Raises:
        NotFoundError: a path does not exist, or a folder holds no photo.
        SelectionError: a path is not a photo, or the selection folder holds a file of the user's.
    """
    from trainer.data.selection import darktable_selection, linked_folder

    paths: list[Path] = list(args.darktable)
    if len(paths) == 1 and paths[0].is_dir():
        return paths[0]
    folder = linked_folder(run_dir / "selection", darktable_selection(paths), with_sidecars=True, given=paths)
    if mark:
        _mark_for_style(run_dir, args.style)
    return folder


def _mark_for_style(run_dir: Path, style: str) -> None:
    """Mark ``run_dir`` as style ``style``'s as soon as its selection is linked (a ``config.toml`` naming the style).

    The run writes its whole configuration later; until then a folder holding only the selection's links would be
    nobody's, and another style's default run folder (``runs/g-2``, the second run of style ``g``, is a style
    ``g-2``'s first; :mod:`trainer.run_folder`) could take it while this run starts, or for good if it fails there.
    It comes after the links, so that a refused selection (a file of the user's in ``selection/``) leaves no
    configuration in a folder that may be the user's; and only for a run that goes on (not one the GAN refuses).
    An existing ``config.toml`` is left as it is.
    """
    config = run_dir / "config.toml"
    if config.exists() or config.is_symlink():
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[run]\nstyle = {json.dumps(style)}\n", encoding="utf-8")


def _train_gan(
    args: argparse.Namespace,
    cfg: TrainConfig,
    run_dir: Path,
    install_dir: Path | None,
    info: DistInfo,
    *,
    targets: Path | None,
    sources: Path | None,
    pairs: tuple[Path, Path] | None = None,
    catalog: tuple[Path, str, Path | None] | None = None,
    darktable: Path | None = None,
    resume: bool | None = None,
) -> dict[str, Any]:
    from trainer.train import train

    result = train(
        cfg,
        targets=targets,
        sources=sources,
        pairs=None if pairs is None else (pairs[0], pairs[1]),
        catalog=catalog,
        darktable=darktable,
        run_dir=run_dir,
        resume=args.resume if resume is None else resume,
        install_dir=install_dir,
        progress=not args.quiet and sys.stderr.isatty(),
        info=info,
    )
    return {
        "style": cfg.run.style,
        "run_dir": str(result.run_dir),
        "steps": result.step,
        "stopped_by": result.stopped_by,
        "style_path": None if result.style_path is None else str(result.style_path),
        "installed_path": None if result.installed_path is None else str(result.installed_path),
        "kept_path": None if result.kept_path is None else str(result.kept_path),
        "metrics": result.metrics,
        "rejected": result.rejected,
        "learned_from": learned_from(pairs=pairs, catalog=catalog, darktable=darktable),
        "notes": list(result.notes),
    }


def _train_history(
    args: argparse.Namespace,
    cfg: TrainConfig,
    run_dir: Path,
    install_dir: Path | None,
    info: DistInfo,
    *,
    finetune: bool,
) -> dict[str, Any]:
    """Imitation of the expert, then (``finetune``) the GAN phase from the imitation weights."""
    from trainer.checkpoint import latest_checkpoint
    from trainer.config import ConfigError, apply_overrides
    from trainer.imitation import run_imitation, write_finetune_checkpoint

    gan_targets = args.targets or args.renditions
    sources = args.sources or args.photos
    if args.resume:
        cfg = apply_overrides(cfg, ["run.method=gan"])
        if not finetune:
            raise ConfigError(
                "--resume continues the GAN phase; give --targets or --renditions (imitation is not resumed)"
            )
        summary = _train_gan(args, cfg, run_dir, install_dir, info, targets=gan_targets, sources=sources)
        return summary | {"mode": "gan (resumed after imitation)"}
    if finetune and latest_checkpoint(run_dir / "checkpoints") is not None:
        raise ConfigError(f"{run_dir}: the run folder already has checkpoints; use --resume or another --run-dir")
    imitation = run_imitation(
        cfg,
        catalog=args.lrcat,
        expert=args.expert,
        run_dir=run_dir,
        photos=args.photos,
        renditions=args.renditions,
        export=not finetune,
        install_dir=install_dir,
        is_main=info.is_main,
    )
    imitation_summary = {
        "summary": imitation.data.summary,
        "steps": imitation.result.steps,
        "stopped_by": imitation.result.stopped_by,
        "before": imitation.result.before,
        "after": imitation.result.after,
    }
    if not finetune:
        return {
            "style": cfg.run.style,
            "run_dir": str(run_dir),
            "mode": "imitation",
            "steps": imitation.result.steps,
            "stopped_by": imitation.result.stopped_by,
            "style_path": None if imitation.style_path is None else str(imitation.style_path),
            "installed_path": None if imitation.installed_path is None else str(imitation.installed_path),
            "kept_path": None if imitation.kept_path is None else str(imitation.kept_path),
            "metrics": imitation.result.metrics(),
            "imitation": imitation_summary,
        }
    cfg = apply_overrides(cfg, ["run.method=gan"])  # fine-tuning continues the imitation weights with the GAN
    write_finetune_checkpoint(cfg, imitation.net, run_dir, info)
    summary = _train_gan(args, cfg, run_dir, install_dir, info, targets=gan_targets, sources=sources, resume=True)
    return summary | {"mode": "imitation + gan", "imitation": imitation_summary}


def _print_summary(summary: dict[str, Any]) -> None:
    imitation = summary.get("imitation")
    if imitation is not None:
        s, before, after = imitation["summary"], imitation["before"], imitation["after"]
        fit = ""
        if s.get("fit_psnr") is not None:
            fit = f"; fit PSNR {s['fit_psnr']:.2f} dB (PV2003 mapping {s['fit_psnr_pv2003']:.2f}, identity {s['fit_psnr_identity']:.2f})"
        print(f"imitated expert {s['expert']}: {counted(s['photos'], 'photo')}, {counted(s['targets'], 'target')}{fit}")
        print(
            f"  {counted(imitation['steps'], 'step')}: slider-choice loss {before['ce']:.3f} -> {after['ce']:.3f}, "
            f"value error {before['value']:.4f} -> {after['value']:.4f}, first slider right "
            f"{after['first_slider_accuracy']:.0%}"
        )
    if summary.get("mode") == "imitation":
        print(f"style {summary['style']!r} from imitation alone")
    else:
        steps = counted(summary["steps"], "step")
        print(f"trained style {summary['style']!r}: {steps} (stopped by {summary['stopped_by']})")
    for line in outcome_lines(
        summary["run_dir"],
        summary["style_path"],
        summary["installed_path"],
        metrics=summary["metrics"] or {},
        from_edits=summary.get("learned_from") is not None,
        notes=summary.get("notes", []),
    ):
        print(line)
