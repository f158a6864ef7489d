"""What the fine-tuning stages share: logging Trainer lines to MLflow, the loss curve, training
with TRL's ``SFTTrainer`` and saving, loading a checkpoint, and one MLflow run per matrix row.
Choosing a checkpoint on the validation split and the papers' evaluation suite are in
:mod:`audioreason.stages.row_selection` (kept apart so that training-only stages do not depend
on the scorers).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Sequence

from transformers import TrainerCallback

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
