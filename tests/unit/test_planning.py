"""The GPU planner: parameter counts from meta-device models, ZeRO-aware memory, fits and fixes, layouts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from audioreason import planning as pl
from audioreason.config import load_params
from audioreason.models import paper_shape as ps

REPO_ROOT = Path(__file__).resolve().parents[2]
PAPER_PARAMS = REPO_ROOT / "params.paper.yaml"
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def paper_plan_a800():
    return {p.stage: p for p in pl.plan_params(PAPER_PARAMS, pl.gpu("a800-80g"), 8)}


def test_lora_adapters_are_r_times_in_plus_out_on_the_language_model_only():
    facts = pl.model_facts(ps.QWEN2_AUDIO)
    # Qwen2-Audio's LM: 32 layers, hidden 4096, MHA (k/v 4096 wide), SwiGLU 11008.
    per_layer = 4 * 8 * (4096 + 4096) + 3 * 8 * (4096 + 11008)
    assert pl.lora_parameters(facts, 8, LORA_TARGETS) == 32 * per_layer == 19_988_480
    # The Whisper encoder's q/k/v/out projections are not wrapped: only the decoder's Linear layers count.
    assert pl.lora_parameters(facts, 8, ["q_proj"]) == 32 * 8 * (4096 + 4096)
    assert pl.lora_parameters(facts, 16, LORA_TARGETS) == 2 * 19_988_480


def test_paper02_lora_sft_model_states_under_zero2_on_8_gpus(paper_plan_a800):
    plan = paper_plan_a800["sft_cot/sft_cot"]
    base, adapters = 8_397_094_912, 19_988_480  # meta-device count of Qwen2-Audio-7B-Instruct; the LoRA above
    assert (plan.total_params, plan.trainable_params, plan.zero, plan.layout) == (base + adapters, adapters, 2, "8x1x8")
    # bf16 weights of base + adapters; adapter gradients (2 B) and optimizer state (16 B) split over 8 GPUs.
    assert plan.memory.model_states == 2 * (base + adapters) + 18 * adapters // 8 == 16_879_140_864
    # No checkpointing: 8 x 1024 tokens x 32 layers x (18 h + 8 I) bytes; fp32 logits and their gradient.
    assert plan.memory.activations == 8 * 1024 * 32 * (18 * 4096 + 8 * 11008)
    assert plan.memory.logits == 8 * 1024 * 156_032 * 8
    assert plan.fits and plan.fix == "" and plan.steps == 2000
    assert plan.tokens_per_step == 64 * 1024


def test_paper01_distill_under_zero3_matches_deepspeeds_estimator(paper_plan_a800):
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs

    plan = paper_plan_a800["distill/layer_kd"]
    student, teacher = pl.model_facts(ps.QWEN2_5_OMNI), pl.model_facts(ps.QWEN3)
    projections = 28 * 4096 * 3584  # eq. 4 maps all 28 student layers; W_i: D_T=4096 -> D_S=3584, no bias
    trained = student.total + projections
    assert plan.trainable_params == trained == 8_931_813_888 + 411_041_792
    _, ds_gpu, _ = estimate_zero3_model_states_mem_needs(
        trained, student.largest_module, num_gpus_per_node=8, cpu_offload=False, cpu_offload_params=False
    )
    assert plan.memory.model_states == ds_gpu == 4 * 544_997_376 + 18 * trained // 8
    assert plan.memory.frozen == 2 * teacher.total  # the teacher: a bf16 replica on every GPU
    assert (plan.zero, plan.checkpointing, plan.layout, plan.seq) == (3, True, "1x4x8", 4096)
    # layer_ac_kd adds S0 (the thinker without its LM head) as a second frozen replica.
    ac = paper_plan_a800["distill/layer_ac_kd"]
    assert ac.memory.frozen == 2 * teacher.total + 2 * (student.total - 152_064 * 3584)
    skip = paper_plan_a800["distill/skip_kd"]
    assert skip.trainable_params == student.total + 4 * 4096 * 3584  # 1-in-7: student layers 7, 14, 21, 28


def test_zero2_convention_matches_deepspeeds_estimator_when_everything_trains():
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

    total = 7_000_000_000
    _, ds_gpu = estimate_zero2_model_states_mem_needs(total, num_gpus_per_node=8, cpu_offload=False)
    assert pl.model_state_bytes(total, total, 2, 8, 0) == ds_gpu
    assert pl.model_state_bytes(total, total, 0, 8, 0) == 20 * total
    assert pl.model_state_bytes(total, total, 1, 8, 0) == 4 * total + 2 * total
    with pytest.raises(ValueError, match="ZeRO stage must be 0, 1, 2 or 3"):
        pl.model_state_bytes(total, total, 4, 8, 0)


def test_activation_formula_is_korthikanti_eq1_for_a_gpt_layer():
    gpt = pl.Tower(layers=1, hidden=1024, intermediate=4096, heads=16, gated=False)
    s, h, a = 2048, 1024, 16
    assert pl.layer_activation_bytes(gpt, s, s, eager_attention=True) == s * h * (34 + 5 * a * s // h)
    full = pl.stack_activation_bytes(dataclasses.replace(gpt, layers=24), 2, s, checkpointing=False)
    ckpt = pl.stack_activation_bytes(dataclasses.replace(gpt, layers=24), 2, s, checkpointing=True)
    assert full == 24 * 2 * s * 34 * h
    assert ckpt == 24 * 2 * 2 * s * h + 2 * s * 34 * h


def test_a_stage_that_does_not_fit_a_small_gpu_is_flagged_with_the_fix():
    plans = {p.stage: p for p in pl.plan_params(PAPER_PARAMS, pl.gpu("a40-48g"), 8)}
    sft = plans["sft_cot/sft_cot"]
    assert not sft.fits and sft.peak_gib > 48
    assert sft.fix == "gradient_checkpointing: true"
    assert any("with the fix" in n and "ZeRO 2" in n for n in sft.notes)
    grpo = plans["grpo/grpo_avqa"]
    assert not grpo.fits and "gradient_checkpointing: true" in grpo.fix
    assert "per_device_train_batch_size 2 x gradient_accumulation_steps 2" in grpo.fix  # global batch 32 kept
    assert plans["distill/layer_ac_kd"].fix == "none found"


def test_layout_keeps_the_global_batch_and_reads_the_deepspeed_config(tmp_path):
    params = load_params(PAPER_PARAMS, sections=["sft_cot"])["sft_cot"]
    four = pl.resolve_layout(params.trainer, params.launch, 4, "sft_cot", root=REPO_ROOT)
    assert (four.stage, four.micro, four.accumulation, four.global_batch) == (2, 8, 2, 64)
    (tmp_path / "ds.json").write_text(
        json.dumps({"zero_optimization": {"stage": 3}, "train_micro_batch_size_per_gpu": 4})
    )
    with pytest.raises(ValueError, match="sft_cot.trainer.per_device_train_batch_size is 8 but .*ds.json sets"):
        pl.resolve_layout({**params.trainer, "deepspeed": "ds.json"}, params.launch, 8, "sft_cot", root=tmp_path)
    with pytest.raises(ValueError, match="sft_cot.trainer.deepspeed: .*missing.json does not exist"):
        pl.resolve_layout({**params.trainer, "deepspeed": "missing.json"}, params.launch, 8, "sft_cot", root=tmp_path)
    with pytest.raises(ValueError, match="global batch 64 is not a multiple of 8 per GPU x 3 GPUs"):
        pl.resolve_layout(params.trainer, params.launch, 3, "sft_cot", root=REPO_ROOT)


def test_unknown_gpu_lists_the_known_ones():
    with pytest.raises(
        ValueError, match="unknown GPU 'v100'; known: a800-80g, a40-48g, a6000-48g, h200-141g, h100-80g"
    ):
        pl.gpu("v100")


def test_time_is_flops_over_peak_at_the_stated_mfu(paper_plan_a800):
    plan = paper_plan_a800["sft_cot/sft_cot"]
    base, adapters = 8_397_094_912, 19_988_480
    flops = 8 * 1024 * (4 * (base + adapters) + 2 * adapters)  # no checkpointing, per GPU per step
    assert plan.step_seconds == pytest.approx(flops / (312e12 * pl.MFU))
    assert plan.total_hours == pytest.approx(2000 * plan.step_seconds / 3600)
