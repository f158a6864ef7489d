"""GRPO rewards: correct answers pay, hedged / echoed / misplaced answers do not."""

from __future__ import annotations

import pytest

from audioreason.evaluation.mmau import mmau_tokens
from audioreason.training import rewards
from audioreason.training.rewards import (
    REWARDS,
    answer_block,
    completion_text,
    named_choices,
    omni_r1_accuracy,
    r1_aqa_accuracy,
    r1_aqa_format,
    reward_functions,
    sightsound_accuracy,
    sightsound_format,
)

CHOICES = ["cat", "dog", "dog barking", "bird"]
LABEL = "dog"  # option B; "dog barking" (option C) contains it
TAGGED_ACCURACY = [sightsound_accuracy, r1_aqa_accuracy]
ALL_ACCURACY = [omni_r1_accuracy, sightsound_accuracy, r1_aqa_accuracy]


def score(fn, completions, label=LABEL, choices=CHOICES, **extra) -> list[float]:
    n = len(completions)
    label_column = "teacher_answer" if fn is sightsound_accuracy else "answer"
    columns = {label_column: [label] * n, "choices": [list(choices)] * n, **extra}
    # The keyword layout GRPOTrainer uses, with arguments the rewards must ignore.
    return fn(completions=completions, prompts=["q"] * n, completion_ids=[[1, 2]] * n, **columns)


def one(fn, completion, **kw) -> float:
    return score(fn, [completion], **kw)[0]


# --- good completions -----------------------------------------------------------------

OMNI_GOOD = [
    "dog",
    "Dog.",
    "The answer is dog.",
    "I hear a dog.",
    "B",
    "(B)",
    "The answer is (B).",
    "<answer>dog</answer>",
    "<think>a cat or a dog?</think><answer>dog</answer>",
]


@pytest.mark.parametrize("completion", OMNI_GOOD)
def test_omni_r1_good(completion):
    assert one(omni_r1_accuracy, completion) == 1.0


TAGGED_GOOD = [
    "<think>It barks once.</think><answer>dog</answer>",
    "<think>It barks.</think>\n<answer> Dog. </answer>",
    "<think>A cat or a dog? It barks.</think><answer>dog</answer>",
    "<think>x</think><answer>B</answer>",
    "<think>x</think><answer>(B)</answer>",
    "<think>x</think><answer>The answer is dog.</answer>",
    "<THINK>x</THINK><ANSWER>dog</ANSWER>",
    "<answer>dog</answer>",  # accuracy alone does not ask for the reasoning
]


