"""Stage ``sft``: supervised fine-tuning of the audio model on AVQA-format questions.

TRL ``SFTTrainer`` with the audio collator of :mod:`audioreason.training.sft`: the clip's
Whisper features reach the forward pass and only the assistant's ``<answer>`` turn is
scored. This is the label-only SFT baseline of paper 02 (SightSound-R1, Table 2,
"SFT (Ground Truth Label)"; §4: LoRA r=8, alpha=16, lr 5e-5, batch 8/GPU, 2000 steps),
trained on AVQA with the R1-AQA prompt (FORMATS.md).

One MLflow run (``p02.table2.sft_gt_label/sft``): flattened params, every logged loss,
the lineage tags, a loss plot. The model and processor go to ``outputs/sft/model``.

    dvc repro sft             # or: python -m audioreason.stages.sft
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from transformers import TrainerCallback

from audioreason.config import SftConfig
from audioreason.datasets.records import read_manifest
from audioreason.models.factory import load_model
from audioreason.stages.common import OUTPUTS, PLOTS, training_stage
from audioreason.tracking import NullTracker
from audioreason.training.sft import AudioSFTCollator, build_lora, build_sft_config, sft_dataset

OUT = OUTPUTS / "sft"
PAPER, TABLE, ROW = "p02", "table2", "sft_gt_label"


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


def run(cfg: SftConfig, tracker: NullTracker, out_dir: Path = OUT) -> dict:
    train = read_manifest(cfg.train_manifest)
    model, processor = load_model(cfg.model)
    args = build_sft_config(cfg.trainer, str(out_dir / "checkpoints"))
    return train_and_save(model, processor, sft_dataset(train, cfg.prompt, cfg.target), AudioSFTCollator(processor),
                          args, tracker, out_dir, peft_config=build_lora(cfg.lora))


def main() -> None:
    training_stage("sft", PAPER, TABLE, ROW, run, lambda cfg: [cfg.model, cfg.train_manifest])


if __name__ == "__main__":
    main()
