"""Concept-token binning and the token-only interventions (paper 04 §III)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from audioreason.features.concept_tokens import (CONCEPTS, LEVELS, UNDEFINED, VOICE_QUALITIES, QuantileBinner, conflict,
                                                 corrupt, serialise, shuffle, vocabulary)


def tokens(**over):
    base = {"ENERGY": "LOW", "PITCH": "HIGH", "BRIGHTNESS": "VERY_DARK", "DYNAMICS": "MID", "FORMANTS": "VERY_HIGH",
            "VOICE_QUALITY": "BREATHY"}
    return {**base, **over}


def test_edges_come_from_the_training_split_only():
    binner = QuantileBinner().fit({"ENERGY": np.arange(100.0)})
    np.testing.assert_allclose(binner.edges[("ENERGY", "*")], [19.8, 39.6, 59.4, 79.2])
    # Test utterances far outside the training range fall in the outer bins; the edges do not move.
    assert [binner.level("ENERGY", v) for v in (-1e6, 10, 50, 70, 90, 1e6)] == [
        "VERY_LOW", "VERY_LOW", "MID", "HIGH", "VERY_HIGH", "VERY_HIGH"]
    assert binner.edges[("ENERGY", "*")][0] == pytest.approx(19.8)


def test_gender_specific_edges_where_configured():
    f0 = np.r_[np.linspace(200, 300, 50), np.linspace(100, 150, 50)]
    gender = ["F"] * 50 + ["M"] * 50
    binner = QuantileBinner(grouped=("PITCH",)).fit({"PITCH": f0, "ENERGY": np.arange(100.0)}, gender)
    # 140 Hz is very high for a man and very low for a woman.
    assert binner.level("PITCH", 140, "M") == "VERY_HIGH" and binner.level("PITCH", 140, "F") == "VERY_LOW"
    assert ("ENERGY", "*") in binner.edges and ("ENERGY", "F") not in binner.edges
    with pytest.raises(KeyError, match="group 'X'"):
        binner.level("PITCH", 140, "X")
    with pytest.raises(ValueError, match="PITCH: grouped edges need a group"):
        QuantileBinner(grouped=("PITCH",)).fit({"PITCH": f0})


def test_non_finite_scores_get_the_documented_level():
    binner = QuantileBinner().fit({"PITCH": [np.nan, 1.0, 2.0, 3.0]})
    assert binner.level("PITCH", float("nan")) == UNDEFINED and binner.level("PITCH", math.inf) == UNDEFINED
    with pytest.raises(ValueError, match="no finite training value"):
        QuantileBinner().fit({"PITCH": [np.nan, np.nan]})


def test_conflict_inverts_every_ordinal_exactly():
    for concept, levels in LEVELS.items():
        for i, level in enumerate(levels):
            assert conflict(tokens(**{concept: level}))[concept] == levels[4 - i]
    assert conflict(tokens(ENERGY="MID"))["ENERGY"] == "MID"
    assert conflict(tokens(PITCH=UNDEFINED))["PITCH"] == UNDEFINED
    assert conflict(tokens())["VOICE_QUALITY"] == "PRESSED" and conflict(tokens(VOICE_QUALITY="MODAL"))["VOICE_QUALITY"] == "ROUGH"


def test_corrupt_zero_is_the_aligned_tokens_and_one_draws_from_the_vocabulary():
    rng = np.random.default_rng(0)
    t = tokens()
    assert corrupt(t, 0.0, rng) == t
    drawn = [corrupt(t, 1.0, rng) for _ in range(200)]
    for c in (*CONCEPTS, "VOICE_QUALITY"):
        seen = Counter(d[c] for d in drawn)
        assert set(seen) <= set(vocabulary(c)) and len(seen) == len(vocabulary(c))   # every level drawn
    assert set(VOICE_QUALITIES) == set(vocabulary("VOICE_QUALITY"))
    half = [corrupt(t, 0.5, np.random.default_rng(s)) for s in range(400)]
    changed = np.mean([d["ENERGY"] != "LOW" for d in half])
    assert 0.3 < changed < 0.5          # p * (1 - 1/5) = 0.4 of positions end up different
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        corrupt(t, 1.5, rng)


def test_shuffle_permutes_whole_sequences_and_keeps_the_marginals():
    sets = [tokens(ENERGY=level) for level in LEVELS["ENERGY"]] * 4
    out = shuffle(sets, seed=3)
    assert sorted(serialise(s) for s in out) == sorted(serialise(s) for s in sets)
    assert out != sets and shuffle(sets, seed=3) == out and shuffle(sets, seed=4) != out


def test_serialised_order_is_table_one():
    assert serialise(tokens()).split()[0] == "ENERGY=LOW" and serialise(tokens()).endswith("VOICE_QUALITY=BREATHY")
