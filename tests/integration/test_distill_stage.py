"""Paper 01's distillation stage as DVC runs it: a Table 1 row end to end, resume, DeepSpeed on CPU.

A small workspace (fresh world, ingest, validate, textualize_cota, models) distils the
tiny Omni thinker from the tiny Qwen3 directly (the pretraining stages are tested
elsewhere and only make the models better, not the mechanics different).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors import safe_open

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
TORCHRUN = [str(BIN / "torchrun"), "--nproc_per_node=1", "-m"]


def tiny_params(params: dict) -> None:
    params["world"].update(n_train=14, n_val=7, n_test_mini=6)
    params["world"]["cota"]["items"] = 12
    params["world"]["iemocap"].update(dialogs_per_session=1, utterances_per_dialog=6)
    d = params["distill"]
    d.update(student="outputs/models/qwen2_5_omni_thinker", teacher="outputs/models/qwen3")
    d["trainer"].update(max_steps=4, save_steps=2, logging_steps=1, per_device_train_batch_size=2)
    d["eval"]["batch_size"] = 8
    d["eval"]["generation"]["max_new_tokens"] = 8


@pytest.fixture(scope="module")
def workspace(make_workspace) -> Path:
    return make_workspace(
        "distill", tiny_params, stages=("ingest", "validate", "textualize_cota", "models"), links=("docker",)
    )


def test_a_row_trains_evaluates_and_logs_every_loss_term(workspace, run_stage, mlflow_run):
    run_stage(workspace, "distill", "--row", "layer_ac_kd", AUDIOREASON_TRACKING="on")
    m = json.loads((workspace / "metrics/distill/layer_ac_kd.json").read_text())
    assert m["deepspeed_zero_stage"] == -1
    assert m["steps"] == 4 and m["layer_pairs"] == 2 and m["alpha_ac_used"] == 0.05
    assert m["mmau.n"] == 6 and 0 <= m["mmau.average"] <= 100 and m["ser.n"] > 0
    assert m["paper.mmau.average"] == 73.30
    model = workspace / "outputs/distill/layer_ac_kd/model"
    with safe_open(str(model / "model.safetensors"), "pt") as f:
        assert not any("projections" in k for k in f.keys())
    assert not (workspace / "outputs/distill/layer_ac_kd/checkpoints").exists()
    run = mlflow_run(workspace, "p01.table1.layer_ac_kd.distill")
    assert {"loss_sft", "loss_top", "loss_layer", "loss_acoustic", "mmau.average", "ser.ua"} <= set(run.metrics)
    assert (run.tags["paper"], run.tags["table"], run.tags["row"]) == ("p01", "table1", "layer_ac_kd")


def test_interrupted_row_resumes_from_its_checkpoint_into_the_same_run(workspace, run_stage, set_params):
    set_params(workspace, lambda p: p["distill"]["trainer"].update(max_steps=30, save_steps=2))
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "AUDIOREASON_TRACKING": "on"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "audioreason.stages.distill", "--row", "top_kd"],
        cwd=workspace,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ckpt = workspace / "outputs/distill/top_kd/checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and not any(ckpt.glob("checkpoint-4/trainer_state.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert any(ckpt.glob("checkpoint-*")), "no checkpoint was written before the kill"
    run_stage(workspace, "distill", "--row", "top_kd", AUDIOREASON_TRACKING="on")
    m = json.loads((workspace / "metrics/distill/top_kd.json").read_text())
    assert m["steps"] == 30 and m["resumed_from_step"] >= 4
    with sqlite3.connect(workspace / "mlflow.db") as db:
        runs = db.execute("select run_uuid, status from runs where name='p01.table1.top_kd.distill'").fetchall()
        (steps,) = db.execute(
            "select value from latest_metrics where run_uuid=? and key='steps'", (runs[0][0],)
        ).fetchone()
    assert len(runs) == 1 and runs[0][1] == "FINISHED" and steps == 30
    set_params(workspace, lambda p: p["distill"]["trainer"].update(max_steps=4, save_steps=2))


@pytest.mark.parametrize("zero", ["zero2", "zero3"])
def test_deepspeed_zero_steps_on_cpu_under_torchrun(workspace, zero, run_stage, set_params):
    set_params(
        workspace, lambda p: p["distill"]["trainer"].update(max_steps=2, deepspeed=f"docker/deepspeed/{zero}.json")
    )
    try:
        run_stage(workspace, "distill", "--row", "layer_ac_kd", launcher=TORCHRUN)
    finally:
        set_params(
            workspace,
            lambda p: (p["distill"]["trainer"].pop("deepspeed", None), p["distill"]["trainer"].update(max_steps=4)),
        )
    m = json.loads((workspace / "metrics/distill/layer_ac_kd.json").read_text())
    assert m["deepspeed_zero_stage"] == int(zero[-1]) and m["steps"] == 2 and m["train_loss"] > 0
    with safe_open(str(workspace / "outputs/distill/layer_ac_kd/model/model.safetensors"), "pt") as f:
        shapes = [f.get_slice(k).get_shape() for k in f.keys()]
    assert shapes and all(all(d > 0 for d in s) for s in shapes)  # full weights, not ZeRO-3 shards
