"""Structured logs of the daemon: one ``key=value`` line per request (or one JSON object with ``--log-json``).

Request lines go to the logger ``autoretouch.daemon.access``; everything else (start, stop, tracebacks of
internal errors) to ``autoretouch.daemon``. Client-controlled strings cannot fill the disk: each request field is cut
to :data:`MAX_FIELD_CHARS` characters and each record to :data:`MAX_RECORD_CHARS`. Example line::

    2026-01-31T12:00:00 INFO autoretouch.daemon.access transport=grpc rpc=Suggest code=OK ms=84.2 peer=ipv4:127.0.0.1:51234 photo=/photos/a.jpg
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

__all__ = [
    "ACCESS_LOG",
    "LOG",
    "MAX_FIELD_CHARS",
    "MAX_RECORD_CHARS",
    "KeyValueFormatter",
    "bound_text",
    "configure_logging",
    "format_fields",
    "log_request",
]

LOG = logging.getLogger("autoretouch.daemon")
ACCESS_LOG = logging.getLogger("autoretouch.daemon.access")

_PLAIN = re.compile(r"[A-Za-z0-9_./:@+\-,\[\]]+")

#: Longest value of one request field in the log (client-controlled strings such as a path are cut to this).
MAX_FIELD_CHARS = 512
#: Longest log record (a traceback whose message carries a client string is cut to this).
MAX_RECORD_CHARS = 16_384


def bound_text(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...(+{len(text) - limit} chars)"


def _bounded(v: Any) -> Any:
    return bound_text(v) if isinstance(v, str) else v


def _value(v: Any) -> str:
    text = f"{v:.1f}" if isinstance(v, float) else str(v)
    return text if _PLAIN.fullmatch(text) else json.dumps(text)


def format_fields(fields: dict[str, Any]) -> str:
    """``key=value`` pairs in insertion order; values with spaces or quotes are JSON-quoted; ``None`` skipped."""
    return " ".join(f"{k}={_value(v)}" for k, v in fields.items() if v is not None)


def log_request(**fields: Any) -> None:
    """Log one request line (level INFO, WARNING for client errors, ERROR for internal ones).

    Args:
        **fields: ``transport``, ``rpc``, ``code``, ``ms``, ``peer`` and any request detail.
    """
    code = fields.get("code", "OK")
    level = logging.ERROR if code in ("INTERNAL", "UNKNOWN", "DATA_LOSS") else logging.INFO
    fields = {k: _bounded(v) for k, v in fields.items()}
    ACCESS_LOG.log(level, "%s", format_fields(fields), extra={"fields": fields})


class KeyValueFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER message`` or, with ``as_json``, one JSON object per line (request fields merged)."""

    def __init__(self, as_json: bool = False) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S")
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        """Format one record (at most :data:`MAX_RECORD_CHARS` characters)."""
        return bound_text(self._format(record), MAX_RECORD_CHARS)

    def _format(self, record: logging.LogRecord) -> str:
        if not self.as_json:
            return super().format(record)
        out: dict[str, Any] = {
            "time": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out |= {k: v for k, v in fields.items() if v is not None}
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(*, as_json: bool = False, level: int = logging.INFO) -> None:
    """Send the daemon's logs to stderr, one line per record (what ``autoretouch serve`` calls)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter(as_json))
    root = logging.getLogger("autoretouch")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
