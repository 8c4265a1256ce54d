"""Checkpoints: safetensors + JSON only, optimiser state round-trips exactly, atomic and pruned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from backend.errors import NotFoundError
from trainer.checkpoint import (
    Checkpoint,
    CheckpointError,
    flatten_optimizer,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    unflatten_optimizer,
)


def _model_and_opt(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    return model, torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.5, 0.9))


def _train(model: torch.nn.Module, opt: torch.optim.Optimizer, steps: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(16, 4, generator=g)
        loss = (model(x) - x.sum(1, keepdim=True)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_optimizer_state_round_trips_exactly(tmp_path: Path) -> None:
    model, opt = _model_and_opt(0)
    _train(model, opt, 5, seed=1)
    tensors, meta = flatten_optimizer(opt, "opt.m")
    assert all(isinstance(v, torch.Tensor) for v in tensors.values())
    json.dumps(meta)  # the rest is plain JSON
    ckpt = Checkpoint(
        step=5, tensors=tensors | {f"m.{k}": v for k, v in model.state_dict().items()}, meta={"opt": meta}
    )
    save_checkpoint(ckpt, tmp_path)
    loaded = load_checkpoint(tmp_path)
    model2, opt2 = _model_and_opt(99)  # different initial weights: everything must come from the checkpoint
    model2.load_state_dict({k[2:]: v for k, v in loaded.tensors.items() if k.startswith("m.")})
    unflatten_optimizer(opt2, "opt.m", loaded.tensors, loaded.meta["opt"])
    _train(model, opt, 3, seed=2)
    _train(model2, opt2, 3, seed=2)
    for a, b in zip(model.parameters(), model2.parameters(), strict=True):
        assert torch.equal(a, b)


def test_files_are_safetensors_and_json_and_old_ones_are_pruned(tmp_path: Path) -> None:
    for step in (10, 20, 30):
        save_checkpoint(Checkpoint(step=step, tensors={"w": torch.full((2,), float(step))}, meta={"x": step}), tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["step_0000020.json", "step_0000020.safetensors", "step_0000030.json", "step_0000030.safetensors"]
    assert load_file(str(tmp_path / "step_0000030.safetensors"))["w"].tolist() == [30.0, 30.0]
    meta = json.loads((tmp_path / "step_0000030.json").read_text())
    assert meta["step"] == 30 and meta["schema_version"] == 1 and meta["x"] == 30
    assert latest_checkpoint(tmp_path) == tmp_path / "step_0000030.json"


def test_incomplete_or_inconsistent_checkpoints_are_not_used(tmp_path: Path) -> None:
    save_checkpoint(Checkpoint(step=1, tensors={"w": torch.zeros(1)}, meta={}), tmp_path)
    save_checkpoint(Checkpoint(step=2, tensors={"w": torch.ones(1)}, meta={}), tmp_path)
    (tmp_path / "step_0000002.safetensors").unlink()  # crashed half-way: JSON without tensors
    assert latest_checkpoint(tmp_path) == tmp_path / "step_0000001.json"
    # tensors of another step under this JSON
    (tmp_path / "step_0000001.safetensors").replace(tmp_path / "step_0000002.safetensors")
    with pytest.raises(CheckpointError, match="step"):
        load_checkpoint(tmp_path / "step_0000002.json")
    (tmp_path / "step_0000003.json").write_text("{not json")
    (tmp_path / "step_0000003.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "step_0000003.json")
    with pytest.raises(NotFoundError):
        load_checkpoint(tmp_path / "empty_dir_that_does_not_exist")