@pytest.mark.parametrize("fn", TAGGED_ACCURACY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("completion", TAGGED_GOOD)
def test_tagged_good(fn, completion):
    assert one(fn, completion) == 1.0


@pytest.mark.parametrize("fn", ALL_ACCURACY, ids=lambda f: f.__name__)
def test_longer_choice_is_its_own_answer(fn):
    assert one(fn, "<think>x</think><answer>dog barking</answer>", label="dog barking") == 1.0
    assert one(fn, "<think>x</think><answer>C</answer>", label="dog barking") == 1.0
    assert one(fn, "<think>x</think><answer>dog</answer>", label="dog barking") == 0.0


# --- adversarial completions: all score 0 ---------------------------------------------

OMNI_BAD = [
    "",
    "   ",
    "dog or cat",
    "Either a cat or a dog.",
    "['cat', 'dog', 'dog barking', 'bird']",
    "cat, dog, dog barking, bird",
    "It could be a cat, a dog, dog barking or a bird.",
    "dog barking",  # the right word inside a longer wrong choice
    "The sound is a dog barking.",
    "Not a cat: a dog.",  # a rejected option still counts as named
    "(A) or (B)",
    "C",
    "A bird.",
    "hotdog",  # not a whole word
    "none of the options",
    "<answer></answer>",
    "<answer>dog</answer><answer>dog</answer>",
    "<answer>dog</answer><answer>cat</answer>",
    "<answer>dog",
    "dog</answer>",
    "<think>it is a dog</think><answer>cat</answer>",
    "<answer>cat</answer> but really it is a dog",
    "<think><answer>dog</answer></think>",
]


@pytest.mark.parametrize("completion", OMNI_BAD)
def test_omni_r1_adversarial(completion):
    assert one(omni_r1_accuracy, completion) == 0.0


TAGGED_BAD = [
    "<think>dog</think><answer></answer>",
    "<think>dog</think><answer>   </answer>",
    "<think>x</think><answer>dog</answer><answer>dog</answer>",  # several answers, even agreeing
    "<think>x</think><answer>dog</answer><answer>cat</answer>",
    "<think>x</think><answer>dog or cat</answer>",
    "<think>x</think><answer>['cat', 'dog', 'dog barking', 'bird']</answer>",
    "<think>x</think><answer>cat, dog, dog barking, bird</answer>",
    "<think>The answer is dog.</think><answer>cat</answer>",  # right only in the reasoning
    "<think>The answer is dog.</think>",
    "<think>The answer is dog.</think> dog",
    "<think>x</think><answer>dog",  # unclosed
    "<think>x</think></answer>dog<answer>",
    "<think>x</think><answer>dog barking</answer>",  # longer wrong choice
    "<think><answer>dog</answer></think>",  # inside the reasoning
    "<answer>dog</answer><think>x</think>",  # before the reasoning
    "<think>x<answer>dog</answer>",  # reasoning never closed
    "<think>x</think><answer>dog</answer><think>y</think>",
    "<think>x</think><answer>(A) or (B)</answer>",
    "<think>x</think><answer>C</answer>",
    "<think>x</think><answer>a bird? no, a dog</answer>",
    "<think>x</think><answer>none of them</answer>",
    "<think>x</think><answer>hotdog</answer>",
    "dog",  # no answer block
    "cat dog dog barking bird",
]


@pytest.mark.parametrize("fn", TAGGED_ACCURACY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("completion", TAGGED_BAD)
def test_tagged_adversarial(fn, completion):
    assert one(fn, completion) == 0.0


def test_adversarial_lists_are_long_enough():
    assert len(OMNI_BAD) >= 12 and len(TAGGED_BAD) >= 12


# --- the label ------------------------------------------------------------------------


def test_sightsound_uses_teacher_answer_not_ground_truth():
    completions = ["<think>x</think><answer>cat</answer>", "<think>x</think><answer>dog</answer>"]
    out = sightsound_accuracy(
        completions=completions, teacher_answer=["cat", "cat"], answer=["dog", "dog"], choices=[CHOICES, CHOICES]
    )
    assert out == [1.0, 0.0]
    # The ground-truth reward on the same rows pays the other completion.
    assert r1_aqa_accuracy(
        completions=completions, teacher_answer=["cat", "cat"], answer=["dog", "dog"], choices=[CHOICES, CHOICES]
    ) == [0.0, 1.0]


def test_label_matches_choices_up_to_case_and_punctuation():
    assert one(r1_aqa_accuracy, "<answer>dog</answer>", label="Dog.") == 1.0


@pytest.mark.parametrize("fn", ALL_ACCURACY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("label", ["wolf", "", "dogs"])
def test_label_not_among_choices_raises(fn, label):
    with pytest.raises(ValueError) as error:
        one(fn, "<answer>dog</answer>", label=label)
    assert repr(label) in str(error.value) and "dog barking" in str(error.value)


@pytest.mark.parametrize("fn", ALL_ACCURACY, ids=lambda f: f.__name__)
def test_label_checked_even_when_the_completion_is_wrong(fn):
    with pytest.raises(ValueError):
        one(fn, "", label="wolf")


@pytest.mark.parametrize("fn", ALL_ACCURACY, ids=lambda f: f.__name__)
def test_choices_as_a_string_raises(fn):
    label_column = "teacher_answer" if fn is sightsound_accuracy else "answer"
    with pytest.raises(ValueError, match="list of strings"):
        fn(completions=["dog"], choices=["cat, dog"], **{label_column: ["dog"]})


@pytest.mark.parametrize("fn", ALL_ACCURACY, ids=lambda f: f.__name__)
def test_column_length_mismatch_raises(fn):
    label_column = "teacher_answer" if fn is sightsound_accuracy else "answer"
    with pytest.raises(ValueError, match="2 completions"):
        fn(completions=["dog", "dog"], choices=[CHOICES], **{label_column: ["dog"]})


# --- format rewards -------------------------------------------------------------------

SIGHTSOUND_FORMAT_GOOD = [
    "<think>It barks.</think><answer>dog</answer>",
    "  <think>It barks.\nTwice.</think>\n\n<answer>dog</answer>\n",
]
SIGHTSOUND_FORMAT_BAD = [
    "",
    "dog",
    "<answer>dog</answer>",  # missing think
    "<think>It barks.</think>",  # missing answer
    "<answer>dog</answer><think>It barks.</think>",  # answer before think
    "<think>It barks.</think><answer>dog</answer> Hope this helps.",  # text after
    "Sure! <think>It barks.</think><answer>dog</answer>",  # text before
    "<think>It barks.</think> so <answer>dog</answer>",  # text between
    "<think>It barks.</think><answer>dog</answer><answer>dog</answer>",  # two answer blocks
    "<think>a</think><think>b</think><answer>dog</answer>",  # two think blocks
    "<think></think><answer>dog</answer>",  # empty think
    "<think>  \n</think><answer>dog</answer>",  # blank think
    "<think>It barks.</think><answer></answer>",  # empty answer
    "<think>It barks.</think><answer> </answer>",
    "<think>a<think>b</think></think><answer>dog</answer>",  # nested
    "<think>It barks.</think><answer><answer>dog</answer></answer>",
    "<think>It barks.</think><answer>dog",  # unclosed
    "<think>It barks.<answer>dog</answer>",
    "<THINK>It barks.</THINK><ANSWER>dog</ANSWER>",  # not the tags the prompt asks for
    "<think>It barks.</think><answer>dog</ answer>",
]


@pytest.mark.parametrize("completion", SIGHTSOUND_FORMAT_GOOD)
def test_sightsound_format_good(completion):
    assert sightsound_format(completions=[completion]) == [1.0]


@pytest.mark.parametrize("completion", SIGHTSOUND_FORMAT_BAD)
def test_sightsound_format_bad(completion):
    assert sightsound_format(completions=[completion]) == [0.0]


R1_AQA_FORMAT_GOOD = [
    "<answer>dog</answer>",
    "<think>It barks.</think><answer>dog</answer>",
    "It barks. <answer>dog</answer> Done.",
    "<answer>anything at all</answer>",  # format only: the content is accuracy's business
]
R1_AQA_FORMAT_BAD = [
    "",
    "dog",
    "<answer></answer>",
    "<answer>\n</answer>",
    "<answer>dog</answer><answer>dog</answer>",
    "<answer>dog",
    "dog</answer>",
    "</answer>dog<answer>",
    "<think><answer>dog</answer></think>",
    "<answer>dog</answer><think>x</think>",
    "<think>x<answer>dog</answer>",
]


@pytest.mark.parametrize("completion", R1_AQA_FORMAT_GOOD)
def test_r1_aqa_format_good(completion):
    assert r1_aqa_format(completions=[completion]) == [1.0]


@pytest.mark.parametrize("completion", R1_AQA_FORMAT_BAD)
def test_r1_aqa_format_bad(completion):
    assert r1_aqa_format(completions=[completion]) == [0.0]


# --- completions as conversations, lengths, extra arguments ---------------------------


def chat(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def test_conversational_completions():
    good = "<think>It barks.</think><answer>dog</answer>"
    bad = "<think>dog</think><answer>cat</answer>"
    for fn in ALL_ACCURACY:
        assert score(fn, [chat(good), chat(bad), good]) == [1.0, 0.0, 1.0]
    assert sightsound_format(completions=[chat(good), chat("dog")]) == [1.0, 0.0]
    assert r1_aqa_format(completions=[chat(good), chat("dog")]) == [1.0, 0.0]


def test_conversation_reads_last_assistant_message():
    conversation = [
        {"role": "assistant", "content": "<answer>cat</answer>"},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": [{"type": "text", "text": "<answer>dog</answer>"}]},
    ]
    assert completion_text(conversation) == "<answer>dog</answer>"
    assert one(r1_aqa_accuracy, conversation) == 1.0


def test_conversation_without_assistant_raises():
    with pytest.raises(ValueError, match="assistant"):
        completion_text([{"role": "user", "content": "dog"}])
    with pytest.raises(TypeError):
        completion_text(3)


@pytest.mark.parametrize("fn", list(REWARDS.values()), ids=list(REWARDS))
@pytest.mark.parametrize("n", [0, 1, 5])
def test_one_reward_per_completion(fn, n):
    completions = ["<think>x</think><answer>dog</answer>", "dog or cat", chat("dog"), "", "<answer>B</answer>"][:n]
    out = fn(
        completions=completions,
        prompts=["q"] * n,
        answer=[LABEL] * n,
        teacher_answer=[LABEL] * n,
        choices=[CHOICES] * n,
        completion_ids=[[0]] * n,
        trainer_state=None,
        audio=["a.wav"] * n,
    )
    assert len(out) == n
    assert all(isinstance(r, float) and r in (0.0, 1.0) for r in out)


# --- helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, named",
    [
        ("dog", ["dog"]),
        ("a dog barking", ["dog barking"]),
        ("a dog barking and a dog", ["dog", "dog barking"]),
        ("DOG-BARKING!", ["dog barking"]),
        ("(A) or (B)", ["cat", "dog"]),
        ("b", ["dog"]),
        ("the (b) option", ["dog"]),
        ("a bird", ["bird"]),  # the article is not a letter
        ("(Z)", []),
        ("hotdog", []),
    ],
)
def test_named_choices(text, named):
    assert named_choices(text, CHOICES) == named


def test_named_choices_letter_inside_a_choice_is_not_an_option():
    assert named_choices("type (a) noise", ["type (a) noise", "white noise"]) == ["type (a) noise"]


def test_tokenisation_is_mmau_s():
    text = "The answer is (A) Man, not Dog_2 or ÉCOLE."
    assert set(rewards._TOKEN.findall(text.lower())) == mmau_tokens(text)


def test_answer_block():
    assert answer_block("<think>x</think>\n< Answer > dog </ANSWER>") == "dog"
    assert answer_block("<answer>dog</answer>") == "dog"
    assert answer_block("<think>x</think>") is None


# --- registry -------------------------------------------------------------------------


def test_registry_names_are_the_function_names():
    assert set(REWARDS) == {
        "omni_r1_accuracy",
        "sightsound_accuracy",
        "sightsound_format",
        "r1_aqa_accuracy",
        "r1_aqa_format",
    }
    assert all(fn.__name__ == name for name, fn in REWARDS.items())


def test_reward_functions_in_order():
    assert reward_functions(["sightsound_format", "sightsound_accuracy"]) == [sightsound_format, sightsound_accuracy]
    assert reward_functions([]) == []


def test_reward_functions_unknown_name():
    with pytest.raises(ValueError) as error:
        reward_functions(["omni_r1_accuracy", "format"])
    message = str(error.value)
    assert "'format'" in message
    assert all(name in message for name in REWARDS)
