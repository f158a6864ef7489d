"""The grpo stage: which checkpoint is a row's model (paper 02 §4.1 vs paper 03), text-only training data, the MMAU
test-full submission, and the champion gate's metric for each paper's rows."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from audioreason.config import load_params
from audioreason.datasets.records import QARecord
from audioreason.models.factory import build_tiny_model, load_model
from audioreason.models.tokenizer import train_tokenizer
from audioreason.stages import grpo as stage
from audioreason.tracking import NullTracker

REPO_ROOT = Path(__file__).resolve().parents[3]
PARAMS_FILES = ("params.yaml", "params.paper.yaml")
VAL_SCORE = {1: 90.0, 2: 50.0, 3: 70.0}
"""AVQA-val accuracy of the checkpoint saved at each step: the best is not the last."""


def grpo_params(name: str = "params.yaml"):
    return load_params(REPO_ROOT / name, sections=["grpo"])["grpo"]


def marker(model) -> float:
    """The value written into a checkpoint's output embedding to tell checkpoints apart."""
    return model.get_output_embeddings().weight[0, 0].item()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    m = load_params(REPO_ROOT / "params.yaml", sections=["models"])["models"]
    small = dict(intermediate_size=32, num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256)
    cfg = dataclasses.replace(
        m,
        audio_encoder=dataclasses.replace(
            m.audio_encoder, d_model=16, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=16
        ),
        text_decoder=dataclasses.replace(m.text_decoder, hidden_size=16, num_hidden_layers=1, **small),
    )
    tok = train_tokenizer(["Which sound is heard? ['dog', 'cat']"] * 8, vocab_size=300, min_frequency=2)
    return Path(build_tiny_model("qwen2_audio", cfg, tok, tmp_path_factory.mktemp("grpo-stage") / "m")["path"])


@pytest.fixture
def checkpoints(tiny_model, tmp_path, monkeypatch) -> Path:
    """``checkpoint-1..3`` as the trainer leaves them (the last step always saved), and AVQA val scored by marker."""
    model, processor = load_model(str(tiny_model))
    ckpt = tmp_path / "row" / "checkpoints"
    for step in VAL_SCORE:
        with torch.no_grad():
            model.get_output_embeddings().weight[0, 0] = float(step)
        model.save_pretrained(ckpt / f"checkpoint-{step}")
        processor.save_pretrained(ckpt / f"checkpoint-{step}")
    monkeypatch.setattr(
        stage, "validation_accuracy", lambda cfg, prompt: lambda model, processor: VAL_SCORE[round(marker(model))]
    )
    return ckpt


def test_a_paper_03_row_is_its_final_step_and_the_val_best_checkpoint_an_extension(checkpoints):
    cfg = grpo_params()
    out = checkpoints.parent
    tracker = NullTracker()
    metrics = stage.export_row_model(cfg, cfg.recipes["p03"], checkpoints, out, tracker)
    assert metrics == {
        "final.step": 3,
        "selected.step": 1,
        "selected.candidates": 3,
        "selected.avqa_val.accuracy": 90.0,
    }
    assert marker(load_model(str(out / "model"))[0]) == 3.0  # the paper's row: no selection
    assert marker(load_model(str(out / stage.SELECTED))[0]) == 1.0  # the extension: best on AVQA val
    assert not checkpoints.exists() and not (out / "selection").exists()
    assert tracker.metrics["selection.candidate.avqa_val.accuracy"] == [(1, 90.0), (2, 50.0), (3, 70.0)]


def test_a_paper_02_row_is_its_best_checkpoint_on_avqa_val(checkpoints):
    cfg = grpo_params()
    out = checkpoints.parent
    metrics = stage.export_row_model(cfg, cfg.recipes["p02"], checkpoints, out, NullTracker())
    assert metrics == {"selection.step": 1, "selection.candidates": 3, "selection.avqa_val.accuracy": 90.0}
    assert marker(load_model(str(out / "model"))[0]) == 1.0
    assert not (out / stage.SELECTED).exists() and not checkpoints.exists()


