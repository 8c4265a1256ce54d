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
* :func:`tiny_pairs_toml` / :func:`write_tiny_pairs_toml`: the seconds-long ``train --pairs`` run config (TOML)
  that the CLI tests of paired training write as ``tiny.toml``; :data:`TINY_PAIRS_TOML` is its usual text.
* :func:`folder_snapshot`: every file under a folder and its bytes (a run folder left alone compares equal).
* :func:`run_tiny_train`: ``autoretouch train`` in-process on 2 steps of a tiny config (:class:`TinyRun`).
* :func:`smooth_pair_folders`: empty ``before``/``after`` folders, or ones holding ``pI.png``/``pI.jpg`` pairs.
* :func:`write_exposure_pairs`: ``pI.tif``/``pI.jpg`` pairs rendered from given scenes (the edit brightens).
* :func:`write_exposure_shots`: photos rendered from given scenes at exposures from -0.5 EV up.
* :func:`write_truncated_image`: a photo cut off half-way (one that cannot be read).
* :func:`tiny_pairs_run_here` / :func:`tiny_gan_run_here`: tiny pairs or favourites plus ``tiny.toml`` in a test's
  folder, made its working directory (the run folder tests' setting).
* :func:`tiny_gan_train_argv`: :func:`tiny_gan_run_here`, and the ``train`` command line of style ``g`` on it.
* :func:`raw_fallback_folders`: before/after pairs where one original is a damaged raw beside its camera JPEG.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch.nn import functional

if TYPE_CHECKING:
    import pytest

    from trainer.config import TrainConfig

__all__ = [
    "TINY_PAIRS_TOML",
    "TINY_RESTORE_OVERRIDES",
    "TINY_TOML",
    "TinyRun",
    "TrainingInputs",
    "config_with",
    "folder_snapshot",
    "ramp_photos",
    "raw_fallback_folders",
    "run_tiny_train",
    "smooth_pair_folders",
    "tiny_gan_run_here",
    "tiny_gan_train_argv",
    "tiny_pairs_config",
    "tiny_pairs_run_here",
    "tiny_pairs_toml",
    "tiny_train_toml",
    "two_step_restore_config",
    "two_step_restore_toml",
    "write_exposure_pairs",
    "write_exposure_shots",
    "write_tiny_pairs_toml",
    "write_training_inputs",
    "write_truncated_image",
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


def tiny_pairs_toml(sliders: Sequence[str] = ("exposure",), *, fit_iters: int = 10, more: str = "") -> str:
    """TOML text of a seconds-long ``train --pairs`` run: an 8-wide agent on 32-px thumbnails, 16-px recipe fits.

    Args:
        sliders: the agent's sliders (catalog names).
        fit_iters: ``restore.fit_iters``, the iterations of each pair's recipe fit.
        more: further ``[restore]`` lines, each ending in a newline (e.g. ``"nearest_blend = 0.0\n"``).

    Returns:
        The config text (``[agent]``, ``[data]``, ``[restore]``), what the run's ``--config`` file holds.
    """
    return (
        f"[agent]\nsliders = {json.dumps(list(sliders))}\nwidth = 8\nthumb = 32\n[data]\ncrops_per_image = 2\n"
        f"eval_size = 32\n[restore]\npool_per_target = 4\nfit_size = 16\nfit_iters = {fit_iters}\neval_every = 5\n"
        + more
    )


#: The usual seconds-long ``train --pairs`` run: exposure only, 10 fit iterations (:func:`tiny_pairs_toml`).
TINY_PAIRS_TOML = tiny_pairs_toml()


def write_tiny_pairs_toml(
    path: Path, sliders: Sequence[str] = ("exposure",), *, fit_iters: int = 10, more: str = ""
) -> Path:
    """Write :func:`tiny_pairs_toml`'s config text (UTF-8) to ``path``.

    Args:
        path: the file to write (a test's ``tiny.toml``).
        sliders: the agent's sliders.
        fit_iters: ``restore.fit_iters``.
        more: further ``[restore]`` lines.

    Returns:
        ``path``, for ``--config``.
    """
    path.write_text(tiny_pairs_toml(sliders, fit_iters=fit_iters, more=more), encoding="utf-8")
    return path


class TinyRun(NamedTuple):
    """What :func:`run_tiny_train` did.

    Attributes:
        rc: ``autoretouch train``'s exit status.
        run: its run folder.
        record: the saved style's training record (``run/style/s.json``'s ``training``), ``{}`` when none was saved.
    """

    rc: int
    run: Path
    record: dict[str, Any]


def folder_snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by its path relative to ``folder`` -> its bytes (to show a run left it alone)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_tiny_train(folder: Path, source: Sequence[str], *more: str, toml: str = TINY_PAIRS_TOML) -> TinyRun:
    """Run ``autoretouch train --style s SOURCE --steps 2`` in-process on a tiny config, not installed, forced.

    Args:
        folder: the test's folder: ``toml`` is written there as ``tiny.toml``, and the run folder is the first
            ``runN`` (N = how many ``run*`` entries it already holds), so that a test may train again.
        source: what to learn from (``["--pairs", BEFORE, AFTER]``, ``["--lrcat", CATALOG, ...]``).
        more: further arguments (``--quiet``, ``--json``, ...).
        toml: the run config's text (default :data:`TINY_PAIRS_TOML`).

    Returns:
        The exit status, the run folder and the training record.
    """
    from backend.cli.main import main

    config = folder / "tiny.toml"
    config.write_text(toml, encoding="utf-8")
    run = folder / f"run{len(list(folder.glob('run*')))}"
    argv = ["train", "--style", "s", *source, "--steps", "2", "--config", str(config), "--run-dir", str(run)]
    rc = main([*argv, "--no-install", "--force", *more])
    meta = run / "style" / "s.json"
    record = json.loads(meta.read_text(encoding="utf-8"))["training"] if meta.is_file() else {}
    return TinyRun(rc, run, record)


def smooth_pair_folders(base: Path, n: int = 4) -> tuple[Path, Path]:
    """Make ``base/before`` and ``base/after``, holding ``pI.png`` and ``pI.jpg`` for ``I < n``.

    Each pair is a tiny smooth 32-px scene (:func:`trainer.synthetic.smooth_images`, seed 3) and that scene
    1.3 times brighter; ``n = 0`` leaves both folders empty.

    Args:
        base: the folder to make them in.
        n: how many pairs.

    Returns:
        The ``before`` and ``after`` folders.
    """
    from backend.encode import write_image
    from trainer.synthetic import smooth_images

    before, after = base / "before", base / "after"
    before.mkdir()
    after.mkdir()
    if n:
        for i, scene in enumerate(smooth_images(n, 32, seed=3).split(1)):
            write_image(before / f"p{i}.png", scene)
            write_image(after / f"p{i}.jpg", (scene * 1.3).clamp(0, 1))
    return before, after


def write_exposure_pairs(before: Path, after: Path, scenes: torch.Tensor, n: int) -> None:
    """Write ``before/pI.tif`` (16-bit, exposure ``-0.3 I``) and ``after/pI.jpg`` (exposure 0.5) for ``I < n``.

    Args:
        before: the originals' folder (exists).
        after: the edits' folder (exists).
        scenes: ``(N, 3, H, W)`` linear scenes, ``N >= n``; pair ``I`` renders scene ``I``.
        n: how many pairs.
    """
    from backend.encode import write_image
    from backend.render.pipeline import render

    with torch.no_grad():
        for i in range(n):
            write_image(before / f"p{i}.tif", render(scenes[i : i + 1], {"exposure": -0.3 * i}), bit_depth=16)
            write_image(after / f"p{i}.jpg", render(scenes[i : i + 1], {"exposure": 0.5}))


def write_exposure_shots(folder: Path, scenes: torch.Tensor, names: Sequence[str], *, bit_depth: int = 8) -> list[Path]:
    """Write photo ``I`` of ``names`` in ``folder``: scene ``I`` rendered at exposure ``0.3 I - 0.5`` EV (a series of
    shots of different brightness, e.g. a catalog's or darktable's originals).

    Args:
        folder: the folder (exists).
        scenes: ``(N, 3, H, W)`` linear scenes, ``N >= len(names)``.
        names: the file names, in order; the suffix picks the format.
        bit_depth: 8 or 16 (PNG and TIFF only).

    Returns:
        The photos' paths, in order.
    """
    from backend.encode import write_image
    from backend.render.pipeline import render

    paths = [folder / name for name in names]
    with torch.no_grad():
        for i, path in enumerate(paths):
            write_image(path, render(scenes[i : i + 1], {"exposure": 0.3 * i - 0.5}), bit_depth=bit_depth)
    return paths


def write_truncated_image(path: Path, image: torch.Tensor) -> None:
    """Write ``image`` (``(1, 3, H, W)`` linear) at ``path`` in the format its suffix names, then cut the file off
    half-way (a JPEG loses its end-of-image marker): a photo that cannot be read."""
    from backend.encode import write_image

    write_image(path, image)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def tiny_pairs_run_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Four 32-px pairs in ``tmp_path/data``, :data:`TINY_PAIRS_TOML` as ``tmp_path/tiny.toml``; ``tmp_path`` is the
    working directory.

    Args:
        tmp_path: the test's folder.
        monkeypatch: the test's monkeypatch (changes the working directory).

    Returns:
        The pairs' ``before`` and ``after`` folders.
    """
    from trainer.synthetic import write_pair_folders

    before, after, _ = write_pair_folders(tmp_path / "data", n_pairs=4, size=32, seed=4)
    (tmp_path / "tiny.toml").write_text(TINY_PAIRS_TOML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return before, after


def tiny_gan_run_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three 24-px favourites in ``tmp_path/data``, :data:`TINY_TOML` as ``tmp_path/tiny.toml``; ``tmp_path`` is
    the working directory.

    Args:
        tmp_path: the test's folder.
        monkeypatch: the test's monkeypatch (changes the working directory).

    Returns:
        The favourites' (targets') folder.
    """
    from trainer.synthetic import write_style_folders

    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=3, n_sources=1, n_heldout=0, size=24)
    (tmp_path / "tiny.toml").write_text(TINY_TOML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return targets


def tiny_gan_train_argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *more: str) -> list[str]:
    """:func:`tiny_gan_run_here`, and the command line that trains style ``g`` on its favourites.

    Args:
        tmp_path: the test's folder (made the working directory).
        monkeypatch: the test's monkeypatch (changes the working directory).
        more: further arguments (``--steps``, ``--json``, ``--runs-dir``, ...).

    Returns:
        ``["train", "--style", "g", "--targets", DATA, "--config", "tiny.toml", "--install-dir", "styles",
        "--force", "--quiet", *more]`` (``DATA``: the favourites' folder; installed in ``tmp_path/styles``).
    """
    targets = tiny_gan_run_here(tmp_path, monkeypatch)
    argv = ["train", "--style", "g", "--targets", str(targets), "--config", "tiny.toml"]
    return [*argv, "--install-dir", "styles", "--force", "--quiet", *more]


def raw_fallback_folders(base: Path) -> tuple[Path, Path]:
    """``base/before/pI.png`` and ``base/after/pI.jpg`` for I < 4, but ``p0`` is a damaged ``p0.CR2`` beside a JPEG.

    The pairing prefers the raw, which cannot be decoded; the camera's JPEG ``p0.jpg`` beside it is the fallback.
    Each edit is its original 1.3 times brighter (tiny smooth 32-px scenes, seed 3).

    Args:
        base: the folder to make them in (it must exist).

    Returns:
        The ``before`` and ``after`` folders.
    """
    from backend.encode import write_image
    from trainer.synthetic import smooth_images

    before, after = base / "before", base / "after"
    before.mkdir()
    after.mkdir()
    for i, scene in enumerate(smooth_images(4, 32, seed=3).split(1)):
        write_image(before / (f"p{i}.jpg" if i == 0 else f"p{i}.png"), scene)
        write_image(after / f"p{i}.jpg", (scene * 1.3).clamp(0, 1))
    (before / "p0.CR2").write_bytes(b"II*\x00\x10\x00\x00\x00CR\x02\x00" + bytes(64))  # damaged
    return before, after
