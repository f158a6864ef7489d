"""Stage ``instruct_base``: the papers' instruction-tuned bases, at tiny scale (papers 02, 03).

Paper 02 starts from Qwen2-Audio-7B-Instruct and paper 03 from Qwen2.5-Omni-7B: models that
already hear and answer questions ("Direct Inference" rows of their tables). GRPO needs
that: a policy that never names an option earns no reward and learns nothing. The tiny
random-init models get the same kind of start here, on data disjoint from every
evaluation set and from the AVQA questions the papers train on:

- AVQA training clips described with their AudioSetCaps captions ("Describe the audio.");
- IEMOCAP sessions 1-4 as emotion questions and VGGSound training clips as sound-source
  questions, multiple choice, answered with the option's text;
- MUSIC-AVQA training questions answered with one word.

At paper scale ``trainer.max_steps`` is 0: nothing is trained, the manifest names the real
checkpoint and the downstream params point at it directly.

One MLflow run per model, ``p02.base.<model>.instruct_base``.

    dvc repro instruct_base           # or: python -m audioreason.stages.instruct_base --model qwen2_audio
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from datasets import Dataset

from audioreason.config import InstructBaseConfig, flatten
from audioreason.datasets.records import LabelledClip, OpenQARecord, QARecord, Utterance, read_manifest
from audioreason.models.factory import load_model
from audioreason.pipeline import METRICS, OUTPUTS, PLOTS, matrix_row, stage_params
from audioreason.tracking import NullTracker, stage_run
from audioreason.training.captions import EMOTION_WORDS, clip_caption_rows
from audioreason.training.prompts import format_prompt
from audioreason.training.sft import AudioSFTCollator, build_sft_config, train_and_save

OUT = OUTPUTS / "instruct_base"
PAPER, TABLE = "p02", "base"


def choice_question(
    rid: str, audio: str, question: str, answer: str, pool: list[str], n: int, rng: random.Random, prompts: list[str]
) -> dict:
    """A multiple-choice row: the answer among ``n - 1`` distractors from ``pool``, shuffled, in one of ``prompts``."""
    choices = rng.sample(sorted(set(pool) - {answer}), n - 1) + [answer]
    rng.shuffle(choices)
    prompt = rng.choice(prompts)
    record = QARecord(rid, "instruct", "train", audio, question, tuple(choices), answer)
    return {"id": rid, "audio": audio, "prompt": format_prompt(prompt, record), "completion": answer}


def instruct_rows(cfg: InstructBaseConfig) -> tuple[list[dict], dict[str, int]]:
    rng = random.Random(cfg.seed)
    rows, counts = clip_caption_rows(cfg.captions, cfg.clips, cfg.caption_prompt)
    utterances = [u for u in read_manifest(cfg.emotions, Utterance) if u.split == "train"]
    emotions = sorted({EMOTION_WORDS[u.label] for u in utterances})
    for u in utterances:
        for v in range(cfg.variants):
            rows.append(
                choice_question(
                    f"{u.id}#{v}",
                    u.audio,
                    "What emotion does the speaker express?",
                    EMOTION_WORDS[u.label],
                    emotions,
                    min(cfg.n_choices, len(emotions) - 1),
                    rng,
                    cfg.mc_prompts,
                )
            )
    clips = [c for c in read_manifest(cfg.sounds, LabelledClip) if c.split == "train"]
    labels = sorted({c.label for c in clips})
    for c in clips:
        for v in range(cfg.variants):
            rows.append(
                choice_question(
                    f"{c.id}#{v}",
                    c.audio,
                    "What is the source of the sound?",
                    c.label,
                    labels,
                    min(cfg.n_choices, len(labels) - 1),
                    rng,
                    cfg.mc_prompts,
                )
            )
    music = [q for q in read_manifest(cfg.music, OpenQARecord) if q.split == "train"]
    for q in music:
        rows.append(
            {
                "id": f"music-{q.id}",
                "audio": q.audio,
                "prompt": cfg.open_prompt.format(question=q.question),
                "completion": q.answer,
            }
        )
    counts.update(
        emotion_questions=cfg.variants * len(utterances),
        sound_questions=cfg.variants * len(clips),
        music_questions=len(music),
    )
    return rows, counts


def run(cfg: InstructBaseConfig, name: str, tracker: NullTracker, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    start = cfg.models[name]
    if cfg.trainer.get("max_steps", 1) == 0:
        (out_dir / "manifest.json").write_text(json.dumps({"model": start, "steps": 0}) + "\n")
        return {"steps": 0}
    rows, counts = instruct_rows(cfg)
    model, processor = load_model(start)
    args = build_sft_config(cfg.trainer, str(out_dir / "checkpoints"), where="instruct_base.trainer")
    metrics = train_and_save(
        model,
        processor,
        Dataset.from_list(rows),
        AudioSFTCollator(processor),
        args,
        tracker,
        out_dir,
        plot_csv=PLOTS / "instruct_base" / name / "loss.csv",
    )
    (out_dir / "manifest.json").write_text(json.dumps({"model": str(out_dir / "model"), **counts}) + "\n")
    return {**metrics, **counts}


def main(argv: list[str] | None = None) -> None:
    cfg, tracking = stage_params("instruct_base", "tracking")
    name = matrix_row("instruct_base", cfg.models, argv, flag="--model", description=__doc__.splitlines()[0])
    params = {k: v for k, v in flatten(cfg, "instruct_base").items() if not k.startswith("instruct_base.models.")}
    params["instruct_base.model"] = cfg.models[name]
    with stage_run(
        "instruct_base",
        tracking,
        paper=PAPER,
        table=TABLE,
        row=name,
        params=params,
        deps=[cfg.models[name], cfg.clips, cfg.emotions, cfg.sounds],
        metrics_path=METRICS / "instruct_base" / f"{name}.json",
    ) as stage:
        stage.metrics = run(cfg, name, stage.tracker, OUT / name)
    m = stage.metrics
    print(f"instruct_base[{name}]: {m.get('steps')} steps, final loss {m.get('final_logged_loss', float('nan')):.3f}")


if __name__ == "__main__":
    main()
