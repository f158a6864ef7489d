"""Acoustic concept tokens and the token-only interventions of paper 04 (§III, Table I).

Five scalar concept scores (ENERGY, PITCH, BRIGHTNESS, DYNAMICS, FORMANTS) are each cut
into five quantile bins "using dataset-level bin edges that are fixed across samples";
the edges are fit on the training split only, and on IEMOCAP separately per gender for
PITCH and FORMANTS (not on FAU-Aibo, whose speakers are children). A sixth, categorical
token, VOICE_QUALITY, comes from a heuristic (MODAL / BREATHY / PRESSED / ROUGH / CREAKY,
or UNVOICED). The six labels are serialised into one string appended to the prompt.

Interventions hold the audio fixed and change only the tokens (§III):

- shuffle: token sequences permuted across the utterances of a split (marginals kept);
- conflict: each ordinal bin inverted (VERY_LOW <-> VERY_HIGH, LOW <-> HIGH, MID stays),
  voice quality mapped to :data:`VOICE_QUALITY_OPPOSITE`;
- corrupt(p): each token position kept with probability 1 - p, otherwise replaced by a
  draw from the same concept's vocabulary (so corrupt(0) is the aligned tokens).

A score that is not finite (a silent utterance, one too short for F0) gets the documented
level ``UNDEFINED`` instead of a bin; it is never silently binned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

ORDINAL = ("VERY_LOW", "LOW", "MID", "HIGH", "VERY_HIGH")
LEVELS: dict[str, tuple[str, ...]] = {
    "ENERGY": ORDINAL,
    "PITCH": ORDINAL,
    "BRIGHTNESS": ("VERY_DARK", "DARK", "MID", "BRIGHT", "VERY_BRIGHT"),
    "DYNAMICS": ("VERY_STATIC", "STATIC", "MID", "DYNAMIC", "VERY_DYNAMIC"),
    "FORMANTS": ORDINAL,
}
"""Table I's five binned concepts and their level names, lowest bin first."""
CONCEPTS = tuple(LEVELS)
VOICE_QUALITIES = ("MODAL", "BREATHY", "PRESSED", "ROUGH", "CREAKY", "UNVOICED")
VOICE_QUALITY_OPPOSITE = {"BREATHY": "PRESSED", "PRESSED": "BREATHY",   # the two ends of the phonation continuum
                          "MODAL": "ROUGH", "ROUGH": "MODAL",           # periodic vs aperiodic voicing
                          "CREAKY": "BREATHY",                          # tense, irregular vs lax
                          "UNVOICED": "UNVOICED"}
"""What Conflict puts in place of each voice quality (the paper asks for "its opposite category")."""
UNDEFINED = "UNDEFINED"
QUANTILES = (0.2, 0.4, 0.6, 0.8)


@dataclass
class QuantileBinner:
    """Five-bin edges per concept (and per group where ``grouped`` says so), fit on training scores only.

    Attributes:
        grouped: Concepts whose edges are fit per group (IEMOCAP: PITCH and FORMANTS per gender).
    """

    grouped: Sequence[str] = ()
    edges: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    def fit(self, scores: Mapping[str, Sequence[float]], groups: Sequence[str] | None = None) -> "QuantileBinner":
        """Fit edges from the training split's ``scores`` (concept -> one value per utterance).

        Raises:
            ValueError: a grouped concept without ``groups``, or a concept/group without finite values.
        """
        for concept, values in scores.items():
            values = np.asarray(values, dtype=float)
            if concept in self.grouped:
                if groups is None:
                    raise ValueError(f"{concept}: grouped edges need a group (e.g. gender) per utterance")
                keys = sorted(set(groups))
                parts = {g: values[np.asarray(groups) == g] for g in keys}
            else:
                parts = {"*": values}
            for g, v in parts.items():
                v = v[np.isfinite(v)]
                if not len(v):
                    raise ValueError(f"{concept} (group {g}): no finite training value to fit bin edges on")
                self.edges[(concept, g)] = np.quantile(v, QUANTILES)
        return self

    def level(self, concept: str, value: float, group: str | None = None) -> str:
        """The level name of ``value`` (``UNDEFINED`` when not finite).

        Raises:
            KeyError: no edges for this concept (or this group of a grouped concept).
        """
        if not np.isfinite(value):
            return UNDEFINED
        key = (concept, group if concept in self.grouped else "*")
        if key not in self.edges:
            raise KeyError(f"no bin edges for {concept}" + (f" and group {group!r}" if concept in self.grouped else "")
                           + f" (fit on: {sorted(self.edges)})")
        return LEVELS[concept][int(np.searchsorted(self.edges[key], value, side="right"))]


def serialise(tokens: Mapping[str, str]) -> str:
    """The six tokens as the string appended to the prompt, in Table I's order.

    >>> serialise({"ENERGY": "HIGH", "PITCH": "LOW", "BRIGHTNESS": "DARK", "DYNAMICS": "MID",
    ...            "FORMANTS": "VERY_HIGH", "VOICE_QUALITY": "MODAL"})
    'ENERGY=HIGH PITCH=LOW BRIGHTNESS=DARK DYNAMICS=MID FORMANTS=VERY_HIGH VOICE_QUALITY=MODAL'
    """
    return " ".join(f"{c}={tokens[c]}" for c in (*CONCEPTS, "VOICE_QUALITY"))


def conflict(tokens: Mapping[str, str]) -> dict[str, str]:
    """Every ordinal level inverted (MID stays MID), voice quality to its opposite; UNDEFINED stays.

    >>> conflict({"ENERGY": "VERY_LOW", "PITCH": "HIGH", "BRIGHTNESS": "MID", "DYNAMICS": "VERY_DYNAMIC",
    ...           "FORMANTS": "UNDEFINED", "VOICE_QUALITY": "BREATHY"})["ENERGY"]
    'VERY_HIGH'
    """
    out = {}
    for c, v in tokens.items():
        if c == "VOICE_QUALITY":
            out[c] = VOICE_QUALITY_OPPOSITE[v]
        elif v == UNDEFINED:
            out[c] = v
        else:
            levels = LEVELS[c]
            out[c] = levels[len(levels) - 1 - levels.index(v)]
    return out


def shuffle(token_sets: Sequence[Mapping[str, str]], seed: int) -> list[dict[str, str]]:
    """Whole token sequences permuted across the utterances of a split (one seed, one permutation)."""
    order = np.random.default_rng(seed).permutation(len(token_sets))
    return [dict(token_sets[i]) for i in order]


def vocabulary(concept: str) -> tuple[str, ...]:
    return VOICE_QUALITIES if concept == "VOICE_QUALITY" else LEVELS[concept]


def corrupt(tokens: Mapping[str, str], p: float, rng: np.random.Generator) -> dict[str, str]:
    """Each position kept with probability 1 - p, else a uniform draw from its concept's vocabulary.

    Raises:
        ValueError: ``p`` outside [0, 1].
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"corruption probability must be in [0, 1], got {p}")
    out = {}
    for c, v in tokens.items():
        vocab = vocabulary(c)
        out[c] = vocab[int(rng.integers(len(vocab)))] if rng.random() < p else v
    return out
