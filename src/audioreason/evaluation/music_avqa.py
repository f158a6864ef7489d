"""MUSIC-AVQA scoring: open answers mapped onto the official vocabulary, accuracy per type and group.

MUSIC-AVQA answers come from a closed 42-word vocabulary (FORMATS.md;
:data:`~audioreason.datasets.music_avqa.ANSWER_VOCAB`): ``yes``/``no``, number words,
instruments with underscores (``acoustic_guitar``), ``left``/``right``/``middle``,
``indoor``/``outdoor``, ``simultaneously``, ``more than ten``. A model answers in free text,
so the prediction (the ``<answer>`` content, else the text) is normalised (case,
punctuation, spaces vs underscores, digits as number words) and mapped to the vocabulary
word it names; it is correct when that word is the answer. A prediction naming no
vocabulary word, or several, is wrong and counted as unparseable.

Accuracy is reported per question type (``Audio-Visual/Counting``…), per modality group
(``Audio``, ``Visual``, ``Audio-Visual``), per type across groups (``Counting``…) and overall.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Mapping, Sequence

from audioreason.datasets.music_avqa import ANSWER_VOCAB
from audioreason.evaluation.mmau import extract_answer

SCORER_NAME = "music-avqa-vocab-exact-v1"
"""Version of this scoring rule, logged with every evaluation."""

_WORD = re.compile(r"[a-z0-9]+")
_DIGITS = {
    str(i): w
    for i, w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"))
}


def _tokens(text: str) -> list[str]:
    return [_DIGITS.get(t, t) for t in _WORD.findall(text.lower().replace("_", " "))]


_VOCAB_TOKENS = sorted(((tuple(_tokens(w)), w) for w in ANSWER_VOCAB), key=lambda x: -len(x[0]))


def vocabulary_answer(text: str) -> str | None:
    """The one vocabulary word ``text`` names (longest first: "more than ten" before "ten"), else ``None``.

    >>> vocabulary_answer("Acoustic guitar.")
    'acoustic_guitar'
    >>> vocabulary_answer("<answer>2</answer>")
    'two'
    >>> vocabulary_answer("left or right") is None
    True
    """
    tokens = _tokens(extract_answer(text or ""))
    found: list[str] = []
    i = 0
    while i < len(tokens):
        for vt, word in _VOCAB_TOKENS:
            if tuple(tokens[i : i + len(vt)]) == vt:
                found.append(word)
                i += len(vt)
                break
        else:
            i += 1
    distinct = set(found)
    return found[0] if len(distinct) == 1 else None


def score_music_avqa(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Score items carrying ``answer``, ``group``, ``type`` and a ``prediction``.

    Returns:
        ``overall``, ``n``, ``unparseable`` (predictions naming no single vocabulary word),
        and percentages ``group_type`` (``"Audio/Counting"``), ``group`` and ``type``.

    Raises:
        ValueError: an item misses a key, or its answer is not in the vocabulary.
    """
    tallies: dict[str, dict[str, list[int]]] = {
        "group_type": defaultdict(list),
        "group": defaultdict(list),
        "type": defaultdict(list),
    }
    unparseable = 0
    hits = []
    for i, item in enumerate(items):
        missing = [k for k in ("answer", "group", "type", "prediction") if k not in item]
        if missing:
            raise ValueError(f"item #{i} (id {item.get('id', '?')}): missing key(s) {', '.join(missing)}")
        if item["answer"] not in ANSWER_VOCAB:
            raise ValueError(
                f"item #{i} (id {item.get('id', '?')}): answer {item['answer']!r} is not in the MUSIC-AVQA vocabulary"
            )
        predicted = vocabulary_answer(str(item["prediction"]))
        unparseable += predicted is None
        hit = int(predicted == item["answer"])
        hits.append(hit)
        tallies["group_type"][f"{item['group']}/{item['type']}"].append(hit)
        tallies["group"][item["group"]].append(hit)
        tallies["type"][item["type"]].append(hit)
    if not hits:
        raise ValueError("no item to score")
    pct = {name: {k: 100.0 * sum(v) / len(v) for k, v in sorted(t.items())} for name, t in tallies.items()}
    return {
        "overall": 100.0 * sum(hits) / len(hits),
        "n": len(hits),
        "unparseable": unparseable,
        **pct,
        "scorer": SCORER_NAME,
    }
