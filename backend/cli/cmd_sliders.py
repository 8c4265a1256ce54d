"""``autoretouch sliders``: print the slider catalog, as a table for people or as JSON for programs.

Everything printed comes from :mod:`backend.sliders.catalog` (the single source of truth); this module
only formats it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from backend.sliders.catalog import CATALOG, CATALOG_VERSION, CURVE_KNOTS, STAGE_ORDER, SliderSpec, catalog_as_json

__all__ = ["format_table", "register", "run"]

_MAX_CELL = 48  # longest cell in the human table; --json has everything


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sliders`` sub-command to the CLI."""
    parser = subparsers.add_parser(
        "sliders",
        help="list the sliders a recipe may use (units, ranges, host keys)",
        description=(
            "Print the slider catalog: every slider a recipe may set, with its unit, allowed range, identity "
            "(the value that changes nothing), renderer stage, the Lightroom develop-setting keys and the "
            "darktable 4.2 module and fields it becomes. Rows are in catalog order; the renderer applies "
            "stages in the pipeline order printed below the table."
        ),
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the complete catalog as JSON (what programs and the plugins read) instead of the table",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the catalog; returns exit status 0."""
    if args.json:
        json.dump(catalog_as_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(CATALOG))
    return 0


def _num(x: float) -> str:
    return f"{x:g}"


def _flat(value: Any) -> list[float]:
    if isinstance(value, tuple | list):
        return [x for v in value for x in _flat(v)]
    return [float(value)]


def _identity_text(spec: SliderSpec) -> str:
    """Short description of a slider's identity value."""
    if spec.is_scalar:
        return _num(float(spec.identity))  # type: ignore[arg-type]
    flat = _flat(spec.identity)
    if spec.monotone_curve and flat == list(CURVE_KNOTS) * (spec.size // len(CURVE_KNOTS)):
        return "y = x"
    if len(set(flat)) == 1:
        return f"all {_num(flat[0])}"
    return "see --json"


def _shorten(items: Sequence[str]) -> str:
    text = ", ".join(items)
    if len(text) <= _MAX_CELL:
        return text
    return f"{items[0]}, ... ({len(items)} keys)"


def _cells(spec: SliderSpec) -> list[str]:
    shape = "" if spec.is_scalar else "x".join(str(d) for d in spec.shape) + " of "
    dt = spec.darktable
    module = dt.module if dt.instance == 0 else f"{dt.module}#{dt.instance}"
    return [
        spec.name,
        f"{shape}{_num(spec.minimum)}..{_num(spec.maximum)}",
        _identity_text(spec),
        spec.stage,
        _shorten(spec.lightroom.keys) + ("" if spec.lightroom.exact else " ~"),
        f"{module}: {_shorten(dt.fields)}",
        spec.unit,
    ]


def format_table(specs: Sequence[SliderSpec]) -> str:
    """The catalog as a fixed-width text table.

    Args:
        specs: catalog rows to show, in order.

    Returns:
        The table, its legend and the pipeline order, ending with a newline.
    """
    header = ["SLIDER", "RANGE", "IDENTITY", "STAGE", "LIGHTROOM", "DARKTABLE 4.2", "UNIT"]
    rows = [header, *(_cells(s) for s in specs)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths).rstrip())
    lines += [
        "",
        f"catalog version {CATALOG_VERSION}; curves are output values at the linear knots "
        + ", ".join(_num(k) for k in CURVE_KNOTS),
        "~ = Lightroom mapping is approximate (proprietary); darktable module#N = instance N",
        "render order: " + " > ".join(STAGE_ORDER),
        "full details (notes, descriptions, every key): autoretouch sliders --json",
    ]
    return "\n".join(lines) + "\n"
