"""The unpaired trainer: WGAN-GP critic + Exposure-style actor-critic agent over our sliders.

One generator step (``run.steps`` of them):

1. **Critic**, ``critic.n_critic`` times (``n_critic_warmup`` during the first ``warmup_steps``): "real" = random
   ``thumb`` crops of the favourites, "fake" = finished agent results drawn from a pool of recent ones; loss
   ``E[D(fake)] - E[D(real)] + lambda * GP`` (per-sample penalty, :mod:`trainer.losses`), lambda fixed or adaptive.
2. **Agent**, with the critic frozen (``requires_grad`` off): roll the agent out on a batch of inputs (slider
   choices sampled from the policy), keep the rendered state after every decision, and minimise the
   actor-critic losses of :mod:`trainer.rl` (slider values by back-propagating the critic's score through the
   renderer; slider choice by policy gradient with a TD advantage; entropy bonus).
3. The finished images enter the critic's pool.

Run folder ``runs/<style>/`` (``runs/<style>-2/``, ... when retraining, :mod:`trainer.run_folder`; or
``--run-dir``): ``config.toml`` (resolved), ``metrics.csv``, ``curves.png``, ``contact_sheet.png``, ``eval.json``,
``checkpoints/step_*.{safetensors,json}``, ``data_cache.*`` and ``style/<style>.{safetensors,json}`` (the exported
style). Under torchrun only rank 0 writes; gradients and
logged losses are averaged over processes (:mod:`trainer.distributed`).

Resuming (``resume=True``) restores weights, optimiser state, the adaptive lambda, every process's random
generators and critic pool, and truncates the metrics to the checkpoint, so a run split into pieces gives the
same weights as one uninterrupted run (same seed and process count).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from backend.agent.actions import AGENT_SLIDERS
from backend.agent.network import AgentNet
from backend.agent.rollout import Trajectory, rollout
from backend.agent.style import Style, save_style, validate_metadata
from backend.fsio import write_text_atomic
from trainer.checkpoint import (
    Checkpoint,
    flatten_optimizer,
    git_sha,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    unflatten_optimizer,
)
from trainer.config import ConfigError, TrainConfig, config_to_dict, config_to_toml
from trainer.critic import Critic
from trainer.data.dataset import TrainingData, build_dataset, sample_crops
from trainer.distributed import (
    DistInfo,
    all_gather_tensor,
    any_flag,
    average_gradients,
    barrier,
    broadcast_module,
    init_distributed,
    reduce_mean,
)
from trainer.evaluate import evaluate
from trainer.losses import AdaptiveLambda, critic_loss, gradient_penalty
from trainer.report import MetricsLog, contact_sheet, plot_curves
from trainer.result import TrainResult, install_keeping, next_model_version, summary_left_out_notes
from trainer.rl import episode_losses
from trainer.run_folder import default_run_dir
from trainer.run_lock import claim_run_dir
from trainer.summary_lines import counted

__all__ = ["METRIC_COLUMNS", "TrainResult", "Trainer", "rollout_with_states", "train"]

log = logging.getLogger(__name__)

#: Columns of ``metrics.csv`` (per-step means over the logging interval, averaged over processes).
METRIC_COLUMNS: tuple[str, ...] = (
    "step",
    "time_s",
    "images",
    "lr",
    "gp_lambda",
    "d_loss",
    "wasserstein",
    "gp",
    "grad_norm",
    "score_real",
    "score_fake",
    "reward",
    "return",
    "score_gain",
    "actor",
    "policy",
    "value",
    "entropy",
    "edits",
    "stop_early",
    "overexposure",
    "clipped",
    "critic_gap_after",
    "look_dist_after",
)

#: Metrics drawn in ``curves.png``.
PLOT_KEYS: tuple[str, ...] = (
    "wasserstein",
    "gp",
    "grad_norm",
    "return",
    "score_gain",
    "value",
    "entropy",
    "edits",
    "overexposure",
    "look_dist_after",
)


@contextmanager
def _frozen(module: torch.nn.Module) -> Iterator[None]:
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(f)


def rollout_with_states(
    net: AgentNet, thumb: Tensor, *, greedy: bool, generator: torch.Generator | None
) -> tuple[Trajectory, list[Tensor]]:
    """Roll out and keep every state image with its gradient, while the net itself sees detached states.

    A forward pre-hook records the state image the rollout feeds to the net at each decision (``s_0 .. s_{k-1}``,
    differentiable w.r.t. earlier slider values) and hands the net a detached copy; the final rendered image is
    ``s_k``.

    Returns:
        (trajectory, ``[s_0, ..., s_k]``) with ``k = len(trajectory.steps)``.
    """
    captured: list[Tensor] = []

    def hook(_module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        captured.append(args[0])
        return (args[0].detach(), *args[1:])

    handle = net.register_forward_pre_hook(hook)
    try:
        traj = rollout(net, thumb, greedy=greedy, generator=generator, render_final=True, detach_state=False)
    finally:
        handle.remove()
    if traj.image is None or len(captured) != len(traj.steps):
        raise RuntimeError("rollout did not feed one state per decision to the agent")  # contract violation
    return traj, [*captured, traj.image]


class Trainer:
    """The training state of one process and its update steps.

    Args:
        cfg: the experiment configuration.
        data: this process's (sharded) training data.
        info: the process's place in the job.
    """

    def __init__(self, cfg: TrainConfig, data: TrainingData, info: DistInfo) -> None:
        self.cfg = cfg
        self.data = data
        self.info = info
        a = cfg.agent
        torch.manual_seed(cfg.run.seed)  # identical initial weights on every process (then broadcast)
        self.net = AgentNet(
            sliders=a.sliders or AGENT_SLIDERS,
            max_steps=a.max_steps,
            width=a.width,
            dropout=a.dropout,
            thumb=a.thumb,
            encoder=a.encoder or "cnn",
        ).to(info.device)
        self.critic = Critic(cfg.critic.width).to(info.device)
        broadcast_module(self.net, info)
        broadcast_module(self.critic, info)
        betas = (cfg.optim.beta1, cfg.optim.beta2)
        policy = list(self.net.policy_head.parameters())
        rest = [p for p in self.net.parameters() if all(p is not q for q in policy)]
        self.opt_agent = torch.optim.Adam(
            [
                {"params": rest, "lr_scale": 1.0},
                {"params": policy, "lr_scale": cfg.optim.policy_lr_scale},
            ],
            lr=cfg.optim.lr,
            betas=betas,
        )
        self.opt_critic = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic.lr, betas=betas)
        self.adaptive = (
            AdaptiveLambda(
                cfg.critic.gp_lambda,
                window=cfg.critic.gp_window,
                bounds=cfg.critic.gp_bounds,
                growth=cfg.critic.gp_growth,
                decrease=cfg.critic.gp_decrease,
            )
            if cfg.critic.gp_adaptive
            else None
        )
        self.lam = cfg.critic.gp_lambda
        # per-process random streams: dropout uses torch's global RNG (and CUDA's on a GPU), data sampling uses
        # self.gen (CPU), rollout sampling and the penalty's interpolation weights use self.dgen (on the device)
        proc_seed = cfg.run.seed * 1_000_003 + 7 * info.rank + 1
        torch.manual_seed(proc_seed)
        self.gen = torch.Generator().manual_seed(proc_seed + 12_345)
        self.dgen = torch.Generator(device=info.device).manual_seed(proc_seed + 54_321)
        self.pool = torch.zeros(cfg.critic.pool, 3, a.thumb, a.thumb, device=info.device)
        self.pool_count = 0
        self.pool_next = 0
        self.step = 0
        self.elapsed = 0.0
        self.net.train()
        self.critic.train()

    # -- helpers ------------------------------------------------------------------------------------

    @property
    def n_sliders(self) -> int:
        """Number of sliders of the agent (= the stop action's index)."""
        return len(self.net.sliders)

    def lr_factor(self, step: int) -> float:
        """Learning-rate multiplier at ``step`` (Exposure's ``0.1 ** (3 t / T)`` decay when enabled)."""
        if not self.cfg.optim.lr_decay:
            return 1.0
        return 0.1 ** (self.cfg.optim.decay_exponent * min(step, self.cfg.run.steps) / self.cfg.run.steps)

    def entropy_weight(self, step: int) -> float:
        """Entropy bonus weight at ``step`` (linear decay to 0 over ``run.steps`` when enabled)."""
        w = self.cfg.rl.entropy_weight
        return w * max(0.0, 1.0 - step / self.cfg.run.steps) if self.cfg.rl.entropy_decay else w

    def _sources(self) -> Tensor:
        c = self.cfg
        return sample_crops(self.data.sources, c.data.batch, c.agent.thumb, self.gen, c.data.flip).to(self.info.device)

    def _push_pool(self, images: Tensor) -> None:
        for img in images.detach():
            self.pool[self.pool_next] = img
            self.pool_next = (self.pool_next + 1) % self.pool.shape[0]
            self.pool_count = min(self.pool_count + 1, self.pool.shape[0])

    def fill_pool(self) -> None:
        """Fill the critic's fake pool with results of the current agent (no gradients), as Exposure's warm-up."""
        with torch.no_grad():
            while self.pool_count < self.pool.shape[0]:
                src = self._sources()
                traj = rollout(self.net, src, greedy=not self.cfg.rl.sample, generator=self.dgen)
                assert traj.image is not None
                self._push_pool(traj.image)

    # -- updates ------------------------------------------------------------------------------------

    def critic_step(self) -> dict[str, float]:
        """One critic update; returns its (unreduced) numbers."""
        c = self.cfg
        real = sample_crops(self.data.targets, c.data.batch, c.agent.thumb, self.gen, c.data.flip).to(self.info.device)
        idx = torch.randint(0, self.pool_count, (c.data.batch,), generator=self.gen)
        flips = torch.rand(c.data.batch, generator=self.gen) < 0.5
        fake = self.pool[idx.to(self.info.device)]
        if c.data.flip:
            fake = torch.where(flips.to(self.info.device)[:, None, None, None], fake.flip(-1), fake)
        enc_real, enc_fake = Critic.encode(real), Critic.encode(fake)
        score_real, score_fake = self.critic.score(enc_real), self.critic.score(enc_fake)
        gp = gradient_penalty(
            self.critic.score, enc_real, enc_fake, lam=self.lam, one_sided=c.critic.gp_one_sided, generator=self.dgen
        )
        loss, wasserstein = critic_loss(score_real, score_fake, gp.penalty)
        self.opt_critic.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.critic.parameters(), self.info)
        self.opt_critic.step()
        norm = gp.norms.mean().item()
        if self.adaptive is not None:
            norm = reduce_mean({"n": norm}, self.info)["n"]
            self.lam = self.adaptive.update(norm)
        return {
            "d_loss": loss.item(),
            "wasserstein": wasserstein.item(),
            "gp": gp.penalty.item(),
            "grad_norm": norm,
            "score_real": score_real.mean().item(),
            "score_fake": score_fake.mean().item(),
        }

    def generator_step(self) -> dict[str, float]:
        """One agent update (critic frozen); returns its (unreduced) numbers."""
        src = self._sources()
        with _frozen(self.critic):
            traj, states = rollout_with_states(self.net, src, greedy=not self.cfg.rl.sample, generator=self.dgen)
            out = episode_losses(
                traj,
                states,
                self.critic,
                self.cfg.rl,
                n_sliders=self.n_sliders,
                max_steps=self.net.max_steps,
                entropy_weight=self.entropy_weight(self.step),
                sliders=self.net.sliders,
            )
            self.opt_agent.zero_grad(set_to_none=True)
            out.loss.backward()
        average_gradients(self.net.parameters(), self.info)
        if self.cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.optim.grad_clip)
        self.opt_agent.step()
        self._push_pool(states[-1])
        return out.metrics

    def train_step(self) -> dict[str, float]:
        """Critic updates then one agent update; advances ``self.step``; returns the step's numbers."""
        c = self.cfg
        factor = self.lr_factor(self.step)
        for g in self.opt_agent.param_groups:
            g["lr"] = c.optim.lr * factor * g["lr_scale"]
        for g in self.opt_critic.param_groups:
            g["lr"] = c.critic.lr * factor
        if self.pool_count == 0:
            self.fill_pool()
        n_critic = c.critic.n_critic_warmup if self.step < c.critic.warmup_steps else c.critic.n_critic
        sums: dict[str, float] = {}
        for _ in range(n_critic):
            for k, v in self.critic_step().items():
                sums[k] = sums.get(k, 0.0) + v / n_critic
        metrics = sums | self.generator_step()
        self.step += 1
        return metrics | {"lr": c.optim.lr * factor, "gp_lambda": self.lam}

    # -- checkpoints --------------------------------------------------------------------------------

    def _proc_state(self) -> dict[str, Tensor]:
        cuda = {"cuda_rng": torch.cuda.get_rng_state(self.info.device)} if self.info.device.type == "cuda" else {}
        return cuda | {
            "torch_rng": torch.get_rng_state(),
            "gen": self.gen.get_state(),
            "dgen": self.dgen.get_state(),
            "pool": self.pool.detach(),
            "pool_state": torch.tensor([self.pool_count, self.pool_next], dtype=torch.int64),
        }

    def checkpoint(self) -> Checkpoint:
        """This job's checkpoint (collective under torchrun: every process must call it)."""
        tensors: dict[str, Tensor] = {}
        for k, v in self.net.state_dict().items():
            tensors[f"agent.{k}"] = v
        for k, v in self.critic.state_dict().items():
            tensors[f"critic.{k}"] = v
        opt_a, meta_a = flatten_optimizer(self.opt_agent, "opt.agent")
        opt_c, meta_c = flatten_optimizer(self.opt_critic, "opt.critic")
        tensors |= opt_a | opt_c
        for name, value in self._proc_state().items():
            gathered = all_gather_tensor(value.to(self.info.device), self.info)
            for rank, t in enumerate(gathered):
                tensors[f"proc.{rank}.{name}"] = t.cpu()
        meta = {
            "world": self.info.world,
            "elapsed_s": self.elapsed,
            "gp_lambda": self.lam,
            "adaptive": None if self.adaptive is None else self.adaptive.state(),
            "optimizers": {"agent": meta_a, "critic": meta_c},
            "config": config_to_dict(self.cfg),
            "git_sha": git_sha(),
        }
        return Checkpoint(step=self.step, tensors=tensors, meta=meta)

    def restore(self, ckpt: Checkpoint) -> None:
        """Load a checkpoint written by :meth:`checkpoint` (exact when the process count is the same)."""
        t, meta = ckpt.tensors, ckpt.meta
        self.net.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("agent.")})
        self.critic.load_state_dict({k[7:]: v for k, v in t.items() if k.startswith("critic.")})
        unflatten_optimizer(self.opt_agent, "opt.agent", t, meta["optimizers"]["agent"])
        unflatten_optimizer(self.opt_critic, "opt.critic", t, meta["optimizers"]["critic"])
        self.step = ckpt.step
        self.elapsed = float(meta.get("elapsed_s", 0.0))
        self.lam = float(meta["gp_lambda"])
        if self.adaptive is not None and meta.get("adaptive") is not None:
            self.adaptive.load_state(meta["adaptive"])
        prefix = f"proc.{self.info.rank}."
        needed = [f"{prefix}{k}" for k in self._proc_state()]
        if meta.get("world") != self.info.world or any(k not in t for k in needed):
            log.warning(
                "checkpoint was written by %s processes (this job: %d) or lacks some random state: "
                "random streams restart, so the continuation is not exact",
                meta.get("world"),
                self.info.world,
            )
            return
        torch.set_rng_state(t[f"{prefix}torch_rng"])
        if self.info.device.type == "cuda":
            torch.cuda.set_rng_state(t[f"{prefix}cuda_rng"], self.info.device)
        self.gen.set_state(t[f"{prefix}gen"])
        self.dgen.set_state(t[f"{prefix}dgen"])
        pool = t[f"{prefix}pool"]
        if pool.shape == self.pool.shape:
            self.pool.copy_(pool.to(self.pool.device))
            self.pool_count, self.pool_next = (int(v) for v in t[f"{prefix}pool_state"].tolist())


