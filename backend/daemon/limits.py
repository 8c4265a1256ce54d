"""Bounded work: the per-call context (deadline, cancellation), the worker limiter and the inference gate.

* :class:`Call` is what the transport-neutral service sees of a call: its deadline
  (``context.time_remaining()`` for gRPC, the ``X-Autoretouch-Timeout`` header for the bridge) and
  whether the caller is still there.
* :class:`Limiter` bounds the work: ``workers`` calls (or photos of a batch) run at once, ``queue`` more may
  wait for a slot (until their deadline), anything beyond is refused at once with ``RESOURCE_EXHAUSTED``.
* :class:`InferenceGate` lets plain suggestions run the agent concurrently and gives dropout variants the
  agent alone: variants switch the net's dropout layers on and seed torch's global generator
  (``backend.agent.network.mc_dropout``), which concurrent rollouts would otherwise see.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from backend.daemon.errors import BusyError, CancelledError, DeadlineError

__all__ = ["Call", "InferenceGate", "Limiter"]

_POLL_S = 0.25


class Call:
    """Deadline and liveness of one call.

    Args:
        timeout_s: seconds left until the caller's deadline, or ``None`` for none.
        is_active: returns ``False`` once the caller has cancelled or gone away.
    """

    def __init__(self, timeout_s: float | None = None, is_active: Callable[[], bool] | None = None) -> None:
        self.deadline = None if timeout_s is None else time.monotonic() + max(0.0, timeout_s)
        self._is_active = is_active or (lambda: True)

    def time_remaining(self) -> float | None:
        """Seconds until the deadline (may be negative), or ``None`` without one."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    @property
    def active(self) -> bool:
        """Whether the caller is still waiting for the answer."""
        return bool(self._is_active())

    def check(self) -> None:
        """Raise when the deadline has passed or the caller went away.

        Raises:
            DeadlineError: the deadline has passed.
            CancelledError: the caller cancelled.
        """
        left = self.time_remaining()
        if left is not None and left <= 0:
            raise DeadlineError("the call's deadline passed before the work was done")
        if not self.active:
            raise CancelledError("the caller cancelled the call")


class Limiter:
    """At most ``workers`` units of work at once, at most ``queue`` callers waiting.

    Args:
        workers: concurrent work slots (>= 1).
        queue: callers that may wait for a slot (>= 0).
    """

    def __init__(self, workers: int, queue: int) -> None:
        if workers < 1 or queue < 0:
            raise ValueError(f"need workers >= 1 and queue >= 0, got {workers}, {queue}")
        self.workers = workers
        self.queue = queue
        self._slots = threading.Semaphore(workers)
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0

    @property
    def admitted(self) -> int:
        """Calls admitted now (running or waiting)."""
        return self._admitted

    @property
    def running(self) -> int:
        """Units of work running now."""
        return self._running

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        """Admit a call (held for its whole duration; a batch is admitted once).

        Raises:
            BusyError: ``workers + queue`` calls are already admitted.
        """
        with self._lock:
            if self._admitted >= self.workers + self.queue:
                raise BusyError(
                    f"the daemon is busy ({self.workers} workers and a queue of {self.queue} are full); retry later"
                )
            self._admitted += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    @contextlib.contextmanager
    def slot(self, call: Call) -> Iterator[None]:
        """Wait for a work slot (the caller must be admitted), until the call's deadline.

        Raises:
            DeadlineError: the deadline passed while waiting.
            CancelledError: the caller went away while waiting.
        """
        while True:
            call.check()
            left = call.time_remaining()
            wait = _POLL_S if left is None else max(0.0, min(_POLL_S, left))
            if self._slots.acquire(timeout=wait):
                break
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
            self._slots.release()


class InferenceGate:
    """A readers-writer lock: many shared holders, or one exclusive holder (writers are not starved)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the gate together with other shared holders."""
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the gate alone."""
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
