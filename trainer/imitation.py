"""Behaviour cloning of the agent from an expert's slider history in a Lightroom catalog (FiveK's ``fivek.lrcat``).

The pieces: the targets (:mod:`trainer.imitation_data`), the teacher-forced samples and the loss
(:mod:`trainer.imitation_loss`), and here the training loop and the run (style export, fine-tune checkpoint);
their names are re-exported here.

Per photo of the expert (:func:`trainer.lrcat.expert_settings`: FiveK's ``Experts/C`` collection of virtual
copies, or copies named ``C``):

1. **Target values.** The expert's settings mapped into our sliders (:func:`trainer.lrcat.photo_recipe`,
   PV2003 mapping with the ``imitation.baseline`` legacy baseline); or, when a renditions folder is given and
   holds the photo's rendition, a pseudo-label fitted over the same sliders through the renderer, starting
   from that mapping (:mod:`trainer.pseudo_labels`; ``imitation.fit_extra`` may add sliders). Only the agent's
   sliders count (spatial ones such as sharpening are dropped).
2. **Target order.** The sliders in the order the history first moved them
   (:attr:`~trainer.lrcat.MappedRecipe.first_moved`: history steps mapped through PV2003, or named steps);
   ties and sliders the history does not show moving follow the renderer's pipeline order
   (:func:`~trainer.pseudo_labels.pipeline_rank`); with no usable history that is the whole order. Capped at
   ``agent.max_steps``, then STOP (when fewer than ``max_steps`` sliders remain).
3. **Teacher forcing.** The state image of step ``t`` is the input thumbnail rendered with the expert's first
   ``t`` steps; the net sees it with the step index and the used-slider mask of those steps.

Loss per state: cross-entropy of the policy on the expert's choice (used sliders are masked by the net, so
they are never candidates) plus ``imitation.value_weight`` times the squared error of the chosen slider's
proposed value, in units of the slider's catalog range (``(pred - target) / (max - min)``, averaged over the
value's elements). Adam, ``imitation.steps`` steps of ``imitation.batch`` random states (random flips), dropout
on, learning rate cosine-decayed to 10 %, gradient norm clipped at 10; the seed (``run.seed``) makes runs
reproducible. It runs on the CPU with every teacher-forced state in memory (48 KB per state at ``thumb`` 64:
about 1.2 GB for FiveK's 5,000 photos x 5 steps); under torchrun every process computes the same imitation.

Input photos: the catalog's recorded path when it exists; else the same path's tail below the catalog's
folder (longest first: FiveK's ``HQa1to700/photos/NAME.dng`` next to ``fivek.lrcat``); else ``--photos DIR``
by the stem rule of :class:`~trainer.pseudo_labels.StemIndex`. Photos that cannot be found or decoded are
skipped with a warning and counted.

Outputs (:func:`run_imitation`): ``RUN/imitation/`` holds ``labels.json`` (per photo: files, order, values,
their source, fit PSNRs, notes), ``metrics.csv`` and ``imitation.json`` (losses before and after,
accuracies); the agent can be exported as a style on its own, or handed to the GAN phase as its starting
point (:func:`write_finetune_checkpoint`: a step-0 checkpoint that ``trainer.train.train(resume=True)``
continues from).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from backend.agent.actions import AGENT_SLIDERS
from backend.agent.network import AgentNet
from backend.agent.style import Style, save_style, validate_metadata
from backend.fsio import write_text_atomic
from backend.recipe import SliderValue
from trainer.checkpoint import save_checkpoint
from trainer.config import ImitationConfig, TrainConfig, config_to_dict, config_to_toml
from trainer.imitation_data import ExpertData, ExpertTarget, expert_order, load_expert_data, resolve_photo
from trainer.imitation_loss import Samples, evaluate_imitation, imitation_loss, teacher_forcing
from trainer.report import MetricsLog
from trainer.result import install_keeping, next_model_version

__all__ = [
    "IMITATION_COLUMNS",
    "ExpertData",
    "ExpertTarget",
    "ImitationResult",
    "ImitationRun",
    "Samples",
    "evaluate_imitation",
    "expert_order",
    "imitation_loss",
    "load_expert_data",
    "resolve_photo",
    "run_imitation",
    "teacher_forcing",
    "train_imitation",
    "write_finetune_checkpoint",
]

log = logging.getLogger(__name__)

_MIN_LR_FRACTION = 0.1  # the cosine schedule ends at this fraction of imitation.lr
_GRAD_CLIP = 10.0  # gradient-norm clip of behaviour cloning

#: Columns of ``imitation/metrics.csv``.
IMITATION_COLUMNS: tuple[str, ...] = ("step", "time_s", "lr", "loss", "ce", "value", "accuracy")


@dataclass
class ImitationResult:
    """What :func:`train_imitation` returns.

    Attributes:
        before: :func:`evaluate_imitation` numbers of the initial net.
        after: the same after training.
        steps: optimiser steps done.
        stopped_by: ``"steps"`` or ``"minutes"``.
        seconds: training time.
    """

    before: dict[str, float]
    after: dict[str, float]
    steps: int
    stopped_by: str
    seconds: float

    def metrics(self) -> dict[str, float]:
        """Flat ``<name>_before`` / ``<name>_after`` numbers for the style metadata."""
        out = {f"{k}_before": v for k, v in self.before.items()} | {f"{k}_after": v for k, v in self.after.items()}
        return out | {"imitation_steps": float(self.steps)}


def train_imitation(
    net: AgentNet,
    samples: Samples,
    data: ExpertData,
    icfg: ImitationConfig,
    *,
    seed: int,
    minutes: float = 0.0,
    on_row: Callable[[dict[str, float]], None] | None = None,
    log_every: int = 10,
) -> ImitationResult:
    """Behaviour cloning (module docstring). Dropout draws from torch's global RNG: seed it for reproducibility.

    Args:
        net: the agent, trained in place.
        samples: :func:`teacher_forcing` output.
        data: the expert data (for the greedy evaluation).
        icfg: the ``[imitation]`` configuration.
        seed: seed of the batch sampling and flips.
        minutes: wall-clock limit (0 = none).
        on_row: receives a metrics row (``IMITATION_COLUMNS``) every ``log_every`` steps and at the end.
        log_every: steps between rows.

    Returns:
        :class:`ImitationResult`.
    """
    gen = torch.Generator().manual_seed(seed * 1_000_003 + 4242)
    opt = torch.optim.Adam(net.parameters(), lr=icfg.lr)
    before = evaluate_imitation(net, samples, data, icfg.value_weight)
    net.train()
    start = time.monotonic()
    deadline = start + minutes * 60.0 if minutes > 0 else math.inf
    acc: dict[str, float] = {}
    n_acc = 0
    step = 0
    stopped_by = "steps"
    while step < icfg.steps:
        if time.monotonic() > deadline:
            stopped_by = "minutes"
            break
        index = torch.randint(0, len(samples), (icfg.batch,), generator=gen)
        batch = samples.take(index)
        if icfg.flip:
            flips = torch.rand(icfg.batch, generator=gen) < 0.5
            batch.states = torch.where(flips[:, None, None, None], batch.states.flip(-1), batch.states)
        for group in opt.param_groups:
            group["lr"] = icfg.lr * (
                _MIN_LR_FRACTION + (1 - _MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * step / icfg.steps))
            )
        loss, metrics = imitation_loss(net, batch, icfg.value_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), _GRAD_CLIP)
        opt.step()
        step += 1
        for k, v in metrics.items():
            acc[k] = acc.get(k, 0.0) + v
        n_acc += 1
        if on_row is not None and (step % log_every == 0 or step == icfg.steps):
            row = {k: v / n_acc for k, v in acc.items()}
            on_row(row | {"step": step, "time_s": time.monotonic() - start, "lr": opt.param_groups[0]["lr"]})
            acc, n_acc = {}, 0
    after = evaluate_imitation(net, samples, data, icfg.value_weight)
    return ImitationResult(before, after, step, stopped_by, time.monotonic() - start)


# -- the run ------------------------------------------------------------------------------------------


@dataclass
class ImitationRun:
    """What :func:`run_imitation` returns.

    Attributes:
        net: the trained agent.
        data: the expert data it was trained on.
        result: losses and accuracies.
        style_path: the exported style's weights in the run folder (``None`` when not exported).
        installed_path: the style's weights in the style folder it was installed to, if any.
        kept_path: the copy kept of the style that installing replaced (:attr:`trainer.result.Installed.kept`),
            if any.
    """

    net: AgentNet
    data: ExpertData
    result: ImitationResult
    style_path: Path | None = None
    installed_path: Path | None = None
    kept_path: Path | None = None


def _thaw(value: SliderValue) -> Any:
    return [_thaw(v) for v in value] if isinstance(value, tuple) else round(float(value), 6)


def _labels_json(data: ExpertData) -> str:
    rows = []
    for t in data.targets:
        row: dict[str, Any] = {
            "name": t.name,
            "image_id": t.image_id,
            "input": str(t.input_path),
            "rendition": None if t.rendition_path is None else str(t.rendition_path),
            "order": list(t.order),
            "ordered_by": t.ordered_by,
            "source": t.source,
            "values": {k: _thaw(v) for k, v in t.values.items()},
            "pv2003": {k: _thaw(v) for k, v in t.mapped.items()},
            "notes": list(t.notes),
        }
        if t.fit is not None:
            row["fit"] = {
                "psnr": round(t.fit.psnr_fit, 3),
                "psnr_pv2003": round(t.fit.psnr_init, 3),
                "psnr_identity": round(t.fit.psnr_identity, 3),
            }
        rows.append(row)
    return json.dumps({"summary": data.summary, "photos": rows}, indent=1, allow_nan=False) + "\n"


def _new_net(cfg: TrainConfig) -> AgentNet:
    a = cfg.agent
    return AgentNet(
        sliders=a.sliders or AGENT_SLIDERS, max_steps=a.max_steps, width=a.width, dropout=a.dropout, thumb=a.thumb
    )


def run_imitation(
    cfg: TrainConfig,
    *,
    catalog: str | Path,
    expert: str,
    run_dir: str | Path,
    photos: str | Path | None = None,
    renditions: str | Path | None = None,
    export: bool = True,
    install_dir: str | Path | None = None,
    is_main: bool = True,
) -> ImitationRun:
    """Read the expert, fit pseudo-labels, clone the behaviour, write the run files and optionally a style.

    Deterministic for a given ``run.seed`` (and thread count): the global RNG is forked and seeded, so the
    caller's random streams are untouched. Under torchrun every process computes the same net; only the main
    one (``is_main``) writes.

    Args:
        cfg: the experiment configuration (``[agent]``, ``[imitation]``, ``run.seed``, ``run.style``,
            ``run.threads``; ``run.minutes`` limits behaviour cloning when no GAN phase follows).
        catalog: the ``.lrcat`` file.
        expert: the expert's name.
        run_dir: the run folder (``imitation/`` and ``style/`` are written below it).
        photos: fallback folder of input photos.
        renditions: folder of the expert's renditions (pseudo-labels).
        export: export the agent as the style ``run.style`` (imitation only).
        install_dir: also install the style there.
        is_main: this process writes files.

    Returns:
        :class:`ImitationRun`.
    """
    run = Path(run_dir)
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        if cfg.run.threads > 0:
            torch.set_num_threads(cfg.run.threads)
        try:
            torch.manual_seed(cfg.run.seed)
            net = _new_net(cfg)
            validate_metadata(json.loads(json.dumps(Style(name=cfg.run.style, net=net).metadata())), run)
            data = load_expert_data(
                catalog,
                expert,
                sliders=net.sliders,
                max_steps=net.max_steps,
                thumb=net.thumb,
                icfg=cfg.imitation,
                photos=photos,
                renditions=renditions,
            )
            samples = teacher_forcing(data, net.sliders, net.max_steps)
            log.info(
                "imitation: %d photos of expert %s (%s targets), %d teacher-forced states",
                len(data.targets),
                expert,
                data.summary["targets"],
                len(samples),
            )
            metrics_log = _start_files(cfg, run, data) if is_main else None
            result = train_imitation(
                net,
                samples,
                data,
                cfg.imitation,
                seed=cfg.run.seed,
                minutes=cfg.run.minutes if export else 0.0,
                on_row=metrics_log.append if metrics_log is not None else None,
                log_every=cfg.run.log_every,
            )
        finally:
            torch.set_num_threads(threads)
    out = ImitationRun(net=net, data=data, result=result)
    if is_main:
        _write_results(cfg, out, run, f"imitation of expert {expert} ({Path(catalog).name})", export, install_dir)
    return out


def _start_files(cfg: TrainConfig, run: Path, data: ExpertData) -> MetricsLog:
    """Write the run's ``config.toml`` and ``imitation/labels.json``; returns the ``imitation/metrics.csv`` log."""
    (run / "imitation").mkdir(parents=True, exist_ok=True)
    write_text_atomic(run / "config.toml", config_to_toml(cfg))
    write_text_atomic(run / "imitation" / "labels.json", _labels_json(data))
    return MetricsLog(run / "imitation" / "metrics.csv", IMITATION_COLUMNS)


