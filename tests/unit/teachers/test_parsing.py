"""Parsers of teacher output: good outputs read, bad ones refused with a reason."""

from __future__ import annotations

import pytest

from audioreason.teachers.parsing import (
    contradicts_answer,
    extract_answer_tag,
    match_choice,
    parse_question_json,
    parse_yes_no,
)

CHOICES = ["dog barking", "cat meowing", "alarm bell", "running water"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<think>x</think><answer>dog barking</answer>", "dog barking"),
        ("<answer>cat</answer> then <answer> dog </answer>", "dog"),  # the last tag counts
        ("<ANSWER>Dog</ANSWER>", "Dog"),
        ("<answer>\n</answer>", None),  # an empty tag never counts
        ("dog barking", None),  # no tag: no fallback to raw text
        ("", None),
    ],
)
def test_extract_answer_tag(text, expected):
    assert extract_answer_tag(text) == expected


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("dog barking", "dog barking"),
        ("Dog Barking.", "dog barking"),
        ("(c)", "alarm bell"),
        ("D", "running water"),
        ("E", None),
        ("dog", None),
        ("dog barking or cat meowing", None),
        (None, None),
    ],
)
def test_match_choice(answer, expected):
    assert match_choice(answer, CHOICES) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("yes", True),
        ("Yes, the trace is right.", True),
        ("NO.", False),
        ("<answer>no</answer>", False),
        ("The answer is yes", None),
        ("", None),
        ("maybe", None),
        ("yesterday", None),
    ],
)
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) is expected


def test_parse_question_json_reads_fenced_json():
    qa = parse_question_json(
        'Sure!\n```json\n{"question": " Which animal? ", "answer": "dog", "distractors": ["cat", "cow", "owl"]}\n```'
    )
    assert qa == {"question": "Which animal?", "answer": "dog", "distractors": ["cat", "cow", "owl"]}


@pytest.mark.parametrize(
    "text, reason",
    [
        ("no json here", "no JSON object"),
        ('{"question": "Which?", "answer": ', "invalid JSON"),
        ('{"question": "Which?", "answer": "dog"}', "missing key 'distractors'"),
        ('{"question": "", "answer": "dog", "distractors": ["a", "b", "c"]}', "empty question"),
        ('{"question": "Which?", "answer": "dog", "distractors": ["a", "b"]}', "3 non-empty strings"),
        ('{"question": "Which?", "answer": "dog", "distractors": ["Dog", "b", "c"]}', "4 distinct options"),
        ('["question"]', "no JSON object"),
    ],
)
def test_parse_question_json_refuses_with_a_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_question_json(text)


def test_contradiction_check():
    assert contradicts_answer("A cat meows twice.", "dog barking", CHOICES) == "cat meowing"
    assert contradicts_answer("A dog barks twice.", "dog barking", CHOICES) is None
    # naming the answer and also a wrong option (e.g. "no cat here") is not a contradiction
    assert contradicts_answer("A dog barks, no cat.", "dog barking", CHOICES) is None
    # a description that names no option at all does not contradict either
    assert contradicts_answer("Quiet room tone.", "dog barking", CHOICES) is None
    # words shared by several options do not identify one
    assert contradicts_answer("Three sounds.", "three times", ["three times", "four times"]) is None
    assert contradicts_answer("Four sounds.", "three times", ["three times", "four times"]) == "four times"
