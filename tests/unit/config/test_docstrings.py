"""The config documents itself: every params dataclass and every field of it has a docstring, and
the package imports nothing else of ``audioreason`` (so any module may import it)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

import audioreason.config as config

PACKAGE = Path(config.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))


def _is_dataclass(node: ast.ClassDef) -> bool:
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if (isinstance(target, ast.Name) and target.id == "dataclass") or (
            isinstance(target, ast.Attribute) and target.attr == "dataclass"
        ):
            return True
    return False


def _is_docstring(node: ast.stmt | None) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def documented_fields(path: Path) -> dict[str, tuple[list[str], list[str], bool]]:
    """Dataclass name -> (its fields, the fields without a docstring right after them, has a class docstring)."""
    out = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.ClassDef) and _is_dataclass(node)):
            continue
        fields, missing = [], []
        for i, stmt in enumerate(node.body):
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                fields.append(stmt.target.id)
                if not _is_docstring(node.body[i + 1] if i + 1 < len(node.body) else None):
                    missing.append(stmt.target.id)
        out[node.name] = (fields, missing, ast.get_docstring(node) is not None)
    return out


FOUND = {name: info for path in MODULES for name, info in documented_fields(path).items()}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_every_field_has_a_docstring(path):
    undocumented = {cls: missing for cls, (_, missing, _) in documented_fields(path).items() if missing}
    assert not undocumented, f"{path.name}: fields without a docstring: {undocumented}"
    no_class_doc = [cls for cls, (_, _, has_doc) in documented_fields(path).items() if not has_doc]
    assert not no_class_doc, f"{path.name}: dataclasses without a docstring: {no_class_doc}"


def test_the_walk_sees_every_dataclass_of_the_package():
    exported = {
        name: obj
        for name, obj in vars(config).items()
        if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and obj.__module__.startswith(config.__name__)
    }
    assert len(exported) > 40
    for name, cls in exported.items():
        assert name in FOUND, name
        assert FOUND[name][0] == [f.name for f in dataclasses.fields(cls)], name


def test_a_field_without_a_docstring_is_found(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        'from dataclasses import dataclass\n\n\n@dataclass(frozen=True)\nclass A:\n    """A."""\n\n'
        '    x: int\n    """Documented."""\n    y: int\n    z: int\n    """Documented."""\n'
    )
    assert documented_fields(source) == {"A": (["x", "y", "z"], ["y"], True)}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_the_package_imports_nothing_else_of_audioreason(path):
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):  # function-level imports included
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            imported.add(node.module or "")
    outside = sorted(m for m in imported if m.split(".")[0] == "audioreason" and not m.startswith("audioreason.config"))
    assert not outside, f"{path.name} imports {outside}"
