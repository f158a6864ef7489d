"""Tests of the official MMAU scoring rule, its aggregation and the answer extractor."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest

from audioreason.evaluation.mmau import (
    EXTRACTOR_NAME,
    SCORER_NAME,
    extract_answer,
    mmau_is_correct,
    mmau_test_set_sha256,
    mmau_tokens,
    score_mmau,
    score_mmau_file,
    write_submission,
)

# The `shared` directory sits beside the repository root.
MMAU_TEST_MINI = (
    Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "mmau" / "mmau-test-mini.v05.15.25.json"
)
MMAU_TEST_MINI_SHA256 = "9f18fda99f8dbc2bc5ecd6323fb5063309f54969810b5c6f1caeb3b8d904cf1c"

# Items of test-mini where predicting the first choice other than the answer
# still scores correct under the official rule: every such choice has the same
# token set as the answer (reordered words, or a list-order question).
SAME_TOKENS_AS_ANSWER_IDS = {
    "bbabe360-0573-43d4-b2e6-6892150cbdcd",
    "004fd9c5-1f2b-4c16-939b-4c75e39c84ba",
    "40c9c875-1922-4e1e-adc9-076432418a02",
    "8cbc0f29-4cf5-41e6-83ff-abcd70fbd96d",
    "35330c05-c50f-4f30-80b1-263c61357866",
    "42e35733-9630-4960-9ce0-75325e5906f6",
}
# The list-order question whose four choices all share the answer's tokens.
UNBEATABLE_ID = "bbabe360-0573-43d4-b2e6-6892150cbdcd"


@pytest.fixture(scope="module")
def test_mini() -> list[dict]:
    if not MMAU_TEST_MINI.is_file():
        pytest.skip(f"MMAU test-mini reference file not found at {MMAU_TEST_MINI}")
    return json.loads(MMAU_TEST_MINI.read_text(encoding="utf-8"))


def _with_predictions(items: list[dict], predict) -> list[dict]:
    return [dict(item, model_output=predict(item)) for item in items]


def _item(prediction: str | None, answer: str, choices: list[str], **extra) -> dict:
    item = {"answer": answer, "choices": choices, "task": "sound", "difficulty": "easy", **extra}
    if prediction is not None:
        item["model_output"] = prediction
    return item


# --------------------------------------------------------------------------- real test-mini


def test_reference_file_bytes_are_the_pinned_release(test_mini):
    assert hashlib.sha256(MMAU_TEST_MINI.read_bytes()).hexdigest() == MMAU_TEST_MINI_SHA256
    assert len(test_mini) == 1000


def test_answer_as_prediction_scores_100(test_mini):
    result = score_mmau(_with_predictions(test_mini, lambda item: item["answer"]))
    assert result["n"] == 1000
    assert result["skipped"] == 0
    assert result["correct"] == 1000
    assert result["overall"] == 100.0
    assert result["counts"]["task"] == {"sound": 333, "music": 334, "speech": 333}
    assert result["counts"]["difficulty"] == {"easy": 224, "medium": 540, "hard": 236}
    assert result["task"] == {"sound": 100.0, "music": 100.0, "speech": 100.0}
    assert set(result["difficulty"].values()) == {100.0}
    assert set(result["sub_category"]) == {item["sub-category"] for item in test_mini}
    assert set(result["sub_category"].values()) == {100.0}


def test_first_other_choice_scores_zero_except_same_token_choices(test_mini):
    predicted = _with_predictions(
        test_mini, lambda item: next(choice for choice in item["choices"] if choice != item["answer"])
    )
    result = score_mmau(predicted)
    # The official rule ignores wrong choices made of the answer's own words.
    assert result["correct"] == len(SAME_TOKENS_AS_ANSWER_IDS) == 6
    assert result["overall"] == pytest.approx(0.6)
    hits = {item["id"] for item in predicted if mmau_is_correct(item["model_output"], item["answer"], item["choices"])}
    assert hits == SAME_TOKENS_AS_ANSWER_IDS


def test_first_token_distinct_choice_scores_zero(test_mini):
    predicted = []
    for item in test_mini:
        answer_tokens = mmau_tokens(item["answer"])
        wrong = [choice for choice in item["choices"] if mmau_tokens(choice) != answer_tokens]
        if wrong:
            predicted.append(dict(item, model_output=wrong[0]))
        else:
            assert item["id"] == UNBEATABLE_ID
            predicted.append(dict(item))  # no prediction key: skipped
    result = score_mmau(predicted)
    assert result["n"] == 999
    assert result["skipped"] == 1
    assert result["correct"] == 0
    assert result["overall"] == 0.0
    assert set(result["task"].values()) == {0.0}


def test_items_without_prediction_are_skipped(test_mini):
    predicted = _with_predictions(test_mini, lambda item: item["answer"])
    for item in predicted[:10]:
        del item["model_output"]
    result = score_mmau(predicted)
    assert result["n"] == 990
    assert result["skipped"] == 10
    assert result["correct"] == 990
    assert result["overall"] == 100.0
    assert sum(result["counts"]["task"].values()) == 990


def test_score_file_on_reference(test_mini, tmp_path):
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(_with_predictions(test_mini, lambda item: item["answer"])), encoding="utf-8")
    result = score_mmau_file(path)
    assert result["overall"] == 100.0
    assert result["n"] == 1000
    assert result["test_set_sha256"] == mmau_test_set_sha256(test_mini)


# --------------------------------------------------------------------------- the rule

CHOICES = ["Man", "Woman", "Child", "Robot"]


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [
        ("Man", True),
        ("The answer is (A) Man", True),
        ("man.", True),
        ("  MAN!!! ", True),
        ("(a) man", True),
        ("Man, not a woman", False),  # carries a wrong choice's word
        ("Man or Robot", False),
        ("Woman", False),
        ("", False),
        ("   ", False),
        ("...", False),  # no word token at all
        ("Mankind", False),  # tokens are whole words
    ],
)
def test_rule_basic(prediction, expected):
    assert mmau_is_correct(prediction, "Man", CHOICES) is expected


def test_nested_choices():
    choices = ["Man", "Man and woman", "Woman"]
    assert mmau_is_correct("man", "Man", choices)
    assert mmau_is_correct("man and woman", "Man and woman", choices)
    assert not mmau_is_correct("man", "Man and woman", choices)  # A is not a subset of P
    assert not mmau_is_correct("man and woman", "Man", choices)  # "and", "woman" are wrong-choice words


def test_choice_with_answer_token_set_adds_no_wrong_words():
    choices = ["dog, cat", "cat dog", "bird"]
    assert mmau_is_correct("cat dog", "dog, cat", choices)
    assert mmau_is_correct("Dog and cat", "dog, cat", choices)
    assert not mmau_is_correct("dog cat bird", "dog, cat", choices)


def test_shared_words_between_answer_and_wrong_choice_are_allowed():
    choices = ["A dog barking", "A cat meowing"]
    assert mmau_is_correct("a dog barking", "A dog barking", choices)
    assert not mmau_is_correct("a dog", "A dog barking", choices)
    assert not mmau_is_correct("a dog barking, not a cat", "A dog barking", choices)


def test_numbers():
    choices = ["2", "3", "4"]
    assert mmau_is_correct("2", "2", choices)
    assert mmau_is_correct("There are 2 speakers.", "2", choices)
    assert not mmau_is_correct("3", "2", choices)
    assert not mmau_is_correct("2 or 3", "2", choices)
    assert not mmau_is_correct("23", "2", choices)


def test_tokens():
    assert mmau_tokens("It's a Dog-barking, 2x!") == {"it", "s", "a", "dog", "barking", "2x"}
    assert mmau_tokens("") == set()
    assert mmau_tokens("snake_case") == {"snake_case"}


# --------------------------------------------------------------------------- aggregation


def test_aggregation_groups_and_percentages():
    items = [
        _item("Man", "Man", CHOICES, task="sound", difficulty="easy", **{"sub-category": "source"}),
        _item("Woman", "Man", CHOICES, task="sound", difficulty="hard", **{"sub-category": "source"}),
        _item("Child", "Child", CHOICES, task="speech", difficulty="hard", **{"sub-category": "speaker"}),
        _item("x", "Man", CHOICES, task="speech", difficulty="hard"),  # no sub-category
        _item(None, "Man", CHOICES, task="music", difficulty="easy"),  # skipped
    ]
    result = score_mmau(items)
    assert result["n"] == 4
    assert result["skipped"] == 1
    assert result["correct"] == 2
    assert result["overall"] == 50.0
    assert result["task"] == {"sound": 50.0, "speech": 50.0}  # music has no scored item
    assert result["difficulty"] == {"easy": 100.0, "hard": 100.0 / 3}
    assert result["sub_category"] == {"source": 50.0, "speaker": 100.0}
    assert result["counts"] == {"task": {"sound": 2, "speech": 2}, "difficulty": {"easy": 1, "hard": 3}}


def test_percentages_are_not_rounded():
    items = [_item("Man", "Man", CHOICES)] + [_item("Woman", "Man", CHOICES)] * 2
    assert score_mmau(items)["overall"] == 100.0 / 3


def test_legacy_prediction_key_and_precedence():
    legacy = _item(None, "Man", CHOICES)
    legacy["model_prediction"] = "Man"
    assert score_mmau([legacy])["correct"] == 1
    both = dict(legacy, model_output="Woman")
    assert score_mmau([both])["correct"] == 0  # model_output wins


def test_no_prediction_at_all_raises():
    with pytest.raises(ValueError, match="no item carries a prediction"):
        score_mmau([_item(None, "Man", CHOICES)])
    with pytest.raises(ValueError, match="no item carries a prediction"):
        score_mmau([])


@pytest.mark.parametrize("bad", [None, 1, ["Man"]])
def test_non_string_prediction_raises_naming_the_item(bad):
    items = [_item("Man", "Man", CHOICES, id="ok"), dict(_item(None, "Man", CHOICES, id="q-42"), model_output=bad)]
    with pytest.raises(ValueError, match=r"item 1 \(id 'q-42'\)"):
        score_mmau(items)
    with pytest.raises(ValueError, match=r"item 0\b"):
        score_mmau([dict(_item(None, "Man", CHOICES), model_output=bad)])


def test_string_choices_rejected():
    with pytest.raises(ValueError, match="choices"):
        score_mmau([_item("Man", "Man", "Man")])


# --------------------------------------------------------------------------- extraction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>barking</think><answer>Dog</answer>", "Dog"),
        ("<answer>\n  Dog barking \n</answer>", "Dog barking"),
        ("<answer>Cat</answer> no wait <answer>Dog</answer>", "Dog"),  # last wins
        ("<ANSWER>Dog</Answer>", "Dog"),
        ("<answer>line one\nline two</answer> trailing", "line one\nline two"),
        ("  Dog \n", "Dog"),  # no tag: whole text
        ("<think>hmm</think>\n<answer> Dog", "Dog"),  # dangling tag
        ("<answer>Cat</answer> then <answer>Dog", "Dog"),  # last tag dangling
        ("<answer></answer>", ""),
        ("<answer>   </answer>", ""),
        ("", ""),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


def test_empty_extracted_answer_scores_wrong():
    assert not mmau_is_correct(extract_answer("<think>Man</think><answer></answer>"), "Man", CHOICES)
    assert mmau_is_correct(extract_answer("<think>Man or Woman?</think><answer>Man</answer>"), "Man", CHOICES)


def test_version_names():
    assert SCORER_NAME == "mmau-official-2025-01"
    assert EXTRACTOR_NAME == "answer-tag-else-text-v1"


# --------------------------------------------------------------------------- files and fingerprint


def test_test_set_sha256_ignores_predictions_and_tracks_questions():
    items = [
        _item(None, "Man", CHOICES, id="a", question="Who speaks?"),
        _item(None, "2", ["2", "3"], id="b", question="How many dogs? é"),
    ]
    base = mmau_test_set_sha256(items)
    predicted = copy.deepcopy(items)
    predicted[0]["model_output"] = "Man"
    predicted[1]["model_prediction"] = "3"
    assert mmau_test_set_sha256(predicted) == base
    assert items[0].get("model_output") is None  # inputs untouched
    changed = copy.deepcopy(items)
    changed[1]["question"] = "How many cats? é"
    assert mmau_test_set_sha256(changed) != base
    assert len(base) == 64


@pytest.mark.parametrize("content", ['{"answer": "Man"}', "[1, 2]", '"text"'])
def test_non_list_file_raises_with_path(tmp_path, content):
    path = tmp_path / "not-a-list.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="not-a-list.json"):
        score_mmau_file(path)


def test_invalid_json_file_raises_with_path(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("[{", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.json"):
        score_mmau_file(path)


def test_score_file_small(tmp_path):
    items = [_item("Man", "Man", CHOICES, id="a"), _item("Robot", "Man", CHOICES, id="b")]
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    result = score_mmau_file(str(path))
    assert result["overall"] == 50.0
    assert result["test_set_sha256"] == mmau_test_set_sha256(items)


# --------------------------------------------------------------------------- test-full submission


def _test_full(n: int = 3) -> list[dict]:
    """Items of ``mmau-test.json`` as published (answers withheld)."""
    return [
        {
            "id": f"t{i}",
            "audio_id": f"./test-audios/t{i}.wav",
            "question": "Which sound source can be heard?",
            "choices": list(CHOICES),
            "answer": "",
            "dataset": "fixture",
            "task": ("sound", "music", "speech")[i % 3],
            "split": "test",
            "category": "Reasoning",
            "sub-category": "Acoustic Source Inference",
            "difficulty": "easy",
        }
        for i in range(n)
    ]


def test_submission_is_the_test_file_with_one_prediction_per_item(tmp_path):
    items = _test_full()
    predictions = {"t2": "Robot", "t0": "Man", "t1": "<answer>Woman</answer>"}
    path = write_submission(items, predictions, tmp_path / "sub" / "mmau-test-predictions.json")
    assert path == tmp_path / "sub" / "mmau-test-predictions.json"
    written = json.loads(path.read_text(encoding="utf-8"))
    assert [x["id"] for x in written] == ["t0", "t1", "t2"]  # the test file's order, every item once
    assert [x["model_output"] for x in written] == ["Man", "<answer>Woman</answer>", "Robot"]
    assert [{k: v for k, v in x.items() if k != "model_output"} for x in written] == items
    assert list(written[0]) == [*items[0], "model_output"]
    assert items[0].get("model_output") is None  # the caller's items are not modified
    # Once the answers are known (here: filled in), the official scorer reads the file as it is.
    for x, answer in zip(written, ("Man", "Child", "Robot")):
        x["answer"] = answer
    assert score_mmau(written)["correct"] == 2


def test_submission_legacy_key(tmp_path):
    path = write_submission(_test_full(1), {"t0": "Man"}, tmp_path / "s.json", key="model_prediction")
    assert json.loads(path.read_text())[0]["model_prediction"] == "Man"


def test_submission_from_manifest_records_restores_the_published_fields(tmp_path):
    from audioreason.datasets.mmau import read_mmau

    items = _test_full()
    (tmp_path / "mmau-test.json").write_text(json.dumps(items))
    records = [r.to_json() for r in read_mmau(tmp_path / "mmau-test.json", tmp_path, check_audio_exists=False).records]
    path = write_submission(records, {"t0": "a", "t1": "b", "t2": "c"}, tmp_path / "s.json")
    written = json.loads(path.read_text())
    assert [{k: v for k, v in x.items() if k != "model_output"} for x in written] == items


@pytest.mark.parametrize(
    "predictions, message",
    [
        (
            {"t0": "Man", "t1": "Man", "t2": "Man", "t9": "Man"},
            "1 prediction(s) for ids not in the test set (3 items): t9",
        ),
        ({"t0": "Man", "t2": "Man"}, "1 of 3 test item(s) have no prediction: t1"),
        ({"t0": "Man", "t1": None, "t2": "Man"}, "predictions must be strings; not for id(s) t1"),
    ],
)
def test_submission_refuses_unknown_missing_or_non_string_predictions(tmp_path, predictions, message):
    with pytest.raises(ValueError) as excinfo:
        write_submission(_test_full(), predictions, tmp_path / "s.json")
    assert message in str(excinfo.value)
    assert not (tmp_path / "s.json").exists()


def test_submission_refuses_a_repeated_test_item(tmp_path):
    items = _test_full()
    with pytest.raises(ValueError, match=r"item 3 \(id 't1'\): id appears more than once"):
        write_submission([*items, items[1]], {"t0": "a", "t1": "b", "t2": "c"}, tmp_path / "s.json")