def test_the_selected_model_is_not_evaluated_again_when_it_is_the_final_one(tmp_path):
    metrics = {"final.step": 30, "selected.step": 30, "mmau.average": 40.0, "mmau.n": 6, "avqa_val.accuracy": 1.0}
    assert stage.evaluate_selected(None, None, metrics, tmp_path) == {
        "selected.mmau.average": 40.0,
        "selected.mmau.n": 6,
    }


@pytest.mark.parametrize("name", PARAMS_FILES)
def test_each_paper_selects_as_it_states(name):
    """Paper 02 §4.1 selects on validation accuracy for SFT and GRPO; paper 03 states no selection."""
    recipes = grpo_params(name).recipes
    assert (recipes["p02"].selection, recipes["p03"].selection) == ("best_val", "final")
    assert recipes["p03"].eval_mmau_full_tables == ["table1"] and recipes["p02"].eval_mmau_full_tables == []


@pytest.mark.parametrize("name", PARAMS_FILES)
def test_the_champion_gate_reads_a_validation_metric_every_candidate_writes(name):
    """The ``register`` metric of each paper is one that its GRPO candidates' metrics files hold: the chosen
    checkpoint's ``selection.*`` for ``best_val`` rows, the evaluated model's own AVQA val accuracy for ``final``
    rows (no ``selection.*`` there); never a test-set number."""
    params = load_params(REPO_ROOT / name, sections=["grpo", "register"])
    grpo, register = params["grpo"], params["register"]
    for paper, spec in register.models.items():
        assert "avqa_val" in spec.metric, paper
        for candidate in spec.candidates:
            kind, row = candidate.split("/", 1)
            if kind != "grpo":
                continue
            row_spec = grpo.rows[row]
            assert row_spec.train and row_spec.paper == paper, candidate
            if grpo.recipes[row_spec.paper].selection == "final":
                assert spec.metric == "avqa_val.accuracy", candidate


def test_text_only_rows_read_their_manifest(tmp_path):
    """ARC-Easy records carry no clip (``audio: ""``): the row reads them and trains on the text alone."""
    from audioreason.training.grpo import grpo_dataset

    manifest = tmp_path / "arc_easy.jsonl"
    arc = [
        QARecord(f"q{i}", "arc_easy", "train", "", f"Which is a metal {i}?", ("iron", "wood"), "iron") for i in (0, 1)
    ]
    manifest.write_text("".join(json.dumps(r.to_json()) + "\n" for r in arc))
    cfg = dataclasses.replace(grpo_params(), manifests={**grpo_params().manifests, "arc_easy": str(manifest)})
    records, labels = stage.training_records(cfg, cfg.rows["grpo_arc_easy"].data)
    assert records == arc and labels is None
    spec = cfg.rows["qwen2_audio_grpo_arc_easy"]
    ds = grpo_dataset(records, cfg.recipes[spec.paper].prompt, with_audio=spec.with_audio)
    assert ds["audio"] == ["", ""] and ds["answer"] == ["iron", "iron"]


@pytest.mark.parametrize("name", PARAMS_FILES)
def test_paper_03_table_ii_rows(name):
    """TABLE II's Qwen2-Audio rows and the Qwen2.5-Omni ARC-Easy row, each beside the paper's numbers."""
    from audioreason.evaluation.paper_tables import paper_numbers

    cfg = grpo_params(name)
    expected = {
        "qwen2_audio_base": ("avqa", True, False, 52.7, 30.5),
        "qwen2_audio_grpo_avqa": ("avqa", True, True, 63.2, 44.6),
        "qwen2_audio_grpo_avqa_text_only": ("avqa", False, True, 58.8, 42.4),
        "qwen2_audio_grpo_arc_easy": ("arc_easy", False, True, 60.2, 42.2),
        "grpo_arc_easy": ("arc_easy", False, True, 68.2, 51.7),
    }
    for row, (data, with_audio, train, with_, without) in expected.items():
        spec = cfg.rows[row]
        assert (spec.paper, spec.table, spec.data, spec.with_audio, spec.train) == (
            "p03",
            "table2",
            data,
            with_audio,
            train,
        )
        paper = paper_numbers("p03", row)
        assert (paper["paper.mmau.average"], paper["paper.mmau_no_audio.average"]) == (with_, without), row
    qwen2_audio = {cfg.rows[r].init for r in expected if r.startswith("qwen2_audio")}
    assert qwen2_audio == {
        "outputs/instruct_base/qwen2_audio/model" if name == "params.yaml" else "Qwen/Qwen2-Audio-7B-Instruct"
    }
    assert cfg.rows["grpo_arc_easy"].init == cfg.rows["grpo_avqa"].init


