"""Stage ``train_text_teacher``: the textual teacher learns D_text (paper 01, tiny scale only).

Paper 01's textual teacher is Qwen3-8B, a given model that reads the description d and
the question q and reasons to the answer. The tiny random-init Qwen3 must first learn to
do that: TRL ``SFTTrainer`` on D_text as conversational prompt-completion pairs (CoTA's
system prompt; user: d and q; assistant: the trace r and answer a), loss on the
completion only. A held-out slice of D_text measures the teacher's answer accuracy
(greedy generation through the ``transformers`` teacher backend, answer letter read from
``<RESPONSE>``), reported in the metrics: a teacher that cannot answer has nothing to teach.

At paper scale ``trainer.max_steps`` is 0 and ``distill.teacher`` names the real model.

One MLflow run, ``p01.table1.teacher.train_text_teacher``.

    dvc repro train_text_teacher  # or: python -m audioreason.stages.train_text_teacher
"""

from __future__ import annotations

import json
from pathlib import Path

from datasets import Dataset

from audioreason.config import TeacherSpec, TrainTextTeacherConfig
from audioreason.evaluation.cota import extract_cota_answer
from audioreason.models.factory import load_model
from audioreason.pipeline import OUTPUTS, PLOTS, read_jsonl, stage_params
from audioreason.teachers.backends import build_backend
from audioreason.teachers.base import ChatRequest, SamplingParams
from audioreason.tracking import NullTracker, stage_run
from audioreason.training.prompts import COTA_SYSTEM, cota_question, cota_response
from audioreason.training.sft import build_sft_config, train_and_save

OUT = OUTPUTS / "train_text_teacher"
PAPER, TABLE, ROW = "p01", "table1", "teacher"


def teacher_messages(row: dict, prompt: str) -> list[dict]:
    q = cota_question(row["question"], row["choices"])
    return [
        {"role": "system", "content": COTA_SYSTEM},
        {"role": "user", "content": prompt.format(description=row["description"], question=q)},
    ]


def split_held_out(rows: list[dict], fraction: float) -> tuple[list[dict], list[dict]]:
    """Every ``round(1 / fraction)``-th item is held out (deterministic, spread over the file)."""
    if fraction <= 0:
        return rows, []
    step = max(2, round(1 / fraction))
    return [r for i, r in enumerate(rows) if i % step], [r for i, r in enumerate(rows) if not i % step]


def answer_accuracy(model_dir: Path, rows: list[dict], prompt: str, max_new_tokens: int) -> dict:
    """Greedy answers of the teacher on ``rows``: accuracy and how many gave no readable option."""
    if not rows:
        return {"held_out": 0}
    backend = build_backend(TeacherSpec("transformers", str(model_dir), 32, {"device": "cpu", "dtype": "float32"}))
    requests = [ChatRequest(item_id=r["id"], messages=tuple(teacher_messages(r, prompt))) for r in rows]
    gens = []
    for i in range(0, len(requests), 32):
        gens += backend.generate(requests[i : i + 32], SamplingParams(max_tokens=max_new_tokens))
    picks = [extract_cota_answer(g.texts[0], r["choices"]) for r, g in zip(rows, gens)]
    correct = sum(p == r["answer"] for p, r in zip(picks, rows))
    unreadable = sum(p not in r["choices"] for p, r in zip(picks, rows))
    return {
        "held_out": len(rows),
        "held_out_accuracy": 100.0 * correct / len(rows),
        "held_out_no_option": unreadable,
        "held_out_chance": 100.0 * sum(1 / len(r["choices"]) for r in rows) / len(rows),
    }


def run(cfg: TrainTextTeacherConfig, tracker: NullTracker, out_dir: Path = OUT) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.trainer.get("max_steps", 1) == 0:
        (out_dir / "manifest.json").write_text(json.dumps({"model": cfg.model, "steps": 0}) + "\n")
        return {"steps": 0}
    rows = read_jsonl(Path(cfg.train))
    train, held_out = split_held_out(rows, cfg.held_out)
    dataset = Dataset.from_list(
        [
            {
                "prompt": teacher_messages(r, cfg.prompt),
                "completion": [{"role": "assistant", "content": cota_response(r)}],
            }
            for r in train
        ]
    )
    model, tokenizer = load_model(cfg.model)
    args = build_sft_config(
        cfg.trainer, str(out_dir / "checkpoints"), where="train_text_teacher.trainer", prepare_dataset=True
    )
    metrics = train_and_save(
        model, tokenizer, dataset, None, args, tracker, out_dir, plot_csv=PLOTS / "train_text_teacher" / "loss.csv"
    )
    metrics.update(answer_accuracy(out_dir / "model", held_out, cfg.prompt, cfg.max_new_tokens))
    (out_dir / "manifest.json").write_text(json.dumps({"model": str(out_dir / "model")}) + "\n")
    return metrics


def main() -> None:
    cfg, tracking = stage_params("train_text_teacher", "tracking")
    with stage_run(
        "train_text_teacher", tracking, cfg=cfg, paper=PAPER, table=TABLE, row=ROW, deps=[cfg.model, cfg.train]
    ) as stage:
        stage.metrics = run(cfg, stage.tracker)
    print(f"train_text_teacher: {stage.metrics}")


if __name__ == "__main__":
    main()
