"""Production functions stay small: one over 80 lines says why, in a ``# Long: ...`` comment just above it.

The same holds for the plug-ins' Lua (``-- Long: ...``), outside their specs.
"""

from __future__ import annotations

import ast
import re
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


#: Lua comments, strings and long brackets (skipped), and the words that open and close blocks. ``while`` and
#: ``for`` open their block with ``do``; ``elseif``'s ``then`` opens none, so ``then`` is not counted at all.
_LUA_TOKENS = re.compile(
    r"--\[(?P<ceq>=*)\[.*?\](?P=ceq)\]|--[^\n]*|\[(?P<seq>=*)\[.*?\](?P=seq)\]"
    r"|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|\b(?P<word>function|if|do|repeat|end|until)\b",
    re.S,
)
LUA_PLUGINS = ("darktable_plugin", "lightroom_plugin")


def _lua_functions(text: str) -> list[tuple[int, int]]:
    """``(first line, number of lines)`` of every function in a Lua chunk."""
    found, stack = [], []
    for match in _LUA_TOKENS.finditer(text):
        word = match.group("word")
        if word is None:
            continue
        line = text.count("\n", 0, match.start()) + 1
        if word in ("end", "until"):
            opener, first = stack.pop()
            if opener == "function":
                found.append((first, line - first + 1))
        else:
            stack.append((word, line))
    assert not stack, "unbalanced Lua blocks: the counter has lost its way"
    return found


def test_every_long_lua_function_says_why() -> None:
    seen, unexplained = 0, []
    for plugin in LUA_PLUGINS:
        for path in sorted((REPO / plugin).rglob("*.lua")):
            if "spec" in path.relative_to(REPO / plugin).parts:
                continue
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            for first, length in _lua_functions(text):
                seen += 1
                if length > LIMIT and not lines[first - 2].strip().startswith("-- Long: "):
                    unexplained.append(f"{path.relative_to(REPO)}:{first} ({length} lines)")
    assert seen > 200, f"only {seen} Lua functions found; is the check still looking at the code?"
    assert not unexplained, "Lua functions over 80 lines without a '-- Long: reason' comment above them: " + ", ".join(
        unexplained
    )
