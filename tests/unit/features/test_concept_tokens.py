"""Concept-token binning and the token-only interventions (paper 04 §III)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from audioreason.features.concept_tokens import (
    CONCEPTS,
    LEVELS,
    UNDEFINED,
    VOICE_QUALITIES,
    QuantileBinner,
    conflict,
    corrupt,
    serialise,
    shuffle,
    vocabulary,
)


def tokens(**over):
    base = {
        "ENERGY": "LOW",
        "PITCH": "HIGH",
        "BRIGHTNESS": "VERY_DARK",
        "DYNAMICS": "MID",
        "FORMANTS": "VERY_HIGH",
        "VOICE_QUALITY": "BREATHY",
    }
    return {**base, **over}


def test_edges_come_from_the_training_split_only():
    binner = QuantileBinner().fit({"ENERGY": np.arange(100.0)})
    np.testing.assert_allclose(binner.edges[("ENERGY", "*")], [19.8, 39.6, 59.4, 79.2])
    # Test utterances far outside the training range fall in the outer bins; the edges do not move.
    assert [binner.level("ENERGY", v) for v in (-1e6, 10, 50, 70, 90, 1e6)] == [
        "VERY_LOW",
        "VERY_LOW",
        "MID",
        "HIGH",
        "VERY_HIGH",
        "VERY_HIGH",
    ]
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
    assert (
        conflict(tokens())["VOICE_QUALITY"] == "PRESSED"
        and conflict(tokens(VOICE_QUALITY="MODAL"))["VOICE_QUALITY"] == "ROUGH"
    )


def test_corrupt_zero_is_the_aligned_tokens_and_one_draws_from_the_vocabulary():
    rng = np.random.default_rng(0)
    t = tokens()
    assert corrupt(t, 0.0, rng) == t
    drawn = [corrupt(t, 1.0, rng) for _ in range(200)]
    for c in (*CONCEPTS, "VOICE_QUALITY"):
        seen = Counter(d[c] for d in drawn)
        assert set(seen) <= set(vocabulary(c)) and len(seen) == len(vocabulary(c))  # every level drawn
    assert set(VOICE_QUALITIES) == set(vocabulary("VOICE_QUALITY"))
    half = [corrupt(t, 0.5, np.random.default_rng(s)) for s in range(400)]
    changed = np.mean([d["ENERGY"] != "LOW" for d in half])
    assert 0.3 < changed < 0.5  # p * (1 - 1/5) = 0.4 of positions end up different
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        corrupt(t, 1.5, rng)


def test_corruptions_with_one_seed_are_nested_across_p():
    sets = [tokens(ENERGY=level) for level in LEVELS["ENERGY"]] * 40
    by_p = {
        p: [corrupt(t, p, r) for t, r in zip(sets, [np.random.default_rng(7)] * len(sets))] for p in (0.25, 0.5, 1.0)
    }
    for low, high in ((0.25, 0.5), (0.5, 1.0)):
        for orig, a, b in zip(sets, by_p[low], by_p[high]):
            for c in orig:
                if a[c] != orig[c]:
                    assert b[c] == a[c]  # replaced at the lower p: replaced the same way at the higher


def test_shuffle_permutes_whole_sequences_and_keeps_the_marginals():
    sets = [tokens(ENERGY=level) for level in LEVELS["ENERGY"]] * 4
    out = shuffle(sets, seed=3)
    assert sorted(serialise(s) for s in out) == sorted(serialise(s) for s in sets)
    assert out != sets and shuffle(sets, seed=3) == out and shuffle(sets, seed=4) != out


def test_serialised_order_is_table_one():
    assert serialise(tokens()).split()[0] == "ENERGY=LOW" and serialise(tokens()).endswith("VOICE_QUALITY=BREATHY")


# --------------------------------------------------------------------------- eGeMAPS means -> tokens

from audioreason.audio.egemaps import USED_COLUMNS  # noqa: E402
from audioreason.features.concept_tokens import (  # noqa: E402
    ConceptTokenizer,
    RobustScaler,
    VoiceQualityRule,  # noqa: E402
    concept_scores,
    normalised_mutual_information,
)


def row(**z):
    """A file-level mean row equal to the training median + z * IQR per column (see ``scaler``)."""
    out = {c: 10.0 + z.get(c, 0.0) * 2.0 for c in USED_COLUMNS}
    out.update(voiced_fraction=z.get("voiced_fraction", 0.9))
    return out


@pytest.fixture
def scaler():
    s = RobustScaler()
    s.median = {c: 10.0 for c in USED_COLUMNS}
    s.iqr = {c: 2.0 for c in USED_COLUMNS}
    return s


def test_robust_scaler_uses_median_and_iqr_of_training_rows():
    rows = [{"a": v, "b": 5.0} for v in (1.0, 2.0, 3.0, 4.0, 100.0)] + [{"a": float("nan"), "b": 5.0}]
    s = RobustScaler().fit(rows, ["a", "b"])
    assert s.median["a"] == 3.0 and s.iqr["a"] == 2.0  # the outlier moves neither
    assert s.iqr["b"] == 1.0 and s.z({"b": 5.0}, "b") == 0.0  # constant column: divided by 1, stays finite
    with pytest.raises(ValueError, match="c: no finite training value"):
        RobustScaler().fit([{"c": float("nan")}], ["c"])


def test_concept_scores_are_signed_means_of_table_one_columns(scaler):
    s = concept_scores(row(**{"hammarbergIndex_sma3": 2.0, "alphaRatio_sma3": 2.0, "F1frequency_sma3nz": 3.0}), scaler)
    assert s["BRIGHTNESS"] == pytest.approx((2.0 - 2.0 + 0 + 0) / 4)  # Hammarberg enters negated
    assert s["FORMANTS"] == pytest.approx(1.0) and s["ENERGY"] == 0.0
    assert math.isnan(concept_scores({**row(), "F2frequency_sma3nz": float("nan")}, scaler)["FORMANTS"])


@pytest.mark.parametrize(
    "z, label",
    [
        ({"voiced_fraction": 0.05}, "UNVOICED"),
        ({"jitterLocal_sma3nz": 1.5, "F0semitoneFrom27.5Hz_sma3nz": -1.5}, "CREAKY"),
        ({"jitterLocal_sma3nz": 1.5, "shimmerLocaldB_sma3nz": 1.5, "HNRdBACF_sma3nz": -0.5}, "ROUGH"),
        ({"HNRdBACF_sma3nz": -1.5, "logRelF0-H1-H2_sma3nz": 1.5}, "BREATHY"),
        ({"logRelF0-H1-H2_sma3nz": -1.5, "logRelF0-H1-A3_sma3nz": -1.5}, "PRESSED"),
        ({"jitterLocal_sma3nz": 0.9, "shimmerLocaldB_sma3nz": 3.0}, "MODAL"),  # below the threshold
        ({"HNRdBACF_sma3nz": -1.5, "logRelF0-H1-H2_sma3nz": 0.5}, "MODAL"),  # one breathy cue only
    ],
)
def test_voice_quality_rules_in_documented_order(scaler, z, label):
    assert VoiceQualityRule(threshold=1.0).label(row(**z), scaler) == label


def test_voice_quality_threshold_is_a_parameter(scaler):
    r = row(**{"HNRdBACF_sma3nz": -0.8, "logRelF0-H1-H2_sma3nz": 0.8})
    assert VoiceQualityRule(threshold=1.0).label(r, scaler) == "MODAL"
    assert VoiceQualityRule(threshold=0.5).label(r, scaler) == "BREATHY"
    assert VoiceQualityRule().label({**r, "F0semitoneFrom27.5Hz_sma3nz": float("nan")}, scaler) == "UNVOICED"


def test_tokenizer_fits_on_training_rows_only_with_gender_edges():
    rng = np.random.default_rng(0)

    def speaker_rows(f0: float, n: int):
        return [
            {
                **{c: float(rng.normal(10, 1)) for c in USED_COLUMNS},
                "F0semitoneFrom27.5Hz_sma3nz": f0 + float(rng.normal(0, 1)),
                "voiced_fraction": 0.9,
            }
            for _ in range(n)
        ]

    train = speaker_rows(40.0, 50) + speaker_rows(28.0, 50)
    genders = ["F"] * 50 + ["M"] * 50
    tok = ConceptTokenizer(grouped=("PITCH", "FORMANTS")).fit(train, genders)
    before = {k: v.copy() for k, v in tok.binner.edges.items()}
    outlier = {**train[0], "F0semitoneFrom27.5Hz_sma3nz": 34.0, "Loudness_sma3": 1e6}
    _, as_woman = tok.tokens(outlier, "F")
    _, as_man = tok.tokens(outlier, "M")
    assert as_woman["PITCH"] == "VERY_LOW" and as_man["PITCH"] == "VERY_HIGH"  # 34 st: low for F, high for M
    assert as_woman["ENERGY"] == "VERY_HIGH"
    assert all(np.array_equal(before[k], tok.binner.edges[k]) for k in before)  # tokenizing never refits
    state = tok.state()
    assert (
        set(state["edges"]) >= {"PITCH/F", "PITCH/M", "FORMANTS/F", "ENERGY/*"} and len(state["edges"]["ENERGY/*"]) == 4
    )
    _, no_gender = tok.tokens(outlier, None)
    assert no_gender["PITCH"] == no_gender["FORMANTS"] == "UNDEFINED" and no_gender["ENERGY"] == "VERY_HIGH"
    with pytest.raises(RuntimeError, match="fit"):
        ConceptTokenizer().tokens(train[0])
    with pytest.raises(ValueError, match="no training utterances"):
        ConceptTokenizer().fit([])


def test_mutual_information_of_tokens_and_classes():
    assert normalised_mutual_information(["A", "B"] * 10, ["x", "y"] * 10) == 1.0
    assert normalised_mutual_information(["A"] * 20, ["x", "y"] * 10) == 0.0
    assert 0 < normalised_mutual_information(["A", "A", "B", "B", "A"], ["x", "x", "y", "y", "y"]) < 1
