"""The cross-fitted check of a style trained on pairs (``restore.check_folds``): every pair scored once, unseen.

See :func:`crossfit_check` and the module docstring of :mod:`trainer.restore_pairs`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from backend.agent.nearest import mix_recipe
from backend.agent.network import AgentNet
from backend.agent.rollout import rollout
from backend.agent.thumbnail import make_thumbnail
from backend.recipe import blend, render_recipe
from trainer.config import TrainConfig
from trainer.distributed import DistInfo
from trainer.metrics import pooled_psnr, psnr
from trainer.pair_data import _examples, paired_data
from trainer.restore_core import (
    new_restore_net,
    optimise,
    restore_images,
)

if TYPE_CHECKING:
    from trainer.pair_fit import PairSet

log = logging.getLogger(__name__)


#: The highest PSNR (dB) the cross-fitted check scores (identical images give infinity otherwise).
_PSNR_CAP = 100.0


def _check_psnr(a: Tensor, b: Tensor) -> float:
    """PSNR (dB) of one ``(1, 3, E, E)`` result against its edit, capped at :data:`_PSNR_CAP`.

    Capped like the fits' PSNR: a result that reproduces the edit exactly (one preset on every photo with the edits
    rendered by our own renderer, or an "edit" that changed nothing) scores 100 dB, not infinity, so the check's
    means, errors and the style's metadata stay finite.
    """
    return min(float(psnr(a, b)[0]), _PSNR_CAP)


def _fold_examples(cfg: TrainConfig, ps: PairSet, idx: list[int]) -> dict[str, Any]:
    """The nearest-edits memory of the pairs ``idx`` alone (as :func:`paired_data` builds it for a style)."""
    views = dataclasses.replace(
        ps.views, before_evals=ps.views.before_evals[idx], pairs=tuple(ps.views.pairs[i] for i in idx)
    )
    labels = [ps.labels[i] for i in idx] if ps.labels is not None else None
    return _examples(views, [ps.fits[i] for i in idx], [ps.weights[i] for i in idx], cfg.restore, labels)


def _mix_scores(
    net: AgentNet,
    examples: dict[str, Any],
    before: Tensor,
    after: Tensor,
    shares: Sequence[float],
    *,
    deadline: float | None = None,
    default: float | None = None,
) -> list[list[float | None]]:
    """PSNR (dB, at most 100) of every ``(1, 3, E, E)`` photo of ``before`` under each share of the style's mix.

    Args:
        net: the fold's agent.
        examples: the nearest-edits memory of the pairs it was trained on.
        before: ``(N, 3, E, E)`` the originals scored, linear Rec.2020.
        after: ``(N, 3, E, E)`` their edits.
        shares: the nearest-edits shares scored, each in [0, 1].
        deadline: :func:`time.monotonic` time (s) after which a photo is scored at ``default`` only (the other
            shares are ``None``); ``None``: every photo at every share.
        default: the share scored after the deadline (one of ``shares``).

    Returns:
        ``[photo][share]``: the agent's recipe blended with the photo's nearest edits (share ``s`` of the
        nearest recipe), rendered on the original and scored against the edit, as a suggestion is; ``None``
        where the deadline left that share out.
    """
    net.eval()
    scores: list[list[float | None]] = []
    for j in range(before.shape[0]):
        photo = before[j : j + 1]
        late = deadline is not None and time.monotonic() >= deadline
        with torch.no_grad():
            agent = rollout(net, make_thumbnail(photo, net.thumb), render_final=False).recipe()
            near = mix_recipe(examples, photo)
            outs = [
                None if late and s != default else render_recipe(photo, blend([agent, near], [1.0 - s, s]))
                for s in shares
            ]
        scores.append([None if out is None else _check_psnr(out, after[j : j + 1]) for out in outs])
    return scores


def _choose_blend(per_pair: list[dict[str, Any]], shares: Sequence[float], default: float) -> dict[str, Any]:
    """The nearest-edits share of the style's mix, chosen on the check's pairs.

    The share whose mix scores best on average replaces ``default`` (``restore.nearest_blend``) only where the
    evidence is clear: its gain over the default's mix, pair by pair, must be positive by more than twice its
    standard error (with 12-16 pairs the check's means of nearby shares differ by noise; a look that is the same
    on every photo makes the nearest edits win on every pair). Each pair's style score becomes the chosen mix's
    (the agent's alone is kept as ``agent``). Where some pair was not scored at every share (the check ran out of
    time, :func:`_mix_scores`), nothing is chosen: ``default`` stays and the style is scored as its mix.

    Returns:
        ``blend`` (the chosen share), ``blend_psnr`` (mean dB by share) and ``blend_gain_se`` (the best share's
        mean gain over the default's and its standard error, dB); or, with shares left unscored, ``blend`` and
        ``blend_not_chosen`` (why).
    """
    grid = list(shares)  # the default among them
    base = grid.index(default)
    if any(None in p["mixes"] for p in per_pair):
        for p in per_pair:
            p["agent"], p["style"] = p["style"], p["mixes"][base]
        log.warning("cross-fitted check: no time left to compare the nearest-edits shares; %g kept", default)
        return {"blend": default, "blend_not_chosen": "no time left to compare the shares"}
    means = [float(np.mean([p["mixes"][k] for p in per_pair])) for k in range(len(grid))]
    best = max(range(len(grid)), key=lambda k: means[k])
    gains = np.array([p["mixes"][best] - p["mixes"][base] for p in per_pair])
    se = float(gains.std(ddof=1) / np.sqrt(len(gains))) if len(gains) > 1 else float("inf")
    chosen = best if float(gains.mean()) > 2.0 * se else base
    for p in per_pair:
        p["agent"], p["style"] = p["style"], p["mixes"][chosen]
    by_share = {f"{s:g}": round(m, 2) for s, m in zip(grid, means, strict=True)}
    log.info(
        "cross-fitted check: nearest-edits share %g (PSNR by share: %s; the best share's gain over %g: %+.2f dB, "
        "standard error %.2f dB)",
        grid[chosen],
        by_share,
        default,
        float(gains.mean()),
        se,
    )
    return {
        "blend": grid[chosen],
        "blend_psnr": by_share,
        "blend_gain_se": [round(float(gains.mean()), 2), round(se, 2)],
    }


def _scored(
    cfg: TrainConfig,
    ps: PairSet,
    net: AgentNet,
    held: list[int],
    examples: dict[str, Any] | None,
    shares: Sequence[float],
    deadline: float | None,
) -> list[dict[str, Any]]:
    """The check's rows of the pairs ``held`` (name, style dB, identity dB, ``mixes``), scored by ``net``.

    ``examples``: the nearest-edits memory of the fold's training pairs (``None`` without ``shares``);
    ``deadline``: :func:`time.monotonic` time (s) after which the mixes are scored at ``restore.nearest_blend``
    only (:func:`_mix_scores`), or ``None``.
    """
    net.eval()
    before, after = ps.views.before_evals[held], ps.views.after_evals[held]
    out, _ = restore_images(net, before)
    mixes = None
    if shares and examples is not None:
        mixes = _mix_scores(net, examples, before, after, shares, deadline=deadline, default=cfg.restore.nearest_blend)
    return [
        {
            "pair": ps.names[i],
            "style": _check_psnr(out[j : j + 1], after[j : j + 1]),
            "identity": _check_psnr(before[j : j + 1], after[j : j + 1]),
        }
        | ({"mixes": mixes[j]} if mixes is not None else {})
        for j, i in enumerate(held)
    ]


def _fold_minutes(deadline: float, folds_left: int, scoring_s: float) -> float:
    """Minutes of training a fold of a time-bounded check gets (positive; tiny when no time is left).

    Args:
        deadline: :func:`time.monotonic` time (s) the check ends.
        folds_left: the folds still to do, this one included (>= 1).
        scoring_s: the seconds this fold's scoring is expected to take (>= 0).

    Returns:
        An equal share of the time left to the deadline, less ``scoring_s``, in minutes; at least 1e-6 (``minutes``
        0 would mean "no limit" to :func:`~trainer.restore_core.optimise`: such a fold trains 0 steps).
    """
    share_s = max(deadline - time.monotonic(), 0.0) / folds_left
    return max(share_s - scoring_s, 0.0) / 60.0 or 1e-6


# Long: the folds' loop with its time bookkeeping; the scoring and the share choice are helpers.
def crossfit_check(
    cfg: TrainConfig,
    ps: PairSet,
    folds: int,
    *,
    steps: int,
    minutes: float,
    info: DistInfo,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Score the training recipe on pairs it has not seen, every pair once (``restore.check_folds``).

    The pairs are split into ``folds`` groups by a fixed permutation; for each group a fresh agent is trained on
    the other pairs with the same recipe (``steps`` / ``minutes`` each, its last weights) and scored on that
    group's originals against the edits, beside doing nothing. The style itself is then trained on every pair;
    this check says how it can be expected to do on new photos, and decides whether it is installed.

    With ``deadline`` (``--minutes``) the check is bounded by the wall clock instead of ``minutes``: each fold
    gets an equal share of the time left, its training that share less the time its scoring is expected to take
    (measured on one photo before the first fold, then on the folds done); a fold with no time left trains 0 steps,
    and once the deadline has passed the photos are scored at ``restore.nearest_blend`` only and no share is chosen
    (:func:`_choose_blend`). The scoring itself is never skipped, so a check out of time still scores every pair
    (the minimum: untrained agents, one mix each), overrunning the deadline by that scoring; ``summary`` then says
    so (``out_of_time``). Without ``deadline`` the check is exactly as before (``--steps``: deterministic).

    Args:
        cfg: the configuration (``restore.*``, ``run.seed``).
        ps: the pairs.
        folds: the number of groups (>= 2; at most half the pairs).
        steps: training steps of each fold's agent.
        minutes: training minutes of each fold's agent (0: no limit); ignored with ``deadline``.
        info: the process's place in a distributed run.
        deadline: :func:`time.monotonic` time (s) the whole check ends, or ``None``.

    Returns:
        ``val_psnr`` and ``val_psnr_identity`` (PSNR in dB of every pair taken together,
        :func:`~trainer.metrics.pooled_psnr`, each pair scored by the agent that did not see it), ``per_pair`` (name,
        style dB, identity dB; with ``restore.nearest_blends`` also the mix's dB at each share, ``mixes``, ``None``
        where the deadline left a share out), ``summary`` for the style's metadata (with ``deadline`` also
        ``fold_steps``, each fold's training steps, and ``out_of_time`` where a fold trained 0 steps or no share
        was chosen) and ``blend``: the nearest-edits share chosen among ``restore.nearest_blends`` (the style is then
        scored as that mix), else ``None``.
    """
    n = len(ps.names)
    r = cfg.restore
    shares = tuple(sorted({*r.nearest_blends, r.nearest_blend})) if r.nearest_blends else ()
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.run.seed + 104_729)).tolist()
    groups = [sorted(perm[f::folds]) for f in range(folds)]
    per_pair: list[dict[str, Any]] = []
    fold_steps: list[int] = []
    per_photo_s: float | None = None  # seconds a held photo's scoring takes (time-bounded checks)
    t0 = time.monotonic()
    for f, held in enumerate(groups):
        train_idx = [i for i in range(n) if i not in held]
        examples = _fold_examples(cfg, ps, train_idx) if shares else None
        torch.manual_seed(cfg.run.seed + 31 * (f + 1))
        net = new_restore_net(cfg)
        if deadline is not None and per_photo_s is None and time.monotonic() < deadline:
            t_one = time.monotonic()  # time one photo's scoring (the untrained agent's)
            _scored(cfg, ps, net, held[:1], examples, shares, None)
            per_photo_s = time.monotonic() - t_one
        if deadline is not None and time.monotonic() >= deadline:
            fold_steps.append(0)  # no time left: the untrained agent (it proposes no edit) is scored
        else:
            data = paired_data(cfg, ps, train_idx, train_idx, with_examples=False)
            fold_minutes = minutes
            if deadline is not None:
                fold_minutes = _fold_minutes(deadline, folds - f, (per_photo_s or 0.0) * len(held))
            outcome = optimise(
                cfg,
                net,
                data,
                steps=steps,
                minutes=fold_minutes,
                seed=cfg.run.seed + 31 * (f + 1),
                info=info,
                checks=False,
            )
            fold_steps.append(outcome.step)
        t_score = time.monotonic()
        per_pair += _scored(cfg, ps, net, held, examples, shares, deadline)
        if deadline is not None and time.monotonic() < deadline:
            per_photo_s = (time.monotonic() - t_score) / len(held)
        log.info("cross-fitted check: fold %d of %d done (%.0f s)", f + 1, folds, time.monotonic() - t0)
    blend_choice = _choose_blend(per_pair, shares, r.nearest_blend) if shares else {}
    style = pooled_psnr([p["style"] for p in per_pair])  # taken together: an unedited pair does not decide alone
    identity = pooled_psnr([p["identity"] for p in per_pair])
    worst = min(per_pair, key=lambda p: p["style"] - p["identity"])
    summary = {
        "kind": f"{folds}-fold cross-fitted",
        "psnr": round(style, 2),
        "identity_psnr": round(identity, 2),
        "worst_pair": worst["pair"],
        "worst_gain_db": round(worst["style"] - worst["identity"], 2),
        "seconds": round(time.monotonic() - t0, 1),
        **blend_choice,
    }
    if deadline is not None:  # only then: a --steps check's metadata is as before
        summary["fold_steps"] = fold_steps
        if 0 in fold_steps or "blend_not_chosen" in blend_choice:
            summary["out_of_time"] = True
    log.info(
        "cross-fitted check: %.2f dB on pairs each agent did not see, doing nothing %.2f dB (worst pair %s %+.2f dB)",
        style,
        identity,
        worst["pair"],
        worst["style"] - worst["identity"],
    )
    return {
        "val_psnr": style,
        "val_psnr_identity": identity,
        "per_pair": per_pair,
        "summary": summary,
        "blend": blend_choice.get("blend"),
    }


def _record_check_notes(summary: dict[str, Any], check: Mapping[str, Any]) -> None:
    """Say in the run's ``summary`` (a note) when the cross-fitted check ``check`` ran out of ``--minutes``.

    Unchanged when it did not (:func:`crossfit_check`'s ``out_of_time``).
    """
    if not check.get("out_of_time"):
        return
    steps = " and ".join(str(s) for s in check.get("fold_steps", []))
    chose = f"; the nearest-edits share was not chosen ({check['blend']:g} kept)" if "blend_not_chosen" in check else ""
    text = (
        f"the cross-fitted check ran out of --minutes: its agents were trained {steps} steps{chose}, so it says "
        "less about the style; more minutes make it a fair check"
    )
    log.warning("%s", text)
    summary["notes"] = [*summary.get("notes", []), text]
