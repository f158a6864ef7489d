"""Statistics: speaker-clustered bootstrap CIs, exact McNemar, Holm, Spearman (paper 04 §III-IV); Wilson intervals.

- UAR confidence intervals resample *speakers* with replacement (all of a speaker's
  utterances together), since utterances of one speaker are not independent.
- Paired conditions (e.g. aligned vs conflicting tokens, same audio) are compared with the
  exact McNemar test on per-utterance correctness: a two-sided binomial test on the
  discordant pairs.
- A family of such tests is corrected with Holm's step-down procedure.
- The corruption curve's monotonicity is Spearman's rank correlation of UAR against p.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats as sps

from audioreason.evaluation.ser import score_ser


def uar(golds: Sequence[str], predictions: Sequence[str], classes: Sequence[str]) -> float:
    """Unweighted average recall (%), the mean of per-class recalls."""
    return score_ser(golds, predictions, classes)["ua"]


def speaker_bootstrap_ci(
    golds: Sequence[str],
    predictions: Sequence[str],
    speakers: Sequence[str],
    classes: Sequence[str],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float]:
    """UAR and its percentile confidence interval from a bootstrap over speakers.

    Returns:
        ``uar`` (all data), ``low``, ``high``, ``n_boot``, ``speakers``.

    Raises:
        ValueError: lengths differ, or fewer than two speakers.
    """
    if not len(golds) == len(predictions) == len(speakers):
        raise ValueError(f"{len(golds)} labels, {len(predictions)} predictions, {len(speakers)} speakers")
    by_speaker: dict[str, list[int]] = {}
    for i, s in enumerate(speakers):
        by_speaker.setdefault(s, []).append(i)
    ids = sorted(by_speaker)
    if len(ids) < 2:
        raise ValueError("a speaker-clustered bootstrap needs at least two speakers")
    golds, predictions = np.asarray(golds), np.asarray(predictions)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        drawn = rng.integers(len(ids), size=len(ids))
        rows = np.concatenate([by_speaker[ids[k]] for k in drawn])
        present = [c for c in classes if np.any(golds[rows] == c)]
        values.append(uar(golds[rows], predictions[rows], present))
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return {
        "uar": uar(golds, predictions, classes),
        "low": float(low),
        "high": float(high),
        "n_boot": n_boot,
        "speakers": len(ids),
    }


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict[str, float]:
    """Exact McNemar test on paired per-utterance correctness.

    ``b``: A right and B wrong; ``c``: A wrong and B right; the p-value is the two-sided
    binomial test of ``b`` in ``b + c`` trials at 0.5 (1.0 without discordant pairs).

    >>> mcnemar_exact([1, 1, 1, 0], [0, 0, 0, 0])["b"]
    3
    """
    a, b_ = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b_.shape:
        raise ValueError(f"{a.size} and {b_.size} paired outcomes")
    b = int(np.sum(a & ~b_))
    c = int(np.sum(~a & b_))
    p = 1.0 if b + c == 0 else float(sps.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)
    return {"b": b, "c": c, "p": p}


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order (monotone, capped at 1).

    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03, 0.005])]
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted.tolist()


def spearman(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    """Spearman's rank correlation and its two-sided p-value (the corruption curve: UAR against p)."""
    res = sps.spearmanr(x, y)
    return {"rho": float(res.statistic), "p": float(res.pvalue)}


def wilson_interval(accuracy_pct: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval (%, 95% by default) for an accuracy of ``accuracy_pct`` over ``n`` items.

    Used beside tiny-scale accuracies, where n is small and the normal interval would leave [0, 100].

    >>> tuple(round(v, 1) for v in wilson_interval(50.0, 100))
    (40.4, 59.6)
    >>> wilson_interval(0.0, 0)
    (0.0, 100.0)
    """
    if n <= 0:
        return 0.0, 100.0
    p = accuracy_pct / 100.0
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(100 * max(0.0, centre - half)), float(100 * min(1.0, centre + half))
