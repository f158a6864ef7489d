"""Evaluation generation through vLLM (``engine: vllm``), against a fake ``vllm`` module: the requests it
receives (chat-templated prompts with the audio placeholder, clips at the processor's rate, the decoding
settings), record order, the scorer, the cache's resume, and the error where vLLM is missing."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from audioreason.config import ConfigError, EvalVllmEngine, Generation, load_params
from audioreason.datasets.records import QARecord
from audioreason.evaluation.generate import VllmModel, check_engine, generate_answers, load_eval_model
from audioreason.evaluation.suite import EvalRequest, mmau_scores
from audioreason.models.factory import build_tiny_model
from audioreason.models.tokenizer import AUDIO, train_tokenizer
from audioreason.teachers.base import item_seed
from audioreason.training.prompts import audio_messages, format_prompt
from helpers import mmau_item, write_mmau, write_tone

REPO_ROOT = Path(__file__).resolve().parents[3]
PROMPT = "{question} Please choose the answer from the following options: {choices}."
GREEDY = Generation(max_new_tokens=32, do_sample=False, temperature=1.0, top_k=50, top_p=1.0, seed=7)
VLLM = EvalVllmEngine(tensor_parallel_size=1, gpu_memory_utilization=0.85, max_model_len=4096, dtype="bfloat16")


class FakeLLM:
    """Records every request; answers each question with the completion its record id is given in ``ANSWERS``."""

    built: list[FakeLLM] = []

    def __init__(self, **engine):
        self.engine = engine
        self.calls: list[tuple[list[dict], list[dict]]] = []
        FakeLLM.built.append(self)

    def generate(self, inputs, sampling_params, use_tqdm=True):
        self.calls.append((list(inputs), list(sampling_params)))
        return [
            SimpleNamespace(outputs=[SimpleNamespace(text=ANSWERS[_id_of(i["prompt"])])], prompt_token_ids=[1])
            for i in inputs
        ]


def _id_of(prompt: str) -> str:
    (hit,) = [k for k in ANSWERS if f"Question {k}?" in prompt]
    return hit


ANSWERS: dict[str, str] = {}
FAKE_VLLM = SimpleNamespace(LLM=FakeLLM, SamplingParams=lambda **kw: kw)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A saved tiny Qwen2-Audio checkpoint (model and processor, 16 kHz), as the stages save theirs."""
    m = load_params(REPO_ROOT / "params.yaml", sections=["models"])["models"]
    small = dict(intermediate_size=32, num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256)
    cfg = dataclasses.replace(
        m,
        audio_encoder=dataclasses.replace(
            m.audio_encoder, d_model=16, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=16
        ),
        text_decoder=dataclasses.replace(m.text_decoder, hidden_size=16, num_hidden_layers=1, **small),
    )
    tok = train_tokenizer(["Question 1? ['dog', 'cat']"] * 8, vocab_size=300, min_frequency=2)
    return Path(build_tiny_model("qwen2_audio", cfg, tok, tmp_path_factory.mktemp("vllm-eval") / "m")["path"])


@pytest.fixture
def engine(checkpoint, monkeypatch):
    """``(model, processor)`` of ``engine: vllm`` on the checkpoint, the engine a :class:`FakeLLM`."""
    monkeypatch.setattr(FakeLLM, "built", [])
    ANSWERS.clear()
    ev = SimpleNamespace(engine="vllm", vllm=VLLM)
    return load_eval_model(checkpoint, ev, "sft_cot.eval", vllm_module=FAKE_VLLM)


def _records(root: Path, n: int = 3, sr: int = 32000) -> list[QARecord]:
    records = []
    for i in range(n):
        write_tone(root / f"{i}.wav", sr, seconds=0.25)
        records.append(
            QARecord(f"q{i}", "avqa", "val", str(root / f"{i}.wav"), f"Question q{i}?", ("dog", "cat"), "dog")
        )
    return records


