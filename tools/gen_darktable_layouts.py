"""Regenerate ``backend/translate/darktable_layouts.json`` from the darktable 4.2.1 params reference.

The reference file (``../shared/reference/darktable-4.2-params.json``) holds the parameter struct layouts of
37 darktable 4.2.1 modules, read from the installed binaries through darktable's introspection API. The
runtime and the tests never read it: this script distils the modules autoretouch writes into a compact table
that is committed next to the translator.

Each module becomes ``{"modversion", "size", "fields": [...]}``. A field is one top-level struct member::

    {"name": "curve_nodes", "type": "f", "offset": 0, "shape": [3, 20, 2], "members": ["x", "y"],
     "default": <scalar, or nested lists of the shape>, "min": ..., "max": ..., "enum": {...}}

``type`` is a :mod:`struct` code (``f`` float32, ``i`` int32 / gboolean / enum, ``I`` uint32, ``H`` uint16);
``shape`` lists array counts and, for arrays of structs (or a plain struct), the member count last.
Defaults are darktable's ``init()`` defaults: the introspection default of each element, overridden where a
module's ``init()`` sets something else (:data:`INIT_OVERRIDES`, facts read in darktable 4.2.1's sources).

Usage::

    python tools/gen_darktable_layouts.py [--reference PATH] [--out PATH] [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = REPO.parent / "shared" / "reference" / "darktable-4.2-params.json"
DEFAULT_OUT = REPO / "backend" / "translate" / "darktable_layouts.json"

#: Modules autoretouch writes (one per renderer stage).
MODULES: tuple[str, ...] = (
    "exposure",
    "channelmixerrgb",
    "sharpen",
    "colorbalancergb",
    "rgbcurve",
    "rgblevels",
    "bilat",
    "colorzones",
    "vignette",
)

_TYPE_CODES = {"float": "f", "int": "i", "bool": "i", "enum": "i", "uint": "I", "ushort": "H"}
_FLT_MAX = 3.4e38

#: Where a module's ``init()`` departs from the introspection defaults (darktable 4.2.1 ``src/iop/*.c``).
#: Values are full nested lists of the field's shape.
INIT_OVERRIDES: dict[str, dict[str, Any]] = {
    # channelmixerrgb.c init(): identity mixing matrix.
    "channelmixerrgb": {
        "red": [1.0, 0.0, 0.0, 0.0],
        "green": [0.0, 1.0, 0.0, 0.0],
        "blue": [0.0, 0.0, 1.0, 0.0],
    },
    # rgbcurve.c init(): every channel is the identity line (0,0)-(1,1).
    "rgbcurve": {
        "curve_nodes": [[[0.0, 0.0], [1.0, 1.0]] + [[0.0, 0.0]] * 18 for _ in range(3)],
    },
    # rgblevels.c: black 0, grey 0.5, white 1 per channel.
    "rgblevels": {"levels": [[0.0, 0.5, 1.0] for _ in range(3)]},
    # colorzones.c init(): select by hue, two flat nodes per curve (periodic x at 0.25/0.75), Catmull-Rom,
    # splines version 1 (V2).
    "colorzones": {
        "curve": [[[0.25, 0.5], [0.75, 0.5]] + [[0.0, 0.0]] * 18 for _ in range(3)],
        "curve_num_nodes": [2, 2, 2],
        "curve_type": [1, 1, 1],
        "splines_version": 1,
    },
}


def _number(x: float, code: str) -> float | int:
    return int(x) if code in "iIH" else float(x)


def _fill(shape: list[int], leaf: Any) -> Any:
    if not shape:
        return leaf
    return [_fill(shape[1:], leaf) for _ in range(shape[0])]


def _struct_members(fields: list[dict[str, Any]], prefix: str, depth: int) -> list[dict[str, Any]]:
    return [f for f in fields if f["depth"] == depth and f["name"].startswith(prefix + ".")]


def _leaf_entry(f: dict[str, Any], code: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lo, hi = f.get("min"), f.get("max")
    if lo is not None and abs(lo) < _FLT_MAX and code == "f":
        out["min"] = float(lo)
    if hi is not None and abs(hi) < _FLT_MAX and code == "f":
        out["max"] = float(hi)
    if "enum" in f:
        out["enum"] = {k: int(v) for k, v in f["enum"].items()}
    return out


def convert_module(op: str, mod: dict[str, Any]) -> dict[str, Any]:
    """Convert one module of the reference file into the compact layout form."""
    fields = mod["fields"]
    out_fields: list[dict[str, Any]] = []
    for f in fields:
        if f["depth"] != 0:
            continue
        shape: list[int] = []
        node, name, depth = f, f["name"], 0
        while node["kind"] == "array":
            shape.append(int(node["count"]))
            name, depth = name + "[0]", depth + 1
            node = next(g for g in fields if g["name"] == name and g["depth"] == depth)
        members: list[str] | None = None
        if node["kind"] == "struct":
            subs = _struct_members(fields, name, depth + 1)
            kinds = {_TYPE_CODES[s["kind"]] for s in subs}
            if len(kinds) != 1:
                raise SystemExit(f"{op}.{f['name']}: struct with mixed member types is not supported")
            code = kinds.pop()
            members = [s["name"][len(name) + 1 :] for s in subs]
            shape.append(len(subs))
            leaf_default: Any = [_number(s.get("default", 0.0), code) for s in subs]
            extra = _leaf_entry(subs[0], code)
            base_shape = shape[:-1]
        else:
            code = _TYPE_CODES[node["kind"]]
            leaf_default = _number(node.get("default", 0.0), code)
            extra = _leaf_entry(node, code)
            base_shape = shape
        entry: dict[str, Any] = {"name": f["name"], "type": code, "offset": int(f["offset"]), "shape": shape}
        if members:
            entry["members"] = members
        default = INIT_OVERRIDES.get(op, {}).get(f["name"])
        entry["default"] = default if default is not None else _fill(base_shape, leaf_default)
        entry.update(extra)
        out_fields.append(entry)
    return {"modversion": int(mod["modversion"]), "size": int(mod["size"]), "fields": out_fields}


def build(reference: dict[str, Any], modules: tuple[str, ...] = MODULES) -> dict[str, Any]:
    """Build the compact layout table for ``modules``."""
    missing = [m for m in modules if m not in reference]
    if missing:
        raise SystemExit(f"modules missing from the reference file: {missing}")
    return {
        "generated_by": "tools/gen_darktable_layouts.py",
        "source": "darktable-4.2-params.json (darktable 4.2.1 introspection) + init() defaults",
        "darktable": "4.2.1",
        "modules": {op: convert_module(op, reference[op]) for op in modules},
    }


def render_json(table: dict[str, Any]) -> str:
    """Serialise the table deterministically: one line per field."""
    lines = ["{"]
    head = [k for k in table if k != "modules"]
    for k in head:
        lines.append(f"  {json.dumps(k)}: {json.dumps(table[k])},")
    lines.append('  "modules": {')
    mods = list(table["modules"].items())
    for i, (op, mod) in enumerate(mods):
        lines.append(f'    {json.dumps(op)}: {{"modversion": {mod["modversion"]}, "size": {mod["size"]}, "fields": [')
        for j, fld in enumerate(mod["fields"]):
            comma = "," if j < len(mod["fields"]) - 1 else ""
            lines.append(f"      {json.dumps(fld, separators=(', ', ': '))}{comma}")
        lines.append("    ]}" + ("," if i < len(mods) - 1 else ""))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="fail if the committed table is out of date")
    args = parser.parse_args(argv)
    reference = json.loads(args.reference.read_text(encoding="utf-8"))
    text = render_json(build(reference))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(MODULES)} modules)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
