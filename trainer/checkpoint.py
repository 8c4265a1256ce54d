"""Training checkpoints: tensors in safetensors, everything else in JSON; never pickle, never ``torch.save``.

A checkpoint of step ``S`` is two files in ``runs/<name>/checkpoints/``:

* ``step_<S>.safetensors``: the agent and critic weights (``agent.*``, ``critic.*``), the Adam state of both
  optimisers flattened to ``opt.<model>.<param index>.<slot>`` tensors, and per-process state
  (``proc.<rank>.*``: the torch RNG, the data/rollout generator, the critic's fake-image pool);
* ``step_<S>.json``: ``schema_version``, ``step``, the optimisers' ``param_groups``, the loop state (elapsed
  time, adaptive lambda, pool fill counters), the resolved config, ``git_sha`` and ``catalog_version``.

The safetensors file is written first and the JSON last, each to a temporary file then ``os.replace``: a
checkpoint counts only once its JSON exists, so a crash mid-write leaves the previous one usable. Failed writes
raise (they are never swallowed). The safetensors header records the step, and loading checks it against the
JSON.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save
from torch import Tensor

from backend.errors import AutoretouchError, NotFoundError, OutputError
from backend.fsio import write_bytes_atomic, write_failure, write_text_atomic
from backend.sliders.catalog import CATALOG_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "Checkpoint",
    "CheckpointError",
    "flatten_optimizer",
    "git_sha",
    "latest_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "unflatten_optimizer",
]

SCHEMA_VERSION = 1
_NAME = re.compile(r"step_(\d{7})\.json")


class CheckpointError(AutoretouchError):
    """A checkpoint is missing, inconsistent or cannot be written."""

    exit_code = 8


@dataclass
class Checkpoint:
    """One checkpoint in memory.

    Attributes:
        step: generator steps done.
        tensors: name -> tensor (weights, flattened optimiser state, per-process state).
        meta: JSON-ready loop state (see the module docstring).
    """

    step: int
    tensors: dict[str, Tensor] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def git_sha(cwd: str | Path | None = None) -> str | None:
    """The current git commit of the source tree, or ``None`` (not a checkout, or git missing)."""
    here = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", sha) else None


def flatten_optimizer(optimizer: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimiser's state dict into tensors and JSON.

    Returns:
        (``{prefix.<index>.<slot>: tensor}``, ``{"param_groups": [...], "scalars": {index: {slot: number}}}``).
    """
    sd = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, slots in sd["state"].items():
        for slot, value in slots.items():
            if isinstance(value, Tensor):
                tensors[f"{prefix}.{index}.{slot}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[slot] = value
    groups = json.loads(json.dumps(sd["param_groups"]))  # tuples -> lists, checks JSON-ability
    return tensors, {"param_groups": groups, "scalars": scalars}


def unflatten_optimizer(
    optimizer: torch.optim.Optimizer, prefix: str, tensors: Mapping[str, Tensor], meta: Mapping[str, Any]
) -> None:
    """Load what :func:`flatten_optimizer` produced back into ``optimizer``."""
    state: dict[int, dict[str, Any]] = {}
    head = prefix + "."
    for name, value in tensors.items():
        if name.startswith(head):
            index, slot = name[len(head) :].split(".", 1)
            state.setdefault(int(index), {})[slot] = value
    for index, slots in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(slots)
    groups = [dict(g) for g in meta["param_groups"]]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(ckpt: Checkpoint, directory: str | Path, keep: int = 2) -> Path:
    """Write ``step_<S>.safetensors`` then ``step_<S>.json``; keep only the newest ``keep`` checkpoints.

    Returns:
        The JSON path.

    Raises:
        CheckpointError: the folder cannot be created or a file cannot be written (a full disk included: the
            message names the file and the cause).
    """
    d = Path(directory)
    stem = f"step_{ckpt.step:07d}"
    meta = dict(ckpt.meta) | {"schema_version": SCHEMA_VERSION, "step": ckpt.step, "catalog_version": CATALOG_VERSION}
    try:
        d.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in ckpt.tensors.items()}
        # serialised in memory, then written by fsio: a full disk is an OSError (safetensors' own writer says
        # "I/O error" in a SafetensorError) that fsio turns into an OutputError naming the file
        write_bytes_atomic(d / f"{stem}.safetensors", save(tensors, metadata={"step": str(ckpt.step)}))
        text = json.dumps(meta, indent=1, allow_nan=False)
        write_text_atomic(d / f"{stem}.json", text)
    except OutputError as exc:  # no room left (a full disk, a file-size limit, a quota)
        why = write_failure(exc.__cause__) if isinstance(exc.__cause__, OSError) else exc.reason
        raise CheckpointError(f"{exc.path}: cannot write checkpoint ({why})") from exc
    except (OSError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{d / stem}: cannot write checkpoint ({exc})") from exc
    steps = sorted(int(m.group(1)) for p in d.iterdir() if (m := _NAME.fullmatch(p.name)))
    for old in steps[:-keep] if keep > 0 else []:
        for suffix in (".json", ".safetensors"):  # JSON first: a half-deleted checkpoint is never "latest"
            (d / f"step_{old:07d}{suffix}").unlink(missing_ok=True)
    return d / f"{stem}.json"


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The JSON path of the newest complete checkpoint in ``directory``, or ``None``."""
    d = Path(directory)
    if not d.is_dir():
        return None
    found = sorted(
        (int(m.group(1)), p)
        for p in d.iterdir()
        if (m := _NAME.fullmatch(p.name)) and p.with_suffix(".safetensors").is_file()
    )
    return found[-1][1] if found else None


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint (its JSON path, or its folder for the newest one).

    Raises:
        NotFoundError: no checkpoint there.
        CheckpointError: unreadable, a different schema or catalog version, or the two files disagree.
    """
    p = Path(path)
    if p.is_dir():
        found = latest_checkpoint(p)
        if found is None:
            raise NotFoundError(f"{p}: no checkpoint to resume from")
        p = found
    if not p.is_file():
        raise NotFoundError(f"{p}: no such checkpoint")
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{p}: unreadable checkpoint metadata ({exc})") from exc
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise CheckpointError(f"{p}: checkpoint schema {meta.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    if meta.get("catalog_version") != CATALOG_VERSION:
        raise CheckpointError(f"{p}: checkpoint is for slider catalog {meta.get('catalog_version')!r}")
    weights = p.with_suffix(".safetensors")
    try:
        tensors = load_file(str(weights))
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as fh:
            header = fh.metadata() or {}
    except Exception as exc:  # safetensors raises several of its own error types
        raise CheckpointError(f"{weights}: unreadable checkpoint tensors ({type(exc).__name__}: {exc})") from exc
    if header.get("step") != str(meta.get("step")):
        raise CheckpointError(f"{p}: the tensors are of step {header.get('step')}, the metadata of {meta.get('step')}")
    return Checkpoint(step=int(meta["step"]), tensors=tensors, meta=meta)
