"""The restoration trainer: a one-shot agent learns to undo realistic un-edits of the favourites.

Why: an unpaired critic with 16-100 favourites is easily fooled, and the GAN-trained agent ended up making the same
moves on every photo, sometimes worse than doing nothing. Here every favourite, rendered with a random "un-edit"
(:func:`trainer.data.unedit.photographer_unedit_settings`: the inverse of real photographers' corrections, or,
with ``--sources``, centred on the recipe that makes the favourites look like the sources,
:mod:`trainer.restore_fit`), is an input whose right answer is known: the favourite itself. The agent sees only the
un-edited thumbnail, so to restore it it has to read the photo: a photo un-edited by -1 EV must get about +1 EV
back. Applied to real photos, it moves each one towards the favourites' look by the amount that photo needs.

One step: a batch of (un-edited crop, favourite crop) pairs from a fixed pool (same random 64-px window and flip
for both), the one-shot agent (:class:`~backend.agent.network.AgentNet` with ``oneshot=True``; by default the
``"stats"`` encoder, which reads luminance and colour statistics and cannot memorise the content of a few
favourites) proposes every slider, the differentiable renderer applies them to the un-edited crop, and the loss is

    10 * MSE(sRGB(result), sRGB(favourite))      (``restore.loss = "l2"``, the quantity PSNR measures; or L1)
    + lab_weight * L1(Lab(result), Lab(favourite)) / 100
    + sparsity * sum over sliders of mean |slider move| / half-range
    [+ dist_weight * |mean look(agent on a batch of sources) - mean look(favourites)|^2, with --sources]

with AdamW and a cosine learning-rate decay over the run's steps or minutes, whichever ends first.

Safety net: a share of the favourites (``restore.val_fraction``) is held out; every ``eval_every`` steps their
fixed un-edits are restored and scored (PSNR on 8-bit sRGB against the favourite, beside the un-edited input's
own score, i.e. doing nothing). The best checkpoint is kept, and the style is installed only when it beats doing
nothing by ``min_gain_db`` and makes no degenerate move (:func:`degenerate_moves`), unless ``run.force`` is set.

Prior: an agent learnt from 16 favourites has seen few photos, and its suggestions vary with which 16 they were.
A style learnt from favourites (not from pairs, which have their nearest edits) therefore carries a copy of a
general agent, the shipped default "auto" (``restore.prior``), and suggests the blend of both recipes
(``restore.prior_share``, 0.5): shrinkage towards a prior that was trained on other photos. The held-out check,
the degenerate-move check and the contact sheet score the blend, as it will be suggested. The held-out check
cannot tell whether the prior suits the look (restoring un-edits, the prior does well whatever the look); with
``--sources`` the share is chosen among 0, half and all of ``prior_share`` by how close the blend brings the
sources' look statistics to the favourites' (:func:`fit_prior_share`).

Run folder: ``config.toml``, ``metrics.csv``, ``curves.png``, ``eval.json``, ``contact_sheet.png`` (held-out
un-edited favourites, restored, and the favourites) and ``style/<style>.{safetensors,json}``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from backend.agent.network import AgentNet, colour_statistics
from backend.agent.rollout import Trajectory, rollout
from backend.agent.style import Style, save_style, validate_metadata
from backend.agent.thumbnail import make_thumbnail
from backend.render.color import rec2020_to_lab, srgb_encode
from backend.render.pipeline import render
from backend.sliders.catalog import get_slider
from trainer.config import RESTORE_SLIDERS, ConfigError, TrainConfig, config_to_dict, config_to_toml
from trainer.data.dataset import cache_size_of, sample_crops
from trainer.data.folders import CroppedPhotos, list_photos, load_folder
from trainer.data.unedit import (
    photographer_unedit_settings,
    random_unedit_settings,
)
from trainer.distributed import DistInfo, average_gradients, barrier
from trainer.metrics import psnr
from trainer.report import MetricsLog, contact_sheet, plot_curves
from trainer.restore_fit import fit_unedit_centre, look_descriptor

__all__ = ["METRIC_COLUMNS", "UneditSampler", "degenerate_moves", "restoration_loss", "train_restore"]

log = logging.getLogger(__name__)

#: With pairs, seconds of ``--minutes`` kept for the final checks and the export after training.
_FINISH_RESERVE_S = 8.0
#: Columns of ``metrics.csv``.
METRIC_COLUMNS: tuple[str, ...] = (
    "step", "time_s", "lr", "loss", "image", "lab", "sparsity", "dist", "val_psnr", "val_gain"
)  # fmt: skip
PLOT_KEYS: tuple[str, ...] = ("loss", "image", "lab", "sparsity", "dist", "val_psnr", "val_gain")

#: A style whose recipe on some photo sets black & white above this is flagged as degenerate.
BW_LIMIT = 30.0
#: ... or that adds more than this share of clipped-black or clipped-white pixels on average ...
CLIP_LIMIT = 0.05
#: ... or that removes more than this share of the mean chroma on average.
CHROMA_LOSS_LIMIT = 0.5


class UneditSampler:
    """Draws un-edit recipes from the configured distribution (see :mod:`trainer.data.unedit`).

    Args:
        cfg: the experiment configuration (``restore.*`` and, for ``"uniform"``, ``data.unedit_*``).
        centre: fitted un-edit centre (slider -> value); ``None`` keeps the photographer prior's centre.
    """

    def __init__(self, cfg: TrainConfig, centre: dict[str, float] | None = None) -> None:
        self.cfg = cfg
        self.centre = centre

    def __call__(self, rng: np.random.Generator) -> dict[str, float | list[float]]:
        """One un-edit: slider name -> value in catalog units."""
        r = self.cfg.restore
        if r.unedit == "uniform":
            return random_unedit_settings(self.cfg.data, rng)
        return photographer_unedit_settings(
            rng,
            scale=r.unedit_scale,
            overexposed=r.overexposed,
            overexposed_ev=r.overexposed_ev,
            centre=self.centre,
            sliders=r.unedit_sliders,
            steepen=r.steepen,
        )


def _stack_settings(draws: list[dict[str, float | list[float]]]) -> dict[str, Tensor]:
    return {name: torch.tensor([d[name] for d in draws], dtype=torch.float32) for name in draws[0]}


@torch.no_grad()
def unedit_batch(images: Tensor, draws: list[dict[str, float | list[float]]]) -> Tensor:
    """Render one un-edit per image: ``(N, 3, H, W)`` linear Rec.2020 -> the same shape (not clamped)."""
    return render(images, _stack_settings(draws))


def _srgb(image: Tensor) -> Tensor:
    return srgb_encode(image.clamp(0.0, 1.0))


def restoration_loss(
    result: Tensor, target: Tensor, values: dict[str, Tensor], cfg: TrainConfig, weights: Tensor | None = None
) -> dict[str, Tensor]:
    """The training loss and its parts (see the module docstring).

    Args:
        result: ``(N, 3, H, W)`` the agent's rendering of the un-edited input, linear Rec.2020.
        target: ``(N, 3, H, W)`` the favourite, linear Rec.2020.
        values: slider name -> ``(N, *shape)`` the agent's values (catalog units).
        cfg: the experiment configuration.
        weights: ``(N,)`` non-negative weight of each sample in the image and Lab terms (``None``: equal).

    Returns:
        ``{"loss", "image", "lab", "sparsity"}`` scalar tensors (``loss`` carries the gradient).
    """

    def average(per_pixel: Tensor) -> Tensor:
        per_sample = per_pixel.flatten(1).mean(dim=1)
        if weights is None:
            return per_sample.mean()
        return (per_sample * weights).sum() / weights.sum().clamp_min(1e-8)

    diff = _srgb(result) - _srgb(target)
    image = average(diff.abs()) if cfg.restore.loss == "l1" else average(diff.square()) * 10.0
    lab = average((rec2020_to_lab(result.clamp(0.0, 1.0)) - rec2020_to_lab(target.clamp(0.0, 1.0))).abs()) / 100.0
    moves = []
    for name, v in values.items():
        spec = get_slider(name)
        ident = torch.tensor(spec.identity, dtype=v.dtype, device=v.device)
        moves.append(((v - ident).abs() / ((spec.maximum - spec.minimum) / 2)).reshape(v.shape[0], -1).mean(dim=1))
    sparsity = torch.stack(moves, dim=1).sum(dim=1).mean() if moves else torch.zeros((), device=result.device)
    r = cfg.restore
    loss = image + r.lab_weight * lab + r.sparsity * sparsity
    return {"loss": loss, "image": image.detach(), "lab": lab.detach(), "sparsity": sparsity.detach()}


def _clip_share(image: Tensor) -> Tensor:
    enc = _srgb(image)
    black = (enc.amax(dim=1) < 1.0 / 255).flatten(1).float().mean(dim=1)
    white = (enc.amin(dim=1) > 254.0 / 255).flatten(1).float().mean(dim=1)
    return black + white


def _apply(net: AgentNet, inputs: Tensor, prior: Prior | None = None) -> tuple[Trajectory, dict[str, Tensor], Tensor]:
    """The agent's one-shot rollout on ``(N, 3, S, S)`` inputs (eval mode), its settings and their rendering.

    With ``prior``, the settings are blended with the prior agent's, as a suggestion is.
    """
    net.eval()
    traj = rollout(net, make_thumbnail(inputs, net.thumb), render_final=False)
    settings = traj.settings
    if prior is not None:
        other = rollout(prior.net.eval(), make_thumbnail(inputs, prior.net.thumb), render_final=False).settings
        settings = {}
        for name in dict.fromkeys([*traj.settings, *other]):
            mine, theirs = traj.settings.get(name), other.get(name)
            like = mine if mine is not None else theirs
            ident = torch.as_tensor(get_slider(name).identity, dtype=like.dtype).expand_as(like)  # type: ignore[union-attr]
            mine = ident if mine is None else mine
            theirs = ident if theirs is None else theirs
            settings[name] = (1.0 - prior.share) * mine + prior.share * theirs
    return traj, settings, render(inputs, settings)


@torch.no_grad()
def degenerate_moves(net: AgentNet, inputs: Tensor, prior: Prior | None = None) -> list[str]:
    """What a style does to photos that no style should do: the reasons, empty when none.

    Checks the agent's recipes on ``(N, 3, S, S)`` linear Rec.2020 inputs: black & white above
    :data:`BW_LIMIT` on any photo, on average more than :data:`CLIP_LIMIT` of the pixels newly clipped to
    black or white, or more than :data:`CHROMA_LOSS_LIMIT` of the mean chroma removed.
    """
    _, settings, out = _apply(net, inputs, prior)
    reasons = []
    if "black_and_white" in settings:
        bw = float(settings["black_and_white"].max())
        if bw > BW_LIMIT:
            reasons.append(f"turns photos black and white (black_and_white up to {bw:.0f})")
    clipped = float((_clip_share(out) - _clip_share(inputs)).mean())
    if clipped > CLIP_LIMIT:
        reasons.append(f"clips {clipped:.0%} more of the pixels to black or white")
    before, after = colour_statistics(inputs)[:, 2], colour_statistics(out)[:, 2]  # mean chroma
    loss = float(1.0 - after.mean() / before.mean().clamp_min(1e-6))
    if loss > CHROMA_LOSS_LIMIT:
        reasons.append(f"removes {loss:.0%} of the colour")
    return reasons


@dataclass
class _Data:
    """Pairs for training and held-out checks, all linear Rec.2020 float32."""

    pool_in: Tensor  # (M, 3, C, C) un-edited training crops (or the originals of --pairs)
    pool_out: Tensor  # (M, 3, C, C) their favourites (or the photographer's edits)
    pool_w: Tensor | None  # (M,) loss weight of each pool entry (None: equal)
    val_in: Tensor  # (V, 3, S, S) held-out un-edited favourites
    val_out: Tensor  # (V, 3, S, S) held-out favourites
    sources: Tensor | None  # (Ns, 3, S, S) the --sources photos (checks and the contact sheet)
    source_crops: Tensor | None  # (Ns, K, 3, C, C) training crops of the sources
    look: Tensor  # (10,) mean look statistics of the training favourites
    summary: dict[str, Any]
    examples: dict[str, Any] | None = None  # --pairs: the "nearest edits" memory stored with the style


def _split(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, held-out) favourite indices; nothing is held out below 4 favourites."""
    n_val = max(1, round(n * fraction)) if n >= 4 and fraction > 0 else 0
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 104_729)).tolist()
    return sorted(perm[n_val:]), sorted(perm[:n_val])


