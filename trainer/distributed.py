"""torch.distributed helpers: the same training command on one process or under ``torchrun``.

``torchrun --nproc-per-node N -m backend.cli.main train ...`` (or the ``autoretouch`` entry point) starts N
processes with ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` in the environment; :func:`init_distributed` then joins
the process group with NCCL on GPUs and gloo on CPU. Without those variables everything runs in one process and
every helper here is a no-op.

Data parallelism is done by hand rather than with ``DistributedDataParallel``: the agent runs several forward
passes per backward (one per edit step) and the critic's gradient penalty needs a double backward, two things
DDP's reducer does not support. After each backward :func:`average_gradients` all-reduces the flattened
gradients once per model (the same arithmetic DDP does), so every process applies the same update; parameters
start equal (:func:`broadcast_module`) and stay equal.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = [
    "DistInfo",
    "all_gather_tensor",
    "any_flag",
    "average_gradients",
    "barrier",
    "broadcast_module",
    "cleanup_distributed",
    "init_distributed",
    "reduce_mean",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands.

    Attributes:
        rank: global rank (0 writes files).
        world: number of processes.
        local_rank: rank on this machine (picks the GPU).
        device: the device this process computes on.
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether a process group with more than one process is active."""
        return self.world > 1


def init_distributed(device: str | None = None) -> DistInfo:
    """Join the torchrun process group when the environment asks for one.

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``None`` (CUDA when available).

    Returns:
        The :class:`DistInfo` of this process (rank 0 of 1 without torchrun).
    """
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(device=torch.device("cuda" if use_cuda else "cpu"))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank=rank, world=world, local_rank=local_rank, device=dev)


def cleanup_distributed(info: DistInfo) -> None:
    """Leave the process group (no-op in a single process)."""
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op in a single process)."""
    if info.distributed:
        dist.barrier()


def broadcast_module(module: nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every process."""
    if not info.distributed:
        return
    with torch.no_grad():
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)


def average_gradients(params: Iterable[nn.Parameter], info: DistInfo) -> None:
    """Average the gradients of ``params`` over all processes with one all-reduce (missing grads count as 0)."""
    if not info.distributed:
        return
    plist = [p for p in params if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in plist]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= info.world
    offset = 0
    for p in plist:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def reduce_mean(values: Mapping[str, float], info: DistInfo) -> dict[str, float]:
    """Average a dict of floats over all processes (every process must pass the same keys)."""
    keys = sorted(values)
    if not info.distributed or not keys:
        return {k: float(values[k]) for k in keys}
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= info.world
    return {k: float(v) for k, v in zip(keys, t.tolist(), strict=True)}


def any_flag(flag: bool, info: DistInfo) -> bool:
    """True on every process when ``flag`` is true on any of them."""
    if not info.distributed:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def all_gather_tensor(tensor: Tensor, info: DistInfo) -> list[Tensor]:
    """Every process's ``tensor`` (same shape and dtype everywhere), in rank order."""
    if not info.distributed:
        return [tensor]
    out = [torch.empty_like(tensor) for _ in range(info.world)]
    dist.all_gather(out, tensor.contiguous())
    return out
