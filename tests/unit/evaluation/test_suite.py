"""Checkpoint selection and the AVQA val rule of paper 02 Table 1."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from audioreason.datasets.records import QARecord, write_manifest
from audioreason.evaluation.suite import avqa_choice, checkpoint_step, content_similarity, score_mc, select_checkpoint


def test_the_best_validation_score_wins_and_a_tie_goes_to_the_later_step(tmp_path):
    ckpts = [tmp_path / f"checkpoint-{s}" for s in (40, 120, 80)]
    scores = {40: 10.0, 80: 30.0, 120: 30.0}
    seen = []

    def score(p: Path) -> float:
        seen.append(checkpoint_step(p))
        return scores[checkpoint_step(p)]

    best, by_step = select_checkpoint(ckpts, score)
    assert best.name == "checkpoint-120" and by_step == scores
    assert seen == [40, 80, 120]  # scored in step order (their metric history reads left to right)


def test_a_better_early_checkpoint_is_kept_over_the_last():
    best, _ = select_checkpoint(
        [Path("c/checkpoint-10"), Path("c/checkpoint-20")], lambda p: {10: 50.0, 20: 20.0}[checkpoint_step(p)]
    )
    assert best.name == "checkpoint-10"


def test_no_checkpoint_is_an_error_that_says_what_to_set():
    with pytest.raises(ValueError, match="save_steps"):
        select_checkpoint([], lambda p: 0.0)


# --------------------------------------------------------------------------- AVQA val: paper 02 Table 1's rule

CHOICES = ("cat meowing", "dog barking", "bell ringing", "car engine")


@pytest.mark.parametrize(
    "answer, picked",
    [
        ("B", "dog barking"),
        ("(b)", "dog barking"),
        ("C.", "bell ringing"),
        ("D) car engine", "car engine"),
        ("(A) cat meowing", "cat meowing"),
        ("The answer is C", "bell ringing"),
        ("Option: D", "car engine"),
        ("B. cat meowing", "dog barking"),  # the letter is what the rule reads first
    ],
)
def test_table1_rule_reads_an_option_letter_first(answer, picked):
    assert avqa_choice(answer, CHOICES) == (picked, "letter")


@pytest.mark.parametrize(
    "answer, picked",
    [
        ("dog barking", "dog barking"),
        ("A dog is barking.", "dog barking"),  # "A" is an article here, not option A
        ("I hear a bell", "bell ringing"),
        ("ringing of bells, a bell ringing loudly", "bell ringing"),
        ("an engine of a car", "car engine"),
        ("E", None),  # a letter past the options is text, and names none of them
    ],
)
def test_table1_rule_aligns_text_to_the_closest_option(answer, picked):
    assert avqa_choice(answer, CHOICES) == (picked, "content" if picked else "none")


@pytest.mark.parametrize("answer", ["", "   ", "I am not sure.", "cat or dog", "cat meowing and dog barking"])
def test_empty_unrelated_and_several_option_answers_pick_nothing(answer):
    assert avqa_choice(answer, CHOICES) == (None, "none")


def test_content_similarity_is_content_word_f1():
    assert content_similarity("the dog barking", "dog barking") == 1.0
    assert content_similarity("dog", "dog barking") == pytest.approx(2 / 3)
    assert content_similarity("", "dog barking") == content_similarity("the", "dog barking") == 0.0


def _records() -> list[QARecord]:
    return [
        QARecord(str(i), "avqa", "val", f"/a/{i}.wav", "What is making the sound in the audio?", CHOICES, answer)
        for i, answer in enumerate(("dog barking", "bell ringing", "cat meowing", "car engine", "dog barking"))
    ]


def test_avqa_val_accuracy_is_table1s_rule_and_the_mmau_rule_is_logged_beside_it():
    # Hand-written extracted answers: a letter and a paraphrase (neither of which MMAU's words rule credits), a verbatim
    # option, a wrong letter, an empty answer.
    preds = ["B", "the bells are ringing", "cat meowing", "A", ""]
    m = score_mc(preds, _records(), "avqa_val")
    assert m["avqa_val.accuracy"] == pytest.approx(100.0 * 3 / 5)  # B, the bell, the cat
    assert m["avqa_val.accuracy_mmau_rule"] == pytest.approx(100.0 * 1 / 5)  # the cat only
    assert (m["avqa_val.n"], m["avqa_val.by_letter"], m["avqa_val.no_option"]) == (5, 2, 1)


def test_checkpoint_selection_scores_avqa_val_by_table1s_rule(tmp_path, monkeypatch):
    """``validation_accuracy`` (what chooses checkpoints and becomes ``selection.avqa_val.accuracy``, the
    promotion gate's metric) reads the generations by the same rule as the reported ``avqa_val.accuracy``."""
    from audioreason.evaluation import suite

    write_manifest(_records(), tmp_path / "avqa_val.jsonl")
    completions = ["<think>it barks</think><answer>B</answer>", "<answer>(C)</answer>", "<answer>cat</answer>"]
    completions += ["<answer>the engine of a car</answer>", "<answer></answer>"]
    monkeypatch.setattr(
        suite,
        "generate_answers",
        lambda model, processor, records, **kw: [
            {"id": r.id, "prompt": "", "completion": c} for r, c in zip(records, completions)
        ],
    )
    cfg = SimpleNamespace(avqa_val=str(tmp_path / "avqa_val.jsonl"), generation=None, batch_size=8)
    assert suite.validation_accuracy(cfg, "{question} {choices}")(None, None) == pytest.approx(80.0)