def _build_data(cfg: TrainConfig, targets: str | Path, sources: str | Path | None) -> _Data:
    r, d, seed = cfg.restore, cfg.data, cfg.run.seed
    csize = cache_size_of(d, cfg.agent.thumb)
    common = {"cache_size": csize, "eval_size": d.eval_size, "crops": d.crops_per_image}
    fav: CroppedPhotos = load_folder(list_photos(targets, d.max_images), seed=seed, **common)
    src = None if sources is None else load_folder(list_photos(sources, d.max_images), seed=seed + 1_000_003, **common)
    train_idx, val_idx = _split(len(fav.names), r.val_fraction, seed)
    centre = None
    if src is not None and r.fit_sources and r.unedit == "photographer":
        fitted = fit_unedit_centre(make_thumbnail(fav.evals, 32), make_thumbnail(src.evals, 32), sliders=r.fit_sliders)
        centre = fitted  # the other sliders keep the photographer prior's centre
        log.info("un-edit centre fitted to the sources: %s", {k: round(v, 2) for k, v in centre.items()})
    sampler = UneditSampler(cfg, centre)
    rng = np.random.default_rng(seed + 7_919)
    pool_in, pool_out = [], []
    k = fav.crops.shape[1]
    for i in train_idx:
        views = fav.crops[i][torch.arange(r.pool_per_target) % k]
        pool_in.append(unedit_batch(views, [sampler(rng) for _ in range(r.pool_per_target)]))
        pool_out.append(views)
    vrng = np.random.default_rng(seed + 15_485_863)
    check = val_idx or train_idx  # with fewer than 4 favourites the check uses training favourites
    val_out = fav.evals[check].repeat_interleave(r.val_unedits, dim=0)
    val_in = unedit_batch(val_out, [sampler(vrng) for _ in range(val_out.shape[0])])
    summary: dict[str, Any] = {
        "method": "restore",
        "learned_from": "favourites" if src is None else "favourites and sources",
        "targets_dir": str(Path(targets).resolve()),
        "targets": len(fav.names),
        "target_names": list(fav.names),
        "training_targets": len(train_idx),
        "held_out_targets": [fav.names[i] for i in val_idx],
        "sources_dir": None if sources is None else str(Path(sources).resolve()),
        "sources": "none (un-edits of the favourites)" if src is None else len(src.names),
        "unedit": r.unedit,
        "unedit_centre": centre,
        "pairs": len(train_idx) * r.pool_per_target,
    }
    return _Data(
        pool_in=torch.cat(pool_in).half().float(),
        pool_out=torch.cat(pool_out).half().float(),
        pool_w=None,
        val_in=val_in.half().float(),
        val_out=val_out.half().float(),
        sources=None if src is None else src.evals,
        source_crops=None if src is None else src.crops,
        look=look_descriptor(fav.evals[train_idx]).mean(dim=0),
        summary=summary,
    )


