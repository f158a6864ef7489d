"""The interventions stage's pure parts (paper 04): scoring, the paired tests, metric keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audioreason.config import load_params
from audioreason.evaluation.paper_tables import paper_numbers
from audioreason.stages.interventions import metric_prefix, paired_tests, score
from helpers import token_rows

REPO = Path(__file__).resolve().parents[3]
CFG = load_params(REPO / "params.yaml").interventions


def test_score_maps_answers_and_counts_the_unparsed():
    r = token_rows(8)
    completions = ["angry", "happy", "neutral", "sad", "angry or sad", "happy", "The speaker is neutral.", "sad"]
    s = score(r, completions, CFG, "iemocap")
    assert s["predictions"][4] == "unparsed" and s["unparsed"] == 1
    assert s["uar"] == pytest.approx(0.875) and s["n"] == 8 and s["speakers"] == 2
    assert s["uar_ci_low"] <= s["uar"] <= s["uar_ci_high"]
    one_speaker = [{**x, "speaker": "s0"} for x in r]
    assert np.isnan(score(one_speaker, completions, CFG, "iemocap")["uar_ci_low"])  # no CI from one speaker


def test_paired_tests_form_one_holm_family():
    base = [True] * 10 + [False] * 10
    worse = [True] * 2 + [False] * 18
    t = paired_tests({"audio_only": worse, "correct": base, "shuffle": worse, "conflict": worse, "corrupt_full": base})
    assert set(t) == {
        "correct_vs_audio_only",
        "shuffle_vs_correct",
        "shuffle_vs_audio_only",
        "conflict_vs_correct",
        "conflict_vs_audio_only",
        "corrupt_full_vs_correct",
        "corrupt_full_vs_audio_only",
    }
    assert t["conflict_vs_correct"]["c"] == 8 and t["conflict_vs_correct"]["b"] == 0
    assert t["conflict_vs_correct"]["p"] == pytest.approx(2 * 0.5**8)
    # Four tests share the smallest p; Holm multiplies the first by the family size (7), the rest stay monotone.
    assert t["conflict_vs_correct"]["p_holm"] == pytest.approx(7 * 2 * 0.5**8)
    assert t["corrupt_full_vs_correct"]["p"] == 1.0 == t["corrupt_full_vs_correct"]["p_holm"]


def test_metric_keys_and_paper_numbers_follow_paper_tables():
    assert metric_prefix(CFG, "iemocap", "test") == "iemocap" and metric_prefix(CFG, "aibo5", "dev") == "aibo5.dev"
    assert paper_numbers("p04", "qw2_audio_no_tokens") == {"paper.aibo5.dev.uar": 0.209, "paper.aibo5.test.uar": 0.206}
    assert paper_numbers("p04", "qw2_audio_tokens") == {"paper.aibo5.dev.uar": 0.240, "paper.aibo5.test.uar": 0.234}
    assert paper_numbers("p04", "qw_omni_tokens")["paper.iemocap.uar"] == 0.582
