"""Stage ``ser_finetune``: a token-aware SER fine-tune of the tiny Qwen2-Audio base (paper 04, "Fine-tuned ALMs").

Paper 04 reports fine-tuned ALMs beside the zero-shot ones (Table II, ft-qw-omni / ft-AF3)
and asks whether a model uses the concept tokens in a grounded way. The tiny instruction
base answers emotion questions near chance, so the interventions have little to act on;
this stage fine-tunes it on the *training* splits of the SER datasets (IEMOCAP sessions 1-4,
AIBO5 train; never dev or test) with the exact evaluation prompts, each utterance once per
``prompt_variants`` entry (``audio_only``: no tokens; ``correct``: its aligned tokens
appended). A model trained this way hears the emotions and has learnt that the tokens carry
evidence; the ``interventions`` row ``qwen2_audio_ser_ft`` then measures how much it relies
on them. (The paper's fine-tuned models never saw tokens in training: this row is the
package's own probe of what the interventions detect, reported as such.)

One MLflow run, ``p04.ft_qw2_audio.ser_finetune.ser_finetune``; the model goes to
``outputs/ser_finetune/model`` (adapters merged when ``lora.r`` > 0).

    dvc repro ser_finetune           # or: python -m audioreason.stages.ser_finetune
"""

from __future__ import annotations

import json

from datasets import Dataset

from audioreason.config import InterventionsConfig, SerFinetuneConfig
from audioreason.models.factory import load_model
from audioreason.stages.common import OUTPUTS, sections
from audioreason.stages.finetune import train_and_save
from audioreason.features.ser_prompts import condition_tokens, questions, token_rows
from audioreason.tracking import NullTracker
from audioreason.training.sft import AudioSFTCollator, build_lora, build_sft_config

OUT = OUTPUTS / "ser_finetune"


def training_rows(cfg: SerFinetuneConfig, prompts: InterventionsConfig) -> tuple[list[dict], dict[str, int]]:
    """SFT rows (audio, user prompt, the class word) from each dataset's training split."""
    rows, counts = [], {}
    for dataset in cfg.datasets:
        utterances = token_rows(prompts.tokens, dataset, "train")
        counts[f"{dataset}.train_utterances"] = len(utterances)
        for variant in cfg.prompt_variants:
            for q in questions(utterances, condition_tokens(utterances, variant), prompts, dataset):
                rows.append({"id": f"{q.id}#{variant}", "audio": q.audio, "prompt": q.question, "completion": q.answer})
    counts["train_examples"] = len(rows)
    return rows, counts


def run(cfg: SerFinetuneConfig, prompts: InterventionsConfig, tracker: NullTracker) -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    rows, counts = training_rows(cfg, prompts)
    model, processor = load_model(cfg.base)
    args = build_sft_config(cfg.trainer, str(OUT / "checkpoints"), where="ser_finetune.trainer")
    metrics = train_and_save(model, processor, Dataset.from_list(rows), AudioSFTCollator(processor), args, tracker,
                             OUT, peft_config=build_lora(cfg.lora), plot_name="ser_finetune")
    (OUT / "manifest.json").write_text(json.dumps({"model": str(OUT / "model"), "base": cfg.base, **counts}) + "\n")
    return {**metrics, **counts}


def main() -> None:
    from audioreason.config import flatten
    from audioreason.tracking import start_run, write_metrics

    cfg, prompts, tracking = sections("ser_finetune", "interventions", "tracking").values()
    with start_run(uri=tracking.uri, experiment=tracking.experiment, scale=tracking.scale, stage="ser_finetune",
                   paper="p04", table="ft_qw2_audio", row="ser_finetune", params=flatten(cfg, "ser_finetune"),
                   deps=[cfg.base, prompts.tokens]) as tracker:
        metrics = run(cfg, prompts, tracker)
        tracker.log_metrics(metrics)
    write_metrics(metrics, OUTPUTS.parent / "metrics" / "ser_finetune.json")
    print(f"ser_finetune: {metrics['steps']} steps on {metrics['train_examples']} prompts, "
          f"final loss {metrics['final_logged_loss']:.3f}")


if __name__ == "__main__":
    main()
