"""Stage ``sft_cot``: LoRA SFT of the audio student on labels or verified teacher CoT (paper 02).

Paper 02 §3.3 eq. 1: only LoRA parameters (r = 8, alpha = 16) on top of the frozen
Qwen2-Audio-7B-Instruct are trained, by cross-entropy on the assistant turn; §4.1: batch 8
per GPU, lr 5e-5, 2000 steps, all training on AVQA, "Best checkpoints are selected by
validation accuracy". One DVC matrix row per Table 2 row:

- ``direct``: the base, evaluated only;
- ``sft_gt_label`` / ``sft_distilled_label``: ``<answer>label</answer>`` with the ground
  truth, or with the vision teacher's first-sample answer;
- ``sft_cot``: the teacher's first trace of every item, unfiltered;
- ``agfv_sft``: the first traces that AGFV accepted;
- ``tts_agfv_sft``: every AGFV-accepted trace of the unanimous items (test-time scaling).

The adapters wrap the language model's linear layers only, never the audio encoder or the
projector (:func:`~audioreason.training.sft.build_lora`). Each trained row saves a checkpoint
every ``save_steps``; every checkpoint is scored on AVQA val (the validation split, paper 02
Table 1's rule) and the best one, adapters merged, becomes ``outputs/sft_cot/<row>/model``.
Then Table 2's evaluation: AVQA val, MMAU test-mini (sound / speech / music / average, official
scorer) and MUSIC-AVQA test per question type, each next to the paper's number. One MLflow run
per row, ``p02.table2.<row>.sft_cot``. Launched with ``sft_cot.launch``: at paper scale
``torchrun`` over 8 GPUs with a DeepSpeed config (batch 8 per GPU); every rank trains, rank 0
alone selects, evaluates and writes.

    dvc repro sft_cot         # or: python -m audioreason.stages.sft_cot --row agfv_sft
    torchrun --nproc_per_node=8 -m audioreason.stages.sft_cot --row agfv_sft   # paper scale (sft_cot.launch)
"""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from audioreason.config import SftCotConfig, flatten
from audioreason.datasets.records import QARecord, read_manifest
from audioreason.evaluation.generate import check_engine, load_eval_model, release
from audioreason.evaluation.paper_tables import paper_numbers
from audioreason.evaluation.suite import evaluate_suite, export_best_checkpoint, finish_row, validation_accuracy
from audioreason.models.factory import load_model
from audioreason.pipeline import METRICS, OUTPUTS, matrix_row, read_jsonl, stage_params
from audioreason.plots import plot_loss
from audioreason.tracking import NullTracker, is_main_process, stage_run
from audioreason.training.callbacks import TrackerCallback
from audioreason.training.prompts import format_prompt
from audioreason.training.sft import AudioSFTCollator, build_lora, build_sft_config

OUT = OUTPUTS / "sft_cot"
PAPER, TABLE = "p02", "table2"

#: Table 2's columns, the metrics its rows are plotted by.
TABLE2_KEYS = (
    "mmau.sound",
    "mmau.speech",
    "mmau.music",
    "mmau.average",
    "music_avqa.temporal",
    "music_avqa.comparative",
    "music_avqa.counting",
    "music_avqa.existential",
    "music_avqa.average",
)


def _record(item: dict) -> QARecord:
    return QARecord(
        str(item["id"]), "avqa", "train", item["audio"], item["question"], tuple(item["choices"]), item["answer"]
    )


def training_rows(cfg: SftCotConfig, data: str) -> tuple[list[dict], dict[str, int]]:
    """The (prompt, completion) rows of one data kind, and what was left out and why."""

    def row(rec: QARecord, completion: str) -> dict:
        return {"id": rec.id, "audio": rec.audio, "prompt": format_prompt(cfg.prompt, rec), "completion": completion}

    if data == "gt_label":
        recs = read_manifest(cfg.avqa_train)
        return [row(r, cfg.label_target.format(answer=r.answer)) for r in recs], {"items": len(recs)}
    if data in ("distilled_label", "cot"):
        items = read_jsonl(Path(cfg.traces))
        usable = [it for it in items if it["trace_answers"][0] is not None]
        skipped = {"items": len(items), "skipped.unparseable_first_trace": len(items) - len(usable)}
        if data == "distilled_label":
            return [row(_record(it), cfg.label_target.format(answer=it["trace_answers"][0])) for it in usable], skipped
        return [row(_record(it), it["traces"][0]) for it in usable], skipped
    accepted = read_jsonl(Path(cfg.d_fc_single if data == "agfv_cot" else cfg.d_fc))
    return [row(_record(a), a["trace"]) for a in accepted], {"items": len({a["id"] for a in accepted})}


