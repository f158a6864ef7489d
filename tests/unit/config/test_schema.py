"""The section builder (:mod:`audioreason.config.schema`) and :func:`~audioreason.config.load_params`:
every error names the file, ``section.key`` and the bad value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
import yaml

from audioreason.config import (
    ConfigError,
    ModelsConfig,
    ValidateConfig,
    WorldConfig,
    build_section,
    flatten,
    load_params,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


def _raw(name: str = "params.yaml") -> dict:
    return yaml.safe_load((REPO_ROOT / name).read_text())


def _write(tmp_path: Path, raw: dict, name: str = "params.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _error(tmp_path: Path, raw: dict, **kwargs) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_params(_write(tmp_path, raw), **kwargs)
    return str(excinfo.value)


# --------------------------------------------------------------------------- errors


def test_unknown_key_names_section_and_key(tmp_path):
    raw = _raw()
    raw["validate"]["foo"] = 1
    msg = _error(tmp_path, raw)
    assert "validate" in msg and "foo" in msg
    assert "unknown" in msg


def test_missing_key_names_section_and_key(tmp_path):
    raw = _raw()
    del raw["world"]["seed"]
    msg = _error(tmp_path, raw)
    assert "world" in msg and "seed" in msg
    assert "missing" in msg


def test_wrong_type_names_dotted_key(tmp_path):
    raw = _raw()
    raw["world"]["n_train"] = "ten"
    msg = _error(tmp_path, raw)
    assert "world.n_train" in msg
    assert "'ten'" in msg


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("world", "seed", True),  # a bool is not an int
        ("world", "clip_seconds", "2.0"),  # a string is not a number
        ("ingest", "audio_variant", "yes"),
        ("evaluate", "batch_size", 1.5),
    ],
)
def test_wrong_scalar_types(tmp_path, section, key, value):
    raw = _raw()
    raw[section][key] = value
    assert f"{section}.{key}" in _error(tmp_path, raw)


def test_wrong_list_item_type_names_index(tmp_path):
    raw = _raw()
    raw["validate"]["defaults"]["sample_rates"] = [16000, "32k"]
    assert "validate.defaults.sample_rates[1]" in _error(tmp_path, raw)


def test_unknown_section(tmp_path):
    raw = _raw()
    raw["grpo"] = {"beta": 0.04}
    msg = _error(tmp_path, raw)
    assert "grpo" in msg and "unknown" in msg


def test_missing_section(tmp_path):
    raw = _raw()
    del raw["tracking"]
    msg = _error(tmp_path, raw)
    assert "tracking" in msg and "missing" in msg


def test_nested_unknown_key(tmp_path):
    raw = _raw()
    raw["models"]["tokenizer"]["bogus"] = 3
    msg = _error(tmp_path, raw)
    assert "models.tokenizer" in msg and "bogus" in msg


def test_nested_section_not_a_mapping(tmp_path):
    raw = _raw()
    raw["sft_cot"]["lora"] = 8
    assert "sft_cot.lora" in _error(tmp_path, raw)


def test_unknown_model_in_build_rejected(tmp_path):
    raw = _raw()
    raw["models"]["build"] = ["gpt2"]
    msg = _error(tmp_path, raw)
    assert "models.build" in msg and "gpt2" in msg


def test_non_positive_world_size_rejected(tmp_path):
    raw = _raw()
    raw["world"]["n_train"] = 0
    msg = _error(tmp_path, raw)
    assert "world" in msg and "n_train" in msg and "positive" in msg


def test_validate_duration_order_rejected(tmp_path):
    raw = _raw()
    raw["validate"]["defaults"]["min_duration_s"] = 70.0
    msg = _error(tmp_path, raw)
    assert "validate.defaults: min_duration_s must be below max_duration_s" in msg


def test_not_yaml_and_not_a_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("world: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping of sections"):
        load_params(listy)


def test_error_message_names_the_file(tmp_path):
    raw = _raw()
    raw["validate"]["foo"] = 1
    path = _write(tmp_path, raw)
    with pytest.raises(ConfigError) as excinfo:
        load_params(path)
    assert str(path) in str(excinfo.value)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


# --------------------------------------------------------------------------- partial loading


def test_sections_partial_loading(tmp_path):
    out = load_params(REPO_ROOT / "params.yaml", sections=["world", "models"])
    assert set(out) == {"world", "models"}
    assert isinstance(out["world"], WorldConfig)
    assert isinstance(out["models"], ModelsConfig)
    assert out["world"].n_test_mini == 180


def test_sections_ignores_broken_other_sections(tmp_path):
    raw = _raw()
    raw["validate"]["foo"] = 1  # broken, but not asked for
    out = load_params(_write(tmp_path, raw), sections=["world"])
    assert isinstance(out["world"], WorldConfig)
    # ...and still validates the section that is asked for.
    msg = _error(tmp_path, raw, sections=["validate"])
    assert "validate" in msg and "foo" in msg


def test_sections_unknown_and_missing(tmp_path):
    with pytest.raises(ConfigError, match="no such section 'sft'"):
        load_params(REPO_ROOT / "params.yaml", sections=["sft"])
    raw = _raw()
    del raw["evaluate"]
    with pytest.raises(ConfigError, match="missing section 'evaluate'"):
        load_params(_write(tmp_path, raw), sections=["evaluate"])


def test_sections_validate_returns_dataclass():
    out = load_params(REPO_ROOT / "params.paper.yaml", sections=["validate"])
    assert isinstance(out["validate"], ValidateConfig)
    assert out["validate"].defaults.silence_dbfs == -60.0
    assert out["validate"].settings("maestro").max_duration_s == 600.0


def test_flatten_mapping_with_prefix():
    assert flatten({"a": {"b": 1, "c": {"d": "x"}}, "e": [1, 2]}, "p") == {"p.a.b": 1, "p.a.c.d": "x", "p.e": [1, 2]}


def test_ingest_dataset_entries_are_typed(tmp_path):
    raw = _raw()
    raw["ingest"]["datasets"]["vctk"]["fmt"] = "vctk"
    assert "ingest.datasets.vctk: unknown key(s) fmt" in _error(tmp_path, raw)
    raw = _raw()
    raw["ingest"]["datasets"]["vctk"]["format"] = "wav"
    assert "ingest.datasets.vctk.format: unknown format 'wav'" in _error(tmp_path, raw)
    raw = _raw()
    raw["ingest"]["datasets"]["vctk"]["path"] = 3
    assert "ingest.datasets.vctk.path: expected a string" in _error(tmp_path, raw)


# --------------------------------------------------------------------------- Literal fields


@dataclass(frozen=True)
class _Named:
    kind: Literal["alpha", "beta"]
    kinds: list[Literal["alpha", "beta"]]
    maybe: Literal["alpha", "beta"] | None


def test_literal_field_accepts_its_names():
    got = build_section(_Named, {"kind": "beta", "kinds": ["alpha", "beta"], "maybe": None}, "s")
    assert (got.kind, got.kinds, got.maybe) == ("beta", ["alpha", "beta"], None)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "gamma", "kinds": [], "maybe": None}, "s.kind: unknown kind 'gamma' (allowed: alpha, beta)"),
        (
            {"kind": "alpha", "kinds": ["alpha", "Beta"], "maybe": None},
            "s.kinds[1]: unknown name 'Beta' (allowed: alpha, beta)",
        ),
        ({"kind": "alpha", "kinds": [], "maybe": "gamma"}, "s.maybe: unknown maybe 'gamma' (allowed: alpha, beta)"),
        ({"kind": 1, "kinds": [], "maybe": None}, "s.kind: unknown kind 1 (allowed: alpha, beta)"),
    ],
)
def test_literal_field_rejects_other_values_naming_key_value_and_names(data, message):
    with pytest.raises(ConfigError) as excinfo:
        build_section(_Named, data, "s")
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    "section, path, value, message",
    [
        (
            "teachers",
            ["textualizer", "backend"],
            "gemini",
            "teachers.textualizer.backend: unknown backend 'gemini' (allowed: vllm, transformers, openai, oracle)",
        ),
        (
            "grpo",
            ["recipes", "p02", "rewards"],
            ["sightsound_accuracy", "accuracy"],
            "grpo.recipes.p02.rewards[1]: unknown name 'accuracy' (allowed: omni_r1_accuracy, ",
        ),
        ("distill", ["divergence"], "kl", "distill.divergence: unknown divergence 'kl' (allowed: forward_kl, "),
        ("distill", ["hidden_kd"], "l2", "distill.hidden_kd: unknown hidden_kd 'l2' (allowed: softmax, mse, cosine)"),
        ("distill", ["rows", "skip_kd", "layers"], "some", "distill.rows.skip_kd.layers: unknown layers 'some'"),
        ("ingest", ["on_error"], "skip", "ingest.on_error: unknown on_error 'skip' (allowed: raise, quarantine)"),
        ("tracking", ["scale"], "huge", "tracking.scale: unknown scale 'huge' (allowed: tiny, paper)"),
        ("sft_cot", ["rows", "direct", "data"], "labels", "sft_cot.rows.direct.data: unknown data 'labels'"),
        ("sseu_bench", ["rows"], ["joint", "cot"], "sseu_bench.rows[1]: unknown name 'cot'"),
        ("ser_finetune", ["prompt_variants"], ["shuffle"], "ser_finetune.prompt_variants[0]: unknown name 'shuffle'"),
        ("sseu_bench", ["embedding", "backend"], "bert", "sseu_bench.embedding.backend: unknown backend 'bert'"),
    ],
)
def test_params_names_are_checked_when_loaded(tmp_path, section, path, value, message):
    raw = _raw()
    node = raw[section]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert message in _error(tmp_path, raw, sections=[section])
    assert message in _error(tmp_path, raw)  # the whole file: the same error, under params.<section>
