"""The distillation collator and trainer on tiny models of the real architectures."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors import safe_open

from audioreason.config import load_params
from audioreason.losses.layer_map import LayerProjections, layer_map
from audioreason.models.factory import build_tiny_model, load_model
from audioreason.models.tokenizer import train_tokenizer
from audioreason.training.distill import DistillationModule, DistillCollator, KDSettings, KDTrainer, LossWeights
from audioreason.training.prompts import COTA_SYSTEM, cota_question, cota_response

REPO_ROOT = Path(__file__).resolve().parents[3]


def row(i: int, audio: str) -> dict:
    return {
        "id": f"c{i}",
        "audio": audio,
        "description": f"A dog barks {i} times over a quiet room tone.",
        "question": "Which sound source can be heard?",
        "choices": ["dog barking", "cat meowing"],
        "answer": "dog barking",
        "response": "Based on the audio, it is dog barking. The answer is A.",
        "trace": {
            "planning": "Listen for the source.",
            "caption": "A dog barks.",
            "reasoning": "Barking matches dog barking.",
            "summary": "The answer is (a) dog barking.",
        },
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    m = load_params(REPO_ROOT / "params.yaml", sections=["models"])["models"]
    small = dict(intermediate_size=64, num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512)
    cfg = dataclasses.replace(
        m,
        audio_encoder=dataclasses.replace(
            m.audio_encoder, d_model=16, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=32
        ),
        text_decoder=dataclasses.replace(m.text_decoder, hidden_size=32, num_hidden_layers=2, **small),
        teacher_text_decoder=dataclasses.replace(m.teacher_text_decoder, hidden_size=48, num_hidden_layers=3, **small),
    )
    root = tmp_path_factory.mktemp("distill")
    corpus = [
        COTA_SYSTEM,
        cota_response(row(0, "")),
        cota_question("Which sound source can be heard?", ["dog barking", "cat meowing"]),
    ] * 5
    tok = train_tokenizer(corpus + ["Audio description: A dog barks 3 times."] * 3, vocab_size=400, min_frequency=2)
    paths = {n: build_tiny_model(n, cfg, tok, root / n)["path"] for n in ("qwen2_5_omni_thinker", "qwen3")}
    audio = root / "clip.wav"
    sf.write(audio, (0.2 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 300)).astype(np.float32), 16000)
    return {"student": paths["qwen2_5_omni_thinker"], "teacher": paths["qwen3"], "audio": str(audio), "root": root}


def batch_for(tiny, n=2, max_length=400):
    student, processor = load_model(tiny["student"])
    teacher, ttok = load_model(tiny["teacher"])
    collate = DistillCollator(processor, ttok, "Audio description: {description}\nQuestion: {question}", max_length)
    return student, processor, teacher, ttok, collate([row(i, tiny["audio"]) for i in range(n)])


def test_collator_aligns_teacher_and_student_on_the_response(tiny):
    _, processor, _, _, b = batch_for(tiny)
    mask = b["response_mask"]
    s_next = torch.gather(b["input_ids"], 1, (b["student_positions"] + 1).clamp(max=b["input_ids"].shape[1] - 1))
    t_next = torch.gather(
        b["teacher_input_ids"], 1, (b["teacher_positions"] + 1).clamp(max=b["teacher_input_ids"].shape[1] - 1)
    )
    assert torch.equal(s_next[mask], t_next[mask])  # both positions predict the same response token
    labels = b["labels"][0][b["labels"][0] != -100]
    assert torch.equal(labels, s_next[0][mask[0]])
    assert (
        int(b["audio_mask"].sum(1)[0]) == 25
    )  # 2 s window: 200 mel frames -> 100 encoder steps -> 25 after the thinker's pooling
    assert (b["teacher_input_ids"] == processor.tokenizer.convert_tokens_to_ids("<|AUDIO|>")).sum() == 0


def test_collator_truncates_the_response_and_refuses_no_room(tiny):
    _, processor, _, ttok, full = batch_for(tiny, n=1)
    n_resp = int(full["response_mask"].sum())
    longest_prompt = max(int(full["student_positions"][0, 0]), int(full["teacher_positions"][0, 0])) + 1
    _, _, _, _, cut = batch_for(tiny, n=1, max_length=longest_prompt + n_resp - 10)
    assert int(cut["response_mask"].sum()) == n_resp - 10
    assert cut["teacher_input_ids"].shape[1] <= longest_prompt + n_resp - 10
    with pytest.raises(ValueError, match="no room for the response"):
        DistillCollator(processor, ttok, "{description} {question}", 20)([row(0, tiny["audio"])])


def make_trainer(tiny, tmp_path, weights, layers="all"):
    from datasets import Dataset
    from transformers import TrainingArguments

    student, processor = load_model(tiny["student"])
    teacher, ttok = load_model(tiny["teacher"])
    pairs = layer_map(layers, 2, 3, 1)
    module = DistillationModule(student, LayerProjections(pairs, 48, 32))
    args = TrainingArguments(
        output_dir=str(tmp_path / "ckpt"),
        use_cpu=True,
        report_to="none",
        max_steps=1,
        per_device_train_batch_size=2,
        remove_unused_columns=False,
        learning_rate=1e-2,
    )
    data = Dataset.from_list([row(i, tiny["audio"]) for i in range(2)])
    collate = DistillCollator(processor, ttok, "Audio description: {description}\nQuestion: {question}", 400)
    trainer = KDTrainer(
        model=module,
        args=args,
        train_dataset=data,
        data_collator=collate,
        teacher=teacher,
        weights=weights,
        kd=KDSettings("jsd", 0.5, 1.0, "softmax", 16),
    )
    return trainer, collate([row(i, tiny["audio"]) for i in range(2)])


def terms_of(trainer, batch):
    trainer._terms = {}
    loss = trainer.compute_loss(trainer.model, batch)
    return float(loss.detach()), {k: v[0] for k, v in trainer._terms.items()}


def test_alpha_ac_zero_removes_exactly_the_acoustic_term(tiny, tmp_path):
    on, batch = make_trainer(tiny, tmp_path, LossWeights(top=1.0, layer=0.05, acoustic=0.05, sft=0.5))
    # perturb the student so that it differs from its snapshot S0
    with torch.no_grad():
        for p in on.model.student.parameters():
            p.add_(0.01 * torch.randn_like(p))
    loss_on, t_on = terms_of(on, batch)
    off, _ = make_trainer(tiny, tmp_path, LossWeights(top=1.0, layer=0.05, acoustic=0.0, sft=0.5))
    off.model.load_state_dict(on.model.state_dict())
    loss_off, t_off = terms_of(off, batch)
    assert off.snapshot is None and "loss_acoustic" not in t_off and t_on["loss_acoustic"] > 0
    for k in ("loss_sft", "loss_top", "loss_layer"):
        assert t_on[k] == pytest.approx(t_off[k], rel=1e-6)
    assert loss_on - loss_off == pytest.approx(0.05 * t_on["loss_acoustic"], abs=1e-6)
    expected = 0.5 * t_on["loss_sft"] + t_on["loss_top"] + 0.05 * t_on["loss_layer"] + 0.05 * t_on["loss_acoustic"]
    assert loss_on == pytest.approx(expected, rel=1e-5)


def test_acoustic_term_is_zero_against_an_unchanged_snapshot(tiny, tmp_path):
    trainer, batch = make_trainer(tiny, tmp_path, LossWeights(top=0.0, layer=0.0, acoustic=1.0, sft=1.0), layers="top")
    _, terms = terms_of(trainer, batch)
    assert terms["loss_acoustic"] == pytest.approx(0.0, abs=1e-6)
    assert "loss_top" not in terms and "loss_layer" not in terms


def test_layer_kd_trains_the_projections(tiny, tmp_path):
    trainer, batch = make_trainer(tiny, tmp_path, LossWeights(top=1.0, layer=1.0, acoustic=0.0, sft=1.0))
    loss = trainer.compute_loss(trainer.model, batch)
    loss.backward()
    grads = [p.grad for p in trainer.model.projections.parameters()]
    assert len(grads) == 2 and all(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in trainer.teacher.parameters())


def test_exported_student_has_no_projections(tiny, tmp_path):
    trainer, _ = make_trainer(tiny, tmp_path, LossWeights(top=1.0, layer=0.05, acoustic=0.0, sft=0.5))
    assert any(k.startswith("projections.") for k in trainer.model.state_dict())
    trainer.model.export(tmp_path / "out", trainer.data_collator.processor)
    with safe_open(str(tmp_path / "out" / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and not any("projections" in k or "maps." in k for k in keys)
    reloaded, _ = load_model(str(tmp_path / "out"))
    assert type(reloaded).__name__ == "Qwen2_5OmniThinkerForConditionalGeneration"
