"""VGGSound clips and AudioSetCaps captions of the world (paper 03 §III.C).

Paper 03 generates AVQA-GPT and VGGS-GPT questions with an LLM from AudioSetCaps captions
of AVQA and VGGSound audio, and notes that the captions sometimes describe music that is
not in the clip. The world writes

- ``vggsound/vggsound.csv`` (no header: ``ytid,start_seconds,label,train|test``; labels
  with commas quoted) and ``vggsound/audio/<ytid>_<start:06d>.wav``;
- ``audiosetcaps/VGGSound_AudioSetCaps_caption.csv``: one caption per VGGSound clip and
  per AVQA clip (AVQA's videos are VGGSound's, so they share the ``<ytid>_<start:06d>``
  ids), a configurable fraction of them hallucinating a source the clip does not contain
  (recorded in the ground truth);
- ``audiosetcaps/AudioSetCaps_caption.csv``: captions under AudioSet ids ``Y<ytid>`` with
  no clip in the world (the real file covers all of AudioSet).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioreason.world import sounds
from audioreason.world.common import NUMBER_WORDS, write_audio, ytid

# VGGSound-style labels of the world's single-source clips (several hold commas, as the real ones).
VGG_LABELS = {
    "Alarm_bell_ringing": "church bell ringing", "Dog": "dog barking", "Cat": "cat meowing",
    "Dishes": "cutlery, silverware", "cash register": "cash register", "door opens/closes": "door slamming",
    "Running_water": "water tap, faucet", "Vacuum_cleaner": "vacuum cleaner cleaning floors",
    "Electric_shaver_toothbrush": "electric shaver, electric razor shaving", "Frying": "frying food",
    "Blender": "blender", "piano": "playing piano", "flute": "playing flute", "violin": "playing violin, fiddle",
    "drum": "playing drum kit", "Man": "male speech, man speaking", "Woman": "female speech, woman speaking",
    "Child": "child speech, kid speaking", "Robot": "speech synthesizer",
}
NOUNS = {
    "Alarm_bell_ringing": "an alarm bell", "Dog": "a dog", "Cat": "a cat", "Dishes": "dishes",
    "cash register": "a cash register", "door opens/closes": "a door", "Running_water": "running water",
    "Vacuum_cleaner": "a vacuum cleaner", "Electric_shaver_toothbrush": "an electric shaver",
    "Frying": "food frying in a pan", "Blender": "a blender",
}
VERBS = {
    "Alarm_bell_ringing": "rings", "Dog": "barks", "Cat": "meows", "Dishes": "clink", "cash register": "beeps",
    "door opens/closes": "closes", "Running_water": "flows", "Vacuum_cleaner": "runs",
    "Electric_shaver_toothbrush": "buzzes", "Frying": "sizzles", "Blender": "whirs",
}
PEOPLE = {"Man": "a man", "Woman": "a woman", "Child": "a child", "Robot": "a robotic voice"}
HALLUCINATIONS = ("a piano plays softly in the background", "music plays in the background",
                  "a guitar is strummed nearby", "a dog barks in the distance", "people cheer")


def _times(k: int) -> str:
    return {1: "once", 2: "twice"}.get(k, f"{NUMBER_WORDS[k]} times")


def caption_for(truth: dict) -> str:
    """A faithful caption of a clip from its ground truth (the kinds of :mod:`audioreason.world.generator`)."""
    kind = truth.get("kind")
    if kind in ("source", "count"):
        cls, k = truth["events"][0], len(truth["events"])
        return f"{NOUNS[cls][0].upper()}{NOUNS[cls][1:]} {VERBS[cls]} {_times(k)} over a quiet room tone."
    if kind == "order":
        a, b = truth["events"]
        return f"First {NOUNS[a]} {VERBS[a]}, then {NOUNS[b]} {VERBS[b]}."
    if kind == "instrument":
        return f"A {truth['instrument']} plays a short melody of {NUMBER_WORDS[truth['notes']]} notes."
    if kind == "tempo":
        return f"A {truth['instrument']} plays a {truth['tempo']} melody."
    if kind == "speaker":
        return f"{PEOPLE[truth['speakers'][0]].capitalize()} speaks in a quiet room."
    if kind == "n_speakers":
        who = [PEOPLE[w] for w in truth["speakers"]]
        return f"{NUMBER_WORDS[len(who)].capitalize()} {'person speaks' if len(who) == 1 else 'people take turns speaking'}: {', '.join(who)}."
    if kind == "view":
        return "A quiet room tone with no distinct sound events."
    raise ValueError(f"no caption template for clip kind {kind!r}")


SINGLE_KINDS = ("source", "instrument", "speaker")


def write_vggsound(out: Path, cfg, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """``vggsound/vggsound.csv`` and ``vggsound/audio/``: single-source clips with VGGSound-style labels."""
    from audioreason.world.generator import KINDS, render

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
        truth.append({"dataset": "vggsound", "split": split, "clip": f"vggsound/audio/{clip}.wav", "label": label,
                      "kind": kind.name, "answer": scene.answer, **t})
    (out / "vggsound").mkdir(parents=True, exist_ok=True)
    (out / "vggsound" / "vggsound.csv").write_text(buf.getvalue())
    return expected


def write_captions(out: Path, cfg, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """AudioSetCaps-format caption CSVs for every AVQA and VGGSound clip, plus AudioSet-only ids."""
    from audioreason.world.generator import ALL_EVENTS

    rng = np.random.default_rng(seed_seq)
    rate = cfg.vggsound.caption_hallucination_rate
    rows, n_hall = [], 0
    for line in truth:
        if line["dataset"] not in ("avqa", "vggsound"):
            continue
        cap = caption_for(line)
        if rng.random() < rate:
            extra = HALLUCINATIONS[int(rng.integers(len(HALLUCINATIONS)))]
            cap = f"{cap[:-1]}, while {extra}."
            line["caption_hallucination"] = extra
            n_hall += 1
        line["caption"] = cap
        rows.append((Path(line["clip"]).stem, cap))
    rows.sort()
    audioset = []
    for _ in range(cfg.vggsound.audioset_captions):
        cls = ALL_EVENTS[int(rng.integers(len(ALL_EVENTS)))]
        audioset.append((f"Y{ytid(rng)}", f'The sound of "{sounds.event_label(cls)}" fills the room, with some echo.'))
    for name, data in (("VGGSound_AudioSetCaps_caption.csv", rows), ("AudioSetCaps_caption.csv", audioset)):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["id", "caption"])
        w.writerows(data)
        (out / "audiosetcaps").mkdir(parents=True, exist_ok=True)
        (out / "audiosetcaps" / name).write_text(buf.getvalue())
    return {"vggsound_captions": len(rows), "audioset_captions": len(audioset), "hallucinated": n_hall}
