"""The autoretouch daemon: gRPC service ``autoretouch.v1.Retoucher`` plus a loopback HTTP/JSON bridge.

Modules:

* :mod:`~backend.daemon.server` -- :func:`create_server` (``(daemon, ports)``), the lifecycle, :func:`serve`;
* :mod:`~backend.daemon.service` -- the work, transport-neutral (proto in, proto out);
* :mod:`~backend.daemon.servicer` -- the thin gRPC servicer; :mod:`~backend.daemon.bridge` -- the JSON bridge;
* :mod:`~backend.daemon.errors` -- the daemon's typed errors and the one error -> status mapping;
* :mod:`~backend.daemon.security` -- loopback binding, token, roots; :mod:`~backend.daemon.limits` -- deadlines,
  the worker limiter, the inference gate; :mod:`~backend.daemon.logs` -- one log line per request;
* :mod:`~backend.daemon.convert` -- proto <-> domain; :mod:`~backend.daemon.styles` -- loaded styles;
  :mod:`~backend.daemon.walk` -- folders -> photos; :mod:`~backend.daemon.training` and
  :mod:`~trainer.daemon_worker` -- TrainStyle in a worker process.

The generated protobuf code lives in :mod:`backend.rpc`.
"""

from __future__ import annotations

from backend.daemon.config import DaemonConfig
from backend.daemon.server import Daemon, Ports, create_server, serve

__all__ = ["Daemon", "DaemonConfig", "Ports", "create_server", "serve"]
