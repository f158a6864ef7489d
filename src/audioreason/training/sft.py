"""Supervised fine-tuning of an audio LM on multiple-choice audio questions, on TRL's ``SFTTrainer``.

TRL prepares text and image datasets itself but knows nothing of audio, so the dataset
is left raw (``skip_prepare_dataset``) and :class:`AudioSFTCollator` does what a real
Qwen2-Audio recipe does per batch: chat template, Whisper features, ``<|AUDIO|>``
expansion, and labels that score only the assistant's answer. ``input_features`` and
``feature_attention_mask`` go into the model's forward, so the loss depends on the audio
(a test changes the audio and watches the loss move).

Paper 02 §3.3 / §4 (SightSound-R1): SFT with LoRA (r=8, alpha=16, lr 5e-5, batch 8 per
GPU, 2000 steps) before GRPO; paper 01 §3.4: ``L_SFT`` is this cross-entropy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from datasets import Dataset
from trl import SFTConfig

from audioreason.audio.io import load_audio
from audioreason.config import ConfigError, LoraConfigSection
from audioreason.datasets.records import QARecord
from audioreason.training.prompts import audio_messages, format_prompt

IGNORE_INDEX = -100


def build_sft_config(
    trainer: dict[str, Any], output_dir: str, where: str = "sft.trainer", prepare_dataset: bool = False
) -> SFTConfig:
    """Build TRL's ``SFTConfig`` from the params mapping; a bad key names ``where.key``.

    The keys the audio collator relies on are fixed here rather than left to params;
    ``prepare_dataset`` (text-only models) lets TRL tokenize the dataset itself instead.
    """
    fixed = (
        {} if prepare_dataset else {"remove_unused_columns": False, "dataset_kwargs": {"skip_prepare_dataset": True}}
    )
    clash = sorted(set(trainer) & set(fixed))
    if clash:
        raise ConfigError(f"{where}: {', '.join(clash)} is set by the audio SFT recipe, remove it from params")
    try:
        return SFTConfig(output_dir=output_dir, **trainer, **fixed)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from e
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from e


LANGUAGE_MODEL = "model.language_model"
"""The text decoder's module name in the package's audio LMs (``Qwen2AudioForConditionalGeneration`` and
``Qwen2_5OmniThinkerForConditionalGeneration``, transformers 5.23): where the adapters go without a model given."""


def language_model_name(model) -> str:
    """The dotted module name of ``model``'s text decoder (``model.get_decoder()``); ``""`` when it is the model.

    Raises:
        ValueError: the decoder is not a submodule of ``model``.
    """
    decoder = model.get_decoder()
    for name, module in model.named_modules():
        if module is decoder:
            return name
    raise ValueError(f"{type(model).__name__}: its decoder is not one of its modules")


def build_lora(cfg: LoraConfigSection, model=None):
    """PEFT ``LoraConfig`` with adapters on the language model only, or ``None`` when ``r == 0`` (full fine-tuning).

    Paper 02 §3.3 eq. 1 / §4.1 trains LoRA on the language model of Qwen2-Audio-7B-Instruct
    (SWIFT's default: every linear layer of the LLM). PEFT matches ``target_modules`` as name
    suffixes, so ``q_proj`` / ``k_proj`` / ``v_proj`` would also wrap the Whisper encoder's
    attention (and ``gate_proj`` / ``up_proj`` / ``down_proj`` the Omni thinker's vision blocks):
    every module outside the language model is excluded (``exclude_modules``, a regex PEFT
    full-matches on the module name). The language model is ``model``'s decoder
    (:func:`language_model_name`) when a model is given, else :data:`LANGUAGE_MODEL`.
    """
    if cfg.r == 0:
        return None
    from peft import LoraConfig

    prefix = language_model_name(model) if model is not None else LANGUAGE_MODEL
    return LoraConfig(
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=list(cfg.target_modules),
        exclude_modules=rf"(?!{re.escape(prefix)}\.).*" if prefix else None,
        modules_to_save=list(cfg.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )


def sft_dataset(records: Sequence[QARecord], prompt: str, target: str) -> Dataset:
    """Raw rows for the collator: audio path, user prompt, assistant completion."""
    return Dataset.from_list(
        [
            {
                "id": r.id,
                "audio": r.audio,
                "prompt": format_prompt(prompt, r),
                "completion": target.format(answer=r.answer),
            }
            for r in records
        ]
    )


@dataclass
class AudioSFTCollator:
    """Batch raw rows into Qwen2-Audio inputs with assistant-only labels.

    The prompt (system + user turn with the clip + ``<|im_start|>assistant\\n``) goes
    through the processor, which extracts features and expands ``<|AUDIO|>``; the
    completion and ``<|im_end|>`` are appended as token ids so the prompt/completion
    boundary is exact. Right padding; padded and prompt positions get ``-100``.
    """

    processor: Any
    end_of_turn: str = "<|im_end|>\n"

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        proc = self.processor
        tok = proc.tokenizer
        sr = proc.feature_extractor.sampling_rate
        prompts = [
            proc.apply_chat_template(audio_messages(r["prompt"]), tokenize=False, add_generation_prompt=True)
            for r in rows
        ]
        audios = [r["audio_array"] if "audio_array" in r else load_audio(r["audio"], sr) for r in rows]
        enc = proc(
            text=prompts, audio=audios, sampling_rate=sr, return_tensors="pt", padding=True, padding_side="right"
        )
        seqs, labels = [], []
        for i, r in enumerate(rows):
            prompt_ids = enc["input_ids"][i][enc["attention_mask"][i].bool()].tolist()
            completion_ids = tok(r["completion"] + self.end_of_turn, add_special_tokens=False)["input_ids"]
            seqs.append(prompt_ids + completion_ids)
            labels.append([IGNORE_INDEX] * len(prompt_ids) + completion_ids)
        width = max(map(len, seqs))
        pad = tok.pad_token_id
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        label_t = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (s, lab) in enumerate(zip(seqs, labels)):
            input_ids[i, : len(s)] = torch.tensor(s)
            label_t[i, : len(lab)] = torch.tensor(lab)
            attention[i, : len(s)] = 1
        return {
            "input_ids": input_ids,
            "attention_mask": attention,
            "labels": label_t,
            "input_features": enc["input_features"],
            "feature_attention_mask": enc["feature_attention_mask"],
        }


def train_and_save(
    model,
    processor,
    dataset,
    collator,
    args,
    tracker,
    out_dir: Path,
    peft_config=None,
    plot_csv: Path | None = None,
    trainer_cls=None,
) -> dict:
    """TRL ``SFTTrainer`` over ``dataset``; the (merged) model and its processor go to ``out_dir/model``.

    The loss curve goes to ``out_dir/loss.png`` and ``plot_csv`` (a ``dvc plots`` file;
    default ``out_dir/loss.csv``); checkpoints are deleted once the model is saved.

    Returns:
        ``train_loss``, ``final_logged_loss``, ``steps``, ``train_examples``, ``train_runtime_s``.
    """
    import shutil

    from trl import SFTTrainer

    from audioreason.plots import plot_loss
    from audioreason.training.callbacks import TrackerCallback

    callback = TrackerCallback(tracker)
    trainer = (trainer_cls or SFTTrainer)(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        data_collator=collator,
        peft_config=peft_config,
        callbacks=[callback],
    )
    result = trainer.train()
    final = trainer.model.merge_and_unload() if peft_config is not None else trainer.model
    final.save_pretrained(out_dir / "model")
    processor.save_pretrained(out_dir / "model")
    shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    losses = [h["loss"] for h in callback.history if "loss" in h]
    plot_loss(callback.history, out_dir / "loss.png", plot_csv or out_dir / "loss.csv")
    tracker.log_artifact(out_dir / "loss.png", "plots")
    return {
        "train_loss": result.training_loss,
        "final_logged_loss": losses[-1] if losses else float("nan"),
        "steps": result.global_step,
        "train_examples": len(dataset),
        "train_runtime_s": result.metrics.get("train_runtime", float("nan")),
    }
