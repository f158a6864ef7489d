"""The vLLM backend: engine and sampling arguments, chat inputs, output conversion, the import guard.

Everything but the last test runs without vLLM. The ``gpu`` test builds a real engine on the
small model named by ``AUDIOREASON_VLLM_TEST_MODEL`` where CUDA and vLLM exist.
"""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import types
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from audioreason.config import ConfigError, TeacherSpec, build_section
from audioreason.teachers.base import BackendError, ChatRequest, Generation, SamplingParams, item_seed, user_turn
from audioreason.teachers.vllm_backend import (
    VLLM_MISSING,
    VLLM_TOP_K_OFF,
    VllmBackend,
    VllmOptions,
    chat_inputs,
    check_media,
    engine_kwargs,
    sampling_kwargs,
    to_generation,
)

OPTIONS = dict(
    tensor_parallel_size=2,
    gpu_memory_utilization=0.85,
    max_model_len=8192,
    dtype="bfloat16",
    limit_audio_per_prompt=1,
    limit_video_per_prompt=0,
    allowed_local_media_path="",
    audio_sample_rate=16000,
)


def _options(**changes) -> VllmOptions:
    return VllmOptions(**{**OPTIONS, **changes})


def _wav(path, seconds: float = 0.25, sr: int = 8000) -> str:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, subtype="PCM_16")
    return str(path)


# --------------------------------------------------------------------------- options


def test_options_build_from_params_entry():
    opts = build_section(VllmOptions, OPTIONS, "teachers.cota.options")
    assert opts == _options()
    spec = TeacherSpec(backend="vllm", model="Qwen/Qwen2-Audio-7B-Instruct", batch_size=8, options=OPTIONS)
    assert spec.backend == "vllm"


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"tensor_parallel_size": 0}, "tensor_parallel_size"),
        ({"gpu_memory_utilization": 0.0}, "gpu_memory_utilization"),
        ({"gpu_memory_utilization": 1.2}, "gpu_memory_utilization"),
        ({"max_model_len": 0}, "max_model_len"),
        ({"dtype": "bf16"}, "dtype"),
        ({"limit_audio_per_prompt": -1}, "limit_audio_per_prompt"),
        ({"limit_video_per_prompt": -2}, "limit_video_per_prompt"),
        ({"audio_sample_rate": 0}, "audio_sample_rate"),
    ],
)
def test_options_reject_bad_values(changes, key):
    with pytest.raises(ConfigError, match=key):
        _options(**changes)
    with pytest.raises(ConfigError, match=rf"teachers\.cota\.options: .*{key}"):
        build_section(VllmOptions, {**OPTIONS, **changes}, "teachers.cota.options")


def test_options_reject_unknown_and_mistyped_keys():
    with pytest.raises(ConfigError, match=r"teachers\.cota\.options: unknown key\(s\) seed"):
        build_section(VllmOptions, {**OPTIONS, "seed": 1}, "teachers.cota.options")
    with pytest.raises(ConfigError, match=r"teachers\.cota\.options\.max_model_len: expected an integer"):
        build_section(VllmOptions, {**OPTIONS, "max_model_len": "8k"}, "teachers.cota.options")


# --------------------------------------------------------------------------- engine kwargs


def test_engine_kwargs_audio_teacher():
    kw = engine_kwargs("Qwen/Qwen2-Audio-7B-Instruct", _options())
    assert kw == {
        "model": "Qwen/Qwen2-Audio-7B-Instruct",
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.85,
        "max_model_len": 8192,
        "dtype": "bfloat16",
        "trust_remote_code": False,
        "limit_mm_per_prompt": {"audio": 1, "video": 0},
    }


def test_engine_kwargs_text_teacher_leaves_out_multimodal_limits():
    # vLLM raises "limit_mm_per_prompt is only supported for multimodal models" for any non-empty dict
    kw = engine_kwargs("Qwen/Qwen2.5-7B-Instruct", _options(limit_audio_per_prompt=0))
    assert "limit_mm_per_prompt" not in kw
    assert "allowed_local_media_path" not in kw


def test_engine_kwargs_media_path_is_absolute(tmp_path, monkeypatch):
    (tmp_path / "videos").mkdir()
    monkeypatch.chdir(tmp_path)
    kw = engine_kwargs("m", _options(limit_video_per_prompt=1, allowed_local_media_path="videos"))
    assert kw["allowed_local_media_path"] == str((tmp_path / "videos").resolve())
    assert kw["limit_mm_per_prompt"] == {"audio": 1, "video": 1}


# --------------------------------------------------------------------------- sampling kwargs


def test_sampling_kwargs_maps_top_k_off_and_keeps_values():
    s = SamplingParams(n=4, temperature=0.7, top_p=0.9, top_k=0, max_tokens=512, seed=3)
    kw = sampling_kwargs(s, "cota-17")
    assert VLLM_TOP_K_OFF == -1
    assert kw["top_k"] == -1
    assert {k: kw[k] for k in ("n", "temperature", "top_p", "max_tokens")} == {
        "n": 4,
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 512,
    }
    assert sampling_kwargs(replace(s, top_k=50), "cota-17")["top_k"] == 50


