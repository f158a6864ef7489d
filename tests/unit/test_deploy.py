"""``audioreason params`` and ``audioreason serve-teacher``: what the cluster's pods run first."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from audioreason.cli import app
from audioreason.config import ConfigError
from audioreason.deploy import apply_overrides, parse_override, read_overrides_file, vllm_serve_argv, write_params


def test_overrides_set_existing_keys_with_yaml_values():
    base = {"distill": {"launch": "python", "trainer": {"bf16": False}}, "teachers": {"t": {"options": {"a": 1}}}}
    out = apply_overrides(
        base,
        [
            "distill.launch=torchrun --nproc_per_node=8",
            "distill.trainer.bf16=true",
            "teachers.t.options={b: 2.5, c: x}",
        ],
    )
    assert out == {
        "distill": {"launch": "torchrun --nproc_per_node=8", "trainer": {"bf16": True}},
        "teachers": {"t": {"options": {"b": 2.5, "c": "x"}}},
    }
    assert base["distill"]["launch"] == "python"  # the input is not modified


@pytest.mark.parametrize(
    "override, message",
    [
        ("distill.lunch=x", "has no key 'distill.lunch' (keys of distill: launch, trainer)"),
        ("distil.launch=x", "has no key 'distil'"),
        ("distill.launch.extra=x", "distill.launch is a str, not a mapping"),
        ("distill.launch", "expected section.key=value"),
        ("distill..launch=x", "expected section.key=value"),
        ("distill.launch=[unclosed", "the value is not YAML"),
    ],
)
def test_bad_overrides_are_errors_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_overrides({"distill": {"launch": "python", "trainer": {}}}, [override])


def test_parse_override_keeps_equals_signs_in_the_value():
    assert parse_override("grpo.launch=torchrun --nproc_per_node=8 --master_port=29500") == (
        ["grpo", "launch"],
        "torchrun --nproc_per_node=8 --master_port=29500",
    )


def test_write_params_validates_the_whole_result_and_keeps_the_old_file(repo_root, tmp_path):
    out = tmp_path / "params.yaml"
    out.write_text("previous: true\n")
    with pytest.raises(ConfigError, match=r"params.grpo.rows.grpo_avqa.train: expected true/false, got 'maybe'"):
        write_params(repo_root / "params.paper.yaml", out, ["grpo.rows.grpo_avqa.train=maybe"])
    with pytest.raises(ConfigError, match=r"teachers.textualizer: options: unknown key\(s\) allowed_local_media_path"):
        write_params(repo_root / "params.paper.yaml", out, ["teachers.textualizer.backend=openai"])
    assert out.read_text() == "previous: true\n"
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind
    written = write_params(repo_root / "params.paper.yaml", out, ["distill.launch=torchrun --nproc_per_node=4"])
    assert written["distill"]["launch"] == "torchrun --nproc_per_node=4"
    assert yaml.safe_load(out.read_text()) == written
    assert out.read_text().startswith("# Written by `audioreason params` from ")


def test_vllm_serve_argv_carries_the_teachers_engine_settings(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    argv = vllm_serve_argv("vision_teacher", "params.paper.yaml", port=8001)
    assert argv == [
        "vllm",
        "serve",
        "Qwen/Qwen2.5-VL-32B-Instruct",
        "--host",
        "0.0.0.0",
        "--port",
        "8001",
        "--served-model-name",
        "Qwen/Qwen2.5-VL-32B-Instruct",
        "--tensor-parallel-size",
        "4",
        "--gpu-memory-utilization",
        "0.9",
        "--max-model-len",
        "16384",
        "--dtype",
        "bfloat16",
        "--limit-mm-per-prompt",
        json.dumps({"audio": 0, "video": 1}),
        "--allowed-local-media-path",
        str((repo_root / "data" / "avqa").resolve()),
    ]
    textualizer = vllm_serve_argv("textualizer", "params.paper.yaml")
    assert textualizer[textualizer.index("--tensor-parallel-size") + 1] == "1"
    assert "--allowed-local-media-path" not in textualizer
    with pytest.raises(ConfigError, match="backend 'openai'; only a vllm teacher can be served"):
        vllm_serve_argv("question_writer", "params.paper.yaml")
    with pytest.raises(ConfigError, match="no teacher named 'nobody'"):
        vllm_serve_argv("nobody", "params.paper.yaml")


def test_cli_params_and_serve_teacher(repo_root, tmp_path, monkeypatch):
    monkeypatch.chdir(repo_root)
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "params",
            "--from",
            "params.paper.yaml",
            "--out",
            str(tmp_path / "p.yaml"),
            "--set",
            "grpo.launch=torchrun --nproc_per_node=8",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert yaml.safe_load((tmp_path / "p.yaml").read_text())["grpo"]["launch"] == "torchrun --nproc_per_node=8"
    bad = runner.invoke(
        app, ["params", "--from", "params.paper.yaml", "--out", str(tmp_path / "q.yaml"), "--set", "grpo.lanch=x"]
    )
    assert bad.exit_code == 1 and "has no key 'grpo.lanch'" in bad.output
    assert not (tmp_path / "q.yaml").exists()
    dry = runner.invoke(app, ["serve-teacher", "textualizer", "--params", str(tmp_path / "p.yaml"), "--dry-run"])
    assert dry.exit_code == 0 and dry.output.startswith("vllm serve Qwen/Qwen2.5-Omni-7B --host 0.0.0.0")
    tiny = runner.invoke(app, ["serve-teacher", "textualizer", "--params", "params.yaml", "--dry-run"])
    assert tiny.exit_code == 1 and "backend 'oracle'" in tiny.output


def test_an_overrides_file_applies_before_set(repo_root, tmp_path):
    f = tmp_path / "cluster.yaml"
    f.write_text("distill.launch: torchrun --nproc_per_node=8\nteachers.textualizer.batch_size: 32\n")
    assert read_overrides_file(f) == [
        'distill.launch="torchrun --nproc_per_node=8"',
        "teachers.textualizer.batch_size=32",
    ]
    out = write_params(
        repo_root / "params.paper.yaml", tmp_path / "p.yaml", ["distill.launch=torchrun --nproc_per_node=4"], [f]
    )
    assert out["distill"]["launch"] == "torchrun --nproc_per_node=4"  # --set wins
    assert out["teachers"]["textualizer"]["batch_size"] == 32
    assert (
        (tmp_path / "p.yaml")
        .read_text()
        .splitlines()[0]
        .endswith(f"+ {f} with --set distill.launch=torchrun --nproc_per_node=4")
    )
    f.write_text("- not a mapping\n")
    with pytest.raises(ConfigError, match="expected a mapping of section.key: value"):
        read_overrides_file(f)
    f.write_text("distill.lunch: x\n")
    with pytest.raises(ConfigError, match="has no key 'distill.lunch'"):
        write_params(repo_root / "params.paper.yaml", tmp_path / "q.yaml", (), [f])


def test_the_cluster_overrides_apply_to_the_paper_params(repo_root, tmp_path):
    out = write_params(repo_root / "params.paper.yaml", tmp_path / "p.yaml", (), [repo_root / "params.cluster.yaml"])
    assert out["teachers"]["textualizer"]["backend"] == "openai"
    for recipe in out["grpo"]["recipes"].values():
        assert (repo_root / recipe["trainer"]["deepspeed"]).is_file()
