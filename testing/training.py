"""Small training inputs for tests: a tiny run config (TOML text) and generated linear photos.

* :func:`tiny_train_toml`: a config that trains a few steps of a very small agent and critic in seconds;
  :data:`TINY_TOML` is the one the CLI and daemon training tests use.
* :func:`write_training_inputs`: tiny favourites, before/after pairs and :data:`TINY_TOML` for a training run.
* :func:`ramp_photos`: ``(N, 3, S, S)`` linear test photos (dark-to-bright ramp times smooth colours).
* :func:`tiny_pairs_config`: a restoration config that learns from a few tiny before/after pairs in seconds.
* :func:`two_step_restore_config`: a restoration run of two steps on two tiny favourites (what install tests need).
* :data:`TINY_RESTORE_OVERRIDES`: a seconds-long restoration run as ``section.key=value`` overrides (what
  ``testing.tiny_train_worker`` gives a test daemon's trainings).
* :func:`config_with`: a test's base config sections with some keys changed, as a ``TrainConfig``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch.nn import functional

if TYPE_CHECKING:
    from trainer.config import TrainConfig

__all__ = [
    "TINY_RESTORE_OVERRIDES",
    "TINY_TOML",
    "TrainingInputs",
    "config_with",
    "ramp_photos",
    "tiny_pairs_config",
    "tiny_train_toml",
    "two_step_restore_config",
    "two_step_restore_toml",
    "write_training_inputs",
]


def tiny_train_toml(sliders: Sequence[str], *, max_steps: int, log_every: int) -> str:
    """TOML text of a tiny GAN run config (``[agent]``, ``[critic]``, ``[data]``, ``[run]`` with ``method = "gan"``).

    Args:
        sliders: the agent's sliders (catalog names).
        max_steps: the agent's decisions per photo.
        log_every: log a line every this many training steps.

    Returns:
        The config text; append further sections (e.g. ``[imitation]``) as needed.
    """
    return f"""
[agent]
sliders = {json.dumps(list(sliders))}
max_steps = {max_steps}
width = 8
thumb = 16

[critic]
width = 8
n_critic = 1
n_critic_warmup = 1
pool = 4

[data]
batch = 4
crops_per_image = 1
eval_images = 1
eval_size = 16

