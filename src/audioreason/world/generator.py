"""The synthetic audio world: seeded scenes written in the real dataset formats.

``write_world(out_dir, cfg)`` writes

- ``avqa/train_qa.json``, ``avqa/val_qa.json`` and ``avqa/audio/<video_name>.wav``
  (32 kHz) in the AVQA layout (FORMATS.md, "AVQA"): the training data of papers 02/03;
- ``mmau/mmau-test-mini.json`` and ``mmau/test-mini-audios/<id>.wav`` in the MMAU
  test-mini layout (FORMATS.md, "MMAU"): the evaluation set of every paper;
- ``world/clips.jsonl``: the ground truth of every clip (what sounds where), which the
  scripted teachers of later stages read and the importers never do.

Every question is about something the audio really contains. Question kinds cover the
papers' skills at calibrated difficulty: perception (which source, which instrument,
which kind of voice: easy), counting and tempo (medium), order and number of speakers
(hard). The same seed and library versions give byte-identical files.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from audioreason.config import WorldConfig
from audioreason.world import sounds
from audioreason.world.common import NUMBER_WORDS as COUNTS
from audioreason.world.common import at_peak, place, write_audio, ytid

NUMBER_WORDS = list(COUNTS[1:])  # "one".."eight": counts 1-4 occur; the rest are distractors
TEMPI = {"slow": 2, "moderate": 4, "fast": 8}  # notes per 2 s clip


@dataclass(frozen=True)
class Scene:
    """One clip and the question it answers (phrased both AVQA- and MMAU-style)."""

    kind: str
    audio: np.ndarray  # [samples] float32 at the requested rate
    avqa_question: str
    mmau_question: str
    answer: str
    distractors: tuple[str, ...]  # every wrong option the kind allows, in a seeded order
    truth: dict


@dataclass(frozen=True)
class Kind:
    """A question kind: which MMAU task/category it belongs to and how hard it is."""

    name: str
    task: str
    category: str
    sub_category: str
    difficulty: str
    question_relation: str  # AVQA: View | Sound | Both
    question_type: str  # AVQA question_type
    make: Callable[[np.random.Generator, int, float], Scene]


# What a silent video shows of each source (the visual channel, for paper 02's vision teacher).
OBJECTS = {
    "Alarm_bell_ringing": "an alarm bell", "Dog": "a dog", "Cat": "a cat", "Dishes": "a stack of dishes",
    "cash register": "a cash register", "door opens/closes": "a door", "Running_water": "a running tap",
    "Vacuum_cleaner": "a vacuum cleaner", "Electric_shaver_toothbrush": "an electric shaver",
    "Frying": "a frying pan", "Blender": "a blender",
}
PEOPLE = {"Man": "a man", "Woman": "a woman", "Child": "a child", "Robot": "a robot"}
VIEW_OBJECTS = ("ball", "bicycle", "lamp", "chair", "umbrella", "plant")
ONSCREEN = 0.75  # probability that the sounding source is in the picture


def _visible_source(rng, cls: str) -> list[str]:
    """The source in the picture, or (off-screen source) a different, silent object."""
    if rng.random() < ONSCREEN:
        return [OBJECTS[cls]]
    others = [c for c in ALL_EVENTS if c != cls]
    return [OBJECTS[others[int(rng.integers(len(others)))]]]


def _others(rng: np.random.Generator, pool, answer) -> tuple[str, ...]:
    rest = [p for p in pool if p != answer]
    return tuple(rest[i] for i in rng.permutation(len(rest)))


ALL_EVENTS = sorted(sounds.DISCRETE_EVENTS) + sorted(sounds.CONTINUOUS_EVENTS)
EVENT_LABELS = [sounds.event_label(c) for c in ALL_EVENTS]


def scene_source(rng, sr, seconds):
    cls = ALL_EVENTS[rng.integers(len(ALL_EVENTS))]
    bed = sounds.background(rng, sr, seconds)
    n = len(bed)
    k = 1
    if cls in sounds.DISCRETE_EVENTS:
        k = int(rng.integers(1, 4))
        for i in range(k):
            place(bed, 0.6 * sounds.synth_event(cls, rng, sr), int((i + rng.uniform(0.05, 0.4)) * n / k))
    else:
        seg = sounds.synth_event(cls, rng, sr, seconds * rng.uniform(0.5, 0.9))
        place(bed, 0.6 * seg, int(rng.uniform(0, n - len(seg))))
    label = sounds.event_label(cls)
    return Scene("source", bed, "What is making the sound in the video?",
                 "Which sound source can be heard in the audio?", label,
                 _others(rng, EVENT_LABELS, label), {"events": [cls] * k, "visible": _visible_source(rng, cls)})


def scene_count(rng, sr, seconds):
    cls = sorted(sounds.DISCRETE_EVENTS)[rng.integers(len(sounds.DISCRETE_EVENTS))]
    k = int(rng.integers(1, 5))
    bed = sounds.background(rng, sr, seconds)
    slot = len(bed) // k
    for i in range(k):
        place(bed, 0.6 * sounds.synth_event(cls, rng, sr), i * slot + int(rng.uniform(0.0, 0.3) * slot))
    label = sounds.event_label(cls)
    return Scene("count", bed, f"How many times is the {label} heard in the video?",
                 f"How many times does the {label} sound occur in the audio?", NUMBER_WORDS[k - 1],
                 _others(rng, NUMBER_WORDS, NUMBER_WORDS[k - 1]), {"events": [cls] * k, "count": k, "visible": [OBJECTS[cls]]})


def scene_order(rng, sr, seconds):
    a, b = (ALL_EVENTS[i] for i in rng.choice(len(ALL_EVENTS), 2, replace=False))
    bed = sounds.background(rng, sr, seconds)
    half = len(bed) // 2
    for j, cls in enumerate((a, b)):
        x = sounds.synth_event(cls, rng, sr, seconds * 0.4)
        place(bed, 0.6 * x, j * half + int(rng.uniform(0.0, 0.1) * half))
    first, second = sounds.event_label(a), sounds.event_label(b)
    pool = [second] + [l for l in _others(rng, EVENT_LABELS, first) if l != second]
    return Scene("order", bed, "Which sound comes first in the video?",
                 "Which sound is heard first in the audio?", first, tuple(pool),
                 {"events": [a, b], "visible": [OBJECTS[c] for c in sorted((a, b))]})


def scene_instrument(rng, sr, seconds):
    inst = sounds.INSTRUMENTS[rng.integers(len(sounds.INSTRUMENTS))]
    n_notes = int(rng.integers(3, 7))
    x = sounds.melody(rng, sr, inst, n_notes, seconds)
    bed = sounds.background(rng, sr, seconds) + 0.6 * x
    shown = inst if rng.random() < ONSCREEN else [i for i in sounds.INSTRUMENTS if i != inst][int(rng.integers(3))]
    return Scene("instrument", bed, "Which instrument is being played in the video?",
                 "Which instrument is being played in the audio?", inst,
                 _others(rng, sounds.INSTRUMENTS, inst), {"instrument": inst, "notes": n_notes,
                                                          "visible": [f"a {shown}"]})


def scene_tempo(rng, sr, seconds):
    tempo = list(TEMPI)[rng.integers(len(TEMPI))]
    inst = sounds.INSTRUMENTS[rng.integers(len(sounds.INSTRUMENTS))]
    bed = sounds.background(rng, sr, seconds) + 0.6 * sounds.melody(rng, sr, inst, TEMPI[tempo], seconds)
    return Scene("tempo", bed, "Is the music in the video slow or fast?",
                 "What is the tempo of the music in the audio?", tempo,
                 _others(rng, list(TEMPI), tempo), {"instrument": inst, "tempo": tempo, "visible": [f"a person playing a {inst}"]})


def scene_speaker(rng, sr, seconds):
    who = list(sounds.VOICES)[rng.integers(len(sounds.VOICES))]
    bed = sounds.background(rng, sr, seconds) + 0.6 * sounds.voice(rng, sr, who, seconds)
    shown = who if rng.random() < ONSCREEN else [w for w in sounds.VOICES if w != who][int(rng.integers(3))]
    return Scene("speaker", bed, "Who is speaking in the video?",
                 "Based on the given audio, identify the source of the speaking voice.", who,
                 _others(rng, list(sounds.VOICES), who), {"speakers": [who], "visible": [PEOPLE[shown]]})


def scene_n_speakers(rng, sr, seconds):
    k = int(rng.integers(1, 4))
    who = [list(sounds.VOICES)[i] for i in rng.choice(3, k, replace=False)]  # Man/Woman/Child take turns
    bed = sounds.background(rng, sr, seconds)
    turn = len(bed) // k
    for i, w in enumerate(who):
        place(bed, 0.6 * sounds.voice(rng, sr, w, 0.9 * turn / sr), i * turn)
    return Scene("n_speakers", bed, "How many people are talking in the video?",
                 "How many individuals are part of this exchange?", NUMBER_WORDS[k - 1],
                 _others(rng, NUMBER_WORDS, NUMBER_WORDS[k - 1]),
                 {"speakers": who, "visible": [PEOPLE[w] for w in who] + ["a man"] * int(rng.random() < 0.4)})


def scene_view(rng, sr, seconds):
    obj = VIEW_OBJECTS[rng.integers(len(VIEW_OBJECTS))]
    bed = sounds.background(rng, sr, seconds)
    return Scene("view", bed, "What object can be seen in the video?", "What object can be seen in the video?", obj,
                 _others(rng, list(VIEW_OBJECTS), obj), {"visible": [f"a {obj}"]})


KINDS = [
    Kind("source", "sound", "Information Extraction", "Sound-Based Event Recognition", "easy", "Sound", "Come From", scene_source),
    Kind("count", "sound", "Reasoning", "Event-Based Sound Reasoning", "medium", "Sound", "Happening", scene_count),
    Kind("order", "sound", "Reasoning", "Temporal Event Reasoning", "hard", "Sound", "Before Next", scene_order),
    Kind("instrument", "music", "Information Extraction", "Instrumentation", "easy", "Both", "Which", scene_instrument),
    Kind("tempo", "music", "Information Extraction", "Rhythm and Tempo Understanding", "medium", "Sound", "Happening", scene_tempo),
    Kind("speaker", "speech", "Reasoning", "Multi Speaker Role Mapping", "easy", "Both", "Which", scene_speaker),
    Kind("n_speakers", "speech", "Reasoning", "Counting", "hard", "Sound", "Happening", scene_n_speakers),
]
#: Visual-only questions (AVQA "View"): AVQA has them, MMAU does not.
VIEW_KIND = Kind("view", "", "", "", "", "View", "Which", scene_view)


def render(kind: Kind, rng: np.random.Generator, sr: int, seconds: float) -> Scene:
    """Render one scene at ``sr`` with a seeded loudness (-12..-3 dBFS peak)."""
    scene = kind.make(rng, sr, seconds)
    x = at_peak(scene.audio[: int(round(sr * seconds))], rng)
    return Scene(scene.kind, x, scene.avqa_question, scene.mmau_question, scene.answer, scene.distractors, scene.truth)


def _options(rng: np.random.Generator, scene: Scene, n: int) -> list[str]:
    opts = [scene.answer, *scene.distractors[: n - 1]]
    return [opts[i] for i in rng.permutation(len(opts))]


def _kind_schedule(rng: np.random.Generator, n: int, kinds: list[Kind]) -> list[Kind]:
    """Balanced over kinds (remainder spread by seed), then shuffled."""
    sched = [kinds[i % len(kinds)] for i in range(n)]
    return [sched[i] for i in rng.permutation(n)]


def write_avqa_split(out: Path, split: str, n: int, cfg: WorldConfig, seed_seq: np.random.SeedSequence,
                     id_offset: int, truth_lines: list[dict]) -> None:
    rng = np.random.default_rng(seed_seq)
    records = []
    n_view = int(round(cfg.avqa_view_fraction * n))
    schedule = _kind_schedule(rng, n - n_view, KINDS) + [VIEW_KIND] * n_view
    schedule = [schedule[i] for i in rng.permutation(n)]
    clip_seqs = seed_seq.spawn(n)
    for i, kind in enumerate(tqdm(schedule, desc=f"world avqa/{split}", leave=False, disable=None)):
        crng = np.random.default_rng(clip_seqs[i])
        scene = render(kind, crng, cfg.avqa_sample_rate, cfg.clip_seconds)
        video_name = f"{ytid(crng)}_{int(crng.integers(0, 300)) * 10:06d}"
        # AVQA's multi_choice has four slots; kinds with fewer options leave them null.
        options = _options(crng, scene, 4)
        multi_choice = options + [None] * (4 - len(options))
        write_audio(out / "avqa" / "audio" / f"{video_name}.wav", scene.audio, cfg.avqa_sample_rate)
        records.append({
            "id": id_offset + i,
            "video_name": video_name,
            "video_id": 100000 + id_offset + i,
            "question_text": scene.avqa_question,
            "multi_choice": multi_choice,
            "answer": options.index(scene.answer),
            "question_relation": kind.question_relation,
            "question_type": kind.question_type,
        })
        truth_lines.append({"dataset": "avqa", "split": split, "clip": f"avqa/audio/{video_name}.wav",
                            "kind": kind.name, "answer": scene.answer, **scene.truth})
    (out / "avqa").mkdir(parents=True, exist_ok=True)
    (out / "avqa" / f"{split}_qa.json").write_text(json.dumps(records, indent=1) + "\n")


def write_mmau_test_mini(out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence,
                         truth_lines: list[dict]) -> dict[str, int]:
    """Write the MMAU-format test-mini; returns items per task."""
    rng = np.random.default_rng(seed_seq)
    by_task: dict[str, list[Kind]] = {}
    for k in KINDS:
        by_task.setdefault(k.task, []).append(k)
    tasks = sorted(by_task)
    schedule: list[Kind] = []
    for j, task in enumerate(tasks):
        n_task = cfg.n_test_mini // len(tasks) + (1 if j < cfg.n_test_mini % len(tasks) else 0)
        schedule += _kind_schedule(rng, n_task, by_task[task])
    clip_seqs = seed_seq.spawn(len(schedule))
    items = []
    for i, kind in enumerate(tqdm(schedule, desc="world mmau/test-mini", leave=False, disable=None)):
        crng = np.random.default_rng(clip_seqs[i])
        scene = render(kind, crng, cfg.mmau_sample_rate, cfg.clip_seconds)
        item_id = str(uuid.UUID(int=int.from_bytes(crng.bytes(16), "big"), version=4))
        # MMAU mixes 2-, 4-, 5- and 8-option items; the kind's option pool bounds it.
        n_opts = min(1 + len(scene.distractors), cfg.mmau_n_choices[int(crng.integers(len(cfg.mmau_n_choices)))])
        choices = _options(crng, scene, n_opts)
        write_audio(out / "mmau" / "test-mini-audios" / f"{item_id}.wav", scene.audio, cfg.mmau_sample_rate)
        items.append({
            "id": item_id,
            "audio_id": f"./test-mini-audios/{item_id}.wav",
            "question": scene.mmau_question,
            "choices": choices,
            "answer": scene.answer,
            "dataset": "audioreason-world",
            "task": kind.task,
            "split": "test-mini",
            "category": kind.category,
            "sub-category": kind.sub_category,
            "difficulty": kind.difficulty,
        })
        truth_lines.append({"dataset": "mmau", "split": "test-mini", "clip": f"mmau/test-mini-audios/{item_id}.wav",
                            "kind": kind.name, "answer": scene.answer, **scene.truth})
    (out / "mmau").mkdir(parents=True, exist_ok=True)
    (out / "mmau" / "mmau-test-mini.json").write_text(json.dumps(items, indent=4) + "\n")
    tasks_written: dict[str, int] = {}
    for item in items:
        tasks_written[item["task"]] = tasks_written.get(item["task"], 0) + 1
    return dict(sorted(tasks_written.items()))


def write_world(out_dir: str | Path, cfg: WorldConfig) -> dict[str, int]:
    """Write the whole world under ``out_dir``.

    Besides the datasets it writes ``world/clips.jsonl`` (ground truth per clip),
    ``world/visual.jsonl`` (what a silent video of each AVQA / MUSIC-AVQA / VGGSound clip
    shows) and ``world/metadata.json`` (what the importers must report for each dataset).

    Returns:
        Usable records per dataset (as the importers must read them) and the number of clips.
    """
    from audioreason.world import captions, corpora, cota, music_avqa, soundscapes
    from audioreason.world.metadata import expected_counts

    out = Path(out_dir)
    root = np.random.SeedSequence(cfg.seed)
    (train_seq, val_seq, mmau_seq, music_seq, iemocap_seq, fau_seq, vctk_seq, desed_seq, maestro_seq, vgg_seq,
     caption_seq, cota_seq) = root.spawn(12)
    truth: list[dict] = []
    write_avqa_split(out, "train", cfg.n_train, cfg, train_seq, 0, truth)
    write_avqa_split(out, "val", cfg.n_val, cfg, val_seq, cfg.n_train, truth)
    writers = {
        "mmau": write_mmau_test_mini(out, cfg, mmau_seq, truth),
        "music_avqa": music_avqa.write_music_avqa(out, cfg, music_seq, truth),
        "iemocap": corpora.write_iemocap(out, cfg, iemocap_seq, truth),
        "fau_aibo": corpora.write_fau_aibo(out, cfg, fau_seq, truth),
        "vctk": corpora.write_vctk(out, cfg, vctk_seq, truth),
        "desed": soundscapes.write_desed(out, cfg, desed_seq, truth),
        "maestro": soundscapes.write_maestro(out, cfg, maestro_seq, truth),
        "vggsound": captions.write_vggsound(out, cfg, vgg_seq, truth),
    }
    writers["audiosetcaps"] = captions.write_captions(out, cfg, caption_seq, truth)
    writers["cota"] = cota.write_cota(out, cfg, cota_seq, truth)
    (out / "world").mkdir(parents=True, exist_ok=True)
    with (out / "world" / "clips.jsonl").open("w") as f:
        for line in truth:
            f.write(json.dumps(line, sort_keys=True) + "\n")
    with (out / "world" / "visual.jsonl").open("w") as f:
        for line in truth:
            if "visible" in line:
                f.write(json.dumps({"clip": line["clip"], "visible": line["visible"]}, sort_keys=True) + "\n")
            elif line["dataset"] == "music_avqa":
                f.write(json.dumps(music_avqa.visual_record(line), sort_keys=True) + "\n")
    metadata = expected_counts(out, cfg, writers)
    (out / "world" / "metadata.json").write_text(json.dumps(metadata, indent=1, sort_keys=True) + "\n")
    return {**{name: d["records"] for name, d in metadata["datasets"].items()}, "clips": len(truth)}
