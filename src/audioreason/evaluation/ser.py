"""Speech emotion recognition scoring: UA, WA and the confusion matrix (IEMOCAP 4-way, FAU-Aibo 5-class).

UA (unweighted accuracy, the mean of per-class recalls; paper 01 Table 1, paper 04's UAR)
and WA (weighted accuracy, the share of correct utterances). A prediction is mapped to a
class by :func:`predicted_class`: the class label or its spoken word must be the only class
named; anything else is ``unparsed`` (a row of its own in the confusion matrix, wrong in UA
and WA, and counted).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

SCORER_NAME = "ser-ua-wa-v1"

CLASS_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "iemocap": {
        "ang": ("angry", "anger", "ang"),
        "hap": ("happy", "happiness", "hap", "excited"),
        "neu": ("neutral", "neu"),
        "sad": ("sad", "sadness"),
    },
    # FAU-Aibo 5-class (Interspeech 2009 challenge): Anger, Emphatic, Neutral, Positive, Rest.
    "fau_aibo": {"A": ("anger", "angry"), "E": ("emphatic",), "N": ("neutral",), "P": ("positive",), "R": ("rest",)},
}
UNPARSED = "unparsed"
_WORD = re.compile(r"[a-z]+")


def predicted_class(text: str, words: Mapping[str, Sequence[str]]) -> str:
    """The class whose words (and no other class's) appear in ``text``; else ``"unparsed"``.

    >>> predicted_class("The speaker sounds angry.", CLASS_WORDS["iemocap"])
    'ang'
    >>> predicted_class("happy or sad", CLASS_WORDS["iemocap"])
    'unparsed'
    """
    tokens = set(_WORD.findall((text or "").lower()))
    named = [c for c, ws in words.items() if tokens & {w.lower() for w in ws}]
    return named[0] if len(named) == 1 else UNPARSED


def score_ser(golds: Sequence[str], predictions: Sequence[str], classes: Sequence[str]) -> dict[str, Any]:
    """UA and WA (%) over ``classes``, per-class recall, and the confusion counts ``[gold][predicted]``.

    ``predictions`` are class labels (or ``"unparsed"``).

    >>> s = score_ser(["a", "a", "b", "b"], ["a", "b", "b", "unparsed"], ["a", "b"])
    >>> (s["ua"], s["wa"], s["unparsed"])
    (50.0, 50.0, 1)

    Raises:
        ValueError: a gold label is not among ``classes``, or the lengths differ.
    """
    if len(golds) != len(predictions):
        raise ValueError(f"{len(golds)} gold labels but {len(predictions)} predictions")
    unknown = sorted(set(golds) - set(classes))
    if unknown:
        raise ValueError(f"gold label(s) {unknown} not among the classes {list(classes)}")
    columns = list(classes) + [UNPARSED]
    confusion = {g: {p: 0 for p in columns} for g in classes}
    for g, p in zip(golds, predictions):
        confusion[g][p if p in confusion[g] else UNPARSED] += 1
    recall = {c: 100.0 * confusion[c][c] / sum(confusion[c].values()) for c in classes if sum(confusion[c].values())}
    n = len(golds)
    return {
        "ua": sum(recall.values()) / len(recall) if recall else 0.0,
        "wa": 100.0 * sum(confusion[c][c] for c in classes) / n if n else 0.0,
        "per_class": recall,
        "confusion": confusion,
        "n": n,
        "unparsed": sum(confusion[c][UNPARSED] for c in classes),
        "scorer": SCORER_NAME,
    }


def plot_confusion(scores: Mapping[str, Any], png: Path, title: str) -> Path:
    """The confusion matrix (rows: gold, columns: predicted, ``unparsed`` last), counts in the cells."""
    import numpy as np

    from audioreason.plots import figure, save_figure

    confusion = scores["confusion"]
    rows = list(confusion)
    cols = list(next(iter(confusion.values())))
    counts = np.array([[confusion[r][c] for c in cols] for r in rows])
    fig, ax = figure().subplots(figsize=(1.0 + 0.7 * len(cols), 1.0 + 0.6 * len(rows)))
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(cols)), cols, rotation=30)
    ax.set_yticks(range(len(rows)), rows)
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8)
    ax.set(xlabel="predicted", ylabel="gold", title=f"{title}: UA {scores['ua']:.1f}, WA {scores['wa']:.1f}")
    return save_figure(fig, png)
