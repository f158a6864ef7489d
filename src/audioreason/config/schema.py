"""The section builder: a mapping of params -> a typed, validated, frozen dataclass.

:func:`build_section` checks every key against the dataclass fields (unknown and missing
keys are errors) and every value against the field's type (:func:`_check_value`), then
runs the dataclass's ``__post_init__`` checks; every error is a :class:`ConfigError`
naming ``section.key``. Supported field types: ``str``, ``int``, ``float`` (an int is
accepted and converted), ``bool``, ``typing.Literal[...]`` of strings (one of a fixed
set of names), ``list[T]``, ``dict[str, T]``, ``T | None``, ``Any`` and nested dataclasses.

Nothing here, nor anywhere in :mod:`audioreason.config`, imports the rest of the package:
names that another package defines (dataset formats, reward functions, ...) are spelled
out as ``Literal`` types and a unit test keeps them equal to that package's table.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Mapping

import yaml


class ConfigError(ValueError):
    """A params file that does not match the typed config; the message names section and key."""


def _positive(obj, *names):
    for n in names:
        if getattr(obj, n) <= 0:
            raise ConfigError(f"{type(obj).__name__}.{n} must be positive, got {getattr(obj, n)!r}")


def _fraction(obj, *names):
    for n in names:
        if not 0.0 <= getattr(obj, n) <= 1.0:
            raise ConfigError(f"{type(obj).__name__}.{n} must be in [0, 1], got {getattr(obj, n)!r}")


def _check_literal(value: Any, names: tuple, where: str) -> Any:
    # Compare type too: True == 1 must not pass for a literal 1 (and no literal here is a bool).
    if any(type(value) is type(n) and value == n for n in names):
        return value
    key = where.rsplit(".", 1)[-1]
    noun = "name" if key.endswith("]") else key  # a list item has no key of its own
    raise ConfigError(f"{where}: unknown {noun} {value!r} (allowed: {', '.join(map(str, names))})")


def _check_value(value: Any, tp: Any, where: str) -> Any:
    """``value`` checked against type ``tp`` (and converted: int -> float); errors name ``where``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is typing.Literal:
        return _check_literal(value, typing.get_args(tp), where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check_value(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: unexpected value {value!r}")
    if dataclasses.is_dataclass(tp):
        return build_section(tp, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        (item_tp,) = typing.get_args(tp)
        return [_check_value(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
        _, value_tp = typing.get_args(tp)
        return {k: _check_value(v, value_tp, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp} at {where}")


def build_section(cls: type, data: Any, where: str):
    """Build dataclass ``cls`` from mapping ``data``; errors name ``where.key``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(names)})")
    missing = [n for n in names if n not in data]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")
    kwargs = {n: _check_value(data[n], hints[n], f"{where}.{n}") for n in names}
    try:
        return cls(**kwargs)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from e


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The YAML mapping in ``path``.

    Raises:
        ConfigError: naming the file, when it is not YAML or not a mapping of ``what``.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping of {what}")
    return dict(raw)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a config (dataclass or mapping) to ``{"a.b.c": value}`` for MLflow params."""
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    out: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix] = obj
    return out
