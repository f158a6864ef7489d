"""Stage ``pretrain_student``: teach the tiny audio student to hear the world (paper 01, tiny scale only).

Paper 01 distils into Qwen2.5-Omni-7B's thinker, which arrives able to hear; the tiny
random-init thinker cannot. This stage gives it that perception before distillation, by
captioning: the AVQA training clips with their AudioSetCaps captions, and the IEMOCAP
training sessions (1-4) with who speaks in which emotion ("A woman speaks in an angry
voice."), so that the acoustic competence acoustic KD protects (paper 01 §3.3, Table 1's
SER column) exists. TRL ``SFTTrainer`` with the audio collator of the ``sft`` stage.

At paper scale ``trainer.max_steps`` is 0: nothing is trained and ``distill.student``
names the real checkpoint.

One MLflow run, ``p01.table1.pretrain.pretrain_student``.

    dvc repro pretrain_student    # or: python -m audioreason.stages.pretrain_student
"""

from __future__ import annotations

import json
from pathlib import Path

from datasets import Dataset

from audioreason.config import PretrainStudentConfig
from audioreason.datasets.records import Utterance, read_manifest
from audioreason.models.factory import load_model
from audioreason.pipeline import OUTPUTS, PLOTS, stage_params
from audioreason.tracking import NullTracker, stage_run
from audioreason.training.captions import clip_caption_rows, emotion_caption
from audioreason.training.sft import AudioSFTCollator, build_sft_config, train_and_save

OUT = OUTPUTS / "pretrain_student"
PAPER, TABLE, ROW = "p01", "table1", "pretrain"


def caption_rows(cfg: PretrainStudentConfig) -> tuple[list[dict], dict[str, int]]:
    rows, counts = clip_caption_rows(cfg.captions, cfg.clips, cfg.prompt)
    counts["utterances"] = 0
    for u in read_manifest(cfg.emotions, Utterance):
        if u.split == "train":
            rows.append({"id": u.id, "audio": u.audio, "prompt": cfg.prompt, "completion": emotion_caption(u)})
            counts["utterances"] += 1
    return rows, counts


def run(cfg: PretrainStudentConfig, tracker: NullTracker, out_dir: Path = OUT) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.trainer.get("max_steps", 1) == 0:
        (out_dir / "manifest.json").write_text(json.dumps({"model": cfg.model, "steps": 0}) + "\n")
        return {"steps": 0}
    rows, counts = caption_rows(cfg)
    model, processor = load_model(cfg.model)
    args = build_sft_config(cfg.trainer, str(out_dir / "checkpoints"), where="pretrain_student.trainer")
    metrics = train_and_save(
        model,
        processor,
        Dataset.from_list(rows),
        AudioSFTCollator(processor),
        args,
        tracker,
        out_dir,
        plot_csv=PLOTS / "pretrain_student" / "loss.csv",
    )
    (out_dir / "manifest.json").write_text(json.dumps({"model": str(out_dir / "model"), **counts}) + "\n")
    return {**metrics, **counts}


def main() -> None:
    cfg, tracking = stage_params("pretrain_student", "tracking")
    with stage_run(
        "pretrain_student",
        tracking,
        cfg=cfg,
        paper=PAPER,
        table=TABLE,
        row=ROW,
        deps=[cfg.model, cfg.clips, cfg.emotions],
    ) as stage:
        stage.metrics = run(cfg, stage.tracker)
    print(f"pretrain_student: {stage.metrics}")


if __name__ == "__main__":
    main()
