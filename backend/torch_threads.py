"""One place that sets torch's intra-op thread count for a block of work and restores it afterwards."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

__all__ = ["torch_threads"]


@contextlib.contextmanager
def torch_threads(n: int, *, main_thread_only: bool = False) -> Iterator[None]:
    """``torch.set_num_threads(n)`` for the block, the previous count restored after it (also on error).

    Small tensors (64x64 agent inputs, render bands run on several Python threads) gain nothing from more
    intra-op threads, only synchronisation cost.

    Args:
        n: intra-op threads for the block (>= 1).
        main_thread_only: leave the setting alone when called from another thread than the main one. The
            setting is process-wide; a host calling from its own threads (the daemon) keeps its own policy.
    """
    if main_thread_only and threading.current_thread() is not threading.main_thread():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
