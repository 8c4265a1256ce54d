"""Text for the terminal: :func:`backend.text.printable`, re-exported for the CLI's reports.

It lives in :mod:`backend.text` so that ``trainer`` (whose ``train`` summary names photos too) can use it without
reaching into the CLI package; see there for what is escaped and why.
"""

from __future__ import annotations

from backend.text import printable

__all__ = ["printable"]
