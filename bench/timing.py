"""Median timings of a call, for the benchmarks (standard library only, so importing it costs nothing)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["median_ms"]


def median_ms(
    fn: Callable[[], object], runs: int, warmup: int = 0, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median time of ``runs`` calls of ``fn`` after ``warmup`` untimed calls, in ms.

    Args:
        fn: the call to time.
        runs: timed calls.
        warmup: untimed calls first (caches, lazy imports, allocator).
        clock: seconds; ``time.perf_counter`` (wall) or ``time.thread_time`` (CPU of the calling thread).

    Returns:
        The median, in milliseconds.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times) * 1000.0
