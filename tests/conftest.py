"""Fixtures shared by several test files (opt-in: none is autouse)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One torch intra-op thread for the test, restored afterwards.

    Small tensors (thumbnails, 64x64 crops): more threads only add overhead and contention on a loaded
    2-core machine. Opt in per module with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