def _write_results(
    cfg: TrainConfig, out: ImitationRun, run: Path, about: str, export: bool, install_dir: str | Path | None
) -> None:
    """Write ``imitation/imitation.json`` and, with ``export``, the style (into ``out``'s paths).

    Args:
        cfg: the experiment configuration.
        out: the finished run; its ``style_path``, ``installed_path`` and ``kept_path`` are set when the style is
            exported.
        run: the run folder.
        about: the style's description when ``run.description`` is empty.
        export: export the agent as the style ``run.style``.
        install_dir: also install the style there.
    """
    data, result = out.data, out.result
    metrics = {k: round(v, 6) for k, v in result.metrics().items() if math.isfinite(v)}
    if data.summary.get("fit_psnr") is not None:
        metrics |= {k: data.summary[k] for k in ("fit_psnr", "fit_psnr_pv2003", "fit_psnr_identity")}
    report = {"summary": data.summary, "metrics": metrics, "stopped_by": result.stopped_by}
    write_text_atomic(run / "imitation" / "imitation.json", json.dumps(report, indent=1, allow_nan=False) + "\n")
    if not export:
        return
    inst = Path(install_dir) if install_dir is not None else None
    style = Style(
        name=cfg.run.style,
        net=copy.deepcopy(out.net).cpu().eval(),
        description=cfg.run.description or about,
        training=data.summary | {"imitation_seconds": round(result.seconds, 1), "config": config_to_dict(cfg)},
        metrics=metrics,
        model_version=next_model_version(inst, cfg.run.style),
    )
    out.style_path = save_style(style, run / "style")
    if inst is not None:
        out.installed_path, out.kept_path = install_keeping(style, inst, trained_in=run / "style")


