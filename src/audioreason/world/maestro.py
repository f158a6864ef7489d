"""MAESTRO-Real-format soundscapes of the world (paper 05 §2): five scenes with soft labels.

Writes ``maestro/development_audio/<scene>/<scene>_NN.wav`` (44.1 kHz) and
``maestro/development_annotation/soft_labels_<scene>/<scene>_NN.txt``: one
``onset offset class confidence`` row per one-second segment in which an event is active,
the confidence in [0, 1] like the crowdsourced annotator estimates of the real release
(some segments below 0.5). Each clip is the scene's bed
(:func:`audioreason.world.sounds.scene_bed`) with timed events of the classes that occur
in that scene (:data:`audioreason.world.sounds.SCENE_EVENTS`). These are the restaurant,
city-centre, grocery-store, metro-station and residential-area backgrounds of SSEU-Bench.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioreason.config import WorldConfig
from audioreason.world import sounds
from audioreason.world.audio_out import at_peak, place, write_audio


def _soft_rows(rng, onset: float, offset: float, cls: str) -> list[str]:
    """One row per one-second segment the event overlaps; confidence from the overlap, with annotator noise."""
    rows = []
    for s in range(int(np.floor(onset)), int(np.ceil(offset))):
        overlap = min(offset, s + 1) - max(onset, s)
        conf = float(np.clip(overlap + rng.normal(0, 0.1), 0.05, 1.0))
        rows.append(f"{s:.3f}\t{s + 1:.3f}\t{cls}\t{conf:.3f}")
    return rows


def write_maestro(out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """``maestro/development_audio/<scene>/<scene>_NN.wav`` and ``development_annotation/soft_labels_<scene>/``."""
    mcfg = cfg.maestro
    root = out / "maestro"
    sr, seconds = mcfg.sample_rate, mcfg.clip_seconds
    expected = {"records": 0, "scenes": {}, "labels": {}}
    scenes = sorted(sounds.MAESTRO_SCENE_NAMES)
    for scene, sseq in tqdm(
        list(zip(scenes, seed_seq.spawn(len(scenes)))), desc="world maestro", leave=False, disable=None
    ):
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
            truth.append(
                {
                    "dataset": "maestro",
                    "split": "development",
                    "scene": sounds.MAESTRO_SCENE_NAMES[scene],
                    "clip": f"maestro/development_audio/{scene}/{name}.wav",
                    "events": [{"onset": round(on, 3), "offset": round(off, 3), "label": c} for on, off, c in events],
                }
            )
    return expected
