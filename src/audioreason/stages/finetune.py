"""What the fine-tuning stages share: logging Trainer lines to MLflow, the loss curve, training
with TRL's ``SFTTrainer`` and saving, choosing a checkpoint on the validation split and
exporting it, and one MLflow run per matrix row.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Sequence

from transformers import TrainerCallback

from audioreason.evaluation.suite import checkpoint_step, select_checkpoint
from audioreason.models.factory import load_model
from audioreason.stages.common import METRICS, PLOTS
from audioreason.tracking import NullTracker


class TrackerCallback(TrainerCallback):
    """Forward every Trainer log line (loss, lr, grad norm, token accuracy) to the tracker."""

    def __init__(self, tracker: NullTracker):
        self.tracker = tracker
        self.history: list[dict] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        numeric = {k: v for k, v in (logs or {}).items() if isinstance(v, (int, float))}
        if numeric:
            self.tracker.log_metrics(numeric, step=state.global_step)
            self.history.append({"step": state.global_step, **numeric})


def plot_loss(history: list[dict], png: Path, csv_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [h for h in history if "loss" in h]
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "loss"])
        w.writeheader()
        w.writerows({"step": h["step"], "loss": h["loss"]} for h in rows)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([h["step"] for h in rows], [h["loss"] for h in rows], marker="o")
    ax.set(xlabel="step", ylabel="train loss (answer tokens)", title="SFT")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def train_and_save(model, processor, dataset, collator, args, tracker: NullTracker, out_dir: Path,
                   peft_config=None, plot_name: str = "sft", trainer_cls=None) -> dict:
    """TRL ``SFTTrainer`` over ``dataset``; the (merged) model and its processor go to ``out_dir/model``,
    the loss curve to ``out_dir/loss.png`` and ``plots/<plot_name>/loss.csv``."""
    from trl import SFTTrainer

    callback = TrackerCallback(tracker)
    trainer = (trainer_cls or SFTTrainer)(model=model, args=args, train_dataset=dataset, processing_class=processor,
                                          data_collator=collator, peft_config=peft_config, callbacks=[callback])
    result = trainer.train()
    final = trainer.model.merge_and_unload() if peft_config is not None else trainer.model
    final.save_pretrained(out_dir / "model")
    processor.save_pretrained(out_dir / "model")
    shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    losses = [h["loss"] for h in callback.history if "loss" in h]
    plot_loss(callback.history, out_dir / "loss.png", PLOTS / plot_name / "loss.csv")
    tracker.log_artifact(out_dir / "loss.png", "plots")
    return {"train_loss": result.training_loss, "final_logged_loss": losses[-1] if losses else float("nan"),
            "steps": result.global_step, "train_examples": len(dataset),
            "train_runtime_s": result.metrics.get("train_runtime", float("nan"))}


def load_checkpoint(checkpoint: Path, base: str | None = None):
    """A saved checkpoint as ``(model, processor)``: a LoRA adapter is merged into ``base``."""
    if (checkpoint / "adapter_config.json").is_file():
        from peft import PeftModel

        if base is None:
            raise ValueError(f"{checkpoint} holds a LoRA adapter: its base model must be given")
        model, processor = load_model(base)
        return PeftModel.from_pretrained(model, str(checkpoint)).merge_and_unload(), processor
    return load_model(str(checkpoint))


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


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def row_stage(stage: str, row: str, paper: str, table: str, params: dict, deps: list, tracking,
              run: Callable[[NullTracker], dict], summary: Callable[[dict], str]) -> dict:
    """One matrix row as one MLflow run (``<paper>.<table>.<row>.<stage>``); rank 0 writes
    ``metrics/<stage>/<row>.json`` and prints ``summary(metrics)``."""
    from audioreason.tracking import start_run, write_metrics

    with start_run(uri=tracking.uri, experiment=tracking.experiment, scale=tracking.scale, stage=stage, paper=paper, table=table,
                   row=row, params=params, deps=deps) as tracker:
        metrics = run(tracker)
        tracker.log_metrics(metrics)
    if is_main_process():
        write_metrics(metrics, METRICS / stage / f"{row}.json")
        (METRICS / stage).mkdir(parents=True, exist_ok=True)
        print(f"{stage}[{row}]: {summary(metrics)}")
    return metrics


def finish_row(metrics: dict, paper_numbers: dict, shown: Sequence[str], title: str, out_dir: Path,
               tracker: NullTracker) -> dict:
    """Add the paper's numbers (``paper.<metric>``), plot the ``shown`` metrics present, write ``scores.json``."""
    from audioreason.stages.common import bar_plot

    metrics.update(paper_numbers)
    png = bar_plot({k: metrics[k] for k in shown if k in metrics}, out_dir / "scores.png", title=title, ylabel="%",
                   ylim=(0, 100))
    tracker.log_artifact(png, "plots")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "scores.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return metrics


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
