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
With fewer than 4 favourites (or pairs too few for the cross-fitted check, :mod:`trainer.restore_pairs`)
nothing is held out: the style is scored on its training photos, installed when it beats doing nothing there,
and its ``check`` entry (``kind = "in-sample"``, metric ``val_unseen = 0``) and the summary say that it was not
checked on photos it did not see.

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
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backend.agent.network import AgentNet
from backend.agent.style import Style, save_style, validate_metadata
from backend.agent.thumbnail import make_thumbnail
from trainer import restore_core
from trainer.config import ConfigError, TrainConfig, config_to_dict, config_to_toml
from trainer.data.dataset import cache_size_of
from trainer.data.folders import MIN_PHOTO_SIDE, CroppedPhotos, load_folder, unique_folder_photos
from trainer.data.given import folder_record, unread_subfolders
from trainer.distributed import DistInfo, barrier
from trainer.report import MetricsLog, contact_sheet, plot_curves
from trainer.restore_core import (
    Outcome,
    Prior,
    RestoreData,
    UneditSampler,
    apply_agent,
    degenerate_moves,
    new_restore_net,
    optimise,
    restoration_loss,
    restore_images,
    split_held_out,
    unedit_batch,
)
from trainer.restore_fit import fit_unedit_centre, look_descriptor
from trainer.restore_pairs import paired_run_data
from trainer.result import TrainResult, install_keeping, next_model_version, summary_left_out_notes
from trainer.run_folder import refuse_trained_run_dir
from trainer.summary_lines import counted

__all__ = ["METRIC_COLUMNS", "UneditSampler", "degenerate_moves", "restoration_loss", "train_restore"]

log = logging.getLogger(__name__)


#: Columns of ``metrics.csv``.
METRIC_COLUMNS: tuple[str, ...] = (
    "step", "time_s", "lr", "loss", "image", "lab", "sparsity", "dist", "val_psnr", "val_gain"
)  # fmt: skip
PLOT_KEYS: tuple[str, ...] = ("loss", "image", "lab", "sparsity", "dist", "val_psnr", "val_gain")


