"""One optimizer step of paper 03's GRPO recipe at Qwen2.5-Omni-7B's real widths, vocabulary and token layout.

The policy is the Qwen2.5-Omni-7B thinker as :mod:`audioreason.models.paper_shape` rebuilds it: every width, the
152,064-row vocabulary, the added tokens at their published ids, the chat template and the 128-bin Whisper
processor with its 300 s window, saved in the full-model form that ``load_model`` reads for
``Qwen/Qwen2.5-Omni-7B``. The recipe is ``grpo.recipes.p03`` of ``params.paper.yaml`` as it is (``loss_type``,
``beta`` 0.04 with its reference model, temperature 1.2, 4 completions per prompt, lr 1e-6, the paper's batch of
1 prompt x 4), run by :class:`~audioreason.training.grpo.AudioGRPOTrainer` with HF ``generate`` on the CPU.

What is shrunk, and why:

- depth: 1 text decoder layer (of 28), 1 audio encoder layer (of 32), 1 vision layer (of 32); 1.42 G parameters,
  of which the embedding and the LM head are 1.09 G;
- the optimizer's reach: the checkpoint is saved in bf16 (as published) and loaded in fp32 as the stage loads it
  (bf16 matmuls on this CPU, without AVX-512 BF16, run about 200 times slower than fp32). In fp32 the policy and
  the reference model (5.7 GB each) fit, but the policy's gradient and AdamW's two moments would add 17 GB more.
  So the policy's input embedding and LM head (1.09 G of its 1.42 G parameters) are frozen for this step: they
  still run at their full 152,064 rows in generation, in the log-probabilities and in the backward, and AdamW
  updates the other 0.33 G (decoder layer, audio encoder, vision layer), about 16 GB at peak in all;
- overrides of the recipe: ``use_vllm`` off, ``use_cpu`` on, ``bf16`` off (no bf16 autocast, as above), no
  ``deepspeed``, ``max_completion_length`` 4, ``max_steps`` 1, ``logging_steps`` 1 (the loss and KL reach the log),
  and no checkpoint saving and no loader worker processes (host-side settings);
- the reward: a random-init policy never names the answer, so paper 03's accuracy reward would be 0 for every
  completion, the advantages 0 and the step a no-op; a stand-in reward that differs within the group
  (0, 1, 2, 0) gives the loss a gradient;
- the clip: 1 s of a tone (25 audio tokens), not a 10 s AVQA clip.

    pytest -m paper_shape tests/paper_shape/test_grpo_step.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import freeze_vocabulary_matrices, peak_rss_gib, write_tone

pytestmark = pytest.mark.paper_shape

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMPT_ROWS = 1  # the paper's batch: 1 prompt x 4 completions per device
BUDGET_S = 120.0


def stand_in_reward(completions, **kwargs):
    """Known rewards by position (0, 1, 2, 0, ...): never constant within a group of 4."""
    return [float((7 * i) % 3) for i in range(len(completions))]


@pytest.fixture(scope="module")
def omni_thinker(tmp_path_factory) -> Path:
    from audioreason.models.paper_shape import QWEN2_5_OMNI, save_checkpoint

    out = tmp_path_factory.mktemp("omni-paper-shape")
    return save_checkpoint(QWEN2_5_OMNI, out / "model", text_layers=1, audio_layers=1, vision_layers=1)


def test_one_grpo_step_of_the_p03_recipe_at_paper_shape(omni_thinker, tmp_path):
    from audioreason.config import load_params
    from audioreason.datasets.records import QARecord
    from audioreason.models.factory import load_model
    from audioreason.training.grpo import AudioGRPOTrainer, build_grpo_config, grpo_dataset

    started = time.perf_counter()
    grpo = load_params(REPO_ROOT / "params.paper.yaml", sections=["grpo"])["grpo"]
    recipe = grpo.recipes["p03"]
    trainer_args = {k: v for k, v in recipe.trainer.items() if k != "deepspeed"}
    trainer_args.update(
        use_vllm=False,
        use_cpu=True,
        bf16=False,
        max_completion_length=4,
        max_steps=1,
        logging_steps=1,
        save_strategy="no",
        dataloader_num_workers=0,
    )
    args = build_grpo_config(trainer_args, str(tmp_path / "out"))
    assert (args.loss_type, args.beta, args.temperature, args.num_generations, args.learning_rate) == (
        "grpo",
        0.04,
        pytest.approx(1.2),
        4,
        pytest.approx(1e-6),
    )
    assert args.per_device_train_batch_size == PROMPT_ROWS * args.num_generations

    clip = tmp_path / "tone.wav"
    write_tone(clip, 16000, seconds=1.0)
    question = QARecord(
        "q0", "avqa", "train", str(clip), "What is making the sound?", ("bell", "dog", "car", "rain"), "bell"
    )
    model, processor = load_model(str(omni_thinker))
    assert type(model).__name__ == "Qwen2_5OmniThinkerForConditionalGeneration"
    assert model.get_input_embeddings().weight.shape == (152064, 3584)

    trainer = AudioGRPOTrainer(
        model=model,
        args=args,
        reward_funcs=[stand_in_reward],
        train_dataset=grpo_dataset([question], recipe.prompt),
        processing_class=processor,
    )
    assert trainer.ref_model is not None and model.dtype == trainer.ref_model.dtype == torch.float32
    frozen = freeze_vocabulary_matrices(trainer.model)
    assert frozen == 2 * 152064 * 3584
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.numel() < 2**20}
    big = {n: p.detach().float().sum().item() for n, p in trainer.model.named_parameters() if p.numel() >= 2**20}
    built = time.perf_counter()

    result = trainer.train()
    elapsed = time.perf_counter() - started

    assert result.global_step == 1 and np.isfinite(result.training_loss)
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert logged and all(np.isfinite(h["loss"]) and np.isfinite(h["kl"]) for h in logged)
    assert trainer.audio_rows_in_loss == PROMPT_ROWS * args.num_generations  # every sequence heard the clip
    params = dict(trainer.model.named_parameters())
    moved = [n for n, p in before.items() if not torch.equal(p, params[n].detach())]
    moved_big = [n for n, s in big.items() if params[n].detach().float().sum().item() != s]
    assert moved, "no parameter changed in the step"
    optimized = sum(p.numel() for g in trainer.optimizer.param_groups for p in g["params"])
    assert optimized == sum(p.numel() for p in trainer.model.parameters()) - frozen
    assert any("audio_tower" in n for n in moved + moved_big), "the step did not reach the audio encoder"
    print(
        f"\npaper-shape GRPO step: {elapsed:.1f} s in all ({built - started:.1f} s to load the policy and the "
        f"reference, {elapsed - (built - started):.1f} s for the step), peak RSS {peak_rss_gib():.1f} GiB, "
        f"{len(moved)} of {len(before)} small and {len(moved_big)} of {len(big)} large parameter tensors moved, "
        f"loss {result.training_loss:.4g}"
    )
    assert elapsed < BUDGET_S * 2  # the target is BUDGET_S; a loaded 2-core machine gets headroom
