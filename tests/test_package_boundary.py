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
            if node.module in ("backend", "trainer"):  # "from trainer import restore_core" imports a module
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
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


def test_translate_is_pure_and_sidecar_owns_the_xmp() -> None:
    # translate: recipe -> host settings values; every byte of XMP is written by backend.sidecar
    offenders = sorted(
        f"{path.relative_to(BACKEND.parent)} imports {name}"
        for path in (BACKEND / "translate").rglob("*.py")
        for name in _imported_modules(path)
        if name.startswith(("backend.sidecar", "xml", "defusedxml"))
    )
    assert offenders == []


def test_cli_modules_import_each_other_without_a_circle() -> None:
    deps = {
        f"backend.cli.{path.stem}": {n for n in _imported_modules(path) if n.startswith("backend.cli.")}
        for path in (BACKEND / "cli").glob("*.py")
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in deps.get(start, set()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert sorted(m for m in deps if reaches(m, m, {m})) == []


def _unit(module: str) -> str | None:
    """The package-graph node of ``module``: ``backend.X`` / ``trainer.X`` (a sub-package or a top-level module)."""
    parts = module.split(".")
    if parts[0] not in ("backend", "trainer") or len(parts) < 2:
        return None
    return ".".join(parts[:2])


def _package_graph() -> dict[str, set[str]]:
    """Node -> nodes it imports (at module level or inside functions), over backend/ and trainer/."""
    root = BACKEND.parent
    graph: dict[str, set[str]] = {}
    for top in ("backend", "trainer"):
        for path in (root / top).rglob("*.py"):
            rel = path.relative_to(root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            me = _unit(".".join(parts))
            if me is None or "rpc" in rel.parts:
                continue
            deps = graph.setdefault(me, set())
            deps.update(u for n in _imported_modules(path) if (u := _unit(n)) is not None and u != me)
    return graph


def test_no_import_cycle_between_packages() -> None:
    # nodes: backend's and trainer's sub-packages and top-level modules; a lazy import inside a function counts
    import graphlib

    graph = _package_graph()
    assert len(graph) > 40 and sum(map(len, graph.values())) > 100  # it really read the code
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle between packages: {' -> '.join(exc.args[1])}") from None
