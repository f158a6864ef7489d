"""The GRPO stage as DVC runs it: paper 02 and paper 03 rows, the text-only ablation, DeepSpeed ZeRO-2 under torchrun.

A small workspace (fresh world, ingest, validate, the teacher stages, models) trains the
tiny random-init models directly (the instruct bases and SFT rows only make them better,
not the mechanics different).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import shrink_world
from test_distill_stage import BIN, run_stage

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, repo_root) -> Path:
    ws = tmp_path_factory.mktemp("grpo")
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["world"].update(n_train=14, n_val=7, n_test_mini=6)
    shrink_world(params["world"])
    params["generate_qa"]["max_balance_deviation"] = 1.0   # a handful of questions cannot balance four slots
    g = params["grpo"]
    for recipe in g["recipes"].values():
        recipe["trainer"].update(max_steps=2, save_steps=1, logging_steps=1, max_completion_length=8)
    g["recipes"]["p02"]["trainer"].update(per_device_train_batch_size=8, num_generations=4)
    for row in g["rows"].values():
        if row["paper"] == "p02":
            row["init"] = "outputs/models/qwen2_audio"
        else:
            row["init"] = "outputs/models/qwen2_5_omni_thinker"
    g["eval"]["batch_size"] = 8
    g["eval"]["generation"]["max_new_tokens"] = 8
    params["tracking"]["uri"] = f"sqlite:///{ws / 'mlflow.db'}"
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (ws / "docker").symlink_to(repo_root / "docker")
    subprocess.run([sys.executable, "-m", "audioreason.cli", "world", "--out", "data"], cwd=ws, check=True,
                   capture_output=True)
    for stage in ("ingest", "validate", "generate_qa", "teacher_cot", "models"):
        run_stage(ws, f"audioreason.stages.{stage}")
    return ws


def metrics(ws: Path, row: str) -> dict:
    return json.loads((ws / f"metrics/grpo/{row}.json").read_text())


def mlflow_run(ws: Path, name: str) -> tuple[dict, dict]:
    with sqlite3.connect(ws / "mlflow.db") as db:
        (run_id,) = db.execute("select run_uuid from runs where name=?", (name,)).fetchone()
        tags = dict(db.execute("select key, value from tags where run_uuid=?", (run_id,)).fetchall())
        logged = dict(db.execute("select key, value from latest_metrics where run_uuid=?", (run_id,)).fetchall())
    return tags, logged


def test_paper_03_row_hears_trains_and_is_evaluated_with_and_without_audio(workspace):
    run_stage(workspace, "audioreason.stages.grpo", "--row", "grpo_avqa", AUDIOREASON_TRACKING="on")
    m = metrics(workspace, "grpo_avqa")
    assert m["steps"] == 2 and m["deepspeed_zero_stage"] == -1
    assert m["audio_rows_in_loss"] == 2 * 8         # every sequence of every step heard its clip
    assert m["selection.candidates"] == 2 and m["selection.step"] in (1, 2)
    assert m["mmau.n"] == m["mmau_no_audio.n"] == 6 and "music_avqa.n" not in m
    assert m["paper.mmau.average"] == 68.6 and m["paper.mmau_no_audio.average"] == 51.7
    tags, logged = mlflow_run(workspace, "p03.table1.grpo_avqa.grpo")
    assert (tags["paper"], tags["table"], tags["row"], tags["scale"]) == ("p03", "table1", "grpo_avqa", "tiny")
    assert tags["scorer"] == "mmau-official-2025-01" and len(tags["test_set_sha256"]) == 64
    assert tags["extractor"] and tags["music_avqa_scorer"] == "music-avqa-vocab-exact-v1"
    assert {"rewards/omni_r1_accuracy/mean", "kl", "completions/mean_length", "mmau.average",
            "mmau_no_audio.average", "selection.avqa_val.accuracy"} <= set(logged)
    assert (workspace / "outputs/grpo/grpo_avqa/model/model.safetensors").is_file()
    assert (workspace / "outputs/grpo/grpo_avqa/rewards.png").stat().st_size > 1000


def test_text_only_row_trains_without_audio(workspace):
    run_stage(workspace, "audioreason.stages.grpo", "--row", "grpo_avqa_text_only")
    m = metrics(workspace, "grpo_avqa_text_only")
    assert m["steps"] == 2 and m["audio_rows_in_loss"] == 0


def test_paper_02_row_rewards_the_teacher_label_and_the_format(workspace):
    run_stage(workspace, "audioreason.stages.grpo", "--row", "sightsound_r1", AUDIOREASON_TRACKING="on")
    m = metrics(workspace, "sightsound_r1")
    unanimous = (workspace / "outputs/teacher_cot/d_reason.jsonl").read_text().splitlines()
    assert m["train_questions"] == len(unanimous) > 0 and m["audio_rows_in_loss"] == 2 * 8
    assert m["music_avqa.n"] > 0 and "mmau_no_audio.n" not in m and m["paper.mmau.average"] == 56.2
    _, logged = mlflow_run(workspace, "p02.table2.sightsound_r1.grpo")
    assert {"rewards/sightsound_accuracy/mean", "rewards/sightsound_format/mean", "music_avqa.average"} <= set(logged)


def test_evaluation_only_row(workspace):
    run_stage(workspace, "audioreason.stages.grpo", "--row", "base")
    m = metrics(workspace, "base")
    assert m["steps"] == 0 and m["mmau.n"] == 6 and not (workspace / "outputs/grpo/base/model").exists()


@pytest.mark.parametrize("zero, row", [(2, "grpo_vggs_gpt"), (3, "grpo_avqa_gpt")])
def test_two_grpo_steps_with_deepspeed_under_torchrun(workspace, zero, row):
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["grpo"]["rows"][row]["trainer"] = {"deepspeed": f"docker/deepspeed/zero{zero}.json"}
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run_stage(workspace, "audioreason.stages.grpo", "--row", row,
              launcher=[str(BIN / "torchrun"), "--nproc_per_node=1", "-m"])
    m = metrics(workspace, row)
    assert m["deepspeed_zero_stage"] == zero and m["steps"] == 2
    assert m["audio_rows_in_loss"] == 2 * 8
    assert (workspace / f"outputs/grpo/{row}/model/model.safetensors").is_file()
