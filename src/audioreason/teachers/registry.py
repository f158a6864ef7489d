"""Build a backend from its params entry (``teachers.<name>`` in ``params.yaml``).

Each backend module holds an options dataclass (validated like every params section:
unknown, missing or mistyped keys raise :class:`~audioreason.config.ConfigError` naming
``teachers.<name>.options.<key>``) and the backend class. Modules are imported only when
their backend is built, so ``vllm`` is never imported on a CPU machine.
"""

from __future__ import annotations

import importlib

from audioreason.config import ConfigError, TeacherSpec, build_section

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

    Raises:
        ConfigError: the file has no such teacher (naming the ones it has).
    """
    from audioreason.config import load_params

    teachers = load_params(params_path, sections=["teachers"])["teachers"]
    if name not in teachers:
        raise ConfigError(f"{params_path}: no teacher named {name!r} (have: {', '.join(teachers)})")
    return teachers[name]


def build_options(spec: TeacherSpec, where: str):
    """The backend's typed options; errors name ``<where>.options.<key>``."""
    options_cls, _ = backend_parts(spec.backend)
    return build_section(options_cls, spec.options, f"{where}.options" if where else "options")


def build_backend(spec: TeacherSpec, where: str = "teacher"):
    """A ready backend for ``spec`` (``where`` names the params entry in errors)."""
    _, backend_cls = backend_parts(spec.backend)
    return backend_cls(spec.model, build_options(spec, where))