# -- the run ----------------------------------------------------------------------------------------


def _summary_for_style(summary: dict[str, Any], cfg: TrainConfig, step: int, elapsed: float) -> dict[str, Any]:
    small = {k: v for k, v in summary.items() if not isinstance(v, list) or len(v) <= 64}
    small.pop("unedits", None)
    if "unedits" in summary:
        small["unedit_recipes"] = len(summary["unedits"])
    return small | {"steps": step, "train_seconds": round(elapsed, 1), "config": config_to_dict(cfg)}


def _export_style(
    trainer: Trainer,
    summary: dict[str, Any],
    metrics: dict[str, float],
    run_dir: Path,
    install_dir: Path | None,
) -> tuple[Path, Path | None, Path | None]:
    cfg = trainer.cfg
    net = copy.deepcopy(trainer.net).cpu().eval()
    targets = summary.get("targets")
    favourites = counted(targets, "favourite") if isinstance(targets, int) else "? favourites"
    style = Style(
        name=cfg.run.style,
        net=net,
        description=cfg.run.description or f"trained by autoretouch train on {favourites}",
        training=_summary_for_style(summary, cfg, trainer.step, trainer.elapsed),
        metrics={k: round(v, 6) for k, v in metrics.items() if math.isfinite(v)},
        model_version=next_model_version(install_dir, cfg.run.style),
    )
    path = save_style(style, run_dir / "style")
    if install_dir is None:
        return path, None, None
    installed = install_keeping(style, install_dir, trained_in=run_dir / "style")
    return path, installed.path, installed.kept