def test_table_i_rows_record_the_test_full_files_as_inputs():
    cfg = grpo_params()
    full = [cfg.test_full.manifest, cfg.test_full.json]
    assert stage.row_deps(cfg, "grpo_avqa")[-2:] == full and stage.row_deps(cfg, "base")[-2:] == full
    assert not set(full) & set(stage.row_deps(cfg, "grpo_avqa_text_only"))
    assert stage.row_deps(cfg, "sightsound_r1") == [cfg.rows["sightsound_r1"].init, cfg.teacher_labels]
    assert stage.row_deps(cfg, "qwen2_audio_grpo_arc_easy") == [
        "outputs/instruct_base/qwen2_audio/model",
        "outputs/validate/arc_easy.jsonl",
    ]


def test_the_test_full_submission_holds_every_answer(tmp_path, monkeypatch):
    """Paper 03 TABLE I's Test-full: answers hidden, so the row writes the official-format file, and no score."""
    from audioreason.evaluation import mmau

    if not hasattr(mmau, "write_submission"):
        pytest.skip("audioreason.evaluation.mmau.write_submission is not there yet")
    import audioreason.evaluation.generate as generate

    items = [
        {"id": f"t{i}", "audio_id": f"a{i}.wav", "question": f"What is heard {i}?", "choices": ["dog", "cat"]}
        for i in range(3)
    ]
    (tmp_path / "mmau-test.json").write_text(json.dumps(items))
    records = [
        QARecord(it["id"], "mmau", "test", str(tmp_path / it["audio_id"]), it["question"], ("dog", "cat"), "dog")
        for it in items
    ]
    (tmp_path / "mmau_test.jsonl").write_text("".join(json.dumps(r.to_json()) + "\n" for r in records))
    completions = {"t0": "<answer>dog</answer>", "t1": "cat", "t2": "no idea"}
    monkeypatch.setattr(
        generate,
        "generate_answers",
        lambda model, processor, records, **kw: [
            {"id": r.id, "prompt": "", "completion": completions[r.id]} for r in records
        ],
    )
    cfg = dataclasses.replace(
        grpo_params(),
        test_full=dataclasses.replace(
            grpo_params().test_full, manifest=str(tmp_path / "mmau_test.jsonl"), json=str(tmp_path / "mmau-test.json")
        ),
    )
    tracker = NullTracker()
    metrics = stage.mmau_full_submission(None, None, cfg, "{question} {choices}", tmp_path, tracker)
    assert metrics == {"mmau_full.submitted": 3, "mmau_full.no_option": 1}
    submission = (tmp_path / stage.SUBMISSION).read_text()
    assert all(f'"{i}"' in submission for i in ("t0", "t1", "t2")) and '"dog"' in submission and '"cat"' in submission
    assert len(tracker.tags["test_full_sha256"]) == 64 and str(tmp_path / stage.SUBMISSION) in tracker.artifacts


def test_the_dvc_matrix_runs_every_row_and_the_report_waits_for_them():
    import yaml

    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    for name in PARAMS_FILES:
        assert stages["grpo"]["matrix"]["row"] == list(grpo_params(name).rows), name
    grpo = stages["grpo"]
    assert "grpo.test_full" in grpo["params"] and "outputs/instruct_base/qwen2_audio" in grpo["deps"]
    report = set(stages["report"]["deps"])
    assert {f"metrics/grpo/{row}.json" for row in grpo_params().rows} <= report
    register = load_params(REPO_ROOT / "params.yaml", sections=["register"])["register"]
    gated = {f"metrics/{c}.json" for spec in register.models.values() for c in spec.candidates}
    assert gated <= set(stages["register"]["deps"])
