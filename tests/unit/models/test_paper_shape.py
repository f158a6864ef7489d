"""The papers' checkpoints at their real shapes: parameter counts, token layouts, audio windows, a round trip."""

from __future__ import annotations

import resource
import time

import numpy as np
import pytest
import torch
from safetensors import safe_open

from audioreason.models import paper_shape as ps
from audioreason.models.factory import load_model
from audioreason.training.prompts import cota_response

pytestmark = pytest.mark.paper_shape

ROW = {
    "trace": {
        "planning": "Listen to the clip, then compare the options.",
        "caption": "A dog barks twice over traffic noise.",
        "reasoning": "Two sharp barks are heard; engines hum in the background.",
        "summary": "A dog barks.",
    },
    "response": "(a) dog",
}
AUDIO_TURN = [{"role": "user", "content": [{"type": "audio", "audio": "clip.wav"}, {"type": "text", "text": "What?"}]}]


def within(value: float, published: float, rel: float = 0.01) -> bool:
    return abs(value - published) <= rel * published


@pytest.fixture(scope="module")
def tokenizers():
    return {c: ps.paper_tokenizer(c) for c in ps.CHECKPOINTS}


@pytest.fixture(scope="module")
def processors():
    return {c: ps.paper_processor(c) for c in ps.AUDIO_CHECKPOINTS}


def test_facts_name_the_known_checkpoints_on_an_unknown_one():
    with pytest.raises(KeyError, match="Qwen/Qwen3-8B"):
        ps.facts("Qwen/Qwen2-7B")
    for c in ps.CHECKPOINTS:
        f = ps.facts(c)
        assert f["checkpoint"] == c
        assert f["config"]["source"].startswith(("https://", "thinker_config of https://"))
        assert f["config"]["revision"]


def test_published_parameter_counts_at_full_depth():
    counts = {c: ps.build_model(c) for c in ps.CHECKPOINTS}
    assert all(p.device.type == "meta" for m in counts.values() for p in m.parameters())

    audio = ps.facts(ps.QWEN2_AUDIO)["parameters"]
    assert within(ps.count_parameters(counts[ps.QWEN2_AUDIO]), audio["total"])

    qwen3 = ps.facts(ps.QWEN3)["parameters"]
    assert within(ps.count_parameters(counts[ps.QWEN3]), qwen3["total"])

    # Omni-7B: the thinker alone against the published thinker size, and its parts against theirs.
    omni, thinker = ps.facts(ps.QWEN2_5_OMNI)["parameters"], counts[ps.QWEN2_5_OMNI]
    text = ps.count_parameters(thinker.model.language_model) + ps.count_parameters(thinker.lm_head)
    assert within(ps.count_parameters(thinker), omni["thinker_total"])
    assert within(ps.count_parameters(thinker.model.visual), omni["vision_encoder"])
    assert within(text, omni["text_decoder_with_lm_head"])

    # Qwen2.5-VL-32B: no published total is pinned; its text stack is its LLM Qwen2.5-32B.
    vl, teacher = ps.facts(ps.QWEN2_5_VL)["parameters"], counts[ps.QWEN2_5_VL]
    assert vl["total"] == "unknown"
    text = ps.count_parameters(teacher.model.language_model) + ps.count_parameters(teacher.lm_head)
    assert within(text, vl["text_decoder_with_lm_head"])


def test_depth_arguments_cut_only_the_depth():
    full = ps.paper_config(ps.QWEN2_5_OMNI)
    cut = ps.paper_config(ps.QWEN2_5_OMNI, text_layers=1, audio_layers=2, vision_layers=3)
    assert (cut.text_config.num_hidden_layers, cut.audio_config.encoder_layers, cut.vision_config.depth) == (1, 2, 3)
    assert full.text_config.num_hidden_layers == 28 and full.audio_config.encoder_layers == 32
    for sub in ("text_config", "audio_config", "vision_config"):
        a, b = getattr(full, sub).to_dict(), getattr(cut, sub).to_dict()
        changed = {k for k in a if a[k] != b.get(k)}
        assert changed <= {
            "num_hidden_layers",
            "max_window_layers",
            "layer_types",
            "encoder_layers",
            "depth",
            "fullatt_block_indexes",
        }, changed
    assert cut.vision_config.fullatt_block_indexes == [2]
    assert cut.text_config.vocab_size == 152064 and cut.audio_config.num_mel_bins == 128
    assert cut.text_config.rope_parameters["mrope_section"] == [16, 24, 24]
    assert cut.vision_start_token_id == 151652 and cut.audio_token_index == 151646
    with pytest.raises(ValueError, match="text_layers must be in 1..36"):
        ps.paper_config(ps.QWEN3, text_layers=37)
    with pytest.raises(ValueError, match="no vision tower"):
        ps.paper_config(ps.QWEN2_AUDIO, vision_layers=1)


