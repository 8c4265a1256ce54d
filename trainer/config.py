"""Experiment configuration: frozen dataclasses loaded from a TOML file, with typed ``section.key=value`` overrides.

One TOML file per experiment (``configs/*.toml``) with the sections ``[agent]``, ``[critic]``, ``[rl]``,
``[optim]``, ``[data]``, ``[run]`` and ``[imitation]`` (slider-history training, :mod:`trainer.imitation`); every key is optional (the dataclass default applies) and unknown keys
are refused. Values are converted by the field's declared type (``int``, ``float``, ``bool``, ``str``,
``tuple[str, ...]``, ``tuple[float, float]``); nothing is ever evaluated as code. The resolved configuration is
written back as TOML into the run folder (:func:`config_to_toml`) and recorded in checkpoints and styles
(:func:`config_to_dict`).

Example::

    cfg = load_config("configs/default.toml", overrides=["critic.n_critic=3", "run.steps=500"])
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.errors import AutoretouchError
from backend.sliders.catalog import BASIC_TONE_SLIDERS, CATALOG

__all__ = [
    "RESTORE_SLIDERS",
    "SEED_MAX",
    "AgentConfig",
    "ConfigError",
    "CriticConfig",
    "DataConfig",
    "ImitationConfig",
    "OptimConfig",
    "RLConfig",
    "RestoreConfig",
    "RunConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "config_to_toml",
    "load_config",
    "number_text",
    "read_config_file",
]

#: The largest ``run.seed``: the trainer derives its generators' seeds from it by small products and sums, which
#: must stay within torch's 64-bit seed range.
SEED_MAX = (1 << 32) - 1


class ConfigError(AutoretouchError, ValueError):
    """A training configuration file or override is malformed (unknown key, wrong type, bad value)."""

    exit_code = 3


@dataclass(frozen=True)
class AgentConfig:
    """The agent network (see ``backend.agent.network.AgentNet``).

    Attributes:
        sliders: sliders the agent may choose; empty = every global catalog slider (``AGENT_SLIDERS``).
        max_steps: edits per photo at most (Exposure used 5).
        width: base channel width of the conv trunk.
        dropout: dropout probability (kept on during training).
        thumb: thumbnail side in pixels the agent and the critic see (64; tests use 32).
        encoder: the agent's image encoder, ``"cnn"`` or ``"stats"`` (statistics only; see
            ``backend.agent.network.AgentNet``); empty = the method's choice (restore: ``"stats"``, gan: ``"cnn"``).
    """

    sliders: tuple[str, ...] = ()
    max_steps: int = 5
    width: int = 32
    dropout: float = 0.1
    thumb: int = 64
    encoder: str = ""


@dataclass(frozen=True)
class CriticConfig:
    """The WGAN-GP critic and its penalty.

    Attributes:
        width: base channel width of the critic's conv trunk.
        n_critic: critic updates per generator step (Exposure: 5).
        n_critic_warmup: critic updates per generator step during the first ``warmup_steps`` steps (Exposure: 100).
        warmup_steps: generator steps that use ``n_critic_warmup``.
        gp_lambda: penalty weight lambda (initial value when adaptive); Exposure: 10.
        gp_one_sided: ``max(||g|| - 1, 0)^2`` (Exposure) instead of ``(||g|| - 1)^2``.
        gp_adaptive: DPE's adaptive lambda: keep the windowed mean gradient norm inside ``gp_bounds``.
        gp_window: iterations in the moving window of the adaptive rule (DPE: 50).
        gp_bounds: (low, high) bounds of the mean gradient norm (DPE: 1.001, 1.05).
        gp_growth: factor lambda is multiplied (or divided) by when the mean leaves the bounds (DPE: 2).
        gp_decrease: also decrease lambda below the lower bound (DPE's released code only increases).
        lr: critic learning rate (Exposure: 5e-5 over 20,000 iterations of batch 64).
        pool: number of finished agent images kept as the critic's "fake" pool.
    """

    width: int = 16
    n_critic: int = 5
    n_critic_warmup: int = 20
    warmup_steps: int = 10
    gp_lambda: float = 10.0
    gp_one_sided: bool = True
    gp_adaptive: bool = False
    gp_window: int = 50
    gp_bounds: tuple[float, float] = (1.001, 1.05)
    gp_growth: float = 2.0
    gp_decrease: bool = True
    lr: float = 5e-4
    pool: int = 64


@dataclass(frozen=True)
class RLConfig:
    """Rewards and actor-critic losses (Exposure-style).

    The step reward is ``reward_scale * (D(s_{t+1}) - D(s_t)) - step_penalty * [edit]
    - early_stop_penalty * [stop before max_steps] - overexposure_penalty * (over(s_{t+1}) - over(s_t))``
    with ``over(x)`` the mean over pixels of ``max(max_c x - 1, 0)`` (linear light above 1).

    Attributes:
        reward_scale: weight of the critic score improvement (Exposure: 0.05).
        step_penalty: cost of each edit (keeps recipes short).
        early_stop_penalty: cost of stopping before ``max_steps`` (Exposure: 1, unreachable there).
        overexposure_penalty: weight of the change of mean linear light above 1.
        entropy_weight: weight of the policy entropy bonus (Exposure: 0.05).
        entropy_decay: decay the entropy weight linearly to 0 over ``run.steps``.
        value_weight: weight of the state-value (TD) loss.
        sample: sample slider choices during training (``False`` = greedy argmax).
        all_actions: score every allowed slider at every decision (each proposed value applied alone to the
            state, see :func:`trainer.rl.action_gains`) and train the policy with the expected policy gradient
            over all actions instead of the sampled one; ``False`` = Exposure's sampled policy gradient.
        all_actions_items: with ``all_actions``, how many items of each batch are scored (the critic runs on
            ``items * (sliders + 1)`` images per decision, the dominant cost).
    """

    reward_scale: float = 0.05
    step_penalty: float = 0.001
    early_stop_penalty: float = 0.0
    overexposure_penalty: float = 1.0
    entropy_weight: float = 0.05
    entropy_decay: bool = True
    value_weight: float = 1.0
    sample: bool = True
    all_actions: bool = True
    all_actions_items: int = 4


@dataclass(frozen=True)
class OptimConfig:
    """Adam optimisers (Exposure: beta1 0.5, beta2 0.9; generator lr 1.5e-5 with value lr 1.5e-4, decay exponent 3).

    Our defaults are higher and decay less because CPU runs are ~10x shorter than Exposure's 20,000 iterations.

    Attributes:
        lr: agent learning rate.
        beta1: Adam beta1.
        beta2: Adam beta2.
        lr_decay: multiply every learning rate by ``0.1 ** (decay_exponent * step / run.steps)`` (Exposure: 3).
        decay_exponent: see ``lr_decay``.
        grad_clip: clip the agent's gradient norm (0 = off).
        policy_lr_scale: the policy head (slider-choice logits) learns at ``lr * policy_lr_scale``: Adam moves a
            weight by about ``lr`` per step, and a clear preference needs logits several units apart, which at
            ``lr`` alone takes thousands of steps (Exposure trained 20,000).
    """

    lr: float = 5e-4
    beta1: float = 0.5
    beta2: float = 0.9
    lr_decay: bool = True
    decay_exponent: float = 1.0
    grad_clip: float = 1.0
    policy_lr_scale: float = 10.0


@dataclass(frozen=True)
class DataConfig:
    """Data: favourites (targets), inputs (sources) and the built-in un-edited pool.

    Attributes:
        batch: images per generator / critic step (per process under torchrun).
        cache_size: side of the cached square crops the random ``agent.thumb`` crops are cut from (0 = thumb*5/4).
        crops_per_image: cached square crops per photo (the first is the centre crop).
        eval_size: side of the cached centre crops used for evaluation and the contact sheet.
        eval_images: number of source photos held out for evaluation (0 = none).
        unedit_per_target: un-edited sources made from each target when ``--sources`` is not given.
        unedit_exposure: un-edit exposure shift, uniform in [-x, +x] EV.
        unedit_flatten: strength k in (0, 1) of the inverse S-curve, uniform in [0, x].
        unedit_temperature: white-balance shift, uniform in [-x, +x] (temperature units).
        unedit_tint: tint shift, uniform in [-x, +x].
        unedit_desaturate: saturation reduction, uniform in [0, x] (saturation units, applied as -x).
        flip: random horizontal flips.
        max_images: cap on photos read from each folder (0 = all).
    """

    batch: int = 16
    cache_size: int = 0
    crops_per_image: int = 4
    eval_size: int = 128
    eval_images: int = 8
    unedit_per_target: int = 2
    unedit_exposure: float = 1.0
    unedit_flatten: float = 0.6
    unedit_temperature: float = 30.0
    unedit_tint: float = 15.0
    unedit_desaturate: float = 40.0
    flip: bool = True
    max_images: int = 0


@dataclass(frozen=True)
class RunConfig:
    """The run: length, seed, logging, checkpoints.

    Attributes:
        style: style name (also the run folder name).
        description: one line stored in the exported style.
        steps: generator steps (also the horizon of the learning-rate decay and the entropy decay).
        minutes: wall-clock limit in minutes (0 = none); training stops at whichever comes first.
        seed: random seed (each process of a torchrun job adds its rank).
        log_every: steps between metric rows.
        checkpoint_every: steps between checkpoints (0 = only at the end).
        eval_every: steps between evaluations (0 = only at the end).
        plot_every: steps between plot refreshes (0 = only at the end).
        threads: torch CPU threads (0 = leave torch's default).
        method: ``"restore"`` (the default: self-supervised restoration of un-edited favourites through the
            renderer, :mod:`trainer.restore`) or ``"gan"`` (the WGAN-GP critic + actor-critic agent of
            :mod:`trainer.train`).
        force: install the style even when it does worse than doing nothing in its check (held-out,
            cross-fitted, or in-sample with too few photos).
    """

    style: str = "default"
    description: str = ""
    steps: int = 2000
    minutes: float = 0.0
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 200
    eval_every: int = 200
    plot_every: int = 200
    threads: int = 0
    method: str = "restore"
    force: bool = False


#: Sliders of a restoration-trained (one-shot) agent when ``agent.sliders`` is empty: the global scalar sliders
#: photographers use for a global correction, plus the tone curve; per-channel curves, HSL and black & white
#: are left out (with nothing in the un-edits for them to undo they only add noise).
RESTORE_SLIDERS: tuple[str, ...] = (
    *BASIC_TONE_SLIDERS,
    "vibrance",
    "saturation",
    "temperature",
    "tint",
    "tone_curve",
)


@dataclass(frozen=True)
class RestoreConfig:
    """Self-supervised restoration training (``run.method = "restore"``, :mod:`trainer.restore`).

    Every favourite, rendered with a random "un-edit" recipe (:mod:`trainer.data.unedit`), is an input whose
    correct result is the favourite itself; a one-shot agent learns to restore it, the loss measured through the
    differentiable renderer.

    Attributes:
        lr: Adam learning rate (cosine-decayed to 10 % over the run's steps or minutes).
        batch: training pairs per step.
        lab_weight: weight of the CIELAB L1 term (per 100 units of L*a*b*) beside the sRGB L1 term.
        sparsity: weight of the L1 penalty on every slider's move (in units of its half-range), so that the
            recipe keeps to the moves the photo needs.
        pool_per_target: un-edited copies of every training favourite in the pair pool.
        val_fraction: share of the favourites held out to select the checkpoint and check the style
            against doing nothing (at least one, when there are 4 or more favourites).
        val_unedits: fixed un-edits per held-out favourite.
        eval_every: steps between held-out checks (the best one is kept).
        unedit: the un-edit distribution: ``"photographer"`` (the inverse of real photographers' corrections,
            see :mod:`trainer.data.unedit`) or ``"uniform"`` (the ``data.unedit_*`` ranges).
        unedit_scale: multiplies the spread of every un-edit move.
        overexposed: share of un-edits whose exposure is uniform in +-``overexposed_ev`` instead (so the
            style also learns to darken).
        overexposed_ev: range of those exposure un-edits, in EV.
        fit_sources: with ``--sources``, centre the un-edits on the recipe that makes the favourites look like
            the sources (fitted by matching look statistics), instead of the photographer prior's centre.
        min_gain_db: the gain over doing nothing in the check (PSNR, dB) a style needs to be installed without
            ``run.force``.
        unedit_sliders: un-edit only these sliders of the photographer prior (empty: all of them).
        steepen: the un-edit tone curve's strength is uniform in ``[-steepen, 0.5]`` (negative: more contrast).
        weight_decay: AdamW weight decay of the agent.
        dist_weight: with ``--sources``, weight of a distribution term: the mean look statistics
            (:func:`backend.agent.look.look_descriptor`) of the agent's results on a batch of sources should equal
            those of the favourites (0: off).
        fit_sliders: the sliders of the un-edit centre fitted to the sources (from
            ``trainer.restore_fit.FIT_SLIDERS``); the others keep a centre of zero.
        loss: the image term on sRGB-encoded values: ``"l1"`` (mean absolute error) or ``"l2"`` (mean squared
            error, the quantity PSNR measures).
        pair_jitter: with ``--pairs``, share of the training views whose original is first rendered with a
            small zero-centred camera change (:func:`trainer.data.unedit.jitter_settings`); the edit stays the
            target.
        pair_jitter_ev: exposure range of that change, +- EV.
        pair_jitter_wb: standard deviation of its temperature change (mired; tint half of it).
        self_share: with ``--pairs``, extra training views made from the edits themselves (an un-edited edit
            restored to the edit, as without pairs), as a share of the pairs' own views (0: none).
        fit_size: with ``--pairs``, side of the squeezed thumbnails every pair's recipe is fitted at (pixels).
        fit_iters: Adam iterations of that fit (:func:`trainer.pseudo_labels.fit_recipes`).
        poor_fit_db: a pair whose fitted recipe reproduces the edit worse than this (PSNR, dB) is reported
            as poorly fitted (a crop, a local edit, another raw converter) and its weight in the loss shrinks
            by a tenth per dB below it (at least 0.1).
        nearest_blend: the share of the nearest-edits recipe in the suggestions of a style learnt from pairs
            (0: the agent alone; stored with the style as ``examples.blend``).
        check_folds: with ``--pairs``, the check is cross-fitted over this many groups of pairs (every pair
            scored by an agent trained without it, :func:`trainer.restore_pairs.crossfit_check`) and the style
            trains on every pair; below 2, or with fewer than twice as many pairs, ``val_fraction`` is held out.
        check_share: share of the run's steps or minutes that the cross-fitted check takes (all groups together).
        nearest_blends: with ``--pairs`` and the cross-fitted check, other candidate shares of the nearest edits:
            the check scores the style's mix at each and at ``nearest_blend``, and the best replaces
            ``nearest_blend`` where it wins clearly (:func:`trainer.restore_pairs._choose_blend`; empty: no choice).
        nearest_k: the "nearest edits" baseline stored with a paired style averages the fitted recipes of this
            many most similar training photos.
        mix_k: the recipe a paired style's suggestions mix with its agent's (``nearest_blend``) averages the
            fitted recipes of this many most similar training photos; 0 (or as many as there are): all of them,
            combined as ``mix_centre`` says (stored as ``examples.mix_k``; on the FiveK development split all of
            them mixed better than the 5 nearest, README).
        mix_centre: how all the training recipes are combined when ``mix_k`` takes them all: ``"median"``
            (slider by slider their weighted median edit: as good as the mean on FiveK, and a few photos turned
            black and white or edited very differently do not pull every suggestion towards them, README) or
            ``"mean"`` (their weighted mean edit, as before). Stored as ``examples.mix_centre``.
        prior: a style (a name in the style store, or the path of its ``.safetensors``) whose one-shot agent is
            copied into a style learnt from favourites (``--targets``, with or without ``--sources``): its
            suggestions blend the learnt agent's recipe with the prior's, shrinking a style learnt from a few
            photos towards a general "auto" (``""``: none; styles learnt from pairs use their nearest edits).
            ``"default"`` always means the SHIPPED default style (``backend/styles/default``), loaded from the
            shipped folder, never a user's style named ``default`` that shadows it for the other commands.
        prior_share: the prior recipe's share in that blend, in (0, 1]; with ``--sources``, the share is chosen
            among 0, half and all of it by the sources' look (:func:`trainer.restore.fit_prior_share`).
    """

    lr: float = 1e-3
    batch: int = 16
    lab_weight: float = 0.5
    sparsity: float = 0.002
    pool_per_target: int = 48
    val_fraction: float = 0.2
    val_unedits: int = 8
    eval_every: int = 100
    unedit: str = "photographer"
    unedit_scale: float = 1.0
    overexposed: float = 0.25
    overexposed_ev: float = 1.5
    fit_sources: bool = True
    min_gain_db: float = 0.0
    unedit_sliders: tuple[str, ...] = ()
    steepen: float = 0.0
    weight_decay: float = 0.0
    dist_weight: float = 0.0
    loss: str = "l2"
    fit_sliders: tuple[str, ...] = ("exposure",)
    pair_jitter: float = 0.5
    pair_jitter_ev: float = 1.0
    pair_jitter_wb: float = 8.0
    self_share: float = 0.0
    fit_size: int = 64
    fit_iters: int = 150
    poor_fit_db: float = 25.0
    nearest_k: int = 5
    mix_k: int = 0
    mix_centre: str = "median"
    nearest_blend: float = 0.5
    nearest_blends: tuple[float, ...] = (0.0, 0.25, 0.75, 1.0)
    check_folds: int = 2
    check_share: float = 0.3
    prior: str = "default"
    prior_share: float = 0.5


@dataclass(frozen=True)
class ImitationConfig:
    """Slider-history training (``autoretouch train --lrcat``): behaviour cloning and pseudo-label fitting.

    See :mod:`trainer.imitation` and :mod:`trainer.pseudo_labels`.

    Attributes:
        steps: behaviour-cloning optimiser steps.
        batch: teacher-forced states per step.
        lr: Adam learning rate of behaviour cloning (betas 0.9, 0.999; cosine-decayed to 10 %).
        value_weight: weight of the value regression (squared error in units of the slider's range) against the
            slider-choice cross-entropy.
        flip: random horizontal flips of the state images.
        max_photos: use at most this many of the expert's photos, in catalog order (0 = all).
        baseline: legacy settings that mean "no change" in the PV2003 mapping: ``"defaults"`` (Lightroom's
            defaults; inputs rendered at default settings) or ``"zeroed"`` (FiveK's InputAsShotZeroed inputs).
        fit_size: side in pixels of the squeezed thumbnails pseudo-labels are fitted on.
        fit_iters: Adam iterations per pseudo-label fit (0 = keep the PV2003 mapping).
        fit_lr: Adam learning rate of the fit, on the unbounded head parametrisation (cosine-decayed to 5 %).
        fit_batch: photos fitted together (independent per photo; only speed and memory change).
        fit_extra: sliders the fit may add beyond the expert's (they start at identity and follow the expert's
            in pipeline order); empty = only the sliders the expert used.
        finetune: fine-tune with the GAN after imitation when targets are available (``--targets``, else the
            renditions folder).
    """

    steps: int = 1000
    batch: int = 32
    lr: float = 3e-3
    value_weight: float = 10.0
    flip: bool = True
    max_photos: int = 0
    baseline: str = "defaults"
    fit_size: int = 128
    fit_iters: int = 200
    fit_lr: float = 0.05
    fit_batch: int = 16
    fit_extra: tuple[str, ...] = ()
    finetune: bool = True


@dataclass(frozen=True)
class TrainConfig:
    """The whole experiment (one TOML file)."""

    agent: AgentConfig = field(default_factory=AgentConfig)
    critic: CriticConfig = field(default_factory=CriticConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    run: RunConfig = field(default_factory=RunConfig)
    imitation: ImitationConfig = field(default_factory=ImitationConfig)
    restore: RestoreConfig = field(default_factory=RestoreConfig)

    def __post_init__(self) -> None:
        _validate(self)


#: Catalog sliders the agent can set (``is_global``), for validating slider lists.
_GLOBAL_SLIDERS: tuple[str, ...] = tuple(spec.name for spec in CATALOG if spec.is_global)

_SECTIONS: dict[str, type] = {
    "agent": AgentConfig,
    "critic": CriticConfig,
    "rl": RLConfig,
    "optim": OptimConfig,
    "data": DataConfig,
    "run": RunConfig,
    "imitation": ImitationConfig,
    "restore": RestoreConfig,
}


def _validate(cfg: TrainConfig) -> None:
    from backend.agent.nearest import MIX_CENTRES  # the one list of choices (imports torch, hence here)

    checks: list[tuple[bool, str]] = [
        (cfg.agent.max_steps >= 1, "agent.max_steps must be >= 1"),
        (cfg.agent.thumb >= 16, "agent.thumb must be >= 16"),
        (0.0 <= cfg.agent.dropout < 1.0, "agent.dropout must be in [0, 1)"),
        (cfg.critic.n_critic >= 1, "critic.n_critic must be >= 1"),
        (cfg.critic.n_critic_warmup >= 1, "critic.n_critic_warmup must be >= 1"),
        (cfg.critic.gp_lambda >= 0.0, "critic.gp_lambda must be >= 0"),
        (cfg.critic.gp_bounds[0] < cfg.critic.gp_bounds[1], "critic.gp_bounds must be (low, high) with low < high"),
        (cfg.critic.gp_growth > 1.0, "critic.gp_growth must be > 1"),
        (cfg.critic.gp_window >= 1, "critic.gp_window must be >= 1"),
        (cfg.critic.pool >= 1, "critic.pool must be >= 1"),
        (cfg.data.batch >= 1, "data.batch must be >= 1"),
        (cfg.data.crops_per_image >= 1, "data.crops_per_image must be >= 1"),
        (cfg.data.cache_size == 0 or cfg.data.cache_size >= cfg.agent.thumb, "data.cache_size must be >= agent.thumb"),
        (0.0 <= cfg.data.unedit_flatten < 1.0, "data.unedit_flatten must be in [0, 1)"),
        (cfg.run.steps >= 1, "run.steps must be >= 1"),
        (0 <= cfg.run.seed <= SEED_MAX, f"run.seed must be in 0..{SEED_MAX}"),
        (cfg.run.minutes >= 0.0, "run.minutes must be >= 0"),
        (cfg.run.log_every >= 1, "run.log_every must be >= 1"),
        (
            bool(cfg.run.style) and "/" not in cfg.run.style and cfg.run.style not in (".", ".."),
            "run.style must be a plain name",
        ),
        (cfg.run.method in ("restore", "gan"), "run.method must be 'restore' or 'gan'"),
        (cfg.agent.encoder in ("", "cnn", "stats"), "agent.encoder must be 'cnn', 'stats' or empty"),
        (cfg.restore.loss in ("l1", "l2"), "restore.loss must be 'l1' or 'l2'"),
        (cfg.restore.lr > 0.0, "restore.lr must be > 0"),
        (0.0 <= cfg.restore.pair_jitter <= 1.0, "restore.pair_jitter must be in [0, 1]"),
        (0.0 <= cfg.restore.pair_jitter_ev <= 5.0, "restore.pair_jitter_ev must be in [0, 5]"),
        (cfg.restore.pair_jitter_wb >= 0.0, "restore.pair_jitter_wb must be >= 0"),
        (0.0 <= cfg.restore.self_share <= 4.0, "restore.self_share must be in [0, 4]"),
        (cfg.restore.fit_size >= 8 and cfg.restore.fit_iters >= 0, "restore.fit_size must be >= 8, fit_iters >= 0"),
        (cfg.restore.nearest_k >= 1, "restore.nearest_k must be >= 1"),
        (cfg.restore.mix_k >= 0, "restore.mix_k must be >= 0 (0: all training photos)"),
        (cfg.restore.mix_centre in MIX_CENTRES, f"restore.mix_centre must be one of {list(MIX_CENTRES)}"),
        (0.0 <= cfg.restore.nearest_blend <= 1.0, "restore.nearest_blend must be in [0, 1]"),
        (all(0.0 <= b <= 1.0 for b in cfg.restore.nearest_blends), "restore.nearest_blends must lie in [0, 1]"),
        (cfg.restore.check_folds >= 0, "restore.check_folds must be >= 0"),
        (0.0 < cfg.restore.check_share < 1.0, "restore.check_share must be in (0, 1)"),
        (0.0 < cfg.restore.prior_share <= 1.0, "restore.prior_share must be in (0, 1]"),
        (cfg.restore.batch >= 1, "restore.batch must be >= 1"),
        (cfg.restore.lab_weight >= 0.0 and cfg.restore.sparsity >= 0.0, "restore weights must be >= 0"),
        (cfg.restore.pool_per_target >= 1, "restore.pool_per_target must be >= 1"),
        (0.0 <= cfg.restore.val_fraction < 1.0, "restore.val_fraction must be in [0, 1)"),
        (cfg.restore.val_unedits >= 1, "restore.val_unedits must be >= 1"),
        (cfg.restore.eval_every >= 1, "restore.eval_every must be >= 1"),
        (cfg.restore.unedit in ("photographer", "uniform"), "restore.unedit must be 'photographer' or 'uniform'"),
        (cfg.restore.unedit_scale >= 0.0, "restore.unedit_scale must be >= 0"),
        (0.0 <= cfg.restore.overexposed <= 1.0, "restore.overexposed must be in [0, 1]"),
        (0.0 <= cfg.restore.overexposed_ev <= 5.0, "restore.overexposed_ev must be in [0, 5]"),
        (cfg.imitation.steps >= 1, "imitation.steps must be >= 1"),
        (cfg.imitation.batch >= 1, "imitation.batch must be >= 1"),
        (cfg.imitation.lr > 0.0, "imitation.lr must be > 0"),
        (cfg.imitation.value_weight >= 0.0, "imitation.value_weight must be >= 0"),
        (cfg.imitation.max_photos >= 0, "imitation.max_photos must be >= 0"),
        (cfg.imitation.baseline in ("defaults", "zeroed"), "imitation.baseline must be 'defaults' or 'zeroed'"),
        (cfg.imitation.fit_size >= 8, "imitation.fit_size must be >= 8"),
        (cfg.imitation.fit_iters >= 0, "imitation.fit_iters must be >= 0"),
        (cfg.imitation.fit_lr > 0.0, "imitation.fit_lr must be > 0"),
        (cfg.imitation.fit_batch >= 1, "imitation.fit_batch must be >= 1"),
        (
            all(n in _GLOBAL_SLIDERS for n in cfg.imitation.fit_extra),
            f"imitation.fit_extra must name global catalog sliders ({', '.join(_GLOBAL_SLIDERS)})",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Convert a TOML value (or an override string) to the declared field type; refuse anything else."""
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, str):
            value = [v.strip() for v in value.strip().strip("[]()").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], where) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_convert(v, a, where) for v, a in zip(value, args, strict=True))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if not math.isfinite(out):
            raise ConfigError(f"{where}: must be finite, got {value!r}")
        return out
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported field type {tp!r}")  # pragma: no cover - a programming error


def _build_section(cls: type, values: Mapping[str, Any], section: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"[{section}]: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    kwargs = {key: _convert(val, hints[key], f"{section}.{key}") for key, val in values.items()}
    return cls(**kwargs)


def config_from_dict(data: Mapping[str, Any]) -> TrainConfig:
    """Build a :class:`TrainConfig` from nested plain data (a parsed TOML document or :func:`config_to_dict`).

    Raises:
        ConfigError: unknown section or key, wrong type, or an invalid value.
    """
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"unknown config section(s) {', '.join(unknown)}; known: {', '.join(_SECTIONS)}")
    sections = {}
    for name, cls in _SECTIONS.items():
        raw = data.get(name, {})
        if not isinstance(raw, Mapping):
            raise ConfigError(f"[{name}] must be a table")
        sections[name] = _build_section(cls, raw, name)
    return TrainConfig(**sections)


def config_to_dict(cfg: TrainConfig) -> dict[str, dict[str, Any]]:
    """Nested plain data (JSON- and TOML-serialisable; tuples become lists)."""
    out: dict[str, dict[str, Any]] = {}
    for name in _SECTIONS:
        section = getattr(cfg, name)
        out[name] = {
            f.name: list(getattr(section, f.name))
            if isinstance(getattr(section, f.name), tuple)
            else getattr(section, f.name)
            for f in dataclasses.fields(section)
        }
    return out


def apply_overrides(cfg: TrainConfig, overrides: Sequence[str]) -> TrainConfig:
    """Apply ``section.key=value`` overrides, each converted by the field's declared type.

    Lists are written ``a,b,c`` (optionally in brackets). No expression is evaluated.

    Raises:
        ConfigError: malformed override, unknown key, wrong type or invalid value.
    """
    data = config_to_dict(cfg)
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        if section not in data:
            raise ConfigError(f"override {item!r}: unknown section {section!r}")
        if name not in data[section]:
            raise ConfigError(f"override {item!r}: unknown key {name!r} in [{section}]")
        hints = typing.get_type_hints(_SECTIONS[section])
        data[section][name] = _convert(value.strip(), hints[name], key.strip())
    return config_from_dict(data)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The tables of a TOML experiment file, not yet checked against the configuration's sections and keys.

    Raises:
        NotFoundError: the file does not exist (from :mod:`backend.errors`).
        ConfigError: not UTF-8 TOML.
    """
    from backend.errors import NotFoundError

    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"{p}: no such config file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: {exc}") from exc


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Load a TOML experiment file (``None`` = all defaults) and apply overrides.

    Raises:
        NotFoundError: the file does not exist (from :mod:`backend.errors`).
        ConfigError: malformed TOML, unknown keys, wrong types or invalid values.
    """
    data = read_config_file(path) if path is not None else {}
    return apply_overrides(config_from_dict(data), overrides)


def number_text(value: Any) -> str | None:
    """A bool, int or float as TOML and ``--set`` write it (``true``, ``3``, ``0.25``); ``None`` for anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return None


def _toml_value(value: Any) -> str:
    number = number_text(value)
    if number is not None:
        return number
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} as TOML")  # pragma: no cover


def config_to_toml(cfg: TrainConfig) -> str:
    """The resolved configuration as a TOML document that :func:`load_config` reads back to an equal config."""
    lines = ["# Resolved autoretouch training configuration (written by the trainer).", ""]
    for name, values in config_to_dict(cfg).items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_toml_value(val)}" for key, val in values.items())
        lines.append("")
    return "\n".join(lines)
