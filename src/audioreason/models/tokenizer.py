"""An offline byte-level BPE tokenizer with the Qwen special tokens (tiny scale).

Real checkpoints ship their tokenizer; the tiny models need one too, and nothing can be
downloaded, so one is trained on the world's own text with the Qwen2 pre-tokenizer
(the same split regex, then byte-level) and wrapped as ``Qwen2Tokenizer``: every later
stage loads it with ``AutoProcessor.from_pretrained`` exactly as it would a real one.
"""

from __future__ import annotations

import json
from typing import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import Qwen2Tokenizer
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

ENDOFTEXT = "<|endoftext|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
AUDIO, AUDIO_BOS, AUDIO_EOS = "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"
# Omni thinker ids that its config must point at even when no image/video is ever fed.
IMAGE, VIDEO, VISION_BOS, VISION_EOS = "<|IMAGE|>", "<|VIDEO|>", "<|vision_bos|>", "<|vision_eos|>"
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END, AUDIO, AUDIO_BOS, AUDIO_EOS, IMAGE, VIDEO, VISION_BOS, VISION_EOS]

# ChatML as the Qwen2-Audio / Omni instruct models use it: each audio part becomes
# "Audio N: <|audio_bos|><|AUDIO|><|audio_eos|>"; the processor expands <|AUDIO|> to one
# token per encoder output frame.
CHAT_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'audio' %}{% set audio_count.value = audio_count.value + 1 %}"
    "Audio {{ audio_count.value }}: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int) -> Qwen2Tokenizer:
    """Train byte-level BPE on ``texts`` and wrap it as a ``Qwen2Tokenizer``.

    Special tokens take the first ids, so ``<|endoftext|>`` is 0 (Qwen's pad/eos).
    """
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    tok = Qwen2Tokenizer(vocab=model["vocab"], merges=merges, additional_special_tokens=SPECIAL_TOKENS[1:])
    tok.chat_template = CHAT_TEMPLATE
    return tok