@pytest.mark.parametrize("checkpoint", ps.CHECKPOINTS)
def test_tokenizer_has_the_published_token_layout(checkpoint, tokenizers):
    tok, f = tokenizers[checkpoint], ps.facts(checkpoint)["tokenizer"]
    for entry in f["added_tokens"]:
        assert tok.convert_tokens_to_ids(entry["content"]) == entry["id"]
        assert tok.decode([entry["id"]]) == entry["content"]
    assert f["added_tokens"][0]["id"] == f["base_bpe_size"] == ps.BASE_BPE_SIZE
    if f["length"] == "unknown":  # Qwen2-Audio: only its first six added tokens are pinned
        assert len(tok) == f["added_tokens"][-1]["id"] + 1
    else:
        assert len(tok) == f["length"]
    assert (tok.eos_token, tok.pad_token) == (f["eos_token"], f["pad_token"])
    assert max(tok("the dog barks at 10 dB").input_ids) < ps.BASE_BPE_SIZE


def test_omni_and_qwen3_share_the_bpe_but_not_the_added_tokens(tokenizers):
    omni, qwen3 = tokenizers[ps.QWEN2_5_OMNI], tokenizers[ps.QWEN3]
    text = cota_response(ROW)
    assert omni(text).input_ids == qwen3(text).input_ids
    assert omni.decode([151646]) == "<|AUDIO|>" and qwen3.decode([151646]) == "<|object_ref_start|>"
    assert omni.get_vocab() != qwen3.get_vocab()
    assert qwen3("<think>").input_ids == [151667] and len(omni("<think>").input_ids) > 1


def test_chat_templates_write_the_published_prompts(tokenizers):
    q2a = tokenizers[ps.QWEN2_AUDIO].apply_chat_template(AUDIO_TURN, tokenize=False, add_generation_prompt=True)
    omni = tokenizers[ps.QWEN2_5_OMNI].apply_chat_template(AUDIO_TURN, tokenize=False, add_generation_prompt=True)
    system = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    assert q2a == system + "<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\nWhat?<|im_end|>\n" + (
        "<|im_start|>assistant\n"
    )
    assert (
        omni == system + "<|im_start|>user\n<|audio_bos|><|AUDIO|><|audio_eos|>What?<|im_end|>\n<|im_start|>assistant\n"
    )
    turns = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "<think>\nr1\n</think>\n\na1"},
        {"role": "user", "content": "q2"},
    ]
    qwen3 = tokenizers[ps.QWEN3]
    thinking = qwen3.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    plain = qwen3.apply_chat_template(turns, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert thinking == (
        "<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\na1<|im_end|>\n<|im_start|>user\nq2<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert plain == thinking + "<think>\n\n</think>\n\n"


@pytest.mark.parametrize("checkpoint, frames", [(ps.QWEN2_AUDIO, 3000), (ps.QWEN2_5_OMNI, 30000)])
@pytest.mark.parametrize("seconds, tokens", [(2, 50), (30, 750)])
def test_processor_expands_audio_to_the_real_token_count(checkpoint, frames, seconds, tokens, processors):
    proc = processors[checkpoint]
    text = proc.apply_chat_template(AUDIO_TURN, tokenize=False, add_generation_prompt=True)
    out = proc(text=[text], audio=[np.zeros(16000 * seconds, dtype=np.float32)], return_tensors="pt")
    ids = out["input_ids"][0].tolist()
    assert ids.count(151646) == tokens == ps.audio_token_count(seconds * 100)
    assert tuple(out["input_features"].shape) == (1, 128, frames)
    assert int(out["feature_attention_mask"].sum()) == seconds * 100
    start = ids.index(151647)
    assert ids[start + 1 : start + 1 + tokens] == [151646] * tokens and ids[start + 1 + tokens] == 151648


def test_vision_teacher_has_no_processor_or_checkpoint_here(tmp_path):
    with pytest.raises(ValueError, match="torchvision"):
        ps.paper_processor(ps.QWEN2_5_VL)
    with pytest.raises(ValueError, match="vLLM"):
        ps.save_checkpoint(ps.QWEN2_5_VL, tmp_path)


def test_omni_checkpoint_round_trips_through_load_model(tmp_path):
    start = time.perf_counter()
    out = ps.save_checkpoint(ps.QWEN2_5_OMNI, tmp_path / "omni", text_layers=1, audio_layers=1, vision_layers=1)
    saved = time.perf_counter() - start
    model, processor = load_model(str(out), dtype=torch.bfloat16)
    loaded = time.perf_counter() - start - saved
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"omni depth-1 round trip: save {saved:.1f} s, load {loaded:.1f} s, peak RSS {peak_gb:.1f} GB")

    assert type(model).__name__ == "Qwen2_5OmniThinkerForConditionalGeneration"
    assert type(processor).__name__ == "Qwen2AudioProcessor"
    assert model.config.text_config.num_hidden_layers == 1 and model.config.text_config.hidden_size == 3584
    assert model.config.vision_start_token_id == 151652
    assert model.get_input_embeddings().weight.shape == (152064, 3584)
    assert len(processor.tokenizer) == 151665 and processor.tokenizer.audio_token_id == 151646
    assert processor.feature_extractor.n_samples == 4_800_000
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert all(k.startswith("thinker.") for k in f.keys())
        saved_head = f.get_tensor("thinker.lm_head.weight")
    assert torch.equal(model.lm_head.weight, saved_head) and saved_head.std() > 0.01
