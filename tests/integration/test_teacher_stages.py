"""The generation stages (textualize_cota, generate_qa, teacher_cot, agfv) run as DVC runs them.

A small workspace with a freshly generated world runs ingest and validate, then every
generation stage with the world's oracle teachers; one test swaps in the transformers
backend on a tiny checkpoint, one interrupts a stage's cache and checks that the rerun
generates only what is missing.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from audioreason.datasets.avqa import read_avqa

pytestmark = pytest.mark.slow
STAGES = ("textualize_cota", "generate_qa", "teacher_cot", "agfv")


def metrics(ws: Path, stage: str) -> dict:
    return json.loads((ws / "metrics" / f"{stage}.json").read_text())


def tiny_params(params: dict) -> None:
    params["world"].update(n_train=60, n_val=7, n_test_mini=9)
    params["world"]["cota"]["items"] = 40
    params["world"]["vggsound"].update(train_clips=12, test_clips=3)


@pytest.fixture(scope="module")
def workspace(make_workspace, run_stage) -> Path:
    ws = make_workspace("teachers", tiny_params, stages=("ingest", "validate"))
    for stage in STAGES:
        run_stage(ws, stage, AUDIOREASON_TRACKING="on")
    return ws


def test_textualize_keeps_or_rejects_every_item_with_a_reason(workspace):
    m = metrics(workspace, "textualize_cota")
    kept = [json.loads(x) for x in (workspace / "outputs/textualize_cota/d_text.jsonl").read_text().splitlines()]
    rejected = [json.loads(x) for x in (workspace / "outputs/textualize_cota/rejected.jsonl").read_text().splitlines()]
    n_cota = len((workspace / "outputs/validate/cota.jsonl").read_text().splitlines())
    assert m["items"] == n_cota == len(kept) + len(rejected)
    assert m["rejected.empty"] + m["rejected.contradicts_answer"] == len(rejected)
    assert all(k["description"].strip() and k["answer"] in k["choices"] for k in kept)
    assert all(set(k["trace"]) == {"planning", "caption", "reasoning", "summary"} for k in kept)
    assert all(r["reason"] for r in rejected)


def test_generated_questions_are_avqa_format_and_balanced(workspace):
    m = metrics(workspace, "generate_qa")
    for name, audio_dir in (("avqa_gpt", "data/avqa/audio"), ("vggs_gpt", "data/vggsound/audio")):
        qa_json = workspace / "outputs/generate_qa" / name / "train_qa.json"
        result = read_avqa(qa_json, workspace / audio_dir, "train", on_error="raise")
        assert len(result.records) == m[f"{name}.kept"] > 0
        assert all(len(r.choices) == 4 and r.answer in r.choices for r in result.records)
        assert sum(m[f"{name}.slot_{k}"] for k in range(4)) == pytest.approx(1.0)
        assert m[f"{name}.position_max_deviation"] <= 1 / m[f"{name}.kept"]  # balanced up to one item
        manifest = workspace / "outputs/generate_qa" / f"{name}.jsonl"
        assert len(manifest.read_text().splitlines()) == m[f"{name}.kept"]
        samples = m[f"{name}.samples"]
        accounted = m[f"{name}.kept"] + m[f"{name}.unparseable"] + m[f"{name}.duplicate"] + m[f"{name}.too_long"]
        assert accounted == samples
    # AVQA-GPT asks only about AVQA training clips, VGGS-GPT only about VGGSound's training split
    vgg_train = {
        json.loads(x)["id"]
        for x in (workspace / "outputs/validate/vggsound.jsonl").read_text().splitlines()
        if json.loads(x)["split"] == "train"
    }
    names = {
        r["video_name"] for r in json.loads((workspace / "outputs/generate_qa/vggs_gpt/train_qa.json").read_text())
    }
    assert names <= vgg_train


def test_teacher_cot_unanimity(workspace):
    m = metrics(workspace, "teacher_cot")
    rows = [json.loads(x) for x in (workspace / "outputs/teacher_cot/traces.jsonl").read_text().splitlines()]
    kept = [json.loads(x) for x in (workspace / "outputs/teacher_cot/d_reason.jsonl").read_text().splitlines()]
    assert m["items"] == len(rows) == 60 and m["unanimous"] == len(kept)
    assert all(len(r["traces"]) == 3 for r in rows)
    assert all(len(set(k["trace_answers"])) == 1 and k["trace_answers"][0] is not None for k in kept)
    assert all(r["unanimous"] is False for r in rows if len(set(r["trace_answers"])) > 1)
    assert 0 < m["unanimity_rate"] < 1


def test_agfv_filters_hallucinated_traces(workspace):
    m = metrics(workspace, "agfv")
    n_traces = sum(
        len(json.loads(x)["traces"])
        for x in (workspace / "outputs/teacher_cot/d_reason.jsonl").read_text().splitlines()
    )
    assert m["traces"] == n_traces and m["detect.tp"] + m["detect.fp"] + m["detect.fn"] + m["detect.tn"] == n_traces
    assert 0 < m["precision"] <= 1 and 0 < m["recall"] <= 1
    assert m["hallucination_rate.after"] < m["hallucination_rate.before"]
    fc = [json.loads(x) for x in (workspace / "outputs/agfv/d_fc.jsonl").read_text().splitlines()]
    assert len(fc) == m["accepted"] and all(f["unanimous"] for f in fc)
    # Without test-time scaling (Table 2's "AGFV + SFT"): the first trace of every item is checked too.
    single = [json.loads(x) for x in (workspace / "outputs/agfv/d_fc_single.jsonl").read_text().splitlines()]
    assert m["single.items"] == 60 and len(single) == m["single.accepted"] < 60
    assert all(s["trace_index"] == 0 and s["teacher_answer"] is not None for s in single)
    assert any(not s["unanimous"] for s in single)


def test_each_stage_is_one_mlflow_run_tagged_with_paper_and_row(workspace, mlflow_run):
    with sqlite3.connect(workspace / "mlflow.db") as db:
        runs = dict(db.execute("select name, run_uuid from runs where status='FINISHED'").fetchall())
    assert sorted(runs) == sorted(
        f"{p}.data.{s}.{s}"
        for p, s in (("p01", "textualize_cota"), ("p03", "generate_qa"), ("p02", "teacher_cot"), ("p02", "agfv"))
    )
    agfv = mlflow_run(workspace, "p02.data.agfv.agfv")
    assert agfv.run_id == runs["p02.data.agfv.agfv"]
    assert (agfv.tags["paper"], agfv.tags["row"]) == ("p02", "agfv")
    assert agfv.metrics["precision"] == pytest.approx(metrics(workspace, "agfv")["precision"])
    assert "generation.items_per_s" in agfv.metrics and "generation.completion_tokens" in agfv.metrics
    assert agfv.params["teachers.checker.backend"] == "oracle"


def test_interrupted_stage_regenerates_only_missing_items(workspace, tmp_path, run_stage):
    ws = tmp_path / "ws"
    # The manifests name the original clips: share the world (and its ground truth) instead of copying it.
    shutil.copytree(workspace, ws, ignore=shutil.ignore_patterns("mlflow.db", "data"))
    (ws / "data").symlink_to(workspace / "data")
    cache = ws / "outputs/generations/teacher_cot.jsonl"
    lines = cache.read_text().splitlines()
    assert len(lines) == 60
    # What a kill leaves: 25 complete lines and a torn one.
    cache.write_text("\n".join(lines[:25]) + "\n" + lines[25][:40])
    before = (workspace / "outputs/teacher_cot/traces.jsonl").read_text()
    run_stage(ws, "teacher_cot")
    m = metrics(ws, "teacher_cot")
    assert (m["generation.cached"], m["generation.generated"], m["generation.torn_cache_lines"]) == (25, 35, 1)
    assert (ws / "outputs/teacher_cot/traces.jsonl").read_text() == before
    run_stage(ws, "teacher_cot")
    assert (
        metrics(ws, "teacher_cot")["generation.generated"],
        metrics(ws, "teacher_cot")["generation.backend_calls"],
    ) == (0, 0)


def test_transformers_backend_runs_a_stage_on_a_tiny_checkpoint(workspace, tmp_path, run_stage, set_params):
    ws = tmp_path / "hf"
    shutil.copytree(workspace, ws, ignore=shutil.ignore_patterns("mlflow.db", "generations", "data"))
    (ws / "data").symlink_to(workspace / "data")
    run_stage(ws, "models")

    def tiny_transformers_textualizer(params: dict) -> None:
        params["teachers"]["textualizer"] = {
            "backend": "transformers",
            "model": "outputs/models/qwen2_audio",
            "batch_size": 3,
            "options": {"device": "cpu", "dtype": "float32"},
        }
        params["textualize_cota"]["max_items"] = 5
        params["textualize_cota"]["sampling"]["max_tokens"] = 6

    set_params(ws, tiny_transformers_textualizer)
    run_stage(ws, "textualize_cota")
    m = metrics(ws, "textualize_cota")
    assert m["items"] == 5 and m["kept"] + m["rejected"] == 5
    assert (m["generation.generated"], m["generation.backend_calls"]) == (5, 2)
    assert m["generation.prompt_tokens"] > 5 * 50  # the prompt, and 50 audio tokens per clip
    cached = [json.loads(x) for x in (ws / "outputs/generations/textualize_cota.jsonl").read_text().splitlines()]
    assert len(cached) == 5 and all(len(c["generation"]["texts"]) == 1 for c in cached)