def _build_data(cfg: TrainConfig, targets: str | Path, sources: str | Path | None) -> RestoreData:
    r, d, seed = cfg.restore, cfg.data, cfg.run.seed
    csize = cache_size_of(d, cfg.agent.thumb)
    common = {"cache_size": csize, "eval_size": d.eval_size, "crops": d.crops_per_image}
    fav_files, fav_dups = unique_folder_photos(targets, d.max_images, "favourites", prefix="restore", logger=log)
    fav: CroppedPhotos = load_folder(fav_files, seed=seed, min_side=MIN_PHOTO_SIDE, **common)
    src: CroppedPhotos | None = None
    src_dups: list[str] = []
    if sources is not None:
        src_files, src_dups = unique_folder_photos(sources, d.max_images, "sources", prefix="restore", logger=log)
        src = load_folder(src_files, seed=seed + 1_000_003, **common)
    train_idx, val_idx = split_held_out(len(fav.names), r.val_fraction, seed)
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
        **folder_record("targets", targets, with_sidecars=False),
        "targets": len(fav.names),
        "target_names": list(fav.names),
        "training_targets": len(train_idx),
        "held_out_targets": [fav.names[i] for i in val_idx],
        **({"sources_dir": None} if sources is None else folder_record("sources", sources, with_sidecars=False)),
        "sources": "none (un-edits of the favourites)" if src is None else len(src.names),
        "unedit": r.unedit,
        "unedit_centre": centre,
        "pairs": len(train_idx) * r.pool_per_target,
    }
    unread = unread_subfolders(targets, sources, with_sidecars=False)
    if unread:  # only then: the style's metadata is otherwise as before
        summary["subfolders_not_read"] = unread
    _record_skipped(summary, fav_dups, src_dups, fav, src)
    return RestoreData(
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


def _record_skipped(
    summary: dict[str, Any], fav_dups: list[str], src_dups: list[str], fav: CroppedPhotos, src: CroppedPhotos | None
) -> None:
    """Record the photos left out (duplicates, too small, unreadable) in the summary, and as notes for the command's.

    The notes are :func:`trainer.result.summary_left_out_notes` of those keys (worded as the GAN run's).

    Keys are added only when something was left out, so that the style's metadata is otherwise unchanged.
    """
    if fav_dups:
        summary["duplicate_targets_dropped"] = fav_dups
    if src_dups:
        summary["duplicate_sources_dropped"] = src_dups
    small, bad_src = fav.too_small, () if src is None else src.unreadable
    if small:
        summary["too_small_targets_skipped"] = list(small)
    if fav.unreadable:
        summary["unreadable_targets_skipped"] = list(fav.unreadable)
    if bad_src:
        summary["unreadable_sources_skipped"] = list(bad_src)
    notes = summary_left_out_notes(summary)
    if notes:
        summary["notes"] = notes


def load_prior(cfg: TrainConfig) -> Prior | None:
    """The prior ``restore.prior`` names (``None`` when it names none); ``"default"`` is the shipped default style.

    Raises:
        NotFoundError: no such style.
        ConfigError: its agent is not a one-shot agent.
    """
    from backend.agent.style import SHIPPED_STYLES_DIR, load_style

    if not cfg.restore.prior:
        return None
    name = cfg.restore.prior
    # "default" is the shipped default style, never a user's style of that name (which may shadow it, and may
    # itself carry this prior): load it from the shipped folder, not through the user-first search
    style = load_style(SHIPPED_STYLES_DIR / "default.safetensors" if name == "default" else name)
    if not style.net.oneshot or style.net.max_steps != 1:
        raise ConfigError(f"restore.prior {cfg.restore.prior}: its agent is not a one-shot agent")
    if style.prior is not None:
        raise ConfigError(f"restore.prior {cfg.restore.prior}: it has a prior of its own; name a general style")
    return Prior(style.net.eval(), cfg.restore.prior_share, style.model)


#: With ``--sources``: the fractions of ``restore.prior_share`` tried against the sources' look.
PRIOR_FRACTIONS = (0.0, 0.5, 1.0)


@torch.no_grad()
def fit_prior_share(net: AgentNet, data: RestoreData, prior: Prior) -> tuple[Prior | None, dict[str, float]]:
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
        _, _, out = apply_agent(net, data.sources, dataclasses.replace(prior, share=share) if share > 0 else None)  # type: ignore[arg-type]
        distance = float((look_descriptor(out).mean(dim=0) - data.look).square().sum())
        distances[f"{share:g}"] = round(distance, 6)
        if distance < best - 1e-9:
            best, best_share = distance, share
    return (dataclasses.replace(prior, share=best_share) if best_share > 0 else None), distances


def _favourites_data(
    cfg: TrainConfig, targets: str | Path, sources: str | Path | None, t0: float
) -> tuple[RestoreData, Prior | None]:
    """The data of a run from favourites (un-edited copies of them as inputs) and the look prior, logged."""
    data = _build_data(cfg, targets, sources)
    prior = load_prior(cfg)
    log.info(
        "restore: %d favourites (%d held out), %d training pairs, data ready in %.1f s",
        data.summary["targets"],
        len(data.summary["held_out_targets"]),
        data.pool_in.shape[0],
        time.monotonic() - t0,
    )
    return data, prior


def _optimise_with_bar(
    cfg: TrainConfig,
    net: AgentNet,
    data: RestoreData,
    steps: int,
    minutes: float,
    info: DistInfo,
    metrics_log: MetricsLog | None,
    progress: bool,
) -> Outcome:
    """:func:`trainer.restore_core.optimise` with a tqdm progress bar on the main process when ``progress``."""
    bar = None
    if progress and info.is_main:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc=cfg.run.style, unit="step", dynamic_ncols=True)
    try:
        return optimise(
            cfg, net, data, steps=steps, minutes=minutes, seed=cfg.run.seed, info=info, metrics_log=metrics_log, bar=bar
        )
    finally:
        if bar is not None:
            bar.close()


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
    """Train a style by restoration (see the module docstring); returns a :class:`trainer.result.TrainResult`.

    Args:
        cfg: the experiment configuration (``run.method == "restore"``).
        targets: folder of favourites (``None`` with ``pairs``).
        sources: folder of unedited photos (fits the un-edit centre; checked for degenerate moves), or ``None``.
        pairs: ``(originals folder, edits folder)``: learn from the photographer's own before/after pairs
            (:mod:`trainer.restore_pairs`) instead of un-edited favourites.
        catalog: ``(lrcat, selection, photos folder or None)``: learn from the develop settings of a Lightroom
            catalog's favourites (:func:`trainer.restore_pairs.load_catalog_pair_set`), as pairs.
        darktable: a folder of photos with darktable sidecars: learn from darktable's renders of them
            (:func:`trainer.darktable_pairs.load_darktable_pair_set`), as pairs.
        edits: ``{"path", "settings"}`` per photo: originals with their Lightroom develop settings, as the
            plug-in sends them (:func:`trainer.restore_pairs.load_settings_pair_set`), learnt as pairs.
        run: the run folder.
        install_dir: style folder to install into (``None``: only the run folder).
        progress: show a tqdm progress bar (rank 0).
        info: the process's place in a torchrun job (gradients are averaged over processes).

    Raises:
        ConfigError: the run folder already holds a trained style (:func:`trainer.run_folder.refuse_trained_run_dir`).
        NotFoundError: a folder is missing or empty.
    """
    refuse_trained_run_dir(run)
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
        data, crossfit, minutes = paired_run_data(cfg, net, info, t0, minutes, pairs, catalog, darktable, edits)
    elif targets is None:
        raise ConfigError(
            "restoration training needs favourites (--targets), before/after pairs (--pairs), a catalog's "
            "favourites (--lrcat --favourites) or darktable edits (--darktable)"
        )
    else:
        data, prior = _favourites_data(cfg, targets, sources, t0)
    metrics_log = MetricsLog(run / "metrics.csv", METRIC_COLUMNS) if info.is_main else None
    outcome = _optimise_with_bar(cfg, net, data, steps, minutes, info, metrics_log, progress)
    if crossfit is None:
        net.load_state_dict(outcome.best["state"])
        data.summary["check"] = _plain_check(cfg, data)
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
        result.metrics, result.rejected, result.kept_path = _finish(cfg, net, data, run, install_dir, outcome, prior)
        result.style_path = run / "style" / f"{cfg.run.style}.safetensors"
        result.notes = list(data.summary.get("notes", []))
        if not result.rejected and install_dir is not None:
            result.installed_path = Path(install_dir) / f"{cfg.run.style}.safetensors"
        if metrics_log is not None:
            plot_curves(metrics_log.rows(), PLOT_KEYS, run / "curves.png")
    barrier(info)
    return result


