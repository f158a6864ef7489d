"""The concept_tokens stage's pure parts (paper 04): the dev split holds out whole training speakers."""

from __future__ import annotations

import pytest

from audioreason.datasets.records import Utterance
from audioreason.stages.concept_tokens import assign_splits


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