def test_one_engine_per_checkpoint_built_from_the_saved_directory(engine, checkpoint, tmp_path):
    model, processor = engine
    assert isinstance(model, VllmModel) and model.eval() is model
    assert [f.engine for f in FakeLLM.built] == [
        {
            "model": str(checkpoint),
            "tensor_parallel_size": 1,
            "gpu_memory_utilization": 0.85,
            "max_model_len": 4096,
            "dtype": "bfloat16",
            "trust_remote_code": False,
            "limit_mm_per_prompt": {"audio": 1, "video": 0},
        }
    ]
    records = _records(tmp_path)
    ANSWERS.update({r.id: "dog" for r in records})
    for with_audio in (True, False):  # two evaluation sets, one engine
        generate_answers(model, processor, records, prompt=PROMPT, settings=GREEDY, batch_size=2, with_audio=with_audio)
    assert len(FakeLLM.built) == 1 and len(model.llm.calls) == 2


def test_requests_carry_the_chat_template_the_clip_at_the_processors_rate_and_the_decoding(engine, tmp_path):
    model, processor = engine
    records = _records(tmp_path, sr=32000)
    ANSWERS.update({r.id: f"<answer>{r.id}</answer>" for r in records})
    gens = generate_answers(model, processor, records, prompt=PROMPT, settings=GREEDY, batch_size=2)
    ((inputs, params),) = model.llm.calls  # one call: vLLM batches the whole chunk itself
    sr = processor.feature_extractor.sampling_rate
    assert sr == 16000
    for r, i in zip(records, inputs):
        text = format_prompt(PROMPT, r)
        assert i["prompt"] == processor.apply_chat_template(
            audio_messages(text), tokenize=False, add_generation_prompt=True
        )
        assert i["prompt"].count(AUDIO) == 1 and text in i["prompt"]
        waveform, rate = i["multi_modal_data"]["audio"]
        assert rate == sr and waveform.shape == (4000,)  # 0.25 s at 32 kHz resampled to 16 kHz
    assert params == [
        {"n": 1, "temperature": 0.0, "top_p": 1.0, "top_k": -1, "max_tokens": 32, "seed": item_seed(7, r.id)}
        for r in records
    ]
    assert gens == [{"id": r.id, "prompt": format_prompt(PROMPT, r), "completion": ANSWERS[r.id]} for r in records]


def test_sampling_settings_reach_vllm_when_sampling(engine, tmp_path):
    model, processor = engine
    records = _records(tmp_path, n=1)
    ANSWERS.update({r.id: "dog" for r in records})
    sampled = Generation(max_new_tokens=2048, do_sample=True, temperature=0.6, top_k=5, top_p=0.5, seed=0)
    generate_answers(model, processor, records, prompt="{question}", settings=sampled, batch_size=1)
    ((_, params),) = model.llm.calls
    assert params == [
        {"n": 1, "temperature": 0.6, "top_p": 0.5, "top_k": 5, "max_tokens": 2048, "seed": item_seed(0, "q0")}
    ]


def test_text_only_requests_carry_no_audio(engine, tmp_path):
    """Paper 03 §IV.C "drops the audio tokens": no clip, no placeholder, the transformers path's text layout."""
    model, processor = engine
    records = _records(tmp_path, n=2)
    ANSWERS.update({r.id: "dog" for r in records})
    system = "Think first."
    generate_answers(
        model, processor, records, prompt=PROMPT, settings=GREEDY, batch_size=2, with_audio=False, system=system
    )
    ((inputs, _),) = model.llm.calls
    for r, i in zip(records, inputs):
        assert set(i) == {"prompt"} and AUDIO not in i["prompt"]
        turns = [
            {"role": "system", "content": system},
            {"role": "user", "content": [{"type": "text", "text": format_prompt(PROMPT, r)}]},
        ]
        assert i["prompt"] == processor.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)


