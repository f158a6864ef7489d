"""Every evaluation module a stage imports (directly or through other package modules, at any
depth, function-level imports included) is one of the stage's DVC dependencies, so that
changing a scorer reruns exactly the stages that use it."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"


def module_file(name: str) -> Path | None:
    base = SRC / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("audioreason")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("audioreason"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if module_file(f"{node.module}.{a.name}")}
    return found


def closure(module: str) -> set[Path]:
    seen: set[Path] = set()
    todo = [module]
    while todo:
        path = module_file(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        todo.extend(imported_modules(path))
    return seen


def test_closure_follows_function_level_imports():
    files = {p.relative_to(SRC).as_posix() for p in closure("audioreason.stages.interventions")}
    assert "audioreason/models/factory.py" in files  # imported inside run_model
    assert "audioreason/evaluation/paper_tables.py" in files  # paper 04's numbers beside the run's


def test_stages_depend_on_the_evaluation_modules_they_use():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        stage = stage.get("do", stage)
        deps = {d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])}
        used = {
            p.relative_to(REPO).as_posix()
            for p in closure(f"audioreason.stages.{name}")
            if p.parent.name == "evaluation" and p.name != "__init__.py"
        }
        missing = sorted(u for u in used if u not in deps and "src/audioreason/evaluation" not in deps)
        assert not missing, f"stage {name} imports {missing} but does not list them in dvc.yaml"
        if "src/audioreason/evaluation/paper_tables.py" in used:
            assert "src/audioreason/evaluation/paper_tables.yaml" in deps | {"src/audioreason/evaluation"}, name
