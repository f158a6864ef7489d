"""DESED-format domestic soundscapes of the world (paper 05 §2): strong- and weakly labelled clips.

Writes ``desed/dataset/audio/validation/validation_16k/<name>.wav`` with strong labels in
``desed/dataset/metadata/validation/validation.tsv`` (``filename onset offset
event_label``, one row per event) and ``desed/dataset/audio/train/weak_16k/<name>.wav``
with weak labels in ``desed/dataset/metadata/train/weak.tsv`` (``filename event_labels``,
comma-separated), file names ``Y<ytid>_<start>_<end>.wav`` as the real release. Each clip
is a home scene bed (:func:`audioreason.world.sounds.scene_bed`) with 1-3 timed events of
DESED's ten classes on top, the ``Speech`` class spoken by :mod:`audioreason.world.speech`.
These are the home backgrounds of SSEU-Bench.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioreason.config import WorldConfig
from audioreason.datasets.desed import DESED_CLASSES
from audioreason.world import sounds, speech
from audioreason.world.audio_out import at_peak, place, write_audio, ytid


def desed_speech(rng: np.random.Generator, sr: int, seconds: float) -> np.ndarray:
    """DESED's ``Speech`` class: a random speaker saying a short sentence, cut to ``seconds``."""
    spk = speech.make_speaker(rng, "desed", "F" if rng.random() < 0.5 else "M")
    x = speech.speak(rng, sr, speech.random_sentence(rng, 2, 4), spk, "neutral")
    out = np.zeros(int(round(sr * seconds)), dtype=np.float32)
    place(out, x, 0)
    return out


def _desed_event(cls: str, rng: np.random.Generator, sr: int, seconds: float) -> np.ndarray:
    if cls == "Speech":
        return desed_speech(rng, sr, seconds)
    if cls in sounds.DISCRETE_EVENTS:
        x = np.zeros(int(round(sr * seconds)), dtype=np.float32)
        k = max(1, int(seconds / 0.6))
        for i in range(k):
            place(x, sounds.synth_event(cls, rng, sr), int(i * len(x) / k))
        return x
    return sounds.synth_event(cls, rng, sr, seconds)


def _desed_clip(rng, sr, seconds):
    bed = sounds.scene_bed(rng, sr, seconds, "home").astype(np.float64)
    events = []
    for cls in [DESED_CLASSES[i] for i in rng.choice(len(DESED_CLASSES), int(rng.integers(1, 4)), replace=False)]:
        dur = float(rng.uniform(0.8, min(4.0, seconds / 2)))
        onset = float(rng.uniform(0, seconds - dur))
        x = _desed_event(cls, rng, sr, dur)
        place(bed, 0.3 * x / (np.abs(x).max() + 1e-9), int(onset * sr))
        events.append((round(onset, 3), round(onset + dur, 3), cls))
    return at_peak(bed, rng, -9.0, -3.0), sorted(events)


def write_desed(out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """``desed/dataset/{metadata,audio}/...``: strong-labelled validation, weakly labelled train clips."""
    dcfg = cfg.desed
    root = out / "desed" / "dataset"
    expected = {"strong": dcfg.strong_clips, "weak": dcfg.weak_clips, "labels": {}}
    for kind, n, sseq in (
        ("strong", dcfg.strong_clips, seed_seq.spawn(2)[0]),
        ("weak", dcfg.weak_clips, seed_seq.spawn(2)[1]),
    ):
        rng = np.random.default_rng(sseq)
        split, stem = ("validation", "validation") if kind == "strong" else ("train", "weak")
        rows = ["filename\tonset\toffset\tevent_label" if kind == "strong" else "filename\tevent_labels"]
        for _ in tqdm(range(n), desc=f"world desed/{stem}", leave=False, disable=None):
            start = int(rng.integers(0, 300))
            name = f"Y{ytid(rng)}_{start:.3f}_{start + dcfg.clip_seconds:.3f}.wav"
            x, events = _desed_clip(rng, dcfg.sample_rate, dcfg.clip_seconds)
            write_audio(root / "audio" / split / f"{stem}_16k" / name, x, dcfg.sample_rate)
            if kind == "strong":
                rows += [f"{name}\t{on:.3f}\t{off:.3f}\t{cls}" for on, off, cls in events]
            else:
                rows.append(f"{name}\t{','.join(sorted({c for _, _, c in events}))}")
            for c in {c for _, _, c in events}:
                expected["labels"][c] = expected["labels"].get(c, 0) + 1
            truth.append(
                {
                    "dataset": "desed",
                    "split": split,
                    "scene": "home",
                    "clip": f"desed/dataset/audio/{split}/{stem}_16k/{name}",
                    "events": [{"onset": on, "offset": off, "label": c} for on, off, c in events],
                }
            )
        (root / "metadata" / split).mkdir(parents=True, exist_ok=True)
        (root / "metadata" / split / f"{stem}.tsv").write_text("\n".join(rows) + "\n")
    return expected
