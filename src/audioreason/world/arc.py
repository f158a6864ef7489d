"""ARC-Easy-format text-only science questions of the world (paper 03 §IV.C, Table II).

Paper 03 fine-tunes with GRPO on ARC-Easy without any audio and finds that MMAU improves
almost as much as after training on AVQA with audio (Table II). The world writes the
release layout (read by :mod:`audioreason.datasets.arc`)::

    ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Train.jsonl
    ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Dev.jsonl
    ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Test.jsonl

one JSON object per line, ``{"id", "question": {"stem", "choices": [{"text", "label"}]},
"answerKey"}``. The questions are grade-school science answerable from the text alone,
drawn from templates (animal classes, states of matter, measuring tools, energy
conversions, magnets and conductors, sound: pitch, media, echoes; speed from distance and
time, facts about the planets, plants and the body); most have four choices labelled
``A``-``D``, and, as in the release, a configurable few are labelled ``1``-``4`` and a few
have three or five choices. No clip is written and nothing goes to ``world/clips.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from audioreason.config import WorldConfig

#: Where the release unpacks, relative to the world's root.
ARC_DIR = Path("ARC-V1-Feb2018-2") / "ARC-Easy"
#: ARC file suffix -> the number of questions it gets from :class:`audioreason.config.world.WorldArc`.
SPLITS = (("Train", "train_items"), ("Dev", "dev_items"), ("Test", "test_items"))

Question = tuple[str, str, list[str]]
"""A drawn question: stem, correct answer text, at least four wrong answer texts."""

ANIMALS = {
    "mammal": ["dog", "whale", "bat", "horse", "rabbit", "elephant"],
    "bird": ["robin", "penguin", "eagle", "owl", "sparrow"],
    "reptile": ["snake", "lizard", "turtle", "crocodile"],
    "fish": ["salmon", "shark", "trout", "tuna"],
    "insect": ["ant", "bee", "beetle", "butterfly", "grasshopper"],
    "amphibian": ["frog", "toad", "salamander"],
}
MATTER = {
    "solid": ["an iron nail", "a wooden block", "a rock", "a grain of salt"],
    "liquid": ["water", "milk", "vinegar", "olive oil"],
    "gas": ["oxygen", "helium", "nitrogen", "carbon dioxide"],
}
TOOLS = {
    "thermometer": ["the temperature of a cup of tea", "the temperature of the air in a classroom"],
    "balance": ["the mass of an apple", "the mass of a rock sample"],
    "ruler": ["the length of a pencil", "the width of a leaf"],
    "graduated cylinder": ["the volume of some water", "the volume of a glass of juice"],
    "stopwatch": ["the time a ball takes to roll down a ramp", "the time a runner takes to finish a race"],
    "barometer": ["the air pressure before a storm"],
    "anemometer": ["the speed of the wind"],
}
ENERGY = {
    "light energy": ["a light bulb", "a flashlight", "a lamp"],
    "thermal energy": ["a toaster", "a space heater", "an electric stove"],
    "sound energy": ["a loudspeaker", "a doorbell", "a buzzer"],
    "mechanical energy": ["an electric fan", "a blender motor", "an electric drill"],
}
ENERGY_FORMS = [*ENERGY, "chemical energy"]
MAGNETIC = ["an iron nail", "a steel paper clip", "a steel spoon"]
NOT_MAGNETIC = ["a plastic spoon", "a wooden block", "a glass marble", "a rubber band", "a copper coin", "a paper cup"]
CONDUCTORS = ["a copper wire", "an aluminum strip", "a steel key"]
INSULATORS = ["a rubber band", "a plastic straw", "a wooden stick", "a glass rod", "a cotton string"]
VIBRATING = ["a guitar string", "a drum skin", "a tuning fork", "a rubber band stretched over a box"]
PITCH_UP = ["It gets higher.", "It gets lower.", "It stays the same.", "It gets louder.", "It gets quieter."]
MOVERS = ["toy car", "bicycle", "snail", "runner", "ball", "cart"]
FACTS: list[Question] = [
    ("Which planet is closest to the Sun?", "Mercury", ["Venus", "Earth", "Mars", "Jupiter", "Saturn"]),
    ("Which planet is the largest in our solar system?", "Jupiter", ["Mercury", "Earth", "Mars", "Venus", "Neptune"]),
    (
        "What causes day and night on Earth?",
        "Earth spinning on its axis",
        [
            "Earth moving around the Sun",
            "the Moon moving around Earth",
            "clouds covering the Sun",
            "the Sun moving around Earth",
        ],
    ),
    (
        "What do green plants need from the Sun to make their own food?",
        "light",
        ["sound", "soil", "wind", "heat from the ground"],
    ),
    (
        "Which part of a plant takes in water from the soil?",
        "the roots",
        ["the flowers", "the leaves", "the seeds", "the fruit"],
    ),
    ("Which organ pumps blood through the body?", "the heart", ["the lungs", "the stomach", "the brain", "the liver"]),
    ("Which sense organ do people use to hear sounds?", "the ears", ["the eyes", "the nose", "the tongue", "the skin"]),
    (
        "What must an object do to make a sound?",
        "vibrate",
        ["melt", "change color", "become magnetic", "stay completely still"],
    ),
    (
        "Sound travels fastest through which of these?",
        "a steel rail",
        ["air", "a balloon of helium", "a pool of water", "empty space"],
    ),
    (
        "Sound cannot travel through which of these?",
        "empty space with no air",
        ["water", "air", "wood", "steel"],
    ),
    (
        "During a thunderstorm, why is lightning seen before thunder is heard?",
        "Light travels faster than sound.",
        [
            "Sound travels faster than light.",
            "Thunder happens before lightning.",
            "Eyes work faster than ears.",
            "Clouds block the sound at first.",
        ],
    ),
]


def _pick(rng: np.random.Generator, items: list) -> object:
    return items[int(rng.integers(len(items)))]


def _from_others(rng: np.random.Generator, table: dict[str, list], answer_key: str, n: int) -> list:
    """``n`` distinct members of the other keys of ``table`` (one key each while keys last)."""
    others = [k for k in table if k != answer_key]
    rng.shuffle(others)
    out: list = []
    while len(out) < n:
        for k in others:
            free = [m for m in table[k] if m not in out]
            if free and len(out) < n:
                out.append(_pick(rng, free))
    return out


def _animal(rng: np.random.Generator) -> Question:
    cls = str(_pick(rng, sorted(ANIMALS)))
    return f"Which of these animals is a {cls}?", str(_pick(rng, ANIMALS[cls])), _from_others(rng, ANIMALS, cls, 4)


def _matter(rng: np.random.Generator) -> Question:
    state = str(_pick(rng, sorted(MATTER)))
    wrong = _from_others(rng, MATTER, state, 4)
    return f"Which of these is a {state} at room temperature?", str(_pick(rng, MATTER[state])), wrong


def _tool(rng: np.random.Generator) -> Question:
    tool = str(_pick(rng, sorted(TOOLS)))
    what = str(_pick(rng, TOOLS[tool]))
    wrong = [t for t in TOOLS if t != tool]
    rng.shuffle(wrong)
    return f"Which tool should a student use to measure {what}?", tool, wrong[:4]


def _energy(rng: np.random.Generator) -> Question:
    form = str(_pick(rng, sorted(ENERGY)))
    device = str(_pick(rng, ENERGY[form]))
    stem = f"{device[0].upper()}{device[1:]} changes electrical energy mostly into which form of energy?"
    return stem, form, [f for f in ENERGY_FORMS if f != form]


def _magnet(rng: np.random.Generator) -> Question:
    wrong = [str(x) for x in rng.permutation(NOT_MAGNETIC)[:4]]
    return "Which of these objects would a magnet attract?", str(_pick(rng, MAGNETIC)), wrong


def _conductor(rng: np.random.Generator) -> Question:
    wrong = [str(x) for x in rng.permutation(INSULATORS)[:4]]
    return "Which of these is the best conductor of electricity?", str(_pick(rng, CONDUCTORS)), wrong


def _pitch(rng: np.random.Generator) -> Question:
    thing = str(_pick(rng, VIBRATING))
    faster = bool(rng.integers(2))
    stem = f"When {thing} vibrates {'faster' if faster else 'more slowly'}, what happens to the pitch of its sound?"
    answer = PITCH_UP[0] if faster else PITCH_UP[1]
    return stem, answer, [p for p in PITCH_UP if p != answer]


def _numbers(rng: np.random.Generator, answer: int, candidates: list[int], unit: str) -> tuple[str, list[str]]:
    """The answer and four distinct positive wrong values (``candidates`` first, then neighbours)."""
    wrong: list[int] = []
    for v in [*candidates, answer + 1, answer - 1, answer + 2, 2 * answer, answer + 5]:
        if v > 0 and v != answer and v not in wrong and len(wrong) < 4:
            wrong.append(v)
    rng.shuffle(wrong)
    return f"{answer} {unit}", [f"{v} {unit}" for v in wrong]


def _speed(rng: np.random.Generator) -> Question:
    speed, seconds = int(rng.integers(2, 16)), int(rng.integers(2, 9))
    meters = speed * seconds
    mover = str(_pick(rng, MOVERS))
    answer, wrong = _numbers(rng, speed, [meters * seconds, meters + seconds, meters - seconds], "meters per second")
    return f"A {mover} travels {meters} meters in {seconds} seconds. What is its average speed?", answer, wrong


def _echo(rng: np.random.Generator) -> Question:
    seconds = int(rng.integers(1, 5)) * 2
    stem = (
        f"A hiker shouts toward a cliff and hears the echo {seconds} seconds later. Sound travels about "
        "340 meters per second in air. How far away is the cliff?"
    )
    answer, wrong = _numbers(rng, 170 * seconds, [340 * seconds, 85 * seconds, 340 + seconds], "meters")
    return stem, answer, wrong


def _fact(rng: np.random.Generator) -> Question:
    stem, answer, wrong = FACTS[int(rng.integers(len(FACTS)))]
    return stem, answer, list(wrong)


TEMPLATES: tuple[Callable[[np.random.Generator], Question], ...] = (
    _animal,
    _matter,
    _tool,
    _energy,
    _magnet,
    _conductor,
    _pitch,
    _speed,
    _echo,
    _fact,
)


def _question_id(rng: np.random.Generator, used: set[str]) -> str:
    """An id shaped like the release's (``Mercury_7220990``, ``MCAS_2000_4_6``, ...), unique over ``used``."""
    while True:
        kind = int(rng.integers(5))
        year, grade, n = int(rng.integers(1998, 2016)), int(rng.choice([4, 5, 8])), int(rng.integers(1, 45))
        ident = (
            f"Mercury_{int(rng.integers(7_000_000, 8_000_000))}",
            f"Mercury_SC_{int(rng.integers(400_000, 420_000))}",
            f"MCAS_{year}_{grade}_{n}",
            f"NYSEDREGENTS_{year}_{grade}_{n}",
            f"TIMSS_{year}_{grade}_pg{n}",
        )[kind]
        if ident not in used:
            used.add(ident)
            return ident


