"""The transformers backend on tiny checkpoints of the real architectures (text-only and audio)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.config import ConfigError, TeacherSpec, load_params
from audioreason.models.factory import build_tiny_model
from audioreason.models.tokenizer import train_tokenizer
from audioreason.teachers.backends import build_backend
from audioreason.teachers.base import BackendError, ChatRequest, SamplingParams, user_turn

REPO_ROOT = Path(__file__).resolve().parents[3]
CORPUS = ["You are a helpful assistant.", "Describe the audio.", "A dog barks twice.", "<answer>yes</answer>"] * 10


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
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
        ),
    )
    tok = train_tokenizer(CORPUS, vocab_size=300, min_frequency=2)
    root = tmp_path_factory.mktemp("ckpt")
    return {name: Path(build_tiny_model(name, cfg, tok, root / name)["path"]) for name in ("qwen2_audio", "qwen3")}


def backend(path: Path):
    return build_backend(TeacherSpec("transformers", str(path), 4, {"device": "cpu", "dtype": "float32"}))


@pytest.fixture()
def clip(tmp_path) -> str:
    path = tmp_path / "clip.wav"
    t = np.arange(16000) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    return str(path)


def test_text_model_generates_n_samples_per_request(checkpoints):
    b = backend(checkpoints["qwen3"])
    reqs = [ChatRequest(item_id=f"t{i}", messages=user_turn(f"Describe the audio {i}.")) for i in range(3)]
    gens = b.generate(reqs, SamplingParams(n=2, temperature=1.0, max_tokens=5, seed=1))
    assert len(gens) == 3 and all(len(g.texts) == 2 for g in gens)
    assert all(isinstance(t, str) for g in gens for t in g.texts)
    assert all(g.prompt_tokens > 5 and 0 < g.completion_tokens <= 2 * 5 for g in gens)
    assert all(set(g.finish_reasons) <= {"stop", "length"} for g in gens)
    again = b.generate(reqs, SamplingParams(n=2, temperature=1.0, max_tokens=5, seed=1))
    assert [g.texts for g in again] == [g.texts for g in gens]  # seeded sampling repeats


def test_greedy_is_deterministic_and_prompt_lengths_differ(checkpoints):
    b = backend(checkpoints["qwen3"])
    short = ChatRequest(item_id="s", messages=user_turn("Describe."))
    long = ChatRequest(item_id="l", messages=user_turn("Describe the audio. A dog barks twice. Describe the audio."))
    g1 = b.generate([short, long], SamplingParams(max_tokens=4))
    g2 = b.generate([long], SamplingParams(max_tokens=4))
    assert g1[0].prompt_tokens < g1[1].prompt_tokens
    assert g1[1].texts == g2[0].texts  # left padding does not change a greedy answer


def test_audio_model_hears_the_clip(checkpoints, clip):
    b = backend(checkpoints["qwen2_audio"])
    req = ChatRequest(item_id="a", messages=user_turn("Describe the audio."), audio=clip)
    g = b.generate(
        [req, ChatRequest(item_id="b", messages=user_turn("Describe."), audio=clip)], SamplingParams(max_tokens=4)
    )
    # 2 s Whisper window -> 50 audio tokens in the prompt
    assert g[0].prompt_tokens > 50 and len(g) == 2


def test_text_model_refuses_audio_and_mixed_batches(checkpoints, clip):
    with pytest.raises(BackendError, match="text-only model"):
        backend(checkpoints["qwen3"]).generate(
            [ChatRequest(item_id="a", messages=user_turn("x"), audio=clip)], SamplingParams(max_tokens=2)
        )
    with pytest.raises(BackendError, match="mixes requests"):
        backend(checkpoints["qwen2_audio"]).generate(
            [
                ChatRequest(item_id="a", messages=user_turn("x"), audio=clip),
                ChatRequest(item_id="b", messages=user_turn("y")),
            ],
            SamplingParams(max_tokens=2),
        )


def test_options_are_validated():
    with pytest.raises(ConfigError, match="dtype"):
        build_backend(TeacherSpec("transformers", "m", 4, {"device": "cpu", "dtype": "int8"}))
