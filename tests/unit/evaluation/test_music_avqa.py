"""MUSIC-AVQA scoring: vocabulary mapping, per-type / per-group accuracy, the real val file."""

from __future__ import annotations

import json

import pytest

from audioreason.datasets.music_avqa import ANSWER_VOCAB
from audioreason.evaluation.music_avqa import score_music_avqa, vocabulary_answer


@pytest.mark.parametrize(
    "prediction, word",
    [
        ("acoustic_guitar", "acoustic_guitar"),
        ("An acoustic guitar.", "acoustic_guitar"),
        ("<answer>Two</answer>", "two"),
        ("3", "three"),
        ("More than ten", "more than ten"),
        ("10", "ten"),
        ("YES", "yes"),
        ("<think>maybe no</think><answer>yes</answer>", "yes"),
    ],
)
def test_predictions_map_to_one_vocabulary_word(prediction, word):
    assert word in ANSWER_VOCAB
    assert vocabulary_answer(prediction) == word


@pytest.mark.parametrize("prediction", ["left or right", "yes, two", "", "a trombone", "<answer></answer>"])
def test_no_single_vocabulary_word_is_unparseable(prediction):
    assert vocabulary_answer(prediction) is None


def test_hand_computed_accuracies():
    items = [
        {"answer": "two", "group": "Audio", "type": "Counting", "prediction": "2"},
        {"answer": "three", "group": "Audio", "type": "Counting", "prediction": "two"},
        {"answer": "yes", "group": "Audio-Visual", "type": "Existential", "prediction": "Yes."},
        {"answer": "left", "group": "Visual", "type": "Location", "prediction": "left or right"},
    ]
    s = score_music_avqa(items)
    assert s["overall"] == 50.0 and s["n"] == 4 and s["unparseable"] == 1
    assert s["group_type"] == {"Audio-Visual/Existential": 100.0, "Audio/Counting": 50.0, "Visual/Location": 0.0}
    assert s["group"] == {"Audio": 50.0, "Audio-Visual": 100.0, "Visual": 0.0}
    assert s["type"]["Counting"] == 50.0


def test_bad_items_are_named():
    with pytest.raises(ValueError, match="#0 .*prediction"):
        score_music_avqa([{"answer": "two", "group": "Audio", "type": "Counting"}])
    with pytest.raises(ValueError, match="trombone"):
        score_music_avqa([{"answer": "trombone", "group": "Audio", "type": "Counting", "prediction": "x"}])


def test_real_val_file_with_ground_truth_scores_100_per_type(reference_dir):
    raw = json.loads((reference_dir / "music-avqa" / "avqa-val.json").read_text())
    items = []
    for r in raw:
        group, qtype = json.loads(r["type"])
        items.append(
            {"id": r["question_id"], "answer": r["anser"], "group": group, "type": qtype, "prediction": r["anser"]}
        )
    s = score_music_avqa(items)
    assert s["n"] == 4568 and s["overall"] == 100.0 and s["unparseable"] == 0
    assert len(s["group_type"]) == 9 and set(s["group_type"].values()) == {100.0}
