"""Faithful one-sentence captions of the world's scenes, written from their ground truth.

:func:`caption_for` describes a clip of a kind of :mod:`audioreason.world.scenes` from
its ``truth`` line: the AudioSetCaps writer stores these captions (some with a
hallucinated source added), the CoTA writer puts them in the CAPTION stage of its traces,
and the scripted teachers of later stages textualize clips with them. This module writes
no file.
"""

from __future__ import annotations

from audioreason.world.scenes import NUMBER_WORDS

NOUNS = {
    "Alarm_bell_ringing": "an alarm bell",
    "Dog": "a dog",
    "Cat": "a cat",
    "Dishes": "dishes",
    "cash register": "a cash register",
    "door opens/closes": "a door",
    "Running_water": "running water",
    "Vacuum_cleaner": "a vacuum cleaner",
    "Electric_shaver_toothbrush": "an electric shaver",
    "Frying": "food frying in a pan",
    "Blender": "a blender",
}
VERBS = {
    "Alarm_bell_ringing": "rings",
    "Dog": "barks",
    "Cat": "meows",
    "Dishes": "clink",
    "cash register": "beeps",
    "door opens/closes": "closes",
    "Running_water": "flows",
    "Vacuum_cleaner": "runs",
    "Electric_shaver_toothbrush": "buzzes",
    "Frying": "sizzles",
    "Blender": "whirs",
}
# How a caption names a voice (a caption describes sound, so the robot is "a robotic voice").
PEOPLE = {"Man": "a man", "Woman": "a woman", "Child": "a child", "Robot": "a robotic voice"}


def _times(k: int) -> str:
    return {1: "once", 2: "twice"}.get(k, f"{NUMBER_WORDS[k]} times")


def caption_for(truth: dict) -> str:
    """A faithful caption of a clip from its ground truth (the kinds of :mod:`audioreason.world.scenes`).

    Args:
        truth: A ground-truth line with ``kind`` and the kind's fields (``events``,
            ``instrument``, ``notes``, ``tempo`` or ``speakers``).

    Raises:
        ValueError: For a kind without a caption template.
    """
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
        speaking = "person speaks" if len(who) == 1 else "people take turns speaking"
        return f"{NUMBER_WORDS[len(who)].capitalize()} {speaking}: {', '.join(who)}."
    if kind == "view":
        return "A quiet room tone with no distinct sound events."
    raise ValueError(f"no caption template for clip kind {kind!r}")
