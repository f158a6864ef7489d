"""The layout of ``audioreason.world``: no import cycles, one writer per dataset format.

Imports are read with ``ast`` from the source, module-level and inside functions alike, so
a cycle hidden in a function-level import fails here even though Python would run it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from audioreason.datasets.formats import FORMATS
from audioreason.world.metadata import WORLD_DATASETS

SRC = Path(__file__).resolve().parents[3] / "src" / "audioreason"
WORLD = SRC / "world"
PACKAGE = "audioreason.world"
MODULES = sorted(p.stem for p in WORLD.glob("*.py"))
#: The dataset formats the world writes (``ingest`` reads each through its importer).
WRITTEN_FORMATS = sorted({fmt for fmt, _ in WORLD_DATASETS.values()})
#: Modules every writer may share; none of them may import a writer.
SHARED = ("audio_out", "captions", "scenes", "sounds", "speech")


def _world_imports(source: str, module: str) -> set[str]:
    """The ``audioreason.world`` modules that ``source`` (of ``module``) imports anywhere."""
    found: set[str] = set()

    def add(dotted: str, names: tuple[str, ...] = ()) -> None:
        if dotted == PACKAGE:
            # ``from audioreason.world import x``: x is a submodule, or a name of __init__.
            found.update(n if n in MODULES else "__init__" for n in names or ("__init__",))
        elif dotted.startswith(PACKAGE + "."):
            found.add(dotted[len(PACKAGE) + 1 :].split(".")[0])

    for node in ast.walk(ast.parse(source, filename=f"{module}.py")):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level:
            # Relative to the (flat) world package.
            assert node.level == 1, f"{module}: relative import from outside the package ({ast.unparse(node)})"
            if node.module:
                add(f"{PACKAGE}.{node.module}")
            else:
                add(PACKAGE, tuple(a.name for a in node.names))
        elif isinstance(node, ast.ImportFrom) and node.module == "audioreason":
            if any(a.name == "world" for a in node.names):
                add(PACKAGE)
        elif isinstance(node, ast.ImportFrom) and node.module:
            add(node.module, tuple(a.name for a in node.names))
    found.discard(module)
    return found


GRAPH = {m: _world_imports((WORLD / f"{m}.py").read_text(), m) for m in MODULES}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None (depth-first search)."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_import_reader_sees_every_form_of_import():
    # Guards the reader itself, so that a cycle cannot hide behind an import form it skips.
    source = """
import audioreason.world.sounds as s
from audioreason import world
from audioreason.world import scenes, write_world
from audioreason.world.speech import speak
from . import cota
from .vctk import write_vctk


def later():
    from audioreason.world.mmau import write_mmau
"""
    assert _world_imports(source, "x") == {"sounds", "__init__", "scenes", "speech", "cota", "vctk", "mmau"}
    assert set(WRITTEN_FORMATS) <= GRAPH["write"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_inside_the_world():
    assert _cycle(GRAPH) is None, " -> ".join(_cycle(GRAPH) or [])


@pytest.mark.parametrize("module", SHARED)
def test_shared_modules_import_no_writer(module):
    assert not GRAPH[module] & set(WRITTEN_FORMATS), (module, GRAPH[module])


@pytest.mark.parametrize("fmt", WRITTEN_FORMATS)
def test_every_written_format_has_its_own_writer(fmt):
    # The importer and the writer of a format share one name: datasets/<fmt>.py and world/<fmt>.py.
    assert FORMATS[fmt][0] == f"audioreason.datasets.{fmt}" and (SRC / "datasets" / f"{fmt}.py").is_file()
    assert fmt in MODULES, f"no world/{fmt}.py writes the {fmt} format"
    functions = {n.name for n in ast.parse((WORLD / f"{fmt}.py").read_text()).body if isinstance(n, ast.FunctionDef)}
    assert f"write_{fmt}" in functions
    # A writer writes its own format only: it imports no other writer.
    assert not GRAPH[fmt] & set(WRITTEN_FORMATS), (fmt, GRAPH[fmt])
    calls = {
        ast.unparse(n.func) for n in ast.walk(ast.parse((WORLD / "write.py").read_text())) if isinstance(n, ast.Call)
    }
    assert f"{fmt}.write_{fmt}" in calls, f"write_world does not call {fmt}.write_{fmt}"


def test_the_world_writes_every_format_the_importers_read():
    assert WRITTEN_FORMATS == sorted(FORMATS)


def test_write_world_is_defined_once():
    defs = [
        m
        for m in MODULES
        if any(
            isinstance(n, ast.FunctionDef) and n.name == "write_world"
            for n in ast.parse((WORLD / f"{m}.py").read_text()).body
        )
    ]
    assert defs == ["write"]
