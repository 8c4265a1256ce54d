"""The training data of one run: target and source crop caches, the evaluation set, sampling and sharding.

:func:`build_dataset` reads ``--targets`` (the favourites) and ``--sources`` (inputs to retouch) or, without
sources, makes the built-in un-edited pool (:mod:`trainer.data.unedit`). Everything lives in memory as float32
linear Rec.2020 tensors; the decoded crops can be cached in the run folder as ``data_cache.safetensors`` (float16)
plus ``data_cache.json`` (the key: file names, sizes, modification times and the data settings), so a resumed run
does not decode again. The cache never contains code (safetensors + JSON, no pickle).

``eval_images`` sources (chosen with the run's seed) are held out of training for evaluation and the contact
sheet. Under torchrun each process trains on its own shard (``index % world == rank``) of the training pools.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save
from torch import Tensor

from backend.fsio import write_bytes_atomic, write_text_atomic
from trainer.config import DataConfig
from trainer.data.folders import CroppedPhotos, load_folder, unique_folder_photos
from trainer.data.given import folder_record, unread_subfolders
from trainer.data.unedit import apply_unedit, random_unedit_settings

__all__ = ["CACHE_VERSION", "TrainingData", "build_dataset", "cache_size_of", "sample_crops"]

log = logging.getLogger(__name__)

#: Bumped when the cache layout, the cropping or the summary it keeps changes (2: the unreadable photos named).
CACHE_VERSION = 2


def cache_size_of(cfg: DataConfig, thumb: int) -> int:
    """Side of the cached training crops: ``cfg.cache_size`` or ``thumb * 5 / 4`` (Exposure: 80 for 64)."""
    return cfg.cache_size if cfg.cache_size > 0 else (thumb * 5) // 4


@dataclass
class TrainingData:
    """Everything the loop samples from.

    Attributes:
        targets: ``(Pt, K, 3, C, C)`` crops of the favourites (the critic's "real").
        sources: ``(Ps, K, 3, C, C)`` crops of the training inputs.
        eval_sources: ``(E, 3, S, S)`` held-out inputs at the evaluation size.
        eval_targets: ``(Pt, 3, S, S)`` favourites at the evaluation size.
        summary: JSON-ready description (folders, counts, names, un-edit settings) for the style metadata.
    """

    targets: Tensor
    sources: Tensor
    eval_sources: Tensor
    eval_targets: Tensor
    summary: dict[str, Any] = field(default_factory=dict)

    def shard(self, rank: int, world: int) -> TrainingData:
        """This process's share of the training pools (the evaluation tensors are kept whole)."""
        if world <= 1:
            return self

        def part(pool: Tensor, what: str) -> Tensor:
            if pool.shape[0] < world:
                log.warning("%s: %d items for %d processes; every process uses all of them", what, pool.shape[0], world)
                return pool
            return pool[rank::world]

        return TrainingData(
            targets=part(self.targets, "targets"),
            sources=part(self.sources, "sources"),
            eval_sources=self.eval_sources,
            eval_targets=self.eval_targets,
            summary=self.summary,
        )


def sample_crops(pool: Tensor, n: int, size: int, generator: torch.Generator, flip: bool = True) -> Tensor:
    """Random ``size`` x ``size`` crops (and horizontal flips) of random cached crops.

    Args:
        pool: ``(P, K, 3, C, C)`` cached crops.
        n: number of crops.
        size: crop side (<= C).
        generator: random source (the run's data generator).
        flip: flip half of them horizontally.

    Returns:
        ``(n, 3, size, size)`` float32.
    """
    p, k, _, c, _ = pool.shape
    idx = torch.randint(0, p, (n,), generator=generator)
    sub = torch.randint(0, k, (n,), generator=generator)
    offs = torch.randint(0, c - size + 1, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    out = []
    for i in range(n):
        y, x = int(offs[i, 0]), int(offs[i, 1])
        crop = pool[int(idx[i]), int(sub[i]), :, y : y + size, x : x + size]
        if flip and bool(flips[i]):
            crop = crop.flip(-1)
        out.append(crop)
    return torch.stack(out).float()


def _fingerprint(files: list[Path]) -> list[list[Any]]:
    out = []
    for f in files:
        st = f.stat()
        out.append([f.name, st.st_size, st.st_mtime_ns])
    return out


def _cache_key(targets: list[Path], sources: list[Path] | None, cfg: DataConfig, thumb: int, seed: int) -> str:
    payload = {
        "version": CACHE_VERSION,
        "targets": _fingerprint(targets),
        "sources": None if sources is None else _fingerprint(sources),
        "data": {
            k: getattr(cfg, k) for k in ("cache_size", "crops_per_image", "eval_size", "eval_images", "max_images")
        }
        | {k: getattr(cfg, k) for k in cfg.__dataclass_fields__ if k.startswith("unedit_")},
        "thumb": thumb,
        "seed": seed,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _unedit_pool(targets: CroppedPhotos, cfg: DataConfig, seed: int) -> tuple[Tensor, Tensor, list[dict[str, Any]]]:
    """Un-edited sources: ``unedit_per_target`` random un-edits of every target (crops and eval squares)."""
    rng = np.random.default_rng(seed + 7_919)
    crops, evals, recipes = [], [], []
    for i in range(targets.crops.shape[0]):
        for _ in range(cfg.unedit_per_target):
            settings = random_unedit_settings(cfg, rng)
            crops.append(apply_unedit(targets.crops[i], settings))
            evals.append(apply_unedit(targets.evals[i : i + 1], settings)[0])
            recipes.append({"target": targets.names[i], "settings": settings})
    return torch.stack(crops), torch.stack(evals), recipes


def _split_eval(crops: Tensor, evals: Tensor, n_eval: int, seed: int) -> tuple[Tensor, Tensor, list[int]]:
    """Hold ``n_eval`` items out of training (at least one item stays for training)."""
    n = crops.shape[0]
    n_eval = min(n_eval, n - 1) if n > 1 else 0
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 104_729)).tolist()
    held = sorted(perm[:n_eval])
    keep = sorted(perm[n_eval:])
    eval_set = evals[held] if held else evals[:1]  # with one photo only, evaluate on it (it also trains)
    return crops[keep], eval_set, held


def _load_cache(cache_t: Path, cache_j: Path, key: str) -> TrainingData | None:
    """The cached :class:`TrainingData` when both cache files exist and were written for ``key``, else ``None``."""
    if not (cache_t.is_file() and cache_j.is_file()):
        return None
    meta = json.loads(cache_j.read_text(encoding="utf-8"))
    if meta.get("key") != key:
        return None
    t = load_file(str(cache_t))
    log.info("data: loaded cache %s", cache_t)
    return TrainingData(
        targets=t["targets"].float(),
        sources=t["sources"].float(),
        eval_sources=t["eval_sources"].float(),
        eval_targets=t["eval_targets"].float(),
        summary=meta["summary"],
    )


def _record_unread_subfolders(summary: dict[str, Any], *folders: str | Path | None) -> None:
    """Set ``subfolders_not_read`` in a data summary: the subfolders with photos of ``folders`` (not read), if any.

    In its place: before ``training_sources`` where the summary has that (a cached one), else at the end (a fresh
    one, before its split is added), so that a cached summary's entries come in a fresh one's order. Its note is
    :func:`trainer.result.summary_left_out_notes`' (:func:`trainer.data.given.unread_subfolders`).
    """
    unread = unread_subfolders(*folders, with_sidecars=False)
    items = [(k, v) for k, v in summary.items() if k != "subfolders_not_read"]
    if unread:  # only then: the summary is otherwise as before
        at = next((i for i, (k, _) in enumerate(items) if k == "training_sources"), len(items))
        items.insert(at, ("subfolders_not_read", unread))
    summary.clear()
    summary.update(items)


def _refresh_record(summary: dict[str, Any], targets_dir: str | Path, sources_dir: str | Path | None) -> None:
    """Work out afresh, in a cached summary, what it says of the folders given (in place, in the same order).

    The cache's key is the photos read (names, sizes, times), not where they are: a copy of the folder elsewhere,
    or a selection of the same files, hits it. So the folders' entries (``targets_dir``, ``targets_given``,
    ``sources_dir``, ``sources_given``: :func:`trainer.data.given.folder_record`) and ``subfolders_not_read`` are
    those of the folders given now.
    """
    fresh = {"targets": folder_record("targets", targets_dir, with_sidecars=False)}
    if sources_dir is not None:
        fresh["sources"] = folder_record("sources", sources_dir, with_sidecars=False)
    rebuilt: dict[str, Any] = {}
    for k, v in summary.items():
        key = k.removesuffix("_dir").removesuffix("_given")
        if key not in fresh or k not in (f"{key}_dir", f"{key}_given"):
            rebuilt[k] = v
        elif k == f"{key}_dir":  # the folder's entries go where its _dir was
            rebuilt |= fresh[key]
    summary.clear()
    summary.update(rebuilt)
    _record_unread_subfolders(summary, targets_dir, sources_dir)


def build_dataset(
    targets_dir: str | Path,
    sources_dir: str | Path | None,
    cfg: DataConfig,
    *,
    thumb: int,
    seed: int,
    cache_dir: str | Path | None = None,
) -> TrainingData:
    """Read the folders (or the cache) and build the run's :class:`TrainingData`.

    Args:
        targets_dir: folder of favourites (unpaired targets).
        sources_dir: folder of inputs to retouch, or ``None`` for the built-in un-edited pool.
        cfg: data settings.
        thumb: the agent's thumbnail side (training crops are this size).
        seed: the run's seed (crop positions, un-edits and the held-out split derive from it).
        cache_dir: where to read/write ``data_cache.safetensors`` + ``data_cache.json`` (``None``: no cache).

    Raises:
        NotFoundError: a folder is missing or holds no readable photo.
    """
    csize = cache_size_of(cfg, thumb)
    target_files, dropped = unique_folder_photos(targets_dir, cfg.max_images, "favourites", prefix="data", logger=log)
    source_files, dropped_src = (
        (None, [])
        if sources_dir is None
        else unique_folder_photos(sources_dir, cfg.max_images, "sources", prefix="data", logger=log)
    )
    key = _cache_key(target_files, source_files, cfg, thumb, seed)
    cache_t = cache_j = None
    if cache_dir is not None:
        cache_t, cache_j = Path(cache_dir) / "data_cache.safetensors", Path(cache_dir) / "data_cache.json"
        cached = _load_cache(cache_t, cache_j, key)
        if cached is not None:
            _refresh_record(cached.summary, targets_dir, sources_dir)
            return cached
    common = {"cache_size": csize, "eval_size": cfg.eval_size, "crops": cfg.crops_per_image}
    tgt = load_folder(target_files, seed=seed, **common)
    summary: dict[str, Any] = {
        **folder_record("targets", targets_dir, with_sidecars=False),
        "targets": len(tgt.names),
        "target_names": list(tgt.names),
        "crops_per_image": cfg.crops_per_image,
        "cache_size": csize,
        "eval_size": cfg.eval_size,
    }
    if source_files is None:
        src_crops, src_evals, unedits = _unedit_pool(tgt, cfg, seed)
        summary |= {"sources_dir": None, "sources": "built-in un-edited pool", "unedits": unedits}
    else:
        src = load_folder(source_files, seed=seed + 1_000_003, **common)
        src_crops, src_evals = src.crops, src.evals
        sources_entry = folder_record("sources", sources_dir, with_sidecars=False)  # type: ignore[arg-type]
        summary |= {**sources_entry, "source_names": list(src.names)}
    if dropped or dropped_src:  # only then: the summary is otherwise as before
        summary |= {"duplicate_targets_dropped": dropped, "duplicate_sources_dropped": dropped_src}
    bad = {"targets": tgt.unreadable, "sources": () if source_files is None else src.unreadable}
    summary |= {f"unreadable_{k}_skipped": list(v) for k, v in bad.items() if v}  # (only these keys are new)
    _record_unread_subfolders(summary, targets_dir, sources_dir)
    train_src, eval_src, held = _split_eval(src_crops, src_evals, cfg.eval_images, seed)
    summary |= {"training_sources": int(train_src.shape[0]), "eval_sources": len(held), "eval_indices": held}
    # the data is rounded to float16 (the cache's precision) whether cached or not, so runs agree exactly
    data = TrainingData(
        targets=tgt.crops.half().float(),
        sources=train_src.half().float(),
        eval_sources=eval_src.half().float(),
        eval_targets=tgt.evals.half().float(),
        summary=summary,
    )
    if cache_t is not None and cache_j is not None:
        tensors = {
            "targets": data.targets.half(),
            "sources": data.sources.half(),
            "eval_sources": data.eval_sources.half(),
            "eval_targets": data.eval_targets.half(),
        }
        write_bytes_atomic(cache_t, save({k: v.contiguous() for k, v in tensors.items()}))  # full disk: OutputError
        write_text_atomic(cache_j, json.dumps({"key": key, "summary": summary}, indent=1))
    return data
