"""Each pipeline stage run as DVC runs it (``python -m audioreason.stages.<name>``) in a small workspace.

The workspace holds a scaled-down copy of ``params.yaml`` (fewer clips and steps, MLflow
in the workspace's own SQLite file) and a freshly generated world under ``data/``. The
stages run in order, each test checking what its stage wrote; the malformed-input tests
copy the workspace and break one thing.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.slow


def tiny_params(params: dict) -> None:
    params["world"].update(n_train=28, n_val=7, n_test_mini=9)
    params["instruct_base"]["trainer"].update(max_steps=4, logging_steps=2, per_device_train_batch_size=4)
    params["sft_cot"]["trainer"].update(max_steps=6, logging_steps=2, save_steps=3, per_device_train_batch_size=4)
    params["sft_cot"]["eval"]["batch_size"] = 8
    params["sft_cot"]["eval"]["generation"]["max_new_tokens"] = 8
    params["evaluate"]["batch_size"] = 4
    params["evaluate"]["generation"]["max_new_tokens"] = 8


@pytest.fixture(scope="module")
def workspace(make_workspace) -> Path:
    ws = make_workspace("ws", tiny_params)
    world = json.loads((ws / "data/world/metadata.json").read_text())["datasets"]
    assert [world[name]["records"] for name in ("avqa_train", "avqa_val", "mmau_test_mini")] == [28, 7, 9]
    return ws


def _copy(ws: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(ws, dst, ignore=shutil.ignore_patterns("outputs", "mlflow.db"))
    return dst


def test_ingest_writes_manifests(workspace, run_stage):
    run_stage(workspace, "ingest")
    metrics = json.loads((workspace / "metrics/ingest.json").read_text())
    assert (metrics["avqa_train.records"], metrics["avqa_val.records"], metrics["mmau_test_mini.records"]) == (28, 7, 9)
    world = json.loads((workspace / "data/world/metadata.json").read_text())["datasets"]
    index = json.loads((workspace / "outputs/ingest/index.json").read_text())["manifests"]
    assert set(index) == set(world)
    for name, expected in world.items():
        assert (index[name]["n"], index[name]["quarantined"]) == (expected["records"], expected["quarantined"]), name
    quarantined = [json.loads(x) for x in (workspace / "outputs/ingest/quarantine.jsonl").read_text().splitlines()]
    assert len(quarantined) == world["cota"]["quarantined"] and all(q["manifest"] == "cota" for q in quarantined)
    lines = (workspace / "outputs/ingest/avqa_train.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert first["answer"] in first["choices"] and "video" not in first["question"].lower()
    assert Path(first["audio"]).is_file()


def test_validate_passes_on_clean_data(workspace, run_stage):
    proc = run_stage(workspace, "validate")
    assert "passed" in proc.stdout
    assert json.loads((workspace / "metrics/validate.json").read_text())["audio_failed"] == 0


def test_models_are_saved_like_checkpoints(workspace, run_stage):
    run_stage(workspace, "models")
    manifest = json.loads((workspace / "outputs/models/manifest.json").read_text())
    assert [m["architecture"] for m in manifest["built"]] == [
        "Qwen2AudioForConditionalGeneration",
        "Qwen2_5OmniThinkerForConditionalGeneration",
        "Qwen3ForCausalLM",
    ]
    for m in manifest["built"]:
        assert (workspace / m["path"] / "config.json").is_file()
        assert (workspace / m["path"] / "model.safetensors").is_file()
    assert (workspace / "outputs/models/qwen2_audio/processor_config.json").is_file() or (
        workspace / "outputs/models/qwen2_audio/preprocessor_config.json"
    ).is_file()


def test_instruct_base_then_a_lora_sft_row_chosen_on_validation(workspace, run_stage):
    run_stage(workspace, "instruct_base", "--model", "qwen2_audio", AUDIOREASON_TRACKING="on")
    base = json.loads((workspace / "metrics/instruct_base/qwen2_audio.json").read_text())
    assert base["steps"] == 4 and base["emotion_questions"] > 0 and base["sound_questions"] > 0
    run_stage(workspace, "sft_cot", "--row", "sft_gt_label", AUDIOREASON_TRACKING="on")
    metrics = json.loads((workspace / "metrics/sft_cot/sft_gt_label.json").read_text())
    assert metrics["steps"] == 6 and np.isfinite(metrics["train_loss"]) and 0 < metrics["train_examples"] <= 28
    # Checkpoints at steps 3 and 6 were scored on AVQA val; the chosen one, adapters merged, is the model.
    assert metrics["selection.candidates"] == 2 and metrics["selection.step"] in (3, 6)
    model = workspace / "outputs/sft_cot/sft_gt_label/model"
    assert (model / "model.safetensors").is_file() and not (model / "adapter_config.json").exists()
    assert not (workspace / "outputs/sft_cot/sft_gt_label/checkpoints").exists()
    assert metrics["avqa_val.n"] == 7 and metrics["mmau.n"] == 9 and metrics["music_avqa.n"] > 0
    assert metrics["paper.mmau.average"] == 59.5 and metrics["paper.avqa_val.accuracy"] == 86.5
    assert {"mmau.sound", "mmau.speech", "mmau.music", "music_avqa.average"} <= set(metrics)
    with sqlite3.connect(workspace / "mlflow.db") as db:
        runs = dict(db.execute("select name, run_uuid from runs").fetchall())
        run_id = runs["p02.table2.sft_gt_label.sft_cot"]
        tags = dict(db.execute("select key, value from tags where run_uuid=?", (run_id,)).fetchall())
        params = dict(db.execute("select key, value from params where run_uuid=?", (run_id,)).fetchall())
        metric_keys = {k for (k,) in db.execute("select key from metrics where run_uuid=?", (run_id,))}
        selection = db.execute(
            "select step, value from metrics where run_uuid=? and key=?",
            (run_id, "selection.candidate.avqa_val.accuracy"),
        ).fetchall()
    assert "p02.base.qwen2_audio.instruct_base" in runs
    assert tags["paper"] == "p02" and tags["table"] == "table2" and tags["row"] == "sft_gt_label"
    assert tags["data_md5"] == "" or tags["data_md5"].endswith(".dir")
    assert tags["dvc.dep.outputs/validate/avqa_train.jsonl"]
    assert params["sft_cot.trainer.max_steps"] == "6" and params["sft_cot.lora.r"] == "8"
    assert params["sft_cot.row.data"] == "gt_label"
    assert {"loss", "train_loss", "grad_norm", "learning_rate", "mmau.average"} <= metric_keys
    assert sorted(step for step, _ in selection) == [3, 6]


def test_evaluate_scores_with_the_official_rule(workspace, run_stage, mlflow_run):
    run_stage(workspace, "evaluate", AUDIOREASON_TRACKING="on")
    scores = json.loads((workspace / "outputs/evaluate/scores.json").read_text())
    assert scores["n"] == 9 and set(scores["task"]) == {"sound", "music", "speech"}
    predictions = json.loads((workspace / "outputs/evaluate/predictions.json").read_text())
    assert len(predictions) == 9 and all("model_output" in p for p in predictions)
    # The CLI scorer reads the same file and agrees with the stage.
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "audioreason.cli",
            "score",
            "mmau",
            str(workspace / "outputs/evaluate/predictions.json"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(cli.stdout)["overall"] == scores["overall"]
    assert (workspace / "outputs/evaluate/accuracy.png").stat().st_size > 1000
    run = mlflow_run(workspace, "p02.table2.sft_gt_label.evaluate")
    tags, metrics = run.tags, run.metrics
    assert tags["scorer"] == "mmau-official-2025-01" and len(tags["test_set_sha256"]) == 64
    assert metrics["overall"] == pytest.approx(scores["overall"]) and "task.sound" in metrics


def test_concept_tokens_then_the_interventions_of_one_model(workspace, run_stage, set_params):
    def few_speakers(params: dict) -> None:
        params["concept_tokens"]["datasets"]["aibo5"]["dev_fraction"] = 0.0  # the shrunk world has few Ohm speakers
        params["interventions"].update(
            splits={"iemocap": ["test"], "aibo5": ["train", "test"]},
            n_boot=50,
            shuffle_seeds=[0, 1],
            corrupt_p=[0.0, 0.5, 1.0],
            batch_size=8,
        )

    set_params(workspace, few_speakers)
    run_stage(workspace, "concept_tokens", AUDIOREASON_TRACKING="on")
    tokens = [json.loads(line) for line in (workspace / "outputs/concept_tokens/iemocap/tokens.jsonl").open()]
    assert tokens and all(r["token_string"].startswith("ENERGY=") and len(r["tokens"]) == 6 for r in tokens)
    fit = json.loads((workspace / "outputs/concept_tokens/iemocap/fit.json").read_text())
    assert {"PITCH/F", "PITCH/M", "ENERGY/*"} <= set(fit["edges"])
    metrics = json.loads((workspace / "metrics/concept_tokens.json").read_text())
    assert metrics["iemocap.n"] == len(tokens) and metrics["aibo5.n"] > 0 and metrics["throughput.wall_s"] > 0
    assert (workspace / "plots/concept_tokens/aibo5_tokens_by_class.png").stat().st_size > 5000

    run_stage(workspace, "interventions", "--model", "qwen2_audio", AUDIOREASON_TRACKING="on")
    m = json.loads((workspace / "metrics/interventions/qwen2_audio.json").read_text())
    n_test = sum(r["split"] == "test" for r in tokens)
    assert m["correct.iemocap.n"] == m["audio_only.iemocap.n"] == m["conflict.n"] == m["corrupt.p0.5.n"] == n_test
    assert {"audio_only.aibo5.train.uar", "correct.aibo5.test.uar", "shuffle.seed1.uar", "corrupt_full.uar"} <= set(m)
    no_tokens = json.loads((workspace / "metrics/concept_tokens/qw2_audio_no_tokens.json").read_text())
    assert no_tokens["aibo5.test.uar"] == m["audio_only.aibo5.test.uar"] and "correct.uar" not in no_tokens
    assert m["shuffle.uar"] == pytest.approx((m["shuffle.seed0.uar"] + m["shuffle.seed1.uar"]) / 2)
    # corrupt(0) appends exactly the aligned tokens: greedy decoding answers as under `correct`.
    assert m["corrupt.p0.uar"] == m["correct.uar"]
    assert m["mcnemar.conflict_vs_correct.p_holm"] >= m["mcnemar.conflict_vs_correct.p"]
    predictions = [
        json.loads(line)
        for line in (workspace / "outputs/interventions/qwen2_audio/predictions/iemocap.test.conflict.jsonl").open()
    ]
    assert all("Acoustic concept tokens: ENERGY=" in p["prompt"] for p in predictions)
    assert not any(
        "Acoustic" in json.loads(line)["prompt"]
        for line in (workspace / "outputs/interventions/qwen2_audio/predictions/iemocap.test.audio_only.jsonl").open()
    )
    row = json.loads((workspace / "metrics/concept_tokens/qw2_audio_tokens.json").read_text())
    assert row["paper.aibo5.dev.uar"] == 0.240 and "aibo5.test.uar" in row
    assert (workspace / "outputs/interventions/qwen2_audio/plots/corruption_curve.png").stat().st_size > 5000
    with sqlite3.connect(workspace / "mlflow.db") as db:
        runs = dict(db.execute("select name, run_uuid from runs where name like 'p04.%'").fetchall())
        tags = dict(
            db.execute(
                "select key, value from tags where run_uuid=?", (runs["p04.qw2_audio.conflict.interventions"],)
            ).fetchall()
        )
        artifacts_uri = db.execute(
            "select artifact_uri from runs where run_uuid=?", (runs["p04.qw2_audio.corrupt.interventions"],)
        ).fetchone()[0]
    assert set(runs) == {
        "p04.table1.concept_tokens.concept_tokens",
        *(f"p04.qw2_audio.{c}.interventions" for c in ("audio_only", "correct", "shuffle", "conflict", "corrupt")),
    }
    assert tags["paper"] == "p04" and tags["row"] == "conflict" and tags["model"] == "qwen2_audio"
    assert artifacts_uri


def test_ser_finetune_trains_on_training_splits_only(workspace, run_stage, set_params, monkeypatch):
    set_params(
        workspace,
        lambda p: p["ser_finetune"]["trainer"].update(max_steps=2, per_device_train_batch_size=4, logging_steps=1),
    )
    from audioreason.config import load_params
    from audioreason.stages.ser_finetune import training_rows

    cfg = load_params(workspace / "params.yaml")
    monkeypatch.chdir(workspace)  # the stage's relative paths, as dvc runs it
    rows, counts = training_rows(cfg.ser_finetune, cfg.interventions)
    train_ids = {
        json.loads(line)["id"]
        for name in ("iemocap", "aibo5")
        for line in (workspace / f"outputs/concept_tokens/{name}/tokens.jsonl").open()
        if json.loads(line)["split"] == "train"
    }
    assert {r["id"].split("#")[0] for r in rows} == train_ids
    assert len(rows) == 2 * len(train_ids) and sum("Acoustic concept tokens" in r["prompt"] for r in rows) == len(
        train_ids
    )
    run_stage(workspace, "ser_finetune")
    metrics = json.loads((workspace / "metrics/ser_finetune.json").read_text())
    assert metrics["steps"] == 2 and metrics["train_examples"] == counts["train_examples"]
    assert (workspace / "outputs/ser_finetune/model/model.safetensors").is_file()


def test_mix_sseu_then_every_sseu_bench_row(workspace, run_stage, set_params):
    def one_item_per_scene(params: dict) -> None:
        params["mix_sseu"]["items_per_scene"] = 1
        params["sseu_bench"]["batch_size"] = 8
        for prompt, limit in {"asr": 6, "asc": 4, "at": 6, "joint": 12, "joint_cot": 12}.items():
            params["sseu_bench"]["generation"][prompt]["max_new_tokens"] = limit

    params = set_params(workspace, one_item_per_scene)
    run_stage(workspace, "mix_sseu", AUDIOREASON_TRACKING="on")
    rows = [json.loads(line) for line in (workspace / "outputs/mix_sseu/manifest.jsonl").open()]
    assert len(rows) == 6 * 7 and {r["scene"] for r in rows} == set(params["mix_sseu"]["scenes"].values())
    for r in rows:
        if isinstance(r["snr_db"], float):
            assert abs(r["measured_snr_db"] - r["snr_db"]) < 0.1
        x, rate = sf.read(r["audio"])
        assert rate == 44100 and np.max(np.abs(x)) <= 1.0
    report = json.loads((workspace / "outputs/mix_sseu/report.json").read_text())
    assert report["speech_missing_transcript"] >= 1  # VCTK p315 has no transcripts
    assert report["background_looped"] > 0  # the shrunk MAESTRO recordings are 3 s, windows 4 s
    metrics = json.loads((workspace / "metrics/mix_sseu.json").read_text())
    assert metrics["mixtures"] == 42 and metrics["max_snr_error_db"] < 0.1
    # A second run renders nothing: every item resumes from its record.
    first = (workspace / "outputs/mix_sseu/manifest.jsonl").read_text()
    run_stage(workspace, "mix_sseu")
    again = json.loads((workspace / "metrics/mix_sseu.json").read_text())
    assert again["items_resumed"] == 6 and again["items_rendered"] == 0
    assert (workspace / "outputs/mix_sseu/manifest.jsonl").read_text() == first

    run_stage(workspace, "sseu_bench", AUDIOREASON_TRACKING="on")
    upper = json.loads((workspace / "metrics/sseu_bench/upper_bound.json").read_text())
    assert upper["asr.wer.average"] == 0.0 and upper["asc.macc.average"] == 100.0
    if any(r["event_labels"] for r in rows):
        assert upper["at.map.average"] == 100.0
    assert "asr.wer.snr_minf" not in upper and "asc.macc.snr_inf" not in upper
    for row in ("clap", "independent", "joint", "joint_cot"):
        m = json.loads((workspace / f"metrics/sseu_bench/{row}.json").read_text())
        assert 0 <= m["asc.macc.average"] <= 100 and 0 <= m["at.map.average_5snr"] <= 100, row
        if row != "clap":
            assert m["asr.wer.snr_10"] >= 0 and "asr.wer.average_5snr" in m
        if row.startswith("joint"):
            assert 0 <= m["joint.parse_failure_rate"] <= 1
    alias = json.loads((workspace / "metrics/sseu_bench/qwen2_audio_instruct_joint.json").read_text())
    assert alias == json.loads((workspace / "metrics/sseu_bench/joint.json").read_text())
    curves = json.loads((workspace / "plots/sseu_bench/snr_curves.json").read_text())
    assert {c["row"] for c in curves} == {"upper_bound", "clap", "independent", "joint", "joint_cot"}
    with sqlite3.connect(workspace / "mlflow.db") as db:
        runs = {n for (n,) in db.execute("select name from runs where name like 'p05.%'")}
    assert runs == {
        "p05.data.mix_sseu.mix_sseu",
        "p05.table1.upper_bound.sseu_bench",
        "p05.table1.clap.sseu_bench",
        "p05.table1.independent.sseu_bench",
        "p05.table2.joint.sseu_bench",
        "p05.table2.joint_cot.sseu_bench",
    }


# ---------------------------------------------------------------- malformed inputs stop the pipeline


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "breakage, expected",
    [
        ("mmau_missing_choices", "missing key(s) choices"),
        ("mmau_answer_not_in_choices", "is not among the choices"),
        ("avqa_answer_out_of_range", "is not an index into multi_choice"),
        ("avqa_missing_audio", "does not exist"),
    ],
)
def test_ingest_names_file_and_record(workspace, tmp_path, breakage, expected, run_stage, set_params):
    ws = _copy(workspace, tmp_path)
    mmau, avqa = ws / "data/mmau/mmau-test-mini.json", ws / "data/avqa/train_qa.json"
    if breakage == "mmau_missing_choices":
        _edit_json(mmau, lambda d: d[4].pop("choices"))
        bad_file, where = mmau, f"#4 (id {json.loads(mmau.read_text())[4]['id']})"
    elif breakage == "mmau_answer_not_in_choices":
        _edit_json(mmau, lambda d: d[2].update(answer="a trombone"))
        bad_file, where = mmau, "#2 (id "
    elif breakage == "avqa_answer_out_of_range":
        _edit_json(avqa, lambda d: d[5].update(answer=7))
        bad_file, where = avqa, "#5 (id 5)"
    else:
        name = json.loads(avqa.read_text())[3]["video_name"]
        (ws / "data/avqa/audio" / f"{name}.wav").unlink()
        bad_file, where = avqa, "#3 (id 3)"
    set_params(ws, lambda p: p["ingest"].update(on_error="raise"))
    proc = run_stage(ws, "ingest", check=False)
    assert proc.returncode != 0
    assert (
        f"data/{bad_file.relative_to(ws / 'data')}" in proc.stderr and where in proc.stderr and expected in proc.stderr
    )


def test_validate_stops_on_wrong_rate_and_quarantines_silent_audio(workspace, tmp_path, run_stage):
    ws = _copy(workspace, tmp_path)
    run_stage(ws, "ingest")
    avqa = json.loads((ws / "data/avqa/train_qa.json").read_text())
    silent = ws / "data/avqa/audio" / f"{avqa[1]['video_name']}.wav"
    sf.write(silent, np.zeros(64000, dtype=np.float32), 32000, subtype="PCM_16")
    wrong_rate = ws / "data/avqa/audio" / f"{avqa[2]['video_name']}.wav"
    sf.write(wrong_rate, 0.1 * np.sin(np.arange(16000) / 5.0).astype(np.float32), 8000, subtype="PCM_16")
    proc = run_stage(ws, "validate", check=False)
    assert proc.returncode != 0
    assert "silent" in proc.stdout and "8000 Hz" in proc.stdout
    # The report names the records that use each bad file.
    assert "train_qa.json#1" in proc.stdout and "train_qa.json#2" in proc.stdout
    # params.yaml: a wrong rate fails the stage, a silent clip is quarantined; both are counted.
    metrics = json.loads((ws / "metrics/validate.json").read_text())
    assert metrics["success"] is False and metrics["audio_failed"] == 2
    quarantined = [json.loads(x) for x in (ws / "outputs/validate/quarantine.jsonl").read_text().splitlines()]
    assert [(q["manifest"], q["id"], q["check"]) for q in quarantined] == [("avqa_train", "1", "audio.silent")]


def test_ingest_quarantines_and_counts_when_params_say_so(workspace, tmp_path, run_stage):
    ws = _copy(workspace, tmp_path)
    avqa, mmau = ws / "data/avqa/train_qa.json", ws / "data/mmau/mmau-test-mini.json"
    _edit_json(avqa, lambda d: d[5].update(answer=7))
    _edit_json(avqa, lambda d: d[6].update(id=d[7]["id"]))  # a duplicate id
    _edit_json(mmau, lambda d: d[2].update(answer="a trombone"))
    proc = run_stage(ws, "ingest")  # params.yaml: on_error quarantine
    metrics = json.loads((ws / "metrics/ingest.json").read_text())
    assert (metrics["avqa_train.records"], metrics["avqa_train.quarantined"]) == (26, 2)
    assert (metrics["mmau_test_mini.records"], metrics["mmau_test_mini.quarantined"]) == (8, 1)
    lines = [json.loads(x) for x in (ws / "outputs/ingest/quarantine.jsonl").read_text().splitlines()]
    avqa_q = [q for q in lines if q["manifest"] == "avqa_train"]
    assert [q["record"] for q in avqa_q] == ["#5 (id 5)", "#7 (id 7)"]
    assert "is not an index into multi_choice" in avqa_q[0]["problem"] and "duplicate id 7" in avqa_q[1]["problem"]
    assert "quarantined" in proc.stdout
