"""The JSON bridge's background training: one TrainStyle run consumed by a daemon thread, polled by the client.

Lightroom's ``LrHttp`` returns an answer only when it is complete, so a plug-in cannot follow the streamed
``POST /v1/train``. Instead it starts the training (``POST /v1/train/start``: the request is checked and the
worker started before the answer), polls ``GET /v1/train/status`` for the latest progress, and may
``POST /v1/train/cancel``. The training itself is :meth:`RetouchService.train_style`, the same generator
gRPC streams; cancelling makes its call inactive, which stops the worker, exactly as a gRPC cancel does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from backend import __version__
from backend.daemon.errors import BusyError, ErrorInfo, describe
from backend.daemon.limits import Call
from backend.daemon.logs import LOG
from backend.rpc import pb

if TYPE_CHECKING:
    from backend.daemon.service import RetouchService

__all__ = ["BackgroundTraining"]


class BackgroundTraining:
    """At most one background training at a time, and the state of the latest one.

    Args:
        service: the daemon's service (its :meth:`~RetouchService.train_style` does the work).
    """

    def __init__(self, service: RetouchService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._state = "idle"
        self._name = ""
        self._last: pb.TrainStyleResponse | None = None
        self._error: ErrorInfo | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, req: pb.TrainStyleRequest) -> pb.TrainStatus:
        """Check the request, start the worker, and return at once (the thread reads the rest).

        Raises:
            BusyError: a training is running (this one or a TrainStyle call's).
            The typed errors of :meth:`RetouchService.train_style` (bad request, paths, protocol version).
        """
        with self._lock:
            if self._state == "running":
                raise BusyError(f"the style {self._name!r} is being trained; wait for it or cancel it")
            cancel = threading.Event()
            stream = self.service.train_style(req, Call(is_active=lambda: not cancel.is_set()))
            first = next(stream)  # validation and the worker's start happen here; errors reach the caller
            self._state, self._name, self._last, self._error, self._cancel = "running", req.name, first, None, cancel
            self._thread = threading.Thread(target=self._consume, args=(stream, cancel), daemon=True)
            self._thread.start()
            return self._status()

    def _consume(self, stream: Iterator[pb.TrainStyleResponse], cancel: threading.Event) -> None:
        error: ErrorInfo | None = None
        try:
            for message in stream:
                with self._lock:
                    self._last = message
        except Exception as exc:  # the stream's own typed errors, or a bug (then logged)
            error = describe(exc)
            if error.internal:
                LOG.error("internal error in the background training", exc_info=exc)
        with self._lock:
            finished = self._last is not None and self._last.WhichOneof("event") == "finished"
            if error is not None:
                self._state, self._error = "failed", error
            elif finished:
                self._state = "finished"
            elif cancel.is_set():
                self._state = "cancelled"
            else:
                self._state, self._error = (
                    "failed",
                    ErrorInfo("INTERNAL", "the training ended without a result", "WorkerError", 1),
                )
            LOG.info("background training %s: style=%s", self._state, self._name)

    def cancel(self) -> pb.TrainStatus:
        """Ask the running training to stop (the worker is killed within about a second)."""
        with self._lock:
            if self._state == "running":
                self._cancel.set()
            return self._status()

    def status(self) -> pb.TrainStatus:
        """The state of the running or latest training."""
        with self._lock:
            return self._status()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread of the latest training to end (tests, shutdown); ``True`` when it has."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _status(self) -> pb.TrainStatus:
        out = pb.TrainStatus(server_version=__version__, state=self._state, name=self._name)
        if self._last is not None:
            out.last.CopyFrom(self._last)
        if self._error is not None:
            out.error.CopyFrom(
                pb.ErrorResponse(
                    server_version=__version__,
                    code=self._error.code,
                    message=self._error.message,
                    type=self._error.type,
                    exit_code=self._error.exit_code,
                )
            )
        return out
