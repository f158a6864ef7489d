"""The evaluation sets of papers 02 and 03, one scoring rule each, and checkpoint selection.

- AVQA val (paper 02 Table 1): multiple choice scored by Table 1's rule, "exact option
  letter match; when absent, textual responses are aligned to the closest option via
  content similarity" (:func:`avqa_choice`), on the extracted answer (``<answer>`` content,
  else the text): ``avqa_val.accuracy``. The official MMAU string rule
  (:func:`~audioreason.evaluation.mmau.mmau_is_correct`) on the same answers is logged
  beside it as ``avqa_val.accuracy_mmau_rule``. AVQA val is also the validation split on
  which checkpoints are chosen (paper 02 §4.1: "Best checkpoints are selected by validation
  accuracy"), by ``avqa_val.accuracy``, never a test set.
- MMAU test-mini (papers 02 Table 2, 03 Tables I-II): the official scorer on the
  official item list (``with_predictions``), per task and average; paper 03 also
  without audio at inference ("we simply drop the audio tokens from the input", §IV.C).
- MUSIC-AVQA test (paper 02 Table 2): open answers mapped onto the 42-word vocabulary
  (:mod:`audioreason.evaluation.music_avqa`), per question type (Temporal, Comparative,
  Counting, Existential, Location), per modality group and overall.

MMAU is also scored reading the answer letter alone (``<name>.letter.average``) and the
answers that name no option are counted (``<name>.unparseable``): harnesses differ most in
extraction, so both readings are logged with every evaluation.

Every function returns flat metric names (``mmau.sound``, ``music_avqa.temporal``…) so
that MLflow runs of different stages compare column by column.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from audioreason.datasets.records import OpenQARecord, QARecord
from audioreason.evaluation.cota import extract_letter_answer
from audioreason.evaluation.generate import GenerationSettings, generate_answers
from audioreason.evaluation.mmau import extract_answer, mmau_is_correct, score_mmau, with_predictions
from audioreason.evaluation.music_avqa import score_music_avqa


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
    return generate_answers(
        model,
        processor,
        records,
        prompt=req.prompt,
        settings=req.settings,
        batch_size=req.batch_size,
        cache=cache,
        with_audio=req.with_audio,
    )


AVQA_SCORER_NAME = "avqa-letter-else-closest-option-v1"
"""Version of :func:`avqa_choice` (paper 02 Table 1's rule as read here), logged with every evaluation."""

# An option letter, alone or labelling the option text: "B", "(b)", "B.", "B) dog", "The answer is C", "Option: D".
_LETTER_ANSWER = re.compile(
    r"(?:(?:the\s+)?(?:answer|option)(?:\s+is)?\s*:?\s*)?(?:\(([a-z])\)|([a-z])[.:)]|([a-z])(?=\s*$))(?:\s.*)?",
    re.IGNORECASE | re.DOTALL,
)
_WORD = re.compile(r"\b\w+\b")
_STOP_WORDS = frozenset("a an the of in on at to is are be it its this that and or with by for from as".split())


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS}


def content_similarity(prediction: str, option: str) -> float:
    """F1 of the content words (lower-cased, stop words left out) of ``prediction`` against ``option``.

    >>> content_similarity("A dog is barking", "dog barking")
    1.0
    >>> round(content_similarity("the dog", "dog barking"), 3)
    0.667
    """
    p, o = _content_words(prediction), _content_words(option)
    shared = len(p & o)
    return 2.0 * shared / (len(p) + len(o)) if shared else 0.0


def avqa_choice(prediction: str, choices: Sequence[str]) -> tuple[str | None, str]:
    """The option an answer picks by paper 02 Table 1's rule, and how it was read.

    Table 1 caption: "Scores are computed by exact option letter match; when absent, textual
    responses are aligned to the closest option via content similarity." An option letter
    (``A`` for the first option; alone, bracketed or labelling a text) picks its option
    (``"letter"``). Otherwise the option of highest :func:`content_similarity` (``"content"``);
    no option when nothing is similar, or when the best is shared, so that an answer listing
    several options is credited with none (``"none"``). The paper names no similarity
    measure: content-word F1 is this package's reading.

    >>> avqa_choice("(B)", ["cat", "dog"])
    ('dog', 'letter')
    >>> avqa_choice("It is a dog barking.", ["cat meowing", "dog barking"])
    ('dog barking', 'content')
    >>> avqa_choice("cat or dog", ["cat", "dog"])
    (None, 'none')
    """
    text = prediction.strip()
    letter = _LETTER_ANSWER.fullmatch(text)
    if letter:
        k = ord(next(g for g in letter.groups() if g).upper()) - ord("A")
        if k < len(choices):
            return choices[k], "letter"
    scores = [content_similarity(text, c) for c in choices]
    best = max(scores, default=0.0)
    if best == 0.0 or scores.count(best) > 1:
        return None, "none"
    return choices[scores.index(best)], "content"


