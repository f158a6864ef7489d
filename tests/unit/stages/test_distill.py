"""The distill stage (paper 01): the resume rule, and a student and teacher that share a BPE, not its added tokens."""

from __future__ import annotations

import json
from pathlib import Path

from audioreason.stages.distill import RESUME_FILE, params_fingerprint, resumable_run

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_a_checkpoint_resumes_only_under_the_params_it_was_trained_with(tmp_path):
    ckpt = tmp_path / "checkpoints"
    (ckpt / "checkpoint-4").mkdir(parents=True)
    params = {"distill.trainer.max_steps": 100}
    (ckpt / RESUME_FILE).write_text(json.dumps({"run_id": "abc", "params": params_fingerprint(params)}))
    assert resumable_run(ckpt, params) == "abc" and ckpt.is_dir()
    assert resumable_run(ckpt, {"distill.trainer.max_steps": 160}) is None
    assert not ckpt.exists()  # a checkpoint of other params is discarded, not resumed
    (ckpt).mkdir()
    (ckpt / RESUME_FILE).write_text(json.dumps({"run_id": "abc", "params": params_fingerprint(params)}))
    assert resumable_run(ckpt, params) is None  # nothing saved yet: nothing to resume


def test_a_student_and_teacher_that_differ_in_added_tokens_train_a_row(tmp_path):
    """Paper 01's pair shares the Qwen2 BPE, not its added tokens (different special tokens at the same ids,
    152,064 vs 151,936 logits): the row trains, on the logits both models share, instead of being refused."""
    import copy
    import dataclasses

    import numpy as np
    import soundfile as sf

    from audioreason.config import load_params
    from audioreason.models.factory import build_tiny_model
    from audioreason.models.tokenizer import train_tokenizer
    from audioreason.stages.distill import build_trainer, train_row
    from audioreason.tracking import NullTracker
    from audioreason.training.prompts import COTA_SYSTEM

    params = load_params(REPO_ROOT / "params.yaml", sections=["models", "distill"])
    m = params["models"]
    small = dict(intermediate_size=64, num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512)
    models = dataclasses.replace(
        m,
        audio_encoder=dataclasses.replace(
            m.audio_encoder, d_model=16, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=32
        ),
        text_decoder=dataclasses.replace(m.text_decoder, hidden_size=32, num_hidden_layers=2, **small),
        teacher_text_decoder=dataclasses.replace(m.teacher_text_decoder, hidden_size=48, num_hidden_layers=3, **small),
    )
    audio = tmp_path / "clip.wav"
    sf.write(audio, (0.2 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 300)).astype(np.float32), 16000)
    record = {
        "id": "c0",
        "audio": str(audio),
        "description": "A dog barks twice.",
        "question": "Which sound source can be heard?",
        "choices": ["dog barking", "cat meowing"],
        "answer": "dog barking",
        "response": "It is dog barking. The answer is A.",
        "trace": {"planning": "Listen.", "caption": "A dog barks.", "reasoning": "Barks.", "summary": "(a)."},
    }
    train = tmp_path / "d_text.jsonl"
    train.write_text(json.dumps(record) + "\n")
    tok = train_tokenizer([COTA_SYSTEM, json.dumps(record)] * 4, vocab_size=300, min_frequency=2)
    s_tok, t_tok = copy.deepcopy(tok), copy.deepcopy(tok)
    s_tok.add_tokens(["<|AUDIO_OUT|>", "<|vision_pad|>", "<|image_pad|>"], special_tokens=True)
    t_tok.add_tokens(["<|object_ref_start|>", "<|object_ref_end|>"], special_tokens=True)
    assert s_tok.get_vocab() != t_tok.get_vocab()  # what the stage used to refuse with a ConfigError
    cfg = dataclasses.replace(
        params["distill"],
        student=build_tiny_model("qwen2_5_omni_thinker", models, s_tok, tmp_path / "student")["path"],
        teacher=build_tiny_model("qwen3", models, t_tok, tmp_path / "teacher")["path"],
        train=str(train),
        trainer={"max_steps": 1, "per_device_train_batch_size": 1, "use_cpu": True, "report_to": "none"},
    )
    trainer = build_trainer(cfg, "layer_ac_kd", tmp_path / "built", NullTracker())[0]
    assert trainer.shared_vocab == len(tok) + 2 and trainer.data_collator.vocab_limit == len(tok) + 2
    assert trainer.weights.acoustic == cfg.alpha_ac and trainer.weights.acoustic_encoder == 0.0
    _, _, metrics = train_row(cfg, "layer_ac_kd", tmp_path / "row", NullTracker())
    assert metrics["steps"] == 1 and metrics["layer_pairs"] == 2 and np.isfinite(metrics["train_loss"])
    assert (tmp_path / "row" / "model" / "model.safetensors").is_file()
