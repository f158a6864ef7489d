"""Paper 04's statistics against known values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests

from audioreason.evaluation.stats import holm, mcnemar_exact, speaker_bootstrap_ci, spearman, uar, wilson_interval


def test_exact_mcnemar_is_the_binomial_test_on_discordant_pairs():
    # Table: both right 10, A only 7, B only 2, both wrong 5.
    a = [1] * 10 + [1] * 7 + [0] * 2 + [0] * 5
    b = [1] * 10 + [0] * 7 + [1] * 2 + [0] * 5
    r = mcnemar_exact(a, b)
    assert (r["b"], r["c"]) == (7, 2)
    assert r["p"] == pytest.approx(binomtest(7, 9, 0.5).pvalue) == pytest.approx(0.1796875)
    assert mcnemar_exact([1, 0], [1, 0])["p"] == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact([1, 0], [1])


def test_holm_matches_a_hand_computed_vector_and_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1].tolist())
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_bootstrap_resamples_speakers_not_utterances():
    # Speaker s1 is always right, s2 always wrong: resampling speakers can only give 0, 50 or 100 % UAR
    # (within the present classes); resampling utterances would give many values in between.
    golds = ["ang", "sad"] * 10 + ["ang", "sad"] * 10
    preds = ["ang", "sad"] * 10 + ["sad", "ang"] * 10
    speakers = ["s1"] * 20 + ["s2"] * 20
    r = speaker_bootstrap_ci(golds, preds, speakers, ["ang", "sad"], n_boot=300, seed=1)
    assert r["uar"] == 50.0 and r["speakers"] == 2
    assert r["low"] == 0.0 and r["high"] == 100.0
    assert r["low"] <= r["uar"] <= r["high"]


def test_bootstrap_interval_contains_the_estimate():
    rng = np.random.default_rng(0)
    classes = ["ang", "hap", "neu", "sad"]
    golds = list(rng.choice(classes, 400))
    preds = [g if rng.random() < 0.6 else rng.choice(classes) for g in golds]
    speakers = [f"s{i % 10}" for i in range(400)]
    r = speaker_bootstrap_ci(golds, preds, speakers, classes, n_boot=200)
    assert r["low"] < r["uar"] < r["high"] and r["high"] - r["low"] < 20
    assert r["uar"] == pytest.approx(uar(golds, preds, classes))
    with pytest.raises(ValueError, match="two speakers"):
        speaker_bootstrap_ci(golds, preds, ["s"] * 400, classes)


def test_spearman_of_a_monotone_curve():
    r = spearman([0.0, 0.25, 0.5, 0.75, 1.0], [60, 55, 50, 47, 41])
    assert r["rho"] == pytest.approx(-1.0) and r["p"] < 0.05


@pytest.mark.parametrize(("k", "n"), [(8, 10), (52, 180), (0, 28), (28, 28)])
def test_wilson_interval_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(100 * k / n, n)
    assert low == pytest.approx(100 * ci.low, abs=1e-4) and high == pytest.approx(100 * ci.high, abs=1e-4)