def _sample(data: _Data, n: int, size: int, gen: torch.Generator, flip: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    m, c = data.pool_in.shape[0], data.pool_in.shape[-1]
    idx = torch.randint(0, m, (n,), generator=gen)
    offs = torch.randint(0, c - size + 1, (n, 2), generator=gen)
    flips = torch.rand(n, generator=gen) < 0.5
    ins, outs = [], []
    for i in range(n):
        y, x = int(offs[i, 0]), int(offs[i, 1])
        a = data.pool_in[int(idx[i]), :, y : y + size, x : x + size]
        b = data.pool_out[int(idx[i]), :, y : y + size, x : x + size]
        if flip and bool(flips[i]):
            a, b = a.flip(-1), b.flip(-1)
        ins.append(a)
        outs.append(b)
    return torch.stack(ins), torch.stack(outs), None if data.pool_w is None else data.pool_w[idx]


@torch.no_grad()
def restore_images(net: AgentNet, inputs: Tensor, prior: Prior | None = None) -> tuple[Tensor, list[str]]:
    """The agent's one-shot result on ``(N, 3, S, S)`` inputs, and a caption per image (the agent's moves).

    With ``prior``, the result is blended with the prior agent's, as a suggestion is.
    """
    traj, _, out = _apply(net, inputs, prior)
    captions = [" ".join(get_slider(s).short for s in o) or "no edit" for o in traj.orders]
    return out, captions


def _val_psnr(net: AgentNet, data: _Data, prior: Prior | None = None) -> tuple[float, float]:
    out, _ = restore_images(net, data.val_in, prior)
    style = float(np.mean(psnr(out, data.val_out)))
    identity = float(np.mean(psnr(data.val_in, data.val_out)))
    return style, identity


def _lr(cfg: TrainConfig, step: int, elapsed: float, steps: int, minutes: float) -> float:
    r = cfg.restore
    done = step / steps
    if minutes > 0:
        done = max(done, elapsed / (minutes * 60.0))
    return r.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(done, 1.0))))


