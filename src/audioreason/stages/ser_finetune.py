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
from audioreason.features.ser_prompts import condition_tokens, questions, token_rows
from audioreason.models.factory import load_model
from audioreason.pipeline import OUTPUTS, PLOTS, stage_params
from audioreason.tracking import NullTracker, stage_run
from audioreason.training.sft import AudioSFTCollator, build_lora, build_sft_config, train_and_save

OUT = OUTPUTS / "ser_finetune"
PAPER, TABLE = "p04", "ft_qw2_audio"


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
    metrics = train_and_save(
        model,
        processor,
        Dataset.from_list(rows),
        AudioSFTCollator(processor),
        args,
        tracker,
        OUT,
        peft_config=build_lora(cfg.lora),
        plot_csv=PLOTS / "ser_finetune" / "loss.csv",
    )
    (OUT / "manifest.json").write_text(json.dumps({"model": str(OUT / "model"), "base": cfg.base, **counts}) + "\n")
    return {**metrics, **counts}


def main() -> None:
    cfg, prompts, tracking = stage_params("ser_finetune", "interventions", "tracking")
    with stage_run(
        "ser_finetune", tracking, cfg=cfg, paper=PAPER, table=TABLE, deps=[cfg.base, prompts.tokens]
    ) as stage:
        stage.metrics = run(cfg, prompts, stage.tracker)
    m = stage.metrics
    print(f"ser_finetune: {m['steps']} steps on {m['train_examples']} prompts, final loss {m['final_logged_loss']:.3f}")


if __name__ == "__main__":
    main()
