"""Tests of the tiny-model factory: build, save, load and forward every architecture."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoProcessor, GenerationConfig, Qwen2Config

from audioreason.config import load_params
from audioreason.models import tokenizer as tk
from audioreason.models.factory import BUILDERS, build_tiny_model, load_model
from audioreason.training.prompts import audio_messages

REPO_ROOT = Path(__file__).resolve().parents[3]
SR = 16000
ARCH = {
    "qwen2_audio": "Qwen2AudioForConditionalGeneration",
    "qwen2_5_omni_thinker": "Qwen2_5OmniThinkerForConditionalGeneration",
    "qwen3": "Qwen3ForCausalLM",
}
AUDIO_MODELS = ["qwen2_audio", "qwen2_5_omni_thinker"]


@pytest.fixture(scope="module")
def tiny_cfg():
    """params.yaml's models section, made even smaller (chunk 2 s, hop 160 kept)."""
    m = load_params(REPO_ROOT / "params.yaml", sections=["models"])["models"]
    return dataclasses.replace(
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


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_cfg, tokenizer) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("models")
    return {name: build_tiny_model(name, tiny_cfg, tokenizer, root / name) for name in BUILDERS}


def _sine(seconds: float = 2.0, f: float = 440.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_build_summary_and_files(built, name):
    info = built[name]
    assert info["name"] == name
    assert info["architecture"] == ARCH[name]
    assert info["parameters"] > 0
    path = Path(info["path"])
    config = json.loads((path / "config.json").read_text())
    assert config["architectures"] == [ARCH[name]]
    assert (path / "tokenizer_config.json").is_file()
    if name in AUDIO_MODELS:
        assert (path / "preprocessor_config.json").is_file() or (path / "processor_config.json").is_file()


@pytest.mark.parametrize("name", list(BUILDERS))
def test_load_model_round_trip(built, tiny_cfg, tokenizer, name):
    info = built[name]
    model, proc = load_model(info["path"])
    assert type(model).__name__ == ARCH[name]
    assert sum(p.numel() for p in model.parameters()) == info["parameters"]
    # The same seed rebuilds the same random init: the checkpoint holds exactly those tensors.
    make_config, cls = BUILDERS[name]
    torch.manual_seed(tiny_cfg.seed)
    fresh = cls(make_config(tiny_cfg, tokenizer))
    loaded_sd, fresh_sd = model.state_dict(), fresh.state_dict()
    assert loaded_sd.keys() == fresh_sd.keys()
    for key, value in fresh_sd.items():
        assert torch.equal(loaded_sd[key], value), key
    assert model.dtype == torch.float32
    gen = GenerationConfig.from_pretrained(info["path"])
    assert gen.pad_token_id == 0
    assert list(gen.eos_token_id) == [tokenizer.convert_tokens_to_ids(tk.IM_END), 0]
    if name == "qwen3":
        assert type(proc).__name__ == "Qwen2Tokenizer"
        assert len(proc) == len(tokenizer)
    else:
        assert type(proc).__name__ == "Qwen2AudioProcessor"
        assert model.config.audio_token_index == tokenizer.convert_tokens_to_ids(tk.AUDIO)


def test_qwen3_forward(built, tokenizer):
    model, tok = load_model(built["qwen3"]["path"])
    model.eval()
    enc = tok(["<answer>dog barking</answer>"], return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits
    assert logits.shape == (1, enc["input_ids"].shape[1], len(tokenizer))


@pytest.mark.parametrize("name", AUDIO_MODELS)
def test_audio_processor_and_forward(built, tiny_cfg, tokenizer, name):
    path = built[name]["path"]
    proc = AutoProcessor.from_pretrained(path)
    fe = proc.feature_extractor
    assert (fe.chunk_length, fe.hop_length, fe.sampling_rate) == (2, 160, SR)
    assert fe.feature_size == tiny_cfg.feature_extractor.feature_size
    text = proc.apply_chat_template(audio_messages("Which sound?"), tokenize=False, add_generation_prompt=True)
    enc = proc(text=[text], audio=[_sine()], sampling_rate=SR, return_tensors="pt")
    assert tuple(enc["input_features"].shape) == (1, tiny_cfg.feature_extractor.feature_size, 200)
    assert tuple(enc["feature_attention_mask"].shape) == (1, 200)
    audio_id = tokenizer.convert_tokens_to_ids(tk.AUDIO)
    assert int((enc["input_ids"] == audio_id).sum()) == 50
    model, _ = load_model(path)
    model.eval()
    with torch.no_grad():
        out = model(**enc)
    assert tuple(out.logits.shape) == (1, enc["input_ids"].shape[1], len(tokenizer))
    assert torch.isfinite(out.logits).all()


def test_load_model_rejects_unsupported_architecture(tmp_path):
    path = tmp_path / "not-ours"
    Qwen2Config(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        vocab_size=64,
        architectures=["Qwen2ForCausalLM"],
    ).save_pretrained(path)
    with pytest.raises(ValueError) as excinfo:
        load_model(str(path))
    assert str(path) in str(excinfo.value)
    assert "Qwen2ForCausalLM" in str(excinfo.value)


def test_load_model_rejects_config_without_architecture(tmp_path):
    path = tmp_path / "no-arch"
    Qwen2Config(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        vocab_size=64,
    ).save_pretrained(path)
    with pytest.raises(ValueError, match="None"):
        load_model(str(path))


def test_full_omni_checkpoint_loads_as_its_thinker(built, tmp_path):
    """Paper 01's student is the thinker of Qwen/Qwen2.5-Omni-7B, stored under ``thinker.`` in the full checkpoint."""
    from safetensors.torch import save_file
    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import Qwen2_5OmniConfig

    thinker, processor = load_model(built["qwen2_5_omni_thinker"]["path"])
    full = Qwen2_5OmniConfig(thinker_config=thinker.config.to_dict())
    full.architectures = ["Qwen2_5OmniModel"]
    full.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    weights = {f"thinker.{k}": v.clone().contiguous() for k, v in thinker.state_dict().items()}
    weights["talker.model.embed_tokens.weight"] = torch.zeros(4, 2)  # the talker is not read
    save_file(weights, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    loaded, _ = load_model(str(tmp_path))
    assert type(loaded).__name__ == "Qwen2_5OmniThinkerForConditionalGeneration"
    for (k, a), (_, b) in zip(thinker.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
