"""``transformers`` backend: batched ``generate`` on any local checkpoint (CPU-capable).

Audio checkpoints of the architectures this package trains (Qwen2-Audio, the Qwen2.5-Omni
thinker) load through :func:`audioreason.models.factory.load_model` with their processor,
and hear the clip in the Qwen2-Audio chat layout; any other causal LM loads with
``AutoModelForCausalLM`` and takes text only. Left padding, ``num_return_sequences=n``,
sampling when ``temperature > 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from audioreason.config import ConfigError
from audioreason.teachers.base import BackendError, ChatRequest, Generation, SamplingParams


@dataclass(frozen=True)
class HfOptions:
    """Options of the ``transformers`` backend."""

    device: str
    """``cpu``, ``cuda``, ``cuda:1``..."""
    dtype: str
    """``float32``, ``bfloat16`` or ``float16``."""

    def __post_init__(self):
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise ConfigError(f"dtype must be float32, bfloat16 or float16, got {self.dtype!r}")


def _hf_messages(request: ChatRequest) -> list[dict]:
    """The request's turns, the clip put first in the last user turn (Qwen2-Audio's layout)."""
    messages = [dict(m) for m in request.messages]
    if request.audio is not None:
        messages[-1] = {
            "role": "user",
            "content": [{"type": "audio"}, {"type": "text", "text": messages[-1]["content"]}],
        }
    return messages


class HfBackend:
    """Generation with a local ``transformers`` model."""

    name = "transformers"

    def __init__(self, model: str, options: HfOptions):
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        from audioreason.models.factory import ARCHITECTURES, load_model

        self.model = model
        self.options = options
        dtype = getattr(torch, options.dtype)
        arch = (AutoConfig.from_pretrained(model).architectures or [None])[0]
        if arch in ARCHITECTURES:
            self.lm, self.processor = load_model(model, dtype=dtype)
        else:
            self.lm, self.processor = (
                AutoModelForCausalLM.from_pretrained(model, dtype=dtype),
                AutoTokenizer.from_pretrained(model),
            )
        self.lm.to(options.device).eval()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.hears = hasattr(self.processor, "feature_extractor")
        self.calls = 0

    def generate(self, requests: Sequence[ChatRequest], sampling: SamplingParams) -> list[Generation]:
        import torch

        from audioreason.teachers.media import load_clip

        self.calls += 1
        with_audio = [r.audio is not None for r in requests]
        if any(with_audio) and not all(with_audio):
            raise BackendError("a batch mixes requests with and without audio; batch them separately")
        if any(r.video is not None for r in requests):
            raise BackendError(f"{requests[0].item_id}: the transformers backend takes no video")
        texts = [
            self.processor.apply_chat_template(_hf_messages(r), tokenize=False, add_generation_prompt=True)
            for r in requests
        ]
        if with_audio[0]:
            if not self.hears:
                raise BackendError(f"{requests[0].item_id}: {self.model} is a text-only model; it cannot take the clip")
            sr = self.processor.feature_extractor.sampling_rate
            audios = [load_clip(r.audio, sr)[0] for r in requests]
            enc = self.processor(
                text=texts, audio=audios, sampling_rate=sr, return_tensors="pt", padding=True, padding_side="left"
            )
        else:
            enc = self.tokenizer(texts, return_tensors="pt", padding=True, padding_side="left")
        enc = enc.to(self.options.device)
        kwargs = {
            "max_new_tokens": sampling.max_tokens,
            "num_return_sequences": sampling.n,
            "do_sample": not sampling.greedy,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if not sampling.greedy:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k)
        torch.manual_seed(sampling.seed)
        with torch.no_grad():
            out = self.lm.generate(**enc, **kwargs)
        prompt_len = enc["input_ids"].shape[1]
        new = out[:, prompt_len:]
        eos = set(
            self.lm.generation_config.eos_token_id
            if isinstance(self.lm.generation_config.eos_token_id, list)
            else [self.lm.generation_config.eos_token_id]
        )
        results = []
        for i, _ in enumerate(requests):
            rows = new[i * sampling.n : (i + 1) * sampling.n]
            n_prompt = int(enc["attention_mask"][i].sum())
            decoded, reasons, n_tokens = [], [], 0
            for row in rows:
                ids = row.tolist()
                stop = next((j for j, t in enumerate(ids) if t in eos), None)
                kept = ids if stop is None else ids[:stop]
                n_tokens += len(kept) + (stop is not None)
                reasons.append("length" if stop is None else "stop")
                decoded.append(self.tokenizer.decode(kept, skip_special_tokens=True))
            results.append(
                Generation(texts=decoded, prompt_tokens=n_prompt, completion_tokens=n_tokens, finish_reasons=reasons)
            )
        return results
