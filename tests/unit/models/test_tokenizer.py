"""Tests of the offline tokenizer: special tokens first and unsplit, BPE round trip, the chat template."""

from __future__ import annotations

from transformers import AutoTokenizer

from audioreason.models import tokenizer as tk
from audioreason.models.tokenizer import CHAT_TEMPLATE, SPECIAL_TOKENS
from audioreason.training.prompts import audio_messages


def test_special_tokens_take_first_ids(tokenizer):
    assert tokenizer.convert_tokens_to_ids(tk.ENDOFTEXT) == 0
    assert [tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
    assert tokenizer.pad_token == tk.ENDOFTEXT and tokenizer.pad_token_id == 0
    assert tokenizer.eos_token == tk.ENDOFTEXT and tokenizer.eos_token_id == 0
    for t in SPECIAL_TOKENS:
        assert t in tokenizer.get_vocab()
        assert t in tokenizer.all_special_tokens


def test_special_tokens_are_not_split(tokenizer):
    for t in SPECIAL_TOKENS:
        assert tokenizer(t, add_special_tokens=False)["input_ids"] == [tokenizer.convert_tokens_to_ids(t)]
    ids = tokenizer("Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>", add_special_tokens=False)["input_ids"]
    assert ids[-3:] == [tokenizer.convert_tokens_to_ids(t) for t in (tk.AUDIO_BOS, tk.AUDIO, tk.AUDIO_EOS)]


def test_vocab_size_bounded(tokenizer):
    assert len(SPECIAL_TOKENS) + 256 < len(tokenizer) <= 400


def test_encode_decode_round_trip(tokenizer):
    text = "Which sound is it? <answer>dog barking</answer> Ünïcode 音 ok."
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    # BPE learned merges from the corpus: fewer tokens than bytes.
    assert len(ids) < len(text.encode("utf-8"))


def test_save_and_reload_with_auto_tokenizer(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert type(again).__name__ == "Qwen2Tokenizer"
    text = "<|im_start|>user\nHow many times does the dog bark? <answer>two</answer><|im_end|>\n"
    assert again(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert len(again) == len(tokenizer)
    assert again.chat_template == CHAT_TEMPLATE
    assert again.pad_token_id == 0


def test_chat_template_renders_audio_placeholder(tokenizer):
    text = tokenizer.apply_chat_template(audio_messages("Which sound?"), tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\nWhich sound?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    two = tokenizer.apply_chat_template(
        [{"role": "user", "content": [{"type": "audio"}, {"type": "audio"}, {"type": "text", "text": "Same?"}]}],
        tokenize=False,
    )
    assert "Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\nAudio 2: <|audio_bos|><|AUDIO|><|audio_eos|>\nSame?" in two
    assert not two.endswith("<|im_start|>assistant\n")
