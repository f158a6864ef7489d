"""Choosing a fine-tuned row's checkpoint on the validation split and scoring it with the papers'
evaluation suite (papers 02-03): what the ``sft_cot`` and ``grpo`` stages share beyond training.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

from audioreason.evaluation.suite import checkpoint_step, select_checkpoint
from audioreason.stages.finetune import load_checkpoint
from audioreason.tracking import NullTracker


def export_best_checkpoint(ckpt_dir: Path, out_dir: Path, validate: Callable, tracker: NullTracker,
                           base: str | None = None, metric: str = "avqa_val.accuracy") -> dict:
    """Score every checkpoint under ``ckpt_dir`` with ``validate(model, processor) -> float`` (the
    validation split, paper 02 §4.1: "Best checkpoints are selected by validation accuracy"), save the
    best as ``out_dir/model`` (adapters merged) and delete the checkpoints.

    Each checkpoint's score is logged as ``metric`` at its step; returns the selection metrics.
    """
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
    return {"selection.step": checkpoint_step(best), "selection.candidates": len(scores),
            f"selection.{metric}": scores[checkpoint_step(best)]}


def eval_request(cfg, prompt: str, with_audio: bool = True):
    """An :class:`~audioreason.evaluation.suite.EvalRequest` from an ``eval`` params section."""
    from audioreason.evaluation.generate import GenerationSettings
    from audioreason.evaluation.suite import EvalRequest

    settings = GenerationSettings(cfg.max_new_tokens, cfg.do_sample, cfg.temperature, cfg.top_k, cfg.top_p, cfg.seed)
    return EvalRequest(prompt, settings, cfg.batch_size, with_audio)


def validation_accuracy(cfg, prompt: str) -> Callable:
    """``(model, processor) -> AVQA val accuracy``: the checkpoint-selection score."""
    from audioreason.datasets.records import read_manifest
    from audioreason.evaluation.suite import mc_accuracy

    records = read_manifest(cfg.avqa_val)
    req = eval_request(cfg, prompt)
    return lambda model, processor: mc_accuracy(model, processor, records, req, "avqa_val")["avqa_val.accuracy"]


def evaluate_suite(model, processor, cfg, prompt: str, out_dir: Path, tracker: NullTracker, *, music_avqa: bool,
                   no_audio: bool) -> dict:
    """AVQA val, MMAU test-mini (official scorer; also without audio when ``no_audio``) and MUSIC-AVQA test.

    The scorers' and the extractor's versions and the MMAU test set's sha256 are tagged on the run.
    """
    from audioreason.datasets.records import OpenQARecord, read_manifest
    from audioreason.evaluation import mmau as mmau_rule
    from audioreason.evaluation import music_avqa as music_rule
    from audioreason.evaluation.suite import mc_accuracy, mmau_scores, music_avqa_scores

    tracker.set_tags({"scorer": mmau_rule.SCORER_NAME, "extractor": mmau_rule.EXTRACTOR_NAME,
                      "test_set_sha256": mmau_rule.mmau_test_set_sha256(json.loads(Path(cfg.mmau_json).read_text())),
                      "music_avqa_scorer": music_rule.SCORER_NAME})
    model.eval()
    gens = out_dir / "generations"
    metrics = mc_accuracy(model, processor, read_manifest(cfg.avqa_val), eval_request(cfg, prompt), "avqa_val",
                          gens / "avqa_val.jsonl")
    mmau = read_manifest(cfg.mmau_manifest)
    metrics.update(mmau_scores(model, processor, mmau, cfg.mmau_json, eval_request(cfg, prompt), "mmau",
                               gens / "mmau.jsonl", out_dir / "mmau_predictions.json"))
    if no_audio:
        metrics.update(mmau_scores(model, processor, mmau, cfg.mmau_json, eval_request(cfg, prompt, False),
                                   "mmau_no_audio", gens / "mmau_no_audio.jsonl"))
    if music_avqa and cfg.music_avqa_test:
        metrics.update(music_avqa_scores(model, processor, read_manifest(cfg.music_avqa_test, OpenQARecord),
                                         eval_request(cfg, cfg.music_avqa_prompt), "music_avqa",
                                         gens / "music_avqa.jsonl"))
    return metrics