def new_restore_net(cfg: TrainConfig) -> AgentNet:
    """A fresh one-shot agent as the configuration describes it (an untrained one proposes the identity)."""
    a = cfg.agent
    return AgentNet(
        sliders=a.sliders or RESTORE_SLIDERS,
        max_steps=1,
        width=a.width,
        dropout=a.dropout,
        thumb=a.thumb,
        oneshot=True,
        encoder=a.encoder or "stats",
    )


@dataclass(frozen=True)
class Prior:
    """The general agent a style learnt from favourites is blended with (``restore.prior``).

    Attributes:
        net: the prior's one-shot agent (eval mode).
        share: its recipe's share in the blend, in (0, 1].
        source: provenance, ``NAME@MODEL_VERSION`` of the style it was copied from.
    """

    net: AgentNet
    share: float
    source: str


def load_prior(cfg: TrainConfig) -> Prior | None:
    """The prior ``restore.prior`` names (``None`` when it names none).

    Raises:
        NotFoundError: no such style.
        ConfigError: its agent is not a one-shot agent.
    """
    from backend.agent.style import load_style

    if not cfg.restore.prior:
        return None
    style = load_style(cfg.restore.prior)
    if not style.net.oneshot or style.net.max_steps != 1:
        raise ConfigError(f"restore.prior {cfg.restore.prior}: its agent is not a one-shot agent")
    if style.prior is not None:
        raise ConfigError(f"restore.prior {cfg.restore.prior}: it has a prior of its own; name a general style")
    return Prior(style.net.eval(), cfg.restore.prior_share, style.model)


