"""Stage ``models``: the tokenizer and tiny random-init models of the real architectures.

Trains a byte-level BPE tokenizer on the ingested text (questions, choices, the
training and evaluation prompts) and builds each model named in ``models.build``
(Qwen2-Audio, Qwen2.5-Omni thinker, Qwen3) into ``outputs/models/<name>/`` with
``save_pretrained``, next to its processor. At paper scale ``models.build`` is empty and
the training stages read real checkpoints from their own ``model`` key.

    dvc repro models          # or: python -m audioreason.stages.models
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

from audioreason.datasets.records import QARecord, read_manifest
from audioreason.models.factory import build_tiny_model
from audioreason.models.tokenizer import train_tokenizer
from audioreason.pipeline import OUTPUTS, stage_params
from audioreason.tracking import stage_run
from audioreason.training.prompts import format_prompt

OUT = OUTPUTS / "models"


def corpus(records: list[QARecord], prompts: list[str], targets: list[str], texts: Iterable[str] = ()) -> Iterator[str]:
    """Everything the models will read or write, so the tokenizer compresses it well.

    ``texts``: further text the models meet (CoTA traces and questions, captions, CoTA's
    system prompt, the emotion question), read as it is.
    """
    yield "You are a helpful assistant."
    for r in records:
        for p in prompts:
            yield format_prompt(p, r)
        for t in targets:
            yield t.format(answer=r.answer)
        yield from r.choices
    yield from texts


def reasoning_texts(manifest_dir: Path, extra: list[str]) -> Iterator[str]:
    """CoTA questions and four-stage traces (paper 01's distillation target) and AudioSetCaps captions."""
    from audioreason.datasets.records import Caption, CotaRecord
    from audioreason.training.prompts import cota_question, cota_response

    yield from extra
    for r in read_manifest(manifest_dir / "cota.jsonl", CotaRecord):
        yield cota_question(r.question, r.choices)
        yield cota_response(
            {
                "trace": {"planning": r.planning, "caption": r.caption, "reasoning": r.reasoning, "summary": r.summary},
                "response": r.response,
            }
        )
    for c in read_manifest(manifest_dir / "audiosetcaps.jsonl", Caption):
        yield c.caption


def run(
    models_cfg,
    prompts: list[str],
    targets: list[str],
    extra_texts: list[str] = (),
    manifest_dir: Path = OUTPUTS / "ingest",
    out_dir: Path = OUT,
) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    built = []
    if models_cfg.build:
        records = [
            r
            for name in ("avqa_train", "avqa_val", "mmau_test_mini")
            for r in read_manifest(manifest_dir / f"{name}.jsonl")
        ]
        texts = reasoning_texts(manifest_dir, list(extra_texts))
        tok = train_tokenizer(
            corpus(records, prompts, targets, texts),
            models_cfg.tokenizer.vocab_size,
            models_cfg.tokenizer.min_frequency,
        )
        for name in models_cfg.build:
            built.append(build_tiny_model(name, models_cfg, tok, out_dir / name))
    manifest = {"built": built}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def tokenizer_prompts(sft, grpo, base, evaluate, pretrain, text_teacher, distill) -> tuple[list, list, list]:
    """What the stages reading ``outputs/models`` prompt with: ``(prompts, targets, texts)`` for :func:`corpus`."""
    from audioreason.training.prompts import COTA_SYSTEM

    prompts = [sft.prompt, evaluate.prompt, *base.mc_prompts] + [r.prompt for r in grpo.recipes.values()]
    texts = [
        COTA_SYSTEM,
        pretrain.prompt,
        text_teacher.prompt,
        distill.teacher_prompt,
        distill.eval.ser_question,
        base.caption_prompt,
        base.open_prompt,
        sft.eval.music_avqa_prompt,
    ]
    texts += [
        f"{who} speaks in {'an' if e[0] in 'aeiou' else 'a'} {e} voice."
        for who in ("A woman", "A man")
        for e in ("angry", "happy", "neutral", "sad")
    ]
    return prompts, [sft.label_target], texts


def main() -> None:
    models, *readers = stage_params(
        "models", "sft_cot", "grpo", "instruct_base", "evaluate", "pretrain_student", "train_text_teacher", "distill"
    )
    with stage_run("models", cfg=models, metrics_path=None) as stage:
        stage.metrics = run(models, *tokenizer_prompts(*readers))
    for m in stage.metrics["built"]:
        print(f"models: {m['name']} ({m['architecture']}, {m['parameters']:,} parameters) -> {m['path']}")


if __name__ == "__main__":
    main()
