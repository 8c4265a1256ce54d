"""Behaviour cloning of the agent from an expert's slider history in a Lightroom catalog (FiveK's ``fivek.lrcat``).

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional

from backend.agent.actions import AGENT_SLIDERS
from backend.agent.network import AgentNet
from backend.agent.rollout import rollout
from backend.agent.style import Style, read_metadata, save_style, validate_metadata
from backend.agent.thumbnail import PREVIEW_LONG_SIDE, make_thumbnail
from backend.errors import AutoretouchError, DecodeError, NotFoundError
from backend.fsio import write_text_atomic
from backend.recipe import SliderValue
from backend.render.pipeline import render
from backend.sliders.catalog import get_slider
from trainer.checkpoint import save_checkpoint
from trainer.config import ImitationConfig, TrainConfig, config_to_dict, config_to_toml
from trainer.lrcat import LIGHTROOM_DEFAULTS, ZEROED, LightroomCatalog, expert_settings, photo_recipe
from trainer.pseudo_labels import FitResult, StemIndex, fit_recipes, load_squeezed, pipeline_rank
from trainer.report import MetricsLog

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


# -- targets ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpertTarget:
    """What the agent should do on one photo.

    Attributes:
        name: the catalog photo's base name.
        image_id: ``Adobe_images.id_local`` of the expert's copy.
        input_path: the input photo file.
        rendition_path: the expert's rendition, or ``None``.
        order: the sliders in target order (at most ``max_steps``).
        values: target value of each slider of ``order`` (catalog units).
        mapped: the PV2003-mapped values of the agent's sliders (the fit's start).
        ordered_by: ``"history"`` when the history placed at least one slider, else ``"pipeline"``.
        source: ``"pseudo-label"`` or ``"pv2003"`` (where ``values`` come from).
        fit: the pseudo-label fit, or ``None``.
        notes: what the mapping or the fit left out.
    """

    name: str
    image_id: int
    input_path: Path
    rendition_path: Path | None
    order: tuple[str, ...]
    values: dict[str, SliderValue]
    mapped: dict[str, SliderValue]
    ordered_by: str
    source: str
    fit: FitResult | None = None
    notes: tuple[str, ...] = ()


@dataclass
class ExpertData:
    """An expert's targets with the input thumbnails.

    Attributes:
        targets: one per usable photo.
        thumbs: ``(P, 3, T, T)`` float32 linear Rec.2020 input thumbnails (``T = agent.thumb``).
        summary: JSON-ready description (catalog, expert, counts, fit PSNRs) for the style metadata.
    """

    targets: list[ExpertTarget]
    thumbs: Tensor
    summary: dict[str, Any] = field(default_factory=dict)


def expert_order(
    sliders: Sequence[str], first_moved: Mapping[str, int], allowed: Sequence[str], max_steps: int
) -> tuple[tuple[str, ...], str]:
    """Target order of a photo's sliders (module docstring, point 2).

    Args:
        sliders: the recipe's sliders (any order).
        first_moved: slider -> index of the history step that first moved it.
        allowed: the agent's sliders; others are dropped.
        max_steps: cap on the length.

    Returns:
        (order, ``"history"`` or ``"pipeline"``).
    """
    keep = [s for s in dict.fromkeys(sliders) if s in allowed]
    order = sorted(keep, key=lambda s: (first_moved.get(s, math.inf), pipeline_rank(s)))
    by = "history" if any(s in first_moved for s in keep) else "pipeline"
    return tuple(order[:max_steps]), by


def resolve_photo(path: str | None, base_name: str, catalog_dir: Path, photos: StemIndex | None) -> Path | None:
    """The input file of a catalog photo (module docstring: recorded path, tail below the catalog, ``--photos``)."""
    if path:
        recorded = Path(path)
        if recorded.is_file():
            return recorded
        parts = [p for p in path.replace("\\", "/").split("/") if p]
        for i in range(1, len(parts)):
            candidate = catalog_dir.joinpath(*parts[i:])
            if candidate.is_file():
                return candidate
    return photos.find(base_name) if photos is not None else None


def _decode_input(path: Path, thumb: int, fit_size: int | None) -> tuple[Tensor, Tensor | None]:
    from backend.decode import decode_preview

    long_side = max(PREVIEW_LONG_SIDE, 2 * fit_size if fit_size else 0, thumb)
    image = decode_preview(path, long_side=long_side).image.float()
    return make_thumbnail(image, thumb), (make_thumbnail(image, fit_size) if fit_size else None)


def load_expert_data(
    catalog: str | Path,
    expert: str,
    *,
    sliders: Sequence[str],
    max_steps: int,
    thumb: int,
    icfg: ImitationConfig,
    photos: str | Path | None = None,
    renditions: str | Path | None = None,
) -> ExpertData:
    """Read an expert's photos, map (and fit) their targets and decode the input thumbnails.

    Args:
        catalog: the ``.lrcat`` file.
        expert: the expert's collection or copy name (``"A"`` .. ``"E"`` in FiveK).
        sliders: the agent's sliders.
        max_steps: the agent's step cap.
        thumb: thumbnail side of the agent.
        icfg: the ``[imitation]`` configuration.
        photos: fallback folder of input photos (stem rule).
        renditions: folder of the expert's renditions (stem rule); pseudo-labels are fitted for the photos found.

    Returns:
        :class:`ExpertData`.

    Raises:
        CatalogError: the expert cannot be found or a row cannot be read.
        NotFoundError: a folder is missing, or no photo of the expert could be found and decoded.
    """
    cat_path = Path(catalog)
    photo_index = StemIndex(photos) if photos is not None else None
    rendition_index = StemIndex(renditions) if renditions is not None else None
    fit_size = icfg.fit_size if rendition_index is not None else None
    baseline = ZEROED if icfg.baseline == "zeroed" else LIGHTROOM_DEFAULTS
    pending: list[dict[str, Any]] = []
    queue: list[tuple[dict[str, Any], Tensor, Tensor]] = []  # (photo, input, rendition) waiting for the fit
    skipped: list[str] = []

    def flush() -> None:
        if not queue:
            return
        results = fit_recipes(
            torch.cat([q[1] for q in queue]),
            torch.cat([q[2] for q in queue]),
            [q[0]["order"] for q in queue],
            [q[0]["mapped"] for q in queue],
            iters=icfg.fit_iters,
            lr=icfg.fit_lr,
        )
        for q, result in zip(queue, results, strict=True):
            q[0]["fit"] = result
        queue.clear()  # the fit thumbnails are not kept

    with LightroomCatalog(cat_path) as cat:
        for photo, _settings, _history in expert_settings(cat, expert, with_history=True):
            if icfg.max_photos and len(pending) >= icfg.max_photos:
                break
            source = resolve_photo(photo.path, photo.base_name, cat_path.resolve().parent, photo_index)
            if source is None:
                skipped.append(f"{photo.base_name}: input photo not found")
                continue
            rendition = rendition_index.find(photo.base_name) if rendition_index is not None else None
            try:
                thumb_image, fit_image = _decode_input(source, thumb, fit_size if rendition is not None else None)
                fit_target = load_squeezed(rendition, fit_size)[0] if rendition is not None and fit_size else None
            except DecodeError as exc:
                skipped.append(f"{photo.base_name}: {exc}")
                continue
            mapped = photo_recipe(cat, photo, baseline=baseline, style=f"{cat_path.stem}-{expert}")
            values = {s.slider: s.value for s in mapped.recipe.steps if s.slider in sliders}
            candidates = list(values)
            if rendition is not None:
                candidates += [s for s in icfg.fit_extra if s in sliders and s not in values]
            order, by = expert_order(candidates, mapped.first_moved, sliders, max_steps)
            item = {
                "photo": photo,
                "input": source,
                "rendition": rendition,
                "thumb": thumb_image,
                "mapped": values,
                "order": order,
                "by": by,
                "notes": mapped.notes,
                "fit": None,
            }
            pending.append(item)
            if fit_target is not None and fit_image is not None:
                queue.append((item, fit_image, fit_target))
                if len(queue) >= icfg.fit_batch:
                    flush()
        flush()
    for reason in skipped:
        log.warning("skipped %s", reason)
    if not pending:
        raise NotFoundError(f"{cat_path}: no usable photo of expert {expert!r} ({len(skipped)} skipped)")
    targets = []
    for p in pending:
        fit = p["fit"]
        values = fit.values if fit is not None else {s: p["mapped"][s] for s in p["order"]}
        targets.append(
            ExpertTarget(
                name=p["photo"].base_name,
                image_id=p["photo"].id,
                input_path=p["input"],
                rendition_path=p["rendition"],
                order=p["order"],
                values=values,
                mapped=p["mapped"],
                ordered_by=p["by"],
                source="pseudo-label" if fit is not None else "pv2003",
                fit=fit,
                notes=tuple(p["notes"]),
            )
        )
    fitted = [t.fit for t in targets if t.fit is not None]

    def mean(xs: list[float]) -> float | None:
        return round(sum(xs) / len(xs), 3) if xs else None

    summary: dict[str, Any] = {
        "mode": "imitation",
        "catalog": str(cat_path),
        "expert": expert,
        "photos": len(targets),
        "skipped": len(skipped),
        "targets": "pseudo-labels" if fitted else "pv2003",
        "pseudo_labels": len(fitted),
        "renditions": None if renditions is None else str(renditions),
        "ordered_by_history": sum(t.ordered_by == "history" for t in targets),
        "mean_steps": round(sum(len(t.order) for t in targets) / len(targets), 3),
        "fit_psnr": mean([f.psnr_fit for f in fitted]),
        "fit_psnr_pv2003": mean([f.psnr_init for f in fitted]),
        "fit_psnr_identity": mean([f.psnr_identity for f in fitted]),
    }
    return ExpertData(targets=targets, thumbs=torch.cat([p["thumb"] for p in pending]), summary=summary)


# -- teacher forcing ----------------------------------------------------------------------------------


@dataclass
class Samples:
    """Teacher-forced states with their targets (``M`` states over all photos).

    Attributes:
        states: ``(M, 3, T, T)`` state images (input rendered with the expert's first ``t`` steps).
        steps: ``(M,)`` long, the step index ``t``.
        used: ``(M, S)`` bool, sliders set in the first ``t`` steps.
        actions: ``(M,)`` long, the expert's next action (slider index, or ``S`` for STOP).
        values: slider -> ``(M, *shape)`` target value (rows of other actions hold the identity).
        photo: ``(M,)`` long, index of the photo.
    """

    states: Tensor
    steps: Tensor
    used: Tensor
    actions: Tensor
    values: dict[str, Tensor]
    photo: Tensor

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    def take(self, index: Tensor) -> Samples:
        """The samples at ``index`` (a long tensor)."""
        return Samples(
            states=self.states[index],
            steps=self.steps[index],
            used=self.used[index],
            actions=self.actions[index],
            values={k: v[index] for k, v in self.values.items()},
            photo=self.photo[index],
        )


@torch.no_grad()
def teacher_forcing(data: ExpertData, sliders: Sequence[str], max_steps: int, *, chunk: int = 256) -> Samples:
    """The states and targets of every photo's expert sequence (module docstring, point 3).

    States are rendered in batches of ``chunk`` photos per step index (per-photo slider values; sliders a
    photo has not set yet are at identity). Samples are ordered by step index, then photo.
    """
    sliders = tuple(sliders)
    s = len(sliders)
    n_states = [len(t.order) + (1 if len(t.order) < max_steps else 0) for t in data.targets]
    states, steps, used, actions, photo = [], [], [], [], []
    values: dict[str, list[Tensor]] = {name: [] for name in sliders}
    identity = {name: torch.as_tensor(get_slider(name).identity, dtype=torch.float32) for name in sliders}
    for t in range(max(n_states)):
        rows = [p for p, k in enumerate(n_states) if k > t]
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            names = sorted({n for p in part for n in data.targets[p].order[:t]}, key=pipeline_rank)
            settings = {
                name: torch.stack(
                    [
                        torch.as_tensor(data.targets[p].values[name], dtype=torch.float32)
                        if name in data.targets[p].order[:t]
                        else identity[name]
                        for p in part
                    ]
                )
                for name in names
            }
            thumbs = data.thumbs[part]
            states.append(render(thumbs, settings) if settings else thumbs)
        for p in rows:
            target = data.targets[p]
            mask = torch.zeros(s, dtype=torch.bool)
            for name in target.order[:t]:
                mask[sliders.index(name)] = True
            name = target.order[t] if t < len(target.order) else None
            steps.append(t)
            used.append(mask)
            photo.append(p)
            actions.append(s if name is None else sliders.index(name))
            for other in sliders:
                values[other].append(
                    torch.as_tensor(target.values[other], dtype=torch.float32) if other == name else identity[other]
                )
    return Samples(
        states=torch.cat(states),
        steps=torch.tensor(steps, dtype=torch.long),
        used=torch.stack(used),
        actions=torch.tensor(actions, dtype=torch.long),
        values={k: torch.stack(v) for k, v in values.items()},
        photo=torch.tensor(photo, dtype=torch.long),
    )


def _loss_sums(net: AgentNet, batch: Samples) -> tuple[Tensor, Tensor, Tensor, int]:
    """Summed cross-entropy, summed normalised value error (over states with a slider target), correct choices."""
    out = net(batch.states, batch.steps, batch.used)
    ce = functional.cross_entropy(out.logits, batch.actions, reduction="sum")
    errors = []
    for k, name in enumerate(net.sliders):
        rows = batch.actions == k
        if not bool(rows.any()):
            continue
        spec = get_slider(name)
        err = (out.values[name][rows] - batch.values[name][rows]) / (spec.maximum - spec.minimum)
        errors.append(err.pow(2).flatten(1).mean(dim=1) if err.ndim > 1 else err.pow(2))
    value = torch.cat(errors).sum() if errors else ce.new_zeros(())
    correct = (out.logits.argmax(dim=1) == batch.actions).sum()
    return ce, value, correct, sum(len(e) for e in errors)


def imitation_loss(net: AgentNet, batch: Samples, value_weight: float) -> tuple[Tensor, dict[str, float]]:
    """Cross-entropy on the expert's choice plus the normalised value error of the chosen slider (module docstring).

    Returns:
        (loss, ``{"loss", "ce", "value", "accuracy"}`` as floats): ``ce`` is the mean over the states, ``value``
        the mean over the states whose target is a slider.
    """
    ce_sum, value_sum, correct, n_value = _loss_sums(net, batch)
    n = len(batch)
    ce, value = ce_sum / n, value_sum / max(n_value, 1)
    loss = ce + value_weight * value
    return loss, {"loss": loss.item(), "ce": ce.item(), "value": value.item(), "accuracy": correct.item() / n}


@torch.no_grad()
def evaluate_imitation(
    net: AgentNet, samples: Samples, data: ExpertData, value_weight: float, *, chunk: int = 256
) -> dict[str, float]:
    """Losses over all samples (dropout off) and the greedy policy's agreement with the expert.

    Returns:
        ``loss``, ``ce``, ``value``, ``accuracy`` (as :func:`imitation_loss`, over every state),
        ``first_slider_accuracy`` (the greedy rollout's first action is the expert's first, STOP when the expert
        did nothing) and ``sequence_accuracy`` (the same slider sequence).
    """
    was_training = net.training
    net.eval()
    try:
        ce = value = correct = 0.0
        n_value = 0
        for start in range(0, len(samples), chunk):
            sums = _loss_sums(net, samples.take(torch.arange(start, min(start + chunk, len(samples)))))
            ce, value, correct = ce + sums[0].item(), value + sums[1].item(), correct + sums[2].item()
            n_value += sums[3]
        n = len(samples)
        out = {"ce": ce / n, "value": value / max(n_value, 1), "accuracy": correct / n}
        out["loss"] = out["ce"] + value_weight * out["value"]
        orders: list[tuple[str, ...]] = []
        for start in range(0, data.thumbs.shape[0], chunk):
            orders += rollout(net, data.thumbs[start : start + chunk], greedy=True, render_final=False).orders
        pairs = list(zip(orders, data.targets, strict=True))
        first = [(o[0] if o else None) == (t.order[0] if t.order else None) for o, t in pairs]
        out["first_slider_accuracy"] = sum(first) / len(first)
        out["sequence_accuracy"] = sum(o == t.order for o, t in pairs) / len(pairs)
        return out
    finally:
        net.train(was_training)


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
    """

    net: AgentNet
    data: ExpertData
    result: ImitationResult
    style_path: Path | None = None
    installed_path: Path | None = None


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


def _write_text(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def _next_model_version(directory: Path | None, name: str) -> int:
    meta = None if directory is None else directory / f"{name}.json"
    if meta is None or not meta.is_file():
        return 1
    try:
        return int(read_metadata(meta)["model_version"]) + 1
    except (AutoretouchError, KeyError, TypeError, ValueError):
        return 1


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
            metrics_log = None
            if is_main:
                (run / "imitation").mkdir(parents=True, exist_ok=True)
                _write_text(run / "config.toml", config_to_toml(cfg))
                _write_text(run / "imitation" / "labels.json", _labels_json(data))
                metrics_log = MetricsLog(run / "imitation" / "metrics.csv", IMITATION_COLUMNS)
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
    metrics = {k: round(v, 6) for k, v in result.metrics().items() if math.isfinite(v)}
    if data.summary.get("fit_psnr") is not None:
        metrics |= {k: data.summary[k] for k in ("fit_psnr", "fit_psnr_pv2003", "fit_psnr_identity")}
    if is_main:
        report = {"summary": data.summary, "metrics": metrics, "stopped_by": result.stopped_by}
        _write_text(run / "imitation" / "imitation.json", json.dumps(report, indent=1, allow_nan=False) + "\n")
    if export and is_main:
        inst = Path(install_dir) if install_dir is not None else None
        style = Style(
            name=cfg.run.style,
            net=copy.deepcopy(net).cpu().eval(),
            description=cfg.run.description or f"imitation of expert {expert} ({Path(catalog).name})",
            training=data.summary | {"imitation_seconds": round(result.seconds, 1), "config": config_to_dict(cfg)},
            metrics=metrics,
            model_version=_next_model_version(inst, cfg.run.style),
        )
        out.style_path = save_style(style, run / "style")
        out.installed_path = save_style(style, inst) if inst is not None else None
    return out


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