def row_inputs(cfg: SftCotConfig, data: str) -> list[str]:
    """The files a row's training data comes from (its lineage in MLflow)."""
    return {
        "none": [],
        "gt_label": [cfg.avqa_train],
        "distilled_label": [cfg.traces],
        "cot": [cfg.traces],
        "agfv_cot": [cfg.d_fc_single],
        "tts_agfv_cot": [cfg.d_fc],
    }[data]


def build_trainer(cfg: SftCotConfig, rows: list[dict], model, processor, ckpt: Path, callbacks=()):
    """TRL's ``SFTTrainer`` of a row: ``sft_cot.trainer`` as ``SFTConfig``, the audio collator, LoRA on the language
    model of ``model`` (paper 02 §3.3 eq. 1: only the adapters train, by cross-entropy on the assistant turn)."""
    from trl import SFTTrainer

    return SFTTrainer(
        model=model,
        args=build_sft_config(cfg.trainer, str(ckpt), where="sft_cot.trainer"),
        train_dataset=Dataset.from_list(rows),
        processing_class=processor,
        data_collator=AudioSFTCollator(processor),
        peft_config=build_lora(cfg.lora, model),
        callbacks=list(callbacks),
    )


def train_row(cfg: SftCotConfig, data: str, out_dir: Path, tracker: NullTracker) -> dict:
    """Train one row on every rank; rank 0 then scores the checkpoints on AVQA val and exports the best."""
    rows, counts = training_rows(cfg, data)
    if not rows:
        raise ValueError(f"sft_cot: no training rows for data {data!r} (check {cfg.traces}, {cfg.d_fc})")
    model, processor = load_model(cfg.base)
    ckpt = out_dir / "checkpoints"
    callback = TrackerCallback(tracker)
    trainer = build_trainer(cfg, rows, model, processor, ckpt, [callback])
    result = trainer.train()
    metrics = {
        "train_loss": result.training_loss,
        "steps": result.global_step,
        "train_examples": len(rows),
        **{f"data.{k}": v for k, v in counts.items()},
        "deepspeed_zero_stage": (
            trainer.accelerator.state.deepspeed_plugin.zero_stage if trainer.is_deepspeed_enabled else -1
        ),
    }
    if trainer.is_deepspeed_enabled:
        from transformers.integrations.deepspeed import unset_hf_deepspeed_config

        unset_hf_deepspeed_config()  # under ZeRO-3 every later from_pretrained would be partitioned
    if not is_main_process():
        return metrics
    plot_loss(callback.history, out_dir / "loss.png", out_dir / "loss.csv")
    tracker.log_artifact(out_dir / "loss.png", "plots")
    metrics.update(
        export_best_checkpoint(
            ckpt, out_dir, validation_accuracy(cfg.eval, cfg.prompt), tracker, base=cfg.base if cfg.lora.r else None
        )
    )
    return metrics


def run(cfg: SftCotConfig, row: str, tracker: NullTracker, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    check_engine(cfg.eval, "sft_cot.eval")  # before hours of training, not after
    spec = cfg.rows[row]
    metrics = train_row(cfg, spec.data, out_dir, tracker) if spec.train else {"steps": 0}
    if not is_main_process():
        return metrics  # under torchrun every rank trains; rank 0 alone selects, evaluates and writes
    # The saved directory, not the trainer's model: vLLM (sft_cot.eval.engine) reads its weights from disk.
    model, processor = load_eval_model(str(out_dir / "model") if spec.train else cfg.base, cfg.eval, "sft_cot.eval")
    metrics.update(
        evaluate_suite(model, processor, cfg.eval, cfg.prompt, out_dir, tracker, music_avqa=True, no_audio=False)
    )
    release(model)
    return finish_row(
        metrics,
        paper_numbers(PAPER, row, measured=metrics),
        ("avqa_val.accuracy",) + TABLE2_KEYS,
        f"p02 Table 2, {row} (tiny)",
        out_dir,
        tracker,
    )


def main(argv: list[str] | None = None) -> None:
    cfg, tracking = stage_params("sft_cot", "tracking")
    row = matrix_row("sft_cot", cfg.rows, argv, description=__doc__.splitlines()[0])
    params = {k: v for k, v in flatten(cfg, "sft_cot").items() if not k.startswith("sft_cot.rows.")}
    params.update(flatten(cfg.rows[row], "sft_cot.row"))
    with stage_run(
        "sft_cot",
        tracking,
        paper=PAPER,
        table=TABLE,
        row=row,
        params=params,
        deps=[cfg.base, *row_inputs(cfg, cfg.rows[row].data)],
        metrics_path=METRICS / "sft_cot" / f"{row}.json",
    ) as stage:
        stage.metrics = m = run(cfg, row, stage.tracker, OUT / row)
    if is_main_process():
        print(
            f"sft_cot[{row}]: AVQA val {m['avqa_val.accuracy']:.1f}; MMAU avg {m['mmau.average']:.1f}; "
            f"MUSIC-AVQA avg {m.get('music_avqa.average', float('nan')):.1f}"
        )


if __name__ == "__main__":
    main()