def _write_split(path: Path, cfg: WorldConfig, n: int, rng: np.random.Generator, used: set[str]) -> dict[str, int]:
    n_numeric = round(cfg.arc.numeric_label_fraction * n)
    n_odd = round(cfg.arc.odd_choice_fraction * n)
    order = rng.permutation(n)
    numeric = set(order[:n_numeric].tolist())
    odd = {int(i): 3 if k % 2 == 0 else 5 for k, i in enumerate(rng.permutation(n)[:n_odd])}
    lines = []
    for i in range(n):
        stem, answer, wrong = TEMPLATES[int(rng.integers(len(TEMPLATES)))](rng)
        n_choices = odd.get(i, 4)
        texts = [answer, *wrong[: n_choices - 1]]
        texts = [texts[k] for k in rng.permutation(n_choices)]
        labels = [str(k + 1) for k in range(n_choices)] if i in numeric else ["ABCDE"[k] for k in range(n_choices)]
        record = {
            "id": _question_id(rng, used),
            "question": {"stem": stem, "choices": [{"text": t, "label": lab} for t, lab in zip(texts, labels)]},
            "answerKey": labels[texts.index(answer)],
        }
        lines.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return {"records": n, "numeric_labels": n_numeric, "odd_choices": n_odd}


def write_arc(out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence) -> dict[str, dict[str, int]]:
    """Write the three ARC-Easy JSONL files under ``out``; one random stream per file.

    Returns:
        Per split (``train``, ``dev``, ``test``): questions written (``records``) and how many
        of them have numeric labels and three or five choices.
    """
    used: set[str] = set()
    written = {}
    for (suffix, field), seq in zip(SPLITS, seed_seq.spawn(len(SPLITS))):
        path = out / ARC_DIR / f"ARC-Easy-{suffix}.jsonl"
        n = getattr(cfg.arc, field)
        written[suffix.lower()] = _write_split(path, cfg, n, np.random.default_rng(seq), used)
    return written
