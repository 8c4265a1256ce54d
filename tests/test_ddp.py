"""Data-parallel training: two gloo processes on CPU keep identical weights, average losses, and only rank 0 writes."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from trainer.config import config_from_dict
from trainer.distributed import DistInfo, average_gradients, cleanup_distributed, init_distributed, reduce_mean
from trainer.synthetic import write_style_folders
from trainer.train import train

TINY = {
    "agent": {"sliders": ["exposure", "contrast"], "max_steps": 2, "width": 8, "thumb": 16},
    "critic": {"width": 8, "n_critic": 2, "n_critic_warmup": 2, "warmup_steps": 1, "pool": 4},
    "data": {"batch": 4, "crops_per_image": 1, "eval_images": 2, "eval_size": 16},
    "run": {"method": "gan", "style": "ddp", "steps": 4, "seed": 1, "threads": 1, "log_every": 1, "eval_every": 0, "plot_every": 0,
            "checkpoint_every": 2},
}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, root: str) -> None:
    os.environ.update(
        {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "WORLD_SIZE": str(world),
         "LOCAL_RANK": str(rank)}
    )  # fmt: skip
    torch.set_num_threads(1)
    info = init_distributed("cpu")
    try:
        # the helpers: a rank-dependent value averages to the mean; gradients are averaged
        reduced = reduce_mean({"x": float(rank), "y": 2.0}, info)
        p = torch.nn.Parameter(torch.zeros(3))
        p.grad = torch.full((3,), float(rank + 1))
        average_gradients([p], info)
        helpers = {"x": reduced["x"], "y": reduced["y"], "grad": p.grad.tolist()}
        out = Path(root)
        result = train(
            config_from_dict(TINY), targets=out / "data" / "targets", sources=out / "data" / "sources",
            run_dir=out / "run", install_dir=out / "styles", info=info,
        )  # fmt: skip
        assert result.net is not None
        save_file({k: v.contiguous() for k, v in result.net.state_dict().items()}, str(out / f"rank{rank}.safetensors"))
        (out / f"rank{rank}.json").write_text(json.dumps(helpers | {"style": str(result.style_path)}))
    finally:
        cleanup_distributed(info)


def test_two_gloo_processes_train_in_lockstep(tmp_path: Path) -> None:
    write_style_folders(tmp_path / "data", n_targets=4, n_sources=6, n_heldout=0, size=24)
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    h0 = json.loads((tmp_path / "rank0.json").read_text())
    h1 = json.loads((tmp_path / "rank1.json").read_text())
    assert h0["x"] == h1["x"] == 0.5 and h0["y"] == 2.0
    assert h0["grad"] == h1["grad"] == [1.5, 1.5, 1.5]
    # different data shards, identical weights after every all-reduced update
    w0, w1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    run = tmp_path / "run"
    assert h0["style"].endswith("ddp.safetensors") and h1["style"] == "None"  # only rank 0 exports
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 4  # one writer: no duplicated rows
    assert rows[-1].split(",")[2] == str(4 * 4 * 2)  # images = steps * batch * processes
    ckpt = load_file(str(run / "checkpoints" / "step_0000004.safetensors"))
    assert "proc.0.gen" in ckpt and "proc.1.gen" in ckpt  # every process's random state is kept
    assert not torch.equal(ckpt["proc.0.gen"], ckpt["proc.1.gen"])
    assert (tmp_path / "styles" / "ddp.safetensors").is_file()


def test_single_process_helpers_are_no_ops() -> None:
    info = DistInfo()
    assert reduce_mean({"a": 2.0}, info) == {"a": 2.0}
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.ones(2)
    average_gradients([p], info)
    assert p.grad.tolist() == [1.0, 1.0]