def mc_accuracy(
    model, processor, records: Sequence[QARecord], req: EvalRequest, name: str, cache: Path | None = None
) -> dict[str, float]:
    """Multiple-choice accuracy (%) of the extracted answers by paper 02 Table 1's rule (:func:`avqa_choice`).

    Returns:
        ``<name>.accuracy`` (Table 1's rule), ``<name>.accuracy_mmau_rule`` (the official MMAU string
        rule on the same answers), ``<name>.n``, ``<name>.by_letter`` (answers read by their option
        letter), ``<name>.no_option`` (answers that pick no option by Table 1's rule).
    """
    gens = _generate(model, processor, records, req, cache)
    return score_mc([extract_answer(g["completion"]) for g in gens], records, name)


def score_mc(predictions: Sequence[str], records: Sequence[QARecord], name: str) -> dict[str, float]:
    """:func:`mc_accuracy`'s metrics for extracted answers, one per record."""
    hits = hits_mmau = by_letter = no_option = 0
    for pred, r in zip(predictions, records, strict=True):
        choice, how = avqa_choice(pred, r.choices)
        hits += choice == r.answer
        by_letter += how == "letter"
        no_option += choice is None
        hits_mmau += mmau_is_correct(pred, r.answer, r.choices)
    n = len(records)
    return {
        f"{name}.accuracy": 100.0 * hits / n if n else 0.0,
        f"{name}.accuracy_mmau_rule": 100.0 * hits_mmau / n if n else 0.0,
        f"{name}.n": n,
        f"{name}.by_letter": by_letter,
        f"{name}.no_option": no_option,
    }


def other_readings(test_items: Sequence[dict], records: Sequence[QARecord], gens: Sequence[dict]) -> dict[str, float]:
    """The same MMAU generations read by the answer letter alone (``letter_overall``, official rule) and the
    number whose extracted answer names no option (``unparseable``): logged beside the main reading."""
    by_id = {r.id: r for r in records}
    letters = score_mmau(
        with_predictions(
            test_items, {g["id"]: extract_letter_answer(g["completion"], by_id[g["id"]].choices) or "" for g in gens}
        )
    )
    unparseable = sum(
        not any(
            mmau_is_correct(extract_answer(g["completion"]), c, by_id[g["id"]].choices) for c in by_id[g["id"]].choices
        )
        for g in gens
    )
    return {"letter_overall": letters["overall"], "unparseable": unparseable}


def mmau_scores(
    model,
    processor,
    records: Sequence[QARecord],
    mmau_json: str | Path,
    req: EvalRequest,
    name: str = "mmau",
    cache: Path | None = None,
    predictions: Path | None = None,
) -> dict[str, float]:
    """MMAU test-mini by the official rule: ``<name>.sound / .music / .speech / .average``."""
    gens = _generate(model, processor, records, req, cache)
    items = with_predictions(
        json.loads(Path(mmau_json).read_text()),
        {g["id"]: extract_answer(g["completion"]) for g in gens},
        {g["id"]: g["completion"] for g in gens},
    )
    if predictions is not None:
        predictions.parent.mkdir(parents=True, exist_ok=True)
        predictions.write_text(json.dumps(items, indent=2, ensure_ascii=False) + "\n")
    scores = score_mmau(items)
    other = other_readings(json.loads(Path(mmau_json).read_text()), records, gens)
    out = {f"{name}.{t}": scores["task"].get(t, 0.0) for t in ("sound", "music", "speech")}
    return {
        **out,
        f"{name}.average": scores["overall"],
        f"{name}.n": scores["n"],
        f"{name}.letter.average": other["letter_overall"],
        f"{name}.unparseable": other["unparseable"],
    }


def music_avqa_scores(
    model,
    processor,
    records: Sequence[OpenQARecord],
    req: EvalRequest,
    name: str = "music_avqa",
    cache: Path | None = None,
) -> dict[str, float]:
    """Accuracy (%) per question type (``<name>.counting``…), per group (``<name>.group.audio``…) and overall."""
    gens = _generate(model, processor, records, req, cache)
    s = score_music_avqa(
        [
            {"id": r.id, "answer": r.answer, "group": r.group, "type": r.type, "prediction": g["completion"]}
            for r, g in zip(records, gens)
        ]
    )
    out = {f"{name}.{t.lower()}": v for t, v in s["type"].items()}
    out.update({f"{name}.group.{g.lower()}": v for g, v in s["group"].items()})
    return {**out, f"{name}.average": s["overall"], f"{name}.n": s["n"], f"{name}.unparseable": s["unparseable"]}


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


