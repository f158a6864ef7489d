"""Checkpoint selection and the MUSIC-AVQA open-answer rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from audioreason.evaluation.suite import checkpoint_step, select_checkpoint


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
