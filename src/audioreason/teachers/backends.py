"""Build a backend from its params entry (``teachers.<name>`` in ``params.yaml``).

Each backend module holds an options dataclass (validated like every params section:
unknown, missing or mistyped keys raise :class:`~audioreason.config.ConfigError` naming
``teachers.<name>.options.<key>``) and the backend class. Modules are imported only when
their backend is built, so ``vllm`` is never imported on a CPU machine.

The config package does not know the backends, so a ``teachers`` section is checked here:
:func:`check_teachers` builds every teacher's options (``load_teacher`` calls it before a
stage does any work; ``audioreason params`` calls it on the file it writes).
"""

from __future__ import annotations

import importlib
from typing import Mapping

from audioreason.config import ConfigError, TeacherSpec, build_section, load_params

#: backend name -> (module, options class, backend class)
BACKENDS = {
    "vllm": ("audioreason.teachers.vllm_backend", "VllmOptions", "VllmBackend"),
    "transformers": ("audioreason.teachers.hf_backend", "HfOptions", "HfBackend"),
    "openai": ("audioreason.teachers.http_backend", "HttpOptions", "OpenAIBackend"),
    "oracle": ("audioreason.teachers.oracle", "OracleOptions", "OracleBackend"),
}


def backend_parts(backend: str):
    if backend not in BACKENDS:
        raise ConfigError(f"unknown teacher backend {backend!r} (known: {', '.join(BACKENDS)})")
    module, options_cls, backend_cls = BACKENDS[backend]
    mod = importlib.import_module(module)
    return getattr(mod, options_cls), getattr(mod, backend_cls)


def load_teacher(params_path, name: str) -> TeacherSpec:
    """``teachers.<name>`` of the params file, alone (a stage reads only its own teacher's entry).

    The whole ``teachers`` section is checked, every backend's options included
    (:func:`check_teachers`): a broken entry stops any generation stage before it starts.

    Raises:
        ConfigError: the file has no such teacher (naming the ones it has), or a teacher's
            entry or options are invalid.
    """
    teachers = load_params(params_path, sections=["teachers"])["teachers"]
    check_teachers(teachers)
    if name not in teachers:
        raise ConfigError(f"{params_path}: no teacher named {name!r} (have: {', '.join(teachers)})")
    return teachers[name]


def check_teachers(teachers: Mapping[str, TeacherSpec], where: str = "teachers") -> None:
    """Build every teacher's backend options; the first error names ``<where>.<name>: options.<key>``."""
    for name, spec in teachers.items():
        try:
            build_options(spec, "")
        except ConfigError as e:
            raise ConfigError(f"{where}.{name}: {e}") from e


def build_options(spec: TeacherSpec, where: str):
    """The backend's typed options; errors name ``<where>.options.<key>``."""
    options_cls, _ = backend_parts(spec.backend)
    return build_section(options_cls, spec.options, f"{where}.options" if where else "options")


def build_backend(spec: TeacherSpec, where: str = "teacher"):
    """A ready backend for ``spec`` (``where`` names the params entry in errors)."""
    _, backend_cls = backend_parts(spec.backend)
    return backend_cls(spec.model, build_options(spec, where))


def load_backend(params_path, name: str):
    """The ready backend of ``teachers.<name>`` and its spec, as a generation stage needs them.

    Returns:
        ``(backend, spec)``: the spec is logged with the stage's params and gives its ``batch_size``.

    Raises:
        ConfigError: the file has no such teacher, or its entry is invalid (naming ``teachers.<name>...``).
    """
    spec = load_teacher(params_path, name)
    return build_backend(spec, f"teachers.{name}"), spec
