"""How photo batches report a failed photo and end: one stderr line (plus a JSON row), then one exit status.

Shared by ``suggest`` (in-process and ``--server``) and ``render`` so that they word failures and choose exit
codes alike: 0 when every photo succeeded, the error's own code when every photo failed, 9 (partial) otherwise.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from backend.errors import AutoretouchError, naming_file

__all__ = ["batch_exit_status", "report_photo_error"]


def report_photo_error(photo: Path, exc: AutoretouchError, *, as_json: bool) -> str:
    """Print ``autoretouch: error: ...`` (naming ``photo``) to stderr and, with ``as_json``, a failure row.

    Returns:
        The message, prefixed with the photo unless the error already names it.
    """
    message = naming_file(photo, str(exc))
    print(f"autoretouch: error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"photo": str(photo), "ok": False, "error": message}), flush=True)
    return message


def batch_exit_status(failures: Sequence[AutoretouchError], total: int) -> int:
    """0 without failures, the first error's exit code when all ``total`` photos failed, else 9 (partial)."""
    from backend.errors import EXIT_PARTIAL

    if not failures:
        return 0
    if len(failures) == total:
        return failures[0].exit_code
    return EXIT_PARTIAL