def write_finetune_checkpoint(cfg: TrainConfig, net: AgentNet, run_dir: str | Path, info: Any = None) -> Path | None:
    """Write a step-0 GAN checkpoint whose agent is ``net``, so ``train(cfg, ..., resume=True)`` fine-tunes it.

    Everything else in the checkpoint (critic weights, empty Adam states, random streams, empty fake pool) is
    exactly what a fresh :class:`trainer.train.Trainer` starts with, so the GAN phase is a plain run of
    ``run.steps`` steps that starts from the imitation weights. Collective under torchrun (every process
    calls it; the main one writes).

    Args:
        cfg: the configuration of the GAN phase (its ``[agent]`` must be the one ``net`` was built with).
        net: the imitation-trained agent.
        run_dir: the run folder (``checkpoints/`` below it).
        info: the process's place in the job (default: from the environment).

    Returns:
        The checkpoint's JSON path (main process), else ``None``.
    """
    from trainer.data.dataset import TrainingData
    from trainer.distributed import barrier, init_distributed
    from trainer.train import Trainer

    info = info or init_distributed()
    empty = torch.zeros(0)
    with torch.random.fork_rng(devices=[]):
        trainer = Trainer(cfg, TrainingData(empty, empty, empty, empty), info)
        trainer.net.load_state_dict(net.state_dict())
        ckpt = trainer.checkpoint()
    path = save_checkpoint(ckpt, Path(run_dir) / "checkpoints") if info.is_main else None
    barrier(info)
    return path
