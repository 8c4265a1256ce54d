"""The daemon's real training worker, made to train for seconds: ``python -m testing.tiny_train_worker SPEC.json``.

A test daemon's ``DaemonConfig.train_command`` where the client sends no training overrides (the Lightroom
plug-in sends a name, minutes and its edits): the spec's overrides become :data:`TINY_RESTORE_OVERRIDES`
followed by its own (the file is rewritten, so the run folder keeps what was run), then
:func:`trainer.daemon_worker.main` runs it as the daemon's default worker does.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from testing.training import TINY_RESTORE_OVERRIDES
from trainer import daemon_worker

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Add the tiny overrides to the spec file ``argv[0]`` and run the worker on it; returns its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 1:
        path = Path(args[0])
        spec = json.loads(path.read_text(encoding="utf-8"))
        spec["overrides"] = [*TINY_RESTORE_OVERRIDES, *spec.get("overrides", [])]
        path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return daemon_worker.main(args)


if __name__ == "__main__":
    sys.exit(main())