# Long: dispatch of `train` over the methods and sources, with the shared set-up around it; half of it is the docstring.
def train(
    cfg: TrainConfig,
    *,
    targets: str | Path | None,
    sources: str | Path | None = None,
    pairs: tuple[str | Path, str | Path] | None = None,
    catalog: tuple[str | Path, str, str | Path | None] | None = None,
    darktable: str | Path | None = None,
    edits: Sequence[Mapping[str, Any]] | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    install_dir: str | Path | None = None,
    progress: bool = False,
    info: DistInfo | None = None,
    stop_after: int | None = None,
) -> TrainResult:
    """Train a style (see the module docstring).

    Args:
        cfg: the experiment configuration (``run.steps`` / ``run.minutes`` limit the run).
        targets: folder of favourites (``None`` with ``pairs``).
        sources: folder of inputs, or ``None`` for the built-in un-edited pool.
        pairs: ``(originals folder, edits folder)``: before/after pairs of the photographer's own edits
            (restoration training only, :mod:`trainer.restore_pairs`).
        catalog: ``(lrcat, selection, photos folder or None)``: the develop settings of a Lightroom catalog's
            favourites (``picks``, ``rating:N``, ``collection:NAME``), learnt as pairs (restoration only).
        darktable: a folder of photos with darktable sidecars, learnt as pairs with darktable-cli's renders.
        edits: ``{"path", "settings"}`` per photo: originals with their Lightroom develop settings (the
            plug-in's "train from selection"), learnt as pairs.
        run_dir: the run folder (default :func:`trainer.run_folder.default_run_dir`: ``runs/<style>``, or the next
            free ``runs/<style>-N`` once the newest holds a finished run or another training holds it; with
            ``resume`` the newest). Held for the run (:func:`trainer.run_lock.claim_run_dir`).
        resume: continue from the newest checkpoint in ``run_dir/checkpoints``.
        install_dir: also install the exported style into this style folder (``None``: only the run folder).
        progress: show a tqdm progress bar (rank 0).
        info: the process's place in a torchrun job (default: from the environment).
        stop_after: stop (with a checkpoint, without exporting a style) once this many steps are done in total;
            used to split a run into pieces.

    Returns:
        :class:`TrainResult`.

    Raises:
        ConfigError: the run folder already has checkpoints and ``resume`` is off.
        RunFolderInUseError: ``run_dir`` (or with ``resume`` the newest run folder) is held by another training
            (:mod:`trainer.run_lock`; without ``run_dir`` a new run takes the next free folder instead).
        NotFoundError: a folder is missing or empty, or ``resume`` found no checkpoint.
    """
    info = info or init_distributed()
    with contextlib.ExitStack() as held:
        if info.is_main:  # the folder is held for the run (re-entrant: the CLI may hold it already)
            run_path = None if run_dir is None else Path(run_dir)
            run = held.enter_context(claim_run_dir(cfg.run.style, run_dir=run_path, resume=resume)).folder
        else:
            run = Path(run_dir or default_run_dir(cfg.run.style, resume=resume))
        paired = pairs is not None or catalog is not None or darktable is not None or edits is not None
        if paired and cfg.run.method != "restore":
            raise ConfigError(
                "--pairs, --favourites and --darktable train by restoration (run.method = 'restore'), not by the GAN"
            )
        if cfg.run.method == "restore":
            if resume or stop_after is not None:
                raise ConfigError("--resume continues a GAN run (run.method = 'gan'); a restoration run starts afresh")
            from trainer.restore import train_restore

            with _run_scope(cfg):
                return train_restore(
                    cfg,
                    targets=targets,
                    sources=sources,
                    pairs=pairs,
                    catalog=catalog,
                    darktable=darktable,
                    edits=edits,
                    run=run,
                    install_dir=install_dir,
                    progress=progress,
                    info=info,
                )
        if targets is None:
            raise ConfigError("GAN training needs a folder of favourites (--targets)")
        ckpt_dir = run / "checkpoints"
        if not resume and latest_checkpoint(ckpt_dir) is not None:
            raise ConfigError(f"{run}: the run folder already has checkpoints; use --resume or another --run-dir")
        if resume and latest_checkpoint(ckpt_dir) is None:
            from backend.errors import NotFoundError

            raise NotFoundError(f"{ckpt_dir}: no checkpoint to resume from")
        with _run_scope(cfg):
            return _run(cfg, info, run, ckpt_dir, targets, sources, resume, install_dir, progress, stop_after)


