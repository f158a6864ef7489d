"""Names the config spells out as ``Literal`` types stay equal to the tables of the packages that
define them, and the checks the config leaves to those packages still run before any work."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import yaml

from audioreason.config import (
    Concept,
    ConfigError,
    DatasetFormat,
    Divergence,
    HiddenKd,
    ModelName,
    Reward,
    SerFinetuneConfig,
    SseuRow,
    TeacherBackend,
    VllmDtype,
    load_params,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


def _registry(module: str, name: str):
    import importlib

    return tuple(getattr(importlib.import_module(module), name))


@pytest.mark.parametrize(
    "literal, module, name",
    [
        (DatasetFormat, "audioreason.datasets.formats", "FORMATS"),
        (TeacherBackend, "audioreason.teachers.backends", "BACKENDS"),
        (Reward, "audioreason.training.rewards", "REWARDS"),
        (Divergence, "audioreason.losses.divergences", "KINDS"),
        (HiddenKd, "audioreason.losses.divergences", "HIDDEN_KINDS"),
        (Concept, "audioreason.features.concept_tokens", "CONCEPTS"),
        (ModelName, "audioreason.models.factory", "BUILDERS"),
        (SseuRow, "audioreason.stages.sseu_bench", "ROWS"),
        (VllmDtype, "audioreason.teachers.vllm_backend", "DTYPES"),
    ],
)
def test_literal_names_equal_the_registry(literal, module, name):
    # Same names in the same order: error messages list the allowed names in the registry's order.
    assert typing.get_args(literal) == _registry(module, name), f"{module}.{name}"


def test_ser_finetune_prompt_variants_are_prompt_conditions():
    (variant,) = typing.get_args(typing.get_type_hints(SerFinetuneConfig)["prompt_variants"])
    assert set(typing.get_args(variant)) <= set(_registry("audioreason.features.ser_prompts", "CONDITIONS"))


# --------------------------------------------------------------------------- checks made by other packages


def _params_with(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    change(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _bad_option(raw):
    raw["teachers"]["checker"]["options"]["error_rate"] = "high"


def _bad_policy(raw):
    raw["validate"]["policy"]["audio.silence"] = "quarantine"


def test_teacher_options_are_checked_by_the_teachers_package(tmp_path):
    from audioreason.teachers.backends import build_backend, check_teachers, load_teacher

    path = _params_with(tmp_path, _bad_option)
    teachers = load_params(path, sections=["teachers"])["teachers"]  # the config does not know the backends
    message = "teachers.checker: options.error_rate: expected a number, got 'high'"
    with pytest.raises(ConfigError, match=message):
        check_teachers(teachers)
    # A stage that loads any teacher of this file stops before it builds a backend.
    with pytest.raises(ConfigError, match=message):
        load_teacher(path, "textualizer")
    with pytest.raises(ConfigError, match="teachers.checker.options.error_rate: expected a number"):
        build_backend(teachers["checker"], "teachers.checker")


def test_validate_policy_is_checked_by_the_quality_package(tmp_path):
    from audioreason.quality.checks import Policy

    path = _params_with(tmp_path, _bad_policy)
    cfg = load_params(path, sections=["validate"])["validate"]
    with pytest.raises(ConfigError, match=r"policy: unknown check 'audio.silence' \(known: default, "):
        Policy(cfg.policy)


@pytest.mark.parametrize(
    "change, message",
    [
        (_bad_option, r": params.teachers.checker: options.error_rate: expected a number, got 'high'"),
        (_bad_policy, r": params.validate: policy: unknown check 'audio.silence'"),
    ],
)
def test_audioreason_params_checks_the_whole_file_before_writing(tmp_path, change, message):
    from audioreason.deploy import write_params

    base = _params_with(tmp_path, change)
    out = tmp_path / "out" / "params.yaml"
    with pytest.raises(ConfigError, match=message):
        write_params(base, out)
    assert not out.exists()
