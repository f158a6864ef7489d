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
from audioreason.training.sft import (
    IGNORE_INDEX,
    LANGUAGE_MODEL,
    AudioSFTCollator,
    build_lora,
    language_model_name,
    sft_dataset,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
SR = 16000
COMPLETION = "<answer>dog</answer>"
PROMPT = (
    "Which animal is heard? Please choose the answer from the following options: ['dog', 'cat']. "
    "Output the final answer in <answer> </answer>."
)


def save_tiny_qwen2_audio(path: Path, layers: int = 1) -> Path:
    """A random-init Qwen2-Audio of ``layers`` encoder and decoder layers (widths 16 / 32) saved to ``path``."""
    m = load_params(REPO_ROOT / "params.yaml", sections=["models"])["models"]
    cfg = dataclasses.replace(
        m,
        audio_encoder=dataclasses.replace(
            m.audio_encoder, d_model=16, encoder_layers=layers, encoder_attention_heads=2, encoder_ffn_dim=32
        ),
        text_decoder=dataclasses.replace(
            m.text_decoder,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=layers,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=256,
        ),
    )
    tok = train_tokenizer(["You are a helpful assistant.", PROMPT, COMPLETION, "Which animal?"] * 10, 300, 2)
    build_tiny_model("qwen2_audio", cfg, tok, path)
    return path


@pytest.fixture(scope="module")
def model_and_processor(tmp_path_factory):
    model, processor = load_model(str(save_tiny_qwen2_audio(tmp_path_factory.mktemp("qwen2_audio"))))
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


# --------------------------------------------------------------------------- LoRA on the language model only

LORA_KINDS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")  # attention, then MLP


def lora_wrapped(model) -> list[str]:
    """The names of the modules PEFT gave an adapter."""
    return sorted(n for n, module in model.named_modules() if hasattr(module, "lora_A"))


def assert_lora_on_the_language_model_only(wrapped: list[str], decoder_layers: int) -> None:
    """Paper 02 §3.3 / §4.1: none in the audio encoder or the projector, all seven kinds in every decoder layer."""
    assert not [n for n in wrapped if "audio_tower" in n or "multi_modal_projector" in n]
    prefix = "base_model.model.model.language_model.layers"
    expected = {
        f"{prefix}.{i}.{'self_attn' if kind in LORA_KINDS[:4] else 'mlp'}.{kind}"
        for i in range(decoder_layers)
        for kind in LORA_KINDS
    }
    assert set(wrapped) == expected


@pytest.fixture(scope="module")
def two_layer_dir(tmp_path_factory) -> Path:
    return save_tiny_qwen2_audio(tmp_path_factory.mktemp("qwen2_audio_2"), layers=2)


@pytest.mark.parametrize("params_file", ["params.yaml", "params.paper.yaml"])
def test_sft_cot_lora_wraps_the_language_model_and_not_the_audio_encoder(two_layer_dir, params_file):
    from peft import get_peft_model

    lora = load_params(REPO_ROOT / params_file, sections=["sft_cot"])["sft_cot"].lora
    assert tuple(lora.target_modules) == LORA_KINDS
    model, _ = load_model(str(two_layer_dir))
    # The Whisper encoder has q_proj / k_proj / v_proj too: PEFT's suffix match alone would wrap them.
    assert {n.rsplit(".", 1)[-1] for n, _ in model.named_modules() if ".audio_tower." in n} >= {"q_proj", "v_proj"}
    peft_model = get_peft_model(model, build_lora(lora, model))
    assert_lora_on_the_language_model_only(lora_wrapped(peft_model), decoder_layers=2)
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("language_model" in n or n.startswith("base_model.model.lm_head") for n in trainable)


def test_lora_without_a_model_names_the_audio_lms_language_model(two_layer_dir):
    """``ser_finetune`` builds its adapters before loading the base: the same restriction applies."""
    from peft import get_peft_model

    from audioreason.config import LoraConfigSection

    lora = LoraConfigSection(r=4, alpha=8, dropout=0.0, target_modules=list(LORA_KINDS), modules_to_save=[])
    model, _ = load_model(str(two_layer_dir))
    assert language_model_name(model) == LANGUAGE_MODEL
    assert_lora_on_the_language_model_only(lora_wrapped(get_peft_model(model, build_lora(lora))), decoder_layers=2)


def test_paper_shape_qwen2_audio_lora_sits_on_its_32_decoder_layers_only():
    """Qwen2-Audio-7B-Instruct at its published shape (meta device, no weights) with ``params.paper.yaml``'s
    adapters: 7 kinds x 32 decoder layers, none of the 32 Whisper layers' q/k/v, nor the projector."""
    paper_shape = pytest.importorskip("audioreason.models.paper_shape")
    from peft import get_peft_model

    model = paper_shape.build_model(paper_shape.QWEN2_AUDIO, device="meta")
    assert model.config.text_config.num_hidden_layers == 32 and model.config.audio_config.encoder_layers == 32
    lora = load_params(REPO_ROOT / "params.paper.yaml", sections=["sft_cot"])["sft_cot"].lora
    peft_model = get_peft_model(model, build_lora(lora, model))
    assert_lora_on_the_language_model_only(lora_wrapped(peft_model), decoder_layers=32)
    # r 8 over (4096 -> 4096) x 4 attention and (4096 <-> 11008) x 3 MLP projections, 32 layers (paper 02 §4.1).
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert trainable == 32 * 8 * (4 * (4096 + 4096) + 3 * (4096 + 11008)) == 19_988_480
