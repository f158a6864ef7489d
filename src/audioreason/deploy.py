"""What the containers and cluster manifests (``docker/``, ``k8s/``) run, as package code.

Two jobs, both pure and both checked before anything reaches a GPU node:

* :func:`write_params` turns a scale's params file (``params.paper.yaml``) plus ``key=value``
  overrides into the ``params.yaml`` that ``dvc repro`` reads. Every key must already exist
  (a typo is an error, never a new key that nothing reads), values are YAML, and the result
  is validated as a whole (:func:`validate_params`: :func:`audioreason.config.load_params`,
  every teacher's backend options and the ``validate`` policy) before it is written.
* :func:`vllm_serve_argv` turns ``teachers.<name>`` (a ``vllm`` teacher) into the ``vllm serve``
  command line of the cluster's teacher server, so the Deployment's tensor-parallel size,
  context length and media limits are the ones the offline engine would use.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from audioreason.config import ConfigError, load_params, read_yaml_mapping


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b.c=value"`` -> ``(["a", "b", "c"], value)``, the value parsed as YAML.

    >>> parse_override("distill.launch=torchrun --nproc_per_node=8")
    (['distill', 'launch'], 'torchrun --nproc_per_node=8')
    >>> parse_override("teachers.textualizer.options={concurrency: 16}")
    (['teachers', 'textualizer', 'options'], {'concurrency': 16})
    """
    key, sep, raw = text.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r}: expected section.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"override {text!r}: the value is not YAML: {e}") from e
    return key.split("."), value


def read_overrides_file(path: str | Path) -> list[str]:
    """A YAML mapping of ``section.key: value`` as ``key=value`` overrides (in file order).

    The cluster's changes to a scale's params live in one such file (``params.cluster.yaml``)
    so that every pod writes the same ``params.yaml`` and DVC sees one pipeline, not one per Job.
    """
    data = read_yaml_mapping(path, "section.key: value")
    return [f"{key}={json.dumps(value)}" for key, value in data.items()]


def apply_overrides(params: Mapping[str, Any], overrides: Sequence[str], *, source: str = "params") -> dict[str, Any]:
    """A copy of ``params`` with each ``key=value`` set; every key must exist in ``params``.

    Raises:
        ConfigError: a key that ``params`` does not have (naming the part that is missing and
            what exists there), or a path through a value that is not a mapping.
    """
    out = copy.deepcopy(dict(params))
    for text in overrides:
        path, value = parse_override(text)
        node: Any = out
        for depth, part in enumerate(path):
            where = ".".join(path[:depth]) or source
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {where} is a {type(node).__name__}, not a mapping")
            if part not in node:
                raise ConfigError(
                    f"override {text!r}: {source} has no key {'.'.join(path[: depth + 1])!r} "
                    f"(keys of {where}: {', '.join(map(str, node)) or 'none'})"
                )
            if depth == len(path) - 1:
                node[part] = value
            else:
                node = node[part]
    return out


def validate_params(path: str | Path) -> None:
    """Raise :class:`ConfigError` unless ``path`` builds as a whole, teachers' backend options and
    the ``validate`` policy included (the checks the config package leaves to their packages)."""
    from audioreason.quality.checks import Policy
    from audioreason.teachers.backends import check_teachers

    params = load_params(path)
    check_teachers(params.teachers, f"{path}: params.teachers")
    try:
        Policy(params.validate.policy)
    except ConfigError as e:
        raise ConfigError(f"{path}: params.validate: {e}") from e


def write_params(
    base: str | Path, out: str | Path, overrides: Sequence[str] = (), overrides_files: Sequence[str | Path] = ()
) -> dict[str, Any]:
    """Write ``base`` with the overrides of ``overrides_files``, then ``overrides``, applied to ``out``.

    The result is validated first; ``out`` is replaced atomically and only when the result is
    valid, so a bad override leaves the previous params file untouched.

    Returns:
        The written params as a plain mapping.
    """
    base, out = Path(base), Path(out)
    sets = list(overrides)
    overrides = [o for f in overrides_files for o in read_overrides_file(f)] + sets
    raw = read_yaml_mapping(base, "sections")
    result = apply_overrides(raw, overrides, source=str(base))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".yaml", dir=out.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(
                f"# Written by `audioreason params` from {base}"
                + "".join(f" + {f}" for f in overrides_files)
                + (" with --set " + "; ".join(sets) if sets else "")
                + "\n"
            )
            yaml.safe_dump(result, f, sort_keys=False, allow_unicode=True, width=120)
        try:
            validate_params(tmp)
        except ConfigError as e:
            raise ConfigError(str(e).replace(tmp, f"{out} (from {base})")) from None
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return result


def vllm_serve_argv(
    name: str, params_path: str | Path = "params.yaml", *, host: str = "0.0.0.0", port: int = 8000
) -> list[str]:
    """The ``vllm serve`` command line that serves ``teachers.<name>`` over the OpenAI API.

    The engine arguments are those of the offline engine of the same teacher
    (:func:`audioreason.teachers.vllm_backend.engine_kwargs`), written as vLLM's command-line
    flags (``tensor_parallel_size`` -> ``--tensor-parallel-size``, mappings as JSON); the served
    model name is the teacher's ``model``, which is what an ``openai``-backend stage sends.

    Raises:
        ConfigError: no such teacher, or its backend is not ``vllm``.
    """
    from audioreason.teachers.backends import build_options, load_teacher
    from audioreason.teachers.vllm_backend import engine_kwargs

    spec = load_teacher(params_path, name)
    if spec.backend != "vllm":
        raise ConfigError(
            f"{params_path}: teachers.{name} has backend {spec.backend!r}; only a vllm teacher "
            "can be served (set its backend to vllm and its options to VllmOptions)"
        )
    engine = engine_kwargs(spec.model, build_options(spec, f"teachers.{name}"))
    model = engine.pop("model")
    argv = ["vllm", "serve", model, "--host", host, "--port", str(port), "--served-model-name", model]
    for key, value in engine.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            argv += [flag] if value else []
        else:
            argv += [flag, json.dumps(value) if isinstance(value, dict) else str(value)]
    return argv