#: With ``--sources``: the fractions of ``restore.prior_share`` tried against the sources' look.
PRIOR_FRACTIONS = (0.0, 0.5, 1.0)


@torch.no_grad()
def fit_prior_share(net: AgentNet, data: _Data, prior: Prior) -> tuple[Prior | None, dict[str, float]]:
    """The prior's share that makes the style's results on the sources look most like the favourites.

    The held-out check cannot judge the prior: it scores restoring un-edited favourites, which the general
    prior does well whatever the look. The sources (unedited photos like those the style will retouch) can: for
    each share in ``PRIOR_FRACTIONS`` x ``prior.share``, the squared distance between the mean look statistics
    (:func:`~backend.agent.look.look_descriptor`) of the blended results on the sources and those of the
    training favourites. A look far from "auto" (darker, cooler, flatter) keeps less of the prior.

    Returns:
        ``(the prior at the chosen share, or None for share 0; {share: distance})``.
    """
    distances: dict[str, float] = {}
    best, best_share = math.inf, 0.0
    for fraction in PRIOR_FRACTIONS:
        share = prior.share * fraction
        _, _, out = _apply(net, data.sources, dataclasses.replace(prior, share=share) if share > 0 else None)  # type: ignore[arg-type]
        distance = float((look_descriptor(out).mean(dim=0) - data.look).square().sum())
        distances[f"{share:g}"] = round(distance, 6)
        if distance < best - 1e-9:
            best, best_share = distance, share
    return (dataclasses.replace(prior, share=best_share) if best_share > 0 else None), distances


@dataclass
class _Outcome:
    """What one optimisation did: steps, why it stopped, the kept checkpoint and the identity's score."""

    step: int
    stopped_by: str
    elapsed: float
    best: dict[str, Any]
    identity_psnr: float


