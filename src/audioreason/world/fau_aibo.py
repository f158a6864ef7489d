"""FAU-Aibo-format chunks of the world (paper 04): IS2009 Emotion Challenge labels and WAVs.

Writes ``fau_aibo/wav/<chunk>.wav`` (16 kHz) and
``fau_aibo/labels/IS2009EmotionChallenge/chunk_labels_5cl_corpus.txt`` (one
``<chunk> <class> <confidence>`` line per chunk) as the real corpus: children of two
schools (Ohm = train, Mont = test) speaking with a child's pitch and formants, and the 5
classes (A, E, N, P, R) with N dominant.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioreason.config import WorldConfig
from audioreason.world import speech
from audioreason.world.audio_out import write_audio

FAU_CLASSES = ("A", "E", "N", "P", "R")
FAU_WEIGHTS = (0.12, 0.2, 0.4, 0.12, 0.16)


def write_fau_aibo(out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """``fau_aibo/labels/IS2009EmotionChallenge/chunk_labels_5cl_corpus.txt`` and ``fau_aibo/wav/``."""
    fcfg = cfg.fau_aibo
    root = out / "fau_aibo"
    lines, expected = [], {"labels": {}, "records": 0}
    for school, n_chunks, sseq in (
        ("Ohm", fcfg.ohm_chunks, seed_seq.spawn(2)[0]),
        ("Mont", fcfg.mont_chunks, seed_seq.spawn(2)[1]),
    ):
        rng = np.random.default_rng(sseq)
        n_speakers = max(2, n_chunks // 10)
        # Children aged 10-13: both genders speak with a child's pitch and formants.
        children = [
            dataclasses.replace(
                speech.make_speaker(rng, f"{school}_{k + 1:02d}", "F" if k % 2 else "M"),
                f0_hz=float(rng.uniform(230, 300)),
                formant_scale=float(rng.uniform(1.2, 1.3)),
            )
            for k in range(n_speakers)
        ]
        turns = {c.id: 0 for c in children}
        for _ in tqdm(range(n_chunks), desc=f"world fau_aibo/{school}", leave=False, disable=None):
            child = children[int(rng.integers(n_speakers))]
            turns[child.id] += 1
            chunk = f"{child.id}_{turns[child.id]:03d}_00"
            cls = FAU_CLASSES[int(rng.choice(5, p=FAU_WEIGHTS))]
            x = speech.speak(rng, fcfg.sample_rate, speech.random_sentence(rng, 1, 3), child, speech.EMOTION_CODES[cls])
            write_audio(root / "wav" / f"{chunk}.wav", x, fcfg.sample_rate)
            lines.append(f"{chunk} {cls} {rng.uniform(0.4, 1.0):.2f}")
            expected["labels"][cls] = expected["labels"].get(cls, 0) + 1
            expected["records"] += 1
            truth.append(
                {
                    "dataset": "fau_aibo",
                    "split": "train" if school == "Ohm" else "test",
                    "clip": f"fau_aibo/wav/{chunk}.wav",
                    "emotion": speech.EMOTION_CODES[cls],
                    "speaker": child.id,
                }
            )
    lab = root / "labels" / "IS2009EmotionChallenge"
    lab.mkdir(parents=True, exist_ok=True)
    (lab / "chunk_labels_5cl_corpus.txt").write_text("\n".join(lines) + "\n")
    return expected
