"""Under torchrun ``train`` claims its run folder once, on rank 0, and every rank trains in that folder.

Two gloo processes choose the run folder as ``autoretouch train`` does while this test's process holds the style's
first folder: both get ``runs/g-2`` (were each rank to claim, the second would take ``runs/g-3``). Where rank 0 is
refused (``--run-dir`` on the held folder), both ranks stop with an error instead of waiting on each other.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from pathlib import Path

import torch.multiprocessing as mp

from trainer.cli import _held_run_dir
from trainer.distributed import cleanup_distributed, init_distributed
from trainer.run_lock import claim_run_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, root: str, run_dir: str | None) -> None:
    os.environ.update(
        {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "WORLD_SIZE": str(world),
         "LOCAL_RANK": str(rank)}
    )  # fmt: skip
    info = init_distributed("cpu")
    out = Path(root)
    args = argparse.Namespace(
        style="g", runs_dir=out / "runs", run_dir=None if run_dir is None else Path(run_dir), resume=False,
        darktable=None,
    )  # fmt: skip
    try:
        lock, folder = _held_run_dir(args, info)
        answer = {"folder": str(folder), "locked": lock is not None}
        if lock is not None:
            lock.release()
    except Exception as exc:  # the error is the answer
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        cleanup_distributed(info)
    (out / f"rank{rank}.json").write_text(json.dumps(answer), encoding="utf-8")


def _answers(root: Path) -> list[dict[str, object]]:
    return [json.loads((root / f"rank{r}.json").read_text(encoding="utf-8")) for r in range(2)]


def test_every_rank_uses_the_folder_rank_0_claimed(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with claim_run_dir("g", runs=runs) as held:  # another training holds runs/g
        assert held.folder == runs / "g"
        mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), None), nprocs=2, join=True)
    assert _answers(tmp_path) == [
        {"folder": str(runs / "g-2"), "locked": True},
        {"folder": str(runs / "g-2"), "locked": False},
    ]


def test_every_rank_stops_where_rank_0_is_refused(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    with claim_run_dir("g", run_dir=mine):
        mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), str(mine)), nprocs=2, join=True)
    first, second = _answers(tmp_path)
    assert str(first["error"]).startswith(f"RunFolderInUseError: {mine}: the run folder is in use by another training")
    assert second == {
        "error": "ConfigError: rank 0 of this torchrun job could not claim the run folder (see its error)"
    }