def eval_request(cfg, prompt: str, with_audio: bool = True) -> EvalRequest:
    """An :class:`EvalRequest` from an ``eval`` params section (:class:`audioreason.config.EvalSuiteConfig`)."""
    return EvalRequest(prompt, cfg.generation, cfg.batch_size, with_audio)


def validation_accuracy(cfg, prompt: str) -> Callable:
    """``(model, processor) -> AVQA val accuracy``: the checkpoint-selection score."""
    from audioreason.datasets.records import read_manifest

    records = read_manifest(cfg.avqa_val)
    req = eval_request(cfg, prompt)
    return lambda model, processor: mc_accuracy(model, processor, records, req, "avqa_val")["avqa_val.accuracy"]


def export_best_checkpoint(
    ckpt_dir: Path,
    out_dir: Path,
    validate: Callable,
    tracker,
    base: str | None = None,
    metric: str = "avqa_val.accuracy",
) -> dict:
    """Score every checkpoint under ``ckpt_dir`` with ``validate(model, processor) -> float`` (the
    validation split, paper 02 §4.1: "Best checkpoints are selected by validation accuracy"), save the
    best as ``out_dir/model`` (adapters merged into ``base``) and delete the checkpoints.

    Each checkpoint's score is logged as ``selection.candidate.<metric>`` at its step; returns
    the selection metrics.
    """
    import shutil

    from audioreason.models.factory import load_checkpoint

    def score(ckpt: Path) -> float:
        model, processor = load_checkpoint(ckpt, base)
        value = validate(model.eval(), processor)
        tracker.log_metrics({f"selection.candidate.{metric}": value}, step=checkpoint_step(ckpt))
        return value

    best, scores = select_checkpoint(list(ckpt_dir.glob("checkpoint-*")), score)
    model, processor = load_checkpoint(best, base)
    model.save_pretrained(out_dir / "model")
    processor.save_pretrained(out_dir / "model")
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return {
        "selection.step": checkpoint_step(best),
        "selection.candidates": len(scores),
        f"selection.{metric}": scores[checkpoint_step(best)],
    }


def evaluate_suite(
    model, processor, cfg, prompt: str, out_dir: Path, tracker, *, music_avqa: bool, no_audio: bool
) -> dict:
    """AVQA val, MMAU test-mini (official scorer; also without audio when ``no_audio``) and MUSIC-AVQA test.

    The scorers' and the extractor's versions and the MMAU test set's sha256 are tagged on the run.
    """
    from audioreason.datasets.records import read_manifest
    from audioreason.evaluation import mmau as mmau_rule
    from audioreason.evaluation import music_avqa as music_rule

    tracker.set_tags(
        {
            "scorer": mmau_rule.SCORER_NAME,
            "avqa_scorer": AVQA_SCORER_NAME,
            "extractor": mmau_rule.EXTRACTOR_NAME,
            "test_set_sha256": mmau_rule.mmau_test_set_sha256(json.loads(Path(cfg.mmau_json).read_text())),
            "music_avqa_scorer": music_rule.SCORER_NAME,
        }
    )
    model.eval()
    gens = out_dir / "generations"
    metrics = mc_accuracy(
        model, processor, read_manifest(cfg.avqa_val), eval_request(cfg, prompt), "avqa_val", gens / "avqa_val.jsonl"
    )
    mmau = read_manifest(cfg.mmau_manifest)
    metrics.update(
        mmau_scores(
            model,
            processor,
            mmau,
            cfg.mmau_json,
            eval_request(cfg, prompt),
            "mmau",
            gens / "mmau.jsonl",
            out_dir / "mmau_predictions.json",
        )
    )
    if no_audio:
        metrics.update(
            mmau_scores(
                model,
                processor,
                mmau,
                cfg.mmau_json,
                eval_request(cfg, prompt, False),
                "mmau_no_audio",
                gens / "mmau_no_audio.jsonl",
            )
        )
    if music_avqa and cfg.music_avqa_test:
        metrics.update(
            music_avqa_scores(
                model,
                processor,
                read_manifest(cfg.music_avqa_test, OpenQARecord),
                eval_request(cfg, cfg.music_avqa_prompt),
                "music_avqa",
                gens / "music_avqa.jsonl",
            )
        )
    return metrics


def finish_row(metrics: dict, paper_numbers: dict, shown: Sequence[str], title: str, out_dir: Path, tracker) -> dict:
    """End a table row: add the paper's numbers (``paper.<metric>``), plot the ``shown`` metrics present
    (``out_dir/scores.png``, logged) and write ``out_dir/scores.json``."""
    from audioreason.plots import bar_plot

    metrics.update(paper_numbers)
    png = bar_plot(
        {k: metrics[k] for k in shown if k in metrics}, out_dir / "scores.png", title=title, ylabel="%", ylim=(0, 100)
    )
    tracker.log_artifact(png, "plots")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "scores.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return metrics
