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
VOICE_QUALITY_OPPOSITE = {
    "BREATHY": "PRESSED",
    "PRESSED": "BREATHY",  # the two ends of the phonation continuum
    "MODAL": "ROUGH",
    "ROUGH": "MODAL",  # periodic vs aperiodic voicing
    "CREAKY": "BREATHY",  # tense, irregular vs lax
    "UNVOICED": "UNVOICED",
}
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
            raise KeyError(
                f"no bin edges for {concept}"
                + (f" and group {group!r}" if concept in self.grouped else "")
                + f" (fit on: {sorted(self.edges)})"
            )
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
    """Each position kept with probability 1 - p, else a uniform draw from its concept's vocabulary
    (which may redraw the original, as the paper words it).

    Every position consumes the same two draws whatever ``p`` is, so generators seeded alike give
    nested corruptions: a position replaced at p is replaced, by the same token, at every p' > p
    (the corruption curve then varies p alone).

    Raises:
        ValueError: ``p`` outside [0, 1].
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"corruption probability must be in [0, 1], got {p}")
    out = {}
    for c, v in tokens.items():
        vocab = vocabulary(c)
        u, k = rng.random(), int(rng.integers(len(vocab)))
        out[c] = vocab[k] if u < p else v
    return out


# --------------------------------------------------------------------------- from eGeMAPS to tokens


@dataclass
class RobustScaler:
    """Median / IQR standardisation per eGeMAPS column, fit on the training split (NaNs ignored).

    A column whose training IQR is 0 (a constant) is divided by 1 instead, so it stays finite.
    """

    median: dict[str, float] = field(default_factory=dict)
    iqr: dict[str, float] = field(default_factory=dict)

    def fit(self, rows: Sequence[Mapping[str, float]], columns: Sequence[str]) -> "RobustScaler":
        """Raises: ValueError: a column without a finite training value."""
        for c in columns:
            v = np.asarray([r[c] for r in rows], dtype=float)
            v = v[np.isfinite(v)]
            if not len(v):
                raise ValueError(f"{c}: no finite training value to standardise with")
            q1, med, q3 = np.quantile(v, (0.25, 0.5, 0.75))
            self.median[c], self.iqr[c] = float(med), float(q3 - q1) or 1.0
        return self

    def z(self, row: Mapping[str, float], column: str) -> float:
        return (row[column] - self.median[column]) / self.iqr[column]


def concept_scores(row: Mapping[str, float], scaler: RobustScaler) -> dict[str, float]:
    """ENERGY ... FORMANTS: the mean of each concept's signed, standardised columns (Table I);
    NaN when any of them is undefined."""
    from audioreason.audio.egemaps import CONCEPT_COLUMNS

    return {
        concept: float(np.mean([sign * scaler.z(row, c) for c, sign in cols]))
        for concept, cols in CONCEPT_COLUMNS.items()
    }


@dataclass(frozen=True)
class VoiceQualityRule:
    """The VOICE_QUALITY heuristic's thresholds, in robust-z units of the training split.

    Rules, first match wins (z: standardised file-level mean; a cue that is undefined never fires):

    ====  =========  ============================================================================
    1     UNVOICED   voiced fraction < ``min_voiced_fraction`` (silence, noise, too short for F0)
    2     CREAKY     z(jitter) > t and z(F0) < -t: irregular, low-pitched phonation (vocal fry)
    3     ROUGH      z(jitter) > t and z(shimmer) > t and z(HNR) < 0: aperiodic, noisy voicing
    4     BREATHY    z(HNR) < -t and z(H1-H2) > t: aspiration noise and a dominant first harmonic
    5     PRESSED    z(H1-H2) < -t and z(H1-A3) < -t: weak H1, strong upper harmonics (tense)
    6     MODAL      otherwise
    ====  =========  ============================================================================

    (Laver 1980; Gobl & Ní Chasaide 2003; Keating et al. 2015 for the H1-H2 / H1-A3 cues.)
    """

    threshold: float = 1.0
    min_voiced_fraction: float = 0.1

    def label(self, row: Mapping[str, float], scaler: RobustScaler) -> str:
        from audioreason.audio.egemaps import F0_COLUMN

        if row["voiced_fraction"] < self.min_voiced_fraction or not np.isfinite(row[F0_COLUMN]):
            return "UNVOICED"
        t = self.threshold

        def z(c: str) -> float:
            v = scaler.z(row, c)
            return v if np.isfinite(v) else 0.0

        jitter, shimmer, hnr = z("jitterLocal_sma3nz"), z("shimmerLocaldB_sma3nz"), z("HNRdBACF_sma3nz")
        h1h2, h1a3, f0 = z("logRelF0-H1-H2_sma3nz"), z("logRelF0-H1-A3_sma3nz"), z(F0_COLUMN)
        if jitter > t and f0 < -t:
            return "CREAKY"
        if jitter > t and shimmer > t and hnr < 0:
            return "ROUGH"
        if hnr < -t and h1h2 > t:
            return "BREATHY"
        if h1h2 < -t and h1a3 < -t:
            return "PRESSED"
        return "MODAL"


@dataclass
class ConceptTokenizer:
    """eGeMAPS file-level means -> the six concept tokens, fit on one dataset's training split.

    Attributes:
        grouped: Concepts with per-group (gender) bin edges; IEMOCAP: PITCH and FORMANTS.
        rule: The VOICE_QUALITY heuristic.
    """

    grouped: Sequence[str] = ()
    rule: VoiceQualityRule = field(default_factory=VoiceQualityRule)
    scaler: RobustScaler = field(default_factory=RobustScaler)
    binner: QuantileBinner | None = None

    def fit(self, train_rows: Sequence[Mapping[str, float]], groups: Sequence[str] | None = None) -> "ConceptTokenizer":
        """Standardisation and bin edges from the training split only.

        Raises:
            ValueError: no training rows, or a column / concept without a finite training value.
        """
        from audioreason.audio.egemaps import USED_COLUMNS

        if not train_rows:
            raise ValueError("no training utterances to fit the concept tokens on")
        self.scaler = RobustScaler().fit(train_rows, USED_COLUMNS)
        scores = [concept_scores(r, self.scaler) for r in train_rows]
        self.binner = QuantileBinner(grouped=tuple(self.grouped)).fit(
            {c: [s[c] for s in scores] for c in CONCEPTS}, groups
        )
        return self

    def tokens(self, row: Mapping[str, float], group: str | None = None) -> tuple[dict[str, float], dict[str, str]]:
        """The concept scores and the six tokens of one utterance; a grouped concept of an utterance
        whose group has no edges (no or an unseen gender) is ``UNDEFINED`` (counted by the stage)."""
        if self.binner is None:
            raise RuntimeError("ConceptTokenizer.fit must run before tokens()")
        scores = concept_scores(row, self.scaler)
        toks = {
            c: (
                UNDEFINED
                if c in self.grouped and (c, group) not in self.binner.edges
                else self.binner.level(c, scores[c], group)
            )
            for c in CONCEPTS
        }
        toks["VOICE_QUALITY"] = self.rule.label(row, self.scaler)
        return scores, toks

    def state(self) -> dict:
        """What was fit (medians, IQRs, edges), for ``fit.json``."""
        assert self.binner is not None
        return {
            "median": self.scaler.median,
            "iqr": self.scaler.iqr,
            "grouped": list(self.grouped),
            "edges": {f"{c}/{g}": [float(e) for e in v] for (c, g), v in sorted(self.binner.edges.items())},
            "voice_quality": {"threshold": self.rule.threshold, "min_voiced_fraction": self.rule.min_voiced_fraction},
        }


def normalised_mutual_information(tokens: Sequence[str], labels: Sequence[str]) -> float:
    """I(token; class) / sqrt(H(token) H(class)) in [0, 1]: how much a concept says about the class
    (0 when either is constant).

    >>> normalised_mutual_information(["LOW", "LOW", "HIGH", "HIGH"], ["sad", "sad", "ang", "ang"])
    1.0
    >>> normalised_mutual_information(["LOW", "HIGH", "LOW", "HIGH"], ["sad", "sad", "ang", "ang"])
    0.0
    """
    if len(tokens) != len(labels):
        raise ValueError(f"{len(tokens)} tokens but {len(labels)} labels")
    n = len(tokens)
    joint: dict[tuple[str, str], int] = {}
    for t, c in zip(tokens, labels):
        joint[(t, c)] = joint.get((t, c), 0) + 1
    pt: dict[str, float] = {}
    pc: dict[str, float] = {}
    for (t, c), k in joint.items():
        pt[t] = pt.get(t, 0) + k / n
        pc[c] = pc.get(c, 0) + k / n
    mi = sum(k / n * np.log(k / n / (pt[t] * pc[c])) for (t, c), k in joint.items())
    ht = -sum(p * np.log(p) for p in pt.values())
    hc = -sum(p * np.log(p) for p in pc.values())
    return round(float(mi / np.sqrt(ht * hc)), 12) if ht > 0 and hc > 0 else 0.0
