"""One optimizer step of paper 02's LoRA SFT (stage ``sft_cot``) at Qwen2-Audio-7B-Instruct's real widths,
vocabulary, token layout and audio window.

The student is Qwen2-Audio-7B-Instruct as :mod:`audioreason.models.paper_shape` rebuilds it: hidden 4096, MLP
11008, 32 heads, the 156,032-row vocabulary with its added tokens at their published ids, the chat template, and
the 128-bin Whisper processor with its 30 s window (a 30 s clip is 3000 frames, 750 ``<|AUDIO|>`` tokens). The
trainer is the stage's own (:func:`audioreason.stages.sft_cot.build_trainer`: ``trl.SFTTrainer``, the audio
collator, LoRA on the language model) with ``sft_cot`` of ``params.paper.yaml``: r 8, alpha 16, dropout 0.05, the
seven projections, lr 5e-5, cosine schedule (paper 02 §4.1).

What is shrunk, and why:

- depth: 1 text decoder layer (of 32) and 1 audio encoder layer (of 32): 1.5 G parameters, of which the embedding
  and the LM head are 1.28 G;
- nothing else of the model: the checkpoint is saved in bf16 (as published) and loaded in fp32 as the stage loads
  it (``load_model``'s default). bf16 matmuls on this CPU (no AVX-512 BF16) run at about 0.1 GFLOPS against
  20 GFLOPS in fp32 per core, so a bf16 step would take hours here;
- overrides of the trainer: ``use_cpu`` on, ``bf16`` off (no bf16 autocast, for the same reason), no ``deepspeed``,
  batch 1 (of 8), ``max_steps`` 1, no checkpoint saving, no loader worker processes (host-side), and
  ``warmup_steps`` 0: the paper file's 50 warmup steps give the first step lr 0, a step that moves nothing.

    pytest -m paper_shape tests/paper_shape/test_sft_step.py
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers import peak_rss_gib

pytestmark = pytest.mark.paper_shape

REPO_ROOT = Path(__file__).resolve().parents[2]
BUDGET_S = 60.0
CLIP_S = 30  # the processor's whole window: 3000 mel frames
COMPLETION = "<think>The bell rings three times, clear and metallic.</think> <answer>bell</answer>"


def fingerprint(p: torch.Tensor) -> str:
    """A digest of the tensor's bytes: exact, and hashed in place (no copy of a 0.64 G-element embedding)."""
    return hashlib.blake2b(p.detach().contiguous().view(torch.int32).numpy(), digest_size=16).hexdigest()


@pytest.fixture(scope="module")
def qwen2_audio(tmp_path_factory) -> Path:
    from audioreason.models.paper_shape import QWEN2_AUDIO, save_checkpoint

    out = tmp_path_factory.mktemp("qwen2-audio-paper-shape")
    return save_checkpoint(QWEN2_AUDIO, out / "model", dtype=torch.bfloat16, text_layers=1, audio_layers=1)


def test_one_lora_sft_step_of_the_p02_recipe_at_paper_shape(qwen2_audio, tmp_path):
    from audioreason.config import load_params
    from audioreason.datasets.records import QARecord
    from audioreason.models.factory import load_model
    from audioreason.stages.sft_cot import build_trainer
    from audioreason.training.prompts import format_prompt
    from audioreason.training.sft import IGNORE_INDEX

    started = time.perf_counter()
    paper = load_params(REPO_ROOT / "params.paper.yaml", sections=["sft_cot"])["sft_cot"]
    assert (paper.lora.r, paper.lora.alpha, paper.trainer["learning_rate"]) == (8, 16, pytest.approx(5e-5))
    trainer_args = {k: v for k, v in paper.trainer.items() if k != "deepspeed"}
    trainer_args.update(
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=1,
        max_steps=1,
        warmup_steps=0,
        save_strategy="no",
        dataloader_num_workers=0,
    )
    cfg = dataclasses.replace(paper, base=str(qwen2_audio), trainer=trainer_args)

    clip = tmp_path / "bell.wav"
    t = np.arange(16000 * CLIP_S) / 16000
    sf.write(clip, (0.3 * np.sin(2 * np.pi * 880 * t) * np.exp(-(t % 10))).astype(np.float32), 16000)
    question = QARecord(
        "q0", "avqa", "train", str(clip), "What is making the sound in the audio?", ("bell", "dog", "car"), "bell"
    )
    rows = [{"id": "q0", "audio": str(clip), "prompt": format_prompt(cfg.prompt, question), "completion": COMPLETION}]

    model, processor = load_model(str(qwen2_audio))
    assert type(model).__name__ == "Qwen2AudioForConditionalGeneration" and model.dtype == torch.float32
    assert model.get_input_embeddings().weight.shape == (156032, 4096)
    assert processor.feature_extractor.feature_size == 128 and processor.feature_extractor.nb_max_frames == 3000
    trainer = build_trainer(cfg, rows, model, processor, tmp_path / "checkpoints")

    # The batch the step trains on: the real layout, labels on the assistant turn only.
    tok = processor.tokenizer
    batch = trainer.data_collator(rows)
    assert tuple(batch["input_features"].shape) == (1, 128, 3000)
    assert int((batch["input_ids"] == tok.convert_tokens_to_ids("<|AUDIO|>")).sum()) == 750
    labelled = batch["labels"][0] != IGNORE_INDEX
    completion_ids = tok(COMPLETION + "<|im_end|>\n", add_special_tokens=False)["input_ids"]
    assert batch["labels"][0][labelled].tolist() == completion_ids
    assert labelled.nonzero().flatten().tolist() == list(
        range(labelled.numel() - len(completion_ids), labelled.numel())
    )
    prompt_text = tok.decode(batch["input_ids"][0][~labelled])
    assert prompt_text.endswith("<|im_start|>assistant\n") and "<|im_start|>user\n" in prompt_text

    params = dict(trainer.model.named_parameters())
    lora = {n for n in params if ".lora_" in n}
    assert lora and {n for n, p in params.items() if p.requires_grad} == lora
    assert not [n for n in lora if "audio_tower" in n or "multi_modal_projector" in n]
    before = {n: fingerprint(p) for n, p in params.items()}
    built = time.perf_counter()

    result = trainer.train()
    elapsed = time.perf_counter() - started

    assert result.global_step == 1 and np.isfinite(result.training_loss) and result.training_loss > 0
    changed = {n for n, p in trainer.model.named_parameters() if fingerprint(p) != before[n]}
    assert changed <= lora, sorted(changed - lora)[:5]  # the frozen base, audio tower included, did not move
    # lora_B starts at 0, so the first step's gradient reaches every B and no A (dL/dA = 0 while B = 0).
    assert changed == {n for n in lora if ".lora_B." in n} and len(changed) == 7
    print(
        f"\npaper-shape LoRA SFT step: {elapsed:.1f} s in all ({built - started:.1f} s to load the student and "
        f"build the trainer, {elapsed - (built - started):.1f} s for the step), peak RSS {peak_rss_gib():.1f} GiB, "
        f"{int(labelled.sum())} labelled of {labelled.numel()} tokens, {len(changed)} of {len(lora)} adapter "
        f"tensors moved, loss {result.training_loss:.4g}"
    )
    # The target is BUDGET_S on an idle 2-core machine; the ceiling catches a step gone pathological (a bf16
    # matmul path is hours), not a machine shared with other jobs.
    assert elapsed < BUDGET_S * 5