@contextmanager
def _run_scope(cfg: TrainConfig) -> Iterator[None]:
    """A training run's scope: the caller's random streams forked away, torch threads set to ``run.threads``."""
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        if cfg.run.threads > 0:
            torch.set_num_threads(cfg.run.threads)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def _run(
    cfg: TrainConfig,
    info: DistInfo,
    run: Path,
    ckpt_dir: Path,
    targets: str | Path,
    sources: str | Path | None,
    resume: bool,
    install_dir: str | Path | None,
    progress: bool,
    stop_after: int | None,
) -> TrainResult:
    """Build the data and the trainer (inside the caller's RNG fork), optionally resume, then loop."""
    if info.is_main:
        run.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run / "config.toml", config_to_toml(cfg))
        full = build_dataset(targets, sources, cfg.data, thumb=cfg.agent.thumb, seed=cfg.run.seed, cache_dir=run)
    barrier(info)
    if not info.is_main:
        full = build_dataset(targets, sources, cfg.data, thumb=cfg.agent.thumb, seed=cfg.run.seed, cache_dir=run)
    data = full.shard(info.rank, info.world)
    log.info(
        "data: %d favourites, %d training inputs (%s), %d held out; this process trains on %d/%d",
        full.targets.shape[0],
        full.sources.shape[0],
        "built-in un-edited pool" if sources is None else "from the sources folder",
        full.eval_sources.shape[0],
        data.sources.shape[0],
        data.targets.shape[0],
    )
    trainer = Trainer(cfg, data, info)
    # refuse a style name the style store would refuse, before spending time on training
    validate_metadata(json.loads(json.dumps(Style(name=cfg.run.style, net=trainer.net).metadata())), run)
    resume_step = None
    if resume:
        ckpt = load_checkpoint(ckpt_dir)
        trainer.restore(ckpt)
        resume_step = ckpt.step
        log.info("resumed from step %d", ckpt.step)
    return _loop(trainer, full, run, install_dir, progress, resume_step, stop_after)