def optimise(
    cfg: TrainConfig,
    net: AgentNet,
    data: _Data,
    *,
    steps: int,
    minutes: float,
    seed: int,
    info: DistInfo,
    metrics_log: MetricsLog | None = None,
    bar: Any = None,
    checks: bool = True,
) -> _Outcome:
    """Train ``net`` on ``data`` for ``steps`` steps or ``minutes`` minutes (0: no limit), whichever ends first.

    Every ``restore.eval_every`` steps (and at the end) the check pairs ``data.val_in -> data.val_out`` are
    scored; the best checkpoint is kept in the outcome (the caller loads it). ``checks=False`` skips those
    scorings (for agents whose last weights are used, as in the cross-fitted check). ``seed`` seeds the batches
    and the dropout masks.
    """
    a = cfg.agent
    gen = torch.Generator().manual_seed(seed * 1_000_003 + 7 * info.rank + 1)
    torch.manual_seed(seed * 1_000_003 + 7 * info.rank + 2)  # dropout masks
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.restore.lr, weight_decay=cfg.restore.weight_decay)
    style_psnr, identity_psnr = _val_psnr(net, data)
    best = {"step": 0, "val_psnr": style_psnr, "state": copy.deepcopy(net.state_dict())}
    deadline = time.monotonic() + minutes * 60.0 if minutes > 0 else math.inf
    start = time.monotonic()
    step, stopped_by, acc, n_acc = 0, "steps", {}, 0
    zero_step = torch.zeros(cfg.restore.batch, dtype=torch.long)
    unused = torch.zeros(cfg.restore.batch, len(net.sliders), dtype=torch.bool)
    while step < steps:
        if time.monotonic() > deadline:
            stopped_by = "minutes"
            break
        lr = _lr(cfg, step, time.monotonic() - start, steps, minutes)
        for g in opt.param_groups:
            g["lr"] = lr
        net.train()
        inp, tgt, weights = _sample(data, cfg.restore.batch, a.thumb, gen, cfg.data.flip)
        out = net(inp, zero_step, unused)
        parts = restoration_loss(render(inp, out.values), tgt, out.values, cfg, weights)
        if cfg.restore.dist_weight > 0 and data.source_crops is not None:
            src = sample_crops(data.source_crops, cfg.restore.batch, a.thumb, gen, cfg.data.flip)
            sout = net(src, zero_step, unused)
            dist = (look_descriptor(render(src, sout.values)).mean(dim=0) - data.look).square().sum()
            parts["loss"] = parts["loss"] + cfg.restore.dist_weight * dist
            parts["dist"] = dist.detach()
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        average_gradients(net.parameters(), info)
        if cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.optim.grad_clip)
        opt.step()
        step += 1
        for key, v in parts.items():
            acc[key] = acc.get(key, 0.0) + float(v.detach())
        n_acc += 1
        if bar is not None:
            bar.update(1)
        check = checks and (step % cfg.restore.eval_every == 0 or step == steps)
        row: dict[str, float] = {}
        if check:
            style_psnr, _ = _val_psnr(net, data)
            row = {"val_psnr": style_psnr, "val_gain": style_psnr - identity_psnr}
            if style_psnr > best["val_psnr"]:
                best = {"step": step, "val_psnr": style_psnr, "state": copy.deepcopy(net.state_dict())}
        if (check or step % cfg.run.log_every == 0) and metrics_log is not None:
            row |= {k: v / n_acc for k, v in acc.items()}
            row |= {"step": step, "time_s": time.monotonic() - start, "lr": lr}
            metrics_log.append(row)
            acc, n_acc = {}, 0
            if bar is not None and "val_psnr" in row:
                bar.set_postfix(val=f"{row['val_psnr']:.2f}dB", identity=f"{identity_psnr:.2f}dB")
    if checks and stopped_by == "minutes" and step % cfg.restore.eval_every:
        style_psnr, _ = _val_psnr(net, data)
        if style_psnr > best["val_psnr"]:
            best = {"step": step, "val_psnr": style_psnr, "state": copy.deepcopy(net.state_dict())}
    return _Outcome(step, stopped_by, time.monotonic() - start, best, identity_psnr)


def _paired(
    cfg: TrainConfig,
    net: Any,
    info: DistInfo,
    t0: float,
    minutes: float,
    pairs: tuple[str | Path, str | Path] | None,
    catalog: tuple[str | Path, str, str | Path | None] | None,
    darktable: str | Path | None,
    edits: Sequence[Mapping[str, Any]] | None,
) -> tuple[_Data, dict[str, Any] | None, float]:
    """The data of a run from the photographer's own edits, and the cross-fitted check when there are enough.

    Returns:
        ``(data, cross-fitted check or None, minutes left for the training)``: with pairs ``--minutes`` bounds the
        whole run, so decoding, fitting and the check are taken off it.
    """
    from trainer.restore_pairs import (
        crossfit_check,
        load_catalog_pair_set,
        load_darktable_pair_set,
        load_pair_set,
        load_settings_pair_set,
        paired_data,
        split_pairs,
    )

    steps = cfg.run.steps
    if edits is not None:
        pair_set = load_settings_pair_set(cfg, edits, net.sliders)
    elif catalog is not None:
        pair_set = load_catalog_pair_set(cfg, catalog[0], catalog[1], catalog[2], net.sliders)
    elif darktable is not None:
        pair_set = load_darktable_pair_set(cfg, darktable, net.sliders)
    else:
        assert pairs is not None
        pair_set = load_pair_set(cfg, pairs[0], pairs[1], net.sliders)
    if minutes > 0:  # with pairs, --minutes bounds the whole run: decoding, fitting and finishing count too
        finish = min(_FINISH_RESERVE_S, 0.05 * minutes * 60.0) / 60.0
        minutes = max(minutes - (time.monotonic() - t0) / 60.0 - finish, 0.05 * minutes)
    crossfit: dict[str, Any] | None = None
    folds = cfg.restore.check_folds
    if folds >= 2 and len(pair_set.names) >= 2 * folds:
        share = cfg.restore.check_share
        t_check = time.monotonic()
        crossfit = crossfit_check(
            cfg,
            pair_set,
            folds,
            steps=max(1, round(steps * share / folds)),
            minutes=minutes * share / folds,
            info=info,
        )
        if minutes > 0:
            minutes = max(minutes - (time.monotonic() - t_check) / 60.0, 0.05 * minutes)
        everything = list(range(len(pair_set.names)))
        data = paired_data(cfg, pair_set, everything, everything)
    else:
        data = paired_data(cfg, pair_set, *split_pairs(cfg, len(pair_set.names)))
    log.info(
        "restore: %d before/after pairs (%s; recipes fitted to %.1f dB on average), %d training views, "
        "data ready in %.1f s",
        data.summary["pairs"],
        f"{folds}-fold cross-fitted check" if crossfit else f"{len(data.summary['held_out_pairs'])} held out",
        data.summary["fit_psnr_mean"],
        data.pool_in.shape[0],
        time.monotonic() - t0,
    )
    return data, crossfit, minutes


