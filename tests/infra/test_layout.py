"""The package's shape: no import cycles, ``config`` imports nothing else of the package, ``stages/``
holds exactly the DVC stages and no stage imports another, one ``main()`` shape per stage.

Imports are read with ``ast`` (module level and inside functions), so nothing is executed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
PACKAGE = SRC / "audioreason"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def resolve(name: str) -> str | None:
    """The package module an import names (``from a.b import c`` may name module ``a.b.c``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """Package modules that ``module`` imports anywhere in its source (package ``__init__`` excluded)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for n in names:
            target = resolve(n) if n.startswith("audioreason") else None
            if target and target != module and target != "audioreason":
                found.add(target)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_are_read_inside_functions_too():
    assert "audioreason.models.factory" in GRAPH["audioreason.evaluation.suite"]  # imported inside a function


def test_no_import_cycles():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_config_imports_nothing_else_of_the_package():
    outside = {
        m: sorted(t for t in deps if not t.startswith("audioreason.config"))
        for m, deps in GRAPH.items()
        if m.startswith("audioreason.config")
    }
    assert not {m: d for m, d in outside.items() if d}


def test_stages_never_import_stages():
    offenders = {
        m: sorted(t for t in deps if t.startswith("audioreason.stages."))
        for m, deps in GRAPH.items()
        if m.startswith("audioreason.stages.")
    }
    assert not {m: d for m, d in offenders.items() if d}


def dvc_stages() -> set[str]:
    return set(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])


def test_stages_folder_holds_exactly_the_dvc_stages():
    modules = {p.stem for p in (PACKAGE / "stages").glob("*.py") if p.name != "__init__.py"}
    assert modules == dvc_stages()


@pytest.mark.parametrize("stage", sorted(dvc_stages()))
def test_every_stage_has_the_one_shape(stage):
    """A ``run``, a ``main`` of about ten statements that opens ``stage_run``, and the ``__main__`` guard."""
    path = PACKAGE / "stages" / f"{stage}.py"
    tree = ast.parse(path.read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "run" in functions, f"{path.name} has no run()"
    main = functions.get("main")
    assert main is not None, f"{path.name} has no main()"
    # Statements, not lines: the formatter spreads one long call over several lines.
    statements = sum(isinstance(n, ast.stmt) for n in ast.walk(main)) - 1
    assert statements <= 12, f"{path.name}: main() has {statements} statements"
    calls = {n.func.id for n in ast.walk(main) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "stage_run" in calls, f"{path.name}: main() does not open stage_run"
    assert ast.get_docstring(tree), f"{path.name} has no module docstring"
    guard = tree.body[-1]
    assert isinstance(guard, ast.If) and ast.unparse(guard.test) == "__name__ == '__main__'"
