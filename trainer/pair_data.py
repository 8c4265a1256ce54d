"""The restoration trainer's data from fitted pairs: training views, checks, and the nearest-edits examples.

:func:`paired_data` turns a :class:`trainer.restore_pairs.PairSet` into :class:`trainer.restore_core.RestoreData`
(see :mod:`trainer.restore_pairs` for the recipe); :func:`split_pairs` holds pairs out for the check without
cross-fitting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from backend.agent.look import EXAMPLES_DESCRIPTOR, example_features
from backend.recipe import Recipe
from trainer.config import RestoreConfig, TrainConfig
from trainer.data.dataset import cache_size_of
from trainer.data.pairs import Pair, PairedViews, load_paired_views
from trainer.data.unedit import jitter_settings
from trainer.pseudo_labels import FitResult
from trainer.restore_core import (
    RestoreData,
    UneditSampler,
    split_held_out,
    unedit_batch,
)
from trainer.restore_fit import look_descriptor

if TYPE_CHECKING:
    from trainer.pair_fit import PairSet


#: A style keeps at most this many training photos as nearest-edits examples.
MAX_EXAMPLES = 1000


def views_of(cfg: TrainConfig, pairs: Sequence[Pair], *, seed_offset: int = 0, **images: Any) -> PairedViews:
    """The pairs' aligned views at the run's sizes, as every source of pairs cuts them.

    Args:
        cfg: the configuration (``data.*``, ``agent.thumb``, ``run.seed``).
        pairs: the pairs.
        seed_offset: added to ``run.seed`` for the crops (a single pair cut again).
        images: the edits when they are not read from the pairs' files (``after_images`` or ``renders``, as
            :func:`trainer.data.pairs.load_paired_views` takes them).
    """
    d = cfg.data
    return load_paired_views(
        pairs,
        cache_size=cache_size_of(d, cfg.agent.thumb),
        eval_size=d.eval_size,
        crops=d.crops_per_image,
        seed=cfg.run.seed + seed_offset,
        **images,
    )


def _rounded(value: Any) -> Any:
    return [_rounded(v) for v in value] if isinstance(value, list) else round(float(value), 5)


def _examples(
    views: PairedViews,
    fits: list[FitResult],
    weights: list[float],
    r: RestoreConfig,
    labels: list[Any] | None = None,
    blend: float = 0.0,
) -> dict[str, Any]:
    """A style's ``examples`` metadata: descriptors and recipes, with ``k``, ``mix_k`` and ``mix_centre`` from ``r``."""
    features = example_features(views.before_evals)
    steps = labels if labels is not None else [Recipe.from_settings(f.values).to_dict()["steps"] for f in fits]
    keep = example_indices(len(fits))
    return {
        "descriptor": EXAMPLES_DESCRIPTOR,
        "k": r.nearest_k,
        "mix_k": r.mix_k,
        "mix_centre": r.mix_centre,
        "blend": blend,
        "names": [views.pairs[i].name for i in keep],
        "features": [[round(float(v), 5) for v in features[i]] for i in keep],
        "recipes": [[{"slider": st["slider"], "value": _rounded(st["value"])} for st in steps[i]] for i in keep],
        "fit_psnr": [round(fits[i].psnr_fit, 2) for i in keep],
        "weights": [round(weights[i], 3) for i in keep],
    }


def example_indices(n: int, cap: int = MAX_EXAMPLES) -> list[int]:
    """Which of ``n`` training photos a style keeps as examples: all, or ``cap`` evenly spaced ones.

    The cap keeps a style's metadata well under its 1 MiB limit (an example takes about 0.6 kB).
    """
    if n <= cap:
        return list(range(n))
    return sorted({round(i * (n - 1) / (cap - 1)) for i in range(cap)})


def split_pairs(cfg: TrainConfig, n: int) -> tuple[list[int], list[int]]:
    """(training, held-out) pair indices by ``restore.val_fraction`` (the check without cross-fitting)."""
    return split_held_out(n, cfg.restore.val_fraction, cfg.run.seed)


def paired_data(
    cfg: TrainConfig, ps: PairSet, train_idx: list[int], val_idx: list[int], *, with_examples: bool = True
) -> RestoreData:
    """The restoration trainer's data: views of the training pairs, checks on ``val_idx`` (see the module docstring).

    ``val_idx`` may overlap ``train_idx`` (the check is then in-sample); empty means the training pairs.
    ``with_examples=False`` leaves out the nearest-edits memory (agents that are not exported do not need it).
    """
    r, seed = cfg.restore, cfg.run.seed
    views = ps.views
    rng = np.random.default_rng(seed + 7_919)
    pool_in, pool_out, pool_w = [], [], []
    k = views.before_crops.shape[1]
    for i in train_idx:
        pick = torch.arange(r.pool_per_target) % k
        ins, outs = views.before_crops[i][pick], views.after_crops[i][pick]
        jitter = torch.from_numpy(rng.uniform(size=r.pool_per_target) < r.pair_jitter)
        if bool(jitter.any()):
            draws = [
                jitter_settings(rng, exposure_ev=r.pair_jitter_ev, white_balance=r.pair_jitter_wb)
                for _ in range(int(jitter.sum()))
            ]
            ins = ins.clone()
            ins[jitter] = unedit_batch(ins[jitter], draws)
        pool_in.append(ins)
        pool_out.append(outs)
        pool_w.append(torch.full((r.pool_per_target,), ps.weights[i]))
    n_self = round(r.self_share * r.pool_per_target)
    if n_self > 0:
        sampler = UneditSampler(cfg)
        for i in train_idx:
            outs = views.after_crops[i][torch.arange(n_self) % k]
            pool_in.append(unedit_batch(outs, [sampler(rng) for _ in range(n_self)]))
            pool_out.append(outs)
            pool_w.append(torch.ones(n_self))
    check = val_idx or train_idx
    held_out = sorted(set(val_idx) - set(train_idx))
    fit_psnr = [f.psnr_fit for f in ps.fits]
    summary: dict[str, Any] = {
        "method": "restore",
        "learned_from": "lightroom catalog"
        if "lrcat" in ps.source
        else "lightroom edits"
        if "lightroom_edits" in ps.source
        else "darktable sidecars"
        if "darktable_dir" in ps.source
        else "pairs",
        **ps.source,
        "pairs": len(ps.names),
        "training_pairs": len(train_idx),
        "held_out_pairs": [ps.names[i] for i in held_out],
        "unmatched": ps.unmatched,
        "skipped": list(views.skipped),
        "fit_psnr_mean": round(float(np.mean(fit_psnr)), 2),
        "fit_psnr_min": round(float(np.min(fit_psnr)), 2),
        "poor_fits": ps.poor,
        "fit_seconds": round(ps.fit_seconds, 1),
        "data_seconds": round(ps.load_seconds, 1),
        "views": sum(t.shape[0] for t in pool_in),
    }
    return RestoreData(
        pool_in=torch.cat(pool_in).half().float(),
        pool_out=torch.cat(pool_out).half().float(),
        pool_w=torch.cat(pool_w),
        val_in=views.before_evals[check].half().float(),
        val_out=views.after_evals[check].half().float(),
        sources=None,
        source_crops=None,
        look=look_descriptor(views.after_evals[train_idx]).mean(dim=0),
        summary=summary,
        examples=_examples(views, ps.fits, ps.weights, r, ps.labels, r.nearest_blend) if with_examples else None,
    )
