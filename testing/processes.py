"""Processes and loopback ports, for tests that check what a daemon they did not start themselves left behind.

* :func:`free_port`: a loopback TCP port nothing listens on; :func:`listening`: whether something does.
* :func:`running`, :func:`command`, :func:`wait_gone`: a process by its id.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

__all__ = ["command", "free_port", "listening", "running", "wait_gone"]


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, exited but not reaped by its new parent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def command(pid: int) -> str:
    """The command line of process ``pid``, its arguments joined by spaces (empty when unreadable)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_gone(pid: int, timeout_s: float) -> bool:
    """Wait (at most ``timeout_s`` seconds) until process ``pid`` has ended; whether it has."""
    deadline = time.monotonic() + timeout_s
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not running(pid)
