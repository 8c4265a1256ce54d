"""What the sidecar commands print: one line per photo and host, or one JSON document; their exit status.

Shared by ``apply`` and ``revert``, in-process and with ``--server`` (:mod:`backend.cli.remote`), so both print
the same thing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from backend.batch.walk import check_path_length
from backend.errors import EXIT_PARTIAL, AutoretouchError, naming_file
from backend.recipe import Recipe
from backend.recipe import check_strength as check_recipe_strength
from backend.sidecar.apply import Outcome, hosts_for, sidecar_path

__all__ = ["check_strength", "format_outcome", "report", "run_batch"]


def format_outcome(o: Outcome) -> str:
    """One human line: ``ACTION  HOST  SIDECAR[: reason]`` plus indented warnings."""
    line = f"{o.action:<12} {o.host:<9} {o.sidecar}"
    if o.reason and not o.failed:
        line += f": {o.reason}"
    elif o.failed:
        line += f"\n  error: {o.reason}"
    return "\n".join([line, *(f"  note: {w}" for w in o.warnings)])


def run_batch(photos: Sequence[Path], hosts: str, do: Callable[[Path], list[Outcome]]) -> list[Outcome]:
    """Run ``do`` on each photo; a typed error or OS error becomes ``failed`` outcomes naming the file.

    A photo path that cannot exist (a name in it too long, :func:`~backend.batch.walk.check_path_length`)
    fails alone as not found, before ``do`` runs; the other photos carry on.
    """
    outcomes: list[Outcome] = []
    for photo in photos:
        try:
            check_path_length(photo)
            outcomes += do(photo)
        except AutoretouchError as exc:
            reason = naming_file(photo, str(exc))
            outcomes += [Outcome(photo, h, sidecar_path(photo, h), "failed", reason) for h in hosts_for(hosts)]
        except OSError as exc:  # the OS's words, naming the file, without Python's "[Errno N]" prefix
            reason = naming_file(exc.filename or photo, exc.strerror or str(exc))
            outcomes += [Outcome(photo, h, sidecar_path(photo, h), "failed", reason) for h in hosts_for(hosts)]
    return outcomes


def report(outcomes: list[Outcome], as_json: bool, recipes: Mapping[Path, Recipe] | None = None) -> int:
    """Print the outcomes; returns 0, or :data:`~backend.cli.main.EXIT_PARTIAL` when any failed.

    Args:
        outcomes: the outcomes, in photo order.
        as_json: print one JSON document instead of lines.
        recipes: photo -> the suggestion written (``--style``/``--mix``); listed under ``"recipes"`` in the
            JSON document, in the order given. ``None`` (``--recipe``) adds no key.
    """
    failed = sum(o.failed for o in outcomes)
    if as_json:
        doc: dict[str, Any] = {"results": [o.to_json() for o in outcomes], "failed": failed}
        if recipes is not None:
            doc["recipes"] = [{"photo": str(p), "recipe": r.to_dict()} for p, r in recipes.items()]
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for o in outcomes:
            print(format_outcome(o), file=sys.stderr if o.failed else sys.stdout)
    return EXIT_PARTIAL if failed else 0


def check_strength(strength: float | None) -> float:
    """``--strength`` (default 1) checked before any photo is touched.

    Raises:
        InvalidRecipeError: not a finite number in [0, 1].
    """
    return check_recipe_strength(1.0 if strength is None else strength)
