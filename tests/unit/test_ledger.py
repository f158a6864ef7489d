"""The hyperparameter ledger of papers 01-03 (``src/audioreason/ledger.yaml``, docs/ledger.md), held to
``params.paper.yaml``, to the code and to the papers' own words.

A ``stated`` entry is one value a paper states (paper, section, the paper's words) and where the package
keeps it: a ``params.paper.yaml`` key, a code attribute, a function's answer, a field of a DeepSpeed JSON,
a row of a run matrix, or ``none`` with the reason. ``unstated`` lists what the papers leave open (the value
chosen and why), ``plumbing`` the key patterns that carry no hyperparameter. Every key of the ledger's
``sections`` must be in one of the three lists, so a new params key cannot arrive unexamined.

Nothing heavy is imported: where a trainer mapping leaves a key out, the library's default applies, and
that default is read from the library's source with ``ast`` (importing TRL takes seconds).
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import fnmatch
import functools
import importlib
import importlib.resources
import importlib.util
import json
import math
import operator
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PARAMS_FILE = "params.paper.yaml"
# The papers' texts sit beside the checkout, as the reference files do (tests/conftest.py).
PAPERS_DIR = REPO.parent / "shared" / "papers"
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

STATED_KEYS = {"id", "name", "value", "paper", "section", "quote", "where"}
STATED_OPTIONAL = {"expect", "transform", "call", "match", "why", "status", "note"}
UNSTATED_KEYS = {"key", "why"}
UNSTATED_OPTIONAL = {"value", "paper", "note"}
PLUMBING_KEYS = {"pattern", "why"}
TRANSFORMS = {"formula", "replace", "contains"}
STATUSES = {"mismatch"}
LOCATION_KINDS = ("code", "call", "json", "rows")
NUMBER_TEXT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
MISSING = object()
WILDCARD = re.compile(r"[*?\[]")


# --------------------------------------------------------------------------- reading the ledger


@functools.cache
def ledger() -> dict:
    """The ledger as the installed package ships it (package data, not a path into src/)."""
    text = importlib.resources.files("audioreason").joinpath("ledger.yaml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=Loader)


@functools.cache
def paper_params() -> dict:
    return yaml.load((REPO / PARAMS_FILE).read_text(encoding="utf-8"), Loader=Loader)


def segments_match(pattern: list[str], segs: list[str]) -> bool:
    """Dotted-key glob: ``*`` (or ``x_*``) matches one segment, ``**`` any number of segments.

    >>> segments_match(["**", "trainer", "seed"], "grpo.recipes.p02.trainer.seed".split("."))
    True
    >>> segments_match(["*", "seed"], ["a", "b", "seed"])
    False
    """
    if not pattern:
        return not segs
    if pattern[0] == "**":
        return any(segments_match(pattern[1:], segs[i:]) for i in range(len(segs) + 1))
    return bool(segs) and fnmatch.fnmatchcase(segs[0], pattern[0]) and segments_match(pattern[1:], segs[1:])


def covers(pattern: str, key: str) -> bool:
    """A pattern covers a key when it matches the key or one of its ancestors (a mapping covers its subtree)."""
    pat, segs = pattern.split("."), key.split(".")
    return any(segments_match(pat, segs[:i]) for i in range(1, len(segs) + 1))


def leaf_keys(tree: Any, prefix: str) -> list[str]:
    """Dotted keys of every leaf (a scalar, a list or an empty mapping) under ``tree``."""
    if isinstance(tree, dict) and tree:
        return [k for name, sub in tree.items() for k in leaf_keys(sub, f"{prefix}.{name}")]
    return [prefix]


def nproc(launch: str) -> int:
    """Processes a ``launch`` command starts (``torchrun --nproc_per_node=N``, ``accelerate launch
    --num_processes N``; ``python`` is one).

    >>> nproc("torchrun --nproc_per_node=8"), nproc("accelerate launch --num_processes 4"), nproc("python")
    (8, 4, 1)
    """
    m = re.search(r"--(?:nproc[_-]per[_-]node|num[_-]processes)[=\s]+(\d+)", launch)
    if m:
        return int(m.group(1))
    if launch.split() and launch.split()[0] in ("python", "python3"):
        return 1
    raise ValueError(f"cannot tell the process count of launch {launch!r}")


_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
}


def evaluate_formula(expr: str, names: Mapping[str, Any]) -> Any:
    """Arithmetic (``+ - * / //``) over the named locations, plus ``nproc(<launch>)``; nothing else runs.

    >>> evaluate_formula("per_device / g * accum * nproc(launch)", {"per_device": 4, "g": 4, "accum": 1,
    ...                  "launch": "torchrun --nproc_per_node=8"})
    8.0
    """

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "nproc":
            if len(node.args) == 1 and not node.keywords:
                return nproc(ev(node.args[0]))
        raise ValueError(f"formula {expr!r}: {ast.unparse(node)!r} is not arithmetic over {sorted(names)}")

    return ev(ast.parse(expr, mode="eval").body)


def same(a: Any, b: Any) -> bool:
    """Equal as YAML values: numbers to 1e-9 relative, bools only to bools, tuples and sets as lists.

    >>> same(1.0e-5, 0.00001), same(True, 1), same(frozenset({5}), [5]), same({"a": (1, 2)}, {"a": [1, 2.0]})
    (True, False, True, True)
    """
    if isinstance(a, (set, frozenset)):
        a = sorted(a)
    if isinstance(b, (set, frozenset)):
        b = sorted(b)
    a = list(a) if isinstance(a, tuple) else a
    b = list(b) if isinstance(b, tuple) else b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def squash(text: str) -> str:
    """Runs of whitespace as one space (prompts are compared this way)."""
    return " ".join(text.split())


_PLAIN = (
    ("\\times", "×"),
    ("\\alpha", "α"),
    ("\\beta", "β"),
    ("\\epsilon", "ε"),
    ("’", "'"),
    ("‘", "'"),
    ("“", '"'),
    ("”", '"'),
    ("–", "-"),
    ("—", "-"),
)


def plain(text: str) -> str:
    """Text with Markdown / LaTeX markup dropped, for finding a quote in a paper: both sides go through it.

    >>> plain("learning rate 5 \\\\times 10^{-5}") == plain("learning rate 5 × 10^-5")
    True
    """
    for a, b in _PLAIN:
        text = text.replace(a, b)
    return squash(re.sub(r"[$*{}^_\\`]", "", text)).lower()


# --------------------------------------------------------------------------- library defaults, read with ast


def _default_of(value: ast.expr) -> Any:
    """The default of a dataclass field's right-hand side (``field(default=...)`` or a literal)."""
    if isinstance(value, ast.Call) and ast.unparse(value.func).rpartition(".")[2] == "field":
        value = next((kw.value for kw in value.keywords if kw.arg == "default"), None)
        if value is None:
            return MISSING  # default_factory or no default: not a literal
    try:
        return ast.literal_eval(value)
    except ValueError:
        return MISSING


@functools.cache
def class_fields(spec: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``(field -> default, base class names)`` of ``<package>/<file.py>:<Class>``, from the source alone."""
    path, _, name = spec.rpartition(":")
    package, _, rel = path.partition("/")
    found = importlib.util.find_spec(package)  # a top-level name: located, not imported
    if found is None or not found.submodule_search_locations:
        raise LookupError(f"{spec}: package {package!r} is not installed")
    source = Path(next(iter(found.submodule_search_locations))) / rel
    tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None)
    if cls is None:
        raise LookupError(f"{spec}: no class {name} in {source}")
    fields = {
        stmt.target.id: _default_of(stmt.value)
        for stmt in cls.body
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None
    }
    return fields, tuple(ast.unparse(b).rpartition(".")[2] for b in cls.bases)


def library_default(chain: list[str], field: str) -> Any:
    """The default of ``field`` in the first class of ``chain`` (subclass first) that declares it."""
    for spec in chain:
        fields, _ = class_fields(spec)
        if field in fields:
            return fields[field]
    return MISSING


# --------------------------------------------------------------------------- where a value lives


class Reader:
    """Reads the ledger's locations against one params mapping, and remembers which params keys it read."""

    def __init__(self, params: dict, spec: dict | None = None):
        spec = spec or ledger()
        self.params = params
        self.library = spec.get("library_defaults", {})
        self.row_fallbacks = spec.get("row_fallbacks", {})
        self.read: set[str] = set()

    # params keys ---------------------------------------------------------------------------------------------

    def interpolate(self, text: str) -> str:
        """``{dotted.key}`` replaced by that key's value (``teachers.{agfv.teacher}.model``)."""
        return re.sub(r"\{([^{}]+)\}", lambda m: str(self.param(m.group(1))), text)

    def param(self, key: str, *, record: bool = True) -> Any:
        """A key's value (``record=False``: not counted as read, so it covers no key)."""
        key = self.interpolate(key)
        if record:
            self.read.add(key)
        node: Any = self.params
        parts = key.split(".")
        for i, part in enumerate(parts):
            if isinstance(node, dict) and part in node:
                node = node[part]
                continue
            if i == len(parts) - 1 and isinstance(node, dict):
                default = self.default(key)
                if default is not MISSING:
                    return default
            raise LookupError(f"{key}: not in {PARAMS_FILE}")
        return node

    def default(self, key: str) -> Any:
        """The library default of a key a trainer mapping leaves out (``library_defaults``), or MISSING."""
        parent, _, field = key.rpartition(".")
        for pattern, chain in self.library.items():
            if segments_match(pattern.split("."), parent.split(".")):
                return library_default(chain, field)
        return MISSING

    # other kinds ----------------------------------------------------------------------------------------------

    def code(self, target: str) -> Any:
        """``module:Name.attr``: an attribute (a mapping's item, a dataclass field's default) after import."""
        module, _, attrs = target.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attrs.split("."):
            if isinstance(obj, Mapping):
                obj = obj[part]
            elif isinstance(obj, type) and dataclasses.is_dataclass(obj) and part in obj.__dataclass_fields__:
                f = obj.__dataclass_fields__[part]
                if f.default is not dataclasses.MISSING:
                    obj = f.default
                elif f.default_factory is not dataclasses.MISSING:
                    obj = f.default_factory()
                else:
                    raise LookupError(f"code:{target}: field {part} has no default")
            else:
                obj = getattr(obj, part)
        return obj

    def call(self, target: str, call: dict) -> Any:
        return self.code(target)(*call.get("args", []), **call.get("kwargs", {}))

    def json_field(self, target: str) -> Any:
        path, _, dotted = target.rpartition(":")
        node = json.loads((REPO / path).read_text(encoding="utf-8"))
        for part in dotted.split("."):
            node = node[part]
        return node

    def row_field(self, table: str, row: dict, field: str) -> Any:
        """A row's value of ``field``; a part the row leaves out comes from ``row_fallbacks`` (its recipe)."""
        node: Any = row
        parts = field.split(".")
        for part in parts:
            if isinstance(node, dict) and part in node:
                node = node[part]
                continue
            fallback = self.row_fallbacks.get(table, {}).get(parts[0])
            if fallback is None:
                return MISSING
            base = re.sub(r"\{(\w+)\}", lambda m: str(row[m.group(1)]), fallback)
            return self.param(".".join([base, *parts[1:]]))
        return node

    def rows(self, table: str, match: dict) -> list[str]:
        """Names of the rows of ``table`` whose fields equal every item of ``match``; a matched row is read whole."""
        hits = [
            name
            for name, row in self.param(table, record=False).items()
            if all(same(self.row_field(table, row, f), v) for f, v in match.items())
        ]
        self.read.update(f"{table}.{name}" for name in hits)
        return hits

    def location(self, loc: str, entry: dict) -> Any:
        kind, sep, rest = loc.partition(":")
        if not sep or kind not in LOCATION_KINDS:
            return self.param(loc)
        rest = self.interpolate(rest)
        if kind == "code":
            return self.code(rest)
        if kind == "call":
            return self.call(rest, entry["call"])
        if kind == "json":
            return self.json_field(rest)
        return self.rows(rest, entry["match"])


def where_list(entry: dict) -> list[str]:
    where = entry["where"]
    if isinstance(where, dict):
        return list(where.values())
    return [where] if isinstance(where, str) else list(where)


def check_stated(entry: dict, reader: Reader) -> list[str]:
    """What differs between the ledger's entry and where it points ([] when it holds)."""
    if where_list(entry) == ["none"]:
        return []
    head = f"{entry['id']} ({entry['paper']} {entry['section']})"
    expected = entry.get("expect", entry["value"])
    transform = entry.get("transform", {})
    try:
        if "formula" in transform:
            names = {name: reader.location(loc, entry) for name, loc in entry["where"].items()}
            got = evaluate_formula(transform["formula"], names)
            if same(got, expected):
                return []
            return [f"{head}: {transform['formula']} = {got!r} from {names}, the paper states {expected!r}"]
        problems = []
        for loc in where_list(entry):
            got = reader.location(loc, entry)
            if loc.startswith("rows:"):
                if not got:
                    problems.append(f"{head}: no row of {loc[5:]} has {entry['match']}")
                continue
            if "replace" in transform:
                text = expected
                for paper_text, ours in transform["replace"].items():
                    text = text.replace(paper_text, ours)
                ok = isinstance(got, str) and squash(got) == squash(text)
            elif transform.get("contains"):
                ok = isinstance(got, (str, list)) and expected in got
            else:
                ok = same(got, expected)
            if not ok:
                problems.append(f"{head}: {loc} holds {got!r}, the ledger expects {expected!r}")
        return problems
    except Exception as e:  # every entry is reported, whatever went wrong with it
        return [f"{head}: {type(e).__name__}: {e}"]


def unstated_keys(entry: dict) -> list[str]:
    return [entry["key"]] if isinstance(entry["key"], str) else list(entry["key"])


def expand(pattern: str, params: dict, sections: list[str]) -> list[str]:
    """The existing keys a pattern names (a ``**`` or ``*`` first segment ranges over ``sections`` only)."""
    pat = pattern.split(".")
    tree = params if pat[0] not in ("*", "**") else {s: params[s] for s in sections if s in params}

    def walk(node: Any, prefix: list[str]) -> list[str]:
        out = [".".join(prefix)] if prefix and segments_match(pat, prefix) else []
        if isinstance(node, dict):
            for name, sub in node.items():
                out += walk(sub, [*prefix, name])
        return out

    return walk(tree, [])


def check_unstated(entry: dict, reader: Reader, sections: list[str]) -> list[str]:
    """An unstated entry names keys that exist (or a library default) and, with a ``value``, holds it."""
    problems = []
    for pattern in unstated_keys(entry):
        parent, _, last = pattern.rpartition(".")
        if parent and not WILDCARD.search(last):
            # Each mapping the parent names, with the key or its library default (a trainer may leave it out).
            found = {}
            for p in expand(parent, reader.params, sections) if WILDCARD.search(parent) else [parent]:
                try:
                    found[f"{p}.{last}"] = reader.param(f"{p}.{last}")
                except LookupError:
                    continue
        else:
            found = {k: reader.param(k) for k in expand(pattern, reader.params, sections)}
        if not found:
            problems.append(f"unstated {pattern}: names no key of {PARAMS_FILE}")
        elif "value" in entry:
            problems += [
                f"unstated {k}: {PARAMS_FILE} holds {v!r}, the ledger says {entry['value']!r}"
                for k, v in found.items()
                if not same(v, entry["value"])
            ]
    return problems


def evaluate(params: dict, spec: dict | None = None) -> tuple[dict[str, list[str]], Reader]:
    """Every stated entry checked against ``params`` and the code: ``({id: problems}, the reader)``."""
    spec = spec or ledger()
    reader = Reader(params, spec)
    return {e["id"]: check_stated(e, reader) for e in spec["stated"]}, reader


def uncovered(params: dict, spec: dict | None = None) -> list[str]:
    """Keys of the ledger's sections that no stated, unstated or plumbing entry covers."""
    spec = spec or ledger()
    _, reader = evaluate(params, spec)
    patterns = sorted(reader.read)
    patterns += [k for e in spec["unstated"] for k in unstated_keys(e)]
    patterns += [p["pattern"] for p in spec["plumbing"]]
    exact = {p for p in patterns if not WILDCARD.search(p)}
    globs = [p for p in patterns if WILDCARD.search(p)]
    keys = [k for s in spec["sections"] for k in leaf_keys(params.get(s, {}), s)]
    return [
        k
        for k in keys
        if not any(".".join(k.split(".")[:i]) in exact for i in range(1, k.count(".") + 2))
        and not any(covers(p, k) for p in globs)
    ]


# --------------------------------------------------------------------------- the ledger's own shape


def test_ledger_is_package_data():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "ledger.yaml" in pyproject["tool"]["setuptools"]["package-data"]["audioreason"]
    assert ledger()["params"] == PARAMS_FILE


def _number_texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if NUMBER_TEXT.match(value.strip()) else []
    if isinstance(value, list):
        return [t for v in value for t in _number_texts(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _number_texts(v)]
    return []


def test_every_entry_names_its_source():
    spec = ledger()
    problems = []
    ids = [e.get("id") for e in spec["stated"]]
    problems += [f"id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for e in spec["stated"]:
        head = e.get("id", e)
        if missing := STATED_KEYS - set(e):
            problems.append(f"{head}: missing {sorted(missing)}")
            continue
        if unknown := set(e) - STATED_KEYS - STATED_OPTIONAL:
            problems.append(f"{head}: unknown fields {sorted(unknown)}")
        if e["paper"] not in spec["papers"] or not str(e["id"]).startswith(f"{e['paper']}."):
            problems.append(f"{head}: paper {e['paper']!r} (ids start with it; papers: {sorted(spec['papers'])})")
        for field in ("name", "section", "quote"):
            if not isinstance(e[field], str) or not e[field].strip():
                problems.append(f"{head}: empty {field}")
        if where_list(e) == ["none"] and not str(e.get("why", "")).strip():
            problems.append(f"{head}: where none needs a why")
        transform = e.get("transform", {})
        if not isinstance(transform, dict) or len(transform) > 1 or set(transform) - TRANSFORMS:
            problems.append(f"{head}: transform must be one of {sorted(TRANSFORMS)}")
        if ("formula" in transform) != isinstance(e["where"], dict):
            problems.append(f"{head}: a formula names its where locations (a mapping), and only a formula does")
        kinds = {loc.partition(":")[0] for loc in where_list(e)}
        if ("call" in kinds) != ("call" in e) or ("rows" in kinds) != ("match" in e):
            problems.append(f"{head}: call: needs `call` (args, kwargs), rows: needs `match`, and only they")
        if e.get("status") is not None and e["status"] not in STATUSES:
            problems.append(f"{head}: status {e['status']!r} (one of {sorted(STATUSES)})")
        if texts := _number_texts([e["value"], e.get("expect")]):
            problems.append(f"{head}: {texts} are strings to YAML (write 1.0e-5, not 1e-5)")
    for e in spec["unstated"]:
        if set(e) - UNSTATED_KEYS - UNSTATED_OPTIONAL or UNSTATED_KEYS - set(e) or not str(e.get("why", "")).strip():
            problems.append(f"unstated {e.get('key')}: fields {sorted(e)} (needs key and why)")
        elif _number_texts(e.get("value")):
            problems.append(f"unstated {e['key']}: value {e['value']!r} is a string to YAML")
    for p in spec["plumbing"]:
        if set(p) != PLUMBING_KEYS or not str(p["why"]).strip():
            problems.append(f"plumbing {p}: needs pattern and why")
    assert problems == []
    assert {e["paper"] for e in spec["stated"]} == set(spec["papers"])


def test_quotes_are_the_papers_words():
    spec = ledger()
    texts = {}
    for key, paper in spec["papers"].items():
        path = PAPERS_DIR / paper["file"]
        if not path.is_file():
            pytest.skip(f"paper texts not found at {PAPERS_DIR}")
        texts[key] = plain(path.read_text(encoding="utf-8"))
    absent = [f"{e['id']}: {e['quote']!r}" for e in spec["stated"] if plain(e["quote"]) not in texts[e["paper"]]]
    assert absent == [], "quotes not found in the paper's text"


def test_library_default_chains_follow_the_class_bases():
    """Each chain is a class and its bases in order, so a default is the one the built config would get."""
    problems = []
    for pattern, chain in ledger()["library_defaults"].items():
        for sub, base in zip(chain, chain[1:]):
            name = base.rpartition(":")[2]
            if name not in class_fields(sub)[1]:
                problems.append(f"{pattern}: {sub} does not derive from {name}")
    assert problems == []
    chain = ledger()["library_defaults"]["grpo.recipes.*.trainer"]
    # Read from the source: TRL's GRPO loss default (why the recipes set it) and a TrainingArguments default.
    assert library_default(chain, "loss_type") == "dapo"
    assert library_default(chain, "gradient_accumulation_steps") == 1


# --------------------------------------------------------------------------- params.paper.yaml against the ledger


def _report(problems: dict[str, list[str]], ids: set[str]) -> list[str]:
    return [p for i in sorted(ids) for p in problems[i]]


def contradictions(problems: dict[str, list[str]], spec: dict) -> str:
    """One message for every ``status: mismatch`` entry: those params still contradicts, those now fixed."""
    marked = {e["id"] for e in spec["stated"] if e.get("status") == "mismatch"}
    still = _report(problems, marked)
    fixed = sorted(i for i in marked if not problems[i])
    message = f"{PARAMS_FILE} contradicts the paper:\n  " + "\n  ".join(still) if still else ""
    if fixed:
        message += f"\nnow held, remove `status: mismatch` from: {fixed}"
    return message.strip()


def test_no_params_value_contradicts_a_paper():
    """Entries marked ``status: mismatch``: params.paper.yaml holds another value than the paper states."""
    problems, _ = evaluate(paper_params())
    assert contradictions(problems, ledger()) == ""


def test_stated_values_hold():
    """Every other stated value: params.paper.yaml, the code and the DeepSpeed configs hold what the paper states."""
    spec = ledger()
    problems, _ = evaluate(paper_params(), spec)
    unmarked = {e["id"] for e in spec["stated"] if e.get("status") != "mismatch"}
    failed = _report(problems, unmarked)
    assert failed == [], "differs from the ledger:\n  " + "\n  ".join(failed)


def test_unstated_values_are_the_ones_params_holds():
    spec = ledger()
    reader = Reader(paper_params(), spec)
    problems = [p for e in spec["unstated"] for p in check_unstated(e, reader, spec["sections"])]
    assert problems == [], "\n".join(problems)


def test_every_params_key_is_in_the_ledger():
    missing = uncovered(paper_params())
    assert missing == [], f"keys of {PARAMS_FILE} in no stated, unstated or plumbing entry of ledger.yaml: {missing}"


# --------------------------------------------------------------------------- the checks catch drift


def test_a_changed_value_and_a_new_key_are_reported():
    params = copy.deepcopy(paper_params())
    params["distill"]["trainer"]["learning_rate"] = 2.0e-5
    params["grpo"]["recipes"]["p03"]["trainer"]["gradient_accumulation_steps"] = 2  # paper's 2, on 8 GPUs: 16
    params["distill"]["new_knob"] = 1
    row = {"paper": "p03", "table": "table1", "init": "Qwen/Qwen2.5-Omni-7B", "data": "avqa_gpt"}
    params["grpo"]["rows"]["grpo_new"] = {**row, "with_audio": False, "train": True, "trainer": {}}
    problems, _ = evaluate(params)
    failed = {i for i, p in problems.items() if p}
    assert {"p01.learning_rate", "p03.prompts_per_step"} <= failed
    missing = uncovered(params)
    assert "distill.new_knob" in missing
    # A row no entry matches is not covered by the entries that match its neighbours.
    assert "grpo.rows.grpo_new.with_audio" in missing and "grpo.rows.grpo_avqa_gpt.with_audio" not in missing


def test_a_marked_contradiction_is_listed_until_fixed_and_unmarked():
    spec = copy.deepcopy(ledger())
    entry = next(e for e in spec["stated"] if e["id"] == "p01.learning_rate")
    entry["status"] = "mismatch"
    params = copy.deepcopy(paper_params())
    params["distill"]["trainer"]["learning_rate"] = 2.0e-5
    message = contradictions(evaluate(params, spec)[0], spec)
    assert message.startswith(f"{PARAMS_FILE} contradicts the paper:") and "p01.learning_rate" in message
    message = contradictions(evaluate(paper_params(), spec)[0], spec)
    assert message == "now held, remove `status: mismatch` from: ['p01.learning_rate']"


def test_a_key_left_to_the_library_reads_its_default():
    params = copy.deepcopy(paper_params())
    params["grpo"]["recipes"]["p02"]["trainer"].pop("loss_type", None)
    problems, _ = evaluate(params)
    assert any("'dapo'" in p for p in problems["p02.loss_type"])


def test_a_grpo_row_inherits_its_recipe_trainer():
    reader = Reader(paper_params())
    row = {"paper": "p03", "trainer": {}}
    assert (
        reader.row_field("grpo.rows", row, "trainer.max_steps")
        == paper_params()["grpo"]["recipes"]["p03"]["trainer"]["max_steps"]
    )
    assert reader.row_field("grpo.rows", {"paper": "p03", "trainer": {"max_steps": 7}}, "trainer.max_steps") == 7


def test_formula_runs_arithmetic_only():
    with pytest.raises(ValueError, match="not arithmetic"):
        evaluate_formula("__import__('os')", {})
    with pytest.raises(ValueError, match="process count"):
        nproc("deepspeed train.py")
