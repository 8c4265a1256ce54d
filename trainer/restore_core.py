"""The restoration trainer's machinery, shared by styles learnt from favourites and from the photographer's edits.

The un-edit sampler and renderer, the loss (:func:`restoration_loss`), the one-shot agent's application with an
optional prior (:class:`Prior`), the data of a run (:class:`RestoreData`: training pool, held-out check pairs,
sources), the optimisation loop with its held-out checks and best checkpoint (:func:`optimise`) and the
degenerate-move check. The runs themselves are in :mod:`trainer.restore` (favourites, the entry point) and
:mod:`trainer.restore_pairs` (before/after pairs, catalogs, darktable edits); the method is described in
:mod:`trainer.restore`'s docstring.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from backend.agent.network import AgentNet, colour_statistics
from backend.agent.rollout import Trajectory, rollout
from backend.agent.thumbnail import make_thumbnail
from backend.render.color import rec2020_to_lab, srgb_encode
from backend.render.pipeline import render
from backend.sliders.catalog import get_slider
from trainer.config import RESTORE_SLIDERS, TrainConfig
from trainer.data.dataset import sample_crops
from trainer.data.unedit import photographer_unedit_settings, random_unedit_settings
from trainer.distributed import DistInfo, average_gradients
from trainer.metrics import pooled_psnr, psnr
from trainer.report import MetricsLog
from trainer.restore_fit import look_descriptor

__all__ = [
    "BW_LIMIT",
    "CHROMA_LOSS_LIMIT",
    "CLIP_LIMIT",
    "Outcome",
    "Prior",
    "RestoreData",
    "UneditSampler",
    "apply_agent",
    "degenerate_moves",
    "new_restore_net",
    "optimise",
    "restoration_loss",
    "restore_images",
    "split_held_out",
    "unedit_batch",
    "val_psnr",
]

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


def _stack_settings(draws: Sequence[Mapping[str, float | list[float]]]) -> dict[str, Tensor]:
    return {name: torch.tensor([d[name] for d in draws], dtype=torch.float32) for name in draws[0]}


@torch.no_grad()
def unedit_batch(images: Tensor, draws: Sequence[Mapping[str, float | list[float]]]) -> Tensor:
    """Render one un-edit per image: ``(N, 3, H, W)`` linear Rec.2020 -> the same shape (not clamped)."""
    return render(images, _stack_settings(draws))


def _srgb(image: Tensor) -> Tensor:
    return srgb_encode(image.clamp(0.0, 1.0))


def restoration_loss(
    result: Tensor, target: Tensor, values: dict[str, Tensor], cfg: TrainConfig, weights: Tensor | None = None
) -> dict[str, Tensor]:
    """The training loss and its parts (the formula is in :mod:`trainer.restore`'s docstring).

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


def apply_agent(
    net: AgentNet, inputs: Tensor, prior: Prior | None = None
) -> tuple[Trajectory, dict[str, Tensor], Tensor]:
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
            assert like is not None  # name is a key of one of the two settings
            ident = torch.as_tensor(get_slider(name).identity, dtype=like.dtype).expand_as(like)
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
    _, settings, out = apply_agent(net, inputs, prior)
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
class RestoreData:
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


def split_held_out(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, held-out) favourite indices; nothing is held out below 4 favourites."""
    n_val = max(1, round(n * fraction)) if n >= 4 and fraction > 0 else 0
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 104_729)).tolist()
    return sorted(perm[n_val:]), sorted(perm[:n_val])


def _sample(
    data: RestoreData, n: int, size: int, gen: torch.Generator, flip: bool
) -> tuple[Tensor, Tensor, Tensor | None]:
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
    traj, _, out = apply_agent(net, inputs, prior)
    captions = [" ".join(get_slider(s).short for s in o) or "no edit" for o in traj.orders]
    return out, captions


def val_psnr(net: AgentNet, data: RestoreData, prior: Prior | None = None) -> tuple[float, float]:
    """PSNR (dB, 8-bit sRGB) of the agent's restorations of the held-out photos, and of doing nothing.

    Held-out un-edited favourites: the mean of the per-photo values. Held-out pairs (the photographer's own
    edits): the photos taken together (:func:`~trainer.metrics.pooled_psnr`), so that a pair whose edit changed
    nothing (doing nothing scores infinity on it) does not decide the check alone.
    """
    out, _ = restore_images(net, data.val_in, prior)
    style, identity = psnr(out, data.val_out), psnr(data.val_in, data.val_out)
    if "held_out_pairs" in data.summary:
        return pooled_psnr(style), pooled_psnr(identity)
    return float(np.mean(style)), float(np.mean(identity))


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


@dataclass
class Outcome:
    """What one optimisation did: steps, why it stopped, the kept checkpoint and the identity's score.

    ``best["val_psnr"]`` and ``identity_psnr`` are ``nan`` where the check pairs were not scored (``checks=False``).
    """

    step: int
    stopped_by: str
    elapsed: float
    best: dict[str, Any]
    identity_psnr: float


def optimise(
    cfg: TrainConfig,
    net: AgentNet,
    data: RestoreData,
    *,
    steps: int,
    minutes: float,
    seed: int,
    info: DistInfo,
    metrics_log: MetricsLog | None = None,
    bar: Any = None,
    checks: bool = True,
) -> Outcome:
    """Train ``net`` on ``data`` for ``steps`` steps or ``minutes`` minutes (0: no limit), whichever ends first.

    Every ``restore.eval_every`` steps (and at the end) the check pairs ``data.val_in -> data.val_out`` are
    scored; the best checkpoint is kept in the outcome (the caller loads it). ``checks=False`` skips those
    scorings, the first too (last weights used, as in the cross-fitted check; the scores are then ``nan``). ``seed``
    seeds batches and dropout masks. ``minutes`` count from the call, the first scoring of the check pairs included.
    """
    a = cfg.agent
    gen = torch.Generator().manual_seed(seed * 1_000_003 + 7 * info.rank + 1)
    torch.manual_seed(seed * 1_000_003 + 7 * info.rank + 2)  # dropout masks
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.restore.lr, weight_decay=cfg.restore.weight_decay)
    start = time.monotonic()  # the first check counts towards ``minutes`` (it renders every check pair)
    deadline = start + minutes * 60.0 if minutes > 0 else math.inf
    style_psnr, identity_psnr = val_psnr(net, data) if checks else (math.nan, math.nan)
    best: dict[str, Any] = {"step": 0, "val_psnr": style_psnr, "state": copy.deepcopy(net.state_dict())}
    step, stopped_by, n_acc = 0, "steps", 0
    acc: dict[str, float] = {}
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
            style_psnr, _ = val_psnr(net, data)
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
        style_psnr, _ = val_psnr(net, data)
        if style_psnr > best["val_psnr"]:
            best = {"step": step, "val_psnr": style_psnr, "state": copy.deepcopy(net.state_dict())}
    return Outcome(step, stopped_by, time.monotonic() - start, best, identity_psnr)