def _plain_check(cfg: TrainConfig, data: RestoreData) -> dict[str, Any]:
    """The style's ``check`` entry when the check is not cross-fitted: held-out, or in-sample when too few.

    With fewer than 4 favourites or pairs nothing is held out (:func:`~trainer.restore_core.split_held_out`),
    and with too few pairs the cross-fitted check does not run: the style is then scored on what it was trained
    on, which says little about new photos, and the entry says so.
    """
    paired = "held_out_pairs" in data.summary
    what = "pairs" if paired else "favourites"
    held = data.summary["held_out_pairs" if paired else "held_out_targets"]
    if held:
        return {"kind": "held-out", "unseen": True, "held_out": len(held)}
    n = data.summary["pairs"] if paired else data.summary["targets"]
    r = cfg.restore
    needs = ([4] if r.val_fraction > 0 else []) + ([2 * r.check_folds] if paired and r.check_folds >= 2 else [])
    why = f"at least {min(needs)} are needed" if needs else "restore.val_fraction is 0"
    return {
        "kind": "in-sample",
        "unseen": False,
        "reason": f"too few {what} ({n}) to check the style on {what} it did not see ({why}); scored on its "
        f"training {what}",
    }


def _check_place(data: RestoreData) -> str:
    """Where the style was scored against doing nothing, for messages: "pairs it did not see (...)", etc."""
    what = "pairs" if "held_out_pairs" in data.summary else "favourites"
    check = data.summary.get("check", {})
    if check.get("kind") == "in-sample":
        return f"its training {what} (too few {what} to check it on unseen ones)"
    if check.get("kind") == "held-out":
        return f"the held-out {what}"
    return f"{what} it did not see ({check.get('kind', 'cross-fitted')} check)"


def _threshold_note(min_gain_db: float) -> str:
    """The refusal's mention of a gain threshold other than doing nothing (``restore.min_gain_db``), else ``""``."""
    return "" if min_gain_db == 0.0 else f", short of the {min_gain_db:+.2f} dB that restore.min_gain_db asks for"


def _untrained_reasons(outcome: Outcome, check: dict[str, Any]) -> list[str]:
    """Reasons not to install a style that did not train, or whose check trained nothing (none: it did both).

    A run whose ``--minutes`` were spent before its first step keeps the untrained agent, which proposes no edit:
    its score is exactly doing nothing's (a gain of 0.00 dB, which ``restore.min_gain_db = 0`` would pass), and a
    cross-fitted check whose agents trained 0 steps (``fold_steps``) checked nothing. Either is a run too short to
    judge, not a style; ``--force`` installs it anyway. (With a prior the 0-step style is half the prior and may
    score above doing nothing; it is refused all the same: the half it was trained for has learnt nothing.)

    Args:
        outcome: the final optimisation (its ``step``: the steps trained, >= 0).
        check: the data's ``check`` summary (a cross-fitted check's ``fold_steps``, when it has them).

    Returns:
        The reasons, for the refusal message (empty when the style and its check both trained).
    """
    reasons = []
    if outcome.step == 0:
        reasons.append("it trained 0 steps in the time given (give it more --minutes)")
    folds = check.get("fold_steps") or []
    if 0 in folds:
        reasons.append(
            f"its cross-fitted check trained {', '.join(str(n) for n in folds)} steps on its folds in the time "
            "given, so it was not checked (give it more --minutes)"
        )
    return reasons


