"""Production functions stay small: one over 80 lines says why, in a ``# Long: ...`` comment just above it."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIMIT = 80


def _long_functions() -> tuple[int, list[tuple[Path, str, int, str]]]:
    """How many functions there are, and ``(file, name, lines, the line above the def or its first decorator)``
    of every one over LIMIT."""
    out, seen = [], 0
    for package in ("backend", "trainer", "testing"):
        for path in sorted((REPO / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    seen += 1
                    length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                    if length > LIMIT:
                        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                        out.append((path.relative_to(REPO), node.name, length, lines[first - 2].strip()))
    return seen, out


def test_every_long_function_says_why() -> None:
    seen, long = _long_functions()
    assert seen > 500, f"only {seen} functions found; is the check still looking at the code?"
    unexplained = [f"{f}: {name} ({n} lines)" for f, name, n, above in long if not above.startswith("# Long: ")]
    assert not unexplained, "functions over 80 lines without a '# Long: reason' comment above them: " + ", ".join(
        unexplained
    )