def test_sampling_kwargs_greedy_keeps_temperature_zero():
    kw = sampling_kwargs(SamplingParams(), "x")
    assert kw["temperature"] == 0.0 and kw["n"] == 1 and kw["top_k"] == -1


def test_seeds_differ_per_item_and_repeat_per_item():
    s = SamplingParams(n=2, temperature=1.0, seed=0)
    ids = [f"item-{i}" for i in range(200)]
    seeds = [sampling_kwargs(s, i)["seed"] for i in ids]
    assert len(set(seeds)) == len(ids)
    assert seeds == [sampling_kwargs(s, i)["seed"] for i in ids]
    # a fresh interpreter (another PYTHONHASHSEED) gets the same seed: the offset is hashlib, not hash()
    out = subprocess.run(
        [sys.executable, "-c", "from audioreason.teachers.base import item_seed; print(item_seed(0, 'item-7'))"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    )
    assert int(out.stdout) == item_seed(0, "item-7") == seeds[7]
    assert all(0 <= x < 2**31 for x in seeds)
    assert sampling_kwargs(replace(s, seed=1), "item-7")["seed"] != seeds[7]


# --------------------------------------------------------------------------- chat inputs


def test_chat_inputs_text_request_keeps_plain_strings():
    r = ChatRequest("q1", user_turn("Write a question.", system="You write questions."))
    (conv,) = chat_inputs([r], 16000)
    assert conv == [
        {"role": "system", "content": "You write questions."},
        {"role": "user", "content": "Write a question."},
    ]


def test_chat_inputs_audio_request_carries_wav_then_text(tmp_path):
    clip = _wav(tmp_path / "clip.wav", seconds=0.25, sr=8000)
    r = ChatRequest("a1", user_turn("What do you hear?"), audio=clip)
    text = ChatRequest("t1", user_turn("Hello"))
    audio_conv, text_conv = chat_inputs([r, text], 16000)
    assert text_conv == [{"role": "user", "content": "Hello"}]
    parts = audio_conv[-1]["content"]
    assert audio_conv[-1]["role"] == "user"
    assert [p["type"] for p in parts] == ["input_audio", "text"]
    assert parts[-1] == {"type": "text", "text": "What do you hear?"}
    assert parts[0]["input_audio"]["format"] == "wav"
    wav = base64.b64decode(parts[0]["input_audio"]["data"], validate=True)
    assert wav
    info = sf.info(io.BytesIO(wav))
    assert info.samplerate == 16000 and info.frames == 4000  # resampled from 8 kHz


def test_chat_inputs_missing_clip_names_the_item(tmp_path):
    r = ChatRequest("gone-3", user_turn("?"), audio=str(tmp_path / "missing.wav"))
    with pytest.raises(BackendError, match="gone-3"):
        chat_inputs([r], 16000)


def test_check_media(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    inside, outside = media / "v.mp4", tmp_path / "v.mp4"
    audio = ChatRequest("a", user_turn("?"), audio="x.wav")
    video_in = ChatRequest("v-in", user_turn("?"), video=str(inside))
    video_out = ChatRequest("v-out", user_turn("?"), video=str(outside))
    check_media([audio], _options())
    with pytest.raises(BackendError, match="a: carries a clip"):
        check_media([audio], _options(limit_audio_per_prompt=0))
    with pytest.raises(BackendError, match="v-in: carries a video"):
        check_media([video_in], _options(allowed_local_media_path=str(media)))
    with pytest.raises(BackendError, match="v-in: .*allowed_local_media_path, which is empty"):
        check_media([video_in], _options(limit_video_per_prompt=1))
    opts = _options(limit_video_per_prompt=1, allowed_local_media_path=str(media))
    check_media([video_in, audio], opts)
    with pytest.raises(BackendError, match="v-out: video .* outside"):
        check_media([video_in, video_out], opts)


# --------------------------------------------------------------------------- outputs


def _completion(index, text, n_tokens, reason):
    return SimpleNamespace(index=index, text=text, token_ids=list(range(n_tokens)), finish_reason=reason)


def test_to_generation_reads_texts_tokens_and_reasons():
    out = SimpleNamespace(
        prompt_token_ids=list(range(37)), outputs=[_completion(1, "B", 5, "length"), _completion(0, "A", 3, "stop")]
    )
    g = to_generation(out)
    assert g == Generation(texts=["A", "B"], prompt_tokens=37, completion_tokens=8, finish_reasons=["stop", "length"])


def test_to_generation_without_prompt_ids_or_reason():
    out = SimpleNamespace(prompt_token_ids=None, outputs=[_completion(0, "", 0, None)])
    assert to_generation(out) == Generation(texts=[""], prompt_tokens=0, completion_tokens=0, finish_reasons=[""])


# --------------------------------------------------------------------------- the backend


def test_backend_without_vllm_raises_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` fails even where it is installed
    with pytest.raises(ImportError) as err:
        VllmBackend("Qwen/Qwen2-Audio-7B-Instruct", _options())
    assert str(err.value) == VLLM_MISSING
    assert "pip install 'audioreason[vllm]'" in str(err.value)
    assert "'transformers' or 'openai'" in str(err.value)


def test_importing_the_module_does_not_import_vllm():
    code = (
        "import sys; import audioreason.teachers.vllm_backend, audioreason.teachers.backends; "
        "print('vllm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class _FakeEngine:
    """Records what the backend hands vLLM; answers every request with ``n`` fixed samples."""

    built: list[dict] = []

    def __init__(self, **kw):
        _FakeEngine.built.append(kw)
        self.calls = []

    def chat(self, messages, sampling_params=None, use_tqdm=True):
        self.calls.append((messages, sampling_params, use_tqdm))
        return [
            SimpleNamespace(
                prompt_token_ids=[0] * (10 + i),
                outputs=[_completion(k, f"conv{i}-s{k}", 2, "stop") for k in range(p.kw["n"])],
            )
            for i, p in enumerate(sampling_params)
        ]


def _fake_vllm(monkeypatch) -> types.ModuleType:
    mod = types.ModuleType("vllm")
    mod.LLM = _FakeEngine
    mod.SamplingParams = lambda **kw: SimpleNamespace(kw=kw)
    _FakeEngine.built = []
    monkeypatch.setitem(sys.modules, "vllm", mod)
    return mod


def test_backend_plumbing_with_a_stand_in_engine(monkeypatch, tmp_path):
    """The backend's wiring only (one engine, one SamplingParams per request, order kept); no real vLLM."""
    _fake_vllm(monkeypatch)
    backend = VllmBackend("m", _options())
    assert backend.name == "vllm" and backend.model == "m"
    assert _FakeEngine.built == [engine_kwargs("m", _options())]
    requests = [
        ChatRequest("a#0", user_turn("hear?"), audio=_wav(tmp_path / "a.wav")),
        ChatRequest("b#0", user_turn("say?")),
    ]
    sampling = SamplingParams(n=2, temperature=0.8, seed=5)
    gens = backend.generate(requests, sampling)
    ((messages, params, use_tqdm),) = backend.llm.calls
    assert use_tqdm is True
    assert messages == chat_inputs(requests, 16000)
    assert [p.kw for p in params] == [sampling_kwargs(sampling, "a#0"), sampling_kwargs(sampling, "b#0")]
    assert [g.texts for g in gens] == [["conv0-s0", "conv0-s1"], ["conv1-s0", "conv1-s1"]]
    assert [g.prompt_tokens for g in gens] == [10, 11] and gens[0].completion_tokens == 4
    assert backend.generate([], sampling) == [] and len(backend.llm.calls) == 1


def test_backend_rejects_short_answers(monkeypatch):
    _fake_vllm(monkeypatch)
    backend = VllmBackend("m", _options())
    backend.llm.chat = lambda messages, sampling_params=None, use_tqdm=True: [
        SimpleNamespace(prompt_token_ids=[1], outputs=[_completion(0, "only one", 1, "stop")])
    ]
    with pytest.raises(BackendError, match="x#1: vLLM returned 1 samples, expected 2"):
        backend.generate([ChatRequest("x#1", user_turn("?"))], SamplingParams(n=2, temperature=1.0))
    with pytest.raises(BackendError, match="returned 1 outputs for 2 requests"):
        backend.generate([ChatRequest("p", user_turn("?")), ChatRequest("q", user_turn("?"))], SamplingParams())


@pytest.mark.gpu
def test_real_engine_generates_and_repeats_with_seeds():
    pytest.importorskip("vllm")
    model = os.environ.get("AUDIOREASON_VLLM_TEST_MODEL")
    if not model:
        pytest.skip("set AUDIOREASON_VLLM_TEST_MODEL to a small local chat model")
    opts = _options(
        tensor_parallel_size=1, gpu_memory_utilization=0.4, max_model_len=2048, dtype="auto", limit_audio_per_prompt=0
    )
    backend = VllmBackend(model, opts)
    requests = [ChatRequest(f"q{i}", user_turn(f"Count from 1 to {i + 3}.")) for i in range(3)]
    greedy = backend.generate(requests, SamplingParams(max_tokens=16))
    assert len(greedy) == 3
    for g in greedy:
        assert len(g.texts) == 1 and g.prompt_tokens > 0 and 0 < g.completion_tokens <= 16
        assert g.finish_reasons[0] in ("stop", "length")
    sampled = SamplingParams(n=3, temperature=1.0, max_tokens=16, seed=11)
    first, again = backend.generate(requests, sampled), backend.generate(requests, sampled)
    assert [g.texts for g in first] == [g.texts for g in again]
    assert all(len(g.texts) == 3 for g in first)
