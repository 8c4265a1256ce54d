"""How photo batches report a failed photo and end: one stderr line (plus a JSON row), then one exit status.

Shared by ``suggest`` (in-process and ``--server``) and ``render`` so that they word failures and choose exit
codes alike: 0 when every photo succeeded, the error's own code when every photo failed, 9 (partial) otherwise.
:func:`run_photo_batch` is their one per-photo loop.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from backend.cli.printable import printable
from backend.errors import AutoretouchError, naming_file

__all__ = ["batch_exit_status", "report_photo_error", "run_photo_batch"]

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def report_photo_error(photo: Path, exc: AutoretouchError, *, as_json: bool) -> str:
    """Print ``autoretouch: error: ...`` (naming ``photo``) to stderr and, with ``as_json``, a failure row.

    The stderr line is :func:`~backend.cli.printable.printable` (control characters of a file name escaped); the
    JSON row and the message returned keep the name as it is.

    Returns:
        The message, prefixed with the photo unless the error already names it.
    """
    message = naming_file(photo, str(exc))
    print(f"autoretouch: error: {printable(message)}", file=sys.stderr)
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


def run_photo_batch(
    items: Sequence[_Item],
    photo: Callable[[_Item], Path],
    attempt: Callable[[_Item], _Result],
    done: Callable[[_Item, _Result], None],
    *,
    as_json: bool,
) -> int:
    """Run ``attempt`` on every item and ``done`` on what it returns; a photo that fails does not stop the others.

    Args:
        items: the batch (photos, or plans naming a photo).
        photo: the photo an item is about, for the error line.
        attempt: the work for one item; raises :class:`AutoretouchError` when the photo fails.
        done: prints one item's success.
        as_json: failures also get a JSON row.

    Returns:
        The batch's exit status (see :func:`batch_exit_status`).

    Raises:
        AutoretouchError: the only item of a one-item batch failed (its own message and exit code).
    """
    failures: list[AutoretouchError] = []
    for item in items:
        try:
            result = attempt(item)
        except AutoretouchError as exc:
            if len(items) == 1:
                raise
            failures.append(exc)
            report_photo_error(photo(item), exc, as_json=as_json)
            continue
        done(item, result)
    return batch_exit_status(failures, len(items))
