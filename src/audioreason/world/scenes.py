"""The world's scene model: clips, the questions they answer, and what a silent video shows.

A :class:`Scene` is one rendered clip with its ground truth (``truth``: which events,
instruments or speakers it holds and what the picture shows) and one question about it,
phrased both AVQA-style ("in the video") and MMAU-style ("in the audio"). A :class:`Kind`
samples scenes of one question kind and says where the kind sits in MMAU's taxonomy and
AVQA's question types. The AVQA, MMAU, VGGSound and CoTA writers draw their clips from
:data:`KINDS`; this module writes no file.

Question kinds cover the papers' skills at calibrated difficulty: perception (which
source, which instrument, which kind of voice: easy), counting and tempo (medium), order
and number of speakers (hard). Every answer is something the audio really contains.

The visual channel (``truth["visible"]``, for paper 02's vision teacher) shows the
sounding source most of the time (:data:`ONSCREEN`) and a silent object otherwise, and
never shows pure acoustic properties (tempo, how many times a sound repeats).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from audioreason.world import sounds
from audioreason.world.audio_out import at_peak, place

#: Number words by value ("zero".."eight"), as answers and captions spell counts.
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight")
#: Options of the counting kinds: counts 1-4 occur; the rest are distractors.
COUNT_OPTIONS = list(NUMBER_WORDS[1:])
TEMPI = {"slow": 2, "moderate": 4, "fast": 8}  # notes per 2 s clip
# Sound-event classes of the scenes; the order fixes which class a seeded index draws.
ALL_EVENTS = sorted(sounds.DISCRETE_EVENTS) + sorted(sounds.CONTINUOUS_EVENTS)
EVENT_LABELS = [sounds.event_label(c) for c in ALL_EVENTS]


@dataclass(frozen=True)
class Scene:
    """One clip and the question it answers (phrased both AVQA- and MMAU-style)."""

    kind: str
    audio: np.ndarray  # [samples] float32 at the requested rate
    avqa_question: str
    mmau_question: str
    answer: str
    distractors: tuple[str, ...]  # every wrong option the kind allows, in a seeded order
    truth: dict  # ground truth of the clip, written to world/clips.jsonl


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
    "Alarm_bell_ringing": "an alarm bell",
    "Dog": "a dog",
    "Cat": "a cat",
    "Dishes": "a stack of dishes",
    "cash register": "a cash register",
    "door opens/closes": "a door",
    "Running_water": "a running tap",
    "Vacuum_cleaner": "a vacuum cleaner",
    "Electric_shaver_toothbrush": "an electric shaver",
    "Frying": "a frying pan",
    "Blender": "a blender",
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
    """Every option of ``pool`` but ``answer``, in a seeded order (the kind's distractors)."""
    rest = [p for p in pool if p != answer]
    return tuple(rest[i] for i in rng.permutation(len(rest)))


def scene_source(rng, sr, seconds):
    """One event class (1-3 repeats if discrete, one stretch if continuous): which source is heard?"""
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
    return Scene(
        "source",
        bed,
        "What is making the sound in the video?",
        "Which sound source can be heard in the audio?",
        label,
        _others(rng, EVENT_LABELS, label),
        {"events": [cls] * k, "visible": _visible_source(rng, cls)},
    )


def scene_count(rng, sr, seconds):
    """One discrete event repeated 1-4 times, one per slot: how many times is it heard?"""
    cls = sorted(sounds.DISCRETE_EVENTS)[rng.integers(len(sounds.DISCRETE_EVENTS))]
    k = int(rng.integers(1, 5))
    bed = sounds.background(rng, sr, seconds)
    slot = len(bed) // k
    for i in range(k):
        place(bed, 0.6 * sounds.synth_event(cls, rng, sr), i * slot + int(rng.uniform(0.0, 0.3) * slot))
    label = sounds.event_label(cls)
    return Scene(
        "count",
        bed,
        f"How many times is the {label} heard in the video?",
        f"How many times does the {label} sound occur in the audio?",
        COUNT_OPTIONS[k - 1],
        _others(rng, COUNT_OPTIONS, COUNT_OPTIONS[k - 1]),
        {"events": [cls] * k, "count": k, "visible": [OBJECTS[cls]]},
    )


def scene_order(rng, sr, seconds):
    """Two different events, one per half of the clip: which comes first?"""
    a, b = (ALL_EVENTS[i] for i in rng.choice(len(ALL_EVENTS), 2, replace=False))
    bed = sounds.background(rng, sr, seconds)
    half = len(bed) // 2
    for j, cls in enumerate((a, b)):
        x = sounds.synth_event(cls, rng, sr, seconds * 0.4)
        place(bed, 0.6 * x, j * half + int(rng.uniform(0.0, 0.1) * half))
    first, second = sounds.event_label(a), sounds.event_label(b)
    pool = [second] + [lab for lab in _others(rng, EVENT_LABELS, first) if lab != second]
    return Scene(
        "order",
        bed,
        "Which sound comes first in the video?",
        "Which sound is heard first in the audio?",
        first,
        tuple(pool),
        {"events": [a, b], "visible": [OBJECTS[c] for c in sorted((a, b))]},
    )


def scene_instrument(rng, sr, seconds):
    """A short melody of 3-6 notes on one instrument: which instrument plays?"""
    inst = sounds.INSTRUMENTS[rng.integers(len(sounds.INSTRUMENTS))]
    n_notes = int(rng.integers(3, 7))
    x = sounds.melody(rng, sr, inst, n_notes, seconds)
    bed = sounds.background(rng, sr, seconds) + 0.6 * x
    shown = inst if rng.random() < ONSCREEN else [i for i in sounds.INSTRUMENTS if i != inst][int(rng.integers(3))]
    return Scene(
        "instrument",
        bed,
        "Which instrument is being played in the video?",
        "Which instrument is being played in the audio?",
        inst,
        _others(rng, sounds.INSTRUMENTS, inst),
        {"instrument": inst, "notes": n_notes, "visible": [f"a {shown}"]},
    )


def scene_tempo(rng, sr, seconds):
    """A melody of 2, 4 or 8 notes (:data:`TEMPI`): is it slow, moderate or fast?"""
    tempo = list(TEMPI)[rng.integers(len(TEMPI))]
    inst = sounds.INSTRUMENTS[rng.integers(len(sounds.INSTRUMENTS))]
    bed = sounds.background(rng, sr, seconds) + 0.6 * sounds.melody(rng, sr, inst, TEMPI[tempo], seconds)
    return Scene(
        "tempo",
        bed,
        "Is the music in the video slow or fast?",
        "What is the tempo of the music in the audio?",
        tempo,
        _others(rng, list(TEMPI), tempo),
        {"instrument": inst, "tempo": tempo, "visible": [f"a person playing a {inst}"]},
    )


def scene_speaker(rng, sr, seconds):
    """One voice of :data:`audioreason.world.sounds.VOICES`: who is speaking?"""
    who = list(sounds.VOICES)[rng.integers(len(sounds.VOICES))]
    bed = sounds.background(rng, sr, seconds) + 0.6 * sounds.voice(rng, sr, who, seconds)
    shown = who if rng.random() < ONSCREEN else [w for w in sounds.VOICES if w != who][int(rng.integers(3))]
    return Scene(
        "speaker",
        bed,
        "Who is speaking in the video?",
        "Based on the given audio, identify the source of the speaking voice.",
        who,
        _others(rng, list(sounds.VOICES), who),
        {"speakers": [who], "visible": [PEOPLE[shown]]},
    )


def scene_n_speakers(rng, sr, seconds):
    """1-3 of Man / Woman / Child taking turns: how many people talk?"""
    k = int(rng.integers(1, 4))
    who = [list(sounds.VOICES)[i] for i in rng.choice(3, k, replace=False)]  # Man/Woman/Child take turns
    bed = sounds.background(rng, sr, seconds)
    turn = len(bed) // k
    for i, w in enumerate(who):
        place(bed, 0.6 * sounds.voice(rng, sr, w, 0.9 * turn / sr), i * turn)
    return Scene(
        "n_speakers",
        bed,
        "How many people are talking in the video?",
        "How many individuals are part of this exchange?",
        COUNT_OPTIONS[k - 1],
        _others(rng, COUNT_OPTIONS, COUNT_OPTIONS[k - 1]),
        {"speakers": who, "visible": [PEOPLE[w] for w in who] + ["a man"] * int(rng.random() < 0.4)},
    )


def scene_view(rng, sr, seconds):
    """Room tone and an object in the picture: what can be seen (a question only vision answers)?"""
    obj = VIEW_OBJECTS[rng.integers(len(VIEW_OBJECTS))]
    bed = sounds.background(rng, sr, seconds)
    return Scene(
        "view",
        bed,
        "What object can be seen in the video?",
        "What object can be seen in the video?",
        obj,
        _others(rng, list(VIEW_OBJECTS), obj),
        {"visible": [f"a {obj}"]},
    )


KINDS = [
    Kind(
        "source",
        "sound",
        "Information Extraction",
        "Sound-Based Event Recognition",
        "easy",
        "Sound",
        "Come From",
        scene_source,
    ),
    Kind("count", "sound", "Reasoning", "Event-Based Sound Reasoning", "medium", "Sound", "Happening", scene_count),
    Kind("order", "sound", "Reasoning", "Temporal Event Reasoning", "hard", "Sound", "Before Next", scene_order),
    Kind("instrument", "music", "Information Extraction", "Instrumentation", "easy", "Both", "Which", scene_instrument),
    Kind(
        "tempo",
        "music",
        "Information Extraction",
        "Rhythm and Tempo Understanding",
        "medium",
        "Sound",
        "Happening",
        scene_tempo,
    ),
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


def shuffled_options(rng: np.random.Generator, scene: Scene, n: int) -> list[str]:
    """The answer and the scene's first ``n - 1`` distractors, in a seeded order."""
    opts = [scene.answer, *scene.distractors[: n - 1]]
    return [opts[i] for i in rng.permutation(len(opts))]


def balanced_schedule(rng: np.random.Generator, n: int, kinds: list[Kind]) -> list[Kind]:
    """Balanced over kinds (remainder spread by seed), then shuffled."""
    sched = [kinds[i % len(kinds)] for i in range(n)]
    return [sched[i] for i in rng.permutation(n)]
