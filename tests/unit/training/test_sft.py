"""Tests of the audio SFT collator on a tiny Qwen2-Audio: labels, features, and that the audio matters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audioreason.config import load_params
from audioreason.datasets.records import QARecord
from audioreason.models.factory import build_tiny_model, load_model
from audioreason.models.tokenizer import AUDIO, train_tokenizer
from audioreason.training.prompts import audio_messages, format_prompt
from audioreason.training.sft import IGNORE_INDEX, AudioSFTCollator, sft_dataset

REPO_ROOT = Path(__file__).resolve().parents[3]
SR = 16000
COMPLETION = "<answer>dog</answer>"
PROMPT = (
    "Which animal is heard? Please choose the answer from the following options: ['dog', 'cat']. "
    "Output the final answer in <answer> </answer>."
)


@pytest.fixture(scope="module")
def model_and_processor(tmp_path_factory):
    m = load_params(REPO_ROOT / "params.yaml", sections=["models"])["models"]
    cfg = dataclasses.replace(
        m,
        audio_encoder=dataclasses.replace(
            m.audio_encoder, d_model=16, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=32
        ),
        text_decoder=dataclasses.replace(
            m.text_decoder,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=256,
        ),
    )
    tok = train_tokenizer(["You are a helpful assistant.", PROMPT, COMPLETION, "Which animal?"] * 10, 300, 2)
    path = tmp_path_factory.mktemp("qwen2_audio")
    build_tiny_model("qwen2_audio", cfg, tok, path)
    model, processor = load_model(str(path))
    model.eval()
    return model, processor


def _noise(seed: int, seconds: float) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(SR * seconds))).astype(np.float32)


def _rows(a: np.ndarray, b: np.ndarray) -> list[dict]:
    return [
        {"prompt": "Which animal?", "completion": COMPLETION, "audio_array": a},
        {"prompt": PROMPT, "completion": COMPLETION, "audio_array": b},
    ]


@pytest.fixture(scope="module")
def batch(model_and_processor):
    _, processor = model_and_processor
    return AudioSFTCollator(processor)(_rows(_noise(0, 2.0), _noise(1, 1.5)))


def test_batch_keys_and_shapes(batch, model_and_processor):
    _, processor = model_and_processor
    assert set(batch) == {"input_ids", "attention_mask", "labels", "input_features", "feature_attention_mask"}
    n, width = batch["input_ids"].shape
    assert n == 2
    assert batch["labels"].shape == batch["attention_mask"].shape == (2, width)
    assert batch["input_ids"].dtype == batch["labels"].dtype == torch.long
    feature_size = processor.feature_extractor.feature_size
    assert tuple(batch["input_features"].shape) == (2, feature_size, 200)  # 2 s window, hop 160
    assert tuple(batch["feature_attention_mask"].shape) == (2, 200)
    # 2 s clip fills the window; 1.5 s clip covers 150 frames.
    assert batch["feature_attention_mask"].sum(-1).tolist() == [200, 150]


def test_labels_cover_exactly_the_completion(batch, model_and_processor):
    _, processor = model_and_processor
    tok = processor.tokenizer
    completion_ids = tok(COMPLETION + "<|im_end|>\n", add_special_tokens=False)["input_ids"]
    for i in range(2):
        labels, ids, attn = batch["labels"][i], batch["input_ids"][i], batch["attention_mask"][i]
        keep = labels != IGNORE_INDEX
        assert tok.decode(labels[keep]) == "<answer>dog</answer><|im_end|>\n"
        assert labels[keep].tolist() == completion_ids
        assert torch.equal(ids[keep], labels[keep])
        # The labelled span is the last tokens of the unpadded sequence; everything else is -100.
        length = int(attn.sum())
        assert attn[:length].all() and not attn[length:].any()  # right padding
        positions = keep.nonzero().flatten().tolist()
        assert positions == list(range(length - len(completion_ids), length))
        assert (labels[~keep] == IGNORE_INDEX).all()
        assert (ids[length:] == tok.pad_token_id).all()


def test_prompt_part_is_the_chat_template(batch, model_and_processor):
    _, processor = model_and_processor
    tok = processor.tokenizer
    audio_id = tok.convert_tokens_to_ids(AUDIO)
    for i, prompt in enumerate(["Which animal?", PROMPT]):
        keep = batch["labels"][i] == IGNORE_INDEX
        length = int(batch["attention_mask"][i].sum())
        prompt_ids = batch["input_ids"][i][:length][keep[:length]]
        text = tok.decode(prompt_ids)
        expected = processor.apply_chat_template(audio_messages(prompt), tokenize=False, add_generation_prompt=True)
        n_audio = int((prompt_ids == audio_id).sum())
        assert n_audio == [50, 37][i]  # 200 frames -> 50 tokens; 150 frames -> 37 tokens
        assert text.replace(AUDIO * n_audio, AUDIO) == expected
        assert text.endswith("<|im_start|>assistant\n")


def test_audio_changes_the_loss(model_and_processor):
    model, processor = model_and_processor
    collate = AudioSFTCollator(processor)
    with torch.no_grad():
        loss_a = model(**collate(_rows(_noise(0, 2.0), _noise(1, 1.5)))).loss.item()
        loss_b = model(**collate(_rows(_noise(2, 2.0), _noise(3, 1.5)))).loss.item()
    assert np.isfinite(loss_a) and np.isfinite(loss_b)
    assert abs(loss_a - loss_b) > 1e-6


def test_same_audio_same_loss(model_and_processor):
    model, processor = model_and_processor
    collate = AudioSFTCollator(processor)
    with torch.no_grad():
        first = model(**collate(_rows(_noise(0, 2.0), _noise(1, 1.5)))).loss.item()
        second = model(**collate(_rows(_noise(0, 2.0), _noise(1, 1.5)))).loss.item()
    assert first == second


def test_audio_path_rows_load_and_resample(tmp_path, model_and_processor):
    _, processor = model_and_processor
    t = np.arange(32000) / 32000
    x32 = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    wav = tmp_path / "clip.wav"
    sf.write(wav, np.stack([x32, np.zeros_like(x32)], axis=1), 32000, subtype="FLOAT")  # stereo 32 kHz
    collate = AudioSFTCollator(processor)
    from_file = collate([{"prompt": "Which animal?", "completion": COMPLETION, "audio": str(wav)}])
    # Channel 0, resampled to 16 kHz: one second -> 100 valid frames.
    assert from_file["feature_attention_mask"].sum().item() == 100
    t16 = np.arange(SR) / SR
    from_array = collate(
        [
            {
                "prompt": "Which animal?",
                "completion": COMPLETION,
                "audio_array": (0.3 * np.sin(2 * np.pi * 440 * t16)).astype(np.float32),
            }
        ]
    )
    assert torch.equal(from_file["input_ids"], from_array["input_ids"])
    # Same log-mel features up to resampling edge effects at the clip ends.
    a, b = from_file["input_features"][0, :, 2:98], from_array["input_features"][0, :, 2:98]
    assert (a - b).abs().mean().item() < 0.01
    assert not torch.equal(
        from_file["input_features"],
        collate([{"prompt": "Which animal?", "completion": COMPLETION, "audio_array": np.zeros(SR, np.float32)}])[
            "input_features"
        ],
    )


def test_sft_dataset_rows():
    r = QARecord("3", "avqa", "train", "/x/a.wav", "Which animal?", ("dog", "cat"), "dog")
    template = "{question} Options: {choices}."
    ds = sft_dataset([r], template, COMPLETION.replace("dog", "{answer}"))
    assert ds.column_names == ["id", "audio", "prompt", "completion"]
    row = ds[0]
    assert row == {
        "id": "3",
        "audio": "/x/a.wav",
        "prompt": "Which animal? Options: ['dog', 'cat'].",
        "completion": COMPLETION,
    }
    assert row["prompt"] == format_prompt(template, r)