[run]
method = "gan"
threads = 1
log_every = {log_every}
checkpoint_every = 0
eval_every = 0
"""


#: Two sliders (exposure, tint), 2 decisions per photo, a log line every step.
TINY_TOML = tiny_train_toml(("exposure", "tint"), max_steps=2, log_every=1)

#: A restoration run (also from before/after pairs such as Lightroom edits) that ends in seconds, as
#: ``section.key=value`` overrides: four sliders, an 8-wide agent on 16-px thumbnails, 20 steps, installed
#: whatever the held-out check says; dropout 0.5, so that its variants differ visibly.
TINY_RESTORE_OVERRIDES: tuple[str, ...] = (
    "run.method=restore",
    "agent.sliders=exposure,contrast,temperature,tint",
    "agent.width=8",
    "agent.thumb=16",
    "agent.dropout=0.5",
    "data.batch=4",
    "data.crops_per_image=1",
    "data.eval_size=16",
    "restore.batch=4",
    "restore.lr=0.03",
    "restore.pool_per_target=2",
    "restore.val_unedits=1",
    "restore.eval_every=10",
    "restore.fit_size=16",
    "restore.fit_iters=5",
    "run.steps=20",
    "run.threads=1",
    "run.force=true",
)


class TrainingInputs(NamedTuple):
    """What :func:`write_training_inputs` wrote.

    Attributes:
        targets: the favourites' folder.
        before: the pairs' "before" folder.
        after: the pairs' "after" folder.
        config: the run config (:data:`TINY_TOML`).
    """

    targets: Path
    before: Path
    after: Path
    config: Path


def write_training_inputs(base: Path) -> TrainingInputs:
    """Tiny training inputs: favourites (3 targets, 1 source) in ``base/root/data``, 4 before/after pairs in
    ``base/root/pairs`` (all 24 px) and :data:`TINY_TOML` as ``base/tiny.toml``."""
    from trainer.synthetic import write_pair_folders, write_style_folders

    root = base / "root"
    targets, _, _ = write_style_folders(root / "data", n_targets=3, n_sources=1, n_heldout=0, size=24)
    before, after, _ = write_pair_folders(root / "pairs", n_pairs=4, size=24)
    config = base / "tiny.toml"
    config.write_text(TINY_TOML)
    return TrainingInputs(targets, before, after, config)


def ramp_photos(n: int, size: int, seed: int) -> torch.Tensor:
    """``(n, 3, size, size)`` linear test photos: a dark-to-bright ramp times smooth random colours.

    Args:
        n: how many photos.
        size: side in pixels.
        seed: generator seed (same seed, same photos).

    Returns:
        float32 linear values in [0, 1].
    """
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0.02, 0.95, size).reshape(1, 1, 1, size)
    colours = torch.rand(n, 3, 3, 3, generator=g) * 0.7 + 0.3
    colours = functional.interpolate(colours, size=(size, size), mode="bilinear", align_corners=False)
    return (ramp * colours).clamp(0.0, 1.0) ** 2.2


def tiny_pairs_config(sliders: Sequence[str], style: str, *, steps: int = 200) -> dict[str, dict[str, object]]:
    """Config sections (for :func:`trainer.config.config_from_dict`) of a seconds-long paired restoration run.

    A 16-wide one-shot agent on 32-px thumbnails, 12 views per pair, recipes fitted on 32-px thumbnails.
    """
    return {
        "agent": {"sliders": list(sliders), "width": 16, "thumb": 32, "dropout": 0.0},
        "data": {"crops_per_image": 2, "eval_size": 48},
        "restore": {"batch": 8, "pool_per_target": 12, "eval_every": 40, "lr": 1e-2, "fit_size": 32, "fit_iters": 60},
        "run": {"style": style, "steps": steps, "seed": 0, "threads": 1},
    }


def two_step_restore_config(style: str) -> TrainConfig:
    """A restoration run of 2 steps (an 8-wide exposure-only agent, 32-px thumbnails) that installs ``style``.

    For tests about installing a style (replacing one, refusing after a Ctrl-C), not about what it learns.
    """
    return config_with({
        "agent": {"sliders": ["exposure"], "width": 8, "thumb": 32, "dropout": 0.0},
        "data": {"crops_per_image": 1, "eval_size": 48},
        "restore": {"batch": 4, "pool_per_target": 2, "eval_every": 2, "val_unedits": 1},
        "run": {"style": style, "steps": 2, "seed": 0, "threads": 1, "log_every": 1},
    })  # fmt: skip


def two_step_restore_toml(path: Path) -> Path:
    """Write :func:`two_step_restore_config`'s run (style name and steps aside) as a ``--config`` file at ``path``.

    For CLI tests of installing: ``autoretouch train --config PATH --steps 2 ...``.
    """
    path.write_text(
        '[agent]\nsliders = ["exposure"]\nwidth = 8\nthumb = 32\ndropout = 0.0\n'
        "[data]\ncrops_per_image = 1\neval_size = 48\n"
        "[restore]\nbatch = 4\npool_per_target = 2\neval_every = 2\nval_unedits = 1\n"
        "[run]\nseed = 0\nthreads = 1\nlog_every = 1\n",
        encoding="utf-8",
    )
    return path


def config_with(base: dict[str, dict[str, object]], **sections: dict[str, object]) -> TrainConfig:
    """``base`` (config sections) with the keys of ``sections`` changed or added, as a checked ``TrainConfig``."""
    from trainer.config import config_from_dict

    merged = {k: dict(v) for k, v in base.items()}
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    return config_from_dict(merged)