def _loop(
    trainer: Trainer,
    full: TrainingData,
    run: Path,
    install_dir: str | Path | None,
    progress: bool,
    resume_step: int | None,
    stop_after: int | None,
) -> TrainResult:
    cfg, info = trainer.cfg, trainer.info
    metrics_log = MetricsLog(run / "metrics.csv", METRIC_COLUMNS, resume_step) if info.is_main else None
    bar = None
    if progress and info.is_main:
        from tqdm import tqdm

        bar = tqdm(total=cfg.run.steps, initial=trainer.step, desc=cfg.run.style, unit="step", dynamic_ncols=True)
    end_step = cfg.run.steps if stop_after is None else min(cfg.run.steps, stop_after)
    deadline = time.monotonic() + cfg.run.minutes * 60.0 if cfg.run.minutes > 0 else math.inf
    acc: dict[str, float] = {}
    n_acc = 0
    stopped_by = "steps"
    last_eval: dict[str, float] = {}
    t_last = time.monotonic()
    try:
        while trainer.step < end_step:
            if any_flag(time.monotonic() > deadline, info):
                stopped_by = "minutes"
                break
            step_metrics = trainer.train_step()
            now = time.monotonic()
            trainer.elapsed += now - t_last
            t_last = now
            for k, v in step_metrics.items():
                acc[k] = acc.get(k, 0.0) + v
            n_acc += 1
            if bar is not None:
                bar.update(1)
            step = trainer.step
            if cfg.run.eval_every > 0 and step % cfg.run.eval_every == 0 and step < end_step and info.is_main:
                last_eval = _evaluate(trainer, full, run)
            if step % cfg.run.log_every == 0 or step == end_step:
                row = reduce_mean({k: v / n_acc for k, v in acc.items()}, info)
                acc, n_acc = {}, 0
                if last_eval.get("step") == step:
                    row |= {k: last_eval[k] for k in ("critic_gap_after", "look_dist_after")}
                row |= {"step": step, "time_s": trainer.elapsed, "images": step * cfg.data.batch * info.world}
                if metrics_log is not None:
                    metrics_log.append(row)
                if bar is not None:
                    bar.set_postfix(
                        W=f"{row['wasserstein']:.3f}", ret=f"{row['return']:.3f}", edits=f"{row['edits']:.1f}"
                    )
                if metrics_log is not None and cfg.run.plot_every > 0 and step % cfg.run.plot_every == 0:
                    plot_curves(metrics_log.rows(), PLOT_KEYS, run / "curves.png")
            if cfg.run.checkpoint_every > 0 and step % cfg.run.checkpoint_every == 0 and step < end_step:
                _save(trainer, run, info)
    finally:
        if bar is not None:
            bar.close()
    _save(trainer, run, info)
    log.info("stopped at step %d (%s) after %.0f s of training", trainer.step, stopped_by, trainer.elapsed)
    result = TrainResult(run_dir=run, step=trainer.step, stopped_by=stopped_by, style_path=None, installed_path=None)
    result.net = trainer.net
    finished = trainer.step >= cfg.run.steps or stopped_by == "minutes"
    if info.is_main:
        last_eval = _evaluate(trainer, full, run)
        plot_curves(metrics_log.rows() if metrics_log else [], PLOT_KEYS, run / "curves.png")
        result.metrics = last_eval
        result.notes = summary_left_out_notes(full.summary)  # worded as the restoration's
        if finished:
            inst = Path(install_dir) if install_dir is not None else None
            exported = _export_style(trainer, full.summary, last_eval, run, inst)
            result.style_path, result.installed_path, result.kept_path = exported
    barrier(info)
    return result


def _save(trainer: Trainer, run: Path, info: DistInfo) -> None:
    ckpt = trainer.checkpoint()  # collective
    if info.is_main:
        save_checkpoint(ckpt, run / "checkpoints")
    barrier(info)


def _evaluate(trainer: Trainer, full: TrainingData, run: Path) -> dict[str, float]:
    """Evaluate (rank 0), refresh ``contact_sheet.png`` and ``eval.json``; no random stream is touched."""
    ev = evaluate(
        trainer.net,
        trainer.critic,
        full.eval_sources.to(trainer.info.device),
        full.eval_targets.to(trainer.info.device),
    )
    metrics = dict(ev.metrics) | {"step": float(trainer.step)}
    n = min(8, ev.before.shape[0])
    contact_sheet(
        ev.before[:n], ev.after[:n], run / "contact_sheet.png", targets=full.eval_targets[:8], captions=ev.captions
    )
    write_text_atomic(run / "eval.json", json.dumps(metrics, indent=1, allow_nan=False) + "\n")
    return metrics
