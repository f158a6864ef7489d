"""Batched generation for audio multiple-choice questions (transformers ``generate``).

Left padding, the same chat layout and prompt template as training
(:mod:`audioreason.training.prompts`), and per-item caching: finished items are appended
to a JSON Lines file as they complete, so an interrupted evaluation resumes where it
stopped.

The decoding settings are the params' ``generation`` sections as they are:
:class:`GenerationSettings` is :class:`audioreason.config.Generation`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

import torch
from tqdm.auto import tqdm

from audioreason.audio.io import load_audio
from audioreason.config import Generation
from audioreason.datasets.records import QARecord
from audioreason.training.prompts import audio_messages, format_prompt

GenerationSettings = Generation
"""Decoding settings of :func:`generate_answers`: a ``generation`` params section (one type for every stage)."""


def _batches(items: Sequence[QARecord], size: int) -> Iterator[Sequence[QARecord]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _read_cache(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    done = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            done[row["id"]] = row
    return done


@torch.no_grad()
def generate_answers(
    model,
    processor,
    records: Sequence[QARecord],
    *,
    prompt: str,
    settings: GenerationSettings,
    batch_size: int,
    cache: str | Path | None = None,
    with_audio: bool = True,
    system: str | None = None,
) -> list[dict]:
    """Generate one completion per record; returns ``[{id, prompt, completion}]`` in record order.

    Args:
        cache: JSON Lines file of finished items; items found there are not generated again.
        with_audio: ``False`` puts the question without the clip (paper 03's no-audio ablation).
        system: A system turn before the question (CoTA's, for models trained on it).
    """
    head = [{"role": "system", "content": system}] if system else []
    cache_path = Path(cache) if cache else None
    done = _read_cache(cache_path) if cache_path else {}
    todo = [r for r in records if r.id not in done]
    model.eval()
    tok = processor.tokenizer
    sr = processor.feature_extractor.sampling_rate
    torch.manual_seed(settings.seed)
    sink = cache_path.open("a") if cache_path else None
    try:
        for batch in tqdm(list(_batches(todo, batch_size)), desc="generate", disable=None):
            prompts = [format_prompt(prompt, r) for r in batch]
            if with_audio:
                texts = [
                    processor.apply_chat_template(head + audio_messages(p), tokenize=False, add_generation_prompt=True)
                    for p in prompts
                ]
                audios = [load_audio(r.audio, sr) for r in batch]
                enc = processor(
                    text=texts, audio=audios, sampling_rate=sr, return_tensors="pt", padding=True, padding_side="left"
                )
            else:
                texts = [
                    processor.apply_chat_template(
                        head + [{"role": "user", "content": [{"type": "text", "text": p}]}],
                        tokenize=False,
                        add_generation_prompt=True,
                    )
                    for p in prompts
                ]
                enc = tok(texts, return_tensors="pt", padding=True, padding_side="left")
            out = model.generate(**enc, **settings.generate_kwargs(), pad_token_id=tok.pad_token_id)
            new = out[:, enc["input_ids"].shape[1] :]
            for r, p, ids in zip(batch, prompts, new):
                row = {"id": r.id, "prompt": p, "completion": tok.decode(ids, skip_special_tokens=True)}
                done[r.id] = row
                if sink:
                    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                    sink.flush()
    finally:
        if sink:
            sink.close()
    return [done[r.id] for r in records]
