"""``autoretouch train``: learn a style from a folder of favourite photos (unpaired).

The ``trainer`` package imports ``backend``, never the reverse: this module joins the ``autoretouch`` command
line through the ``autoretouch.commands`` entry point (see ``pyproject.toml``).

Configuration: the experiment file (``--config FILE``, TOML; ``configs/default.toml`` documents every key),
or on ``--resume`` the run folder's own ``config.toml``, or the built-in defaults; then ``--set section.key=value``
overrides (typed, never evaluated), then the dedicated flags (``--style``, ``--steps``, ``--minutes``,
``--seed``, ``--threads``). The same command runs data-parallel under ``torchrun``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

__all__ = ["register", "run"]

_EPILOG = """\
examples:
  autoretouch train --style mine --targets ~/Pictures/favourites --minutes 30
  autoretouch train --style mine --targets favs/ --sources inbox/ --steps 4000 --config configs/default.toml
  autoretouch train --style mine --targets favs/ --resume                 # continue runs/mine/
  torchrun --nproc-per-node 2 -m backend.cli.main train --style mine --targets favs/ --steps 4000

Without --sources the inputs are made by randomly "un-editing" the favourites with our own sliders
(exposure shift, flattened contrast, white-balance shift, desaturation). The run folder (default
runs/STYLE/) receives config.toml, metrics.csv, curves.png, contact_sheet.png, eval.json and checkpoints/;
the trained style goes to runs/STYLE/style/ and is installed into your style folder (see `autoretouch
styles`) unless --no-install is given.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``train`` sub-command to the CLI."""
    parser = subparsers.add_parser(
        "train",
        help="learn a style from favourite photos (unpaired GAN + RL training)",
        description=(
            "Train an agent that edits photos with the catalog's sliders so that the results look like your "
            "favourites: a WGAN-GP critic learns what the favourites look like, the agent learns which "
            "sliders to move and how far. Training is unpaired: the inputs need no edited counterpart."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--style", required=True, metavar="NAME", help="name of the style to train (file stem)")
    parser.add_argument("--targets", required=True, type=Path, metavar="DIR", help="folder of favourite photos")
    parser.add_argument(
        "--sources", type=Path, metavar="DIR", help="folder of photos to retouch (default: un-edited favourites)"
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, metavar="M", help="stop after M minutes of this invocation")
    length.add_argument("--steps", type=int, metavar="N", help="generator steps in total (default from the config)")
    parser.add_argument("--resume", action="store_true", help="continue the run folder's newest checkpoint")
    parser.add_argument("--run-dir", type=Path, metavar="DIR", help="run folder (default runs/STYLE)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="experiment configuration (TOML)")
    parser.add_argument("--seed", type=int, metavar="S", help="random seed (default from the config)")
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
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the configuration, train, export the style; returns exit status 0."""
    from backend.agent.style import user_style_dirs
    from trainer.config import load_config
    from trainer.distributed import cleanup_distributed, init_distributed
    from trainer.train import train

    run_dir: Path = args.run_dir or Path("runs") / args.style
    base = args.config
    if base is None and args.resume and (run_dir / "config.toml").is_file():
        base = run_dir / "config.toml"
    overrides = [*args.overrides, f"run.style={args.style}"]
    if args.steps is not None:
        overrides.append(f"run.steps={args.steps}")
    if args.minutes is not None:
        overrides.append(f"run.minutes={args.minutes}")
    if args.seed is not None:
        overrides.append(f"run.seed={args.seed}")
    if args.threads is not None:
        overrides.append(f"run.threads={args.threads}")
    cfg = load_config(base, overrides)
    info = init_distributed()
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO if info.is_main else logging.WARNING,
            format=f"%(asctime)s [rank {info.rank}] %(levelname)s %(name)s: %(message)s",
        )
    install_dir = None
    if not args.no_install:
        install_dir = args.install_dir or user_style_dirs()[0]
    try:
        result = train(
            cfg,
            targets=args.targets,
            sources=args.sources,
            run_dir=run_dir,
            resume=args.resume,
            install_dir=install_dir,
            progress=not args.quiet and sys.stderr.isatty(),
            info=info,
        )
    finally:
        cleanup_distributed(info)
    if not info.is_main:
        return 0
    summary = {
        "style": cfg.run.style,
        "run_dir": str(result.run_dir),
        "steps": result.step,
        "stopped_by": result.stopped_by,
        "style_path": None if result.style_path is None else str(result.style_path),
        "installed_path": None if result.installed_path is None else str(result.installed_path),
        "metrics": result.metrics,
    }
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"trained style {cfg.run.style!r}: {result.step} steps (stopped by {result.stopped_by})")
        print(f"  run folder: {result.run_dir}{os.sep}")
        if result.installed_path is not None:
            print(f"  installed:  {result.installed_path}")
        elif result.style_path is not None:
            print(f"  style:      {result.style_path}")
        m = result.metrics
        if m:
            print(
                f"  held-out look distance to the favourites: {m['look_dist_before']:.3f} -> {m['look_dist_after']:.3f}"
                f"; critic gap {m['critic_gap_before']:.3f} -> {m['critic_gap_after']:.3f}; {m['edits']:.1f} edits/photo"
            )
    return 0
