"""The distillation collator and trainer on tiny models of the real architectures."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors import safe_open

from audioreason.config import load_params
from audioreason.losses.divergences import aligned_kd_loss, hidden_kd_loss
from audioreason.losses.layer_map import LayerProjections, layer_map
from audioreason.models.factory import build_tiny_model, load_model
from audioreason.models.tokenizer import train_tokenizer
from audioreason.training.distill import (
    DistillationModule,
    DistillCollator,
    KDSettings,
    KDTrainer,
    LossWeights,
    output_width,
)
from audioreason.training.prompts import COTA_SYSTEM, cota_question, cota_response

REPO_ROOT = Path(__file__).resolve().parents[3]
PROMPT = "Audio description: {description}\nQuestion: {question}"
# Two tokenizers on one byte-level BPE whose added tokens differ at the same ids, as Qwen2.5-Omni-7B's
# (<|AUDIO|>, vision tokens at 151,646+) and Qwen3-8B's (<|object_ref_start|>, <think>, ... at the same ids).
STUDENT_ADDED = ["<|speech_pad|>", "<|music_pad|>", "<|sound_pad|>"]
TEACHER_ADDED = ["<think>", "</think>"]


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
    s_tok, t_tok = copy.deepcopy(tok), copy.deepcopy(tok)
    s_tok.add_tokens(STUDENT_ADDED, special_tokens=True)
    t_tok.add_tokens(TEACHER_ADDED, special_tokens=True)
    pair = {
        "student": build_tiny_model("qwen2_5_omni_thinker", cfg, s_tok, root / "pair_student")["path"],
        "teacher": build_tiny_model("qwen3", cfg, t_tok, root / "pair_teacher")["path"],
    }
    audio = root / "clip.wav"
    sf.write(audio, (0.2 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 300)).astype(np.float32), 16000)
    return {
        "student": paths["qwen2_5_omni_thinker"],
        "teacher": paths["qwen3"],
        "pair": pair,
        "audio": str(audio),
        "root": root,
        "base_vocab": len(tok),
    }


def batch_for(tiny, n=2, max_length=400):
    student, processor = load_model(tiny["student"])
    teacher, ttok = load_model(tiny["teacher"])
    collate = DistillCollator(processor, ttok, PROMPT, max_length)
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


def make_trainer(tiny, tmp_path, weights, layers="all", models=None, **training_args):
    from datasets import Dataset
    from transformers import TrainingArguments

    models = models or tiny
    student, processor = load_model(models["student"])
    teacher, ttok = load_model(models["teacher"])
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
        **training_args,
    )
    data = Dataset.from_list([row(i, tiny["audio"]) for i in range(2)])
    collate = DistillCollator(processor, ttok, PROMPT, 400)
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


# --------------------------------------------------------------------------- response tokens, shared logits


def test_response_tokens_are_checked_per_id_not_per_vocabulary(tiny):
    """Two tokenizers on one BPE with different added tokens at the same ids: the whole-vocabulary
    comparison refuses them, the per-response check accepts a plain response and names the id of a
    response token on which they differ."""
    student, processor = load_model(tiny["pair"]["student"])
    teacher, ttok = load_model(tiny["pair"]["teacher"])
    s_tok, n = processor.tokenizer, tiny["base_vocab"]
    assert s_tok.get_vocab() != ttok.get_vocab()  # what the stage used to require
    assert s_tok.convert_ids_to_tokens(n) == "<|speech_pad|>" and ttok.convert_ids_to_tokens(n) == "<think>"
    assert (output_width(student), output_width(teacher)) == (n + 3, n + 2)
    collate = DistillCollator(processor, ttok, PROMPT, 400, vocab_limit=n + 2)
    plain = collate([row(0, tiny["audio"]), row(1, tiny["audio"])])
    s_next = torch.gather(plain["input_ids"], 1, plain["student_positions"] + 1)
    t_next = torch.gather(plain["teacher_input_ids"], 1, plain["teacher_positions"] + 1)
    assert torch.equal(s_next[plain["response_mask"]], t_next[plain["response_mask"]])
    clash = row(7, tiny["audio"])
    clash["trace"] = dict(clash["trace"], summary="<|speech_pad|> The answer is (a) dog barking.")
    with pytest.raises(
        ValueError, match=rf"c7: response token id {n} is '<\|speech_pad\|>' to the student's .* '<think>'"
    ):
        collate([row(0, tiny["audio"]), clash])
    absent = row(8, tiny["audio"])  # the student's third added token: no token at all to the teacher
    absent["response"] = "It is <|sound_pad|>."
    with pytest.raises(ValueError, match=rf"c8: response token id {n + 2} is '<\|sound_pad\|>' .* and None"):
        collate([absent])


def test_a_response_id_beyond_the_shared_logits_is_refused(tiny):
    student, processor = load_model(tiny["pair"]["student"])
    _, ttok = load_model(tiny["pair"]["teacher"])
    n = tiny["base_vocab"]
    from audioreason.training.distill import check_response_tokens

    ids = processor.tokenizer("It is dog barking.", add_special_tokens=False)["input_ids"]
    check_response_tokens("c0", ids, processor.tokenizer, ttok, vocab_limit=n)
    with pytest.raises(ValueError, match=rf"c0: response token id {ids[0]} \(.*\) is beyond the {ids[0]} logits"):
        check_response_tokens("c0", ids, processor.tokenizer, ttok, vocab_limit=ids[0])


def test_top_kd_compares_the_logits_both_models_share(tiny, tmp_path):
    """Student head n + 3 wide, teacher head n + 2: L_top is the divergence over the first n + 2 ids, and a
    response id at n + 2 (a student-only row) is refused before any forward."""
    trainer, batch = make_trainer(
        tiny, tmp_path, LossWeights(top=1.0, layer=0.0, acoustic=0.0, sft=0.5), layers="top", models=tiny["pair"]
    )
    n = tiny["base_vocab"]
    _, terms = terms_of(trainer, batch)
    assert trainer.shared_vocab == trainer.kd_vocab_size == n + 2
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "input_features", "feature_attention_mask")}
    with torch.no_grad():
        s_logits = trainer.model.student(**inputs).logits
        t_logits = trainer.teacher(input_ids=batch["teacher_input_ids"], attention_mask=batch["teacher_attention_mask"])
    assert s_logits.shape[-1] == n + 3 and t_logits.logits.shape[-1] == n + 2
    expected = aligned_kd_loss(
        s_logits[..., : n + 2],
        t_logits.logits,
        batch["student_positions"],
        batch["teacher_positions"],
        batch["response_mask"],
        kind="jsd",
        chunk_size=16,
    )
    assert terms["loss_top"] == pytest.approx(float(expected), rel=1e-5)
    labels = batch["labels"].clone()
    first = int((labels[1] != -100).nonzero()[0])
    labels[1, first] = n + 2
    with pytest.raises(ValueError, match=rf"batch row 1: response token id {n + 2} is beyond the {n + 2} logits"):
        trainer.compute_loss(trainer.model, {**batch, "labels": labels})


# --------------------------------------------------------------------------- eq. 8


def _student_inputs(batch):
    return {k: batch[k] for k in ("input_ids", "attention_mask", "input_features", "feature_attention_mask")}


def test_decoder_hidden_states_are_the_embeddings_then_each_block_the_last_after_the_final_norm(tiny):
    """What eq. 8's "L_S decoder layers" index: ``hidden_states[i]``, i = 1..L_S, is block i's output
    (``hidden_states[0]`` the embeddings); the last is after the final RMSNorm, what the LM head reads."""
    student, _, _, _, batch = batch_for(tiny, n=1)
    lm = student.model.language_model
    blocks = []
    handles = [
        layer.register_forward_hook(lambda m, a, o: blocks.append(o[0] if isinstance(o, tuple) else o))
        for layer in lm.layers
    ]
    with torch.no_grad():
        out = student(**_student_inputs(batch), output_hidden_states=True)
    for h in handles:
        h.remove()
    n_layers = student.config.get_text_config().num_hidden_layers
    assert len(out.hidden_states) == n_layers + 1 == len(blocks) + 1
    for i in range(1, n_layers):
        torch.testing.assert_close(out.hidden_states[i], blocks[i - 1])
    torch.testing.assert_close(out.hidden_states[n_layers], lm.norm(blocks[-1]))
    torch.testing.assert_close(student.lm_head(out.hidden_states[n_layers]), out.logits)
    text = ~batch["audio_mask"]
    torch.testing.assert_close(out.hidden_states[0][text], lm.embed_tokens(batch["input_ids"])[text])


def perturbed(trainer):
    with torch.no_grad():
        for p in trainer.model.student.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return trainer


def test_acoustic_term_is_eq_8_over_the_decoder_layers_at_the_audio_positions(tiny, tmp_path):
    torch.manual_seed(0)
    trainer, batch = make_trainer(tiny, tmp_path, LossWeights(top=0.0, layer=0.0, acoustic=1.0, sft=1.0), layers="top")
    _, terms = terms_of(perturbed(trainer), batch)
    n_layers = trainer.model.student.config.get_text_config().num_hidden_layers  # L_S
    with torch.no_grad():
        h = trainer.model.student(**_student_inputs(batch), output_hidden_states=True).hidden_states
        h0 = trainer.snapshot(**_student_inputs(batch), output_hidden_states=True).hidden_states
    by_layer = [
        hidden_kd_loss(h0[i], h[i], batch["audio_mask"], kind="softmax", divergence="jsd")
        for i in range(1, n_layers + 1)
    ]
    assert terms["loss_acoustic"] == pytest.approx(float(sum(by_layer)), rel=1e-5) and terms["loss_acoustic"] > 0
    assert trainer.term_counts == {"acoustic": n_layers} and "loss_acoustic_encoder" not in terms
    assert trainer.tap is None  # no encoder hooks: eq. 8 has no encoder term
    assert trainer.snapshot.get_output_embeddings() is None  # S0 is the decoder alone: no LM head
    everywhere = torch.ones_like(batch["audio_mask"])
    assert float(sum(hidden_kd_loss(h0[i], h[i], everywhere, kind="softmax") for i in range(1, n_layers + 1))) != (
        pytest.approx(terms["loss_acoustic"], rel=1e-3)
    )  # the audio positions T_x only


def test_encoder_layer_kd_is_its_own_term_and_off_in_both_params_files(tiny, tmp_path):
    for name in ("params.yaml", "params.paper.yaml"):
        assert load_params(REPO_ROOT / name, sections=["distill"])["distill"].acoustic_encoder_layers is False
    torch.manual_seed(0)
    off, batch = make_trainer(tiny, tmp_path, LossWeights(top=0.0, layer=0.0, acoustic=0.05, sft=1.0), layers="top")
    loss_off, t_off = terms_of(perturbed(off), batch)
    on, _ = make_trainer(
        tiny, tmp_path, LossWeights(top=0.0, layer=0.0, acoustic=0.05, sft=1.0, acoustic_encoder=0.05), layers="top"
    )
    on.model.load_state_dict(off.model.state_dict())
    on.snapshot.load_state_dict(off.snapshot.state_dict())
    loss_on, t_on = terms_of(on, batch)
    encoder_layers = len(on.model.student.model.audio_tower.layers)
    assert on.term_counts == {"acoustic": 2, "acoustic_encoder": encoder_layers}
    assert t_on["loss_acoustic"] == pytest.approx(t_off["loss_acoustic"], rel=1e-6)
    assert t_on["loss_acoustic_encoder"] > 0
    assert loss_on - loss_off == pytest.approx(0.05 * t_on["loss_acoustic_encoder"], abs=1e-6)


def test_activation_checkpointing_is_applied_to_the_student(tiny, tmp_path):
    """``distill.trainer.gradient_checkpointing: true`` (paper scale): ``train()`` enables it on the module it
    trains, which hands it to the student's decoder layers; the loss and the gradients do not change."""
    weights = LossWeights(top=1.0, layer=0.05, acoustic=0.05, sft=0.5)
    torch.manual_seed(0)
    plain, batch = make_trainer(tiny, tmp_path, weights)
    checkpointed, _ = make_trainer(tiny, tmp_path, weights, gradient_checkpointing=True, save_strategy="no")
    assert checkpointed.train().global_step == 1
    assert (
        checkpointed.model.student.is_activation_checkpointing and not plain.model.student.is_activation_checkpointing
    )
    checkpointed.model.load_state_dict(plain.model.state_dict())
    losses, grads = [], []
    for trainer in (plain, checkpointed):
        trainer.model.train().zero_grad()
        loss = trainer.compute_loss(trainer.model, batch)
        loss.backward()
        losses.append(float(loss.detach()))
        grads.append(trainer.model.student.get_input_embeddings().weight.grad.clone())
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    torch.testing.assert_close(grads[0], grads[1])
