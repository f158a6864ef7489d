"""The evaluation sets of papers 02 and 03, one scoring rule each, and checkpoint selection.

- AVQA val (paper 02 Table 1): multiple choice, the official MMAU string rule
  (:func:`~audioreason.evaluation.mmau.mmau_is_correct`) on the extracted answer
  (``<answer>`` content, else the text). It is also the validation split on which
  checkpoints are chosen (paper 02 §4.1: "Best checkpoints are selected by validation
  accuracy"), never a test set.
- MMAU test-mini (papers 02 Table 2, 03 Tables I-II): the official scorer on the
  official item list (``with_predictions``), per task and average; paper 03 also
  without audio at inference ("we simply drop the audio tokens from the input", §IV.C).
- MUSIC-AVQA test (paper 02 Table 2): open answers over the 42-word vocabulary; exact
  match after normalisation (case, ``_`` vs space, punctuation), per question type
  (Temporal, Comparative, Counting, Existential, Location) and overall.

Every function returns flat metric names (``mmau.sound``, ``music_avqa.temporal``…) so
that MLflow runs of different stages compare column by column.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from audioreason.datasets.records import OpenQARecord, QARecord
from audioreason.evaluation.generate import GenerationSettings, generate_answers
from audioreason.evaluation.mmau import extract_answer, mmau_is_correct, score_mmau, with_predictions

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class EvalRequest:
    """How to ask a model: the prompt template, decoding, batch size, with or without the clip."""

    prompt: str
    settings: GenerationSettings
    batch_size: int
    with_audio: bool = True


def _generate(model, processor, records, req: EvalRequest, cache: Path | None) -> list[dict]:
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.unlink(missing_ok=True)  # a new model: nothing cached applies
    return generate_answers(model, processor, records, prompt=req.prompt, settings=req.settings,
                            batch_size=req.batch_size, cache=cache, with_audio=req.with_audio)


def mc_accuracy(model, processor, records: Sequence[QARecord], req: EvalRequest, name: str,
                cache: Path | None = None) -> dict[str, float]:
    """Multiple-choice accuracy (%) with the MMAU rule; ``<name>.accuracy``, ``<name>.n``, ``<name>.no_option``."""
    gens = _generate(model, processor, records, req, cache)
    hits, no_option = 0, 0
    for r, g in zip(records, gens):
        pred = extract_answer(g["completion"])
        hits += mmau_is_correct(pred, r.answer, r.choices)
        no_option += not any(mmau_is_correct(pred, c, r.choices) for c in r.choices)
    n = len(records)
    return {f"{name}.accuracy": 100.0 * hits / n if n else 0.0, f"{name}.n": n, f"{name}.no_option": no_option}


def mmau_scores(model, processor, records: Sequence[QARecord], mmau_json: str | Path, req: EvalRequest,
                name: str = "mmau", cache: Path | None = None, predictions: Path | None = None) -> dict[str, float]:
    """MMAU test-mini by the official rule: ``<name>.sound / .music / .speech / .average``."""
    gens = _generate(model, processor, records, req, cache)
    items = with_predictions(json.loads(Path(mmau_json).read_text()),
                             {g["id"]: extract_answer(g["completion"]) for g in gens},
                             {g["id"]: g["completion"] for g in gens})
    if predictions is not None:
        predictions.parent.mkdir(parents=True, exist_ok=True)
        predictions.write_text(json.dumps(items, indent=2, ensure_ascii=False) + "\n")
    scores = score_mmau(items)
    out = {f"{name}.{t}": scores["task"].get(t, 0.0) for t in ("sound", "music", "speech")}
    return {**out, f"{name}.average": scores["overall"], f"{name}.n": scores["n"]}


def normalise_open_answer(text: str) -> str:
    """MUSIC-AVQA answers: ``acoustic_guitar`` = ``Acoustic guitar.``

    >>> normalise_open_answer(" Acoustic guitar. ") == normalise_open_answer("acoustic_guitar")
    True
    """
    return " ".join(_WORD.findall(text.lower().replace("_", " ")))


def music_avqa_scores(model, processor, records: Sequence[OpenQARecord], req: EvalRequest,
                      name: str = "music_avqa", cache: Path | None = None) -> dict[str, float]:
    """Open-answer exact match (%) per question type and overall (``<name>.average``)."""
    gens = _generate(model, processor, records, req, cache)
    by_type: dict[str, list[int]] = defaultdict(list)
    for r, g in zip(records, gens):
        by_type[r.type.lower()].append(
            int(normalise_open_answer(extract_answer(g["completion"])) == normalise_open_answer(r.answer)))
    flat = [h for hits in by_type.values() for h in hits]
    out = {f"{name}.{t}": 100.0 * sum(h) / len(h) for t, h in sorted(by_type.items())}
    return {**out, f"{name}.average": 100.0 * sum(flat) / len(flat) if flat else 0.0, f"{name}.n": len(flat)}


def checkpoint_step(path: Path) -> int:
    return int(path.name.rsplit("-", 1)[-1])


def select_checkpoint(checkpoints: Sequence[Path], score: Callable[[Path], float]) -> tuple[Path, dict[int, float]]:
    """The checkpoint with the best validation score (the later one on a tie), and every score by step.

    Raises:
        ValueError: no checkpoint to choose from.
    """
    if not checkpoints:
        raise ValueError("no checkpoint to select from: set save_steps so that training saves at least one")
    ordered = sorted(checkpoints, key=checkpoint_step)
    scores = {checkpoint_step(c): score(c) for c in ordered}
    best = max(ordered, key=lambda c: (scores[checkpoint_step(c)], checkpoint_step(c)))
    return best, scores