# Long: the restoration run's order (data by source kind, optimise, keep the best, finish); half of it is the docstring of its arguments.
def train_restore(
    cfg: TrainConfig,
    *,
    targets: str | Path | None,
    sources: str | Path | None,
    pairs: tuple[str | Path, str | Path] | None = None,
    catalog: tuple[str | Path, str, str | Path | None] | None = None,
    darktable: str | Path | None = None,
    edits: Sequence[Mapping[str, Any]] | None = None,
    run: Path,
    install_dir: str | Path | None,
    progress: bool,
    info: DistInfo,
) -> Any:
    """Train a style by restoration (see the module docstring); returns a :class:`trainer.train.TrainResult`.

    Args:
        cfg: the experiment configuration (``run.method == "restore"``).
        targets: folder of favourites (``None`` with ``pairs``).
        sources: folder of unedited photos (fits the un-edit centre; checked for degenerate moves), or ``None``.
        pairs: ``(originals folder, edits folder)``: learn from the photographer's own before/after pairs
            (:mod:`trainer.restore_pairs`) instead of un-edited favourites.
        catalog: ``(lrcat, selection, photos folder or None)``: learn from the develop settings of a Lightroom
            catalog's favourites (:func:`trainer.restore_pairs.load_catalog_pair_set`), as pairs.
        darktable: a folder of photos with darktable sidecars: learn from darktable's renders of them
            (:func:`trainer.restore_pairs.load_darktable_pair_set`), as pairs.
        edits: ``{"path", "settings"}`` per photo: originals with their Lightroom develop settings, as the
            plug-in sends them (:func:`trainer.restore_pairs.load_settings_pair_set`), learnt as pairs.
        run: the run folder.
        install_dir: style folder to install into (``None``: only the run folder).
        progress: show a tqdm progress bar (rank 0).
        info: the process's place in a torchrun job (gradients are averaged over processes).

    Raises:
        NotFoundError: a folder is missing or empty.
    """
    from trainer.train import TrainResult

    if (run / "style").is_dir() and any((run / "style").glob("*.safetensors")):
        raise ConfigError(f"{run}: the run folder already holds a trained style; use another --run-dir")
    torch.manual_seed(cfg.run.seed)
    net = new_restore_net(cfg)
    validate_metadata(json.loads(json.dumps(Style(name=cfg.run.style, net=net).metadata())), run)
    if info.is_main:
        run.mkdir(parents=True, exist_ok=True)
        (run / "config.toml").write_text(config_to_toml(cfg), encoding="utf-8")
    t0 = time.monotonic()
    steps, minutes = cfg.run.steps, cfg.run.minutes
    crossfit: dict[str, Any] | None = None
    prior: Prior | None = None
    if pairs is not None or catalog is not None or darktable is not None or edits is not None:
        data, crossfit, minutes = _paired(cfg, net, info, t0, minutes, pairs, catalog, darktable, edits)
    elif targets is None:
        raise ConfigError(
            "restoration training needs favourites (--targets), before/after pairs (--pairs), a catalog's "
            "favourites (--lrcat --favourites) or darktable edits (--darktable)"
        )
    else:
        data = _build_data(cfg, targets, sources)
        prior = load_prior(cfg)
        log.info(
            "restore: %d favourites (%d held out), %d training pairs, data ready in %.1f s",
            data.summary["targets"],
            len(data.summary["held_out_targets"]),
            data.pool_in.shape[0],
            time.monotonic() - t0,
        )
    metrics_log = MetricsLog(run / "metrics.csv", METRIC_COLUMNS) if info.is_main else None
    bar = None
    if progress and info.is_main:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc=cfg.run.style, unit="step", dynamic_ncols=True)
    try:
        outcome = optimise(
            cfg, net, data, steps=steps, minutes=minutes, seed=cfg.run.seed, info=info, metrics_log=metrics_log, bar=bar
        )
    finally:
        if bar is not None:
            bar.close()
    if crossfit is None:
        net.load_state_dict(outcome.best["state"])
    else:  # trained on every pair: the last weights, judged by the cross-fitted check
        best = {"step": outcome.step, "val_psnr": crossfit["val_psnr"], "state": None}
        outcome = dataclasses.replace(outcome, best=best, identity_psnr=crossfit["val_psnr_identity"])
        data.summary["check"] = crossfit["summary"]
    net.eval()
    if prior is not None and data.sources is not None and info.is_main:
        prior, distances = fit_prior_share(net, data, prior)
        data.summary["prior_look_distance"] = distances
        log.info(
            "restore: prior share %s (look distance to the favourites on the sources: %s)",
            f"{prior.share:g}" if prior else "0",
            distances,
        )
    result = TrainResult(
        run_dir=run, step=outcome.step, stopped_by=outcome.stopped_by, style_path=None, installed_path=None, net=net
    )
    if info.is_main:
        result.metrics, result.rejected = _finish(cfg, net, data, run, install_dir, outcome, prior)
        result.style_path = run / "style" / f"{cfg.run.style}.safetensors"
        if not result.rejected and install_dir is not None:
            result.installed_path = Path(install_dir) / f"{cfg.run.style}.safetensors"
        if metrics_log is not None:
            plot_curves(metrics_log.rows(), PLOT_KEYS, run / "curves.png")
    barrier(info)
    return result


