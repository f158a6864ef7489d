"""Paper 04 stages' pure parts: dev speakers, prompt conditions, paired tests, metric keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from audioreason.config import load_params
from audioreason.datasets.records import Utterance
from audioreason.evaluation.paper_tables import paper_numbers
from audioreason.features.concept_tokens import conflict, serialise
from audioreason.stages.concept_tokens import assign_splits
from audioreason.features.ser_prompts import condition_tokens, questions
from audioreason.stages.interventions import metric_prefix, paired_tests, score

REPO = Path(__file__).resolve().parents[2]
CFG = load_params(REPO / "params.yaml").interventions


def utt(i: int, speaker: str, split: str = "train") -> Utterance:
    return Utterance(f"u{i}", "fau_aibo", split, f"/a/{i}.wav", speaker)


def test_dev_split_holds_out_whole_training_speakers():
    utts = [utt(i, f"Ohm_{i % 10:02d}") for i in range(60)] + [utt(100 + i, "Mont_01", "test") for i in range(5)]
    splits = assign_splits(utts, 0.3, seed=0)
    dev = {u.speaker for u, s in zip(utts, splits) if s == "dev"}
    train = {u.speaker for u, s in zip(utts, splits) if s == "train"}
    assert len(dev) == 3 and not dev & train and splits[-5:] == ["test"] * 5
    assert assign_splits(utts, 0.3, seed=0) == splits and assign_splits(utts, 0.3, seed=1) != splits
    assert assign_splits(utts, 0.0, seed=0) == [u.split for u in utts]
    with pytest.raises(ValueError, match="leaves no training speaker"):
        assign_splits([utt(0, "a"), utt(1, "a")], 0.5, seed=0)


def rows(n: int = 8) -> list[dict]:
    levels = ("VERY_LOW", "LOW", "MID", "HIGH", "VERY_HIGH")
    return [{"id": f"u{i}", "split": "test", "audio": f"/a/{i}.wav", "speaker": f"s{i % 2}",
             "label": ("ang", "hap", "neu", "sad")[i % 4],
             "tokens": {"ENERGY": levels[i % 5], "PITCH": "MID", "BRIGHTNESS": "DARK", "DYNAMICS": "STATIC",
                        "FORMANTS": "HIGH", "VOICE_QUALITY": "MODAL"}} for i in range(n)]


def test_conditions_change_only_the_tokens():
    r = rows()
    assert condition_tokens(r, "audio_only") is None
    assert condition_tokens(r, "correct") == [x["tokens"] for x in r]
    assert condition_tokens(r, "conflict") == [conflict(x["tokens"]) for x in r]
    shuffled = condition_tokens(r, "shuffle", seed=1)
    assert sorted(map(serialise, shuffled)) == sorted(serialise(x["tokens"]) for x in r) and shuffled != condition_tokens(r, "correct")
    assert condition_tokens(r, "corrupt", p=0.0) == condition_tokens(r, "correct")
    assert condition_tokens(r, "corrupt", p=1.0, seed=3) == condition_tokens(r, "corrupt", p=1.0, seed=3)
    with pytest.raises(ValueError, match="unknown condition"):
        condition_tokens(r, "reverse")
    plain, tokened = questions(r, None, CFG, "iemocap"), questions(r, condition_tokens(r, "conflict"), CFG, "iemocap")
    assert plain[0].question == "What emotion does the speaker express? Please choose the answer from the following " \
                                "options: ['angry', 'happy', 'neutral', 'sad']"
    assert tokened[0].question == plain[0].question + " Acoustic concept tokens: " + serialise(conflict(r[0]["tokens"]))
    assert [q.audio for q in tokened] == [x["audio"] for x in r] and tokened[1].answer == "happy"


def test_score_maps_answers_and_counts_the_unparsed():
    r = rows(8)
    completions = ["angry", "happy", "neutral", "sad", "angry or sad", "happy", "The speaker is neutral.", "sad"]
    s = score(r, completions, CFG, "iemocap")
    assert s["predictions"][4] == "unparsed" and s["unparsed"] == 1
    assert s["uar"] == pytest.approx(0.875) and s["n"] == 8 and s["speakers"] == 2
    assert s["uar_ci_low"] <= s["uar"] <= s["uar_ci_high"]
    one_speaker = [{**x, "speaker": "s0"} for x in r]
    assert np.isnan(score(one_speaker, completions, CFG, "iemocap")["uar_ci_low"])   # no CI from one speaker


def test_paired_tests_form_one_holm_family():
    base = [True] * 10 + [False] * 10
    worse = [True] * 2 + [False] * 18
    t = paired_tests({"audio_only": worse, "correct": base, "shuffle": worse, "conflict": worse, "corrupt_full": base})
    assert set(t) == {"correct_vs_audio_only", "shuffle_vs_correct", "shuffle_vs_audio_only", "conflict_vs_correct",
                      "conflict_vs_audio_only", "corrupt_full_vs_correct", "corrupt_full_vs_audio_only"}
    assert t["conflict_vs_correct"]["c"] == 8 and t["conflict_vs_correct"]["b"] == 0
    assert t["conflict_vs_correct"]["p"] == pytest.approx(2 * 0.5 ** 8)
    # Four tests share the smallest p; Holm multiplies the first by the family size (7), the rest stay monotone.
    assert t["conflict_vs_correct"]["p_holm"] == pytest.approx(7 * 2 * 0.5 ** 8)
    assert t["corrupt_full_vs_correct"]["p"] == 1.0 == t["corrupt_full_vs_correct"]["p_holm"]


def test_metric_keys_and_paper_numbers_follow_paper_tables():
    assert metric_prefix(CFG, "iemocap", "test") == "iemocap" and metric_prefix(CFG, "aibo5", "dev") == "aibo5.dev"
    assert paper_numbers("p04", "qw2_audio_no_tokens") == {"paper.aibo5.dev.uar": 0.209, "paper.aibo5.test.uar": 0.206}
    assert paper_numbers("p04", "qw2_audio_tokens") == {"paper.aibo5.dev.uar": 0.240, "paper.aibo5.test.uar": 0.234}
    assert paper_numbers("p04", "qw_omni_tokens")["paper.iemocap.uar"] == 0.582


def test_dvc_matrix_matches_the_params():
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["interventions"]
    for params_file in ("params.yaml", "params.paper.yaml"):
        cfg = load_params(REPO / params_file).interventions
        assert {k: v["row"] for k, v in stage["foreach"].items()} == cfg.paper_rows
        assert set(cfg.models) == set(cfg.paper_rows)
    tiny = load_params(REPO / "params.yaml").interventions
    for key, item in stage["foreach"].items():   # the DVC dependency is the stage output holding the model
        assert tiny.models[key].startswith(item["from"] + "/")
