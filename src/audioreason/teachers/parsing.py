"""Reading what a teacher wrote: answer tags, question JSON, yes/no verdicts, contradictions.

Every parser returns ``None`` (or raises :class:`ValueError` with the reason) for output
it cannot read; the stages count those per reason and report them, never keep or drop
them silently.
"""

from __future__ import annotations

import json
import re
from typing import Sequence

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
_WORD = re.compile(r"\b\w+\b")
_STOP = frozenset("a an the of in on at to is are be it its this that and or with by for from as".split())


def extract_answer_tag(text: str) -> str | None:
    """The stripped content of the last ``<answer>…</answer>``; ``None`` when absent or empty.

    >>> extract_answer_tag("<think>dog?</think><answer> dog barking </answer>")
    'dog barking'
    >>> extract_answer_tag("<answer></answer>") is None
    True
    """
    found = _ANSWER.findall(text or "")
    if not found or not found[-1].strip():
        return None
    return found[-1].strip()


def _norm(s: str) -> str:
    return " ".join(_WORD.findall(s.lower()))


def match_choice(answer: str | None, choices: Sequence[str]) -> str | None:
    """The choice ``answer`` names (case, spacing and punctuation ignored; an option letter
    ``B`` / ``(b)`` also counts), or ``None``.

    >>> match_choice("Dog barking.", ["cat meowing", "dog barking"])
    'dog barking'
    >>> match_choice("(B)", ["cat", "dog"])
    'dog'
    >>> match_choice("a bird", ["cat", "dog"]) is None
    True
    """
    if answer is None:
        return None
    target = _norm(answer)
    for c in choices:
        if _norm(c) == target:
            return c
    letter = answer.strip().strip("().").upper()
    if len(letter) == 1 and "A" <= letter < chr(ord("A") + len(choices)):
        return choices[ord(letter) - ord("A")]
    return None


def parse_yes_no(text: str) -> bool | None:
    """A checker's verdict: the first word ``yes`` / ``no`` (``<answer>`` content first); ``None`` otherwise.

    >>> parse_yes_no("Yes. The trace matches the audio.")
    True
    >>> parse_yes_no("<answer>no</answer>")
    False
    >>> parse_yes_no("maybe") is None
    True
    """
    body = extract_answer_tag(text) or (text or "")
    words = _WORD.findall(body.lower())
    if not words or words[0] not in ("yes", "no"):
        return None
    return words[0] == "yes"


def parse_question_json(text: str) -> dict:
    """A generated question: the first JSON object in ``text`` (code fences allowed) with
    ``question`` (str), ``answer`` (str) and ``distractors`` (3 distinct str, none equal to the answer).

    Raises:
        ValueError: the reason the output is unusable (no JSON object, a missing key, ...).

    >>> reply = '{"question": "Which animal?", "answer": "dog", "distractors": ["cat", "cow", "owl"]}'
    >>> parse_question_json("```json\\n" + reply + "\\n```")["answer"]
    'dog'
    """
    start = (text or "").find("{")
    if start < 0:
        raise ValueError("no JSON object")
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON ({e.msg})") from None
    if not isinstance(obj, dict):
        raise ValueError("JSON is not an object")
    for key in ("question", "answer", "distractors"):
        if key not in obj:
            raise ValueError(f"missing key {key!r}")
    q, a, d = obj["question"], obj["answer"], obj["distractors"]
    if not isinstance(q, str) or not q.strip():
        raise ValueError("empty question")
    if not isinstance(a, str) or not a.strip():
        raise ValueError("empty answer")
    if not isinstance(d, list) or len(d) != 3 or not all(isinstance(x, str) and x.strip() for x in d):
        raise ValueError("distractors must be 3 non-empty strings")
    options = [_norm(a)] + [_norm(x) for x in d]
    if len(set(options)) != 4:
        raise ValueError("answer and distractors are not 4 distinct options")
    return {"question": q.strip(), "answer": a.strip(), "distractors": [x.strip() for x in d]}


def content_words(s: str) -> set[str]:
    return {w for w in _WORD.findall(s.lower()) if w not in _STOP}


def contradicts_answer(description: str, answer: str, choices: Sequence[str]) -> str | None:
    """Whether a description names a wrong option and not the answer (paper 01 §3.1: "should
    not be in conflict with the information from the given reasoning trace").

    An option is named when one of its distinctive content words (not shared with the other
    options) occurs in the description. Returns the wrong option named, or ``None``.

    >>> contradicts_answer("A cat meows twice.", "dog barking", ["dog barking", "cat meowing"])
    'cat meowing'
    >>> contradicts_answer("A dog barks; no cat.", "dog barking", ["dog barking", "cat meowing"]) is None
    True
    """
    words = content_words(description)
    sets = {c: content_words(c) for c in choices}

    def distinct(c: str) -> set[str]:
        return sets[c] - set().union(*(sets[o] for o in choices if o != c))

    if distinct(answer) & words:
        return None
    for c in choices:
        if c != answer and distinct(c) & words:
            return c
    return None