def _finish(
    cfg: TrainConfig,
    net: AgentNet,
    data: _Data,
    run: Path,
    install_dir: str | Path | None,
    outcome: _Outcome,
    prior: Prior | None,
) -> tuple[dict[str, float], str | None]:
    """Score the kept checkpoint, write the report files, export (and maybe install) the style."""
    best, identity_psnr, step, elapsed = outcome.best, outcome.identity_psnr, outcome.step, outcome.elapsed
    checks = data.val_in if data.sources is None else torch.cat((data.val_in, data.sources))
    reasons = degenerate_moves(net, checks, prior)
    val_psnr = best["val_psnr"] if prior is None else _val_psnr(net, data, prior)[0]  # as it will suggest
    gain = val_psnr - identity_psnr
    if gain < cfg.restore.min_gain_db:
        reasons.insert(
            0,
            f"on the held-out {'pairs' if data.examples is not None else 'favourites'} it scores {val_psnr:.2f} dB, doing nothing {identity_psnr:.2f} dB "
            f"({gain:+.2f} dB)",
        )
    out, captions = restore_images(net, data.val_in, prior)
    n = min(8, out.shape[0])
    contact_sheet(data.val_in[:n], out[:n], run / "contact_sheet.png", targets=data.val_out[:n:4], captions=captions)
    metrics = {
        "val_psnr_identity": identity_psnr,
        "val_psnr": val_psnr,
        "val_gain_db": gain,
        "best_step": float(best["step"]),
        "steps": float(step),
        "train_seconds": elapsed,
    }
    if prior is not None:
        metrics["val_psnr_agent_alone"] = best["val_psnr"]
    if data.examples is not None:
        metrics["pairs_fit_psnr"] = float(data.summary["fit_psnr_mean"])
        metrics["poor_fits"] = float(len(data.summary["poor_fits"]))
    rejected = "; ".join(reasons) if reasons and not cfg.run.force else None
    report = metrics | {"degenerate": reasons, "installed": rejected is None and install_dir is not None}
    (run / "eval.json").write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    training = {k: v for k, v in data.summary.items() if k != "target_names"} | {
        "steps": step,
        "train_seconds": round(elapsed, 1),
        "config": config_to_dict(cfg),
    }
    kinds = {
        "pairs": "before/after pairs",
        "lightroom catalog": "edited photos of a Lightroom catalog",
        "lightroom edits": "photos edited in Lightroom",
        "darktable sidecars": "photos edited in darktable",
    }
    kind = kinds.get(str(data.summary.get("learned_from")))
    learned = f"{data.summary['pairs']} {kind}" if kind else f"{data.summary['targets']} favourites"
    style = Style(
        name=cfg.run.style,
        net=copy.deepcopy(net).cpu().eval(),
        description=cfg.run.description or f"trained by autoretouch train (restoration) on {learned}",
        training=training,
        metrics={k: round(v, 6) for k, v in metrics.items() if math.isfinite(v)},
        examples=data.examples,
        prior=None if prior is None else copy.deepcopy(prior.net),
        prior_share=0.0 if prior is None else prior.share,
        prior_from="" if prior is None else prior.source,
    )
    save_style(style, run / "style")
    if rejected is None and install_dir is not None:
        from trainer.train import _next_model_version

        style.model_version = _next_model_version(Path(install_dir), cfg.run.style)
        save_style(style, Path(install_dir))
    return metrics, rejected
