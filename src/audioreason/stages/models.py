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
from typing import Iterator

from audioreason.datasets.records import QARecord, read_manifest
from audioreason.models.factory import build_tiny_model
from audioreason.models.tokenizer import train_tokenizer
from audioreason.stages.common import OUTPUTS, sections
from audioreason.training.prompts import format_prompt

OUT = OUTPUTS / "models"


def corpus(records: list[QARecord], prompts: list[str], targets: list[str]) -> Iterator[str]:
    """Everything the models will read or write, so the tokenizer compresses it well."""
    yield "You are a helpful assistant."
    for r in records:
        for p in prompts:
            yield format_prompt(p, r)
        for t in targets:
            yield t.format(answer=r.answer)
        yield from r.choices


def run(models_cfg, sft_cfg, eval_cfg, manifest_dir: Path = OUTPUTS / "ingest", out_dir: Path = OUT) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    built = []
    if models_cfg.build:
        records = [r for name in ("avqa_train", "avqa_val", "mmau_test_mini")
                   for r in read_manifest(manifest_dir / f"{name}.jsonl")]
        tok = train_tokenizer(corpus(records, [sft_cfg.prompt, eval_cfg.prompt], [sft_cfg.target]),
                              models_cfg.tokenizer.vocab_size, models_cfg.tokenizer.min_frequency)
        for name in models_cfg.build:
            built.append(build_tiny_model(name, models_cfg, tok, out_dir / name))
    manifest = {"built": built}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    cfg = sections("models", "sft", "evaluate")
    manifest = run(cfg["models"], cfg["sft"], cfg["evaluate"])
    for m in manifest["built"]:
        print(f"models: {m['name']} ({m['architecture']}, {m['parameters']:,} parameters) -> {m['path']}")


if __name__ == "__main__":
    main()
