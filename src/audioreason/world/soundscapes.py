"""Soundscapes of the world in their real layouts: DESED (home) and MAESTRO-Real (five scenes).

These are the backgrounds of SSEU-Bench (paper 05 §2): each clip is a scene bed
(:func:`audioreason.world.sounds.scene_bed`) with timed events of the scene's classes on
top. DESED clips carry strong labels (``metadata/validation/validation.tsv``) or weak ones
(``metadata/train/weak.tsv``); MAESTRO-Real clips carry soft labels: one row per one-second
segment in which an event is active, with a confidence in [0, 1] like the crowdsourced
annotator estimates of the real release (some segments below 0.5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioreason.datasets.desed import DESED_CLASSES
from audioreason.world import sounds
from audioreason.world.common import at_peak, place, write_audio, ytid
from audioreason.world.corpora import desed_speech



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


def write_desed(out: Path, cfg, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """``desed/dataset/{metadata,audio}/...``: strong-labelled validation, weakly labelled train clips."""
    dcfg = cfg.desed
    root = out / "desed" / "dataset"
    expected = {"strong": dcfg.strong_clips, "weak": dcfg.weak_clips, "labels": {}}
    for kind, n, sseq in (("strong", dcfg.strong_clips, seed_seq.spawn(2)[0]), ("weak", dcfg.weak_clips, seed_seq.spawn(2)[1])):
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
            truth.append({"dataset": "desed", "split": split, "scene": "home",
                          "clip": f"desed/dataset/audio/{split}/{stem}_16k/{name}",
                          "events": [{"onset": on, "offset": off, "label": c} for on, off, c in events]})
        (root / "metadata" / split).mkdir(parents=True, exist_ok=True)
        (root / "metadata" / split / f"{stem}.tsv").write_text("\n".join(rows) + "\n")
    return expected


def _soft_rows(rng, onset: float, offset: float, cls: str) -> list[str]:
    """One row per one-second segment the event overlaps; confidence from the overlap, with annotator noise."""
    rows = []
    for s in range(int(np.floor(onset)), int(np.ceil(offset))):
        overlap = min(offset, s + 1) - max(onset, s)
        conf = float(np.clip(overlap + rng.normal(0, 0.1), 0.05, 1.0))
        rows.append(f"{s:.3f}\t{s + 1:.3f}\t{cls}\t{conf:.3f}")
    return rows


def write_maestro(out: Path, cfg, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """``maestro/development_audio/<scene>/<scene>_NN.wav`` and ``development_annotation/soft_labels_<scene>/``."""
    mcfg = cfg.maestro
    root = out / "maestro"
    sr, seconds = mcfg.sample_rate, mcfg.clip_seconds
    expected = {"records": 0, "scenes": {}, "labels": {}}
    scenes = sorted(sounds.MAESTRO_SCENE_NAMES)
    for scene, sseq in tqdm(list(zip(scenes, seed_seq.spawn(len(scenes)))), desc="world maestro", leave=False, disable=None):
        rng = np.random.default_rng(sseq)
        for k in range(mcfg.files_per_scene):
            bed = sounds.scene_bed(rng, sr, seconds, sounds.MAESTRO_SCENE_NAMES[scene]).astype(np.float64)
            rows, events = [], []
            pool = sounds.SCENE_EVENTS[scene]
            for cls in [pool[i] for i in rng.choice(len(pool), min(len(pool), int(rng.integers(3, 6))), replace=False)]:
                for _ in range(int(rng.integers(1, 3))):
                    dur = float(rng.uniform(1.0, min(6.0, seconds / 3)))
                    onset = float(rng.uniform(0, seconds - dur))
                    place(bed, 0.25 * sounds.maestro_event(cls, rng, sr, dur), int(onset * sr))
                    events.append((onset, onset + dur, cls))
            events.sort()
            best: dict[str, float] = {}
            for on, off, cls in events:
                for row in _soft_rows(rng, on, off, cls):
                    rows.append(row)
                    best[cls] = max(best.get(cls, 0.0), float(row.rsplit("\t", 1)[1]))
            # Clip-level labels are the classes some segment of which is at least 50% confident.
            for cls, conf in best.items():
                if conf >= 0.5:
                    expected["labels"][cls] = expected["labels"].get(cls, 0) + 1
            name = f"{scene}_{k:02d}"
            write_audio(root / "development_audio" / scene / f"{name}.wav", at_peak(bed, rng, -9.0, -3.0), sr)
            ann = root / "development_annotation" / f"soft_labels_{scene}"
            ann.mkdir(parents=True, exist_ok=True)
            (ann / f"{name}.txt").write_text("\n".join(rows) + "\n")
            expected["records"] += 1
            expected["scenes"][scene] = expected["scenes"].get(scene, 0) + 1
            truth.append({"dataset": "maestro", "split": "development", "scene": sounds.MAESTRO_SCENE_NAMES[scene],
                          "clip": f"maestro/development_audio/{scene}/{name}.wav",
                          "events": [{"onset": round(on, 3), "offset": round(off, 3), "label": c} for on, off, c in events]})
    return expected