def test_the_cache_resumes_and_results_keep_record_order(engine, tmp_path):
    model, processor = engine
    records = _records(tmp_path, n=3)
    ANSWERS.update({"q0": "fresh 0", "q1": "fresh 1", "q2": "fresh 2"})
    cache = tmp_path / "gens.jsonl"
    cached = {"id": "q1", "prompt": format_prompt(PROMPT, records[1]), "completion": "cached 1"}
    cache.write_text(json.dumps(cached) + "\n")
    gens = generate_answers(model, processor, records, prompt=PROMPT, settings=GREEDY, batch_size=2, cache=cache)
    ((inputs, _),) = model.llm.calls
    assert [_id_of(i["prompt"]) for i in inputs] == ["q0", "q2"]  # only the missing ones are sent
    assert [g["completion"] for g in gens] == ["fresh 0", "cached 1", "fresh 2"]  # record order
    assert {json.loads(line)["id"] for line in cache.read_text().splitlines()} == {"q0", "q1", "q2"}
    again = generate_answers(model, processor, records, prompt=PROMPT, settings=GREEDY, batch_size=2, cache=cache)
    assert again == gens and len(model.llm.calls) == 1  # everything cached: nothing sent


def test_mmau_scores_from_vllm_answers_go_through_the_official_scorer(engine, tmp_path):
    model, processor = engine
    write_mmau(tmp_path)
    items = json.loads((tmp_path / "mmau-test-mini.json").read_text())
    records = [
        QARecord(
            it["id"],
            "mmau",
            "test-mini",
            str(tmp_path / it["audio_id"]),
            f"Question {it['id']}?",
            tuple(it["choices"]),
            it["answer"],
            it["task"],
        )  # fmt: skip
        for it in items
    ]
    # sound right, music wrong, speech right by the option's text
    ANSWERS.update(
        {
            mmau_item(0)["id"]: "<think>a woman</think><answer>Woman</answer>",
            mmau_item(1)["id"]: "<answer>Man</answer>",
            mmau_item(2)["id"]: "<answer>(B) Woman</answer>",
        }
    )
    req = EvalRequest(PROMPT, GREEDY, batch_size=2)
    m = mmau_scores(model, processor, records, tmp_path / "mmau-test-mini.json", req, cache=tmp_path / "g.jsonl")
    assert (m["mmau.sound"], m["mmau.music"], m["mmau.speech"]) == (100.0, 0.0, 100.0)
    assert m["mmau.average"] == pytest.approx(200.0 / 3) and m["mmau.n"] == 3


def test_engine_vllm_without_vllm_names_the_params_field_before_loading_a_model(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "vllm", None)  # "import vllm" raises ImportError, installed or not
    ev = SimpleNamespace(engine="vllm", vllm=VLLM)
    with pytest.raises(ConfigError, match=r"grpo\.eval\.engine: vllm is not importable.*transformers"):
        check_engine(ev, "grpo.eval")
    # A directory that holds no checkpoint: the error comes before any attempt to load one.
    with pytest.raises(ConfigError, match=r"distill\.eval\.engine"):
        load_eval_model(tmp_path / "no-model-here", ev, "distill.eval")
    check_engine(SimpleNamespace(engine="transformers", vllm=VLLM), "grpo.eval")  # nothing to check


@pytest.mark.parametrize(
    "stage_name, row",
    [("sft_cot", "agfv_sft"), ("grpo", "grpo_avqa"), ("distill", "top_kd")],
)
def test_stages_refuse_engine_vllm_without_vllm_before_training(stage_name, row, monkeypatch, tmp_path):
    import importlib

    from audioreason.tracking import NullTracker

    stage = importlib.import_module(f"audioreason.stages.{stage_name}")
    monkeypatch.setitem(sys.modules, "vllm", None)
    monkeypatch.setattr(stage, "train_row", lambda *a, **kw: pytest.fail("trained before checking the engine"))
    cfg = load_params(REPO_ROOT / "params.yaml", sections=[stage_name])[stage_name]
    cfg = dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, engine="vllm"))
    with pytest.raises(ConfigError, match=rf"{stage_name}\.eval\.engine"):
        stage.run(cfg, row, NullTracker(), tmp_path)
