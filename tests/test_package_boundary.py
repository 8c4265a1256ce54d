"""House rule: ``backend`` is the run-time and never imports ``trainer`` (the reverse is fine)."""

from __future__ import annotations

import ast
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[1] / "backend"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_backend_never_imports_trainer() -> None:
    offenders = sorted(
        f"{path.relative_to(BACKEND.parent)} imports {name}"
        for path in BACKEND.rglob("*.py")
        for name in _imported_modules(path)
        if name == "trainer" or name.startswith("trainer.")
    )
    assert offenders == []


def test_train_command_joins_through_the_entry_point() -> None:
    from backend.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "train" in sub.choices  # registered by trainer.cli via the autoretouch.commands entry point
