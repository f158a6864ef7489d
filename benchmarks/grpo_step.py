"""Where a GRPO step's time goes at tiny scale: rollout generation vs the log-prob forwards vs forward/backward.

Builds the tiny models of ``params.yaml`` (``models``) in a temporary directory, writes
synthetic clips, and trains :class:`~audioreason.training.grpo.AudioGRPOTrainer` for a
few steps per architecture (paper 03's recipe shape: 4 completions per prompt, beta > 0
so the reference forward runs). Each step is split into

- ``rollout``: HF ``generate`` of the completions (``_generate_single_turn``);
- ``score``: the rest of ``_generate_and_score_completions`` (processor + features,
  rewards, the reference model's log-prob forward);
- ``train``: the policy forward and backward and the optimizer step (the rest).

Run once with the clips and once text-only (same questions) to show what hearing costs.

    python benchmarks/grpo_step.py                  # 6 steps after 2 warm-up steps, batch 8 = 2 prompts x 4
    python benchmarks/grpo_step.py --steps 10 --completion-length 64
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def build(root: Path):
    from audioreason.config import load_params
    from audioreason.models.factory import build_tiny_model
    from audioreason.models.tokenizer import train_tokenizer

    cfg = load_params("params.yaml", sections=["models"])["models"]
    cfg = dataclasses.replace(cfg, build=["qwen2_audio", "qwen2_5_omni_thinker"])
    corpus = ["Which sound is heard? Please choose the answer from the following options: ['dog', 'cat', 'bell']"] * 8
    tok = train_tokenizer(corpus, cfg.tokenizer.vocab_size, cfg.tokenizer.min_frequency)
    paths = {n: build_tiny_model(n, cfg, tok, root / n)["path"] for n in cfg.build}
    rng = np.random.default_rng(0)
    clips = []
    for i in range(16):
        clips.append(str(root / f"clip{i}.wav"))
        sf.write(clips[-1], (0.2 * rng.standard_normal(32000)).astype(np.float32), 16000)
    return paths, clips


def measure(
    model_path: str, clips: list[str], with_audio: bool, steps: int, warmup: int, length: int, out: Path
) -> dict[str, float]:
    from audioreason.datasets.records import QARecord
    from audioreason.models.factory import load_model
    from audioreason.training.grpo import AudioGRPOTrainer, build_grpo_config, grpo_dataset

    timings: dict[str, float] = {"rollout": 0.0, "generate_and_score": 0.0, "step": 0.0}

    class Timed(AudioGRPOTrainer):
        def _generate_single_turn(self, *args, **kwargs):
            t = time.perf_counter()
            try:
                return super()._generate_single_turn(*args, **kwargs)
            finally:
                timings["rollout"] += time.perf_counter() - t

        def _generate_and_score_completions(self, inputs):
            t = time.perf_counter()
            try:
                return super()._generate_and_score_completions(inputs)
            finally:
                timings["generate_and_score"] += time.perf_counter() - t

        def training_step(self, *args, **kwargs):
            if self.state.global_step == warmup:
                timings.update(rollout=0.0, generate_and_score=0.0, step=0.0)
            t = time.perf_counter()
            try:
                return super().training_step(*args, **kwargs)
            finally:
                timings["step"] += time.perf_counter() - t

    def reward(completions, **kwargs):
        return [float(len(c) % 3) for c in completions]

    records = [
        QARecord(str(i), "avqa", "train", clips[i], f"Which sound is heard {i}?", ("dog", "cat", "bell"), "dog")
        for i in range(len(clips))
    ]
    model, processor = load_model(model_path)
    args = build_grpo_config(
        dict(
            max_steps=warmup + steps,
            per_device_train_batch_size=8,
            num_generations=4,
            max_completion_length=length,
            beta=0.04,
            learning_rate=1e-4,
            use_cpu=True,
            bf16=False,
            report_to="none",
            save_strategy="no",
            logging_steps=1000,
            disable_tqdm=True,
            seed=0,
        ),
        str(out),
    )
    trainer = Timed(
        model=model,
        args=args,
        reward_funcs=[reward],
        processing_class=processor,
        train_dataset=grpo_dataset(
            records, "{question} Please choose the answer from the following options: {choices}", with_audio=with_audio
        ),
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # the table is the output
    trainer.train()
    rollout = timings["rollout"] / steps
    score = (timings["generate_and_score"] - timings["rollout"]) / steps
    total = timings["step"] / steps
    return {"rollout_s": rollout, "score_s": score, "train_s": total - rollout - score, "step_s": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--completion-length", type=int, default=32)
    a = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths, clips = build(root)
        print(
            f"GRPO step at tiny scale: batch 8 completions (2 prompts x 4), up to {a.completion_length} new tokens, "
            f"{a.steps} steps after {a.warmup} warm-up"
        )
        print(
            f"{'model':<24}{'input':<12}{'rollout s':>10}{'score s':>10}{'train s':>10}{'step s':>9}"
            f"{'rollout share':>15}"
        )
        for name, path in paths.items():
            rows = {}
            for with_audio in (True, False):
                r = measure(path, clips, with_audio, a.steps, a.warmup, a.completion_length, root / f"out-{name}")
                rows[with_audio] = r
                print(
                    f"{name:<24}{'audio' if with_audio else 'text only':<12}{r['rollout_s']:>10.3f}"
                    f"{r['score_s']:>10.3f}{r['train_s']:>10.3f}{r['step_s']:>9.3f}"
                    f"{r['rollout_s'] / r['step_s']:>15.2f}"
                )
            print(
                f"{name:<24}hearing costs x{rows[True]['step_s'] / rows[False]['step_s']:.2f} per step "
                f"(audio / text only)"
            )


if __name__ == "__main__":
    main()
