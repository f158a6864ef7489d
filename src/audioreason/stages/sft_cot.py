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

Each trained row saves a checkpoint every ``save_steps``; every checkpoint is scored on AVQA
val (the validation split) and the best one, adapters merged, becomes
``outputs/sft_cot/<row>/model``. Then Table 2's evaluation: AVQA val, MMAU test-mini (sound /
speech / music / average, official scorer) and MUSIC-AVQA test per question type, each next
to the paper's number. One MLflow run per row, ``p02.table2.<row>.sft_cot``.

    dvc repro sft_cot         # or: python -m audioreason.stages.sft_cot --row agfv_sft
"""

from __future__ import annotations

import argparse
from pathlib import Path

from datasets import Dataset

from audioreason.config import SftCotConfig, flatten
from audioreason.datasets.records import QARecord, read_manifest
from audioreason.models.factory import load_model
from audioreason.stages.common import OUTPUTS, read_jsonl, sections
from audioreason.stages.finetune import TrackerCallback, finish_row, plot_loss, row_stage
from audioreason.stages.row_selection import evaluate_suite, export_best_checkpoint, validation_accuracy
from audioreason.tracking import NullTracker
from audioreason.training.prompts import format_prompt
from audioreason.training.sft import AudioSFTCollator, build_lora, build_sft_config

OUT = OUTPUTS / "sft_cot"
PAPER, TABLE = "p02", "table2"

# Paper 02 Table 2 (MMAU test-mini sound / speech / music / avg; MUSIC-AVQA temporal / comparative / counting /
# existential / avg) and, where §4.2 states it, AVQA val (Table 1 / text).
PAPER_TABLE2 = {
    "direct": (64.3, 52.6, 61.7, 59.5, 57.2, 57.8, 55.7, 55.1, 55.6),
    "sft_gt_label": (66.7, 50.8, 61.1, 59.5, 60.4, 62.7, 61.1, 60.7, 61.1),
    "sft_distilled_label": (64.3, 52.3, 60.5, 59.0, 59.5, 61.4, 59.1, 60.2, 58.8),
    "grpo_distilled_label": (62.5, 49.8, 59.3, 57.2, 59.3, 60.8, 59.1, 60.3, 58.8),
    "sft_cot": (61.3, 47.1, 48.5, 52.3, 56.7, 57.7, 56.5, 54.3, 55.1),
    "agfv_sft": (63.1, 47.7, 51.5, 54.1, 58.2, 59.4, 56.9, 56.5, 56.5),
    "tts_agfv_sft": (61.6, 48.3, 50.6, 53.5, 60.6, 59.0, 59.1, 57.5, 58.2),
    "sightsound_r1": (66.1, 49.8, 52.7, 56.2, 62.7, 63.3, 60.1, 59.7, 59.5),
}
TABLE2_KEYS = ("mmau.sound", "mmau.speech", "mmau.music", "mmau.average", "music_avqa.temporal",
               "music_avqa.comparative", "music_avqa.counting", "music_avqa.existential", "music_avqa.average")
PAPER_AVQA_VAL = {"direct": 67.1, "sft_gt_label": 86.5}


def paper_numbers(row: str) -> dict[str, float]:
    out = {f"paper.{k}": v for k, v in zip(TABLE2_KEYS, PAPER_TABLE2.get(row, ()))}
    if row in PAPER_AVQA_VAL:
        out["paper.avqa_val.accuracy"] = PAPER_AVQA_VAL[row]
    return out


def _record(item: dict) -> QARecord:
    return QARecord(str(item["id"]), "avqa", "train", item["audio"], item["question"], tuple(item["choices"]),
                    item["answer"])


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
    return {"none": [], "gt_label": [cfg.avqa_train], "distilled_label": [cfg.traces], "cot": [cfg.traces],
            "agfv_cot": [cfg.d_fc_single], "tts_agfv_cot": [cfg.d_fc]}[data]


def train_row(cfg: SftCotConfig, data: str, out_dir: Path, tracker: NullTracker) -> dict:
    from trl import SFTTrainer

    rows, counts = training_rows(cfg, data)
    if not rows:
        raise ValueError(f"sft_cot: no training rows for data {data!r} (check {cfg.traces}, {cfg.d_fc})")
    model, processor = load_model(cfg.base)
    ckpt = out_dir / "checkpoints"
    args = build_sft_config(cfg.trainer, str(ckpt), where="sft_cot.trainer")
    callback = TrackerCallback(tracker)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=processor,
                         data_collator=AudioSFTCollator(processor), peft_config=build_lora(cfg.lora),
                         callbacks=[callback])
    result = trainer.train()
    plot_loss(callback.history, out_dir / "loss.png", out_dir / "loss.csv")
    tracker.log_artifact(out_dir / "loss.png", "plots")
    selection = export_best_checkpoint(ckpt, out_dir, validation_accuracy(cfg.eval, cfg.prompt), tracker,
                                       base=cfg.base if cfg.lora.r else None)
    return {"train_loss": result.training_loss, "steps": result.global_step, "train_examples": len(rows),
            **{f"data.{k}": v for k, v in counts.items()}, **selection}


def run(cfg: SftCotConfig, row: str, tracker: NullTracker, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = cfg.rows[row]
    metrics = train_row(cfg, spec.data, out_dir, tracker) if spec.train else {"steps": 0}
    model, processor = load_model(str(out_dir / "model") if spec.train else cfg.base)
    metrics.update(evaluate_suite(model, processor, cfg.eval, cfg.prompt, out_dir, tracker, music_avqa=True, no_audio=False))
    return finish_row(metrics, paper_numbers(row), ("avqa_val.accuracy",) + TABLE2_KEYS,
                      f"p02 Table 2, {row} (tiny)", out_dir, tracker)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", required=True)
    row = parser.parse_args(argv).row
    cfg, tracking = sections("sft_cot", "tracking").values()
    if row not in cfg.rows:
        raise SystemExit(f"sft_cot: no row {row!r} in sft_cot.rows ({', '.join(cfg.rows)})")
    params = {k: v for k, v in flatten(cfg, "sft_cot").items() if not k.startswith("sft_cot.rows.")}
    params.update(flatten(cfg.rows[row], "sft_cot.row"))
    row_stage("sft_cot", row, PAPER, TABLE, params, [cfg.base, *row_inputs(cfg, cfg.rows[row].data)], tracking,
              lambda tracker: run(cfg, row, tracker, OUT / row),
              lambda m: (f"AVQA val {m['avqa_val.accuracy']:.1f}; MMAU avg {m['mmau.average']:.1f}; "
                         f"MUSIC-AVQA avg {m.get('music_avqa.average', float('nan')):.1f}"))


if __name__ == "__main__":
    main()
