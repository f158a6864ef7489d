"""SER questions under paper 04's prompt conditions (§III "Token Interventions"), shared by the
``interventions`` and ``ser_finetune`` stages so that training and evaluation ask alike.

A condition changes only the token string appended to the question; the audio and the
question stay the same: ``audio_only`` (no tokens), ``correct``, ``shuffle`` (seeded
permutation within the split), ``conflict``, ``corrupt`` (probability p) -- see
:mod:`audioreason.features.concept_tokens`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from audioreason.config import InterventionsConfig
from audioreason.datasets.records import QARecord
from audioreason.features.concept_tokens import conflict, corrupt, serialise, shuffle
from audioreason.training.prompts import format_prompt

CONDITIONS = ("audio_only", "correct", "shuffle", "conflict", "corrupt")


def token_rows(folder: str | Path, dataset: str, split: str) -> list[dict]:
    """The ``concept_tokens`` rows of one split.

    Raises:
        FileNotFoundError / ValueError: no tokens for the dataset, or none in the split.
    """
    path = Path(folder) / dataset / "tokens.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no concept tokens for {dataset!r} (run the concept_tokens stage)")
    rows = [r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if r["split"] == split]
    if not rows:
        raise ValueError(f"{path}: no utterance in split {split!r}")
    return rows


def condition_tokens(rows: Sequence[dict], condition: str, *, seed: int = 0, p: float = 0.0) -> list[dict] | None:
    """Each utterance's token set under ``condition`` (``None``: no tokens appended)."""
    own = [r["tokens"] for r in rows]
    if condition == "audio_only":
        return None
    if condition == "correct":
        return [dict(t) for t in own]
    if condition == "shuffle":
        return shuffle(own, seed)
    if condition == "conflict":
        return [conflict(t) for t in own]
    if condition == "corrupt":
        rng = np.random.default_rng(seed)
        return [corrupt(t, p, rng) for t in own]
    raise ValueError(f"unknown condition {condition!r} (have: {', '.join(CONDITIONS)})")


def questions(
    rows: Sequence[dict], token_sets: Sequence[dict] | None, cfg: InterventionsConfig, dataset: str
) -> list[QARecord]:
    """One question per utterance, the whole user turn in ``question`` (the choices in the
    classes' order, then the token string when given)."""
    words = tuple(cfg.classes[dataset][c] for c in sorted(cfg.classes[dataset]))
    out = []
    for i, r in enumerate(rows):
        text = format_prompt(
            cfg.prompt, QARecord(r["id"], dataset, r["split"], r["audio"], cfg.question, words, words[0])
        )
        if token_sets is not None:
            text += cfg.token_suffix.format(tokens=serialise(token_sets[i]))
        out.append(QARecord(r["id"], dataset, r["split"], r["audio"], text, words, cfg.classes[dataset][r["label"]]))
    return out