def _verdict(
    cfg: TrainConfig, net: AgentNet, data: RestoreData, outcome: Outcome, prior: Prior | None
) -> tuple[float, list[str]]:
    """The kept checkpoint's score as it will suggest (dB PSNR) and the reasons not to install it (none: install).

    Records the score in the data's ``check`` summary (held-out or in-sample checks) and warns when the check
    could only use the training photos.
    """
    identity_psnr = outcome.identity_psnr
    checks = data.val_in if data.sources is None else torch.cat((data.val_in, data.sources))
    reasons = degenerate_moves(net, checks, prior)
    val_psnr = outcome.best["val_psnr"] if prior is None else restore_core.val_psnr(net, data, prior)[0]
    gain = val_psnr - identity_psnr
    if not gain >= cfg.restore.min_gain_db:  # a score that is not a number refuses too
        reasons.insert(
            0,
            f"on {_check_place(data)} it scores {val_psnr:.2f} dB, doing nothing {identity_psnr:.2f} dB "
            f"({gain:+.2f} dB)" + _threshold_note(cfg.restore.min_gain_db),
        )
    check = data.summary.get("check", {})
    reasons[:0] = _untrained_reasons(outcome, check)
    if check.get("kind") in ("held-out", "in-sample"):
        check |= {"psnr": round(val_psnr, 2), "identity_psnr": round(identity_psnr, 2)}
    if check.get("kind") == "in-sample" and not reasons:
        log.warning(
            "restore: style %r was not checked on photos it did not see: %s (%.2f dB, doing nothing %.2f dB); it "
            "passes as it beats doing nothing there",
            cfg.run.style,
            check["reason"],
            val_psnr,
            identity_psnr,
        )
    return val_psnr, reasons


def _finish(
    cfg: TrainConfig,
    net: AgentNet,
    data: RestoreData,
    run: Path,
    install_dir: str | Path | None,
    outcome: Outcome,
    prior: Prior | None,
) -> tuple[dict[str, float], str | None, Path | None]:
    """Score the kept checkpoint, write the report files, export (and maybe install) the style.

    Returns:
        The metrics, why the style was not installed (``None``: it was, or there was nowhere to), and the copy
        kept of the style that installing replaced (:func:`trainer.result.install_keeping`), if any.
    """
    best, identity_psnr, step, elapsed = outcome.best, outcome.identity_psnr, outcome.step, outcome.elapsed
    val_psnr, reasons = _verdict(cfg, net, data, outcome, prior)
    gain = val_psnr - identity_psnr
    check = data.summary.get("check", {})
    out, captions = restore_images(net, data.val_in, prior)
    n = min(8, out.shape[0])
    contact_sheet(data.val_in[:n], out[:n], run / "contact_sheet.png", targets=data.val_out[:n:4], captions=captions)
    metrics = {
        "val_psnr_identity": identity_psnr,
        "val_psnr": val_psnr,
        "val_gain_db": gain,
        "val_unseen": 0.0 if check.get("kind") == "in-sample" else 1.0,  # 0: scored on its training photos
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
    training = {k: v for k, v in data.summary.items() if k not in ("target_names", "notes")} | {
        "steps": step,
        "train_seconds": round(elapsed, 1),
        "config": config_to_dict(cfg),
    }
    kinds = {
        "pairs": ("before/after pair", "before/after pairs"),
        "lightroom catalog": ("edited photo of a Lightroom catalog", "edited photos of a Lightroom catalog"),
        "lightroom edits": ("photo edited in Lightroom", "photos edited in Lightroom"),
        "darktable sidecars": ("photo edited in darktable", "photos edited in darktable"),
    }
    kind = kinds.get(str(data.summary.get("learned_from")))
    learned = counted(data.summary["pairs"], *kind) if kind else counted(data.summary["targets"], "favourite")
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
    kept = None
    if rejected is None and install_dir is not None:
        style.model_version = next_model_version(Path(install_dir), cfg.run.style)
        kept = install_keeping(style, Path(install_dir), trained_in=run / "style").kept
    return metrics, rejected, kept
