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
from audioreason.datasets.records import Caption, QARecord, Utterance, read_manifest
from audioreason.models.factory import load_model
from audioreason.stages.common import OUTPUTS, training_stage
from audioreason.stages.finetune import train_and_save
from audioreason.tracking import NullTracker
from audioreason.training.sft import AudioSFTCollator, build_sft_config

OUT = OUTPUTS / "pretrain_student"
PAPER, TABLE, ROW = "p01", "table1", "pretrain"
EMOTION_WORDS = {"ang": "angry", "hap": "happy", "neu": "neutral", "sad": "sad"}
SPEAKERS = {"F": "A woman", "M": "A man"}


def emotion_caption(u: Utterance) -> str:
    """What a caption of an emotional utterance says: who speaks, in which emotion."""
    return f"{SPEAKERS.get(u.gender, 'Someone')} speaks in {('an ' if EMOTION_WORDS[u.label][0] in 'aeiou' else 'a ')}" \
           f"{EMOTION_WORDS[u.label]} voice."


def clip_caption_rows(captions_manifest: str, clips_manifest: str, prompt: str) -> tuple[list[dict], dict[str, int]]:
    """Each distinct clip of ``clips_manifest`` with its first AudioSetCaps caption."""
    captions: dict[str, str] = {}
    for c in read_manifest(captions_manifest, Caption):
        if c.clip:
            captions.setdefault(c.clip, c.caption)
    rows, counts = [], {"clips": 0, "clips_without_caption": 0}
    seen = set()
    for r in read_manifest(clips_manifest, QARecord):
        clip = r.extra.get("video_name", r.id)
        if clip in seen:
            continue
        seen.add(clip)
        if clip not in captions:
            counts["clips_without_caption"] += 1
            continue
        rows.append({"id": clip, "audio": r.audio, "prompt": prompt, "completion": captions[clip]})
        counts["clips"] += 1
    return rows, counts


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
    metrics = train_and_save(model, processor, Dataset.from_list(rows), AudioSFTCollator(processor), args, tracker,
                             out_dir, plot_name="pretrain_student")
    (out_dir / "manifest.json").write_text(json.dumps({"model": str(out_dir / "model"), **counts}) + "\n")
    return {**metrics, **counts}


def main() -> None:
    training_stage("pretrain_student", PAPER, TABLE, ROW, run, lambda cfg: [cfg.model, cfg.clips, cfg.emotions])


if __name__ == "__main__":
    main()
