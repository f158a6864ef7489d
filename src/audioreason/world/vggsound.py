"""VGGSound-format clips of the world (paper 03 §III.C): single-source clips with VGGSound labels.

Writes ``vggsound/vggsound.csv`` (no header: ``ytid,start_seconds,label,train|test``;
labels with commas quoted, as in the real file) and
``vggsound/audio/<ytid>_<start:06d>.wav`` (16 kHz). The clips are scenes of the
single-source kinds of :mod:`audioreason.world.scenes` (which source, which instrument,
who speaks), labelled with the VGGSound class that names the source.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioreason.config import WorldConfig
from audioreason.world.audio_out import write_audio, ytid
from audioreason.world.scenes import KINDS, render

# VGGSound-style labels of the world's single-source clips (several hold commas, as the real ones).
VGG_LABELS = {
    "Alarm_bell_ringing": "church bell ringing",
    "Dog": "dog barking",
    "Cat": "cat meowing",
    "Dishes": "cutlery, silverware",
    "cash register": "cash register",
    "door opens/closes": "door slamming",
    "Running_water": "water tap, faucet",
    "Vacuum_cleaner": "vacuum cleaner cleaning floors",
    "Electric_shaver_toothbrush": "electric shaver, electric razor shaving",
    "Frying": "frying food",
    "Blender": "blender",
    "piano": "playing piano",
    "flute": "playing flute",
    "violin": "playing violin, fiddle",
    "drum": "playing drum kit",
    "Man": "male speech, man speaking",
    "Woman": "female speech, woman speaking",
    "Child": "child speech, kid speaking",
    "Robot": "speech synthesizer",
}
SINGLE_KINDS = ("source", "instrument", "speaker")


def write_vggsound(out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """Write ``vggsound/vggsound.csv`` and ``vggsound/audio/``; append one ground-truth line per clip to ``truth``.

    Returns:
        Expected importer counts: ``records``, clips per ``labels`` and per ``splits``.
    """
    vcfg = cfg.vggsound
    kinds = [k for k in KINDS if k.name in SINGLE_KINDS]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    expected = {"records": 0, "labels": {}, "splits": {}}
    seqs = seed_seq.spawn(vcfg.train_clips + vcfg.test_clips)
    for i, seq in enumerate(tqdm(seqs, desc="world vggsound", leave=False, disable=None)):
        rng = np.random.default_rng(seq)
        split = "train" if i < vcfg.train_clips else "test"
        kind = kinds[i % len(kinds)]
        scene = render(kind, rng, vcfg.sample_rate, cfg.clip_seconds)
        t = scene.truth
        key = t.get("events", [None])[0] or t.get("instrument") or t["speakers"][0]
        label = VGG_LABELS[key]
        yt, start = ytid(rng), int(rng.integers(0, 300))
        clip = f"{yt}_{start:06d}"
        write_audio(out / "vggsound" / "audio" / f"{clip}.wav", scene.audio, vcfg.sample_rate)
        writer.writerow([yt, start, label, split])
        expected["records"] += 1
        expected["labels"][label] = expected["labels"].get(label, 0) + 1
        expected["splits"][split] = expected["splits"].get(split, 0) + 1
        truth.append(
            {
                "dataset": "vggsound",
                "split": split,
                "clip": f"vggsound/audio/{clip}.wav",
                "label": label,
                "kind": kind.name,
                "answer": scene.answer,
                **t,
            }
        )
    (out / "vggsound").mkdir(parents=True, exist_ok=True)
    (out / "vggsound" / "vggsound.csv").write_text(buf.getvalue())
    return expected
