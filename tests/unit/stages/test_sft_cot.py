"""The sft_cot stage (paper 02 §3.3, §4.1) under a launcher: every rank trains; rank 0 alone selects, evaluates
and writes; the adapters sit on the language model only."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from safetensors import safe_open

from audioreason.config import load_params
from audioreason.datasets.avqa import read_avqa
from audioreason.datasets.records import write_manifest
from audioreason.models.factory import build_tiny_model
from audioreason.models.tokenizer import train_tokenizer
from audioreason.stages import sft_cot
from audioreason.tracking import NullTracker
from helpers import write_avqa

REPO_ROOT = Path(__file__).resolve().parents[3]
LORA_KINDS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    """``params.yaml``'s sft_cot section on a 2-layer Qwen2-Audio (widths 16 / 32), two AVQA questions, two steps."""
    root = tmp_path_factory.mktemp("sft_cot")
    params = load_params(REPO_ROOT / "params.yaml", sections=["models", "sft_cot"])
    m, section = params["models"], params["sft_cot"]
    models = dataclasses.replace(
        m,
        audio_encoder=dataclasses.replace(
            m.audio_encoder, d_model=16, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=32
        ),
        text_decoder=dataclasses.replace(
            m.text_decoder,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=512,
        ),
    )
    tok = train_tokenizer([section.prompt, section.label_target, "What is making the sound in the audio?"] * 10, 400, 2)
    build_tiny_model("qwen2_audio", models, tok, root / "base")
    records = read_avqa(write_avqa(root / "avqa") / "train_qa.json", root / "avqa" / "audio", "train").records
    write_manifest(records, root / "avqa_train.jsonl")
    trainer = {k: v for k, v in section.trainer.items() if k not in ("warmup_steps", "lr_scheduler_type")}
    trainer.update(max_steps=2, save_steps=1, logging_steps=1, per_device_train_batch_size=2)
    return dataclasses.replace(
        section,
        base=str(root / "base"),
        avqa_train=str(root / "avqa_train.jsonl"),
        lora=dataclasses.replace(section.lora, modules_to_save=[]),
        trainer=trainer,
    )


def _rank_zero_only(name: str):
    def called(*args, **kwargs):
        raise AssertionError(f"{name} ran on a rank other than 0")

    return called


def test_a_non_zero_rank_trains_and_returns_without_selecting_evaluating_or_writing(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(sft_cot, "is_main_process", lambda: False)
    for name in ("export_best_checkpoint", "validation_accuracy", "evaluate_suite", "finish_row", "plot_loss"):
        monkeypatch.setattr(sft_cot, name, _rank_zero_only(name))
    out = tmp_path / "sft_gt_label"
    metrics = sft_cot.run(cfg, "sft_gt_label", NullTracker(), out)
    assert metrics["steps"] == 2 and metrics["train_examples"] == 2 and metrics["deepspeed_zero_stage"] == -1
    assert "avqa_val.accuracy" not in metrics and "selection.step" not in metrics
    assert not (out / "model").exists() and not (out / "scores.json").exists() and not (out / "loss.png").exists()
    # The checkpoints this process saved (rank 0 of its own trainer) hold adapters on the language model only.
    with safe_open(str(out / "checkpoints" / "checkpoint-2" / "adapter_model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and all(".language_model.layers." in k for k in keys)
    assert {k.split(".lora_")[0].rsplit(".", 1)[-1] for k in keys} == LORA_KINDS
    assert {int(k.split(".layers.")[1].split(".")[0]) for k in keys} == {0, 1}


def test_rank_zero_selects_on_avqa_val_exports_the_merged_model_and_evaluates(cfg, tmp_path, monkeypatch):
    scored, evaluated = [], []
    monkeypatch.setattr(sft_cot, "validation_accuracy", lambda ev, prompt: lambda m, p: scored.append(1) or 50.0)

    def evaluate(model, processor, ev, prompt, out_dir, tracker, *, music_avqa, no_audio):
        evaluated.append(type(model).__name__)
        return {"avqa_val.accuracy": 50.0, "mmau.average": 30.0}

    monkeypatch.setattr(sft_cot, "evaluate_suite", evaluate)
    out = tmp_path / "sft_gt_label"
    metrics = sft_cot.run(cfg, "sft_gt_label", NullTracker(), out)
    assert scored == [1, 1] and metrics["selection.candidates"] == 2 and metrics["selection.step"] == 2
    assert evaluated == ["Qwen2AudioForConditionalGeneration"]
    assert (out / "model" / "model.safetensors").is_file() and not (out / "checkpoints").exists()
    with safe_open(str(out / "model" / "model.safetensors"), "pt") as f:
        assert not [k for k in f.keys() if "lora_" in k]  # adapters merged into the base
    assert (out / "scores.json").is_file() and (out / "loss.png").is_file()
    assert metrics["paper.avqa_val.accuracy"] == 86.5


def test_the_paper_launch_and_deepspeed_layout_are_batch_8_per_gpu_on_8_gpus():
    """Paper 02 §4.1: "per-GPU batch size 8" on "a single node with 8 NVIDIA A40 GPUs". DeepSpeed checks
    micro x accumulation x world = batch, and HF refuses a DeepSpeed value that differs from the trainer's."""
    import json

    from audioreason.config import SftCotConfig

    tiny, paper = (
        load_params(REPO_ROOT / f, sections=["sft_cot"])["sft_cot"] for f in ("params.yaml", "params.paper.yaml")
    )
    assert (
        isinstance(paper, SftCotConfig)
        and tiny.launch == "python -m audioreason.warm"
        and "deepspeed" not in tiny.trainer
    )
    world = int(paper.launch.split("--nproc_per_node=")[1].split()[0])
    ds = json.loads((REPO_ROOT / paper.trainer["deepspeed"]).read_text())
    assert world == 8 and paper.trainer["per_device_train_batch_size"] == 8
    assert ds["train_micro_batch_size_per_gpu"] == paper.trainer["per_device_train_batch_size"]
    assert ds["gradient_accumulation_steps"] == paper.trainer.get("gradient_accumulation_steps", 1) == 1
    assert ds["train_batch_size"] == ds["train_micro_batch_size_per_gpu"] * ds["gradient_accumulation_steps"] * world
    assert ds["bf16"]["enabled"] is paper.trainer["bf16"] is True
    # ZeRO-2: the frozen base is replicated on every GPU; only the adapters have gradients and optimizer states.
    assert ds["zero_optimization"]["stage"] == 2
